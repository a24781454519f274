#include "core/autodns/settings.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::autodns {
namespace {

Expected<std::chrono::milliseconds> seconds(std::string_view key, const std::string& text, double min,
                                            double max) {
    const auto v = util::parse_number(util::trim(text));
    if (!v || *v < min || *v > max) {
        return fail(ErrorCode::config,
                    fmt::format("autodns.{} ({}) must be a number of seconds from {} to {}", key, text,
                                util::format_number(min), util::format_number(max)));
    }
    return std::chrono::milliseconds(static_cast<long long>(*v * 1000));
}

Expected<std::string> read_password_file(const std::string& path) {
    if (auto ok = check_private(path, "the AutoDNS password"); !ok)
        return tl::make_unexpected(ok.error());
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(ErrorCode::config,
                    fmt::format("cannot read the AutoDNS password file {}: {}", path, std::strerror(errno)));
    }
    std::string line;
    char c = 0;
    while (in.get(c) && c != '\n') {
        if (line.size() >= 4096)
            return fail(ErrorCode::config, fmt::format("{}: password line too long", path));
        line += c;
    }
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.empty())
        return fail(ErrorCode::config, fmt::format("the AutoDNS password file {} is empty", path));
    return line;
}

}  // namespace

Expected<void> check_private(const std::string& path, std::string_view what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return fail(ErrorCode::config, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    if ((st.st_mode & 077) != 0) {
        return fail(ErrorCode::config,
                    fmt::format("{} holds {} but others can read it (mode {:04o}); run: chmod 600 {}", path,
                                what, st.st_mode & 07777, path));
    }
    return {};
}

Expected<Settings> resolve_settings(const SettingsSources& src) {
    const auto env = [&](const char* name) -> std::string {
        const char* v = src.getenv ? src.getenv(name) : std::getenv(name);
        return v != nullptr ? std::string(v) : std::string();
    };
    const auto conf = [&](const std::string& key) -> std::string {
        const auto it = src.config.find(key);
        return it == src.config.end() ? std::string() : it->second;
    };
    for (const auto& [key, value] : src.config) {
        bool known = false;
        for (auto k : k_settings_keys)
            known = known || k == key;
        if (!known) {
            return fail(ErrorCode::config,
                        fmt::format("{}: unknown key {} in [autodns] (known: user, password, "
                                    "password-file, context, url, ca-file, connect-timeout, "
                                    "timeout, retries, retry-delay)",
                                    src.config_file, key));
        }
    }

    Settings s;
    s.user = env("MAILPROXY_AUTODNS_USER");
    if (s.user.empty())
        s.user = conf("user");
    if (s.user.empty()) {
        return fail(ErrorCode::config,
                    "no AutoDNS user: set MAILPROXY_AUTODNS_USER or user in the [autodns] section of the "
                    "config file");
    }

    s.password = env("MAILPROXY_AUTODNS_PASSWORD");
    if (s.password.empty()) {
        if (!conf("password").empty() && !conf("password-file").empty()) {
            return fail(
                ErrorCode::config,
                fmt::format("{}: [autodns] has both password and password-file; keep one", src.config_file));
        }
        if (!conf("password").empty()) {
            if (auto ok = check_private(src.config_file, "the AutoDNS password"); !ok) {
                return tl::make_unexpected(ok.error());
            }
            s.password = conf("password");
        } else if (!conf("password-file").empty()) {
            auto p = read_password_file(conf("password-file"));
            if (!p)
                return tl::make_unexpected(p.error());
            s.password = *p;
        }
    }
    if (s.password.empty()) {
        return fail(
            ErrorCode::config,
            "no AutoDNS password: set MAILPROXY_AUTODNS_PASSWORD, or password or password-file in the "
            "[autodns] section of the config file");
    }

    auto context = env("MAILPROXY_AUTODNS_CONTEXT");
    if (context.empty())
        context = conf("context");
    if (!context.empty()) {
        const auto v = util::parse_integer(util::trim(context));
        if (!v || *v < 1 || *v > 2147483647) {
            return fail(ErrorCode::config,
                        fmt::format("AutoDNS context ({}) must be a positive number", context));
        }
        s.context = static_cast<int>(*v);
    }

    std::string url = env("MAILPROXY_AUTODNS_URL");
    if (url.empty())
        url = conf("url");
    if (src.demo)
        url = std::string(k_demo_url);
    if (!url.empty()) {
        if (!url.starts_with("https://") || url.size() <= 8) {
            return fail(
                ErrorCode::config,
                fmt::format("AutoDNS URL ({}) must start with https:// (credentials are never sent in clear)",
                            url));
        }
        while (url.back() == '/')
            url.pop_back();
        s.url = url;
    }

    s.ca_file = conf("ca-file");
    if (!conf("connect-timeout").empty()) {
        auto v = seconds("connect-timeout", conf("connect-timeout"), 0.1, 600);
        if (!v)
            return tl::make_unexpected(v.error());
        s.connect_timeout = *v;
    }
    if (!conf("timeout").empty()) {
        auto v = seconds("timeout", conf("timeout"), 0.1, 3600);
        if (!v)
            return tl::make_unexpected(v.error());
        s.timeout = *v;
    }
    if (!conf("retry-delay").empty()) {
        auto v = seconds("retry-delay", conf("retry-delay"), 0, 60);
        if (!v)
            return tl::make_unexpected(v.error());
        s.retry_delay = *v;
    }
    if (!conf("retries").empty()) {
        const auto v = util::parse_integer(util::trim(conf("retries")));
        if (!v || *v < 0 || *v > 10) {
            return fail(ErrorCode::config,
                        fmt::format("autodns.retries ({}) must be a number from 0 to 10", conf("retries")));
        }
        s.retries = static_cast<int>(*v);
    }
    return s;
}

}  // namespace mailproxy::autodns
