#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/util/error.hpp"

namespace mailproxy::filter {

/// DESIGN §5.3, ACCEPT of a virus or banned file: writes to `out` (an empty file) a new `multipart/mixed`
/// message: the original's From, To, Cc, Date, Subject, Message-ID, Reply-To, In-Reply-To and References,
/// a `text/plain` part with `warning` (one line each, "WARNING: contains virus <name>"), and the
/// original message from `original` (a CR LF message, read from its start) attached whole as
/// `message/rfc822`. Lines end in CR LF.
Expected<void> write_wrapped(int original, int out, const std::vector<std::string>& warning);

/// DESIGN §5.3 spam marking: writes to `out` (an empty file) the message in `original` without the
/// X-Spam-Flag, -Status, -Level and -Score fields it came with (only ours may reach the target, as
/// amavisd-new does), and with `tag` ("+++SPAM ", or "" for none) put at the start of its Subject, or a
/// "Subject: <tag>" line first when it has none. Every other byte stays.
Expected<void> write_marked(int original, int out, std::string_view tag);

/// How much of a header section the checks, write_marked and has_spam_fields read.
inline constexpr std::size_t k_max_header_bytes = 1u << 20;

/// Whether a header section has an X-Spam-Flag, -Status, -Level or -Score field.
bool has_spam_fields(std::string_view section);

/// The first value of header `name` (unfolded, at most 200 characters) in a header section; "" if none.
std::string header_value(std::string_view section, std::string_view name);

}  // namespace mailproxy::filter
