#include "core/store/local_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/entry/validate.hpp"
#include "core/util/file.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::store {
namespace fs = std::filesystem;
using util::Fd;
using util::fsync_dir;
using util::StagedFile;
using util::write_atomically;
namespace {

constexpr std::uintmax_t k_max_entry_file = 1 << 20;  // an entry is a few KiB; refuse anything huge

std::string errno_text(int err) {
    return std::strerror(err);
}

Expected<void> ensure_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return fail(ErrorCode::io,
                    fmt::format("cannot create entry store {}: {}", dir.string(), ec.message()));
    }
    if (!fs::is_directory(dir, ec)) {
        return fail(ErrorCode::io, fmt::format("entry store {} is not a directory", dir.string()));
    }
    return {};
}

/// An exclusive flock on `<dir>/.lock`, held for the object's lifetime.
class StoreLock {
  public:
    static Expected<StoreLock> acquire(const fs::path& dir) {
        if (auto ok = ensure_dir(dir); !ok)
            return tl::make_unexpected(ok.error());
        const auto path = dir / ".lock";
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return fail(ErrorCode::io,
                        fmt::format("cannot write to entry store {}: {}", dir.string(), errno_text(errno)));
        }
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int err = errno;
                ::close(fd);
                return fail(ErrorCode::io, fmt::format("cannot lock {}: {}", path.string(), errno_text(err)));
            }
        }
        return StoreLock(fd);
    }
    StoreLock(StoreLock&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    StoreLock& operator=(StoreLock&&) = delete;
    StoreLock(const StoreLock&) = delete;
    ~StoreLock() {
        if (m_fd >= 0)
            ::close(m_fd);  // closing releases the flock
    }

  private:
    explicit StoreLock(int fd) : m_fd(fd) {}
    int m_fd;
};

}  // namespace

fs::path default_store_dir() {
    if (::geteuid() == 0)
        return "/etc/mailproxy/entries";
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && xdg[0] == '/') {
        return fs::path(xdg) / "mailproxy" / "entries";
    }
    const char* home = std::getenv("HOME");
    return fs::path(home != nullptr && home[0] != '\0' ? home : "/") / ".local/share/mailproxy/entries";
}

LocalStore::LocalStore(fs::path dir) : m_dir(std::move(dir)) {}

fs::path LocalStore::path_of(std::string_view domain) const {
    return m_dir / (std::string(domain) + ".json");
}

Expected<entry::MailProxy> LocalStore::load(const fs::path& file, std::string_view domain) const {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) {
        if (ec == std::errc::no_such_file_or_directory) {
            return fail(ErrorCode::not_found, fmt::format("{}: no such entry", domain));
        }
        return fail(ErrorCode::io, fmt::format("{}: {}", file.string(), ec.message()));
    }
    if (size > k_max_entry_file) {
        return fail(ErrorCode::corrupt, fmt::format("{}: {} bytes, too large for an entry (at most {})",
                                                    file.string(), size, k_max_entry_file));
    }
    std::string content;
    {
        Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0)
            return fail(ErrorCode::io, fmt::format("{}: cannot read: {}", file.string(), errno_text(errno)));
        char buf[16384];
        for (;;) {
            const auto n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return fail(ErrorCode::io,
                            fmt::format("{}: cannot read: {}", file.string(), errno_text(errno)));
            if (n == 0)
                break;
            content.append(buf, static_cast<std::size_t>(n));
            if (content.size() > k_max_entry_file) {
                return fail(ErrorCode::corrupt, fmt::format("{}: too large for an entry (over {} bytes)",
                                                            file.string(), k_max_entry_file));
            }
        }
    }
    if (util::trim(content).empty()) {
        return fail(ErrorCode::corrupt, fmt::format("{}: empty file, not an entry", file.string()));
    }
    auto e = entry::parse(content);
    if (!e) {
        std::string msg;
        for (const auto& line : util::split(e.error().message, '\n')) {
            if (!msg.empty())
                msg += "\n";
            msg += fmt::format("{}: {}", file.string(), line);
        }
        return fail(ErrorCode::corrupt, msg);
    }
    if (e->domain != domain) {
        return fail(ErrorCode::corrupt, fmt::format("{}: holds domain \"{}\", not {} as its name says",
                                                    file.string(), e->domain, domain));
    }
    return e;
}

