// The documentation and completions are kept true by these tests: they compare the committed files
// with the command tree that the binary builds.
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cli/app.hpp"
#include "cli/completion.hpp"
#include "core/autodns/settings.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace mailproxy;
using namespace mailproxy::cli;

namespace {

struct Tree {
    std::vector<CommandSpec> commands;
    const CommandSpec& at(const std::string& path) const {
        for (const auto& c : commands) {
            if (c.path == path)
                return c;
        }
        throw std::runtime_error("no command " + path);
    }
    std::set<std::string> leaves() const {
        std::set<std::string> out;
        for (const auto& c : commands) {
            if (c.subcommands.empty())
                out.insert(c.path);
        }
        return out;
    }
    static std::set<std::string> long_options(const CommandSpec& c) {
        std::set<std::string> out;
        for (const auto& o : c.options) {
            for (const auto& n : o.names) {
                if (n.starts_with("--"))
                    out.insert(n.substr(2));
            }
        }
        return out;
    }
};

Tree tree() {
    auto cli = make_cli();
    return Tree{describe(cli->app)};
}

/// The man page split into `.Ss` sections: heading -> lines (the part before the first `.Ss` is "").
std::map<std::string, std::vector<std::string>> subsections(const std::string& page) {
    std::map<std::string, std::vector<std::string>> out;
    std::string current;
    std::istringstream in(page);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(".Sh "))
            current = "";
        if (line.starts_with(".Ss ")) {
            current = line.substr(4);
            out[current];
            continue;
        }
        out[current].push_back(line);
    }
    return out;
}

std::set<std::string> documented_long_options(const std::vector<std::string>& lines) {
    // `Fl \-name` renders as --name; `\-` inside a name is a plain hyphen in mdoc
    static const std::regex fl(R"(Fl -([a-z][a-z0-9-]*))");
    std::set<std::string> out;
    for (auto line : lines) {
        for (auto pos = line.find("\\-"); pos != std::string::npos; pos = line.find("\\-", pos))
            line.erase(pos, 1);
        for (std::sregex_iterator it(line.begin(), line.end(), fl), end; it != end; ++it)
            out.insert((*it)[1]);
    }
    return out;
}

}  // namespace

