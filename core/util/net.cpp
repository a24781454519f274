#include "core/util/net.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "core/util/strings.hpp"

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

std::optional<HostPort> parse_host_port(std::string_view text) {
    std::string_view host, port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (!is_ip_address(host) || host.find(':') == std::string_view::npos)
            return std::nullopt;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (!host.empty() && (!is_ip_address(host) || host.find(':') != std::string_view::npos))
            return std::nullopt;
    }
    const auto p = parse_integer(port);
    if (!p || *p < 0 || *p > 65535)
        return std::nullopt;
    return HostPort{std::string(host), static_cast<unsigned short>(*p)};
}

}  // namespace mailproxy::util
