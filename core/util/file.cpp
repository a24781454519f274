#include "core/util/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace mailproxy::util {
namespace fs = std::filesystem;

Fd::~Fd() {
    if (m_fd >= 0)
        ::close(m_fd);
}

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

Expected<FileMode> mode_of(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return fail(ErrorCode::io, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
    return FileMode{st.st_mode & 07777, std::pair{st.st_uid, st.st_gid}};
}

Expected<void> fsync_dir(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0)
        return fail(ErrorCode::io, fmt::format("cannot sync {}: {}", dir.string(), std::strerror(errno)));
    return {};
}

Expected<StagedFile> StagedFile::write(const fs::path& target, std::string_view content,
                                       const FileMode& mode) {
    const auto dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
    const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0)
        return fail(ErrorCode::io, fmt::format("cannot write to {}: {}", dir.string(), std::strerror(errno)));
    StagedFile staged(tmpl, target);
    Fd guard(fd);
    std::size_t done = 0;
    while (done < content.size()) {
        const auto n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(ErrorCode::io, fmt::format("cannot write {}: {}", tmpl, std::strerror(errno)));
        done += static_cast<std::size_t>(n);
    }
    // owner before mode: chown clears set-id bits
    if (mode.owner && ::fchown(fd, mode.owner->first, mode.owner->second) != 0 && errno != EPERM)
        return fail(ErrorCode::io, fmt::format("cannot set the owner of {}: {}", tmpl, std::strerror(errno)));
    if (::fchmod(fd, mode.mode) != 0 || ::fsync(fd) != 0)
        return fail(ErrorCode::io, fmt::format("cannot write {}: {}", tmpl, std::strerror(errno)));
    return staged;
}

StagedFile::StagedFile(std::string tmp, fs::path target)
    : m_tmp(std::move(tmp)), m_target(std::move(target)) {}

StagedFile::StagedFile(StagedFile&& o) noexcept
    : m_tmp(std::exchange(o.m_tmp, {})), m_target(std::move(o.m_target)) {}

StagedFile::~StagedFile() {
    if (!m_tmp.empty())
        ::unlink(m_tmp.c_str());
}

Expected<void> StagedFile::commit() {
    if (::rename(m_tmp.c_str(), m_target.c_str()) != 0)
        return fail(ErrorCode::io,
                    fmt::format("cannot write {}: {}", m_target.string(), std::strerror(errno)));
    m_tmp.clear();
    return {};
}

Expected<void> write_atomically(const fs::path& file, std::string_view content, const FileMode& mode) {
    auto staged = StagedFile::write(file, content, mode);
    if (!staged)
        return tl::make_unexpected(staged.error());
    if (auto ok = staged->commit(); !ok)
        return ok;
    return fsync_dir(file.has_parent_path() ? file.parent_path() : fs::path("."));
}

Expected<Fd> open_private_dir(const fs::path& dir) {
    const auto failed = [&](int e) {
        const std::string why = e == ELOOP || e == ENOTDIR ? "it is a symbolic link or not a directory"
                                                           : std::generic_category().message(e);
        return fail(ErrorCode::io, fmt::format("cannot use {}: {}", dir.string(), why));
    };
    std::error_code ec;
    if (dir.has_parent_path())
        fs::create_directories(dir.parent_path(), ec);
    if (ec)
        return fail(ErrorCode::io,
                    fmt::format("cannot create {}: {}", dir.parent_path().string(), ec.message()));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return failed(errno);
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0)
        return failed(errno);
    return fd;
}

namespace {

/// The names in the directory `dirfd` (without . and ..); false with errno set when it cannot be read.
bool names_in(int dirfd, std::vector<std::string>& names) {
    const int own = ::dup(dirfd);
    if (own < 0)
        return false;
    DIR* d = ::fdopendir(own);
    if (d == nullptr) {
        const int e = errno;
        ::close(own);
        errno = e;
        return false;
    }
    ::rewinddir(d);
    while (const auto* entry = ::readdir(d)) {
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..")
            names.emplace_back(name);
    }
    ::closedir(d);
    return true;
}

/// Removes `name` in `dirfd`, a directory with its content; false with the reason in `error`.
bool remove_at(int dirfd, const std::string& name, int depth, std::string& error) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0)
        return true;
    const int unlink_error = errno;  // EISDIR (EPERM on some systems) for a directory
    if (unlink_error != EISDIR && unlink_error != EPERM) {
        error = fmt::format("{}: {}", name, std::generic_category().message(unlink_error));
        return false;
    }
    const Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.get() < 0) {  // not a directory after all: why unlink refused it
        error = fmt::format("{}: {}", name,
                            std::generic_category().message(errno == ENOTDIR ? unlink_error : errno));
        return false;
    }
    if (depth >= 64) {
        error = fmt::format("{}: nested more than 64 levels", name);
        return false;
    }
    std::vector<std::string> names;
    if (!names_in(sub.get(), names)) {
        error = fmt::format("{}: {}", name, std::generic_category().message(errno));
        return false;
    }
    for (const auto& n : names) {
        if (!remove_at(sub.get(), n, depth + 1, error))
            return false;
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
        error = fmt::format("{}: {}", name, std::generic_category().message(errno));
        return false;
    }
    return true;
}

}  // namespace

Emptied empty_dir(int dirfd) {
    Emptied out;
    std::vector<std::string> names;
    if (!names_in(dirfd, names)) {
        out.failed = 1;
        out.error = std::generic_category().message(errno);
        return out;
    }
    for (const auto& name : names) {
        std::string error;
        if (remove_at(dirfd, name, 0, error)) {
            ++out.removed;
        } else {
            ++out.failed;
            if (out.error.empty())
                out.error = error;
        }
    }
    return out;
}

}  // namespace mailproxy::util
