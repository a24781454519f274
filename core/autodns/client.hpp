#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/autodns/envelope.hpp"
#include "core/autodns/http.hpp"
#include "core/autodns/settings.hpp"
#include "core/entry/entry.hpp"

namespace mailproxy::autodns {

/// Time for rate limiting and back-off; tests substitute a fake.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual std::chrono::steady_clock::time_point now() = 0;
    virtual void sleep_for(std::chrono::milliseconds d) = 0;
    /// The real clock.
    static Clock& system();
};

/// Lets at most `count` requests start within any `window` (AutoDNS allows 3 per second; the default
/// window has a margin so that network jitter never makes the server count 4).
class RateLimiter {
  public:
    explicit RateLimiter(Clock& clock, std::size_t count = 3,
                         std::chrono::milliseconds window = std::chrono::milliseconds(1050));
    /// Waits, if needed, until another request may start, and records its start.
    void acquire();

  private:
    Clock& m_clock;
    std::size_t m_count;
    std::chrono::milliseconds m_window;
    std::deque<std::chrono::steady_clock::time_point> m_starts;
};

/// Receives one line of request/response trace (for -v); secrets are already masked.
using Trace = std::function<void(std::string_view line)>;

/// The AutoDNS JSON API, MailProxy routes and /hello.
///
/// Every request carries basic auth, X-Domainrobot-Context, User-Agent `mailproxy/<version>`, and JSON
/// Content-Type/Accept. GET, PUT, DELETE and `_search` are repeated after a 5xx answer, a time-out or a
/// dropped connection, with doubling back-off, at most Settings::retries times; an answer 429 (rate limit)
/// is repeated for any request. A create is never simply sent again: after a time-out or 5xx the client
/// asks for the entry first and sends the create again only when it does not exist.
class Client {
  public:
    Client(Settings settings, std::unique_ptr<HttpTransport> transport, Trace trace = {},
           Clock& clock = Clock::system());

    /// GET /hello: checks URL, credentials and context.
    Expected<Envelope> hello();
    /// POST /mailProxy (the order). ErrorCode::failed with the server's codes when refused.
    Expected<void> create(const entry::MailProxy& e);
    /// GET /mailProxy/{domain}; ErrorCode::not_found for HTTP 404, ErrorCode::corrupt for an object that
    /// cannot be read.
    Expected<entry::MailProxy> info(std::string_view domain);
    /// PUT /mailProxy/{domain} with `body`, adding `keys[]=merge` when `merge` is set.
    Expected<void> update(std::string_view domain, const nlohmann::ordered_json& body, bool merge);
    /// DELETE /mailProxy/{domain}.
    Expected<void> remove(std::string_view domain);
    /// POST /mailProxy/_search with `filters` (AutoDNS QueryFilter objects), asking for the extra
    /// `keys`, ordered by domain, paging until object.summary objects have arrived.
    Expected<std::vector<nlohmann::ordered_json>> search(const nlohmann::ordered_json& filters,
                                                         const std::vector<std::string>& keys);

    /// GET /zone/{name}: the zone object (data[0]: origin, resourceRecords, ...). ErrorCode::not_found for
    /// HTTP 404, ErrorCode::corrupt when the answer holds no zone object.
    Expected<nlohmann::ordered_json> zone_info(std::string_view name);

    /// POST /zone/{name}/_stream with `{"adds":[...],"rems":[...]}`. Never repeated on its own (a second
    /// add of a record is refused as a duplicate); `unsure` is set when the server may have applied it
    /// without a clear answer, so that the caller can read the zone and see.
    Expected<void> zone_stream(std::string_view name, const nlohmann::ordered_json& body, bool* unsure);

    const Settings& settings() const { return m_settings; }

  private:
    enum class Repeat { safe, never };
    /// One request with its retries. `unsure` (optional) is set when any attempt may have been acted on
    /// by the server without a clear answer (a time-out, a dropped connection or a 5xx answer).
    Expected<Envelope> call(const std::string& method, const std::string& path, const std::string& body,
                            Repeat repeat, bool* unsure = nullptr);
    void trace(std::string_view line) const;
    std::chrono::milliseconds backoff(int attempt) const;

    Settings m_settings;
    std::unique_ptr<HttpTransport> m_transport;
    Trace m_trace;
    Clock& m_clock;
    RateLimiter m_limiter;
    std::string m_auth;  // "Basic <base64>"
};

/// The members of an entry as a request body: the canonical JSON without the server-set members.
nlohmann::ordered_json request_body(const entry::MailProxy& e);

/// The body of an update from `before` to `after`. When both are CUSTOM, the policy members that did not
/// change are left out and `merge` is set (AutoDNS keeps them: concurrent changes of other members are
/// not overwritten); otherwise the whole object is sent without merge.
nlohmann::ordered_json update_body(const entry::MailProxy& before, const entry::MailProxy& after,
                                   bool& merge);

/// Page size of search().
inline constexpr int k_page_size = 100;

}  // namespace mailproxy::autodns
