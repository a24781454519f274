#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/filter/findings.hpp"
#include "core/filter/mime.hpp"

namespace mailproxy::filter {

/// The lines of a header section, one at a time, without their LF or CR LF.
class HeaderLines {
  public:
    explicit HeaderLines(std::string_view section, std::size_t start = 0) : section_(section), pos_(start) {}
    /// The next line; false at the end. `continuation`: it starts with a space or a tab (a folded line).
    bool next(std::string_view& line, bool& continuation);
    /// The field name of a line that is not a continuation: the text before its colon, trimmed;
    /// nullopt without a colon.
    static std::optional<std::string_view> name_of(std::string_view line);

  private:
    std::string_view section_;
    std::size_t pos_;
};

/// The header section of a message: the bytes before the first empty line (LF or CR LF line ends).
std::string_view header_section(std::string_view message);

/// The start of the message in `fd` up to the end of its header section (read in steps, from offset 0),
/// at most `most` bytes. When the section does not end within them, the bytes up to the last whole line.
std::string read_header_part(int fd, std::size_t most);

/// DESIGN §5.2 step 4 on the message's header section, as sent (no decoding): raw 8-bit, NUL or CR,
/// folded lines of only whitespace, lines over 998 characters, lines that are not `name: value`,
/// missing Date or From, a second Date, From, Subject, ... (amavisd-new's single-use list); and the MIME
/// errors the parser reported (`mime`), an ambiguous structure such as a duplicated boundary parameter
/// (CVE-2024-28054) among them. Each finding names the header and the line.
/// With `mbox_from_line`, a first line "From sender date" (an mbox separator, as saved files have) is
/// skipped.
std::vector<Finding> check_headers(std::string_view section, const MimeWalk& mime,
                                   bool mbox_from_line = false);

}  // namespace mailproxy::filter
