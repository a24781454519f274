#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/util/error.hpp"

struct cl_engine;  // libclamav's, declared at global scope

namespace mailproxy::filter {

/// Bounds on what libclamav unpacks and scans in one message (clamd.conf's names).
struct ScanLimits {
    std::uint64_t max_scan_size = 400u << 20;  ///< bytes scanned in all, archives expanded
    std::uint64_t max_file_size = 100u << 20;  ///< one file (or archive member)
    std::uint32_t max_recursion =
        20;  ///< nesting of archives and containers: clamd's 17 and the mail's own levels
    std::uint32_t max_files = 10000;  ///< files in one message
    std::uint32_t max_scan_time_ms = 120000;
};

/// What a scan found: nothing, a virus (its signature name), or an error (the scanner's message).
struct VirusResult {
    enum class Kind { clean, virus, error };
    Kind kind = Kind::clean;
    std::string text;  ///< the virus name, or the error
};

/// A virus scanner: libclamav in this process, or a clamd. Used by any number of threads at once.
class VirusScanner {
  public:
    virtual ~VirusScanner() = default;
    /// Scans the open file `fd` from its start, with mail and archive parsing on.
    virtual VirusResult scan(int fd) const = 0;
    /// "ClamAV 1.4.6": for the X-Virus-Scanned header.
    virtual std::string product() const = 0;
    /// For the log and --check-config: "libclamav 1.4.6, 2 signatures", "clamd ClamAV 1.4.6 at ...".
    virtual std::string describe() const = 0;
};

/// Which scanner: clamd when `clamd` is given, else libclamav with `clamav_db`.
struct ScannerChoice {
    std::string clamav_db;    ///< a signature file or directory; "" for the system's
    std::string clamd;        ///< a unix socket path (absolute) or IP:PORT; "" for libclamav
    int clamd_timeout = 120;  ///< seconds for one clamd scan, from connecting to the reply
    /// libclamav's directory for what it extracts from a message while scanning it (decoded parts,
    /// archive members); "" for $TMPDIR or /tmp. Not an option: serve gives its state directory's tmp/.
    std::string tmpdir;
};

/// Loads libclamav's signatures, or asks the clamd for its version (it must answer).
Expected<std::shared_ptr<const VirusScanner>> open_scanner(const ScannerChoice& choice);

/// A libclamav engine: signatures loaded and compiled once, then used by any number of threads.
class ClamavEngine : public VirusScanner {
  public:
    /// Loads `path` (a signature file or directory; "" for the system's database directory) and
    /// compiles it. ErrorCode::config when it cannot be loaded or holds no signature. `tmpdir`: where
    /// scans put what they extract ("" for $TMPDIR or /tmp).
    static Expected<std::shared_ptr<const ClamavEngine>> load(const std::string& path,
                                                              const ScanLimits& limits,
                                                              const std::string& tmpdir = "");
    ~ClamavEngine() override;
    ClamavEngine(const ClamavEngine&) = delete;
    ClamavEngine& operator=(const ClamavEngine&) = delete;

    VirusResult scan(int fd) const override;
    std::string product() const override;
    std::string describe() const override;
    unsigned signatures() const { return m_signatures; }

  private:
    ClamavEngine() = default;
    ::cl_engine* m_engine = nullptr;
    unsigned m_signatures = 0;
};

}  // namespace mailproxy::filter
