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
