#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/filter/spam.hpp"
#include "core/filter/virus.hpp"

namespace mailproxy::daemon {

/// `mailproxy serve`'s settings: one plain struct, immutable once loaded, shared as
/// std::shared_ptr<const ServeConfig> so that SIGHUP can swap it (STYLE "Config"). Each member is a
/// `serve` option and a key of the same name in the [serve] section of the config file.
struct ServeConfig {
    std::vector<std::string> listen{"0.0.0.0:25"};  ///< ADDR:PORT, [IPv6]:PORT
    std::filesystem::path store;                    ///< the entries (local store directory)
    std::filesystem::path state_dir = "/var/lib/mailproxy";
    std::string hostname;  ///< for the greeting and Received:; default the system's name
    std::string tls_cert;  ///< PEM chain; with tls_key, STARTTLS is offered
    std::string tls_key;
    std::size_t max_message_size = 50u << 20;
    std::size_t max_recipients = 100;
    std::size_t max_connections = 1000;
    std::size_t max_connections_per_ip = 20;
    std::string user;            ///< drop to this user after binding (when started as root)
    std::string log = "stderr";  ///< stderr or syslog
    int command_timeout = 300;   ///< seconds; RFC 5321 4.5.3.2: 5 minutes
    int data_timeout = 180;      ///< seconds per read during DATA (RFC: 3 minutes per block)
    int target_timeout = 300;    ///< seconds to wait for the target's replies (RFC: 5 to 10 minutes)
    int connect_timeout = 30;    ///< seconds to connect to the target
    std::string target_tls = "opportunistic";        ///< none, opportunistic, required
    filter::ScannerChoice scanner;                   ///< clamav-db, clamd, clamd-timeout
    std::string scanner_failure = "tempfail";        ///< tempfail or pass: a virus scan that fails
    filter::SpamChoice spam;                         ///< spam-engine, spam-timeout, spam-max-size
    std::string spam_failure = "tempfail";           ///< tempfail or pass: a spam engine that fails
    std::int64_t greylist_delay = 300;               ///< seconds a new triplet must wait
    std::int64_t greylist_retry_window = 2 * 86400;  ///< seconds after the first try the retry may come
    std::int64_t greylist_max_age = 35 * 86400;      ///< seconds a passed triplet is kept unused
};

/// Every problem of a configuration (empty when it is usable): listen addresses, limits, TLS files,
/// the user, the log target, the store and state directories.
std::vector<std::string> check(const ServeConfig& c);

}  // namespace mailproxy::daemon
