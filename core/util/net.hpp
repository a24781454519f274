#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailproxy::util {

/// True when `s` is an IPv4 or IPv6 address in text form (no brackets, no port).
bool is_ip_address(std::string_view s);

/// True when both are the same IP address, whatever their spelling (2001:DB8:0::1 is 2001:db8::1);
/// false when either is not an address.
bool same_ip_address(std::string_view a, std::string_view b);

/// An IP address and a port: "127.0.0.1:25", "[::1]:2525", or ":25" (the host "": any address).
struct HostPort {
    std::string host;  ///< an IP address without brackets, or ""
    unsigned short port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace mailproxy::util
