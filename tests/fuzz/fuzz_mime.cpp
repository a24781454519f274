// libFuzzer target for the MIME walk, the banned-file checks (archives included) and the header checks:
// a message in, findings out, bounded. Each finding must name what and where; the walk must stop at its
// part limit. libclamav is not linked: its own fuzzing is upstream's.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>

#include "core/filter/banned.hpp"
#include "core/filter/headers.hpp"
#include "core/filter/mime.hpp"

using namespace mailproxy::filter;

namespace {

void require(bool ok) {
    if (!ok)
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = memfd_create("message", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    std::size_t done = 0;
    while (done < size) {
        const auto n = ::write(fd, data + done, size - done);
        if (n <= 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    MimeLimits limits;
    limits.max_parts = 200;
    limits.max_part_bytes = 1 << 20;
    ArchiveLimits archive;
    archive.max_expanded = 8 << 20;
    BannedCheck banned(archive);
    std::vector<Finding> found;
    std::size_t visited = 0;
    const auto walk = walk_mime(fd, limits, [&](const MimePart& part) {
        ++visited;
        require(!part.path.empty() && part.data.size() <= limits.max_part_bytes);
        banned.check(part, found);
    });
    require(visited == walk.parts && walk.parts <= limits.max_parts);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto headers = check_headers(header_section(text), walk);
    found.insert(found.end(), headers.begin(), headers.end());
    for (const auto& f : found)
        require(!f.what.empty() && !f.where.empty());
    ::close(fd);
    return 0;
}
