#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/entry/entry.hpp"

namespace mailproxy::entry {

/// DESIGN §5.4: whether `address` is on `list`. The local part compares exactly, the domain without
/// regard to case; `@example.com` matches every address of exactly that domain (not its subdomains).
/// The empty (null) sender is on no list.
bool on_list(const MailList& list, std::string_view address);

/// The addresses of a From: header value ("Alice <a@example.com>", "a@example.com, b@example.org",
/// "a@example.com (Alice)"): those in angle brackets, else each comma-separated item without comments.
/// At most 20.
std::vector<std::string> header_addresses(std::string_view value);

}  // namespace mailproxy::entry
