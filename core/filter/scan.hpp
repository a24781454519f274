#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/entry/entry.hpp"
#include "core/filter/banned.hpp"
#include "core/filter/findings.hpp"
#include "core/filter/mime.hpp"
#include "core/filter/spam.hpp"
#include "core/filter/virus.hpp"
#include "core/filter/wrap.hpp"

namespace mailproxy::filter {

/// Which checks run (DESIGN §5.2: a check whose mode is DISABLED is not run) and their bounds.
struct ScanOptions {
    bool virus = true;
    bool banned = true;
    bool header = true;
    bool spam = true;  ///< for options_for(): the entry's spam.mode is not DISABLED
    MimeLimits mime;
    ArchiveLimits archive;
    std::size_t max_header_bytes = k_max_header_bytes;  ///< of the header section read for the checks
    bool mbox_from_line = false;  ///< a first line "From ..." is an mbox separator, not a header (files)
};

/// The options an entry's policy gives: the checks whose mode is not DISABLED.
ScanOptions options_for(const entry::Policy& p);

/// Everything the checks found in one message.
struct ScanResult {
    std::vector<Finding> findings;  ///< in the order virus, banned, bad header
    bool virus_scanned = false;     ///< the virus scanner looked at the whole message
    std::string scanner_error;      ///< why it could not ("" when it did or was not asked to)
    SpamCheck spam;                 ///< filled by the caller (check_spam), when options.spam
    bool spam_fields = false;       ///< the message came with X-Spam-* fields (they are removed)
    std::string head;               ///< the message's start, as far as the checks read its header section
    bool has(Category c) const;
};

/// Runs the checks on the message in `fd` (read from its start; not changed). `scanner` may be null
/// when options.virus is off.
ScanResult scan_message(int fd, const ScanOptions& options, const VirusScanner* scanner);

/// What happens to the message (DESIGN §5.3).
enum class Action {
    deliver,          ///< clean, or nothing the policy acts on
    quarantine,       ///< kept in the quarantine, 250 with its id
    discard,          ///< 554 5.7.1 with the reason
    deliver_wrapped,  ///< ACCEPT of a virus or banned file: the warning message with the original attached
    deliver_alert,    ///< ACCEPT of a bad header: delivered with an alert header
    tempfail,         ///< the scanner failed: 451 4.3.0
};
std::string_view to_string(Action a);

/// The first finding in the order virus > banned > spam at or above kill (or blacklisted) > bad header
/// decides, with its category's mode (spam: spam.mode; ACCEPT delivers, marked). A scanner failure,
/// or a spam engine failure, on a message that would be delivered gives `tempfail` unless
/// `pass_on_failure` or `spam_pass_on_failure`.
struct Verdict {
    std::optional<Category> category;  ///< the deciding category; none when clean
    Action action = Action::deliver;
    std::string reason;  ///< "virus Eicar-Signature", "banned: extension .js (1.2 a.js)", ...
};
Verdict decide(const ScanResult& r, const entry::Policy& p, bool pass_on_failure,
               bool spam_pass_on_failure = false);

}  // namespace mailproxy::filter
