#include <doctest/doctest.h>

#include "core/util/net.hpp"
#include "core/util/strings.hpp"

using namespace mailproxy::util;

TEST_SUITE("util.strings") {
    TEST_CASE("glob patterns match like AutoDNS LIKE, ignoring case") {
        CHECK(glob_match("ex*", "example.com"));
        CHECK(glob_match("EX*", "example.com"));
        CHECK(glob_match("*.com", "example.com"));
        CHECK(glob_match("*amp*", "example.com"));
        CHECK(glob_match("*", ""));
        CHECK(glob_match("example.com", "EXAMPLE.COM"));
        CHECK_FALSE(glob_match("ex*", "www.example.com"));
        CHECK_FALSE(glob_match("*.org", "example.com"));
        CHECK_FALSE(glob_match("example.co", "example.com"));
        CHECK(glob_match("a*b*c", "axxbyyc"));
        CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
    }

    TEST_CASE("numbers parse only when the whole text is a finite number") {
        CHECK(parse_number("6.5") == 6.5);
        CHECK(parse_number("-999") == -999.0);
        CHECK(parse_number("1e2") == 100.0);
        CHECK_FALSE(parse_number("6,5"));
        CHECK_FALSE(parse_number(""));
        CHECK_FALSE(parse_number("nan"));
        CHECK_FALSE(parse_number("inf"));
        CHECK_FALSE(parse_number("6.5x"));
        CHECK_FALSE(parse_number("+6"));
        CHECK(parse_integer("1440") == 1440);
        CHECK_FALSE(parse_integer("14.5"));
        CHECK_FALSE(parse_integer("99999999999999999999999"));
    }

    TEST_CASE("scores format as the shortest text that reads back") {
        CHECK(format_number(6.5) == "6.5");
        CHECK(format_number(-999) == "-999");
        CHECK(format_number(0.1) == "0.1");
    }

    TEST_CASE("split keeps empty pieces and trim removes blanks") {
        CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
        CHECK(split("", ',') == std::vector<std::string>{""});
        CHECK(trim("  x \r\n") == "x");
        CHECK(to_lower("ExAmple.COM") == "example.com");
    }

    TEST_CASE("base64 follows RFC 4648 test vectors") {
        CHECK(base64("") == "");
        CHECK(base64("f") == "Zg==");
        CHECK(base64("fo") == "Zm8=");
        CHECK(base64("foo") == "Zm9v");
        CHECK(base64("foob") == "Zm9vYg==");
        CHECK(base64("fooba") == "Zm9vYmE=");
        CHECK(base64("foobar") == "Zm9vYmFy");
        CHECK(base64(std::string_view("user:\xff\x00", 7)) == "dXNlcjr/AA==");
    }

    TEST_CASE("replace_all replaces every occurrence, also overlapping replacements") {
        CHECK(replace_all("a secret and a secret", "secret", "***") == "a *** and a ***");
        CHECK(replace_all("aaaa", "a", "aa") == "aaaaaaaa");
        CHECK(replace_all("text", "", "x") == "text");
    }

    TEST_CASE("IP addresses are recognised and compared as addresses") {
        CHECK(is_ip_address("192.0.2.1"));
        CHECK(is_ip_address("2001:db8::1"));
        CHECK_FALSE(is_ip_address("192.0.2.256"));
        CHECK_FALSE(is_ip_address("[192.0.2.1]"));
        CHECK_FALSE(is_ip_address("mx.example.net"));
        CHECK(same_ip_address("2001:DB8:0::1", "2001:db8::1"));
        CHECK_FALSE(same_ip_address("192.0.2.1", "192.0.2.2"));
        CHECK_FALSE(same_ip_address("::ffff:192.0.2.1", "192.0.2.1"));
        CHECK_FALSE(same_ip_address("x", "x"));
    }

    TEST_CASE("host and port: IPv4, bracketed IPv6, any address") {
        const auto v4 = parse_host_port("127.0.0.1:3310");
        REQUIRE(v4);
        CHECK(v4->host == "127.0.0.1");
        CHECK(v4->port == 3310);
        const auto v6 = parse_host_port("[::1]:25");
        REQUIRE(v6);
        CHECK(v6->host == "::1");
        CHECK(v6->port == 25);
        const auto any = parse_host_port(":2525");
        REQUIRE(any);
        CHECK(any->host.empty());
        CHECK_FALSE(parse_host_port("localhost:25"));  // addresses only: nothing is looked up
        CHECK_FALSE(parse_host_port("::1:25"));        // IPv6 needs its brackets
        CHECK_FALSE(parse_host_port("[127.0.0.1]:25"));
        CHECK_FALSE(parse_host_port("127.0.0.1:65536"));
        CHECK_FALSE(parse_host_port("127.0.0.1"));
        CHECK_FALSE(parse_host_port("/run/clamav/clamd.ctl"));
    }
}
