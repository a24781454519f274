#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/entry/entry.hpp"
#include "core/util/error.hpp"

namespace mailproxy::entry {

inline constexpr double k_score_min = -999.9;
inline constexpr double k_score_max = 999.9;
inline constexpr int k_digest_min = 1440;

/// A domain as a person types it, made canonical: blanks and one trailing dot removed, lower-cased,
/// non-ASCII (UTF-8) labels converted to punycode. Fails (ErrorCode::invalid) when the result is not
/// a valid domain name, saying why.
Expected<std::string> normalize_domain(std::string_view input);

/// Why `d` is not a canonical domain name (lower-case LDH labels of 1–63, at least two labels, at most
/// 253 characters), or an empty string when it is one.
std::string domain_problem(std::string_view d);

/// Why `a` is not a usable e-mail address (dot-atom local part, valid domain), or "" when it is.
std::string address_problem(std::string_view a);

/// Why `item` is neither an address nor a catch-all `@domain`, or "" when it is one of them.
std::string list_item_problem(std::string_view item);

/// Why `target` is not a usable target (see DESIGN §2), or "" when it is. Accepted forms: `host`,
/// `host:port`, `[IP]`, `[IP]:port`, `smtp://host[:port]`, `lmtp://host:port`, `lmtp:unix:/path`,
/// `maildir:/path`.
std::string target_problem(std::string_view target);

/// An address or `@domain` with its domain part lower-cased (local parts are compared exactly).
std::string normalize_address(std::string_view a);

/// DESIGN §5.4: `pattern` is an address (equal, domain case-insensitive) or `@domain`, which matches
/// every address of exactly that domain.
bool address_matches(std::string_view pattern, std::string_view address);

/// Every rule of DESIGN §2 on one entry; each error names the field and its value. Empty when valid.
std::vector<FieldError> validate(const MailProxy& e);

}  // namespace mailproxy::entry
