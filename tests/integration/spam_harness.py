"""Real spam engines for the tests, on 127.0.0.1 and offline (local rules only): SpamAssassin's spamd and
rspamd, each in its own process group (so that a test can stop and continue every process of it)."""
import os
import signal
import socket
import subprocess
import time

from serve_harness import free_port

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def wait_answer(port, request, expect, proc, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(request)
                if expect in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


class Engine:
    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def pause(self):
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)


class Spamd(Engine):
    """spamd with the rules Debian ships, no network tests (-L), no user configuration."""

    def __init__(self, directory, children=2, unix=False):
        """`unix`: on a unix socket in `directory` instead of a TCP port."""
        os.makedirs(directory, exist_ok=True)
        self.port = None if unix else free_port()
        self.socket = os.path.join(directory, "spamd.sock") if unix else None
        self.spec = f"spamd:unix:{self.socket}" if unix else f"spamd:127.0.0.1:{self.port}"
        self.log = open(os.path.join(directory, "spamd.log"), "w")
        where = f"--socketpath={self.socket}" if unix else f"--listen=127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["/usr/sbin/spamd", "-L", where, "-u", "nobody", "-x", "--syslog=stderr", f"--max-children={children}",
             f"--pidfile={directory}/spamd.pid"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if unix:
            deadline = time.time() + 120
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.settimeout(5)
                        s.connect(self.socket)
                        s.sendall(b"PING SPAMC/1.5\r\n\r\n")
                        if b"PONG" in s.recv(4096):
                            return
                except OSError:
                    pass
                time.sleep(0.2)
            raise RuntimeError("spamd did not start")
        wait_answer(self.port, b"PING SPAMC/1.5\r\n\r\n", b"PONG", self.proc, "spamd")


class Rspamd(Engine):
    """rspamd's normal worker alone, with Debian's configuration, DNS pointed at nothing."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.spec = f"rspamd:http://127.0.0.1:{self.port}"
        conf = os.path.join(directory, "rspamd.conf")
        with open(conf, "w") as f:
            f.write('.include "$CONFDIR/common.conf"\n'
                    'options {\n pidfile = "$RUNDIR/rspamd.pid";\n .include "$CONFDIR/options.inc"\n'
                    ' dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 1; }\n}\n'
                    'logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "warning"; }\n'
                    f'worker "normal" {{\n bind_socket = "127.0.0.1:{self.port}";\n count = 1;\n'
                    ' .include "$CONFDIR/worker-normal.inc"\n}\n')
        self.proc = subprocess.Popen(
            ["/usr/bin/rspamd", "-f", "-u", "root", "-g", "root", "-i", "-c", conf, "--var=CONFDIR=/etc/rspamd",
             f"--var=LOCAL_CONFDIR={directory}", f"--var=RUNDIR={directory}", f"--var=DBDIR={directory}",
             f"--var=LOGDIR={directory}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_answer(self.port, b"GET /ping HTTP/1.0\r\n\r\n", b"pong", self.proc, "rspamd")
