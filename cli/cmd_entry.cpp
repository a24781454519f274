// `mailproxy entry create|update|delete|info|list|export|import`
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "core/entry/presets.hpp"
#include "core/entry/validate.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::cli {
namespace {

using entry::MailProxy;

constexpr std::size_t k_max_input = 64u << 20;

const std::vector<std::string> k_modes{"DISABLED", "QUARANTINE", "DISCARD", "ACCEPT"};
const std::vector<std::string> k_levels{"HIGH", "MEDIUM", "LOW", "OFF", "CUSTOM"};

/// The options `entry create` and `entry update` share; `given()` tells which were set (command line
/// or config file).
struct EntryOptions {
    std::string target, admin, protection, greylisting, virus, banned_files, header, spam_mode;
    bool modify_subject = false;
    double tag_header = 0, spam_score = 0, kill_score = 0;
    int digest = 0;
    std::map<std::string, std::vector<std::string>> lists;  // "whitelist", "add-whitelist", …
    std::map<std::string, CLI::Option*> opts;

    bool given(const std::string& name) const {
        const auto it = opts.find(name);
        return it != opts.end() && it->second->count() > 0;
    }
    bool any_given() const {
        for (const auto& [name, opt] : opts) {
            if (opt->count() > 0)
                return true;
        }
        return false;
    }
};

void add_entry_options(CLI::App& cmd, EntryOptions& o, bool update) {
    const auto add = [&](const std::string& key, CLI::Option* opt) {
        o.opts[key] = opt;
        return opt;
    };
    auto* target =
        add("target", cmd.add_option("--target", o.target,
                                     "Mail server that receives the checked mail: host[:port], "
                                     "[IP][:port], lmtp://host:port, lmtp:unix:/path, maildir:/path")
                          ->type_name("HOST"));
    auto* admin = add("admin", cmd.add_option("--admin", o.admin,
                                              "Quarantine e-mail address: receives the quarantine digest")
                                   ->type_name("ADDR"));
    if (!update) {
        target->required();
        admin->required();
    }
    add("protection",
        with_choices(cmd.add_option("--protection", o.protection,
                                    update ? "Protection level; a preset replaces the policy values"
                                           : "Protection level (default MEDIUM)"),
                     k_levels)
            ->type_name("LEVEL"));
    add("greylisting",
        with_choices(cmd.add_option("--greylisting", o.greylisting,
                                    update ? "Greylisting on or off" : "Greylisting on or off (default off)"),
                     {"on", "off"}));
    add("virus", with_choices(cmd.add_option("--virus", o.virus, "Action for mail with a virus"), k_modes)
                     ->type_name("MODE"));
    add("banned-files", with_choices(cmd.add_option("--banned-files", o.banned_files,
                                                    "Action for mail with a banned file type"),
                                     k_modes)
                            ->type_name("MODE"));
    add("header",
        with_choices(cmd.add_option("--header", o.header, "Action for mail with a bad header"), k_modes)
            ->type_name("MODE"));
    add("spam-mode", with_choices(cmd.add_option("--spam-mode", o.spam_mode,
                                                 "Action for mail scoring at or above the kill score"),
                                  k_modes)
                         ->type_name("MODE"));
    add("modify-subject", cmd.add_flag("--modify-subject,!--no-modify-subject", o.modify_subject,
                                       "Prefix '+++SPAM ' to the subject of spam (or not)"));
    add("tag-header", cmd.add_option("--tag-header", o.tag_header,
                                     "Score from which X-Spam-Status and X-Spam-Level are added")
                          ->type_name("N"));
    add("spam-score", cmd.add_option("--spam-score", o.spam_score,
                                     "Score from which mail is spam (X-Spam-Flag, subject tag)")
                          ->type_name("N"));
    add("kill-score", cmd.add_option("--kill-score", o.kill_score,
                                     "Score from which the spam mode applies; must be above --spam-score")
                          ->type_name("N"));
    add("digest-interval",
        cmd.add_option("--digest-interval", o.digest, "Quarantine digest interval in minutes (at least 1440)")
            ->type_name("MIN"));
    for (const std::string list : {"whitelist", "blacklist", "exclude"}) {
        const std::string what = list == "exclude"
                                     ? "recipient excluded from spam checks and greylisting"
                                     : (list == "whitelist" ? "trusted sender" : "blocked sender");
        add(list,
            cmd.add_option("--" + list, o.lists[list],
                           fmt::format("{} the {}: address or @domain (repeatable)",
                                       update ? "Replace" : "Set", list == "exclude" ? "excludelist" : list) +
                               " - " + what)
                ->type_name("ADDR"));
        if (update) {
            add("add-" + list, cmd.add_option("--add-" + list, o.lists["add-" + list],
                                              fmt::format("Add to the {} (repeatable)",
                                                          list == "exclude" ? "excludelist" : list))
                                   ->type_name("ADDR"));
            add("remove-" + list, cmd.add_option("--remove-" + list, o.lists["remove-" + list],
                                                 fmt::format("Remove from the {} (repeatable)",
                                                             list == "exclude" ? "excludelist" : list))
                                      ->type_name("ADDR"));
        }
    }
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

void apply_list(const EntryOptions& o, const std::string& key, const std::string& field, MailProxy& e,
                entry::MailList& list, std::vector<std::string>& notes) {
    const auto has = [&](const std::string& a) {
        for (const auto& x : list.emails) {
            if (entry::normalize_address(x) == a)
                return true;
        }
        return false;
    };
    if (o.given(key)) {
        list.emails.clear();
        for (const auto& a : o.lists.at(key)) {
            const auto n = entry::normalize_address(util::trim(a));
            if (!has(n))
                list.emails.push_back(n);
        }
    }
    if (o.given("add-" + key)) {
        for (const auto& a : o.lists.at("add-" + key)) {
            const auto n = entry::normalize_address(util::trim(a));
            if (!has(n))
                list.emails.push_back(n);
        }
    }
    if (o.given("remove-" + key)) {
        for (const auto& a : o.lists.at("remove-" + key)) {
            const auto n = entry::normalize_address(util::trim(a));
            const auto before = list.emails.size();
            std::erase_if(list.emails,
                          [&](const std::string& x) { return entry::normalize_address(x) == n; });
            if (list.emails.size() == before)
                notes.push_back(fmt::format("{}: {} is not in the {}", e.domain, n, field));
        }
    }
}

/// Applies the given options to the entry; says in `notes` when a preset turned CUSTOM.
void apply_options(const EntryOptions& o, MailProxy& e, std::vector<std::string>& notes) {
    if (o.given("protection"))
        entry::set_protection(e, *entry::parse_protection(o.protection));
    if (o.given("target"))
        e.target = util::trim(o.target);
    if (o.given("admin"))
        e.admin = entry::normalize_address(util::trim(o.admin));
    if (o.given("greylisting"))
        e.greylisting = o.greylisting == "on";

    entry::Policy wanted = entry::effective_policy(e);
    if (o.given("virus"))
        wanted.virus = *entry::parse_policy_mode(o.virus);
    if (o.given("banned-files"))
        wanted.banned_files = *entry::parse_policy_mode(o.banned_files);
    if (o.given("header"))
        wanted.header = *entry::parse_policy_mode(o.header);
    if (o.given("spam-mode"))
        wanted.spam.mode = *entry::parse_policy_mode(o.spam_mode);
    if (o.given("modify-subject"))
        wanted.spam.modify_subject = o.modify_subject;
    if (o.given("tag-header"))
        wanted.spam.tag_header = o.tag_header;
    if (o.given("spam-score"))
        wanted.spam.spam = o.spam_score;
    if (o.given("kill-score"))
        wanted.spam.kill = o.kill_score;
    if (o.given("digest-interval"))
        wanted.spam.quarantine_digest_interval = o.digest;
    const auto change = entry::change_policy(e, wanted);
    if (change.became_custom) {
        notes.push_back(fmt::format("{}: protection {} -> CUSTOM ({} changed; the other values are {}'s)",
                                    e.domain, entry::to_string(change.from), join(change.fields),
                                    entry::to_string(change.from)));
    }
    apply_list(o, "whitelist", "whitelist", e, e.whitelist, notes);
    apply_list(o, "blacklist", "blacklist", e, e.blacklist, notes);
    apply_list(o, "exclude", "excludelist", e, e.excludelist, notes);
}

/// Domains from the arguments and --domains-from (one a line, '#' comments), normalised, duplicates
/// dropped. Invalid ones are all reported.
Expected<std::vector<std::string>> collect_domains(const std::vector<std::string>& args,
                                                   const std::string& from) {
    std::vector<std::string> raw = args;
    if (!from.empty()) {
        auto text = read_input(from, k_max_input);
        if (!text)
            return tl::make_unexpected(text.error());
        for (auto line : util::split(*text, '\n')) {
            if (const auto hash = line.find('#'); hash != std::string::npos)
                line.erase(hash);
            const auto d = util::trim(line);
            if (!d.empty())
                raw.emplace_back(d);
        }
    }
    if (raw.empty())
        return fail(ErrorCode::invalid, "no domain given (name one or use --domains-from FILE)");
    std::vector<std::string> out;
    std::string errors;
    for (const auto& r : raw) {
        auto d = entry::normalize_domain(r);
        if (!d) {
            errors += (errors.empty() ? "" : "\n") + d.error().message;
        } else if (std::find(out.begin(), out.end(), *d) == out.end()) {
            out.push_back(*d);
        }
    }
    if (!errors.empty())
        return fail(ErrorCode::invalid, errors);
    return out;
}

/// 0 when nothing failed. One domain: the exit code of its failure. Several: 1 when any failed, so a
/// script sees that the bulk operation did not fully succeed (the details are in the output).
int combined_exit(const std::vector<ErrorCode>& failures, std::size_t total) {
    if (failures.empty())
        return k_exit_ok;
    return total == 1 ? exit_code_for(failures.front()) : k_exit_failed;
}

int report(const Error& e) {
    print_error(e.message);
    return exit_code_for(e.code);
}

std::string_view code_name(ErrorCode c) {
    switch (c) {
        case ErrorCode::invalid:
            return "invalid";
        case ErrorCode::not_found:
            return "not_found";
        case ErrorCode::exists:
            return "exists";
        case ErrorCode::io:
            return "io";
        case ErrorCode::corrupt:
            return "corrupt";
        case ErrorCode::config:
            return "config";
        case ErrorCode::unavailable:
            return "unavailable";
        case ErrorCode::failed:
            return "failed";
    }
    return "failed";
}

/// One domain's failure in --json output of a bulk command.
nlohmann::ordered_json failed_result(const std::string& domain, const Error& e) {
    return {{"domain", domain}, {"ok", false}, {"error", code_name(e.code)}, {"message", e.message}};
}

/// The members `entry list` shows: what AutoDNS lists without reading each entry.
nlohmann::ordered_json summary_json(const MailProxy& e) {
    return {{"domain", e.domain},
            {"target", e.target},
            {"admin", e.admin},
            {"protection", entry::to_string(e.protection)},
            {"greylisting", e.greylisting ? "ENABLED" : "DISABLED"}};
}

nlohmann::ordered_json json_array(const std::vector<MailProxy>& entries) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& e : entries)
        arr.push_back(entry::to_json(e));
    return arr;
}

