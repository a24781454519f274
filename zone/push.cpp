#include "zone/push.hpp"

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace mailproxy::zone {
namespace {

/// An AutoDNS host name value made absolute and lower-case (values come with or without the dot).
std::string absolute_value(const std::string& v) {
    auto s = util::to_lower(v);
    if (s.empty() || s.back() != '.')
        s += '.';
    return s;
}

std::string str(const nlohmann::ordered_json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

/// The MX preference as AutoDNS sends it (a number; a numeric string is read too), else 0.
unsigned pref_of(const nlohmann::ordered_json& rr) {
    if (!rr.contains("pref"))
        return 0;
    const auto& p = rr.at("pref");
    if (p.is_number_unsigned() && p.get<unsigned long long>() <= 65535)
        return static_cast<unsigned>(p.get<unsigned long long>());
    if (p.is_string()) {
        const auto v = util::parse_integer(p.get<std::string>());
        if (v && *v >= 0 && *v <= 65535)
            return static_cast<unsigned>(*v);
    }
    return 0;
}

std::string owner_of(const std::string& name, const std::string& origin) {
    return name.empty() || name == "@" ? origin : util::to_lower(name) + "." + origin;
}

}  // namespace

StreamChange plan_stream(const nlohmann::ordered_json& zone, const std::string& origin,
                         const SwitchOptions& o, std::optional<uint32_t> ttl) {
    StreamChange out;
    std::vector<const nlohmann::ordered_json*> mx_refs, host_refs;
    std::vector<MxRecord> mx;
    std::vector<HostRecord> hosts;
    static const nlohmann::ordered_json k_none = nlohmann::ordered_json::array();
    const auto found = zone.find("resourceRecords");
    // the records are referred to below by address: iterate the zone's own array, not a copy
    const auto& records = found != zone.end() && found->is_array() ? *found : k_none;
    for (const auto& rr : records) {
        if (!rr.is_object())
            continue;
        const auto name = str(rr, "name");
        const auto type = util::to_upper(str(rr, "type"));
        const auto owner = owner_of(name, origin);
        if (owner == origin && type == "MX") {
            mx_refs.push_back(&rr);
            mx.push_back({pref_of(rr), absolute_value(str(rr, "value"))});
        } else if (!o.custom_host.empty() && owner == o.custom_host &&
                   (type == "A" || type == "AAAA" || type == "CNAME")) {
            host_refs.push_back(&rr);
            hosts.push_back({type, type == "CNAME" ? absolute_value(str(rr, "value")) : str(rr, "value")});
        }
    }
    auto with_origin = o;
    with_origin.origin = origin;
    const auto plan = plan_switch(mx, hosts, with_origin);
    for (const auto& c : plan.conflicts)
        out.conflicts.push_back(c.message);
    if (!out.conflicts.empty())
        return out;
    std::optional<long long> removed_ttl;
    const auto remove = [&](const nlohmann::ordered_json& rr) {
        nlohmann::ordered_json r{
            {"name", str(rr, "name")}, {"type", str(rr, "type")}, {"value", str(rr, "value")}};
        if (rr.contains("pref"))
            r["pref"] = rr["pref"];
        out.rems.push_back(std::move(r));
        if (rr.contains("ttl") && rr["ttl"].is_number_integer() && !removed_ttl)
            removed_ttl = rr["ttl"].get<long long>();
    };
    for (const auto i : plan.remove_mx) {
        remove(*mx_refs[i]);
        out.removed.push_back(fmt::format("{} MX {} {}", origin, mx[i].pref, mx[i].exchange));
    }
    const auto host_name = o.custom_host.empty() || o.custom_host.size() <= origin.size()
                               ? std::string()
                               : o.custom_host.substr(0, o.custom_host.size() - origin.size() - 1);
    for (const auto i : plan.remove_host) {
        remove(*host_refs[i]);
        out.removed.push_back(fmt::format("{} {} {}", o.custom_host, hosts[i].type, hosts[i].value));
    }
    const auto add_ttl = [&](nlohmann::ordered_json& r) {
        if (ttl)
            r["ttl"] = *ttl;
        else if (removed_ttl)
            r["ttl"] = *removed_ttl;
    };
    for (const auto& m : plan.add_mx) {
        auto value = m.exchange;
        if (!value.empty() && value.back() == '.')
            value.pop_back();
        nlohmann::ordered_json r{{"name", ""}, {"type", "MX"}, {"value", value}, {"pref", m.pref}};
        add_ttl(r);
        out.adds.push_back(std::move(r));
        out.added.push_back(fmt::format("{} MX {} {}", origin, m.pref, m.exchange));
    }
    for (const auto& h : plan.add_host) {
        nlohmann::ordered_json r{{"name", host_name}, {"type", h.type}, {"value", h.value}};
        add_ttl(r);
        out.adds.push_back(std::move(r));
        out.added.push_back(fmt::format("{} {} {}", o.custom_host, h.type, h.value));
    }
    return out;
}

}  // namespace mailproxy::zone
