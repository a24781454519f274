#include "zone/rewrite.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "zone/ldns.hpp"
#include "zone/lint.hpp"

namespace mailproxy::zone {
namespace {

std::string lower(std::string_view in) {
    std::string s(in);
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string take(char* s) {
    std::string out = s != nullptr ? s : "";
    LDNS_FREE(s);
    return out;
}

/// "owner TYPE data" with absolute names, as the change list shows a record.
std::string display(const ldns_rr* rr) {
    std::string s = take(ldns_rdf2str(ldns_rr_owner(rr)));
    s += ' ';
    s += take(ldns_rr_type2str(ldns_rr_get_type(rr)));
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        s += ' ';
        s += take(ldns_rdf2str(ldns_rr_rdf(rr, i)));
    }
    return s;
}

struct Tok {
    std::string text;
    int line = 0;
    int col = 0;
};

/// A record of the zone file being rewritten. Only the records the switch may edit or copy keep their
/// tokens; for the others the line span and owner are enough.
struct Rec {
    Position pos;
    int first = 0, last = 0;  ///< lines, 1-based, inclusive
    bool owner_written = true;
    bool generated = false;
    bool apex = false;
    ldns_rr_type type = LDNS_RR_TYPE_A;
    std::string owner;             ///< absolute, lower-case
    std::size_t origin_index = 0;  ///< the $ORIGIN in effect (index into the interned origins)
    std::vector<Tok> tokens;
    std::size_t type_index = 0;
    std::string display;
    std::string value;  ///< MX exchange / A, AAAA address / CNAME target (absolute, lower-case)
    unsigned pref = 0;
    uint32_t serial = 0;
    uint64_t hash = 0;  ///< of the canonical record (owner, TTL, class, type, data)
};

/// FNV-1a of the record's canonical text: what the read-back check compares.
uint64_t record_hash(ldns_rr* rr) {
    ldns_rr2canonical(rr);
    char* s = ldns_rr2str(rr);
    uint64_t h = 1469598103934665603ULL;
    for (const char* p = s; p != nullptr && *p != '\0'; ++p) {
        h ^= static_cast<unsigned char>(*p);
        h *= 1099511628211ULL;
    }
    LDNS_FREE(s);
    return h;
}

/// The file's lines, each with its line end.
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto nl = text.find('\n', start);
        const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
        lines.push_back(text.substr(start, end - start));
        start = end;
    }
    return lines;
}

std::string_view line_end(std::string_view line) {
    if (line.ends_with("\r\n"))
        return "\r\n";
    if (line.ends_with("\n"))
        return "\n";
    return "";
}

/// `name` as a person would write it under `origin`: "@", a relative name, or absolute.
std::string name_text(const std::string& name, const std::string& origin, bool relative) {
    if (relative) {
        if (name == origin)
            return "@";
        if (origin != ".") {
            const auto suffix = "." + origin;
            if (name.size() > suffix.size() && name.ends_with(suffix))
                return name.substr(0, name.size() - suffix.size());
        }
    }
    return name;
}

