// `mailproxy scan FILE...`: the filter's checks on message files, without a server (mailproxy(1)).
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/output.hpp"
#include "cli/scanner_options.hpp"
#include "core/entry/presets.hpp"
#include "core/entry/validate.hpp"
#include "core/filter/scan.hpp"
#include "core/util/file.hpp"

namespace mailproxy::cli {
namespace {

/// Exit codes of `scan`: the most severe finding over all files (virus > banned > bad header), else 1
/// when a file could not be scanned, else 0.
enum ScanExit : int { k_scan_virus = 10, k_scan_banned = 11, k_scan_bad_header = 12 };

struct ScanArgs {
    std::vector<std::string> files;
    std::string entry;
    std::string protection;
    ScannerArgs scanner;
};

int run_scan(const Globals& g, const ScanArgs& a) {
    // the policy: the entry's, a level's, or every check with no action
    std::optional<entry::Policy> policy;
    if (!a.entry.empty()) {
        auto domain = entry::normalize_domain(a.entry);
        if (!domain) {
            print_error(domain.error().message);
            return exit_code_for(domain.error().code);
        }
        auto opened = open_store(g);
        if (!opened) {
            print_error(opened.error().message);
            return exit_code_for(opened.error().code);
        }
        auto e = (*opened)->info(*domain);
        if (!e) {
            print_error(e.error().message);
            return exit_code_for(e.error().code);
        }
        policy = entry::effective_policy(*e);
    } else if (!a.protection.empty()) {
        policy = entry::preset(*entry::parse_protection(a.protection));
    }
    auto options = policy ? filter::options_for(*policy) : filter::ScanOptions{};
    options.mbox_from_line = true;  // saved messages often start with mbox's "From " line
    std::shared_ptr<const filter::VirusScanner> scanner;
    if (options.virus) {
        auto opened = filter::open_scanner(a.scanner.choice);
        if (!opened) {
            print_error(opened.error().message);
            return exit_code_for(opened.error().code);
        }
        scanner = *opened;
    }
    int worst = k_exit_ok;
    const auto rank = [](int code) {
        switch (code) {
            case k_scan_virus:
                return 4;
            case k_scan_banned:
                return 3;
            case k_scan_bad_header:
                return 2;
            case k_exit_failed:
                return 1;
            default:
                return 0;
        }
    };
    auto results = nlohmann::ordered_json::array();
    for (const auto& file : a.files) {
        util::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) {
            const std::string why = std::strerror(errno);
            print_error(fmt::format("{}: cannot be read: {}", file, why));
            results.push_back({{"file", file}, {"error", "cannot be read: " + why}});
            if (rank(k_exit_failed) > rank(worst))
                worst = k_exit_failed;
            continue;
        }
        const auto r = filter::scan_message(fd.get(), options, scanner.get());
        // without an entry every category counts, as if each were acted on
        entry::Policy all;
        all.virus = all.banned_files = all.header = entry::PolicyMode::quarantine;
        const auto v = filter::decide(r, policy.value_or(all), a.scanner.scanner_failure == "pass");
        std::string verdict = v.category ? std::string(filter::to_string(*v.category)) : "clean";
        int code = k_exit_ok;
        if (v.category == filter::Category::virus)
            code = k_scan_virus;
        else if (v.category == filter::Category::banned)
            code = k_scan_banned;
        else if (v.category == filter::Category::bad_header)
            code = k_scan_bad_header;
        else if (!r.scanner_error.empty()) {
            code = k_exit_failed;
            verdict = "error";
        }
        if (rank(code) > rank(worst))
            worst = code;
        const std::string action = policy ? std::string(filter::to_string(v.action)) : "";
        auto findings = nlohmann::ordered_json::array();
        for (const auto& f : r.findings)
            findings.push_back(
                {{"category", filter::to_string(f.category)}, {"what", f.what}, {"where", f.where}});
        nlohmann::ordered_json j{{"file", file}, {"verdict", verdict}};
        if (policy)
            j["action"] = action;
        j["findings"] = findings;
        if (!r.scanner_error.empty())
            j["error"] = r.scanner_error;
        results.push_back(j);
        if (g.json)
            continue;
        std::cout << file << ": " << verdict;
        if (verdict != "clean" && verdict != "error" && v.category == filter::Category::virus)
            std::cout << " (" << r.findings.front().what << ")";
        if (policy)
            std::cout << ", action " << action;
        std::cout << '\n';
        for (const auto& f : r.findings)
            std::cout << "  " << filter::to_string(f.category) << ": " << f.what << " [" << f.where << "]\n";
        if (!r.scanner_error.empty())
            std::cout << "  error: " << r.scanner_error << '\n';
    }
    if (g.json)
        std::cout << json_text(results);
    std::cout.flush();
    return worst;
}

}  // namespace

void register_scan(Cli& cli) {
    auto* cmd = cli.app.add_subcommand(
        "scan", "Run the filter's checks on message files: findings, verdict, and the action an entry takes");
    auto a = std::make_shared<ScanArgs>();
    cmd->add_option("file", a->files, "Message files (RFC 5322, LF or CRLF line ends)")
        ->required()
        ->type_name("FILE");
    auto* entry_opt =
        cmd->add_option("--entry", a->entry, "Use this entry's policy (from the store)")->type_name("DOMAIN");
    auto* level_opt = with_choices(cmd->add_option("--protection", a->protection, "Use this level's policy"),
                                   {"HIGH", "MEDIUM", "LOW", "OFF"})
                          ->type_name("LEVEL");
    entry_opt->excludes(level_opt);
    add_scanner_options(cmd, a->scanner);
    const Globals& g = cli.globals;
    cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_scan(g, *a); }; });
}

}  // namespace mailproxy::cli