struct DomainArgs {
    std::vector<std::string> domains;
    std::string from;
};

void add_domain_args(CLI::App& cmd, DomainArgs& d, const char* verb) {
    cmd.add_option("domains", d.domains, fmt::format("Domains to {}", verb))->type_name("DOMAIN");
    cmd.add_option("--domains-from", d.from, "Read more domains from FILE, one a line ('-' for stdin)")
        ->type_name("FILE");
}

int run_create(const Globals& g, const DomainArgs& d, const EntryOptions& o) {
    auto domains = collect_domains(d.domains, d.from);
    if (!domains)
        return report(domains.error());
    std::vector<MailProxy> entries;
    std::vector<std::string> notes;
    std::string invalid;
    for (const auto& domain : *domains) {
        MailProxy e;
        e.domain = domain;
        entry::set_protection(e, entry::Protection::medium);
        apply_options(o, e, notes);
        if (auto errors = entry::validate(e); !errors.empty()) {
            invalid += (invalid.empty() ? "" : "\n") + store::describe_invalid(domain, errors);
        }
        entries.push_back(std::move(e));
    }
    if (!invalid.empty()) {
        print_error(invalid);
        return k_exit_invalid;
    }
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    std::vector<ErrorCode> failures;
    auto results = nlohmann::ordered_json::array();
    Progress progress(entries.size(), g.quiet);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        auto ok = store->create(e);
        progress.clear();
        if (!ok) {
            print_error(ok.error().message);
            failures.push_back(ok.error().code);
            results.push_back(failed_result(e.domain, ok.error()));
        } else {
            results.push_back({{"domain", e.domain}, {"ok", true}, {"entry", entry::to_json(e)}});
            if (!g.json)
                std::cout << "created " << e.domain << " (" << entry::to_string(e.protection) << ")"
                          << std::endl;
        }
        progress.step(i + 1, e.domain);
    }
    progress.clear();
    for (const auto& n : notes)
        print_note(g, n);
    if (g.json)
        std::cout << json_text(results);
    if (entries.size() > 1 && !failures.empty()) {
        print_error(fmt::format("{} of {} entries not created", failures.size(), entries.size()));
    }
    return combined_exit(failures, entries.size());
}

