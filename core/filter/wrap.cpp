#include "core/filter/wrap.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "core/filter/headers.hpp"
#include "core/util/file.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::filter {
namespace {

constexpr std::array k_copied{"from",       "to",       "cc",          "date",      "subject",
                              "message-id", "reply-to", "in-reply-to", "references"};

/// The header fields of the section whose names are in k_copied, with their folded lines, CR LF ended.
/// A line no mail server would take (over 998 characters, a NUL or a bare CR) drops its field.
std::string copied_fields(std::string_view section) {
    std::string out;
    std::string field;  // the current field's lines while it is copied
    bool copying = false;
    HeaderLines lines(section);
    std::string_view line;
    bool continuation = false;
    while (lines.next(line, continuation)) {
        if (!continuation) {
            if (copying)
                out += field;
            field.clear();
            const auto name = HeaderLines::name_of(line);
            copying =
                name && std::find(k_copied.begin(), k_copied.end(), util::to_lower(*name)) != k_copied.end();
        }
        copying = copying && line.size() <= 998 && line.find('\r') == std::string_view::npos &&
                  line.find('\0') == std::string_view::npos;
        if (copying)
            field.append(line).append("\r\n");
    }
    if (copying)
        out += field;
    return out;
}

}  // namespace

std::string header_value(std::string_view section, std::string_view name) {
    std::string value;
    bool in_field = false;
    HeaderLines lines(section);
    std::string_view line;
    bool continuation = false;
    while (lines.next(line, continuation)) {
        if (continuation) {
            if (in_field)
                value += " " + std::string(util::trim(line));
            continue;
        }
        if (in_field)
            break;
        const auto field = HeaderLines::name_of(line);
        if (field && util::to_lower(*field) == util::to_lower(name)) {
            in_field = true;
            value = std::string(util::trim(line.substr(line.find(':') + 1)));
        }
    }
    return value.substr(0, 200);
}

namespace {

bool is_spam_field(std::string_view line) {
    const auto lower = util::to_lower(line.substr(0, 16));
    return lower.starts_with("x-spam-flag:") || lower.starts_with("x-spam-status:") ||
           lower.starts_with("x-spam-level:") || lower.starts_with("x-spam-score:");
}

/// Copies `original` from `offset` to its end onto `out`.
Expected<void> copy_rest(int original, int out, off_t offset) {
    char buf[65536];
    for (;;) {
        const auto n = ::pread(original, buf, sizeof buf, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(ErrorCode::io, fmt::format("the message cannot be read: {}", std::strerror(errno)));
        if (n == 0)
            return {};
        offset += n;
        if (!util::write_all(out, std::string_view(buf, static_cast<std::size_t>(n))))
            return fail(ErrorCode::io,
                        fmt::format("the message cannot be written: {}", std::strerror(errno)));
    }
}

}  // namespace

bool has_spam_fields(std::string_view section) {
    HeaderLines lines(section);
    std::string_view line;
    bool continuation = false;
    while (lines.next(line, continuation)) {
        if (!continuation && is_spam_field(line))
            return true;
    }
    return false;
}

Expected<void> write_marked(int original, int out, std::string_view tag) {
    const auto head = read_header_part(original, k_max_header_bytes);  // as far as has_spam_fields looks
    const auto section = header_section(head);
    std::string text;  // the new header section
    bool dropping = false;
    bool tagged = tag.empty();
    for (std::size_t pos = 0; pos < section.size();) {
        auto nl = section.find('\n', pos);
        nl = nl == std::string_view::npos ? section.size() : nl + 1;
        const auto line = section.substr(pos, nl - pos);  // with its line end
        pos = nl;
        if (line.empty())
            continue;
        if (line.front() == ' ' || line.front() == '\t') {
            if (!dropping)
                text += line;
            continue;
        }
        dropping = is_spam_field(line);
        if (dropping)
            continue;
        if (!tagged && util::to_lower(line.substr(0, 8)) == "subject:") {
            tagged = true;
            auto value_at = std::size_t{8};
            while (value_at < line.size() && (line[value_at] == ' ' || line[value_at] == '\t'))
                ++value_at;
            const auto body = line.size() - (line.ends_with("\r\n") ? 2 : line.ends_with('\n') ? 1 : 0);
            // a line that the tag would take past 998: the value goes on a folded line of its own
            const bool fold = body + tag.size() > 998;
            text += std::string(line.substr(0, value_at)) + std::string(tag);
            if (fold) {
                while (text.back() == ' ')
                    text.pop_back();
                text += "\r\n ";
            }
            text += line.substr(value_at);
            continue;
        }
        text += line;
    }
    if (!tagged)
        text.insert(0, fmt::format("Subject: {}\r\n", tag));
    if (!util::write_all(out, text))
        return fail(ErrorCode::io, fmt::format("the message cannot be written: {}", std::strerror(errno)));
    return copy_rest(original, out, static_cast<off_t>(section.size()));
}

Expected<void> write_wrapped(int original, int out, const std::vector<std::string>& warning) {
    // the header section of the original, for the fields copied to the new message
    std::string head(256 * 1024, '\0');
    const auto got = ::pread(original, head.data(), head.size(), 0);
    if (got < 0)
        return fail(ErrorCode::io, fmt::format("the message cannot be read: {}", std::strerror(errno)));
    head.resize(static_cast<std::size_t>(got));
    thread_local std::mt19937_64 rng{std::random_device{}()};
    // 128 random bits: a boundary the original does not contain
    const auto boundary = fmt::format("=_mailproxy_{:016x}{:016x}", rng(), rng());  // 44 of RFC 2046's 70
    std::string text = copied_fields(header_section(head));
    text += "MIME-Version: 1.0\r\n";
    text += fmt::format("Content-Type: multipart/mixed;\r\n boundary=\"{}\"\r\n", boundary);
    text += "\r\nThis is a message in MIME format.\r\n\r\n";
    text += fmt::format(
        "--{}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        boundary);
    for (const auto& w : warning)
        text += w + "\r\n";
    text += fmt::format(
        "\r\n--{}\r\nContent-Type: message/rfc822; x-spam-type=original\r\nContent-Description: Original "
        "message\r\n"
        "Content-Disposition: attachment; filename=message\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        boundary);
    if (!util::write_all(out, text))
        return fail(ErrorCode::io,
                    fmt::format("the wrapped message cannot be written: {}", std::strerror(errno)));
    bool ends_in_newline = true;
    if (const auto size = ::lseek(original, 0, SEEK_END); size > 0) {
        char last = '\n';
        if (::pread(original, &last, 1, size - 1) == 1)
            ends_in_newline = last == '\n';
    }
    if (auto ok = copy_rest(original, out, 0); !ok)
        return ok;
    const auto end = fmt::format("{}--{}--\r\n", ends_in_newline ? "" : "\r\n", boundary);
    if (!util::write_all(out, end))
        return fail(ErrorCode::io,
                    fmt::format("the wrapped message cannot be written: {}", std::strerror(errno)));
    return {};
}

}  // namespace mailproxy::filter
