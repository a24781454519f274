#include <doctest/doctest.h>

#include <deque>

#include "core/autodns/client.hpp"
#include "core/entry/presets.hpp"
#include "core/store/autodns_store.hpp"

using namespace mailproxy;
using namespace mailproxy::autodns;
using namespace std::chrono_literals;
using ojson = nlohmann::ordered_json;

namespace {

/// Time that moves only when somebody sleeps.
class FakeClock final : public Clock {
  public:
    std::chrono::steady_clock::time_point now() override { return m_now; }
    void sleep_for(std::chrono::milliseconds d) override {
        m_now += d;
        slept.push_back(d);
    }
    std::vector<std::chrono::milliseconds> slept;

  private:
    std::chrono::steady_clock::time_point m_now{};
};

/// Answers from a script and records what was asked, with the fake time of each request.
class ScriptedTransport final : public HttpTransport {
  public:
    explicit ScriptedTransport(FakeClock& clock) : m_clock(clock) {}
    std::deque<tl::expected<HttpResponse, TransportError>> answers;
    std::vector<HttpRequest> requests;
    std::vector<std::chrono::steady_clock::time_point> times;

    tl::expected<HttpResponse, TransportError> perform(const HttpRequest& r) override {
        requests.push_back(r);
        times.push_back(m_clock.now());
        REQUIRE_FALSE(answers.empty());
        auto a = answers.front();
        answers.pop_front();
        return a;
    }

  private:
    FakeClock& m_clock;
};

HttpResponse ok(ojson data = ojson::array(), std::optional<long long> summary = std::nullopt) {
    ojson env = {
        {"stid", "s1"}, {"status", {{"code", "S0000"}, {"text", "ok"}, {"type", "SUCCESS"}}}, {"data", data}};
    if (summary)
        env["object"] = {{"summary", *summary}};
    return HttpResponse{200, env.dump(), "application/json", ""};
}

HttpResponse status(long code) {
    ojson env = {{"stid", "s2"}, {"status", {{"code", "E0000"}, {"text", "failed"}, {"type", "ERROR"}}}};
    return HttpResponse{code, env.dump(), "application/json", ""};
}

tl::unexpected<TransportError> broken(TransportFailure kind) {
    return tl::make_unexpected(TransportError{kind, "broken"});
}

entry::MailProxy entry_of(const std::string& domain) {
    entry::MailProxy e;
    e.domain = domain;
    e.target = "mx.example.net";
    e.admin = "admin@" + domain;
    entry::set_protection(e, entry::Protection::medium);
    return e;
}

struct Fixture {
    FakeClock clock;
    ScriptedTransport* transport = nullptr;
    std::vector<std::string> trace;
    std::unique_ptr<Client> client;

    explicit Fixture(int retries = 3) {
        Settings s;
        s.url = "https://autodns.example/v1";
        s.user = "user";
        s.password = "pa55word";
        s.retries = retries;
        auto t = std::make_unique<ScriptedTransport>(clock);
        transport = t.get();
        client = std::make_unique<Client>(
            s, std::move(t), [this](std::string_view l) { trace.emplace_back(l); }, clock);
    }
};

}  // namespace