bool looks_like_date(uint32_t s) {
    const auto y = s / 1000000, m = s / 10000 % 100, d = s / 100 % 100;
    return y >= 1970 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

uint32_t plus_one(uint32_t s) {
    const uint32_t n = s + 1;  // wraps as RFC 1982 allows; 0 is skipped as BIND does
    return n == 0 ? 1 : n;
}

/// A record to add, placed after record `anchor` (-1: at the end of the file).
struct NewRec {
    long anchor = -1;
    std::string owner;
    std::string type;
    std::string rdata;  ///< as written in the file
    std::string shown;  ///< absolute, for the change list
};

class Rewriter {
  public:
    Rewriter(const std::string& path, const RewriteOptions& o, RewriteResult& r)
        : m_path(path), m_o(o), m_r(r) {}

    void run() {
        if (!load())
            return;
        read();
        if (!m_r.problems.empty())
            return;
        plan();
        if (!m_r.problems.empty() || m_nothing) {
            m_r.text = m_r.original;
            return;
        }
        render();
        verify();
        if (!m_r.problems.empty()) {
            m_r.text.clear();
            m_r.ops.clear();
            m_r.changes.clear();
            m_r.serial.reset();
        }
    }

  private:
    void problem(const Position& pos, std::string rule, std::string message, std::string hint) {
        m_r.problems.push_back(
            {pos, Severity::error, std::move(rule), std::move(message), std::move(hint), 1});
    }

    bool load() {
        std::ifstream in(m_path, std::ios::binary);
        if (!in) {
            problem({m_path, 0, 0}, "file-unreadable",
                    fmt::format("cannot read {}: {}", m_path, std::strerror(errno)),
                    "check the path and its permissions");
            return false;
        }
        in.seekg(0, std::ios::end);
        const auto size = static_cast<std::size_t>(in.tellg());
        if (size > m_o.read.max_file_size) {
            problem({m_path, 0, 0}, "file-unreadable",
                    fmt::format("{} is too large ({} bytes)", m_path, size),
                    "split the zone into $INCLUDE files");
            return false;
        }
        in.seekg(0);
        m_r.original.resize(size);
        if (!in.read(m_r.original.data(), static_cast<std::streamsize>(size))) {
            problem({m_path, 0, 0}, "file-unreadable",
                    fmt::format("cannot read {}: {}", m_path, std::strerror(errno)),
                    "check the path and its permissions");
            return false;
        }
        return true;
    }

    std::size_t intern_origin(const std::string& origin) {
        if (m_origins.empty() || m_origins.back() != origin) {
            auto it = std::find(m_origins.begin(), m_origins.end(), origin);
            if (it != m_origins.end())
                return static_cast<std::size_t>(it - m_origins.begin());
            m_origins.push_back(origin);
        }
        return m_origins.size() - 1;
    }

    void read() {
        const auto& custom = m_o.change.custom_host;
        std::unique_ptr<ldns_rdf, decltype(&ldns_rdf_deep_free)> origin(nullptr, &ldns_rdf_deep_free);
        auto result = read_zone_text(m_r.original, m_path, m_o.read, [&](const RecordView& v) {
            if (!origin)
                origin.reset(ldns_dname_new_frm_str(v.zone_origin.c_str()));
            const auto* rr = v.rr;
            const auto type = ldns_rr_get_type(rr);
            const bool main = v.pos.file == m_path;
            const auto hash = record_hash(const_cast<ldns_rr*>(rr));  // the reader frees it after us
            m_hashes.push_back(hash);
            Rec r;
            r.hash = hash;
            r.pos = v.pos;
            r.type = type;
            r.apex = origin && ldns_dname_compare(ldns_rr_owner(rr), origin.get()) == 0;
            r.owner = lower(v.owner_text);
            const bool host =
                !custom.empty() && r.owner == custom &&
                (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA || type == LDNS_RR_TYPE_CNAME);
            const bool detail = host || (r.apex && (type == LDNS_RR_TYPE_MX || type == LDNS_RR_TYPE_NS)) ||
                                type == LDNS_RR_TYPE_SOA;
            if (!main && !detail)
                return;
            if (main && v.owner_written && !v.generated) {
                const auto t = v.tokens[0].text;
                if (t != "@" && !t.ends_with("."))
                    m_relative = true;
            }
            r.first = v.start_line;
            r.last = v.end_line;
            r.owner_written = v.owner_written;
            r.generated = v.generated;
            r.origin_index = intern_origin(v.current_origin);
            if (detail) {
                for (const auto& t : v.tokens)
                    r.tokens.push_back({std::string(t.text), t.line, t.col});
                r.type_index = v.type_index;
                r.display = display(rr);
                if (type == LDNS_RR_TYPE_MX && ldns_rr_rd_count(rr) == 2) {
                    r.pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
                    r.value = lower(take(ldns_rdf2str(ldns_rr_rdf(rr, 1))));
                } else if (host && ldns_rr_rd_count(rr) == 1) {
                    r.value = lower(take(ldns_rdf2str(ldns_rr_rdf(rr, 0))));
                } else if (type == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3) {
                    r.serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
                }
            }
            (main ? m_recs : m_included).push_back(std::move(r));
        });
        m_r.origin = result.origin;
        m_r.origin_source = result.origin_source;
        for (auto& p : result.problems)
            m_r.problems.push_back(std::move(p));
    }

    /// A record the switch must change but that is not a line of its own in this file.
    bool unchangeable(const Rec& r, bool included) {
        if (included) {
            problem(r.pos, "rewrite-include",
                    fmt::format("{} is in the $INCLUDE file {}, which rewrite does not change", r.display,
                                r.pos.file),
                    fmt::format("change it in {} line {}, then run rewrite again", r.pos.file, r.pos.line));
            return true;
        }
        if (r.generated) {
            problem(r.pos, "rewrite-generate", fmt::format("{} is made by a $GENERATE line", r.display),
                    "write the record out or change the $GENERATE line, then run rewrite again");
            return true;
        }
        return false;
    }

    void plan() {
        const auto& o = m_o.change;  // its origin is set here from the file
        const auto& origin = m_r.origin;
        // the records the switch looks at: apex MX and the custom host's addresses, in this file or included
        std::vector<std::pair<bool, std::size_t>> mx_refs, host_refs;
        std::vector<MxRecord> mx;
        std::vector<HostRecord> hosts;
        const auto gather = [&](const std::vector<Rec>& recs, bool included) {
            for (std::size_t i = 0; i < recs.size(); ++i) {
                const auto& r = recs[i];
                if (r.apex && r.type == LDNS_RR_TYPE_MX && !r.value.empty()) {
                    mx_refs.emplace_back(included, i);
                    mx.push_back({r.pref, r.value});
                } else if (!o.custom_host.empty() && r.owner == o.custom_host && !r.value.empty()) {
                    host_refs.emplace_back(included, i);
                    hosts.push_back({take(ldns_rr_type2str(r.type)), r.value});
                }
            }
        };
        gather(m_recs, false);
        gather(m_included, true);
        auto with_origin = o;
        with_origin.origin = origin;
        m_plan = plan_switch(mx, hosts, with_origin);
        for (const auto& c : m_plan.conflicts) {
            Position pos{m_path, 1, 1};
            if (c.host_record) {
                const auto [inc, i] = host_refs[*c.host_record];
                pos = (inc ? m_included : m_recs)[i].pos;
            } else if (c.mx_record) {
                const auto [inc, i] = mx_refs[*c.mx_record];
                pos = (inc ? m_included : m_recs)[i].pos;
            }
            problem(pos, "rewrite-conflict", c.message,
                    c.host_record ? "never A and CNAME together: choose another name or pass --replace"
                                  : "nothing was changed");
        }
        if (!m_r.problems.empty())
            return;
        for (const auto idx : m_plan.remove_mx) {
            const auto [inc, i] = mx_refs[idx];
            unchangeable((inc ? m_included : m_recs)[i], inc);
        }
        for (const auto idx : m_plan.remove_host) {
            const auto [inc, i] = host_refs[idx];
            unchangeable((inc ? m_included : m_recs)[i], inc);
        }
        if (!m_r.problems.empty())
            return;
        if (m_plan.empty()) {
            m_nothing = true;
            return;
        }
        m_removed.assign(m_recs.size(), 0);
        for (const auto idx : m_plan.remove_mx)
            m_removed[mx_refs[idx].second] = 1;
        for (const auto idx : m_plan.remove_host)
            m_removed[host_refs[idx].second] = 1;

        // where the new MX goes: after (or in place of) the last apex MX, else after the SOA/NS block
        const long n = static_cast<long>(m_recs.size());
        long mx_anchor = -1;
        for (long i = 0; i < n; ++i) {
            if (m_recs[static_cast<std::size_t>(i)].apex &&
                m_recs[static_cast<std::size_t>(i)].type == LDNS_RR_TYPE_MX)
                mx_anchor = i;
        }
        if (mx_anchor < 0) {
            for (long i = 0; i < n; ++i) {
                const auto& r = m_recs[static_cast<std::size_t>(i)];
                if (r.type == LDNS_RR_TYPE_SOA) {
                    mx_anchor = i;
                    while (mx_anchor + 1 < n && m_recs[static_cast<std::size_t>(mx_anchor + 1)].apex &&
                           m_recs[static_cast<std::size_t>(mx_anchor + 1)].type == LDNS_RR_TYPE_NS) {
                        ++mx_anchor;
                    }
                    break;
                }
            }
        }
        if (mx_anchor < 0) {
            for (long i = 0; i < n; ++i) {
                if (m_recs[static_cast<std::size_t>(i)].apex)
                    mx_anchor = i;
            }
        }
        if (mx_anchor < 0)
            mx_anchor = n - 1;
        m_template = mx_anchor;
        // the custom host's records go after its other records, else after the MX and the records that
        // inherit their owner from it
        long host_anchor = -1;
        for (long i = 0; i < n; ++i) {
            if (m_recs[static_cast<std::size_t>(i)].owner == o.custom_host)
                host_anchor = i;
        }
        if (host_anchor < 0) {
            host_anchor = mx_anchor;
            while (host_anchor + 1 < n && !m_recs[static_cast<std::size_t>(host_anchor + 1)].owner_written)
                ++host_anchor;
        }
        const auto origin_at = [&](long i) -> const std::string& {
            return i >= 0 ? m_origins[m_recs[static_cast<std::size_t>(i)].origin_index] : origin;
        };
        for (const auto& m : m_plan.add_mx) {
            const auto exchange = name_text(m.exchange, origin_at(mx_anchor), m_relative);
            m_new.push_back({mx_anchor, origin, "MX", fmt::format("{} {}", m.pref, exchange),
                             fmt::format("{} MX {} {}", origin, m.pref, m.exchange)});
        }
        for (const auto& h : m_plan.add_host) {
            m_new.push_back({host_anchor, o.custom_host, h.type, h.value,
                             fmt::format("{} {} {}", o.custom_host, h.type, h.value)});
        }
        std::stable_sort(m_new.begin(), m_new.end(), [](const NewRec& a, const NewRec& b) {
            return (a.anchor < 0 ? LONG_MAX : a.anchor) < (b.anchor < 0 ? LONG_MAX : b.anchor);
        });

        // the serial
        const auto soa = std::find_if(m_recs.begin(), m_recs.end(),
                                      [](const Rec& r) { return r.type == LDNS_RR_TYPE_SOA; });
        if (m_o.serial == SerialStyle::keep) {
            return;
        }
        if (soa == m_recs.end()) {
            const auto inc = std::find_if(m_included.begin(), m_included.end(),
                                          [](const Rec& r) { return r.type == LDNS_RR_TYPE_SOA; });
            if (inc != m_included.end()) {
                problem(inc->pos, "rewrite-include",
                        fmt::format("the SOA is in the $INCLUDE file {}, so its serial cannot be increased",
                                    inc->pos.file),
                        "increase the serial there and pass --serial keep");
            } else {
                m_r.notes.push_back("the file has no SOA record: no serial to increase");
            }
            return;
        }
        if (soa->generated || soa->type_index + 3 >= soa->tokens.size()) {
            problem(soa->pos, "rewrite-serial", "cannot find the SOA serial in the text",
                    "write the SOA out and run rewrite again");
            return;
        }
        m_soa = static_cast<long>(soa - m_recs.begin());
        const auto now = m_o.now != 0 ? m_o.now : std::time(nullptr);
        m_r.serial = std::pair{soa->serial, next_serial(soa->serial, m_o.serial, now)};
    }

    /// The new record's line, in the layout of the template record (its first line).
    std::string render_line(const NewRec& nr, bool write_owner, const std::string& owner_text) const {
        const Rec* t = m_template >= 0 ? &m_recs[static_cast<std::size_t>(m_template)] : nullptr;
        std::string_view line = t != nullptr ? m_lines[static_cast<std::size_t>(t->first - 1)] : "";
        std::string eol(line_end(line));
        if (eol.empty())
            eol = m_lines.empty() ? "\n" : std::string(line_end(m_lines.front()));
        if (eol.empty())
            eol = "\n";
        const bool usable = t != nullptr && !t->tokens.empty() && t->type_index < t->tokens.size() &&
                            t->tokens[t->type_index].line == t->first;
        if (!usable) {
            std::string s = owner_text;
            if (m_o.ttl)
                s += fmt::format(" {}", *m_o.ttl);
            return s + fmt::format(" IN {} {}", nr.type, nr.rdata) + eol;
        }
        const auto& tk = t->tokens;
        const auto start = [&](std::size_t k) { return static_cast<std::size_t>(tk[k].col - 1); };
        // the blanks between two tokens on the template's line; a '(' or ')' there belongs to the template
        const auto sep = [&](std::size_t k) -> std::string {
            if (k + 1 < tk.size() && tk[k + 1].line == tk[k].line) {
                const auto end = start(k) + tk[k].text.size();
                if (end <= start(k + 1) && start(k + 1) <= line.size()) {
                    std::string blanks;
                    for (char c : line.substr(end, start(k + 1) - end)) {
                        if (c == ' ' || c == '\t')
                            blanks += c;
                    }
                    return blanks.empty() ? " " : blanks;
                }
            }
            return " ";
        };
        std::string s;
        std::string lead;  // the blanks before the first token (a '(' there belongs to the template)
        for (char c : line.substr(0, std::min(line.size(), start(0)))) {
            if (c == ' ' || c == '\t')
                lead += c;
        }
        if (!t->owner_written && lead.empty())
            lead = "\t";
        std::size_t k = 0;
        if (write_owner) {
            std::string after;
            if (t->owner_written) {
                after = sep(0);
                k = 1;
            } else if (!lead.empty() && lead.find_first_not_of(' ') == std::string::npos &&
                       lead.size() > owner_text.size()) {
                after = lead.substr(owner_text.size());
            } else {
                after = lead.empty() ? " " : lead;
            }
            s += owner_text + after;
        } else {
            s += lead;
        }
        bool ttl_done = false;
        if (m_o.ttl && !(k < t->type_index && std::isdigit(static_cast<unsigned char>(tk[k].text[0])))) {
            s += fmt::format("{} ", *m_o.ttl);
            ttl_done = true;
        }
        for (; k < t->type_index; ++k) {
            if (std::isdigit(static_cast<unsigned char>(tk[k].text[0])) && m_o.ttl) {
                if (!ttl_done)
                    s += std::to_string(*m_o.ttl) + sep(k);
                ttl_done = true;
            } else {
                s += tk[k].text + sep(k);
            }
        }
        const auto& type_tok = tk[t->type_index].text;
        const bool lower_case = std::none_of(type_tok.begin(), type_tok.end(), [](char c) {
            return std::isupper(static_cast<unsigned char>(c));
        });
        s += lower_case ? lower(nr.type) : nr.type;
        s += sep(t->type_index);
        if (nr.type == "MX" && t->type == LDNS_RR_TYPE_MX && t->type_index + 2 < tk.size() &&
            tk[t->type_index + 2].line == t->first) {
            const auto space = nr.rdata.find(' ');
            s += nr.rdata.substr(0, space) + sep(t->type_index + 1) + nr.rdata.substr(space + 1);
        } else {
            s += nr.rdata;
        }
        return s + eol;
    }

    void render() {
        m_lines = split_lines(m_r.original);
        const auto& recs = m_recs;
        std::vector<char> removed_line(m_lines.size() + 1, 0);
        std::map<int, std::string> modified;               // line -> new text
        std::map<int, std::vector<std::string>> inserted;  // after line -> new lines
        std::string prev;                                  // the owner the next blank-owner record inherits
        std::size_t next_new = 0;
        const auto place = [&](long anchor, int after_line) {
            for (; next_new < m_new.size() && m_new[next_new].anchor == anchor; ++next_new) {
                const auto& nr = m_new[next_new];
                const Rec* t = m_template >= 0 ? &recs[static_cast<std::size_t>(m_template)] : nullptr;
                const bool blank = t != nullptr && !t->owner_written && prev == nr.owner;
                std::string owner_text;
                if (!blank) {
                    const auto& origin = anchor >= 0
                                             ? m_origins[recs[static_cast<std::size_t>(anchor)].origin_index]
                                             : m_r.origin;
                    owner_text =
                        t != nullptr && t->owner_written && t->apex && nr.owner == m_r.origin &&
                                t->origin_index ==
                                    (anchor >= 0 ? recs[static_cast<std::size_t>(anchor)].origin_index : 0)
                            ? t->tokens[0].text
                            : name_text(nr.owner, origin, m_relative);
                }
                inserted[after_line].push_back(render_line(nr, !blank, owner_text));
                m_r.changes.push_back({true, nr.shown, {m_path, after_line, 0}});
                prev = nr.owner;
            }
        };
        for (std::size_t i = 0; i < recs.size(); ++i) {
            const auto& r = recs[i];
            if (m_removed[i]) {
                for (int l = r.first; l <= r.last && l <= static_cast<int>(m_lines.size()); ++l)
                    removed_line[static_cast<std::size_t>(l)] = 1;
                m_r.changes.push_back({false, r.display, r.pos});
            } else {
                if (!r.owner_written && r.owner != prev) {
                    // its owner came from a record that is gone: write it
                    const auto owner = name_text(r.owner, m_origins[r.origin_index], m_relative);
                    const auto line = m_lines[static_cast<std::size_t>(r.first - 1)];
                    const auto lead = line.find_first_not_of(" \t");
                    std::string text(line);
                    if (lead != std::string_view::npos && lead > owner.size() &&
                        line.substr(0, lead).find_first_not_of(' ') == std::string_view::npos) {
                        text.replace(0, owner.size(), owner);
                    } else {
                        text.insert(0, owner + (lead == 0 ? " " : ""));
                    }
                    modified[r.first] = text;
                }
                prev = r.owner;
            }
            place(static_cast<long>(i), r.last);
        }
        place(-1, static_cast<int>(m_lines.size()));
        if (m_soa >= 0 && m_r.serial && m_r.serial->first != m_r.serial->second) {
            const auto& soa = recs[static_cast<std::size_t>(m_soa)];
            const auto& tok = soa.tokens[soa.type_index + 3];
            auto& text =
                modified.try_emplace(tok.line, m_lines[static_cast<std::size_t>(tok.line - 1)]).first->second;
            // an owner written above only prefixes the line; the serial sits at the same place after it
            const auto shift = text.size() - m_lines[static_cast<std::size_t>(tok.line - 1)].size();
            text.replace(static_cast<std::size_t>(tok.col - 1) + shift, tok.text.size(),
                         std::to_string(m_r.serial->second));
        } else {
            m_r.serial.reset();
        }
        // a last line without its line end gets one when something follows it
        const int last = static_cast<int>(m_lines.size());
        if (last > 0 && inserted.count(last) && line_end(m_lines.back()).empty() &&
            !removed_line[static_cast<std::size_t>(last)]) {
            auto& text = modified.try_emplace(last, m_lines.back()).first->second;
            text += line_end(m_lines.front()).empty() ? "\n" : std::string(line_end(m_lines.front()));
        }
        const auto add = [&](std::string s) {
            m_r.added_lines.push_back(std::move(s));
            m_r.ops.push_back({'+', m_r.added_lines.back()});
        };
        for (const auto& s : inserted[0])
            add(s);
        for (int l = 1; l <= last; ++l) {
            const auto line = m_lines[static_cast<std::size_t>(l - 1)];
            if (removed_line[static_cast<std::size_t>(l)]) {
                m_r.ops.push_back({'-', line});
            } else if (auto it = modified.find(l); it != modified.end()) {
                m_r.ops.push_back({'-', line});
                add(it->second);
            } else {
                m_r.ops.push_back({'=', line});
            }
            if (auto it = inserted.find(l); it != inserted.end()) {
                for (const auto& s : it->second)
                    add(s);
            }
        }
        m_r.text.reserve(m_r.original.size() + 256);
        for (const auto& op : m_r.ops) {
            if (op.kind != '-')
                m_r.text += op.text;
        }
    }

    /// The new text must read without a problem and hold exactly the records planned: the old records
    /// less the removed ones and the old SOA, plus the added ones and the new SOA. Anything else (an owner
    /// or a TTL another record inherited, say) refuses the rewrite.
    void verify() {
        ReadOptions ro = m_o.read;
        ro.origin = m_r.origin;
        std::vector<uint64_t> after;
        auto back = read_zone_text(m_r.text, m_path, ro, [&](const RecordView& v) {
            after.push_back(record_hash(const_cast<ldns_rr*>(v.rr)));  // the reader frees it after us
        });
        if (!back.problems.empty()) {
            return problem(
                {m_path, 0, 0}, "rewrite-failed",
                fmt::format("the rewritten zone does not read back (line {}: {}); nothing was written",
                            back.problems[0].pos.line, back.problems[0].message),
                "please report this with the zone file");
        }
        auto before = m_hashes;
        std::sort(before.begin(), before.end());
        std::sort(after.begin(), after.end());
        std::vector<uint64_t> gone, added;
        std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                            std::back_inserter(gone));
        std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                            std::back_inserter(added));
        std::size_t removed = 0;
        bool removed_gone = true;
        for (std::size_t i = 0; i < m_recs.size(); ++i) {
            if (m_removed[i]) {
                ++removed;
                removed_gone = removed_gone && std::binary_search(gone.begin(), gone.end(), m_recs[i].hash);
            }
        }
        const std::size_t soa = m_r.serial ? 1 : 0;
        if (!removed_gone || gone.size() != removed + soa || added.size() != m_new.size() + soa) {
            problem(
                {m_path, 0, 0}, "rewrite-failed",
                fmt::format("the rewrite would change other records than the {} planned: records here "
                            "inherit something (an owner, or a TTL where there is no $TTL) from the records "
                            "that change; nothing was written",
                            removed + m_new.size()),
                "write the owner and TTL out on the records around the MX, or add a $TTL line, and run "
                "rewrite again");
        }
    }

    const std::string& m_path;
    const RewriteOptions& m_o;
    RewriteResult& m_r;
    std::vector<Rec> m_recs;         // this file's records, in order
    std::vector<Rec> m_included;     // records of $INCLUDE files that matter
    std::vector<uint64_t> m_hashes;  // of every record read, for the read-back check
    std::vector<std::string> m_origins;
    std::vector<std::string_view> m_lines;
    bool m_relative = false;  // the file writes relative owner names
    bool m_nothing = false;
    SwitchPlan m_plan;
    std::vector<char> m_removed;
    std::vector<NewRec> m_new;
    long m_template = -1;
    long m_soa = -1;
};

}  // namespace

