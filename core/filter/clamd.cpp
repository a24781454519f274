#include "core/filter/clamd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/util/file.hpp"
#include "core/util/net.hpp"

namespace mailproxy::filter {
namespace {

using Clock = std::chrono::steady_clock;

/// Where a clamd listens, as connect(2) takes it.
struct Address {
    sockaddr_storage storage{};
    socklen_t size = 0;
};

Expected<Address> parse_address(const std::string& text) {
    Address a;
    if (text.starts_with('/')) {
        sockaddr_un un{};
        if (text.size() >= sizeof un.sun_path)
            return fail(ErrorCode::config, fmt::format("clamd: the socket path {} is too long", text));
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, text.data(), text.size());
        std::memcpy(&a.storage, &un, sizeof un);
        a.size = sizeof un;
        return a;
    }
    const auto hp = util::parse_host_port(text);
    if (!hp || hp->host.empty() || hp->port == 0)
        return fail(ErrorCode::config,
                    fmt::format("clamd: {} is not a unix socket path (absolute) or IP:PORT", text));
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

/// Waits until `fd` has one of `events` or the deadline passes: the revents, 0 at the deadline.
short wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
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

/// One exchange with the clamd: a non-blocking socket and the deadline of the whole exchange.
class Exchange {
  public:
    Exchange(const std::string& where, Clock::time_point deadline) : m_where(where), m_deadline(deadline) {}

