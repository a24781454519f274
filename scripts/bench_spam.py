"""The driver of scripts/bench-spam.sh: the SpamAssassin public corpus through `mailproxy serve` with spamd,
and the same messages scored by `spamc` directly against the same spamd, in one run.
Usage: python3 scripts/bench_spam.py WORKDIR CORPUS_DIR [LIMIT]"""
import concurrent.futures
import glob
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from serve_harness import free_port  # noqa: E402
from spam_harness import Spamd  # noqa: E402

MP = os.path.join(os.path.dirname(__file__), "..", "build", "cli", "mailproxy")
SESSIONS = 4  # clients at once, for both: spamd runs as many children


def corpus(directory, limit):
    files = sorted(glob.glob(os.path.join(directory, "*", "*.txt")))
    if limit:
        files = files[::max(1, len(files) // limit)][:limit]  # every kind of message, not only the first dir
    return [(f, "spam" if "/spam-" in f else "ham") for f in files]


def spamc(port, path):
    """spamc's verdict on the message as serve gives it to spamd: CR LF line ends (a bare CR or LF becomes
    CR LF, as serve's DATA reader makes it), after a Received: line of the same form (a before-queue filter
    must write it: spamass-milter does the same), so that both score the same bytes but for the time and
    the queue id. "error" when spamc could not score it."""
    with open(path, "rb") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    received = (b"Received: from bench.test ([127.0.0.1])\r\n\tby bench.test (mailproxy) with ESMTP id 000000000000"
                b"\r\n\tfor <u@example.com>; " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()).encode() +
                b"\r\n")
    r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port), "-c"], input=received + data, capture_output=True)
    return {0: "ham", 1: "spam"}.get(r.returncode, "error")


def smtp_send(port, messages, replies):
    """One SMTP session sending `messages` (path, data) one after another; the end-of-data reply codes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("serve closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])

    reply()
    s.sendall(b"EHLO bench.test\r\n")  # the HELO and hostname of spamc's Received: line
    reply()
    for index, path, data in messages:
        # the envelope sender numbers the message: serve's log line for it says from=
        s.sendall(b"MAIL FROM:<m%d@sender.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n" % index)
        codes = [reply(), reply(), reply()]
        if codes[2] != 354:
            replies[path] = codes[1]
            s.sendall(b"RSET\r\n")
            reply()
            continue
        s.sendall(data + b".\r\n")
        replies[path] = reply()
    s.sendall(b"QUIT\r\n")
    reply()
    s.close()


def wire(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out


def main():
    work, corpus_dir = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    messages = corpus(corpus_dir, limit)
    spamd = Spamd(os.path.join(work, "spamd"), children=SESSIONS)
    pids = []
    try:
        sink_port = free_port()
        sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-m", "100", f"127.0.0.1:{sink_port}", "100"])
        pids.append(sink)
        store = os.path.join(work, "entries")
        # only the spam check runs, with spamd's own threshold (5) as the spam score, so the verdicts compare
        subprocess.run([MP, "--store", store, "entry", "create", "example.com", "--target", f"[127.0.0.1]:{sink_port}",
                        "--admin", "postmaster@example.com", "--protection", "CUSTOM", "--virus", "DISABLED",
                        "--banned-files", "DISABLED", "--header", "DISABLED", "--spam-mode", "ACCEPT",
                        "--spam-score", "5", "--kill-score", "999"], check=True, capture_output=True)
        db = os.path.join(work, "db")
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'tests/integration'); "
                        "import filter_samples as s; s.write_signatures(sys.argv[1])", db], check=True)
        serve_port = free_port()
        log_path = os.path.join(work, "serve.log")
        log = open(log_path, "w")
        serve = subprocess.Popen([MP, "--store", store, "serve", "--listen", f"127.0.0.1:{serve_port}", "--state-dir",
                                  os.path.join(work, "state"), "--clamav-db", db, "--spam-engine", spamd.spec,
                                  "--hostname", "bench.test", "--max-message-size", str(100 << 20)],
                                 stdout=subprocess.PIPE, stderr=log, text=True)
        pids.append(serve)
        if not serve.stdout.readline().startswith("ready"):
            raise RuntimeError("serve did not start: " + open(log_path).read())

        # spamc directly
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(SESSIONS) as pool:
            direct = dict(zip([p for p, _ in messages], pool.map(lambda m: spamc(spamd.port, m[0]), messages)))
        direct_s = time.monotonic() - started

        # through serve: SESSIONS sessions, each a share of the corpus
        data = [(i, p, wire(p)) for i, (p, _) in enumerate(messages)]
        replies = {}
        started = time.monotonic()
        threads = [threading.Thread(target=smtp_send, args=(serve_port, data[i::SESSIONS], replies))
                   for i in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        serve_s = time.monotonic() - started
        serve.terminate()
        serve.wait(timeout=60)
        log.close()
        # each message's verdict from its summary line in the log: from=m<index>@...
        by_path = {}
        with open(log_path) as f:
            for line in f:
                m = re.search(r"event=message .*? from=m(\d+)@sender\.example .*? verdict=(\S+)", line)
                if m and m.group(2) != "unchecked":  # refused before the checks: not compared
                    by_path[messages[int(m.group(1))][0]] = "spam" if m.group(2) == "spam" else "ham"
    finally:
        for p in pids:
            if p.poll() is None:
                p.terminate()
        spamd.stop()

    refused = [p for p, code in replies.items() if code != 250]
    n = len(messages)
    print(f"\n{'(' + str(n) + ' messages, ' + str(SESSIONS) + ' sessions)':44s} {'seconds':>9s} {'msg/s':>9s} {'ratio':>8s}")
    print(f"{'spamc directly':44s} {direct_s:9.1f} {n / direct_s:9.1f} {1.0:8.2f}")
    print(f"{'mailproxy serve with spamd':44s} {serve_s:9.1f} {n / serve_s:9.1f} {direct_s / serve_s:8.2f}")
    print(f"\nserve's overhead over spamc: {100 * (serve_s - direct_s) / direct_s:.1f} % (aim: under 10 %)")
    print(f"serve refused {len(refused)} messages before scoring (NUL, lines over 998, ...): not compared")
    for name, verdict in (("spamc", direct), ("serve", by_path)):
        table = {(t, v): 0 for t in ("spam", "ham") for v in ("spam", "ham")}
        for p, truth in messages:
            if p in verdict:
                table[(truth, verdict[p])] += 1
        print(f"\n{name:8s} {'verdict spam':>14s} {'verdict ham':>12s}")
        for t in ("spam", "ham"):
            print(f"{'is ' + t:8s} {table[(t, 'spam')]:14d} {table[(t, 'ham')]:12d}")
    errors = [p for p, v in direct.items() if v == "error"]
    print(f"\nspamc could not score {len(errors)} messages")
    both = [p for p, _ in messages if p in by_path and direct[p] != "error"]
    disagree = [p for p in both if direct[p] != by_path[p]]
    print(f"\nverdicts compared: {len(both)}; they differ on {len(disagree)}")
    for p in disagree[:10]:
        print(f"  {os.path.relpath(p, corpus_dir)}: spamc {direct[p]}, serve {by_path[p]}")


if __name__ == "__main__":
    main()
