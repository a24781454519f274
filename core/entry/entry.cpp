#include "core/entry/entry.hpp"

#include <fmt/format.h>

#include "core/entry/presets.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::entry {
namespace {

using json = nlohmann::ordered_json;
using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 5> k_protection_names{"HIGH", "MEDIUM", "LOW", "OFF", "CUSTOM"};
constexpr std::array<std::string_view, 4> k_mode_names{"DISABLED", "QUARANTINE", "DISCARD", "ACCEPT"};

// Members from_json() models; everything else goes to `unknown`.
constexpr std::array<std::string_view, 12> k_known{"domain",      "target",    "admin",       "protection",
                                                   "greylisting", "virus",     "bannedFiles", "header",
                                                   "spam",        "whitelist", "blacklist",   "excludelist"};
constexpr std::array<std::string_view, 6> k_spam_known{"mode", "modifySubject", "tagHeader",
                                                       "spam", "kill",          "quarantineDigestInterval"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view key) {
    for (auto n : names) {
        if (n == key)
            return true;
    }
    return false;
}

std::string value_text(const json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

class Reader {
  public:
    std::vector<FieldError> errors;

    void type_error(const std::string& field, const json& v, std::string_view expected) {
        errors.push_back({field, value_text(v), fmt::format("must be {}", expected)});
    }

    void string(const json& obj, const char* key, std::string& out) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        if (!it->is_string())
            return type_error(key, *it, "a string");
        out = it->get<std::string>();
    }

    template <typename Enum, typename Parse>
    void enumeration(const json& obj, const char* key, const std::string& field, Enum& out, Parse parse,
                     std::string_view names) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        std::optional<Enum> v;
        if (it->is_string()) {
            const auto s = it->get<std::string>();
            if (s == util::to_upper(s))
                v = parse(s);  // JSON spellings are upper-case exactly
        }
        if (!v)
            return type_error(field, *it, fmt::format("one of {}", names));
        out = *v;
    }

    void greylisting(const json& obj, bool& out) {
        const auto it = obj.find("greylisting");
        if (it == obj.end() || it->is_null())
            return;
        if (it->is_boolean()) {
            out = it->get<bool>();
            return;
        }
        if (it->is_string()) {
            const auto s = util::to_upper(it->get<std::string>());
            if (s == "ENABLED" || s == "TRUE") {
                out = true;
                return;
            }
            if (s == "DISABLED" || s == "FALSE") {
                out = false;
                return;
            }
        }
        type_error("greylisting", *it, "ENABLED, DISABLED, true or false");
    }

    void boolean(const json& obj, const char* key, const std::string& field, bool& out) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        if (it->is_boolean()) {
            out = it->get<bool>();
        } else if (it->is_string() && (*it == "true" || *it == "false")) {
            out = *it == "true";
        } else {
            type_error(field, *it, "true or false");
        }
    }

    void number(const json& obj, const char* key, const std::string& field, double& out) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        std::optional<double> v;
        if (it->is_number())
            v = it->get<double>();
        if (it->is_string())
            v = util::parse_number(util::trim(it->get<std::string>()));
        if (!v)
            return type_error(field, *it, "a number");
        out = *v;
    }

    void integer(const json& obj, const char* key, const std::string& field, int& out) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        std::optional<long long> v;
        if (it->is_number_integer())
            v = it->get<long long>();
        if (it->is_number_float()) {
            const double d = it->get<double>();
            if (d >= -2147483648.0 && d <= 2147483647.0 &&
                d == static_cast<double>(static_cast<long long>(d)))
                v = static_cast<long long>(d);
        }
        if (it->is_string())
            v = util::parse_integer(util::trim(it->get<std::string>()));
        if (!v || *v < INT32_MIN || *v > INT32_MAX)
            return type_error(field, *it, "a whole number");
        out = static_cast<int>(*v);
    }

    void list(const json& obj, const char* key, MailList& out) {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return;
        if (!it->is_object())
            return type_error(key, *it, R"(an object {"emails": [...]})");
        for (const auto& [k, v] : it->items()) {
            if (k != "emails")
                out.unknown[k] = v;
        }
        const auto emails = it->find("emails");
        if (emails == it->end() || emails->is_null())
            return;
        const std::string field = std::string(key) + ".emails";
        if (!emails->is_array())
            return type_error(field, *emails, "an array of addresses");
        for (std::size_t i = 0; i < emails->size(); ++i) {
            const auto& e = (*emails)[i];
            if (!e.is_string()) {
                type_error(fmt::format("{}[{}]", field, i), e, "a string");
                continue;
            }
            out.emails.push_back(e.get<std::string>());
        }
    }
};

const char* const k_mode_list = "DISABLED, QUARANTINE, DISCARD, ACCEPT";

}  // namespace

std::string_view to_string(Protection p) {
    return k_protection_names.at(static_cast<std::size_t>(p));
}
std::string_view to_string(PolicyMode m) {
    return k_mode_names.at(static_cast<std::size_t>(m));
}

std::optional<Protection> parse_protection(std::string_view s) {
    const auto up = util::to_upper(s);
    for (auto p : k_protections) {
        if (to_string(p) == up)
            return p;
    }
    return std::nullopt;
}

std::optional<PolicyMode> parse_policy_mode(std::string_view s) {
    const auto up = util::to_upper(s);
    for (auto m : k_policy_modes) {
        if (to_string(m) == up)
            return m;
    }
    return std::nullopt;
}

