#include "cli/progress.hpp"

#include <unistd.h>

#include <iostream>

namespace mailproxy::cli {

Progress::Progress(std::size_t total, bool quiet)
    : m_total(total), m_enabled(!quiet && total > 1 && ::isatty(2) == 1) {}

Progress::~Progress() {
    clear();
}

void Progress::step(std::size_t done, std::string_view label) {
    if (!m_enabled)
        return;
    constexpr std::size_t k_width = 30;
    const std::size_t filled = m_total == 0 ? k_width : done * k_width / m_total;
    std::string bar(filled, '#');
    bar.resize(k_width, '.');
    std::cerr << "\r\033[K[" << bar << "] " << done << '/' << m_total << ' ' << label.substr(0, 40)
              << std::flush;
    m_drawn = true;
}

void Progress::clear() {
    if (!m_drawn)
        return;
    std::cerr << "\r\033[K" << std::flush;
    m_drawn = false;
}

}  // namespace mailproxy::cli
