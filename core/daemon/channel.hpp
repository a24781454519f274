#pragma once
// asio is included here and in the daemon's .cpp files only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>

namespace mailproxy::daemon {

using asio::awaitable;

/// Runs `op` (an operation started with asio::experimental::as_tuple(asio::use_awaitable), so that it never
/// throws inside the race) against a timer: the operation's error is thrown as asio::system_error, a time-out
/// as asio::error::timed_out. asio 1.22's awaitable `||` waits for the first *success*, which is why the
/// operation must not fail by throwing: a failed read would otherwise wait for the whole time-out.
template <typename... T>
awaitable<std::tuple<asio::error_code, T...>> timed(awaitable<std::tuple<asio::error_code, T...>> op,
                                                    std::chrono::seconds limit);

/// A byte stream to a peer: TCP (upgraded to TLS by STARTTLS) or a unix socket, with a time limit on
/// every read and write. A time-out, a closed connection or any error throws asio::system_error
/// (asio::error::timed_out for a time-out); sessions catch it at their edge.
///
/// The limits are kept by one watchdog timer per channel rather than a timer raced against each operation:
/// an operation only moves the deadline, and the timer, armed at the earliest deadline, cancels the socket
/// when the operation under way has outlived its own. Most operations thus cost no timer work at all.
class Channel {
  public:
    explicit Channel(asio::ip::tcp::socket s) : m_sock(std::move(s)), m_timer(socket_executor()) {}
    explicit Channel(asio::local::stream_protocol::socket s)
        : m_sock(std::move(s)), m_timer(socket_executor()) {}
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;
    ~Channel();

    awaitable<std::size_t> read_some(asio::mutable_buffer b, std::chrono::seconds limit);
    awaitable<void> write(std::string_view data, std::chrono::seconds limit);
    /// TLS over the TCP socket, as server (inbound STARTTLS) or client (to the target, no verification:
    /// opportunistic, as SMTP between servers is).
    awaitable<void> start_tls(asio::ssl::context& ctx, bool server, std::chrono::seconds limit);
    bool tls() const { return m_tls != nullptr; }
    void close();
    /// Cancels the read or write under way (it throws operation_aborted); the connection stays open.
    void cancel();
    std::string tls_version() const;

  private:
    using clock = std::chrono::steady_clock;
    asio::any_io_executor socket_executor();
    /// Starts an operation with the time limit `limit`; the result of finish() says how it ended.
    void arm(std::chrono::seconds limit);
    /// Ends the operation: throws timed_out when the watchdog cut it off, else `ec` when it is an error.
    void finish(const asio::error_code& ec);
    void watch();

    std::variant<asio::ip::tcp::socket, asio::local::stream_protocol::socket> m_sock;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> m_tls;
    asio::steady_timer m_timer;
    clock::time_point m_deadline = clock::time_point::max();  // of the operation under way
    bool m_watching = false;                                  // a wait on m_timer is pending
    bool m_timed_out = false;
    unsigned m_generation = 0;  // of the pending wait: an older one that ends is ignored
    std::shared_ptr<Channel*> m_self = std::make_shared<Channel*>(this);  // the watchdog's way back
};

/// Line-oriented reading over a Channel with a bounded buffer.
class LineReader {
  public:
    explicit LineReader(Channel& ch) : m_ch(ch) {}
    /// The next line without its line end (LF, CR LF accepted). A line longer than `limit` yields
    /// nullopt with `too_long` set, its rest skipped. Throws like Channel on a time-out or EOF.
    awaitable<std::optional<std::string>> line(std::size_t limit, std::chrono::seconds timeout,
                                               bool& too_long);
    /// Bytes already read but not consumed.
    std::string& buffered() { return m_buf; }
    bool has_line() const { return m_buf.find('\n') != std::string::npos; }
    /// Reads more into the buffer: at most `most` bytes.
    awaitable<void> fill(std::chrono::seconds timeout, std::size_t most = 1024);
    /// Gives back the memory a large read left (after DATA).
    void shrink();

  private:
    Channel& m_ch;
    std::string m_buf;
    bool m_skipping = false;
};

}  // namespace mailproxy::daemon