int run_update(const Globals& g, const std::string& domain_arg, const EntryOptions& o) {
    if (!o.any_given()) {
        print_error("entry update: nothing to change; give at least one option (see --help)");
        return k_exit_usage;
    }
    auto domain = entry::normalize_domain(domain_arg);
    if (!domain)
        return report(domain.error());
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    std::vector<std::string> notes;
    auto e = store->update(*domain, [&](MailProxy& entry) -> Expected<void> {
        notes.clear();
        apply_options(o, entry, notes);
        return {};
    });
    if (!e)
        return report(e.error());
    for (const auto& n : notes)
        print_note(g, n);
    if (g.json) {
        std::cout << json_text(entry::to_json(*e));
    } else {
        std::cout << "updated " << e->domain << " (" << entry::to_string(e->protection) << ")\n";
    }
    return k_exit_ok;
}

int run_delete(const Globals& g, const DomainArgs& d) {
    auto domains = collect_domains(d.domains, d.from);
    if (!domains)
        return report(domains.error());
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    std::vector<ErrorCode> failures;
    auto results = nlohmann::ordered_json::array();
    Progress progress(domains->size(), g.quiet);
    for (std::size_t i = 0; i < domains->size(); ++i) {
        const auto& domain = (*domains)[i];
        auto ok = store->remove(domain);
        progress.clear();
        if (!ok) {
            print_error(ok.error().message);
            failures.push_back(ok.error().code);
            results.push_back(failed_result(domain, ok.error()));
        } else {
            results.push_back({{"domain", domain}, {"ok", true}});
            if (!g.json)
                std::cout << "deleted " << domain << std::endl;
        }
        progress.step(i + 1, domain);
    }
    progress.clear();
    if (g.json)
        std::cout << json_text(results);
    if (domains->size() > 1 && !failures.empty()) {
        print_error(fmt::format("{} of {} entries not deleted", failures.size(), domains->size()));
    }
    return combined_exit(failures, domains->size());
}

