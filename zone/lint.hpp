#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "zone/reader.hpp"

namespace mailproxy::zone {

inline constexpr std::string_view k_proxy_host = "mailproxy.domain-robot.org.";
inline constexpr std::string_view k_proxy_address = "62.116.162.145";

struct LintOptions {
    std::string proxy_host{k_proxy_host};  ///< absolute
    std::vector<std::string> proxy_addresses{std::string(k_proxy_address)};
    std::string custom_host;  ///< absolute, or empty
    std::string target;       ///< the real mail server, absolute, or empty
    std::string against;      ///< the previous version of the file, or empty
    ReadOptions read;
};

/// A rule as `mailproxy zone rules` lists it.
struct Rule {
    std::string_view id;
    Severity severity;
    std::string_view summary;
    std::string_view hint;
};

/// Every rule, reader problems first; ids are stable.
const std::vector<Rule>& rules();

struct LintResult {
    std::string file;
    std::string origin;
    OriginSource origin_source = OriginSource::none;
    std::size_t records = 0;
    std::vector<Finding> findings;  ///< in file order
    /// Set by `zone check`: the records as DNS answered them; a finding's line is an index into these
    /// (1-based, 0 for none) and its file is the domain.
    std::vector<std::string> answers;
    std::vector<std::string> unanswered;  ///< `zone check`: hosts whose addresses were not checked
};

/// Reads one zone file and applies every rule. Keeps only what the rules need (MX, CNAME, apex TXT,
/// addresses of the custom host, SOA, and an 8-byte hash per owner name), so memory does not grow with the
/// record data.
LintResult lint_file(const std::string& path, const LintOptions& options);

/// The same rules on zone text in memory (named `name` in findings).
LintResult lint_text(std::string_view text, const std::string& name, const LintOptions& options);

/// RFC 1982: is `b` greater than `a` in serial number arithmetic?
bool serial_greater(uint32_t b, uint32_t a);

}  // namespace mailproxy::zone
