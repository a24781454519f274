// zone rewrite: golden files, and the properties on every real zone in ../shared/zones that has an MX:
// the output lints clean for the MailProxy rules, a second rewrite changes nothing, ldns's reading of input
// and output differs by exactly the MX records and the serial, and --revert gives the original records back.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "tests/unit/temp_dir.hpp"
#include "zone/ldns.hpp"
#include "zone/lint.hpp"
#include "zone/rewrite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mailproxy::zone;
using mailproxy::test::read_file;
using mailproxy::test::TempDir;

constexpr std::time_t k_now = 1795867200;  // 2026-11-28 12:00 UTC
const fs::path k_data = fs::path(MAILPROXY_SOURCE_DIR) / "tests" / "data" / "zones" / "rewrite";
const fs::path k_shared = fs::path(MAILPROXY_SOURCE_DIR).parent_path() / "shared" / "zones";

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

RewriteOptions options(const std::string& origin = "") {
    RewriteOptions o;
    o.read.origin = origin;
    o.change.proxy_host = std::string(k_proxy_host);
    o.now = k_now;
    return o;
}

/// Every record as ldns reads it, canonical (lower-case names, one text form).
std::multiset<std::string> records(const fs::path& path, const std::string& origin) {
    ReadOptions o;
    o.origin = origin;
    std::multiset<std::string> out;
    const auto r = read_zone(path.string(), o, [&](const RecordView& v) {
        ldns_rr* rr = ldns_rr_clone(v.rr);
        ldns_rr2canonical(rr);
        char* s = ldns_rr2str(rr);
        out.insert(s);
        LDNS_FREE(s);
        ldns_rr_free(rr);
    });
    REQUIRE_MESSAGE(r.problems.empty(), path.string());
    return out;
}

std::multiset<std::string> minus(const std::multiset<std::string>& a, const std::multiset<std::string>& b) {
    std::multiset<std::string> out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
    return out;
}

/// Tab-separated fields of ldns's text form: owner, ttl, class, type, rdata...
std::vector<std::string> fields(const std::string& rr) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto tab = rr.find('\t', start);
        auto f = rr.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
        while (!f.empty() && (f.back() == '\n'))
            f.pop_back();
        out.push_back(f);
        if (tab == std::string::npos)
            return out;
        start = tab + 1;
    }
}

bool is_apex_mx(const std::string& rr, const std::string& origin) {
    const auto f = fields(rr);
    return f.size() >= 5 && f[0] == origin && f[3] == "MX";
}

bool is_soa(const std::string& rr) {
    const auto f = fields(rr);
    return f.size() >= 4 && f[3] == "SOA";
}

const std::set<std::string> k_mailproxy_rules{"syntax",
                                              "mx-missing",
                                              "mx-bypass",
                                              "proxy-host-no-dot",
                                              "mx-target-ip",
                                              "null-mx-with-other-mx",
                                              "serial-not-increased"};

