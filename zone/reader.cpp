#include "zone/reader.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "zone/ldns.hpp"

namespace mailproxy::zone {
namespace {

namespace fs = std::filesystem;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if (std::tolower(x) != std::tolower(y))
            return false;
    }
    return true;
}

/// A record's data is at most 65535 octets; its text, with escapes, a few times that. Beyond this the
/// lexer stops keeping tokens, so a runaway line cannot eat memory.
constexpr std::size_t k_max_record_text = 262144;

/// One logical record (or directive) as the lexer found it.
struct Logical {
    std::vector<Token> tokens;
    bool starts_blank = false;
    int line = 0;
    int start_line = 0;  ///< the line the record starts on (a '(' may come before its first token)
    int end_line = 0;    ///< the line the record ends on
    int col = 0;
    std::vector<Finding> errors;  ///< lexical errors; the record is dropped when there are any
};

/// Splits zone text into logical records: comments removed, parenthesised lines joined, quoted strings
/// kept whole (escapes stay for ldns to read). `emit` returns false to stop early.
template <typename Emit>
void lex(std::string_view text, const std::string& file, Emit&& emit) {
    std::size_t i = 0;
    const std::size_t n = text.size();
    int line = 1;
    std::size_t line_start = 0;
    Logical rec;
    while (i < n) {
        rec.tokens.clear();
        rec.errors.clear();
        rec.starts_blank = text[i] == ' ' || text[i] == '\t';
        rec.line = line;
        rec.start_line = line;
        rec.col = 1;
        int depth = 0;
        int open_line = 0, open_col = 0;
        std::size_t open_at = 0;
        std::size_t bytes = 0;
        bool done = false;
        const auto keep = [&](std::string_view tok, int tl, int tc) {
            bytes += tok.size() + 1;
            if (bytes <= k_max_record_text) {
                rec.tokens.push_back({tok, tl, tc});
            } else if (bytes - tok.size() - 1 <= k_max_record_text) {
                rec.errors.push_back({{file, tl, tc},
                                      Severity::error,
                                      "syntax",
                                      fmt::format("record longer than {} bytes", k_max_record_text),
                                      "look for an unclosed '(' or a missing line break",
                                      1});
            }
        };
        while (i < n && !done) {
            const char c = text[i];
            const int col = static_cast<int>(i - line_start) + 1;
            switch (c) {
                case '\n':
                    ++i;
                    ++line;
                    line_start = i;
                    if (depth == 0)
                        done = true;
                    break;
                case ' ':
                case '\t':
                case '\r':
                    ++i;
                    break;
                case ';':
                    while (i < n && text[i] != '\n')
                        ++i;
                    break;
                case '(':
                    if (depth == 0) {
                        open_line = line;
                        open_col = col;
                        open_at = i;
                    }
                    ++depth;
                    ++i;
                    break;
                case ')':
                    if (depth == 0) {
                        rec.errors.push_back({{file, line, col},
                                              Severity::error,
                                              "syntax",
                                              "')' without '('",
                                              "remove it or add the '(' it closes",
                                              1});
                    } else {
                        --depth;
                    }
                    ++i;
                    break;
                case '"': {
                    const std::size_t start = i++;
                    bool closed = false;
                    while (i < n && text[i] != '\n') {
                        if (text[i] == '\\' && i + 1 < n && text[i + 1] != '\n') {
                            i += 2;
                            continue;
                        }
                        if (text[i] == '"') {
                            closed = true;
                            ++i;
                            break;
                        }
                        ++i;
                    }
                    if (!closed) {
                        rec.errors.push_back({{file, line, col},
                                              Severity::error,
                                              "syntax",
                                              "unterminated quoted string",
                                              "close the string with '\"' on the same line",
                                              static_cast<int>(i - start)});
                    }
                    keep(text.substr(start, i - start), line, col);
                    break;
                }
                default: {
                    const std::size_t start = i;
                    while (i < n) {
                        const char d = text[i];
                        if (d == '\\' && i + 1 < n && text[i + 1] != '\n') {
                            i += 2;
                            continue;
                        }
                        if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';' || d == '(' ||
                            d == ')' || d == '"') {
                            break;
                        }
                        ++i;
                    }
                    keep(text.substr(start, i - start), line, col);
                    break;
                }
            }
        }
        rec.end_line = done ? line - 1 : line;
        std::size_t resume = n;
        if (depth > 0) {
            rec.errors.push_back({{file, open_line, open_col},
                                  Severity::error,
                                  "syntax",
                                  "'(' is never closed",
                                  "add the ')' that ends the record",
                                  1});
            // read on from the line after the '(' so that the records after it are still checked
            const auto eol = text.find('\n', open_at);
            if (eol != std::string_view::npos)
                resume = eol + 1;
        }
        const bool rewind = resume < n;
        if (!rec.tokens.empty()) {
            rec.line = rec.tokens.front().line;
            rec.col = rec.starts_blank ? 1 : rec.tokens.front().col;
            if (!emit(rec))
                return;
        } else if (!rec.errors.empty()) {
            if (!emit(rec))
                return;
        }
        if (rewind) {
            i = resume;
            line = open_line + 1;
            line_start = resume;
        }
    }
}

