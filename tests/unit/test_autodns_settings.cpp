#include <doctest/doctest.h>

#include <sys/stat.h>

#include <map>

#include "core/autodns/settings.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace mailproxy;
using namespace mailproxy::autodns;

namespace {
struct Env {
    std::map<std::string, std::string> vars;
    std::function<const char*(const char*)> fn() {
        return [this](const char* name) -> const char* {
            const auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};
}  // namespace

TEST_SUITE("autodns.settings") {
    TEST_CASE("config file values with defaults") {
        test::TempDir tmp;
        const auto conf = (tmp.path() / "mailproxy.conf").string();
        test::write_file(conf, "");
        ::chmod(conf.c_str(), 0600);
        Env env;
        SettingsSources src{
            {{"user", "u"}, {"password", "p"}, {"timeout", "2.5"}, {"retries", "0"}}, conf, false, env.fn()};
        auto s = resolve_settings(src);
        REQUIRE(s.has_value());
        CHECK(s->url == k_live_url);
        CHECK(s->user == "u");
        CHECK(s->password == "p");
        CHECK(s->context == 4);
        CHECK(s->timeout == std::chrono::milliseconds(2500));
        CHECK(s->connect_timeout == std::chrono::milliseconds(10000));
        CHECK(s->retries == 0);
    }

    TEST_CASE("the environment wins over the file, --demo over both") {
        Env env{{{"MAILPROXY_AUTODNS_USER", "envuser"},
                 {"MAILPROXY_AUTODNS_PASSWORD", "envpass"},
                 {"MAILPROXY_AUTODNS_CONTEXT", "1"},
                 {"MAILPROXY_AUTODNS_URL", "https://autodns.example/v1/"}}};
        SettingsSources src{{{"user", "fileuser"}, {"url", "https://other.example/v1"}}, "", false, env.fn()};
        auto s = resolve_settings(src);
        REQUIRE(s.has_value());
        CHECK(s->user == "envuser");
        CHECK(s->password == "envpass");
        CHECK(s->context == 1);
        CHECK(s->url == "https://autodns.example/v1");
        src.demo = true;
        CHECK(resolve_settings(src)->url == k_demo_url);
    }

    TEST_CASE("a password file is read, and refused when others can read it") {
        test::TempDir tmp;
        const auto pw = (tmp.path() / "pw").string();
        test::write_file(pw, "sekrit\r\nsecond line\n");
        ::chmod(pw.c_str(), 0600);
        Env env;
        SettingsSources src{{{"user", "u"}, {"password-file", pw}}, "", false, env.fn()};
        CHECK(resolve_settings(src)->password == "sekrit");
        ::chmod(pw.c_str(), 0640);
        auto s = resolve_settings(src);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().code == ErrorCode::config);
        CHECK(s.error().message ==
              pw + " holds the AutoDNS password but others can read it (mode 0640); run: chmod 600 " + pw);
        CHECK(s.error().message.find("sekrit") == std::string::npos);
    }

    TEST_CASE("a password in a config file others can read is refused") {
        test::TempDir tmp;
        const auto conf = (tmp.path() / "c.conf").string();
        test::write_file(conf, "");
        ::chmod(conf.c_str(), 0604);
        Env env;
        SettingsSources src{{{"user", "u"}, {"password", "p"}}, conf, false, env.fn()};
        auto s = resolve_settings(src);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().message.find("chmod 600 " + conf) != std::string::npos);
    }

    TEST_CASE("every bad setting is refused with its key") {
        Env env{{{"MAILPROXY_AUTODNS_PASSWORD", "p"}}};
        const auto error = [&](std::map<std::string, std::string> conf) {
            conf.emplace("user", "u");
            auto s = resolve_settings(SettingsSources{conf, "f.conf", false, env.fn()});
            REQUIRE_FALSE(s.has_value());
            CHECK(s.error().code == ErrorCode::config);
            return s.error().message;
        };
        CHECK(error({{"url", "http://x.example/v1"}}) ==
              "AutoDNS URL (http://x.example/v1) must start with https:// (credentials are never sent in "
              "clear)");
        CHECK(error({{"context", "zero"}}) == "AutoDNS context (zero) must be a positive number");
        CHECK(error({{"timeout", "-1"}}) ==
              "autodns.timeout (-1) must be a number of seconds from 0.1 to 3600");
        CHECK(error({{"retries", "11"}}) == "autodns.retries (11) must be a number from 0 to 10");
        CHECK(error({{"colour", "red"}}).find("f.conf: unknown key colour in [autodns]") == 0);
        Env none;
        auto both = resolve_settings(SettingsSources{
            {{"user", "u"}, {"password", "a"}, {"password-file", "b"}}, "f.conf", false, none.fn()});
        REQUIRE_FALSE(both.has_value());
        CHECK(both.error().message == "f.conf: [autodns] has both password and password-file; keep one");
        auto s = resolve_settings(SettingsSources{{}, "", false, none.fn()});
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().message.find("no AutoDNS user") == 0);
    }
}