Expected<void> LocalStore::create(const entry::MailProxy& e) {
    if (auto ok = check_valid(e); !ok)
        return ok;
    auto lock = StoreLock::acquire(m_dir);
    if (!lock)
        return tl::make_unexpected(lock.error());
    const auto file = path_of(e.domain);
    std::error_code ec;
    if (fs::exists(fs::symlink_status(file, ec))) {
        return fail(ErrorCode::exists,
                    fmt::format("{}: an entry exists already (change it with 'entry update')", e.domain));
    }
    return write_atomically(file, entry::dump(e));
}

Expected<entry::MailProxy> LocalStore::update(std::string_view domain, const UpdateFn& change) {
    if (auto ok = check_domain(domain); !ok)
        return tl::make_unexpected(ok.error());
    auto lock = StoreLock::acquire(m_dir);
    if (!lock)
        return tl::make_unexpected(lock.error());
    auto e = load(path_of(domain), domain);
    if (!e)
        return e;
    if (auto ok = change(*e); !ok)
        return tl::make_unexpected(ok.error());
    if (e->domain != domain) {
        return fail(ErrorCode::invalid, fmt::format("{}: the domain of an entry cannot be changed", domain));
    }
    if (auto ok = check_valid(*e); !ok)
        return tl::make_unexpected(ok.error());
    if (auto ok = write_atomically(path_of(domain), entry::dump(*e)); !ok)
        return tl::make_unexpected(ok.error());
    return e;
}

Expected<void> LocalStore::remove(std::string_view domain) {
    if (auto ok = check_domain(domain); !ok)
        return ok;
    auto lock = StoreLock::acquire(m_dir);
    if (!lock)
        return tl::make_unexpected(lock.error());
    const auto file = path_of(domain);
    if (::unlink(file.c_str()) != 0) {
        if (errno == ENOENT)
            return fail(ErrorCode::not_found, fmt::format("{}: no such entry", domain));
        return fail(ErrorCode::io, fmt::format("cannot delete {}: {}", file.string(), errno_text(errno)));
    }
    return fsync_dir(m_dir);
}

Expected<entry::MailProxy> LocalStore::info(std::string_view domain) {
    if (auto ok = check_domain(domain); !ok)
        return tl::make_unexpected(ok.error());
    return load(path_of(domain), domain);
}

Expected<ListResult> LocalStore::list(const std::vector<Filter>& filters,
                                      Detail /*detail: files are whole*/) {
    ListResult result;
    std::error_code ec;
    if (!fs::exists(m_dir, ec))
        return result;  // a store nobody wrote to yet is empty
    if (!fs::is_directory(m_dir, ec)) {
        return fail(ErrorCode::io, fmt::format("entry store {} is not a directory", m_dir.string()));
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(m_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.starts_with(".") || !name.ends_with(".json"))
            continue;
        files.push_back(it->path());
    }
    if (ec)
        return fail(ErrorCode::io,
                    fmt::format("cannot read entry store {}: {}", m_dir.string(), ec.message()));
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const auto name = file.filename().string();
        const auto domain = name.substr(0, name.size() - 5);
        if (auto p = entry::domain_problem(domain); !p.empty()) {
            result.problems.push_back({file.string(), "not an entry file: its name is not <domain>.json (" +
                                                          domain + " " + p + ")"});
            continue;
        }
        auto e = load(file, domain);
        if (!e) {
            result.problems.push_back({file.string(), e.error().message});
            continue;
        }
        if (matches(*e, filters))
            result.entries.push_back(std::move(*e));
    }
    return result;
}

Expected<void> LocalStore::import(const std::vector<entry::MailProxy>& entries, bool replace) {
    if (auto ok = check_all_valid(entries); !ok)
        return ok;
    auto lock = StoreLock::acquire(m_dir);
    if (!lock)
        return tl::make_unexpected(lock.error());
    if (!replace) {
        std::string existing;
        for (const auto& e : entries) {
            std::error_code ec;
            if (fs::exists(fs::symlink_status(path_of(e.domain), ec))) {
                existing += (existing.empty() ? "" : ", ") + e.domain;
            }
        }
        if (!existing.empty()) {
            return fail(ErrorCode::exists,
                        fmt::format("entries exist already for {}; nothing was imported (use --replace to "
                                    "overwrite them)",
                                    existing));
        }
    }
    // Stage every file first: a failure here leaves the store as it was.
    std::vector<StagedFile> staged;
    staged.reserve(entries.size());
    for (const auto& e : entries) {
        auto s = StagedFile::write(path_of(e.domain), entry::dump(e));
        if (!s)
            return tl::make_unexpected(s.error());
        staged.push_back(std::move(*s));
    }
    for (auto& s : staged) {
        if (auto ok = s.commit(); !ok)
            return ok;
    }
    return fsync_dir(m_dir);
}

}  // namespace mailproxy::store
