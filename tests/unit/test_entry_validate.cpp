#include <doctest/doctest.h>

#include "core/entry/presets.hpp"
#include "core/entry/validate.hpp"

using namespace mailproxy;
using namespace mailproxy::entry;

namespace {
MailProxy valid_entry() {
    MailProxy e;
    e.domain = "example.com";
    e.target = "mx.example.net";
    e.admin = "postmaster@example.com";
    set_protection(e, Protection::medium);
    return e;
}

std::vector<std::string> messages(const MailProxy& e) {
    std::vector<std::string> out;
    for (const auto& fe : validate(e))
        out.push_back(fe.to_string());
    return out;
}
}  // namespace

TEST_SUITE("entry.validate") {
    TEST_CASE("a complete entry is valid") {
        CHECK(messages(valid_entry()).empty());
    }

    TEST_CASE("domain syntax") {
        for (const char* ok : {"example.com", "a.b.c.example", "xn--bcher-kva.de", "1-2.example"}) {
            INFO(ok);
            CHECK(domain_problem(ok).empty());
        }
        CHECK(domain_problem("") == "is empty");
        CHECK(domain_problem("Example.com") == "must be lower-case (example.com)");
        CHECK(domain_problem("example.com.") == "must be written without the trailing dot");
        CHECK(domain_problem("localhost").find("at least two labels") != std::string::npos);
        CHECK(domain_problem("exa mple.com") == "is not a valid domain name (character ' ')");
        CHECK(domain_problem("-x.example.com").find("starts or ends with '-'") != std::string::npos);
        CHECK(domain_problem("a..com").find("empty label") != std::string::npos);
        CHECK(domain_problem(std::string(64, 'a') + ".com").find("longer than 63") != std::string::npos);
        CHECK(domain_problem(std::string(250, 'a') + ".com").find("longer than 253") != std::string::npos);
        CHECK(domain_problem("b\xc3\xbc"
                             "cher.de")
                  .find("punycode") != std::string::npos);
        auto e = valid_entry();
        e.domain = "bad_domain.com";
        CHECK(messages(e) ==
              std::vector<std::string>{"domain (bad_domain.com) is not a valid domain name (character '_')"});
    }

    TEST_CASE("domains typed by a person are made canonical") {
        CHECK(normalize_domain(" Example.COM. ").value() == "example.com");
        CHECK(normalize_domain("B\xc3\xbc"
                               "cher.de")
                  .value() == "xn--bcher-kva.de");
        auto bad = normalize_domain("exa mple.com");
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().code == ErrorCode::invalid);
        CHECK(bad.error().message == "domain (exa mple.com) is not a valid domain name (character ' ')");
        CHECK_FALSE(normalize_domain("").has_value());
    }

    TEST_CASE("target forms") {
        for (const char* ok :
             {"mx.example.net", "mx.example.net:2525", "localhost", "[192.0.2.1]", "[192.0.2.1]:25",
              "[IPv6:2001:db8::1]:25", "[2001:db8::1]", "smtp://mx.example.net", "smtp://mx.example.net:587",
              "lmtp://[127.0.0.1]:24", "lmtp://lmtp.example:24", "lmtp:unix:/run/dovecot/lmtp",
              "maildir:/var/mail/example"}) {
            INFO(ok);
            CHECK(target_problem(ok).empty());
        }
        CHECK(target_problem("") == "is missing (the mail server that receives the checked mail)");
        CHECK(target_problem("192.0.2.1") ==
              "is an IP address; write it bracketed as [192.0.2.1] or use a host name");
        CHECK(target_problem("192.0.2.1:25").find("is an IP address") != std::string::npos);
        CHECK(target_problem("2001:db8::1").find("IPv6") != std::string::npos);
        CHECK(target_problem("[mx.example.net]").find("not an IP address") != std::string::npos);
        CHECK(target_problem("mx.example.net:0") == "has port '0', not a number from 1 to 65535");
        CHECK(target_problem("mx.example.net:70000") == "has port '70000', not a number from 1 to 65535");
        CHECK(target_problem("mx.example.net:smtp").find("not a number") != std::string::npos);
        CHECK(target_problem("lmtp://mx.example.net") == "needs a port (host:port)");
        CHECK(target_problem("lmtp:unix:run/lmtp") == "needs an absolute path");
        CHECK(target_problem("maildir:") == "needs an absolute path");
        CHECK(target_problem("http://mx.example.net").find("unknown scheme") != std::string::npos);
        CHECK(target_problem("mx example.net").find("character ' '") != std::string::npos);
        CHECK(target_problem("127.1") ==
              "is not a host name (its last label is all digits); write an IP address in brackets");
        CHECK(target_problem("2130706433:25").find("all digits") != std::string::npos);
        auto e = valid_entry();
        e.target = "192.0.2.1";
        CHECK(
            messages(e) ==
            std::vector<std::string>{
                "target (192.0.2.1) is an IP address; write it bracketed as [192.0.2.1] or use a host name"});
    }

    TEST_CASE("admin must be a valid address") {
        auto e = valid_entry();
        e.admin = "";
        CHECK(messages(e) == std::vector<std::string>{"admin is missing (the quarantine e-mail address)"});
        e.admin = "no-at-sign";
        CHECK(messages(e) ==
              std::vector<std::string>{"admin (no-at-sign) is not an e-mail address (no '@')"});
        e.admin = "a..b@example.com";
        CHECK(messages(e).at(0).find("misplaced '.'") != std::string::npos);
        e.admin = "a b@example.com";
        CHECK(messages(e).at(0).find("character ' '") != std::string::npos);
        e.admin = "admin@localhost";
        CHECK(messages(e).at(0).find("has a domain that") != std::string::npos);
        for (const char* ok : {"first.last+tag@example.com", "o'brien@example.ie", "ADMIN@Example.COM"}) {
            INFO(ok);
            CHECK(address_problem(ok).empty());
        }
    }

    TEST_CASE("kill must be greater than spam") {
        auto e = valid_entry();
        e.policy.spam.spam = 6.5;
        e.policy.spam.kill = 6;
        CHECK(messages(e) == std::vector<std::string>{"spam.kill (6) must be greater than spam.spam (6.5)"});
        e.policy.spam.kill = 6.5;
        CHECK(messages(e) ==
              std::vector<std::string>{"spam.kill (6.5) must be greater than spam.spam (6.5)"});
        e.policy.spam.kill = 6.6;
        CHECK(messages(e).empty());
    }

    TEST_CASE("scores must be within -999.9 and 999.9") {
        auto e = valid_entry();
        e.policy.spam.tag_header = -999.9;
        e.policy.spam.kill = 999.9;
        CHECK(messages(e).empty());
        e.policy.spam.tag_header = -1000;
        e.policy.spam.spam = 1000;
        e.policy.spam.kill = 1001;
        CHECK(messages(e) == std::vector<std::string>{
                                 "spam.tagHeader (-1000) is out of range (-999.9 to 999.9)",
                                 "spam.spam (1000) is out of range (-999.9 to 999.9)",
                                 "spam.kill (1001) is out of range (-999.9 to 999.9)",
                             });
    }

    TEST_CASE("the digest interval is at least one day") {
        auto e = valid_entry();
        e.policy.spam.quarantine_digest_interval = 1439;
        CHECK(messages(e) ==
              std::vector<std::string>{
                  "spam.quarantineDigestInterval (1439) must be at least 1440 minutes (one day)"});
        e.policy.spam.quarantine_digest_interval = 1440;
        CHECK(messages(e).empty());
    }

    TEST_CASE("list entries are addresses or catch-all @domain") {
        auto e = valid_entry();
        e.whitelist.emails = {"friend@example.org", "@partner.example"};
        e.blacklist.emails = {"@", "nobody"};
        e.excludelist.emails = {"@bad domain.example"};
        CHECK(messages(e) ==
              std::vector<std::string>{
                  "blacklist.emails[0] (@) is a catch-all whose domain is empty",
                  "blacklist.emails[1] (nobody) is not an e-mail address (no '@')",
                  "excludelist.emails[0] (@bad domain.example) is a catch-all whose domain is not a valid "
                  "domain name (character ' ')",
              });
    }

    TEST_CASE("the admin address must not be excluded, directly or by catch-all") {
        auto e = valid_entry();
        e.excludelist.emails = {"hostmaster@example.com", "postmaster@EXAMPLE.com"};
        CHECK(messages(e) == std::vector<std::string>{
                                 "excludelist.emails[1] (postmaster@EXAMPLE.com) excludes the admin address "
                                 "(postmaster@example.com), which must receive the quarantine digest"});
        e.excludelist.emails = {"@example.com"};
        CHECK(messages(e).size() == 1);
        e.excludelist.emails = {"@sub.example.com"};
        CHECK(messages(e).empty());
    }

    TEST_CASE("no address may be in both the whitelist and the blacklist") {
        auto e = valid_entry();
        e.whitelist.emails = {"x@example.org", "@partner.example"};
        e.blacklist.emails = {"x@EXAMPLE.org", "@other.example"};
        CHECK(messages(e) ==
              std::vector<std::string>{
                  "whitelist.emails[0] (x@example.org) is also in the blacklist; an address can be in "
                  "only one of them"});
    }

    TEST_CASE("every error is reported, not only the first") {
        MailProxy e;
        e.domain = "x";
        e.policy.spam.kill = 1;
        e.policy.spam.quarantine_digest_interval = 0;
        CHECK(validate(e).size() == 5);  // domain, target, admin, kill <= spam, digest
    }

    TEST_CASE("address matching: domain case-insensitive, local part exact, catch-all by domain") {
        CHECK(address_matches("a@Example.com", "a@example.COM"));
        CHECK_FALSE(address_matches("A@example.com", "a@example.com"));
        CHECK(address_matches("@example.com", "anyone@EXAMPLE.com"));
        CHECK_FALSE(address_matches("@example.com", "anyone@sub.example.com"));
        CHECK_FALSE(address_matches("@example.com", "example.com"));
        CHECK(normalize_address("Bob@Example.COM") == "Bob@example.com");
    }
}
