#include "core/filter/headers.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

#include "core/smtp/protocol.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::filter {
namespace {

constexpr std::array k_single_use{"date",
                                  "from",
                                  "sender",
                                  "reply-to",
                                  "to",
                                  "cc",
                                  "bcc",
                                  "subject",
                                  "message-id",
                                  "references",
                                  "in-reply-to",
                                  "mime-version",
                                  "content-type",
                                  "content-transfer-encoding",
                                  "content-id",
                                  "content-description",
                                  "content-disposition",
                                  "auto-submitted"};

bool field_name_ok(std::string_view n) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && c != ':';
    });
}

}  // namespace

bool HeaderLines::next(std::string_view& line, bool& continuation) {
    if (pos_ >= section_.size())
        return false;
    auto nl = section_.find('\n', pos_);
    if (nl == std::string_view::npos)
        nl = section_.size();
    line = section_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    continuation = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    return true;
}

std::optional<std::string_view> HeaderLines::name_of(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    return util::trim(line.substr(0, colon));
}

std::string_view header_section(std::string_view message) {
    std::size_t pos = 0;
    while (pos < message.size()) {
        const auto nl = message.find('\n', pos);
        if (nl == std::string_view::npos)
            return message;
        const auto line = message.substr(pos, nl - pos);
        if (line.empty() || line == "\r")
            return message.substr(0, pos);
        pos = nl + 1;
    }
    return message;
}

std::string read_header_part(int fd, std::size_t most) {
    std::string head;
    char buf[16384];
    while (head.size() < most) {
        const auto n =
            ::pread(fd, buf, std::min(sizeof buf, most - head.size()), static_cast<off_t>(head.size()));
        if (n <= 0)
            return head;  // the whole message
        head.append(buf, static_cast<std::size_t>(n));
        if (header_section(head).size() < head.size())
            return head;
    }
    // no end within the bound: whole lines only, so that no field is cut in two
    const auto nl = head.rfind('\n');
    head.resize(nl == std::string::npos ? 0 : nl + 1);
    return head;
}

std::vector<Finding> check_headers(std::string_view section, const MimeWalk& mime, bool mbox_from_line) {
    std::vector<Finding> out;
    const auto add = [&](std::string what, std::string where) {
        if (out.size() < 50)  // a hostile header section may break every rule on every line
            out.push_back({Category::bad_header, std::move(what), std::move(where)});
    };
    std::map<std::string, int> seen;  // single-use fields: the line of the first
    std::string field;                // the field the current line belongs to
    std::size_t start = 0;
    int number = 0;
    if (mbox_from_line && section.starts_with("From ")) {
        start = std::min(section.size(), section.find('\n') + 1);  // npos + 1 == 0: a lone line stays
        number = start > 0 ? 1 : 0;
    }
    HeaderLines lines(section, start);
    std::string_view line;
    bool continuation = false;
    while (lines.next(line, continuation)) {
        ++number;
        if (!continuation) {
            const auto name = HeaderLines::name_of(line);
            field = name ? std::string(*name) : "";
            if (!name || !field_name_ok(line.substr(0, line.find(':'))) || line.starts_with("--")) {
                add("header syntax error (not name: value)", fmt::format("line {}", number));
                field.clear();
            } else {
                const auto lower = util::to_lower(field);
                if (std::find(k_single_use.begin(), k_single_use.end(), lower) != k_single_use.end()) {
                    if (const auto it = seen.find(lower); it != seen.end())
                        add(fmt::format("duplicate header {} (first on line {})", field, it->second),
                            fmt::format("{}, line {}", field, number));
                    else
                        seen.emplace(lower, number);
                }
            }
        } else if (field.empty() && number == 1) {
            add("header syntax error (continuation without a header)", "line 1");
        } else if (util::trim(line).empty()) {
            add("folded header line made only of whitespace", fmt::format("{}, line {}", field, number));
        }
        const auto where =
            field.empty() ? fmt::format("line {}", number) : fmt::format("{}, line {}", field, number);
        if (line.size() > smtp::k_max_text_line - 2)
            add(fmt::format("header line longer than {} characters", smtp::k_max_text_line - 2), where);
        if (line.find('\0') != std::string_view::npos)
            add("NUL in a header", where);
        if (line.find('\r') != std::string_view::npos)
            add("CR in a header", where);
        if (std::any_of(line.begin(), line.end(),
                        [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
            add("unencoded 8-bit character in a header", where);
    }
    for (const char* required : {"date", "from"}) {
        if (!seen.contains(required))
            add(fmt::format("missing {} header", required[0] == 'd' ? "Date" : "From"), "header");
    }
    for (const auto& issue : mime.issues) {
        const bool boundary =
            util::to_lower(issue.item).find("boundary") != std::string::npos &&
            (issue.text == "duplicated parameter" || issue.text == "conflicting header parameter");
        if (boundary) {
            add("ambiguous MIME structure: the boundary is given twice (CVE-2024-28054)", "Content-Type");
        } else if (issue.critical || issue.text == "invalid content type" ||
                   issue.text == "multipart without parts" || issue.text == "truncated message" ||
                   issue.text == "malformed message" || issue.text == "part without content" ||
                   issue.text == "duplicated parameter") {
            add("MIME error: " + issue.text +
                    (issue.item.empty() ? "" : " (" + issue.item.substr(0, 80) + ")"),
                "MIME structure");
        }
    }
    if (mime.parsed && mime.incomplete)
        add("MIME error: " + mime.incomplete_why, "MIME structure");
    return out;
}

}  // namespace mailproxy::filter
