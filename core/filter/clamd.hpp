#pragma once

#include <memory>
#include <string>

#include "core/filter/virus.hpp"

namespace mailproxy::filter {

/// A clamd (clamd(8)) reached over its unix socket or TCP: each scan is one connection sending the
/// message with `zINSTREAM` in chunks (a 4-byte length in network order, then the bytes; a zero length
/// ends it) and reading the reply `stream: OK`, `stream: <name> FOUND` or `<text> ERROR`.
class ClamdScanner : public VirusScanner {
  public:
    /// `address`: an absolute unix socket path, or IP:PORT ("127.0.0.1:3310", "[::1]:3310").
    /// `timeout`: seconds for one exchange, connecting included. The clamd must answer `zVERSION`:
    /// ErrorCode::config for a bad address, ErrorCode::unavailable when it does not answer.
    static Expected<std::shared_ptr<const ClamdScanner>> open(const std::string& address, int timeout);

    VirusResult scan(int fd) const override;
    std::string product() const override { return m_product; }
    std::string describe() const override;

    /// Biggest reply read (clamd's are a line).
    static constexpr std::size_t k_max_reply = 1024;

  private:
    ClamdScanner() = default;
    std::string m_address;
    int m_timeout = 120;
    std::string m_version;  ///< clamd's answer to VERSION: "ClamAV 1.4.6/27471/Thu Nov 26 ..."
    std::string m_product;  ///< "ClamAV 1.4.6"
};

}  // namespace mailproxy::filter
