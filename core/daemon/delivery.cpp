#include "core/daemon/delivery.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

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

    awaitable<Reply> begin(const std::string& from, bool eight_bit, std::size_t size) override {
        try {
            co_await connect();
            auto greeting = co_await read_reply();
            if (greeting.code != 220)
                co_return failed_to(greeting, "greeted with");
            auto hello = co_await hello_exchange();
            if (!hello.ok())
                co_return failed_to(hello, "refused EHLO with");
            if (m_o.tls != "none" && has(hello, "STARTTLS") &&
                m_target.kind != TargetAddress::Kind::lmtp_unix && m_o.tls_client != nullptr) {
                co_await send("STARTTLS\r\n");
                auto go = co_await read_reply();
                if (go.code == 220) {
                    co_await m_ch->start_tls(*m_o.tls_client, false, m_o.reply_timeout);
                    m_in->buffered().clear();
                    hello = co_await hello_exchange();
                    if (!hello.ok())
                        co_return failed_to(hello, "refused EHLO after STARTTLS with");
                } else if (m_o.tls == "required") {
                    co_return temp_failure(
                        "4.7.5", fmt::format("the target refused STARTTLS ({} {}), which is required",
                                             go.code, go.text()));
                }
            } else if (m_o.tls == "required") {
                co_return temp_failure("4.7.5", "the target does not offer STARTTLS, which is required");
            }
            std::string params;
            if (size > 0 && has(hello, "SIZE"))
                params += fmt::format(" SIZE={}", size);
            if (eight_bit && has(hello, "8BITMIME"))
                params += " BODY=8BITMIME";
            co_await send(fmt::format("MAIL FROM:<{}>{}\r\n", from, params));
            co_return co_await read_reply();
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure(
                "4.4.1", fmt::format("cannot reach the mail server {}: {}", m_target.text(), e.what()));
        }
    }

    awaitable<Reply> rcpt(const std::string& to) override {
        if (m_broken)
            co_return temp_failure("4.4.2", "the connection to the mail server failed");
        try {
            co_await send(fmt::format("RCPT TO:<{}>\r\n", to));
            co_return co_await read_reply();
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure("4.4.2",
                                   fmt::format("the mail server {} failed: {}", m_target.text(), e.what()));
        }
    }

    awaitable<Reply> data(const std::string& received, const std::filesystem::path& spool) override {
        if (m_broken)
            co_return temp_failure("4.4.2", "the connection to the mail server failed");
        try {
            co_await send("DATA\r\n");
            auto go = co_await read_reply();
            if (go.code != 354)
                co_return go;
            std::ifstream in(spool, std::ios::binary);
            if (!in)
                co_return temp_failure("4.3.0", "the spooled message cannot be read");
            smtp::DotStuffer stuffer;
            std::string wire;
            stuffer.feed(received, wire);
            std::string chunk(k_chunk, '\0');
            while (in) {
                in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                const auto n = static_cast<std::size_t>(in.gcount());
                if (n == 0)
                    break;
                stuffer.feed(std::string_view(chunk.data(), n), wire);
                if (wire.size() >= k_chunk) {
                    co_await m_ch->write(wire, m_o.reply_timeout);
                    wire.clear();
                }
            }
            if (in.bad())
                co_return temp_failure("4.3.0", "the spooled message cannot be read");
            wire += stuffer.finish();
            co_await m_ch->write(wire, m_o.reply_timeout);
            co_return co_await read_reply();  // LMTP: one per recipient, and there is one
        } catch (const std::exception& e) {
            m_broken = true;
            co_return temp_failure(
                "4.4.2", fmt::format("the mail server {} failed during DATA: {}", m_target.text(), e.what()));
        }
    }

    awaitable<void> end() override {
        if (!m_ch)
            co_return;
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
        if (m_target.kind == TargetAddress::Kind::lmtp_unix) {
            asio::local::stream_protocol::socket s(m_ex);
            asio::steady_timer timer(m_ex);
            timer.expires_after(m_o.connect_timeout);
            auto r = co_await (
                s.async_connect(asio::local::stream_protocol::endpoint(m_target.path), asio::use_awaitable) ||
                timer.async_wait(asio::use_awaitable));
            if (r.index() == 1)
                throw asio::system_error(asio::error::timed_out);
            m_ch = std::make_unique<Channel>(std::move(s));
        } else {
            asio::ip::tcp::resolver resolver(m_ex);
            asio::steady_timer timer(m_ex);
            timer.expires_after(m_o.connect_timeout);
            auto found = co_await (
                resolver.async_resolve(m_target.host, std::to_string(m_target.port), asio::use_awaitable) ||
                timer.async_wait(asio::use_awaitable));
            if (found.index() == 1)
                throw asio::system_error(asio::error::timed_out);
            asio::ip::tcp::socket s(m_ex);
            timer.expires_after(m_o.connect_timeout);
            auto r = co_await (asio::async_connect(s, std::get<0>(found), asio::use_awaitable) ||
                               timer.async_wait(asio::use_awaitable));
            if (r.index() == 1)
                throw asio::system_error(asio::error::timed_out);
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

    awaitable<void> send(std::string_view s) { co_await m_ch->write(s, m_o.reply_timeout); }

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

    awaitable<Reply> data(const std::string& received, const std::filesystem::path& spool) override {
        static std::atomic<unsigned long> counter{0};
        const auto name =
            fmt::format("{}.P{}Q{}.{}", std::time(nullptr), ::getpid(), ++counter, m_o.hostname);
        const auto tmp = std::filesystem::path(m_target.path) / "tmp" / name;
        const auto dest = std::filesystem::path(m_target.path) / "new" / name;
        std::ifstream in(spool, std::ios::binary);
        std::string text = received;
        std::string chunk(k_chunk, '\0');
        while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
            text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        // a maildir holds lines ending in LF
        std::string lf;
        lf.reserve(text.size());
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                continue;
            lf += text[i];
        }
        util::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        bool ok = fd.get() >= 0;
        std::size_t done = 0;
        while (ok && done < lf.size()) {
            const auto n = ::write(fd.get(), lf.data() + done, lf.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            ok = n > 0;
            if (ok)
                done += static_cast<std::size_t>(n);
        }
        ok = ok && ::fsync(fd.get()) == 0 && ::rename(tmp.c_str(), dest.c_str()) == 0 &&
             util::fsync_dir(dest.parent_path()).has_value();
        if (!ok) {
            const auto why = std::strerror(errno);
            ::unlink(tmp.c_str());
            co_return temp_failure("4.3.0",
                                   fmt::format("cannot write to the maildir {}: {}", m_target.path, why));
        }
        co_return Reply{250, {fmt::format("2.0.0 delivered to the maildir as {}", name)}};
    }

    awaitable<void> end() override { co_return; }

  private:
    TargetAddress m_target;
    DeliveryOptions m_o;
};

}  // namespace

std::unique_ptr<Delivery> make_delivery(const TargetAddress& target, const asio::any_io_executor& ex,
                                        const DeliveryOptions& options) {
    if (target.kind == TargetAddress::Kind::maildir)
        return std::make_unique<MaildirDelivery>(target, options);
    return std::make_unique<SmtpDelivery>(target, ex, options);
}

}  // namespace mailproxy::daemon
