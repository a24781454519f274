#!/usr/bin/env python3
"""A strict emulator of the AutoDNS JSON API routes mailproxy uses, for tests (no real AutoDNS is
reachable from here). Serves HTTPS on 127.0.0.1 and prints "ready <port>" once listening.

What it follows (../../../shared/reference/autodns-api.md):
- base path /v1; GET /hello; POST /mailProxy; GET, PUT, DELETE /mailProxy/{domain};
  POST /mailProxy/_search with filters (EQUAL, NOT_EQUAL, LIKE, NOT_LIKE with '*'), view.limit/offset,
  orders, keys[] for extra fields and object.summary;
- basic auth, X-Domainrobot-Context, a mandatory User-Agent, JSON Content-Type and Accept;
- the envelope: stid, status{code,text,type}, messages[]{code,text,status}, object, data[];
- MailProxy bodies: member types, enum spellings, score ranges, kill > spam, digest >= 1440, domain and
  target required on create, server-set members (created, updated, owner, updater, idn) refused in
  requests, unknown members refused; PUT keys[]=merge keeps left-out policy members only for CUSTOM;
- zones (section 5): GET /zone/{name} and /zone/{name}/{virtualNameServer} (0205, data[0] is the zone:
  origin, virtualNameServer, soa, nameServers, main if set, wwwInclude, resourceRecords, created, updated);
  POST /zone/{name}/_stream (0202002) with {"adds": [RR], "rems": [RR]} and optional keys[]=autofix,
  applied all or nothing. A ResourceRecord has only name (relative, "" or "@" for the apex), type, value,
  pref (MX and SRV only, required there), ttl (default 3600) and raw (accepted, not stored); A/AAAA values
  must be IP addresses, MX/CNAME/NS/PTR/ALIAS values host names; no CNAME at the apex or beside other
  records. Records match on name, type, value (host names without case or trailing dot) and pref;
  a rem matching nothing fails with EF02023, an add that exists already with EF02022 (the real code);
- at most 3 requests per second per client (429 beyond).
Status codes follow the documented pattern (S/E + task code: 0511 create, 0512 update, 0513 delete,
0514 info/list, 0205 zone info, 0202002 zone stream); the EF message codes are this emulator's own, since
AutoDNS does not publish them, except EF02022. Zone codes: EF02050 no such zone, EF02020 malformed body or
keys[], EF02021 malformed record, EF02022 duplicate add, EF02023 missing rem, EF02024 CNAME conflict.

Control routes (no auth, for the tests): POST /_emulator/reset, /_emulator/seed (a list of objects),
/_emulator/seed-zones (a list of zones: origin, and optionally virtualNameServer, resourceRecords, main,
nameServers, soa, wwwInclude; replaces zones of the same origin),
/_emulator/fault ({"match": "METHOD /path-prefix", "kind": ..., "count": n, "delay": s}), /_emulator/config;
GET /_emulator/requests (the log), /_emulator/objects, /_emulator/zones.
Fault kinds: error500 (a JSON error envelope with HTTP 500), empty500 (HTTP 500, empty body),
nonjson (HTTP 502 with an HTML body), ratelimit (HTTP 429 envelope), drop (close the connection without
an answer, before acting), slow (act on the request, then wait `delay` seconds before answering).
"""
import argparse
import base64
import copy
import fnmatch
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

ENUM_MODES = ("DISABLED", "QUARANTINE", "DISCARD", "ACCEPT")
PROTECTIONS = ("HIGH", "MEDIUM", "LOW", "OFF", "CUSTOM")
READ_ONLY = ("created", "updated", "owner", "updater", "idn")
KNOWN = ("domain", "target", "admin", "protection", "greylisting", "virus", "bannedFiles", "header", "spam",
         "whitelist", "blacklist", "excludelist")