TEST_SUITE("autodns.client") {
    TEST_CASE("requests carry auth, context, user agent and JSON headers") {
        Fixture f;
        f.transport->answers.push_back(ok());
        REQUIRE(f.client->hello().has_value());
        const auto& r = f.transport->requests.at(0);
        CHECK(r.method == "GET");
        CHECK(r.url == "https://autodns.example/v1/hello");
        const auto header = [&](const std::string& name) {
            for (const auto& [k, v] : r.headers) {
                if (k == name)
                    return v;
            }
            return std::string("(none)");
        };
        CHECK(header("Authorization") == "Basic dXNlcjpwYTU1d29yZA==");
        CHECK(header("X-Domainrobot-Context") == "4");
        CHECK(header("User-Agent").starts_with("mailproxy/"));
        CHECK(header("Accept") == "application/json");
        CHECK(header("Content-Type") == "(none)");
    }

    TEST_CASE("the trace masks the credentials") {
        Fixture f;
        f.transport->answers.push_back(
            HttpResponse{200, R"({"status":{"type":"SUCCESS"},"echo":"pa55word"})", "", ""});
        REQUIRE(f.client->hello().has_value());
        bool saw_auth = false;
        for (const auto& line : f.trace) {
            CHECK(line.find("pa55word") == std::string::npos);
            CHECK(line.find("dXNlcjpwYTU1d29yZA==") == std::string::npos);
            saw_auth = saw_auth || line == "> Authorization: Basic ********";
        }
        CHECK(saw_auth);
    }

    TEST_CASE("never more than 3 requests start within a second") {
        Fixture f;
        for (int i = 0; i < 10; ++i)
            f.transport->answers.push_back(ok());
        for (int i = 0; i < 10; ++i)
            REQUIRE(f.client->hello().has_value());
        const auto& t = f.transport->times;
        for (std::size_t i = 3; i < t.size(); ++i)
            CHECK(t[i] - t[i - 3] >= 1000ms);
        CHECK(t[2] - t[0] < 1000ms);  // but three may go at once
    }

    TEST_CASE("GET is retried after 5xx, time-outs and dropped connections with doubling back-off") {
        Fixture f;
        f.transport->answers.push_back(status(503));
        f.transport->answers.push_back(broken(TransportFailure::timeout));
        f.transport->answers.push_back(broken(TransportFailure::dropped));
        f.transport->answers.push_back(ok(ojson::array({request_body(entry_of("x.example"))})));
        auto e = f.client->info("x.example");
        REQUIRE(e.has_value());
        CHECK(e->domain == "x.example");
        CHECK(f.transport->requests.size() == 4);
        CHECK(f.clock.slept == std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms});
        CHECK(f.trace.end() != std::find(f.trace.begin(), f.trace.end(),
                                         "retry 1/3 of GET /mailProxy/x.example in 0.5 s after HTTP 503"));
    }

    TEST_CASE("retries are bounded and the last failure is reported") {
        Fixture f(2);
        for (int i = 0; i < 3; ++i)
            f.transport->answers.push_back(status(500));
        auto e = f.client->info("x.example");
        REQUIRE_FALSE(e.has_value());
        CHECK(f.transport->requests.size() == 3);
        CHECK(e.error().message ==
              "AutoDNS error E0000: failed (HTTP 500, stid s2) (gave up after 3 attempts)");
    }

    TEST_CASE("connection refused, DNS and TLS failures are not retried") {
        for (auto kind : {TransportFailure::connect, TransportFailure::resolve, TransportFailure::tls}) {
            Fixture f;
            f.transport->answers.push_back(broken(kind));
            auto e = f.client->info("x.example");
            REQUIRE_FALSE(e.has_value());
            CHECK(e.error().code == ErrorCode::unavailable);
            CHECK(e.error().message == "broken");
            CHECK(f.transport->requests.size() == 1);
        }
    }

    TEST_CASE("a 4xx answer is final") {
        Fixture f;
        f.transport->answers.push_back(status(400));
        CHECK_FALSE(f.client->remove("x.example").has_value());
        CHECK(f.transport->requests.size() == 1);
    }

    TEST_CASE("a create that timed out is checked before it is sent again") {
        SUBCASE("it went through") {
            Fixture f;
            f.transport->answers.push_back(broken(TransportFailure::timeout));
            f.transport->answers.push_back(ok(ojson::array({request_body(entry_of("x.example"))})));
            REQUIRE(f.client->create(entry_of("x.example")).has_value());
            REQUIRE(f.transport->requests.size() == 2);
            CHECK(f.transport->requests[1].method == "GET");
        }
        SUBCASE("it did not") {
            Fixture f;
            f.transport->answers.push_back(status(502));
            f.transport->answers.push_back(status(404));
            f.transport->answers.push_back(ok());
            REQUIRE(f.client->create(entry_of("x.example")).has_value());
            REQUIRE(f.transport->requests.size() == 3);
            CHECK(f.transport->requests[2].method == "POST");
        }
        SUBCASE("the check fails too") {
            Fixture f(0);
            f.transport->answers.push_back(broken(TransportFailure::dropped));
            f.transport->answers.push_back(broken(TransportFailure::connect));
            auto r = f.client->create(entry_of("x.example"));
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.find("see whether it exists with 'mailproxy entry info x.example'") !=
                  std::string::npos);
            CHECK(f.transport->requests.size() == 2);
        }
        SUBCASE("a refusal is not checked") {
            Fixture f;
            f.transport->answers.push_back(status(400));
            CHECK_FALSE(f.client->create(entry_of("x.example")).has_value());
            CHECK(f.transport->requests.size() == 1);
        }
    }

    TEST_CASE("429 is retried even for a create") {
        Fixture f;
        f.transport->answers.push_back(status(429));
        f.transport->answers.push_back(ok());
        REQUIRE(f.client->create(entry_of("x.example")).has_value());
        CHECK(f.transport->requests.size() == 2);
        CHECK(f.transport->requests[1].method == "POST");
    }

    TEST_CASE("search pages until object.summary is reached") {
        Fixture f;
        const auto page = [](int from, int n) {
            auto arr = ojson::array();
            for (int i = from; i < from + n; ++i)
                arr.push_back({{"domain", "d" + std::to_string(i) + ".example"}});
            return arr;
        };
        f.transport->answers.push_back(ok(page(0, 100), 250));
        f.transport->answers.push_back(ok(page(100, 100), 250));
        f.transport->answers.push_back(ok(page(200, 50), 250));
        auto r = f.client->search(ojson::array(), {"greylisting"});
        REQUIRE(r.has_value());
        CHECK(r->size() == 250);
        REQUIRE(f.transport->requests.size() == 3);
        CHECK(f.transport->requests[0].url ==
              "https://autodns.example/v1/mailProxy/_search?keys%5B%5D=greylisting");
        CHECK(ojson::parse(f.transport->requests[2].body)["view"]["offset"] == 200);
    }

    TEST_CASE("a search that stops short of its summary is an error, not a loop") {
        Fixture f;
        f.transport->answers.push_back(ok(ojson::array({{{"domain", "a.example"}}}), 5));
        f.transport->answers.push_back(ok(ojson::array(), 5));
        auto r = f.client->search(ojson::array(), {});
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().message == "AutoDNS reported 5 entries but sent only 1");
    }

    TEST_CASE("update bodies: merge only between CUSTOM entries, unchanged policy members left out") {
        auto before = entry_of("x.example");
        entry::set_protection(before, entry::Protection::custom);
        before.unknown["created"] = "2020-01-01";
        auto after = before;
        after.policy.spam.kill = 20;
        bool merge = false;
        auto body = update_body(before, after, merge);
        CHECK(merge);
        std::vector<std::string> keys;
        for (const auto& [k, v] : body.items())
            keys.push_back(k);
        CHECK(keys == std::vector<std::string>{"domain", "target", "admin", "protection", "spam"});
        CHECK(body["spam"]["kill"] == 20);

        auto preset = entry_of("x.example");
        body = update_body(preset, after, merge);
        CHECK_FALSE(merge);
        CHECK(body.contains("virus"));
        CHECK_FALSE(body.contains("created"));
    }

    TEST_CASE("filters become AutoDNS query filters") {
        auto q = store::to_query_filters({{"domain", "ex*"}, {"protection", "high"}});
        CHECK(q == ojson::parse(R"([{"key":"domain","operator":"LIKE","value":"ex*"},
                                    {"key":"protection","operator":"EQUAL","value":"HIGH"}])"));
    }
}
