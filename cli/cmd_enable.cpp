// `mailproxy enable DOMAIN` and `mailproxy disable DOMAIN`: the product documentation's three steps in one
// command. Enable orders the entry first and then switches the MX, so that the proxy knows the domain
// before mail arrives; disable puts the real server back first and removes the entry last.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/mx_switch.hpp"
#include "cli/output.hpp"
#include "core/entry/presets.hpp"
#include "core/entry/validate.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::cli {
namespace {

struct ZoneArgs {
    std::string zone_file;
    bool push = false;
    std::string origin;
    std::string serial = "auto";
    SwitchArgs sw;
};

struct EnableArgs {
    std::string domain;
    std::string target;
    std::string admin;
    std::string protection = "MEDIUM";
    ZoneArgs zone;
};

struct DisableArgs {
    std::string domain;
    std::string target;
    ZoneArgs zone;
};

void add_zone_args(CLI::App* cmd, ZoneArgs& z, SwitchDirection direction) {
    auto* file = cmd->add_option("--zone-file", z.zone_file, "Switch the MX in this zone file (in place)")
                     ->type_name("FILE");
    auto* push = cmd->add_flag("--push", z.push, "Switch the MX in the zone held in AutoDNS");
    file->excludes(push);
    cmd->add_option("--origin", z.origin, "With --zone-file: the zone's name (default: the domain)")
        ->type_name("NAME");
    with_choices(cmd->add_option("--serial", z.serial, "With --zone-file: how the SOA serial increases"),
                 {"auto", "increment", "date", "unixtime", "keep"})
        ->type_name("STYLE")
        ->capture_default_str();
    add_switch_options(cmd, z.sw, direction);
}

/// The switch step: the zone file rewritten in place, or the AutoDNS zone pushed. Returns what changed.
Expected<std::string> switch_mx(const Globals& g, const std::string& domain, const ZoneArgs& z,
                                const zone::SwitchOptions& o) {
    if (z.push) {
        auto client = open_autodns(g);
        if (!client)
            return tl::make_unexpected(client.error());
        auto r = push_zone(**client, domain, o, ttl_of(z.sw), false);
        if (!r)
            return tl::make_unexpected(r.error());
        return describe_push(domain, *r, false);
    }
    zone::RewriteOptions ro;
    ro.read.origin = absolute_name(z.origin.empty() ? domain : z.origin);
    ro.change = o;
    ro.ttl = ttl_of(z.sw);
    ro.serial = serial_style(z.serial);
    auto r = rewrite_in_place(z.zone_file, ro, "");
    if (!r)
        return tl::make_unexpected(r.error());
    return describe_rewrite(*r, true);
}

/// The switch planned but not applied: whether it would change anything; an error when it cannot be
/// done (syntax errors, conflicts, an unknown zone), so that nothing is started that cannot be finished.
Expected<bool> plan_switch_only(const Globals& g, const std::string& domain, const ZoneArgs& z,
                                const zone::SwitchOptions& o) {
    if (z.push) {
        auto client = open_autodns(g);
        if (!client)
            return tl::make_unexpected(client.error());
        auto r = push_zone(**client, domain, o, ttl_of(z.sw), true);
        if (!r)
            return tl::make_unexpected(r.error());
        return !r->change.empty();
    }
    zone::RewriteOptions ro;
    ro.read.origin = absolute_name(z.origin.empty() ? domain : z.origin);
    ro.change = o;
    ro.ttl = ttl_of(z.sw);
    ro.serial = serial_style(z.serial);
    auto r = zone::rewrite_file(z.zone_file, ro);
    if (!r.problems.empty())
        return fail(ErrorCode::failed,
                    rewrite_problems(r) + fmt::format("{}: cannot be switched", z.zone_file));
    return r.changed();
}

/// A word for a shell command line, quoted when it needs to be.
std::string shell_word(const std::string& w) {
    const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               std::string_view("._/:@%+=,-").find(c) != std::string_view::npos;
    });
    return plain ? w : "'" + util::replace_all(w, "'", "'\\''") + "'";
}

/// The command that does the switch step alone, with every option this run used.
std::string finish_switch(const Globals& g, const std::string& domain, const ZoneArgs& z, bool revert,
                          const std::string& target) {
    std::string out = "mailproxy";
    const auto add = [&out](std::initializer_list<std::string_view> words) {
        for (const auto word : words)
            out += " " + shell_word(std::string(word));
    };
    if (!g.config.empty())
        add({"--config", g.config});
    if (z.push && g.demo)
        add({"--demo"});
    if (z.push) {
        add({"zone", "push"});
    } else {
        add({"zone", "rewrite", "--in-place", "--origin", z.origin.empty() ? domain : z.origin});
        if (z.serial != "auto")
            add({"--serial", z.serial});
    }
    const auto& sw = z.sw;
    if (absolute_name(sw.proxy_host) != zone::k_proxy_host)
        add({"--proxy-host", sw.proxy_host});
    if (!sw.custom_host.empty())
        add({"--custom-host", sw.custom_host});
    for (const auto& address : sw.addresses)
        add({"--address", address});
    if (sw.replace)
        add({"--replace"});
    if (sw.preference != 10)
        add({"--preference", std::to_string(sw.preference)});
    if (sw.ttl >= 0)
        add({"--ttl", std::to_string(sw.ttl)});
    if (revert)
        add({"--revert", "--target", target});
    add({z.push ? domain : z.zone_file});
    return out;
}

