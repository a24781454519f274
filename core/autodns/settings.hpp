#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace mailproxy::autodns {

inline constexpr std::string_view k_live_url = "https://api.autodns.com/v1";
inline constexpr std::string_view k_demo_url = "https://api.demo.autodns.com/v1";

/// How to reach AutoDNS. The password is never printed or logged.
struct Settings {
    std::string url{k_live_url};  ///< without a trailing '/'
    std::string user;
    std::string password;
    int context = 4;
    std::string ca_file;  ///< extra trust anchors; empty = the system's
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds timeout{60'000};
    int retries = 3;                             ///< further attempts of a request that may be repeated
    std::chrono::milliseconds retry_delay{500};  ///< first back-off; doubles each time, at most 8 s
};

/// Keys of the `[autodns]` section of the config file.
inline constexpr std::string_view k_settings_keys[] = {"user",    "password",   "password-file",   "context",
                                                       "url",     "ca-file",    "connect-timeout", "timeout",
                                                       "retries", "retry-delay"};

/// Where settings come from, highest first: the command line (only --demo: credentials are never
/// command-line values), the environment (MAILPROXY_AUTODNS_USER, _PASSWORD, _CONTEXT, _URL), the
/// `[autodns]` section of the config file.
struct SettingsSources {
    std::map<std::string, std::string> config;       ///< `[autodns]` keys as read
    std::string config_file;                         ///< its path, for messages and the permission check
    bool demo = false;                               ///< --demo: the demo system's URL
    std::function<const char*(const char*)> getenv;  ///< defaults to ::getenv
};

/// Resolves and checks the settings. Fails with ErrorCode::config naming the key and what to do:
/// no user or password, an unknown key, a bad number, a non-https URL, a password file others can read.
Expected<Settings> resolve_settings(const SettingsSources& sources);

/// Fails (ErrorCode::config) when `path` can be read by its group or by others; `what` says what secret
/// it holds. The message tells the user to run `chmod 600 <path>`.
Expected<void> check_private(const std::string& path, std::string_view what);

}  // namespace mailproxy::autodns
