#include "zone/switch.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/util/net.hpp"

namespace mailproxy::zone {

std::string address_type(const std::string& address) {
    if (!util::is_ip_address(address))
        return "";
    return address.find(':') != std::string::npos ? "AAAA" : "A";
}

SwitchPlan plan_switch(const std::vector<MxRecord>& apex_mx, const std::vector<HostRecord>& host_records,
                       const SwitchOptions& o) {
    SwitchPlan plan;
    if (!o.custom_host.empty()) {
        const bool in_zone = o.origin == "." || o.custom_host.ends_with("." + o.origin);
        const bool has_address = std::any_of(host_records.begin(), host_records.end(),
                                             [](const auto& h) { return h.type != "CNAME"; });
        if (o.custom_host == o.origin) {
            plan.conflicts.push_back(
                {fmt::format(
                     "the custom host {} is the zone's apex: name a host inside the zone, such as mx.{}",
                     o.custom_host, o.origin),
                 {},
                 {}});
        } else if (!in_zone && !o.addresses.empty()) {
            plan.conflicts.push_back(
                {fmt::format("the custom host {} is not inside the zone {}: add its address "
                             "records in its own zone and leave out --address",
                             o.custom_host, o.origin),
                 {},
                 {}});
        } else if (!o.revert && in_zone && o.addresses.empty() && !has_address) {
            plan.conflicts.push_back({fmt::format("the custom host {} has no address in the zone: give the "
                                                  "MailProxy's address with --address",
                                                  o.custom_host),
                                      {},
                                      {}});
        }
        if (!plan.conflicts.empty())
            return plan;
    }
    const auto is_proxy = [&](const std::string& exchange) {
        return exchange == o.proxy_host || (!o.custom_host.empty() && exchange == o.custom_host);
    };
    const auto listed = [&](const HostRecord& r) {
        return r.type != "CNAME" && std::any_of(o.addresses.begin(), o.addresses.end(), [&](const auto& a) {
                   return util::same_ip_address(a, r.value);
               });
    };
    if (o.revert) {
        for (std::size_t i = 0; i < apex_mx.size(); ++i) {
            if (is_proxy(apex_mx[i].exchange))
                plan.remove_mx.push_back(i);
        }
        for (const auto& t : o.targets) {
            const bool present = std::any_of(apex_mx.begin(), apex_mx.end(),
                                             [&](const MxRecord& m) { return m.exchange == t.exchange; });
            const bool planned = std::any_of(plan.add_mx.begin(), plan.add_mx.end(),
                                             [&](const MxRecord& m) { return m.exchange == t.exchange; });
            if (!present && !planned)
                plan.add_mx.push_back(t);
        }
        for (std::size_t i = 0; i < host_records.size(); ++i) {
            if (listed(host_records[i]))
                plan.remove_host.push_back(i);
        }
        if (o.exclusive && !o.targets.empty()) {
            for (std::size_t i = 0; i < apex_mx.size(); ++i) {
                const auto& m = apex_mx[i];
                const bool target = std::any_of(o.targets.begin(), o.targets.end(),
                                                [&](const MxRecord& t) { return t.exchange == m.exchange; });
                if (!target && !is_proxy(m.exchange)) {
                    plan.conflicts.push_back(
                        {fmt::format(
                             "MX {} {} would stay beside the mail server: if it is a MailProxy host of "
                             "your own, name it with --custom-host; else remove it first",
                             m.pref, m.exchange),
                         {},
                         i});
                }
            }
        }
        return plan;
    }
    const auto& host = o.custom_host.empty() ? o.proxy_host : o.custom_host;
    for (std::size_t i = 0; i < apex_mx.size(); ++i) {
        if (!is_proxy(apex_mx[i].exchange))
            plan.remove_mx.push_back(i);
    }
    if (std::none_of(apex_mx.begin(), apex_mx.end(), [&](const MxRecord& m) { return m.exchange == host; }))
        plan.add_mx.push_back({o.preference, host});
    if (o.custom_host.empty() || o.addresses.empty())
        return plan;
    for (std::size_t i = 0; i < host_records.size(); ++i) {
        const auto& r = host_records[i];
        if (listed(r))
            continue;
        if (!o.replace) {
            plan.conflicts.push_back(
                {r.type == "CNAME"
                     ? fmt::format("{} is a CNAME to {}: a name with a CNAME can have no A records (RFC 1034 "
                                   "3.6.2); --replace removes the CNAME",
                                   o.custom_host, r.value)
                     : fmt::format("{} already has the {} record {}, which is not a MailProxy address; "
                                   "--replace removes it",
                                   o.custom_host, r.type, r.value),
                 i,
                 {}});
        }
        plan.remove_host.push_back(i);
    }
    for (const auto& a : o.addresses) {
        const bool present = std::any_of(host_records.begin(), host_records.end(), [&](const HostRecord& r) {
            return r.type != "CNAME" && util::same_ip_address(a, r.value);
        });
        const bool planned =
            std::any_of(plan.add_host.begin(), plan.add_host.end(),
                        [&](const HostRecord& r) { return util::same_ip_address(a, r.value); });
        if (!present && !planned)
            plan.add_host.push_back({address_type(a), a});
    }
    return plan;
}

}  // namespace mailproxy::zone
