#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "core/autodns/client.hpp"
#include "zone/lint.hpp"
#include "zone/push.hpp"
#include "zone/rewrite.hpp"

namespace mailproxy::cli {

/// The MX switch's options, shared by `zone rewrite`, `zone push`, `enable` and `disable`.
struct SwitchArgs {
    std::string proxy_host{zone::k_proxy_host};
    std::string custom_host;
    std::vector<std::string> addresses;
    bool replace = false;
    unsigned preference = 10;
    long long ttl = -1;
    bool revert = false;
    std::vector<std::string> targets;  ///< [PREF:]HOST
};

/// Which switch options a command takes: both directions (--revert, --target), only forward
/// (`enable`), or only back (`disable`: no --replace, the target comes from the entry).
enum class SwitchDirection { both, forward, back };

/// Registers --proxy-host, --custom-host, --address, --preference, --ttl, and per direction --replace,
/// --revert and --target.
void add_switch_options(CLI::App* cmd, SwitchArgs& a, SwitchDirection direction);

/// Checks and converts the options (names made absolute and lower-case); the message names the option.
Expected<zone::SwitchOptions> switch_options(const SwitchArgs& a);

/// `name` absolute (trailing dot) and lower-case.
std::string absolute_name(std::string name);

/// The TTL option, if given.
std::optional<uint32_t> ttl_of(const SwitchArgs& a);

/// Parses --serial.
zone::SerialStyle serial_style(const std::string& s);

/// Rewrites `file` in place: the new text is written to a temp file beside it (same mode and owner),
/// fsynced and renamed over it; with `backup` the old text is kept as FILE+SUFFIX first. Nothing is
/// written when the rewrite has problems (they are the error's message) or changes nothing.
Expected<zone::RewriteResult> rewrite_in_place(const std::string& file, const zone::RewriteOptions& o,
                                               const std::string& backup);

/// The problems of a rewrite as lint prints them.
std::string rewrite_problems(const zone::RewriteResult& r);

/// The change as lines for a person ("removed ...", "would add ..."), or as JSON.
std::string describe_rewrite(const zone::RewriteResult& r, bool done);
nlohmann::ordered_json rewrite_json(const zone::RewriteResult& r, bool written);

/// `zone push`: reads the zone from AutoDNS, plans the switch and sends it with `_stream` (unless
/// `dry_run` or there is nothing to change). After an unclear answer the zone is read again: the push
/// counts as done when nothing is left to change.
struct PushOutcome {
    zone::StreamChange change;
    bool sent = false;
};
Expected<PushOutcome> push_zone(autodns::Client& client, const std::string& domain,
                                const zone::SwitchOptions& o, std::optional<uint32_t> ttl, bool dry_run);
std::string describe_push(const std::string& domain, const PushOutcome& p, bool dry_run);
nlohmann::ordered_json push_json(const std::string& domain, const PushOutcome& p, bool dry_run);

}  // namespace mailproxy::cli