int run_info(const Globals& g, const std::string& domain_arg) {
    auto domain = entry::normalize_domain(domain_arg);
    if (!domain)
        return report(domain.error());
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    auto e = store->info(*domain);
    if (!e)
        return report(e.error());
    if (g.json) {
        std::cout << json_text(entry::to_json(*e));
    } else {
        print_entry(std::cout, *e);
    }
    return k_exit_ok;
}

/// Lists (and exports): unreadable files are named on stderr and make the exit code 1, but never hide
/// the readable entries.
int run_list(const Globals& g, const std::vector<std::string>& filter_args, bool as_json,
             store::Detail detail) {
    std::vector<store::Filter> filters;
    for (const auto& f : filter_args) {
        auto parsed = store::parse_filter(f);
        if (!parsed) {
            print_error(parsed.error().message);
            return k_exit_usage;
        }
        filters.push_back(*parsed);
    }
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    auto result = store->list(filters, detail);
    if (!result)
        return report(result.error());
    if (as_json && detail == store::Detail::full) {
        std::cout << json_text(json_array(result->entries));
    } else if (as_json) {
        auto arr = nlohmann::ordered_json::array();
        for (const auto& e : result->entries)
            arr.push_back(summary_json(e));
        std::cout << json_text(arr);
    } else if (result->entries.empty()) {
        print_note(g, "no entries");
    } else {
        std::vector<std::vector<std::string>> rows;
        for (const auto& e : result->entries) {
            rows.push_back({e.domain, e.target, e.admin, std::string(entry::to_string(e.protection)),
                            e.greylisting ? "ENABLED" : "DISABLED"});
        }
        print_table(std::cout, {"DOMAIN", "TARGET", "ADMIN", "PROTECTION", "GREYLISTING"}, rows);
    }
    for (const auto& p : result->problems)
        print_error(p.message);
    if (!result->problems.empty()) {
        print_error(fmt::format("{} file(s) in the entry store could not be read", result->problems.size()));
        return k_exit_failed;
    }
    return k_exit_ok;
}

