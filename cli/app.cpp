#include "cli/app.hpp"

#include <cstdlib>

#include "core/store/local_store.hpp"
#include "core/version.hpp"

namespace mailproxy::cli {
namespace {

/// CLI11 applies config-file values before environment variables; mailproxy documents the usual order
/// (command line, then environment, then config file), so config items whose option has its
/// environment variable set are dropped here and the environment fills them in.
class EnvFirstConfig : public CLI::ConfigTOML {
  public:
    explicit EnvFirstConfig(const CLI::App* root) : m_root(root) {}

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        auto config = CLI::ConfigTOML::from_config(input);
        std::erase_if(config, [this](const CLI::ConfigItem& item) {
            if (!(item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == "default"))) {
                return false;
            }
            for (const CLI::Option* opt : m_root->get_options()) {
                if (opt->check_lname(item.name) && !opt->get_envname().empty()) {
                    const char* v = std::getenv(opt->get_envname().c_str());
                    return v != nullptr && v[0] != '\0';
                }
            }
            return false;
        });
        return config;
    }

  private:
    const CLI::App* m_root;
};

}  // namespace

std::unique_ptr<Cli> make_cli() {
    auto cli = std::make_unique<Cli>();
    auto& app = cli->app;
    auto& g = cli->globals;
    app.set_version_flag("--version", std::string("mailproxy ") + k_version);
    app.set_config("--config", "", "Read options from FILE (TOML: key = value, [entry.create] sections)")
        ->type_name("FILE");
    app.config_formatter(std::make_shared<EnvFirstConfig>(&app));
    app.allow_config_extras(false);  // an unknown key is an error, inherited by every subcommand
    app.add_option("--store", g.store,
                   "Entry store directory (default /etc/mailproxy/entries for root, "
                   "else $XDG_DATA_HOME/mailproxy/entries)")
        ->envname("MAILPROXY_STORE")
        ->type_name("DIR");
    app.add_flag("-q,--quiet", g.quiet, "Print no notes, only results and errors");
    app.add_flag("-v,--verbose", g.verbose, "Say more about what is done (repeat for more)");
    app.add_flag("--json", g.json, "Print results as JSON (AutoDNS object shape) for scripts");
    app.require_subcommand(1);
    app.fallthrough();

    register_entry(*cli);
    register_level(*cli);
    register_completion(*cli);
    return cli;
}

int exit_code_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid:
            return k_exit_invalid;
        case ErrorCode::not_found:
            return k_exit_not_found;
        case ErrorCode::exists:
        case ErrorCode::io:
        case ErrorCode::corrupt:
        case ErrorCode::failed:
            return k_exit_failed;
    }
    return k_exit_failed;
}

std::unique_ptr<store::EntryStore> open_store(const Globals& g) {
    return std::make_unique<store::LocalStore>(g.store.empty() ? store::default_store_dir()
                                                               : std::filesystem::path(g.store));
}

}  // namespace mailproxy::cli
