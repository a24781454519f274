"""The filter inside `mailproxy serve` (issue 7): libclamav with signatures made at run time, every sample of
clamav-testfiles sent with swaks, and each entry mode doing exactly what DESIGN §5.3 says: QUARANTINE
(file and SQLite row before the 250), DISCARD (554), ACCEPT (the wrapped message; the alert header), OFF.
The same again through a real clamd; clamd's failures; new signatures on SIGHUP."""
import email
import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from email import policy

from filter_samples import CLAM_DIR, EICAR, Clamd, clam_exe, message, write_signatures
from harness import MailproxyTest
from serve_harness import Client, Serve, free_port


class ServeFilterTest(MailproxyTest):
    def setUp(self):
        super().setUp()
        self.serves = []
        self.maildirs = {}
        for domain, protection, extra in (
                ("high.example", "HIGH", []), ("medium.example", "MEDIUM", []), ("off.example", "OFF", []),
                ("discard.example", "CUSTOM", ["--virus", "DISCARD", "--banned-files", "DISCARD"]),
                ("header.example", "CUSTOM", ["--header", "ACCEPT"])):
            maildir = os.path.join(self.tmp, "maildirs", domain)
            self.maildirs[domain] = maildir
            self.run_mp("entry", "create", domain, "--target", "maildir:" + maildir, "--admin",
                        "digest@" + domain, "--protection", protection, *extra, expect=0)
        self.srv = Serve(self, *self.scanner_args())
        self.serves.append(self.srv)

    def scanner_args(self):
        """serve's options for the virus scanner: libclamav with the run time signatures (the harness's)."""
        return []

    def tearDown(self):
        for s in self.serves:
            if s.proc.poll() is None:
                s.stop()
        super().tearDown()

    def delivered(self, domain):
        out = []
        for path in sorted(glob.glob(os.path.join(self.maildirs[domain], "new", "*"))):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def send(self, to, data):
        """Sends `data` (LF lines) with a raw client; the reply to the end of data."""
        c = Client(self.srv.port).greet()
        c.cmd("MAIL FROM:<alice@sender.example>", 250)
        c.cmd(f"RCPT TO:<{to}>", 250)
        c.cmd("DATA", 354)
        wire = data.replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..")
        c.send(wire + (b"" if wire.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        reply = c.reply()
        c.cmd("QUIT", 221)
        return reply

    @staticmethod
    def body_of(delivered):
        """The delivered message without our Received: and X-Virus-Scanned: headers."""
        lines = delivered.split(b"\n")
        i = 1
        while lines[i].startswith(b"\t"):
            i += 1
        while lines[i].startswith(b"X-Virus-Scanned:") or lines[i].startswith(b"X-MailProxy-Alert:"):
            i += 1
        return b"\n".join(lines[i:])

    def test_every_clamav_test_file_sent_with_swaks_is_found_and_wrapped(self):
        samples = sorted(os.listdir(CLAM_DIR))
        for name in samples:
            with open(os.path.join(CLAM_DIR, name), "rb") as f:
                original = message(subject=name, attachments=[(name, f.read(), "application/octet-stream")])
            path = os.path.join(self.tmp, "sample.eml")
            with open(path, "wb") as f:
                f.write(original)
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.srv.port}", "--to", "u@medium.example",
                                "--from", "alice@sender.example", "--helo", "client.test", "--data", path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, (name, r.stdout[-500:]))
        got = self.delivered("medium.example")
        self.assertEqual(len(got), len(samples))
        for data in got:
            m = email.message_from_bytes(self.body_of(data), policy=policy.default)
            self.assertEqual(m.get_content_type(), "multipart/mixed")
            warning, attached = m.iter_parts()
            self.assertEqual(warning.get_content().strip(), "WARNING: contains virus Test.ClamExe.HDB.UNOFFICIAL")
            self.assertEqual(attached.get_content_type(), "message/rfc822")
            inner = attached.get_content()
            name = inner["Subject"]
            with open(os.path.join(CLAM_DIR, name), "rb") as f:
                sample = f.read()
            # the original is intact: its attachment decodes to the sample, byte for byte
            [part] = [p for p in inner.iter_attachments()]
            self.assertEqual(part.get_content(), sample, name)
            self.assertEqual(m["Subject"], name)  # the new message keeps the original's Subject
        self.assertEqual(self.srv.wait_count("verdict=virus action=delivered-wrapped", len(samples)), len(samples),
                         self.srv.log())

    def test_high_quarantines_with_file_and_index_row(self):
        original = message(subject="a virus", attachments=[("clam.exe", clam_exe(), "application/octet-stream")])
        code, text = self.send("u@high.example", original)
        self.assertEqual(code, 250, text)
        self.assertIn("quarantined as ", text)
        qid = text.split("quarantined as ", 1)[1].split(":", 1)[0]
        self.assertEqual(self.delivered("high.example"), [])
        db = sqlite3.connect(os.path.join(self.srv.state, "quarantine.db"))
        row = db.execute("SELECT entry, admin, sender, recipients, subject, reason, size, file FROM messages "
                         "WHERE id = ?", (qid,)).fetchone()
        self.assertIsNotNone(row)
        entry, admin, sender, recipients, subject, reason, size, path = row
        self.assertEqual((entry, admin, sender, recipients, subject),
                         ("high.example", "digest@high.example", "alice@sender.example", "u@high.example", "a virus"))
        self.assertEqual(reason, "virus Test.ClamExe.HDB.UNOFFICIAL")
        with open(path, "rb") as f:
            kept = f.read()
        self.assertEqual(len(kept), size)
        self.assertTrue(kept.startswith(b"Received: from "))
        self.assertTrue(kept.endswith(original.replace(b"\n", b"\r\n")))
        self.assertTrue(self.srv.wait_log("verdict=virus action=quarantined"), self.srv.log())
        # the subject behind 100 KiB of other header lines still reaches the index
        padding = b"".join(b"X-Pad-%d: %s\n" % (i, b"p" * 900) for i in range(110))
        padded = original.replace(b"Subject: a virus", padding + b"Subject: a padded virus")
        code, text = self.send("u@high.example", padded)
        self.assertEqual(code, 250, text)
        qid = text.split("quarantined as ", 1)[1].split(":", 1)[0]
        self.assertEqual(db.execute("SELECT subject FROM messages WHERE id = ?", (qid,)).fetchone()[0],
                         "a padded virus")

    def test_discard_rejects_with_554_and_delivers_nothing(self):
        code, text = self.send("u@discard.example", message(body=EICAR.decode() + "\n"))
        self.assertEqual(code, 554)
        self.assertIn("5.7.1 rejected: virus Test.EICAR.NDB", text)
        code, text = self.send("u@discard.example", message(attachments=[("run.js", b"x", "text/plain")]))
        self.assertEqual(code, 554)
        self.assertIn("rejected: banned: extension .js", text)
        self.assertEqual(self.delivered("discard.example"), [])
        self.assertTrue(self.srv.wait_log("verdict=virus action=rejected"), self.srv.log())

    def test_banned_under_medium_is_wrapped_with_the_parts_named(self):
        original = message(attachments=[("invoice.pdf.exe", b"MZ", "application/octet-stream")])
        self.assertEqual(self.send("u@medium.example", original)[0], 250)
        [data] = self.delivered("medium.example")
        m = email.message_from_bytes(self.body_of(data), policy=policy.default)
        warning, attached = m.iter_parts()
        text = warning.get_content()
        self.assertIn("WARNING: banning rules detected suspect part(s)", text)
        self.assertIn("double extension .pdf.exe (1.2 invoice.pdf.exe)", text)
        self.assertEqual(attached.get_content().as_bytes(policy=policy.compat32).replace(b"\r\n", b"\n").rstrip(),
                         original.rstrip())

    def test_spool_files_used_again_hold_only_the_new_message(self):
        # serve writes a spool file of a finished message over instead of emptying it: a shorter message
        # after a longer one, received or wrapped, must come out without a byte of the earlier one
        stale = "STALE " * 12 + "\n"
        big = message(body=stale * 4000, attachments=[("invoice.pdf.exe", b"MZ" + stale.encode() * 2000,
                                                        "application/octet-stream")])
        small = message(attachments=[("invoice.pdf.exe", b"MZ", "application/octet-stream")])
        self.assertTrue(400_000 < len(big) < 1 << 20)  # above 1 MiB a file is emptied instead
        for to, data in (("u@medium.example", big), ("u@medium.example", small), ("u@off.example", big),
                         ("u@off.example", small)):
            self.assertEqual(self.send(to, data)[0], 250)
        wrapped_big, wrapped_small = self.delivered("medium.example")
        self.assertIn(b"STALE", wrapped_big)
        self.assertNotIn(b"STALE", wrapped_small)
        m = email.message_from_bytes(self.body_of(wrapped_small), policy=policy.default)
        _, attached = m.iter_parts()
        self.assertEqual(attached.get_content().as_bytes(policy=policy.compat32).replace(b"\r\n", b"\n").rstrip(),
                         small.rstrip())
        off_big, off_small = self.delivered("off.example")
        self.assertEqual(self.body_of(off_big), big)
        self.assertEqual(self.body_of(off_small), small)

    def test_bad_header_accept_adds_an_alert_and_off_delivers_unchanged(self):
        bad = message().replace(b"Subject: test\n", b"Subject: test\nSubject: again\n")
        self.assertEqual(self.send("u@header.example", bad)[0], 250)
        [data] = self.delivered("header.example")
        self.assertIn(b"\nX-MailProxy-Alert: BAD HEADER, bad-header: duplicate header Subject", data)
        self.assertEqual(self.body_of(data), bad)
        # OFF: no check runs, nothing is added but Received:
        virus = message(body=EICAR.decode() + "\n")
        self.assertEqual(self.send("u@off.example", virus)[0], 250)
        [data] = self.delivered("off.example")
        self.assertNotIn(b"X-Virus-Scanned", data)
        lines = data.split(b"\n")
        self.assertTrue(lines[0].startswith(b"Received: from "))
        self.assertIn(virus, data)
        # a clean message under MEDIUM: scanned, and otherwise as sent
        clean = message()
        self.assertEqual(self.send("u@medium.example", clean)[0], 250)
        [data] = self.delivered("medium.example")
        self.assertIn(b"\nX-Virus-Scanned: ClamAV 1.4", data)
        self.assertEqual(self.body_of(data), clean)


