#include "core/daemon/delivery.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/smtp/data.hpp"
#include "core/util/file.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::daemon {
namespace {

using namespace asio::experimental::awaitable_operators;
using smtp::Reply;

Reply temp_failure(std::string_view enhanced, std::string text) {
    return Reply{451, {fmt::format("{} {}", enhanced, text)}};
}

constexpr std::size_t k_chunk = 65536;

/// SMTP or LMTP over TCP or a unix socket.
class SmtpDelivery final : public Delivery {
  public:
    SmtpDelivery(TargetAddress target, asio::any_io_executor ex, DeliveryOptions o)
        : m_target(std::move(target)),
          m_ex(std::move(ex)),
          m_o(std::move(o)),
          m_lmtp(m_target.kind != TargetAddress::Kind::smtp) {}

    bool single_recipient() const override { return m_lmtp; }
    std::string tls() const override { return m_ch ? m_ch->tls_version() : ""; }
    bool reused() const override { return m_reused; }

    awaitable<Reply> begin(const std::string& from, bool eight_bit, std::size_t size) override {
        m_from = from;
        m_eight_bit = eight_bit;
        m_size = size;
        if (m_o.pool != nullptr) {
            if (auto idle = m_o.pool->take(pool_key())) {
                m_ch = std::move(idle->channel);
                m_in = std::move(idle->reader);
                m_hello = std::move(idle->hello);
                m_reused = true;
            }
        }
        if (!m_ch) {
            if (auto failed = co_await open_session())
                co_return *failed;
        }
        m_mail_pending = true;
        if (pipelining())
            co_return Reply{250, {"2.1.0 MAIL FROM goes with the first RCPT TO"}};
        try {
            co_return co_await start_transaction(std::nullopt);
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure("4.4.2",
                                   fmt::format("the mail server {} failed: {}", m_target.text(), e.what()));
        }
    }

    awaitable<Reply> rcpt(const std::string& to) override {
        if (m_broken)
            co_return temp_failure("4.4.2", "the connection to the mail server failed");
        try {
            if (m_mail_pending)
                co_return co_await start_transaction(to);
            co_await send(rcpt_command(to));
            auto r = co_await read_reply();
            co_return expect(std::move(r), {250, 251});
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure("4.4.2",
                                   fmt::format("the mail server {} failed: {}", m_target.text(), e.what()));
        }
    }

    awaitable<Reply> data(const std::string& received, int spool) override {
        if (m_broken)
            co_return temp_failure("4.4.2", "the connection to the mail server failed");
        try {
            co_await send("DATA\r\n");
            auto go = co_await read_reply();
            go = expect(std::move(go), {354});
            if (go.code != 354)
                co_return go;
            smtp::DotStuffer stuffer;
            std::string wire;
            stuffer.feed(received, wire);
            off_t offset = 0;
            for (;;) {
                // read and stuffed before the next suspension: one buffer serves every session
                thread_local char chunk[k_chunk];
                const auto n = ::pread(spool, chunk, sizeof chunk, offset);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    m_broken = true;  // the target is inside DATA: only closing ends it without a message
                    co_return temp_failure("4.3.0", "the spooled message cannot be read");
                }
                if (n == 0)
                    break;
                offset += n;
                stuffer.feed(std::string_view(chunk, static_cast<std::size_t>(n)), wire);
                if (static_cast<std::size_t>(n) < sizeof chunk)
                    break;  // a regular file reads short only at its end
                if (wire.size() >= k_chunk) {
                    co_await m_ch->write(wire, m_o.reply_timeout);
                    wire.clear();
                }
            }
            wire += stuffer.finish();
            co_await m_ch->write(wire, m_o.reply_timeout);
            auto done = co_await read_reply();  // LMTP: one per recipient, and there is one
            co_return expect(std::move(done), {250});
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure(
                "4.4.2", fmt::format("the mail server {} failed during DATA: {}", m_target.text(), e.what()));
        }
    }

    awaitable<void> end() override {
        if (!m_ch)
            co_return;
        // a session in step with nothing unread goes back to the pool as it is: the next transaction on
        // it starts with RSET, sent together with its MAIL FROM, which also shows whether it is still up
        if (!m_broken && m_o.pool != nullptr && m_in->buffered().empty()) {
            m_o.pool->give(pool_key(), std::make_unique<ConnectionPool::Idle>(ConnectionPool::Idle{
                                           std::move(m_ch), std::move(m_in), std::move(m_hello),
                                           std::chrono::steady_clock::now()}));
            co_return;
        }
        if (!m_broken) {
            try {
                co_await m_ch->write("QUIT\r\n", std::chrono::seconds(5));
                co_await read_reply(std::chrono::seconds(5));
            } catch (const std::exception&) {
                // the transaction is over either way
            }
        }
        m_ch->close();
        m_ch.reset();
    }

