"""`mailproxy zone lint` and `zone rules`: every rule triggered and not, the shared real zones, $INCLUDE,
syntax errors mid-file, the output formats and exit codes."""
import json
import os
import subprocess
import textwrap

from harness import MailproxyTest, SOURCE

ZONES = os.path.join(os.path.dirname(SOURCE), "shared", "zones")
HEAD = """$TTL 3600
@ IN SOA ns1.example.com. hostmaster.example.com. 2026112801 7200 3600 1209600 3600
@ IN NS ns1
ns1 IN A 192.0.2.1
"""
PROXY_MX = "@ IN MX 10 mailproxy.domain-robot.org.\n"


class ZoneTest(MailproxyTest):
    def zone(self, body, name="example.com.zone", head=True):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write((HEAD if head else "") + textwrap.dedent(body))
        return path

    def lint(self, path, *args, expect=None):
        r = self.run_mp("zone", "lint", "--format", "json", *args, path, expect=expect)
        return r.json()["findings"]

    def rules_of(self, path, *args):
        return sorted({f["rule"] for f in self.lint(path, *args)})


class Rules(ZoneTest):
    def check(self, rule, bad, good, *args, line=None):
        with self.subTest(rule=rule):
            found = self.lint(self.zone(bad, "bad.example.com.zone".replace("bad.", "")), *args)
            hits = [f for f in found if f["rule"] == rule]
            self.assertTrue(hits, f"{rule} not reported: {found}")
            if line is not None:
                self.assertEqual(hits[0]["line"], line)
            found = self.lint(self.zone(good), *args)
            self.assertEqual([f for f in found if f["rule"] == rule], [], f"{rule} reported on the good zone")

    def test_clean_zone_is_quiet(self):
        r = self.run_mp("zone", "lint", self.zone(PROXY_MX), expect=0)
        self.assertEqual((r.out, r.err), ("", ""))

    def test_mx_missing(self):
        self.check("mx-missing", "www IN A 192.0.2.2\n", PROXY_MX, line=2)

    def test_mx_bypass_backup_and_target(self):
        self.check("mx-bypass", PROXY_MX + "@ IN MX 20 backup.example.net.\n", PROXY_MX, line=6)
        found = self.lint(self.zone("@ IN MX 10 mx.example.net.\n"), "--target", "mx.example.net")
        self.assertIn("it is the real mail server (--target)", found[0]["message"])
        found = self.lint(self.zone(PROXY_MX + "@ IN MX 20 backup.example.net.\n"))
        self.assertIn("a backup MX", found[0]["message"])

    def test_custom_host_counts_as_the_proxy(self):
        z = self.zone("@ IN MX 10 mx.example.com.\nmx IN A 62.116.162.145\n")
        self.assertEqual(self.rules_of(z, "--custom-host", "mx.example.com"), [])
        self.assertEqual(self.rules_of(z), ["mx-bypass"])

    def test_wildcard_and_subdomain_mx(self):
        self.check("mx-wildcard-bypass", PROXY_MX + "* IN MX 10 mail.example.net.\n",
                   PROXY_MX + "* IN MX 10 mailproxy.domain-robot.org.\n")
        self.check("mx-subdomain-bypass", PROXY_MX + "sub IN MX 10 mail.example.net.\n",
                   PROXY_MX + "sub IN MX 10 mailproxy.domain-robot.org.\n")
        f = [x for x in self.lint(self.zone(PROXY_MX + "sub IN MX 10 mail.example.net.\n")) if x["rule"] == "mx-subdomain-bypass"]
        self.assertEqual(f[0]["severity"], "warning")

    def test_proxy_host_without_dot_with_column(self):
        self.check("proxy-host-no-dot", "@ IN MX 10 mailproxy.domain-robot.org\n", PROXY_MX)
        f = self.lint(self.zone("@   IN  MX 10   MailProxy.Domain-Robot.org\n"))
        hit = [x for x in f if x["rule"] == "proxy-host-no-dot"][0]
        self.assertEqual((hit["line"], hit["column"]), (5, 17))
        self.assertIn("means mailproxy.domain-robot.org.example.com.", hit["message"])

    def test_mx_target_ip_and_cname(self):
        self.check("mx-target-ip", PROXY_MX + "sub IN MX 10 192.0.2.25\n", PROXY_MX)
        self.check("mx-target-cname", PROXY_MX + "sub IN MX 10 mail\nmail IN CNAME host\nhost IN A 192.0.2.3\n",
                   PROXY_MX + "sub IN MX 10 host\nmail IN CNAME host\nhost IN A 192.0.2.3\n")

    def test_cname_and_other_data_names_the_vendor_advice(self):
        self.check("cname-and-other-data", PROXY_MX + "mx IN A 62.116.162.145\nmx IN CNAME mailproxy.domain-robot.org.\n",
                   PROXY_MX + "mx IN A 62.116.162.145\nmx2 IN CNAME mailproxy.domain-robot.org.\n")
        f = self.lint(self.zone(PROXY_MX + "mx IN A 62.116.162.145\nmx IN CNAME mailproxy.domain-robot.org.\n"))
        self.assertIn("'plus optional CNAME'", [x for x in f if x["rule"] == "cname-and-other-data"][0]["hint"])

    def test_custom_host_addresses(self):
        args = ("--custom-host", "mx.example.com")
        self.check("custom-host-no-address", "@ IN MX 10 mx.example.com.\n",
                   "@ IN MX 10 mx.example.com.\nmx IN A 62.116.162.145\n", *args)
        self.check("custom-host-wrong-address", "@ IN MX 10 mx.example.com.\nmx IN A 192.0.2.99\n",
                   "@ IN MX 10 mx.example.com.\nmx IN A 62.116.162.145\n", *args)
        # another proxy address given with --proxy-address is accepted, compared as an address
        z = self.zone("@ IN MX 10 mx.example.com.\nmx IN A 192.0.2.99\nmx IN AAAA 2001:db8::1\n")
        self.assertEqual(self.lint(z, *args, "--proxy-address", "192.0.2.99", "--proxy-address", "2001:DB8:0::1"), [])
        r = self.run_mp("zone", "lint", "--proxy-address", "not-an-ip", z, expect=2)
        self.assertIn("--proxy-address not-an-ip is not an IP address", r.err)
        r = self.run_mp("zone", "lint", "--origin", "bad..name", z, expect=2)
        self.assertIn("is not a domain name", r.err)

    def test_null_mx_with_other_mx(self):
        self.check("null-mx-with-other-mx", "sub IN MX 0 .\nsub IN MX 10 mailproxy.domain-robot.org.\n" + PROXY_MX,
                   "sub IN MX 0 .\n" + PROXY_MX)

    def test_spf_mx_and_mta_sts(self):
        self.check("spf-mx-mechanism", PROXY_MX + '@ IN TXT "v=spf1 +mx a -all"\n',
                   PROXY_MX + '@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n@ IN TXT "mx is just a word"\n'
                   '@ IN TXT "v=spf10 mx"\n')
        self.check("mta-sts-present", PROXY_MX + '_mta-sts IN TXT "v=STSv1; id=20260101"\n',
                   PROXY_MX + '_dmarc IN TXT "v=DMARC1; p=none"\n')
        hosted = self.lint(self.zone(PROXY_MX + "_mta-sts IN CNAME _mta-sts.hosted.example.net.\n"))
        self.assertEqual([f["rule"] for f in hosted], ["mta-sts-present"])

    def test_serial_against_the_previous_version(self):
        def version(name, serial, extra=""):
            return self.zone(HEAD.replace("2026112801", serial) + PROXY_MX + extra, name, head=False)

        old = version("old.zone", "2026112801")
        changed_same_serial = version("changed.zone", "2026112801", "www IN A 192.0.2.9\n")
        found = self.lint(changed_same_serial, "--origin", "example.com", "--against", old)
        self.assertEqual([(f["rule"], f["line"]) for f in found], [("serial-not-increased", 2)])
        self.assertIn("2026112801 is not greater than 2026112801", found[0]["message"])
        unchanged = version("same.zone", "2026112801")
        self.assertEqual(self.lint(unchanged, "--origin", "example.com", "--against", old), [])
        bumped = version("bumped.zone", "2026112802", "www IN A 192.0.2.9\n")
        self.assertEqual(self.lint(bumped, "--origin", "example.com", "--against", old), [])
        # RFC 1982: 4294967295 -> 1 is an increase, 1 -> 4294967295 is not
        high = version("high.zone", "4294967295")
        low = version("low.zone", "1", "www IN A 192.0.2.9\n")
        self.assertEqual(self.lint(low, "--origin", "example.com", "--against", high), [])
        self.assertEqual([f["rule"] for f in self.lint(high, "--origin", "example.com", "--against", low)],
                         ["serial-not-increased"])
        # the old version's own syntax errors do not fail the change that fixes them
        broken_old = version("broken-old.zone", "2026112801", "a IN A 999.0.0.1\n")
        fixed = version("fixed.zone", "2026112802", "a IN A 192.0.2.1\n")
        self.assertEqual(self.lint(fixed, "--origin", "example.com", "--against", broken_old), [])

    def test_mx_preference_and_second_soa(self):
        self.check("mx-preference-range", PROXY_MX + "sub IN MX 65536 mailproxy.domain-robot.org.\n", PROXY_MX)
        self.check("soa-duplicate", PROXY_MX + "@ IN SOA ns1 hm 2 1 1 1 1\n", PROXY_MX)

    def test_relative_origin_and_unterminated_quote(self):
        found = self.lint(self.zone(PROXY_MX + "$ORIGIN sub\nwww IN A 192.0.2.5\n"))
        self.assertEqual([(f["rule"], f["line"], f["column"]) for f in found], [("origin-relative", 6, 9)])
        self.assertIn("write the name absolute, with the trailing dot: $ORIGIN sub.example.com.", found[0]["hint"])
        found = self.lint(self.zone(PROXY_MX + 'txt IN TXT "never closed\nwww IN A 192.0.2.5\n'))
        self.assertEqual([(f["rule"], f["line"], f["message"]) for f in found],
                         [("syntax", 6, "unterminated quoted string")])

    def test_rules_command_lists_every_rule(self):
        r = self.run_mp("zone", "rules", "--json", expect=0)
        ids = [x["id"] for x in r.json()]
        for rule in ("mx-missing", "mx-bypass", "mx-wildcard-bypass", "mx-subdomain-bypass", "proxy-host-no-dot",
                     "mx-target-ip", "mx-target-cname", "cname-and-other-data", "custom-host-no-address",
                     "custom-host-wrong-address", "null-mx-with-other-mx", "spf-mx-mechanism", "mta-sts-present",
                     "serial-not-increased", "syntax"):
            self.assertIn(rule, ids)
        self.assertEqual(len(ids), len(set(ids)))
        r = self.run_mp("zone", "rules", expect=0)
        self.assertTrue(r.out.startswith("RULE"))


