"""Starts `mailproxy serve` and postfix's smtp-sink on 127.0.0.1 for the serve tests, and a small raw SMTP
client for what swaks cannot send (pipelining tricks, bare line ends, dropped connections)."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from filter_samples import write_signatures
from harness import BIN


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Sink:
    """smtp-sink dumping each message to its own file; `options` make it misbehave (-r, -f, -q, -Q, -w)."""

    def __init__(self, tmp, *options, lmtp=False, unix=False):
        self.port = free_port()
        self.dir = os.path.join(tmp, f"sink-{self.port}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)
        sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        args = [sink, "-u", "nobody", "-d", os.path.join(self.dir, "%M%S."), *options]
        if lmtp:
            args.append("-L")
        self.socket = os.path.join(self.dir, "lmtp.sock") if unix else None
        where = f"unix:{self.socket}" if unix else f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(args + [where, "100"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if unix:
            deadline = time.time() + 10
            while not os.path.exists(self.socket) and time.time() < deadline:
                time.sleep(0.05)
        else:
            wait_port(self.port)

    def target(self):
        return f"[127.0.0.1]:{self.port}"

    def messages(self, wait=0.0):
        """The dumped messages: the message as received (smtp-sink's own header lines removed)."""
        deadline = time.time() + wait
        while True:
            names = sorted(n for n in os.listdir(self.dir) if n != "lmtp.sock")
            if names or time.time() >= deadline:
                break
            time.sleep(0.05)
        out = []
        for name in names:
            with open(os.path.join(self.dir, name), "rb") as f:
                data = f.read()
            # X-Client-Addr ... X-Rcpt-Args, then smtp-sink's Received: (three lines)
            lines = data.split(b"\n")
            i = 0
            while i < len(lines) and lines[i].startswith(b"X-"):
                i += 1
            if i >= len(lines) or not lines[i].startswith(b"Received: from"):
                continue  # a transaction that ended before its data: no message
            i += 3
            out.append(b"\n".join(lines[i:]))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Serve:
    """`mailproxy serve` on a free port with short timeouts; stderr (the log) is collected."""

    def __init__(self, test, *args, config=None, env=None, listen=None, store=None):
        self.state = os.path.join(test.tmp, "state")
        cmd = [BIN]
        if config:
            cmd += ["--config", config]
        cmd += ["--store", store or test.store, "serve", "--listen", listen or "127.0.0.1:0", "--state-dir", self.state,
                "--hostname", "proxy.test", "--command-timeout", "5", "--data-timeout", "5", "--target-timeout", "5",
                "--connect-timeout", "2"]
        if "--clamav-db" not in args and "--clamd" not in args:  # signatures made at run time (the system has none)
            cmd += ["--clamav-db", write_signatures(os.path.join(test.tmp, "clamav-db"))]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env or test.env)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready "):
            self.proc.wait(timeout=10)
            self.reader.join(timeout=5)
            raise RuntimeError(f"serve did not start (exit {self.proc.returncode}): {ready}{self.log()}")
        self.addresses = ready.split()[1:]
        self.port = int(self.addresses[0].rsplit(":", 1)[1])

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def log(self):
        return "".join(self.lines)

    def wait_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def wait_count(self, text, n, timeout=10):
        """Waits until `text` is in the log n times (the log is read by a thread); the count."""
        deadline = time.time() + timeout
        while self.log().count(text) < n and time.time() < deadline:
            time.sleep(0.05)
        return self.log().count(text)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        self.proc.stdout.close()
        return code


class Client:
    """A raw SMTP client: send bytes, read whole replies."""

    def __init__(self, port, timeout=10, host="127.0.0.1", source=None):
        """`source`: the local address to connect from (any of 127/8 works on Linux's loopback)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """(code, text of all lines); (None, '') when the connection closed."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return (None, "\n".join(lines))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return (int(line[:3]), "\n".join(lines))

    def greet(self):
        """Reads the greeting and says EHLO; returns self."""
        code, text = self.reply()
        assert code == 220, text
        self.cmd("EHLO client.test", 250)
        return self

    def start(self, rcpt="bob@example.com", sender="a@sender.example"):
        """Greets, then MAIL, RCPT and DATA, each accepted: the data can be sent. Returns self."""
        self.greet()
        self.cmd(f"MAIL FROM:<{sender}>", 250)
        self.cmd(f"RCPT TO:<{rcpt}>", 250)
        self.cmd("DATA", 354)
        return self

    def cmd(self, line, expect=None):
        self.send(line + "\r\n")
        code, text = self.reply()
        if expect is not None and code != expect:
            raise AssertionError(f"{line!r}: expected {expect}, got {code} {text}")
        return code, text

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