struct RdfDeleter {
    void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using Rdf = std::unique_ptr<ldns_rdf, RdfDeleter>;

/// `name` made absolute against `origin`, written into `out` (reusing its buffer: this runs per record).
void assign_absolute(std::string& out, std::string_view name, const std::string& origin) {
    if (name == "@") {
        out.assign(origin);
        return;
    }
    out.assign(name);
    if (!name.empty() && name.back() == '.' && !(name.size() >= 2 && name[name.size() - 2] == '\\'))
        return;
    if (origin != ".")
        out += '.';
    out += origin;
}

std::string absolute(std::string_view name, const std::string& origin) {
    if (name == "@")
        return origin;
    if (!name.empty() && name.back() == '.' && !(name.size() >= 2 && name[name.size() - 2] == '\\')) {
        return std::string(name);
    }
    return std::string(name) + (origin == "." ? "." : "." + origin);
}

class Reader {
  public:
    Reader(const ReadOptions& options, const std::function<void(const RecordView&)>& on_record,
           ReadResult& result)
        : m_options(options), m_on_record(on_record), m_result(result) {}

    void set_origin(const std::string& origin) {
        m_origin = origin;
        m_origin_rdf.reset(ldns_dname_new_frm_str(origin.c_str()));
    }

    void read_file(const std::string& path, int depth, const Position* from) {
        std::string text;
        if (!load(path, from, text))
            return;
        read_text(text, path, depth);
    }

    void read_text(std::string_view text, const std::string& path, int depth) {
        m_stack.push_back(fs::path(path).lexically_normal().string());
        lex(text, path, [&](const Logical& rec) {
            handle(rec, path, depth);
            return true;
        });
        m_stack.pop_back();
    }

    bool load(const std::string& path, const Position* from, std::string& text) {
        std::error_code ec;
        const auto size = fs::file_size(path, ec);
        const auto where = from != nullptr ? *from : Position{path, 0, 0};
        if (ec) {
            problem(where, "file-unreadable", fmt::format("cannot read {}: {}", path, ec.message()),
                    "check the path and its permissions");
            return false;
        }
        if (size > m_options.max_file_size) {
            problem(where, "file-unreadable", fmt::format("{} is too large ({} bytes)", path, size),
                    "split the zone into $INCLUDE files");
            return false;
        }
        std::ifstream in(path, std::ios::binary);
        text.resize(size);
        if (!in || !in.read(text.data(), static_cast<std::streamsize>(size))) {
            problem(where, "file-unreadable", fmt::format("cannot read {}: {}", path, std::strerror(errno)),
                    "check the path and its permissions");
            return false;
        }
        return true;
    }

  private:
    void problem(const Position& pos, std::string rule, std::string message, std::string hint,
                 int width = 1) {
        m_result.problems.push_back(
            {pos, Severity::error, std::move(rule), std::move(message), std::move(hint), width});
    }

    void handle(const Logical& rec, const std::string& path, int depth) {
        if (!rec.errors.empty()) {
            for (const auto& e : rec.errors)
                m_result.problems.push_back(e);
            // the owner of a dropped record still counts for the records that inherit it
            if (!rec.starts_blank && !rec.tokens.empty() && rec.tokens[0].text.front() != '$') {
                m_prev_owner = absolute(rec.tokens[0].text, m_origin);
            }
            return;
        }
        const auto& t = rec.tokens;
        if (!rec.starts_blank && t[0].text.front() == '$')
            return directive(rec, path, depth);
        record(rec, path, t, !rec.starts_blank, false);
    }

