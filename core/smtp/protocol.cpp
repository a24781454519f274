#include "core/smtp/protocol.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::smtp {
namespace {

bool ieq(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

/// A plain host name: labels of letters, digits and hyphens, not starting or ending with a hyphen, at
/// least two labels, no trailing dot.
bool plain_domain(std::string_view d);

}  // namespace

bool valid_helo(std::string_view name) {
    if (name.size() >= 3 && name.front() == '[' && name.back() == ']') {
        const auto inner = name.substr(1, name.size() - 2);
        return std::all_of(inner.begin(), inner.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == 'I' ||
                   c == 'P' || c == 'v' || c == 'V' || c == '6';
        });
    }
    if (name.empty() || name.size() > 253)
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

namespace {

bool plain_domain(std::string_view d) {
    if (d.empty() || d.size() > 253 || d.back() == '.' || d.front() == '.')
        return false;
    std::size_t labels = 0;
    std::size_t start = 0;
    while (start <= d.size()) {
        auto dot = d.find('.', start);
        if (dot == std::string_view::npos)
            dot = d.size();
        const auto label = d.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
                return false;
        }
        ++labels;
        start = dot + 1;
    }
    return labels >= 2;
}

/// RFC 5321 dot-string atoms plus a quoted string; `quoted_at` is set when a quoted local part holds '@'.
bool local_part_ok(std::string_view l, std::string& why) {
    if (l.empty() || l.size() > 64) {
        why = "the local part is empty or longer than 64 characters";
        return false;
    }
    if (l.front() == '"') {
        if (l.size() < 2 || l.back() != '"') {
            why = "the quoted local part is not closed";
            return false;
        }
        for (std::size_t i = 1; i + 1 < l.size(); ++i) {
            char c = l[i];
            if (c == '\\' && i + 2 < l.size())
                c = l[++i];  // the escaped character is checked like any other
            if (c == '@' || c == '%' || c == '!') {
                why = "a quoted local part holding '@', '%' or '!' is refused (relay trick)";
                return false;
            }
            if (static_cast<unsigned char>(c) < 32 || c == 127) {
                why = "the local part holds a control character";
                return false;
            }
        }
        return true;
    }
    if (l.front() == '.' || l.back() == '.' || l.find("..") != std::string_view::npos) {
        why = "the local part has a misplaced dot";
        return false;
    }
    for (char c : l) {
        if (c == '%' || c == '!') {
            why = "'%' and '!' in the local part are refused (old relay tricks)";
            return false;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u == 127 || std::string_view("()<>[]:;@\\,\"").find(c) != std::string_view::npos) {
            if (u < 128) {
                why = "the local part holds a character that needs quoting";
                return false;
            }
        }
    }
    return true;
}

}  // namespace

Command parse_command(std::string_view line) {
    Command c;
    const auto sp = line.find(' ');
    const auto verb = line.substr(0, sp);
    c.arg = sp == std::string_view::npos ? "" : std::string(line.substr(sp + 1));
    static const std::pair<std::string_view, Verb> verbs[] = {
        {"HELO", Verb::helo}, {"EHLO", Verb::ehlo},         {"LHLO", Verb::lhlo}, {"MAIL", Verb::mail},
        {"RCPT", Verb::rcpt}, {"DATA", Verb::data},         {"BDAT", Verb::bdat}, {"RSET", Verb::rset},
        {"NOOP", Verb::noop}, {"QUIT", Verb::quit},         {"VRFY", Verb::vrfy}, {"EXPN", Verb::expn},
        {"HELP", Verb::help}, {"STARTTLS", Verb::starttls}, {"AUTH", Verb::auth}};
    for (const auto& [name, v] : verbs) {
        if (ieq(verb, name)) {
            c.verb = v;
            break;
        }
    }
    return c;
}

