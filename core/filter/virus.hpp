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

/// A libclamav engine: signatures loaded and compiled once, then used by any number of threads.
class ClamavEngine {
  public:
    /// Loads `path` (a signature file or directory; "" for the system's database directory) and
    /// compiles it. ErrorCode::config when it cannot be loaded or holds no signature.
    static Expected<std::shared_ptr<const ClamavEngine>> load(const std::string& path,
                                                              const ScanLimits& limits);
    ~ClamavEngine();
    ClamavEngine(const ClamavEngine&) = delete;
    ClamavEngine& operator=(const ClamavEngine&) = delete;

    /// Scans the open file `fd` from its start, with mail and archive parsing on (thread-safe).
    VirusResult scan(int fd) const;
    unsigned signatures() const { return m_signatures; }
    /// "ClamAV 1.4.6" (for the X-Virus-Scanned header).
    static std::string version();

  private:
    ClamavEngine() = default;
    ::cl_engine* m_engine = nullptr;
    unsigned m_signatures = 0;
};

}  // namespace mailproxy::filter
