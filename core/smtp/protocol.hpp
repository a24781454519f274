#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailproxy::smtp {

/// RFC 5321 4.5.3.1: a command line is at most 512 octets with its CRLF, a text line 1000.
inline constexpr std::size_t k_max_command_line = 512;
inline constexpr std::size_t k_max_text_line = 1000;

enum class Verb {
    helo,
    ehlo,
    lhlo,
    mail,
    rcpt,
    data,
    bdat,
    rset,
    noop,
    quit,
    vrfy,
    expn,
    help,
    starttls,
    auth,
    unknown
};

struct Command {
    Verb verb = Verb::unknown;
    std::string arg;  ///< the rest of the line after the verb and its blank
};

/// Splits a command line (without its line end) into the verb (any case) and the argument.
Command parse_command(std::string_view line);

/// A MAIL FROM or RCPT TO path with its ESMTP parameters.
struct Path {
    std::string address;                                      ///< "" for the null sender <>
    std::string local;                                        ///< local part as written (quotes kept)
    std::string domain;                                       ///< as written
    std::vector<std::pair<std::string, std::string>> params;  ///< keyword upper-case, value as written
};

/// Why a path is refused, with the SMTP reply to give.
struct PathError {
    int code = 501;
    std::string enhanced = "5.5.4";
    std::string text;
};

/// Parses `FROM:<addr> [params]` (`mail` true) or `TO:<addr> [params]`. Source routes, a quoted local part
/// holding '@', '%' or '!' in the local part (old relay tricks), address literals and domains that are
/// not plain host names are refused: the proxy relays only to domains it has entries for, spelled
/// exactly.
std::optional<Path> parse_path(std::string_view arg, bool mail, PathError& error);

/// An EHLO/HELO name that may go into a Received: header: a host name (letters, digits, '-', '.', '_'; a
/// single label such as "localhost" too) or an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").
bool valid_helo(std::string_view name);

/// A reply: "250-first\r\n250 last\r\n" for several lines.
std::string reply(int code, std::string_view enhanced, std::string_view text);
std::string reply_lines(int code, const std::vector<std::string>& lines);

/// A reply as read from a peer: code and the text of its lines.
struct Reply {
    int code = 0;
    std::vector<std::string> lines;  ///< text after "NNN-" / "NNN "
    std::string text() const;        ///< the lines joined by "; "
    bool ok() const { return code >= 200 && code < 400; }
};

/// Feeds reply lines (without line ends); `done` is set at the last line of a reply. Bounded: at most
/// 100 lines of at most 1000 octets, else the reply is malformed.
class ReplyParser {
  public:
    enum class Status { more, done, bad };
    Status feed(std::string_view line);
    Reply take();

  private:
    Reply m_reply;
};

}  // namespace mailproxy::smtp
