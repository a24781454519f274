#include "core/util/socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "core/util/net.hpp"

namespace mailproxy::util {
namespace {

/// Waits until `fd` has one of `events` or the deadline passes: the revents, 0 at the deadline.
short wait_for(int fd, short events, Connection::Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Connection::Clock::now())
                .count();
        if (left <= 0)
            return 0;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return POLLERR;
        if (r > 0)
            return p.revents;
    }
}

}  // namespace

Expected<SocketAddress> parse_socket_address(const std::string& text, std::string_view what) {
    SocketAddress a;
    if (text.starts_with('/')) {
        sockaddr_un un{};
        if (text.size() >= sizeof un.sun_path)
            return fail(ErrorCode::config, fmt::format("{}: the socket path {} is too long", what, text));
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, text.data(), text.size());
        std::memcpy(&a.storage, &un, sizeof un);
        a.size = sizeof un;
        return a;
    }
    const auto hp = parse_host_port(text);
    if (!hp || hp->host.empty() || hp->port == 0)
        return fail(ErrorCode::config,
                    fmt::format("{}: {} is not a unix socket path (absolute) or IP:PORT", what, text));
    if (hp->host.find(':') == std::string::npos) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(hp->port);
        ::inet_pton(AF_INET, hp->host.c_str(), &in.sin_addr);
        std::memcpy(&a.storage, &in, sizeof in);
        a.size = sizeof in;
    } else {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(hp->port);
        ::inet_pton(AF_INET6, hp->host.c_str(), &in6.sin6_addr);
        std::memcpy(&a.storage, &in6, sizeof in6);
        a.size = sizeof in6;
    }
    return a;
}

bool Connection::connect(const SocketAddress& a) {
    m_fd = Fd(::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (m_fd.get() < 0) {
        m_error = fmt::format("{}: no socket: {}", m_who, std::strerror(errno));
        return false;
    }
    if (::connect(m_fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.size) == 0)
        return true;
    if (errno != EINPROGRESS) {
        m_error = fmt::format("{} cannot be reached: {}", m_who, std::strerror(errno));
        return false;
    }
    if (wait_for(m_fd.get(), POLLOUT, m_deadline) == 0) {
        m_error = fmt::format("{} cannot be reached: timed out", m_who);
        return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(m_fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        m_error = fmt::format("{} cannot be reached: {}", m_who, std::strerror(err));
        return false;
    }
    return true;
}

Connection::Sent Connection::send(std::string_view data) {
    while (!data.empty()) {
        const auto ev = wait_for(m_fd.get(), POLLOUT | POLLIN, m_deadline);
        if (ev == 0) {
            m_error = fmt::format("{}: timed out sending", m_who);
            return Sent::failed;
        }
        if ((ev & (POLLIN | POLLHUP)) != 0)
            return Sent::reply_waiting;
        const auto n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return Sent::reply_waiting;
        if (n < 0) {
            m_error = fmt::format("{}: {}", m_who, std::strerror(errno));
            return Sent::failed;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return Sent::all;
}

std::string Connection::receive(std::size_t most, std::string_view end) {
    std::string r;
    char buf[4096];
    while (r.size() < most) {
        if (wait_for(m_fd.get(), POLLIN, m_deadline) == 0) {
            m_error = fmt::format("{}: timed out waiting for the reply", m_who);
            return "";
        }
        const auto n = ::recv(m_fd.get(), buf, std::min(sizeof buf, most - r.size()), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && errno != ECONNRESET) {
            m_error = fmt::format("{}: {}", m_who, std::strerror(errno));
            return "";
        }
        if (n <= 0)
            break;
        r.append(buf, static_cast<std::size_t>(n));
        if (!end.empty()) {
            if (const auto at = r.find(end); at != std::string::npos) {
                r.resize(at);
                break;
            }
        }
    }
    if (r.empty())
        m_error = fmt::format("{} gave no reply", m_who);
    return r;
}

}  // namespace mailproxy::util
