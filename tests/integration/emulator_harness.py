"""Starts the AutoDNS emulator (tests/autodns/emulator.py) over HTTPS with a fresh self-signed
certificate, and talks to its control routes."""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request

from harness import SOURCE, MailproxyTest

EMULATOR = os.path.join(SOURCE, "tests", "autodns", "emulator.py")
USER = "reseller-7"
PASSWORD = "s3cr3t-Pa55word!"
CONTEXT = 4


class Emulator:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailproxy-emu-")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        env = dict(os.environ, EMULATOR_PASSWORD=PASSWORD)
        self.proc = subprocess.Popen([sys.executable, EMULATOR, "--cert", self.cert, "--key", self.key,
                                      "--user", USER, "--context", str(CONTEXT)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError("emulator did not start: " + line + self.proc.stderr.read())
        self.port = int(line.split()[1])
        self.url = f"https://127.0.0.1:{self.port}/v1"
        self.ssl = ssl.create_default_context(cafile=self.cert)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def control(self, route, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}/_emulator/{route}", data=data,
                                     method="POST" if payload is not None or route == "reset" else "GET")
        with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
            return json.loads(r.read())

    def reset(self):
        self.control("reset")

    def fault(self, match, kind, count=1, delay=None):
        f = {"match": match, "kind": kind, "count": count}
        if delay is not None:
            f["delay"] = delay
        self.control("fault", f)

    def seed(self, objects):
        self.control("seed", objects)

    def requests(self):
        return self.control("requests")

    def objects(self):
        return self.control("objects")

    def seed_zones(self, zones):
        self.control("seed-zones", zones)

    def zones(self):
        return self.control("zones")


class EmulatorTest(MailproxyTest):
    """One emulator per test class, reset for each test; a mode-600 config with its URL, credentials (a
    password file) and short time-outs, and mp() to run mailproxy with it."""
    emulator = None

    @classmethod
    def setUpClass(cls):
        cls.emulator = Emulator()

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def setUp(self):
        super().setUp()
        self.emulator.reset()
        self.pwfile = os.path.join(self.tmp, "autodns.pw")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)
        self.config = self.write_config()

    def write_config(self, url=None, extra="", ca=True, name="mailproxy.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("[autodns]\n")
            f.write(f'url = "{url or self.emulator.url}"\nuser = "{USER}"\npassword-file = "{self.pwfile}"\n')
            f.write(f"context = {CONTEXT}\nretry-delay = 0.2\nconnect-timeout = 2\ntimeout = 1.5\n")
            if ca:
                f.write(f'ca-file = "{self.emulator.cert}"\n')
            f.write(extra)
        os.chmod(path, 0o600)
        return path

    def mp(self, *args, expect=None, config=None, **kw):
        return self.run_mp("--config", config or self.config, *args, expect=expect, **kw)
