#include "core/daemon/log.hpp"

#include <syslog.h>

#include <cstdio>

#include <fmt/format.h>

namespace mailproxy::daemon {

std::string log_value(std::string_view v) {
    constexpr std::size_t k_max = 300;
    bool quote = v.empty();
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < k_max; ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c == ' ' || c == '=' || c == '"')
            quote = true;
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 32 || c == 127) {
            out += fmt::format("\\x{:02x}", c);
            quote = true;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (v.size() > k_max)
        out += "...";
    return quote ? "\"" + out + "\"" : out;
}

Logger::Logger(bool use_syslog) : m_syslog(use_syslog) {
    if (m_syslog)
        ::openlog("mailproxy", LOG_PID, LOG_MAIL);
}

Logger::~Logger() {
    if (m_syslog)
        ::closelog();
}

void Logger::log(Level level, std::string_view event, std::initializer_list<Field> fields) {
    const char* name = level == Level::info ? "info" : level == Level::warning ? "warning" : "error";
    std::string line = fmt::format("level={} event={}", name, log_value(event));
    for (const auto& [k, v] : fields)
        line += fmt::format(" {}={}", k, log_value(v));
    if (m_syslog) {
        const int prio = level == Level::info ? LOG_INFO : level == Level::warning ? LOG_WARNING : LOG_ERR;
        ::syslog(prio, "%s", line.c_str());
    } else {
        std::fprintf(stderr, "mailproxy: %s\n", line.c_str());
        std::fflush(stderr);
    }
}

}  // namespace mailproxy::daemon
