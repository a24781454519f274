#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

namespace mailproxy::daemon {

/// The files that hold messages while serve receives them and hands them on: unnamed files (O_TMPFILE)
/// in the spool directory, so that nothing of a message in transit outlives the process, even after
/// kill -9, and reused between transactions, since creating and removing a file per message is a large
/// part of the cost of a small message on ext4. A file given back is emptied first. Not thread-safe: one
/// per event loop.
class SpoolFiles {
  public:
    explicit SpoolFiles(std::filesystem::path dir) : m_dir(std::move(dir)) {}
    SpoolFiles(const SpoolFiles&) = delete;
    SpoolFiles& operator=(const SpoolFiles&) = delete;
    ~SpoolFiles();

    /// An empty file open for reading and writing, or -1 with errno set.
    int take();
    /// Takes back a file from take(): emptied and kept for the next transaction (a few are kept), or
    /// closed.
    void give(int fd);

  private:
    static constexpr std::size_t k_keep = 32;
    std::filesystem::path m_dir;
    std::vector<int> m_free;
};

}  // namespace mailproxy::daemon
