#include "core/daemon/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/daemon/channel.hpp"
#include "core/daemon/delivery.hpp"
#include "core/daemon/entries.hpp"
#include "core/daemon/greylist.hpp"
#include "core/daemon/quarantine.hpp"
#include "core/daemon/spool.hpp"
#include "core/entry/lists.hpp"
#include "core/entry/presets.hpp"
#include "core/filter/headers.hpp"
#include "core/filter/scan.hpp"
#include "core/filter/wrap.hpp"
#include "core/smtp/data.hpp"
#include "core/smtp/protocol.hpp"
#include "core/util/file.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::daemon {
namespace fs = std::filesystem;
using smtp::reply;
using smtp::Reply;
using smtp::Verb;

namespace {

constexpr int k_max_errors = 10;  // bad commands before the session is closed

std::string rfc5322_date() {
    const auto now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
    return buf;
}

std::string queue_id() {
    static std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:012X}", rng() & 0xFFFFFFFFFFFFULL);
}

std::string mirror(const Reply& r) {
    return smtp::reply_lines(r.code, r.lines);
}

/// The client's address; an IPv4 client of a dual-stack listener (::ffff:a.b.c.d) as a.b.c.d, as it is
/// logged, greylisted, written in Received: and told to the spam engine.
std::string peer_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
    return a.to_string();
}

/// Text from the message (a file name, a virus name) made safe for a reply or a header line: printable
/// ASCII, at most 200 characters.
std::string safe_text(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        out += u >= 0x20 && u < 0x7f ? c : '?';
    }
    return out;
}

/// libclamav's temporary directory: the state directory's tmp/ (0700, emptied at start), so that what it
/// extracts from a message that is being scanned when serve is killed does not stay behind in /tmp.
fs::path scan_tmp_dir(const ServeConfig& c) {
    return c.state_dir / "tmp";
}

/// The scanner of `c`, with its temporary files in scan_tmp_dir().
filter::ScannerChoice scanner_choice(const ServeConfig& c) {
    auto s = c.scanner;
    s.tmpdir = scan_tmp_dir(c).string();
    return s;
}

}  // namespace

class Session;

struct Server::Impl {
    Impl(std::shared_ptr<const ServeConfig> c, Logger& l, ConfigLoader r)
        : config(std::move(c)),
          log(l),
          reload(std::move(r)),
          signals(io, SIGHUP, SIGTERM, SIGINT),
          entries(config->store),
          spool_files(config->state_dir / "spool") {}

    asio::io_context io{1};
    std::shared_ptr<const ServeConfig> config;  // for new sessions; SIGHUP swaps it, on the loop
    Logger& log;
    ConfigLoader reload;
    asio::signal_set signals;
    Entries entries;
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors;
    std::unique_ptr<asio::ssl::context> tls_server;
    asio::ssl::context tls_client{asio::ssl::context::tls_client};
    std::set<Session*> sessions;
    std::map<std::string, std::size_t> per_ip;
    bool draining = false;
    fs::path spool;
    SpoolFiles spool_files;                // where messages are received
    DataBuffers data_buffers;              // what they are read into
    std::unique_ptr<util::Fd> state_lock;  // held while serving: one serve per state directory
    ConnectionPool pool;                   // idle sessions to targets
    std::thread reloader;                  // SIGHUP's reading and checking, off the event loop
    bool reloading = false;
    bool cut_off = false;  // a second SIGTERM/SIGINT stopped the loop with sessions in flight
    std::shared_ptr<const filter::VirusScanner> scanner;  // opened before `ready`, again at SIGHUP
    std::shared_ptr<const filter::SpamEngine> spam;       // null: no engine (the lists still apply)
    std::unique_ptr<Quarantine> quarantine;
    std::unique_ptr<Greylist> greylist;
    // scans, quarantine; its tasks often wait for clamd or a spam engine: more threads than cores
    asio::thread_pool blocking{std::max(8u, 2 * std::thread::hardware_concurrency())};
    asio::thread_pool greylisting{1};  // its SQLite lookups, never behind a scan that waits for an engine

    awaitable<void> accept(asio::ip::tcp::acceptor& acceptor);
    awaitable<void> refuse(asio::ip::tcp::socket s, std::string why);
    void wait_signal();
    void start_reload();
    /// On the reloader thread: reads and checks the configuration, loads the virus signatures again (or
    /// asks the clamd), reads the entries (which it swaps); the new configuration and scanner are swapped
    /// in on the loop. On any failure the running ones stay.
    void do_reload(std::shared_ptr<const ServeConfig> old);
    void drain();
};

