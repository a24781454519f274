#include "core/entry/validate.hpp"

#include <idn2.h>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "core/entry/presets.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::entry {
namespace {

bool is_ldh(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool is_atext(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Hostname for targets: LDH labels like a domain, but a single label (`localhost`) is allowed.
std::string hostname_problem(std::string_view h) {
    if (h.empty())
        return "has no host name";
    if (util::is_ip_address(h)) {
        return fmt::format("is an IP address; write it bracketed as [{}] or use a host name", h);
    }
    const auto lower = util::to_lower(h);
    if (lower.size() > 253)
        return "is longer than 253 characters";
    for (const auto& label : util::split(lower, '.')) {
        if (label.empty() || label.size() > 63)
            return "is not a valid host name (empty or over-long label)";
        for (char c : label) {
            if (!is_ldh(c) && c != '_')
                return fmt::format("is not a valid host name (character '{}')", c);
        }
        if (label.front() == '-' || label.back() == '-') {
            return "is not a valid host name (a label starts or ends with '-')";
        }
    }
    if (const auto last = lower.substr(lower.rfind('.') + 1);
        !last.empty() && last.find_first_not_of("0123456789") == std::string::npos) {
        // resolvers read names like 127.1 or 2130706433 as addresses: that would get round the brackets rule
        return "is not a host name (its last label is all digits); write an IP address in brackets";
    }
    return {};
}

std::string port_problem(std::string_view p) {
    const auto v = util::parse_integer(p);
    if (p.empty() || !v || *v < 1 || *v > 65535 || p.front() == '+' || p.front() == '-') {
        return fmt::format("has port '{}', not a number from 1 to 65535", p);
    }
    return {};
}

// host, host:port, [ip], [ip]:port
std::string host_port_problem(std::string_view s, bool port_required) {
    std::string_view host = s, port;
    bool has_port = false;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos)
            return "has '[' without ']'";
        auto ip = s.substr(1, close - 1);
        if (ip.size() > 5 && util::to_lower(ip.substr(0, 5)) == "ipv6:")
            ip.remove_prefix(5);
        if (!util::is_ip_address(ip))
            return fmt::format("has '[{}]', which is not an IP address", ip);
        const auto rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return "has text after ']' that is not ':port'";
            port = rest.substr(1);
            has_port = true;
        }
        host = {};
    } else {
        const auto colon = s.rfind(':');
        if (colon != std::string_view::npos) {
            if (s.find(':') != colon) {
                return "is an IPv6 address; write it bracketed as [IPv6:…] or use a host name";
            }
            host = s.substr(0, colon);
            port = s.substr(colon + 1);
            has_port = true;
        }
        if (auto p = hostname_problem(host); !p.empty())
            return p;
    }
    if (has_port)
        return port_problem(port);
    if (port_required)
        return "needs a port (host:port)";
    return {};
}

std::string path_problem(std::string_view path) {
    if (path.empty() || path.front() != '/')
        return "needs an absolute path";
    return {};
}

}  // namespace

Expected<std::string> normalize_domain(std::string_view input) {
    std::string d(util::trim(input));
    if (!d.empty() && d.back() == '.')
        d.pop_back();
    bool ascii = true;
    for (char c : d)
        ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (!ascii) {
        char* out = nullptr;
        const int rc = idn2_to_ascii_8z(d.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        std::unique_ptr<char, decltype(&idn2_free)> guard(out, &idn2_free);
        if (rc != IDN2_OK) {
            return fail(ErrorCode::invalid,
                        fmt::format("domain ({}) is not a valid internationalised domain name: {}", d,
                                    idn2_strerror(rc)));
        }
        d = out;
    }
    d = util::to_lower(d);
    if (auto p = domain_problem(d); !p.empty()) {
        return fail(ErrorCode::invalid, fmt::format("domain ({}) {}", std::string(util::trim(input)), p));
    }
    return d;
}

std::string domain_problem(std::string_view d) {
    if (d.empty())
        return "is empty";
    if (d.size() > 253)
        return "is longer than 253 characters";
    if (d.back() == '.')
        return "must be written without the trailing dot";
    if (util::to_lower(d) != d)
        return fmt::format("must be lower-case ({})", util::to_lower(d));
    const auto labels = util::split(d, '.');
    if (labels.size() < 2)
        return "is not a domain name (needs at least two labels, e.g. example.com)";
    for (const auto& label : labels) {
        if (label.empty())
            return "is not a valid domain name (empty label)";
        if (label.size() > 63)
            return "is not a valid domain name (a label is longer than 63 characters)";
        for (char c : label) {
            if (static_cast<unsigned char>(c) >= 0x80) {
                return "is not a valid domain name (non-ASCII; write it in punycode, xn--…)";
            }
            if (!is_ldh(c))
                return fmt::format("is not a valid domain name (character '{}')", c);
        }
        if (label.front() == '-' || label.back() == '-') {
            return "is not a valid domain name (a label starts or ends with '-')";
        }
    }
    if (labels.back().find_first_not_of("0123456789") == std::string::npos)
        return "is not a domain name (its last label is all digits)";
    return {};
}

std::string address_problem(std::string_view a) {
    if (a.empty())
        return "is empty";
    if (a.size() > 254)
        return "is longer than 254 characters";
    const auto at = a.rfind('@');
    if (at == std::string_view::npos)
        return "is not an e-mail address (no '@')";
    const auto local = a.substr(0, at);
    const auto domain = a.substr(at + 1);
    if (local.empty())
        return "is not an e-mail address (nothing before '@')";
    if (local.size() > 64)
        return "has a local part longer than 64 characters";
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
        return "is not an e-mail address (misplaced '.' in the local part)";
    }
    for (char c : local) {
        if (c != '.' && !is_atext(c)) {
            return fmt::format("is not an e-mail address (character '{}' in the local part)", c);
        }
    }
    if (auto p = domain_problem(util::to_lower(domain)); !p.empty())
        return "has a domain that " + p;
    return {};
}

