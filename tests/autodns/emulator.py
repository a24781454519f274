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
- at most 3 requests per second per client (429 beyond).
Status codes follow the documented pattern (S/E + task code: 0511 create, 0512 update, 0513 delete,
0514 info/list); the EF message codes are this emulator's own, since AutoDNS does not publish them.

Control routes (no auth, for the tests): POST /_emulator/reset, /_emulator/seed (a list of objects),
/_emulator/fault ({"match": "METHOD /path-prefix", "kind": ..., "count": n, "delay": s}), /_emulator/config;
GET /_emulator/requests (the log), /_emulator/objects.
Fault kinds: error500 (a JSON error envelope with HTTP 500), empty500 (HTTP 500, empty body),
nonjson (HTTP 502 with an HTML body), ratelimit (HTTP 429 envelope), drop (close the connection without
an answer, before acting), slow (act on the request, then wait `delay` seconds before answering).
"""
import argparse
import base64
import copy
import fnmatch
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

    def store(self, obj, current, merge=False):
        """The stored object after a create (current None) or an update."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
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
            elif path == "/_emulator/fault":
                st.faults.append(dict({"count": 1}, **data))
            elif path == "/_emulator/config":
                st.legacy_greylisting = bool(data.get("legacy_greylisting", False))
            elif path == "/_emulator/requests":
                return self.send_json(200, st.log)
            elif path == "/_emulator/objects":
                return self.send_json(200, st.objects)
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