/// One client connection: the SMTP dialogue, the transaction with the target, the spool file.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(Server::Impl& server, asio::ip::tcp::socket s, std::string peer)
        : m_srv(server), m_config(server.config), m_peer(std::move(peer)), m_ch(std::move(s)), m_in(m_ch) {
        m_srv.sessions.insert(this);
        ++m_srv.per_ip[m_peer];
    }
    ~Session() {
        m_srv.sessions.erase(this);
        if (--m_srv.per_ip[m_peer] == 0)
            m_srv.per_ip.erase(m_peer);
        remove_spool();
        if (m_srv.draining && m_srv.sessions.empty()) {
            asio::error_code ec;
            m_srv.signals.cancel(ec);  // the last one: the event loop may end
        }
    }

    awaitable<void> run();

    /// SIGTERM: a session waiting for the client's next command stops now with 421 (an open transaction
    /// there is aborted: nothing of it was acknowledged); one receiving data or talking to the target
    /// finishes that first. Cancelling the pending read wakes the session, which writes the 421 itself.
    void drain() {
        if (m_stop_now || !m_waiting)
            return;  // busy: the loop sees the drain before it waits for the next command
        m_stop_now = true;
        m_ch.cancel();
    }

  private:
    bool in_transaction() const { return m_mail.has_value(); }
    std::chrono::seconds secs(int s) const { return std::chrono::seconds(s); }
    void queue(std::string r) { m_out += r; }
    awaitable<void> flush() {
        if (!m_out.empty()) {
            auto out = std::move(m_out);
            m_out.clear();
            co_await m_ch.write(out, secs(m_config->command_timeout));
        }
    }
    awaitable<void> handle(const std::string& line);
    awaitable<void> ehlo(const smtp::Command& c, bool extended);
    awaitable<void> starttls(const smtp::Command& c);
    awaitable<void> mail(const smtp::Command& c);
    awaitable<void> rcpt(const smtp::Command& c);
    awaitable<void> data();
    awaitable<void> reset_transaction();
    void remove_spool() { m_srv.spool_files.give(std::exchange(m_spool, -1)); }
    void error_reply(int code, std::string_view enhanced, std::string_view text) {
        queue(reply(code, enhanced, text));
        ++m_errors;
    }
    void summary(std::string_view result, const Reply& r, std::size_t size,
                 std::string_view verdict = "clean");
    /// The checks and their action (DESIGN §5.2, §5.3) on the spooled message; the reply for the client.
    /// `verdict` and `action` get the words for the summary line.
    awaitable<Reply> check_and_deliver(const std::string& received, std::size_t size, std::string& verdict,
                                       std::string& action);
    /// Runs `f` on the pool for blocking work; the session goes on on its loop with the result.
    /// GCC 12 destroys a temporary in a co_await expression twice (the argument here among them): `f`
    /// must be named by the caller and hold nothing with a destructor (pointers, not shared_ptr).
    /// `pool`: the blocking pool, or another (greylisting has its own, so that scans waiting for an
    /// engine do not hold up RCPT).
    template <typename F>
    awaitable<std::invoke_result_t<F>> blocking(F f, asio::thread_pool* pool = nullptr) {
        static_assert(std::is_trivially_destructible_v<F>, "GCC 12: a task must be trivially destructible");
        using R = std::invoke_result_t<F>;
        co_return co_await asio::co_spawn(
            pool != nullptr ? *pool : m_srv.blocking,
            [f = std::move(f)]() mutable -> awaitable<R> { co_return f(); }, asio::use_awaitable);
    }
    /// Delivers, with `headers` first, a copy of the spooled message that `write(from, to)` makes on
    /// the pool into a spool file of its own (the wrapped message, the marked one); 451 when it fails
    /// (logged as event `what`).
    template <typename W>
    awaitable<Reply> deliver_copy(const std::string& headers, W write, std::string_view what) {
        const int copy = m_srv.spool_files.take();
        if (copy < 0)
            co_return Reply{451, {"4.3.0 cannot spool the message here, try again later"}};
        auto task = [write, from = m_spool, copy]() -> Expected<void> {
            auto written = write(from, copy);
            if (written && !SpoolFiles::seal(copy))
                return fail(ErrorCode::io,  // on the pool: not strerror, which is not thread-safe
                            "cannot cut the spool file: " + std::generic_category().message(errno));
            return written;
        };
        auto ok = co_await blocking(std::move(task));
        Reply r;
        if (!ok) {
            m_srv.log.error(what, {{"id", m_id}, {"error", ok.error().message}});
            r = Reply{451, {"4.3.0 cannot spool the message here, try again later"}};
        } else {
            r = co_await m_delivery->data(headers, copy);
        }
        m_srv.spool_files.give(copy);
        co_return r;
    }

    Server::Impl& m_srv;
    std::shared_ptr<const ServeConfig>
        m_config;  // this session's configuration (a reload does not change it)
    std::string m_peer;
    Channel m_ch;
    LineReader m_in;
    std::string m_out;
    std::string m_helo;
    bool m_esmtp = false;
    bool m_quit = false;
    bool m_stop_now = false;
    bool m_waiting = false;  // waiting for the client's next command (nothing else under way)
    int m_errors = 0;
    // the transaction
    std::optional<smtp::Path> m_mail;
    bool m_eight_bit = false;
    std::size_t m_declared_size = 0;
    std::vector<std::string> m_rcpts;
    std::string m_domain;                 // the entry of the first accepted recipient
    bool m_excluded = false;              // whether that recipient is on its entry's excludelist
    std::int64_t m_greylist_delayed = 0;  // seconds a triplet of this transaction waited, first time through
    entry::Policy m_policy;               // its policy, as the transaction began
    std::string m_admin;                  // its quarantine digest address
    entry::MailList m_whitelist;          // its sender lists (DESIGN §5.4)
    entry::MailList m_blacklist;
    std::unique_ptr<Delivery> m_delivery;
    std::string m_id;
    int m_spool = -1;  // the file the message is received into, read back for the target
    std::chrono::steady_clock::time_point m_started;
};

void Session::summary(std::string_view result, const Reply& r, std::size_t size, std::string_view verdict) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m_started);
    std::string to;
    for (const auto& t : m_rcpts)
        to += (to.empty() ? "" : ",") + t;
    m_srv.log.info("message", {{"id", m_id},
                               {"client", m_peer},
                               {"helo", m_helo},
                               {"from", m_mail ? m_mail->address : ""},
                               {"to", to},
                               {"domain", m_domain},
                               {"size", std::to_string(size)},
                               {"verdict", verdict},
                               {"action", result},
                               {"reply", fmt::format("{} {}", r.code, r.text())},
                               {"tls", m_ch.tls_version()},
                               {"target_session", m_delivery && m_delivery->reused() ? "reused" : "new"},
                               {"delay_ms", std::to_string(ms.count())}});
}

