#include "core/daemon/entries.hpp"

#include <fmt/format.h>

#include "core/store/local_store.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::daemon {
namespace fs = std::filesystem;

Entries::Entries(fs::path dir) : m_dir(std::move(dir)) {}

Expected<void> Entries::reload() {
    std::error_code ec;
    const auto mtime = fs::last_write_time(m_dir, ec);
    if (ec)
        return fail(ErrorCode::io,
                    fmt::format("cannot read the entry store {}: {}", m_dir.string(), ec.message()));
    store::LocalStore store(m_dir);
    auto listed = store.list({}, store::Detail::full);
    if (!listed)
        return tl::make_unexpected(listed.error());
    if (!listed->problems.empty()) {
        std::string msg;
        for (const auto& p : listed->problems)
            msg += (msg.empty() ? "" : "; ") + p.message;
        return fail(ErrorCode::corrupt, msg);
    }
    auto map = std::make_shared<EntryMap>();
    for (auto& e : listed->entries) {
        auto domain = util::to_lower(e.domain);
        map->emplace(std::move(domain), std::move(e));
    }
    const std::lock_guard lock(m_mu);
    m_map = std::move(map);
    m_mtime = mtime;
    return {};
}

std::string Entries::refresh() {
    std::error_code ec;
    const auto mtime = fs::last_write_time(m_dir, ec);
    if (ec)
        return fmt::format("cannot read the entry store {}: {}", m_dir.string(), ec.message());
    m_mtime = mtime;  // a broken file is reported once, not on every recipient
    store::LocalStore store(m_dir);
    auto listed = store.list({}, store::Detail::full);
    if (!listed)
        return listed.error().message;
    auto map = std::make_shared<EntryMap>();
    for (auto& e : listed->entries) {
        auto domain = util::to_lower(e.domain);
        map->emplace(std::move(domain), std::move(e));
    }
    std::string problems;
    for (const auto& p : listed->problems) {
        problems += (problems.empty() ? "" : "; ") + p.message;
        auto name = fs::path(p.source).filename().string();
        if (name.ends_with(".json"))
            name.resize(name.size() - 5);
        const auto old = m_map->find(util::to_lower(name));
        if (old != m_map->end())
            map->emplace(old->first, old->second);
    }
    m_map = std::move(map);
    return problems;
}

std::shared_ptr<const EntryMap> Entries::snapshot(std::string* problem) {
    std::error_code ec;
    const auto mtime = fs::last_write_time(m_dir, ec);
    const std::lock_guard lock(m_mu);
    if (!ec && mtime != m_mtime) {
        auto p = refresh();
        if (!p.empty() && problem != nullptr)
            *problem = p;
    }
    return m_map;
}

std::size_t Entries::size() const {
    const std::lock_guard lock(m_mu);
    return m_map->size();
}

std::string TargetAddress::text() const {
    switch (kind) {
        case Kind::smtp:
            return fmt::format("smtp:{}:{}", host, port);
        case Kind::lmtp_tcp:
            return fmt::format("lmtp:{}:{}", host, port);
        case Kind::lmtp_unix:
            return "lmtp:unix:" + path;
        case Kind::maildir:
            return "maildir:" + path;
    }
    return "";
}

Expected<TargetAddress> parse_target(const std::string& target) {
    TargetAddress t;
    const auto bad = [&](std::string_view why) {
        return fail(ErrorCode::invalid, fmt::format("target {}: {}", target, why));
    };
    std::string rest = target;
    if (rest.starts_with("maildir:")) {
        t.kind = TargetAddress::Kind::maildir;
        t.path = rest.substr(8);
        if (t.path.empty() || t.path.front() != '/')
            return bad("a maildir needs an absolute path");
        return t;
    }
    if (rest.starts_with("lmtp:unix:")) {
        t.kind = TargetAddress::Kind::lmtp_unix;
        t.path = rest.substr(10);
        if (t.path.empty() || t.path.front() != '/')
            return bad("an LMTP socket needs an absolute path");
        return t;
    }
    if (rest.starts_with("lmtp://")) {
        t.kind = TargetAddress::Kind::lmtp_tcp;
        t.port = 24;
        rest = rest.substr(7);
    } else if (rest.starts_with("smtp://")) {
        rest = rest.substr(7);
    } else if (rest.find("://") != std::string::npos) {
        return bad("unknown scheme (smtp://, lmtp://, lmtp:unix:, maildir: are known)");
    }
    std::string port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string::npos)
            return bad("no closing ']'");
        t.host = rest.substr(1, close - 1);
        if (!util::is_ip_address(t.host))
            return bad("the bracketed part is not an IP address");
        if (close + 1 < rest.size()) {
            if (rest[close + 1] != ':')
                return bad("expected :PORT after ']'");
            port = rest.substr(close + 2);
        }
    } else {
        const auto colon = rest.find(':');
        t.host = rest.substr(0, colon);
        if (colon != std::string::npos)
            port = rest.substr(colon + 1);
        if (t.host.empty() || util::is_ip_address(t.host))
            return bad("a host name is needed (an IP address goes in brackets)");
    }
    if (!port.empty()) {
        const auto p = util::parse_integer(port);
        if (!p || *p < 1 || *p > 65535)
            return bad("the port is not 1 to 65535");
        t.port = static_cast<unsigned short>(*p);
    }
    return t;
}

}  // namespace mailproxy::daemon
