#include "core/daemon/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include <fmt/format.h>

namespace mailproxy::daemon {

SpoolFiles::~SpoolFiles() {
    for (int fd : m_free)
        ::close(fd);
}

int SpoolFiles::take() {
    if (!m_free.empty()) {
        const int fd = m_free.back();
        m_free.pop_back();
        return fd;
    }
    int fd = ::open(m_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd;
    // a file system without O_TMPFILE: a named file, unlinked at once
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto path = m_dir / fmt::format("tmp.{:016x}", rng());
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        ::unlink(path.c_str());
    return fd;
}

bool SpoolFiles::seal(int fd) {
    const off_t written = ::lseek(fd, 0, SEEK_CUR);
    struct stat st {};
    if (written < 0 || ::fstat(fd, &st) != 0)
        return false;
    return st.st_size <= written || ::ftruncate(fd, written) == 0;
}

void SpoolFiles::give(int fd) {
    if (fd < 0)
        return;
    if (m_free.size() < k_keep) {
        const off_t size = ::lseek(fd, 0, SEEK_END);
        if (size >= 0 && (size <= k_keep_bytes || ::ftruncate(fd, 0) == 0) && ::lseek(fd, 0, SEEK_SET) == 0) {
            m_free.push_back(fd);
            return;
        }
    }
    ::close(fd);
}

DataBuffers::Held DataBuffers::take() {
    if (m_free.empty())
        return {*this, std::make_unique_for_overwrite<char[]>(k_size)};
    auto b = std::move(m_free.back());
    m_free.pop_back();
    return {*this, std::move(b)};
}

void DataBuffers::give(std::unique_ptr<char[]> b) {
    if (b && m_free.size() < k_keep)
        m_free.push_back(std::move(b));
}

}  // namespace mailproxy::daemon
