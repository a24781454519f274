#include "core/filter/mime.hpp"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <gmime/gmime.h>

#include "core/filter/banned.hpp"
#include "core/util/strings.hpp"

namespace mailproxy::filter {
namespace {

void init_once() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

const char* issue_text(GMimeParserWarning w, bool& critical) {
    critical = false;
    switch (w) {
        case GMIME_WARN_DUPLICATED_HEADER:
            return "duplicated header";
        case GMIME_WARN_DUPLICATED_PARAMETER:
            return "duplicated parameter";
        case GMIME_WARN_UNENCODED_8BIT_HEADER:
            return "unencoded 8-bit header";
        case GMIME_WARN_INVALID_CONTENT_TYPE:
            return "invalid content type";
        case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
            return "invalid RFC 2047 header value";
        case GMIME_WARN_INVALID_PARAMETER:
            return "invalid header parameter";
        case GMIME_WARN_MALFORMED_MULTIPART:
            return "multipart without parts";
        case GMIME_WARN_TRUNCATED_MESSAGE:
            return "truncated message";
        case GMIME_WARN_MALFORMED_MESSAGE:
            return "malformed message";
        case GMIME_WARN_INVALID_ADDRESS_LIST:
            return "invalid address list";
        case GMIME_WARN_PART_WITHOUT_CONTENT:
            return "part without content";
        default:
            break;
    }
    critical = true;
    switch (w) {
        case GMIME_CRIT_INVALID_HEADER_NAME:
            return "invalid header name";
        case GMIME_CRIT_CONFLICTING_HEADER:
            return "conflicting header";
        case GMIME_CRIT_CONFLICTING_PARAMETER:
            return "conflicting header parameter";
        case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
            return "multipart without boundary";
        case GMIME_CRIT_NESTING_OVERFLOW:
            return "MIME nesting too deep";
        case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
            return "part without headers or content";
        default:
            return "MIME error";
    }
}

void on_warning(gint64, GMimeParserWarning code, const gchar* item, gpointer data) {
    auto& walk = *static_cast<MimeWalk*>(data);
    if (walk.issues.size() >= 100)
        return;  // enough to judge; a hostile message may make thousands
    bool critical = false;
    const char* text = issue_text(code, critical);
    walk.issues.push_back({text, item != nullptr ? std::string(item).substr(0, 200) : "", critical});
}

template <typename T>
struct Unref {
    void operator()(T* p) const {
        if (p != nullptr)
            g_object_unref(p);
    }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref<T>>;

class Walker {
  public:
    Walker(const MimeLimits& l, MimeWalk& w, const std::function<void(const MimePart&)>& v)
        : m_limits(l), m_walk(w), m_visit(v) {}

    void walk(GMimeObject* obj, const std::string& path, std::size_t depth = 0) {
        if (obj == nullptr)
            return;
        if (m_walk.parts >= m_limits.max_parts) {
            stop(fmt::format("more than {} parts", m_limits.max_parts));
            return;
        }
        if (depth > m_limits.max_depth) {
            stop(fmt::format("nested more than {} levels", m_limits.max_depth));
            return;
        }
        ++m_walk.parts;
        MimePart part;
        part.path = path;
        if (auto* ct = g_mime_object_get_content_type(obj)) {
            char* type = g_mime_content_type_get_mime_type(ct);
            if (type != nullptr) {
                part.content_type = util::to_lower(type);
                g_free(type);
            }
        }
        for (const char* n : {g_mime_object_get_content_disposition_parameter(obj, "filename"),
                              g_mime_object_get_content_type_parameter(obj, "name")}) {
            if (n != nullptr && *n != '\0' &&
                std::find(part.names.begin(), part.names.end(), n) == part.names.end())
                part.names.emplace_back(n);
        }
        if (GMIME_IS_MULTIPART(obj)) {
            part.leaf = false;
            m_visit(part);
            auto* mp = GMIME_MULTIPART(obj);
            const int n = g_mime_multipart_get_count(mp);
            for (int i = 0; i < n && !m_walk.incomplete; ++i)
                walk(g_mime_multipart_get_part(mp, i), fmt::format("{}.{}", path, i + 1), depth + 1);
        } else if (GMIME_IS_MESSAGE_PART(obj)) {
            part.leaf = false;
            m_visit(part);
            auto* msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
            if (msg != nullptr)
                walk(g_mime_message_get_mime_part(msg), path + ".1", depth + 1);
        } else if (GMIME_IS_PART(obj)) {
            read_content(GMIME_PART(obj), part);
            m_visit(part);
        } else {
            m_visit(part);
        }
    }

  private:
    void stop(std::string why) {
        if (!m_walk.incomplete) {
            m_walk.incomplete = true;
            m_walk.incomplete_why = std::move(why);
        }
    }

    void read_content(GMimePart* p, MimePart& part) {
        auto* wrapper = g_mime_part_get_content(p);
        if (wrapper == nullptr)
            return;
        auto* raw = g_mime_data_wrapper_get_stream(wrapper);
        if (raw == nullptr)
            return;
        g_mime_stream_reset(raw);
        Ref<GMimeStream> filtered(g_mime_stream_filter_new(raw));
        const auto encoding = g_mime_data_wrapper_get_encoding(wrapper);
        if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
            encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
            Ref<GMimeFilter> decoder(g_mime_filter_basic_new(encoding, FALSE));
            if (decoder)
                g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
        }
        char buf[16384];
        constexpr std::size_t k_typed_decision = 8192;  // decoded bytes looked at before deciding
        bool decided = !m_limits.typed_only;
        for (;;) {
            const auto n = g_mime_stream_read(filtered.get(), buf, sizeof buf);
            if (n < 0)
                break;
            if (n == 0) {
                // a block that decodes to nothing (base64 full of ignored characters) is not the end
                if (g_mime_stream_eos(filtered.get()))
                    break;
                continue;
            }
            const auto room = m_limits.max_part_bytes - part.data.size();
            if (static_cast<std::size_t>(n) > room) {
                part.data.append(buf, room);
                part.data_cut = true;
                break;
            }
            part.data.append(buf, static_cast<std::size_t>(n));
            if (!decided && part.data.size() >= k_typed_decision) {
                decided = true;
                if (!may_have_short_type(part.data)) {
                    // not a format any check looks into: its start is all that is kept
                    part.data_cut = true;
                    break;
                }
            }
        }
    }

    const MimeLimits& m_limits;
    MimeWalk& m_walk;
    const std::function<void(const MimePart&)>& m_visit;
};

}  // namespace

MimeWalk walk_mime(int fd, const MimeLimits& limits, const std::function<void(const MimePart&)>& visit) {
    init_once();
    MimeWalk walk;
    const int own = ::dup(fd);
    if (own < 0)
        return walk;
    ::lseek(own, 0, SEEK_SET);
    Ref<GMimeStream> stream(g_mime_stream_fs_new(own));  // owns `own`
    Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    GMimeParserOptions* options = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(options, on_warning, &walk);
    Ref<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options));
    g_mime_parser_options_free(options);
    if (!message)
        return walk;
    walk.parsed = true;
    Walker(limits, walk, visit).walk(g_mime_message_get_mime_part(message.get()), "1");
    return walk;
}

}  // namespace mailproxy::filter
