#include "core/daemon/greylist.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::daemon {

std::string greylist_network(std::string_view ip) {
    const std::string text(ip);
    unsigned char b[16] = {};
    if (::inet_pton(AF_INET, text.c_str(), b) == 1)
        return fmt::format("{}.{}.{}.0/24", b[0], b[1], b[2]);
    if (::inet_pton(AF_INET6, text.c_str(), b) == 1) {
        const bool mapped =
            std::all_of(b, b + 10, [](unsigned char c) { return c == 0; }) && b[10] == 0xff && b[11] == 0xff;
        if (mapped)
            return fmt::format("{}.{}.{}.0/24", b[12], b[13], b[14]);
        for (int i = 8; i < 16; ++i)
            b[i] = 0;
        char out[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET6, b, out, sizeof out);
        return std::string(out) + "/64";
    }
    return text;
}

std::string greylist_sender(std::string_view address) {
    auto a = util::to_lower(address);
    const auto at = a.rfind('@');
    if (at == std::string::npos)
        return a;
    const auto plus = a.find('+');
    if (plus != std::string::npos && plus < at)
        a.erase(plus, at - plus);
    return a;
}

Expected<std::unique_ptr<Greylist>> Greylist::open(const std::filesystem::path& state_dir) {
    std::unique_ptr<Greylist> g(new Greylist());
    // synchronous=NORMAL: a triplet lost to a power cut only delays one message again
    auto db = util::Database::open(state_dir / "greylist.db", util::Database::Sync::normal,
                                   "CREATE TABLE IF NOT EXISTS triplets ("
                                   " network TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,"
                                   " first INTEGER NOT NULL, last INTEGER NOT NULL, passed INTEGER NOT NULL,"
                                   " PRIMARY KEY (network, sender, recipient));");
    if (!db)
        return tl::make_unexpected(db.error());
    g->m_db = std::move(*db);
    return g;
}

Expected<Greylist::Decision> Greylist::check(const std::string& network, const std::string& sender,
                                             const std::string& recipient, const GreylistTimes& times,
                                             std::int64_t now) {
    const std::lock_guard lock(m_mu);
    if (now - m_last_purge >= 3600)
        (void)purge_locked(times, now);  // a failure shows in the statements below
    const auto failed = [&] { return fail(ErrorCode::io, fmt::format("greylist: {}", m_db->error())); };
    util::Statement get(
        *m_db, "SELECT first, last, passed FROM triplets WHERE network = ? AND sender = ? AND recipient = ?");
    if (!get.ok())
        return failed();
    get.bind(1, network).bind(2, sender).bind(3, recipient);
    Decision d;
    std::int64_t first = now;
    const bool found = get.row();
    if (get.failed())
        return failed();  // not "unknown": that would greylist a passed triplet again
    if (found) {
        first = get.integer(0);
        const auto last = get.integer(1);
        const bool passed = get.integer(2) != 0;
        if (passed && now - last <= times.max_age) {
            d.pass = true;
        } else if (!passed && now - first <= times.retry_window) {
            d.pass = now - first >= times.delay;
            if (d.pass)
                d.delayed = now - first;
        } else {
            first = now;  // expired: it starts again
        }
    }
    if (!d.pass)
        d.wait = first + times.delay - now;
    util::Statement put(
        *m_db,
        "INSERT INTO triplets (network, sender, recipient, first, last, passed) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (network, sender, recipient) DO UPDATE SET first = excluded.first,"
        " last = excluded.last, passed = excluded.passed");
    if (!put.ok())
        return failed();
    put.bind(1, network).bind(2, sender).bind(3, recipient).bind(4, static_cast<long long>(first));
    put.bind(5, static_cast<long long>(now)).bind(6, static_cast<long long>(d.pass ? 1 : 0));
    if (!put.done())
        return failed();
    return d;
}

Expected<int> Greylist::purge(const GreylistTimes& times, std::int64_t now) {
    const std::lock_guard lock(m_mu);
    return purge_locked(times, now);
}

Expected<int> Greylist::purge_locked(const GreylistTimes& times, std::int64_t now) {
    m_last_purge = now;
    util::Statement st(*m_db,
                       "DELETE FROM triplets WHERE (passed = 0 AND first < ?) OR (passed = 1 AND last < ?)");
    if (!st.ok())
        return fail(ErrorCode::io, fmt::format("greylist: {}", m_db->error()));
    st.bind(1, static_cast<long long>(now - times.retry_window))
        .bind(2, static_cast<long long>(now - times.max_age));
    if (!st.done())
        return fail(ErrorCode::io, fmt::format("greylist: {}", m_db->error()));
    return m_db->changes();
}

}  // namespace mailproxy::daemon