MERGEABLE = ("greylisting", "virus", "bannedFiles", "header", "spam", "blacklist", "whitelist", "excludelist")
SPAM_KEYS = ("mode", "modifySubject", "tagHeader", "spam", "kill", "quarantineDigestInterval")
LIST_DEFAULT = ("admin", "created", "domain", "protection", "target")
LIST_KEYS = ("admin", "created", "domain", "greylisting", "owner", "protection", "target", "updated", "updater")
RR_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR", "ALIAS", "HTTPS", "SVCB")
HOST_TYPES = ("MX", "CNAME", "NS", "PTR", "ALIAS")
PREF_TYPES = ("MX", "SRV")
RR_KEYS = ("name", "type", "value", "pref", "ttl", "raw")
ZONE_KEYS = ("origin", "virtualNameServer", "resourceRecords", "main", "nameServers", "soa", "wwwInclude")
SOA_DEFAULT = {"refresh": 43200, "retry": 7200, "expire": 1209600, "ttl": 86400}
ZONE_FAIL = ("E0202002", "Zone could not be updated.")
MEDIUM = {"virus": "ACCEPT", "bannedFiles": "ACCEPT", "header": "DISABLED",
          "spam": {"mode": "ACCEPT", "modifySubject": True, "tagHeader": -999, "spam": 6.5, "kill": 999,
                   "quarantineDigestInterval": 1440}}


def preset(level):
    p = copy.deepcopy(MEDIUM)
    if level == "HIGH":
        p["virus"] = "QUARANTINE"
    elif level == "LOW":
        p["spam"]["modifySubject"] = False
    elif level == "OFF":
        p.update(virus="DISABLED", bannedFiles="DISABLED", header="DISABLED")
        p["spam"].update(mode="DISABLED", modifySubject=False)
    return p


class Failure(Exception):
    def __init__(self, http, code, text, messages=()):
        super().__init__(text)
        self.http, self.code, self.text, self.messages = http, code, text, list(messages)


def number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v.strip()):
        return float(v)
    return None


def message(code, text, objects=None):
    m = {"code": code, "text": text, "status": "ERROR"}
    if objects:
        m["objects"] = objects
    return m


def integer(v, low=0, high=2 ** 31 - 1):
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def ip(v, version=None):
    try:
        return "%" not in v and version in (None, ipaddress.ip_address(v).version)
    except ValueError:
        return False


