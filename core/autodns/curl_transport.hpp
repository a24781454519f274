#pragma once

#include <chrono>
#include <string>

#include "core/autodns/http.hpp"

namespace mailproxy::autodns {

struct CurlOptions {
    std::string ca_file;  ///< trust anchors in addition to none: empty = the system's store
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds timeout{60000};  ///< whole request
    std::size_t max_response = 64u << 20;      ///< a larger answer is an error, not a memory hog
};

/// HttpTransport over libcurl: HTTPS only, certificate and host name always verified.
class CurlTransport final : public HttpTransport {
  public:
    explicit CurlTransport(CurlOptions options);
    ~CurlTransport() override;
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;

    tl::expected<HttpResponse, TransportError> perform(const HttpRequest& request) override;

  private:
    CurlOptions m_options;
    void* m_curl;  // CURL*, reused so connections are kept alive
};

}  // namespace mailproxy::autodns
