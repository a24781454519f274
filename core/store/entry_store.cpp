#include "core/store/entry_store.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/entry/validate.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::store {

Expected<Filter> parse_filter(std::string_view text) {
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        return fail(ErrorCode::invalid,
                    fmt::format("filter '{}' is not key=pattern (e.g. domain=ex*)", text));
    }
    Filter f{util::to_lower(util::trim(text.substr(0, eq))), std::string(util::trim(text.substr(eq + 1)))};
    for (auto k : k_filter_keys) {
        if (k == f.key)
            return f;
    }
    return fail(ErrorCode::invalid,
                fmt::format("filter '{}' names unknown key '{}' (use domain, target, admin, protection or "
                            "greylisting)",
                            text, f.key));
}

bool matches(const entry::MailProxy& e, const std::vector<Filter>& filters) {
    for (const auto& f : filters) {
        std::string value;
        if (f.key == "domain")
            value = e.domain;
        if (f.key == "target")
            value = e.target;
        if (f.key == "admin")
            value = e.admin;
        if (f.key == "protection")
            value = entry::to_string(e.protection);
        if (f.key == "greylisting")
            value = e.greylisting ? "ENABLED" : "DISABLED";
        if (!util::glob_match(f.pattern, value))
            return false;
    }
    return true;
}

std::string describe_invalid(std::string_view source, const std::vector<entry::FieldError>& errors) {
    std::string msg;
    for (const auto& fe : errors) {
        if (!msg.empty())
            msg += "\n";
        msg += fmt::format("{}: {}", source, fe.to_string());
    }
    return msg;
}

Expected<void> check_valid(const entry::MailProxy& e) {
    if (auto errors = entry::validate(e); !errors.empty()) {
        return fail(ErrorCode::invalid, describe_invalid(e.domain.empty() ? "(entry)" : e.domain, errors));
    }
    return {};
}

Expected<void> check_all_valid(const std::vector<entry::MailProxy>& entries) {
    std::string problems;
    std::vector<std::string_view> seen;
    for (const auto& e : entries) {
        std::string problem;
        if (auto ok = check_valid(e); !ok) {
            problem = ok.error().message;
        } else if (std::find(seen.begin(), seen.end(), e.domain) != seen.end()) {
            problem = fmt::format("{}: appears more than once in the import", e.domain);
        }
        seen.push_back(e.domain);
        if (!problem.empty())
            problems += (problems.empty() ? "" : "\n") + problem;
    }
    if (!problems.empty())
        return fail(ErrorCode::invalid, problems);
    return {};
}

Expected<void> check_domain(std::string_view domain) {
    if (auto p = entry::domain_problem(domain); !p.empty()) {
        return fail(ErrorCode::invalid, fmt::format("domain ({}) {}", domain, p));
    }
    return {};
}

}  // namespace mailproxy::store