def hostname(v):
    """A host name (one trailing dot allowed), never an IP address."""
    h = v[:-1] if v.endswith(".") else v
    return 0 < len(h) <= 253 and not ip(h) and all(
        re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", label) for label in h.split("."))


def check_rr(rr, where):
    """Every problem of one ResourceRecord (where: e.g. "adds[0]"), as EF02021 messages."""
    errs = []

    def bad(text):
        errs.append(message("EF02021", f"{where}: {text}"))

    if not isinstance(rr, dict):
        bad("a record must be a JSON object.")
        return errs
    for k in rr:
        if k not in RR_KEYS:
            bad(f"unknown field {k}.")
    for k in ("name", "type", "value"):
        if k not in rr:
            bad(f"{k} is required.")
    for k in ("name", "type", "value", "raw"):
        if k in rr and not isinstance(rr[k], str):
            bad(f"{k} must be a string.")
    name, typ, value = (rr.get(k) if isinstance(rr.get(k), str) else None for k in ("name", "type", "value"))
    if name is not None and name.endswith("."):
        bad(f"the name {name} is absolute; names are relative to the zone (\"\" or \"@\" for the apex).")
    elif name not in (None, "", "@") and (len(name) > 253 or not all(
            re.fullmatch(r"[A-Za-z0-9_*-]{1,63}", label) for label in name.split("."))):
        bad(f"the name {name} is not a valid relative name.")
    if typ is not None and typ not in RR_TYPES:
        bad(f"type {typ} is not one of {', '.join(RR_TYPES)}.")
    if value == "":
        bad("value must not be empty.")
    elif value is not None and (typ == "A" and not ip(value, 4) or typ == "AAAA" and not ip(value, 6)):
        bad(f"{value} is not an IPv{4 if typ == 'A' else 6} address.")
    elif value is not None and typ in HOST_TYPES and not hostname(value):
        bad(f"the {typ} value {value} is not a host name.")
    if typ == "CNAME" and name in ("", "@"):
        bad("a CNAME is not allowed at the zone apex.")
    if typ in PREF_TYPES and not integer(rr.get("pref"), 0, 65535):
        bad(f"pref is required for {typ} and must be an integer from 0 to 65535.")
    elif typ in RR_TYPES and typ not in PREF_TYPES and "pref" in rr:
        bad(f"pref is only allowed for {' and '.join(PREF_TYPES)}.")
    if "ttl" in rr and not integer(rr["ttl"]):
        bad("ttl must be an integer from 0 to 2147483647.")
    return errs


def rr_key(rr):
    """What records match on: name ("" == "@"), type, value (host names without case or trailing dot), pref."""
    typ, value = rr["type"], rr["value"]
    if typ in HOST_TYPES:
        value = value.lower().removesuffix(".")
    elif typ in ("A", "AAAA"):
        value = ipaddress.ip_address(value)
    return ("" if rr["name"] == "@" else rr["name"].lower()), typ, value, rr.get("pref")


def rr_text(rr):
    return " ".join(str(x) for x in (rr["name"] or "@", rr["type"], rr.get("pref"), rr["value"]) if x is not None)


def apply_stream(zone, adds, rems):
    """The zone's records after removing rems and adding adds (both checked), and every EF message against that."""
    records, errs, where = list(zone["resourceRecords"]), [], f"{zone['origin']}@{zone['virtualNameServer']}"
    for i, rr in enumerate(rems):
        if not any(rr_key(r) == rr_key(rr) for r in records):
            errs.append(message("EF02023", "The record to remove does not exist.",
                                [{"type": f"{where}/rems[{i}]", "value": rr_text(rr)}]))
        records = [r for r in records if rr_key(r) != rr_key(rr)]
    for i, rr in enumerate(adds):
        if any(rr_key(r) == rr_key(rr) for r in records):
            errs.append(message("EF02022", "Der Zusatzeintrag wurde doppelt eingetragen.",
                                [{"type": f"{where}/adds[{i}]", "value": rr_text(rr)}]))
            continue
        stored = {"name": "" if rr["name"] == "@" else rr["name"], "type": rr["type"], "value": rr["value"]}
        if rr["type"] in PREF_TYPES:
            stored["pref"] = rr["pref"]
        records.append(dict(stored, ttl=rr.get("ttl", 3600)))
    types = {}
    for r in records:
        types.setdefault(r["name"].lower(), []).append(r["type"])
    if zone["wwwInclude"] and "main" in zone:
        types.setdefault("www", []).append("A")
    for name, ts in types.items():
        if "CNAME" in ts and len(ts) > 1:
            errs.append(message("EF02024", "A CNAME cannot be combined with other records.",
                                [{"type": f"{where}/rr", "value": f"{name or '@'} {' '.join(ts)}"}]))
    return records, errs


def seed_zone(obj, now):
    """The stored zone for one /_emulator/seed-zones item, and every problem of it."""
    if not isinstance(obj, dict) or not isinstance(obj.get("origin"), str) \
            or not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", obj["origin"]):
        return None, [message("EF02020", "A zone must be an object with an origin domain name.")]
    origin, errs = obj["origin"], []

    def bad(text):
        errs.append(message("EF02020", f"{origin}: {text}"))

    for k in obj:
        if k not in ZONE_KEYS:
            bad(f"unknown zone field {k}.")
    vns = obj.get("virtualNameServer", "a.ns14.net")
    if not isinstance(vns, str) or not hostname(vns):
        bad("virtualNameServer must be a host name.")
    soa = obj.get("soa", {})
    if not isinstance(soa, dict) or set(soa) - set(SOA_DEFAULT) - {"email"} \
            or not all(integer(soa[k]) for k in set(soa) & set(SOA_DEFAULT)) \
            or not isinstance(soa.get("email", ""), str):
        bad(f"soa may only have the integers {', '.join(SOA_DEFAULT)} and the string email.")
        soa = {}
    servers = obj.get("nameServers", [{"name": f"{c}.ns14.net"} for c in "abc"])
    if not isinstance(servers, list) or not all(
            isinstance(s, dict) and set(s) <= {"name", "ttl"} and isinstance(s.get("name"), str)
            and hostname(s["name"]) and integer(s.get("ttl", 0)) for s in servers):
        bad("nameServers must be a list of {name, ttl} with host names.")
    main = obj.get("main")
    if main is not None and not (isinstance(main, dict) and set(main) <= {"address", "ttl"} and
                                 isinstance(main.get("address"), str) and ip(main["address"], 4)
                                 and integer(main.get("ttl", 0))):
        bad("main must be {address, ttl} with an IPv4 address.")
    if not isinstance(obj.get("wwwInclude", False), bool):
        bad("wwwInclude must be a boolean.")
    rrs = obj.get("resourceRecords", [])
    if not isinstance(rrs, list):
        bad("resourceRecords must be a list.")
        rrs = []
    for i, rr in enumerate(rrs):
        errs += check_rr(rr, f"{origin}/resourceRecords[{i}]")
    zone = {"origin": origin, "virtualNameServer": vns, "soa": {**SOA_DEFAULT, "email": f"hostmaster@{origin}", **soa},
            "nameServers": servers}
    if main is not None:
        zone["main"] = main
    zone.update(wwwInclude=obj.get("wwwInclude", False), resourceRecords=[], created=now, updated=now)
    if not errs:
        zone["resourceRecords"], errs = apply_stream(zone, rrs, [])
    return zone, errs


def now_text():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


def check_mailproxy(obj, task, create, merge):
    """Every problem of a request body, as EF messages; [] when it is acceptable."""
    errs = []

    def bad(code, text):
        errs.append({"code": code, "text": text, "status": "ERROR"})

    if not isinstance(obj, dict):
        bad("EF00001", "The request body must be a JSON object.")
        return errs
    for k in obj:
        if k in READ_ONLY:
            bad("EF00010", f"The field {k} is set by the server and cannot be sent.")
        elif k not in KNOWN:
            bad("EF00011", f"Unknown field {k}.")
    for k in ("domain", "target") if create else ("target",) if not merge else ():
        if not obj.get(k):
            bad("EF00012", f"The field {k} is required.")
    for k in ("domain", "target", "admin"):
        if k in obj and not isinstance(obj[k], str):
            bad("EF00013", f"The field {k} must be a string.")
    if isinstance(obj.get("domain"), str) and not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", obj["domain"]):
        bad("EF00014", f"The domain {obj['domain']} is not valid.")
    if isinstance(obj.get("target"), str) and obj["target"] and not re.fullmatch(
            r"([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-fA-F:.]+\])(:\d{1,5})?", obj["target"].lower()):
        bad("EF00026", f"The target {obj['target']} is not a mail server name.")
    if isinstance(obj.get("admin"), str) and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", obj["admin"]):
        bad("EF00015", f"The admin {obj['admin']} is not an e-mail address.")
    if "protection" in obj and obj["protection"] not in PROTECTIONS:
        bad("EF00016", f"protection must be one of {', '.join(PROTECTIONS)}.")
    if "greylisting" in obj and obj["greylisting"] not in ("ENABLED", "DISABLED"):
        bad("EF00017", "greylisting must be ENABLED or DISABLED.")
    for k in ("virus", "bannedFiles", "header"):
        if k in obj and obj[k] not in ENUM_MODES:
            bad("EF00018", f"{k} must be one of {', '.join(ENUM_MODES)}.")
    spam = obj.get("spam")
    if spam is not None:
        if not isinstance(spam, dict):
            bad("EF00019", "spam must be an object.")
        else:
            for k in spam:
                if k not in SPAM_KEYS:
                    bad("EF00011", f"Unknown field spam.{k}.")
            if "mode" in spam and spam["mode"] not in ENUM_MODES:
                bad("EF00018", "spam.mode must be one of " + ", ".join(ENUM_MODES) + ".")
            if "modifySubject" in spam and not isinstance(spam["modifySubject"], bool):
                bad("EF00020", "spam.modifySubject must be a boolean.")
            scores = {}
            for k in ("tagHeader", "spam", "kill"):
                if k in spam:
                    v = number(spam[k])
                    if v is None:
                        bad("EF00021", f"spam.{k} must be a number.")
                    elif not -999.9 <= v <= 999.9:
                        bad("EF00022", f"spam.{k} must be between -999.9 and 999.9.")
                    else:
                        scores[k] = v
            if "spam" in scores and "kill" in scores and not scores["kill"] > scores["spam"]:
                bad("EF00023", "spam.kill must be higher than spam.spam.")
            if "quarantineDigestInterval" in spam:
                v = spam["quarantineDigestInterval"]
                if isinstance(v, bool) or not isinstance(v, int) or v < 1440:
                    bad("EF00024", "spam.quarantineDigestInterval must be an integer of at least 1440.")
    for k in ("whitelist", "blacklist", "excludelist"):
        if k in obj:
            v = obj[k]
            if not isinstance(v, dict) or set(v) - {"emails"} or not isinstance(v.get("emails", []), list) \
                    or not all(isinstance(x, str) for x in v.get("emails", [])):
                bad("EF00025", f"{k} must be an object with an emails array of strings.")
    return errs


def normalise_scores(spam):
    for k in ("tagHeader", "spam", "kill"):
        if k in spam:
            v = number(spam[k])
            spam[k] = int(v) if v == int(v) else v


class State:
    def __init__(self, user, password, context):
        self.lock = threading.Lock()
        self.user, self.password, self.context = user, password, context
        self.reset()

    def reset(self):
        self.objects = {}
        self.zones = {}
        self.faults = []
        self.log = []
        self.recent = {}
        self.seq = 0
        self.legacy_greylisting = False

    def stid(self):
        self.seq += 1
        return time.strftime("%Y%m%d") + f"-emu-{self.seq}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "autodns-emulator"

    def log_message(self, fmt, *args):
        pass

    # -- plumbing ---------------------------------------------------------------------------------
    def send_json(self, http, payload, headers=()):
        body = json.dumps(payload).encode()
        self.send_response(http)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if isinstance(payload, dict) and "stid" in payload:
            self.send_header("X-Domainrobot-Stid", payload["stid"])
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def envelope(self, code, text, data=None, obj=None, stype="SUCCESS", messages=None):
        st = self.server.state
        env = {"stid": st.stid(), "status": {"code": code, "text": text, "type": stype}}
        if messages:
            env["messages"] = messages
        if obj is not None:
            env["object"] = obj
        if data is not None:
            env["data"] = data
        return env

    def fail(self, f):
        self.send_json(f.http, self.envelope(f.code, f.text, stype="ERROR", messages=f.messages))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise Failure(413, "E0000", "Request too large.")
        return self.rfile.read(n) if n else b""

    # -- dispatch ---------------------------------------------------------------------------------
    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        st = self.server.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            body = self.read_body()
        except Failure as f:
            return self.fail(f)
        if url.path.startswith("/_emulator/"):
            return self.control(method, url.path, body)
        now = time.time()
        with st.lock:
            st.log.append({"time": now, "method": method, "path": url.path, "query": url.query,
                           "headers": dict(self.headers.items()), "body": body.decode("utf-8", "replace")})
            fault = None
            for f in st.faults:
                m, _, prefix = f["match"].partition(" ")
                if m == method and url.path.startswith(prefix) and f["count"] > 0:
                    f["count"] -= 1
                    fault = f
                    break
            recent = [t for t in st.recent.get(self.client_address[0], []) if now - t < 1.0]
            recent.append(now)
            st.recent[self.client_address[0]] = recent
            too_fast = len(recent) > 3
        kind = fault["kind"] if fault else None
        if kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "nonjson":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if kind == "empty500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "error500":
            return self.fail(Failure(500, "E0000", "Internal server error.",
                                     [{"code": "EF00500", "text": "Temporary failure, try again.", "status": "ERROR"}]))
        if kind == "ratelimit" or too_fast:
            return self.fail(Failure(429, "E0000", "Too many requests.",
                                     [{"code": "EF00429", "text": "More than 3 requests per second.",
                                       "status": "ERROR"}]))
        try:
            http, payload = self.api(method, url.path, query, body)
        except Failure as f:
            http, payload = f.http, self.envelope(f.code, f.text, stype="ERROR", messages=f.messages)
        if kind == "slow":
            time.sleep(fault.get("delay", 5))
        try:
            self.send_json(http, payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def check_headers(self, has_body):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{st.user}:{st.password}".encode()).decode()
        if auth != expected:
            raise Failure(401, "E0000", "Authentication failed.",
                          [{"code": "EF00401", "text": "User or password is wrong.", "status": "ERROR"}])
        if self.headers.get("X-Domainrobot-Context") != str(st.context):
            raise Failure(401, "E0000", "Authentication failed.",
                          [{"code": "EF00402", "text": "Unknown or missing context.", "status": "ERROR"}])
        if not self.headers.get("User-Agent"):
            raise Failure(400, "E0000", "The User-Agent header is mandatory.")
        if "application/json" not in self.headers.get("Accept", ""):
            raise Failure(406, "E0000", "Only application/json can be returned.")
        if has_body and not self.headers.get("Content-Type", "").startswith("application/json"):
            raise Failure(415, "E0000", "The body must be application/json.")

    def parse_json(self, body, task):
        try:
            return json.loads(body)
        except ValueError:
            raise Failure(400, f"E{task}", "The request body is not valid JSON.")

    # -- the API ----------------------------------------------------------------------------------
    def api(self, method, path, query, body):
        st = self.server.state
        if not path.startswith("/v1/"):
            raise Failure(404, "E0000", "Unknown route.")
        path = path[3:]
        self.check_headers(bool(body))
        keys = query.get("keys[]", [])
        if method == "GET" and path == "/hello":
            return 200, self.envelope("S0000", "Hello from the AutoDNS emulator.")
        if method == "POST" and path == "/mailProxy":
            obj = self.parse_json(body, "0511")
            errs = check_mailproxy(obj, "0511", create=True, merge=False)
            if errs:
                raise Failure(400, "E0511", "The MailProxy could not be created.", errs)
            with st.lock:
                if obj["domain"] in st.objects:
                    raise Failure(400, "E0511", "The MailProxy could not be created.",
                                  [{"code": "EF05111", "text": f"A MailProxy for {obj['domain']} exists already.",
                                    "status": "ERROR"}])
                st.objects[obj["domain"]] = self.store(obj, None)
            return 200, self.envelope("S0511", "The MailProxy was created.",
                                      obj={"type": "MailProxy", "value": obj["domain"]})
        if method == "POST" and path == "/mailProxy/_search":
            return self.search(self.parse_json(body or b"{}", "0514"), keys)
        m = re.fullmatch(r"/zone/([^/]+)/_stream", path)
        if m:
            if method != "POST":
                raise Failure(405, "E0000", "Method not allowed.")
            return self.zone_stream(m.group(1), keys, body)
        m = re.fullmatch(r"/zone/([^/]+)(?:/([^/]+))?", path)
        if m:
            if method != "GET":
                raise Failure(405, "E0000", "Method not allowed (the emulator has only GET and _stream on zones).")
            with st.lock:
                zone = self.find_zone(*m.groups(), "E0205", "Zone data could not be inquired.")
                return 200, self.envelope("S0205", "Zone data has been inquired successfully.",
                                          data=[copy.deepcopy(zone)], obj={"type": "Zone", "value": m.group(1)})
        m = re.fullmatch(r"/mailProxy/([^/]+)", path)
        if not m:
            raise Failure(404, "E0000", "Unknown route.")
        domain = m.group(1)
        with st.lock:
            current = st.objects.get(domain)
        if current is None:
            task = {"GET": "0514", "PUT": "0512", "DELETE": "0513"}.get(method, "0514")
            raise Failure(404, f"E{task}", "The MailProxy was not found.",
                          [{"code": "EF05140", "text": f"There is no MailProxy for {domain}.", "status": "ERROR"}])
        if method == "GET":
            return 200, self.envelope("S0514", "MailProxy data has been inquired successfully.",
                                      data=[self.render(current)], obj={"type": "MailProxy", "value": domain})
        if method == "DELETE":
            with st.lock:
                st.objects.pop(domain, None)
            return 200, self.envelope("S0513", "The MailProxy was deleted.",
                                      obj={"type": "MailProxy", "value": domain})
        if method == "PUT":
            obj = self.parse_json(body, "0512")
            merge = "merge" in keys
            errs = check_mailproxy(obj, "0512", create=False, merge=merge)
            if isinstance(obj, dict) and obj.get("domain", domain) != domain:
                errs.append({"code": "EF05121", "text": "The domain of a MailProxy cannot be changed.",
                             "status": "ERROR"})
            if errs:
                raise Failure(400, "E0512", "The MailProxy could not be updated.", errs)
            with st.lock:
                st.objects[domain] = self.store(dict(obj, domain=domain), current, merge)
            return 200, self.envelope("S0512", "The MailProxy was updated.",
                                      obj={"type": "MailProxy", "value": domain})
        raise Failure(405, "E0000", "Method not allowed.")

    def find_zone(self, name, vns, code, text):
        """The stored zone name (on nameserver vns, if given); call with the lock held."""
        zone = self.server.state.zones.get(name.lower())
        if zone is None or vns is not None and vns.lower().rstrip(".") != zone["virtualNameServer"].lower().rstrip("."):
            raise Failure(404, code, text, [message("EF02050", f"There is no zone {name}.")])
        return zone

    def zone_stream(self, name, keys, body):
        for k in keys:
            if k != "autofix":
                raise Failure(400, *ZONE_FAIL, [message("EF02020", f"keys[]={k} is not supported on _stream.")])
        req = self.parse_json(body, "0202002")
        if not isinstance(req, dict):
            raise Failure(400, *ZONE_FAIL, [message("EF02020", "The body must be a JSON object {adds, rems}.")])
        errs = [message("EF02020", f"Unknown field {k}; only adds and rems.") for k in req if k not in ("adds", "rems")]
        for k in ("adds", "rems"):
            if not isinstance(req.get(k, []), list):
                errs.append(message("EF02020", f"{k} must be a list of records."))
            else:
                for i, rr in enumerate(req.get(k, [])):
                    errs += check_rr(rr, f"{k}[{i}]")
        if errs:
            raise Failure(400, *ZONE_FAIL, errs)
        with self.server.state.lock:
            zone = self.find_zone(name, None, *ZONE_FAIL)
            records, errs = apply_stream(zone, req.get("adds", []), req.get("rems", []))
            if errs:
                raise Failure(400, *ZONE_FAIL, errs)
            zone.update(resourceRecords=records, updated=now_text())
            data = [copy.deepcopy(zone)]
        return 200, self.envelope("S0202002", "Zone was updated.", data=data,
                                  obj={"type": "Zone", "value": name, "summary": 1})

    def store(self, obj, current, merge=False):
        """The stored object after a create (current None) or an update."""
        now = now_text()
        user = {"context": self.server.state.context, "user": self.server.state.user}
        protection = obj.get("protection", "MEDIUM" if current is None else current["protection"])
        out = {"domain": obj["domain"], "target": obj.get("target", current and current["target"]),
               "admin": obj.get("admin", current and current.get("admin")), "protection": protection}
        if protection != "CUSTOM":
            out.update(preset(protection))
        else:
            base = current if (merge and current) else preset("MEDIUM")
            for k in ("virus", "bannedFiles", "header"):
                out[k] = obj.get(k, base.get(k))
            out["spam"] = dict(base.get("spam", {}), **obj.get("spam", {})) if merge else \
                dict(preset("MEDIUM")["spam"], **obj.get("spam", {}))
            normalise_scores(out["spam"])
            if not out["spam"]["kill"] > out["spam"]["spam"]:
                raise Failure(400, "E0512", "The MailProxy could not be updated.",
                              [{"code": "EF00023", "text": "spam.kill must be higher than spam.spam.",
                                "status": "ERROR"}])
        keep = merge and current and protection == "CUSTOM"
        for k in ("greylisting", "whitelist", "blacklist", "excludelist"):
            default = "DISABLED" if k == "greylisting" else {"emails": []}
            out[k] = obj.get(k, current.get(k, default) if keep else default)
        out["created"] = current["created"] if current else now
        out["updated"] = now
        out["owner"] = current["owner"] if current else user
        out["updater"] = user
        return out

    def render(self, obj):
        out = copy.deepcopy(obj)
        if self.server.state.legacy_greylisting:
            out["greylisting"] = out.get("greylisting") == "ENABLED"
        return out

    def search(self, q, keys):
        st = self.server.state
        if not isinstance(q, dict) or set(q) - {"filters", "view", "orders"}:
            raise Failure(400, "E0514", "The query is not valid.")
        for k in keys:
            if k not in LIST_KEYS:
                raise Failure(400, "E0514", f"keys[]={k} is not a list field.")
        view = q.get("view", {})
        limit, offset = view.get("limit", 50), view.get("offset", 0)
        if not isinstance(limit, int) or not isinstance(offset, int) or not 1 <= limit <= 1000 or offset < 0:
            raise Failure(400, "E0514", "view.limit must be 1 to 1000 and view.offset at least 0.")
        with st.lock:
            items = list(st.objects.values())

        def test(obj, f):
            if not isinstance(f, dict) or "key" not in f or "operator" not in f:
                raise Failure(400, "E0514", "A filter needs key and operator.")
            if f["key"] not in LIST_KEYS:
                raise Failure(400, "E0514", f"{f['key']} cannot be filtered on.")
            value, op = str(obj.get(f["key"], "")), f["operator"]
            pattern = str(f.get("value", ""))
            if op == "EQUAL":
                return value == pattern
            if op == "NOT_EQUAL":
                return value != pattern
            if op in ("LIKE", "NOT_LIKE"):
                hit = fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))
                return hit if op == "LIKE" else not hit
            raise Failure(400, "E0514", f"The emulator does not support the operator {op}.")

        filters = q.get("filters", [])
        if not isinstance(filters, list):
            raise Failure(400, "E0514", "filters must be a list.")
        items = [o for o in items if all(test(o, f) for f in filters)]
        for order in reversed(q.get("orders", [])):
            items.sort(key=lambda o: str(o.get(order.get("key"), "")), reverse=order.get("type") == "DESC")
        fields = set(LIST_DEFAULT) | set(keys)
        page = [{k: v for k, v in self.render(o).items() if k in fields} for o in items[offset:offset + limit]]
        return 200, self.envelope("S0514", "MailProxy data has been inquired successfully.", data=page,
                                  obj={"type": "MailProxy", "summary": len(items)})

    # -- control ----------------------------------------------------------------------------------
    def control(self, method, path, body):
        st = self.server.state
        data = json.loads(body) if body else None
        with st.lock:
            if path == "/_emulator/reset":
                st.reset()
            elif path == "/_emulator/seed":
                for obj in data:
                    errs = check_mailproxy(obj, "0511", create=True, merge=False)
                    if errs:
                        return self.send_json(400, {"errors": errs})
                    st.objects[obj["domain"]] = None
                    st.objects[obj["domain"]] = self.store(obj, None)
            elif path == "/_emulator/seed-zones":
                zones = []
                for obj in data if isinstance(data, list) else [None]:
                    zone, errs = seed_zone(obj, now_text())
                    if errs:
                        return self.send_json(400, {"errors": errs})
                    zones.append(zone)
                st.zones.update((z["origin"], z) for z in zones)
            elif path == "/_emulator/fault":
                st.faults.append(dict({"count": 1}, **data))
            elif path == "/_emulator/config":
                st.legacy_greylisting = bool(data.get("legacy_greylisting", False))
            elif path == "/_emulator/requests":
                return self.send_json(200, st.log)
            elif path == "/_emulator/objects":
                return self.send_json(200, st.objects)
            elif path == "/_emulator/zones":
                return self.send_json(200, st.zones)
            else:
                return self.send_json(404, {"error": "unknown control route"})
        return self.send_json(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", default="test-user")
    ap.add_argument("--context", type=int, default=4)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    password = os.environ.get("EMULATOR_PASSWORD", "")
    if not password:
        sys.exit("emulator: set EMULATOR_PASSWORD")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.user, password, args.context)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
