#include "core/autodns/curl_transport.hpp"

#include <curl/curl.h>

#include <fmt/format.h>

#include <memory>
#include <mutex>

namespace mailproxy::autodns {
namespace {

struct Sink {
    std::string* body;
    std::size_t limit;
    bool overflow = false;
};

extern "C" std::size_t write_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t bytes = size * n;
    if (sink->body->size() + bytes > sink->limit) {
        sink->overflow = true;
        return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    sink->body->append(data, bytes);
    return bytes;
}

extern "C" std::size_t read_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    const std::size_t bytes = size * n;
    std::string_view line(data, bytes);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.remove_suffix(1);
        }
        if (value.size() > 256)
            value = value.substr(0, 256);
        if (name == "x-domainrobot-stid")
            response->stid = std::string(value);
        if (name == "content-type")
            response->content_type = std::string(value);
    }
    return bytes;
}

std::string host_of(const std::string& url) {
    auto rest = std::string_view(url);
    if (const auto p = rest.find("://"); p != std::string_view::npos)
        rest.remove_prefix(p + 3);
    return std::string(rest.substr(0, rest.find('/')));
}

TransportError classify(CURLcode rc, const std::string& url, const char* detail, const CurlOptions& o,
                        bool overflow) {
    const auto host = host_of(url);
    const std::string why = detail != nullptr && detail[0] != '\0' ? detail : curl_easy_strerror(rc);
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
            return {TransportFailure::connect, fmt::format("cannot connect to AutoDNS at {}: {}", host, why)};
        case CURLE_COULDNT_RESOLVE_HOST:
            return {TransportFailure::resolve,
                    fmt::format("cannot resolve the AutoDNS host name in {}", url)};
        case CURLE_OPERATION_TIMEDOUT:
            return {TransportFailure::timeout,
                    fmt::format("AutoDNS at {} did not answer in time (connect timeout {} s, total {} s)",
                                host, static_cast<double>(o.connect_timeout.count()) / 1000,
                                static_cast<double>(o.timeout.count()) / 1000)};
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
            return {TransportFailure::tls,
                    fmt::format("TLS failure talking to AutoDNS at {}: {}", host, why)};
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
            return {TransportFailure::dropped,
                    fmt::format("AutoDNS at {} closed the connection without an answer ({})", host, why)};
        case CURLE_WRITE_ERROR:
            if (overflow) {
                return {
                    TransportFailure::other,
                    fmt::format("AutoDNS at {} sent an answer larger than {} bytes", host, o.max_response)};
            }
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return {TransportFailure::connect,
                    fmt::format("the AutoDNS URL {} is not a usable https:// URL", url)};
        default:
            break;
    }
    return {TransportFailure::other, fmt::format("request to AutoDNS at {} failed: {}", host, why)};
}

}  // namespace

CurlTransport::CurlTransport(CurlOptions options) : m_options(std::move(options)) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    m_curl = curl_easy_init();
}

CurlTransport::~CurlTransport() {
    if (m_curl != nullptr)
        curl_easy_cleanup(static_cast<CURL*>(m_curl));
}

tl::expected<HttpResponse, TransportError> CurlTransport::perform(const HttpRequest& request) {
    if (m_curl == nullptr)
        return tl::make_unexpected(TransportError{TransportFailure::other, "libcurl failed to start"});
    if (!request.url.starts_with("https://")) {
        return tl::make_unexpected(
            TransportError{TransportFailure::connect,
                           fmt::format("the AutoDNS URL must start with https:// (got {})", request.url)});
    }
    auto* curl = static_cast<CURL*>(m_curl);
    curl_easy_reset(curl);
    HttpResponse response;
    Sink sink{&response.body, m_options.max_response};
    char error[CURL_ERROR_SIZE] = {0};

    curl_slist* list = nullptr;
    for (const auto& [name, value] : request.headers) {
        const auto line = name + ": " + value;
        auto* next = curl_slist_append(list, line.c_str());
        if (next == nullptr) {
            curl_slist_free_all(list);
            return tl::make_unexpected(TransportError{TransportFailure::other, "out of memory"});
        }
        list = next;
    }
    const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, &curl_slist_free_all);

    // Each setopt can only fail for an unknown option or out of memory; check them all the same.
    CURLcode rc = CURLE_OK;
    const auto set = [&](CURLoption opt, auto value) {
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(curl, opt, value);
    };
    set(CURLOPT_URL, request.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!m_options.ca_file.empty())
        set(CURLOPT_CAINFO, m_options.ca_file.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m_options.connect_timeout.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(m_options.timeout.count()));
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_WRITEFUNCTION, &write_body);
    set(CURLOPT_WRITEDATA, &sink);
    set(CURLOPT_HEADERFUNCTION, &read_header);
    set(CURLOPT_HEADERDATA, &response);
    set(CURLOPT_ERRORBUFFER, error);
    if (request.method == "GET") {
        set(CURLOPT_HTTPGET, 1L);
    } else {
        set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
        if (request.method != "DELETE" || !request.body.empty()) {
            set(CURLOPT_POSTFIELDS, request.body.c_str());
            set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        }
    }
    if (rc != CURLE_OK) {
        return tl::make_unexpected(TransportError{
            TransportFailure::other, fmt::format("libcurl set-up failed: {}", curl_easy_strerror(rc))});
    }
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        return tl::make_unexpected(classify(rc, request.url, error, m_options, sink.overflow));
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
    return response;
}

}  // namespace mailproxy::autodns