  private:
    std::string pool_key() const { return m_target.text() + " tls=" + m_o.tls; }

    std::string mail_command() const {
        std::string params;
        if (m_size > 0 && has(m_hello, "SIZE"))
            params += fmt::format(" SIZE={}", m_size);
        if (m_eight_bit && has(m_hello, "8BITMIME"))
            params += " BODY=8BITMIME";
        return fmt::format("MAIL FROM:<{}>{}\r\n", m_from, params);
    }

    static std::string rcpt_command(const std::string& to) { return fmt::format("RCPT TO:<{}>\r\n", to); }

    bool pipelining() const { return has(m_hello, "PIPELINING"); }

    /// Connects: greeting, EHLO (LHLO), STARTTLS. A failure is the reply for the client (4xx, or the
    /// target's own 5xx), and the session is then broken.
    awaitable<std::optional<Reply>> open_session() {
        try {
            co_await connect();
            auto greeting = co_await read_reply();
            if (greeting.code != 220)
                co_return failed_to(greeting, "greeted with");
            auto hello = co_await hello_exchange();
            if (hello.code != 250)
                co_return failed_to(hello, "refused EHLO with");
            if (m_o.tls != "none" && has(hello, "STARTTLS") &&
                m_target.kind != TargetAddress::Kind::lmtp_unix && m_o.tls_client != nullptr) {
                co_await send("STARTTLS\r\n");
                auto go = co_await read_reply();
                if (go.code == 220) {
                    co_await m_ch->start_tls(*m_o.tls_client, false, m_o.reply_timeout);
                    m_in->buffered().clear();
                    hello = co_await hello_exchange();
                    if (hello.code != 250)
                        co_return failed_to(hello, "refused EHLO after STARTTLS with");
                } else if (m_o.tls == "required") {
                    m_broken = true;
                    co_return temp_failure(
                        "4.7.5", fmt::format("the target refused STARTTLS ({} {}), which is required",
                                             go.code, go.text()));
                }
            } else if (m_o.tls == "required") {
                m_broken = true;
                co_return temp_failure("4.7.5", "the target does not offer STARTTLS, which is required");
            }
            m_hello = hello;
            co_return std::nullopt;
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure(
                "4.4.1", fmt::format("cannot reach the mail server {}: {}", m_target.text(), e.what()));
        }
    }

    /// Sends the commands (all in one write when the target offers PIPELINING, else one at a time,
    /// stopping at the first refusal) and reads their replies.
    awaitable<std::vector<Reply>> exchange(const std::vector<std::string>& commands) {
        std::vector<Reply> replies;
        if (pipelining()) {
            std::string all;
            for (const auto& c : commands)
                all += c;
            co_await send(all);
            for (std::size_t i = 0; i < commands.size(); ++i) {
                auto r = co_await read_reply();
                replies.push_back(std::move(r));
            }
            co_return replies;
        }
        for (const auto& c : commands) {
            co_await send(c);
            auto r = co_await read_reply();
            const bool refused = r.code >= 400;
            replies.push_back(std::move(r));
            if (refused)
                break;
        }
        co_return replies;
    }

    /// MAIL FROM (after RSET on a session from the pool) and, when given, the first RCPT TO: the reply to
    /// RCPT, or to MAIL when MAIL is refused (or when there is no RCPT). An idle session that turns out to
    /// be gone is replaced by a new connection once.
    awaitable<Reply> start_transaction(const std::optional<std::string>& to) {
        m_mail_pending = false;
        std::vector<std::string> commands{mail_command()};
        if (to)
            commands.push_back(rcpt_command(*to));
        std::vector<Reply> replies;
        bool reconnect = false;
        if (m_reused) {
            commands.insert(commands.begin(), std::string("RSET\r\n"));
            try {
                replies = co_await exchange(commands);
                // 421, or any refusal of RSET: that session is in no known state, a new one is
                reconnect = replies.empty() || replies.front().code != 250;
            } catch (const std::exception&) {
                reconnect = true;  // closed by the target while idle
            }
            if (reconnect) {
                m_ch->close();
                m_ch.reset();
                m_in.reset();
                m_reused = false;
                if (auto failed = co_await open_session())
                    co_return *failed;
            } else {
                replies.erase(replies.begin());  // RSET's 250
            }
            commands.erase(commands.begin());
        }
        if (!m_reused)
            replies = co_await exchange(commands);
        if (replies.empty())
            throw std::runtime_error("no reply to MAIL FROM");
        auto mail = expect(std::move(replies.front()), {250});
        if (mail.code != 250 || !to)
            co_return mail;
        if (replies.size() < 2)
            throw std::runtime_error("no reply to RCPT TO");
        co_return expect(std::move(replies[1]), {250, 251});
    }