class ServeFilterClamdTest(ServeFilterTest):
    """Every test above, with a real clamd (started here) scanning instead of libclamav in serve."""

    def scanner_args(self):
        self.clamd = Clamd(os.path.join(self.tmp, "clamd"))
        return ["--clamd", self.clamd.socket]

    def tearDown(self):
        super().tearDown()
        self.clamd.stop()


class ClamdFailureTest(MailproxyTest):
    """clamd over TCP, its StreamMaxLength, a clamd that stops answering, one that is gone."""

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.tmp, "maildir")
        self.run_mp("entry", "create", "medium.example", "--target", "maildir:" + self.maildir, "--admin", "digest@medium.example", "--protection",
                    "MEDIUM", expect=0)
        self.clamd = Clamd(os.path.join(self.tmp, "clamd"), tcp_port=free_port(), stream_max="1M")
        self.serves = []

    def tearDown(self):
        for s in self.serves:
            if s.proc.poll() is None:
                s.stop()
        self.clamd.proc.send_signal(signal.SIGCONT)
        self.clamd.stop()
        super().tearDown()

    def serve(self, *args):
        srv = Serve(self, "--clamd", f"127.0.0.1:{self.clamd.port}", "--clamd-timeout", "2", *args)
        self.serves.append(srv)
        return srv

    def send(self, srv, data):
        c = Client(srv.port).greet()
        c.cmd("MAIL FROM:<alice@sender.example>", 250)
        c.cmd("RCPT TO:<u@medium.example>", 250)
        c.cmd("DATA", 354)
        c.send(data.replace(b"\n", b"\r\n") + b".\r\n")
        reply = c.reply()
        c.cmd("QUIT", 221)
        return reply

    def delivered(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.maildir, "new", "*"))):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def test_tcp_finds_the_virus_and_over_stream_max_length_is_a_scanner_failure(self):
        srv = self.serve()
        self.assertIn("clamd ClamAV 1.4", srv.log())
        code, text = self.send(srv, message(body=EICAR.decode() + "\n"))
        self.assertEqual(code, 250, text)
        [data] = self.delivered()
        self.assertIn(b"WARNING: contains virus Test.EICAR.NDB.UNOFFICIAL", data)
        # 2 MB against clamd's 1M: clamd refuses the stream; 451 by default, and the log says why
        big = message(body="x" * 76 + "\n" * 1 + ("y" * 76 + "\n") * 27000)
        code, text = self.send(srv, big)
        self.assertEqual(code, 451, text)
        self.assertTrue(srv.wait_log("larger than its StreamMaxLength"), srv.log())
        self.assertEqual(len(self.delivered()), 1)
        srv.stop()
        # --scanner-failure pass: delivered, marked unscanned
        srv = self.serve("--scanner-failure", "pass")
        code, text = self.send(srv, big)
        self.assertEqual(code, 250, text)
        data = self.delivered()[-1]
        self.assertIn(b"\nX-Virus-Scanned: no, the scanner failed", data)
        self.assertTrue(data.endswith(big))  # the maildir keeps LF line ends

    def test_a_clamd_that_stops_answering_times_out_and_one_that_is_gone_tempfails(self):
        srv = self.serve()
        self.clamd.proc.send_signal(signal.SIGSTOP)  # the kernel still accepts: nobody answers
        started = time.monotonic()
        code, text = self.send(srv, message())
        self.assertEqual(code, 451, text)
        self.assertIn("4.3.0", text)
        self.assertLess(time.monotonic() - started, 10)
        self.assertTrue(srv.wait_log("timed out"), srv.log())
        self.clamd.proc.send_signal(signal.SIGCONT)
        self.clamd.stop()
        code, text = self.send(srv, message())
        self.assertEqual(code, 451, text)
        self.assertTrue(srv.wait_log("cannot be reached: Connection refused"), srv.log())
        self.assertEqual(self.delivered(), [])

    def test_serve_does_not_start_without_its_clamd(self):
        self.clamd.stop()
        r = self.run_mp("--store", self.store, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        os.path.join(self.tmp, "state"), "--clamd", f"127.0.0.1:{self.clamd.port}")
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("clamd at 127.0.0.1:", r.err)
        self.assertIn("cannot be reached", r.err)
        r = self.run_mp("--store", self.store, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        os.path.join(self.tmp, "state"), "--clamd", "clamd.sock")
        self.assertEqual(r.code, 2, r.err)
        self.assertIn("clamd: clamd.sock is not a unix socket path (absolute) or IP:PORT", r.err)


