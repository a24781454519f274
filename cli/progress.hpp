#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailproxy::cli {

/// A one-line progress bar on stderr for bulk operations, drawn only when stderr is a terminal, there is
/// more than one item and --quiet is off. clear() before writing anything else to the terminal.
class Progress {
  public:
    Progress(std::size_t total, bool quiet);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// Shows that item `done` (1-based) of the total, `label`, is finished.
    void step(std::size_t done, std::string_view label);
    /// Removes the bar from the terminal (it comes back with the next step()).
    void clear();

  private:
    std::size_t m_total;
    bool m_enabled;
    bool m_drawn = false;
};

}  // namespace mailproxy::cli