    static bool has(const Reply& ehlo, std::string_view keyword) {
        for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
            const auto& l = ehlo.lines[i];
            const auto word = util::to_upper(l.substr(0, l.find(' ')));
            if (word == keyword)
                return true;
        }
        return false;
    }

    Reply failed_to(const Reply& r, std::string_view what) {
        m_broken = true;
        if (r.code >= 500)
            return r;  // a permanent refusal is the target's to give
        return temp_failure(
            "4.4.2", fmt::format("the mail server {} {} {} {}", m_target.text(), what, r.code, r.text()));
    }

    awaitable<void> connect() {
        constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
        if (m_target.kind == TargetAddress::Kind::lmtp_unix) {
            asio::local::stream_protocol::socket s(m_ex);
            co_await timed(s.async_connect(asio::local::stream_protocol::endpoint(m_target.path), tuple),
                           m_o.connect_timeout);
            m_ch = std::make_unique<Channel>(std::move(s));
        } else {
            asio::ip::tcp::resolver resolver(m_ex);
            auto found =
                co_await timed(resolver.async_resolve(m_target.host, std::to_string(m_target.port), tuple),
                               m_o.connect_timeout);
            asio::ip::tcp::socket s(m_ex);
            co_await timed(asio::async_connect(s, std::get<1>(found), tuple), m_o.connect_timeout);
            asio::error_code ec;
            s.set_option(asio::ip::tcp::no_delay(true), ec);  // the end marker must not wait for an ACK
            m_ch = std::make_unique<Channel>(std::move(s));
        }
        m_in = std::make_unique<LineReader>(*m_ch);
    }

    awaitable<Reply> hello_exchange() {
        co_await send(fmt::format("{} {}\r\n", m_lmtp ? "LHLO" : "EHLO", m_o.hostname));
        auto r = co_await read_reply();
        if (!r.ok() && !m_lmtp && r.code >= 500) {
            co_await send(fmt::format("HELO {}\r\n", m_o.hostname));
            r = co_await read_reply();
        }
        co_return r;
    }

    /// The reply, when its code is one of `positive` or a refusal (4xx, 5xx); anything else (a 220 where a
    /// 250 belongs, say) means the dialogue is out of step, and a stale 250 must never pass for the answer
    /// to a later command.
    static Reply expect(Reply r, std::vector<int> positive) {
        if (r.code >= 400 || std::find(positive.begin(), positive.end(), r.code) != positive.end())
            return r;
        throw std::runtime_error(fmt::format("an unexpected reply {} {}", r.code, r.text().substr(0, 80)));
    }

    awaitable<void> send(std::string_view s) {
        // nothing may be waiting from the server before a command: it answers only what it is asked
        if (!m_in->buffered().empty())
            throw std::runtime_error("the mail server sent more than it was asked for");
        co_await m_ch->write(s, m_o.reply_timeout);
    }

    awaitable<Reply> read_reply(std::optional<std::chrono::seconds> timeout = std::nullopt) {
        smtp::ReplyParser parser;
        for (;;) {
            bool too_long = false;
            auto line =
                co_await m_in->line(smtp::k_max_text_line + 2, timeout.value_or(m_o.reply_timeout), too_long);
            if (!line)
                throw std::runtime_error("a reply line longer than 1000 characters");
            const auto status = parser.feed(*line);
            if (status == smtp::ReplyParser::Status::bad)
                throw std::runtime_error(fmt::format("a malformed reply: {}", line->substr(0, 80)));
            if (status == smtp::ReplyParser::Status::done)
                co_return parser.take();
        }
    }

    TargetAddress m_target;
    asio::any_io_executor m_ex;
    DeliveryOptions m_o;
    bool m_lmtp;
    bool m_broken = false;
    bool m_reused = false;        // the session came from the pool
    bool m_mail_pending = false;  // MAIL FROM is still to be sent (with the first RCPT TO)
    std::string m_from;
    bool m_eight_bit = false;
    std::size_t m_size = 0;
    Reply m_hello;  // the target's EHLO reply: its extensions
    std::unique_ptr<Channel> m_ch;
    std::unique_ptr<LineReader> m_in;
};