class SignatureReloadTest(MailproxyTest):
    """SIGHUP loads the signatures again off the event loop; a database that does not load leaves the
    running engine in place."""

    def test_sighup_picks_up_new_signatures_and_keeps_the_old_on_failure(self):
        maildir = os.path.join(self.tmp, "maildir")
        self.run_mp("entry", "create", "medium.example", "--target", "maildir:" + maildir, "--admin", "digest@medium.example", "--protection",
                    "MEDIUM", expect=0)
        made = write_signatures(os.path.join(self.tmp, "made"))
        db = os.path.join(self.tmp, "db")
        os.makedirs(db)
        shutil.copy(os.path.join(made, "test.hdb"), db)  # clam.exe only: EICAR is not known yet
        srv = Serve(self, "--clamav-db", db)
        try:
            def send():
                c = Client(srv.port).greet()
                c.cmd("MAIL FROM:<alice@sender.example>", 250)
                c.cmd("RCPT TO:<u@medium.example>", 250)
                c.cmd("DATA", 354)
                c.send(message(body=EICAR.decode() + "\n").replace(b"\n", b"\r\n") + b".\r\n")
                code, _ = c.reply()
                c.cmd("QUIT", 221)
                self.assertEqual(code, 250)
                return sorted(glob.glob(os.path.join(maildir, "new", "*")))[-1]

            def wrapped(path):
                with open(path, "rb") as f:
                    return b"WARNING: contains virus Test.EICAR.NDB" in f.read()

            self.assertFalse(wrapped(send()))
            shutil.copy(os.path.join(made, "test.ndb"), db)
            srv.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log('2 signatures" result=ok'), srv.log())
            self.assertTrue(wrapped(send()))
            with open(os.path.join(db, "broken.ndb"), "w") as f:
                f.write("this is not a signature\n")
            srv.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log("the running configuration and virus scanner stay"), srv.log())
            self.assertIn("cannot be loaded: Malformed database", srv.log())
            self.assertTrue(wrapped(send()))  # the old engine still scans
        finally:
            srv.stop()


