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

}  // namespace mailproxy::cli
