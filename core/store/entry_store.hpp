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

/// How much of each entry list() must return.
enum class Detail { summary, full };

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

    /// Every entry matching the filters; unreadable ones are listed as problems, not hidden. With
    /// Detail::summary only domain, target, admin, protection and greylisting are sure to be filled
    /// (a remote store lists no more); Detail::full reads every member.
    virtual Expected<ListResult> list(const std::vector<Filter>& filters, Detail detail) = 0;

    /// Stores the entries, each of which must be valid; all are validated before anything is written.
    /// Existing domains are replaced only when `replace` is set. The local store writes all or none
    /// (an existing domain without `replace` fails the whole import with ErrorCode::exists); a remote
    /// store sends one request per entry, goes on past failures and fails naming every one.
    virtual Expected<void> import(const std::vector<entry::MailProxy>& entries, bool replace) = 0;
};

/// The message for an entry that failed validate(): "<domain>: <field error>" lines.
std::string describe_invalid(std::string_view source, const std::vector<entry::FieldError>& errors);

/// validate() as an Expected: ErrorCode::invalid with describe_invalid()'s message.
Expected<void> check_valid(const entry::MailProxy& e);

/// check_valid() on every entry, and no domain twice: ErrorCode::invalid naming every problem.
Expected<void> check_all_valid(const std::vector<entry::MailProxy>& entries);

/// ErrorCode::invalid unless `domain` is a canonical domain name (so it is safe in a path or URL).
Expected<void> check_domain(std::string_view domain);

}  // namespace mailproxy::store
