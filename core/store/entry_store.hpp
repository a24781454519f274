#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/entry/entry.hpp"
#include "core/util/error.hpp"

namespace mailproxy::store {

/// One `key=pattern` condition of a list query; `*` in the pattern matches any run of characters
/// (AutoDNS `LIKE`), comparison ignores case.
struct Filter {
    std::string key;  ///< domain, target, admin, protection or greylisting
    std::string pattern;
};

/// Keys a Filter may name.
inline constexpr std::string_view k_filter_keys[] = {"domain", "target", "admin", "protection",
                                                     "greylisting"};

/// Parses "key=pattern"; fails (ErrorCode::invalid) on a missing '=' or an unknown key.
Expected<Filter> parse_filter(std::string_view text);

/// True when the entry satisfies every filter.
bool matches(const entry::MailProxy& e, const std::vector<Filter>& filters);

/// A stored object that could not be read; the others are still returned.
struct Problem {
    std::string source;  ///< a file path or a domain
    std::string message;
};

struct ListResult {
    std::vector<entry::MailProxy> entries;  ///< sorted by domain
    std::vector<Problem> problems;
};

/// Changes an entry in place during update(); an error aborts the update and nothing is written.
using UpdateFn = std::function<Expected<void>(entry::MailProxy&)>;

/// Where entries live (DESIGN §3): the local directory or AutoDNS.
class EntryStore {
  public:
    virtual ~EntryStore() = default;

    /// Stores a new, valid entry. Fails with ErrorCode::exists when the domain has one.
    virtual Expected<void> create(const entry::MailProxy& e) = 0;

    /// Reads the entry, applies `change`, validates and writes it back, as one step that concurrent
    /// updates cannot interleave with. Returns the stored result. ErrorCode::not_found when absent,
    /// ErrorCode::invalid (message lists every field error) when the result does not validate.
    virtual Expected<entry::MailProxy> update(std::string_view domain, const UpdateFn& change) = 0;

    /// Deletes the entry; ErrorCode::not_found when absent.
    virtual Expected<void> remove(std::string_view domain) = 0;

    /// Reads one entry; ErrorCode::not_found when absent, ErrorCode::corrupt when unreadable.
    virtual Expected<entry::MailProxy> info(std::string_view domain) = 0;

    /// Every entry matching the filters; unreadable ones are listed as problems, not hidden.
    virtual Expected<ListResult> list(const std::vector<Filter>& filters) = 0;

    /// Stores all entries at once or none of them (each must be valid). Existing domains are replaced
    /// only when `replace` is set, else the whole import fails with ErrorCode::exists naming them.
    virtual Expected<void> import(const std::vector<entry::MailProxy>& entries, bool replace) = 0;
};

/// The message for an entry that failed validate(): "<domain>: <field error>" lines.
std::string describe_invalid(std::string_view source, const std::vector<entry::FieldError>& errors);

}  // namespace mailproxy::store
