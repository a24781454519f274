#include <doctest/doctest.h>

#include "core/entry/entry.hpp"
#include "core/entry/presets.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace mailproxy;
using namespace mailproxy::entry;
using ojson = nlohmann::ordered_json;

namespace {
ojson load(const char* name) {
    return ojson::parse(test::read_file(test::source_dir() / "tests/data/autodns" / name));
}

MailProxy must_read(const ojson& j) {
    auto e = from_json(j);
    REQUIRE(e.has_value());
    return *e;
}
}  // namespace

TEST_SUITE("entry.entry") {
    TEST_CASE("an AutoDNS info object with boolean greylisting reads and writes back canonically") {
        const auto j = load("info-2019-boolean-greylisting.json");
        const auto e = must_read(j);
        CHECK(e.domain == "example.com");
        CHECK(e.target == "mx.example.com");
        CHECK(e.admin == "admin@example.com");
        CHECK(e.protection == Protection::custom);
        CHECK_FALSE(e.greylisting);
        CHECK(e.policy.virus == PolicyMode::accept);
        CHECK(e.policy.banned_files == PolicyMode::disabled);
        CHECK(e.policy.spam.tag_header == -555);
        CHECK(e.policy.spam.spam == 5.5);
        CHECK(e.whitelist.emails == std::vector<std::string>{"friend@example.org", "@partner.example"});
        CHECK(e.excludelist.emails == std::vector<std::string>{"hostmaster@example.com"});
        // server-set members are kept
        CHECK(e.unknown["created"] == "2019-09-19T12:40:02.000+0200");
        CHECK(e.unknown["owner"]["user"] == "customer");

        const auto out = to_json(e);
        CHECK(out["greylisting"] == "DISABLED");  // canonical form
        CHECK(out["spam"]["tagHeader"] == -555);
        CHECK(out["spam"]["tagHeader"].is_number_integer());
        CHECK(out["spam"]["spam"] == 5.5);
        CHECK(out["spam"]["mode"] == "ACCEPT");  // absent in 2019: CUSTOM takes MEDIUM's published value
        CHECK(out["updater"] == j["updater"]);
        CHECK(out["created"] == j["created"]);
        // every member of the input is in the output with the same value, but for the canonical forms
        for (const auto& [k, v] : j.items()) {
            INFO(k);
            REQUIRE(out.contains(k));
            if (k != "greylisting" && k != "spam")
                CHECK(out[k] == v);
        }
        // a second round trip is the identity
        CHECK(to_json(must_read(out)) == out);
    }

    TEST_CASE("string scores, string booleans and ENABLED greylisting are read; numbers are written") {
        const auto e = must_read(load("update-string-scores.json"));
        CHECK(e.greylisting);
        CHECK(e.policy.spam.mode == PolicyMode::discard);
        CHECK_FALSE(e.policy.spam.modify_subject);
        CHECK(e.policy.spam.tag_header == -555);
        CHECK(e.policy.spam.spam == 5.5);
        CHECK(e.policy.spam.kill == 12);
        CHECK(e.policy.spam.quarantine_digest_interval == 2880);
        const auto out = to_json(e);
        CHECK(out["greylisting"] == "ENABLED");
        CHECK(out["spam"]["tagHeader"].is_number());
        CHECK(out["spam"]["spam"].is_number());
        CHECK(out["spam"]["kill"] == 12);
        CHECK(out["spam"]["modifySubject"] == false);
        CHECK(out["spam"]["quarantineDigestInterval"] == 2880);
    }

    TEST_CASE("greylisting accepts every documented spelling") {
        for (const auto& [value, expected] : std::vector<std::pair<ojson, bool>>{{true, true},
                                                                                 {false, false},
                                                                                 {"true", true},
                                                                                 {"false", false},
                                                                                 {"ENABLED", true},
                                                                                 {"DISABLED", false},
                                                                                 {"TRUE", true}}) {
            INFO(value.dump());
            ojson j = {{"domain", "example.com"}, {"greylisting", value}};
            CHECK(must_read(j).greylisting == expected);
        }
        auto bad = from_json(ojson{{"greylisting", "maybe"}});
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().at(0).to_string() ==
              "greylisting (maybe) must be ENABLED, DISABLED, true or false");
    }

    TEST_CASE("members this version does not know are kept and written back unchanged") {
        const auto j = load("future-fields.json");
        const auto e = must_read(j);
        const auto out = to_json(e);
        CHECK(out["dnsProvisioning"] == j["dnsProvisioning"]);
        CHECK(out["idn"] == "example.org");
        CHECK(out["zzz"].is_null());
        CHECK(out.contains("zzz"));
        CHECK(out["spam"]["learning"] == "ON");
        CHECK(out["whitelist"]["comment"] == "kept");
        CHECK(e.greylisting);  // "true"
    }

    TEST_CASE("absent policy members of a preset entry take the preset's values") {
        const auto e = must_read(load("list-reduced-fields.json"));
        CHECK(e.protection == Protection::high);
        CHECK(e.policy == preset(Protection::high));
        CHECK(e.policy.virus == PolicyMode::quarantine);
    }

    TEST_CASE("every type error is collected, each naming field and value") {
        ojson j = {{"domain", 42},
                   {"protection", "medium"},
                   {"virus", "REJECT"},
                   {"spam", {{"kill", "lots"}, {"modifySubject", "yes"}, {"quarantineDigestInterval", 1.5}}},
                   {"whitelist", {{"emails", {"a@b.com", 7}}}},
                   {"blacklist", "x@y.com"}};
        auto e = from_json(j);
        REQUIRE_FALSE(e.has_value());
        std::vector<std::string> msgs;
        for (const auto& fe : e.error())
            msgs.push_back(fe.to_string());
        CHECK(msgs == std::vector<std::string>{
                          "domain (42) must be a string",
                          "protection (medium) must be one of HIGH, MEDIUM, LOW, OFF, CUSTOM",
                          "virus (REJECT) must be one of DISABLED, QUARANTINE, DISCARD, ACCEPT",
                          "spam.modifySubject (yes) must be true or false",
                          "spam.kill (lots) must be a number",
                          "spam.quarantineDigestInterval (1.5) must be a whole number",
                          "whitelist.emails[1] (7) must be a string",
                          R"(blacklist (x@y.com) must be an object {"emails": [...]})",
                      });
    }

    TEST_CASE("text that is not a JSON object is refused with a reason") {
        auto not_json = parse("{\"domain\": ");
        REQUIRE_FALSE(not_json.has_value());
        CHECK(not_json.error().code == ErrorCode::corrupt);
        CHECK(not_json.error().message.find("not valid JSON") != std::string::npos);
        auto array = parse("[1,2]");
        REQUIRE_FALSE(array.has_value());
        CHECK(array.error().message.find("must be a JSON object") != std::string::npos);
    }

    TEST_CASE("canonical output has the AutoDNS member order and enum spellings") {
        MailProxy e;
        e.domain = "example.com";
        e.target = "mx.example.com";
        e.admin = "admin@example.com";
        e.protection = Protection::low;
        e.policy = preset(Protection::low);
        const auto out = to_json(e);
        std::vector<std::string> keys;
        for (const auto& [k, v] : out.items())
            keys.push_back(k);
        CHECK(keys == std::vector<std::string>{"domain", "target", "admin", "protection", "greylisting",
                                               "virus", "bannedFiles", "header", "spam", "whitelist",
                                               "blacklist", "excludelist"});
        CHECK(out["protection"] == "LOW");
        CHECK(out["whitelist"] == ojson{{"emails", ojson::array()}});
        CHECK(dump(e).back() == '\n');
    }

    TEST_CASE("enum names parse case-insensitively for the command line") {
        CHECK(parse_protection("custom") == Protection::custom);
        CHECK(parse_policy_mode("Quarantine") == PolicyMode::quarantine);
        CHECK_FALSE(parse_protection("MAX"));
        for (auto p : k_protections)
            CHECK(parse_protection(to_string(p)) == p);
        for (auto m : k_policy_modes)
            CHECK(parse_policy_mode(to_string(m)) == m);
    }
}
