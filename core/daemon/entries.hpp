#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/entry/entry.hpp"
#include "core/util/error.hpp"

namespace mailproxy::daemon {

using EntryMap = std::map<std::string, entry::MailProxy>;  ///< by domain, lower-case

/// The entries `serve` relays for, read from the local store directory. A snapshot is shared with the
/// sessions; it is read again when the directory changes (an `entry` command wrote to it) or on reload().
/// At start a file that is not a valid entry is an error. Later, the valid files make the new snapshot
/// (so a removed entry is gone at once), a broken file keeps the entry its domain had (a half-saved edit
/// does not bounce that domain's mail), and the problem is reported. Safe to use from several threads.
class Entries {
  public:
    explicit Entries(std::filesystem::path dir);
    /// Reads the directory now; every problem is in the error (ErrorCode::corrupt or io) and nothing changes.
    Expected<void> reload();
    /// The current snapshot, read again first when the directory's modification time changed; `problem`
    /// gets the reason when that read failed (the old snapshot is kept).
    std::shared_ptr<const EntryMap> snapshot(std::string* problem = nullptr);
    std::size_t size() const;

  private:
    /// Reads the directory now, applying what reads; returns the problems ("" when none). Under m_mu.
    std::string refresh();

    std::filesystem::path m_dir;
    mutable std::mutex m_mu;  // guards m_map and m_mtime
    std::shared_ptr<const EntryMap> m_map = std::make_shared<EntryMap>();
    std::filesystem::file_time_type m_mtime{};
};

/// Where an entry's checked mail goes (DESIGN §2 `target`).
struct TargetAddress {
    enum class Kind { smtp, lmtp_tcp, lmtp_unix, maildir };
    Kind kind = Kind::smtp;
    std::string host;  ///< host name or IP (without brackets)
    unsigned short port = 25;
    std::string path;  ///< unix socket or maildir
    std::string text() const;
};

/// `host`, `host:port`, `[ip]`, `[ip]:port`, `smtp://host[:port]`, `lmtp://host:port`, `lmtp:unix:/path`,
/// `maildir:/path`; ErrorCode::invalid with the reason otherwise.
Expected<TargetAddress> parse_target(const std::string& target);

}  // namespace mailproxy::daemon