uint32_t next_serial(uint32_t serial, SerialStyle style, std::time_t now) {
    if (style == SerialStyle::automatic) {
        const auto t = static_cast<uint64_t>(now);
        style = looks_like_date(serial)                              ? SerialStyle::date
                : serial >= 1000000000u && serial <= t + 366 * 86400 ? SerialStyle::unixtime
                                                                     : SerialStyle::increment;
    }
    switch (style) {
        case SerialStyle::keep:
            return serial;
        case SerialStyle::date: {
            std::tm utc{};
            gmtime_r(&now, &utc);
            const auto today =
                static_cast<uint32_t>(((utc.tm_year + 1900) * 10000 + (utc.tm_mon + 1) * 100 + utc.tm_mday)) *
                100u;
            return serial_greater(today, serial) ? today : plus_one(serial);
        }
        case SerialStyle::unixtime: {
            const auto t = static_cast<uint32_t>(now);
            return serial_greater(t, serial) ? t : plus_one(serial);
        }
        case SerialStyle::automatic:
        case SerialStyle::increment:
            break;
    }
    return plus_one(serial);
}

RewriteResult rewrite_file(const std::string& path, const RewriteOptions& options) {
    RewriteResult r;
    r.file = path;
    Rewriter(path, options, r).run();
    return r;
}

