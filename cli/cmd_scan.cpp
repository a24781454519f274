// `mailproxy scan FILE...`: the filter's checks on message files, without a server (mailproxy(1)).
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

#include <iostream>
#include <sstream>

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
enum ScanExit : int { k_scan_virus = 10, k_scan_banned = 11, k_scan_bad_header = 12, k_scan_spam = 13 };

struct ScanArgs {
    std::vector<std::string> files;
    std::string entry;
    std::string protection;
    ScannerArgs scanner;
    SpamArgs spam;
    unsigned jobs = 0;  // 0: one per CPU
};

/// The CPUs this process may run on (its affinity mask, as nproc counts them), at least 1.
std::size_t usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<std::size_t>(CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

int rank(int code) {
    switch (code) {
        case k_scan_virus:
            return 5;
        case k_scan_banned:
            return 4;
        case k_scan_spam:
            return 3;
        case k_scan_bad_header:
            return 2;
        case k_exit_failed:
            return 1;
        default:
            return 0;
    }
}

/// One file's outcome: its exit code, its JSON object, its text (unless --json), an error for stderr.
struct FileResult {
    int code = k_exit_ok;
    nlohmann::ordered_json json;
    std::string text;
    std::string error;
};

FileResult scan_one(const std::string& file, bool json, const filter::ScanOptions& options,
                    const std::optional<entry::Policy>& policy, const filter::VirusScanner* scanner,
                    const filter::SpamEngine* spam_engine, bool has_lists, const filter::SpamLists& lists,
                    const ScanArgs& a) {
    FileResult out;
    util::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        const std::string why = std::generic_category().message(errno);  // strerror is not thread-safe
        out.error = fmt::format("{}: cannot be read: {}", file, why);
        out.json = {{"file", file}, {"error", "cannot be read: " + why}};
        out.code = k_exit_failed;
        return out;
    }
    auto r = filter::scan_message(fd.get(), options, scanner);
    if (options.spam && (spam_engine != nullptr || has_lists)) {
        struct stat st {};
        ::fstat(fd.get(), &st);
        r.spam = filter::check_spam(fd.get(), r.head, static_cast<std::size_t>(st.st_size), spam_engine,
                                    a.spam.choice.max_size, lists, {});
    }
    // without an entry every category counts, as if each were acted on (spam: the MEDIUM scores)
    entry::Policy all;
    all.virus = all.banned_files = all.header = all.spam.mode = entry::PolicyMode::quarantine;
    const auto v = filter::decide(r, policy.value_or(all), a.scanner.scanner_failure == "pass",
                                  a.spam.spam_failure == "pass");
    std::string verdict = v.category ? std::string(filter::to_string(*v.category)) : "clean";
    int code = k_exit_ok;
    if (v.category == filter::Category::virus)
        code = k_scan_virus;
    else if (v.category == filter::Category::banned)
        code = k_scan_banned;
    else if (v.category == filter::Category::spam ||
             ((!v.category || v.category == filter::Category::bad_header) &&
              filter::is_spam(r.spam, policy.value_or(all).spam))) {
        code = k_scan_spam;  // killed, or only marked: spam either way
        if (!v.category)
            verdict = "spam";  // a bad header still names the verdict, as in serve's log
    } else if (v.category == filter::Category::bad_header)
        code = k_scan_bad_header;
    else if (!r.scanner_error.empty() || r.spam.state == filter::SpamCheck::State::failed) {
        code = k_exit_failed;
        verdict = "error";
    }
    out.code = code;
    const std::string action = policy ? std::string(filter::to_string(v.action)) : "";
    auto findings = nlohmann::ordered_json::array();
    for (const auto& f : r.findings)
        findings.push_back(
            {{"category", filter::to_string(f.category)}, {"what", f.what}, {"where", f.where}});
    nlohmann::ordered_json j{{"file", file}, {"verdict", verdict}};
    if (policy)
        j["action"] = action;
    j["findings"] = findings;
    if (r.spam.state == filter::SpamCheck::State::scored) {
        j["spam"] = {{"score", r.spam.score}, {"rules", r.spam.rules}};
    } else if (r.spam.state == filter::SpamCheck::State::whitelisted ||
               r.spam.state == filter::SpamCheck::State::blacklisted) {
        j["spam"] = {{r.spam.state == filter::SpamCheck::State::whitelisted ? "whitelisted" : "blacklisted",
                      r.spam.note}};
    }
    if (!r.scanner_error.empty())
        j["error"] = r.scanner_error;
    else if (r.spam.state == filter::SpamCheck::State::failed)
        j["error"] = r.spam.note;
    out.json = std::move(j);
    if (json)
        return out;
    std::ostringstream t;
    t << file << ": " << verdict;
    if (verdict != "clean" && verdict != "error" && v.category == filter::Category::virus)
        t << " (" << r.findings.front().what << ")";
    if (policy)
        t << ", action " << action;
    t << '\n';
    for (const auto& f : r.findings)
        t << "  " << filter::to_string(f.category) << ": " << f.what << " [" << f.where << "]\n";
    if (r.spam.state == filter::SpamCheck::State::scored) {
        std::string rules;
        for (const auto& rule : r.spam.rules)
            rules += (rules.empty() ? "" : ",") + rule;
        t << "  spam: score " << filter::score_text(r.spam.score) << " [" << rules << "]\n";
    } else if (r.spam.state == filter::SpamCheck::State::whitelisted) {
        t << "  spam: not scored, whitelisted sender " << r.spam.note << '\n';
    } else if (r.spam.state == filter::SpamCheck::State::blacklisted) {
        t << "  spam: blacklisted sender " << r.spam.note << '\n';
    } else if (r.spam.state == filter::SpamCheck::State::too_big) {
        t << "  spam: not scored, " << r.spam.note << '\n';
    }
    if (!r.scanner_error.empty())
        t << "  error: " << r.scanner_error << '\n';
    if (r.spam.state == filter::SpamCheck::State::failed)
        t << "  error: " << r.spam.note << '\n';
    out.text = std::move(t).str();
    return out;
}