    static constexpr std::size_t k_max_includes = 1000;

    void directive(const Logical& rec, const std::string& path, int depth) {
        const auto& t = rec.tokens;
        const Position pos{path, t[0].line, t[0].col};
        const auto name = t[0].text;
        if (iequals(name, "$ORIGIN")) {
            if (t.size() != 2) {
                return problem(pos, "syntax", "$ORIGIN needs exactly one name", "write $ORIGIN example.com.");
            }
            auto origin = std::string(t[1].text);
            if (origin.back() != '.') {
                problem({path, t[1].line, t[1].col}, "origin-relative",
                        fmt::format("$ORIGIN {} is relative: it is appended to the current origin {}", origin,
                                    m_origin),
                        fmt::format("write the name absolute, with the trailing dot: $ORIGIN {}",
                                    absolute(origin, m_origin)),
                        static_cast<int>(origin.size()));
                origin = absolute(origin, m_origin);
            }
            Rdf check(ldns_dname_new_frm_str(origin.c_str()));
            if (!check) {
                return problem({path, t[1].line, t[1].col}, "syntax",
                               fmt::format("$ORIGIN {} is not a domain name", origin),
                               "write a valid absolute name");
            }
            return set_origin(origin);
        }
        if (iequals(name, "$TTL")) {
            if (t.size() != 2)
                return problem(pos, "syntax", "$TTL needs exactly one value", "write $TTL 3600");
            const std::string value(t[1].text);
            const char* end = nullptr;
            const uint32_t ttl = ldns_str2period(value.c_str(), &end);
            if (end == nullptr || *end != '\0' || value.empty()) {
                return problem({path, t[1].line, t[1].col}, "syntax",
                               fmt::format("$TTL {} is not a TTL", value),
                               "write seconds or units such as 1h, 2d");
            }
            m_default_ttl = ttl;
            m_ttl_directive = true;
            return;
        }
        if (iequals(name, "$INCLUDE")) {
            if (t.size() < 2 || t.size() > 3) {
                return problem(pos, "syntax", "$INCLUDE needs a file name and at most an origin",
                               "write $INCLUDE file [origin]");
            }
            if (depth >= m_options.max_include_depth) {
                return problem(pos, "include-depth", fmt::format("$INCLUDE nested more than {} deep", depth),
                               "look for an $INCLUDE loop");
            }
            if (++m_includes > k_max_includes) {
                return problem(pos, "include-depth",
                               fmt::format("more than {} $INCLUDE files", k_max_includes),
                               "look for an $INCLUDE that repeats itself");
            }
            std::string file(t[1].text);
            if (file.size() >= 2 && file.front() == '"' && file.back() == '"')
                file = file.substr(1, file.size() - 2);
            const fs::path target =
                fs::path(file).is_absolute() ? fs::path(file) : fs::path(path).parent_path() / file;
            const auto saved_origin = m_origin;
            const auto saved_prev = m_prev_owner;
            if (t.size() == 3)
                set_origin(absolute(t[2].text, m_origin));
            const auto included = target.lexically_normal().string();
            if (std::find(m_stack.begin(), m_stack.end(), included) != m_stack.end()) {
                set_origin(saved_origin);
                return problem(pos, "include-depth", fmt::format("$INCLUDE {} includes itself", included),
                               "remove the $INCLUDE loop");
            }
            read_file(included, depth + 1, &pos);
            set_origin(saved_origin);  // RFC 1035 5.1: the origin of the including file is unchanged
            m_prev_owner = saved_prev;
            return;
        }
        if (iequals(name, "$GENERATE"))
            return generate(rec, path);
        problem(pos, "syntax", fmt::format("unknown directive {}", name),
                "use $ORIGIN, $TTL, $INCLUDE or $GENERATE", static_cast<int>(name.size()));
    }

