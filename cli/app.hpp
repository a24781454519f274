#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/autodns/client.hpp"
#include "core/store/entry_store.hpp"
#include "core/util/error.hpp"

namespace mailproxy::cli {

/// Exit codes, documented in mailproxy(1).
enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_failed = 1,     ///< the operation failed
    k_exit_usage = 2,      ///< the command line or config file is wrong
    k_exit_invalid = 3,    ///< invalid input (validation)
    k_exit_not_found = 4,  ///< the entry asked for does not exist
};

/// Options every command takes (set on the root, usable after any subcommand).
struct Globals {
    std::string config;
    std::string store;
    std::string backend = "local";  ///< local or autodns
    bool demo = false;              ///< AutoDNS demo system
    bool quiet = false;
    bool json = false;
    int verbose = 0;
    /// The `[autodns]` section of the config file: credentials are never options, so the config reader
    /// takes them out before CLI11 sees them.
    std::map<std::string, std::string> autodns;
    /// The command line, kept for `serve`'s reload (which parses it and the config file again).
    int argc = 0;
    char** argv = nullptr;
};

/// The parsed command line: the CLI11 tree, the global options, and the selected command.
struct Cli {
    CLI::App app{"mailproxy: order, configure and run a virus and spam filter in front of a mail server",
                 "mailproxy"};
    Globals globals;
    /// Set by the selected subcommand's parse callback; runs after parsing is complete.
    std::function<int()> run;
    /// The selected command's parsed arguments, for a command that parses itself again (serve's reload).
    std::shared_ptr<void> args;
};

/// Builds the whole command tree (every subcommand registered).
std::unique_ptr<Cli> make_cli();

/// Each cli/cmd_<name>.cpp registers its subcommand.
void register_entry(Cli& cli);
void register_level(Cli& cli);
void register_completion(Cli& cli);
void register_autodns(Cli& cli);
void register_zone(Cli& cli);
void register_enable(Cli& cli);
void register_serve(Cli& cli);
void register_scan(Cli& cli);

/// Checks what the config file holds once parsing is done: a file that holds the AutoDNS password
/// must not be readable by others. ErrorCode::config otherwise.
Expected<void> check_config_file(const Globals& g);

/// The exit code for a failure of this kind.
int exit_code_for(ErrorCode code);

/// Opens the backend selected by --backend: the local store (--store, MAILPROXY_STORE or the config file;
/// default DESIGN §3) or AutoDNS (settings from the environment and the config file; -v traces requests).
Expected<std::unique_ptr<store::EntryStore>> open_store(const Globals& g);

/// The AutoDNS client for the settings in `g`, tracing to stderr with -v.
Expected<std::unique_ptr<autodns::Client>> open_autodns(const Globals& g);

}  // namespace mailproxy::cli
