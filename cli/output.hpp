#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/app.hpp"
#include "core/entry/entry.hpp"

namespace mailproxy::cli {

/// "mailproxy: error: <line>" on stderr for each line of `message`.
void print_error(std::string_view message);
/// "mailproxy: warning: <line>" on stderr.
void print_warning(std::string_view message);
/// "mailproxy: <line>" on stderr, unless --quiet.
void print_note(const Globals& g, std::string_view message);

/// An aligned table: a header row, then rows; columns separated by two spaces, no trailing blanks.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

/// The entry as `field  value` lines, as `entry info` shows it.
void print_entry(std::ostream& out, const entry::MailProxy& e);

/// JSON for standard output: indented, a final newline; text that is not valid UTF-8 (a file name, say)
/// is replaced rather than aborting the output.
std::string json_text(const nlohmann::ordered_json& j);

/// Reads all of FILE, or standard input for "-"; bounded to `limit` bytes.
Expected<std::string> read_input(const std::string& file, std::size_t limit);

}  // namespace mailproxy::cli
