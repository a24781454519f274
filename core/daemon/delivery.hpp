#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/daemon/channel.hpp"
#include "core/daemon/entries.hpp"
#include "core/smtp/protocol.hpp"

namespace mailproxy::daemon {

/// Idle SMTP/LMTP sessions to targets, kept after a transaction (reset with RSET) for the next one to the
/// same target: a message then costs no connect, greeting, EHLO and QUIT. Bounded per target and in age;
/// a session that turns out to be gone when it is taken is dropped and a new one is opened.
class ConnectionPool {
  public:
    struct Idle {
        std::unique_ptr<Channel> channel;
        std::unique_ptr<LineReader> reader;
        smtp::Reply hello;
        std::chrono::steady_clock::time_point since;
    };
    std::unique_ptr<Idle> take(const std::string& key);
    void give(const std::string& key, std::unique_ptr<Idle> idle);
    /// Closes the idle sessions and keeps no more (when serve stops).
    void close();

  private:
    bool m_closed = false;
    static constexpr std::size_t k_per_target = 16;
    static constexpr std::chrono::seconds k_max_idle{20};
    std::map<std::string, std::vector<std::unique_ptr<Idle>>> m_idle;
};

struct DeliveryOptions {
    std::string hostname;
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds reply_timeout{300};
    std::string tls = "opportunistic";  ///< none, opportunistic, required
    asio::ssl::context* tls_client = nullptr;
    ConnectionPool* pool = nullptr;  ///< reuse idle sessions to the target (none: one per transaction)
};

/// One transaction with an entry's target. Every failure to reach or talk to the target becomes a 4xx
/// reply (never an exception), so the client is told to try again and nothing is acknowledged that the
/// target does not have.
class Delivery {
  public:
    virtual ~Delivery() = default;
    /// Connects (or takes an idle session) and starts the transaction: greeting, EHLO (LHLO), STARTTLS
    /// when offered, MAIL FROM. A target that offers PIPELINING gets MAIL FROM together with the first
    /// RCPT TO: the reply to MAIL then comes from rcpt(), which returns the MAIL refusal if there is one.
    virtual awaitable<smtp::Reply> begin(const std::string& from, bool eight_bit, std::size_t size) = 0;
    virtual awaitable<smtp::Reply> rcpt(const std::string& to) = 0;
    /// Sends `received` and then the spooled message, read from the start of `spool` (a descriptor open
    /// for reading); the target's final reply.
    virtual awaitable<smtp::Reply> data(const std::string& received, int spool) = 0;
    /// Ends the transaction: a healthy session goes back to the pool (the next transaction begins with
    /// RSET), any other gets QUIT and is closed; never throws.
    virtual awaitable<void> end() = 0;
    /// LMTP answers DATA per recipient: one recipient per transaction keeps one answer per message.
    virtual bool single_recipient() const { return false; }
    /// "TLSv1.3" when the connection to the target is encrypted.
    virtual std::string tls() const { return ""; }
    /// Whether the transaction went over an idle session from the pool.
    virtual bool reused() const { return false; }
};

std::unique_ptr<Delivery> make_delivery(const TargetAddress& target, const asio::any_io_executor& ex,
                                        const DeliveryOptions& options);

}  // namespace mailproxy::daemon
