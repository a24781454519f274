#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

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
