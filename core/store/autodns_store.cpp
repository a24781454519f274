#include "core/store/autodns_store.hpp"

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::store {

using ojson = nlohmann::ordered_json;

ojson to_query_filters(const std::vector<Filter>& filters) {
    auto out = ojson::array();
    for (const auto& f : filters) {
        const bool upper = f.key == "protection" || f.key == "greylisting";
        out.push_back({{"key", f.key},
                       {"operator", f.pattern.find('*') == std::string::npos ? "EQUAL" : "LIKE"},
                       {"value", upper ? util::to_upper(f.pattern) : f.pattern}});
    }
    return out;
}

AutoDnsStore::AutoDnsStore(std::unique_ptr<autodns::Client> client) : m_client(std::move(client)) {}

namespace {
// AutoDNS takes a mail server, host[:port] or [IP][:port]; the schemes are this program's own extension
// for `serve`, meaningless to the hosted MailProxy.
Expected<void> check_autodns_target(const entry::MailProxy& e) {
    if (e.target.find(':') != std::string::npos && e.target.find("://") != std::string::npos) {
        return fail(ErrorCode::invalid,
                    fmt::format("{}: target ({}) uses a scheme only 'mailproxy serve' knows; "
                                "AutoDNS takes host[:port]",
                                e.domain, e.target));
    }
    if (e.target.starts_with("maildir:") || e.target.starts_with("lmtp:")) {
        return fail(ErrorCode::invalid,
                    fmt::format("{}: target ({}) is a local delivery only 'mailproxy serve' "
                                "knows; AutoDNS takes host[:port]",
                                e.domain, e.target));
    }
    return {};
}
}  // namespace

Expected<void> AutoDnsStore::create(const entry::MailProxy& e) {
    if (auto ok = check_valid(e); !ok)
        return ok;
    if (auto ok = check_autodns_target(e); !ok)
        return ok;
    return m_client->create(e);
}

Expected<entry::MailProxy> AutoDnsStore::update(std::string_view domain, const UpdateFn& change) {
    if (auto ok = check_domain(domain); !ok)
        return tl::make_unexpected(ok.error());
    auto before = m_client->info(domain);
    if (!before)
        return before;
    auto after = *before;
    if (auto ok = change(after); !ok)
        return tl::make_unexpected(ok.error());
    if (after.domain != domain) {
        return fail(ErrorCode::invalid, fmt::format("{}: the domain of an entry cannot be changed", domain));
    }
    if (auto ok = check_valid(after); !ok)
        return tl::make_unexpected(ok.error());
    if (auto ok = check_autodns_target(after); !ok)
        return tl::make_unexpected(ok.error());
    bool merge = false;
    const auto body = autodns::update_body(*before, after, merge);
    if (auto ok = m_client->update(domain, body, merge); !ok)
        return tl::make_unexpected(ok.error());
    return after;
}

Expected<void> AutoDnsStore::remove(std::string_view domain) {
    if (auto ok = check_domain(domain); !ok)
        return ok;
    return m_client->remove(domain);
}

Expected<entry::MailProxy> AutoDnsStore::info(std::string_view domain) {
    if (auto ok = check_domain(domain); !ok)
        return tl::make_unexpected(ok.error());
    return m_client->info(domain);
}

Expected<ListResult> AutoDnsStore::list(const std::vector<Filter>& filters, Detail detail) {
    auto found = m_client->search(to_query_filters(filters), {"greylisting"});
    if (!found)
        return tl::make_unexpected(found.error());
    ListResult result;
    for (const auto& item : *found) {
        const auto domain = item.contains("domain") && item["domain"].is_string()
                                ? item["domain"].get<std::string>()
                                : std::string("(no domain)");
        if (auto ok = check_domain(domain); !ok) {
            // a name from the server goes into a URL path only when it is a canonical domain
            result.problems.push_back(
                {"AutoDNS", "the search returned an entry whose " + ok.error().message});
            continue;
        }
        if (detail == Detail::full) {
            auto e = m_client->info(domain);
            if (!e) {
                result.problems.push_back({domain, e.error().message});
            } else {
                result.entries.push_back(std::move(*e));
            }
            continue;
        }
        auto e = entry::from_json(item);
        if (!e) {
            result.problems.push_back({domain, describe_invalid(domain, e.error())});
            continue;
        }
        result.entries.push_back(std::move(*e));
    }
    return result;
}

Expected<void> AutoDnsStore::import(const std::vector<entry::MailProxy>& entries, bool replace) {
    if (auto ok = check_all_valid(entries); !ok)
        return ok;
    for (const auto& e : entries) {
        if (auto ok = check_autodns_target(e); !ok)
            return ok;
    }
    if (!replace) {
        // as for the local store: an existing domain refuses the whole import before anything is written
        std::string existing;
        for (const auto& e : entries) {
            auto found = m_client->info(e.domain);
            if (found) {
                existing += (existing.empty() ? "" : ", ") + e.domain;
            } else if (found.error().code != ErrorCode::not_found) {
                return tl::make_unexpected(found.error());
            }
        }
        if (!existing.empty()) {
            return fail(ErrorCode::exists, fmt::format("entries exist already in AutoDNS for {}; nothing was "
                                                       "imported (use --replace to overwrite them)",
                                                       existing));
        }
    }
    std::string failures;
    std::size_t failed = 0;
    for (const auto& e : entries) {
        // Whether the domain has an entry is asked, not guessed from an error code AutoDNS does not document.
        auto existing = m_client->info(e.domain);
        Expected<void> ok;
        if (existing) {
            ok = replace ? m_client->update(e.domain, autodns::request_body(e), false)
                         : fail(ErrorCode::exists,
                                fmt::format("{}: an entry exists already (use --replace)", e.domain));
        } else if (existing.error().code == ErrorCode::not_found) {
            ok = m_client->create(e);
        } else {
            ok = tl::make_unexpected(existing.error());
        }
        if (!ok) {
            ++failed;
            failures += "\n" + ok.error().message;
        }
    }
    if (failed > 0) {
        return fail(ErrorCode::failed, fmt::format("{} of {} entries not imported into AutoDNS:{}", failed,
                                                   entries.size(), failures));
    }
    return {};
}

}  // namespace mailproxy::store
