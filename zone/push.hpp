#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zone/switch.hpp"

namespace mailproxy::zone {

/// The MX switch as AutoDNS `_stream` changes (DESIGN §3, §4 "push").
struct StreamChange {
    nlohmann::ordered_json adds = nlohmann::ordered_json::array();
    nlohmann::ordered_json rems = nlohmann::ordered_json::array();
    std::vector<std::string> removed;  ///< "owner TYPE data", absolute names, for the user
    std::vector<std::string> added;
    std::vector<std::string> conflicts;
    bool empty() const { return adds.empty() && rems.empty(); }
};

/// Plans the switch on a zone as AutoDNS returns it (`resourceRecords` with relative `name`, "" or "@"
/// for the apex, `value`, `pref`, `ttl`). `origin` is absolute and lower-case. Removals are sent exactly
/// as the records were read; added records take `ttl`, else the TTL of a removed MX.
StreamChange plan_stream(const nlohmann::ordered_json& zone, const std::string& origin,
                         const SwitchOptions& options, std::optional<uint32_t> ttl);

}  // namespace mailproxy::zone
