#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mailproxy::daemon {

/// `key=value` log lines on stderr ("mailproxy: level=info event=... ...") or syslog (facility mail).
/// Values with blanks, quotes or '=' are quoted; control characters are escaped, so a client cannot
/// forge a line. Never give it a secret.
class Logger {
  public:
    enum class Level { info, warning, error };
    explicit Logger(bool syslog = false);
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    using Field = std::pair<std::string_view, std::string_view>;
    void log(Level level, std::string_view event, std::initializer_list<Field> fields = {});
    void info(std::string_view event, std::initializer_list<Field> fields = {}) {
        log(Level::info, event, fields);
    }
    void warning(std::string_view event, std::initializer_list<Field> fields = {}) {
        log(Level::warning, event, fields);
    }
    void error(std::string_view event, std::initializer_list<Field> fields = {}) {
        log(Level::error, event, fields);
    }

  private:
    bool m_syslog;
};

/// A value as the log writes it (quoted and escaped when needed); bounded to 300 characters.
std::string log_value(std::string_view v);

}  // namespace mailproxy::daemon
