#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace mailproxy::cli {

/// Restricts the option to `choices` (case-insensitive, the value becomes the listed spelling) and
/// records them so completions can offer them.
CLI::Option* with_choices(CLI::Option* opt, std::vector<std::string> choices);

/// The choices recorded for `opt`, or nullptr.
const std::vector<std::string>* choices_of(const CLI::Option* opt);

}  // namespace mailproxy::cli
