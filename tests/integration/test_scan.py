"""`mailproxy scan`: libclamav with signatures made at run time (every sample of clamav-testfiles), banned
files through the MIME tree and archives, the header checks, the actions per level, output and exit codes."""
import gzip
import json
import os
import resource
import subprocess
import time
import zipfile

from filter_samples import (CLAM_DIR, EICAR, MINIMAL_PDF, Clamd, PNG_1X1, clam_exe, docx, message, write_signatures,
                            zip_of)
from harness import BIN, MailproxyTest

VIRUS, BANNED, BAD_HEADER = 10, 11, 12


class ScanTest(MailproxyTest):
    def setUp(self):
        super().setUp()
        self.db = write_signatures(os.path.join(self.tmp, "db"))

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def scan(self, *args, expect=None):
        return self.run_mp("scan", "--clamav-db", self.db, *args, expect=expect)

    # -- virus -------------------------------------------------------------------------------------------
    def test_every_clamav_test_file_attached_to_a_mail_is_found(self):
        samples = sorted(os.listdir(CLAM_DIR))
        self.assertGreater(len(samples), 30)
        paths = []
        for name in samples:
            with open(os.path.join(CLAM_DIR, name), "rb") as f:
                data = f.read()
            paths.append(self.file(name + ".eml", message(attachments=[(name, data, "application/octet-stream")])))
        r = self.scan("--json", "--protection", "HIGH", *paths)
        results = r.json()
        missed = [x["file"] for x in results if x["verdict"] != "virus"]
        self.assertEqual(missed, [], r)
        self.assertTrue(all(x["action"] == "quarantine" for x in results))
        self.assertEqual(r.code, VIRUS)

    def test_a_real_clamd_finds_the_same_and_its_failures_are_errors(self):
        clamd = Clamd(os.path.join(self.tmp, "clamd"), stream_max="3M")
        try:
            paths = []
            for name in sorted(os.listdir(CLAM_DIR)):
                with open(os.path.join(CLAM_DIR, name), "rb") as f:
                    data = f.read()
                paths.append(self.file(name + ".eml", message(attachments=[(name, data, "application/octet-stream")])))
            r = self.run_mp("--json", "scan", "--clamd", clamd.socket, *paths, expect=VIRUS)
            self.assertEqual([x["file"] for x in r.json() if x["verdict"] != "virus"], [], r)
            clean = self.file("c.eml", message())
            r = self.run_mp("scan", "--clamd", clamd.socket, clean, expect=0)
            self.assertEqual(r.out, f"{clean}: clean\n")
            # over clamd's StreamMaxLength: the file could not be scanned, and the output says why
            big = self.file("big.eml", message(body=("y" * 76 + "\n") * 50000))
            r = self.run_mp("scan", "--clamd", clamd.socket, big, expect=1)
            self.assertIn("larger than its StreamMaxLength (INSTREAM size limit exceeded. ERROR)", r.out)
            self.assertIn(f"{big}: error", r.out)
            r = self.run_mp("scan", "--clamd", clamd.socket, "--scanner-failure", "pass", "--protection", "MEDIUM",
                            big, expect=1)
            self.assertIn("action deliver", r.out)
        finally:
            clamd.stop()
        # bad addresses and a clamd that is gone: nothing is scanned
        r = self.run_mp("scan", "--clamd", "clamd.ctl", clean, expect=2)
        self.assertIn("clamd: clamd.ctl is not a unix socket path (absolute) or IP:PORT", r.err)
        r = self.run_mp("scan", "--clamd", "localhost:3310", clean, expect=2)
        self.assertIn("is not a unix socket path", r.err)
        r = self.run_mp("scan", "--clamd", clamd.socket, clean, expect=1)
        self.assertIn(f"clamd at {clamd.socket} cannot be reached", r.err)
        self.assertEqual(r.out, "")
        r = self.run_mp("scan", "--clamd", clamd.socket, "--clamav-db", self.db, clean, expect=2)
        self.assertIn("excludes", r.err)
        r = self.run_mp("scan", "--clamd", clamd.socket, "--clamd-timeout", "0", clean, expect=2)
        self.assertIn("clamd-timeout: 0 is not 1 to 3600 seconds", r.err)

    def test_broken_peers_are_scanner_failures_not_passes(self):
        """A clamd that answers VERSION, then nothing (an empty reply), one that answers nothing at all, and an
        HTTP server whose status line is cut short, standing in for rspamd: each is an error for the file,
        never a clean verdict or a crash."""
        import socket
        import threading

        def peer(sock, answer, size=16):
            """Answers each connection's first read with answer(request), then closes it, until sock closes."""
            def loop():
                while True:
                    try:
                        c, _ = sock.accept()
                    except OSError:
                        return
                    with c:
                        c.sendall(answer(c.recv(size)))
            threading.Thread(target=loop, daemon=True).start()
            return sock

        def unix(name):
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.join(self.tmp, name))
            s.listen(8)
            return s

        web = socket.socket()
        web.bind(("127.0.0.1", 0))
        web.listen(8)
        broken = peer(unix("broken.sock"),
                      lambda req: b"ClamAV 1.4.6/1/x\0" if req.startswith(b"zVERSION") else b"\0")
        mute = peer(unix("mute.sock"), lambda req: b"\0")  # answers VERSION with nothing
        peer(web, lambda req: b"HTTP/1.1\r\n\r\n", size=65536)
        clean = self.file("c.eml", message())
        try:
            path = broken.getsockname()
            r = self.run_mp("scan", "--clamd", path, clean, expect=1)
            self.assertIn(f"{clean}: error", r.out)
            self.assertIn(f"clamd at {path} gave no reply", r.out)
            path = mute.getsockname()
            r = self.run_mp("scan", "--clamd", path, clean, expect=1)
            self.assertIn(f"clamd at {path} gave no reply", r.err)
            r = self.run_mp("scan", "--clamav-db", self.db, "--spam-engine",
                            f"rspamd:http://127.0.0.1:{web.getsockname()[1]}", clean, expect=1)
            self.assertIn("error: rspamd at http://127.0.0.1:", r.out)
            self.assertIn("HTTP/1.1", r.out)
        finally:
            for s in (broken, mute, web):
                s.close()

    def test_eicar_in_the_body_and_clean_mail(self):
        eicar = self.file("eicar.eml", message(body=EICAR.decode() + "\n"))
        clean = self.file("clean.eml", message())
        r = self.scan(eicar, expect=VIRUS)
        self.assertIn("eicar.eml: virus (Test.EICAR.NDB", r.out)
        r = self.scan(clean, expect=0)
        self.assertIn("clean.eml: clean", r.out)

    def test_actions_per_level(self):
        virus = self.file("v.eml", message(attachments=[("clam.exe", clam_exe(), "application/octet-stream")]))
        expected = {"HIGH": ("quarantine", VIRUS), "MEDIUM": ("deliver-wrapped", VIRUS),
                    "LOW": ("deliver-wrapped", VIRUS), "OFF": ("deliver", 0)}
        for level, (action, code) in expected.items():
            r = self.scan("--json", "--protection", level, virus, expect=code)
            [result] = r.json()
            self.assertEqual(result["action"], action, level)
        # OFF runs no check at all, so it needs no signatures either
        r = self.run_mp("scan", "--clamav-db", "/nonexistent", "--protection", "OFF", virus, expect=0)

    def test_an_entry_decides(self):
        self.run_mp("entry", "create", "example.com", "--target", "mx.example.net", "--admin", "pm@example.com",
                    "--protection", "CUSTOM", "--virus", "DISCARD", "--banned-files", "DISABLED", expect=0)
        banned_and_virus = self.file("m.eml", message(attachments=[("run.exe", clam_exe(), "application/x-msdownload")]))
        r = self.scan("--json", "--entry", "EXAMPLE.com", banned_and_virus, expect=VIRUS)
        [result] = r.json()
        self.assertEqual(result["action"], "discard")
        self.assertEqual({f["category"] for f in result["findings"]}, {"virus"})  # banned files: not run
        r = self.scan("--entry", "unknown.example", banned_and_virus, expect=4)
        self.assertIn("unknown.example", r.err)

    # -- banned files -----------------------------------------------------------------------------------
    def test_banned_files(self):
        exe = clam_exe()
        forwarded = message(subject="inner", attachments=[("docs.zip", zip_of(("report.pdf", MINIMAL_PDF),
                                                                              ("setup.bin", exe)),
                                                             "application/zip")])
        cases = {
            "double extension": [("invoice.pdf.exe", b"MZ not really", "application/octet-stream")],
            "application/hta": [("page.html", b"<html></html>", "application/hta")],
            "js": [("run.js", b"alert(1)", "application/javascript")],
            "scr": [("screen.scr", b"x", "application/octet-stream")],
            "renamed exe": [("notes.txt", exe, "text/plain")],
            "exe in zip in a forwarded message": [("fwd.eml", forwarded, "message/rfc822")],
            "exe in a gzip file": [("invoice.gz", gzip.compress(exe), "application/gzip")],
        }
        expect_what = {
            "double extension": "double extension .pdf.exe",
            "application/hta": "MIME type application/hta",
            "js": "extension .js",
            "scr": "extension .scr",
            "renamed exe": "content type exe-ms",
            "exe in zip in a forwarded message": "content type exe-ms",
            "exe in a gzip file": "content type exe-ms",
        }
        for label, attachments in cases.items():
            path = self.file("b.eml", message(attachments=attachments))
            r = self.run_mp("scan", "--json", "--protection", "OFF", path)  # OFF: the verdict without checks
            self.assertEqual(r.code, 0, r)
            r = self.run_mp("--json", "scan", "--clamav-db", self.db, path)
            [result] = r.json()
            banned = [f for f in result["findings"] if f["category"] == "banned"]
            self.assertTrue(any(f["what"] == expect_what[label] for f in banned), (label, result))
            if label not in ("renamed exe", "exe in zip in a forwarded message", "exe in a gzip file"):
                self.assertEqual(result["verdict"], "banned", (label, result))
        # the nested finding names its place: forwarded message, zip, member
        path = self.file("n.eml", message(attachments=cases["exe in zip in a forwarded message"]))
        r = self.run_mp("--json", "scan", "--clamav-db", self.db, path)
        [result] = r.json()
        where = [f["where"] for f in result["findings"] if f["what"] == "content type exe-ms"]
        self.assertEqual(where, ["1.2.1.2 docs.zip/setup.bin"], result)
        # message/partial
        partial = (b"From: a@sender.example\nTo: b@example.com\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n"
                   b"Subject: part\nMIME-Version: 1.0\nContent-Type: message/partial; id=\"x@y\"; number=1; total=2\n\n"
                   b"From: a@sender.example\n")
        r = self.scan("--protection", "MEDIUM", self.file("p.eml", partial), expect=BANNED)
        self.assertIn("MIME type message/partial", r.out)
        self.assertIn("action deliver-wrapped", r.out)

    def test_clean_attachments_pass(self):
        attachments = [("paper.pdf", MINIMAL_PDF, "application/pdf"),
                       ("letter.docx", docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                       ("pixel.png", PNG_1X1, "image/png"),
                       ("papers.zip", zip_of(("a.pdf", MINIMAL_PDF), ("b.pdf", MINIMAL_PDF)), "application/zip"),
                       ("log.gz", gzip.compress(b"a log line\n" * 100), "application/gzip")]
        path = self.file("clean.eml", message(attachments=attachments))
        r = self.scan("--json", path, expect=0)
        [result] = r.json()
        self.assertEqual(result["findings"], [])

    # -- headers ----------------------------------------------------------------------------------------
    def test_each_header_check(self):
        good = (b"From: a@sender.example\r\nTo: b@example.com\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
                b"Subject: fine\r\n\tfolded fine\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n")
        r = self.run_mp("--json", "scan", "--clamav-db", self.db, self.file("good.eml", good), expect=0)
        self.assertEqual(r.json()[0]["findings"], [])
        bad = {
            "8-bit": (b"Subject: fine\r\n", b"Subject: gr\xc3\xbc\xc3\x9fe\r\n", "unencoded 8-bit character"),
            "NUL": (b"Subject: fine\r\n", b"Subject: a\x00b\r\n", "NUL in a header"),
            "CR": (b"Subject: fine\r\n", b"Subject: a\rb\r\n", "CR in a header"),
            "blank fold": (b"\tfolded fine\r\n", b"\t \r\n", "folded header line made only of whitespace"),
            "long": (b"Subject: fine\r\n", b"Subject: " + b"x" * 1000 + b"\r\n", "header line longer than 998"),
            "syntax": (b"Message-ID: <x@y>\r\n", b"Message-ID <x@y>\r\n", "header syntax error"),
            "missing": (b"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n", b"", "missing Date header"),
            "duplicate": (b"Subject: fine\r\n", b"Subject: fine\r\nSubject: again\r\n", "duplicate header Subject"),
        }
        for label, (old, new, what) in bad.items():
            data = good.replace(old, new, 1)
            self.assertNotEqual(data, good, label)
            r = self.run_mp("--json", "scan", "--clamav-db", self.db, self.file("h.eml", data))
            [result] = r.json()
            self.assertEqual(r.code, BAD_HEADER, (label, result))
            self.assertTrue(any(f["category"] == "bad-header" and f["what"].startswith(what)
                                for f in result["findings"]), (label, result))
        # CVE-2024-28054: a boundary given twice
        ambiguous = (b"From: a@sender.example\nTo: b@example.com\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n"
                     b"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"AAA\"; boundary=\"BBB\"\n\n"
                     b"--AAA\nContent-Type: text/plain\n\nhello\n--AAA--\n--BBB\nContent-Type: text/plain\n\nhi\n--BBB--\n")
        r = self.run_mp("--json", "scan", "--clamav-db", self.db, self.file("amb.eml", ambiguous), expect=BAD_HEADER)
        self.assertTrue(any("CVE-2024-28054" in f["what"] for f in r.json()[0]["findings"]), r)

    # -- bad input --------------------------------------------------------------------------------------
    def test_bad_input(self):
        clean = self.file("c.eml", message())
        r = self.scan(clean, os.path.join(self.tmp, "missing.eml"), expect=1)
        self.assertIn("missing.eml: cannot be read", r.err)
        self.assertIn("c.eml: clean", r.out)
        r = self.run_mp("scan", "--clamav-db", os.path.join(self.tmp, "nothing"), clean, expect=2)
        self.assertIn("cannot be loaded", r.err)
        empty = os.path.join(self.tmp, "empty-db")
        os.makedirs(empty)
        r = self.run_mp("scan", "--clamav-db", empty, clean, expect=2)
        self.assertIn("empty-db cannot be loaded", r.err)
        r = self.run_mp("scan", "--entry", "a.example", "--protection", "HIGH", clean, expect=2)
        r = self.run_mp("scan", expect=2)
        # the most severe result decides the exit code: virus over banned over bad header over error
        virus = self.file("v.eml", message(body=EICAR.decode() + "\n"))
        js = self.file("j.eml", message(attachments=[("a.js", b"x", "text/plain")]))
        self.scan(js, virus, clean, expect=VIRUS)
        self.scan(clean, js, os.path.join(self.tmp, "missing.eml"), expect=BANNED)

    def test_jobs_give_the_same_output_in_the_same_order(self):
        # files scanned at once: every result printed in the order of the files, the exit code the worst
        # the first file takes far longer than the rest: printed in the order they finish, it would
        # come last with more than one job
        slow = message(attachments=[(f"part{k}.bin", os.urandom(600_000), "application/octet-stream")
                                    for k in range(8)])
        paths = [self.file("slow.eml", slow)]
        for i in range(40):
            kind = i % 5
            if kind == 0:
                paths.append(self.file(f"{i}.eml", message(body=EICAR.decode() + "\n")))
            elif kind == 1:
                paths.append(self.file(f"{i}.eml", message(attachments=[("a.js", b"x", "text/plain")])))
            elif kind == 2:
                paths.append(os.path.join(self.tmp, f"missing-{i}.eml"))
            elif kind == 3:
                paths.append(self.file(f"{i}.eml", b"X-Raw: caf\xc3\xa9\n" + message()))
            else:
                paths.append(self.file(f"{i}.eml", message(subject=f"clean {i}")))
        one = self.scan("--jobs", "1", *paths, expect=VIRUS)
        verdicts = [line.split(": ", 1)[1] for line in one.out.splitlines() if not line.startswith(" ")]
        self.assertEqual([v.split(" ")[0] for v in verdicts],
                         ["clean"] + ["virus", "banned", "bad-header", "clean"] * 8)
        self.assertTrue(one.out.startswith(paths[0] + ": clean\n"), one.out[:200])
        self.assertEqual(one.err.count("cannot be read"), 8)
        for jobs in ("2", "7"):
            many = self.scan("--jobs", jobs, *paths, expect=VIRUS)
            self.assertEqual(many.out, one.out)
            self.assertEqual(many.err, one.err)
            self.assertEqual(self.scan("--json", "-j", jobs, *paths, expect=VIRUS).json(),
                             self.scan("--json", "-j", "1", *paths, expect=VIRUS).json())
        self.assertEqual(self.scan("--jobs", "3", *paths[2:4], expect=BANNED).code, BANNED)
        for bad in ("0", "257", "x"):
            r = self.run_mp("scan", "--jobs", bad, paths[4], expect=2)
            self.assertIn("--jobs", r.err)

    # -- hostile input ----------------------------------------------------------------------------------
    def test_hostile_messages_get_a_verdict_in_bounded_time_and_memory(self):
        head = (b"From: a@sender.example\nTo: b@example.com\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n"
                b"Subject: hostile\nMIME-Version: 1.0\n")
        cases = {}
        cases["truncated base64"] = (head + b"Content-Type: multipart/mixed; boundary=B\n\n--B\n"
                                     b"Content-Type: application/octet-stream; name=a.bin\n"
                                     b"Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAAAA")
        cases["missing closing boundary"] = (head + b"Content-Type: multipart/mixed; boundary=B\n\n--B\n"
                                             b"Content-Type: text/plain\n\nhello\n")
        nested = b""
        for i in range(500):
            nested += b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i)
        nested += b"Content-Type: text/plain\n\ndeep\n"
        for i in reversed(range(500)):
            nested += b"--b%d--\n" % i
        cases["500 levels"] = head + nested
        parts = b"".join(b"--B\nContent-Type: text/plain; name=p%d.txt\n\npart %d\n" % (i, i) for i in range(10000))
        cases["10,000 parts"] = head + b"Content-Type: multipart/mixed; boundary=B\n\n" + parts + b"--B--\n"
        import io
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(3):
                z.writestr(f"zeros{i}.bin", b"\0" * (120 << 20))
        cases["archive bomb"] = message(attachments=[("bomb.zip", bomb.getvalue(), "application/zip")])
        big = b"Subject: big\n".join([head, b""]) + b"Content-Type: text/plain\n\n" + (b"0123456789" * 7 + b"\n") * (100_000_000 // 71)
        cases["100 MB"] = big
        expected = {"truncated base64": None, "missing closing boundary": "MIME error",
                    "500 levels": "not all parts were checked (nested more than 30 levels)",
                    "10,000 parts": "not all parts were checked (more than 2000 parts)",
                    "archive bomb": "archive not fully checked (expands too much)", "100 MB": None}
        for label, data in cases.items():
            path = self.file("hostile.eml", data)
            started = time.time()
            p = subprocess.run([BIN, "--json", "scan", "--clamav-db", self.db, path], env=self.env,
                               capture_output=True, timeout=120)
            seconds = time.time() - started
            self.assertIn(p.returncode, (0, BANNED, BAD_HEADER), (label, p.stdout, p.stderr))
            [result] = json.loads(p.stdout)
            self.assertIn(result["verdict"], ("clean", "banned", "bad-header"), label)
            self.assertLess(seconds, 60, label)
            # the largest resident size of any child so far (Linux: KiB)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            self.assertLess(peak, 600 << 10, label)
            if expected[label]:
                self.assertTrue(any(f["what"].startswith(expected[label]) for f in result["findings"]),
                                (label, result))