std::string unified_diff(const RewriteResult& r, const std::string& old_name, const std::string& new_name) {
    if (!r.changed())
        return "";
    constexpr std::size_t k_context = 3;
    const auto& ops = r.ops;
    std::string out = fmt::format("--- {}\n+++ {}\n", old_name, new_name);
    std::size_t i = 0, old_no = 0, new_no = 0;  // lines before ops[i]
    while (i < ops.size()) {
        auto c = i;
        while (c < ops.size() && ops[c].kind == '=')
            ++c;
        if (c == ops.size())
            break;
        // the hunk: from k_context lines before the change to k_context after the last change near it
        auto start = c >= i + k_context ? c - k_context : i;
        auto end = c;
        for (;;) {
            while (end < ops.size() && ops[end].kind != '=')
                ++end;
            auto next = end;
            while (next < ops.size() && ops[next].kind == '=')
                ++next;
            if (next < ops.size() && next - end <= 2 * k_context) {
                end = next;
                continue;
            }
            end = std::min(ops.size(), end + k_context);
            break;
        }
        for (; i < start; ++i) {
            ++old_no;
            ++new_no;
        }
        std::size_t oc = 0, nc = 0;
        for (auto k = start; k < end; ++k) {
            oc += ops[k].kind != '+';
            nc += ops[k].kind != '-';
        }
        out += fmt::format("@@ -{},{} +{},{} @@\n", oc == 0 ? old_no : old_no + 1, oc,
                           nc == 0 ? new_no : new_no + 1, nc);
        for (auto k = start; k < end; ++k) {
            out += ops[k].kind == '=' ? ' ' : ops[k].kind;
            out += ops[k].text;
            if (!ops[k].text.ends_with('\n'))
                out += "\n\\ No newline at end of file\n";
        }
        old_no += oc;
        new_no += nc;
        i = end;
    }
    return out;
}

}  // namespace mailproxy::zone
