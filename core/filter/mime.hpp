#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace mailproxy::filter {

/// Bounds on the MIME walk (hostile input: 10,000 parts, deep nesting, huge attachments).
struct MimeLimits {
    std::size_t max_parts = 2000;            ///< parts visited; more: the walk stops, `incomplete`
    std::size_t max_depth = 30;              ///< nesting of multiparts and messages; deeper: `incomplete`
    std::size_t max_part_bytes = 32u << 20;  ///< decoded bytes kept of one part
    /// Keep the whole body only of parts whose start looks like an executable or an archive (the banned
    /// check's formats), the first 16 KiB of others: decoding every text and image whole costs time.
    bool typed_only = true;
};

/// One node of the MIME tree, as the walk visits it.
struct MimePart {
    std::string path;                ///< "1", "1.2", "1.2.1" (a message/rfc822 part's message is its ".1")
    std::string content_type;        ///< declared, lower-case ("application/pdf")
    std::vector<std::string> names;  ///< Content-Disposition filename and Content-Type name, decoded
    std::string data;                ///< the decoded body (leaf parts), at most max_part_bytes
    bool data_cut = false;           ///< the body was longer than max_part_bytes
    bool leaf = true;                ///< not a multipart or message/rfc822 container
};

/// A problem the parser reported (GMime's warnings), or one of the walk's own.
struct MimeIssue {
    std::string text;       ///< "duplicate parameter", "truncated message", ...
    std::string item;       ///< the value concerned ("boundary"), may be ""
    bool critical = false;  ///< parts of the input may have been skipped or seen differently
};

struct MimeWalk {
    bool parsed = false;      ///< GMime made a message of it
    bool incomplete = false;  ///< parts were left out (max_parts or max_depth): `incomplete_why`
    std::string incomplete_why;
    std::size_t parts = 0;
    std::vector<MimeIssue> issues;
};

/// Parses the message in `fd` (from its start) with GMime and calls `visit` for every part, depth first.
MimeWalk walk_mime(int fd, const MimeLimits& limits, const std::function<void(const MimePart&)>& visit);

}  // namespace mailproxy::filter