awaitable<void> Session::run() {
    bool timed_out = false;
    try {
        queue(reply(220, "", fmt::format("{} ESMTP mailproxy", m_config->hostname)));
        while (!m_quit) {
            if (!m_in.has_line())
                co_await flush();
            if (m_srv.draining && !m_in.has_line()) {
                m_stop_now = true;
                break;
            }
            bool too_long = false;
            m_waiting = !m_in.has_line();
            auto line =
                co_await m_in.line(smtp::k_max_command_line, secs(m_config->command_timeout), too_long);
            m_waiting = false;
            if (!line) {
                error_reply(500, "5.5.2", "command line too long (512 bytes at most)");
            } else {
                co_await handle(*line);
            }
            if (m_errors >= k_max_errors) {
                queue(reply(421, "4.7.0", "too many errors, closing"));
                break;
            }
        }
        co_await flush();
    } catch (const asio::system_error& e) {
        timed_out = e.code() == asio::error::timed_out;
    } catch (const std::exception& e) {
        m_srv.log.error("session", {{"client", m_peer}, {"error", e.what()}});
    }
    if (timed_out || m_stop_now) {
        // best effort: the client may be gone
        try {
            m_out += timed_out ? reply(421, "4.4.2", "timeout, closing")
                               : reply(421, "4.3.2", "shutting down, try again later");
            co_await m_ch.write(m_out, std::chrono::seconds(5));
        } catch (const std::exception&) {
        }
    }
    if (in_transaction() && !m_quit)
        m_srv.log.info("aborted",
                       {{"id", m_id}, {"client", m_peer}, {"reason", timed_out ? "timeout" : "disconnect"}});
    co_await reset_transaction();
    m_ch.close();
}

awaitable<void> Session::reset_transaction() {
    if (m_delivery) {
        co_await m_delivery->end();
        m_delivery.reset();
    }
    remove_spool();
    m_mail.reset();
    m_rcpts.clear();
    m_domain.clear();
    m_excluded = false;
    m_greylist_delayed = 0;
    m_eight_bit = false;
    m_declared_size = 0;
}

awaitable<void> Session::handle(const std::string& line) {
    const auto c = smtp::parse_command(line);
    switch (c.verb) {
        case Verb::helo:
            co_await ehlo(c, false);
            break;
        case Verb::ehlo:
            co_await ehlo(c, true);
            break;
        case Verb::starttls:
            co_await starttls(c);
            break;
        case Verb::mail:
            co_await mail(c);
            break;
        case Verb::rcpt:
            co_await rcpt(c);
            break;
        case Verb::data:
            co_await data();
            break;
        case Verb::rset:
            co_await reset_transaction();
            queue(reply(250, "2.0.0", "OK"));
            break;
        case Verb::noop:
            queue(reply(250, "2.0.0", "OK"));
            break;
        case Verb::quit:
            queue(reply(221, "2.0.0", "bye"));
            m_quit = true;
            break;
        case Verb::vrfy:
            queue(reply(252, "2.5.0", "cannot verify, send some mail"));
            break;
        case Verb::help:
            queue(reply(214, "2.0.0", "https://www.rfc-editor.org/rfc/rfc5321"));
            break;
        case Verb::bdat:
            error_reply(502, "5.5.1", "CHUNKING is not offered, use DATA");
            break;
        case Verb::expn:
        case Verb::auth:
        case Verb::lhlo:
            error_reply(502, "5.5.1", "command not implemented");
            break;
        case Verb::unknown:
            error_reply(500, "5.5.2", "command not recognised");
            break;
    }
}

awaitable<void> Session::ehlo(const smtp::Command& c, bool extended) {
    const auto name = std::string(util::trim(c.arg));
    if (!smtp::valid_helo(name)) {
        error_reply(501, "5.5.4", "give your host name or an address literal");
        co_return;
    }
    co_await reset_transaction();
    m_helo = name;
    m_esmtp = extended;
    if (!extended) {
        queue(reply(250, "", m_config->hostname));
        co_return;
    }
    std::vector<std::string> lines{m_config->hostname, "PIPELINING",
                                   fmt::format("SIZE {}", m_config->max_message_size), "8BITMIME",
                                   "ENHANCEDSTATUSCODES"};
    if (m_srv.tls_server && !m_ch.tls())
        lines.emplace_back("STARTTLS");
    queue(smtp::reply_lines(250, lines));
}

awaitable<void> Session::starttls(const smtp::Command& c) {
    if (!m_srv.tls_server) {
        error_reply(454, "4.7.0", "TLS is not available");
        co_return;
    }
    if (m_ch.tls()) {
        error_reply(503, "5.5.1", "TLS is on already");
        co_return;
    }
    if (!c.arg.empty()) {
        error_reply(501, "5.5.4", "STARTTLS takes no argument");
        co_return;
    }
    queue(reply(220, "2.0.0", "ready to start TLS"));
    co_await flush();
    // CVE-2011-0411: anything the client sent after STARTTLS in plaintext is dropped, not executed
    m_in.buffered().clear();
    co_await m_ch.start_tls(*m_srv.tls_server, true, secs(m_config->command_timeout));
    co_await reset_transaction();
    m_helo.clear();
    m_esmtp = false;
}

awaitable<void> Session::mail(const smtp::Command& c) {
    if (m_helo.empty()) {
        error_reply(503, "5.5.1", "send EHLO first");
        co_return;
    }
    if (m_mail) {
        error_reply(503, "5.5.1", "a transaction is open already (RSET first)");
        co_return;
    }
    smtp::PathError e;
    auto p = smtp::parse_path(c.arg, true, e);
    if (!p) {
        error_reply(e.code, e.enhanced, e.text);
        co_return;
    }
    bool eight_bit = false;
    std::size_t size = 0;
    for (const auto& [k, v] : p->params) {
        if (k == "SIZE") {
            const auto n = util::parse_integer(v);
            if (!n || *n < 0) {
                error_reply(501, "5.5.4", "SIZE needs a number");
                co_return;
            }
            size = static_cast<std::size_t>(*n);
            if (size > m_config->max_message_size) {
                queue(reply(552, "5.3.4",
                            fmt::format("the message is larger than {} bytes", m_config->max_message_size)));
                co_return;
            }
        } else if (k == "BODY") {
            const auto body = util::to_upper(v);
            if (body != "7BIT" && body != "8BITMIME") {
                error_reply(501, "5.5.4", "BODY is 7BIT or 8BITMIME");
                co_return;
            }
            eight_bit = body == "8BITMIME";
        } else {
            error_reply(555, "5.5.4", fmt::format("parameter {} is not supported", k));
            co_return;
        }
    }
    m_mail = std::move(*p);
    m_eight_bit = eight_bit;
    m_declared_size = size;
    m_id = queue_id();
    m_started = std::chrono::steady_clock::now();
    queue(reply(250, "2.1.0", "OK"));
}

