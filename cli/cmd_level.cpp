// `mailproxy level show [LEVEL]`: the protection presets (DESIGN §2).
#include <iostream>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/output.hpp"
#include "core/entry/presets.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::cli {
namespace {

using entry::Protection;

int run_level_show(const Globals& g, const std::string& level) {
    std::vector<Protection> levels{Protection::high, Protection::medium, Protection::low, Protection::off};
    if (!level.empty())
        levels = {*entry::parse_protection(level)};

    if (g.json) {
        auto out = nlohmann::ordered_json::object();
        for (auto p : levels) {
            auto j = entry::policy_to_json(entry::preset(p));
            if (p == Protection::off) {
                // OFF scores nothing: its scores are only the starting point of a CUSTOM change.
                for (const char* k : {"tagHeader", "spam", "kill"})
                    j["spam"].erase(k);
            }
            out[std::string(entry::to_string(p))] = j;
        }
        std::cout << json_text(out);
        return k_exit_ok;
    }

    std::vector<std::string> header{"FIELD"};
    for (auto p : levels)
        header.emplace_back(entry::to_string(p));
    const auto mode = [](entry::PolicyMode m, bool wraps) {
        std::string s(entry::to_string(m));
        return wraps && m == entry::PolicyMode::accept ? s + " (wrapped)" : s;
    };
    std::vector<std::vector<std::string>> rows;
    const auto row = [&](const std::string& field, auto cell) {
        std::vector<std::string> r{field};
        for (auto p : levels)
            r.push_back(cell(p, entry::preset(p)));
        rows.push_back(std::move(r));
    };
    const auto score = [](Protection p, double v) {
        return p == Protection::off ? std::string("-") : util::format_number(v);
    };
    row("virus", [&](Protection, const entry::Policy& v) { return mode(v.virus, true); });
    row("bannedFiles", [&](Protection, const entry::Policy& v) { return mode(v.banned_files, true); });
    row("header", [&](Protection, const entry::Policy& v) { return mode(v.header, false); });
    row("spam.mode", [&](Protection, const entry::Policy& v) { return mode(v.spam.mode, false); });
    row("spam.modifySubject", [](Protection, const entry::Policy& v) {
        return std::string(v.spam.modify_subject ? "true" : "false");
    });
    row("spam.tagHeader", [&](Protection p, const entry::Policy& v) { return score(p, v.spam.tag_header); });
    row("spam.spam", [&](Protection p, const entry::Policy& v) { return score(p, v.spam.spam); });
    row("spam.kill", [&](Protection p, const entry::Policy& v) { return score(p, v.spam.kill); });
    row("spam.quarantineDigestInterval",
        [](Protection, const entry::Policy& v) { return std::to_string(v.spam.quarantine_digest_interval); });
    print_table(std::cout, header, rows);
    print_note(g, "ACCEPT (wrapped): the message is delivered inside a new one that names the finding.");
    return k_exit_ok;
}

}  // namespace

void register_level(Cli& cli) {
    auto* level = cli.app.add_subcommand("level", "Show the protection level presets");
    level->require_subcommand(1);
    level->fallthrough();
    auto* show = level->add_subcommand("show", "Print the preset table (one level or all)");
    auto name = std::make_shared<std::string>();
    with_choices(show->add_option("level", *name, "Only this level"), {"HIGH", "MEDIUM", "LOW", "OFF"})
        ->type_name("LEVEL");
    const Globals& g = cli.globals;
    show->callback([&cli, &g, name] { cli.run = [&g, name] { return run_level_show(g, *name); }; });
}

}  // namespace mailproxy::cli
