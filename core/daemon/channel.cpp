#include "core/daemon/channel.hpp"

namespace mailproxy::daemon {

using namespace asio::experimental::awaitable_operators;

template <typename... T>
awaitable<std::tuple<asio::error_code, T...>> timed(awaitable<std::tuple<asio::error_code, T...>> op,
                                                    std::chrono::seconds limit) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(limit);
    auto result =
        co_await (std::move(op) || timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
    if (result.index() == 1)
        throw asio::system_error(asio::error::timed_out);
    auto r = std::get<0>(std::move(result));
    if (std::get<0>(r))
        throw asio::system_error(std::get<0>(r));
    co_return r;
}

template awaitable<std::tuple<asio::error_code>> timed(awaitable<std::tuple<asio::error_code>>,
                                                       std::chrono::seconds);
template awaitable<std::tuple<asio::error_code, std::size_t>> timed(
    awaitable<std::tuple<asio::error_code, std::size_t>>, std::chrono::seconds);
template awaitable<std::tuple<asio::error_code, asio::ip::tcp::resolver::results_type>> timed(
    awaitable<std::tuple<asio::error_code, asio::ip::tcp::resolver::results_type>>, std::chrono::seconds);
template awaitable<std::tuple<asio::error_code, asio::ip::tcp::endpoint>> timed(
    awaitable<std::tuple<asio::error_code, asio::ip::tcp::endpoint>>, std::chrono::seconds);

namespace {
constexpr auto k_tuple = asio::experimental::as_tuple(asio::use_awaitable);
}

asio::any_io_executor Channel::socket_executor() {
    return std::visit([](auto& s) { return asio::any_io_executor(s.get_executor()); }, m_sock);
}

Channel::~Channel() = default;  // the timer's pending wait ends with the channel, and m_self with it

void Channel::arm(std::chrono::seconds limit) {
    m_timed_out = false;
    m_deadline = clock::now() + limit;
    if (m_watching && m_timer.expiry() <= m_deadline)
        return;                      // the watchdog wakes up in time and then waits for the rest
    m_timer.expires_at(m_deadline);  // cancels a later wait, which then ends as an old generation
    watch();
}

void Channel::watch() {
    m_watching = true;
    const auto generation = ++m_generation;
    m_timer.async_wait([self = std::weak_ptr<Channel*>(m_self), generation](const asio::error_code& ec) {
        const auto alive = self.lock();
        if (!alive || (*alive)->m_generation != generation)
            return;  // the channel is gone, or the wait was replaced by an earlier one
        auto& ch = **alive;
        ch.m_watching = false;
        if (ec || ch.m_deadline == clock::time_point::max())
            return;  // closed, or no operation under way: the next one arms the watchdog again
        if (clock::now() < ch.m_deadline) {
            ch.m_timer.expires_at(ch.m_deadline);
            ch.watch();
            return;
        }
        ch.m_timed_out = true;
        ch.cancel();
    });
}

void Channel::finish(const asio::error_code& ec) {
    m_deadline = clock::time_point::max();
    if (m_timed_out)
        throw asio::system_error(asio::error::timed_out);
    if (ec)
        throw asio::system_error(ec);
}

awaitable<std::size_t> Channel::read_some(asio::mutable_buffer b, std::chrono::seconds limit) {
    arm(limit);
    std::tuple<asio::error_code, std::size_t> r;
    if (m_tls)
        r = co_await m_tls->async_read_some(b, k_tuple);
    else if (auto* tcp = std::get_if<asio::ip::tcp::socket>(&m_sock))
        r = co_await tcp->async_read_some(b, k_tuple);
    else
        r = co_await std::get<asio::local::stream_protocol::socket>(m_sock).async_read_some(b, k_tuple);
    finish(std::get<0>(r));
    co_return std::get<1>(r);
}

awaitable<void> Channel::write(std::string_view data, std::chrono::seconds limit) {
    const auto buf = asio::buffer(data.data(), data.size());
    arm(limit);
    std::tuple<asio::error_code, std::size_t> r;
    if (m_tls)
        r = co_await asio::async_write(*m_tls, buf, k_tuple);
    else if (auto* tcp = std::get_if<asio::ip::tcp::socket>(&m_sock))
        r = co_await asio::async_write(*tcp, buf, k_tuple);
    else
        r = co_await asio::async_write(std::get<asio::local::stream_protocol::socket>(m_sock), buf, k_tuple);
    finish(std::get<0>(r));
}

awaitable<void> Channel::start_tls(asio::ssl::context& ctx, bool server, std::chrono::seconds limit) {
    auto& tcp = std::get<asio::ip::tcp::socket>(m_sock);
    m_tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(tcp, ctx);
    const auto type = server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
    arm(limit);
    auto [ec] = co_await m_tls->async_handshake(type, k_tuple);
    finish(ec);
}

void Channel::close() {
    m_timer.cancel();  // a closed channel keeps no timer (nor the event loop) waiting
    asio::error_code ec;
    std::visit([&](auto& s) { s.close(ec); }, m_sock);  // the only descriptor: close sends the FIN
}

void Channel::cancel() {
    asio::error_code ec;
    std::visit([&](auto& s) { s.cancel(ec); }, m_sock);
}

std::string Channel::tls_version() const {
    if (!m_tls)
        return "";
    const char* v = SSL_get_version(m_tls->native_handle());
    return v != nullptr ? v : "TLS";
}

awaitable<void> LineReader::fill(std::chrono::seconds timeout, std::size_t most) {
    // straight into the buffer's tail; `most` small while waiting for commands keeps an idle
    // connection's memory small
    const auto old = m_buf.size();
    m_buf.resize(old + most);
    std::size_t n = 0;
    try {
        n = co_await m_ch.read_some(asio::buffer(m_buf.data() + old, most), timeout);
    } catch (...) {
        m_buf.resize(old);
        throw;
    }
    m_buf.resize(old + n);
}

void LineReader::shrink() {
    if (m_buf.capacity() > 4096)
        m_buf.shrink_to_fit();
}

awaitable<std::optional<std::string>> LineReader::line(std::size_t limit, std::chrono::seconds timeout,
                                                       bool& too_long) {
    too_long = false;
    for (;;) {
        const auto nl = m_buf.find('\n');
        if (nl != std::string::npos) {
            if (m_skipping) {
                m_buf.erase(0, nl + 1);
                m_skipping = false;
                too_long = true;
                co_return std::nullopt;
            }
            std::string line = m_buf.substr(0, nl);
            m_buf.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            if (line.size() + 2 > limit) {
                too_long = true;
                co_return std::nullopt;
            }
            co_return line;
        }
        if (m_buf.size() > limit) {
            m_buf.clear();  // the rest of this line is skipped when its end comes
            m_skipping = true;
        }
        co_await fill(timeout);
    }
}

}  // namespace mailproxy::daemon
