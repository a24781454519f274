#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/util/error.hpp"

namespace mailproxy::cli {

/// One option as completions and the documentation check see it.
struct OptionSpec {
    std::vector<std::string> names;  ///< "--store", "-q", "--no-modify-subject"
    bool takes_value = false;
    std::string value_kind;  ///< "file", "dir", "choices" or "" (free text)
    std::vector<std::string> choices;
    std::string description;
};

/// One command of the tree: "" is the root, "entry create" a leaf.
struct CommandSpec {
    std::string path;
    std::string description;
    std::vector<std::string> subcommands;
    std::vector<OptionSpec> options;  ///< its own and those it inherits from its parents
    std::string positional_kind;      ///< as OptionSpec::value_kind, for its positional arguments
    std::vector<std::string> positional_choices;
    bool has_positional = false;
};

/// Walks the CLI11 tree, root first, depth first.
std::vector<CommandSpec> describe(const CLI::App& root);

/// The completion script for `shell` ("bash", "zsh" or "fish"); ErrorCode::invalid for another shell.
Expected<std::string> completion_script(const CLI::App& root, std::string_view shell);

}  // namespace mailproxy::cli
