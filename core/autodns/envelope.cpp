#include "core/autodns/envelope.hpp"

#include <fmt/format.h>

namespace mailproxy::autodns {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t k_max_messages = 20;
constexpr std::size_t k_max_text = 300;

// Server text goes into one terminal line and into JSON output: no control characters, valid UTF-8
// (a byte that does not start a complete sequence becomes '?'), bounded length, never cut mid-character.
std::string clean(std::string_view s, std::size_t limit = k_max_text) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (out.size() >= limit) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x80) {
            out += (u < 0x20 || u == 0x7f) ? ' ' : static_cast<char>(u);
            ++i;
            continue;
        }
        const std::size_t len = u >= 0xf0 && u <= 0xf4 ? 4 : u >= 0xe0 ? 3 : u >= 0xc2 && u <= 0xdf ? 2 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

std::string string_at(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return {};
    return clean(it->get<std::string>());
}

std::string describe(const Envelope& e, long http) {
    std::string s = "AutoDNS error";
    if (!e.status_code.empty())
        s += " " + e.status_code;
    if (!e.status_text.empty())
        s += ": " + e.status_text;
    for (const auto& m : e.messages) {
        s += fmt::format(" [{}{}{}]", m.code, m.code.empty() || m.text.empty() ? "" : ": ", m.text);
    }
    s += fmt::format(" (HTTP {}", http);
    if (!e.stid.empty())
        s += ", stid " + e.stid;
    return s + ")";
}

}  // namespace

Expected<Envelope> interpret(const HttpResponse& r) {
    const auto code = r.status == 404 ? ErrorCode::not_found : ErrorCode::failed;
    const auto stid_note = r.stid.empty() ? std::string() : ", stid " + clean(r.stid, 80);
    json j;
    try {
        j = json::parse(r.body);
    } catch (const json::exception&) {
        if (r.body.empty()) {
            return fail(code,
                        fmt::format("AutoDNS answered HTTP {} with an empty body{}", r.status, stid_note));
        }
        return fail(code, fmt::format("AutoDNS answered HTTP {} with a body that is not JSON{}: \"{}\"",
                                      r.status, stid_note, clean(r.body, 80)));
    }
    if (!j.is_object()) {
        return fail(code, fmt::format("AutoDNS answered HTTP {} with JSON that is not an envelope{}",
                                      r.status, stid_note));
    }
    Envelope e;
    e.stid = string_at(j, "stid");
    if (e.stid.empty())
        e.stid = clean(r.stid, 80);
    if (const auto st = j.find("status"); st != j.end() && st->is_object()) {
        e.status_code = string_at(*st, "code");
        e.status_text = string_at(*st, "text");
        e.status_type = string_at(*st, "type");
    }
    if (const auto ms = j.find("messages"); ms != j.end() && ms->is_array()) {
        for (const auto& m : *ms) {
            if (e.messages.size() == k_max_messages)
                break;
            if (m.is_object())
                e.messages.push_back({string_at(m, "code"), string_at(m, "text")});
        }
    }
    if (const auto d = j.find("data"); d != j.end() && d->is_array())
        e.data = *d;
    if (const auto o = j.find("object"); o != j.end() && o->is_object()) {
        if (const auto s = o->find("summary"); s != o->end() && s->is_number_integer())
            e.summary = s->get<long long>();
    }
    if (r.status < 200 || r.status > 299 || e.status_type == "ERROR")
        return fail(code, describe(e, r.status));
    if (e.status_type.empty()) {
        return fail(
            ErrorCode::failed,
            fmt::format("AutoDNS answered HTTP {} without a status in the envelope{}", r.status, stid_note));
    }
    return e;
}

}  // namespace mailproxy::autodns
