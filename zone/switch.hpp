#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mailproxy::zone {

/// The MX switch of DESIGN §4, decided on plain records so that a zone file (`zone rewrite`) and a zone
/// held in AutoDNS (`zone push`) change in the same way. Names are absolute and lower-case.
struct MxRecord {
    unsigned pref = 10;
    std::string exchange;
    bool operator==(const MxRecord&) const = default;
};

/// An A, AAAA or CNAME record of the custom proxy host.
struct HostRecord {
    std::string type;   ///< "A", "AAAA" or "CNAME"
    std::string value;  ///< address, or the CNAME target (absolute, lower-case)
};

struct SwitchOptions {
    std::string origin;                  ///< the zone, absolute, lower-case (set by the caller per zone)
    std::string proxy_host;              ///< absolute, lower-case
    std::string custom_host;             ///< absolute, lower-case, or empty
    std::vector<std::string> addresses;  ///< for the custom host
    bool replace = false;                ///< replace conflicting records of the custom host
    unsigned preference = 10;
    bool revert = false;
    std::vector<MxRecord> targets;  ///< for revert: the real mail server(s)
    /// Revert only: after the change the targets must be the only apex MX (`disable`: an MX left to a
    /// custom proxy host nobody named would send mail to a proxy without an entry).
    bool exclusive = false;
};

/// Why the switch cannot be done; `host_record` names the custom host's record concerned, if one is.
struct Conflict {
    std::string message;
    std::optional<std::size_t> host_record;
    std::optional<std::size_t> mx_record;
};

struct SwitchPlan {
    std::vector<std::size_t> remove_mx;    ///< indices into the apex MX records
    std::vector<MxRecord> add_mx;          ///< in this order
    std::vector<std::size_t> remove_host;  ///< indices into the custom host's records
    std::vector<HostRecord> add_host;      ///< A/AAAA records for the custom host
    std::vector<Conflict> conflicts;       ///< why the switch cannot be done (nothing may be changed)
    bool empty() const {
        return remove_mx.empty() && add_mx.empty() && remove_host.empty() && add_host.empty();
    }
};

/// The custom host must lie inside the zone (not be its apex) when addresses are given for it, and have
/// an address (given or present) when it does. Forward: every apex MX that is neither the proxy host nor the
/// custom host goes; an MX to the custom host (else the proxy host) with `preference` is added unless one
/// exists. With a custom host its A/AAAA records get exactly `addresses`; a CNAME or another address on it is
/// a conflict unless `replace`. Revert: the MX records to the proxy and custom host go, each target not
/// already an MX is added, and the custom host's records with `addresses` go. An empty plan means nothing to
/// change.
SwitchPlan plan_switch(const std::vector<MxRecord>& apex_mx, const std::vector<HostRecord>& host_records,
                       const SwitchOptions& options);

/// `address` as the record type it needs ("A" or "AAAA"), or "" when it is not an IP address.
std::string address_type(const std::string& address);

}  // namespace mailproxy::zone
