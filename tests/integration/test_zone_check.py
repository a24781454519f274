"""`mailproxy zone check`: the lint rules on live DNS answers from a real NSD that the test starts on
127.0.0.1 with zones it writes."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import MailproxyTest

ZONES = {
    "bypass.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
@ MX 10 mail
@ MX 20 mailproxy.domain-robot.org.
@ MX 30 relay.elsewhere.example.
@ TXT "v=spf1 mx -all"
mail A 192.0.2.25
ns A 192.0.2.53
_mta-sts TXT "v=STSv1; id=1"
""",
    "clean.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
@ MX 10 mailproxy.domain-robot.org.
@ TXT "v=spf1 ip4:192.0.2.25 -all"
ns A 192.0.2.53
""",
    "cname.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
@ MX 10 mx
mx CNAME mailproxy.domain-robot.org.
ns A 192.0.2.53
""",
    "custom.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
@ MX 10 mx
mx A 192.0.2.99
ns A 192.0.2.53
""",
    "proxied.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
@ MX 10 mx
mx A 62.116.162.145
ns A 192.0.2.53
""",
    "nomx.test": """$TTL 300
@ SOA ns hostmaster 1 1h 15m 1w 5m
@ NS ns
ns A 192.0.2.53
""",
}


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


class Nsd:
    def __init__(self, zones):
        self.dir = tempfile.mkdtemp(prefix="mailproxy-nsd-")
        self.port = free_port()
        conf = [
            "server:", "  ip-address: 127.0.0.1", f"  port: {self.port}", '  username: ""', '  chroot: ""',
            f'  zonesdir: "{self.dir}"', f'  pidfile: "{self.dir}/nsd.pid"', '  database: ""',
            f'  zonelistfile: "{self.dir}/zone.list"', f'  xfrdfile: "{self.dir}/xfrd.state"',
            f'  xfrdir: "{self.dir}"', "  server-count: 1", "  verbosity: 1",
            "remote-control:", "  control-enable: no"]
        for name, text in zones.items():
            with open(os.path.join(self.dir, name + ".zone"), "w") as f:
                f.write(f"$ORIGIN {name}.\n" + text)
            conf += ["zone:", f"  name: {name}", f"  zonefile: {name}.zone"]
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        self.proc = subprocess.Popen([nsd, "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        log = ""
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            log += line
            if "nsd started" in line:
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("nsd did not start:\n" + log)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ZoneCheckTest(MailproxyTest):
    nsd = None

    @classmethod
    def setUpClass(cls):
        cls.nsd = Nsd(ZONES)

    @classmethod
    def tearDownClass(cls):
        cls.nsd.stop()

    def check(self, domain, *args, expect=None):
        return self.run_mp("zone", "check", "--server", f"127.0.0.1:{self.nsd.port}", domain, *args, expect=expect)

    def rules(self, domain, *args, expect=None):
        doc = self.check(domain, "--format", "json", *args, expect=expect).json()
        return sorted(f["rule"] for f in doc["findings"])

    def test_a_real_server_left_as_mx_is_a_bypass(self):
        r = self.check("bypass.test", expect=1)
        self.assertIn("bypass.test.: error: MX 10 mail.bypass.test. at the apex: mail sent there skips the MailProxy",
                      r.out)
        self.assertIn("    bypass.test.\t300\tIN\tMX\t10 mail.bypass.test.\n", r.out)
        self.assertIn("MX 30 relay.elsewhere.example. at the apex: a backup MX", r.out)
        self.assertEqual(self.rules("bypass.test", expect=1),
                         ["mta-sts-present", "mx-bypass", "mx-bypass", "spf-mx-mechanism"])
        # the authoritative server does not answer for names outside its zones: said with -v, not fatal
        r = self.check("bypass.test", "-v", expect=1)
        self.assertIn("the addresses of relay.elsewhere.example. were not checked (the server refused them", r.err)
        gh = self.check("bypass.test", "--format", "github", expect=1).out
        self.assertIn("::error file=bypass.test.,line=", gh)
        self.assertIn("title=mx-bypass::", gh)
        # warnings alone pass unless --fail-on warning
        self.check("bypass.test", "--target", "mail.bypass.test", expect=1)

    def test_a_switched_domain_is_clean(self):
        r = self.check("clean.test", expect=0)
        self.assertEqual(r.out, "")
        self.assertEqual(self.rules("clean.test", "--fail-on", "info", expect=0), [])
        r = self.check("clean.test", "-v", expect=0)
        self.assertIn("mailproxy: answer: clean.test.\t300\tIN\tMX\t10 mailproxy.domain-robot.org.", r.err)

    def test_mx_to_a_cname_and_missing_mx(self):
        self.assertIn("mx-target-cname", self.rules("cname.test", expect=1))
        self.assertEqual(self.rules("nomx.test", expect=1), ["mx-missing"])

    def test_custom_host_addresses_come_from_dns(self):
        self.assertEqual(self.rules("custom.test", "--custom-host", "mx.custom.test", expect=1),
                         ["custom-host-wrong-address"])
        self.assertEqual(self.rules("proxied.test", "--custom-host", "mx.proxied.test", expect=0), [])
        # without --custom-host the MX to an own name is a bypass
        self.assertEqual(self.rules("proxied.test", expect=1), ["mx-bypass"])

    def test_dns_failures_are_errors_with_their_own_exit_codes(self):
        r = self.check("missing.clean.test", expect=4)
        self.assertIn("zone check: missing.clean.test. does not exist (NXDOMAIN)", r.err)
        r = self.check("not-served.example", expect=1)
        self.assertIn("answered REFUSED for not-served.example. MX", r.err)
        started = time.time()
        r = self.run_mp("zone", "check", "--server", f"127.0.0.1:{free_port()}", "--timeout", "1", "clean.test",
                        expect=1)
        self.assertIn("no answer for clean.test. MX from 127.0.0.1:", r.err)
        self.assertLess(time.time() - started, 15)
        for server in ("mail.example.com", "127.0.0.1:99999", "[::1", "1.2.3.4:x"):
            with self.subTest(server=server):
                r = self.run_mp("zone", "check", "--server", server, "clean.test", expect=2)
                self.assertIn(f"--server {server}: expected an IP address", r.err)
        r = self.check("bad..name", expect=2)
        self.assertIn("bad..name is not a domain name", r.err)
