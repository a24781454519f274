#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/filter/findings.hpp"
#include "core/filter/mime.hpp"

namespace mailproxy::filter {

/// Bounds on looking into archives (an archive bomb must not cost more than this).
struct ArchiveLimits {
    std::size_t max_depth = 8;              ///< archives inside archives
    std::size_t max_entries = 5000;         ///< members listed in all
    std::size_t max_expanded = 256u << 20;  ///< member bytes read in all
    std::size_t max_member = 32u << 20;     ///< bytes of one member kept (its type, a nested archive)
};

/// DESIGN §5.2 step 3 for one part: its names (double extensions, banned extensions), its declared MIME
/// type, the content type libmagic finds in its decoded bytes (`exe-ms`, `exe`, `dll`, `lha`, `cab`),
/// and, for an archive (zip, 7z, rar, cab, lha, tar and compressed forms), the same for every member,
/// nested archives included. Findings are appended to `out`. One object per message (the archive
/// bounds count for the whole message).
class BannedCheck {
  public:
    explicit BannedCheck(ArchiveLimits limits = {}) : m_limits(limits) {}

    void check(const MimePart& part, std::vector<Finding>& out);

  private:
    void check_name(const std::string& name, const std::string& where, std::vector<Finding>& out);
    void check_content(std::string_view data, const std::string& where, std::size_t depth,
                       std::vector<Finding>& out);
    void check_archive(std::string_view data, const std::string& type, const std::string& where,
                       std::size_t depth, std::vector<Finding>& out);

    ArchiveLimits m_limits;
    std::size_t m_entries = 0;   // archive members seen in this message
    std::size_t m_expanded = 0;  // archive bytes read in this message
    bool m_exceeded = false;
};

/// The banned-name rules alone: the rule a file name breaks, or "".
std::string banned_name_rule(std::string_view name);

/// Whether `data` starts like an executable, an archive or a compressed file: the only bytes that
/// short_types() names (libmagic is asked only then: it costs more than all the other checks together).
bool may_have_short_type(std::string_view data);

/// The short types libmagic gives `data` (amavisd-new's names): {"exe", "exe-ms"}, {"exe", "dll"},
/// {"zip"}, {"exe-unix"}, ...; empty when none applies. Thread-safe (one libmagic handle per thread).
std::vector<std::string> short_types(std::string_view data);

}  // namespace mailproxy::filter