class Reading(ZoneTest):
    def test_include_reports_lines_of_the_included_file(self):
        sub = os.path.join(self.tmp, "inc")
        os.makedirs(sub)
        with open(os.path.join(sub, "mx.inc"), "w") as f:
            f.write("; included\n\n@ IN MX 20 backup.example.net.\n")
        z = self.zone(PROXY_MX + "$INCLUDE inc/mx.inc\n")
        found = self.lint(z)
        self.assertEqual([(f["rule"], os.path.basename(f["file"]), f["line"]) for f in found],
                         [("mx-bypass", "mx.inc", 3)])
        z = self.zone(PROXY_MX + "$INCLUDE inc/missing.inc\n")
        found = self.lint(z)
        self.assertEqual(found[0]["rule"], "file-unreadable")
        self.assertEqual(found[0]["line"], 6)
        self.assertIn("missing.inc", found[0]["message"])

    def test_include_loop_is_bounded(self):
        loop = os.path.join(self.tmp, "loop.inc")
        with open(loop, "w") as f:
            f.write("$INCLUDE loop.inc\n")
        found = self.lint(self.zone(PROXY_MX + "$INCLUDE loop.inc\n"))
        self.assertIn("include-depth", [f["rule"] for f in found])

    def test_syntax_errors_mid_file_and_later_records_still_checked(self):
        found = self.lint(self.zone(PROXY_MX + "a IN A 999.0.0.1\nb IN BOGUS x\n)\nsub IN MX 10 other.example.net.\n"))
        self.assertEqual([(f["rule"], f["line"]) for f in found],
                         [("syntax", 6), ("syntax", 7), ("syntax", 8), ("mx-subdomain-bypass", 9)])

    def test_an_unclosed_parenthesis_does_not_swallow_the_file(self):
        found = self.lint(self.zone(PROXY_MX + 'txt IN TXT ( "start"\nsub IN MX 10 other.example.net.\n'))
        self.assertEqual([(f["rule"], f["line"]) for f in found], [("syntax", 6), ("mx-subdomain-bypass", 7)])
        self.assertEqual(found[0]["message"], "'(' is never closed")

    def test_a_runaway_record_is_cut_off_and_the_rest_read(self):
        chunks = "".join(f'"chunk {i} {"x" * 200}"\n' for i in range(2000))
        found = self.lint(self.zone(PROXY_MX + 'txt IN TXT ( "start"\n' + chunks + ")\nsub IN MX 10 x.example.net.\n"))
        self.assertEqual([f["rule"] for f in found], ["syntax", "mx-subdomain-bypass"])
        self.assertEqual(found[0]["message"], "record longer than 262144 bytes")

    def test_generate_is_bounded(self):
        found = self.lint(self.zone(PROXY_MX + "$GENERATE 0-4294967296 h$ A 192.0.2.1\n"
                                    "$GENERATE 9223372036854775807-9223372036854775807 h$ A 192.0.2.1\n"
                                    "$GENERATE 1-2000000 h$ A 192.0.2.1\n"))
        self.assertEqual([(f["rule"], f["line"]) for f in found], [("syntax", 6), ("syntax", 7), ("syntax", 8)])
        self.assertIn("more than 1000000", found[2]["message"])

    def test_include_with_origin_restores_the_including_origin(self):
        os.makedirs(os.path.join(self.tmp, "inc"))
        with open(os.path.join(self.tmp, "inc", "sub.inc"), "w") as f:
            f.write("@ IN MX 10 other.example.net.\n")
        found = self.lint(self.zone(PROXY_MX + "$INCLUDE inc/sub.inc sub.example.com.\nafter IN MX 10 x.example.net.\n"))
        self.assertEqual([(f["rule"], f["message"].split(" MX")[0]) for f in found],
                         [("mx-subdomain-bypass", "sub.example.com."), ("mx-subdomain-bypass", "after.example.com.")])

    def test_include_fan_out_loop_is_refused(self):
        with open(os.path.join(self.tmp, "fan.inc"), "w") as f:
            f.write("$INCLUDE fan.inc\n" * 10)
        found = self.lint(self.zone(PROXY_MX + "$INCLUDE fan.inc\n"))
        self.assertEqual({f["rule"] for f in found}, {"include-depth"})
        self.assertEqual(len(found), 10)
        self.assertIn("includes itself", found[0]["message"])

    def test_generate_ttl_case_and_parentheses(self):
        z = self.zone("$ttl 300\n@ IN MX ( 10\n    mailproxy.domain-robot.org. ) ; comment\n"
                      "$GENERATE 1-3 host${0,2,d} IN MX 10 mx$.example.net.\n")
        found = self.lint(z)
        self.assertEqual([(f["rule"], f["message"].split(" MX")[0]) for f in found],
                         [("mx-subdomain-bypass", "host01.example.com."), ("mx-subdomain-bypass", "host02.example.com."),
                          ("mx-subdomain-bypass", "host03.example.com.")])

    def test_origin_of_a_bind_dump(self):
        # BIND writes secondary zones with "$ORIGIN ." and absolute-ish owners
        body = ("$ORIGIN .\n$TTL 3600\nexample.com IN SOA ns1.example.com. hm.example.com. ( 1 2 3 4 5 )\n"
                "    NS ns1.example.com.\n    MX 10 mailproxy.domain-robot.org.\n$ORIGIN example.com.\n"
                "ns1 A 192.0.2.1\n")
        r = self.run_mp("-v", "zone", "lint", self.zone(body, "zonefile", head=False), expect=0)
        self.assertIn("origin example.com. (from the SOA owner)", r.err)

    def test_origin_from_soa_directive_and_file_name(self):
        for body, name, origin, source in (
                ("$ORIGIN example.org.\n" + HEAD + PROXY_MX, "x.txt", "example.org.", "$ORIGIN"),
                ("example.net. IN SOA ns1 hm 1 1 1 1 1\n" + PROXY_MX, "y.txt", "example.net.", "the SOA owner"),
                (HEAD + PROXY_MX, "db.example.info", "example.info.", "the file name")):
            r = self.run_mp("-v", "zone", "lint", "--format", "json", self.zone(body, name, head=False), expect=0)
            self.assertEqual(r.json()["files"][0]["origin"], origin)
            self.assertIn(f"origin {origin} (from {source})", r.err)
        r = self.run_mp("zone", "lint", self.zone(HEAD + PROXY_MX, "zonefile", head=False), expect=1)
        self.assertIn("cannot tell the zone's origin", r.out)

    def test_shared_real_zones(self):
        """Every real zone reads without a crash; where the other checkers (../shared/zones/README.md) agree that
        a file is broken, we report it too, and where we differ the reason is given here."""
        expect = {
            # file: (origin, rules we must report, rules we must not report)
            "bind9__check-mx.db": ("check-mx", {"mx-target-ip"}, {"syntax"}),  # named-checkzone warns too
            "bind9__check-mx-cname.db": ("check-mx-cname", {"mx-target-cname"}, {"syntax"}),  # named warns too
            # all three real checkers fail it; ldns does not check
            "bind9__bad-cname-and-mx.db": ("example", {"cname-and-other-data"}, {"syntax"}),
            "bind9__zone1.db": ("zone1.com", {"mx-bypass"}, {"syntax"}),  # clean, but its MX are not the proxy
            # ldns, kzonecheck and nsd cannot read $GENERATE; BIND and we expand it
            "bind9__good-generate-modifier.db": ("example", set(), {"syntax"}),
            "bind9__spf.db": ("example", set(), {"syntax"}),
            "bind9__names-example.db": ("example", {"mx-bypass"}, {"syntax"}),
            "bind9__master1.data": ("test", set(), {"syntax"}),
            # first record without an owner: BIND and Knot fail it, ldns uses the origin; we follow BIND
            "bind9__master3.data": ("test", {"syntax"}, set()),
            # BIND and Knot fail it for a missing glue address, which is not a mail matter
            "bind9__master17.data": ("test", set(), {"syntax"}),
            # CNAME and A on www: the three checkers fail it
            "ldns__14-read-zone.db": ("miek.nl", {"cname-and-other-data"}, {"syntax"}),
            "ldns__A.2.Complex-EXAMPLE-Zone": ("example", set(), {"syntax"}),
            # Knot rejects the odd owner characters; BIND, NSD, ldns and we accept them
            "nsd__bug086_chars.zone": ("spf-test.nl", {"mx-bypass"}, {"syntax"}),
            # BIND and Knot want apex NS; not a mail matter
            "nsd__bug087_parse_at.zone": ("example.com", {"mx-bypass"}, {"syntax"}),
            "nsd__bug090_000_txt.zone": ("text-test.nl", {"mx-bypass"}, {"syntax"}),
            "nsd__bug128_backslash_eos.zone": ("example.com", set(), {"syntax"}),
            "nsd__bug236_rrs_before_soa.zone": ("bug236_rrs_before_soa.net", set(), {"syntax"}),
            # owner over 255 octets: everyone rejects it
            "nsd__zonec_tests.offbyone": ("example.net", {"syntax"}, set()),
            # everyone fails it (GPOS, bad NSEC3, ...); we report each bad record and read the rest
            "dnspython__example": ("example", {"syntax", "mx-wildcard-bypass"}, set()),
            # Knot rejects '+' in an owner; the others and we accept it
            "dnscontrol__example.org.zone": ("example.org", {"mx-bypass", "spf-mx-mechanism"}, {"syntax"}),
        }
        files = sorted(f for f in os.listdir(ZONES) if f != "README.md")
        self.assertEqual(sorted(expect), files, "a zone in ../shared/zones/ has no expectation here")
        for name, (origin, must, must_not) in expect.items():
            with self.subTest(zone=name):
                r = self.run_mp("zone", "lint", "--format", "json", "--origin", origin, os.path.join(ZONES, name))
                self.assertIn(r.code, (0, 1), r)
                doc = r.json()
                rules = {f["rule"] for f in doc["findings"]}
                self.assertLessEqual(must, rules)
                self.assertFalse(must_not & rules, doc["findings"])
                self.assertGreater(doc["files"][0]["records"], 0)
        r = self.run_mp("zone", "lint", "--format", "json", "--origin", "example", os.path.join(ZONES, "dnspython__example"))
        self.assertGreater(r.json()["files"][0]["records"], 150, "records after the bad ones are still read")


