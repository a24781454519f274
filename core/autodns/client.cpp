#include "core/autodns/client.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "core/util/strings.hpp"
#include "core/version.hpp"

namespace mailproxy::autodns {
namespace {

using ojson = nlohmann::ordered_json;
using namespace std::chrono_literals;

class SystemClock final : public Clock {
  public:
    std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

constexpr std::size_t k_trace_body = 4096;
constexpr long long k_max_summary = 1'000'000;

// Members AutoDNS merges on PUT with keys[]=merge (HELP "Mailproxy Update").
constexpr std::string_view k_mergeable[] = {"greylisting", "virus",     "bannedFiles", "header",
                                            "spam",        "blacklist", "whitelist",   "excludelist"};

std::string seconds_text(std::chrono::milliseconds d) {
    return util::format_number(static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

Clock& Clock::system() {
    static SystemClock clock;
    return clock;
}

RateLimiter::RateLimiter(Clock& clock, std::size_t count, std::chrono::milliseconds window)
    : m_clock(clock), m_count(count), m_window(window) {}

void RateLimiter::acquire() {
    if (m_starts.size() >= m_count) {
        const auto free_at = m_starts.front() + m_window;
        const auto now = m_clock.now();
        if (free_at > now)
            m_clock.sleep_for(std::chrono::ceil<std::chrono::milliseconds>(free_at - now));
        m_starts.pop_front();
    }
    m_starts.push_back(m_clock.now());
}

ojson request_body(const entry::MailProxy& e) {
    auto j = entry::to_json(e);
    for (auto k : entry::k_server_fields)
        j.erase(std::string(k));
    return j;
}

ojson update_body(const entry::MailProxy& before, const entry::MailProxy& after, bool& merge) {
    auto body = request_body(after);
    merge = before.protection == entry::Protection::custom && after.protection == entry::Protection::custom;
    if (!merge)
        return body;
    const auto old = request_body(before);
    for (auto k : k_mergeable) {
        const std::string key(k);
        if (old.contains(key) && body.contains(key) && old[key] == body[key])
            body.erase(key);
    }
    return body;
}

Client::Client(Settings settings, std::unique_ptr<HttpTransport> transport, Trace trace, Clock& clock)
    : m_settings(std::move(settings)),
      m_transport(std::move(transport)),
      m_trace(std::move(trace)),
      m_clock(clock),
      m_limiter(clock),
      m_auth("Basic " + util::base64(m_settings.user + ":" + m_settings.password)) {}

void Client::trace(std::string_view line) const {
    if (!m_trace)
        return;
    // Defence in depth: whatever reaches the trace, the secret does not.
    auto masked = util::replace_all(std::string(line), m_auth, "Basic ********");
    masked = util::replace_all(std::move(masked), m_settings.password, "********");
    m_trace(masked);
}

std::chrono::milliseconds Client::backoff(int attempt) const {
    auto d = m_settings.retry_delay;
    for (int i = 0; i < attempt && d < 8s; ++i)
        d *= 2;
    return std::min<std::chrono::milliseconds>(d, 8s);
}

Expected<Envelope> Client::call(const std::string& method, const std::string& path, const std::string& body,
                                Repeat repeat, bool* unsure) {
    if (unsure != nullptr)
        *unsure = false;
    HttpRequest req;
    req.method = method;
    req.url = m_settings.url + path;
    req.headers = {{"Authorization", m_auth},
                   {"X-Domainrobot-Context", std::to_string(m_settings.context)},
                   {"User-Agent", std::string("mailproxy/") + k_version},
                   {"Accept", "application/json"}};
    if (!body.empty())
        req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;

    for (int attempt = 0;; ++attempt) {
        m_limiter.acquire();
        trace(fmt::format("> {} {}", method, req.url));
        for (const auto& [name, value] : req.headers)
            trace(fmt::format("> {}: {}", name, value));
        if (!body.empty())
            trace("> " + body.substr(0, k_trace_body));

        auto r = m_transport->perform(req);
        std::string reason;
        Error last;
        if (!r) {
            trace("! " + r.error().message);
            last = Error{ErrorCode::unavailable, r.error().message};
            if (unsure != nullptr)
                *unsure = *unsure || may_have_arrived(r.error().kind);
            const bool again = repeat == Repeat::safe && (r.error().kind == TransportFailure::timeout ||
                                                          r.error().kind == TransportFailure::dropped);
            if (!again)
                return tl::make_unexpected(last);
            reason = r.error().kind == TransportFailure::timeout ? "a time-out" : "a dropped connection";
        } else {
            trace(fmt::format("< HTTP {}{}", r->status, r->stid.empty() ? "" : " stid " + r->stid));
            if (!r->body.empty())
                trace("< " + r->body.substr(0, k_trace_body));
            auto env = interpret(*r);
            if (unsure != nullptr)
                *unsure = *unsure || r->status >= 500;
            const bool rate_limited = r->status == 429;
            const bool server_error = r->status >= 500 && repeat == Repeat::safe;
            if (!rate_limited && !server_error)
                return env;
            last = env ? Error{ErrorCode::failed, fmt::format("AutoDNS answered HTTP {}", r->status)}
                       : env.error();
            reason = rate_limited ? "HTTP 429 (rate limit)" : fmt::format("HTTP {}", r->status);
        }
        if (attempt >= m_settings.retries) {
            if (m_settings.retries > 0)
                last.message += fmt::format(" (gave up after {} attempts)", attempt + 1);
            return tl::make_unexpected(last);
        }
        const auto delay = backoff(attempt);
        trace(fmt::format("retry {}/{} of {} {} in {} s after {}", attempt + 1, m_settings.retries, method,
                          path, seconds_text(delay), reason));
        m_clock.sleep_for(delay);
    }
}

Expected<Envelope> Client::hello() {
    return call("GET", "/hello", "", Repeat::safe);
}

Expected<void> Client::create(const entry::MailProxy& e) {
    const auto body = request_body(e).dump();
    bool placed_maybe = false;  // an earlier attempt may have placed the order
    for (int attempt = 0;; ++attempt) {
        bool unsure = false;
        auto r = call("POST", "/mailProxy", body, Repeat::never, &unsure);
        if (r)
            return {};
        // Refused outright (4xx, or nothing was sent) with no unclear attempt before: the answer stands.
        if (!unsure && !placed_maybe)
            return tl::make_unexpected(r.error());
        // The order may have been placed (now or by an earlier attempt): look before deciding.
        trace(fmt::format("create of {} got no clear answer ({}); asking whether it exists", e.domain,
                          r.error().message));
        auto check = info(e.domain);
        if (check) {
            if (check->target == e.target && check->admin == e.admin && check->protection == e.protection) {
                trace(fmt::format("{} exists as ordered: the create went through", e.domain));
                return {};
            }
            return fail(
                ErrorCode::exists,
                fmt::format("{}: AutoDNS holds an entry with other values (target {}, admin {}), so it "
                            "was not made by this command ({})",
                            e.domain, check->target, check->admin, r.error().message));
        }
        if (check.error().code != ErrorCode::not_found) {
            return fail(
                ErrorCode::unavailable,
                fmt::format("{}: the create got no clear answer ({}) and checking failed too ({}); see "
                            "whether it exists with 'mailproxy entry info {}'",
                            e.domain, r.error().message, check.error().message, e.domain));
        }
        if (!unsure)
            return tl::make_unexpected(r.error());  // refused, and nothing was placed
        placed_maybe = true;
        if (attempt >= m_settings.retries) {
            return fail(r.error().code,
                        r.error().message + fmt::format(" (gave up after {} attempts)", attempt + 1));
        }
        const auto delay = backoff(attempt);
        trace(fmt::format("retry {}/{} of POST /mailProxy in {} s: {} does not exist", attempt + 1,
                          m_settings.retries, seconds_text(delay), e.domain));
        m_clock.sleep_for(delay);
    }
}

Expected<nlohmann::ordered_json> Client::zone_info(std::string_view name) {
    auto r = call("GET", "/zone/" + std::string(name), "", Repeat::safe);
    if (!r) {
        if (r.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found,
                        fmt::format("{}: no such zone in AutoDNS ({})", name, r.error().message));
        }
        return tl::make_unexpected(r.error());
    }
    if (r->data.empty() || !r->data[0].is_object() || !r->data[0].contains("resourceRecords") ||
        !r->data[0]["resourceRecords"].is_array()) {
        return fail(ErrorCode::corrupt, fmt::format("{}: AutoDNS answered without the zone's records", name));
    }
    return std::move(r->data[0]);
}

Expected<void> Client::zone_stream(std::string_view name, const nlohmann::ordered_json& body, bool* unsure) {
    auto r = call("POST", "/zone/" + std::string(name) + "/_stream", body.dump(), Repeat::never, unsure);
    if (!r)
        return tl::make_unexpected(r.error());
    return {};
}

Expected<entry::MailProxy> Client::info(std::string_view domain) {
    auto r = call("GET", "/mailProxy/" + std::string(domain), "", Repeat::safe);
    if (!r) {
        if (r.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found,
                        fmt::format("{}: no such entry in AutoDNS ({})", domain, r.error().message));
        }
        return tl::make_unexpected(r.error());
    }
    if (r->data.empty() || !r->data[0].is_object()) {
        return fail(ErrorCode::not_found, fmt::format("{}: no such entry in AutoDNS (empty answer)", domain));
    }
    auto e = entry::from_json(r->data[0]);
    if (e && e->domain != domain) {
        return fail(ErrorCode::corrupt,
                    fmt::format("{}: AutoDNS answered with the entry of another domain", domain));
    }
    if (!e) {
        std::string msg = fmt::format("{}: AutoDNS returned an entry this version cannot read:", domain);
        for (const auto& fe : e.error())
            msg += "\n" + std::string(domain) + ": " + fe.to_string();
        return fail(ErrorCode::corrupt, msg);
    }
    return std::move(*e);
}

Expected<void> Client::update(std::string_view domain, const ojson& body, bool merge) {
    auto r = call("PUT", "/mailProxy/" + std::string(domain) + (merge ? "?keys%5B%5D=merge" : ""),
                  body.dump(), Repeat::safe);
    if (!r)
        return tl::make_unexpected(r.error());
    return {};
}

Expected<void> Client::remove(std::string_view domain) {
    bool unsure = false;
    auto r = call("DELETE", "/mailProxy/" + std::string(domain), "", Repeat::safe, &unsure);
    if (!r) {
        if (r.error().code == ErrorCode::not_found && unsure) {
            // an earlier attempt that got no clear answer did the deletion
            trace(fmt::format("{} is gone after a repeated DELETE: the first one went through", domain));
            return {};
        }
        if (r.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found,
                        fmt::format("{}: no such entry in AutoDNS ({})", domain, r.error().message));
        }
        return tl::make_unexpected(r.error());
    }
    return {};
}

Expected<std::vector<ojson>> Client::search(const ojson& filters, const std::vector<std::string>& keys) {
    std::string query;
    for (const auto& k : keys)
        query += (query.empty() ? "?" : "&") + std::string("keys%5B%5D=") + k;
    std::vector<ojson> out;
    for (;;) {
        ojson q = ojson::object();
        if (!filters.empty())
            q["filters"] = filters;
        q["view"] = {{"limit", k_page_size}, {"offset", out.size()}, {"children", false}};
        q["orders"] = ojson::array({{{"key", "domain"}, {"type", "ASC"}}});
        auto r = call("POST", "/mailProxy/_search" + query, q.dump(), Repeat::safe);
        if (!r)
            return tl::make_unexpected(r.error());
        if (!r->summary || *r->summary < 0 || *r->summary > k_max_summary) {
            return fail(ErrorCode::failed, "AutoDNS answered the search without a usable object.summary");
        }
        for (const auto& item : r->data)
            out.push_back(item);
        const auto total = static_cast<std::size_t>(*r->summary);
        if (out.size() >= total)
            break;
        if (r->data.empty()) {
            return fail(ErrorCode::failed,
                        fmt::format("AutoDNS reported {} entries but sent only {}", total, out.size()));
        }
    }
    return out;
}

}  // namespace mailproxy::autodns
