#pragma once

#include <string>
#include <vector>

namespace mailproxy::filter {

/// The checks of DESIGN §5.2 that find something in a message; spam is a finding only as a verdict
/// (its score is in ScanResult::spam).
enum class Category { virus, banned, bad_header, spam };
std::string_view to_string(Category c);

/// One thing a check found: what (a virus name, the rule) and where (the part or the header line).
struct Finding {
    Category category;
    std::string what;
    std::string where;
};

}  // namespace mailproxy::filter
