#pragma once

#include <string>
#include <vector>

#include "core/entry/entry.hpp"

namespace mailproxy::entry {

/// The policy values of a preset (DESIGN §2). OFF's scores are MEDIUM's, unused while spam.mode is
/// DISABLED, and the starting point when an OFF entry turns CUSTOM. CUSTOM has no values of its own:
/// preset(CUSTOM) returns MEDIUM's, the published defaults.
Policy preset(Protection p);

/// The policy that applies to the entry: the preset's for HIGH/MEDIUM/LOW/OFF, the entry's own for CUSTOM.
Policy effective_policy(const MailProxy& e);

/// Names of the policy fields (`virus`, `spam.kill`, …) whose values differ between `a` and `b`.
std::vector<std::string> policy_differences(const Policy& a, const Policy& b);

/// Outcome of change_policy(): what happened to `protection`, for the command to say.
struct PolicyChange {
    bool became_custom = false;  ///< the entry had a preset and now is CUSTOM
    Protection from = Protection::custom;
    std::vector<std::string> fields;  ///< the policy fields that changed
};

/// Applies `wanted` to the entry's policy. An entry on a preset whose effective values change turns
/// CUSTOM, starting from the preset's values; one whose values do not change keeps its preset.
PolicyChange change_policy(MailProxy& e, const Policy& wanted);

/// Sets a protection level: a preset replaces the policy values with its own, CUSTOM keeps the current
/// effective values.
void set_protection(MailProxy& e, Protection p);

}  // namespace mailproxy::entry
