#include <doctest/doctest.h>

#include "core/entry/lists.hpp"

using namespace mailproxy::entry;

TEST_SUITE("entry lists") {
    TEST_CASE("addresses: exact local part, domain in any case, catch-all of exactly the domain") {
        MailList l;
        l.emails = {"Boss@Example.com", "@friends.example"};
        CHECK(on_list(l, "Boss@example.COM"));
        CHECK_FALSE(on_list(l, "boss@example.com"));  // the local part is compared as it is
        CHECK(on_list(l, "anyone@FRIENDS.example"));
        CHECK_FALSE(on_list(l, "anyone@sub.friends.example"));
        CHECK_FALSE(on_list(l, "anyone@notfriends.example"));
        CHECK_FALSE(on_list(l, ""));  // the null sender
        CHECK_FALSE(on_list(l, "@friends.example"));
        CHECK_FALSE(on_list(MailList{}, "a@b.example"));
    }

    TEST_CASE("From: header addresses") {
        CHECK(header_addresses("Alice <alice@example.com>") == std::vector<std::string>{"alice@example.com"});
        CHECK(header_addresses("a@example.com (Alice), b@example.org") ==
              std::vector<std::string>{"a@example.com", "b@example.org"});
        CHECK(header_addresses("\"Doe, J\" <j@example.com>, <k@example.com>") ==
              std::vector<std::string>{"j@example.com", "k@example.com"});
        CHECK(header_addresses("undisclosed").empty());
        std::string many;
        for (int i = 0; i < 100; ++i)
            many += "<a@b.example>,";
        CHECK(header_addresses(many).size() == 20);
    }
}
