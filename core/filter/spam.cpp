#include "core/filter/spam.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/entry/lists.hpp"
#include "core/filter/headers.hpp"
#include "core/filter/wrap.hpp"
#include "core/util/socket.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::filter {
namespace {

using Clock = util::Connection::Clock;
using Sent = util::Connection::Sent;

constexpr std::size_t k_max_reply = 1u << 20;  // rspamd's JSON with every symbol; spamd's is a few lines

/// A request value without anything that would end or fold a header line.
std::string header_safe(std::string_view v) {
    std::string out;
    for (const char c : v.substr(0, 512)) {
        if (c != '\r' && c != '\n' && c != '\0')
            out += c;
    }
    return out;
}

/// Sends `head`, then `size` bytes of `fd` from its start. "" or why not.
std::string send_message(util::Connection& x, const std::string& head, int fd, std::size_t size) {
    if (x.send(head) == Sent::failed)
        return x.error();
    char buf[65536];
    std::size_t offset = 0;
    while (offset < size) {
        const auto n = ::pread(fd, buf, std::min(sizeof buf, size - offset), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? fmt::format("the message cannot be read: {}", std::strerror(errno))
                         : std::string("the message is shorter than its size");
        offset += static_cast<std::size_t>(n);
        const auto sent = x.send(std::string_view(buf, static_cast<std::size_t>(n)));
        if (sent == Sent::failed)
            return x.error();
        if (sent == Sent::reply_waiting)
            break;  // it answered early (an error): read it
    }
    return "";
}

/// "HTTP/1.x 200 ...": the request worked.
bool http_ok(std::string_view status) {
    return status.size() >= 12 && status.starts_with("HTTP/1.") && status.substr(9, 3) == "200";
}

std::optional<double> parse_number(std::string_view s) {
    s = util::trim(s);
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

/// spamd (SpamAssassin), SPAMC/1.5 over TCP or a unix socket: `SYMBOLS` gives the score on the
/// `Spam:` line and the rule names in the body.
class Spamd : public SpamEngine {
  public:
    Spamd(std::string where, util::SocketAddress a, int timeout)
        : m_where(std::move(where)), m_address(a), m_timeout(timeout) {}

    SpamScore score(int fd, std::size_t size, const SpamContext& context) const override {
        SpamScore r;
        util::Connection x(who(), Clock::now() + std::chrono::seconds(m_timeout));
        if (!x.connect(m_address)) {
            r.error = x.error();
            return r;
        }
        // our Received: first, as the target will get it: SpamAssassin finds the client there
        const auto head = fmt::format("SYMBOLS SPAMC/1.5\r\nContent-length: {}\r\n\r\n{}",
                                      size + context.received.size(), context.received);
        if (auto why = send_message(x, head, fd, size); !why.empty()) {
            r.error = why;
            return r;
        }
        const auto reply = x.receive(64 * 1024);
        if (reply.empty()) {
            r.error = x.error();
            return r;
        }
        return parse(reply);
    }

    std::string ping() const override {
        util::Connection x(who(), Clock::now() + std::chrono::seconds(std::min(m_timeout, 10)));
        if (!x.connect(m_address))
            return x.error();
        if (x.send("PING SPAMC/1.5\r\n\r\n") == Sent::failed)
            return x.error();
        const auto reply = x.receive(1024, "\r\n");
        if (reply.empty())
            return x.error();
        if (!reply.starts_with("SPAMD/") || reply.find(" PONG") == std::string::npos)
            return fmt::format("{}: an unexpected answer to PING: {}", who(),
                               header_safe(reply.substr(0, 100)));
        return "";
    }

    std::string describe() const override { return who(); }

  private:
    std::string who() const { return "spamd at " + m_where; }

    SpamScore parse(const std::string& reply) const {
        SpamScore r;
        const auto head_end = reply.find("\r\n\r\n");
        const auto head = std::string_view(reply).substr(0, head_end);
        const auto first = head.substr(0, head.find("\r\n"));
        // "SPAMD/1.1 0 EX_OK"
        const auto sp = first.find(' ');
        if (!first.starts_with("SPAMD/") || sp == std::string_view::npos || first.substr(sp + 1, 2) != "0 ") {
            r.error = fmt::format("{}: {}", who(), header_safe(first.substr(0, 200)));
            return r;
        }
        bool have = false;
        for (std::size_t pos = 0; pos < head.size();) {
            auto nl = head.find("\r\n", pos);
            if (nl == std::string_view::npos)
                nl = head.size();
            const auto line = head.substr(pos, nl - pos);
            pos = nl + 2;
            if (!util::to_lower(line.substr(0, 5)).starts_with("spam:"))
                continue;
            // "Spam: True ; 1000.0 / 5.0"
            const auto semi = line.find(';');
            const auto slash = line.find('/', semi == std::string_view::npos ? 0 : semi);
            if (semi == std::string_view::npos || slash == std::string_view::npos)
                break;
            if (const auto v = parse_number(line.substr(semi + 1, slash - semi - 1))) {
                r.score = *v;
                have = true;
            }
        }
        if (!have) {
            r.error = fmt::format("{}: no score in the reply", who());
            return r;
        }
        if (head_end != std::string::npos) {
            const auto body = util::trim(std::string_view(reply).substr(head_end + 4));
            for (std::size_t pos = 0; pos < body.size() && r.rules.size() < 200;) {
                auto comma = body.find(',', pos);
                if (comma == std::string_view::npos)
                    comma = body.size();
                const auto name = util::trim(body.substr(pos, comma - pos));
                if (!name.empty())
                    r.rules.push_back(
                        header_safe(name.substr(0, 60)));  // "tests=[" + 60 + "," fits a folded line
                pos = comma + 1;
            }
        }
        r.ok = true;
        return r;
    }

    std::string m_where;
    util::SocketAddress m_address;
    int m_timeout;
};

/// rspamd's normal worker: `POST /checkv2` (HTTP/1.0, one request per connection) with the envelope
/// in request headers; the score and the symbols from the JSON reply.
class Rspamd : public SpamEngine {
  public:
    Rspamd(std::string url, std::string host, util::SocketAddress a, int timeout)
        : m_url(std::move(url)), m_host(std::move(host)), m_address(a), m_timeout(timeout) {}

    SpamScore score(int fd, std::size_t size, const SpamContext& c) const override {
        SpamScore r;
        util::Connection x(who(), Clock::now() + std::chrono::seconds(m_timeout));
        if (!x.connect(m_address)) {
            r.error = x.error();
            return r;
        }
        std::string head =
            fmt::format("POST /checkv2 HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n", m_host, size);
        head += fmt::format("IP: {}\r\nHelo: {}\r\nFrom: {}\r\nQueue-Id: {}\r\n", header_safe(c.ip),
                            header_safe(c.helo), header_safe(c.sender), header_safe(c.queue_id));
        for (const auto& rcpt : c.recipients)
            head += fmt::format("Rcpt: {}\r\n", header_safe(rcpt));
        head += "\r\n";
        if (auto why = send_message(x, head, fd, size); !why.empty()) {
            r.error = why;
            return r;
        }
        const auto reply = x.receive(k_max_reply);
        if (reply.empty()) {
            r.error = x.error();
            return r;
        }
        const auto status_end = reply.find("\r\n");
        const auto status = std::string_view(reply).substr(0, status_end);
        if (!http_ok(status)) {
            r.error = fmt::format("{}: {}", who(), header_safe(status.substr(0, 200)));
            return r;
        }
        const auto body_at = reply.find("\r\n\r\n");
        const auto json = nlohmann::json::parse(
            reply.begin() +
                static_cast<std::ptrdiff_t>(body_at == std::string::npos ? reply.size() : body_at + 4),
            reply.end(), nullptr, false);
        if (json.is_discarded() || !json.is_object() || !json.contains("score") ||
            !json["score"].is_number()) {
            r.error = fmt::format("{}: no score in the reply", who());
            return r;
        }
        r.score = json["score"].get<double>();
        if (json.contains("symbols") && json["symbols"].is_object()) {
            for (const auto& [name, _] : json["symbols"].items()) {
                if (r.rules.size() < 200)
                    r.rules.push_back(header_safe(std::string_view(name).substr(0, 60)));
            }
        }
        r.ok = true;
        return r;
    }

    std::string ping() const override {
        util::Connection x(who(), Clock::now() + std::chrono::seconds(std::min(m_timeout, 10)));
        if (!x.connect(m_address))
            return x.error();
        if (x.send(fmt::format("GET /ping HTTP/1.0\r\nHost: {}\r\n\r\n", m_host)) == Sent::failed)
            return x.error();
        const auto reply = x.receive(4096);
        if (reply.empty())
            return x.error();
        if (!http_ok(reply))
            return fmt::format("{}: an unexpected answer to /ping: {}", who(),
                               header_safe(reply.substr(0, reply.find("\r\n"))));
        return "";
    }

    std::string describe() const override { return who(); }

  private:
    std::string who() const { return "rspamd at " + m_url; }

    std::string m_url;
    std::string m_host;
    util::SocketAddress m_address;
    int m_timeout;
};

}  // namespace

Expected<std::shared_ptr<const SpamEngine>> make_spam_engine(const SpamChoice& choice) {
    const auto& e = choice.engine;
    if (choice.timeout < 1 || choice.timeout > 3600)
        return fail(ErrorCode::config,
                    fmt::format("spam-timeout: {} is not 1 to 3600 seconds", choice.timeout));
    if (e == "none" || e.empty())
        return std::shared_ptr<const SpamEngine>();
    const auto bad = [&] {
        return fail(
            ErrorCode::config,
            fmt::format(
                "spam-engine: {} is not spamd:IP:PORT, spamd:unix:/path, rspamd:http://IP:PORT or none", e));
    };
    if (e.starts_with("spamd:")) {
        const auto rest = e.substr(6);
        const auto where = rest.starts_with("unix:") ? rest.substr(5) : rest;
        auto a = util::parse_socket_address(where, "spam-engine");
        if (!a || (rest.starts_with("unix:") != where.starts_with('/')))
            return bad();
        return std::shared_ptr<const SpamEngine>(std::make_shared<Spamd>(where, *a, choice.timeout));
    }
    if (e.starts_with("rspamd:http://")) {
        auto hostport = e.substr(14);
        if (hostport.ends_with('/'))
            hostport.pop_back();
        auto a = util::parse_socket_address(hostport, "spam-engine");
        if (!a || hostport.starts_with('/'))
            return bad();
        return std::shared_ptr<const SpamEngine>(
            std::make_shared<Rspamd>("http://" + hostport, hostport, *a, choice.timeout));
    }
    return bad();
}

SpamCheck check_spam(int fd, std::string_view head, std::size_t size, const SpamEngine* engine,
                     std::size_t max_size, const SpamLists& lists, const SpamContext& context) {
    SpamCheck c;
    // as far as the header checks read: a From: behind padding must still meet the blacklist
    auto senders = entry::header_addresses(header_value(header_section(head), "From"));
    senders.insert(senders.begin(), context.sender);
    const auto on = [&](const entry::MailList* list) -> const std::string* {
        if (list == nullptr)
            return nullptr;
        for (const auto& a : senders) {
            if (entry::on_list(*list, a))
                return &a;
        }
        return nullptr;
    };
    if (const auto* a = on(lists.whitelist)) {
        c.state = SpamCheck::State::whitelisted;
        c.note = *a;
    } else if (const auto* b = on(lists.blacklist)) {
        c.state = SpamCheck::State::blacklisted;
        c.note = *b;
    } else if (engine == nullptr) {
        c.state = SpamCheck::State::off;
    } else if (size > max_size) {
        c.state = SpamCheck::State::too_big;
        c.note = fmt::format("{} bytes, over {}", size, max_size);
    } else {
        auto r = engine->score(fd, size, context);
        c.state = r.ok ? SpamCheck::State::scored : SpamCheck::State::failed;
        c.score = r.score;
        c.rules = std::move(r.rules);
        c.note = std::move(r.error);
    }
    return c;
}

std::string score_text(double v) {
    auto s = fmt::format("{:.3f}", v);
    while (s.back() == '0')
        s.pop_back();
    if (s.back() == '.')
        s.pop_back();
    return s == "-0" ? "0" : s;
}

bool is_spam(const SpamCheck& c, const entry::SpamPolicy& p) {
    return c.state == SpamCheck::State::blacklisted ||
           (c.state == SpamCheck::State::scored && c.score >= p.spam);
}

SpamMarks spam_marks(const SpamCheck& c, const entry::SpamPolicy& p) {
    SpamMarks m;
    if (!c.counts())
        return m;
    const double s = c.state == SpamCheck::State::blacklisted ? std::max(c.score, p.kill) : c.score;
    const bool spam = is_spam(c, p);
    if (s >= p.tag_header) {
        // X-Spam-Status, folded before a word that would pass column 78
        std::vector<std::string> words{spam ? "Yes," : "No,", "score=" + score_text(s),
                                       "tagged_above=" + score_text(p.tag_header),
                                       "required=" + score_text(p.spam)};
        std::vector<std::string> rules = c.rules;
        if (c.state == SpamCheck::State::blacklisted)
            rules.insert(rules.begin(), "BLACKLISTED");
        std::string tests = "tests=[";
        for (std::size_t i = 0; i < rules.size(); ++i)
            words.push_back((i == 0 ? tests : std::string()) + rules[i] + (i + 1 < rules.size() ? "," : "]"));
        if (rules.empty())
            words.push_back("tests=[]");
        std::string header = "X-Spam-Status:";
        std::size_t column = header.size();
        for (const auto& w : words) {
            if (column + 1 + w.size() > 78 && column > 1) {
                header += "\r\n\t";
                column = 8;
            } else {
                header += ' ';
                ++column;
            }
            header += w;
            column += w.size();
        }
        m.headers += header + "\r\n";
        // amavisd-new: one star per whole point, at most 64
        const auto stars = s <= 0 ? 0 : static_cast<std::size_t>(std::min(64.0, std::floor(s)));
        m.headers += "X-Spam-Level: " + std::string(stars, '*') + "\r\n";
    }
    if (spam) {
        m.headers += "X-Spam-Flag: YES\r\n";
        m.subject_prefix = p.modify_subject;
    }
    return m;
}

}  // namespace mailproxy::filter
