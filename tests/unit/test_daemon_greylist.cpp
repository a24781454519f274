#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "core/daemon/greylist.hpp"

using namespace mailproxy::daemon;
namespace fs = std::filesystem;

TEST_SUITE("daemon greylist") {
    TEST_CASE("the triplet's parts: /24, /64, the sender without its extension") {
        CHECK(greylist_network("192.0.2.77") == "192.0.2.0/24");
        CHECK(greylist_network("::ffff:192.0.2.77") == "192.0.2.0/24");
        CHECK(greylist_network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
        CHECK(greylist_network("::1") == "::/64");
        CHECK(greylist_sender("Alice+news@Example.COM") == "alice@example.com");
        CHECK(greylist_sender("a@b+c.example") == "a@b+c.example");  // a + in the domain is not an extension
        CHECK(greylist_sender("") == "");
    }

    TEST_CASE("delay, retry window, first pass, expiry and purge; kept across opening again") {
        char tmpl[] = "/tmp/mailproxy-greylist-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        const fs::path dir = tmpl;
        const GreylistTimes t{300, 2 * 86400, 35 * 86400};
        const std::int64_t t0 = 1'800'000'000;
        {
            auto g = Greylist::open(dir);
            REQUIRE(g);
            auto d = (*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, t0);
            REQUIRE(d);
            CHECK_FALSE(d->pass);
            CHECK(d->wait == 300);
            d = (*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, t0 + 100);
            CHECK_FALSE(d->pass);
            CHECK(d->wait == 200);  // an early retry does not start the wait again
            d = (*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, t0 + 301);
            CHECK(d->pass);
            CHECK(d->delayed == 301);
            d = (*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, t0 + 400);
            CHECK(d->pass);
            CHECK(d->delayed == 0);  // not the first pass: no X-Greylist
            // another network, sender or recipient is another triplet
            CHECK_FALSE((*g)->check("198.51.100.0/24", "a@b.example", "u@example.com", t, t0 + 400)->pass);
            CHECK_FALSE((*g)->check("192.0.2.0/24", "c@b.example", "u@example.com", t, t0 + 400)->pass);
            // a retry after the window starts again
            (*g)->check("203.0.113.0/24", "x@b.example", "u@example.com", t, t0);
            d = (*g)->check("203.0.113.0/24", "x@b.example", "u@example.com", t, t0 + 3 * 86400);
            CHECK_FALSE(d->pass);
            CHECK(d->wait == 300);
        }
        {
            auto g = Greylist::open(dir);  // as after a restart
            REQUIRE(g);
            CHECK((*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, t0 + 500)->pass);
            // unused for more than max_age: purged, then greylisted again
            const auto later = t0 + 500 + 36 * 86400;
            auto purged = (*g)->purge(t, later);
            REQUIRE(purged);
            CHECK(*purged == 2);  // the two others went at t0 + 3 days, by the hourly purge in check()
            CHECK_FALSE((*g)->check("192.0.2.0/24", "a@b.example", "u@example.com", t, later)->pass);
        }
        CHECK((fs::status(dir / "greylist.db").permissions() & fs::perms::others_read) == fs::perms::none);
        fs::remove_all(dir);
    }
}
