#include "core/daemon/quarantine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "core/util/file.hpp"
#include "core/util/sqlite.hpp"

namespace mailproxy::daemon {
namespace fs = std::filesystem;

Expected<std::unique_ptr<Quarantine>> Quarantine::open(const fs::path& state_dir) {
    std::unique_ptr<Quarantine> q(new Quarantine());
    q->m_dir = state_dir / "quarantine";
    std::error_code ec;
    fs::create_directories(q->m_dir, ec);
    if (ec)
        return fail(ErrorCode::io, fmt::format("cannot create {}: {}", q->m_dir.string(), ec.message()));
    ::chmod(q->m_dir.c_str(), 0700);
    auto db =
        util::Database::open(state_dir / "quarantine.db", util::Database::Sync::full,
                             "CREATE TABLE IF NOT EXISTS messages ("
                             " id TEXT PRIMARY KEY, time INTEGER NOT NULL, entry TEXT NOT NULL,"
                             " admin TEXT NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT NULL,"
                             " subject TEXT NOT NULL, reason TEXT NOT NULL, size INTEGER NOT NULL,"
                             " file TEXT NOT NULL);"
                             "CREATE INDEX IF NOT EXISTS messages_entry_time ON messages(entry, time);");
    if (!db)
        return tl::make_unexpected(db.error());
    q->m_db = std::move(*db);
    return q;
}

Expected<std::string> Quarantine::store(const std::string& prefix, int fd, const Item& item) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto id = fmt::format("{:016x}", rng());
    const auto file = m_dir / (id + ".eml");
    const auto tmp = m_dir / (id + ".tmp");
    const auto failed = [&](std::string what) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        return fail(ErrorCode::io, fmt::format("quarantine: {} ({})", what, why));
    };
    std::size_t size = prefix.size();
    {
        util::Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (out.get() < 0)
            return failed("cannot create " + tmp.string());
        if (!util::write_all(out.get(), prefix))
            return failed("cannot write " + tmp.string());
        char buf[65536];
        off_t offset = 0;
        for (;;) {
            const auto n = ::pread(fd, buf, sizeof buf, offset);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return failed("cannot read the message");
            if (n == 0)
                break;
            offset += n;
            size += static_cast<std::size_t>(n);
            if (!util::write_all(out.get(), std::string_view(buf, static_cast<std::size_t>(n))))
                return failed("cannot write " + tmp.string());
        }
        if (::fsync(out.get()) != 0)
            return failed("cannot sync " + tmp.string());
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0)
        return failed("cannot rename " + tmp.string());
    if (auto ok = util::fsync_dir(m_dir); !ok)
        return tl::make_unexpected(ok.error());
    std::string recipients;
    for (const auto& r : item.recipients)
        recipients += (recipients.empty() ? "" : ",") + r;
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::lock_guard lock(m_mu);
    util::Statement st(*m_db,
                       "INSERT INTO messages (id, time, entry, admin, sender, recipients, subject, reason,"
                       " size, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st.ok()) {
        ::unlink(file.c_str());
        return fail(ErrorCode::io, fmt::format("quarantine index: {}", m_db->error()));
    }
    st.bind(1, id).bind(2, static_cast<long long>(now)).bind(3, item.entry).bind(4, item.admin);
    st.bind(5, item.sender).bind(6, recipients).bind(7, item.subject).bind(8, item.reason);
    st.bind(9, static_cast<long long>(size)).bind(10, file.string());
    if (!st.done()) {  // autocommit: synced (synchronous=FULL) when it returns
        ::unlink(file.c_str());
        return fail(ErrorCode::io, fmt::format("quarantine index: {}", m_db->error()));
    }
    return id;
}

}  // namespace mailproxy::daemon
