#!/usr/bin/python3
"""A stand-in for `sn_demo --users FILE` (tests/auth_browser.sh), correct or
broken on purpose, so that each of the harness's checks can be seen failing
against a server that gets one thing wrong.

  fake_device.py --port P --cert PEM --key KEY --users FILE --static DIR
                 [--session-idle S] [--bug BUG]

HTTPS on 127.0.0.1 and ::1 port P (one listener per family), the login
interface of /work/wt/HELPERS.md in the small: the dashboard's files from DIR,
GET /login (open), POST /login (form fields user, password; PBKDF2-SHA256
verifiers in sn-passwd's format), POST /logout, GET /api/status (with
"user"), POST /api/echo, the CSRF rule (Sec-Fetch-Site, Origin) and idle
sessions. No throttling, no Basic. BUG, one of:
  httponly      the session cookie lacks HttpOnly
  samesite-lax  the session cookie has SameSite=Lax
  no-csrf       state-changing requests are not checked for Sec-Fetch-Site or Origin
  keep-session  logout clears the cookie but the session stays valid on the server
  no-expiry     sessions never go idle
  login-200     a failed login answers 200 (with the login page)
  no-redirect   a page without a session is served anyway (no 303 to /login)
Debian's python3 standard library only. Runs until killed.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse

COOKIE = "__Host-sn"


def load_users(path):
    users = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, role, alg, it, salt, digest = line.split(":")
            assert alg == "pbkdf2-sha256"
            users[name] = (role, int(it), bytes.fromhex(salt), bytes.fromhex(digest))
    return users


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--users", required=True)
    ap.add_argument("--static", required=True)
    ap.add_argument("--session-idle", type=float, default=900)
    ap.add_argument("--bug", default="")
    a = ap.parse_args()
    users = load_users(a.users)
    sessions, lock = {}, threading.Lock()
    started = time.monotonic()
    counts = {"requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("fake_device: %.3f %s\n" % (time.monotonic() - started, fmt % args))

        def send(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=()):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def file(self, name, status=200):
            path = os.path.join(a.static, name)
            ext = os.path.splitext(name)[1]
            ctype = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                     ".css": "text/css; charset=utf-8"}.get(ext, "application/octet-stream")
            with open(path, "rb") as f:
                self.send(status, f.read(), ctype)

        def session(self):
            for part in self.headers.get("Cookie", "").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE:
                    with lock:
                        s = sessions.get(v)
                        now = time.monotonic()
                        if s and (a.bug == "no-expiry" or now - s["last"] <= a.session_idle):
                            s["last"] = now
                            return v, s
                        sessions.pop(v, None)
            return None, None

        def cross_site(self):
            if a.bug == "no-csrf":
                return False
            site = self.headers.get("Sec-Fetch-Site")
            origin = self.headers.get("Origin")
            if site is not None and site not in ("same-origin", "none"):
                return True
            return origin is not None and origin != "https://" + self.headers.get("Host", "")

        def body(self):
            n = int(self.headers.get("Content-Length", "0"))
            return self.rfile.read(n) if n else b""

        def do_GET(self):
            counts["requests"] += 1
            path = urllib.parse.urlsplit(self.path).path
            if path == "/login":
                return self.file("login.html")
            if path in ("/login.js", "/style.css"):
                return self.file(path[1:])
            if path == "/api/health":
                return self.send(200, '{"ok":true}\n', "application/json")
            sid, s = self.session()
            if s is None and path.startswith("/api/"):
                return self.send(401, "login needed\n", headers=[("WWW-Authenticate", 'Basic realm="securenet", charset="UTF-8"')])
            if s is None and a.bug != "no-redirect":
                return self.send(303, "", headers=[("Location", "/login")])
            if path == "/api/status":
                st = {"uptime_ms": int((time.monotonic() - started) * 1000), "connections": 1,
                      "requests": counts["requests"], "tls": {"version": "TLSv1.3", "suite": "fake"}, "client": None}
                if s:
                    st["user"] = s["user"]
                return self.send(200, json.dumps(st) + "\n", "application/json")
            name = "index.html" if path == "/" else path[1:]
            if "/" in name or not os.path.isfile(os.path.join(a.static, name)):
                return self.send(404, "not found\n")
            return self.file(name)

        def do_POST(self):
            counts["requests"] += 1
            path = urllib.parse.urlsplit(self.path).path
            data = self.body()
            if self.cross_site():
                return self.send(403, "cross-site request refused\n")
            if path == "/login":
                form = urllib.parse.parse_qs(data.decode("utf-8", "replace"))
                name, pw = form.get("user", [""])[0], form.get("password", [""])[0]
                u = users.get(name)
                good = u and hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", pw.encode(), u[2], u[1]), u[3])
                if not good:
                    return self.file("login.html", 200 if a.bug == "login-200" else 401)
                sid = secrets.token_hex(16)
                with lock:
                    sessions[sid] = {"user": name, "last": time.monotonic()}
                attrs = ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"]
                if a.bug == "httponly":
                    attrs.remove("HttpOnly")
                if a.bug == "samesite-lax":
                    attrs[2] = "SameSite=Lax"
                return self.send(303, "", headers=[("Location", "/"), ("Set-Cookie", "%s=%s; %s" % (COOKIE, sid, "; ".join(attrs)))])
            if path == "/logout":
                sid, s = self.session()
                if sid and a.bug != "keep-session":
                    with lock:
                        sessions.pop(sid, None)
                return self.send(303, "", headers=[("Location", "/login"),
                                 ("Set-Cookie", "%s=; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Path=/" % COOKIE)])
            sid, s = self.session()
            if s is None:
                return self.send(401, "login needed\n", headers=[("WWW-Authenticate", 'Basic realm="securenet", charset="UTF-8"')])
            if a.bug != "no-csrf" and self.headers.get("Sec-Fetch-Site") is None and self.headers.get("Origin") is None:
                return self.send(403, "cross-site request refused\n")
            if path == "/api/echo":
                return self.send(200, data, self.headers.get("Content-Type", "application/octet-stream"))
            return self.send(404, "not found\n")

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    class Server6(Server):
        address_family = socket.AF_INET6

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    servers = [Server(("127.0.0.1", a.port), Handler)]
    try:
        servers.append(Server6(("::1", a.port), Handler))
    except OSError:
        pass
    for s in servers:
        s.socket = ctx.wrap_socket(s.socket, server_side=True, do_handshake_on_connect=False)  # in the handler thread
    print("fake_device: listening on https://localhost:%d/ (bug: %s)" % (a.port, a.bug or "none"), flush=True)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
