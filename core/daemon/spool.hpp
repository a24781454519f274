#pragma once

#include <sys/types.h>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

namespace mailproxy::daemon {

/// The files that hold messages while serve receives them and hands them on: unnamed files (O_TMPFILE)
/// in the spool directory, so that nothing of a message in transit outlives the process, even after
/// kill -9, and reused between transactions, since creating and removing a file per message is a large
/// part of the cost of a small message on ext4. Emptying a file costs too (ftruncate dirties the inode
/// and frees its pages), so a small file given back keeps its bytes and is written over: whoever writes
/// a file from take() calls seal() when done, which cuts what is left of the earlier message behind the
/// new one. Not thread-safe: one per event loop (seal() is, being static).
class SpoolFiles {
  public:
    explicit SpoolFiles(std::filesystem::path dir) : m_dir(std::move(dir)) {}
    SpoolFiles(const SpoolFiles&) = delete;
    SpoolFiles& operator=(const SpoolFiles&) = delete;
    ~SpoolFiles();

    /// A file open for reading and writing, positioned at its start, or -1 with errno set. It may hold
    /// an earlier message: write it from the start with write(), then seal() it before it is read.
    int take();
    /// After the last write() to a file from take(): cuts the file at the current position, so that it
    /// holds exactly what was written. False with errno set when that fails (the file must not be read).
    static bool seal(int fd);
    /// Takes back a file from take(): kept for the next transaction (a few are kept; one larger than
    /// k_keep_bytes is emptied first, so that idle files hold little on disk), or closed.
    void give(int fd);

  private:
    static constexpr std::size_t k_keep = 32;
    static constexpr off_t k_keep_bytes = 1 << 20;
    std::filesystem::path m_dir;
    std::vector<int> m_free;
};

/// The buffers sessions read message data into, kept between transactions: a new 64 KiB buffer for
/// each message would be zeroed and paged in again every time. Not thread-safe: one per event loop.
class DataBuffers {
  public:
    static constexpr std::size_t k_size = 65536;

    /// A buffer of k_size bytes, given back when the holder goes (also when a read throws).
    class Held {
      public:
        Held(DataBuffers& owner, std::unique_ptr<char[]> b) : m_owner(owner), m_b(std::move(b)) {}
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;
        ~Held() { m_owner.give(std::move(m_b)); }
        char* data() const { return m_b.get(); }

      private:
        DataBuffers& m_owner;
        std::unique_ptr<char[]> m_b;
    };

    Held take();

  private:
    void give(std::unique_ptr<char[]> b);
    static constexpr std::size_t k_keep = 64;
    std::vector<std::unique_ptr<char[]>> m_free;
};

}  // namespace mailproxy::daemon
