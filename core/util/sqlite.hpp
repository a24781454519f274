#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/util/error.hpp"

struct sqlite3;  // SQLite's, declared at global scope
struct sqlite3_stmt;

namespace mailproxy::util {

/// A SQLite database of serve's state: WAL, a busy timeout, usable from any thread (SQLite's serialized
/// mode). The file and its -wal and -shm are made 0600.
class Database {
  public:
    /// full: each transaction is on disk when it returns (synchronous=FULL); normal: the last ones may
    /// be lost to a power cut, never the database (synchronous=NORMAL).
    enum class Sync { full, normal };
    /// Opens (creating) `path` and runs `schema` (CREATE TABLE IF NOT EXISTS ...).
    static Expected<std::unique_ptr<Database>> open(const std::filesystem::path& path, Sync sync,
                                                    const char* schema);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    ::sqlite3* get() const { return m_db; }
    /// SQLite's message for the last error.
    std::string error() const;
    /// Rows changed by the last statement.
    int changes() const;

  private:
    Database() = default;
    ::sqlite3* m_db = nullptr;
};

/// A prepared statement, finalized at the end of its scope.
class Statement {
  public:
    Statement(const Database& db, const char* sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    bool ok() const { return m_st != nullptr; }
    Statement& bind(int i, const std::string& text);
    Statement& bind(int i, long long value);
    /// One step: true for a row (row()) or for the end of a statement without rows (done()).
    bool row();
    bool done();
    /// The last step failed (neither a row nor the end): row() false does not mean "no row" then.
    bool failed() const { return m_failed; }
    long long integer(int column) const;
    ::sqlite3_stmt* get() const { return m_st; }

  private:
    ::sqlite3_stmt* m_st = nullptr;
    bool m_failed = false;
};

}  // namespace mailproxy::util
