#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/util/error.hpp"
#include "core/util/sqlite.hpp"

namespace mailproxy::daemon {

/// The quarantine (DESIGN §5.3 QUARANTINE): each message in a file `quarantine/<id>.eml` under the state
/// directory, indexed in `quarantine.db` (SQLite) with its time, entry, digest address, sender,
/// recipients, subject, reason and size. store() returns only once both the file and the index row are
/// on disk (fsync), so that the 250 carrying the id is true. Thread-safe; blocking (run it off the loop).
class Quarantine {
  public:
    static Expected<std::unique_ptr<Quarantine>> open(const std::filesystem::path& state_dir);
    Quarantine(const Quarantine&) = delete;
    Quarantine& operator=(const Quarantine&) = delete;

    struct Item {
        std::string entry;  ///< the domain
        std::string admin;  ///< who gets the digest
        std::string sender;
        std::vector<std::string> recipients;
        std::string subject;
        std::string reason;
    };
    /// Stores `prefix` (header lines) and the message in `fd` (read from its start); the new id.
    Expected<std::string> store(const std::string& prefix, int fd, const Item& item);

  private:
    Quarantine() = default;
    std::filesystem::path m_dir;
    std::unique_ptr<util::Database> m_db;
    std::mutex m_mu;
};

}  // namespace mailproxy::daemon
