#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/filter/spam.hpp"
#include "core/filter/virus.hpp"

namespace mailproxy::cli {

/// The virus scanner's options, the same for `serve` and `scan`.
struct ScannerArgs {
    filter::ScannerChoice choice;
    std::string scanner_failure = "tempfail";  ///< tempfail or pass
};

/// Adds --clamav-db, --clamd, --clamd-timeout and --scanner-failure to `cmd`.
void add_scanner_options(CLI::App* cmd, ScannerArgs& a);

/// The spam engine's options, the same for `serve` and `scan`.
struct SpamArgs {
    filter::SpamChoice choice;
    std::string spam_failure = "tempfail";  ///< tempfail or pass
};

/// Adds --spam-engine, --spam-timeout, --spam-max-size and --spam-failure to `cmd`.
void add_spam_options(CLI::App* cmd, SpamArgs& a);

}  // namespace mailproxy::cli
