"""Greylisting in `mailproxy serve` (issue 8, DESIGN §5.2 step 1): the triplet (client /24, sender without
its address extension, recipient), 450 4.7.1 with the seconds to wait, the delay, X-Greylist on the first
message through, state in SQLite across a restart; excluded recipients and whitelisted senders skip it."""
import glob
import os
import sqlite3
import stat
import time

from filter_samples import message
from harness import MailproxyTest
from serve_harness import Client, Serve


class GreylistTest(MailproxyTest):
    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.tmp, "maildir")
        self.run_mp("entry", "create", "grey.example", "--target", "maildir:" + self.maildir, "--admin",
                    "postmaster@grey.example", "--protection", "OFF", "--greylisting", "on", "--exclude",
                    "vip@grey.example", "--whitelist", "friend@trusted.example", expect=0)
        self.run_mp("entry", "create", "plain.example", "--target", "maildir:" + self.maildir, "--admin",
                    "postmaster@plain.example", "--protection", "OFF", expect=0)
        self.serves = []

    def tearDown(self):
        for s in self.serves:
            if s.proc.poll() is None:
                s.stop()
        super().tearDown()

    def serve(self):
        # every address, IPv4 and IPv6: IPv4 clients arrive as ::ffff:a.b.c.d and are logged as a.b.c.d
        srv = Serve(self, "--greylist-delay", "2", listen=":0")
        self.serves.append(srv)
        return srv

    def rcpt(self, srv, sender, rcpt, source=None):
        """MAIL and RCPT on a new connection: the RCPT reply."""
        c = Client(srv.port, source=source).greet()
        c.cmd(f"MAIL FROM:<{sender}>", 250)
        reply = c.cmd(f"RCPT TO:<{rcpt}>")
        c.cmd("QUIT", 221)
        return reply

    def deliver(self, srv, sender, rcpt):
        """A whole message, which must be accepted: the delivered file's bytes."""
        before = set(glob.glob(os.path.join(self.maildir, "new", "*")))
        c = Client(srv.port).greet()
        c.cmd(f"MAIL FROM:<{sender}>", 250)
        c.cmd(f"RCPT TO:<{rcpt}>", 250)
        c.cmd("DATA", 354)
        c.send(message().replace(b"\n", b"\r\n") + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.cmd("QUIT", 221)
        [new] = set(glob.glob(os.path.join(self.maildir, "new", "*"))) - before
        with open(new, "rb") as f:
            return f.read()

    def test_first_try_early_retry_retry_after_the_delay_and_a_restart(self):
        srv = self.serve()
        code, text = self.rcpt(srv, "alice@sender.example", "u@grey.example")
        self.assertEqual(code, 450, text)
        self.assertIn("4.7.1 greylisted, try again in 2 seconds", text)
        self.assertTrue(srv.wait_log("event=greylisted"), srv.log())
        self.assertIn("client=127.0.0.1 ", srv.log())
        self.assertNotIn("::ffff:", srv.log())
        self.assertIn("note=\"spam scoring is off; the lists still apply\"", srv.log())
        code, text = self.rcpt(srv, "alice@sender.example", "u@grey.example")
        self.assertEqual(code, 450, text)  # too early
        time.sleep(2.2)
        data = self.deliver(srv, "alice@sender.example", "u@grey.example")
        self.assertRegex(data, rb"\nX-Greylist: delayed [23] seconds by mailproxy at proxy.test; ")
        # the same triplet again: at once, and no header; an address extension is the same sender
        data = self.deliver(srv, "alice@sender.example", "u@grey.example")
        self.assertNotIn(b"X-Greylist", data)
        self.assertNotIn(b"X-Greylist", self.deliver(srv, "Alice+news@Sender.Example", "u@grey.example"))
        # another /24 (127.0.1.x is loopback too) is another triplet
        code, text = self.rcpt(srv, "alice@sender.example", "u@grey.example", source="127.0.1.9")
        self.assertEqual(code, 450, text)
        # a domain without greylisting is not held up
        self.assertNotIn(b"X-Greylist", self.deliver(srv, "new@sender.example", "u@plain.example"))
        self.assertEqual(srv.stop(), 0)
        # the state survives a restart
        srv = self.serve()
        self.assertNotIn(b"X-Greylist", self.deliver(srv, "alice@sender.example", "u@grey.example"))
        code, _ = self.rcpt(srv, "bob@sender.example", "u@grey.example")
        self.assertEqual(code, 450)
        db = os.path.join(srv.state, "greylist.db")
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        rows = sqlite3.connect(db).execute(
            "SELECT network, sender, recipient, passed FROM triplets ORDER BY network, sender").fetchall()
        self.assertEqual(rows, [("127.0.0.0/24", "alice@sender.example", "u@grey.example", 1),
                                ("127.0.0.0/24", "bob@sender.example", "u@grey.example", 0),
                                ("127.0.1.0/24", "alice@sender.example", "u@grey.example", 0)])

    def test_excluded_recipients_and_whitelisted_senders_skip_greylisting(self):
        srv = self.serve()
        self.assertNotIn(b"X-Greylist", self.deliver(srv, "alice@sender.example", "vip@grey.example"))
        self.assertNotIn(b"X-Greylist", self.deliver(srv, "friend@trusted.example", "u@grey.example"))
        # an excluded and a filtered recipient cannot share a transaction (one verdict)
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<friend@trusted.example>", 250)
        c.cmd("RCPT TO:<u@grey.example>", 250)
        code, text = c.cmd("RCPT TO:<vip@grey.example>")
        self.assertEqual(code, 452, text)
        self.assertIn("4.5.3", text)
        c.cmd("QUIT", 221)
        self.assertNotIn("event=greylisted", srv.log())
