#include "cli/app.hpp"

#include <cstdlib>

#include <iostream>

#include "cli/choices.hpp"
#include "core/autodns/curl_transport.hpp"
#include "core/store/autodns_store.hpp"
#include "core/store/local_store.hpp"
#include "core/version.hpp"

namespace mailproxy::cli {
namespace {

/// CLI11 applies config-file values before environment variables; mailproxy documents the usual order
/// (command line, then environment, then config file), so config items whose option has its
/// environment variable set are dropped here and the environment fills them in.
///
/// It also takes the `[autodns]` section out (credentials and connection settings, which are not
/// options) and hands it to Globals::autodns.
class EnvFirstConfig : public CLI::ConfigTOML {
  public:
    EnvFirstConfig(const CLI::App* root, std::map<std::string, std::string>* autodns)
        : m_root(root), m_autodns(autodns) {}

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        auto config = CLI::ConfigTOML::from_config(input);
        std::erase_if(config, [this](const CLI::ConfigItem& item) {
            if (item.parents.size() == 1 && item.parents[0] == "autodns") {
                if (item.name != "++" && item.name != "--") {
                    (*m_autodns)[item.name] = item.inputs.empty() ? std::string() : item.inputs.front();
                }
                return true;
            }
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
    std::map<std::string, std::string>* m_autodns;
};

}  // namespace

std::unique_ptr<Cli> make_cli() {
    auto cli = std::make_unique<Cli>();
    auto& app = cli->app;
    auto& g = cli->globals;
    app.set_version_flag("--version", std::string("mailproxy ") + k_version);
    app.set_config("--config", "", "Read options from FILE (TOML: key = value, [entry.create] sections)")
        ->type_name("FILE");
    app.config_formatter(std::make_shared<EnvFirstConfig>(&app, &g.autodns));
    app.allow_config_extras(false);  // an unknown key is an error, inherited by every subcommand
    app.add_option("--store", g.store,
                   "Entry store directory (default /etc/mailproxy/entries for root, "
                   "else $XDG_DATA_HOME/mailproxy/entries)")
        ->envname("MAILPROXY_STORE")
        ->type_name("DIR");
    with_choices(
        app.add_option("--backend", g.backend, "Where entries live: local (the store directory) or autodns"),
        {"local", "autodns"})
        ->envname("MAILPROXY_BACKEND")
        ->type_name("BACKEND");
    app.add_flag("--demo", g.demo, "Use the AutoDNS demo system (https://api.demo.autodns.com/v1)");
    app.add_flag("-q,--quiet", g.quiet, "Print no notes, only results and errors");
    app.add_flag("-v,--verbose", g.verbose, "Say more about what is done (repeat for more)");
    app.add_flag("--json", g.json, "Print results as JSON (AutoDNS object shape) for scripts");
    app.require_subcommand(1);
    app.fallthrough();

    register_entry(*cli);
    register_level(*cli);
    register_zone(*cli);
    register_enable(*cli);
    register_serve(*cli);
    register_scan(*cli);
    register_autodns(*cli);
    register_completion(*cli);
    return cli;
}

int exit_code_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid:
            return k_exit_invalid;
        case ErrorCode::not_found:
            return k_exit_not_found;
        case ErrorCode::config:
            return k_exit_usage;
        case ErrorCode::exists:
        case ErrorCode::unavailable:
        case ErrorCode::io:
        case ErrorCode::corrupt:
        case ErrorCode::failed:
            return k_exit_failed;
    }
    return k_exit_failed;
}

Expected<void> check_config_file(const Globals& g) {
    if (g.autodns.contains("password") && !g.config.empty()) {
        return autodns::check_private(g.config, "the AutoDNS password");
    }
    return {};
}

Expected<std::unique_ptr<autodns::Client>> open_autodns(const Globals& g) {
    autodns::SettingsSources sources;
    sources.config = g.autodns;
    sources.config_file = g.config;
    sources.demo = g.demo;
    auto settings = autodns::resolve_settings(sources);
    if (!settings)
        return tl::make_unexpected(settings.error());
    autodns::CurlOptions curl;
    curl.ca_file = settings->ca_file;
    curl.connect_timeout = settings->connect_timeout;
    curl.timeout = settings->timeout;
    autodns::Trace trace;
    if (g.verbose > 0) {
        trace = [](std::string_view line) { std::cerr << "mailproxy: autodns: " << line << '\n'; };
    }
    return std::make_unique<autodns::Client>(*settings, std::make_unique<autodns::CurlTransport>(curl),
                                             trace);
}

Expected<std::unique_ptr<store::EntryStore>> open_store(const Globals& g) {
    if (g.backend == "autodns") {
        auto client = open_autodns(g);
        if (!client)
            return tl::make_unexpected(client.error());
        if (g.verbose > 0)
            std::cerr << "mailproxy: backend AutoDNS at " << (*client)->settings().url << '\n';
        return std::make_unique<store::AutoDnsStore>(std::move(*client));
    }
    auto dir = g.store.empty() ? store::default_store_dir() : std::filesystem::path(g.store);
    if (g.verbose > 0)
        std::cerr << "mailproxy: entry store " << dir.string() << '\n';
    return std::make_unique<store::LocalStore>(std::move(dir));
}

}  // namespace mailproxy::cli