std::string FieldError::to_string() const {
    if (value.empty())
        return fmt::format("{} {}", field, message);
    return fmt::format("{} ({}) {}", field, value, message);
}

tl::expected<MailProxy, std::vector<FieldError>> from_json(const json& j) {
    if (!j.is_object()) {
        return tl::make_unexpected(std::vector<FieldError>{
            {"(entry)", value_text(j).substr(0, 40), "must be a JSON object (an AutoDNS MailProxy)"}});
    }
    Reader r;
    MailProxy e;
    r.string(j, "domain", e.domain);
    r.string(j, "target", e.target);
    r.string(j, "admin", e.admin);
    r.enumeration(j, "protection", "protection", e.protection, parse_protection,
                  "HIGH, MEDIUM, LOW, OFF, CUSTOM");
    // Absent policy members take the preset's value (MEDIUM's, the published one, for CUSTOM).
    e.policy = preset(e.protection == Protection::custom ? Protection::medium : e.protection);
    r.greylisting(j, e.greylisting);
    r.enumeration(j, "virus", "virus", e.policy.virus, parse_policy_mode, k_mode_list);
    r.enumeration(j, "bannedFiles", "bannedFiles", e.policy.banned_files, parse_policy_mode, k_mode_list);
    r.enumeration(j, "header", "header", e.policy.header, parse_policy_mode, k_mode_list);
    if (const auto spam = j.find("spam"); spam != j.end() && !spam->is_null()) {
        if (!spam->is_object()) {
            r.type_error("spam", *spam, "an object (AutoDNS SpamPolicy)");
        } else {
            auto& s = e.policy.spam;
            r.enumeration(*spam, "mode", "spam.mode", s.mode, parse_policy_mode, k_mode_list);
            r.boolean(*spam, "modifySubject", "spam.modifySubject", s.modify_subject);
            r.number(*spam, "tagHeader", "spam.tagHeader", s.tag_header);
            r.number(*spam, "spam", "spam.spam", s.spam);
            r.number(*spam, "kill", "spam.kill", s.kill);
            r.integer(*spam, "quarantineDigestInterval", "spam.quarantineDigestInterval",
                      s.quarantine_digest_interval);
            for (const auto& [k, v] : spam->items()) {
                if (!contains(k_spam_known, k))
                    e.spam_unknown[k] = v;
            }
        }
    }
    r.list(j, "whitelist", e.whitelist);
    r.list(j, "blacklist", e.blacklist);
    r.list(j, "excludelist", e.excludelist);
    for (const auto& [k, v] : j.items()) {
        if (!contains(k_known, k))
            e.unknown[k] = v;
    }
    if (!r.errors.empty())
        return tl::make_unexpected(std::move(r.errors));
    return e;
}

namespace {

ojson number_json(double v) {
    // Whole scores are written as integers (-999, not -999.0), as AutoDNS returns them.
    if (v > -1e15 && v < 1e15 && v == static_cast<double>(static_cast<long long>(v))) {
        return static_cast<long long>(v);
    }
    return v;
}

ojson list_json(const MailList& l) {
    ojson out = ojson::object();
    out["emails"] = l.emails;
    for (const auto& [k, v] : l.unknown.items())
        out[k] = v;
    return out;
}

}  // namespace

ojson policy_to_json(const Policy& p) {
    ojson j = ojson::object();
    j["virus"] = to_string(p.virus);
    j["bannedFiles"] = to_string(p.banned_files);
    j["header"] = to_string(p.header);
    ojson spam = ojson::object();
    spam["mode"] = to_string(p.spam.mode);
    spam["modifySubject"] = p.spam.modify_subject;
    spam["tagHeader"] = number_json(p.spam.tag_header);
    spam["spam"] = number_json(p.spam.spam);
    spam["kill"] = number_json(p.spam.kill);
    spam["quarantineDigestInterval"] = p.spam.quarantine_digest_interval;
    j["spam"] = std::move(spam);
    return j;
}

ojson to_json(const MailProxy& e) {
    ojson j = ojson::object();
    j["domain"] = e.domain;
    j["target"] = e.target;
    j["admin"] = e.admin;
    j["protection"] = to_string(e.protection);
    j["greylisting"] = e.greylisting ? "ENABLED" : "DISABLED";
    const auto policy = policy_to_json(e.policy);
    for (const auto& [k, v] : policy.items())
        j[k] = v;
    for (const auto& [k, v] : e.spam_unknown.items())
        j["spam"][k] = v;
    j["whitelist"] = list_json(e.whitelist);
    j["blacklist"] = list_json(e.blacklist);
    j["excludelist"] = list_json(e.excludelist);
    for (const auto& [k, v] : e.unknown.items())
        j[k] = v;
    return j;
}

Expected<MailProxy> parse(std::string_view text) {
    json j;
    try {
        j = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& ex) {
        return fail(ErrorCode::corrupt, fmt::format("not valid JSON (at byte {})", ex.byte));
    }
    auto e = from_json(j);
    if (!e) {
        std::string msg;
        for (const auto& fe : e.error()) {
            if (!msg.empty())
                msg += "\n";
            msg += fe.to_string();
        }
        return fail(ErrorCode::corrupt, msg);
    }
    return std::move(*e);
}

std::string dump(const MailProxy& e) {
    return to_json(e).dump(2) + "\n";
}

}  // namespace mailproxy::entry
