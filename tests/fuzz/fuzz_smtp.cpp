// libFuzzer target for the SMTP parsers (no I/O): command lines, paths, replies, and the DATA reader.
// The DATA invariants are checked, not only the absence of crashes: no bare CR or LF comes out, the size
// bound holds, and re-stuffing the message gives a stream that reads back to the same message.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/smtp/data.hpp"
#include "core/smtp/protocol.hpp"

using namespace mailproxy::smtp;

namespace {

void require(bool ok) {
    if (!ok)
        __builtin_trap();
}

void fuzz_lines(std::string_view in) {
    ReplyParser replies;
    std::size_t start = 0;
    while (start < in.size()) {
        auto nl = in.find('\n', start);
        if (nl == std::string_view::npos)
            nl = in.size();
        const auto line = in.substr(start, nl - start);
        const auto c = parse_command(line);
        PathError e;
        if (c.verb == Verb::mail || c.verb == Verb::rcpt) {
            const auto p = parse_path(c.arg, c.verb == Verb::mail, e);
            require(p.has_value() || (e.code >= 500 && e.code < 600 && !e.text.empty()));
            if (p && !p->address.empty())
                require(!p->domain.empty() && p->domain.size() <= 253 && p->domain.back() != '.');
        }
        if (replies.feed(line) != ReplyParser::Status::more)
            (void)replies.take();
        start = nl + 1;
    }
}

void fuzz_data(std::string_view in, std::size_t chunk, std::size_t max) {
    DataReader r(max);
    std::string out;
    std::size_t used = 0;
    while (used < in.size() && !r.done()) {
        const auto piece = in.substr(used, std::min(chunk, in.size() - used));
        const auto n = r.feed(piece, out);
        require(n <= piece.size());
        require(n == piece.size() || r.done());
        used += n;
    }
    require(out.size() <= max);
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\r')
            require(i + 1 < out.size() && out[i + 1] == '\n');
        if (out[i] == '\n')
            require(i > 0 && out[i - 1] == '\r');
    }
    if (!r.done() || r.too_big())
        return;
    // what is forwarded reads back as exactly this message, ending at its own end marker only
    DotStuffer s;
    std::string wire;
    s.feed(out, wire);
    wire += s.finish();
    DataReader back(max + 16);
    std::string again;
    const auto n = back.feed(wire, again);
    require(back.done());
    require(n == wire.size());
    require(again == out);
    require(!back.had_bare_line_end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2)
        return 0;
    const auto chunk = static_cast<std::size_t>(data[0] % 16) + 1;
    const auto max = static_cast<std::size_t>(data[1]) * 64 + 16;
    const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
    fuzz_lines(in);
    fuzz_data(in, chunk, max);
    fuzz_data(in, in.size() + 1, 1 << 20);
    return 0;
}