/// Checks all four properties on one zone file; returns the rewritten text.
void check_properties(const fs::path& zone, const std::string& origin_in) {
    TempDir tmp;
    const auto origin = origin_in.back() == '.' ? origin_in : origin_in + ".";
    const auto r = rewrite_file(zone.string(), options(origin));
    REQUIRE_MESSAGE(r.problems.empty(), zone.string() << ": " << r.problems.front().message);
    const auto out = tmp.path() / "out.zone";
    write(out, r.text);

    // 1. lints clean for the MailProxy rules, the serial increased against the input
    LintOptions lo;
    lo.read.origin = origin;
    lo.against = zone.string();
    for (const auto& f : lint_file(out.string(), lo).findings)
        CHECK_MESSAGE(k_mailproxy_rules.count(f.rule) == 0, zone.filename().string() << ": " << f.message);

    // 2. a second rewrite changes nothing
    const auto again = rewrite_file(out.string(), options(origin));
    CHECK(again.problems.empty());
    CHECK_MESSAGE(!again.changed(), zone.filename().string());

    // 3. input and output differ by exactly the bypassing apex MX, the proxy MX and the serial
    const auto before = records(zone, origin), after = records(out, origin);
    const auto gone = minus(before, after), added = minus(after, before);
    std::vector<std::string> targets;
    for (const auto& rr : gone) {
        CHECK_MESSAGE((is_apex_mx(rr, origin) || is_soa(rr)), zone.filename().string() << ": removed " << rr);
        if (is_apex_mx(rr, origin)) {
            const auto f = fields(rr);
            CHECK(f[4].find("mailproxy.domain-robot.org.") != 0);
            targets.push_back(f[4].substr(0, f[4].find(' ')) + ":" + f[4].substr(f[4].find(' ') + 1));
        }
    }
    for (const auto& rr : added) {
        const bool proxy_mx = is_apex_mx(rr, origin) && fields(rr)[4] == "10 mailproxy.domain-robot.org.";
        CHECK_MESSAGE((proxy_mx || is_soa(rr)), zone.filename().string() << ": added " << rr);
    }
    CHECK(std::count_if(gone.begin(), gone.end(), is_soa) == 1);
    CHECK(std::count_if(added.begin(), added.end(), is_soa) == 1);
    // every byte outside the changed lines is kept
    for (const auto& op : r.ops)
        CHECK((op.kind != '=' || r.original.find(op.text) != std::string::npos));

    // 4. --revert with the old MX gives the original records back (the serial moves on once more)
    if (targets.empty())
        return;
    auto ro = options(origin);
    ro.change.revert = true;
    for (const auto& t : targets) {
        const auto colon = t.find(':');
        ro.change.targets.push_back(
            {static_cast<unsigned>(std::stoul(t.substr(0, colon))), t.substr(colon + 1)});
    }
    const auto back = rewrite_file(out.string(), ro);
    REQUIRE(back.problems.empty());
    const auto reverted = tmp.path() / "reverted.zone";
    write(reverted, back.text);
    auto original = records(zone, origin), restored = records(reverted, origin);
    std::erase_if(original, is_soa);
    std::erase_if(restored, is_soa);
    CHECK_MESSAGE(original == restored, zone.filename().string());
}

}  // namespace

