// mailproxy: parsing selects a command; the command runs after parsing, inside the one try below.
#include <exception>
#include <iostream>

#include "cli/app.hpp"
#include "cli/output.hpp"

int main(int argc, char** argv) {
    using namespace mailproxy::cli;
    std::unique_ptr<Cli> cli;
    try {
        cli = make_cli();
        try {
            cli->app.parse(argc, argv);
        } catch (const CLI::CallForHelp& e) {
            return cli->app.exit(e);
        } catch (const CLI::CallForAllHelp& e) {
            return cli->app.exit(e);
        } catch (const CLI::CallForVersion& e) {
            return cli->app.exit(e);
        } catch (const CLI::ParseError& e) {
            print_error(e.what());
            std::cerr << "Run with --help for more information.\n";
            return k_exit_usage;
        }
        cli->globals.config = cli->app.get_config_ptr()->as<std::string>();
        cli->globals.argc = argc;
        cli->globals.argv = argv;
        if (auto ok = check_config_file(cli->globals); !ok) {
            print_error(ok.error().message);
            return exit_code_for(ok.error().code);
        }
        if (!cli->run) {
            print_error("no command given");
            return k_exit_usage;
        }
        return cli->run();
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
        return k_exit_failed;
    }
}