class Output(ZoneTest):
    BAD = PROXY_MX + "@ IN MX 20 backup.example.net.\n" + '_mta-sts IN TXT "v=STSv1; id=1"\n'

    def test_text_format_with_caret(self):
        z = self.zone(self.BAD)
        r = self.run_mp("zone", "lint", z, expect=1)
        self.assertEqual(r.out.splitlines()[:4], [
            f"{z}:6:12: error: MX 20 backup.example.net. at the apex: a backup MX: senders fall back to it and skip the "
            "MailProxy [mx-bypass]",
            "    @ IN MX 20 backup.example.net.",
            "               ^~~~~~~~~~~~~~~~~~~",
            "    hint: remove it: senders may deliver there and skip the filter"])
        self.assertIn(f"{z}:7:1: warning: _mta-sts.example.com. announces an MTA-STS policy [mta-sts-present]", r.out)

    def test_json_format(self):
        z = self.zone(self.BAD)
        r = self.run_mp("zone", "lint", "--format", "json", z, expect=1)
        doc = r.json()
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["files"], [{"file": z, "origin": "example.com.", "origin_source": "the file name",
                                         "records": 6}])
        self.assertEqual(doc["summary"], {"error": 1, "warning": 1, "info": 0})
        self.assertEqual(sorted(doc["findings"][0]), ["column", "file", "hint", "line", "message", "rule", "severity"])

    def test_github_format(self):
        z = self.zone(self.BAD, "a,b:c.example.com.zone")
        r = self.run_mp("zone", "lint", "--format", "github", "--origin", "example.com", z, expect=1)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 2)
        esc = z.replace(",", "%2C").replace(":", "%3A")
        self.assertTrue(lines[0].startswith(f"::error file={esc},line=6,col=12,title=mx-bypass::MX 20 backup"))
        self.assertTrue(lines[1].startswith(f"::warning file={esc},line=7,col=1,title=mta-sts-present::"))

    def test_github_escapes_percent_in_messages(self):
        z = self.zone(PROXY_MX + '@ IN TXT "v=spf1 mx ~all 100%"\n')
        r = self.run_mp("zone", "lint", "--format", "github", z, expect=0)
        self.assertTrue(r.out.startswith("::warning file="), r.out)
        self.assertIn("100%25", r.out)
        self.assertNotIn("100%\"", r.out)

    def test_exit_codes(self):
        z = self.zone(PROXY_MX + '_mta-sts IN TXT "v=STSv1; id=1"\n')
        self.run_mp("zone", "lint", z, expect=0)  # a warning does not fail by default
        self.run_mp("zone", "lint", "--fail-on", "warning", z, expect=1)
        self.run_mp("zone", "lint", "--fail-on", "info", self.zone(PROXY_MX, "clean.example.com.zone"), expect=0)
        r = self.run_mp("zone", "lint", os.path.join(self.tmp, "missing.zone"), expect=1)
        self.assertIn("cannot read " + os.path.join(self.tmp, "missing.zone"), r.out)
        self.run_mp("zone", "lint", "--format", "yaml", z, expect=2)
        self.run_mp("zone", "lint", expect=2)
        r = self.run_mp("zone", "lint", "--against", z, z, self.zone(PROXY_MX, "two.example.com.zone"), expect=2)
        self.assertIn("name exactly one file", r.err)

    def test_several_files_in_one_call(self):
        a = self.zone(PROXY_MX, "a.example.com.zone")
        b = self.zone("@ IN MX 10 mx.example.net.\n", "b.example.com.zone")
        r = self.run_mp("zone", "lint", "--format", "json", a, b, expect=1)
        doc = r.json()
        self.assertEqual([f["file"] for f in doc["files"]], [a, b])
        self.assertEqual([(os.path.basename(f["file"]), f["rule"]) for f in doc["findings"]],
                         [("b.example.com.zone", "mx-bypass")])
