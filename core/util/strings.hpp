#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailproxy::util {

/// ASCII lower-case copy (domain names, enum spellings); other bytes unchanged.
std::string to_lower(std::string_view s);

/// ASCII upper-case copy.
std::string to_upper(std::string_view s);

/// `s` without leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view s);

/// Splits on `sep`; empty pieces are kept.
std::vector<std::string> split(std::string_view s, char sep);

/// Case-insensitive glob match where `*` stands for any run of characters (AutoDNS `LIKE`).
bool glob_match(std::string_view pattern, std::string_view text);

/// Parses the whole of `s` as a finite decimal number; nullopt on anything else
/// ("6.5", "-999" and "1e2" are numbers; "6,5", "", "nan", "inf", "6.5x" are not).
std::optional<double> parse_number(std::string_view s);

/// Parses the whole of `s` as a decimal integer within int range; nullopt otherwise.
std::optional<long long> parse_integer(std::string_view s);

/// Shortest text for a score that reads back to the same double: 6.5, -999, 0.1.
std::string format_number(double v);

/// Standard base64 (RFC 4648, with padding).
std::string base64(std::string_view data);

/// Replaces every occurrence of `needle` in `text` (no-op for an empty needle).
std::string replace_all(std::string text, std::string_view needle, std::string_view with);

}  // namespace mailproxy::util
