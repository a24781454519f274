#include "core/filter/scan.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/filter/headers.hpp"
#include "core/filter/wrap.hpp"

namespace mailproxy::filter {

ScanOptions options_for(const entry::Policy& p) {
    ScanOptions o;
    o.virus = p.virus != entry::PolicyMode::disabled;
    o.banned = p.banned_files != entry::PolicyMode::disabled;
    o.header = p.header != entry::PolicyMode::disabled;
    o.spam = p.spam.mode != entry::PolicyMode::disabled;
    return o;
}

bool ScanResult::has(Category c) const {
    return std::any_of(findings.begin(), findings.end(), [c](const Finding& f) { return f.category == c; });
}

ScanResult scan_message(int fd, const ScanOptions& options, const VirusScanner* scanner) {
    ScanResult r;
    if (options.virus) {
        if (scanner == nullptr) {
            r.scanner_error = "no virus scanner";
        } else {
            const auto v = scanner->scan(fd);
            if (v.kind == VirusResult::Kind::virus)
                r.findings.push_back({Category::virus, v.text, "message"});
            else if (v.kind == VirusResult::Kind::error)
                r.scanner_error =
                    v.text.empty() ? "the virus scanner failed" : v.text;  // never "" on failure
            r.virus_scanned = v.kind != VirusResult::Kind::error;
        }
    }
    r.head = read_header_part(fd, options.max_header_bytes);
    const auto head = header_section(r.head);
    r.spam_fields = has_spam_fields(head);
    if (!options.banned && !options.header)
        return r;
    std::vector<Finding> banned;
    BannedCheck check(options.archive);
    const auto walk = walk_mime(fd, options.mime, [&](const MimePart& part) {
        if (options.banned)
            check.check(part, banned);
    });
    if (options.banned && walk.parsed && walk.incomplete)
        banned.push_back({Category::banned,
                          fmt::format("not all parts were checked ({})", walk.incomplete_why), "message"});
    r.findings.insert(r.findings.end(), banned.begin(), banned.end());
    if (options.header) {
        auto found = check_headers(head, walk, options.mbox_from_line);
        r.findings.insert(r.findings.end(), found.begin(), found.end());
    }
    return r;
}

std::string_view to_string(Action a) {
    switch (a) {
        case Action::deliver:
            return "deliver";
        case Action::quarantine:
            return "quarantine";
        case Action::discard:
            return "discard";
        case Action::deliver_wrapped:
            return "deliver-wrapped";
        case Action::deliver_alert:
            return "deliver-with-alert";
        case Action::tempfail:
            return "tempfail";
    }
    return "?";
}

Verdict decide(const ScanResult& r, const entry::Policy& p, bool pass_on_failure, bool spam_pass_on_failure) {
    const auto find = [&](Category c) {
        return std::find_if(r.findings.begin(), r.findings.end(),
                            [c](const Finding& f) { return f.category == c; });
    };
    const bool spam_counts = p.spam.mode != entry::PolicyMode::disabled && r.spam.counts();
    const bool killed =
        spam_counts && (r.spam.state == SpamCheck::State::blacklisted || r.spam.score >= p.spam.kill);
    const std::pair<Category, entry::PolicyMode> order[] = {{Category::virus, p.virus},
                                                            {Category::banned, p.banned_files},
                                                            {Category::spam, p.spam.mode},
                                                            {Category::bad_header, p.header}};
    Verdict v;
    for (const auto& [category, mode] : order) {
        if (mode == entry::PolicyMode::disabled)
            continue;
        if (category == Category::spam) {
            if (!killed)
                continue;
            v.reason = r.spam.state == SpamCheck::State::blacklisted
                           ? fmt::format("spam: blacklisted sender {}", r.spam.note)
                           : fmt::format("spam: score {} at or above {}", score_text(r.spam.score),
                                         score_text(p.spam.kill));
        } else {
            const auto it = find(category);
            if (it == r.findings.end())
                continue;
            v.reason = category == Category::virus
                           ? fmt::format("virus {}", it->what)
                           : fmt::format("{}: {} ({})", to_string(category), it->what, it->where);
        }
        v.category = category;
        switch (mode) {
            case entry::PolicyMode::quarantine:
                v.action = Action::quarantine;
                break;
            case entry::PolicyMode::discard:
                v.action = Action::discard;
                break;
            default:
                v.action = category == Category::bad_header ? Action::deliver_alert
                           : category == Category::spam     ? Action::deliver
                                                            : Action::deliver_wrapped;
                break;
        }
        break;
    }
    // a message that would be delivered may still hold the virus the failed scan did not see, or be
    // spam the failed engine did not score
    if (v.action != Action::quarantine && v.action != Action::discard) {
        if (!r.scanner_error.empty() && p.virus != entry::PolicyMode::disabled && !pass_on_failure) {
            v.action = Action::tempfail;
            v.reason = "virus scanner failed: " + r.scanner_error;
        } else if (r.spam.state == SpamCheck::State::failed && p.spam.mode != entry::PolicyMode::disabled &&
                   !spam_pass_on_failure) {
            v.action = Action::tempfail;
            v.reason = "spam engine failed: " + r.spam.note;
        }
    }
    return v;
}

}  // namespace mailproxy::filter
