#include "core/filter/banned.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <magic.h>

#include "core/util/strings.hpp"

namespace mailproxy::filter {
namespace {

// DESIGN §5.2 step 3
constexpr std::array k_double_ext{"exe", "vbs", "pif", "scr", "bat", "cmd", "com", "cpl", "dll"};
constexpr std::array k_banned_ext{
    "ade", "adp", "app", "bas", "bat", "chm", "cmd", "com", "cpl", "crt", "exe", "fxp", "hlp", "hta", "inf",
    "ins", "isp", "js",  "jse", "lnk", "mda", "mdb", "mde", "mdw", "mdt", "mdz", "msc", "msi", "msp", "mst",
    "ops", "pcd", "pif", "prg", "reg", "scr", "sct", "shb", "shs", "vb",  "vbe", "vbs", "wsc", "wsf", "wsh"};
constexpr std::array k_banned_mime{"application/x-msdownload", "application/x-msdos-program",
                                   "application/hta", "message/partial", "message/external-body"};
constexpr std::array k_banned_types{"exe-ms", "exe", "lha", "cab", "dll"};
constexpr std::array k_archive_types{"zip", "7z",  "rar", "cab", "lha", "tar",
                                     "gz",  "bz2", "xz",  "arj", "cpio"};

template <std::size_t N>
bool in(const std::array<const char*, N>& list, std::string_view s) {
    return std::any_of(list.begin(), list.end(), [&](const char* x) { return s == x; });
}

bool has_letter(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

/// One libmagic handle per thread (magic_t is not thread-safe), loaded once.
magic_t thread_magic() {
    struct Handle {
        magic_t m = nullptr;
        Handle() {
            m = magic_open(MAGIC_NONE);
            if (m != nullptr && magic_load(m, nullptr) != 0) {
                magic_close(m);
                m = nullptr;
            }
        }
        ~Handle() {
            if (m != nullptr)
                magic_close(m);
        }
    };
    thread_local Handle h;
    return h.m;
}

bool starts(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}
bool has(std::string_view s, std::string_view p) {
    return s.find(p) != std::string_view::npos;
}

}  // namespace

std::string_view to_string(Category c) {
    switch (c) {
        case Category::virus:
            return "virus";
        case Category::banned:
            return "banned";
        case Category::bad_header:
            return "bad-header";
        case Category::spam:
            return "spam";
    }
    return "?";
}

std::string banned_name_rule(std::string_view raw) {
    // trailing dots and blanks do not hide an extension ("a.exe. ")
    auto name = util::to_lower(raw);
    while (!name.empty() && (name.back() == '.' || name.back() == ' ' || name.back() == '\t'))
        name.pop_back();
    const auto last = name.rfind('.');
    if (last == std::string::npos || last == 0)
        return "";
    const auto ext = std::string_view(name).substr(last + 1);
    // double extension: another extension with a letter in front of a dangerous one ("invoice.pdf.exe")
    const auto before = std::string_view(name).substr(0, last);
    const auto prev = before.rfind('.');
    if (prev != std::string_view::npos && in(k_double_ext, ext)) {
        const auto first = before.substr(prev + 1);
        if (!first.empty() && first.find('/') == std::string_view::npos && has_letter(first))
            return fmt::format("double extension .{}.{}", first, ext);
    }
    if (in(k_banned_ext, ext))
        return fmt::format("extension .{}", ext);
    return "";
}

bool may_have_short_type(std::string_view d) {
    const auto at = [&](std::size_t off, std::string_view sig) {
        return off <= d.size() && d.substr(off, sig.size()) == sig;
    };
    using namespace std::string_view_literals;
    return at(0, "MZ") ||
           at(0,
              "\x7f"
              "ELF") ||
           at(0, "PK\x03\x04"sv) || at(0, "PK\x05\x06"sv) || at(0, "PK\x07\x08"sv) ||
           at(0, "7z\xbc\xaf\x27\x1c") || at(0, "Rar!") || at(0, "MSCF") || at(2, "-lh") || at(2, "-lz") ||
           at(257, "ustar") || at(0, "\x1f\x8b") || at(0, "BZh") ||
           at(0,
              "\xfd"
              "7zXZ") ||
           at(0, "\x60\xea") || at(0, "0707") || at(0, "\xc7\x71") || at(0, "\x71\xc7");
}

std::vector<std::string> short_types(std::string_view data) {
    if (!may_have_short_type(data))
        return {};
    auto m = thread_magic();
    if (m == nullptr)
        return {};
    const char* d = magic_buffer(m, data.data(), std::min<std::size_t>(data.size(), 1u << 20));
    if (d == nullptr)
        return {};
    const std::string_view desc(d);
    const bool windows = starts(desc, "PE32") || starts(desc, "MS-DOS executable") ||
                         starts(desc, "DOS executable") ||
                         (starts(desc, "MS Windows") && has(desc, "executable")) ||
                         (has(desc, "executable") && has(desc, "for MS Windows"));
    if (windows && has(desc, "(DLL)"))
        return {"exe", "dll"};
    if (windows && !has(desc, "(COM)"))
        return {"exe", "exe-ms"};
    if (starts(desc, "ELF") && (has(desc, "executable") || has(desc, "shared object")))
        return {"exe-unix"};
    const std::pair<std::string_view, const char*> k[] = {{"Zip archive", "zip"},
                                                          {"7-zip archive", "7z"},
                                                          {"RAR archive", "rar"},
                                                          {"RAR self-extracting", "rar"},
                                                          {"Microsoft Cabinet", "cab"},
                                                          {"LHa", "lha"},
                                                          {"LHarc", "lha"},
                                                          {"tar archive", "tar"},
                                                          {"gzip compressed", "gz"},
                                                          {"bzip2 compressed", "bz2"},
                                                          {"XZ compressed", "xz"},
                                                          {"ARJ archive", "arj"},
                                                          {"cpio archive", "cpio"}};
    for (const auto& [text, type] : k) {
        if (has(desc, text))
            return {type};
    }
    return {};
}

void BannedCheck::check(const MimePart& part, std::vector<Finding>& out) {
    const auto label = [&](const std::string& name) {
        return name.empty() ? part.path : part.path + " " + name;
    };
    for (const auto& n : part.names)
        check_name(n, label(n), out);
    if (in(k_banned_mime, part.content_type))
        out.push_back({Category::banned, "MIME type " + part.content_type,
                       label(part.names.empty() ? "" : part.names.front())});
    if (part.leaf)
        check_content(part.data, label(part.names.empty() ? "" : part.names.front()), 0, out);
}

void BannedCheck::check_name(const std::string& name, const std::string& where, std::vector<Finding>& out) {
    if (auto rule = banned_name_rule(name); !rule.empty())
        out.push_back({Category::banned, std::move(rule), where});
}

void BannedCheck::check_content(std::string_view data, const std::string& where, std::size_t depth,
                                std::vector<Finding>& out) {
    const auto types = short_types(data);
    // the most specific type names the finding: exe-ms rather than exe
    for (auto t = types.rbegin(); t != types.rend(); ++t) {
        if (in(k_banned_types, *t)) {
            out.push_back({Category::banned, "content type " + *t, where});
            break;
        }
    }
    if (!types.empty() && in(k_archive_types, types.front()))
        check_archive(data, types.front(), where, depth + 1, out);
}

void BannedCheck::check_archive(std::string_view data, const std::string& type, const std::string& where,
                                std::size_t depth, std::vector<Finding>& out) {
    const auto exceeded = [&](std::string_view what) {
        if (!m_exceeded)
            out.push_back({Category::banned, fmt::format("archive not fully checked ({})", what), where});
        m_exceeded = true;
    };
    if (depth > m_limits.max_depth)
        return exceeded("nested too deep");
    std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_all(a.get());
    archive_read_support_filter_all(a.get());
    if (type == "gz" || type == "bz2" || type == "xz")
        archive_read_support_format_raw(
            a.get());  // one compressed file, not a tar: its content is the member
    if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
        return exceeded("it cannot be read");  // libmagic called it an archive, libarchive cannot list it
    struct archive_entry* entry = nullptr;
    std::string member;
    for (;;) {
        const int rc = archive_read_next_header(a.get(), &entry);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)  // WARN: a name not convertible, say; go on
            return exceeded("it is damaged or encrypted");
        if (++m_entries > m_limits.max_entries)
            return exceeded("too many members");
        const char* p = archive_entry_pathname(entry);
        const std::string name = p != nullptr ? p : "";
        const auto base =
            name.substr(name.find_last_of('/') == std::string::npos ? 0 : name.find_last_of('/') + 1);
        const auto inner = where + "/" + name;
        check_name(base, inner, out);
        member.clear();
        char buf[16384];
        for (;;) {
            const auto n = archive_read_data(a.get(), buf, sizeof buf);
            if (n <= 0)
                break;  // the end, or a member that cannot be read (encrypted): its name was checked
            m_expanded += static_cast<std::size_t>(n);
            if (m_expanded > m_limits.max_expanded)
                return exceeded("expands too much");
            if (member.size() < m_limits.max_member)  // enough for its type and a nested archive
                member.append(buf,
                              std::min(static_cast<std::size_t>(n), m_limits.max_member - member.size()));
        }
        check_content(member, inner, depth, out);
    }
}

}  // namespace mailproxy::filter
