#include "core/daemon/channel.hpp"

namespace mailproxy::daemon {

using namespace asio::experimental::awaitable_operators;

template <typename T>
awaitable<T> Channel::timed(awaitable<T> op, std::chrono::seconds limit) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(limit);
    auto result = co_await (std::move(op) || timer.async_wait(asio::use_awaitable));
    if (result.index() == 1)
        throw asio::system_error(asio::error::timed_out);
    if constexpr (!std::is_void_v<T>)
        co_return std::get<0>(std::move(result));
}

awaitable<std::size_t> Channel::read_some(asio::mutable_buffer b, std::chrono::seconds limit) {
    if (m_tls)
        co_return co_await timed(m_tls->async_read_some(b, asio::use_awaitable), limit);
    if (auto* tcp = std::get_if<asio::ip::tcp::socket>(&m_sock))
        co_return co_await timed(tcp->async_read_some(b, asio::use_awaitable), limit);
    auto& unix = std::get<asio::local::stream_protocol::socket>(m_sock);
    co_return co_await timed(unix.async_read_some(b, asio::use_awaitable), limit);
}

awaitable<void> Channel::write(std::string_view data, std::chrono::seconds limit) {
    const auto buf = asio::buffer(data.data(), data.size());
    if (m_tls) {
        co_await timed(asio::async_write(*m_tls, buf, asio::use_awaitable), limit);
    } else if (auto* tcp = std::get_if<asio::ip::tcp::socket>(&m_sock)) {
        co_await timed(asio::async_write(*tcp, buf, asio::use_awaitable), limit);
    } else {
        auto& unix = std::get<asio::local::stream_protocol::socket>(m_sock);
        co_await timed(asio::async_write(unix, buf, asio::use_awaitable), limit);
    }
}

awaitable<void> Channel::start_tls(asio::ssl::context& ctx, bool server, std::chrono::seconds limit) {
    auto& tcp = std::get<asio::ip::tcp::socket>(m_sock);
    m_tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(tcp, ctx);
    const auto type = server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
    co_await timed(m_tls->async_handshake(type, asio::use_awaitable), limit);
}

void Channel::close() {
    asio::error_code ec;
    std::visit(
        [&](auto& s) {
            s.shutdown(asio::socket_base::shutdown_both, ec);
            s.close(ec);
        },
        m_sock);
}

std::string Channel::tls_version() const {
    if (!m_tls)
        return "";
    const char* v = SSL_get_version(m_tls->native_handle());
    return v != nullptr ? v : "TLS";
}

awaitable<void> LineReader::fill(std::chrono::seconds timeout) {
    char chunk[16384];
    const auto n = co_await m_ch.read_some(asio::buffer(chunk), timeout);
    m_buf.append(chunk, n);
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