awaitable<void> Session::rcpt(const smtp::Command& c) {
    if (!m_mail) {
        error_reply(503, "5.5.1", "send MAIL first");
        co_return;
    }
    smtp::PathError e;
    auto p = smtp::parse_path(c.arg, false, e);
    if (!p) {
        error_reply(e.code, e.enhanced, e.text);
        m_srv.log.info("rcpt_refused", {{"id", m_id}, {"client", m_peer}, {"to", c.arg}, {"reason", e.text}});
        co_return;
    }
    if (!p->params.empty()) {
        error_reply(555, "5.5.4", fmt::format("parameter {} is not supported", p->params.front().first));
        co_return;
    }
    if (m_rcpts.size() >= m_config->max_recipients) {
        queue(reply(452, "4.5.3", "too many recipients, send the rest in another transaction"));
        co_return;
    }
    const auto domain = util::to_lower(p->domain);
    std::string problem;
    const auto entries = m_srv.entries.snapshot(&problem);
    if (!problem.empty())
        m_srv.log.error("entries", {{"error", problem}});
    const auto it = entries->find(domain);
    if (it == entries->end()) {
        queue(reply(550, "5.7.1", fmt::format("relay denied: {} is not handled here", domain)));
        m_srv.log.info("relay_denied", {{"id", m_id}, {"client", m_peer}, {"to", p->address}});
        co_return;
    }
    if (!m_domain.empty() && m_domain != domain) {
        queue(reply(452, "4.5.3", "recipients of another domain: send them in a separate transaction"));
        co_return;
    }
    // DESIGN §5.4: an excluded recipient is neither greylisted nor scored, so it cannot share a
    // transaction (one verdict) with one that is
    const bool excluded = entry::on_list(it->second.excludelist, p->address);
    if (!m_rcpts.empty() && excluded != m_excluded) {
        queue(reply(452, "4.5.3",
                    "recipients excluded from the filter and others: send them in separate transactions"));
        co_return;
    }
    if (it->second.greylisting && !excluded && !entry::on_list(it->second.whitelist, m_mail->address)) {
        const auto network = greylist_network(m_peer);
        const auto sender = greylist_sender(m_mail->address);
        const auto recipient = util::to_lower(p->address);
        const GreylistTimes times{m_config->greylist_delay, m_config->greylist_retry_window,
                                  m_config->greylist_max_age};
        const auto now = static_cast<std::int64_t>(::time(nullptr));
        auto task = [g = m_srv.greylist.get(), &network, &sender, &recipient, &times, now] {
            return g->check(network, sender, recipient, times, now);
        };
        const auto d = co_await blocking(std::move(task), &m_srv.greylisting);
        if (!d) {  // greylisting is a spam measure: mail is not held up when its database fails
            m_srv.log.error("greylist", {{"id", m_id}, {"error", d.error().message}});
        } else if (!d->pass) {
            queue(reply(
                450, "4.7.1",
                fmt::format("greylisted, try again in {} seconds", std::max<std::int64_t>(1, d->wait))));
            m_srv.log.info("greylisted", {{"id", m_id},
                                          {"client", m_peer},
                                          {"from", m_mail->address},
                                          {"to", p->address},
                                          {"wait", std::to_string(d->wait)}});
            co_return;
        } else {
            m_greylist_delayed = std::max(m_greylist_delayed, d->delayed);
        }
    }
    if (!m_delivery) {
        auto target = parse_target(it->second.target);
        if (!target) {
            m_srv.log.error("target", {{"domain", domain}, {"error", target.error().message}});
            queue(reply(451, "4.3.5", "the domain's mail server is misconfigured here, try again later"));
            co_return;
        }
        DeliveryOptions o;
        o.hostname = m_config->hostname;
        o.connect_timeout = secs(m_config->connect_timeout);
        o.reply_timeout = secs(m_config->target_timeout);
        o.tls = m_config->target_tls;
        o.tls_client = &m_srv.tls_client;
        o.pool = &m_srv.pool;
        m_policy = entry::effective_policy(it->second);
        m_whitelist = it->second.whitelist;
        m_blacklist = it->second.blacklist;
        m_admin = it->second.admin;
        m_delivery = make_delivery(*target, co_await asio::this_coro::executor, o);
        auto r = co_await m_delivery->begin(m_mail->address, m_eight_bit, m_declared_size);
        if (!r.ok()) {
            m_srv.log.warning(
                "target_refused",
                {{"id", m_id}, {"domain", domain}, {"reply", fmt::format("{} {}", r.code, r.text())}});
            co_await m_delivery->end();
            m_delivery.reset();
            queue(mirror(r));
            co_return;
        }
    } else if (m_delivery->single_recipient() && !m_rcpts.empty()) {
        queue(reply(452, "4.5.3", "one recipient per transaction for this domain, send the next one again"));
        co_return;
    }
    auto r = co_await m_delivery->rcpt(p->address);
    queue(mirror(r));
    if (r.ok()) {
        m_rcpts.push_back(p->address);
        m_domain = domain;
        m_excluded = excluded;
    } else if (m_rcpts.empty()) {
        // nothing accepted yet: the next recipient (maybe of another domain) starts afresh
        co_await m_delivery->end();
        m_delivery.reset();
    }
}