Expected<std::string> checked_domain(const std::string& input) {
    auto d = entry::normalize_domain(input);
    if (!d)
        return tl::make_unexpected(d.error());
    if (auto p = entry::domain_problem(*d); !p.empty())
        return fail(ErrorCode::invalid, fmt::format("{}: {}", input, p));
    return d;
}

int run_enable(const Globals& g, const EnableArgs& a) {
    if (a.zone.zone_file.empty() && !a.zone.push) {
        print_error("enable: say where the MX is switched: --zone-file FILE or --push");
        return k_exit_usage;
    }
    auto domain = checked_domain(a.domain);
    if (!domain) {
        print_error("enable: " + domain.error().message);
        return k_exit_invalid;
    }
    auto sw = switch_options(a.zone.sw);
    if (!sw) {
        print_error("enable: " + sw.error().message);
        return k_exit_usage;
    }
    entry::MailProxy wanted;
    wanted.domain = *domain;
    wanted.target = a.target;
    wanted.admin = a.admin;
    entry::set_protection(wanted, *entry::parse_protection(a.protection));
    if (auto errors = entry::validate(wanted); !errors.empty()) {
        print_error(store::describe_invalid(*domain, errors));
        return k_exit_invalid;
    }
    // the switch must be possible before anything is ordered
    if (auto planned = plan_switch_only(g, *domain, a.zone, *sw); !planned) {
        print_error(planned.error().message);
        print_error(
            fmt::format("{}: nothing was done: no entry was created and the MX is as it was", *domain));
        return planned.error().code == ErrorCode::failed ? k_exit_failed
                                                         : exit_code_for(planned.error().code);
    }
    auto opened = open_store(g);
    if (!opened) {
        print_error(opened.error().message);
        return exit_code_for(opened.error().code);
    }
    auto& store = *opened;
    // step 1: the entry (idempotent: an existing one is brought to the given values). Asked for first:
    // AutoDNS does not document the error code of a create that finds the entry there.
    std::string step1;
    const auto stop = [&](const Error& e) {
        print_error(e.message);
        print_error(fmt::format("{}: nothing was switched; the MX is as it was", *domain));
        return exit_code_for(e.code);
    };
    auto existing = store->info(*domain);
    if (!existing && existing.error().code != ErrorCode::not_found)
        return stop(existing.error());
    if (!existing) {
        if (auto created = store->create(wanted); !created)
            return stop(created.error());
        step1 = fmt::format("{}: entry created (target {}, admin {}, protection {})", *domain, wanted.target,
                            wanted.admin, a.protection);
    } else {
        bool changed = false;
        auto updated = store->update(*domain, [&](entry::MailProxy& e) -> Expected<void> {
            if (e.target != wanted.target || e.admin != wanted.admin || e.protection != wanted.protection) {
                e.target = wanted.target;
                e.admin = wanted.admin;
                if (e.protection != wanted.protection)
                    entry::set_protection(e, wanted.protection);
                changed = true;
            }
            return {};
        });
        if (!updated)
            return stop(updated.error());
        step1 = changed ? fmt::format("{}: entry existed; updated to target {}, admin {}, protection {}",
                                      *domain, wanted.target, wanted.admin, a.protection)
                        : fmt::format("{}: entry exists already with these values", *domain);
    }
    if (!g.quiet)
        std::cout << step1 << '\n';
    // step 2: the MX
    auto switched = switch_mx(g, *domain, a.zone, *sw);
    if (!switched) {
        print_error(switched.error().message);
        print_error(
            fmt::format("{}: the entry is in place (step 1 of 2 done), but the MX was not switched (step "
                        "2 failed): mail still goes to the old server. Finish with:\n  {}",
                        *domain, finish_switch(g, *domain, a.zone, false, "")));
        return switched.error().code == ErrorCode::failed ? k_exit_failed
                                                          : exit_code_for(switched.error().code);
    }
    if (!g.quiet)
        std::cout << *switched;
    return k_exit_ok;
}

/// The entry's target as an MX host: "host", "host:port" and "smtp://host[:port]" qualify.
Expected<std::string> mx_host_of(const std::string& target) {
    std::string t = target;
    if (t.starts_with("smtp://"))
        t = t.substr(7);
    if (t.starts_with("lmtp:") || t.starts_with("maildir:") || t.starts_with("[")) {
        return fail(ErrorCode::invalid,
                    fmt::format("the entry's target {} is not a host an MX can point at; give --target HOST",
                                target));
    }
    if (const auto colon = t.find(':'); colon != std::string::npos)
        t = t.substr(0, colon);
    return t;
}

