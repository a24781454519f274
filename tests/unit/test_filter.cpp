#include <doctest/doctest.h>

#include "core/filter/banned.hpp"
#include "core/filter/headers.hpp"
#include "core/filter/wrap.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

using namespace mailproxy::filter;
using namespace std::string_literals;

TEST_SUITE("filter") {
    TEST_CASE("banned names: double extensions, banned extensions, and names that pass") {
        CHECK(banned_name_rule("invoice.pdf.exe") == "double extension .pdf.exe");
        CHECK(banned_name_rule("INVOICE.PDF.EXE") == "double extension .pdf.exe");
        CHECK(banned_name_rule("invoice.pdf.exe. ") ==
              "double extension .pdf.exe");                       // trailing dot and blank
        CHECK(banned_name_rule("v1.2.exe") == "extension .exe");  // "2" is a version, not an extension
        CHECK(banned_name_rule("photo.jpg.scr") == "double extension .jpg.scr");
        CHECK(banned_name_rule("run.js") == "extension .js");
        CHECK(banned_name_rule("setup.MSI") == "extension .msi");
        CHECK(banned_name_rule("report.pdf") == "");
        CHECK(banned_name_rule("archive.tar.gz") == "");
        CHECK(banned_name_rule("README") == "");
        CHECK(banned_name_rule(".exe") == "");  // only an extension: amavisd-new's rules need a name too
        CHECK(banned_name_rule("letter.docx") == "");
    }

    TEST_CASE("short types by libmagic") {
        CHECK(short_types("%PDF-1.4\n%...\n").empty());
        CHECK(short_types(std::string("PK\x03\x04", 4) + std::string(100, '\0')) ==
              std::vector<std::string>{"zip"});
        CHECK(short_types("").empty());
        CHECK(short_types("BZ").empty());  // shorter than the signatures looked for at offsets 2 and 257
        CHECK(short_types(std::string(300, 'x')).empty());
    }

    TEST_CASE("the header section ends at the first empty line, LF or CR LF") {
        CHECK(header_section("A: b\r\nC: d\r\n\r\nbody\r\n") == "A: b\r\nC: d\r\n");
        CHECK(header_section("A: b\nC: d\n\nbody\n") == "A: b\nC: d\n");
        CHECK(header_section("A: b\n") == "A: b\n");
        CHECK(header_section("\nbody") == "");
    }

    TEST_CASE("header findings name the header and the line") {
        const MimeWalk none;
        const auto f = check_headers(
            "From: a@b.example\nDate: Sat, 28 Nov 2026 12:00:00 +0000\nSubject: x\nSubject: y\n", none);
        REQUIRE(f.size() == 1);
        CHECK(f[0].what == "duplicate header Subject (first on line 3)");
        CHECK(f[0].where == "Subject, line 4");
        const auto missing = check_headers("Subject: x\n", none);
        REQUIRE(missing.size() == 2);
        CHECK(missing[0].what == "missing Date header");
        CHECK(missing[1].what == "missing From header");
        CHECK(check_headers("From: a@b.example\r\nDate: today\r\n", none).empty());
        const auto folded = check_headers("From: a@b.example\nDate: today\nSubject: x\n \t\n", none);
        REQUIRE(folded.size() == 1);
        CHECK(folded[0].where == "Subject, line 4");
    }

    TEST_CASE("header lines: line ends, folding, field names") {
        HeaderLines lines("A: 1\r\n  more\nB:2\nno colon");
        std::string_view line;
        bool cont = false;
        REQUIRE(lines.next(line, cont));
        CHECK(line == "A: 1");
        CHECK(!cont);
        REQUIRE(lines.next(line, cont));
        CHECK(line == "  more");
        CHECK(cont);
        REQUIRE(lines.next(line, cont));
        CHECK(HeaderLines::name_of(line) == "B");
        REQUIRE(lines.next(line, cont));
        CHECK(!HeaderLines::name_of(line));
        CHECK(!lines.next(line, cont));
        CHECK(header_value("Subject: one\r\n two\r\nTo: x\r\n", "SUBJECT") == "one two");
        CHECK(header_value("To: x\r\n", "Subject").empty());
    }

    TEST_CASE("the wrapped message copies whole fields, and drops a field with a NUL") {
        const std::string original =
            "From: a@b.example\r\nSubject: one\r\n two\r\nTo: x@y.example\r\n \0bad\r\n"
            "X-Other: z\r\n\r\nbody\r\n"s;  // with its NUL
        const int in = ::memfd_create("in", 0);
        const int out = ::memfd_create("out", 0);
        REQUIRE(in >= 0);
        REQUIRE(out >= 0);
        REQUIRE(::write(in, original.data(), original.size()) == static_cast<ssize_t>(original.size()));
        REQUIRE(write_wrapped(in, out, {"WARNING: contains virus Test"}));
        std::string text(65536, '\0');
        const auto n = ::pread(out, text.data(), text.size(), 0);
        REQUIRE(n > 0);
        text.resize(static_cast<std::size_t>(n));
        const auto head = std::string(header_section(text));
        CHECK(head.starts_with("From: a@b.example\r\nSubject: one\r\n two\r\nMIME-Version: 1.0\r\n"));
        CHECK(head.find("To:") == std::string::npos);      // its folded line has a NUL
        CHECK(head.find("X-Other") == std::string::npos);  // not a copied field
        CHECK(text.find(original) != std::string::npos);   // the original, whole
        ::close(in);
        ::close(out);
    }

    TEST_CASE("spam marking: the subject's tag, X-Spam fields of the sender removed, long subjects folded") {
        const auto run = [](const std::string& original, std::string_view tag) {
            const int in = ::memfd_create("in", 0);
            const int out = ::memfd_create("out", 0);
            REQUIRE(::write(in, original.data(), original.size()) == static_cast<ssize_t>(original.size()));
            REQUIRE(write_marked(in, out, tag));
            std::string text(4096, '\0');
            const auto n = ::pread(out, text.data(), text.size(), 0);
            text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
            ::close(in);
            ::close(out);
            return text;
        };
        const std::string m =
            "From: a@b.example\r\nX-Spam-Flag: NO\r\nSubject:  offer\r\nX-Spam-Status: No, score=-5\r\n"
            "\ttests=[FAKE]\r\nx-spam-level: \r\nX-Spam-Other: kept\r\n\r\nbody\r\nX-Spam-Flag: body\r\n";
        CHECK(has_spam_fields(header_section(m)));
        CHECK(run(m, "+++SPAM ") ==
              "From: a@b.example\r\nSubject:  +++SPAM offer\r\nX-Spam-Other: kept\r\n\r\nbody\r\n"
              "X-Spam-Flag: body\r\n");
        CHECK(run(m, "") ==
              "From: a@b.example\r\nSubject:  offer\r\nX-Spam-Other: kept\r\n\r\nbody\r\n"
              "X-Spam-Flag: body\r\n");
        CHECK(run("From: a@b.example\r\n\r\nx\r\n", "+++SPAM ") ==
              "Subject: +++SPAM \r\nFrom: a@b.example\r\n\r\nx\r\n");
        const std::string long_subject = "Subject: " + std::string(985, 'x') + "\r\n\r\nx\r\n";
        const auto folded = run(long_subject, "+++SPAM ");
        CHECK(folded == "Subject: +++SPAM\r\n " + std::string(985, 'x') + "\r\n\r\nx\r\n");
        CHECK_FALSE(has_spam_fields("From: a@b.example\r\nX-Spam-Other: x\r\n"));
    }
}
