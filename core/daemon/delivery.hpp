#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "core/daemon/channel.hpp"
#include "core/daemon/entries.hpp"
#include "core/smtp/protocol.hpp"

namespace mailproxy::daemon {

struct DeliveryOptions {
    std::string hostname;
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds reply_timeout{300};
    std::string tls = "opportunistic";  ///< none, opportunistic, required
    asio::ssl::context* tls_client = nullptr;
};

/// One transaction with an entry's target. Every failure to reach or talk to the target becomes a 4xx
/// reply (never an exception), so the client is told to try again and nothing is acknowledged that the
/// target does not have.
class Delivery {
  public:
    virtual ~Delivery() = default;
    /// Connects and starts the transaction: greeting, EHLO (LHLO), STARTTLS when offered, MAIL FROM.
    virtual awaitable<smtp::Reply> begin(const std::string& from, bool eight_bit, std::size_t size) = 0;
    virtual awaitable<smtp::Reply> rcpt(const std::string& to) = 0;
    /// Sends `received` and then the spooled message; the target's final reply.
    virtual awaitable<smtp::Reply> data(const std::string& received, const std::filesystem::path& spool) = 0;
    /// Ends the session (QUIT) and closes; never throws.
    virtual awaitable<void> end() = 0;
    /// LMTP answers DATA per recipient: one recipient per transaction keeps one answer per message.
    virtual bool single_recipient() const { return false; }
    /// "TLSv1.3" when the connection to the target is encrypted.
    virtual std::string tls() const { return ""; }
};

std::unique_ptr<Delivery> make_delivery(const TargetAddress& target, const asio::any_io_executor& ex,
                                        const DeliveryOptions& options);

}  // namespace mailproxy::daemon
