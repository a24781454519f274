"""Spam scoring in `mailproxy serve` (issue 8) with real engines started here, offline: SpamAssassin's spamd
and rspamd. GTUBE is marked under MEDIUM (X-Spam-Flag, the subject tag, X-Spam-Status with the rules) and
quarantined or rejected under a CUSTOM entry with kill 5; a plain message is not marked; the lists (white:
envelope, header From, catch-all; black: the kill action; exclusion: no scoring, no greylisting); an
engine that stops answering or is gone gives 451 and a log line."""
import email
import glob
import os
import re
import shutil
import sqlite3
import tempfile
import time
from email import policy

from filter_samples import message, write_signatures
from harness import MailproxyTest
from serve_harness import Client, Serve
from spam_harness import GTUBE, Rspamd, Spamd


class SpamBase:
    """The tests, for an engine class attribute `Engine` (mixed into a TestCase)."""
    Engine = None

    @classmethod
    def setUpClass(cls):
        cls.engine_dir = tempfile.mkdtemp(prefix="mailproxy-spam-")
        cls.engine = cls.Engine(cls.engine_dir)

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.engine_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.maildirs = {}
        for domain, extra in (
                ("medium.example", ["--protection", "MEDIUM"]),
                ("quar.example", ["--protection", "CUSTOM", "--spam-mode", "QUARANTINE", "--spam-score", "4",
                                  "--kill-score", "5"]),
                ("disc.example", ["--protection", "CUSTOM", "--spam-mode", "DISCARD", "--spam-score", "4",
                                  "--kill-score", "5"]),
                ("lists.example", ["--protection", "CUSTOM", "--spam-mode", "DISCARD", "--spam-score", "4",
                                   "--kill-score", "5", "--whitelist", "friend@trusted.example",
                                   "--whitelist", "@friends.example", "--blacklist", "bad@evil.example",
                                   "--exclude", "vip@lists.example"]),
                ("grey.example", ["--protection", "MEDIUM", "--greylisting", "on", "--exclude", "vip@grey.example"]),
                ("spamonly.example", ["--protection", "CUSTOM", "--virus", "DISABLED", "--banned-files", "DISABLED",
                                      "--header", "DISABLED"])):
            self.maildirs[domain] = os.path.join(self.tmp, "maildirs", domain)
            self.run_mp("entry", "create", domain, "--target", "maildir:" + self.maildirs[domain], "--admin",
                        "postmaster@" + domain, *extra, expect=0)
        self.srv = Serve(self, "--spam-engine", self.engine.spec, "--spam-timeout", "3")

    def tearDown(self):
        self.engine.resume()
        if self.srv.proc.poll() is None:
            self.srv.stop()
        super().tearDown()

    def send(self, to, data, sender="alice@sender.example"):
        return self.send_to(self.srv, to, data, sender)

    def send_to(self, srv, to, data, sender="alice@sender.example"):
        c = Client(srv.port, timeout=20).greet()
        c.cmd(f"MAIL FROM:<{sender}>", 250)
        c.cmd(f"RCPT TO:<{to}>", 250)
        c.cmd("DATA", 354)
        c.send(data.replace(b"\n", b"\r\n") + b".\r\n")
        reply = c.reply()
        c.cmd("QUIT", 221)
        return reply

    def delivered(self, domain):
        paths = sorted(glob.glob(os.path.join(self.maildirs[domain], "new", "*")), key=os.path.getmtime)
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(email.message_from_bytes(f.read(), policy=policy.compat32))
        return out

    def test_gtube_is_marked_and_a_plain_message_is_not(self):
        self.assertIn("event=spam_engine engine=", self.srv.log())
        self.assertEqual(self.send("u@medium.example", message(subject="offer", body=GTUBE + "\n"))[0], 250)
        self.assertEqual(self.send("u@medium.example", message(subject="lunch", body="See you at noon.\n"))[0], 250)
        spam, ham = self.delivered("medium.example")
        self.assertEqual(spam["Subject"], "+++SPAM offer")
        self.assertEqual(spam["X-Spam-Flag"], "YES")
        status = spam["X-Spam-Status"]
        self.assertRegex(status, r"^Yes, score=\d+(\.\d+)? tagged_above=-999 required=6\.5\s+tests=\[")
        self.assertIn("GTUBE", status)
        for line in spam.as_string().split("\n"):
            self.assertLessEqual(len(line), 78 if line.startswith(("X-Spam-Status", "\t")) else 998)
        self.assertGreaterEqual(len(spam["X-Spam-Level"]), 5)
        self.assertEqual(ham["Subject"], "lunch")
        self.assertIsNone(ham["X-Spam-Flag"])
        self.assertTrue(ham["X-Spam-Status"].startswith("No, score="), ham["X-Spam-Status"])
        self.assertTrue(self.srv.wait_log("state=scored"), self.srv.log())
        # X-Spam fields the sender wrote never reach the target, scored or not (an excluded recipient)
        forged = message(subject="forged", body=GTUBE + "\n",
                         headers={"X-Spam-Flag": "NO", "X-Spam-Status": "No, score=-100"})
        self.assertEqual(self.send("u@medium.example", forged)[0], 250)
        m = self.delivered("medium.example")[-1]
        self.assertEqual(m.get_all("X-Spam-Flag"), ["YES"])
        self.assertEqual(len(m.get_all("X-Spam-Status")), 1)
        self.assertTrue(m["X-Spam-Status"].startswith("Yes, "))
        self.assertEqual(self.send("vip@lists.example", forged)[0], 250)
        m = self.delivered("lists.example")[-1]
        self.assertIsNone(m["X-Spam-Flag"])
        self.assertIsNone(m["X-Spam-Status"])
        self.assertEqual(m["Subject"], "forged")
        # an entry with only the spam check: the header section is still read for them
        self.assertEqual(self.send("u@spamonly.example", forged)[0], 250)
        [m] = self.delivered("spamonly.example")
        self.assertEqual(m.get_all("X-Spam-Flag"), ["YES"])
        self.assertEqual(m["Subject"], "+++SPAM forged")

    def test_kill_5_quarantines_or_rejects_gtube(self):
        code, text = self.send("u@quar.example", message(body=GTUBE + "\n"))
        self.assertEqual(code, 250, text)
        self.assertIn("quarantined as ", text)
        qid = text.split("quarantined as ", 1)[1].split(":", 1)[0]
        row = sqlite3.connect(os.path.join(self.srv.state, "quarantine.db")).execute(
            "SELECT reason FROM messages WHERE id = ?", (qid,)).fetchone()
        self.assertRegex(row[0], r"^spam: score [0-9.]+ at or above 5$")
        self.assertEqual(self.delivered("quar.example"), [])
        code, text = self.send("u@disc.example", message(body=GTUBE + "\n"))
        self.assertEqual(code, 554, text)
        self.assertIn("5.7.1 rejected: spam: score", text)
        self.assertEqual(self.delivered("disc.example"), [])
        self.assertEqual(self.send("u@disc.example", message(body="See you at noon.\n"))[0], 250)
        self.assertTrue(self.srv.wait_log("verdict=spam action=quarantined"), self.srv.log())

    def test_lists_whitelist_blacklist_and_exclusion(self):
        gtube = message(body=GTUBE + "\n")
        from_friend = gtube.replace(b"From: Alice <alice@sender.example>", b"From: Friend <friend@trusted.example>")
        self.assertNotEqual(from_friend, gtube)
        # whitelisted: the envelope sender, then the header From, then a catch-all: never marked or killed
        self.assertEqual(self.send("u@lists.example", gtube, sender="friend@trusted.example")[0], 250)
        self.assertEqual(self.send("u@lists.example", from_friend, sender="other@sender.example")[0], 250)
        self.assertEqual(self.send("u@lists.example", gtube, sender="Anyone@FRIENDS.example")[0], 250)
        delivered = self.delivered("lists.example")
        self.assertEqual(len(delivered), 3)
        for m in delivered:
            self.assertIsNone(m["X-Spam-Status"])
            self.assertIsNone(m["X-Spam-Flag"])
            self.assertFalse(m["Subject"].startswith("+++SPAM"))
        self.assertEqual(self.srv.wait_count("state=whitelisted", 3), 3, self.srv.log())
        for m in delivered:  # still virus-scanned
            self.assertTrue(m["X-Virus-Scanned"].startswith("ClamAV "), m["X-Virus-Scanned"])
        # blacklisted clean sender, on the envelope or in From: the kill action (DISCARD here)
        clean = message(body="See you at noon.\n")
        code, text = self.send("u@lists.example", clean, sender="bad@evil.example")
        self.assertEqual(code, 554, text)
        self.assertIn("5.7.1 rejected: spam: blacklisted sender bad@evil.example", text)
        from_bad = clean.replace(b"From: Alice <alice@sender.example>", b"From: <BAD@evil.example>")
        self.assertEqual(self.send("u@lists.example", from_bad)[0], 250)  # the local part is exact
        from_bad = clean.replace(b"From: Alice <alice@sender.example>", b"From: <bad@EVIL.example>")
        self.assertEqual(self.send("u@lists.example", from_bad)[0], 554)
        # behind 100 KiB of other header lines, From: still meets the blacklist
        padding = b"".join(b"X-Pad-%d: %s\n" % (i, b"p" * 900) for i in range(110))
        padded = from_bad.replace(b"From: <bad@EVIL.example>", padding + b"From: <bad@EVIL.example>")
        self.assertGreater(padded.index(b"From: <bad@"), 100_000)
        self.assertEqual(self.send("u@lists.example", padded)[0], 554)
        self.assertEqual(len(self.delivered("lists.example")), 4)
        # excluded recipient: not scored (no headers, no kill) and not greylisted
        self.assertEqual(self.send("vip@lists.example", gtube)[0], 250)
        self.assertIsNone(self.delivered("lists.example")[-1]["X-Spam-Status"])
        self.assertEqual(self.send("vip@grey.example", gtube)[0], 250)
        [m] = self.delivered("grey.example")
        self.assertIsNone(m["X-Spam-Status"])
        self.assertIsNone(m["X-Greylist"])
        c = Client(self.srv.port).greet()
        c.cmd("MAIL FROM:<alice@sender.example>", 250)
        c.cmd("RCPT TO:<u@grey.example>", 450)  # the same sender, a recipient that is not excluded
        c.cmd("QUIT", 221)
        self.assertEqual(self.srv.wait_count("state=excluded", 2), 2, self.srv.log())

    def test_scan_scores_with_the_same_engine(self):
        db = write_signatures(os.path.join(self.tmp, "db"))
        gtube = os.path.join(self.tmp, "gtube.eml")
        ham = os.path.join(self.tmp, "ham.eml")
        with open(gtube, "wb") as f:
            f.write(message(body=GTUBE + "\n"))
        with open(ham, "wb") as f:
            f.write(message(body="See you at noon.\n").replace(b"alice@sender.example", b"bad@evil.example"))
        args = ["scan", "--clamav-db", db, "--spam-engine", self.engine.spec]
        r = self.run_mp(*args, gtube, expect=13)
        self.assertIn(f"{gtube}: spam\n  spam: score ", r.out)
        self.assertIn("GTUBE", r.out)
        r = self.run_mp(*args, "--protection", "MEDIUM", "--json", gtube, expect=13)
        [j] = r.json()
        self.assertEqual((j["verdict"], j["action"]), ("spam", "deliver"))  # MEDIUM marks; kill is 999
        self.assertIn("GTUBE", j["spam"]["rules"])
        r = self.run_mp(*args, "--entry", "quar.example", gtube, expect=13)
        self.assertIn("action quarantine", r.out)
        self.run_mp(*args, ham, expect=0)
        r = self.run_mp(*args, "--entry", "lists.example", ham, expect=13)  # From: bad@evil.example
        self.assertIn("spam: blacklisted sender bad@evil.example", r.out)
        self.assertIn("action discard", r.out)
        r = self.run_mp(*args, "--protection", "OFF", gtube, expect=0)  # no spam check at OFF
        self.assertNotIn("spam", r.out)
        r = self.run_mp("scan", "--clamav-db", db, "--spam-engine", "spamd:127.0.0.1:1", ham, expect=1)
        self.assertIn("error: spamd at 127.0.0.1:1 cannot be reached", r.out)
        r = self.run_mp("scan", "--clamav-db", db, "--spam-engine", "spamd:localhost:783", ham, expect=2)
        self.assertIn("spam-engine: spamd:localhost:783 is not spamd:IP:PORT, spamd:unix:/path, "
                      "rspamd:http://IP:PORT or none", r.err)

    def test_engine_that_stops_answering_gives_451_and_a_log_line(self):
        self.engine.pause()
        started = time.monotonic()
        code, text = self.send("u@medium.example", message(body="See you at noon.\n"))
        self.assertEqual(code, 451, text)
        self.assertIn("4.3.0", text)
        self.assertLess(time.monotonic() - started, 15)
        self.assertTrue(self.srv.wait_log("event=spam "), self.srv.log())
        self.assertIn("timed out", self.srv.log())
        self.assertTrue(self.srv.wait_log("verdict=unscanned action=tempfail"), self.srv.log())
        self.engine.resume()
        self.assertEqual(self.send("u@medium.example", message(body="See you at noon.\n"))[0], 250)
        self.assertEqual(len(self.delivered("medium.example")), 1)
        # --spam-failure pass: delivered unscored, and still logged; --spam-max-size: not sent at all
        passing = Serve(self, "--spam-engine", self.engine.spec, "--spam-timeout", "2", "--spam-failure", "pass",
                        "--spam-max-size", "2000", "--state-dir", os.path.join(self.tmp, "state-pass"))
        try:
            self.engine.pause()
            self.assertEqual(self.send_to(passing, "u@medium.example", message(body="Hello.\n"))[0], 250)
            self.engine.resume()
            m = self.delivered("medium.example")[-1]
            self.assertIsNone(m["X-Spam-Status"])
            self.assertTrue(passing.wait_log("level=error event=spam "), passing.log())
            big = message(subject="big", body=GTUBE + "\n" + "words and more words\n" * 200)
            self.assertEqual(self.send_to(passing, "u@medium.example", big)[0], 250)
            m = self.delivered("medium.example")[-1]
            self.assertEqual(m["Subject"], "big")
            self.assertIsNone(m["X-Spam-Status"])
            self.assertTrue(passing.wait_log("event=spam_skipped"), passing.log())
            self.assertRegex(passing.log(), r'event=spam_skipped id=\S+ reason=size size="\d+ bytes, over 2000"')
        finally:
            self.engine.resume()
            passing.stop()


