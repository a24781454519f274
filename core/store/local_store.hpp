#pragma once

#include <filesystem>
#include <string>

#include "core/store/entry_store.hpp"

namespace mailproxy::store {

/// The default entry directory (DESIGN §3): /etc/mailproxy/entries for root, else
/// $XDG_DATA_HOME/mailproxy/entries ($HOME/.local/share/mailproxy/entries when XDG_DATA_HOME is unset).
std::filesystem::path default_store_dir();

/// Entries as `<domain>.json` files in one directory, human-editable. Writes are atomic (temp file,
/// fsync, rename, fsync of the directory) and serialised between processes by flock(2) on `.lock` in
/// the directory; reads take no lock, since a rename never shows a half-written file. Files whose names
/// start with '.' or do not end in `.json` are not entries and are ignored.
class LocalStore final : public EntryStore {
  public:
    explicit LocalStore(std::filesystem::path dir);

    const std::filesystem::path& dir() const { return m_dir; }

    Expected<void> create(const entry::MailProxy& e) override;
    Expected<entry::MailProxy> update(std::string_view domain, const UpdateFn& change) override;
    Expected<void> remove(std::string_view domain) override;
    Expected<entry::MailProxy> info(std::string_view domain) override;
    Expected<ListResult> list(const std::vector<Filter>& filters, Detail detail) override;
    Expected<void> import(const std::vector<entry::MailProxy>& entries, bool replace) override;

  private:
    std::filesystem::path path_of(std::string_view domain) const;
    Expected<entry::MailProxy> load(const std::filesystem::path& file, std::string_view domain) const;

    std::filesystem::path m_dir;
};

}  // namespace mailproxy::store
