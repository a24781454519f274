#pragma once

#include <string>

#include "core/util/error.hpp"
#include "zone/lint.hpp"

namespace mailproxy::zone {

struct CheckOptions {
    LintOptions lint;    ///< proxy host and addresses, custom host, target
    std::string server;  ///< "IP" or "IP:PORT" ("[IPv6]:PORT"); empty = the system's resolvers
    int timeout_seconds = 3;
    int retries = 2;
};

/// `zone check`: asks DNS (ldns's resolver) for the domain's MX records, the A/AAAA/CNAME of each MX
/// target and of the custom host, the apex TXT and `_mta-sts` TXT, and applies the lint rules to the
/// answers. The result's `answers` hold the records; each finding's line points into them. Fails with
/// ErrorCode::invalid for a bad domain or server, ErrorCode::not_found when the domain does not exist
/// (NXDOMAIN), ErrorCode::unavailable when no server answers or one answers SERVFAIL/REFUSED.
Expected<LintResult> check_domain(const std::string& domain, const CheckOptions& options);

}  // namespace mailproxy::zone