int run_scan(const Globals& g, const ScanArgs& a) {
    // the policy: the entry's, a level's, or every check with no action
    std::optional<entry::Policy> policy;
    std::optional<entry::MailProxy> the_entry;  // for its lists
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
        the_entry = *e;
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
    std::shared_ptr<const filter::SpamEngine> spam_engine;
    if (options.spam) {
        auto made = filter::make_spam_engine(a.spam.choice);
        if (!made) {
            print_error(made.error().message);
            return exit_code_for(made.error().code);
        }
        spam_engine = *made;
    }
    const filter::SpamLists lists{the_entry ? &the_entry->whitelist : nullptr,
                                  the_entry ? &the_entry->blacklist : nullptr};
    // each file on its own, on `jobs` threads (the checks are thread-safe, as serve's pool needs them
    // to be); each result is printed as soon as those of the files before it are
    const auto n = a.files.size();
    std::vector<FileResult> out(n);
    const auto scan_file = [&](std::size_t i) {
        try {
            out[i] = scan_one(a.files[i], g.json, options, policy, scanner.get(), spam_engine.get(),
                              the_entry.has_value(), lists, a);
        } catch (const std::exception& e) {
            out[i] = FileResult{k_exit_failed,
                                {{"file", a.files[i]}, {"error", e.what()}},
                                "",
                                fmt::format("{}: cannot be scanned: {}", a.files[i], e.what())};
        }
    };
    int worst = k_exit_ok;
    auto results = nlohmann::ordered_json::array();
    const auto emit = [&](std::size_t i) {
        auto r = std::exchange(out[i], {});
        if (!r.error.empty())
            print_error(r.error);
        if (rank(r.code) > rank(worst))
            worst = r.code;
        if (g.json)
            results.push_back(std::move(r.json));
        else
            std::cout << r.text << std::flush;
    };
    const auto jobs = std::min<std::size_t>(n, a.jobs != 0 ? a.jobs : usable_cpus());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<char> ready(n, 0);
    std::atomic<std::size_t> next{0};
    std::vector<std::jthread> workers;
    for (std::size_t t = 0; jobs > 1 && t < jobs; ++t) {
        try {
            workers.emplace_back([&] {
                for (std::size_t i = next++; i < n; i = next++) {
                    scan_file(i);
                    {
                        const std::lock_guard lock(mu);
                        ready[i] = 1;
                    }
                    cv.notify_all();
                }
            });
        } catch (const std::system_error&) {
            break;  // no more threads to be had: those that started do the work
        }
    }
    if (workers.empty()) {
        for (std::size_t i = 0; i < n; ++i) {
            scan_file(i);
            emit(i);
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            {
                std::unique_lock lock(mu);
                cv.wait(lock, [&] { return ready[i] != 0; });
            }
            emit(i);
        }
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
    add_spam_options(cmd, a->spam);
    cmd->add_option("--jobs,-j", a->jobs, "Files scanned at once, 1 to 256 (default: one per CPU)")
        ->check(CLI::Range(1u, 256u))
        ->type_name("N");
    const Globals& g = cli.globals;
    cmd->callback([&cli, &g, a] { cli.run = [&g, a] { return run_scan(g, *a); }; });
}

}  // namespace mailproxy::cli
