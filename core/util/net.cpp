#include "core/util/net.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace mailproxy::util {
namespace {

/// The address family of `s` and its bytes in `out` (16 bytes), or 0 when it is not an address.
int parse(std::string_view s, unsigned char* out) {
    const std::string z(s);
    if (inet_pton(AF_INET, z.c_str(), out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, z.c_str(), out) == 1)
        return AF_INET6;
    return 0;
}

}  // namespace

bool is_ip_address(std::string_view s) {
    unsigned char buf[16];
    return parse(s, buf) != 0;
}

bool same_ip_address(std::string_view a, std::string_view b) {
    unsigned char x[16] = {}, y[16] = {};
    const int fa = parse(a, x);
    return fa != 0 && fa == parse(b, y) && std::memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

}  // namespace mailproxy::util
