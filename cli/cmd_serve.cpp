// `mailproxy serve`: the filter itself, in the foreground (mailproxy-serve(8)).
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/choices.hpp"
#include "cli/output.hpp"
#include "cli/scanner_options.hpp"
#include "core/daemon/config.hpp"
#include "core/daemon/entries.hpp"
#include "core/daemon/server.hpp"
#include "core/filter/virus.hpp"
#include "core/store/local_store.hpp"

namespace mailproxy::cli {
namespace {

struct ServeArgs {
    std::vector<std::string> listen;
    std::string state_dir = "/var/lib/mailproxy";
    std::string hostname;
    std::string tls_cert;
    std::string tls_key;
    std::size_t max_message_size = 50u << 20;
    std::size_t max_recipients = 100;
    std::size_t max_connections = 1000;
    std::size_t max_connections_per_ip = 20;
    std::string user;
    std::string log = "stderr";
    int command_timeout = 300;
    int data_timeout = 180;
    int target_timeout = 300;
    int connect_timeout = 30;
    std::string target_tls = "opportunistic";
    ScannerArgs scanner;
    SpamArgs spam;
    std::int64_t greylist_delay = 300;
    std::int64_t greylist_retry_window = 2 * 86400;
    std::int64_t greylist_max_age = 35 * 86400;
    bool check_config = false;
};

std::shared_ptr<const daemon::ServeConfig> config_of(const Globals& g, const ServeArgs& a) {
    auto c = std::make_shared<daemon::ServeConfig>();
    if (!a.listen.empty())
        c->listen = a.listen;
    c->store = g.store.empty() ? store::default_store_dir() : std::filesystem::path(g.store);
    c->state_dir = a.state_dir;
    c->hostname = a.hostname;
    if (c->hostname.empty()) {
        char name[256] = {};
        if (::gethostname(name, sizeof name - 1) == 0)
            c->hostname = name;
        if (c->hostname.empty())
            c->hostname = "localhost";
    }
    c->tls_cert = a.tls_cert;
    c->tls_key = a.tls_key;
    c->max_message_size = a.max_message_size;
    c->max_recipients = a.max_recipients;
    c->max_connections = a.max_connections;
    c->max_connections_per_ip = a.max_connections_per_ip;
    c->user = a.user;
    c->log = a.log;
    c->command_timeout = a.command_timeout;
    c->data_timeout = a.data_timeout;
    c->target_timeout = a.target_timeout;
    c->connect_timeout = a.connect_timeout;
    c->target_tls = a.target_tls;
    c->scanner = a.scanner.choice;
    c->scanner_failure = a.scanner.scanner_failure;
    c->spam = a.spam.choice;
    c->spam_failure = a.spam.spam_failure;
    c->greylist_delay = a.greylist_delay;
    c->greylist_retry_window = a.greylist_retry_window;
    c->greylist_max_age = a.greylist_max_age;
    return c;
}

/// SIGHUP: the command line and the config file are read again, as at start.
Expected<std::shared_ptr<const daemon::ServeConfig>> reread(const Globals& g) {
    auto fresh = make_cli();
    try {
        fresh->app.parse(g.argc, g.argv);
    } catch (const CLI::ParseError& e) {
        return fail(ErrorCode::config, fmt::format("the configuration cannot be read: {}", e.what()));
    }
    fresh->globals.config = fresh->app.get_config_ptr()->as<std::string>();
    if (auto ok = check_config_file(fresh->globals); !ok)
        return tl::make_unexpected(ok.error());
    auto args = std::static_pointer_cast<ServeArgs>(fresh->args);
    if (!args)
        return fail(ErrorCode::config, "the command line no longer selects serve");
    auto c = config_of(fresh->globals, *args);
    if (auto errors = daemon::check(*c); !errors.empty()) {
        std::string msg;
        for (const auto& e : errors)
            msg += (msg.empty() ? "" : "; ") + e;
        return fail(ErrorCode::config, msg);
    }
    return c;
}

int run_serve(const Globals& g, const ServeArgs& a) {
    auto config = config_of(g, a);
    if (a.check_config) {
        auto errors = daemon::check(*config);
        daemon::Entries entries(config->store);
        if (auto ok = entries.reload(); !ok)
            errors.push_back(ok.error().message);
        auto scanner = filter::open_scanner(config->scanner);
        if (!scanner)
            errors.push_back(scanner.error().message);
        if (errors.empty()) {
            std::cout << fmt::format("configuration OK ({} entries in {}; virus scanner {})\n",
                                     entries.size(), config->store.string(), (*scanner)->describe());
            return k_exit_ok;
        }
        for (const auto& e : errors)
            print_error(e);
        return k_exit_usage;
    }
    daemon::Logger log(config->log == "syslog");
    daemon::Server server(config, log, [&g] { return reread(g); });
    auto bound = server.start();
    if (!bound) {
        print_error(bound.error().message);
        return bound.error().code == ErrorCode::config ? k_exit_usage : k_exit_failed;
    }
    std::string addresses;
    for (const auto& b : *bound)
        addresses += (addresses.empty() ? "" : " ") + b;
    log.info("ready",
             {{"listen", addresses}, {"store", config->store.string()}, {"hostname", config->hostname}});
    std::cout << "ready " << addresses << std::endl;
    server.run();
    return k_exit_ok;
}

}  // namespace

void register_serve(Cli& cli) {
    auto* cmd =
        cli.app.add_subcommand("serve", "Run the filter: a before-queue SMTP proxy, in the foreground");
    auto a = std::make_shared<ServeArgs>();
    cmd->add_option("--listen", a->listen,
                    "Address to listen on, ADDR:PORT or [IPv6]:PORT (repeatable; default 0.0.0.0:25)")
        ->type_name("ADDR:PORT");
    cmd->add_option("--state-dir", a->state_dir,
                    "Spool, quarantine, greylisting data, libclamav's temporary files")
        ->type_name("DIR")
        ->capture_default_str();
    cmd->add_option("--hostname", a->hostname, "Name in the greeting and Received: (default: the system's)")
        ->type_name("NAME");
    cmd->add_option("--tls-cert", a->tls_cert, "PEM certificate chain: offer STARTTLS")->type_name("FILE");
    cmd->add_option("--tls-key", a->tls_key, "PEM private key for --tls-cert")->type_name("FILE");
    cmd->add_option("--max-message-size", a->max_message_size, "Largest message in bytes (552 above)")
        ->type_name("BYTES")
        ->capture_default_str();
    cmd->add_option("--max-recipients", a->max_recipients, "Recipients per transaction (452 above)")
        ->type_name("N")
        ->capture_default_str();
    cmd->add_option("--max-connections", a->max_connections, "Connections at once (421 above)")
        ->type_name("N")
        ->capture_default_str();
    cmd->add_option("--max-connections-per-ip", a->max_connections_per_ip,
                    "Connections at once from one address")
        ->type_name("N")
        ->capture_default_str();
    cmd->add_option("--user", a->user, "Drop to this user after binding (when started as root)")
        ->type_name("USER");
    with_choices(cmd->add_option("--log", a->log, "Where log lines go"), {"stderr", "syslog"})
        ->type_name("TARGET")
        ->capture_default_str();
    cmd->add_option("--command-timeout", a->command_timeout, "Seconds to wait for a client's command")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--data-timeout", a->data_timeout, "Seconds to wait for more message data")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--target-timeout", a->target_timeout, "Seconds to wait for the mail server's replies")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--connect-timeout", a->connect_timeout, "Seconds to connect to the mail server")
        ->type_name("SECONDS")
        ->capture_default_str();
    with_choices(cmd->add_option("--target-tls", a->target_tls, "STARTTLS to the mail server"),
                 {"none", "opportunistic", "required"})
        ->type_name("MODE")
        ->capture_default_str();
    add_scanner_options(cmd, a->scanner);
    add_spam_options(cmd, a->spam);
    cmd->add_option(
           "--greylist-delay", a->greylist_delay,
           "Greylisting: seconds a new (network, sender, recipient) must wait before a retry is taken")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--greylist-retry-window", a->greylist_retry_window,
                    "Greylisting: seconds after the first try within which the retry must come")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("--greylist-max-age", a->greylist_max_age,
                    "Greylisting: seconds a passed triplet is kept after its last message")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_flag("--check-config", a->check_config, "Check the configuration and the entries, then exit");
    // an option given twice (config file, then command line; or a wrapper script adding one) takes the last
    for (auto* opt : cmd->get_options()) {
        if (opt->get_lnames() != std::vector<std::string>{"listen"} && opt->get_type_size() == 1)
            opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    const Globals& g = cli.globals;
    cmd->callback([&cli, &g, a] {
        cli.args = a;
        cli.run = [&g, a] { return run_serve(g, *a); };
    });
}

}  // namespace mailproxy::cli
