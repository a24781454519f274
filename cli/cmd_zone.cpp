// `mailproxy zone lint FILE...` and `mailproxy zone rules`.
#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/output.hpp"
#include "core/util/net.hpp"
#include "zone/lint.hpp"
#include "zone/output.hpp"

namespace mailproxy::cli {
namespace {

struct LintArgs {
    std::vector<std::string> files;
    std::string origin;
    std::string proxy_host{zone::k_proxy_host};
    std::vector<std::string> proxy_addresses;
    std::string custom_host;
    std::string target;
    std::string against;
    std::string format = "text";
    std::string fail_on = "error";
};

std::string absolute_name(std::string name) {
    if (!name.empty() && name.back() != '.')
        name += '.';
    for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
}

zone::Severity severity_of(const std::string& s) {
    return s == "info"      ? zone::Severity::info
           : s == "warning" ? zone::Severity::warning
                            : zone::Severity::error;
}

int run_lint(const Globals& g, const LintArgs& a) {
    zone::LintOptions o;
    o.read.origin = a.origin.empty() ? "" : absolute_name(a.origin);
    o.proxy_host = absolute_name(a.proxy_host);
    if (!a.proxy_addresses.empty())
        o.proxy_addresses = a.proxy_addresses;
    o.custom_host = a.custom_host.empty() ? "" : absolute_name(a.custom_host);
    o.target = a.target.empty() ? "" : absolute_name(a.target);
    o.against = a.against;
    if (!a.against.empty() && a.files.size() != 1) {
        print_error(
            "zone lint: --against compares one file with its previous version; name exactly one file");
        return k_exit_usage;
    }
    for (const auto& address : o.proxy_addresses) {
        if (!util::is_ip_address(address)) {
            print_error(fmt::format("zone lint: --proxy-address {} is not an IP address", address));
            return k_exit_usage;
        }
    }
    for (const auto* name : {&o.read.origin, &o.proxy_host, &o.custom_host, &o.target}) {
        if (!name->empty() && !zone::is_domain_name(*name)) {
            print_error(fmt::format("zone lint: {} is not a domain name", *name));
            return k_exit_usage;
        }
    }
    const auto threshold = severity_of(a.fail_on);
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
        if (a.format == "text") {
            std::cout << zone::format_text(r);
        } else if (a.format == "github") {
            std::cout << zone::format_github(r);
        }
        results.push_back(std::move(r));
    }
    if (a.format == "json")
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
        cmd->add_option("--proxy-host", a->proxy_host, "The MailProxy host MX records must point at")
            ->type_name("NAME")
            ->capture_default_str();
        cmd->add_option("--proxy-address", a->proxy_addresses,
                        "An address of the MailProxy (repeatable; default 62.116.162.145)")
            ->type_name("IP");
        cmd->add_option("--custom-host", a->custom_host,
                        "A host name of your own that points at the MailProxy")
            ->type_name("NAME");
        cmd->add_option("--target", a->target, "The real mail server, which must not be an MX any more")
            ->type_name("HOST");
        cmd->add_option("--against", a->against,
                        "The previous version of the file: its SOA serial must increase")
            ->type_name("FILE");
        with_choices(cmd->add_option("--format", a->format, "Output format"), {"text", "json", "github"})
            ->type_name("FORMAT")
            ->capture_default_str();
        with_choices(cmd->add_option("--fail-on", a->fail_on,
                                     "Exit 1 when a finding of this severity or worse exists"),
                     {"error", "warning", "info"})
            ->type_name("SEVERITY")
            ->capture_default_str();
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_lint(g, *a); }; });
    }
    {
        auto* cmd = zone_cmd->add_subcommand("rules", "List the lint rules with their ids and severities");
        cmd->callback([&cli, &g] { cli.run = [&g] { return run_rules(g); }; });
    }
}

}  // namespace mailproxy::cli
