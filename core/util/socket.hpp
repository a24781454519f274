#pragma once

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>

#include "core/util/error.hpp"
#include "core/util/file.hpp"

namespace mailproxy::util {

/// Where a local service (clamd, spamd, rspamd) listens, as connect(2) takes it.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t size = 0;
};

/// An absolute unix socket path, or IP:PORT ("127.0.0.1:783", "[::1]:783"); ErrorCode::config with
/// `what` in the message otherwise. Names are not looked up.
Expected<SocketAddress> parse_socket_address(const std::string& text, std::string_view what);

/// A blocking exchange with a local service over one connection, every step bounded by one deadline.
/// Errors are kept in error(), worded "<who>: ...".
class Connection {
  public:
    using Clock = std::chrono::steady_clock;
    Connection(std::string who, Clock::time_point deadline) : m_who(std::move(who)), m_deadline(deadline) {}

    /// Connects; false with error() set.
    bool connect(const SocketAddress& a);

    enum class Sent { all, reply_waiting, failed };
    /// Sends `data`. Stops early (reply_waiting) when the peer has something to say before the end, or
    /// closed its side: it may have said why (clamd's size limit).
    Sent send(std::string_view data);

    /// Reads until `end` is seen (not kept), the peer closes, or `most` bytes; "" with error() set when
    /// nothing came. `end` empty: to the close.
    std::string receive(std::size_t most, std::string_view end = {});

    const std::string& error() const { return m_error; }

  private:
    std::string m_who;
    Clock::time_point m_deadline;
    Fd m_fd;
    std::string m_error;
};

}  // namespace mailproxy::util