    /// BIND's $GENERATE range lhs [ttl] [class] type rhs, with ${offset,width,base} modifiers.
    void generate(const Logical& rec, const std::string& path) {
        const auto& t = rec.tokens;
        const Position pos{path, t[0].line, t[0].col};
        if (t.size() < 4)
            return problem(pos, "syntax", "$GENERATE needs a range, an owner, a type and data",
                           "write $GENERATE 1-10 host$ A 192.0.2.$");
        unsigned long start = 0, stop = 0, step = 1;
        const std::string range(t[1].text);
        // values as BIND takes them: 0 to 2^32-1, so nothing below can overflow
        if (range.find('-', 1) == std::string::npos || range.front() == '-' ||
            std::sscanf(range.c_str(), "%lu-%lu/%lu", &start, &stop, &step) < 2 || stop < start || step < 1 ||
            stop > 4294967295UL || step > 4294967295UL) {
            return problem({path, t[1].line, t[1].col}, "syntax",
                           fmt::format("$GENERATE range {} is not start-stop[/step]", range),
                           "write for example 1-100 or 0-254/2");
        }
        const std::size_t count = (stop - start) / step + 1;
        if (count > m_options.max_generate - std::min(m_generated, m_options.max_generate)) {
            return problem(
                {path, t[1].line, t[1].col}, "syntax",
                fmt::format("$GENERATE range {} would make the zone's generated records more than {}", range,
                            m_options.max_generate),
                "split the zone or write the records out");
        }
        m_generated += count;
        for (std::size_t n = 0; n < count; ++n) {
            const auto i = static_cast<long>(start + n * step);
            std::string lhs, rhs;
            if (!substitute(t[2].text, i, lhs) || !substitute(t.back().text, i, rhs)) {
                return problem(
                    pos, "syntax", "$GENERATE has a bad ${offset,width,base} modifier",
                    "write ${offset}, ${offset,width} or ${offset,width,base} with base d, o, x, X, n or N");
            }
            std::vector<Token> tokens;
            tokens.push_back({lhs, t[2].line, t[2].col});
            for (std::size_t k = 3; k + 1 < t.size(); ++k)
                tokens.push_back(t[k]);
            tokens.push_back({rhs, t.back().line, t.back().col});
            record(rec, path, tokens, true, true);
        }
    }

    static bool substitute(std::string_view in, long value, std::string& out) {
        for (std::size_t i = 0; i < in.size(); ++i) {
            const char c = in[i];
            if (c == '\\' && i + 1 < in.size() && in[i + 1] == '$') {
                out += '$';
                ++i;
            } else if (c == '$' && i + 1 < in.size() && in[i + 1] == '$') {
                out += '$';
                ++i;
            } else if (c == '$' && i + 1 < in.size() && in[i + 1] == '{') {
                const auto close = in.find('}', i);
                if (close == std::string_view::npos)
                    return false;
                long offset = 0;
                int width = 0;
                char base = 'd';
                const std::string spec(in.substr(i + 2, close - i - 2));
                if (std::sscanf(spec.c_str(), "%ld,%d,%c", &offset, &width, &base) < 1 || width < 0 ||
                    width > 64) {
                    return false;
                }
                const long v = value + offset;
                if (base == 'd') {
                    out += fmt::format("{:0{}d}", v, width);
                } else if (base == 'o') {
                    out += fmt::format("{:0{}o}", v, width);
                } else if (base == 'x') {
                    out += fmt::format("{:0{}x}", v, width);
                } else if (base == 'X') {
                    out += fmt::format("{:0{}X}", v, width);
                } else if (base == 'n' || base == 'N') {
                    // nibble labels, reversed, as for ip6.arpa
                    auto hex =
                        base == 'n' ? fmt::format("{:0{}x}", v, width) : fmt::format("{:0{}X}", v, width);
                    std::string nib;
                    for (auto it = hex.rbegin(); it != hex.rend(); ++it) {
                        if (!nib.empty())
                            nib += '.';
                        nib += *it;
                    }
                    out += nib;
                } else {
                    return false;
                }
                i = close;
            } else if (c == '$') {
                out += std::to_string(value);
            } else {
                out += c;
            }
        }
        return true;
    }

