"""`mailproxy zone rewrite`: output modes, atomic in-place writing, refusals with nothing written, usage errors.
The byte-level properties on real zones are unit tests (tests/unit/test_zone_rewrite.cpp)."""
import os
import pwd
import shutil
import subprocess

from harness import SOURCE, MailproxyTest

DATA = os.path.join(SOURCE, "tests", "data", "zones", "rewrite")


class ZoneRewriteTest(MailproxyTest):
    def setUp(self):
        super().setUp()
        self.zone = os.path.join(self.tmp, "example.com.zone")
        shutil.copy(os.path.join(DATA, "relative.example.com.zone"), self.zone)
        with open(self.zone, "rb") as f:
            self.original = f.read()

    def content(self, path=None):
        with open(path or self.zone, "rb") as f:
            return f.read()

    def dir_listing(self):
        return sorted(os.listdir(self.tmp))

    def test_stdout_is_the_rewritten_file_and_the_file_is_untouched(self):
        r = self.run_mp("zone", "rewrite", "--serial", "increment", self.zone, expect=0)
        golden = self.content(os.path.join(DATA, "relative.example.com.out")).decode()
        self.assertEqual(r.out, golden.replace("2026112800", "2024010102"))
        self.assertEqual(self.content(), self.original)

    def test_diff_applies_with_patch_and_dry_run_lists_the_records(self):
        full = self.run_mp("zone", "rewrite", "--serial", "increment", self.zone, expect=0).out
        diff = self.run_mp("zone", "rewrite", "--serial", "increment", "--diff", self.zone, expect=0).out
        self.assertTrue(diff.startswith(f"--- {self.zone}\n+++ {self.zone}\n@@ -1,11 +1,10 @@\n"), diff)
        patched = os.path.join(self.tmp, "patched.zone")
        subprocess.run(["patch", "-s", "-o", patched, self.zone], input=diff, text=True, check=True)
        self.assertEqual(self.content(patched).decode(), full)
        dry = self.run_mp("zone", "rewrite", "--dry-run", "--serial", "increment", self.zone, expect=0)
        self.assertEqual(dry.out.splitlines(), [
            f"{self.zone}: would remove line 7: example.com. MX 10 mail.example.com.",
            f"{self.zone}: would remove line 8: example.com. MX 20 backup.example.net.",
            f"{self.zone}: would add after line 8: example.com. MX 10 mailproxy.domain-robot.org.",
            f"{self.zone}: would change the SOA serial 2024010101 to 2024010102"])
        doc = self.run_mp("--json", "zone", "rewrite", "--dry-run", "--serial", "increment", self.zone, expect=0).json()
        self.assertEqual((doc["changed"], doc["written"], doc["serial"]), (True, False, {"old": 2024010101, "new": 2024010102}))
        self.assertEqual([a["record"] for a in doc["added"]], ["example.com. MX 10 mailproxy.domain-robot.org."])
        self.assertEqual(self.content(), self.original)
        self.assertEqual(self.dir_listing(), ["example.com.zone", "patched.zone"])

    def test_in_place_keeps_mode_and_owner_and_makes_a_backup(self):
        nobody = pwd.getpwnam("nobody")
        os.chown(self.zone, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.zone, 0o640)
        inode = os.stat(self.zone).st_ino
        expected = self.run_mp("zone", "rewrite", "--serial", "increment", self.zone, expect=0).out
        r = self.run_mp("zone", "rewrite", "--serial", "increment", "-i", "--backup", ".orig", self.zone, expect=0)
        self.assertIn(f"{self.zone}: removed line 7: example.com. MX 10 mail.example.com.", r.out)
        self.assertIn(f"{self.zone}: changed the SOA serial 2024010101 to 2024010102", r.out)
        st = os.stat(self.zone)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid), (0o640, nobody.pw_uid, nobody.pw_gid))
        self.assertNotEqual(st.st_ino, inode, "not replaced by rename")
        self.assertEqual(self.content().decode(), expected)
        self.assertEqual(self.content(self.zone + ".orig"), self.original)
        self.assertEqual(os.stat(self.zone + ".orig").st_mode & 0o7777, 0o640)
        self.assertEqual(self.dir_listing(), ["example.com.zone", "example.com.zone.orig"], "temp files left")
        # a second run changes nothing, writes nothing
        before = os.stat(self.zone)
        r = self.run_mp("zone", "rewrite", "-i", self.zone, expect=0)
        self.assertEqual(r.out, f"{self.zone}: nothing to change\n")
        self.assertEqual(os.stat(self.zone).st_ino, before.st_ino)
        self.assertEqual(self.run_mp("zone", "lint", "--against", self.zone + ".orig", self.zone, expect=0).out, "")

    def test_revert_puts_the_target_back(self):
        self.run_mp("zone", "rewrite", "-i", "--serial", "increment", self.zone, expect=0)
        r = self.run_mp("zone", "rewrite", "--revert", "--target", "mail.example.com", "--target",
                        "20:backup.example.net.", "--serial", "increment", "--dry-run", self.zone, expect=0)
        self.assertEqual(r.out.splitlines()[:3], [
            f"{self.zone}: would remove line 7: example.com. MX 10 mailproxy.domain-robot.org.",
            f"{self.zone}: would add after line 7: example.com. MX 10 mail.example.com.",
            f"{self.zone}: would add after line 7: example.com. MX 20 backup.example.net."])

    def test_syntax_errors_are_listed_and_nothing_is_written(self):
        with open(self.zone, "a") as f:
            f.write("bad  IN  A  300.1.2.3\nworse IN MX ten mail\n")
        before = self.content()
        for mode in ((), ("-i",), ("--diff",)):
            r = self.run_mp("zone", "rewrite", *mode, self.zone, expect=1)
            self.assertEqual(r.out, "")
            self.assertIn(f"{self.zone}:12:1: error:", r.err)
            self.assertIn(f"{self.zone}:13:1: error:", r.err)
            self.assertIn(f"{self.zone}: not rewritten", r.err)
            self.assertEqual(self.content(), before)
            self.assertEqual(self.dir_listing(), ["example.com.zone"])

    def test_mx_in_an_include_file_is_reported(self):
        with open(os.path.join(self.tmp, "mx.inc"), "w") as f:
            f.write("@ IN MX 5 relay.example.net.\n")
        with open(self.zone, "a") as f:
            f.write("$INCLUDE mx.inc\n")
        r = self.run_mp("zone", "rewrite", "-i", self.zone, expect=1)
        self.assertIn("example.com. MX 5 relay.example.net. is in the $INCLUDE file " + os.path.join(self.tmp, "mx.inc"),
                      r.err)
        self.assertIn("[rewrite-include]", r.err)
        self.assertEqual(self.content(), self.original + b"$INCLUDE mx.inc\n")

    def test_custom_host_conflicts_and_replace(self):
        custom = os.path.join(self.tmp, "custom.zone")
        shutil.copy(os.path.join(DATA, "custom.example.com.zone"), custom)
        args = ("zone", "rewrite", "--origin", "example.com", "--custom-host", "mx.example.com",
                "--address", "62.116.162.145", "-i", custom)
        r = self.run_mp(*args, expect=1)
        self.assertIn(f"{custom}:7:1: error: mx.example.com. is a CNAME to mail.example.com.", r.err)
        self.assertIn("--replace removes the CNAME [rewrite-conflict]", r.err)
        self.assertEqual(self.content(custom), self.content(os.path.join(DATA, "custom.example.com.zone")))
        r = self.run_mp(*args, "--replace", expect=0)
        self.assertIn(f"{custom}: removed line 7: mx.example.com. CNAME mail.example.com.", r.out)
        self.assertIn(f"{custom}: added after line 7: mx.example.com. A 62.116.162.145", r.out)
        self.run_mp("zone", "lint", "--origin", "example.com", "--custom-host", "mx.example.com", custom, expect=0)
        # outside the zone, addresses cannot be added here
        r = self.run_mp("zone", "rewrite", "--custom-host", "mx.example.net", "--address", "62.116.162.145",
                        self.zone, expect=1)
        self.assertIn("the custom host mx.example.net. is not inside the zone example.com.", r.err)

    def test_usage_errors(self):
        for args, message in (
                (("--backup", ".b"), "--backup requires --in-place"),
                (("--target", "mail.example.com"), "--target requires --revert"),
                (("--revert",), "--revert needs --target HOST"),
                (("--diff", "-i"), "excludes"),
                (("--address", "62.116.162.145"), "name the host too"),
                (("--custom-host", "mx.example.com", "--address", "not-an-ip"), "--address not-an-ip is not an IP address"),
                (("--preference", "70000"), "--preference"),
                (("--serial", "weekly"), "--serial"),
                (("--revert", "--target", "192.0.2.1"), "an MX needs a host name"),
        ):
            with self.subTest(args=args):
                r = self.run_mp("zone", "rewrite", *args, self.zone, expect=2)
                self.assertIn(message, r.err)
                self.assertEqual(self.content(), self.original)
        r = self.run_mp("zone", "rewrite", os.path.join(self.tmp, "missing.zone"), expect=1)
        self.assertIn("cannot read " + os.path.join(self.tmp, "missing.zone"), r.err)