int run_disable(const Globals& g, const DisableArgs& a) {
    if (a.zone.zone_file.empty() && !a.zone.push) {
        print_error("disable: say where the MX is switched back: --zone-file FILE or --push");
        return k_exit_usage;
    }
    auto domain = checked_domain(a.domain);
    if (!domain) {
        print_error("disable: " + domain.error().message);
        return k_exit_invalid;
    }
    auto opened = open_store(g);
    if (!opened) {
        print_error(opened.error().message);
        return exit_code_for(opened.error().code);
    }
    auto& store = *opened;
    auto current = store->info(*domain);
    if (!current && current.error().code != ErrorCode::not_found) {
        print_error(current.error().message);
        return exit_code_for(current.error().code);
    }
    std::string target = a.target;
    if (target.empty() && current) {
        auto host = mx_host_of(current->target);
        if (!host) {
            print_error(fmt::format("disable: {}", host.error().message));
            return k_exit_usage;
        }
        target = *host;
    }
    // step 1: the real server back as MX; without a target (the entry is gone) only a zone that no longer
    // points at the proxy counts as done
    auto args = a.zone.sw;
    args.revert = true;
    args.targets = {target.empty() ? std::string("unknown.invalid") : target};
    auto sw = switch_options(args);
    if (!sw) {
        print_error("disable: " + sw.error().message);
        return k_exit_usage;
    }
    sw->exclusive = true;  // no MX may be left to a proxy host nobody named
    if (target.empty()) {
        // no entry and no --target: done only if the zone no longer points at the proxy
        sw->targets.clear();
        auto left = plan_switch_only(g, *domain, a.zone, *sw);
        if (!left) {
            print_error(left.error().message);
            return exit_code_for(left.error().code);
        }
        if (*left) {
            print_error(
                fmt::format("disable: {} has no entry to take the mail server from, and the zone still "
                            "points at the MailProxy: give --target HOST",
                            *domain));
            return k_exit_usage;
        }
    }
    auto switched = switch_mx(g, *domain, a.zone, *sw);
    if (!switched) {
        print_error(switched.error().message);
        print_error(
            fmt::format("{}: nothing was changed: the MX still points at the MailProxy and the entry is "
                        "in place",
                        *domain));
        return switched.error().code == ErrorCode::failed ? k_exit_failed
                                                          : exit_code_for(switched.error().code);
    }
    if (!g.quiet)
        std::cout << *switched;
    // step 2: the entry
    if (!current) {
        if (!g.quiet)
            std::cout << fmt::format("{}: entry removed already\n", *domain);
        return k_exit_ok;
    }
    auto removed = store->remove(*domain);
    if (!removed && removed.error().code != ErrorCode::not_found) {
        print_error(removed.error().message);
        print_error(
            fmt::format("{}: the MX points at {} again (step 1 of 2 done), but the entry was not removed "
                        "(step 2 failed). Finish with:\n  mailproxy entry delete {}",
                        *domain, target, *domain));
        return exit_code_for(removed.error().code);
    }
    if (!g.quiet)
        std::cout << fmt::format("{}: entry removed\n", *domain);
    return k_exit_ok;
}

}  // namespace

void register_enable(Cli& cli) {
    const Globals& g = cli.globals;
    {
        auto* cmd = cli.app.add_subcommand(
            "enable", "Put a domain behind the MailProxy: create the entry, then switch the MX");
        auto a = std::make_shared<EnableArgs>();
        cmd->add_option("domain", a->domain, "The domain")->required()->type_name("DOMAIN");
        cmd->add_option("--target", a->target, "The real mail server the proxy delivers to")
            ->required()
            ->type_name("HOST");
        cmd->add_option("--admin", a->admin, "The quarantine address (gets the digest)")
            ->required()
            ->type_name("ADDRESS");
        with_choices(cmd->add_option("--protection", a->protection, "Protection level"),
                     {"HIGH", "MEDIUM", "LOW", "OFF"})
            ->type_name("LEVEL")
            ->capture_default_str();
        add_zone_args(cmd, a->zone, SwitchDirection::forward);
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_enable(g, *a); }; });
    }
    {
        auto* cmd = cli.app.add_subcommand(
            "disable", "Take a domain from behind the MailProxy: switch the MX back, then remove the entry");
        auto a = std::make_shared<DisableArgs>();
        cmd->add_option("domain", a->domain, "The domain")->required()->type_name("DOMAIN");
        cmd->add_option("--target", a->target,
                        "The mail server to put back as MX (default: the entry's target)")
            ->type_name("HOST");
        add_zone_args(cmd, a->zone, SwitchDirection::back);
        cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_disable(g, *a); }; });
    }
}

}  // namespace mailproxy::cli