    void record(const Logical& rec, const std::string& path, const std::vector<Token>& t, bool owner_written,
                bool generated) {
        if (m_pos.file != path)
            m_pos.file = path;
        m_pos.line = rec.line;
        m_pos.col = rec.col;
        const Position& pos = m_pos;
        if (!owner_written && m_prev_owner.empty()) {
            return problem(pos, "syntax",
                           "the record has no owner name and there is no earlier one to repeat",
                           "write the owner name at the start of the line");
        }
        m_buffer.clear();
        if (owner_written) {
            assign_absolute(m_prev_owner, t[0].text, m_origin);
        } else {
            m_buffer += m_prev_owner;
            m_buffer += ' ';
        }
        for (std::size_t k = 0; k < t.size(); ++k) {
            if (k > 0)
                m_buffer += ' ';
            m_buffer += t[k].text;
        }
        ldns_rr* rr = nullptr;
        const ldns_status s =
            ldns_rr_new_frm_str(&rr, m_buffer.c_str(), m_default_ttl, m_origin_rdf.get(), nullptr);
        if (s != LDNS_STATUS_OK || rr == nullptr) {
            const std::size_t first = owner_written && t.size() > 1 ? 1 : 0;
            return problem(pos, "syntax",
                           fmt::format("{}: {}", ldns_get_errorstr_by_id(s), excerpt(t, first)),
                           "correct the record; the other records are still checked",
                           static_cast<int>(t[0].text.size()));
        }
        std::unique_ptr<ldns_rr, decltype(&ldns_rr_free)> guard(rr, &ldns_rr_free);
        const auto type = ldns_rr_get_type(rr);
        std::size_t type_index = 0;
        const ldns_rr_descriptor* d = ldns_rr_descript(type);
        const char* type_name = d != nullptr ? d->_name : nullptr;
        for (std::size_t k = owner_written ? 1 : 0; k < t.size(); ++k) {
            if (type_name != nullptr ? iequals(t[k].text, type_name) : t[k].text.starts_with("TYPE")) {
                type_index = k;
                break;
            }
        }
        // RFC 1035 5.1 as BIND reads it: without $TTL, a record without a TTL has the last one written
        if (!m_ttl_directive) {
            for (std::size_t k = owner_written ? 1 : 0; k < type_index; ++k) {
                if (std::isdigit(static_cast<unsigned char>(t[k].text.front())) != 0) {
                    m_default_ttl = ldns_rr_ttl(rr);
                    break;
                }
            }
        }
        if (type == LDNS_RR_TYPE_SOA && ++m_soa_count > 1) {
            problem(pos, "soa-duplicate", "a second SOA record (ldns silently keeps only one)",
                    "a zone has exactly one SOA: remove this one");
        }
        if (type == LDNS_RR_TYPE_MX && type_index + 1 < t.size()) {
            const auto& pref = t[type_index + 1];
            const std::string p(pref.text);
            char* end = nullptr;
            errno = 0;
            const auto v = std::strtoull(p.c_str(), &end, 10);
            if (end != nullptr && *end == '\0' && (v > 65535 || errno == ERANGE)) {
                problem(
                    {path, pref.line, pref.col}, "mx-preference-range",
                    fmt::format("MX preference {} is larger than 65535 (ldns reads it as {})", p, v & 0xffff),
                    "use a preference from 0 to 65535", static_cast<int>(p.size()));
            }
        }
        ++m_result.records;
        m_on_record(RecordView{pos, t, owner_written, type_index, rr, m_result.origin, m_prev_owner,
                               rec.end_line, generated, m_origin, rec.start_line});
    }

    static std::string excerpt(const std::vector<Token>& t, std::size_t from) {
        std::string s;
        for (std::size_t k = from; k < t.size() && s.size() < 60; ++k) {
            if (!s.empty())
                s += ' ';
            s += t[k].text;
        }
        if (s.size() > 60)
            s = s.substr(0, 57) + "...";
        return s;
    }