TEST_SUITE("zone.rewrite") {
    TEST_CASE("real zones from other projects keep their properties") {
        const std::vector<std::pair<std::string, std::string>> zones{
            {"bind9__check-mx.db", "check-mx"},
            {"bind9__check-mx-cname.db", "check-mx-cname"},
            {"bind9__bad-cname-and-mx.db", "example"},
            {"bind9__zone1.db", "zone1.com"},
            {"bind9__names-example.db", "example"},
            {"ldns__14-read-zone.db", "miek.nl"},
            {"nsd__bug086_chars.zone", "spf-test.nl"},
            {"nsd__bug087_parse_at.zone", "example.com"},
            {"nsd__bug090_000_txt.zone", "text-test.nl"},
            {"dnscontrol__example.org.zone", "example.org"},
            {"bind9__master1.data", "test"},
            {"bind9__spf.db", "example"},
        };
        REQUIRE_MESSAGE(fs::is_directory(k_shared), k_shared.string() << " is missing");
        for (const auto& [file, origin] : zones) {
            CAPTURE(file);
            check_properties(k_shared / file, origin);
        }
    }

    TEST_CASE("real zones with syntax errors are refused with every error listed") {
        for (const auto& [file, origin, errors] :
             std::vector<std::tuple<std::string, std::string, std::size_t>>{
                 {"nsd__zonec_tests.offbyone", "example.net.", 1}, {"dnspython__example", "example.", 3}}) {
            CAPTURE(file);
            const auto r = rewrite_file((k_shared / file).string(), options(origin));
            CHECK(r.problems.size() >= errors);
            CHECK(std::all_of(r.problems.begin(), r.problems.end(),
                              [](const Finding& f) { return f.rule == "syntax"; }));
            CHECK(r.text.empty());
            CHECK(r.changes.empty());
        }
    }

    TEST_CASE("hand-written zones keep their properties") {
        check_properties(k_data / "relative.example.com.zone", "example.com");
        check_properties(k_data / "absolute.example.net.zone", "example.net");
        check_properties(k_data / "nomx.example.org.zone", "example.org");
        check_properties(k_data / "inherit.example.com.zone", "example.com");
    }

    TEST_CASE("parentheses, a record starting with '(' and a file without a final newline") {
        TempDir tmp;
        const auto zone = tmp.path() / "example.com.zone";
        write(zone,
              "$TTL 300\n@ IN SOA ns h 1 1 1 1 1\n@ IN MX ( 10 mx1.example.net. )\n@ IN MX ( 10\n"
              "  mx2.example.net. ) ; second\n  (\n  IN MX 20 mx3.example.net. )\nwww A 192.0.2.1");
        check_properties(zone, "example.com");
        const auto r = rewrite_file(zone.string(), options("example.com."));
        CHECK(r.text ==
              "$TTL 300\n@ IN SOA ns h 2 1 1 1 1\n IN MX 10 mailproxy.domain-robot.org.\nwww A 192.0.2.1");
    }

    TEST_CASE("a TTL another record inherits (no $TTL, RFC 1035) is not silently changed") {
        TempDir tmp;
        const auto zone = tmp.path() / "example.com.zone";
        // without $TTL, www has the first MX's TTL 300 (BIND); removing that MX would give it 86400
        write(zone,
              "@ 86400 IN SOA ns h 1 1 1 1 1\n@ 300 IN MX 10 mx1.example.net.\nwww IN A 192.0.2.7\n"
              "@ 300 IN MX 20 mx2.example.net.\n");
        const auto r = rewrite_file(zone.string(), options("example.com."));
        REQUIRE(r.problems.size() == 1);
        CHECK(r.problems[0].rule == "rewrite-failed");
        CHECK(r.problems[0].message.find("a TTL where there is no $TTL") != std::string::npos);
        CHECK(r.text.empty());
        // with $TTL the same change is fine
        write(zone,
              "$TTL 1h\n@ 86400 IN SOA ns h 1 1 1 1 1\n@ 300 IN MX 10 mx1.example.net.\nwww IN A 192.0.2.7\n"
              "@ 300 IN MX 20 mx2.example.net.\n");
        check_properties(zone, "example.com");
    }

    TEST_CASE("rewrites match the golden files") {
        for (const char* name :
             {"relative.example.com", "absolute.example.net", "nomx.example.org", "inherit.example.com"}) {
            CAPTURE(name);
            const auto r = rewrite_file((k_data / (std::string(name) + ".zone")).string(), options());
            REQUIRE(r.problems.empty());
            CHECK(r.text == read_file(k_data / (std::string(name) + ".out")));
        }
    }

    TEST_CASE("CRLF line ends stay CRLF, new lines included") {
        TempDir tmp;
        auto text = read_file(k_data / "relative.example.com.zone");
        auto expected = read_file(k_data / "relative.example.com.out");
        const auto crlf = [](std::string s) {
            std::string out;
            for (char c : s)
                out += c == '\n' ? std::string("\r\n") : std::string(1, c);
            return out;
        };
        write(tmp.path() / "example.com.zone", crlf(text));
        const auto r = rewrite_file((tmp.path() / "example.com.zone").string(), options());
        REQUIRE(r.problems.empty());
        CHECK(r.text == crlf(expected));
    }

    TEST_CASE("a custom host gets A records, and a CNAME on it is a conflict unless replaced") {
        auto o = options();
        o.change.custom_host = "mx.example.com.";
        o.change.addresses = {"62.116.162.145"};
        const auto file = (k_data / "custom.example.com.zone").string();
        const auto refused = rewrite_file(file, o);
        REQUIRE(refused.problems.size() == 1);
        CHECK(refused.problems[0].rule == "rewrite-conflict");
        CHECK(refused.problems[0].pos.line == 7);
        CHECK(refused.problems[0].message.find("mx.example.com. is a CNAME to mail.example.com.") !=
              std::string::npos);
        CHECK(refused.text == refused.original);
        o.change.replace = true;
        const auto r = rewrite_file(file, o);
        REQUIRE(r.problems.empty());
        CHECK(r.text == read_file(k_data / "custom.example.com.out"));
        // the result lints clean with the custom host, and a second run changes nothing
        TempDir tmp;
        write(tmp.path() / "example.com.zone", r.text);
        LintOptions lo;
        lo.custom_host = "mx.example.com.";
        CHECK(lint_file((tmp.path() / "example.com.zone").string(), lo).findings.empty());
        CHECK(!rewrite_file((tmp.path() / "example.com.zone").string(), o).changed());
    }

    TEST_CASE("refusals: syntax errors, MX in an $INCLUDE file or from $GENERATE") {
        TempDir tmp;
        write(tmp.path() / "example.com.zone",
              "@ SOA ns h 1 1 1 1 1\n@ NS ns\n@ MX 10 mail\nbad A 300.1.1.1\n");
        auto r = rewrite_file((tmp.path() / "example.com.zone").string(), options());
        REQUIRE(r.problems.size() == 1);
        CHECK(r.problems[0].rule == "syntax");
        CHECK(r.problems[0].pos.line == 4);
        CHECK(r.text.empty());

        write(tmp.path() / "mx.inc", "@ MX 10 mail.example.net.\n");
        write(tmp.path() / "example.com.zone", "@ SOA ns h 1 1 1 1 1\n@ NS ns\n$INCLUDE mx.inc\n");
        r = rewrite_file((tmp.path() / "example.com.zone").string(), options());
        REQUIRE(r.problems.size() == 1);
        CHECK(r.problems[0].rule == "rewrite-include");
        CHECK(r.problems[0].pos.file == (tmp.path() / "mx.inc").string());
        CHECK(r.problems[0].message.find("example.com. MX 10 mail.example.net.") != std::string::npos);

        write(tmp.path() / "example.com.zone",
              "@ SOA ns h 1 1 1 1 1\n@ MX 10 mail\n$GENERATE 7-8 mx A 192.0.2.$\n");
        auto o = options();
        o.change.custom_host = "mx.example.com.";
        o.change.addresses = {"62.116.162.145"};
        o.change.replace = true;
        r = rewrite_file((tmp.path() / "example.com.zone").string(), o);
        REQUIRE(r.problems.size() == 2);
        CHECK(r.problems[0].rule == "rewrite-generate");
        CHECK(r.problems[0].pos.line == 3);
        CHECK(r.problems[0].message.find("mx.example.com. A 192.0.2.7") != std::string::npos);
    }

    TEST_CASE("serial styles follow RFC 1982") {
        CHECK(next_serial(2024010101, SerialStyle::automatic, k_now) == 2026112800);
        CHECK(next_serial(2026112805, SerialStyle::automatic, k_now) == 2026112806);
        CHECK(next_serial(2026112899, SerialStyle::automatic, k_now) == 2026112900);  // still greater
        CHECK(next_serial(1795000000, SerialStyle::automatic, k_now) == 1795867200);
        CHECK(next_serial(1795999999, SerialStyle::automatic, k_now) == 1796000000);
        CHECK(next_serial(41, SerialStyle::automatic, k_now) == 42);
        CHECK(next_serial(4294967295u, SerialStyle::increment, k_now) == 1);  // wraps, skipping 0
        CHECK(next_serial(41, SerialStyle::date, k_now) == 2026112800);
        CHECK(next_serial(41, SerialStyle::unixtime, k_now) == 1795867200);
        CHECK(next_serial(41, SerialStyle::keep, k_now) == 41);
        for (uint32_t s : {0u, 1u, 2147483647u, 2147483648u, 4294967295u, 2026112800u}) {
            for (auto style :
                 {SerialStyle::increment, SerialStyle::date, SerialStyle::unixtime, SerialStyle::automatic}) {
                CHECK(serial_greater(next_serial(s, style, k_now), s));
            }
        }
    }

    TEST_CASE("the unified diff has hunks with context and correct ranges") {
        const auto r = rewrite_file((k_data / "relative.example.com.zone").string(), options());
        const auto d = unified_diff(r, "a/example.com.zone", "b/example.com.zone");
        CHECK(d.starts_with("--- a/example.com.zone\n+++ b/example.com.zone\n@@ -1,11 +1,10 @@\n"));
        CHECK(d.find("-@       IN  MX  10 mail   ; primary\n") != std::string::npos);
        CHECK(d.find("+        IN  MX  10 mailproxy.domain-robot.org.\n") != std::string::npos);
        CHECK(unified_diff(
                  rewrite_file((k_data / "relative.example.com.out").string(), options("example.com.")), "a",
                  "b")
                  .empty());
    }
}
