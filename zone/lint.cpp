#include "zone/lint.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "core/util/net.hpp"

#include "zone/ldns.hpp"

namespace mailproxy::zone {
namespace {

constexpr std::string_view k_cname_hint =
    "a name that has a CNAME can have no other records (RFC 1034 3.6.2); the MailProxy documentation's "
    "advice to add an A record 'plus optional CNAME' for a custom proxy host produces exactly this: keep "
    "the A record and drop the CNAME";

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string rdf_text(const ldns_rdf* rdf) {
    char* s = ldns_rdf2str(rdf);
    std::string out = s != nullptr ? s : "";
    LDNS_FREE(s);
    return out;
}

/// FNV-1a over the owner's wire form, ASCII case folded.
uint64_t owner_hash(const ldns_rdf* owner) {
    uint64_t h = 1469598103934665603ULL;
    const auto* p = ldns_rdf_data(owner);
    for (std::size_t i = 0; i < ldns_rdf_size(owner); ++i) {
        const auto b = p[i];
        h ^= static_cast<uint64_t>(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
        h *= 1099511628211ULL;
    }
    return h;
}

/// An MX target written as an address (ldns may have made it relative: 10.0.0.1 -> 10.0.0.1.zone.).
bool is_ip_literal(std::string_view token) {
    if (!token.empty() && token.back() == '.')
        token.remove_suffix(1);
    return util::is_ip_address(token);
}

std::string txt_data(const ldns_rr* rr) {
    std::string out;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* r = ldns_rr_rdf(rr, i);
        const auto* p = ldns_rdf_data(r);
        if (ldns_rdf_size(r) > 0)
            out.append(reinterpret_cast<const char*>(p + 1),
                       std::min<std::size_t>(p[0], ldns_rdf_size(r) - 1));
    }
    return out;
}

bool spf_uses_mx(std::string_view txt) {
    const auto l = lower(std::string(txt));
    if (!l.starts_with("v=spf1") || (l.size() > 6 && l[6] != ' '))
        return false;
    std::size_t i = 6;
    while (i < l.size()) {
        while (i < l.size() && l[i] == ' ')
            ++i;
        auto end = l.find(' ', i);
        if (end == std::string::npos)
            end = l.size();
        auto term = std::string_view(l).substr(i, end - i);
        if (!term.empty() && (term[0] == '+' || term[0] == '-' || term[0] == '~' || term[0] == '?'))
            term.remove_prefix(1);
        if (term == "mx" || term.starts_with("mx:") || term.starts_with("mx/"))
            return true;
        i = end;
    }
    return false;
}

struct Mx {
    Position pos;  ///< the exchange token
    int width = 1;
    std::string owner;  ///< absolute, lower-case
    uint64_t owner_hash = 0;
    bool apex = false;
    bool wildcard = false;
    unsigned pref = 0;
    std::string exchange;       ///< absolute, lower-case
    std::string token;          ///< as written
    bool text_flagged = false;  ///< already reported from the source text
};

struct Cname {
    Position pos;
    std::string owner;
    uint64_t hash;
};

struct Collected {
    std::vector<Mx> mx;
    std::vector<Cname> cnames;
    std::vector<uint64_t> other_owners;  // hashes of owners of non-CNAME data
    std::vector<std::pair<Position, std::string>> custom_addresses;
    std::vector<std::pair<Position, std::string>> spf_mx;
    std::vector<Position> mta_sts;
    std::optional<std::pair<Position, uint32_t>> soa;
    uint64_t content = 0;              // order-independent hash of every non-SOA record (for --against)
    unsigned apex_proxy_pref = 65536;  // best preference of the apex MX records to the proxy not kept in mx
    std::vector<uint64_t> proxy_mx_owners;  // owners of the MX records to the proxy not kept in mx
};

uint64_t text_hash(std::string_view s) {
    uint64_t h = 1469598103934665603ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

struct RdfDeleter {
    void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};

ReadResult collect(const std::string& path, const LintOptions& o, Collected& c, bool hash_content,
                   const std::string_view* text = nullptr) {
    std::unique_ptr<ldns_rdf, RdfDeleter> origin;
    std::unique_ptr<ldns_rdf, RdfDeleter> custom;
    std::unique_ptr<ldns_rdf, RdfDeleter> mta_sts;
    std::unique_ptr<ldns_rdf, RdfDeleter> proxy(ldns_dname_new_frm_str(o.proxy_host.c_str()));
    bool ready = false;
    bool proxy_in_zone = false;
    const auto on_record = [&](const RecordView& v) {
        if (!ready) {
            // the reader settles the origin before the first record
            ready = true;
            origin.reset(ldns_dname_new_frm_str(v.zone_origin.c_str()));
            if (!o.custom_host.empty())
                custom.reset(ldns_dname_new_frm_str(o.custom_host.c_str()));
            mta_sts.reset(ldns_dname_new_frm_str(("_mta-sts." + v.zone_origin).c_str()));
            proxy_in_zone = proxy && origin && ldns_dname_is_subdomain(proxy.get(), origin.get());
        }
        auto* rr = const_cast<ldns_rr*>(v.rr);
        const ldns_rdf* owner = ldns_rr_owner(rr);
        const auto type = ldns_rr_get_type(rr);
        // sizes first: most owners are not the apex, and the label-wise compare is the costlier test
        const bool apex = origin && ldns_rdf_size(owner) == ldns_rdf_size(origin.get()) &&
                          ldns_dname_compare(owner, origin.get()) == 0;
        if (hash_content && type != LDNS_RR_TYPE_SOA) {
            ldns_rr2canonical(rr);
            char* s = ldns_rr2str(rr);
            if (s != nullptr)
                c.content += text_hash(s);
            LDNS_FREE(s);
        }

        if (type == LDNS_RR_TYPE_CNAME) {
            c.cnames.push_back({v.pos, v.owner_text, owner_hash(owner)});
        } else if (type != LDNS_RR_TYPE_RRSIG && type != LDNS_RR_TYPE_NSEC && type != LDNS_RR_TYPE_NSEC3) {
            c.other_owners.push_back(owner_hash(owner));
        }
        if (type == LDNS_RR_TYPE_MX && ldns_rr_rd_count(rr) == 2) {
            // the common case of a big zone, an MX to the (out-of-zone) proxy, needs nothing kept but its
            // preference at the apex
            if (proxy && !proxy_in_zone && ldns_dname_compare(ldns_rr_rdf(rr, 1), proxy.get()) == 0 &&
                (v.type_index + 2 >= v.tokens.size() || v.tokens[v.type_index + 2].text.ends_with("."))) {
                if (apex) {
                    const unsigned pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
                    c.apex_proxy_pref = std::min(c.apex_proxy_pref, pref);
                }
                c.proxy_mx_owners.push_back(owner_hash(owner));  // for the null MX rule
                return;
            }
            Mx m;
            m.owner = lower(v.owner_text);
            m.owner_hash = owner_hash(owner);
            m.apex = apex;
            m.wildcard = m.owner.starts_with("*.");
            m.pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
            m.exchange = lower(rdf_text(ldns_rr_rdf(rr, 1)));
            m.pos = v.pos;
            if (v.type_index + 2 < v.tokens.size()) {
                const auto& tok = v.tokens[v.type_index + 2];
                m.pos = {v.pos.file, tok.line, tok.col};
                m.token = std::string(tok.text);
                m.width = static_cast<int>(tok.text.size());
            }
            c.mx.push_back(std::move(m));
        }
        if (custom && (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA) &&
            ldns_dname_compare(owner, custom.get()) == 0 && ldns_rr_rd_count(rr) == 1) {
            c.custom_addresses.emplace_back(v.pos, rdf_text(ldns_rr_rdf(rr, 0)));
        }
        if (apex && (type == LDNS_RR_TYPE_TXT || type == LDNS_RR_TYPE_SPF) && spf_uses_mx(txt_data(rr))) {
            c.spf_mx.emplace_back(v.pos, txt_data(rr));
        }
        // a TXT, or a CNAME to a hosted MTA-STS service, announces a policy
        if ((type == LDNS_RR_TYPE_TXT || type == LDNS_RR_TYPE_CNAME) && mta_sts &&
            ldns_dname_compare(owner, mta_sts.get()) == 0) {
            c.mta_sts.push_back(v.pos);
        }
        if (type == LDNS_RR_TYPE_SOA && !c.soa && ldns_rr_rd_count(rr) >= 3) {
            c.soa = {v.pos, ldns_rdf2native_int32(ldns_rr_rdf(rr, 2))};
        }
    };
    return text != nullptr ? read_zone_text(*text, path, o.read, on_record)
                           : read_zone(path, o.read, on_record);
}

LintResult lint(const std::string& path, const LintOptions& o, const std::string_view* text);

Finding make(const Position& pos, std::string_view rule, Severity sev, std::string message,
             std::string_view hint, int width = 1) {
    return Finding{pos, sev, std::string(rule), std::move(message), std::string(hint), width};
}

}  // namespace

bool serial_greater(uint32_t b, uint32_t a) {
    return (a < b && b - a < 0x80000000u) || (a > b && a - b > 0x80000000u);
}

const std::vector<Rule>& rules() {
    static const std::vector<Rule> r{
        {"syntax", Severity::error, "a record or directive that cannot be read",
         "correct it; the rest is still checked"},
        {"file-unreadable", Severity::error, "a zone or $INCLUDE file cannot be read",
         "check the path and permissions"},
        {"origin-unknown", Severity::error, "the zone's origin cannot be told", "pass --origin"},
        {"origin-relative", Severity::error, "$ORIGIN with a relative name",
         "write the name with its trailing dot"},
        {"include-depth", Severity::error, "$INCLUDE nested too deep", "look for an $INCLUDE loop"},
        {"soa-duplicate", Severity::error, "a second SOA record", "keep exactly one SOA"},
        {"mx-preference-range", Severity::error, "MX preference above 65535", "use 0 to 65535"},
        {"mx-missing", Severity::error, "the apex has no MX record",
         "add: @ MX 10 mailproxy.domain-robot.org."},
        {"mx-bypass", Severity::error,
         "an apex MX other than the MailProxy (also backups and the real server)",
         "remove it: senders may deliver there and skip the filter"},
        {"mx-wildcard-bypass", Severity::error, "a wildcard MX pointing elsewhere than the MailProxy",
         "point it at the MailProxy or remove it"},
        {"mx-subdomain-bypass", Severity::warning, "a subdomain MX pointing elsewhere than the MailProxy",
         "point it at the MailProxy if the subdomain's mail must be filtered"},
        {"proxy-host-no-dot", Severity::error, "the proxy host written without its trailing dot",
         "write mailproxy.domain-robot.org. with the dot, or it becomes a name inside the zone"},
        {"mx-target-ip", Severity::error, "an MX target that is an IP address", "MX targets are host names"},
        {"mx-target-cname", Severity::error, "an MX target that is a CNAME in the zone (RFC 2181 10.3)",
         "point the MX at the canonical name"},
        {"cname-and-other-data", Severity::error, "a name with a CNAME and other data (RFC 1034 3.6.2)",
         k_cname_hint},
        {"custom-host-no-address", Severity::error, "the custom MailProxy host has no A/AAAA record",
         "add an A record with the proxy address"},
        {"custom-host-wrong-address", Severity::error,
         "the custom MailProxy host has an address that is not a proxy address",
         "use the proxy address (--proxy-address)"},
        {"null-mx-with-other-mx", Severity::error, "a null MX (RFC 7505) together with other MX records",
         "a null MX must be the only MX of its name"},
        {"spf-mx-mechanism", Severity::warning, "apex SPF uses the mx mechanism",
         "after the switch mx means the MailProxy, not the real server's outgoing mail: list the server with "
         "a: or ip4: instead"},
        {"mta-sts-present", Severity::warning, "an _mta-sts TXT (or CNAME to a hosted policy) exists",
         "update the MTA-STS policy's mx: lines for the MailProxy host and change the TXT id"},
        {"serial-not-increased", Severity::error,
         "the zone changed but its SOA serial did not increase (RFC 1982)", "increase the serial"},
    };
    return r;
}

LintResult lint_file(const std::string& path, const LintOptions& o) {
    return lint(path, o, nullptr);
}

LintResult lint_text(std::string_view text, const std::string& name, const LintOptions& o) {
    return lint(name, o, &text);
}

namespace {

LintResult lint(const std::string& path, const LintOptions& o, const std::string_view* text) {
    Collected c;
    auto read = collect(path, o, c, !o.against.empty(), text);
    LintResult out;
    out.file = path;
    out.origin = read.origin;
    out.origin_source = read.origin_source;
    out.records = read.records;
    out.findings = std::move(read.problems);
    auto& f = out.findings;
    const auto& R = [](std::string_view id) -> const Rule& {
        for (const auto& r : rules()) {
            if (r.id == id)
                return r;
        }
        throw std::logic_error("unknown rule");
    };
    const auto add = [&](const Position& pos, std::string_view id, std::string message, int width = 1) {
        const auto& r = R(id);
        f.push_back(make(pos, id, r.severity, std::move(message), r.hint, width));
    };
    const auto proxy = lower(o.proxy_host);
    const auto custom = lower(o.custom_host);
    const auto target = lower(o.target);
    const auto proxy_no_dot = proxy.substr(0, proxy.size() - 1);
    const auto is_proxy = [&](const std::string& exchange) {
        return exchange == proxy || (!custom.empty() && exchange == custom);
    };

    std::sort(c.other_owners.begin(), c.other_owners.end());
    std::vector<uint64_t> cname_owners;
    for (const auto& cn : c.cnames) {
        cname_owners.push_back(cn.hash);
        if (std::binary_search(c.other_owners.begin(), c.other_owners.end(), cn.hash)) {
            add(cn.pos, "cname-and-other-data", fmt::format("{} has a CNAME and other records", cn.owner));
        }
    }
    std::sort(cname_owners.begin(), cname_owners.end());

    unsigned best_proxy_pref = c.apex_proxy_pref;
    bool apex_mx = c.apex_proxy_pref <= 65535;
    for (const auto& m : c.mx) {
        if (m.apex && is_proxy(m.exchange))
            best_proxy_pref = std::min(best_proxy_pref, m.pref);
        apex_mx = apex_mx || m.apex;
    }
    std::sort(c.proxy_mx_owners.begin(), c.proxy_mx_owners.end());
    std::map<std::string, std::pair<int, int>> null_and_other;  // owner -> (null MX count, other MX count)
    for (const auto& m : c.mx) {
        auto& no = null_and_other[m.owner];
        (m.exchange == "." ? no.first : no.second)++;
    }
    for (auto& m : c.mx) {
        const auto mx_text = fmt::format("MX {} {}", m.pref, m.token.empty() ? m.exchange : m.token);
        if (lower(m.token) == proxy_no_dot) {
            add(m.pos, "proxy-host-no-dot",
                fmt::format("{} is written without the trailing dot, so it means {}", m.token, m.exchange),
                m.width);
            continue;
        }
        if (is_ip_literal(m.token)) {
            add(m.pos, "mx-target-ip",
                fmt::format("{}: the target is an IP address, not a host name", mx_text), m.width);
            continue;
        }
        if (m.exchange == ".") {
            if (null_and_other[m.owner].second > 0 ||
                std::binary_search(c.proxy_mx_owners.begin(), c.proxy_mx_owners.end(), m.owner_hash)) {
                add(m.pos, "null-mx-with-other-mx",
                    fmt::format("{} has a null MX (\".\") and other MX records", m.owner), m.width);
            }
            continue;
        }
        ldns_rdf* ex = ldns_dname_new_frm_str(m.exchange.c_str());
        if (ex != nullptr) {
            if (std::binary_search(cname_owners.begin(), cname_owners.end(), owner_hash(ex))) {
                add(m.pos, "mx-target-cname",
                    fmt::format("{}: {} is a CNAME in this zone", mx_text, m.exchange), m.width);
            }
            ldns_rdf_deep_free(ex);
        }
        if (is_proxy(m.exchange))
            continue;
        if (m.apex) {
            std::string why;
            if (!target.empty() && m.exchange == target) {
                why = "it is the real mail server (--target): mail sent there skips the MailProxy";
            } else if (best_proxy_pref <= 65535 && m.pref >= best_proxy_pref) {
                why = "a backup MX: senders fall back to it and skip the MailProxy";
            } else {
                why = "mail sent there skips the MailProxy";
            }
            add(m.pos, "mx-bypass", fmt::format("{} at the apex: {}", mx_text, why), m.width);
        } else if (m.wildcard) {
            add(m.pos, "mx-wildcard-bypass",
                fmt::format("wildcard {} {}: mail for any name skips the MailProxy", m.owner, mx_text),
                m.width);
        } else {
            add(m.pos, "mx-subdomain-bypass",
                fmt::format("{} {}: mail for {} skips the MailProxy", m.owner, mx_text, m.owner), m.width);
        }
    }
    if (!apex_mx && read.origin_source != OriginSource::none) {
        const Position at = c.soa ? c.soa->first : Position{path, 1, 1};
        add(at, "mx-missing", fmt::format("the apex {} has no MX record", read.origin));
    }
    if (!custom.empty()) {
        const bool in_zone =
            custom.size() >= read.origin.size() &&
            (custom == read.origin || custom.ends_with("." + read.origin) || read.origin == ".");
        if (in_zone && c.custom_addresses.empty()) {
            add(c.soa ? c.soa->first : Position{path, 1, 1}, "custom-host-no-address",
                fmt::format("the custom MailProxy host {} has no A or AAAA record in the zone", custom));
        }
        for (const auto& [pos, address] : c.custom_addresses) {
            const auto same = [&](const std::string& proxy_address) {
                return util::same_ip_address(proxy_address, address);
            };
            if (std::none_of(o.proxy_addresses.begin(), o.proxy_addresses.end(), same)) {
                add(pos, "custom-host-wrong-address",
                    fmt::format("{} has the address {}, which is not a MailProxy address", custom, address));
            }
        }
    }
    for (const auto& [pos, txt] : c.spf_mx) {
        add(pos, "spf-mx-mechanism", fmt::format("apex SPF \"{}\" uses the mx mechanism", txt.substr(0, 80)));
    }
    for (const auto& pos : c.mta_sts) {
        add(pos, "mta-sts-present", fmt::format("_mta-sts.{} announces an MTA-STS policy", read.origin));
    }
    if (!o.against.empty()) {
        Collected old;
        LintOptions oo = o;
        oo.read.origin = read.origin;
        auto old_read = collect(o.against, oo, old, true);
        // the old version's own problems are not this change's: only an unreadable old file is reported
        for (const auto& p : old_read.problems) {
            if (p.rule == "file-unreadable")
                f.push_back(p);
        }
        if (c.soa && old.soa && c.content != old.content && !serial_greater(c.soa->second, old.soa->second)) {
            add(c.soa->first, "serial-not-increased",
                fmt::format("the zone changed since {} but the SOA serial {} is not greater than {}",
                            o.against, c.soa->second, old.soa->second));
        }
    }
    // by file (in the order they were first read), then line and column
    std::map<std::string, std::size_t> rank;
    for (const auto& x : f)
        rank.emplace(x.pos.file, rank.size());
    std::stable_sort(f.begin(), f.end(), [&](const Finding& a, const Finding& b) -> bool {
        const auto ra = rank.at(a.pos.file), rb = rank.at(b.pos.file);
        if (ra != rb)
            return ra < rb;
        if (a.pos.line != b.pos.line)
            return a.pos.line < b.pos.line;
        return a.pos.col < b.pos.col;
    });
    return out;
}

}  // namespace

}  // namespace mailproxy::zone
