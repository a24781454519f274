#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace mailproxy::util {

/// Closes a descriptor on scope exit.
class Fd {
  public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    Fd& operator=(Fd&& other) noexcept;
    ~Fd();
    int get() const { return m_fd; }

  private:
    int m_fd;
};

/// Writes all of `data` to `fd` (again after EINTR and short writes); false with errno set otherwise.
bool write_all(int fd, std::string_view data);

/// Mode and owner for a new file.
struct FileMode {
    mode_t mode = 0644;
    std::optional<std::pair<uid_t, gid_t>> owner;  ///< chown to this (kept from the file being replaced)
};

/// The mode and owner `path` has now; ErrorCode::io when it cannot be read.
Expected<FileMode> mode_of(const std::filesystem::path& path);

/// Opens the directory `dir`, made with mode 0700 when it is missing, without following a symbolic link
/// in its last component; ErrorCode::io naming the path when that is a symbolic link, not a directory, or
/// cannot be made or opened. What is then done through the descriptor (fchmod, fchown, empty_dir) acts on
/// that directory even if the name is changed meanwhile.
Expected<Fd> open_private_dir(const std::filesystem::path& dir);

/// What empty_dir() did: the entries removed, and those that could not be (with the first reason).
struct Emptied {
    std::size_t removed = 0;
    std::size_t failed = 0;
    std::string error;
};

/// Removes everything in the directory open as `dirfd`, subdirectories with their content, without
/// following symbolic links (a link is removed, not what it points to) and so never outside it; at most
/// 64 levels deep. Counts the entries of the directory itself.
Emptied empty_dir(int dirfd);

/// fsync of a directory, so that a rename in it is durable.
Expected<void> fsync_dir(const std::filesystem::path& dir);

/// A temp file beside `target` holding the new content, with the given mode and owner, fsynced;
/// commit() renames it into place. The temp file is removed when the object goes without a commit,
/// so a failure leaves `target` as it was.
class StagedFile {
  public:
    static Expected<StagedFile> write(const std::filesystem::path& target, std::string_view content,
                                      const FileMode& mode = {});
    StagedFile(StagedFile&& o) noexcept;
    StagedFile& operator=(StagedFile&&) = delete;
    StagedFile(const StagedFile&) = delete;
    ~StagedFile();
    Expected<void> commit();

  private:
    StagedFile(std::string tmp, std::filesystem::path target);
    std::string m_tmp;
    std::filesystem::path m_target;
};

/// Replaces `file` with `content` atomically: temp file, fsync, rename, fsync of the directory.
Expected<void> write_atomically(const std::filesystem::path& file, std::string_view content,
                                const FileMode& mode = {});

}  // namespace mailproxy::util