class ScanTemporaryFilesTest(MailproxyTest):
    """libclamav's temporary files (what it extracts from a message while it scans it) go to the state
    directory's tmp/, not to a shared $TMPDIR, also after SIGHUP; what a scan killed with serve left there
    is removed at the next start; a symbolic link in place of tmp/ is refused."""

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.tmp, "maildir")
        self.run_mp("entry", "create", "medium.example", "--target", "maildir:" + self.maildir, "--admin",
                    "digest@medium.example", "--protection", "MEDIUM", expect=0)
        self.shared = os.path.join(self.tmp, "shared-tmp")
        os.makedirs(self.shared)
        self.env = dict(self.env, TMPDIR=self.shared)
        self.scan_tmp = os.path.join(self.tmp, "state", "tmp")
        # 200 base64 parts of 60 kB: libclamav decodes each into a file, which takes a while
        self.big = message(attachments=[(f"part{i}.bin", os.urandom(60000), "application/octet-stream")
                                        for i in range(200)]).replace(b"\n", b"\r\n") + b".\r\n"

    def send_big_and_see_the_scan_in_tmp(self, srv):
        """Sends the big message; returns the client once libclamav's directory is in tmp/."""
        c = Client(srv.port).start(rcpt="u@medium.example")
        c.send(self.big)
        deadline = time.time() + 20
        while not os.listdir(self.scan_tmp) and time.time() < deadline:
            time.sleep(0.005)
        self.assertNotEqual(os.listdir(self.scan_tmp), [], "libclamav wrote nothing to the state directory's tmp/")
        return c

    def test_what_a_killed_scan_left_is_in_the_state_directory_and_removed_at_start(self):
        srv = Serve(self)
        try:
            self.assertEqual(os.listdir(self.scan_tmp), [])
            self.assertEqual(os.stat(self.scan_tmp).st_mode & 0o777, 0o700)
            c = self.send_big_and_see_the_scan_in_tmp(srv)
        finally:
            srv.stop(signal.SIGKILL)
        self.assertEqual(c.reply()[0], None)  # closed, never a 250
        self.assertEqual(glob.glob(os.path.join(self.maildir, "new", "*")), [])
        left = os.listdir(self.scan_tmp)
        self.assertEqual(len(left), 1, left)  # the scan's directory, with what it had extracted
        self.assertNotEqual(glob.glob(os.path.join(self.scan_tmp, "*", "**"), recursive=True), [])
        self.assertEqual(os.listdir(self.shared), [])  # nothing in the shared temporary directory
        again = Serve(self)
        try:
            self.assertTrue(again.wait_log("event=tmp_cleaned files=1"), again.log())
            self.assertEqual(os.listdir(self.scan_tmp), [])
            # the engine SIGHUP loads scans there too
            again.send_signal(signal.SIGHUP)
            self.assertTrue(again.wait_log("result=ok"), again.log())
            c = self.send_big_and_see_the_scan_in_tmp(again)
            self.assertEqual(c.reply()[0], 250)
            c.cmd("QUIT", 221)
            self.assertEqual(len(glob.glob(os.path.join(self.maildir, "new", "*"))), 1)
            self.assertEqual(os.listdir(self.scan_tmp), [])  # removed when the scan ended
            self.assertEqual(os.listdir(self.shared), [])
        finally:
            again.stop()

    def test_a_symbolic_link_in_place_of_tmp_is_refused_and_its_target_left_alone(self):
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        with open(os.path.join(elsewhere, "keep"), "w") as f:
            f.write("not serve's")
        os.makedirs(os.path.dirname(self.scan_tmp))
        os.symlink(elsewhere, self.scan_tmp)
        r = self.run_mp("--store", self.store, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        os.path.dirname(self.scan_tmp), "--clamav-db",
                        write_signatures(os.path.join(self.tmp, "clamav-db")))
        self.assertEqual(r.code, 1, r.err)
        self.assertIn(f"cannot use {self.scan_tmp}: it is a symbolic link or not a directory", r.err)
        self.assertEqual(os.listdir(elsewhere), ["keep"])
        self.assertEqual(os.stat(elsewhere).st_mode & 0o777, 0o755)
