#include <doctest/doctest.h>

#include "core/entry/presets.hpp"

using namespace mailproxy::entry;

TEST_SUITE("entry.presets") {
    TEST_CASE("HIGH quarantines viruses, wraps banned files, tags the subject") {
        const auto p = preset(Protection::high);
        CHECK(p.virus == PolicyMode::quarantine);
        CHECK(p.banned_files == PolicyMode::accept);
        CHECK(p.header == PolicyMode::disabled);
        CHECK(p.spam.mode == PolicyMode::accept);
        CHECK(p.spam.modify_subject);
        CHECK(p.spam.tag_header == -999);
        CHECK(p.spam.spam == 6.5);
        CHECK(p.spam.kill == 999);
        CHECK(p.spam.quarantine_digest_interval == 1440);
    }

    TEST_CASE("MEDIUM is the published example") {
        const auto p = preset(Protection::medium);
        CHECK(p.virus == PolicyMode::accept);
        CHECK(p.banned_files == PolicyMode::accept);
        CHECK(p.header == PolicyMode::disabled);
        CHECK(p.spam.mode == PolicyMode::accept);
        CHECK(p.spam.modify_subject);
        CHECK(p.spam.tag_header == -999);
        CHECK(p.spam.spam == 6.5);
        CHECK(p.spam.kill == 999);
        CHECK(p.spam.quarantine_digest_interval == 1440);
    }

    TEST_CASE("LOW differs from MEDIUM only in not changing the subject") {
        auto p = preset(Protection::low);
        CHECK_FALSE(p.spam.modify_subject);
        CHECK(p.virus == PolicyMode::accept);
        CHECK(p.banned_files == PolicyMode::accept);
        p.spam.modify_subject = true;
        CHECK(p == preset(Protection::medium));
    }

    TEST_CASE("OFF disables every check") {
        const auto p = preset(Protection::off);
        CHECK(p.virus == PolicyMode::disabled);
        CHECK(p.banned_files == PolicyMode::disabled);
        CHECK(p.header == PolicyMode::disabled);
        CHECK(p.spam.mode == PolicyMode::disabled);
        CHECK_FALSE(p.spam.modify_subject);
        CHECK(p.spam.quarantine_digest_interval == 1440);
    }

    TEST_CASE("changing one policy value of a preset entry makes it CUSTOM from the preset's values") {
        for (auto level : {Protection::high, Protection::medium, Protection::low, Protection::off}) {
            INFO(to_string(level));
            MailProxy e;
            set_protection(e, level);
            auto wanted = effective_policy(e);
            wanted.header = PolicyMode::quarantine;
            const auto change = change_policy(e, wanted);
            CHECK(change.became_custom);
            CHECK(change.from == level);
            CHECK(change.fields == std::vector<std::string>{"header"});
            CHECK(e.protection == Protection::custom);
            auto expected = preset(level);
            expected.header = PolicyMode::quarantine;
            CHECK(e.policy == expected);
        }
    }

    TEST_CASE("setting a value a preset already has keeps the preset") {
        MailProxy e;
        set_protection(e, Protection::medium);
        auto wanted = effective_policy(e);
        wanted.virus = PolicyMode::accept;
        const auto change = change_policy(e, wanted);
        CHECK_FALSE(change.became_custom);
        CHECK(change.fields.empty());
        CHECK(e.protection == Protection::medium);
    }

    TEST_CASE("a CUSTOM entry stays CUSTOM and a preset replaces its values") {
        MailProxy e;
        set_protection(e, Protection::custom);
        auto wanted = effective_policy(e);
        wanted.spam.kill = 20;
        const auto change = change_policy(e, wanted);
        CHECK_FALSE(change.became_custom);
        CHECK(change.fields == std::vector<std::string>{"spam.kill"});
        CHECK(e.policy.spam.kill == 20);
        set_protection(e, Protection::high);
        CHECK(e.policy == preset(Protection::high));
        set_protection(e, Protection::custom);  // keeps the values it had
        CHECK(e.policy == preset(Protection::high));
        CHECK(e.protection == Protection::custom);
    }

    TEST_CASE("the effective policy of a preset entry is the preset, whatever is stored") {
        MailProxy e;
        e.protection = Protection::high;
        e.policy.virus = PolicyMode::discard;  // a hand-edited file
        CHECK(effective_policy(e) == preset(Protection::high));
        e.protection = Protection::custom;
        CHECK(effective_policy(e).virus == PolicyMode::discard);
    }

    TEST_CASE("policy differences name every changed field") {
        Policy a, b;
        b.banned_files = PolicyMode::discard;
        b.spam.mode = PolicyMode::quarantine;
        b.spam.modify_subject = false;
        b.spam.tag_header = 1;
        b.spam.spam = 2;
        b.spam.kill = 3;
        b.spam.quarantine_digest_interval = 2000;
        b.virus = PolicyMode::disabled;
        b.header = PolicyMode::accept;
        CHECK(policy_differences(a, b) == std::vector<std::string>{"virus", "bannedFiles", "header",
                                                                   "spam.mode", "spam.modifySubject",
                                                                   "spam.tagHeader", "spam.spam", "spam.kill",
                                                                   "spam.quarantineDigestInterval"});
    }
}