awaitable<void> Session::data() {
    if (!m_mail) {
        error_reply(503, "5.5.1", "send MAIL first");
        co_return;
    }
    if (m_rcpts.empty() || !m_delivery) {
        error_reply(554, "5.5.1", "no valid recipients");
        co_return;
    }
    queue(reply(354, "", "end data with <CR><LF>.<CR><LF>"));
    co_await flush();
    m_spool = m_srv.spool_files.take();
    if (m_spool < 0) {
        m_srv.log.error("spool",
                        {{"id", m_id}, {"dir", m_srv.spool.string()}, {"error", std::strerror(errno)}});
        // the data must still be read to its end before the reply
    }
    smtp::DataReader reader(m_config->max_message_size);
    std::string out;
    bool write_failed = m_spool < 0;
    const auto write_out = [&] {
        if (!write_failed && !util::write_all(m_spool, out))
            write_failed = true;
        out.clear();
    };
    // first what came with the DATA command, then straight from the connection; what follows the end
    // (pipelined commands) goes back to the line reader
    auto& buf = m_in.buffered();
    buf.erase(0, reader.feed(buf, out));
    if (!reader.done()) {
        const auto chunk = m_srv.data_buffers.take();
        while (!reader.done()) {
            if (out.size() >= 65536)
                write_out();
            const auto n = co_await m_ch.read_some(asio::buffer(chunk.data(), DataBuffers::k_size),
                                                   secs(m_config->data_timeout));
            const std::string_view got(chunk.data(), n);
            buf.append(got.substr(reader.feed(got, out)));
        }
    }
    write_out();
    if (!write_failed && !SpoolFiles::seal(m_spool))
        write_failed = true;
    m_in.shrink();
    // no fsync: the spool only buffers the message while the client waits; it is the target's 250 that
    // makes the message safe, and a crash before it leaves the client without an acknowledgement
    Reply r;
    std::string verdict = "unchecked";
    std::string action;  // when delivered: how, if not as it came
    if (reader.too_big()) {
        r = Reply{552,
                  {fmt::format("5.3.4 the message is larger than {} bytes", m_config->max_message_size)}};
    } else if (reader.has_nul()) {
        r = Reply{554, {"5.6.0 the message holds NUL bytes"}};
    } else if (reader.line_too_long()) {
        r = Reply{554, {"5.6.0 the message has a line longer than 998 characters"}};
    } else if (write_failed) {
        r = Reply{451, {"4.3.0 cannot spool the message here, try again later"}};
    } else {
        std::string received = fmt::format(
            "Received: from {} ([{}])\r\n\tby {} (mailproxy) with {} id {}{}; {}\r\n", m_helo, m_peer,
            m_config->hostname, m_ch.tls() ? "ESMTPS" : (m_esmtp ? "ESMTP" : "SMTP"), m_id,
            m_rcpts.size() == 1 ? fmt::format("\r\n\tfor <{}>", m_rcpts.front()) : "", rfc5322_date());
        if (m_greylist_delayed > 0)  // the first message of a triplet that waited (postgrey's header)
            received += fmt::format("X-Greylist: delayed {} seconds by mailproxy at {}; {}\r\n",
                                    m_greylist_delayed, m_config->hostname, rfc5322_date());
        r = co_await check_and_deliver(received, reader.size(), verdict, action);
        if (r.code == 250 && reader.had_bare_line_end())
            m_srv.log.info("bare_line_end",
                           {{"id", m_id}, {"client", m_peer}, {"action", "normalised to CRLF"}});
    }
    queue(mirror(r));
    if (r.code == 250 && r.text().find("quarantined as") != std::string::npos)
        summary("quarantined", r, reader.size(), verdict);
    else if (r.code == 250 && !action.empty())
        summary(action, r, reader.size(), verdict);
    else
        summary(r.code == 250  ? "delivered"
                : r.code < 500 ? "tempfail"
                               : "rejected",
                r, reader.size(), verdict);
    co_await reset_transaction();
}

namespace {

std::string_view spam_state_text(filter::SpamCheck::State s) {
    switch (s) {
        case filter::SpamCheck::State::off:
            return "off";
        case filter::SpamCheck::State::excluded:
            return "excluded";
        case filter::SpamCheck::State::whitelisted:
            return "whitelisted";
        case filter::SpamCheck::State::blacklisted:
            return "blacklisted";
        case filter::SpamCheck::State::too_big:
            return "too-big";
        case filter::SpamCheck::State::scored:
            return "scored";
        case filter::SpamCheck::State::failed:
            return "failed";
    }
    return "?";
}

}  // namespace