int run_import(const Globals& g, const std::string& file, bool replace) {
    auto text = read_input(file, k_max_input);
    if (!text)
        return report(text.error());
    const std::string source = file == "-" ? "standard input" : file;
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(*text);
    } catch (const nlohmann::json::parse_error& ex) {
        print_error(fmt::format("{}: not valid JSON (at byte {})", source, ex.byte));
        return k_exit_invalid;
    }
    if (j.is_object())
        j = nlohmann::ordered_json::array({j});
    if (!j.is_array()) {
        print_error(fmt::format("{}: must hold a JSON array of MailProxy objects (as 'entry export' writes)",
                                source));
        return k_exit_invalid;
    }
    std::vector<MailProxy> entries;
    std::string errors;
    for (std::size_t i = 0; i < j.size(); ++i) {
        auto e = entry::from_json(j[i]);
        const auto name = [&](const std::string& domain) {
            return fmt::format("{}: entry {}{}", source, i + 1, domain.empty() ? "" : " (" + domain + ")");
        };
        if (!e) {
            const auto d = j[i].is_object() && j[i].contains("domain") && j[i]["domain"].is_string()
                               ? j[i]["domain"].get<std::string>()
                               : std::string();
            errors += (errors.empty() ? "" : "\n") + store::describe_invalid(name(d), e.error());
            continue;
        }
        if (auto v = entry::validate(*e); !v.empty()) {
            errors += (errors.empty() ? "" : "\n") + store::describe_invalid(name(e->domain), v);
        }
        entries.push_back(std::move(*e));
    }
    if (!errors.empty()) {
        print_error(errors);
        print_error("nothing was imported");
        return k_exit_invalid;
    }
    auto opened = open_store(g);
    if (!opened)
        return report(opened.error());
    auto& store = *opened;
    if (auto ok = store->import(entries, replace); !ok)
        return report(ok.error());
    if (g.json) {
        auto done = nlohmann::ordered_json::array();
        for (const auto& e : entries)
            done.push_back(e.domain);
        std::cout << json_text(nlohmann::ordered_json{{"imported", done}});
    } else {
        std::cout << "imported " << entries.size() << (entries.size() == 1 ? " entry\n" : " entries\n");
    }
    return k_exit_ok;
}

}  // namespace