/// A maildir (the demo and tests): the message goes to tmp/, is synced, and is renamed into new/.
class MaildirDelivery final : public Delivery {
  public:
    MaildirDelivery(TargetAddress target, DeliveryOptions o)
        : m_target(std::move(target)), m_o(std::move(o)) {}

    awaitable<Reply> begin(const std::string&, bool, std::size_t) override {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (const char* sub : {"tmp", "new", "cur"}) {
            fs::create_directories(fs::path(m_target.path) / sub, ec);
            if (ec)
                co_return temp_failure(
                    "4.3.0", fmt::format("cannot use the maildir {}: {}", m_target.path, ec.message()));
        }
        co_return Reply{250, {"2.1.0 OK"}};
    }

    awaitable<Reply> rcpt(const std::string&) override { co_return Reply{250, {"2.1.5 OK"}}; }

    awaitable<Reply> data(const std::string& received, int spool) override {
        static std::atomic<unsigned long> counter{0};
        const auto name =
            fmt::format("{}.P{}Q{}.{}", std::time(nullptr), ::getpid(), ++counter, m_o.hostname);
        const auto tmp = std::filesystem::path(m_target.path) / "tmp" / name;
        const auto dest = std::filesystem::path(m_target.path) / "new" / name;
        const auto failed = [&](std::string_view what) {
            const std::string why = std::strerror(errno);
            ::unlink(tmp.c_str());
            return temp_failure("4.3.0", fmt::format("cannot {} ({}): {}", what, m_target.path, why));
        };
        util::Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (out.get() < 0)
            co_return failed("write to the maildir");
        // a maildir holds lines ending in LF: CR LF becomes LF, also across two chunks
        bool held_cr = false;
        const auto put = [&](std::string_view text) {
            std::string lf;
            lf.reserve(text.size() + 1);
            for (char c : text) {
                if (held_cr && c != '\n')
                    lf += '\r';
                held_cr = c == '\r';
                if (!held_cr)
                    lf += c;
            }
            return util::write_all(out.get(), lf);
        };
        bool ok = put(received);
        std::string chunk(k_chunk, '\0');
        off_t offset = 0;
        while (ok) {
            const auto n = ::pread(spool, chunk.data(), chunk.size(), offset);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                co_return failed("read the spooled message");
            if (n == 0)
                break;
            offset += n;
            ok = put(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
        }
        if (ok && held_cr)
            ok = util::write_all(out.get(), "\r");
        ok = ok && ::fsync(out.get()) == 0 && ::rename(tmp.c_str(), dest.c_str()) == 0 &&
             util::fsync_dir(dest.parent_path()).has_value();
        if (!ok)
            co_return failed("write to the maildir");
        co_return Reply{250, {fmt::format("2.0.0 delivered to the maildir as {}", name)}};
    }

    awaitable<void> end() override { co_return; }

  private:
    TargetAddress m_target;
    DeliveryOptions m_o;
};

}  // namespace

std::unique_ptr<ConnectionPool::Idle> ConnectionPool::take(const std::string& key) {
    const auto it = m_idle.find(key);
    if (it == m_idle.end())
        return nullptr;
    auto& list = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
        auto idle = std::move(list.back());
        list.pop_back();
        if (now - idle->since < k_max_idle)
            return idle;
        idle->channel->close();  // too old: the target may be about to drop it
    }
    return nullptr;
}

void ConnectionPool::give(const std::string& key, std::unique_ptr<Idle> idle) {
    if (m_closed) {
        idle->channel->close();
        return;
    }
    auto& list = m_idle[key];
    if (list.size() >= k_per_target) {
        list.front()->channel->close();
        list.erase(list.begin());
    }
    list.push_back(std::move(idle));
}

void ConnectionPool::close() {
    m_closed = true;
    for (auto& [key, list] : m_idle) {
        for (auto& idle : list)
            idle->channel->close();
    }
    m_idle.clear();
}

std::unique_ptr<Delivery> make_delivery(const TargetAddress& target, const asio::any_io_executor& ex,
                                        const DeliveryOptions& options) {
    if (target.kind == TargetAddress::Kind::maildir)
        return std::make_unique<MaildirDelivery>(target, options);
    return std::make_unique<SmtpDelivery>(target, ex, options);
}

}  // namespace mailproxy::daemon