std::optional<Path> parse_path(std::string_view arg, bool mail, PathError& error) {
    const std::string_view prefix = mail ? "FROM:" : "TO:";
    const auto syntax = [&](std::string text) {
        error = {501, "5.5.4", std::move(text)};
        return std::nullopt;
    };
    if (arg.size() < prefix.size() || !ieq(arg.substr(0, prefix.size()), prefix))
        return syntax(fmt::format("expected {}<address>", mail ? "MAIL FROM:" : "RCPT TO:"));
    arg.remove_prefix(prefix.size());
    while (!arg.empty() && arg.front() == ' ')
        arg.remove_prefix(1);  // "MAIL FROM: <a@b>" is common, if not RFC 5321
    if (arg.empty() || arg.front() != '<')
        return syntax("the address must be in angle brackets");
    // the closing '>' outside a quoted string
    std::size_t close = std::string_view::npos;
    bool quoted = false;
    for (std::size_t i = 1; i < arg.size(); ++i) {
        const char c = arg[i];
        if (quoted && c == '\\') {
            ++i;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        else if (c == '>' && !quoted) {
            close = i;
            break;
        }
    }
    if (close == std::string_view::npos)
        return syntax("the address has no closing '>'");
    Path p;
    const auto inner = arg.substr(1, close - 1);
    auto rest = arg.substr(close + 1);
    if (!rest.empty() && rest.front() != ' ')
        return syntax("expected a blank after the address");
    for (auto& word : util::split(util::trim(rest), ' ')) {
        if (word.empty())
            continue;
        const auto eq = word.find('=');
        auto key = util::to_upper(word.substr(0, eq));
        if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
            })) {
            return syntax(fmt::format("malformed parameter {}", word));
        }
        p.params.emplace_back(std::move(key), eq == std::string::npos ? "" : word.substr(eq + 1));
    }
    if (inner.empty()) {
        if (!mail)
            return syntax("a recipient cannot be empty");
        return p;  // the null sender
    }
    if (inner.front() == '@') {
        error = {553, "5.7.1", "source routes are not accepted"};
        return std::nullopt;
    }
    // the domain starts after the last '@' outside quotes
    std::size_t at = std::string_view::npos;
    quoted = false;
    for (std::size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        if (quoted && c == '\\') {
            ++i;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        else if (c == '@' && !quoted)
            at = i;
    }
    if (!mail && ieq(inner, "postmaster"))
        return syntax("a recipient needs a domain (postmaster@domain)");
    if (at == std::string_view::npos)
        return syntax("the address needs a domain");
    p.local = std::string(inner.substr(0, at));
    p.domain = std::string(inner.substr(at + 1));
    p.address = std::string(inner);
    std::string why;
    if (!local_part_ok(p.local, why)) {
        error = {553, "5.1.3", why};
        return std::nullopt;
    }
    if (!p.domain.empty() && p.domain.front() == '[') {
        error = {553, "5.1.2", "address literals are not accepted"};
        return std::nullopt;
    }
    if (!plain_domain(p.domain)) {
        error = {553, "5.1.2", fmt::format("{} is not a plain domain name", p.domain)};
        return std::nullopt;
    }
    return p;
}

std::string reply(int code, std::string_view enhanced, std::string_view text) {
    return enhanced.empty() ? fmt::format("{} {}\r\n", code, text)
                            : fmt::format("{} {} {}\r\n", code, enhanced, text);
}

std::string reply_lines(int code, const std::vector<std::string>& lines) {
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i)
        out += fmt::format("{}{}{}\r\n", code, i + 1 < lines.size() ? '-' : ' ', lines[i]);
    return out;
}

std::string Reply::text() const {
    std::string out;
    for (const auto& l : lines)
        out += (out.empty() ? "" : "; ") + l;
    return out;
}

ReplyParser::Status ReplyParser::feed(std::string_view line) {
    if (line.size() < 3 || line.size() > k_max_text_line || m_reply.lines.size() >= 100)
        return Status::bad;
    for (int i = 0; i < 3; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(line[static_cast<std::size_t>(i)])))
            return Status::bad;
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599 || (m_reply.code != 0 && code != m_reply.code))
        return Status::bad;
    m_reply.code = code;
    const char sep = line.size() > 3 ? line[3] : ' ';
    if (sep != ' ' && sep != '-')
        return Status::bad;
    m_reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : "");
    return sep == '-' ? Status::more : Status::done;
}

Reply ReplyParser::take() {
    return std::exchange(m_reply, {});
}

}  // namespace mailproxy::smtp
