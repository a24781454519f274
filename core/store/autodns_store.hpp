#pragma once

#include <memory>

#include "core/autodns/client.hpp"
#include "core/store/entry_store.hpp"

namespace mailproxy::store {

/// Entries in AutoDNS: create is the order (POST), update is read, change, validate, write (PUT, with
/// merge where AutoDNS supports it), list is `_search` with paging. Every request goes through the
/// client's rate limit and retry rules.
class AutoDnsStore final : public EntryStore {
  public:
    explicit AutoDnsStore(std::unique_ptr<autodns::Client> client);

    autodns::Client& client() { return *m_client; }

    Expected<void> create(const entry::MailProxy& e) override;
    Expected<entry::MailProxy> update(std::string_view domain, const UpdateFn& change) override;
    Expected<void> remove(std::string_view domain) override;
    Expected<entry::MailProxy> info(std::string_view domain) override;
    Expected<ListResult> list(const std::vector<Filter>& filters, Detail detail) override;
    Expected<void> import(const std::vector<entry::MailProxy>& entries, bool replace) override;

  private:
    std::unique_ptr<autodns::Client> m_client;
};

/// The AutoDNS QueryFilter array for our filters: a pattern with '*' is LIKE, one without is EQUAL.
/// protection and greylisting values are sent upper-case, as AutoDNS spells them.
nlohmann::ordered_json to_query_filters(const std::vector<Filter>& filters);

}  // namespace mailproxy::store
