#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

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
    bool quiet = false;
    bool json = false;
    int verbose = 0;
};

/// The parsed command line: the CLI11 tree, the global options, and the selected command.
struct Cli {
    CLI::App app{"mailproxy: order, configure and run a virus and spam filter in front of a mail server",
                 "mailproxy"};
    Globals globals;
    /// Set by the selected subcommand's parse callback; runs after parsing is complete.
    std::function<int()> run;
};

/// Builds the whole command tree (every subcommand registered).
std::unique_ptr<Cli> make_cli();

/// Each cli/cmd_<name>.cpp registers its subcommand.
void register_entry(Cli& cli);
void register_level(Cli& cli);
void register_completion(Cli& cli);

/// The exit code for a failure of this kind.
int exit_code_for(ErrorCode code);

/// Opens the store selected by --store, MAILPROXY_STORE or the config file (default: DESIGN §3).
std::unique_ptr<store::EntryStore> open_store(const Globals& g);

}  // namespace mailproxy::cli
