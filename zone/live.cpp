#include "zone/live.hpp"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/util/net.hpp"
#include "core/util/strings.hpp"
#include "zone/ldns.hpp"

namespace mailproxy::zone {
namespace {

struct ResolverDeleter {
    void operator()(ldns_resolver* r) const { ldns_resolver_deep_free(r); }
};
struct PktDeleter {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RdfDeleter {
    void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using Resolver = std::unique_ptr<ldns_resolver, ResolverDeleter>;
using Rdf = std::unique_ptr<ldns_rdf, RdfDeleter>;

std::string take(char* s) {
    std::string out = s != nullptr ? s : "";
    LDNS_FREE(s);
    return out;
}

Expected<Resolver> make_resolver(const CheckOptions& o) {
    ldns_resolver* raw = nullptr;
    if (o.server.empty()) {
        const auto s = ldns_resolver_new_frm_file(&raw, nullptr);
        if (s != LDNS_STATUS_OK || raw == nullptr) {
            return fail(ErrorCode::unavailable,
                        fmt::format("cannot read the system's resolvers (/etc/resolv.conf): {}; name one "
                                    "with --server",
                                    ldns_get_errorstr_by_id(s)));
        }
        return Resolver(raw);
    }
    std::string host = o.server;
    uint16_t port = 53;
    const auto bad = [&] {
        return fail(ErrorCode::invalid,
                    fmt::format("--server {}: expected an IP address, IP:PORT or [IPv6]:PORT", o.server));
    };
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        if (close == std::string::npos)
            return bad();
        const auto rest = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!rest.empty()) {
            const auto p =
                rest.size() > 1 && rest[0] == ':' ? util::parse_integer(rest.substr(1)) : std::nullopt;
            if (!p || *p < 1 || *p > 65535)
                return bad();
            port = static_cast<uint16_t>(*p);
        }
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        const auto colon = host.find(':');
        const auto p = util::parse_integer(host.substr(colon + 1));
        if (!p || *p < 1 || *p > 65535)
            return bad();
        port = static_cast<uint16_t>(*p);
        host = host.substr(0, colon);
    }
    if (!util::is_ip_address(host))
        return bad();
    const bool v6 = host.find(':') != std::string::npos;
    Rdf ns(ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, host.c_str()));
    Resolver r(ldns_resolver_new());
    if (!ns || !r || ldns_resolver_push_nameserver(r.get(), ns.get()) != LDNS_STATUS_OK)
        return bad();
    ldns_resolver_set_port(r.get(), port);
    return r;
}

class Asker {
  public:
    Asker(ldns_resolver* r, std::string server) : m_r(r), m_server(std::move(server)) {}

    /// The answer section's records for (name, type); an empty list for NOERROR without data.
    /// `nxdomain` is set for a name that does not exist; with `refused`, a REFUSED answer (a server not
    /// authoritative for a name outside its zones) sets it and counts as no data.
    Expected<std::vector<std::string>> ask(const std::string& name, ldns_rr_type type,
                                           bool* nxdomain = nullptr, bool* refused = nullptr) {
        Rdf qname(ldns_dname_new_frm_str(name.c_str()));
        if (!qname)
            return fail(ErrorCode::invalid, fmt::format("{} is not a domain name", name));
        ldns_pkt* raw = nullptr;
        const auto s = ldns_resolver_send(&raw, m_r, qname.get(), type, LDNS_RR_CLASS_IN, LDNS_RD);
        std::unique_ptr<ldns_pkt, PktDeleter> p(raw);
        const auto type_name = take(ldns_rr_type2str(type));
        if (s != LDNS_STATUS_OK || !p) {
            return fail(ErrorCode::unavailable, fmt::format("no answer for {} {} from {}: {}", name,
                                                            type_name, m_server, ldns_get_errorstr_by_id(s)));
        }
        const auto rcode = ldns_pkt_get_rcode(p.get());
        if (rcode == LDNS_RCODE_NXDOMAIN) {
            if (nxdomain != nullptr)
                *nxdomain = true;
            return std::vector<std::string>{};
        }
        if (rcode == LDNS_RCODE_REFUSED && refused != nullptr) {
            *refused = true;
            return std::vector<std::string>{};
        }
        if (rcode != LDNS_RCODE_NOERROR) {
            const auto* lookup = ldns_lookup_by_id(ldns_rcodes, static_cast<int>(rcode));
            return fail(ErrorCode::unavailable,
                        fmt::format("{} answered {} for {} {}", m_server,
                                    lookup != nullptr ? lookup->name : "an error", name, type_name));
        }
        std::vector<std::string> out;
        const ldns_rr_list* answer = ldns_pkt_answer(p.get());
        for (std::size_t i = 0; answer != nullptr && i < ldns_rr_list_rr_count(answer); ++i) {
            auto text = take(ldns_rr2str(ldns_rr_list_rr(answer, i)));
            while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
                text.pop_back();
            out.push_back(std::move(text));
        }
        return out;
    }