awaitable<Reply> Session::check_and_deliver(const std::string& received, std::size_t size,
                                            std::string& verdict_text, std::string& action_text) {
    const auto options = filter::options_for(m_policy);
    // held through the scan, even if SIGHUP swaps in another meanwhile; only when there is a scan
    auto scanner = options.virus ? m_srv.scanner : nullptr;
    const auto spam_engine = m_srv.spam;
    filter::ScanResult scan;
    if (options.virus || options.banned || options.header || options.spam) {
        filter::SpamContext context{
            m_peer,  m_helo, m_mail && !m_mail->address.empty() ? m_mail->address : "<>",
            m_rcpts, m_id,   received};
        const filter::SpamLists lists{&m_whitelist, &m_blacklist};
        const bool score = options.spam && !m_excluded;  // excluded recipients are not scored
        const std::size_t max_size = m_config->spam.max_size;
        auto task = [fd = m_spool, &options, s = scanner.get(), e = spam_engine.get(), &context, &lists,
                     score, size, max_size] {
            auto r = filter::scan_message(fd, options, s);
            if (score)
                r.spam = filter::check_spam(fd, r.head, size, e, max_size, lists, context);
            return r;
        };
        scan = co_await blocking(std::move(task));
        if (options.spam && m_excluded)
            scan.spam.state = filter::SpamCheck::State::excluded;
    }
    const auto verdict =
        filter::decide(scan, m_policy, m_config->scanner_failure == "pass", m_config->spam_failure == "pass");
    if (scan.spam.state == filter::SpamCheck::State::failed)
        m_srv.log.error("spam", {{"id", m_id}, {"error", scan.spam.note}});
    else if (scan.spam.state == filter::SpamCheck::State::too_big)
        m_srv.log.info("spam_skipped", {{"id", m_id}, {"reason", "size"}, {"size", scan.spam.note}});
    else if (scan.spam.state != filter::SpamCheck::State::off)
        m_srv.log.info("spam", {{"id", m_id},
                                {"state", spam_state_text(scan.spam.state)},
                                {"score", scan.spam.state == filter::SpamCheck::State::scored
                                              ? filter::score_text(scan.spam.score)
                                              : ""},
                                {"address", scan.spam.state == filter::SpamCheck::State::whitelisted ||
                                                    scan.spam.state == filter::SpamCheck::State::blacklisted
                                                ? scan.spam.note
                                                : ""}});
    verdict_text =
        verdict.category ? std::string(filter::to_string(*verdict.category))
        : !scan.scanner_error.empty() || scan.spam.state == filter::SpamCheck::State::failed ? "unscanned"
        : m_policy.spam.mode != entry::PolicyMode::disabled && filter::is_spam(scan.spam, m_policy.spam)
            ? "spam"  // marked, below kill
            : "clean";
    if (!scan.scanner_error.empty())
        m_srv.log.error("scan", {{"id", m_id}, {"error", scan.scanner_error}});
    std::string headers = received;
    const auto product = scanner ? scanner->product() : std::string();
    // the last owner of a database SIGHUP replaced frees it, which takes a while: on the pool. While
    // the server still holds this scanner, letting go here cannot be the last reference (and a post for
    // every message would wake a pool thread for nothing); after a reload it may be
    if (scanner && scanner != m_srv.scanner)
        asio::post(m_srv.blocking, [done = std::move(scanner)] {});
    scanner.reset();
    if (scan.virus_scanned)
        headers += fmt::format("X-Virus-Scanned: {} at {} (mailproxy)\r\n", product, m_config->hostname);
    else if (options.virus)
        headers +=
            fmt::format("X-Virus-Scanned: no, the scanner failed, at {} (mailproxy)\r\n", m_config->hostname);
    const auto reason = safe_text(verdict.reason);
    if (verdict.action == filter::Action::deliver_wrapped)
        action_text = "delivered-wrapped";
    else if (verdict.action == filter::Action::deliver_alert)
        action_text = "delivered-with-alert";
    switch (verdict.action) {
        case filter::Action::tempfail:
            co_return Reply{451, {"4.3.0 the message cannot be checked now, try again later"}};
        case filter::Action::discard:
            co_return Reply{554, {"5.7.1 rejected: " + reason}};
        case filter::Action::quarantine: {
            Quarantine::Item item{
                m_domain,
                m_admin,
                m_mail ? m_mail->address : "",
                m_rcpts,
                safe_text(filter::header_value(filter::header_section(scan.head), "Subject")),
                reason};
            auto task = [quarantine = m_srv.quarantine.get(), fd = m_spool, &headers, &item] {
                return quarantine->store(headers, fd, item);
            };
            auto stored = co_await blocking(std::move(task));
            if (!stored) {
                m_srv.log.error("quarantine", {{"id", m_id}, {"error", stored.error().message}});
                co_return Reply{451, {"4.3.0 the message cannot be kept here now, try again later"}};
            }
            co_return Reply{250, {fmt::format("2.0.0 quarantined as {}: {}", *stored, reason)}};
        }
        case filter::Action::deliver_wrapped: {
            std::vector<std::string> warning;
            if (verdict.category == filter::Category::virus) {
                warning.push_back("WARNING: contains virus " + safe_text(scan.findings.front().what));
            } else {
                warning.emplace_back("WARNING: banning rules detected suspect part(s),");
                warning.emplace_back("do not open unless you know what you are doing");
                for (const auto& f : scan.findings) {
                    if (f.category == filter::Category::banned && warning.size() < 22)
                        warning.push_back(safe_text("  " + f.what + " (" + f.where + ")"));
                }
            }
            auto write = [&warning](int from, int to) { return filter::write_wrapped(from, to, warning); };
            co_return co_await deliver_copy(headers, write, "wrap");
        }
        case filter::Action::deliver_alert:
            headers += "X-MailProxy-Alert: BAD HEADER, " + reason + "\r\n";
            break;
        case filter::Action::deliver:
            break;
    }
    // DESIGN §5.3 spam marking of the message as sent: headers, and maybe the subject's tag
    const auto marks = m_policy.spam.mode == entry::PolicyMode::disabled
                           ? filter::SpamMarks{}
                           : filter::spam_marks(scan.spam, m_policy.spam);
    headers += marks.headers;
    // X-Spam-* fields the sender wrote are removed (a forged "X-Spam-Flag: NO" must not reach the
    // target): the message is then copied, as it is for the subject's tag
    if (!marks.subject_prefix && !scan.spam_fields)
        co_return co_await m_delivery->data(headers, m_spool);
    const std::string_view tag = marks.subject_prefix ? "+++SPAM " : "";
    auto write = [tag](int from, int to) { return filter::write_marked(from, to, tag); };
    co_return co_await deliver_copy(headers, write, "spam");
}

}  // namespace mailproxy::daemon

namespace mailproxy::daemon {

awaitable<void> Server::Impl::refuse(asio::ip::tcp::socket s, std::string why) {
    Channel ch(std::move(s));
    try {
        co_await ch.write(reply(421, "4.7.0", why), std::chrono::seconds(5));
    } catch (const std::exception&) {
    }
    ch.close();
}

awaitable<void> Server::Impl::accept(asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        asio::ip::tcp::endpoint ep;  // filled by accept itself
        auto [aec, s] = co_await acceptor.async_accept(ep, asio::experimental::as_tuple(asio::use_awaitable));
        if (aec) {
            if (draining || aec == asio::error::operation_aborted)
                co_return;
            // EMFILE and the like: a pause, so that the loop does not spin until a descriptor is free
            log.error("accept", {{"error", aec.message()}});
            asio::steady_timer pause(io, std::chrono::milliseconds(500));
            co_await pause.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
            continue;
        }
        asio::error_code ec;
        const auto peer = peer_text(ep);
        if (sessions.size() >= config->max_connections) {
            log.warning("refused", {{"client", peer}, {"reason", "max-connections"}});
            asio::co_spawn(io, refuse(std::move(s), "too many connections, try again later"), asio::detached);
            continue;
        }
        if (per_ip[peer] >= config->max_connections_per_ip) {
            log.warning("refused", {{"client", peer}, {"reason", "max-connections-per-ip"}});
            asio::co_spawn(io, refuse(std::move(s), "too many connections from your address"),
                           asio::detached);
            continue;
        }
        s.set_option(asio::ip::tcp::no_delay(true), ec);  // replies are written whole: no Nagle delay
        auto session = std::make_shared<Session>(*this, std::move(s), peer);
        asio::co_spawn(
            io, [session]() -> awaitable<void> { co_await session->run(); }, asio::detached);
    }
}

