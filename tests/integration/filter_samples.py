"""Messages and signatures for the filter's tests (scan and serve), all made at run time: nothing here is
a virus; the signatures are written to a temp dir by the test that needs them."""
import base64
import hashlib
import io
import os
import zipfile
from email.message import EmailMessage

CLAM_DIR = "/usr/share/clamav-testfiles"
CLAM_EXE = os.path.join(CLAM_DIR, "clam.exe")
# the EICAR test string, kept reversed so that no file of this repository is itself a test virus
EICAR = "*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X"[::-1].encode()


def write_signatures(directory):
    """A .hdb line for clam.exe and an .ndb signature for EICAR, as libclamav and clamd read them."""
    with open(CLAM_EXE, "rb") as f:
        data = f.read()
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "test.hdb"), "w") as f:
        f.write(f"{hashlib.md5(data).hexdigest()}:{len(data)}:Test.ClamExe.HDB\n")
    with open(os.path.join(directory, "test.ndb"), "w") as f:
        f.write(f"Test.EICAR.NDB:0:*:{EICAR.hex()}\n")
    return directory


def message(subject="test", body="Hello,\nthis is a test.\n", attachments=(), headers=None):
    """A message with attachments (name, bytes, mime type), as LF-ended bytes."""
    m = EmailMessage()
    m["From"] = "Alice <alice@sender.example>"
    m["To"] = "bob@example.com"
    m["Subject"] = subject
    m["Date"] = "Sat, 28 Nov 2026 12:00:00 +0000"
    m["Message-ID"] = "<t1@sender.example>"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        if maintype == "message" and subtype == "rfc822":
            from email import message_from_bytes, policy
            m.add_attachment(message_from_bytes(data, policy=policy.default), filename=name)
        else:
            m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


def zip_of(*members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def clam_exe():
    with open(CLAM_EXE, "rb") as f:
        return f.read()


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
               b"trailer<</Root 1 0 R>>\n%%EOF\n")
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def docx():
    return zip_of(("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
                  ("word/document.xml", b'<?xml version="1.0"?><document/>'))


class Clamd:
    """A real clamd (clamav-daemon's) on a unix socket in `directory` and, with `tcp`, on 127.0.0.1 too,
    reading the signatures write_signatures() makes; StreamMaxLength as given."""

    def __init__(self, directory, tcp_port=None, stream_max="100M"):
        import socket
        import subprocess
        import time
        os.makedirs(directory, exist_ok=True)
        db = write_signatures(os.path.join(directory, "db"))
        self.socket = os.path.join(directory, "clamd.sock")
        self.port = tcp_port
        self.log = os.path.join(directory, "clamd.log")
        conf = os.path.join(directory, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"LocalSocket {self.socket}\nDatabaseDirectory {db}\nForeground yes\nLogFile {self.log}\n"
                    f"User root\nStreamMaxLength {stream_max}\nScanMail yes\nHeuristicAlerts yes\n"
                    f"SelfCheck 0\n"
                    # serve's libclamav limits (core/filter/virus.hpp ScanLimits), not clamd's defaults
                    f"MaxRecursion 20\nMaxScanSize 400M\nMaxFileSize 100M\nMaxFiles 10000\n")
            if tcp_port:
                f.write(f"TCPSocket {tcp_port}\nTCPAddr 127.0.0.1\n")
        self.proc = subprocess.Popen(["/usr/sbin/clamd", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(5)
                    s.connect(self.socket)
                    s.sendall(b"zPING\0")
                    if s.recv(16) == b"PONG\0":
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(self.log) as f:
            raise RuntimeError("clamd did not start: " + f.read()[-2000:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except Exception:
                self.proc.kill()
                self.proc.wait()
