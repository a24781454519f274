#include <doctest/doctest.h>

#include "core/filter/banned.hpp"
#include "core/filter/headers.hpp"

using namespace mailproxy::filter;

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
}
