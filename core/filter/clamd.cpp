#include "core/filter/clamd.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/util/socket.hpp"

namespace mailproxy::filter {
namespace {

using Clock = util::Connection::Clock;
using Sent = util::Connection::Sent;

/// clamd's reply up to its NUL, at most k_max_reply bytes, with bytes that are not printable shown as '?'.
std::string clean_reply(std::string r) {
    r.resize(std::min(r.size(), ClamdScanner::k_max_reply));
    while (!r.empty() && (r.back() == '\n' || r.back() == '\r'))
        r.pop_back();
    for (auto& c : r) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            c = '?';
    }
    return r;
}

}  // namespace

Expected<std::shared_ptr<const ClamdScanner>> ClamdScanner::open(const std::string& address, int timeout) {
    if (timeout < 1 || timeout > 3600)
        return fail(ErrorCode::config, fmt::format("clamd-timeout: {} is not 1 to 3600 seconds", timeout));
    auto a = util::parse_socket_address(address, "clamd");
    if (!a)
        return tl::make_unexpected(a.error());
    util::Connection x("clamd at " + address, Clock::now() + std::chrono::seconds(timeout));
    if (!x.connect(*a))
        return fail(ErrorCode::unavailable, x.error());
    using namespace std::string_view_literals;
    if (x.send("zVERSION\0"sv) == Sent::failed)
        return fail(ErrorCode::unavailable, x.error());
    const auto version = clean_reply(x.receive(k_max_reply, "\0"sv));
    if (version.empty())
        return fail(ErrorCode::unavailable,
                    x.error().empty() ? "clamd at " + address + " gave no answer to VERSION" : x.error());
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
    const auto address = util::parse_socket_address(m_address, "clamd");  // checked by open()
    util::Connection x("clamd at " + m_address, Clock::now() + std::chrono::seconds(m_timeout));
    if (!x.connect(*address))
        return {VirusResult::Kind::error, x.error()};
    using namespace std::string_view_literals;
    auto sent = x.send("zINSTREAM\0"sv);
    // chunks of 64 KiB, each after its length: the message as clamd's StreamMaxLength counts it
    std::vector<char> chunk(4 + 65536);
    off_t offset = 0;
    while (sent == Sent::all) {
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
    if (sent == Sent::failed)
        return {VirusResult::Kind::error, x.error()};
    const auto r = clean_reply(x.receive(k_max_reply, "\0"sv));
    if (r.empty())
        return {VirusResult::Kind::error,
                x.error().empty() ? "clamd at " + m_address + " gave no reply" : x.error()};
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
