"""`mailproxy zone push` against the AutoDNS emulator, and `mailproxy enable/disable` on both backends (the
local store with a zone file, AutoDNS with the zone pushed)."""
import json
import os
import shutil

from harness import SOURCE
from emulator_harness import PASSWORD, EmulatorTest

DATA = os.path.join(SOURCE, "tests", "data", "zones", "rewrite")


def rr(name, type_, value, pref=None, ttl=3600):
    r = {"name": name, "type": type_, "value": value, "ttl": ttl}
    if pref is not None:
        r["pref"] = pref
    return r


ZONE = {"origin": "example.com", "resourceRecords": [
    rr("", "MX", "mx1.example.com", 10, ttl=600), rr("", "MX", "mx2.example.net", 20, ttl=600),
    rr("www", "A", "192.0.2.80"), rr("mx1", "A", "192.0.2.25"), rr("mx", "CNAME", "mx1.example.com"),
    rr("", "TXT", "v=spf1 ip4:192.0.2.25 -all")]}


class AutoDnsZoneTest(EmulatorTest):
    def setUp(self):
        super().setUp()
        self.emulator.seed_zones([ZONE])

    def records(self, name="example.com"):
        return sorted((r["name"], r["type"], r["value"].rstrip(".").lower(), r.get("pref"))
                      for r in self.emulator.zones()[name]["resourceRecords"])

    def mx(self, name="example.com"):
        return [(r[3], r[2]) for r in self.records(name) if r[1] == "MX"]

    def streams(self):
        return [json.loads(q["body"]) for q in self.emulator.requests()
                if q["method"] == "POST" and q["path"].endswith("/_stream")]

    # -- zone push ---------------------------------------------------------------------------------
    def test_push_switches_the_mx_and_a_second_push_sends_nothing(self):
        before = self.records()
        r = self.mp("zone", "push", "example.com", "--dry-run", expect=0)
        self.assertEqual(r.out.splitlines(), [
            "example.com: would remove example.com. MX 10 mx1.example.com.",
            "example.com: would remove example.com. MX 20 mx2.example.net.",
            "example.com: would add example.com. MX 10 mailproxy.domain-robot.org."])
        self.assertEqual(self.streams(), [])
        self.assertEqual(self.records(), before)
        r = self.mp("zone", "push", "example.com", expect=0)
        self.assertIn("example.com: added example.com. MX 10 mailproxy.domain-robot.org.", r.out)
        self.assertEqual(self.mx(), [(10, "mailproxy.domain-robot.org")])
        others = [x for x in before if x[1] != "MX"]
        self.assertEqual([x for x in self.records() if x[1] != "MX"], others)
        self.assertEqual(self.streams(), [{
            "adds": [{"name": "", "type": "MX", "value": "mailproxy.domain-robot.org", "pref": 10, "ttl": 600}],
            "rems": [{"name": "", "type": "MX", "value": "mx1.example.com", "pref": 10},
                     {"name": "", "type": "MX", "value": "mx2.example.net", "pref": 20}]}])
        r = self.mp("zone", "push", "example.com", expect=0)
        self.assertEqual(r.out, "example.com: nothing to change\n")
        self.assertEqual(len(self.streams()), 1, "the second push sent something")
        doc = json.loads(self.mp("--json", "zone", "push", "example.com", expect=0).out)
        self.assertEqual((doc["changed"], doc["sent"]), (False, False))

    def test_push_revert_and_custom_host(self):
        r = self.mp("zone", "push", "example.com", "--custom-host", "mx.example.com", "--address", "62.116.162.145",
                    expect=1)
        self.assertIn("example.com: mx.example.com. is a CNAME to mx1.example.com.", r.err)
        self.assertIn("example.com: nothing was sent", r.err)
        self.assertEqual(self.streams(), [])
        self.mp("zone", "push", "example.com", "--custom-host", "mx.example.com", "--address", "62.116.162.145",
                "--replace", "--ttl", "300", expect=0)
        recs = self.records()
        self.assertIn(("mx", "A", "62.116.162.145", None), recs)
        self.assertNotIn(("mx", "CNAME", "mx1.example.com", None), recs)
        self.assertEqual(self.mx(), [(10, "mx.example.com")])
        self.assertTrue(all(a["ttl"] == 300 for a in self.streams()[0]["adds"]))
        self.mp("zone", "push", "example.com", "--revert", "--custom-host", "mx.example.com", "--address",
                "62.116.162.145", "--target", "mx1.example.com", "--target", "20:mx2.example.net", expect=0)
        self.assertEqual(self.mx(), [(10, "mx1.example.com"), (20, "mx2.example.net")])
        self.assertNotIn(("mx", "A", "62.116.162.145", None), self.records())
        # the custom host's checks are the rewrite's: outside the zone, the apex, no address
        for args, message in ((("mx.example.net", "--address", "62.116.162.145"), "is not inside the zone example.com."),
                              (("example.com", "--address", "62.116.162.145"), "is the zone's apex"),
                              (("mail.example.com",), "has no address in the zone")):
            r = self.mp("zone", "push", "example.com", "--custom-host", *args, expect=1)
            self.assertIn(message, r.err)
        self.assertEqual(len(self.streams()), 2)

    def test_push_errors(self):
        r = self.mp("zone", "push", "unknown.example", expect=4)
        self.assertIn("unknown.example: no such zone in AutoDNS", r.err)
        self.assertIn("EF02050", r.err)
        # the server applies the change but the answer comes too late: the zone is read again and shows it
        self.emulator.fault("POST /v1/zone/example.com/_stream", "slow", delay=3)
        r = self.mp("-v", "zone", "push", "example.com", expect=0)
        self.assertEqual(self.mx(), [(10, "mailproxy.domain-robot.org")])
        self.assertEqual(len(self.streams()), 1, "the change was sent twice")
        # a 500 that applied nothing: the zone shows the change missing, and the user is told to run again
        self.emulator.reset()
        self.emulator.seed_zones([ZONE])
        self.emulator.fault("POST /v1/zone/example.com/_stream", "error500")
        r = self.mp("zone", "push", "example.com", expect=1)
        self.assertIn("example.com: the change got no clear answer", r.err)
        self.assertIn("run the command again", r.err)
        self.assertEqual(self.mx(), [(10, "mx1.example.com"), (20, "mx2.example.net")])
        self.assertNotIn(PASSWORD, r.err)

    # -- enable / disable ------------------------------------------------------------------------------
    def zone_file(self):
        path = os.path.join(self.tmp, "example.com.zone")
        shutil.copy(os.path.join(DATA, "relative.example.com.zone"), path)
        return path

    def entry_file(self):
        return os.path.join(self.store, "example.com.json")

    def test_enable_and_disable_with_the_local_store_and_a_zone_file(self):
        zone = self.zone_file()
        args = ("enable", "example.com", "--target", "mail.example.com", "--admin", "postmaster@example.com",
                "--protection", "high", "--zone-file", zone)
        r = self.run_mp(*args, expect=0)
        self.assertEqual(r.out.splitlines()[0],
                         "example.com: entry created (target mail.example.com, admin postmaster@example.com, "
                         "protection HIGH)")
        self.assertIn(f"{zone}: added after line 8: example.com. MX 10 mailproxy.domain-robot.org.", r.out)
        with open(self.entry_file()) as f:
            e = json.load(f)
        self.assertEqual((e["target"], e["protection"], e["virus"]), ("mail.example.com", "HIGH", "QUARANTINE"))
        self.run_mp("zone", "lint", zone, expect=0)
        # idempotent
        r = self.run_mp(*args, expect=0)
        self.assertEqual(r.out, f"example.com: entry exists already with these values\n{zone}: nothing to change\n")
        # disable: the entry's target back as MX, then the entry goes
        r = self.run_mp("disable", "example.com", "--zone-file", zone, expect=0)
        self.assertIn(f"{zone}: added after line 7: example.com. MX 10 mail.example.com.", r.out)
        self.assertTrue(r.out.endswith("example.com: entry removed\n"), r.out)
        self.assertFalse(os.path.exists(self.entry_file()))
        self.run_mp("zone", "lint", "--target", "mail.example.com", zone, expect=1)  # the bypass is back
        r = self.run_mp("disable", "example.com", "--zone-file", zone, expect=0)
        self.assertEqual(r.out, f"{zone}: nothing to change\nexample.com: entry removed already\n")

    def test_enable_checks_the_zone_before_ordering_anything(self):
        zone = self.zone_file()
        with open(zone, "a") as f:
            f.write("broken IN A 999.1.1.1\n")
        r = self.run_mp("enable", "example.com", "--target", "mail.example.com", "--admin", "postmaster@example.com",
                        "--zone-file", zone, expect=1)
        self.assertIn(f"{zone}:12:1: error:", r.err)
        self.assertIn("example.com: nothing was done: no entry was created and the MX is as it was", r.err)
        self.assertFalse(os.path.exists(self.entry_file()))
        # invalid input: nothing at all happens
        r = self.run_mp("enable", "example.com", "--target", "mail.example.com", "--admin", "not-an-address",
                        "--zone-file", zone, expect=3)
        self.assertIn("admin", r.err)
        self.assertFalse(os.path.exists(self.entry_file()))
        r = self.run_mp("enable", "example.com", "--target", "mail.example.com", "--admin", "postmaster@example.com",
                        expect=2)
        self.assertIn("--zone-file FILE or --push", r.err)
        # without an entry and with the proxy still in the zone, disable needs the target
        with open(zone, "w") as f:
            f.write("$ORIGIN example.com.\n@ SOA ns h 1 1 1 1 1\n@ NS ns\n@ MX 10 mailproxy.domain-robot.org.\n")
        r = self.run_mp("disable", "example.com", "--zone-file", zone, expect=2)
        self.assertIn("give --target HOST", r.err)
        self.run_mp("disable", "example.com", "--zone-file", zone, "--target", "mail.example.com", expect=0)

    def test_disable_does_not_leave_an_mx_to_an_unnamed_custom_host(self):
        zone = self.zone_file()
        self.run_mp("enable", "example.com", "--target", "mail.example.com", "--admin", "postmaster@example.com",
                    "--zone-file", zone, "--custom-host", "mx.example.com", "--address", "62.116.162.145", expect=0)
        with open(zone, "rb") as f:
            switched = f.read()
        r = self.run_mp("disable", "example.com", "--zone-file", zone, expect=1)
        self.assertIn("MX 10 mx.example.com. would stay beside the mail server", r.err)
        self.assertIn("name it with --custom-host", r.err)
        self.assertTrue(os.path.exists(self.entry_file()))
        with open(zone, "rb") as f:
            self.assertEqual(f.read(), switched)
        self.run_mp("disable", "example.com", "--zone-file", zone, "--custom-host", "mx.example.com", "--address",
                    "62.116.162.145", expect=0)
        self.assertFalse(os.path.exists(self.entry_file()))
        with open(zone) as f:
            text = f.read()
        self.assertNotIn("mx.example.com", text.replace("mail.example.com", ""))
        self.assertNotIn("62.116.162.145", text)

    def test_symbolic_link_stays_a_link(self):
        real_dir = os.path.join(self.tmp, "real")
        os.mkdir(real_dir)
        real = os.path.join(real_dir, "example.com.zone")
        shutil.copy(os.path.join(DATA, "relative.example.com.zone"), real)
        link = os.path.join(self.tmp, "link.zone")
        os.symlink(real, link)
        self.run_mp("zone", "rewrite", "--origin", "example.com", "-i", link, expect=0)
        self.assertTrue(os.path.islink(link))
        with open(real) as f:
            self.assertIn("MX  10 mailproxy.domain-robot.org.", f.read())
        self.assertEqual(sorted(os.listdir(real_dir)), ["example.com.zone"])

    def test_enable_and_disable_with_autodns_and_push(self):
        self.env["MAILPROXY_BACKEND"] = "autodns"
        # the zone step fails after the order: the entry stays, and the command that finishes is given
        self.emulator.fault("POST /v1/zone/example.com/_stream", "error500")
        r = self.mp("enable", "example.com", "--target", "mx1.example.com", "--admin", "postmaster@example.com",
                    "--push", "--ttl", "300", expect=1)
        self.assertIn("example.com: the entry is in place (step 1 of 2 done), but the MX was not switched", r.err)
        self.assertIn(f"  mailproxy --config {self.config} zone push --ttl 300 example.com", r.err)
        self.assertIn("example.com", self.emulator.objects())
        self.assertEqual(self.mx(), [(10, "mx1.example.com"), (20, "mx2.example.net")])
        self.mp("zone", "push", "--ttl", "300", "example.com", expect=0)
        self.emulator.reset()
        self.emulator.seed_zones([ZONE])
        r = self.mp("enable", "example.com", "--target", "mx1.example.com", "--admin", "postmaster@example.com",
                    "--push", expect=0)
        self.assertIn("example.com: entry created", r.out)
        self.assertEqual(self.emulator.objects()["example.com"]["target"], "mx1.example.com")
        self.assertEqual(self.mx(), [(10, "mailproxy.domain-robot.org")])
        r = self.mp("enable", "example.com", "--target", "mx1.example.com", "--admin", "postmaster@example.com",
                    "--push", expect=0)
        self.assertEqual(r.out, "example.com: entry exists already with these values\nexample.com: nothing to change\n")
        # a failing delete: the MX is back, the user is told how to finish
        self.emulator.fault("DELETE /v1/mailProxy/example.com", "error500", count=4)  # 1 + 3 retries
        r = self.mp("disable", "example.com", "--push", expect=1)
        self.assertIn("example.com: the MX points at mx1.example.com again (step 1 of 2 done), but the entry was "
                      "not removed", r.err)
        self.assertIn("mailproxy entry delete example.com", r.err)
        self.assertEqual(self.mx(), [(10, "mx1.example.com")])
        self.assertIn("example.com", self.emulator.objects())
        r = self.mp("disable", "example.com", "--push", expect=0)
        self.assertEqual(r.out, "example.com: nothing to change\nexample.com: entry removed\n")
        self.assertNotIn("example.com", self.emulator.objects())
