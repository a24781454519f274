// `mailproxy autodns ping`: checks the URL, credentials and context with GET /hello.
#include <iostream>

#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"

namespace mailproxy::cli {
namespace {

int run_ping(const Globals& g) {
    auto client = open_autodns(g);
    if (!client) {
        print_error(client.error().message);
        return exit_code_for(client.error().code);
    }
    const auto& s = (*client)->settings();
    auto r = (*client)->hello();
    if (!r) {
        print_error(r.error().message);
        return exit_code_for(r.error().code);
    }
    if (g.json) {
        std::cout << json_text(
            nlohmann::ordered_json{{"url", s.url},
                                   {"user", s.user},
                                   {"context", s.context},
                                   {"status", {{"code", r->status_code}, {"text", r->status_text}}},
                                   {"stid", r->stid}});
    } else {
        std::cout << fmt::format("AutoDNS at {} answered for user {} in context {}: {} {}\n", s.url, s.user,
                                 s.context, r->status_code, r->status_text);
    }
    return k_exit_ok;
}

}  // namespace

void register_autodns(Cli& cli) {
    auto* autodns = cli.app.add_subcommand("autodns", "Talk to AutoDNS directly");
    autodns->require_subcommand(1);
    autodns->fallthrough();
    auto* ping =
        autodns->add_subcommand("ping", "Check the AutoDNS URL, credentials and context (GET /hello)");
    const Globals& g = cli.globals;
    ping->callback([&cli, &g] { cli.run = [&g] { return run_ping(g); }; });
}

}  // namespace mailproxy::cli
