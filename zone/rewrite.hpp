#pragma once

#include <cstdint>
#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zone/reader.hpp"
#include "zone/switch.hpp"

namespace mailproxy::zone {

/// How the SOA serial moves when records change: `automatic` keeps the style it has (a date serial
/// YYYYMMDDnn stays one, a Unix time stays one, anything else counts up); `keep` leaves it alone.
enum class SerialStyle { automatic, increment, date, unixtime, keep };

struct RewriteOptions {
    ReadOptions read;
    SwitchOptions change;         ///< proxy host, custom host, addresses, revert targets
    std::optional<uint32_t> ttl;  ///< for added records; default: the TTL column of the MX they replace
    SerialStyle serial = SerialStyle::automatic;
    std::time_t now = 0;  ///< for date and Unix-time serials; 0 = the current time
};

/// One record removed or added, as "owner TYPE data" with absolute names.
struct RecordChange {
    bool added = false;
    std::string record;
    Position pos;  ///< where it was (removed), or the line of the old file it follows (added)
};

/// One line of the result: kept ('='), removed ('-') or added ('+'); the text includes its line end.
struct LineOp {
    char kind;
    std::string_view text;
};

struct RewriteResult {
    std::string file;
    std::string origin;
    OriginSource origin_source = OriginSource::none;
    std::vector<Finding> problems;  ///< why the file cannot be rewritten: nothing may be written
    std::vector<RecordChange> changes;
    std::optional<std::pair<uint32_t, uint32_t>> serial;  ///< old and new serial, when it changed
    std::vector<std::string> notes;                       ///< things the user should know
    std::string original;
    std::string text;  ///< the rewritten file (== original when nothing changes)
    std::vector<LineOp> ops;
    std::deque<std::string> added_lines;  ///< storage for the '+' ops
    bool changed() const { return text != original; }
};

/// Plans and renders the MX switch on one zone file (DESIGN §4 "rewrite"): removes the apex MX records
/// that bypass the proxy (or, reverting, those to the proxy), adds the new ones after the last apex MX
/// (else after the SOA/NS block) in the file's own layout, adds or replaces the custom host's A/AAAA
/// records, and moves the SOA serial. Every other byte stays: a removed record takes only its own lines
/// (with its comment), and a record that inherited its owner from a removed one gets the owner written.
/// The result is read back before it is returned; `problems` holds syntax errors, conflicts, and records
/// that would have to change inside an $INCLUDE file or a $GENERATE line. Writes nothing.
RewriteResult rewrite_file(const std::string& path, const RewriteOptions& options);

/// The serial after a change, in the given style (RFC 1982: always greater than `serial`).
uint32_t next_serial(uint32_t serial, SerialStyle style, std::time_t now);

/// A unified diff (3 lines of context) of a rewrite; "" when nothing changed.
std::string unified_diff(const RewriteResult& r, const std::string& old_name, const std::string& new_name);

}  // namespace mailproxy::zone