    const ReadOptions& m_options;
    const std::function<void(const RecordView&)>& m_on_record;
    ReadResult& m_result;
    std::string m_origin = ".";
    Rdf m_origin_rdf{ldns_dname_new_frm_str(".")};
    uint32_t m_default_ttl = 3600;
    bool m_ttl_directive = false;  // a $TTL was read: it alone gives the default from then on
    std::string m_prev_owner;
    std::string m_buffer;
    Position m_pos;  // of the current record; reused so that no string is copied per record
    int m_soa_count = 0;
    std::size_t m_generated = 0;       // records made by $GENERATE so far (bounded in total)
    std::vector<std::string> m_stack;  // files being read, for $INCLUDE loops
    std::size_t m_includes = 0;        // $INCLUDE files read so far (bounded in total)
};

/// The first $ORIGIN, or the SOA owner when it is written absolute; "" when neither comes first.
/// The SOA owner, made absolute against the $ORIGIN in effect (BIND's dumps start with "$ORIGIN ."),
/// else the first $ORIGIN other than the root; "" when neither names the zone.
std::pair<std::string, OriginSource> scan_origin(std::string_view text, const std::string& path) {
    std::pair<std::string, OriginSource> found{"", OriginSource::none};
    std::string current;  // the $ORIGIN in effect, "" before any
    std::string first_directive;
    lex(text, path, [&](const Logical& rec) {
        const auto& t = rec.tokens;
        if (t.empty() || !rec.errors.empty() || rec.starts_blank)
            return true;
        if (iequals(t[0].text, "$ORIGIN") && t.size() == 2) {
            current = absolute(t[1].text, current.empty() ? "." : current);
            if (first_directive.empty() && current != ".")
                first_directive = current;
            return true;
        }
        if (t[0].text.front() == '$')
            return true;
        for (std::size_t k = 1; k < t.size() && k < 4; ++k) {
            if (iequals(t[k].text, "SOA")) {
                const auto owner = t[0].text;
                std::string name;
                if (owner.ends_with("."))
                    name = std::string(owner);
                else if (!current.empty())
                    name = absolute(owner, current);
                if (!name.empty() && name != ".")
                    found = {name, name == first_directive ? OriginSource::directive : OriginSource::soa};
                return false;
            }
        }
        return true;
    });
    if (found.first.empty() && !first_directive.empty())
        found = {first_directive, OriginSource::directive};
    return found;
}

}  // namespace

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::info:
            return "info";
        case Severity::warning:
            return "warning";
        case Severity::error:
            return "error";
    }
    return "error";
}

std::string_view to_string(OriginSource s) {
    switch (s) {
        case OriginSource::option:
            return "--origin";
        case OriginSource::directive:
            return "$ORIGIN";
        case OriginSource::soa:
            return "the SOA owner";
        case OriginSource::file_name:
            return "the file name";
        case OriginSource::none:
            return "nothing";
    }
    return "nothing";
}

bool is_domain_name(const std::string& name) {
    ldns_rdf* rdf = ldns_dname_new_frm_str(name.c_str());
    if (rdf == nullptr)
        return false;
    ldns_rdf_deep_free(rdf);
    return true;
}

std::string origin_from_file_name(std::string_view file_name) {
    std::string name(fs::path(file_name).filename().string());
    for (const char* suffix : {".zone", ".db", ".dns", ".hosts"}) {
        if (name.size() > std::strlen(suffix) && name.ends_with(suffix))
            name.resize(name.size() - std::strlen(suffix));
    }
    if (name.starts_with("db."))
        name = name.substr(3);
    if (name.find('.') == std::string::npos)
        return "";
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
            return "";
    }
    return name + ".";
}

ReadResult read_zone(const std::string& path, const ReadOptions& options,
                     const std::function<void(const RecordView&)>& on_record) {
    ReadResult result;
    Reader reader(options, on_record, result);
    std::string text;
    if (!reader.load(path, nullptr, text))
        return result;
    return read_zone_text(text, path, options, on_record);
}

ReadResult read_zone_text(std::string_view text, const std::string& path, const ReadOptions& options,
                          const std::function<void(const RecordView&)>& on_record) {
    ReadResult result;
    Reader reader(options, on_record, result);
    if (!options.origin.empty()) {
        result.origin = options.origin.back() == '.' ? options.origin : options.origin + ".";
        result.origin_source = OriginSource::option;
    } else {
        auto [origin, source] = scan_origin(text, path);
        if (origin.empty()) {
            origin = origin_from_file_name(path);
            source = origin.empty() ? OriginSource::none : OriginSource::file_name;
        }
        result.origin = origin.empty() ? "." : origin;
        result.origin_source = source;
        if (origin.empty()) {
            result.problems.push_back(
                {{path, 1, 1},
                 Severity::error,
                 "origin-unknown",
                 "cannot tell the zone's origin: no $ORIGIN, no absolute SOA owner, and the "
                 "file name names no domain",
                 "give it with --origin example.com.",
                 1});
        }
    }
    for (auto& c : result.origin)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reader.set_origin(result.origin);
    reader.read_text(text, path, 0);
    return result;
}

}  // namespace mailproxy::zone
