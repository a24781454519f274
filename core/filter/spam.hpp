#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/entry/entry.hpp"
#include "core/util/error.hpp"

namespace mailproxy::filter {

/// What a spam engine is told about a message besides its bytes (rspamd's request headers).
struct SpamContext {
    std::string ip;
    std::string helo;
    std::string sender;
    std::vector<std::string> recipients;
    std::string queue_id;
    std::string
        received;  ///< our Received: line(s), sent ahead of the message (spamd reads the client there)
};

/// An engine's answer: the score and the names of the rules that hit, or why there is none.
struct SpamScore {
    bool ok = false;
    double score = 0;
    std::vector<std::string> rules;
    std::string error;
};

/// A spam engine (DESIGN §5.2 step 5): spamd or rspamd. Used by any number of threads at once.
class SpamEngine {
  public:
    virtual ~SpamEngine() = default;
    /// Scores the message in `fd` (from its start, `size` bytes). Blocking.
    virtual SpamScore score(int fd, std::size_t size, const SpamContext& context) const = 0;
    /// Asks the engine whether it is there (spamd PING, rspamd /ping); "" when it is, else why not.
    virtual std::string ping() const = 0;
    /// "spamd at 127.0.0.1:783", "rspamd at http://127.0.0.1:11333".
    virtual std::string describe() const = 0;
};

/// `--spam-engine`: "spamd:IP:PORT", "spamd:unix:/path", "rspamd:http://IP:PORT" or "none".
struct SpamChoice {
    std::string engine = "none";
    int timeout = 30;               ///< seconds for one scoring, connecting included
    std::size_t max_size = 512000;  ///< larger messages are not scored (spamc's 500 KiB)
};

/// The engine `choice` names; nullptr for "none"; ErrorCode::config for a spec that is not one of
/// the forms (nothing is connected to).
Expected<std::shared_ptr<const SpamEngine>> make_spam_engine(const SpamChoice& choice);

/// The spam part of a verdict: why the engine was not asked, or its answer.
struct SpamCheck {
    enum class State { off, excluded, whitelisted, blacklisted, too_big, scored, failed };
    State state = State::off;
    double score = 0;
    std::vector<std::string> rules;
    std::string note;  ///< the list entry's address, the size, or the engine's error
    /// Whether the entry's spam marks and kill action apply (scored, or blacklisted: at kill).
    bool counts() const { return state == State::scored || state == State::blacklisted; }
};

/// The entry's sender lists, for check_spam.
struct SpamLists {
    const entry::MailList* whitelist = nullptr;
    const entry::MailList* blacklist = nullptr;
};

/// DESIGN §5.2 step 5 and §5.4 on the message in `fd` (`size` bytes), whose start as the header checks
/// read it is `head` (ScanResult::head): whitelisted (the envelope sender or an address of the header
/// From: on the whitelist) → not scored; blacklisted → counts as at kill; else scored by `engine` unless
/// larger than `max_size`. `engine` null: only the lists apply. Blocking.
SpamCheck check_spam(int fd, std::string_view head, std::size_t size, const SpamEngine* engine,
                     std::size_t max_size, const SpamLists& lists, const SpamContext& context);

/// Whether the message is spam under `p`: scored at or above spam.spam, or blacklisted.
bool is_spam(const SpamCheck& c, const entry::SpamPolicy& p);

/// DESIGN §5.3 spam marking for score `s` under `p`: the header lines to add (CR LF ended, folded at
/// 78 columns) — X-Spam-Status and X-Spam-Level at tagHeader, X-Spam-Flag at spam — and whether the
/// subject gets the `+++SPAM ` prefix.
struct SpamMarks {
    std::string headers;
    bool subject_prefix = false;
};
SpamMarks spam_marks(const SpamCheck& c, const entry::SpamPolicy& p);

/// "6.5", "-999", "1000", "0.123": up to three decimals, without trailing zeros.
std::string score_text(double v);

}  // namespace mailproxy::filter
