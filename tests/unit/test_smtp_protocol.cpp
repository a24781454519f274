// SMTP command, path and reply parsing, and the DATA reader (no I/O: bytes in, bytes out).
#include <doctest/doctest.h>

#include "core/smtp/data.hpp"
#include "core/smtp/protocol.hpp"

using namespace mailproxy::smtp;

namespace {

std::optional<Path> rcpt(std::string_view arg, PathError& e) {
    return parse_path(arg, false, e);
}

/// The message a DATA stream gives, and how much of the input was left for the next command.
std::pair<std::string, std::string> read_data(std::string_view in, std::size_t max = 1 << 20,
                                              std::size_t chunk = 0) {
    DataReader r(max);
    std::string out;
    std::size_t used = 0;
    if (chunk == 0) {
        used = r.feed(in, out);
    } else {
        while (used < in.size() && !r.done()) {
            const auto piece = in.substr(used, std::min(chunk, in.size() - used));
            used += r.feed(piece, out);
        }
    }
    REQUIRE(r.done());
    return {out, std::string(in.substr(used))};
}

}  // namespace

TEST_SUITE("smtp.protocol") {
    TEST_CASE("commands are split into verb and argument, any case") {
        CHECK(parse_command("ehlo client.example").verb == Verb::ehlo);
        CHECK(parse_command("ehlo client.example").arg == "client.example");
        CHECK(parse_command("MAIL FROM:<a@b.example>").verb == Verb::mail);
        CHECK(parse_command("StartTLS").verb == Verb::starttls);
        CHECK(parse_command("BDAT 10 LAST").verb == Verb::bdat);
        CHECK(parse_command("XYZZY").verb == Verb::unknown);
        CHECK(parse_command("").verb == Verb::unknown);
    }

    TEST_CASE("paths: plain addresses, the null sender, parameters") {
        PathError e;
        auto p = parse_path("FROM:<Alice@Example.COM> SIZE=1000 BODY=8BITMIME", true, e);
        REQUIRE(p);
        CHECK(p->address == "Alice@Example.COM");
        CHECK(p->domain == "Example.COM");
        CHECK(p->params ==
              std::vector<std::pair<std::string, std::string>>{{"SIZE", "1000"}, {"BODY", "8BITMIME"}});
        p = parse_path("from:<>", true, e);
        REQUIRE(p);
        CHECK(p->address.empty());
        p = rcpt("TO: <\"john smith\"@example.com>", e);
        REQUIRE(p);
        CHECK(p->local == "\"john smith\"");
    }

    TEST_CASE("relay tricks and malformed paths are refused with their reply") {
        struct Case {
            const char* arg;
            int code;
            const char* text;
        };
        for (const auto& c : std::vector<Case>{
                 {"TO:<user%other@example.com>", 553, "relay tricks"},
                 {"TO:<host!user@example.com>", 553, "relay tricks"},
                 {"TO:<@a.example:u@b.example>", 553, "source routes"},
                 {"TO:<\"u@b.example\"@example.com>", 553, "quoted local part"},
                 {"TO:<u@[192.0.2.1]>", 553, "address literals"},
                 {"TO:<u@example.com.>", 553, "not a plain domain"},
                 {"TO:<u@localhost>", 553, "not a plain domain"},
                 {"TO:<u@exa_mple.com>", 553, "not a plain domain"},
                 {"TO:<>", 501, "cannot be empty"},
                 {"TO:u@example.com", 501, "angle brackets"},
                 {"TO:<u@example.com", 501, "closing"},
                 {"TO:<postmaster>", 501, "needs a domain"},
                 {"TO:<u@example.com>X", 501, "blank after"},
                 {"FROM:<a@b.example>", 501, "RCPT TO:"},
                 {"TO:<a..b@example.com>", 553, "misplaced dot"},
             }) {
            CAPTURE(c.arg);
            PathError e;
            CHECK(!rcpt(c.arg, e));
            CHECK(e.code == c.code);
            CHECK(e.text.find(c.text) != std::string::npos);
        }
    }

    TEST_CASE("replies are formatted and parsed, multi-line and bounded") {
        CHECK(reply(250, "2.0.0", "OK") == "250 2.0.0 OK\r\n");
        CHECK(reply_lines(250, {"host", "PIPELINING", "SIZE 10"}) ==
              "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
        ReplyParser p;
        CHECK(p.feed("250-first") == ReplyParser::Status::more);
        CHECK(p.feed("250 last") == ReplyParser::Status::done);
        const auto r = p.take();
        CHECK(r.code == 250);
        CHECK(r.text() == "first; last");
        CHECK(p.feed("25") == ReplyParser::Status::bad);
        ReplyParser q;
        CHECK(q.feed("250-a") == ReplyParser::Status::more);
        CHECK(q.feed("251 b") == ReplyParser::Status::bad);  // codes must agree
        ReplyParser big;
        for (int i = 0; i < 100; ++i)
            REQUIRE(big.feed("250-x") == ReplyParser::Status::more);
        CHECK(big.feed("250 x") == ReplyParser::Status::bad);
    }
}

TEST_SUITE("smtp.data") {
    TEST_CASE("the end is CRLF.CRLF, stuffed dots are removed, the rest is the next command") {
        const auto [msg, rest] = read_data("Subject: a\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n");
        CHECK(msg == "Subject: a\r\n\r\n.leading dot\r\nbody\r\n");
        CHECK(rest == "QUIT\r\n");
        const auto [empty, after] = read_data(".\r\n");
        CHECK(empty.empty());
        CHECK(after.empty());
    }

    TEST_CASE("smuggling: a bare CR or LF never ends the data and never stays bare") {
        for (const char* marker : {"\n.\r\n", "\r.\r\n", "\n.\n", "\r\n.\n", "\r\n.\r"}) {
            CAPTURE(marker);
            const std::string in = std::string("Subject: x\r\n\r\nbody") + marker +
                                   "MAIL FROM:<evil@example.net>\r\nRCPT TO:<v@example.com>\r\nDATA\r\n"
                                   "smuggled\r\n.\r\n";
            for (std::size_t chunk : {0UL, 1UL, 2UL, 7UL}) {
                const auto [msg, rest] = read_data(in, 1 << 20, chunk);
                CHECK(rest.empty());  // everything up to the last real CRLF.CRLF is one message
                CHECK(msg.find("MAIL FROM:<evil@example.net>") != std::string::npos);
                for (std::size_t i = 0; i < msg.size(); ++i) {
                    if (msg[i] == '\r')
                        CHECK((i + 1 < msg.size() && msg[i + 1] == '\n'));
                    if (msg[i] == '\n')
                        CHECK((i > 0 && msg[i - 1] == '\r'));
                }
                // forwarded, no line of the message can read as the end
                DotStuffer s;
                std::string wire;
                s.feed(msg, wire);
                wire += s.finish();
                CHECK(wire.find("\r\n.\r\n") == wire.size() - 5);
            }
        }
    }

    TEST_CASE("limits: size, line length and NUL are flagged, the end is still found") {
        DataReader r(10);
        std::string out;
        const std::string in = "0123456789abcdef\r\n.\r\nNOOP\r\n";
        const auto used = r.feed(in, out);
        CHECK(r.done());
        CHECK(r.too_big());
        CHECK(out.size() <= 10);
        CHECK(in.substr(used) == "NOOP\r\n");
        CHECK(r.size() == 18);

        DataReader l(1 << 20);
        out.clear();
        l.feed(std::string(998, 'x') + "\r\n.\r\n", out);
        CHECK(!l.line_too_long());
        DataReader l2(1 << 20);
        l2.feed(std::string(999, 'x') + "\r\n.\r\n", out);
        CHECK(l2.line_too_long());

        DataReader n(1 << 20);
        out.clear();
        n.feed(std::string("a\0b\r\n.\r\n", 8), out);
        CHECK(n.has_nul());
    }

    TEST_CASE("dot-stuffing round trip") {
        const std::string msg = ".a\r\n..b\r\nc.\r\n.\r\n";
        DotStuffer s;
        std::string wire;
        s.feed(msg, wire);
        wire += s.finish();
        CHECK(wire == "..a\r\n...b\r\nc.\r\n..\r\n.\r\n");
        const auto [back, rest] = read_data(wire);
        CHECK(back == msg);
        DotStuffer no_crlf;
        std::string w2;
        no_crlf.feed("x", w2);
        CHECK(w2 + no_crlf.finish() == "x\r\n.\r\n");
    }
}
