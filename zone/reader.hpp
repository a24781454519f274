#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

struct ldns_struct_rr;

namespace mailproxy::zone {

enum class Severity { info, warning, error };
std::string_view to_string(Severity s);

/// A place in a zone file: 1-based line and byte column.
struct Position {
    std::string file;
    int line = 0;
    int col = 0;
};

/// One finding: a syntax error or a rule's verdict.
struct Finding {
    Position pos;
    Severity severity = Severity::error;
    std::string rule;     ///< stable id, e.g. "mx-bypass", "syntax"
    std::string message;  ///< what is wrong, with the value
    std::string hint;     ///< what to do
    int width = 1;        ///< how many columns the caret underlines
};

/// A token of a record as written: its text (quotes kept) and where it starts.
struct Token {
    std::string_view text;
    int line = 0;
    int col = 0;
};

/// One record as ldns read it, with the source tokens for checks on the text.
struct RecordView {
    const Position& pos;                ///< where the record starts (its first token)
    const std::vector<Token>& tokens;   ///< owner (if written), [ttl] [class] type, rdata
    bool owner_written;                 ///< false when the owner was inherited (line began with a blank)
    std::size_t type_index;             ///< index of the type token in `tokens`
    const ldns_struct_rr* rr;           ///< the parsed record (owned by the reader)
    const std::string& zone_origin;     ///< the zone's apex, absolute, lower-case
    const std::string& owner_text;      ///< the owner as written (or inherited), made absolute; case kept
    int end_line;                       ///< the last line of the record (its closing parenthesis, comment)
    bool generated;                     ///< made by $GENERATE (one line holds many records)
    const std::string& current_origin;  ///< the $ORIGIN in effect, absolute
    int start_line;                     ///< the first line of the record (a '(' may precede its first token)
};

/// How the origin was chosen, for -v.
enum class OriginSource { option, directive, soa, file_name, none };
std::string_view to_string(OriginSource s);

/// Records without a TTL get the $TTL in effect; before any $TTL, the last TTL written (RFC 1035 5.1 as
/// BIND reads it), else 3600.
struct ReadOptions {
    std::string origin;  ///< --origin; empty = find it (see read_zone)
    std::size_t max_file_size = std::size_t(2) << 30;
    int max_include_depth = 10;
    std::size_t max_generate = 1'000'000;  ///< records one $GENERATE may produce
};

struct ReadResult {
    std::string origin;  ///< absolute, with the trailing dot
    OriginSource origin_source = OriginSource::none;
    std::vector<Finding> problems;  ///< syntax errors and what ldns accepts silently but is wrong
    std::size_t records = 0;
};

/// Reads a zone file: the text layer (directives $ORIGIN, $TTL, $INCLUDE relative to the including file,
/// $GENERATE; parentheses, quotes, escapes, comments) is ours, each record's meaning is ldns's. Every
/// record that parses is passed to `on_record` in file order and then freed (nothing is kept). Reading
/// goes on after a bad record; every problem is returned with its file, line and column. The origin is
/// `options.origin`, else the SOA owner made absolute against the $ORIGIN in effect, else the first
/// $ORIGIN other than the root, else a name taken from the file name (`example.com.zone`, `db.example.com`).
ReadResult read_zone(const std::string& path, const ReadOptions& options,
                     const std::function<void(const RecordView&)>& on_record);

/// The same for zone text already in memory; `path` names it in findings and anchors relative $INCLUDEs.
ReadResult read_zone_text(std::string_view text, const std::string& path, const ReadOptions& options,
                          const std::function<void(const RecordView&)>& on_record);

/// True when ldns reads `name` (absolute) as a domain name.
bool is_domain_name(const std::string& name);

/// The name a file name suggests, or "" ("db.example.com" -> "example.com.", "example.com.zone" -> ...).
std::string origin_from_file_name(std::string_view file_name);

}  // namespace mailproxy::zone
