#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/daemon/spool.hpp"
#include "core/util/file.hpp"
#include "temp_dir.hpp"

using namespace mailproxy::daemon;

namespace {

std::string contents(int fd) {
    std::string out;
    char buf[65536];
    for (off_t at = 0;;) {
        const auto n = ::pread(fd, buf, sizeof buf, at);
        REQUIRE(n >= 0);
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
        at += n;
    }
}

off_t size_of(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st.st_size;
}

}  // namespace

TEST_SUITE("daemon spool") {
    TEST_CASE("a file used again holds only what was written since it was taken, once sealed") {
        mailproxy::test::TempDir dir;
        SpoolFiles files(dir.path());
        const int fd = files.take();
        REQUIRE(fd >= 0);
        const std::string long_message(200'000, 'L');
        REQUIRE(mailproxy::util::write_all(fd, long_message));
        REQUIRE(SpoolFiles::seal(fd));
        CHECK(contents(fd) == long_message);
        files.give(fd);

        const int again = files.take();
        CHECK(again == fd);  // kept, not emptied: the next message is written over it
        CHECK(::lseek(again, 0, SEEK_CUR) == 0);
        REQUIRE(mailproxy::util::write_all(again, "short"));
        CHECK(size_of(again) == 200'000);  // before the seal, the rest of the long one is still there
        REQUIRE(SpoolFiles::seal(again));
        CHECK(contents(again) == "short");

        // nothing written (a transaction cut off before DATA's first byte), then sealed: empty
        files.give(again);
        const int third = files.take();
        REQUIRE(SpoolFiles::seal(third));
        CHECK(contents(third).empty());
        files.give(third);
    }

    TEST_CASE("a file over 1 MiB is emptied when given back; sealing a bad descriptor fails") {
        mailproxy::test::TempDir dir;
        SpoolFiles files(dir.path());
        const int fd = files.take();
        REQUIRE(fd >= 0);
        REQUIRE(mailproxy::util::write_all(fd, std::string((1 << 20) + 1, 'B')));
        REQUIRE(SpoolFiles::seal(fd));
        files.give(fd);
        const int again = files.take();
        CHECK(again == fd);
        CHECK(size_of(again) == 0);
        files.give(again);
        CHECK_FALSE(SpoolFiles::seal(-1));
    }
}

TEST_SUITE("state directory") {
    namespace fs = std::filesystem;
    using mailproxy::util::empty_dir;
    using mailproxy::util::open_private_dir;

    TEST_CASE("a private directory is made 0700, and a symbolic link or a file in its place is refused") {
        mailproxy::test::TempDir dir;
        const auto made = open_private_dir(dir.path() / "state" / "tmp");
        REQUIRE(made.has_value());
        struct stat st {};
        REQUIRE(::fstat(made->get(), &st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        CHECK((st.st_mode & 0777) == 0700);
        CHECK(open_private_dir(dir.path() / "state" / "tmp").has_value());  // there already: opened

        fs::create_directory(dir.path() / "elsewhere");
        fs::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "link");
        const auto link = open_private_dir(dir.path() / "link");
        REQUIRE_FALSE(link.has_value());
        CHECK(link.error().message ==
              "cannot use " + (dir.path() / "link").string() + ": it is a symbolic link or not a directory");
        std::ofstream(dir.path() / "file") << "x";
        CHECK_FALSE(open_private_dir(dir.path() / "file").has_value());
    }

    TEST_CASE("emptying removes files and nested directories, and links without following them") {
        mailproxy::test::TempDir dir;
        const auto outside = dir.path() / "outside";
        fs::create_directories(outside / "sub");
        std::ofstream(outside / "keep") << "not ours";
        std::ofstream(outside / "sub" / "keep") << "not ours";
        const auto tmp = dir.path() / "tmp";
        const auto fd = open_private_dir(tmp);
        REQUIRE(fd.has_value());
        fs::create_directories(tmp / "scan" / "mail" / "part");
        std::ofstream(tmp / "scan" / "mail" / "part" / "decoded") << "attachment";
        std::ofstream(tmp / "loose") << "x";
        fs::create_directory_symlink(outside, tmp / "scan" / "to-outside");
        fs::create_symlink(outside / "keep", tmp / "file-link");

        const auto emptied = empty_dir(fd->get());
        CHECK(emptied.removed == 3);  // scan/, loose, file-link
        CHECK(emptied.failed == 0);
        CHECK(emptied.error.empty());
        CHECK(fs::is_empty(tmp));
        CHECK(fs::exists(outside / "keep"));
        CHECK(fs::exists(outside / "sub" / "keep"));
        CHECK(empty_dir(fd->get()).removed == 0);  // nothing left, nothing counted
    }

    TEST_CASE("emptying goes on past what it cannot remove, and says what that was") {
        mailproxy::test::TempDir dir;
        const auto tmp = dir.path() / "tmp";
        const auto fd = open_private_dir(tmp);
        REQUIRE(fd.has_value());
        // 70 levels: deeper than the bound of 64
        auto deep = tmp / "deep";
        for (int i = 0; i < 70; ++i)
            deep /= "d";
        fs::create_directories(deep);
        std::ofstream(tmp / "loose") << "x";
        const auto emptied = empty_dir(fd->get());
        CHECK(emptied.removed == 1);
        CHECK(emptied.failed == 1);
        CHECK(emptied.error.find("nested more than 64 levels") != std::string::npos);
        CHECK_FALSE(fs::exists(tmp / "loose"));
    }
}
