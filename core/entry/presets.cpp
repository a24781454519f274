#include "core/entry/presets.hpp"

namespace mailproxy::entry {

Policy preset(Protection p) {
    Policy v;  // member defaults are MEDIUM's values
    switch (p) {
        case Protection::high:
            v.virus = PolicyMode::quarantine;
            break;
        case Protection::low:
            v.spam.modify_subject = false;
            break;
        case Protection::off:
            v.virus = PolicyMode::disabled;
            v.banned_files = PolicyMode::disabled;
            v.header = PolicyMode::disabled;
            v.spam.mode = PolicyMode::disabled;
            v.spam.modify_subject = false;
            break;
        case Protection::medium:
        case Protection::custom:
            break;
    }
    return v;
}

Policy effective_policy(const MailProxy& e) {
    return e.protection == Protection::custom ? e.policy : preset(e.protection);
}

std::vector<std::string> policy_differences(const Policy& a, const Policy& b) {
    std::vector<std::string> out;
    if (a.virus != b.virus)
        out.emplace_back("virus");
    if (a.banned_files != b.banned_files)
        out.emplace_back("bannedFiles");
    if (a.header != b.header)
        out.emplace_back("header");
    if (a.spam.mode != b.spam.mode)
        out.emplace_back("spam.mode");
    if (a.spam.modify_subject != b.spam.modify_subject)
        out.emplace_back("spam.modifySubject");
    if (a.spam.tag_header != b.spam.tag_header)
        out.emplace_back("spam.tagHeader");
    if (a.spam.spam != b.spam.spam)
        out.emplace_back("spam.spam");
    if (a.spam.kill != b.spam.kill)
        out.emplace_back("spam.kill");
    if (a.spam.quarantine_digest_interval != b.spam.quarantine_digest_interval) {
        out.emplace_back("spam.quarantineDigestInterval");
    }
    return out;
}

PolicyChange change_policy(MailProxy& e, const Policy& wanted) {
    PolicyChange c;
    c.from = e.protection;
    c.fields = policy_differences(effective_policy(e), wanted);
    if (c.fields.empty())
        return c;
    c.became_custom = e.protection != Protection::custom;
    e.protection = Protection::custom;
    e.policy = wanted;
    return c;
}

void set_protection(MailProxy& e, Protection p) {
    e.policy = p == Protection::custom ? effective_policy(e) : preset(p);
    e.protection = p;
}

}  // namespace mailproxy::entry
