// `mailproxy completion bash|zsh|fish`: completions generated from the CLI11 tree.
#include <iostream>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/completion.hpp"
#include "cli/output.hpp"

namespace mailproxy::cli {

void register_completion(Cli& cli) {
    auto* cmd =
        cli.app.add_subcommand("completion", "Print the shell completion script for bash, zsh or fish");
    auto shell = std::make_shared<std::string>();
    with_choices(cmd->add_option("shell", *shell, "The shell")->required(), {"bash", "zsh", "fish"})
        ->type_name("SHELL");
    cmd->callback([&cli, shell] {
        cli.run = [&cli, shell]() -> int {
            auto script = completion_script(cli.app, *shell);
            if (!script) {
                print_error(script.error().message);
                return k_exit_usage;
            }
            std::cout << *script;
            return k_exit_ok;
        };
    });
}

}  // namespace mailproxy::cli
