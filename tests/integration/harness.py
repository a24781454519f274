"""Shared helpers for the integration tests: run the built binary in a temp store."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BIN = os.environ.get("MAILPROXY_BIN", "")
SOURCE = os.environ.get("MAILPROXY_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class MailproxyTest(unittest.TestCase):
    """Each test gets its own temp dir and store; MAILPROXY_STORE points there."""

    def setUp(self):
        if not BIN or not os.access(BIN, os.X_OK):
            self.fail("MAILPROXY_BIN does not name the built mailproxy binary")
        self.tmp = tempfile.mkdtemp(prefix="mailproxy-it-")
        os.chmod(self.tmp, 0o755)
        self.store = os.path.join(self.tmp, "entries")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROXY_")}
        self.env["MAILPROXY_STORE"] = self.store
        self.env["HOME"] = self.tmp

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_mp(self, *args, stdin=None, env=None, expect=None):
        proc = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True,
                              env=env if env is not None else self.env, timeout=60)
        r = Result(proc)
        if expect is not None:
            self.assertEqual(r.code, expect, r)
        return r

    def store_files(self):
        if not os.path.isdir(self.store):
            return {}
        out = {}
        for name in sorted(os.listdir(self.store)):
            path = os.path.join(self.store, name)
            if os.path.isfile(path) and name != ".lock":
                with open(path, "rb") as f:
                    out[name] = f.read()
        return out

    def create(self, *domains, extra=()):
        return self.run_mp("entry", "create", *domains, "--target", "mx.example.net",
                           "--admin", "postmaster@example.com", *extra, expect=0)
