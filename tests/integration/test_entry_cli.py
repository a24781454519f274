"""`mailproxy entry` and `mailproxy level`, driving the built binary."""
import concurrent.futures
import json
import os
import subprocess

from harness import MailproxyTest, BIN


class EntryFlow(MailproxyTest):
    def test_create_update_info_list_export_delete_import(self):
        r = self.run_mp("entry", "create", "example.com", "Example.ORG.", "--target", "mx.example.net:2525",
                        "--admin", "Quarantine@Example.com", "--greylisting", "on", "--whitelist", "friend@partner.example",
                        expect=0)
        self.assertEqual(r.out, "created example.com (MEDIUM)\ncreated example.org (MEDIUM)\n")
        self.assertEqual(sorted(self.store_files()), ["example.com.json", "example.org.json"])
        stored = json.loads(self.store_files()["example.com.json"])
        self.assertEqual(stored["admin"], "Quarantine@example.com")
        self.assertEqual(stored["greylisting"], "ENABLED")
        self.assertEqual(stored["protection"], "MEDIUM")
        self.assertEqual(stored["whitelist"], {"emails": ["friend@partner.example"]})

        # one policy value on a preset -> CUSTOM from the preset's values, and the command says so
        r = self.run_mp("entry", "update", "example.com", "--kill-score", "15", "--add-blacklist", "spam@bad.example",
                        expect=0)
        self.assertEqual(r.out, "updated example.com (CUSTOM)\n")
        self.assertIn("example.com: protection MEDIUM -> CUSTOM (spam.kill changed; the other values are MEDIUM's)",
                      r.err)

        r = self.run_mp("entry", "info", "example.com", expect=0)
        self.assertIn("protection                     CUSTOM\n", r.out)
        self.assertIn("spam.kill                      15\n", r.out)
        self.assertIn("blacklist                      spam@bad.example\n", r.out)
        info = self.run_mp("entry", "info", "example.com", "--json", expect=0).json()
        self.assertEqual(info["spam"], {"mode": "ACCEPT", "modifySubject": True, "tagHeader": -999, "spam": 6.5,
                                        "kill": 15, "quarantineDigestInterval": 1440})
        self.assertEqual(info["virus"], "ACCEPT")

        # a preset replaces the values
        self.run_mp("entry", "update", "example.org", "--protection", "high", expect=0)
        org = self.run_mp("entry", "info", "example.org", "--json", expect=0).json()
        self.assertEqual((org["protection"], org["virus"]), ("HIGH", "QUARANTINE"))

        r = self.run_mp("entry", "list", expect=0)
        self.assertEqual(r.out.splitlines(), [
            "DOMAIN       TARGET               ADMIN                   PROTECTION  GREYLISTING",
            "example.com  mx.example.net:2525  Quarantine@example.com  CUSTOM      ENABLED",
            "example.org  mx.example.net:2525  Quarantine@example.com  HIGH        ENABLED",
        ])
        r = self.run_mp("entry", "list", "--filter", "domain=*.org", "--json", expect=0)
        self.assertEqual([e["domain"] for e in r.json()], ["example.org"])
        r = self.run_mp("entry", "list", "--filter", "protection=custom", "--filter", "domain=ex*", expect=0)
        self.assertEqual(len(r.out.splitlines()), 2)

        export = self.run_mp("entry", "export", expect=0)
        exported = export.json()
        self.assertEqual([e["domain"] for e in exported], ["example.com", "example.org"])
        self.assertEqual(exported[0], info)

        r = self.run_mp("entry", "delete", "example.com", "example.org", expect=0)
        self.assertEqual(r.out, "deleted example.com\ndeleted example.org\n")
        self.assertEqual(self.store_files(), {})
        self.assertEqual(self.run_mp("entry", "list", "--json", expect=0).json(), [])

        r = self.run_mp("entry", "import", "-", stdin=export.out, expect=0)
        self.assertEqual(r.out, "imported 2 entries\n")
        self.assertEqual(self.run_mp("entry", "export", expect=0).json(), exported)

    def test_update_lists_add_remove_replace(self):
        self.create("example.com", extra=("--exclude", "abuse@example.com"))
        self.run_mp("entry", "update", "example.com", "--add-whitelist", "a@x.example", "--add-whitelist", "@y.example",
                    "--add-exclude", "hostmaster@example.com", expect=0)
        e = self.run_mp("entry", "info", "example.com", "--json", expect=0).json()
        self.assertEqual(e["whitelist"]["emails"], ["a@x.example", "@y.example"])
        self.assertEqual(e["excludelist"]["emails"], ["abuse@example.com", "hostmaster@example.com"])
        self.assertEqual(e["protection"], "MEDIUM")  # lists are not part of the preset
        r = self.run_mp("entry", "update", "example.com", "--remove-whitelist", "a@X.EXAMPLE",
                        "--remove-whitelist", "nobody@x.example", expect=0)
        self.assertIn("nobody@x.example is not in the whitelist", r.err)
        r = self.run_mp("entry", "update", "example.com", "--whitelist", "b@z.example", "--json", expect=0)
        self.assertEqual(r.json()["whitelist"]["emails"], ["b@z.example"])
        r = self.run_mp("entry", "update", "example.com", "--no-modify-subject", "-q", expect=0)
        self.assertEqual(r.err, "")
        e = self.run_mp("entry", "info", "example.com", "--json", expect=0).json()
        self.assertEqual((e["protection"], e["spam"]["modifySubject"]), ("CUSTOM", False))

    def test_domains_from_file_and_stdin(self):
        path = os.path.join(self.tmp, "domains.txt")
        with open(path, "w") as f:
            f.write("# customer domains\na.example\n\n  b.example  # second\na.example\n")
        r = self.run_mp("entry", "create", "c.example", "--domains-from", path, "--target", "mx.example.net",
                        "--admin", "q@example.com", "--json", expect=0)
        self.assertEqual([e["domain"] for e in r.json()], ["c.example", "a.example", "b.example"])
        r = self.run_mp("entry", "delete", "--domains-from", "-", stdin="a.example\nb.example\n", expect=0)
        self.assertEqual(r.out, "deleted a.example\ndeleted b.example\n")
        self.assertEqual(sorted(self.store_files()), ["c.example.json"])

    def test_create_of_several_domains_goes_on_past_one_that_exists(self):
        self.create("b.example")
        r = self.run_mp("entry", "create", "a.example", "b.example", "c.example", "--target", "mx.example.net",
                        "--admin", "q@example.com", expect=1)
        self.assertEqual(r.out, "created a.example (MEDIUM)\ncreated c.example (MEDIUM)\n")
        self.assertIn("b.example: an entry exists already", r.err)
        self.assertIn("1 of 3 entries not created", r.err)

    def test_level_show(self):
        r = self.run_mp("level", "show", expect=0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["FIELD", "HIGH", "MEDIUM", "LOW", "OFF"])
        rows = {l.split()[0]: l for l in lines[1:]}
        self.assertEqual(rows["virus"].split(), ["virus", "QUARANTINE", "ACCEPT", "(wrapped)", "ACCEPT", "(wrapped)",
                                                 "DISABLED"])
        self.assertEqual(rows["spam.modifySubject"].split(), ["spam.modifySubject", "true", "true", "false", "false"])
        self.assertEqual(rows["spam.kill"].split(), ["spam.kill", "999", "999", "999", "-"])
        r = self.run_mp("level", "show", "low", "--json", expect=0)
        self.assertEqual(r.json(), {"LOW": {"virus": "ACCEPT", "bannedFiles": "ACCEPT", "header": "DISABLED",
                                            "spam": {"mode": "ACCEPT", "modifySubject": False, "tagHeader": -999,
                                                     "spam": 6.5, "kill": 999, "quarantineDigestInterval": 1440}}})
        r = self.run_mp("level", "show", "CUSTOM", expect=2)
        self.assertIn("CUSTOM not in {HIGH,MEDIUM,LOW,OFF}", r.err)

    def test_version_and_help(self):
        r = self.run_mp("--version", expect=0)
        self.assertRegex(r.out, r"^mailproxy \d+\.\d+\.\d+\n$")
        r = self.run_mp("entry", "update", "--help", expect=0)
        self.assertIn("--add-whitelist", r.out)
        r = self.run_mp(expect=2)
        self.assertIn("A subcommand is required", r.err)


