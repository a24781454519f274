#include <doctest/doctest.h>

#include "core/autodns/envelope.hpp"

using namespace mailproxy;
using namespace mailproxy::autodns;

namespace {
HttpResponse answer(long status, std::string body, std::string stid = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.stid = std::move(stid);
    return r;
}
}  // namespace

TEST_SUITE("autodns.envelope") {
    TEST_CASE("a success envelope gives data, summary and stid") {
        auto e = interpret(answer(200, R"({"stid":"20190919-app3-dev-8027",
            "status":{"code":"S0514","text":"MailProxy data has been inquired successfully.","type":"SUCCESS"},
            "object":{"type":"MailProxy","summary":250},"data":[{"domain":"example.com"}]})"));
        REQUIRE(e.has_value());
        CHECK(e->stid == "20190919-app3-dev-8027");
        CHECK(e->status_code == "S0514");
        CHECK(e->summary == 250);
        CHECK(e->data.size() == 1);
        CHECK(e->data[0]["domain"] == "example.com");
    }

    TEST_CASE("an error envelope names status, every message and the stid") {
        // the real error shape (lego fixtures/error.json, trimmed)
        auto e = interpret(answer(400, R"({"stid":"20251121-appf4923-126284",
            "messages":[{"text":"Der Zusatzeintrag wurde doppelt eingetragen.","code":"EF02022","status":"ERROR"},
                        {"text":"Second.","code":"EF02023"}],
            "status":{"code":"E0202002","text":"Zone konnte auf dem Nameserver nicht aktualisiert werden.","type":"ERROR"}})"));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().code == ErrorCode::failed);
        CHECK(e.error().message ==
              "AutoDNS error E0202002: Zone konnte auf dem Nameserver nicht aktualisiert werden. "
              "[EF02022: Der Zusatzeintrag wurde doppelt eingetragen.] [EF02023: Second.] "
              "(HTTP 400, stid 20251121-appf4923-126284)");
    }

    TEST_CASE("HTTP 404 is not_found") {
        auto e = interpret(answer(404, R"({"status":{"code":"E0304","text":"Not found.","type":"ERROR"},
            "messages":[{"code":"EF03014","text":"Object does not exist."}]})"));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().code == ErrorCode::not_found);
        CHECK(e.error().message ==
              "AutoDNS error E0304: Not found. [EF03014: Object does not exist.] (HTTP 404)");
    }

    TEST_CASE("status.type ERROR fails even with HTTP 200") {
        auto e = interpret(answer(200, R"({"status":{"code":"E1","text":"x","type":"ERROR"}})"));
        CHECK_FALSE(e.has_value());
    }

    TEST_CASE("empty and non-JSON bodies are reported with the HTTP status") {
        auto empty = interpret(answer(500, "", "stid-7"));
        REQUIRE_FALSE(empty.has_value());
        CHECK(empty.error().message == "AutoDNS answered HTTP 500 with an empty body, stid stid-7");
        auto html = interpret(answer(502, "<html>\r\n<b>Bad\tgateway</b></html>"));
        REQUIRE_FALSE(html.has_value());
        CHECK(
            html.error().message ==
            "AutoDNS answered HTTP 502 with a body that is not JSON: \"<html>  <b>Bad gateway</b></html>\"");
        auto ok_but_text = interpret(answer(200, "OK"));
        CHECK_FALSE(ok_but_text.has_value());
        auto no_status = interpret(answer(200, "{}"));
        REQUIRE_FALSE(no_status.has_value());
        CHECK(no_status.error().message == "AutoDNS answered HTTP 200 without a status in the envelope");
        CHECK_FALSE(interpret(answer(200, "[1,2]")).has_value());
    }

    TEST_CASE("server text is bounded and stripped of control characters") {
        std::string long_text(5000, 'x');
        auto e = interpret(answer(
            400, R"({"status":{"code":"E1","text":")" + long_text + R"(\u001b[31m","type":"ERROR"}})"));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().message.size() < 400);
        CHECK(e.error().message.find('\x1b') == std::string::npos);
        std::string many = R"({"status":{"code":"E1","text":"t","type":"ERROR"},"messages":[)";
        for (int i = 0; i < 100; ++i)
            many += std::string(i ? "," : "") + R"({"code":"EF1","text":"m"})";
        auto m = interpret(answer(400, many + "]}"));
        REQUIRE_FALSE(m.has_value());
        CHECK(m.error().message.find("[EF1: m]") != std::string::npos);
        CHECK(m.error().message.size() < 400);
    }

    TEST_CASE("server text stays valid UTF-8: bad bytes become '?', nothing is cut mid-character") {
        auto bad = interpret(answer(502, "caf\xc3\xa9 \xff\xfe broken \xe2\x82"));
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().message ==
              "AutoDNS answered HTTP 502 with a body that is not JSON: \"caf\xc3\xa9 ?? broken ??\"");
        std::string umlauts;
        for (int i = 0; i < 400; ++i)
            umlauts += "\xc3\xbc";  // 800 bytes of u-umlaut
        auto cut =
            interpret(answer(400, R"({"status":{"code":"E1","text":")" + umlauts + R"(","type":"ERROR"}})"));
        REQUIRE_FALSE(cut.has_value());
        const auto& m = cut.error().message;
        const auto dots = m.find("...");
        REQUIRE(dots != std::string::npos);
        CHECK((static_cast<unsigned char>(m[dots - 1]) == 0xbc));  // ends on a whole character
    }
}
