// `mailproxy zone lint|rules|rewrite|check|push`.
#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/mx_switch.hpp"
#include "cli/output.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"
#include "zone/lint.hpp"
#include "zone/live.hpp"
#include "zone/output.hpp"
#include "zone/rewrite.hpp"

namespace mailproxy::cli {
namespace {

/// The rule options `zone lint` and `zone check` share.
struct RuleArgs {
    std::string proxy_host{zone::k_proxy_host};
    std::vector<std::string> proxy_addresses;
    std::string custom_host;
    std::string target;
    std::string format = "text";
    std::string fail_on = "error";
};

void add_rule_options(CLI::App* cmd, RuleArgs& a) {
    cmd->add_option("--proxy-host", a.proxy_host, "The MailProxy host MX records must point at")
        ->type_name("NAME")
        ->capture_default_str();
    cmd->add_option("--proxy-address", a.proxy_addresses,
                    "An address of the MailProxy (repeatable; default 62.116.162.145)")
        ->type_name("IP");
    cmd->add_option("--custom-host", a.custom_host, "A host name of your own that points at the MailProxy")
        ->type_name("NAME");
    cmd->add_option("--target", a.target, "The real mail server, which must not be an MX any more")
        ->type_name("HOST");
    with_choices(cmd->add_option("--format", a.format, "Output format"), {"text", "json", "github"})
        ->type_name("FORMAT")
        ->capture_default_str();
    with_choices(
        cmd->add_option("--fail-on", a.fail_on, "Exit 1 when a finding of this severity or worse exists"),
        {"error", "warning", "info"})
        ->type_name("SEVERITY")
        ->capture_default_str();
}

/// The rule options checked and made absolute; the message names the bad value.
Expected<zone::LintOptions> rule_options(const RuleArgs& a) {
    zone::LintOptions o;
    o.proxy_host = absolute_name(a.proxy_host);
    if (!a.proxy_addresses.empty())
        o.proxy_addresses = a.proxy_addresses;
    o.custom_host = a.custom_host.empty() ? "" : absolute_name(a.custom_host);
    o.target = a.target.empty() ? "" : absolute_name(a.target);
    for (const auto& address : o.proxy_addresses) {
        if (!util::is_ip_address(address))
            return fail(ErrorCode::invalid, fmt::format("--proxy-address {} is not an IP address", address));
    }
    for (const auto* name : {&o.proxy_host, &o.custom_host, &o.target}) {
        if (!name->empty() && !zone::is_domain_name(*name))
            return fail(ErrorCode::invalid, fmt::format("{} is not a domain name", *name));
    }
    return o;
}

struct LintArgs {
    std::vector<std::string> files;
    std::string origin;
    std::string against;
    RuleArgs rules;
};

zone::Severity severity_of(const std::string& s) {
    return s == "info"      ? zone::Severity::info
           : s == "warning" ? zone::Severity::warning
                            : zone::Severity::error;
}

int run_lint(const Globals& g, const LintArgs& a) {
    auto checked = rule_options(a.rules);
    if (!checked) {
        print_error("zone lint: " + checked.error().message);
        return k_exit_usage;
    }
    auto& o = *checked;
    o.read.origin = a.origin.empty() ? "" : absolute_name(a.origin);
    o.against = a.against;
    if (!a.against.empty() && a.files.size() != 1) {
        print_error(
            "zone lint: --against compares one file with its previous version; name exactly one file");
        return k_exit_usage;
    }
    if (!o.read.origin.empty() && !zone::is_domain_name(o.read.origin)) {
        print_error(fmt::format("zone lint: {} is not a domain name", o.read.origin));
        return k_exit_usage;
    }
    const auto threshold = severity_of(a.rules.fail_on);
    std::vector<zone::LintResult> results;
    bool failed = false;
    for (const auto& file : a.files) {
        auto r = zone::lint_file(file, o);
        if (g.verbose > 0) {
            print_note(g, fmt::format("{}: origin {} (from {}), {} records", file, r.origin,
                                      zone::to_string(r.origin_source), r.records));
        }
        for (const auto& f : r.findings)
            failed = failed || f.severity >= threshold;
        if (a.rules.format == "text") {
            std::cout << zone::format_text(r);
        } else if (a.rules.format == "github") {
            std::cout << zone::format_github(r);
        }
        results.push_back(std::move(r));
    }
    if (a.rules.format == "json")
        std::cout << zone::format_json(results);
    return failed ? k_exit_failed : k_exit_ok;
}

int run_rules(const Globals& g) {
    if (g.json) {
        auto arr = nlohmann::ordered_json::array();
        for (const auto& r : zone::rules()) {
            arr.push_back({{"id", r.id},
                           {"severity", zone::to_string(r.severity)},
                           {"summary", r.summary},
                           {"hint", r.hint}});
        }
        std::cout << json_text(arr);
        return k_exit_ok;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : zone::rules()) {
        rows.push_back({std::string(r.id), std::string(zone::to_string(r.severity)), std::string(r.summary)});
    }
    print_table(std::cout, {"RULE", "SEVERITY", "WHAT IT FINDS"}, rows);
    return k_exit_ok;
}

struct RewriteArgs {
    std::string file;
    std::string origin;
    SwitchArgs sw;
    std::string serial = "auto";
    bool diff = false;
    bool dry_run = false;
    bool in_place = false;
    std::string backup;
};

int run_rewrite(const Globals& g, const RewriteArgs& a) {
    auto sw = switch_options(a.sw);
    if (!sw) {
        print_error("zone rewrite: " + sw.error().message);
        return k_exit_usage;
    }
    zone::RewriteOptions o;
    o.read.origin = a.origin.empty() ? "" : absolute_name(a.origin);
    if (!o.read.origin.empty() && !zone::is_domain_name(o.read.origin)) {
        print_error(fmt::format("zone rewrite: --origin {} is not a domain name", a.origin));
        return k_exit_usage;
    }
    o.change = *sw;
    o.ttl = ttl_of(a.sw);
    o.serial = serial_style(a.serial);
    if (a.in_place) {
        auto r = rewrite_in_place(a.file, o, a.backup);
        if (!r) {
            print_error(r.error().message);
            return r.error().code == ErrorCode::failed ? k_exit_failed : exit_code_for(r.error().code);
        }
        if (g.json)
            std::cout << json_text(rewrite_json(*r, r->changed()));
        else if (!g.quiet)
            std::cout << describe_rewrite(*r, true);
        return k_exit_ok;
    }
    auto r = zone::rewrite_file(a.file, o);
    if (g.verbose > 0)
        print_note(
            g, fmt::format("{}: origin {} (from {})", a.file, r.origin, zone::to_string(r.origin_source)));
    if (!r.problems.empty()) {
        std::cerr << rewrite_problems(r);
        print_error(fmt::format("{}: not rewritten ({} problem{}); nothing was written", a.file,
                                r.problems.size(), r.problems.size() == 1 ? "" : "s"));
        return k_exit_failed;
    }
    if (a.diff) {
        std::cout << zone::unified_diff(r, a.file, a.file);
    } else if (a.dry_run) {
        if (g.json)
            std::cout << json_text(rewrite_json(r, false));
        else
            std::cout << describe_rewrite(r, false);
    } else {
        std::cout << r.text;
        if (g.verbose > 0)
            std::cerr << describe_rewrite(r, false);
    }
    return k_exit_ok;
}

struct CheckArgs {
    std::string domain;
    std::string server;
    int timeout = 3;
    RuleArgs rules;
};

int run_check(const Globals& g, const CheckArgs& a) {
    auto checked = rule_options(a.rules);
    if (!checked) {
        print_error("zone check: " + checked.error().message);
        return k_exit_usage;
    }
    zone::CheckOptions o;
    o.server = a.server;
    o.timeout_seconds = a.timeout;
    o.lint = std::move(*checked);
    auto r = zone::check_domain(a.domain, o);
    if (!r) {
        print_error("zone check: " + r.error().message);
        return r.error().code == ErrorCode::invalid ? k_exit_usage : exit_code_for(r.error().code);
    }
    if (g.verbose > 0) {
        for (const auto& answer : r->answers)
            print_note(g, "answer: " + answer);
    }
    for (const auto& host : r->unanswered) {
        print_note(g,
                   fmt::format("{}: the addresses of {} were not checked (the server refused them, or there "
                               "are too many)",
                               r->file, host));
    }
    const auto threshold = severity_of(a.rules.fail_on);
    bool failed = false;
    for (const auto& f : r->findings)
        failed = failed || f.severity >= threshold;
    if (a.rules.format == "text")
        std::cout << zone::format_text(*r);
    else if (a.rules.format == "github")
        std::cout << zone::format_github(*r);
    else
        std::cout << zone::format_json({*r});
    return failed ? k_exit_failed : k_exit_ok;
}

struct PushArgs {
    std::string domain;
    SwitchArgs sw;
    bool dry_run = false;
};

int run_push(const Globals& g, const PushArgs& a) {
    auto sw = switch_options(a.sw);
    if (!sw) {
        print_error("zone push: " + sw.error().message);
        return k_exit_usage;
    }
    const auto domain =
        util::to_lower(a.domain.ends_with('.') ? a.domain.substr(0, a.domain.size() - 1) : a.domain);
    if (!zone::is_domain_name(domain + ".")) {
        print_error(fmt::format("zone push: {} is not a domain name", a.domain));
        return k_exit_usage;
    }
    auto client = open_autodns(g);
    if (!client) {
        print_error(client.error().message);
        return exit_code_for(client.error().code);
    }
    auto r = push_zone(**client, domain, *sw, ttl_of(a.sw), a.dry_run);
    if (!r) {
        print_error(r.error().message);
        return exit_code_for(r.error().code);
    }
    if (g.json)
        std::cout << json_text(push_json(domain, *r, a.dry_run));
    else if (!g.quiet || a.dry_run)
        std::cout << describe_push(domain, *r, a.dry_run);
    return k_exit_ok;
}

}  // namespace

void register_zone(Cli& cli) {
    auto* zone_cmd =
        cli.app.add_subcommand("zone", "Check zone files for mail that would bypass the MailProxy");
    zone_cmd->require_subcommand(1);
    zone_cmd->fallthrough();
    const Globals& g = cli.globals;
    {
        auto* cmd =
            zone_cmd->add_subcommand("lint", "Report every way a zone lets mail bypass the MailProxy");
        auto a = std::make_shared<LintArgs>();
        cmd->add_option("files", a->files, "Zone files")->required()->type_name("FILE");
        cmd->add_option("--origin", a->origin,
                        "The zone's name (default: $ORIGIN, the SOA owner, the file name)")
            ->type_name("NAME");
        cmd->add_option("--against", a->against,
                        "The previous version of the file: its SOA serial must increase")
            ->type_name("FILE");
        add_rule_options(cmd, a->rules);
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_lint(g, *a); }; });
    }
    {
        auto* cmd = zone_cmd->add_subcommand("rules", "List the lint rules with their ids and severities");
        cmd->callback([&cli, &g] { cli.run = [&g] { return run_rules(g); }; });
    }
    {
        auto* cmd = zone_cmd->add_subcommand(
            "rewrite", "Switch a zone file's MX to the MailProxy, keeping every other byte of the file");
        auto a = std::make_shared<RewriteArgs>();
        cmd->add_option("file", a->file, "The zone file")->required()->type_name("FILE");
        cmd->add_option("--origin", a->origin,
                        "The zone's name (default: $ORIGIN, the SOA owner, the file name)")
            ->type_name("NAME");
        add_switch_options(cmd, a->sw, SwitchDirection::both);
        with_choices(cmd->add_option("--serial", a->serial,
                                     "How the SOA serial increases (auto keeps the style it has; keep "
                                     "leaves it)"),
                     {"auto", "increment", "date", "unixtime", "keep"})
            ->type_name("STYLE")
            ->capture_default_str();
        auto* diff =
            cmd->add_flag("--diff", a->diff, "Print a unified diff instead of the file; write nothing");
        auto* dry =
            cmd->add_flag("--dry-run", a->dry_run, "Print the records that would change; write nothing");
        auto* in_place =
            cmd->add_flag("-i,--in-place", a->in_place, "Replace the file (atomically, mode and owner kept)");
        cmd->add_option("--backup", a->backup, "With --in-place: keep the old file as FILE+SUFFIX")
            ->type_name("SUFFIX")
            ->needs(in_place);
        diff->excludes(dry)->excludes(in_place);
        dry->excludes(in_place);
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_rewrite(g, *a); }; });
    }
    {
        auto* cmd = zone_cmd->add_subcommand("check", "Apply the lint rules to a domain's live DNS answers");
        auto a = std::make_shared<CheckArgs>();
        cmd->add_option("domain", a->domain, "The domain")->required()->type_name("DOMAIN");
        cmd->add_option("--server", a->server, "Ask this DNS server (default: the system's resolvers)")
            ->type_name("IP[:PORT]");
        cmd->add_option("--timeout", a->timeout, "Seconds to wait for each answer")
            ->type_name("SECONDS")
            ->check(CLI::Range(1, 60))
            ->capture_default_str();
        add_rule_options(cmd, a->rules);
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_check(g, *a); }; });
    }
    {
        auto* cmd =
            zone_cmd->add_subcommand("push", "Switch the MX of a zone held in AutoDNS to the MailProxy");
        auto a = std::make_shared<PushArgs>();
        cmd->add_option("domain", a->domain, "The zone's name")->required()->type_name("DOMAIN");
        add_switch_options(cmd, a->sw, SwitchDirection::both);
        cmd->add_flag("--dry-run", a->dry_run, "Print the records that would change; send nothing");
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_push(g, *a); }; });
    }
}

}  // namespace mailproxy::cli
