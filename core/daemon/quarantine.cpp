#include "core/daemon/quarantine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <sqlite3.h>

#include "core/util/file.hpp"

namespace mailproxy::daemon {
namespace fs = std::filesystem;

namespace {}  // namespace

Expected<std::unique_ptr<Quarantine>> Quarantine::open(const fs::path& state_dir) {
    std::unique_ptr<Quarantine> q(new Quarantine());
    q->m_dir = state_dir / "quarantine";
    std::error_code ec;
    fs::create_directories(q->m_dir, ec);
    if (ec)
        return fail(ErrorCode::io, fmt::format("cannot create {}: {}", q->m_dir.string(), ec.message()));
    ::chmod(q->m_dir.c_str(), 0700);
    const auto db = state_dir / "quarantine.db";
    // made 0600 before SQLite opens it: its -wal and -shm files take the database file's mode
    if (const int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0)
        ::close(fd);
    if (sqlite3_open_v2(db.c_str(), &q->m_db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        return fail(ErrorCode::io,
                    fmt::format("cannot open {}: {}", db.string(),
                                q->m_db != nullptr ? sqlite3_errmsg(q->m_db) : "out of memory"));
    }
    sqlite3_busy_timeout(q->m_db, 5000);
    char* err = nullptr;
    const char* schema =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS messages ("
        " id TEXT PRIMARY KEY, time INTEGER NOT NULL, entry TEXT NOT NULL, admin TEXT NOT NULL,"
        " sender TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT NOT NULL, reason TEXT NOT NULL,"
        " size INTEGER NOT NULL, file TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS messages_entry_time ON messages(entry, time);";
    if (sqlite3_exec(q->m_db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string why = err != nullptr ? err : "?";
        sqlite3_free(err);
        return fail(ErrorCode::io, fmt::format("cannot use {}: {}", db.string(), why));
    }
    ::chmod(db.c_str(), 0600);
    return q;
}

Quarantine::~Quarantine() {
    if (m_db != nullptr)
        sqlite3_close(m_db);
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
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "INSERT INTO messages (id, time, entry, admin, sender, recipients, subject, reason, size, file)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    if (sqlite3_prepare_v2(m_db, sql, -1, &st, nullptr) != SQLITE_OK) {
        ::unlink(file.c_str());
        return fail(ErrorCode::io, fmt::format("quarantine index: {}", sqlite3_errmsg(m_db)));
    }
    const auto text = [&](int i, const std::string& v) {
        sqlite3_bind_text(st, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    text(1, id);
    sqlite3_bind_int64(st, 2, now);
    text(3, item.entry);
    text(4, item.admin);
    text(5, item.sender);
    text(6, recipients);
    text(7, item.subject);
    text(8, item.reason);
    sqlite3_bind_int64(st, 9, static_cast<sqlite3_int64>(size));
    text(10, file.string());
    const auto rc = sqlite3_step(st);  // autocommit: synced (synchronous=FULL) when it returns
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ::unlink(file.c_str());
        return fail(ErrorCode::io, fmt::format("quarantine index: {}", sqlite3_errmsg(m_db)));
    }
    return id;
}

}  // namespace mailproxy::daemon