std::string list_item_problem(std::string_view item) {
    if (!item.empty() && item.front() == '@') {
        if (auto p = domain_problem(util::to_lower(item.substr(1))); !p.empty()) {
            return "is a catch-all whose domain " + p;
        }
        return {};
    }
    return address_problem(item);
}

std::string target_problem(std::string_view t) {
    if (t.empty())
        return "is missing (the mail server that receives the checked mail)";
    if (t.starts_with("smtp://"))
        return host_port_problem(t.substr(7), false);
    if (t.starts_with("lmtp:unix:"))
        return path_problem(t.substr(10));
    if (t.starts_with("lmtp://"))
        return host_port_problem(t.substr(7), true);
    if (t.starts_with("maildir:"))
        return path_problem(t.substr(8));
    if (t.find("://") != std::string_view::npos) {
        return "has an unknown scheme (use a host name, smtp://, lmtp:// or maildir:)";
    }
    return host_port_problem(t, false);
}

std::string normalize_address(std::string_view a) {
    const auto at = a.rfind('@');
    if (at == std::string_view::npos)
        return std::string(a);
    return std::string(a.substr(0, at + 1)) + util::to_lower(a.substr(at + 1));
}

bool address_matches(std::string_view pattern, std::string_view address) {
    const auto p = normalize_address(pattern);
    const auto a = normalize_address(address);
    if (!p.empty() && p.front() == '@') {
        const auto at = a.rfind('@');
        return at != std::string::npos && a.substr(at) == p;
    }
    return p == a;
}

std::vector<FieldError> validate(const MailProxy& e) {
    std::vector<FieldError> errors;
    const auto add = [&](std::string field, std::string value, std::string message) {
        errors.push_back({std::move(field), std::move(value), std::move(message)});
    };

    if (auto p = domain_problem(e.domain); !p.empty())
        add("domain", std::string(e.domain), p);
    if (auto p = target_problem(e.target); !p.empty())
        add("target", std::string(e.target), p);
    if (e.admin.empty()) {
        add("admin", "", "is missing (the quarantine e-mail address)");
    } else if (auto p = address_problem(e.admin); !p.empty()) {
        add("admin", std::string(e.admin), p);
    }

    const auto& s = e.policy.spam;
    const auto score = [&](const char* field, double v) {
        if (!(v >= k_score_min && v <= k_score_max)) {
            add(field, util::format_number(v), "is out of range (-999.9 to 999.9)");
        }
    };
    score("spam.tagHeader", s.tag_header);
    score("spam.spam", s.spam);
    score("spam.kill", s.kill);
    if (!(s.kill > s.spam)) {
        add("spam.kill", util::format_number(s.kill),
            fmt::format("must be greater than spam.spam ({})", util::format_number(s.spam)));
    }
    if (s.quarantine_digest_interval < k_digest_min) {
        add("spam.quarantineDigestInterval", std::to_string(s.quarantine_digest_interval),
            "must be at least 1440 minutes (one day)");
    }

    const auto check_list = [&](const char* name, const MailList& l) {
        for (std::size_t i = 0; i < l.emails.size(); ++i) {
            if (auto p = list_item_problem(l.emails[i]); !p.empty()) {
                add(fmt::format("{}.emails[{}]", name, i), std::string(l.emails[i]), p);
            }
        }
    };
    check_list("whitelist", e.whitelist);
    check_list("blacklist", e.blacklist);
    check_list("excludelist", e.excludelist);

    if (!e.admin.empty()) {
        for (std::size_t i = 0; i < e.excludelist.emails.size(); ++i) {
            if (address_matches(e.excludelist.emails[i], e.admin)) {
                add(fmt::format("excludelist.emails[{}]", i), std::string(e.excludelist.emails[i]),
                    fmt::format("excludes the admin address ({}), which must receive the quarantine digest",
                                e.admin));
            }
        }
    }
    for (std::size_t i = 0; i < e.whitelist.emails.size(); ++i) {
        for (const auto& b : e.blacklist.emails) {
            if (normalize_address(e.whitelist.emails[i]) == normalize_address(b)) {
                add(fmt::format("whitelist.emails[{}]", i), std::string(e.whitelist.emails[i]),
                    "is also in the blacklist; an address can be in only one of them");
            }
        }
    }
    return errors;
}

}  // namespace mailproxy::entry