  private:
    ldns_resolver* m_r;
    std::string m_server;
};

/// MX hosts whose addresses are looked up: an answer with thousands of MX records must not make
/// thousands of queries.
constexpr std::size_t k_max_hosts = 32;

}  // namespace

Expected<LintResult> check_domain(const std::string& domain_in, const CheckOptions& o) {
    auto domain = util::to_lower(domain_in);
    if (!domain.empty() && domain.back() != '.')
        domain += '.';
    if (domain == "." || !Rdf(ldns_dname_new_frm_str(domain.c_str())))
        return fail(ErrorCode::invalid, fmt::format("{} is not a domain name", domain_in));
    auto resolver = make_resolver(o);
    if (!resolver)
        return tl::make_unexpected(resolver.error());
    ldns_resolver_set_recursive(resolver->get(), true);
    ldns_resolver_set_retry(resolver->get(), static_cast<uint8_t>(std::clamp(o.retries, 1, 10)));
    ldns_resolver_set_timeout(resolver->get(), timeval{std::clamp(o.timeout_seconds, 1, 60), 0});
    Asker dns(resolver->get(), o.server.empty() ? "the system's resolver" : o.server);

    std::vector<std::string> records;
    const auto add = [&](Expected<std::vector<std::string>> got) -> Expected<void> {
        if (!got)
            return tl::make_unexpected(got.error());
        for (auto& r : *got) {
            if (std::find(records.begin(), records.end(), r) == records.end())
                records.push_back(std::move(r));
        }
        return {};
    };
    bool nxdomain = false;
    auto mx = dns.ask(domain, LDNS_RR_TYPE_MX, &nxdomain);
    if (!mx)
        return tl::make_unexpected(mx.error());
    if (nxdomain)
        return fail(ErrorCode::not_found, fmt::format("{} does not exist (NXDOMAIN)", domain));
    std::vector<std::string> hosts;
    for (const auto& line : *mx) {
        ldns_rr* rr = nullptr;
        if (ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK && rr != nullptr) {
            if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_MX && ldns_rr_rd_count(rr) == 2) {
                auto host = util::to_lower(take(ldns_rdf2str(ldns_rr_rdf(rr, 1))));
                if (host != "." && std::find(hosts.begin(), hosts.end(), host) == hosts.end())
                    hosts.push_back(std::move(host));
            }
            ldns_rr_free(rr);
        }
    }
    if (auto ok = add(std::move(mx)); !ok)
        return tl::make_unexpected(ok.error());
    if (!o.lint.custom_host.empty() &&
        std::find(hosts.begin(), hosts.end(), o.lint.custom_host) == hosts.end()) {
        hosts.push_back(o.lint.custom_host);
    }
    // the addresses matter for the custom host and for MX targets inside the zone (CNAME, no address);
    // the proxy host's own addresses are not the domain's business
    std::vector<std::string> unanswered;
    std::size_t asked = 0;
    for (const auto& host : hosts) {
        if (host == o.lint.proxy_host)
            continue;
        if (++asked > k_max_hosts) {
            unanswered.push_back(fmt::format("the other {} MX hosts (only {} are looked up)",
                                             hosts.size() - k_max_hosts, k_max_hosts));
            break;
        }
        for (const auto type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA}) {
            bool refused = false;
            if (auto ok = add(dns.ask(host, type, nullptr, &refused)); !ok)
                return tl::make_unexpected(ok.error());
            if (refused && std::find(unanswered.begin(), unanswered.end(), host) == unanswered.end())
                unanswered.push_back(host);
        }
    }
    if (auto ok = add(dns.ask(domain, LDNS_RR_TYPE_TXT)); !ok)
        return tl::make_unexpected(ok.error());
    if (auto ok = add(dns.ask("_mta-sts." + domain, LDNS_RR_TYPE_TXT)); !ok)
        return tl::make_unexpected(ok.error());

    std::string text = fmt::format("$ORIGIN {}\n", domain);
    for (const auto& r : records)
        text += r + "\n";
    auto lo = o.lint;
    lo.read.origin = domain;
    lo.against.clear();
    auto result = lint_text(text, domain_in, lo);
    result.file = domain;
    result.answers = std::move(records);
    result.unanswered = std::move(unanswered);
    for (auto& f : result.findings) {
        f.pos.file = domain;
        f.pos.line = f.pos.line >= 2 ? f.pos.line - 1 : 0;  // line 1 is the $ORIGIN
        f.pos.col = 0;
    }
    return result;
}

}  // namespace mailproxy::zone
