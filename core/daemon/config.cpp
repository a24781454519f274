#include "core/daemon/config.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/util/net.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::daemon {

std::vector<std::string> check(const ServeConfig& c) {
    std::vector<std::string> errors;
    if (c.listen.empty())
        errors.emplace_back("listen: at least one address is needed");
    for (const auto& l : c.listen) {
        if (!util::parse_host_port(l))
            errors.push_back(fmt::format("listen: {} is not ADDRESS:PORT, [IPv6]:PORT or :PORT", l));
    }
    if (c.store.empty())
        errors.emplace_back("store: no entry store directory");
    if (c.state_dir.empty())
        errors.emplace_back("state-dir: no state directory");
    if (c.tls_cert.empty() != c.tls_key.empty())
        errors.emplace_back("tls-cert and tls-key go together");
    for (const auto* f : {&c.tls_cert, &c.tls_key}) {
        if (!f->empty() && ::access(f->c_str(), R_OK) != 0)
            errors.push_back(fmt::format("{}: cannot be read", *f));
    }
    if (c.max_message_size < 1024)
        errors.emplace_back("max-message-size: at least 1024 bytes");
    if (c.max_recipients < 1)
        errors.emplace_back("max-recipients: at least 1");
    if (c.max_connections < 1 || c.max_connections_per_ip < 1)
        errors.emplace_back("max-connections and max-connections-per-ip: at least 1");
    for (const auto& [name, v] : {std::pair<const char*, int>{"command-timeout", c.command_timeout},
                                  {"data-timeout", c.data_timeout},
                                  {"target-timeout", c.target_timeout},
                                  {"connect-timeout", c.connect_timeout}}) {
        if (v < 1 || v > 3600)
            errors.push_back(fmt::format("{}: {} is not 1 to 3600 seconds", name, v));
    }
    if (!c.user.empty() && ::getpwnam(c.user.c_str()) == nullptr)
        errors.push_back(fmt::format("user: no user {}", c.user));
    if (c.log != "stderr" && c.log != "syslog")
        errors.push_back(fmt::format("log: {} is not stderr or syslog", c.log));
    if (c.target_tls != "none" && c.target_tls != "opportunistic" && c.target_tls != "required")
        errors.push_back(fmt::format("target-tls: {} is not none, opportunistic or required", c.target_tls));
    if (c.scanner.clamd_timeout < 1 || c.scanner.clamd_timeout > 3600)
        errors.push_back(fmt::format("clamd-timeout: {} is not 1 to 3600 seconds", c.scanner.clamd_timeout));
    if (auto spam = filter::make_spam_engine(c.spam); !spam)
        errors.push_back(spam.error().message);
    if (c.spam_failure != "tempfail" && c.spam_failure != "pass")
        errors.push_back(fmt::format("spam-failure: {} is not tempfail or pass", c.spam_failure));
    if (c.greylist_delay < 1 || c.greylist_delay > 86400)
        errors.push_back(fmt::format("greylist-delay: {} is not 1 to 86400 seconds", c.greylist_delay));
    if (c.greylist_retry_window <= c.greylist_delay || c.greylist_retry_window > 30 * 86400)
        errors.push_back(
            fmt::format("greylist-retry-window: {} is not above greylist-delay and at most 30 days",
                        c.greylist_retry_window));
    if (c.greylist_max_age < c.greylist_retry_window || c.greylist_max_age > 366 * 86400)
        errors.push_back(
            fmt::format("greylist-max-age: {} is not at least greylist-retry-window and at most a year",
                        c.greylist_max_age));
    if (c.scanner_failure != "tempfail" && c.scanner_failure != "pass")
        errors.push_back(fmt::format("scanner-failure: {} is not tempfail or pass", c.scanner_failure));
    return errors;
}

}  // namespace mailproxy::daemon