class BadInput(MailproxyTest):
    """Each bad input: its exit code, the message the user sees, and an unchanged store."""

    def assert_refused(self, args, code, message):
        before = self.store_files()
        r = self.run_mp(*args, expect=code)
        self.assertIn(message, r.err)
        self.assertEqual(r.out, "")
        self.assertEqual(self.store_files(), before, "the store changed")
        return r

    def base(self, domain="ok.example", *extra):
        return ["entry", "create", domain, "--target", "mx.example.net", "--admin", "q@ok.example", *extra]

    def test_validation_errors_exit_3(self):
        self.create("existing.example")
        cases = [
            (self.base("exa mple.com"), "domain (exa mple.com) is not a valid domain name (character ' ')"),
            (self.base("localhost"), "domain (localhost) is not a domain name (needs at least two labels"),
            (["entry", "create", "ok.example", "--target", "192.0.2.25", "--admin", "q@ok.example"],
             "ok.example: target (192.0.2.25) is an IP address; write it bracketed as [192.0.2.25] or use a host name"),
            (self.base("ok.example", "--spam-score", "7", "--kill-score", "7"),
             "ok.example: spam.kill (7) must be greater than spam.spam (7)"),
            (self.base("ok.example", "--kill-score", "1000"),
             "ok.example: spam.kill (1000) is out of range (-999.9 to 999.9)"),
            (self.base("ok.example", "--tag-header", "-1000.5"),
             "ok.example: spam.tagHeader (-1000.5) is out of range (-999.9 to 999.9)"),
            (self.base("ok.example", "--digest-interval", "1439"),
             "ok.example: spam.quarantineDigestInterval (1439) must be at least 1440 minutes (one day)"),
            (self.base("ok.example", "--exclude", "Q@ok.example", "--exclude", "@OK.example"),
             "ok.example: excludelist.emails[1] (@ok.example) excludes the admin address (q@ok.example)"),
            (self.base("ok.example", "--whitelist", "x@partner.example", "--blacklist", "x@PARTNER.example"),
             "ok.example: whitelist.emails[0] (x@partner.example) is also in the blacklist"),
            (self.base("ok.example", "--whitelist", "not-an-address"),
             "ok.example: whitelist.emails[0] (not-an-address) is not an e-mail address (no '@')"),
            (["entry", "create", "ok.example", "--target", "mx.example.net", "--admin", "nobody"],
             "ok.example: admin (nobody) is not an e-mail address (no '@')"),
            (["entry", "update", "existing.example", "--kill-score", "-5"],
             "existing.example: spam.kill (-5) must be greater than spam.spam (6.5)"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.assert_refused(args, 3, message)

    def test_all_validation_errors_are_reported_at_once(self):
        r = self.assert_refused(self.base("ok.example", "--kill-score", "1", "--digest-interval", "5",
                                          "--whitelist", "bad"), 3, "spam.kill (1)")
        self.assertIn("spam.quarantineDigestInterval (5)", r.err)
        self.assertIn("whitelist.emails[0] (bad)", r.err)

    def test_usage_errors_exit_2(self):
        self.assert_refused(["entry", "create", "ok.example", "--target", "mx.example.net"], 2, "--admin is required")
        self.assert_refused(self.base("ok.example", "--virus", "reject"), 2,
                            "--virus: reject not in {DISABLED,QUARANTINE,DISCARD,ACCEPT}")
        self.assert_refused(self.base("ok.example", "--spam-score", "6,5"), 2, "--spam-score")
        self.assert_refused(self.base("ok.example", "--bogus"), 2, "--bogus")
        self.assert_refused(["entry", "create", "--target", "mx.example.net", "--admin", "q@ok.example"], 3,
                            "no domain given")
        self.assert_refused(["entry", "list", "--filter", "colour=red"], 2, "names unknown key 'colour'")
        self.create("existing.example")
        self.assert_refused(["entry", "update", "existing.example"], 2, "nothing to change")

    def test_duplicate_create_exits_1_and_keeps_the_entry(self):
        self.create("dup.example")
        self.assert_refused(["entry", "create", "dup.example", "--target", "other.example.net", "--admin",
                             "x@dup.example"], 1, "dup.example: an entry exists already (change it with 'entry update')")
        self.assertEqual(self.run_mp("entry", "info", "dup.example", "--json", expect=0).json()["target"],
                         "mx.example.net")

    def test_missing_entry_exits_4(self):
        self.assert_refused(["entry", "info", "missing.example"], 4, "missing.example: no such entry")
        self.assert_refused(["entry", "update", "missing.example", "--greylisting", "on"], 4,
                            "missing.example: no such entry")
        self.assert_refused(["entry", "delete", "missing.example"], 4, "missing.example: no such entry")

    def test_store_that_is_a_file(self):
        with open(os.path.join(self.tmp, "file"), "w") as f:
            f.write("x")
        env = dict(self.env, MAILPROXY_STORE=os.path.join(self.tmp, "file"))
        r = self.run_mp(*self.base(), env=env, expect=1)
        self.assertIn("entry store " + os.path.join(self.tmp, "file"), r.err)
        r = self.run_mp("entry", "list", env=env, expect=1)
        self.assertIn("is not a directory", r.err)

    def test_unwritable_store(self):
        self.create("existing.example")
        before = self.store_files()
        os.chmod(self.store, 0o555)
        cmd = [BIN]
        if os.geteuid() == 0:  # root writes anywhere: run as nobody
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN]
            os.chmod(self.tmp, 0o755)
        p = subprocess.run(cmd + self.base("new.example"), capture_output=True, text=True, env=self.env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"cannot write to entry store {self.store}: Permission denied", p.stderr)
        p = subprocess.run(cmd + ["entry", "update", "existing.example", "--greylisting", "on"],
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("Permission denied", p.stderr)
        p = subprocess.run(cmd + ["entry", "list"], capture_output=True, text=True, env=self.env)
        self.assertEqual(p.returncode, 0, p.stderr)  # reading needs no write access
        self.assertIn("existing.example", p.stdout)
        os.chmod(self.store, 0o755)
        self.assertEqual(self.store_files(), before)

    def test_corrupt_file_is_named_and_others_still_listed(self):
        self.create("a.example", "c.example")
        with open(os.path.join(self.store, "b.example.json"), "w") as f:
            f.write('{"domain": "b.example", "target": ')
        with open(os.path.join(self.store, "d.example.json"), "w") as f:
            json.dump({"domain": "d.example", "spam": {"kill": "lots"}}, f)
        r = self.run_mp("entry", "list", expect=1)
        self.assertEqual([l.split()[0] for l in r.out.splitlines()], ["DOMAIN", "a.example", "c.example"])
        self.assertIn(os.path.join(self.store, "b.example.json") + ": not valid JSON", r.err)
        self.assertIn(os.path.join(self.store, "d.example.json") + ": spam.kill (lots) must be a number", r.err)
        self.assertIn("2 file(s) in the entry store could not be read", r.err)
        r = self.run_mp("entry", "export", expect=1)
        self.assertEqual([e["domain"] for e in r.json()], ["a.example", "c.example"])
        r = self.run_mp("entry", "info", "b.example", expect=1)
        self.assertIn("b.example.json: not valid JSON", r.err)

    def test_import_is_all_or_nothing(self):
        self.create("existing.example")
        good = self.run_mp("entry", "export", expect=0).json()[0]
        new = dict(good, domain="new.example")
        bad = dict(good, domain="bad.example", admin="nobody")
        payload = json.dumps([new, bad])
        before = self.store_files()
        r = self.run_mp("entry", "import", "-", stdin=payload, expect=3)
        self.assertIn("standard input: entry 2 (bad.example): admin (nobody) is not an e-mail address", r.err)
        self.assertIn("nothing was imported", r.err)
        self.assertEqual(self.store_files(), before)
        r = self.run_mp("entry", "import", "-", stdin=json.dumps([new, good]), expect=1)
        self.assertIn("entries exist already for existing.example; nothing was imported (use --replace", r.err)
        self.assertEqual(self.store_files(), before)
        r = self.run_mp("entry", "import", "-", stdin="[{\"domain\": 1}]", expect=3)
        self.assertIn("entry 1: domain (1) must be a string", r.err)
        r = self.run_mp("entry", "import", os.path.join(self.tmp, "missing.json"), expect=1)
        self.assertIn("cannot read " + os.path.join(self.tmp, "missing.json"), r.err)
        self.assertEqual(self.store_files(), before)
        r = self.run_mp("entry", "import", "-", "--replace", stdin=json.dumps([new, dict(good, target="b.example.net")]),
                        expect=0)
        self.assertEqual(sorted(self.store_files()), ["existing.example.json", "new.example.json"])

    def test_twenty_concurrent_updates_of_one_entry_all_land(self):
        self.create("busy.example")
        changes = [
            ["--target", "mx2.example.net"], ["--admin", "admin2@busy.example"], ["--greylisting", "on"],
            ["--virus", "DISCARD"], ["--banned-files", "QUARANTINE"], ["--header", "ACCEPT"],
            ["--spam-mode", "QUARANTINE"], ["--no-modify-subject"], ["--tag-header", "1.5"],
            ["--spam-score", "5"], ["--kill-score", "20"], ["--digest-interval", "2880"],
        ] + [["--add-whitelist", f"friend{i}@partner.example"] for i in range(3)] \
          + [["--add-blacklist", f"spam{i}@bad.example"] for i in range(3)] \
          + [["--add-exclude", f"role{i}@busy.example"] for i in range(2)]
        self.assertEqual(len(changes), 20)

        def update(args):
            return subprocess.run([BIN, "entry", "update", "busy.example", *args], capture_output=True, text=True,
                                  env=self.env, timeout=60)

        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(update, changes))
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr)
        e = self.run_mp("entry", "info", "busy.example", "--json", expect=0).json()
        self.assertEqual(e["target"], "mx2.example.net")
        self.assertEqual(e["admin"], "admin2@busy.example")
        self.assertEqual(e["greylisting"], "ENABLED")
        self.assertEqual((e["virus"], e["bannedFiles"], e["header"]), ("DISCARD", "QUARANTINE", "ACCEPT"))
        self.assertEqual(e["spam"], {"mode": "QUARANTINE", "modifySubject": False, "tagHeader": 1.5, "spam": 5,
                                     "kill": 20, "quarantineDigestInterval": 2880})
        self.assertEqual(sorted(e["whitelist"]["emails"]), [f"friend{i}@partner.example" for i in range(3)])
        self.assertEqual(sorted(e["blacklist"]["emails"]), [f"spam{i}@bad.example" for i in range(3)])
        self.assertEqual(sorted(e["excludelist"]["emails"]), [f"role{i}@busy.example" for i in range(2)])
        self.assertEqual(e["protection"], "CUSTOM")
        self.assertEqual([n for n in os.listdir(self.store) if n.startswith(".") and n != ".lock"], [],
                         "temp files left behind")


