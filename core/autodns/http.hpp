#pragma once

#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace mailproxy::autodns {

struct HttpRequest {
    std::string method;  ///< GET, POST, PUT, DELETE
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct HttpResponse {
    long status = 0;
    std::string body;
    std::string content_type;
    std::string stid;  ///< the X-Domainrobot-Stid response header, if any
};

/// Why a request got no HTTP answer.
enum class TransportFailure {
    connect,  ///< connection refused or unreachable: nothing was sent
    resolve,  ///< the host name did not resolve: nothing was sent
    tls,      ///< the TLS handshake or certificate check failed: nothing was sent
    timeout,  ///< no (complete) answer in time: the server may have acted on it
    dropped,  ///< the connection closed without an answer: the server may have acted on it
    other,
};

struct TransportError {
    TransportFailure kind = TransportFailure::other;
    std::string message;  ///< one line, names the URL's host; never holds credentials
};

/// True when the request may have reached the server and been acted on.
inline bool may_have_arrived(TransportFailure k) {
    return k == TransportFailure::timeout || k == TransportFailure::dropped || k == TransportFailure::other;
}

/// Sends one HTTPS request and returns the answer, whatever its status. Tests may put a fake behind it,
/// the product uses CurlTransport.
class HttpTransport {
  public:
    virtual ~HttpTransport() = default;
    virtual tl::expected<HttpResponse, TransportError> perform(const HttpRequest& request) = 0;
};

}  // namespace mailproxy::autodns
