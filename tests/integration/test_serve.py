"""`mailproxy serve` with real peers on 127.0.0.1: swaks as the client, postfix's smtp-sink as the target
(also as LMTP), and a maildir; the relay and smuggling batteries; STARTTLS; limits; signals."""
import glob
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import BIN, MailproxyTest
from filter_samples import write_signatures
from serve_harness import Client, Serve, Sink, free_port

MESSAGE = (b"From: Alice <alice@sender.example>\r\nTo: bob@example.com\r\nSubject: hello\r\n"
           b"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <m1@sender.example>\r\n\r\n"
           b"Hello Bob,\r\n.a line that starts with a dot\r\n\r\nbye\r\n")


def strip_received(message, lf=True):
    """The message without our Received: header (2 or 3 lines), which must be the first, and the
    X-Virus-Scanned: header after it, which must be there."""
    nl = b"\n" if lf else b"\r\n"
    lines = message.split(nl)
    assert lines[0].startswith(b"Received: from ") and b"(mailproxy)" in lines[1], lines[:3]
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    assert lines[i].startswith(b"X-Virus-Scanned: ClamAV ") and lines[i].endswith(b" (mailproxy)"), lines[i]
    return nl.join(lines[i + 1:])


class ServeTest(MailproxyTest):
    def setUp(self):
        super().setUp()
        self.sinks = []
        self.serves = []

    def tearDown(self):
        for s in self.serves:
            if s.proc.poll() is None:
                s.stop(signal.SIGKILL)
        for s in self.sinks:
            s.stop()
        super().tearDown()

    def entry(self, domain, target):
        self.run_mp("entry", "create", domain, "--target", target, "--admin", "postmaster@" + domain, expect=0)

    def sink(self, *options, lmtp=False, unix=False):
        s = Sink(self.tmp, *options, lmtp=lmtp, unix=unix)
        self.sinks.append(s)
        return s

    def serve(self, *args, **kw):
        s = Serve(self, *args, **kw)
        self.serves.append(s)
        return s

    def swaks(self, port, to, *args, data=None):
        cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--to", to, "--from", "alice@sender.example",
               "--helo", "client.test", "--timeout", "20", *args]
        if data is not None:
            path = os.path.join(self.tmp, "message.eml")
            with open(path, "wb") as f:
                f.write(data)
            cmd += ["--data", path]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    # -- delivery ------------------------------------------------------------------------------------
    def test_delivery_to_smtp_lmtp_and_maildir_is_byte_identical_but_for_received(self):
        smtp, lmtp = self.sink(), self.sink(lmtp=True)
        maildir = os.path.join(self.tmp, "Maildir")
        self.entry("example.com", smtp.target())
        self.entry("example.org", f"lmtp://[127.0.0.1]:{lmtp.port}")
        self.entry("example.net", "maildir:" + maildir)
        srv = self.serve()
        for domain in ("example.com", "example.org", "example.net"):
            # swaks for the dialogue, and the exact bytes with a raw client
            r = self.swaks(srv.port, "carol@" + domain, data=MESSAGE)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            c = Client(srv.port).greet()
            c.cmd("MAIL FROM:<alice@sender.example>", 250)
            c.cmd("RCPT TO:<bob@" + domain + ">", 250)
            c.cmd("DATA", 354)
            c.send(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            self.assertEqual(c.reply()[0], 250)
            c.cmd("QUIT", 221)
        lf = MESSAGE.replace(b"\r\n", b"\n")
        for sink in (smtp, lmtp):
            got = sink.messages(wait=5)
            self.assertEqual(len(got), 2)
            # smtp-sink dumps with LF line ends and one empty line after the message
            self.assertIn(lf + b"\n", [strip_received(m) for m in got])
        delivered = []
        for path in glob.glob(os.path.join(maildir, "new", "*")):
            with open(path, "rb") as f:
                delivered.append(strip_received(f.read()))
        self.assertEqual(len(delivered), 2)
        self.assertIn(lf, delivered)
        self.assertEqual(os.listdir(os.path.join(srv.state, "spool")), [])
        self.assertTrue(srv.wait_log("action=delivered"), srv.log())
        self.assertEqual(srv.stop(), 0)

    def test_target_replies_are_mirrored_and_failures_are_never_acknowledged(self):
        refuse_rcpt = self.sink("-f", "RCPT")
        drop_after_data = self.sink("-q", ".")
        down = free_port()
        self.entry("refuse.example", refuse_rcpt.target())
        self.entry("drop.example", drop_after_data.target())
        self.entry("down.example", f"[127.0.0.1]:{down}")
        srv = self.serve()
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        code, text = c.cmd("RCPT TO:<x@refuse.example>")
        self.assertEqual(code, 500)  # smtp-sink's hard reject, mirrored
        self.assertIn("5.3.0", text)
        code, text = c.cmd("RCPT TO:<x@down.example>")
        self.assertEqual(code, 451)
        self.assertIn("4.4.1 cannot reach the mail server", text)
        c.cmd("RSET", 250)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<x@drop.example>", 250)
        c.cmd("DATA", 354)
        c.send(MESSAGE + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 451, text)  # the target dropped after the data: not acknowledged
        self.assertIn("4.4.2", text)
        c.cmd("QUIT", 221)
        c.close()
        self.assertEqual(srv.stop(), 0)

    def test_client_dropping_during_data_delivers_nothing(self):
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve()
        c = Client(srv.port).start()
        c.send(MESSAGE)  # no end marker
        time.sleep(0.3)
        c.close()
        self.assertTrue(srv.wait_log("event=aborted"), srv.log())
        time.sleep(0.5)
        self.assertEqual(sink.messages(), [])
        self.assertEqual(os.listdir(os.path.join(srv.state, "spool")), [])

    # -- relay control ----------------------------------------------------------------------------------
    def test_relay_battery(self):
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve()
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        for rcpt in ("u@unknown.example", "user%other@example.com", "other!user@example.com",
                     "@a.example:u@b.example", '"u@b.example"@example.com', "u@[127.0.0.1]",
                     "u@[IPv6:::1]", "u@unknown.example.", "u@UNKNOWN.example", "u@example.com.",
                     "u@sub.example.com", "u@com", "u@example.com.unknown.example"):
            with self.subTest(rcpt=rcpt):
                code, text = c.cmd(f"RCPT TO:<{rcpt}>")
                self.assertGreaterEqual(code, 500, text)
        for rcpt in ("u@EXAMPLE.COM", "v@Example.Com"):
            c.cmd(f"RCPT TO:<{rcpt}>", 250)
        c.cmd("QUIT", 221)
        self.assertTrue(srv.wait_log("event=relay_denied"), srv.log())

    def test_smuggling_battery(self):
        for marker in (b"\n.\r\n", b"\r.\r\n", b"\n.\n", b"\r\n.\n", b"\r\n.\r"):
            with self.subTest(marker=marker):
                sink = self.sink()
                self.run_mp("entry", "delete", "example.com")
                self.entry("example.com", sink.target())
                srv = self.serve()
                c = Client(srv.port).start()
                c.send(b"Subject: one\r\n\r\nfirst" + marker +
                       b"MAIL FROM:<evil@sender.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
                       b"Subject: smuggled\r\n\r\nsecond\r\n.\r\n")
                code, text = c.reply()
                self.assertEqual(code, 250, text)
                c.cmd("QUIT", 221)
                c.close()
                msgs = sink.messages(wait=5)
                self.assertEqual(len(msgs), 1)
                self.assertNotIn(b"\r", msgs[0])  # smtp-sink keeps a bare CR; we sent none
                self.assertIn(b"MAIL FROM:<evil@sender.example>", msgs[0])
                self.assertTrue(srv.wait_log("event=bare_line_end"), srv.log())
                srv.stop()
                self.serves.remove(srv)

    # -- STARTTLS --------------------------------------------------------------------------------------
    def test_starttls_discards_pipelined_plaintext(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=proxy.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve("--tls-cert", cert, "--tls-key", key)
        c = Client(srv.port)
        c.reply()
        _, ehlo = c.cmd("EHLO client.test", 250)
        self.assertIn("STARTTLS", ehlo)
        c.send("STARTTLS\r\nMAIL FROM:<injected@sender.example>\r\n")  # one packet
        code, _ = c.reply()
        self.assertEqual(code, 220)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(c.sock, server_hostname="proxy.test")
        tls.settimeout(1.0)
        with self.assertRaises((socket.timeout, TimeoutError)):
            tls.recv(100)  # the injected MAIL FROM was not executed: no reply waits for us
        c.sock, c.buf = tls, b""
        c.sock.settimeout(10)
        # the session starts again: MAIL needs EHLO first
        c.cmd("MAIL FROM:<a@sender.example>", 503)
        _, ehlo = c.cmd("EHLO client.test", 250)
        self.assertNotIn("STARTTLS", ehlo)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<bob@example.com>", 250)
        c.cmd("DATA", 354)
        c.send(MESSAGE + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.cmd("QUIT", 221)
        [got] = sink.messages(wait=5)
        self.assertIn(b"with ESMTPS id", got)
        self.assertTrue(srv.wait_log("tls=TLSv1.3"), srv.log())

    # -- limits ------------------------------------------------------------------------------------------
    def test_limits_and_odd_messages(self):
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve("--max-message-size", str(12 << 20), "--max-recipients", "2",
                         "--max-connections-per-ip", "3")
        c = Client(srv.port)
        c.reply()
        code, text = c.cmd("NOOP " + "x" * 600)
        self.assertEqual(code, 500)
        self.assertIn("line too long", text)
        c.cmd("EHLO client.test", 250)
        c.cmd(f"MAIL FROM:<a@sender.example> SIZE={13 << 20}", 552)
        c.cmd("MAIL FROM:<a@sender.example> FOO=1", 555)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<a@example.com>", 250)
        c.cmd("RCPT TO:<b@example.com>", 250)
        c.cmd("RCPT TO:<c@example.com>", 452)
        c.cmd("BDAT 10 LAST", 502)
        c.cmd("DATA", 354)
        c.send(b"Subject: long\r\n\r\n" + b"y" * 1200 + b"\r\n.\r\n")
        code, text = c.reply()
        self.assertEqual(code, 554, text)
        self.assertIn("longer than 998", text)
        for body, expect in ((b"", 250), (b"a\x00b\r\n", 554), (b"z" * 100 + b"\r\n", 250)):
            c.cmd("MAIL FROM:<a@sender.example>", 250)
            c.cmd("RCPT TO:<a@example.com>", 250)
            c.cmd("DATA", 354)
            c.send(body + b".\r\n")
            self.assertEqual(c.reply()[0], expect, (body[:20], srv.log()))
        # 10 MB passes, 13 MB does not (read to its end, then refused)
        for size, expect in ((10 << 20, 250), (13 << 20, 552)):
            c.cmd("MAIL FROM:<a@sender.example>", 250)
            c.cmd("RCPT TO:<a@example.com>", 250)
            c.cmd("DATA", 354)
            line = b"0123456789" * 7 + b"\r\n"
            c.send(b"Subject: big\r\n\r\n" + line * (size // len(line)) + b".\r\n")
            code, text = c.reply()
            self.assertEqual(code, expect, text)
        self.assertEqual(len(sink.messages(wait=5)), 3)
        # connections per address
        others = [Client(srv.port) for _ in range(2)]
        for o in others:
            self.assertEqual(o.reply()[0], 220)
        extra = Client(srv.port)
        code, text = extra.reply()
        self.assertEqual(code, 421)
        self.assertIn("too many connections", text)
        c.cmd("QUIT", 221)

    def test_slow_client_times_out(self):
        self.entry("example.com", self.sink().target())
        srv = self.serve("--command-timeout", "1")
        c = Client(srv.port).greet()
        started = time.time()
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("timeout", text)
        self.assertLess(time.time() - started, 5)
        self.assertEqual(c.reply()[0], None)

    # -- operations ---------------------------------------------------------------------------------------
    def test_check_config_and_start_errors(self):
        self.entry("example.com", "maildir:" + os.path.join(self.tmp, "md"))
        db = write_signatures(os.path.join(self.tmp, "db"))
        r = self.run_mp("serve", "--check-config", "--listen", "127.0.0.1:0", "--clamav-db", db)
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, rf"^configuration OK \(1 entries in {self.store}; virus scanner libclamav "
                                rf"1\.[0-9.]+, 2 signatures\)\n$")
        r = self.run_mp("serve", "--check-config", "--listen", "nowhere", "--max-recipients", "0",
                        "--tls-cert", "/missing.pem", "--clamav-db", os.path.join(self.tmp, "nodb"), expect=2)
        self.assertIn("nodb cannot be loaded", r.err)
        self.assertIn("listen: nowhere is not ADDRESS:PORT", r.err)
        self.assertIn("max-recipients: at least 1", r.err)
        self.assertIn("tls-cert and tls-key go together", r.err)
        with open(os.path.join(self.store, "broken.example.json"), "w") as f:
            f.write("{not json")
        r = self.run_mp("serve", "--check-config", "--listen", "127.0.0.1:0", "--clamav-db", db, expect=2)
        self.assertIn("broken.example.json", r.err)
        os.remove(os.path.join(self.store, "broken.example.json"))
        # a port in use fails before "ready"
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = self.run_mp("--store", self.store, "serve", "--listen", f"127.0.0.1:{port}", "--state-dir",
                        os.path.join(self.tmp, "state"), "--clamav-db", db, expect=1)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.err)
        self.assertNotIn("ready", r.out)
        blocker.close()
        # no signatures (this system has none of its own): refused before "ready"
        r = self.run_mp("serve", "--listen", "127.0.0.1:0", "--state-dir", os.path.join(self.tmp, "state"),
                        "--clamav-db", os.path.join(self.tmp, "nodb"), expect=2)
        self.assertIn("nodb cannot be loaded", r.err)
        self.assertNotIn("ready", r.out)

    def test_sighup_reload_keeps_a_working_config_and_sigterm_drains(self):
        sink = self.sink()
        self.entry("example.com", sink.target())
        config = os.path.join(self.tmp, "mailproxy.conf")
        with open(config, "w") as f:
            f.write("[serve]\nmax-recipients = 5\n")
        srv = self.serve(config=config)
        with open(config, "w") as f:
            f.write("[serve]\nmax-recipients = oops\nno-such-key = 1\n")
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log("event=reload"), srv.log())
        self.assertIn("the running configuration stays", srv.log())
        r = self.swaks(srv.port, "bob@example.com", data=MESSAGE)
        self.assertEqual(r.returncode, 0, r.stdout)
        # a new entry is picked up without a signal
        other = self.sink()
        self.entry("example.org", other.target())
        self.assertEqual(self.swaks(srv.port, "bob@example.org", data=MESSAGE).returncode, 0)
        # SIGTERM: the open transaction finishes, an idle session gets 421, the process exits 0
        busy, idle = Client(srv.port), Client(srv.port)
        busy.reply()
        idle.reply()
        idle.cmd("EHLO client.test", 250)
        busy.cmd("EHLO client.test", 250)
        busy.cmd("MAIL FROM:<a@sender.example>", 250)
        busy.cmd("RCPT TO:<bob@example.com>", 250)
        busy.cmd("DATA", 354)
        busy.send(MESSAGE[:40])
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(idle.reply()[0], 421)
        time.sleep(0.3)
        with self.assertRaises(OSError):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
            s.recv(10) or (_ for _ in ()).throw(OSError("closed"))
        busy.send(MESSAGE[40:] + b".\r\n")
        self.assertEqual(busy.reply()[0], 250, srv.log())
        self.assertEqual(busy.reply()[0], 421)  # and then it is closed
        self.assertEqual(srv.proc.wait(timeout=20), 0)
        self.assertEqual(len(sink.messages(wait=2)), 2)

    def test_kill_during_data_never_acknowledges_and_the_spool_is_cleaned(self):
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve()
        c = Client(srv.port).start()
        c.send(MESSAGE)
        spool = os.path.join(srv.state, "spool")
        # the message is received into an unnamed file in the spool directory (O_TMPFILE)
        held = None
        deadline = time.time() + 5
        while held is None and time.time() < deadline:
            fd_dir = f"/proc/{srv.proc.pid}/fd"
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target.startswith(spool + "/") and target.endswith("(deleted)"):
                    held = target  # (written in blocks of 64 KiB: this message is still in memory)
            time.sleep(0.05)
        self.assertIsNotNone(held, "no spool file is open")
        self.assertEqual(os.listdir(spool), [])
        srv.stop(signal.SIGKILL)
        self.assertEqual(c.reply()[0], None)  # closed, never a 250
        self.assertEqual(sink.messages(), [])
        # nothing of the message outlives the process; a file an older run left is removed at start
        self.assertEqual(os.listdir(spool), [])
        with open(os.path.join(spool, "left-by-an-older-run"), "wb") as f:
            f.write(MESSAGE)
        again = self.serve()
        self.assertTrue(again.wait_log("event=spool_cleaned files=1"), again.log())
        self.assertEqual(os.listdir(spool), [])

    def test_mixed_domains_in_one_transaction(self):
        a, b = self.sink(), self.sink()
        self.entry("example.com", a.target())
        self.entry("example.org", b.target())
        srv = self.serve()
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<x@example.com>", 250)
        code, text = c.cmd("RCPT TO:<y@example.org>")
        self.assertEqual(code, 452)
        self.assertIn("4.5.3", text)
        c.cmd("QUIT", 221)

    def test_ipv6_listen_and_privilege_drop(self):
        if os.geteuid() != 0:
            self.fail("this test needs root (it drops privileges); CI runs as root")
        import pwd
        nobody = pwd.getpwnam("nobody")
        maildir = os.path.join(self.tmp, "Maildir")
        os.makedirs(maildir)
        os.chmod(maildir, 0o777)
        self.entry("example.com", "maildir:" + maildir)
        config = os.path.join(self.tmp, "mailproxy.conf")  # readable by root only
        with open(config, "w") as f:
            f.write("[serve]\nmax-recipients = 5\n")
        os.chmod(config, 0o600)
        srv = self.serve("--listen", "[::1]:0", "--user", "nobody", config=config)
        self.assertEqual(len(srv.addresses), 2)
        self.assertTrue(srv.addresses[1].startswith("[::1]:"), srv.addresses)
        with open(f"/proc/{srv.proc.pid}/status") as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(set(uids), {str(nobody.pw_uid)})
        self.assertTrue(srv.wait_log("event=privileges user=nobody"), srv.log())
        port6 = int(srv.addresses[1].rsplit(":", 1)[1])
        # swaks needs a Perl module for IPv6 that Debian does not install with it: a raw client
        c = Client(port6, host="::1").greet()
        c.cmd("MAIL FROM:<alice@sender.example>", 250)
        c.cmd("RCPT TO:<bob@example.com>", 250)
        c.cmd("DATA", 354)
        c.send(MESSAGE + b".\r\n")
        self.assertEqual(c.reply()[0], 250, srv.log())
        c.cmd("QUIT", 221)
        self.assertTrue(srv.wait_log("client=::1"), srv.log())
        self.assertEqual(len(glob.glob(os.path.join(maildir, "new", "*"))), 1)
        self.assertEqual(os.stat(os.path.join(srv.state, "spool")).st_uid, nobody.pw_uid)
        # SIGHUP reads the configuration as nobody now: it cannot, so the running one stays
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_log('result="the running configuration stays"'), srv.log())
        self.assertIn("mailproxy.conf was not readable", srv.log())
        c = Client(port6, host="::1").greet()
        c.cmd("MAIL FROM:<alice@sender.example>", 250)
        for i in range(5):
            c.cmd(f"RCPT TO:<r{i}@example.com>", 250)
        c.cmd("RCPT TO:<r6@example.com>", 452)  # max-recipients from the file still holds
        c.cmd("QUIT", 221)
        self.assertEqual(srv.stop(), 0)

    # -- findings of a review, each with the case that showed it ---------------------------------------
    def fake_target(self, script):
        """A target that follows `script`: a list of byte strings to send, each after reading one line
        (the first is the greeting). Returns its port; what it received is in self.fake_log."""
        import threading
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        self.fake_log = []

        def run():
            conn, _ = server.accept()
            conn.settimeout(10)
            buf = b""
            try:
                conn.sendall(script[0])
                for answer in script[1:]:
                    while b"\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    line, buf = buf.split(b"\n", 1)
                    self.fake_log.append(line)
                    conn.sendall(answer)
                time.sleep(1)
            except OSError:
                pass
            finally:
                conn.close()
                server.close()

        threading.Thread(target=run, daemon=True).start()
        return server.getsockname()[1]

    def test_a_target_out_of_step_never_yields_a_250(self):
        # two greetings: every later reply would be one behind, and RCPT's 250 would answer DATA
        port = self.fake_target([b"220 front\r\n220 back\r\n", b"250 hi\r\n", b"250 ok\r\n", b"250 ok\r\n",
                                 b"250 ok\r\n", b"250 ok\r\n"])
        self.entry("example.com", f"[127.0.0.1]:{port}")
        srv = self.serve()
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        code, text = c.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual(code, 451, text)
        self.assertNotIn(b"DATA", b"".join(self.fake_log))

    def test_failed_reads_end_at_once(self):
        self.entry("example.com", self.sink().target())
        srv = self.serve("--command-timeout", "20", "--max-connections-per-ip", "3")
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.close()
        time.sleep(0.3)
        c = Client(srv.port)
        self.assertEqual(c.reply()[0], 220)  # the closed ones do not count any more
        # a target that refuses the connection is reported at once, not after a time-out
        started = time.time()
        self.run_mp("entry", "update", "example.com", "--target", f"[127.0.0.1]:{free_port()}", expect=0)
        c.cmd("EHLO client.test", 250)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        code, text = c.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual(code, 451)
        self.assertIn("Connection refused", text)
        self.assertLess(time.time() - started, 3)

    def test_entries_removed_or_broken_while_serving(self):
        a, b = self.sink(), self.sink()
        self.entry("a.example", a.target())
        self.entry("b.example", b.target())
        srv = self.serve()
        os.remove(os.path.join(self.store, "a.example.json"))
        with open(os.path.join(self.store, "b.example.json"), "w") as f:
            f.write("{half saved")
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<x@sender.example>", 250)
        c.cmd("RCPT TO:<u@a.example>", 550)  # removed: refused at once, whatever else is broken
        c.cmd("RCPT TO:<u@b.example>", 250)  # a half-saved edit keeps the entry it had
        self.assertTrue(srv.wait_log("event=entries"), srv.log())
        self.assertIn("b.example.json", srv.log())

    def test_escapes_and_helo_names_are_checked(self):
        self.entry("example.com", self.sink().target())
        srv = self.serve()
        c = Client(srv.port)
        c.reply()
        c.cmd("EHLO a\rX-Injected: yes", 501)
        c.cmd("EHLO client.test", 250)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        for rcpt in ('"u\\@evil.test"@example.com', '"v\\%evil.test"@example.com', '"w\\!x"@example.com'):
            code, text = c.cmd(f"RCPT TO:<{rcpt}>")
            self.assertEqual(code, 553, (rcpt, text))
        code, _ = c.cmd('MAIL FROM:<"x\\\rRSET"@sender.example>')
        self.assertGreaterEqual(code, 500)

    def test_one_serve_per_state_directory(self):
        self.entry("example.com", self.sink().target())
        self.serve()
        r = self.run_mp("--store", self.store, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        os.path.join(self.tmp, "state"), expect=1)
        self.assertIn("another mailproxy serve uses the state directory", r.err)

    def test_a_second_sigterm_cuts_off_a_transaction_in_flight(self):
        stalling = self.sink("-w", "30")  # waits 30 s before answering DATA
        self.entry("example.com", stalling.target())
        srv = self.serve("--target-timeout", "60")
        c = Client(srv.port).start()
        c.send(MESSAGE + b".\r\n")
        time.sleep(0.5)  # serve now waits for the target's 354
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(srv.wait_log("event=stopping"), srv.log())
        started = time.time()
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(timeout=10), 0)
        self.assertLess(time.time() - started, 5)
        self.assertTrue(srv.wait_log('event=stopped note="cut off"'), srv.log())
        self.assertEqual(c.reply()[0], None)  # closed, never a 250
        c.close()
        self.assertEqual(stalling.messages(), [])

    def test_sigterm_stops_a_transaction_that_waits_for_its_next_command(self):
        self.entry("example.com", self.sink().target())
        srv = self.serve("--command-timeout", "60")
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<bob@example.com>", 250)
        started = time.time()
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(c.reply()[0], 421)
        self.assertEqual(srv.proc.wait(timeout=10), 0)
        self.assertLess(time.time() - started, 5)

    def test_more_target_failures_from_smtp_sink(self):
        soft = self.sink("-r", "RCPT")       # 4xx to RCPT
        closing = self.sink("-Q", "MAIL")    # 421 and hang up at MAIL
        stalling = self.sink("-w", "10")     # waits 10 s before answering DATA
        lmtp_unix = self.sink(lmtp=True, unix=True)
        self.entry("soft.example", soft.target())
        self.entry("closing.example", closing.target())
        self.entry("stall.example", stalling.target())
        self.entry("unix.example", "lmtp:unix:" + lmtp_unix.socket)
        srv = self.serve("--target-timeout", "2")
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        code, text = c.cmd("RCPT TO:<u@soft.example>")
        self.assertEqual(code, 450, text)  # smtp-sink's soft reject, mirrored
        code, text = c.cmd("RCPT TO:<u@closing.example>")
        self.assertEqual(code // 100, 4, text)
        c.cmd("RCPT TO:<u@stall.example>", 250)
        c.cmd("DATA", 354)
        started = time.time()
        c.send(MESSAGE + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 451, text)  # the target did not answer DATA in time: not acknowledged
        self.assertLess(time.time() - started, 8)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<u@unix.example>", 250)
        c.cmd("RCPT TO:<v@unix.example>", 452)  # LMTP: one recipient per transaction
        c.cmd("DATA", 354)
        c.send(MESSAGE + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(len(lmtp_unix.messages(wait=5)), 1)
        self.assertEqual(stalling.messages(), [])

    def test_starttls_to_the_target(self):
        """serve in front of another serve that offers STARTTLS: opportunistic uses it, required needs it."""
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=inner.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        maildir = os.path.join(self.tmp, "Maildir")
        inner_store = os.path.join(self.tmp, "inner-entries")
        self.run_mp("--store", inner_store, "entry", "create", "example.com", "--target", "maildir:" + maildir,
                    "--admin", "postmaster@example.com", expect=0)
        inner = self.serve("--tls-cert", cert, "--tls-key", key, "--state-dir", os.path.join(self.tmp, "inner"),
                           store=inner_store)
        plain = self.serve("--state-dir", os.path.join(self.tmp, "plain"), store=inner_store)
        self.entry("example.com", f"[127.0.0.1]:{inner.port}")
        self.entry("example.org", f"[127.0.0.1]:{plain.port}")
        outer = self.serve("--target-tls", "required")
        r = self.swaks(outer.port, "bob@example.com", data=MESSAGE)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertTrue(inner.wait_log("tls=TLSv1.3"), inner.log())
        # the plain inner one offers no STARTTLS: required refuses with a 4xx, nothing delivered
        c = Client(outer.port).greet()
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        code, text = c.cmd("RCPT TO:<bob@example.org>")
        self.assertEqual(code, 451, text)
        self.assertIn("4.7.5", text)

    def test_idle_target_sessions_are_reused_and_a_dropped_one_is_replaced(self):
        sink = self.sink("-t", "2")  # smtp-sink drops a session idle for 2 s
        self.entry("example.com", sink.target())
        srv = self.serve()
        for _ in range(2):
            self.assertEqual(self.swaks(srv.port, "bob@example.com", data=MESSAGE).returncode, 0)
        self.assertTrue(srv.wait_log("target_session=reused"), srv.log())
        time.sleep(3)  # the pooled session is gone at the target now
        r = self.swaks(srv.port, "bob@example.com", data=MESSAGE)
        self.assertEqual(r.returncode, 0, r.stdout + srv.log())
        self.assertEqual(len(sink.messages(wait=5)), 3)
        self.assertEqual(srv.wait_count("event=message ", 3), 3, srv.log())
        self.assertEqual(srv.log().count("target_session=new"), 2, srv.log())

    def test_total_connection_limit_and_syslog(self):
        # a syslog socket of our own at /dev/log (none runs here or in CI). It is read all the time by a
        # thread: other programs (NSD in a test running beside this one) log there meanwhile, and
        # syslog(3) blocks its callers when the socket's queue is full
        self.assertFalse(os.path.exists("/dev/log"), "/dev/log exists: this test needs it free")
        log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        log.bind("/dev/log")
        self.addCleanup(log.close)
        self.addCleanup(os.unlink, "/dev/log")
        log.settimeout(0.2)
        received, done = [], threading.Event()

        def drain():
            while not done.is_set():
                try:
                    received.append(log.recv(65536).decode(errors="replace"))
                except socket.timeout:
                    continue
                except OSError:
                    return

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        self.addCleanup(reader.join, 5)
        self.addCleanup(done.set)
        sink = self.sink()
        self.entry("example.com", sink.target())
        srv = self.serve("--log", "syslog", "--max-connections", "2", "--max-connections-per-ip", "5")
        first, second = Client(srv.port).greet(), Client(srv.port).greet()
        third = Client(srv.port)
        code, text = third.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("too many connections", text)
        first.cmd("QUIT", 221)
        first.close()
        deadline = time.time() + 5
        while True:  # the freed place is taken by the next client
            c = Client(srv.port)
            code, _ = c.reply()
            if code == 220 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(code, 220)
        c.cmd("EHLO client.test", 250)
        c.cmd("MAIL FROM:<a@sender.example>", 250)
        c.cmd("RCPT TO:<bob@example.com>", 250)
        c.cmd("DATA", 354)
        c.send(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.cmd("QUIT", 221)
        second.close()
        self.assertEqual(srv.stop(), 0)
        time.sleep(0.5)  # the last datagrams
        text = "\n".join(received)
        # facility mail (2): <20> is mail.warning, <22> mail.info; tagged mailproxy[PID]
        self.assertRegex(text, r"<20>.*mailproxy\[%d\]: level=warning event=refused client=127.0.0.1 "
                               r"reason=max-connections" % srv.proc.pid)
        self.assertRegex(text, r"<22>.*event=message .*action=delivered")
        self.assertRegex(text, r"<22>.*event=stopped")
        self.assertEqual(srv.log(), "")  # nothing on stderr

    def test_targets_without_pipelining_and_a_refused_sender(self):
        plain = self.sink("-p")  # no PIPELINING: RSET, MAIL and RCPT go one at a time
        refusing = self.sink("-f", "MAIL")  # 5xx to MAIL
        self.entry("example.com", plain.target())
        self.entry("refusing.example", refusing.target())
        srv = self.serve()
        for _ in range(3):
            self.assertEqual(self.swaks(srv.port, "bob@example.com", data=MESSAGE).returncode, 0)
        self.assertEqual(srv.wait_count("event=message ", 3), 3, srv.log())
        self.assertEqual(srv.log().count("target_session=reused"), 2, srv.log())
        c = Client(srv.port).greet()
        for _ in range(2):  # a new session to the target, then the same one again from the pool
            c.cmd("MAIL FROM:<a@sender.example>", 250)
            code, text = c.cmd("RCPT TO:<u@refusing.example>")
            self.assertEqual(code // 100, 5, text)  # the target's refusal of MAIL, given at RCPT
            c.cmd("RCPT TO:<bob@example.com>", 250)  # nothing accepted yet: another domain may start
            c.cmd("DATA", 354)
            c.send(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            self.assertEqual(c.reply()[0], 250)
        c.cmd("QUIT", 221)
        got = plain.messages(wait=5)
        self.assertEqual(len(got), 5)
        # the two sent here byte for byte (smtp-sink dumps with LF line ends and an empty line after)
        self.assertEqual([strip_received(m) for m in got].count(MESSAGE.replace(b"\r\n", b"\n") + b"\n"), 2)
        self.assertEqual(refusing.messages(), [])
