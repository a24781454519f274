#include <doctest/doctest.h>

#include <sys/stat.h>

#include <thread>

#include "core/entry/presets.hpp"
#include "core/store/local_store.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace mailproxy;
using namespace mailproxy::store;
using entry::MailProxy;
namespace fs = std::filesystem;

namespace {
MailProxy make(const std::string& domain) {
    MailProxy e;
    e.domain = domain;
    e.target = "mx." + domain;
    e.admin = "admin@" + domain;
    entry::set_protection(e, entry::Protection::medium);
    return e;
}

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& f : fs::directory_iterator(dir))
        out.push_back(f.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace

TEST_SUITE("store.local") {
    TEST_CASE("create writes <domain>.json that info reads back") {
        test::TempDir tmp;
        LocalStore s(tmp.path() / "entries");
        REQUIRE(s.create(make("example.com")).has_value());
        CHECK(files_in(tmp.path() / "entries") == std::vector<std::string>{".lock", "example.com.json"});
        const auto text = test::read_file(tmp.path() / "entries/example.com.json");
        CHECK(text == entry::dump(make("example.com")));
        auto e = s.info("example.com");
        REQUIRE(e.has_value());
        CHECK(e->target == "mx.example.com");
        struct stat st {};
        REQUIRE(::stat((tmp.path() / "entries/example.com.json").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0644);
    }

    TEST_CASE("create refuses an existing domain and an invalid entry, writing nothing") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("example.com")).has_value());
        auto again = make("example.com");
        again.target = "other.example.net";
        auto r = s.create(again);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::exists);
        CHECK(r.error().message == "example.com: an entry exists already (change it with 'entry update')");
        CHECK(s.info("example.com")->target == "mx.example.com");

        auto bad = make("example.org");
        bad.policy.spam.kill = 0;
        r = s.create(bad);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::invalid);
        CHECK(r.error().message == "example.org: spam.kill (0) must be greater than spam.spam (6.5)");
        CHECK_FALSE(fs::exists(tmp.path() / "example.org.json"));
    }

    TEST_CASE("update changes, validates and keeps unknown members") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        auto e = make("example.com");
        e.unknown["created"] = "2019-09-19T12:40:02.000+0200";
        REQUIRE(s.create(e).has_value());
        auto r = s.update("example.com", [](MailProxy& x) -> Expected<void> {
            x.greylisting = true;
            return {};
        });
        REQUIRE(r.has_value());
        CHECK(r->greylisting);
        CHECK(s.info("example.com")->greylisting);
        CHECK(s.info("example.com")->unknown["created"] == "2019-09-19T12:40:02.000+0200");

        r = s.update("example.com", [](MailProxy& x) -> Expected<void> {
            x.policy.spam.quarantine_digest_interval = 5;
            return {};
        });
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::invalid);
        CHECK(s.info("example.com")->policy.spam.quarantine_digest_interval == 1440);

        r = s.update("missing.com", [](MailProxy&) -> Expected<void> { return {}; });
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::not_found);
        CHECK(r.error().message == "missing.com: no such entry");
    }

    TEST_CASE("remove deletes; a missing entry is not_found") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("example.com")).has_value());
        REQUIRE(s.remove("example.com").has_value());
        CHECK(s.info("example.com").error().code == ErrorCode::not_found);
        CHECK(s.remove("example.com").error().code == ErrorCode::not_found);
    }

    TEST_CASE("names that are not canonical domains never reach the file system") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        for (const char* evil : {"../etc/passwd", "a/b.com", ".hidden.com", "EXAMPLE.com"}) {
            INFO(evil);
            CHECK(s.info(evil).error().code == ErrorCode::invalid);
            CHECK(s.remove(evil).error().code == ErrorCode::invalid);
        }
    }

    TEST_CASE("list names corrupt and foreign files and still returns the others") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("a.com")).has_value());
        REQUIRE(s.create(make("c.com")).has_value());
        test::write_file(tmp.path() / "b.com.json", "{ not json");
        test::write_file(tmp.path() / "d.com.json", entry::dump(make("other.com")));
        test::write_file(tmp.path() / "e.com.json", "");
        test::write_file(tmp.path() / "package.json", "{}");
        test::write_file(tmp.path() / "README", "not an entry");
        test::write_file(tmp.path() / ".a.com.json.tmp.abc123", "half");
        auto r = s.list({}, Detail::full);
        REQUIRE(r.has_value());
        REQUIRE(r->entries.size() == 2);
        CHECK(r->entries[0].domain == "a.com");
        CHECK(r->entries[1].domain == "c.com");
        REQUIRE(r->problems.size() == 4);
        CHECK(r->problems[0].message.starts_with((tmp.path() / "b.com.json").string() +
                                                 ": not valid JSON (at byte "));
        CHECK(r->problems[1].message == (tmp.path() / "d.com.json").string() +
                                            ": holds domain \"other.com\", not d.com as its name says");
        CHECK(r->problems[2].message == (tmp.path() / "e.com.json").string() + ": empty file, not an entry");
        CHECK(r->problems[3].source == (tmp.path() / "package.json").string());
        CHECK(r->problems[3].message.find("not an entry file") != std::string::npos);
    }

    TEST_CASE("list filters like AutoDNS LIKE") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("example.com")).has_value());
        REQUIRE(s.create(make("example.org")).has_value());
        auto high = make("other.net");
        entry::set_protection(high, entry::Protection::high);
        REQUIRE(s.create(high).has_value());
        const auto domains = [&](std::vector<Filter> f) {
            std::vector<std::string> out;
            const auto r = s.list(f, Detail::summary);
            for (const auto& e : r->entries)
                out.push_back(e.domain);
            return out;
        };
        CHECK(domains({{"domain", "ex*"}}) == std::vector<std::string>{"example.com", "example.org"});
        CHECK(domains({{"domain", "*.org"}}) == std::vector<std::string>{"example.org"});
        CHECK(domains({{"protection", "high"}}) == std::vector<std::string>{"other.net"});
        CHECK(domains({{"domain", "ex*"}, {"target", "*.com"}}) == std::vector<std::string>{"example.com"});
        CHECK(parse_filter("domain=ex*")->pattern == "ex*");
        CHECK(parse_filter("colour=red").error().message ==
              "filter 'colour=red' names unknown key 'colour' (use domain, target, admin, protection or "
              "greylisting)");
        CHECK(parse_filter("domain").error().code == ErrorCode::invalid);
    }

    TEST_CASE("a store that does not exist yet lists empty; a file in its place is an error") {
        test::TempDir tmp;
        LocalStore missing(tmp.path() / "nope");
        CHECK(missing.list({}, Detail::full)->entries.empty());
        test::write_file(tmp.path() / "file", "x");
        LocalStore file(tmp.path() / "file");
        CHECK(file.list({}, Detail::full).error().message ==
              "entry store " + (tmp.path() / "file").string() + " is not a directory");
        auto r = file.create(make("example.com"));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::io);
    }

    TEST_CASE("import is all or nothing") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("b.com")).has_value());
        auto bad = make("c.com");
        bad.admin = "nope";
        auto r = s.import({make("a.com"), bad}, false);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::invalid);
        CHECK(r.error().message == "c.com: admin (nope) is not an e-mail address (no '@')");
        r = s.import({make("a.com"), make("b.com")}, false);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == ErrorCode::exists);
        CHECK(r.error().message.find("b.com") != std::string::npos);
        r = s.import({make("a.com"), make("a.com")}, true);
        CHECK(r.error().message == "a.com: appears more than once in the import");
        CHECK(files_in(tmp.path()) == std::vector<std::string>{".lock", "b.com.json"});

        auto b2 = make("b.com");
        b2.target = "new.example.net";
        REQUIRE(s.import({make("a.com"), b2}, true).has_value());
        CHECK(files_in(tmp.path()) == std::vector<std::string>{".lock", "a.com.json", "b.com.json"});
        CHECK(s.info("b.com")->target == "new.example.net");
    }

    TEST_CASE("concurrent updates from many threads lose nothing") {
        test::TempDir tmp;
        LocalStore s(tmp.path());
        REQUIRE(s.create(make("example.com")).has_value());
        std::vector<std::thread> threads;
        for (int i = 0; i < 16; ++i) {
            threads.emplace_back([&s, i] {
                LocalStore own(s.dir());  // as a separate process would
                auto r = own.update("example.com", [i](MailProxy& e) -> Expected<void> {
                    e.whitelist.emails.push_back("user" + std::to_string(i) + "@example.org");
                    return {};
                });
                REQUIRE(r.has_value());
            });
        }
        for (auto& t : threads)
            t.join();
        CHECK(s.info("example.com")->whitelist.emails.size() == 16);
    }

    TEST_CASE("the default location follows XDG for users") {
        if (::geteuid() == 0) {
            CHECK(default_store_dir() == "/etc/mailproxy/entries");
        } else {
            ::setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
            CHECK(default_store_dir() == "/tmp/xdg/mailproxy/entries");
        }
    }
}
