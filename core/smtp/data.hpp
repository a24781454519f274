#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailproxy::smtp {

/// The DATA stream of a client turned into the message (no I/O). The end is only CRLF "." CRLF. A bare
/// CR or LF is never a line end: it becomes CRLF in the message, and the line after it is not a line start
/// for the end marker or dot-unstuffing, so that "\n.\r\n" and the like can never end the data or be
/// forwarded as an end (SMTP smuggling). A dot that starts a line (after a real CRLF) is removed. The
/// message is bounded: beyond `max_size` bytes nothing more is appended (too_big), lines longer than 998
/// characters and NUL bytes are flagged; reading goes on to the end marker either way.
class DataReader {
  public:
    explicit DataReader(std::size_t max_size) : m_max(max_size) {}

    /// Consumes input, appending message bytes to `out`; returns how much input it consumed, which is all
    /// of it unless the end marker was found (the bytes after it are the next command).
    std::size_t feed(std::string_view in, std::string& out);

    bool done() const { return m_state == State::done; }
    bool too_big() const { return m_too_big; }
    bool line_too_long() const { return m_long_line; }
    bool has_nul() const { return m_nul; }
    bool had_bare_line_end() const { return m_bare; }
    std::size_t size() const { return m_size; }  ///< message bytes, counted past the limit too

  private:
    enum class State { line_start, dot, dot_cr, in_line, cr, done };
    void put(std::string& out, char c);
    void put_run(std::string& out, std::string_view run);  ///< put() for each byte, none CR, LF or NUL
    void newline(std::string& out);

    std::size_t m_max;
    State m_state = State::line_start;
    std::size_t m_size = 0;
    std::size_t m_line = 0;
    bool m_too_big = false;
    bool m_long_line = false;
    bool m_nul = false;
    bool m_bare = false;
};

/// Dot-stuffs a message (CRLF lines) for sending with DATA, in chunks; finish() gives the end marker.
class DotStuffer {
  public:
    void feed(std::string_view in, std::string& out);
    /// The end: CRLF first if the message did not end with one, then ".\r\n".
    std::string finish() const;

  private:
    bool m_line_start = true;
};

}  // namespace mailproxy::smtp
