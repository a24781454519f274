#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/util/error.hpp"
#include "core/util/sqlite.hpp"

namespace mailproxy::daemon {

/// Greylisting (DESIGN §5.2 step 1) by triplet: client network, sender, recipient.
struct GreylistTimes {
    std::int64_t delay = 300;               ///< seconds a new triplet waits before a retry is taken
    std::int64_t retry_window = 2 * 86400;  ///< seconds after the first try in which the retry must come
    std::int64_t max_age = 35 * 86400;      ///< seconds a passed triplet is kept after its last message
};

/// The client's network as greylisting counts it: "192.0.2.0/24", "2001:db8:1:2::/64"; an IPv4-mapped
/// IPv6 address counts as IPv4. The text itself for something that is not an address.
std::string greylist_network(std::string_view ip);

/// The sender as greylisting counts it: lower case, without an address extension ("a+list@b" → "a@b").
std::string greylist_sender(std::string_view address);

/// The triplets in `greylist.db` under the state directory (SQLite, WAL): they survive restarts.
/// Thread-safe; blocking (run it off the event loop).
class Greylist {
  public:
    static Expected<std::unique_ptr<Greylist>> open(const std::filesystem::path& state_dir);

    struct Decision {
        bool pass = false;
        std::int64_t wait = 0;     ///< when not passed: seconds until a retry is taken
        std::int64_t delayed = 0;  ///< when passed for the first time: seconds since the first try
    };
    /// Records a try of the triplet at `now` (seconds since the epoch) and says whether it passes: an
    /// unknown triplet, or one whose retry window has passed, starts again and waits `delay`.
    Expected<Decision> check(const std::string& network, const std::string& sender,
                             const std::string& recipient, const GreylistTimes& times, std::int64_t now);
    /// Removes triplets that never passed and are past their retry window, and passed ones unused
    /// for max_age; how many. check() runs it once an hour by itself.
    Expected<int> purge(const GreylistTimes& times, std::int64_t now);

  private:
    Greylist() = default;
    Expected<int> purge_locked(const GreylistTimes& times, std::int64_t now);
    std::unique_ptr<util::Database> m_db;
    std::mutex m_mu;
    std::int64_t m_last_purge = 0;
};

}  // namespace mailproxy::daemon
