#include "cli/output.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::cli {
namespace {

void print_lines(std::string_view prefix, std::string_view message) {
    for (const auto& line : util::split(message, '\n'))
        std::cerr << prefix << line << '\n';
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty())
            out += sep;
        out += s;
    }
    return out;
}

}  // namespace

void print_error(std::string_view message) {
    print_lines("mailproxy: error: ", message);
}
void print_warning(std::string_view message) {
    print_lines("mailproxy: warning: ", message);
}
void print_note(const Globals& g, std::string_view message) {
    if (!g.quiet)
        print_lines("mailproxy: ", message);
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c)
        width[c] = header[c].size();
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
            width[c] = std::max(width[c], row[c].size());
    }
    const auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            s += cells[c];
            if (c + 1 < cells.size())
                s += std::string(width[c] - cells[c].size() + 2, ' ');
        }
        out << s << '\n';
    };
    line(header);
    for (const auto& row : rows)
        line(row);
}

void print_entry(std::ostream& out, const entry::MailProxy& e) {
    const auto& p = e.policy;
    const auto list = [](const entry::MailList& l) {
        return l.emails.empty() ? std::string("-") : join(l.emails, ", ");
    };
    std::vector<std::vector<std::string>> rows{
        {"domain", e.domain},
        {"target", e.target},
        {"admin", e.admin},
        {"protection", std::string(entry::to_string(e.protection))},
        {"greylisting", e.greylisting ? "ENABLED" : "DISABLED"},
        {"virus", std::string(entry::to_string(p.virus))},
        {"bannedFiles", std::string(entry::to_string(p.banned_files))},
        {"header", std::string(entry::to_string(p.header))},
        {"spam.mode", std::string(entry::to_string(p.spam.mode))},
        {"spam.modifySubject", p.spam.modify_subject ? "true" : "false"},
        {"spam.tagHeader", util::format_number(p.spam.tag_header)},
        {"spam.spam", util::format_number(p.spam.spam)},
        {"spam.kill", util::format_number(p.spam.kill)},
        {"spam.quarantineDigestInterval", std::to_string(p.spam.quarantine_digest_interval)},
        {"whitelist", list(e.whitelist)},
        {"blacklist", list(e.blacklist)},
        {"excludelist", list(e.excludelist)},
    };
    for (const auto& [k, v] : e.unknown.items())
        rows.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
    std::size_t width = 0;
    for (const auto& r : rows)
        width = std::max(width, r[0].size());
    for (const auto& r : rows)
        out << r[0] << std::string(width - r[0].size() + 2, ' ') << r[1] << '\n';
}

std::string json_text(const nlohmann::ordered_json& j) {
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Expected<std::string> read_input(const std::string& file, std::size_t limit) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (file != "-") {
        f.open(file, std::ios::binary);
        if (!f)
            return fail(ErrorCode::io, fmt::format("cannot read {}: {}", file, std::strerror(errno)));
        in = &f;
    }
    std::string data;
    char buf[65536];
    while (in->read(buf, sizeof buf) || in->gcount() > 0) {
        data.append(buf, static_cast<std::size_t>(in->gcount()));
        if (data.size() > limit) {
            return fail(ErrorCode::invalid, fmt::format("{}: larger than {} bytes",
                                                        file == "-" ? "standard input" : file, limit));
        }
    }
    if (in->bad())
        return fail(ErrorCode::io, fmt::format("cannot read {}", file == "-" ? "standard input" : file));
    return data;
}

}  // namespace mailproxy::cli
