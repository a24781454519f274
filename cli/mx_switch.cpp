// The MX switch shared by `zone rewrite`, `zone push`, `enable` and `disable`.
#include "cli/mx_switch.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "cli/choices.hpp"
#include "core/util/file.hpp"
#include "core/util/net.hpp"
#include "core/util/strings.hpp"
#include "zone/output.hpp"

namespace mailproxy::cli {

std::string absolute_name(std::string name) {
    if (!name.empty() && name.back() != '.')
        name += '.';
    return util::to_lower(name);
}

void add_switch_options(CLI::App* cmd, SwitchArgs& a, SwitchDirection direction) {
    cmd->add_option("--proxy-host", a.proxy_host, "The MailProxy host the MX points at")
        ->type_name("NAME")
        ->capture_default_str();
    cmd->add_option("--custom-host", a.custom_host,
                    "Point the MX at a host name of your own instead, with A/AAAA records (--address)")
        ->type_name("NAME");
    cmd->add_option("--address", a.addresses, "An address of the MailProxy for --custom-host (repeatable)")
        ->type_name("IP");
    if (direction != SwitchDirection::back) {
        cmd->add_flag(
            "--replace", a.replace,
            "Replace a CNAME or other address records the custom host has (else they are an error)");
    }
    cmd->add_option("--preference", a.preference, "The preference of the new MX records")
        ->type_name("N")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cmd->add_option("--ttl", a.ttl, "TTL of the new records (default: that of the MX they replace)")
        ->type_name("SECONDS")
        ->check(CLI::Range(0LL, 2147483647LL));
    if (direction == SwitchDirection::both) {
        auto* revert = cmd->add_flag("--revert", a.revert,
                                     "Switch back: the MX to the proxy goes, --target becomes the MX again");
        cmd->add_option("--target", a.targets,
                        "With --revert: the real mail server, [PREF:]HOST (repeatable; PREF default "
                        "--preference)")
            ->type_name("HOST")
            ->needs(revert);
    }
}

std::optional<uint32_t> ttl_of(const SwitchArgs& a) {
    return a.ttl >= 0 ? std::optional<uint32_t>(static_cast<uint32_t>(a.ttl)) : std::nullopt;
}

zone::SerialStyle serial_style(const std::string& s) {
    return s == "increment"  ? zone::SerialStyle::increment
           : s == "date"     ? zone::SerialStyle::date
           : s == "unixtime" ? zone::SerialStyle::unixtime
           : s == "keep"     ? zone::SerialStyle::keep
                             : zone::SerialStyle::automatic;
}

Expected<zone::SwitchOptions> switch_options(const SwitchArgs& a) {
    zone::SwitchOptions o;
    o.proxy_host = absolute_name(a.proxy_host);
    o.custom_host = a.custom_host.empty() ? "" : absolute_name(a.custom_host);
    o.replace = a.replace;
    o.preference = a.preference;
    o.revert = a.revert;
    for (const auto* name : {&o.proxy_host, &o.custom_host}) {
        if (!name->empty() && (!zone::is_domain_name(*name) || *name == "." ||
                               util::is_ip_address(name->substr(0, name->size() - 1))))
            return fail(ErrorCode::invalid, fmt::format("{} is not a host name", *name));
    }
    for (const auto& address : a.addresses) {
        if (!util::is_ip_address(address))
            return fail(ErrorCode::invalid, fmt::format("--address {} is not an IP address", address));
        o.addresses.push_back(address);
    }
    if (!o.addresses.empty() && o.custom_host.empty())
        return fail(ErrorCode::invalid, "--address gives the addresses of --custom-host: name the host too");
    if (a.replace && o.custom_host.empty())
        return fail(ErrorCode::invalid,
                    "--replace applies to the records of --custom-host: name the host too");
    for (const auto& t : a.targets) {
        zone::MxRecord m{a.preference, t};
        if (const auto colon = t.find(':'); colon != std::string::npos) {
            const auto pref = util::parse_integer(std::string_view(t).substr(0, colon));
            if (!pref || *pref < 0 || *pref > 65535)
                return fail(ErrorCode::invalid,
                            fmt::format("--target {}: expected [PREF:]HOST with PREF 0 to 65535", t));
            m.pref = static_cast<unsigned>(*pref);
            m.exchange = t.substr(colon + 1);
        }
        m.exchange = absolute_name(m.exchange);
        if (!zone::is_domain_name(m.exchange) || m.exchange == "." ||
            util::is_ip_address(m.exchange.substr(0, m.exchange.size() - 1))) {
            return fail(ErrorCode::invalid, fmt::format("--target {}: an MX needs a host name", t));
        }
        if (m.exchange == o.proxy_host || m.exchange == o.custom_host)
            return fail(ErrorCode::invalid, fmt::format("--target {} is the MailProxy itself", t));
        o.targets.push_back(std::move(m));
    }
    if (a.revert && o.targets.empty())
        return fail(ErrorCode::invalid, "--revert needs --target HOST: the mail server to put back as MX");
    return o;
}

std::string rewrite_problems(const zone::RewriteResult& r) {
    zone::LintResult lr;
    lr.file = r.file;
    lr.findings = r.problems;
    return zone::format_text(lr);
}

Expected<zone::RewriteResult> rewrite_in_place(const std::string& file, const zone::RewriteOptions& o,
                                               const std::string& backup) {
    auto r = zone::rewrite_file(file, o);
    if (!r.problems.empty()) {
        return fail(ErrorCode::failed,
                    rewrite_problems(r) + fmt::format("{}: not rewritten; nothing was written", file));
    }
    if (!r.changed())
        return r;
    // a symbolic link stays one: the file it names is replaced
    std::error_code ec;
    const auto real = std::filesystem::canonical(file, ec);
    if (ec)
        return fail(ErrorCode::io,
                    fmt::format("cannot resolve {}: {}; nothing was written", file, ec.message()));
    auto mode = util::mode_of(real);
    if (!mode)
        return tl::make_unexpected(mode.error());
    if (!backup.empty()) {
        if (auto ok = util::write_atomically(file + backup, r.original, *mode); !ok)
            return fail(ok.error().code, ok.error().message + fmt::format("; {} is as it was", file));
    }
    auto staged = util::StagedFile::write(real, r.text, *mode);
    if (!staged)
        return fail(staged.error().code, staged.error().message + fmt::format("; {} is as it was", file));
    if (auto ok = staged->commit(); !ok)
        return fail(ok.error().code, ok.error().message + fmt::format("; {} is as it was", file));
    if (auto ok = util::fsync_dir(real.parent_path()); !ok) {
        return fail(
            ok.error().code,
            ok.error().message +
                fmt::format("; {} holds the new version, but a crash now could bring the old back", file));
    }
    return r;
}

std::string describe_rewrite(const zone::RewriteResult& r, bool done) {
    if (!r.changed())
        return fmt::format("{}: nothing to change\n", r.file);
    std::string out;
    for (const auto& c : r.changes) {
        if (c.added) {
            out += fmt::format("{}: {} after line {}: {}\n", r.file, done ? "added" : "would add", c.pos.line,
                               c.record);
        } else {
            out += fmt::format("{}: {} line {}: {}\n", r.file, done ? "removed" : "would remove", c.pos.line,
                               c.record);
        }
    }
    if (r.serial) {
        out += fmt::format("{}: {} the SOA serial {} to {}\n", r.file, done ? "changed" : "would change",
                           r.serial->first, r.serial->second);
    }
    for (const auto& n : r.notes)
        out += fmt::format("{}: note: {}\n", r.file, n);
    return out;
}

nlohmann::ordered_json rewrite_json(const zone::RewriteResult& r, bool written) {
    auto removed = nlohmann::ordered_json::array(), added = nlohmann::ordered_json::array();
    for (const auto& c : r.changes) {
        if (c.added)
            added.push_back({{"after_line", c.pos.line}, {"record", c.record}});
        else
            removed.push_back({{"line", c.pos.line}, {"record", c.record}});
    }
    nlohmann::ordered_json serial = nullptr;
    if (r.serial)
        serial = {{"old", r.serial->first}, {"new", r.serial->second}};
    return {{"file", r.file},     {"origin", r.origin}, {"changed", r.changed()}, {"written", written},
            {"removed", removed}, {"added", added},     {"serial", serial},       {"notes", r.notes}};
}

Expected<PushOutcome> push_zone(autodns::Client& client, const std::string& domain,
                                const zone::SwitchOptions& o, std::optional<uint32_t> ttl, bool dry_run) {
    const auto origin = absolute_name(domain);
    const auto name = origin.substr(0, origin.size() - 1);
    auto z = client.zone_info(name);
    if (!z)
        return tl::make_unexpected(z.error());
    PushOutcome out;
    out.change = zone::plan_stream(*z, origin, o, ttl);
    if (!out.change.conflicts.empty()) {
        std::string msg;
        for (const auto& c : out.change.conflicts)
            msg += (msg.empty() ? "" : "\n") + fmt::format("{}: {}", name, c);
        return fail(ErrorCode::failed, msg + fmt::format("\n{}: nothing was sent", name));
    }
    if (out.change.empty() || dry_run)
        return out;
    nlohmann::ordered_json body = nlohmann::ordered_json::object();
    if (!out.change.adds.empty())
        body["adds"] = out.change.adds;
    if (!out.change.rems.empty())
        body["rems"] = out.change.rems;
    bool unsure = false;
    auto sent = client.zone_stream(name, body, &unsure);
    if (!sent) {
        if (!unsure)
            return tl::make_unexpected(sent.error());
        // it may have been applied: what is left to do?
        auto again = client.zone_info(name);
        if (!again || !zone::plan_stream(*again, origin, o, ttl).empty()) {
            return fail(
                ErrorCode::unavailable,
                fmt::format("{}: the change got no clear answer ({}) and the zone does not show it; run "
                            "the command again",
                            name, sent.error().message));
        }
    }
    out.sent = true;
    return out;
}

std::string describe_push(const std::string& domain, const PushOutcome& p, bool dry_run) {
    if (p.change.empty())
        return fmt::format("{}: nothing to change\n", domain);
    std::string out;
    for (const auto& r : p.change.removed)
        out += fmt::format("{}: {} {}\n", domain, dry_run ? "would remove" : "removed", r);
    for (const auto& a : p.change.added)
        out += fmt::format("{}: {} {}\n", domain, dry_run ? "would add" : "added", a);
    return out;
}

nlohmann::ordered_json push_json(const std::string& domain, const PushOutcome& p, bool dry_run) {
    return {{"domain", domain},      {"changed", !p.change.empty()}, {"sent", p.sent},
            {"dry_run", dry_run},    {"removed", p.change.removed},  {"added", p.change.added},
            {"adds", p.change.adds}, {"rems", p.change.rems}};
}

}  // namespace mailproxy::cli
