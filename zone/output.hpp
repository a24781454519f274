#pragma once

#include <string>
#include <vector>

#include "zone/lint.hpp"

namespace mailproxy::zone {

/// `file:line:col: severity: message [rule]`, then the source line with a caret under the place and
/// the hint; nothing for a result without findings.
std::string format_text(const LintResult& r);

/// One JSON document for all results (schema in mailproxy(1), ZONE LINT JSON):
/// {"version":1,"files":[{"file","origin","origin_source","records"}],"findings":[{"file","line","column",
/// "severity","rule","message","hint"}],"summary":{"error":n,"warning":n,"info":n}}
std::string format_json(const std::vector<LintResult>& results);

/// GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=RULE::MESSAGE` (warning and
/// notice for the other severities), escaped as the runner expects.
std::string format_github(const LintResult& r);

}  // namespace mailproxy::zone
