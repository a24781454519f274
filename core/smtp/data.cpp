#include "core/smtp/data.hpp"

#include "core/smtp/protocol.hpp"

namespace mailproxy::smtp {

void DataReader::put(std::string& out, char c) {
    ++m_size;
    ++m_line;
    if (c == '\0')
        m_nul = true;
    if (m_line > k_max_text_line - 2)
        m_long_line = true;
    if (m_size > m_max)
        m_too_big = true;
    if (!m_too_big)
        out += c;
}

void DataReader::newline(std::string& out) {
    m_size += 2;
    m_line = 0;
    if (m_size > m_max)
        m_too_big = true;
    if (!m_too_big)
        out += "\r\n";
}

void DataReader::put_run(std::string& out, std::string_view run) {
    const auto before = m_size;
    m_size += run.size();
    m_line += run.size();
    if (m_line > k_max_text_line - 2)
        m_long_line = true;
    if (m_size > m_max) {
        if (!m_too_big && before < m_max)
            out.append(run.substr(0, m_max - before));
        m_too_big = true;
    }
    if (!m_too_big)
        out.append(run);
}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && m_state != State::done) {
        if (m_state == State::in_line) {
            // the common case: a run of ordinary bytes, taken whole
            std::size_t j = i;
            while (j < in.size() && in[j] != '\r' && in[j] != '\n' && in[j] != '\0')
                ++j;
            if (j > i) {
                put_run(out, in.substr(i, j - i));
                i = j;
                continue;
            }
        }
        const char c = in[i++];
        switch (m_state) {
            case State::line_start:
                if (c == '.') {
                    m_state = State::dot;
                    break;
                }
                [[fallthrough]];
            case State::in_line:
                if (c == '\r') {
                    m_state = State::cr;
                } else if (c == '\n') {
                    m_bare = true;
                    newline(out);
                    m_state = State::in_line;  // not a line start: no end marker, no unstuffing
                } else {
                    put(out, c);
                    m_state = State::in_line;
                }
                break;
            case State::dot:
                if (c == '\r') {
                    m_state = State::dot_cr;
                } else if (c == '\n') {
                    m_bare = true;  // ".\n": the dot was stuffing, the LF a bare one
                    newline(out);
                    m_state = State::in_line;
                } else {
                    put(out, c);  // the dot was stuffing
                    m_state = State::in_line;
                }
                break;
            case State::dot_cr:
                if (c == '\n') {
                    m_state = State::done;
                } else {
                    m_bare = true;  // ".\r" then something: a bare CR
                    newline(out);
                    m_state = State::in_line;
                    --i;  // read c again, not at a line start
                }
                break;
            case State::cr:
                if (c == '\n') {
                    newline(out);
                    m_state = State::line_start;
                } else {
                    m_bare = true;
                    newline(out);
                    m_state = State::in_line;
                    --i;
                }
                break;
            case State::done:
                break;
        }
    }
    return i;
}

void DotStuffer::feed(std::string_view in, std::string& out) {
    while (!in.empty()) {
        if (m_line_start && in.front() == '.')
            out += '.';
        // up to and with the next LF, taken whole
        const auto nl = in.find('\n');
        const auto n = nl == std::string_view::npos ? in.size() : nl + 1;
        out.append(in.substr(0, n));
        m_line_start = nl != std::string_view::npos;
        in.remove_prefix(n);
    }
}

std::string DotStuffer::finish() const {
    return m_line_start ? ".\r\n" : "\r\n.\r\n";
}

}  // namespace mailproxy::smtp