class SpamdTest(SpamBase, MailproxyTest):
    Engine = Spamd

    def test_an_engine_that_is_gone_gives_451_and_serve_does_not_start_without_it(self):
        gone = Spamd(os.path.join(self.tmp, "gone"))
        try:
            srv = Serve(self, "--spam-engine", gone.spec, "--state-dir", os.path.join(self.tmp, "state2"))
        finally:
            gone.stop()
        try:
            code, text = self.send_to(srv, "u@medium.example", message(body="See you at noon.\n"))
            self.assertEqual(code, 451, text)
            self.assertTrue(srv.wait_log("cannot be reached: Connection refused"), srv.log())
            self.assertIn("level=error event=spam", srv.log())
        finally:
            srv.stop()
        self.assertEqual(self.delivered("medium.example"), [])
        r = self.run_mp("--store", self.store, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        os.path.join(self.tmp, "state3"), "--clamav-db", write_signatures(os.path.join(self.tmp, "db")),
                        "--spam-engine", gone.spec)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn(f"spamd at 127.0.0.1:{gone.port} cannot be reached", r.err)


    def test_spamd_gets_our_received_line_ahead_of_the_message(self):
        """A recording stand-in for spamd (it answers like spamd): what serve sends it."""
        import socket
        import threading
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        requests = []

        def fake():
            while True:
                try:
                    c, _ = listener.accept()
                except OSError:
                    return
                with c:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    if head.startswith(b"PING"):
                        c.sendall(b"SPAMD/1.5 0 PONG\r\n")
                        continue
                    length = int(re.search(rb"Content-length: (\d+)", head).group(1))
                    while len(body) < length:
                        body += c.recv(65536)
                    requests.append((head, body))
                    c.sendall(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: False ; 1.5 / 5.0\r\n\r\nRULE1")

        threading.Thread(target=fake, daemon=True).start()
        srv = Serve(self, "--spam-engine", f"spamd:127.0.0.1:{listener.getsockname()[1]}", "--state-dir",
                    os.path.join(self.tmp, "state-fake"))
        try:
            original = message(subject="hi", body="Hello.\n")
            self.assertEqual(self.send_to(srv, "u@medium.example", original)[0], 250)
            [(head, body)] = requests
            self.assertTrue(head.startswith(b"SYMBOLS SPAMC/1.5\r\n"), head)
            self.assertRegex(body, rb"^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby proxy\.test \(mailproxy\) "
                                   rb"with ESMTP id \S+\r\n\tfor <u@medium\.example>; ")
            self.assertTrue(body.endswith(original.replace(b"\n", b"\r\n")), body[-200:])
            m = self.delivered("medium.example")[-1]
            self.assertTrue(m["X-Spam-Status"].startswith("No, score=1.5 tagged_above=-999 required=6.5"))
            self.assertIn("tests=[RULE1]", m["X-Spam-Status"])
        finally:
            srv.stop()
            listener.close()

    def test_spamd_on_a_unix_socket(self):
        local = Spamd(os.path.join(self.tmp, "unix"), unix=True)
        try:
            srv = Serve(self, "--spam-engine", local.spec, "--state-dir", os.path.join(self.tmp, "state-unix"))
            try:
                self.assertIn(f'engine="spamd at {local.socket}"', srv.log())
                self.assertEqual(self.send_to(srv, "u@medium.example", message(subject="x", body=GTUBE + "\n"))[0],
                                 250)
                m = self.delivered("medium.example")[-1]
                self.assertEqual(m["X-Spam-Flag"], "YES")
                self.assertIn("GTUBE", m["X-Spam-Status"])
            finally:
                srv.stop()
        finally:
            local.stop()

    def test_the_config_file_key_spam_engine(self):
        config = os.path.join(self.tmp, "mailproxy.conf")
        with open(config, "w") as f:
            f.write(f'[serve]\nspam-engine = "{self.engine.spec}"\nspam-timeout = 7\n')
        srv = Serve(self, "--state-dir", os.path.join(self.tmp, "state-conf"), config=config)
        try:
            self.assertIn(f'event=spam_engine engine="spamd at 127.0.0.1:{self.engine.port}"', srv.log())
            self.assertEqual(self.send_to(srv, "u@medium.example", message(subject="x", body=GTUBE + "\n"))[0], 250)
            self.assertEqual(self.delivered("medium.example")[-1]["Subject"], "+++SPAM x")
        finally:
            srv.stop()


class RspamdTest(SpamBase, MailproxyTest):
    Engine = Rspamd