void register_entry(Cli& cli) {
    auto* entry_cmd = cli.app.add_subcommand("entry", "Create, change, show and remove MailProxy entries");
    entry_cmd->require_subcommand(1);
    entry_cmd->fallthrough();
    const Globals& g = cli.globals;

    {
        auto* cmd = entry_cmd->add_subcommand("create", "Create (order) an entry for each DOMAIN");
        auto d = std::make_shared<DomainArgs>();
        auto o = std::make_shared<EntryOptions>();
        add_domain_args(*cmd, *d, "create");
        add_entry_options(*cmd, *o, false);
        cmd->callback([&cli, &g, d, o] { cli.run = [&g, d, o] { return run_create(g, *d, *o); }; });
    }
    {
        auto* cmd = entry_cmd->add_subcommand("update", "Change an entry (read, change, validate, write)");
        auto domain = std::make_shared<std::string>();
        auto o = std::make_shared<EntryOptions>();
        cmd->add_option("domain", *domain, "Domain of the entry")->required()->type_name("DOMAIN");
        add_entry_options(*cmd, *o, true);
        cmd->callback(
            [&cli, &g, domain, o] { cli.run = [&g, domain, o] { return run_update(g, *domain, *o); }; });
    }
    {
        auto* cmd = entry_cmd->add_subcommand("delete", "Delete the entry of each DOMAIN");
        auto d = std::make_shared<DomainArgs>();
        add_domain_args(*cmd, *d, "delete");
        cmd->callback([&cli, &g, d] { cli.run = [&g, d] { return run_delete(g, *d); }; });
    }
    {
        auto* cmd = entry_cmd->add_subcommand("info", "Show one entry");
        auto domain = std::make_shared<std::string>();
        cmd->add_option("domain", *domain, "Domain of the entry")->required()->type_name("DOMAIN");
        cmd->callback([&cli, &g, domain] { cli.run = [&g, domain] { return run_info(g, *domain); }; });
    }
    {
        auto* cmd = entry_cmd->add_subcommand("list", "List entries as a table");
        auto filters = std::make_shared<std::vector<std::string>>();
        cmd->add_option("--filter", *filters,
                        "Only entries where KEY matches PATTERN ('*' wildcard; keys domain, target, admin, "
                        "protection, greylisting); repeatable, all must match")
            ->type_name("KEY=PATTERN");
        cmd->callback([&cli, &g, filters] {
            cli.run = [&g, filters] { return run_list(g, *filters, g.json, store::Detail::summary); };
        });
    }
    {
        auto* cmd = entry_cmd->add_subcommand("export", "Print every entry as a JSON array");
        cmd->callback([&cli, &g] { cli.run = [&g] { return run_list(g, {}, true, store::Detail::full); }; });
    }
    {
        auto* cmd = entry_cmd->add_subcommand(
            "import", "Store the entries of a JSON array, all validated first (local store: all or nothing)");
        auto file = std::make_shared<std::string>();
        auto replace = std::make_shared<bool>(false);
        cmd->add_option("file", *file, "JSON file as 'entry export' writes it ('-' for stdin)")
            ->required()
            ->type_name("FILE");
        cmd->add_flag("--replace", *replace, "Overwrite entries that exist already");
        cmd->callback([&cli, &g, file, replace] {
            cli.run = [&g, file, replace] { return run_import(g, *file, *replace); };
        });
    }
}

}  // namespace mailproxy::cli
