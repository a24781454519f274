#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/autodns/http.hpp"
#include "core/util/error.hpp"

namespace mailproxy::autodns {

/// One entry of `messages[]`.
struct Message {
    std::string code;
    std::string text;
};

/// The AutoDNS JSON response envelope (`JsonResponseData`).
struct Envelope {
    std::string stid;
    std::string status_code;
    std::string status_text;
    std::string status_type;  ///< SUCCESS, ERROR, NOTIFY, NOTICE, NICCOM_NOTIFY
    std::vector<Message> messages;
    nlohmann::ordered_json data = nlohmann::ordered_json::array();  ///< always an array
    std::optional<long long> summary;                               ///< object.summary, for searches
};

/// Interprets one HTTP answer (no I/O). Success needs a 2xx status, a JSON envelope and a status.type
/// other than ERROR. Anything else fails with one line naming status.code, status.text, every
/// messages[].code/text, the HTTP status and the stid; a body that is empty or not JSON is reported with
/// the HTTP status and a short, sanitised excerpt. HTTP 404 gives ErrorCode::not_found, everything else
/// ErrorCode::failed. The body is bounded by the transport; messages are bounded here.
Expected<Envelope> interpret(const HttpResponse& response);

}  // namespace mailproxy::autodns