TEST_SUITE("cli.docs") {
    TEST_CASE("the committed completions equal what 'mailproxy completion' prints") {
        auto cli = make_cli();
        for (const auto& [shell, file] :
             std::vector<std::pair<std::string, std::string>>{{"bash", "completions/mailproxy.bash"},
                                                              {"zsh", "completions/_mailproxy"},
                                                              {"fish", "completions/mailproxy.fish"}}) {
            INFO(shell);
            const auto script = completion_script(cli->app, shell);
            REQUIRE(script.has_value());
            CHECK_MESSAGE(test::read_file(test::source_dir() / file) == *script,
                          "regenerate with: build/cli/mailproxy completion " << shell << " > " << file);
        }
        CHECK(completion_script(cli->app, "tcsh").error().message ==
              "no completion for shell 'tcsh' (use bash, zsh or fish)");
    }

    TEST_CASE("mailproxy(1) documents every command and option, and nothing else") {
        const auto t = tree();
        const auto page = test::read_file(test::source_dir() / "man/mailproxy.1");
        const auto sections = subsections(page);
        const auto globals = Tree::long_options(t.at(""));

        for (const auto& leaf : t.leaves()) {
            INFO("command: " << leaf);
            if (leaf == "serve")
                continue;  // mailproxy-serve(8), below
            REQUIRE_MESSAGE(sections.count(leaf) == 1, "no '.Ss " << leaf << "' section");
            const auto documented = documented_long_options(sections.at(leaf));
            for (const auto& opt : Tree::long_options(t.at(leaf))) {
                if (globals.count(opt) != 0 || opt == "help")
                    continue;  // in GLOBAL OPTIONS
                CHECK_MESSAGE(documented.count(opt) == 1,
                              "--" << opt << " of '" << leaf << "' is not documented");
            }
            for (const auto& opt : documented) {
                CHECK_MESSAGE(Tree::long_options(t.at(leaf)).count(opt) == 1,
                              "--" << opt << " is documented for '" << leaf << "' but does not exist");
            }
        }
        for (const auto& [heading, lines] : sections) {
            if (heading.empty())
                continue;
            CHECK_MESSAGE(t.leaves().count(heading) == 1, "'.Ss " << heading << "' is not a command");
        }
        // global options are in GLOBAL OPTIONS; any other option mentioned anywhere must exist somewhere
        const auto outside = documented_long_options(sections.at(""));
        for (const auto& opt : globals) {
            if (opt == "help")
                continue;
            CHECK_MESSAGE(outside.count(opt) == 1, "global --" << opt << " is not documented");
        }
        std::set<std::string> all;
        for (const auto& c : t.commands) {
            for (const auto& o : Tree::long_options(c))
                all.insert(o);
        }
        for (const auto& opt : outside)
            CHECK_MESSAGE(all.count(opt) == 1, "--" << opt << " does not exist");
    }

    TEST_CASE("mailproxy-serve(8) documents every option of serve under OPTIONS, and nothing else") {
        const auto t = tree();
        const auto page = test::read_file(test::source_dir() / "man/mailproxy-serve.8");
        std::vector<std::string> options;
        bool in = false;
        std::istringstream text(page);
        for (std::string line; std::getline(text, line);) {
            if (line.starts_with(".Sh "))
                in = line == ".Sh OPTIONS";
            else if (in)
                options.push_back(line);
        }
        REQUIRE(!options.empty());
        const auto documented = documented_long_options(options);
        const auto globals = Tree::long_options(t.at(""));
        const auto serve = Tree::long_options(t.at("serve"));
        for (const auto& opt : serve) {
            if (globals.count(opt) == 0 && opt != "help")
                CHECK_MESSAGE(documented.count(opt) == 1,
                              "--" << opt << " of serve is not in mailproxy-serve(8)");
        }
        for (const auto& opt : documented)
            CHECK_MESSAGE((serve.count(opt) == 1 || globals.count(opt) == 1),
                          "--" << opt << " does not exist");
        // mailproxy(1) points there
        CHECK(test::read_file(test::source_dir() / "man/mailproxy.1").find("Xr mailproxy-serve 8") !=
              std::string::npos);
    }

    TEST_CASE("mailproxy(1) documents every exit code and the environment") {
        const auto page = test::read_file(test::source_dir() / "man/mailproxy.1");
        CHECK(page.find(".Sh EXIT STATUS") != std::string::npos);
        for (const char* code : {"It 0", "It 1", "It 2", "It 3", "It 4"})
            CHECK(page.find(code) != std::string::npos);
        CHECK(page.find("Ev MAILPROXY_STORE") != std::string::npos);
        CHECK(page.find(".Sh FILES") != std::string::npos);
    }

    TEST_CASE("mailproxy.conf(5) documents every global key, every [autodns] key and a section per command") {
        const auto t = tree();
        const auto page = test::read_file(test::source_dir() / "man/mailproxy.conf.5");
        const auto sections = subsections(page);
        static const std::regex key(R"(^\.It Cm ([a-z][a-z0-9-]*)$)");
        const auto keys_in = [&](const std::string& heading) {
            std::set<std::string> keys;
            REQUIRE_MESSAGE(sections.count(heading) == 1, "no '.Ss " << heading << "'");
            for (const auto& line : sections.at(heading)) {
                std::smatch m;
                if (std::regex_match(line, m, key))
                    keys.insert(m[1]);
            }
            return keys;
        };
        std::set<std::string> globals;
        for (const auto& opt : Tree::long_options(t.at(""))) {
            if (opt != "help" && opt != "version" && opt != "config")
                globals.insert(opt);
        }
        CHECK(keys_in("Global keys") == globals);
        std::set<std::string> autodns_keys;
        for (auto k : autodns::k_settings_keys)
            autodns_keys.emplace(k);
        CHECK(keys_in("The [autodns] section") == autodns_keys);
        for (const auto& leaf : t.leaves()) {
            std::string section = "[" + leaf + "]";
            std::replace(section.begin(), section.end(), ' ', '.');
            CHECK_MESSAGE(page.find(section) != std::string::npos,
                          "section " << section << " is not documented");
        }
    }

    TEST_CASE("the CLI tree has the commands the README and the man page promise") {
        const auto t = tree();
        CHECK(t.leaves() == std::set<std::string>{"entry create", "entry update", "entry delete",
                                                  "entry info", "entry list", "entry export", "entry import",
                                                  "level show", "zone lint", "zone rules", "zone rewrite",
                                                  "zone check", "zone push", "enable", "disable", "serve",
                                                  "scan", "autodns ping", "completion"});
        const auto update = Tree::long_options(t.at("entry update"));
        for (const char* o :
             {"add-whitelist", "remove-whitelist", "add-blacklist", "remove-blacklist", "add-exclude",
              "remove-exclude", "modify-subject", "no-modify-subject", "store", "json"}) {
            CHECK_MESSAGE(update.count(o) == 1, o);
        }
    }
}

TEST_SUITE("layering") {
    TEST_CASE(
        "nothing under core/ or zone/ includes CLI11 or cli/; only zone/ includes ldns; core/ not zone/") {
        const std::regex cli(R"(#\s*include\s*[<"](CLI/|cli/))");
        const std::regex ldns(R"(#\s*include\s*[<"]ldns/)");
        const std::regex zone(R"(#\s*include\s*[<"]zone/)");
        int files = 0;
        for (const char* dir : {"core", "zone", "cli"}) {
            for (const auto& f : std::filesystem::recursive_directory_iterator(test::source_dir() / dir)) {
                if (!f.is_regular_file())
                    continue;
                ++files;
                const auto text = test::read_file(f.path());
                const std::string d = dir;
                if (d != "cli")
                    CHECK_MESSAGE(!std::regex_search(text, cli), f.path().string()
                                                                     << " includes CLI11 or cli/");
                if (d != "zone")
                    CHECK_MESSAGE(!std::regex_search(text, ldns), f.path().string() << " includes ldns");
                if (d == "core")
                    CHECK_MESSAGE(!std::regex_search(text, zone), f.path().string() << " includes zone/");
            }
        }
        CHECK(files > 20);
    }
}