void Server::Impl::start_reload() {
    if (reloading) {
        log.warning("reload", {{"note", "a reload is under way already"}});
        return;
    }
    reloading = true;
    if (reloader.joinable())
        reloader.join();
    reloader = std::thread([this, old = config] { do_reload(old); });
}

void Server::Impl::do_reload(std::shared_ptr<const ServeConfig> old) {
    const auto done = [this](std::shared_ptr<const ServeConfig> fresh,
                             std::shared_ptr<const filter::VirusScanner> fresh_scanner) {
        asio::post(io, [this, fresh = std::move(fresh), fresh_scanner = std::move(fresh_scanner)] {
            if (fresh) {
                config = fresh;
                // scans under way keep the old one until they end; freeing a big signature database
                // takes a while: not on the loop
                asio::post(blocking, [old = std::exchange(scanner, fresh_scanner)] {});
                spam = *filter::make_spam_engine(fresh->spam);  // checked by check()
                log.info("reload", {{"entries", std::to_string(entries.size())},
                                    {"virus_scanner", scanner->describe()},
                                    {"result", "ok"}});
            }
            reloading = false;
        });
    };
    auto fresh = reload ? reload() : Expected<std::shared_ptr<const ServeConfig>>(old);
    if (!fresh) {
        log.error("reload",
                  {{"error", fresh.error().message}, {"result", "the running configuration stays"}});
        return done(nullptr, nullptr);
    }
    const auto& c = **fresh;
    if (c.listen != old->listen || c.state_dir != old->state_dir || c.user != old->user ||
        c.store != old->store || c.tls_cert != old->tls_cert || c.tls_key != old->tls_key) {
        log.warning("reload",
                    {{"note", "listen, state-dir, store, user and TLS files change only with a restart"}});
    }
    auto merged = std::make_shared<ServeConfig>(c);
    merged->listen = old->listen;
    merged->state_dir = old->state_dir;
    merged->user = old->user;
    merged->store = old->store;
    merged->tls_cert = old->tls_cert;
    merged->tls_key = old->tls_key;
    auto fresh_scanner = filter::open_scanner(scanner_choice(*merged));
    if (!fresh_scanner) {
        log.error("reload", {{"error", fresh_scanner.error().message},
                             {"result", "the running configuration and virus scanner stay"}});
        return done(nullptr, nullptr);
    }
    if (auto ok = entries.reload(); !ok) {
        log.error("reload", {{"error", ok.error().message}, {"result", "the running configuration stays"}});
        return done(nullptr, nullptr);
    }
    done(std::move(merged), std::move(*fresh_scanner));
}

void Server::Impl::drain() {
    if (draining)
        return;
    draining = true;
    log.info("stopping", {{"sessions", std::to_string(sessions.size())}});
    for (auto& a : acceptors) {
        asio::error_code ec;
        a->close(ec);
    }
    pool.close();
    for (auto* s : std::vector<Session*>(sessions.begin(), sessions.end()))
        s->drain();
}

void Server::Impl::wait_signal() {
    signals.async_wait([this](const asio::error_code& ec, int sig) {
        if (ec)
            return;
        if (sig == SIGHUP) {
            start_reload();
        } else if (!draining) {
            drain();
            if (sessions.empty())
                return;  // nothing in flight: the loop ends
        } else {
            log.warning("stopping", {{"note", "a second signal: transactions in flight are cut off"}});
            cut_off = true;
            io.stop();
            return;
        }
        wait_signal();
    });
}

Server::Server(std::shared_ptr<const ServeConfig> config, Logger& log, ConfigLoader reload)
    : m(std::make_unique<Impl>(std::move(config), log, std::move(reload))) {}

Server::~Server() = default;

