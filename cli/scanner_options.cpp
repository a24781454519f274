#include "cli/scanner_options.hpp"

#include "cli/choices.hpp"

namespace mailproxy::cli {

void add_scanner_options(CLI::App* cmd, ScannerArgs& a) {
    auto* db = cmd->add_option("--clamav-db", a.choice.clamav_db,
                               "Virus signatures for libclamav: a file or directory (default: the system's, "
                               "/var/lib/clamav)")
                   ->type_name("PATH");
    auto* clamd = cmd->add_option("--clamd", a.choice.clamd,
                                  "Scan with this clamd instead of libclamav: its unix socket (an absolute "
                                  "path) or IP:PORT")
                      ->type_name("SOCKET");
    clamd->excludes(db);
    cmd->add_option("--clamd-timeout", a.choice.clamd_timeout, "Seconds for one clamd scan, 1 to 3600")
        ->type_name("SECONDS")
        ->capture_default_str();
    with_choices(
        cmd->add_option("--scanner-failure", a.scanner_failure,
                        "When the virus scan fails: tempfail (451; scan: exit 1) or pass (unscanned)"),
        {"tempfail", "pass"})
        ->type_name("MODE")
        ->capture_default_str();
}

void add_spam_options(CLI::App* cmd, SpamArgs& a) {
    cmd->add_option("--spam-engine", a.choice.engine,
                    "Spam scores from spamd:IP:PORT, spamd:unix:/path, rspamd:http://IP:PORT, or none")
        ->type_name("ENGINE")
        ->capture_default_str();
    cmd->add_option("--spam-timeout", a.choice.timeout, "Seconds for one spam scoring, 1 to 3600")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--spam-max-size", a.choice.max_size, "Larger messages are not sent for scoring (logged)")
        ->type_name("BYTES")
        ->capture_default_str();
    with_choices(
        cmd->add_option("--spam-failure", a.spam_failure,
                        "When the spam engine fails: tempfail (451; scan: exit 1) or pass (unscored)"),
        {"tempfail", "pass"})
        ->type_name("MODE")
        ->capture_default_str();
}

}  // namespace mailproxy::cli
