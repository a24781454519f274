"""`mailproxy entry ... --backend autodns` and `mailproxy autodns ping` against the AutoDNS emulator."""
import base64
import json
import os
import pty
import select
import socket
import subprocess
import time
import unittest
import urllib.request

from harness import BIN
from emulator_harness import CONTEXT, PASSWORD, USER, EmulatorTest

TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def entry(domain, **extra):
    e = {"domain": domain, "target": "mx." + domain, "admin": "admin@" + domain, "protection": "MEDIUM"}
    e.update(extra)
    return e


class AutoDnsTest(EmulatorTest):
    def setUp(self):
        super().setUp()
        self.env["MAILPROXY_BACKEND"] = "autodns"

    def api_requests(self):
        return [r for r in self.emulator.requests() if r["path"].startswith("/v1/")]

    def routes(self):
        return [f"{r['method']} {r['path']}" for r in self.api_requests()]

    def assert_no_secret(self, *texts):
        for t in texts:
            self.assertNotIn(PASSWORD, t)
            self.assertNotIn(TOKEN, t)


class Commands(AutoDnsTest):
    def test_ping(self):
        r = self.mp("autodns", "ping", expect=0)
        self.assertEqual(r.out, f"AutoDNS at {self.emulator.url} answered for user {USER} in context 4: "
                                "S0000 Hello from the AutoDNS emulator.\n")
        req = self.api_requests()[0]
        self.assertEqual(req["headers"]["Authorization"], "Basic " + TOKEN)
        self.assertEqual(req["headers"]["X-Domainrobot-Context"], "4")
        self.assertRegex(req["headers"]["User-Agent"], r"^mailproxy/\d+\.\d+\.\d+$")
        self.assertEqual(req["headers"]["Accept"], "application/json")

    def test_wrong_password_and_context_are_reported_with_codes(self):
        with open(self.pwfile, "w") as f:
            f.write("wrong\n")
        r = self.mp("autodns", "ping", expect=1)
        self.assertRegex(r.err, r"AutoDNS error E0000: Authentication failed\. \[EF00401: User or password is "
                                r"wrong\.\] \(HTTP 401, stid \d{8}-emu-\d+\)")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        cfg = self.write_config(name="ctx.conf")
        with open(cfg) as f:
            text = f.read().replace("context = 4", "context = 7")
        with open(cfg, "w") as f:
            f.write(text)
        r = self.mp("autodns", "ping", config=cfg, expect=1)
        self.assertIn("[EF00402: Unknown or missing context.]", r.err)

    def test_create_info_update_list_delete(self):
        r = self.mp("entry", "create", "example.com", "--target", "mx.example.net", "--admin",
                    "postmaster@example.com", "--greylisting", "on", expect=0)
        self.assertEqual(r.out, "created example.com (MEDIUM)\n")
        post = self.api_requests()[-1]
        self.assertEqual((post["method"], post["path"]), ("POST", "/v1/mailProxy"))
        body = json.loads(post["body"])
        self.assertEqual(body["greylisting"], "ENABLED")
        self.assertEqual(body["protection"], "MEDIUM")
        self.assertEqual(post["headers"]["Content-Type"], "application/json")
        stored = self.emulator.objects()["example.com"]
        self.assertEqual(stored["target"], "mx.example.net")

        info = self.mp("entry", "info", "example.com", "--json", expect=0).json()
        self.assertEqual(info["created"], stored["created"])  # server-set members are shown
        self.assertEqual(info["owner"], {"context": 4, "user": USER})

        # a preset entry changes to CUSTOM: the whole object goes, without merge, and no server-set member
        r = self.mp("entry", "update", "example.com", "--virus", "QUARANTINE", expect=0)
        self.assertIn("protection MEDIUM -> CUSTOM (virus changed", r.err)
        put = self.api_requests()[-1]
        self.assertEqual((put["method"], put["path"], put["query"]), ("PUT", "/v1/mailProxy/example.com", ""))
        body = json.loads(put["body"])
        self.assertEqual(body["virus"], "QUARANTINE")
        for k in ("created", "updated", "owner", "updater", "idn"):
            self.assertNotIn(k, body)
        # CUSTOM to CUSTOM: only what changed, with keys[]=merge
        self.mp("entry", "update", "example.com", "--kill-score", "12", expect=0)
        put = self.api_requests()[-1]
        self.assertEqual(put["query"], "keys%5B%5D=merge")
        body = json.loads(put["body"])
        self.assertEqual(sorted(body), ["admin", "domain", "protection", "spam", "target"])
        self.assertEqual(body["spam"]["kill"], 12)
        stored = self.emulator.objects()["example.com"]
        self.assertEqual((stored["virus"], stored["spam"]["kill"], stored["greylisting"]), ("QUARANTINE", 12, "ENABLED"))

        self.emulator.seed([entry("example.org", protection="HIGH"), entry("other.net")])
        r = self.mp("entry", "list", expect=0)
        self.assertEqual([l.split()[0] for l in r.out.splitlines()], ["DOMAIN", "example.com", "example.org", "other.net"])
        r = self.mp("entry", "list", "--filter", "domain=ex*", "--filter", "protection=high", "--json", expect=0)
        self.assertEqual(r.json(), [{"domain": "example.org", "target": "mx.example.org", "admin": "admin@example.org",
                                     "protection": "HIGH", "greylisting": "DISABLED"}])
        search = json.loads(self.api_requests()[-1]["body"])
        self.assertEqual(search["filters"], [{"key": "domain", "operator": "LIKE", "value": "ex*"},
                                             {"key": "protection", "operator": "EQUAL", "value": "HIGH"}])
        self.assertEqual(search["orders"], [{"key": "domain", "type": "ASC"}])

        r = self.mp("entry", "delete", "example.com", expect=0)
        self.assertEqual(r.out, "deleted example.com\n")
        self.assertNotIn("example.com", self.emulator.objects())
        r = self.mp("entry", "info", "example.com", expect=4)
        self.assertIn("example.com: no such entry in AutoDNS (AutoDNS error E0514: The MailProxy was not found. "
                      "[EF05140: There is no MailProxy for example.com.] (HTTP 404", r.err)
        r = self.mp("entry", "delete", "example.com", expect=4)
        r = self.mp("entry", "update", "example.com", "--greylisting", "off", expect=4)

    def test_duplicate_create_and_invalid_input(self):
        self.emulator.seed([entry("dup.example")])
        r = self.mp("entry", "create", "dup.example", "--target", "mx.example.net", "--admin", "a@dup.example",
                    expect=1)
        self.assertIn("AutoDNS error E0511: The MailProxy could not be created. "
                      "[EF05111: A MailProxy for dup.example exists already.]", r.err)
        before = len(self.api_requests())
        r = self.mp("entry", "create", "new.example", "--target", "mx.example.net", "--admin", "a@new.example",
                    "--spam-score", "9", "--kill-score", "8", expect=3)
        self.assertIn("new.example: spam.kill (8) must be greater than spam.spam (9)", r.err)
        self.assertEqual(len(self.api_requests()), before, "an invalid entry was sent")

    def test_reads_legacy_boolean_greylisting(self):
        self.emulator.seed([entry("old.example", greylisting="ENABLED")])
        self.emulator.control("config", {"legacy_greylisting": True})
        r = self.mp("entry", "info", "old.example", expect=0)
        self.assertIn("greylisting                    ENABLED\n", r.out)
        # the emulator really served the old form
        req = urllib.request.Request(self.emulator.url + "/mailProxy/old.example", headers={
            "Authorization": "Basic " + TOKEN, "X-Domainrobot-Context": "4", "User-Agent": "test",
            "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.emulator.ssl, timeout=10) as resp:
            self.assertIs(json.loads(resp.read())["data"][0]["greylisting"], True)

    def test_paging_over_250_entries(self):
        self.emulator.seed([entry(f"d{i:03}.example") for i in range(250)])
        r = self.mp("entry", "list", "--json", expect=0)
        self.assertEqual([e["domain"] for e in r.json()], [f"d{i:03}.example" for i in range(250)])
        searches = [json.loads(q["body"])["view"] for q in self.api_requests()]
        self.assertEqual([(v["offset"], v["limit"]) for v in searches], [(0, 100), (100, 100), (200, 100)])

    def test_export_then_import_into_the_local_store_gives_identical_objects(self):
        self.emulator.seed([entry("a.example", protection="CUSTOM", virus="DISCARD",
                                  spam={"mode": "QUARANTINE", "modifySubject": False, "tagHeader": 1, "spam": 4.5,
                                        "kill": 10, "quarantineDigestInterval": 2880},
                                  whitelist={"emails": ["friend@x.example"]}, greylisting="ENABLED"),
                            entry("b.example", protection="OFF")])
        exported = self.mp("entry", "export", expect=0)
        local = dict(self.env, MAILPROXY_BACKEND="local")
        self.run_mp("entry", "import", "-", stdin=exported.out, env=local, expect=0)
        again = self.run_mp("entry", "export", env=local, expect=0)
        self.assertEqual(again.json(), exported.json())
        server = self.emulator.objects()
        self.assertEqual(exported.json(), [server["a.example"], server["b.example"]])
        # and back: local -> AutoDNS (replace existing)
        self.emulator.reset()
        self.mp("entry", "import", "-", stdin=again.out, expect=0)
        server = self.emulator.objects()
        self.assertEqual(server["a.example"]["spam"]["kill"], 10)
        self.assertEqual(server["a.example"]["virus"], "DISCARD")
        self.assertEqual(server["b.example"]["protection"], "OFF")


class Faults(AutoDnsTest):
    def test_a_500_once_is_retried_and_visible_with_v(self):
        self.emulator.seed([entry("x.example")])
        self.emulator.fault("GET /v1/mailProxy/x.example", "error500")
        r = self.mp("-v", "entry", "info", "x.example", expect=0)
        self.assertIn("mailproxy: autodns: retry 1/3 of GET /mailProxy/x.example in 0.2 s after HTTP 500", r.err)
        self.assertIn("mailproxy: autodns: > Authorization: Basic ********", r.err)
        self.assertIn("mailproxy: autodns: < HTTP 500", r.err)
        self.assert_no_secret(r.out, r.err)
        self.assertEqual(self.routes(), ["GET /v1/mailProxy/x.example"] * 2)

    def test_persistent_500_gives_up_after_bounded_retries(self):
        self.emulator.fault("GET /v1/mailProxy/x.example", "error500", count=10)
        r = self.mp("entry", "info", "x.example", expect=1)
        self.assertIn("AutoDNS error E0000: Internal server error. [EF00500: Temporary failure, try again.] "
                      "(HTTP 500, stid", r.err)
        self.assertIn("(gave up after 4 attempts)", r.err)
        self.assertEqual(len(self.api_requests()), 4)

    def test_timeout_is_retried_then_reported(self):
        self.emulator.seed([entry("x.example")])
        self.emulator.fault("GET /v1/mailProxy/x.example", "slow", delay=3)
        r = self.mp("-v", "entry", "info", "x.example", expect=0)
        self.assertIn("after a time-out", r.err)
        self.emulator.fault("GET /v1/mailProxy/x.example", "slow", count=10, delay=3)
        cfg = self.write_config(extra="retries = 1\n", name="one-retry.conf")
        r = self.mp("entry", "info", "x.example", config=cfg, expect=1)
        self.assertIn(f"AutoDNS at 127.0.0.1:{self.emulator.port} did not answer in time (connect timeout 2 s, "
                      "total 1.5 s) (gave up after 2 attempts)", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1, "one clear line")

    def test_dropped_connection_is_retried(self):
        self.emulator.seed([entry("x.example")])
        self.emulator.fault("GET /v1/mailProxy/x.example", "drop")
        r = self.mp("-v", "entry", "info", "x.example", "--json", expect=0)
        self.assertEqual(r.json()["domain"], "x.example")
        self.assertIn("after a dropped connection", r.err)

    def test_non_json_and_empty_bodies(self):
        self.emulator.fault("GET /v1/mailProxy/x.example", "nonjson", count=10)
        r = self.mp("entry", "info", "x.example", expect=1)
        self.assertIn('AutoDNS answered HTTP 502 with a body that is not JSON: "<html><body><h1>502 Bad Gateway'
                      '</h1></body></html>" (gave up after 4 attempts)', r.err)
        self.emulator.reset()
        self.emulator.fault("DELETE /v1/mailProxy/x.example", "empty500", count=10)
        cfg = self.write_config(extra="retries = 0\n", name="no-retry.conf")
        r = self.mp("entry", "delete", "x.example", config=cfg, expect=1)
        self.assertIn("AutoDNS answered HTTP 500 with an empty body", r.err)

    def test_rate_limit_answer_is_retried_even_for_create(self):
        self.emulator.fault("POST /v1/mailProxy", "ratelimit")
        self.mp("entry", "create", "rl.example", "--target", "mx.example.net", "--admin", "a@rl.example", expect=0)
        self.assertEqual(self.routes(), ["POST /v1/mailProxy", "POST /v1/mailProxy"])
        self.assertIn("rl.example", self.emulator.objects())

    def test_create_that_timed_out_is_checked_not_resent(self):
        self.emulator.fault("POST /v1/mailProxy", "slow", delay=3)  # acted on, answer lost
        r = self.mp("-v", "entry", "create", "slow.example", "--target", "mx.example.net", "--admin",
                    "a@slow.example", expect=0)
        self.assertIn("asking whether it exists", r.err)
        self.assertEqual(self.routes(), ["POST /v1/mailProxy", "GET /v1/mailProxy/slow.example"])
        self.assertEqual(list(self.emulator.objects()), ["slow.example"])

    def test_create_whose_connection_dropped_is_sent_again_after_checking(self):
        self.emulator.fault("POST /v1/mailProxy", "drop")  # never acted on
        self.mp("entry", "create", "drop.example", "--target", "mx.example.net", "--admin", "a@drop.example",
                expect=0)
        self.assertEqual(self.routes(), ["POST /v1/mailProxy", "GET /v1/mailProxy/drop.example", "POST /v1/mailProxy"])
        self.assertEqual(list(self.emulator.objects()), ["drop.example"])

    def test_delete_whose_answer_was_lost_is_not_reported_missing(self):
        self.emulator.seed([entry("gone.example")])
        self.emulator.fault("DELETE /v1/mailProxy/gone.example", "slow", delay=3)  # acted on, answer lost
        r = self.mp("-v", "entry", "delete", "gone.example", expect=0)
        self.assertEqual(r.out, "deleted gone.example\n")
        self.assertIn("the first one went through", r.err)
        self.assertEqual(self.routes(), ["DELETE /v1/mailProxy/gone.example"] * 2)

    def test_unclear_create_of_a_domain_someone_else_holds_is_not_taken_as_ours(self):
        self.emulator.seed([entry("taken.example", target="other.example.net")])
        self.emulator.fault("POST /v1/mailProxy", "error500")
        r = self.mp("entry", "create", "taken.example", "--target", "mx.example.net", "--admin",
                    "admin@taken.example", expect=1)
        self.assertIn("taken.example: AutoDNS holds an entry with other values (target other.example.net", r.err)

    def test_connection_refused(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        cfg = self.write_config(url=f"https://127.0.0.1:{port}/v1", name="refused.conf")
        r = self.mp("autodns", "ping", config=cfg, expect=1)
        self.assertIn(f"cannot connect to AutoDNS at 127.0.0.1:{port}", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1)

    def test_dns_failure(self):
        cfg = self.write_config(url="https://autodns.invalid/v1", name="dns.conf")
        r = self.mp("autodns", "ping", config=cfg, expect=1)
        self.assertEqual(r.err, "mailproxy: error: cannot resolve the AutoDNS host name in "
                                "https://autodns.invalid/v1/hello\n")

    def test_tls_failure_without_the_ca(self):
        cfg = self.write_config(ca=False, name="noca.conf")
        r = self.mp("autodns", "ping", config=cfg, expect=1)
        self.assertIn(f"TLS failure talking to AutoDNS at 127.0.0.1:{self.emulator.port}", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1)
        self.assertEqual(self.api_requests(), [])

    def test_http_urls_are_refused(self):
        cfg = self.write_config(url="http://127.0.0.1:1/v1", name="http.conf")
        r = self.mp("autodns", "ping", config=cfg, expect=2)
        self.assertIn("AutoDNS URL (http://127.0.0.1:1/v1) must start with https://", r.err)


class Bulk(AutoDnsTest):
    def test_bulk_create_respects_the_rate_limit_goes_on_and_summarises(self):
        self.emulator.seed([entry("d3.example")])
        path = os.path.join(self.tmp, "domains")
        with open(path, "w") as f:
            f.write("\n".join(f"d{i}.example" for i in range(8)) + "\n")
        r = self.mp("entry", "create", "--domains-from", path, "--target", "mx.example.net", "--admin",
                    "q@example.net", "--json", expect=1)
        results = r.json()
        self.assertEqual([x["domain"] for x in results], [f"d{i}.example" for i in range(8)])
        self.assertEqual([x["ok"] for x in results], [i != 3 for i in range(8)])
        self.assertEqual(results[3]["error"], "failed")
        self.assertIn("EF05111", results[3]["message"])
        self.assertIn("1 of 8 entries not created", r.err)
        self.assertEqual(len(self.emulator.objects()), 8)
        times = [q["time"] for q in self.api_requests()]
        for a, b in zip(times, times[3:]):
            self.assertGreaterEqual(b - a, 1.0, "more than 3 requests within one second")

    def test_bulk_delete_with_one_missing_domain_exits_1(self):
        self.emulator.seed([entry("a.example"), entry("c.example")])
        r = self.mp("entry", "delete", "a.example", "b.example", "c.example", "--json", expect=1)
        self.assertEqual([(x["domain"], x["ok"]) for x in r.json()],
                         [("a.example", True), ("b.example", False), ("c.example", True)])
        self.assertEqual(r.json()[1]["error"], "not_found")
        self.assertIn("1 of 3 entries not deleted", r.err)

    def test_local_only_targets_and_existing_domains_refuse_an_import(self):
        r = self.mp("entry", "create", "box.example", "--target", "maildir:/var/mail/box", "--admin",
                    "a@box.example", expect=3)
        self.assertIn("box.example: target (maildir:/var/mail/box) is a local delivery only 'mailproxy serve' knows",
                      r.err)
        self.emulator.seed([entry("b.example")])
        payload = json.dumps([entry("a.example"), entry("b.example")])
        r = self.mp("entry", "import", "-", stdin=payload, expect=1)
        self.assertIn("entries exist already in AutoDNS for b.example; nothing was imported", r.err)
        self.assertEqual(sorted(self.emulator.objects()), ["b.example"])

    def test_progress_bar_only_on_a_terminal(self):
        args = [BIN, "--config", self.config, "entry", "delete", "a.example", "b.example", "c.example"]
        self.emulator.seed([entry("a.example"), entry("b.example"), entry("c.example")])
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(BIN, args, self.env)
        out = b""
        while True:
            ready, _, _ = select.select([fd], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        text = out.decode()
        self.assertIn("[##########....................] 1/3 a.example", text)
        self.assertIn("[##############################] 3/3 c.example", text)
        self.emulator.seed([entry("a.example"), entry("b.example")])
        r = self.mp("entry", "delete", "a.example", "b.example", expect=0)
        self.assertNotIn("\r", r.err + r.out)
        self.assertEqual(r.out, "deleted a.example\ndeleted b.example\n")


class Credentials(AutoDnsTest):
    def test_environment_only(self):
        env = dict(self.env, MAILPROXY_AUTODNS_USER=USER, MAILPROXY_AUTODNS_PASSWORD=PASSWORD,
                   MAILPROXY_AUTODNS_CONTEXT="4", MAILPROXY_AUTODNS_URL=self.emulator.url)
        cfg = os.path.join(self.tmp, "ca-only.conf")
        with open(cfg, "w") as f:
            f.write(f'[autodns]\nca-file = "{self.emulator.cert}"\n')
        r = self.run_mp("--config", cfg, "autodns", "ping", env=env, expect=0)
        self.assertIn("answered for user reseller-7", r.out)

    def test_missing_credentials(self):
        cfg = os.path.join(self.tmp, "empty.conf")
        with open(cfg, "w") as f:
            f.write(f'[autodns]\nurl = "{self.emulator.url}"\n')
        r = self.run_mp("--config", cfg, "entry", "list", expect=2)
        self.assertIn("no AutoDNS user: set MAILPROXY_AUTODNS_USER or user in the [autodns] section", r.err)
        r = self.run_mp("--config", cfg, "entry", "list", env=dict(self.env, MAILPROXY_AUTODNS_USER="u"), expect=2)
        self.assertIn("no AutoDNS password", r.err)
        with open(cfg, "a") as f:
            f.write("colour = \"red\"\n")
        r = self.run_mp("--config", cfg, "entry", "list", expect=2)
        self.assertIn("unknown key colour in [autodns]", r.err)

    def test_config_file_with_password_readable_by_others_is_refused(self):
        cfg = os.path.join(self.tmp, "open.conf")
        with open(cfg, "w") as f:
            f.write(f'[autodns]\nurl = "{self.emulator.url}"\nuser = "{USER}"\npassword = "{PASSWORD}"\n'
                    f'ca-file = "{self.emulator.cert}"\n')
        os.chmod(cfg, 0o644)
        for args in (["autodns", "ping"], ["--backend", "local", "entry", "list"]):
            r = self.run_mp("--config", cfg, *args, expect=2)
            self.assertEqual(r.err, f"mailproxy: error: {cfg} holds the AutoDNS password but others can read it "
                                    f"(mode 0644); run: chmod 600 {cfg}\n")
            self.assert_no_secret(r.out, r.err)
        self.assertEqual(self.api_requests(), [])
        os.chmod(cfg, 0o600)
        self.run_mp("--config", cfg, "autodns", "ping", expect=0)
        os.chmod(self.pwfile, 0o640)
        r = self.mp("autodns", "ping", expect=2)
        self.assertIn(f"{self.pwfile} holds the AutoDNS password but others can read it (mode 0640); run: chmod 600",
                      r.err)

    def test_password_from_the_environment_is_masked_too(self):
        env = dict(self.env, MAILPROXY_AUTODNS_USER=USER, MAILPROXY_AUTODNS_PASSWORD=PASSWORD,
                   MAILPROXY_AUTODNS_URL=self.emulator.url)
        cfg = os.path.join(self.tmp, "ca-only.conf")
        with open(cfg, "w") as f:
            f.write(f'[autodns]\nca-file = "{self.emulator.cert}"\n')
        self.emulator.fault("GET /v1/hello", "error500")
        r = self.run_mp("--config", cfg, "-v", "autodns", "ping", env=env, expect=0)
        self.assertIn("Basic ********", r.err)
        self.assertIn("retry 1/3", r.err)
        self.assert_no_secret(r.out, r.err)

    def test_password_never_in_output_or_command_line(self):
        self.emulator.seed([entry("x.example")])
        self.emulator.fault("GET /v1/mailProxy/x.example", "slow", delay=1)
        cfg = self.write_config(name="slow.conf")
        with open(cfg) as f:
            text = f.read().replace("timeout = 1.5", "timeout = 5")
        with open(cfg, "w") as f:
            f.write(text)
        p = subprocess.Popen([BIN, "--config", cfg, "-v", "entry", "info", "x.example", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        time.sleep(0.5)
        with open(f"/proc/{p.pid}/cmdline", "rb") as f:
            cmdline = f.read().decode()
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("x.example", cmdline)  # it was the right process
        self.assert_no_secret(cmdline, out, err)
        self.assertIn("Basic ********", err)


if __name__ == "__main__":
    unittest.main()