Expected<std::vector<std::string>> Server::start() {
    auto& c = *m->config;
    if (auto errors = check(c); !errors.empty()) {
        std::string msg;
        for (const auto& e : errors)
            msg += (msg.empty() ? "" : "\n") + e;
        return fail(ErrorCode::config, msg);
    }
    if (auto ok = m->entries.reload(); !ok)
        return tl::make_unexpected(ok.error());
    // the spool, and libclamav's temporary directory: created, and emptied of what a killed run left
    // (below: not while another serve works in them). Each is opened once, a symbolic link refused;
    // chmod, emptying and the chown for --user act on the descriptors, so that the user serve runs as,
    // who owns the state directory, cannot make them act elsewhere by swapping in a link meanwhile.
    m->spool = c.state_dir / "spool";
    struct OwnDir {
        fs::path path;
        std::string_view cleaned;  // the log event of its emptying
        util::Fd fd;
    };
    std::vector<OwnDir> own_dirs;
    for (auto [path, cleaned] : {std::pair{m->spool, "spool_cleaned"}, {scan_tmp_dir(c), "tmp_cleaned"}}) {
        auto fd = util::open_private_dir(path);
        if (!fd)
            return tl::make_unexpected(fd.error());
        ::fchmod(fd->get(), 0700);
        own_dirs.push_back({std::move(path), cleaned, std::move(*fd)});
    }
    m->state_lock = std::make_unique<util::Fd>(
        ::open((c.state_dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (m->state_lock->get() < 0 || ::flock(m->state_lock->get(), LOCK_EX | LOCK_NB) != 0) {
        return fail(ErrorCode::failed,
                    fmt::format("another mailproxy serve uses the state directory {}", c.state_dir.string()));
    }
    for (const auto& dir : own_dirs) {
        const auto emptied = util::empty_dir(dir.fd.get());
        if (emptied.removed > 0)
            m->log.info(dir.cleaned,
                        {{"files", std::to_string(emptied.removed)}, {"dir", dir.path.string()}});
        if (emptied.failed > 0)  // mail is still taken: what is left is the admin's to look at
            m->log.error(dir.cleaned, {{"not_removed", std::to_string(emptied.failed)},
                                       {"dir", dir.path.string()},
                                       {"error", emptied.error}});
    }
    auto scanner = filter::open_scanner(scanner_choice(c));
    if (!scanner) {
        const bool db = c.scanner.clamd.empty() && scanner.error().code == ErrorCode::config;
        return fail(
            scanner.error().code == ErrorCode::unavailable ? ErrorCode::unavailable : ErrorCode::config,
            scanner.error().message + (db ? " (give --clamav-db or --clamd)" : ""));
    }
    m->scanner = *scanner;
    m->log.info("virus_scanner", {{"scanner", m->scanner->describe()}});
    m->spam = *filter::make_spam_engine(c.spam);  // checked by check()
    if (!m->spam) {
        m->log.info("spam_engine",
                    {{"engine", "none"}, {"note", "spam scoring is off; the lists still apply"}});
    } else if (auto why = m->spam->ping(); !why.empty()) {
        return fail(ErrorCode::unavailable, why);
    } else {
        m->log.info("spam_engine", {{"engine", m->spam->describe()}});
    }

    if (!c.tls_cert.empty()) {
        m->tls_server = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        asio::error_code tec;
        m->tls_server->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                       asio::ssl::context::no_tlsv1_1,
                                   tec);
        m->tls_server->use_certificate_chain_file(c.tls_cert, tec);
        if (!tec)
            m->tls_server->use_private_key_file(c.tls_key, asio::ssl::context::pem, tec);
        if (tec)
            return fail(ErrorCode::config, fmt::format("tls-cert/tls-key: {}", tec.message()));
    }
    m->tls_client.set_verify_mode(asio::ssl::verify_none);  // opportunistic, as between MTAs
    std::vector<std::string> bound;
    for (const auto& text : c.listen) {
        const auto la = *util::parse_host_port(text);  // checked by check()
        asio::error_code bec;
        const auto address = la.host.empty() ? asio::ip::address(asio::ip::address_v6::any())
                                             : asio::ip::make_address(la.host, bec);
        asio::ip::tcp::endpoint ep(address, la.port);
        auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(m->io);
        acceptor->open(ep.protocol(), bec);
        if (!bec)
            acceptor->set_option(asio::socket_base::reuse_address(true), bec);
        if (!bec && la.host.empty())
            acceptor->set_option(asio::ip::v6_only(false), bec);
        if (!bec)
            acceptor->bind(ep, bec);
        if (!bec)
            acceptor->listen(asio::socket_base::max_listen_connections, bec);
        if (bec)
            return fail(ErrorCode::io, fmt::format("cannot listen on {}: {}", text, bec.message()));
        const auto local = acceptor->local_endpoint();
        bound.push_back(local.address().is_v6()
                            ? fmt::format("[{}]:{}", local.address().to_string(), local.port())
                            : fmt::format("{}:{}", local.address().to_string(), local.port()));
        m->acceptors.push_back(std::move(acceptor));
    }
    if (!c.user.empty() && ::geteuid() == 0) {
        const auto* pw = ::getpwnam(c.user.c_str());
        if (pw == nullptr)
            return fail(ErrorCode::config, fmt::format("user: no user {}", c.user));
        if (::chown(c.state_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            return fail(ErrorCode::io, fmt::format("cannot hand {} to {}: {}", c.state_dir.string(), c.user,
                                                   std::strerror(errno)));
        for (const auto& dir : own_dirs) {
            if (::fchown(dir.fd.get(), pw->pw_uid, pw->pw_gid) != 0)
                return fail(ErrorCode::io, fmt::format("cannot hand {} to {}: {}", dir.path.string(), c.user,
                                                       std::strerror(errno)));
        }
        if (::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0 ||
            ::setuid(0) == 0) {
            return fail(ErrorCode::failed, fmt::format("cannot drop privileges to {}", c.user));
        }
        m->log.info("privileges", {{"user", c.user}});
    }
    // after the privilege drop: its files belong to the user serve runs as
    auto quarantine = Quarantine::open(c.state_dir);
    if (!quarantine)
        return tl::make_unexpected(quarantine.error());
    m->quarantine = std::move(*quarantine);
    auto greylist = Greylist::open(c.state_dir);
    if (!greylist)
        return tl::make_unexpected(greylist.error());
    m->greylist = std::move(*greylist);
    const auto now = static_cast<std::int64_t>(::time(nullptr));
    const GreylistTimes times{c.greylist_delay, c.greylist_retry_window, c.greylist_max_age};
    if (auto purged = m->greylist->purge(times, now); purged && *purged > 0)
        m->log.info("greylist_purged", {{"triplets", std::to_string(*purged)}});
    return bound;
}

void Server::run() {
    for (auto& a : m->acceptors)
        asio::co_spawn(m->io, m->accept(*a), asio::detached);
    m->wait_signal();
    m->io.run();
    if (m->cut_off) {
        // sessions are still suspended in the loop, scans may run on the pool: nothing of them is
        // unwound (their clients never got a 250; the spool files have no names and go with the process,
        // what libclamav extracted stays in tmp/ until the next start)
        m->log.info("stopped", {{"note", "cut off"}});
        std::fflush(nullptr);
        ::_exit(0);
    }
    if (m->reloader.joinable())
        m->reloader.join();
    m->log.info("stopped");
}

}  // namespace mailproxy::daemon
