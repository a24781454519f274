#pragma once

#include <string_view>

namespace mailproxy::util {

/// True when `s` is an IPv4 or IPv6 address in text form (no brackets, no port).
bool is_ip_address(std::string_view s);

/// True when both are the same IP address, whatever their spelling (2001:DB8:0::1 is 2001:db8::1);
/// false when either is not an address.
bool same_ip_address(std::string_view a, std::string_view b);

}  // namespace mailproxy::util
