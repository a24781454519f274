#include "core/util/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

namespace mailproxy::util {

Expected<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path, Sync sync,
                                                   const char* schema) {
    std::unique_ptr<Database> d(new Database());
    // made 0600 before SQLite opens it: its -wal and -shm files take the database file's mode
    if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0)
        ::close(fd);
    if (sqlite3_open_v2(path.c_str(), &d->m_db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        return fail(ErrorCode::io,
                    fmt::format("cannot open {}: {}", path.string(),
                                d->m_db != nullptr ? sqlite3_errmsg(d->m_db) : "out of memory"));
    }
    sqlite3_busy_timeout(d->m_db, 5000);
    const std::string all = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                            (sync == Sync::full ? "FULL;" : "NORMAL;") + schema;
    char* err = nullptr;
    if (sqlite3_exec(d->m_db, all.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string why = err != nullptr ? err : "?";
        sqlite3_free(err);
        return fail(ErrorCode::io, fmt::format("cannot use {}: {}", path.string(), why));
    }
    ::chmod(path.c_str(), 0600);
    return d;
}

Database::~Database() {
    if (m_db != nullptr)
        sqlite3_close(m_db);
}

std::string Database::error() const {
    return sqlite3_errmsg(m_db);
}

int Database::changes() const {
    return sqlite3_changes(m_db);
}

Statement::Statement(const Database& db, const char* sql) {
    if (sqlite3_prepare_v2(db.get(), sql, -1, &m_st, nullptr) != SQLITE_OK)
        m_st = nullptr;
}

Statement::~Statement() {
    sqlite3_finalize(m_st);
}

Statement& Statement::bind(int i, const std::string& text) {
    sqlite3_bind_text(m_st, i, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::bind(int i, long long value) {
    sqlite3_bind_int64(m_st, i, value);
    return *this;
}

bool Statement::row() {
    const int r = sqlite3_step(m_st);
    m_failed = r != SQLITE_ROW && r != SQLITE_DONE;
    return r == SQLITE_ROW;
}

bool Statement::done() {
    const int r = sqlite3_step(m_st);
    m_failed = r != SQLITE_ROW && r != SQLITE_DONE;
    return r == SQLITE_DONE;
}

long long Statement::integer(int column) const {
    return sqlite3_column_int64(m_st, column);
}

}  // namespace mailproxy::util
