#include "cli/choices.hpp"

#include <map>

namespace mailproxy::cli {
namespace {
std::map<const CLI::Option*, std::vector<std::string>>& registry() {
    static std::map<const CLI::Option*, std::vector<std::string>> r;
    return r;
}
}  // namespace

CLI::Option* with_choices(CLI::Option* opt, std::vector<std::string> choices) {
    opt->transform(CLI::IsMember(choices, CLI::ignore_case));
    registry()[opt] = std::move(choices);
    return opt;
}

const std::vector<std::string>* choices_of(const CLI::Option* opt) {
    const auto it = registry().find(opt);
    return it == registry().end() ? nullptr : &it->second;
}

}  // namespace mailproxy::cli