class StoreLocation(MailproxyTest):
    def test_command_line_then_environment_then_config_file(self):
        cfg_store = os.path.join(self.tmp, "from-config")
        env_store = os.path.join(self.tmp, "from-env")
        cli_store = os.path.join(self.tmp, "from-cli")
        cfg = os.path.join(self.tmp, "mailproxy.conf")
        with open(cfg, "w") as f:
            f.write(f'store = "{cfg_store}"\n\n[entry.create]\nadmin = "cfg@example.com"\nprotection = "HIGH"\n')
        env = {k: v for k, v in self.env.items() if k != "MAILPROXY_STORE"}
        self.run_mp("--config", cfg, "entry", "create", "a.example", "--target", "mx.example.net", env=env, expect=0)
        self.assertTrue(os.path.exists(os.path.join(cfg_store, "a.example.json")))
        a = json.load(open(os.path.join(cfg_store, "a.example.json")))
        self.assertEqual((a["admin"], a["protection"]), ("cfg@example.com", "HIGH"))
        env["MAILPROXY_STORE"] = env_store
        self.run_mp("--config", cfg, "entry", "create", "b.example", "--target", "mx.example.net", env=env, expect=0)
        self.assertTrue(os.path.exists(os.path.join(env_store, "b.example.json")))
        self.run_mp("--config", cfg, "--store", cli_store, "entry", "create", "c.example", "--target", "mx.example.net",
                    env=env, expect=0)
        self.assertTrue(os.path.exists(os.path.join(cli_store, "c.example.json")))
        r = self.run_mp("-v", "entry", "list", "--store", cli_store, env=env, expect=0)
        self.assertIn(f"mailproxy: entry store {cli_store}\n", r.err)

    def test_default_store_without_any_setting(self):
        env = {k: v for k, v in self.env.items() if k != "MAILPROXY_STORE"}
        env["XDG_DATA_HOME"] = os.path.join(self.tmp, "xdg")
        r = self.run_mp("-v", "entry", "list", env=env, expect=0)
        expected = "/etc/mailproxy/entries" if os.geteuid() == 0 else os.path.join(self.tmp, "xdg/mailproxy/entries")
        self.assertIn(f"entry store {expected}", r.err)

    def test_bad_config_file(self):
        cfg = os.path.join(self.tmp, "bad.conf")
        with open(cfg, "w") as f:
            f.write("colour = \"red\"\n")
        r = self.run_mp("--config", cfg, "entry", "list", expect=2)
        self.assertIn("colour", r.err)
        r = self.run_mp("--config", os.path.join(self.tmp, "none.conf"), "entry", "list", expect=2)
        self.assertIn("none.conf", r.err)
