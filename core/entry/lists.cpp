#include "core/entry/lists.hpp"

#include "core/util/strings.hpp"

namespace mailproxy::entry {
namespace {

constexpr std::size_t k_max_addresses = 20;

/// Local part as given, domain in lower case; "" for something without an @.
std::string normalized(std::string_view address) {
    const auto at = address.rfind('@');
    if (at == std::string_view::npos)
        return "";
    return std::string(address.substr(0, at + 1)) + util::to_lower(address.substr(at + 1));
}

}  // namespace

bool on_list(const MailList& list, std::string_view address) {
    const auto a = normalized(util::trim(address));
    if (a.empty() || a.front() == '@')
        return false;
    const auto domain = std::string_view(a).substr(a.rfind('@'));  // "@example.com"
    for (const auto& e : list.emails) {
        const auto n = normalized(e);
        if (n.empty())
            continue;
        if (n.front() == '@' ? n == domain : n == a)
            return true;
    }
    return false;
}

std::vector<std::string> header_addresses(std::string_view value) {
    std::vector<std::string> out;
    // angle-bracketed addresses first: "Name <a@b>" and lists of them
    for (std::size_t pos = 0; out.size() < k_max_addresses;) {
        const auto open = value.find('<', pos);
        if (open == std::string_view::npos)
            break;
        const auto close = value.find('>', open);
        if (close == std::string_view::npos)
            break;
        out.emplace_back(util::trim(value.substr(open + 1, close - open - 1)));
        pos = close + 1;
    }
    if (!out.empty())
        return out;
    // bare addresses, maybe with (comments)
    std::string plain;
    int depth = 0;
    for (const char c : value) {
        if (c == '(')
            ++depth;
        else if (c == ')' && depth > 0)
            --depth;
        else if (depth == 0)
            plain += c;
    }
    for (std::size_t pos = 0; pos <= plain.size() && out.size() < k_max_addresses;) {
        auto comma = plain.find(',', pos);
        if (comma == std::string::npos)
            comma = plain.size();
        const auto item = util::trim(std::string_view(plain).substr(pos, comma - pos));
        if (item.find('@') != std::string_view::npos)
            out.emplace_back(item);
        pos = comma + 1;
    }
    return out;
}

}  // namespace mailproxy::entry
