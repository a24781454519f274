#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/daemon/config.hpp"
#include "core/daemon/log.hpp"
#include "core/util/error.hpp"

namespace mailproxy::daemon {

/// Re-reads the configuration for SIGHUP; an error keeps the running one.
using ConfigLoader = std::function<Expected<std::shared_ptr<const ServeConfig>>()>;

/// `mailproxy serve` (DESIGN §5.1, §5.5, §5.6): a before-queue SMTP proxy on one event loop.
class Server {
  public:
    Server(std::shared_ptr<const ServeConfig> config, Logger& log, ConfigLoader reload);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Everything that can fail at start, before `ready`: the entries, the state directory (leftover spool
    /// files removed), the TLS certificate, binding every listen address, and the privilege drop.
    /// Returns the bound addresses ("127.0.0.1:2525").
    Expected<std::vector<std::string>> start();

    /// Serves until SIGTERM or SIGINT has been answered and every transaction in flight has finished.
    void run();

    struct Impl;  ///< the event loop, acceptors, sessions (in server.cpp)

  private:
    std::unique_ptr<Impl> m;
};

}  // namespace mailproxy::daemon
