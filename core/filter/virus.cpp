#include "core/filter/virus.hpp"

#include "core/filter/clamd.hpp"

#include <unistd.h>

#include <mutex>

#include <clamav.h>
#include <fmt/format.h>

namespace mailproxy::filter {
namespace {

void quiet(enum cl_msg, const char*, const char*, void*) {
    // libclamav's own messages (warnings about odd files, mostly) are not ours to print; errors reach
    // the caller as return codes
}

Expected<void> init_once() {
    static std::once_flag once;
    static cl_error_t result = CL_SUCCESS;
    std::call_once(once, [] {
        cl_set_clcb_msg(quiet);
        result = cl_init(CL_INIT_DEFAULT);
    });
    if (result != CL_SUCCESS)
        return fail(ErrorCode::failed, fmt::format("libclamav cannot start: {}", cl_strerror(result)));
    return {};
}

}  // namespace

Expected<std::shared_ptr<const ClamavEngine>> ClamavEngine::load(const std::string& path,
                                                                 const ScanLimits& limits,
                                                                 const std::string& tmpdir) {
    if (auto ok = init_once(); !ok)
        return tl::make_unexpected(ok.error());
    std::shared_ptr<ClamavEngine> e(new ClamavEngine());
    e->m_engine = cl_engine_new();
    if (e->m_engine == nullptr)
        return fail(ErrorCode::failed, "libclamav: cannot make an engine");
    const std::string where = path.empty() ? cl_retdbdir() : path;
    const auto set = [&](cl_engine_field f, long long v) { return cl_engine_set_num(e->m_engine, f, v); };
    if (set(CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(limits.max_scan_size)) != CL_SUCCESS ||
        set(CL_ENGINE_MAX_FILESIZE, static_cast<long long>(limits.max_file_size)) != CL_SUCCESS ||
        set(CL_ENGINE_MAX_RECURSION, limits.max_recursion) != CL_SUCCESS ||
        set(CL_ENGINE_MAX_FILES, limits.max_files) != CL_SUCCESS ||
        set(CL_ENGINE_MAX_SCANTIME, limits.max_scan_time_ms) != CL_SUCCESS)
        return fail(ErrorCode::failed, "libclamav: the scan limits cannot be set");
    if (!tmpdir.empty() && cl_engine_set_str(e->m_engine, CL_ENGINE_TMPDIR, tmpdir.c_str()) != CL_SUCCESS)
        return fail(ErrorCode::failed, "libclamav: the temporary directory cannot be set");
    unsigned sigs = 0;
    if (const auto r = cl_load(where.c_str(), e->m_engine, &sigs, CL_DB_STDOPT); r != CL_SUCCESS)
        return fail(ErrorCode::config,
                    fmt::format("clamav-db: {} cannot be loaded: {}", where, cl_strerror(r)));
    if (sigs == 0)
        return fail(ErrorCode::config, fmt::format("clamav-db: {} holds no signature", where));
    if (const auto r = cl_engine_compile(e->m_engine); r != CL_SUCCESS)
        return fail(ErrorCode::config,
                    fmt::format("clamav-db: {} does not compile: {}", where, cl_strerror(r)));
    e->m_signatures = sigs;
    return std::shared_ptr<const ClamavEngine>(std::move(e));
}

ClamavEngine::~ClamavEngine() {
    if (m_engine != nullptr)
        cl_engine_free(m_engine);
}

VirusResult ClamavEngine::scan(int fd) const {
    if (::lseek(fd, 0, SEEK_SET) != 0)
        return {VirusResult::Kind::error, "the message cannot be read"};
    cl_scan_options options{};
    options.parse = ~0u;  // every parser, mail and archives included (as clamscan)
    options.general = CL_SCAN_GENERAL_HEURISTICS;
    const char* name = nullptr;
    unsigned long scanned = 0;
    const auto r = cl_scandesc(fd, nullptr, &name, &scanned, m_engine, &options);
    if (r == CL_CLEAN)
        return {};
    if (r == CL_VIRUS)
        return {VirusResult::Kind::virus, name != nullptr ? name : "unnamed"};
    return {VirusResult::Kind::error, fmt::format("libclamav: {}", cl_strerror(r))};
}

std::string ClamavEngine::product() const {
    return fmt::format("ClamAV {}", cl_retver());
}

std::string ClamavEngine::describe() const {
    return fmt::format("libclamav {}, {} signatures", cl_retver(), m_signatures);
}

Expected<std::shared_ptr<const VirusScanner>> open_scanner(const ScannerChoice& choice) {
    if (!choice.clamd.empty()) {
        auto c = ClamdScanner::open(choice.clamd, choice.clamd_timeout);
        if (!c)
            return tl::make_unexpected(c.error());
        return std::shared_ptr<const VirusScanner>(*c);
    }
    auto e = ClamavEngine::load(choice.clamav_db, {}, choice.tmpdir);
    if (!e)
        return tl::make_unexpected(e.error());
    return std::shared_ptr<const VirusScanner>(*e);
}

}  // namespace mailproxy::filter
