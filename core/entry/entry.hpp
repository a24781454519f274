#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/error.hpp"

namespace mailproxy::entry {

/// `protection`: a preset, or CUSTOM for the values as given.
enum class Protection { high, medium, low, off, custom };

/// `virus`, `bannedFiles`, `header`, `spam.mode`: what to do with a finding.
enum class PolicyMode { disabled, quarantine, discard, accept };

inline constexpr std::array k_protections{Protection::high, Protection::medium, Protection::low,
                                          Protection::off, Protection::custom};
inline constexpr std::array k_policy_modes{PolicyMode::disabled, PolicyMode::quarantine, PolicyMode::discard,
                                           PolicyMode::accept};

/// AutoDNS spelling: "HIGH", "MEDIUM", "LOW", "OFF", "CUSTOM".
std::string_view to_string(Protection p);
/// AutoDNS spelling: "DISABLED", "QUARANTINE", "DISCARD", "ACCEPT".
std::string_view to_string(PolicyMode m);
/// Case-insensitive; nullopt for anything that is not one of the spellings above.
std::optional<Protection> parse_protection(std::string_view s);
std::optional<PolicyMode> parse_policy_mode(std::string_view s);

/// The `spam` object (AutoDNS `SpamPolicy`).
struct SpamPolicy {
    PolicyMode mode = PolicyMode::accept;
    bool modify_subject = true;
    double tag_header = -999;
    double spam = 6.5;
    double kill = 999;
    int quarantine_digest_interval = 1440;

    bool operator==(const SpamPolicy&) const = default;
};

/// The values a protection preset fixes; CUSTOM entries carry their own.
struct Policy {
    PolicyMode virus = PolicyMode::accept;
    PolicyMode banned_files = PolicyMode::accept;
    PolicyMode header = PolicyMode::disabled;
    SpamPolicy spam;

    bool operator==(const Policy&) const = default;
};

/// `whitelist`, `blacklist`, `excludelist`: `{"emails": [...]}`.
struct MailList {
    std::vector<std::string> emails;
    nlohmann::ordered_json unknown = nlohmann::ordered_json::object();  ///< members other than `emails`
};

/// One MailProxy entry: exactly the AutoDNS JSON API `MailProxy` object.
struct MailProxy {
    std::string domain;
    std::string target;
    std::string admin;
    Protection protection = Protection::medium;
    bool greylisting = false;
    Policy policy;  ///< as stored; see effective_policy()
    MailList whitelist;
    MailList blacklist;
    MailList excludelist;
    /// Members this version does not model, including the server-set `created`, `updated`, `owner`,
    /// `updater` and `idn`: kept as read, written back unchanged, in their original order.
    nlohmann::ordered_json unknown = nlohmann::ordered_json::object();
    nlohmann::ordered_json spam_unknown = nlohmann::ordered_json::object();  ///< likewise inside `spam`
};

/// Members the AutoDNS server sets; kept when read, never sent.
inline constexpr std::array<std::string_view, 5> k_server_fields{"created", "updated", "owner", "updater",
                                                                 "idn"};

/// One problem found while reading or validating, naming the field (JSON path) and its value.
struct FieldError {
    std::string field;  ///< e.g. "spam.kill", "whitelist.emails[2]"
    std::string value;  ///< the offending value as text (JSON for non-strings), may be empty
    std::string message;

    /// "spam.kill (6) must be greater than spam.spam (6.5)"
    std::string to_string() const;
};

/// Reads an AutoDNS MailProxy object. Accepts `greylisting` as "ENABLED"/"DISABLED", true/false and
/// "true"/"false"; scores and the digest interval as numbers or numeric strings. A policy field that is
/// absent takes the value of the entry's preset (MEDIUM's for CUSTOM). Fails with every type error found
/// (one FieldError each); does not check semantics (see validate()).
tl::expected<MailProxy, std::vector<FieldError>> from_json(const nlohmann::ordered_json& j);

/// Writes the canonical form: known members in AutoDNS order, enums upper-case, greylisting as
/// "ENABLED"/"DISABLED", scores as numbers, then the unknown members unchanged.
nlohmann::ordered_json to_json(const MailProxy& e);

/// The policy members (`virus`, `bannedFiles`, `header`, `spam`) as they appear in a MailProxy object.
nlohmann::ordered_json policy_to_json(const Policy& p);

/// Parses JSON text (an object) into an entry; the error text names the first syntax error's byte offset
/// or each field error, one per line.
Expected<MailProxy> parse(std::string_view text);

/// `to_json(e).dump(2)` plus a final newline: the form files and `--json` output use.
std::string dump(const MailProxy& e);

}  // namespace mailproxy::entry