    /// Connects; the error says why not.
    std::string connect(const Address& a) {
        m_fd = util::Fd(::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (m_fd.get() < 0)
            return fmt::format("clamd at {}: no socket: {}", m_where, std::strerror(errno));
        if (::connect(m_fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.size) == 0)
            return "";
        if (errno != EINPROGRESS)
            return fmt::format("clamd at {} cannot be reached: {}", m_where, std::strerror(errno));
        if (wait_for(m_fd.get(), POLLOUT, m_deadline) == 0)
            return fmt::format("clamd at {} cannot be reached: timed out", m_where);
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(m_fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            return fmt::format("clamd at {} cannot be reached: {}", m_where, std::strerror(err));
        return "";
    }

    enum class Sent { all, reply_waiting, failed };
    /// Sends `data`; stops early when the clamd has something to say (an error before the end) or
    /// closed its side. `m_error` says why on `failed`.
    Sent send(std::string_view data) {
        while (!data.empty()) {
            const auto ev = wait_for(m_fd.get(), POLLOUT | POLLIN, m_deadline);
            if (ev == 0) {
                m_error = fmt::format("clamd at {}: timed out sending the message", m_where);
                return Sent::failed;
            }
            if ((ev & (POLLIN | POLLHUP)) != 0)
                return Sent::reply_waiting;
            const auto n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
                return Sent::reply_waiting;  // it may have said why before closing
            if (n < 0) {
                m_error = fmt::format("clamd at {}: {}", m_where, std::strerror(errno));
                return Sent::failed;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return Sent::all;
    }

    /// The reply up to its NUL (or the end of the connection), at most k_max_reply bytes, with bytes
    /// that are not printable shown as '?'. Empty with `m_error` set when there is none.
    std::string reply() {
        std::string r;
        char buf[256];
        while (r.size() < ClamdScanner::k_max_reply) {
            if (wait_for(m_fd.get(), POLLIN, m_deadline) == 0) {
                m_error = fmt::format("clamd at {}: timed out waiting for the reply", m_where);
                return "";
            }
            const auto n = ::recv(m_fd.get(), buf, sizeof buf, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0 && errno != ECONNRESET) {
                m_error = fmt::format("clamd at {}: {}", m_where, std::strerror(errno));
                return "";
            }
            if (n <= 0)
                break;
            const std::string_view got(buf, static_cast<std::size_t>(n));
            const auto nul = got.find('\0');
            r.append(got.substr(0, nul));
            if (nul != std::string_view::npos)
                break;
        }
        r.resize(std::min(r.size(), ClamdScanner::k_max_reply));
        while (!r.empty() && (r.back() == '\n' || r.back() == '\r'))
            r.pop_back();
        for (auto& c : r) {
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                c = '?';
        }
        if (r.empty())
            m_error = fmt::format("clamd at {} closed the connection without a reply", m_where);
        return r;
    }

    const std::string& error() const { return m_error; }

  private:
    std::string m_where;
    Clock::time_point m_deadline;
    util::Fd m_fd;
    std::string m_error;
};

}  // namespace

Expected<std::shared_ptr<const ClamdScanner>> ClamdScanner::open(const std::string& address, int timeout) {
    if (timeout < 1 || timeout > 3600)
        return fail(ErrorCode::config, fmt::format("clamd-timeout: {} is not 1 to 3600 seconds", timeout));
    auto a = parse_address(address);
    if (!a)
        return tl::make_unexpected(a.error());
    Exchange x(address, Clock::now() + std::chrono::seconds(timeout));
    if (auto why = x.connect(*a); !why.empty())
        return fail(ErrorCode::unavailable, why);
    using namespace std::string_view_literals;
    if (x.send("zVERSION\0"sv) == Exchange::Sent::failed)
        return fail(ErrorCode::unavailable, x.error());
    const auto version = x.reply();
    if (version.empty())
        return fail(ErrorCode::unavailable, x.error());
    if (!version.starts_with("ClamAV "))
        return fail(ErrorCode::unavailable,
                    fmt::format("clamd at {}: an unexpected answer to VERSION: {}", address, version));
    std::shared_ptr<ClamdScanner> s(new ClamdScanner());
    s->m_address = address;
    s->m_timeout = timeout;
    s->m_version = version;
    s->m_product = version.substr(0, version.find('/'));
    return std::shared_ptr<const ClamdScanner>(std::move(s));
}

std::string ClamdScanner::describe() const {
    return fmt::format("clamd {} at {}", m_version, m_address);
}

VirusResult ClamdScanner::scan(int fd) const {
    const auto address = parse_address(m_address);  // checked by open()
    Exchange x(m_address, Clock::now() + std::chrono::seconds(m_timeout));
    if (auto why = x.connect(*address); !why.empty())
        return {VirusResult::Kind::error, why};
    using namespace std::string_view_literals;
    auto sent = x.send("zINSTREAM\0"sv);
    // chunks of 64 KiB, each after its length: the message as clamd's StreamMaxLength counts it
    std::vector<char> chunk(4 + 65536);
    off_t offset = 0;
    while (sent == Exchange::Sent::all) {
        const auto n = ::pread(fd, chunk.data() + 4, chunk.size() - 4, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return {VirusResult::Kind::error,
                    fmt::format("the message cannot be read: {}", std::strerror(errno))};
        const std::uint32_t length = htonl(static_cast<std::uint32_t>(n));
        std::memcpy(chunk.data(), &length, 4);
        sent = x.send(std::string_view(chunk.data(), 4 + static_cast<std::size_t>(n)));
        if (n == 0)
            break;  // the zero-length chunk ends the stream
        offset += n;
    }
    if (sent == Exchange::Sent::failed)
        return {VirusResult::Kind::error, x.error()};
    const auto r = x.reply();
    if (r.empty())
        return {VirusResult::Kind::error, x.error()};
    if (r == "stream: OK")
        return {};
    if (r.starts_with("stream: ") && r.ends_with(" FOUND") && r.size() > 14)
        return {VirusResult::Kind::virus, r.substr(8, r.size() - 14)};
    if (r.find("size limit exceeded") != std::string::npos)
        return {
            VirusResult::Kind::error,
            fmt::format("clamd at {}: the message is larger than its StreamMaxLength ({})", m_address, r)};
    return {VirusResult::Kind::error, fmt::format("clamd at {}: {}", m_address, r)};
}

}  // namespace mailproxy::filter
