#include "zone/output.hpp"

#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mailproxy::zone {
namespace {

/// Line `n` (1-based) of a file, without its line end; "" when it cannot be read.
class LineCache {
  public:
    std::string line(const std::string& file, int n) {
        auto it = m_files.find(file);
        if (it == m_files.end())
            it = m_files.emplace(file, load(file)).first;
        const auto& lines = it->second;
        return n >= 1 && static_cast<std::size_t>(n) <= lines.size() ? lines[static_cast<std::size_t>(n - 1)]
                                                                     : "";
    }

  private:
    static std::vector<std::string> load(const std::string& file) {
        std::vector<std::string> lines;
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
        if (!f)
            return lines;
        std::string cur;
        for (int c; (c = std::fgetc(f.get())) != EOF;) {
            if (c == '\n') {
                if (!cur.empty() && cur.back() == '\r')
                    cur.pop_back();
                lines.push_back(std::move(cur));
                cur.clear();
            } else {
                cur += static_cast<char>(c);
            }
        }
        if (!cur.empty())
            lines.push_back(std::move(cur));
        return lines;
    }
    std::map<std::string, std::vector<std::string>> m_files;
};

std::string escape_data(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '%')
            out += "%25";
        else if (c == '\r')
            out += "%0D";
        else if (c == '\n')
            out += "%0A";
        else
            out += c;
    }
    return out;
}

std::string escape_property(std::string_view s) {
    std::string out;
    for (char c : escape_data(s)) {
        if (c == ':')
            out += "%3A";
        else if (c == ',')
            out += "%2C";
        else
            out += c;
    }
    return out;
}

}  // namespace

std::string format_text(const LintResult& r) {
    LineCache cache;
    std::string out;
    for (const auto& f : r.findings) {
        if (!r.answers.empty() || f.pos.col == 0) {
            // live DNS (`zone check`): the record as answered instead of a file line
            out += fmt::format("{}: {}: {} [{}]\n", f.pos.file, to_string(f.severity), f.message, f.rule);
            if (f.pos.line >= 1 && static_cast<std::size_t>(f.pos.line) <= r.answers.size())
                out += fmt::format("    {}\n", r.answers[static_cast<std::size_t>(f.pos.line - 1)]);
            if (!f.hint.empty())
                out += fmt::format("    hint: {}\n", f.hint);
            continue;
        }
        out += fmt::format("{}:{}:{}: {}: {} [{}]\n", f.pos.file, f.pos.line, f.pos.col,
                           to_string(f.severity), f.message, f.rule);
        const auto src = cache.line(f.pos.file, f.pos.line);
        if (!src.empty() && f.pos.col >= 1) {
            std::string caret;
            for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(f.pos.col) && i < src.size(); ++i) {
                caret += src[i] == '\t' ? '\t' : ' ';
            }
            caret += '^';
            if (f.width > 1)
                caret += std::string(static_cast<std::size_t>(f.width - 1), '~');
            out += fmt::format("    {}\n    {}\n", src, caret);
        }
        if (!f.hint.empty())
            out += fmt::format("    hint: {}\n", f.hint);
    }
    return out;
}

std::string format_json(const std::vector<LintResult>& results) {
    using json = nlohmann::ordered_json;
    json files = json::array(), findings = json::array();
    std::map<std::string, int> summary{{"error", 0}, {"warning", 0}, {"info", 0}};
    for (const auto& r : results) {
        files.push_back({{"file", r.file},
                         {"origin", r.origin},
                         {"origin_source", std::string(to_string(r.origin_source))},
                         {"records", r.records}});
        for (const auto& f : r.findings) {
            findings.push_back({{"file", f.pos.file},
                                {"line", f.pos.line},
                                {"column", f.pos.col},
                                {"severity", std::string(to_string(f.severity))},
                                {"rule", f.rule},
                                {"message", f.message},
                                {"hint", f.hint}});
            ++summary[std::string(to_string(f.severity))];
        }
    }
    json doc = {{"version", 1},
                {"files", files},
                {"findings", findings},
                {"summary",
                 {{"error", summary["error"]}, {"warning", summary["warning"]}, {"info", summary["info"]}}}};
    // zone text need not be UTF-8 (a Latin-1 TXT, say): replace such bytes rather than fail
    return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string format_github(const LintResult& r) {
    std::string out;
    for (const auto& f : r.findings) {
        const char* level = f.severity == Severity::error     ? "error"
                            : f.severity == Severity::warning ? "warning"
                                                              : "notice";
        out += fmt::format("::{} file={},line={},col={},title={}::{}\n", level, escape_property(f.pos.file),
                           f.pos.line, f.pos.col, escape_property(f.rule),
                           escape_data(f.message + " (" + f.hint + ")"));
    }
    return out;
}

}  // namespace mailproxy::zone
