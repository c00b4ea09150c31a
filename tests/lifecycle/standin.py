#!/usr/bin/python3
"""A stand-in for sn_demo's issue-16 interfaces, to try tests/lifecycle.sh on
before sn_demo has them, and to see each of its checks fail on purpose:

  SN_DEMO=tests/lifecycle/standin.py tests/lifecycle.sh
  LC_STANDIN_BUG=continue-first SN_DEMO=tests/lifecycle/standin.py tests/lifecycle.sh

It takes sn_demo's options (--https-port, --cert, --key; the others are
ignored), prints "listening", serves one thread per connection and ends with
status 0 on SIGTERM. Its heap_bytes is a model, not a measurement: a fixed
base, plus 20000 per open connection, plus what a bug holds.

LC_STANDIN_BUG (one of):
  continue-first  sends 100 Continue before refusing a body over 4 GiB with 413
  413-keep-open   keeps the connection open after that 413 (the body announced is never read)
  sha             the sha256 misses the body's first byte
  buffer-body     an upload's bytes count in heap_bytes until its end (a buffered body)
  no-abort-count  a client leaving mid-upload is not counted in "aborted"
  leak-abort      a client leaving mid-upload, or before its delayed reply, leaves 10000 bytes
                  in heap_bytes
  no-backpressure delay_ms is ignored
  blocking-delay  /api/delay sleeps in the handler and every request waits for it (a server
                  whose one thread is blocked): one delay at a time, nothing else served meanwhile
  no-late         a delayed reply to a client that left is not counted in "late"
  worker-inline   /api/worker answers at once, "thread": false
Standard library only.
"""
import hashlib
import json
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

BUG = __import__("os").environ.get("LC_STANDIN_BUG", "")
LOCK = threading.Lock()
SERIAL = threading.Lock()
ST = {"connections": 0, "requests": 0, "aborted": 0, "late": 0, "held": 0}
T0 = time.monotonic()
MAX_UPLOAD = 4294967296


def add(k, n):
    with LOCK:
        ST[k] += n


class Gone(Exception):
    pass


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def more(self, n=65536):
        try:
            d = self.s.recv(n)
        except (OSError, ssl.SSLError) as e:
            raise Gone(str(e))
        if not d:
            raise Gone("eof")
        return d

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 32768:
                raise Gone("head too long")
            self.buf += self.more()
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return method, target, hdrs

    def piece(self, limit):
        """At most limit bytes (at most 4096) of what has arrived."""
        if not self.buf:
            self.buf = self.more(4096)
        d, self.buf = self.buf[:min(limit, 4096)], self.buf[min(limit, 4096):]
        return d

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.more()
        ln, _, self.buf = self.buf.partition(b"\r\n")
        return ln

    def pieces(self, hdrs):
        """The body in pieces of at most 4096 bytes, chunk framing removed."""
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            while True:
                n = int(self.line().split(b";")[0], 16)
                if n == 0:
                    while self.line():
                        pass
                    return
                while n:
                    d = self.piece(n)
                    n -= len(d)
                    yield d
                if self.line() != b"":
                    raise Gone("bad chunk end")
        n = int(hdrs.get("content-length", "0"))
        while n:
            d = self.piece(n)
            n -= len(d)
            yield d

    def send(self, code, body, ctype="application/json", close=False):
        reason = {200: "OK", 404: "Not Found", 413: "Content Too Large", 400: "Bad Request"}.get(code, "X")
        self.s.sendall(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                        % (code, reason, ctype, len(body), "Connection: close\r\n" if close else "")).encode() + body)

    def gone(self):
        """The client has left (EOF or reset), without taking bytes it sent."""
        r, _, _ = select.select([self.s], [], [], 0)
        if not r and not self.s.pending():
            return False
        try:
            self.buf += self.more()
            return False
        except Gone:
            return True


def query(target, name, lo, hi):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    v = int(q.get(name, ["0"])[0])
    if not lo <= v <= hi:
        raise ValueError(name)
    return v


def upload(c, target, hdrs):
    length = int(hdrs.get("content-length", "-1"))
    delay = query(target, "delay_ms", 0, 1000)
    cont = hdrs.get("expect", "").lower() == "100-continue"
    if length > MAX_UPLOAD:
        if cont and BUG == "continue-first":
            c.s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        c.send(413, b'{"error": 413}\n', close=BUG != "413-keep-open")
        if BUG == "413-keep-open":
            time.sleep(30)
        return False
    if cont:
        c.s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    h, n, held = hashlib.sha256(), 0, 0
    try:
        for d in c.pieces(hdrs):
            h.update(d[1:] if BUG == "sha" and n == 0 else d)
            n += len(d)
            if BUG == "buffer-body":
                held += len(d)
                add("held", len(d))
            if delay and BUG != "no-backpressure":
                time.sleep(delay / 1000.0)
    except Gone:
        if BUG != "no-abort-count":
            add("aborted", 1)
        if BUG == "leak-abort":
            add("held", 10000)
        raise
    finally:
        add("held", -held)
    c.send(200, json.dumps({"bytes": n, "sha256": h.hexdigest()}).encode() + b"\n")
    return True


def delay(c, target):
    ms = query(target, "ms", 0, 60000)
    time.sleep(ms / 1000.0)
    if c.gone():
        add("aborted", 1)
        if BUG == "leak-abort":
            add("held", 10000)
        if BUG != "no-late":
            add("late", 1)
        raise Gone("late")
    c.send(200, json.dumps({"waited_ms": ms}).encode() + b"\n")


def worker(c, target):
    ms = query(target, "ms", 0, 60000)
    done = threading.Event()
    if BUG != "worker-inline":
        threading.Thread(target=lambda: (time.sleep(ms / 1000.0), done.set()), daemon=True).start()
        done.wait(ms / 1000.0 + 10)
    c.send(200, json.dumps({"thread": BUG != "worker-inline", "ms": ms}).encode() + b"\n")


def serve(c):
    while True:
        method, target, hdrs = c.head()
        add("requests", 1)
        if BUG == "blocking-delay":
            with SERIAL:
                more = route(c, method, target, hdrs)
        else:
            more = route(c, method, target, hdrs)
        if not more or hdrs.get("connection", "").lower() == "close":
            return


def route(c, method, target, hdrs):
    """Answers one request: True to go on with the connection, False to end it."""
    path = urllib.parse.urlsplit(target).path
    try:
        if method == "GET" and path == "/api/status":
            with LOCK:
                d = {"uptime_ms": int((time.monotonic() - T0) * 1000), "connections": ST["connections"],
                     "requests": ST["requests"], "tls": None, "client": None,
                     "heap_bytes": 500000 + 20000 * ST["connections"] + ST["held"],
                     "aborted": ST["aborted"], "late": ST["late"]}
            c.send(200, json.dumps(d).encode() + b"\n")
        elif method == "GET" and path.startswith("/api/hello/"):
            c.send(200, ("hello, %s\n" % urllib.parse.unquote(path[11:])).encode(), "text/plain; charset=utf-8")
        elif method == "POST" and path == "/api/echo":
            body = b"".join(c.pieces(hdrs))
            c.send(200, body, hdrs.get("content-type", "application/octet-stream"))
        elif method in ("PUT", "POST") and path == "/api/upload":
            return upload(c, target, hdrs)
        elif method == "GET" and path == "/api/delay":
            delay(c, target)
        elif method == "GET" and path == "/api/worker":
            worker(c, target)
        else:
            c.send(404, b'{"error": 404}\n', close=True)
            return False
    except ValueError:
        c.send(400, b'{"error": 400}\n', close=True)
        return False
    return True


def handle(raw, ctx):
    add("connections", 1)
    try:
        raw.settimeout(60)
        s = ctx.wrap_socket(raw, server_side=True)
        try:
            serve(Conn(s))
        finally:
            s.close()
    except (Gone, OSError, ssl.SSLError, ValueError):
        pass
    finally:
        raw.close()
        add("connections", -1)


def main():
    args = sys.argv[1:]
    opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    port = int(opt.get("--https-port", "8443"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opt.get("--cert", "build/certs/server.pem"), opt.get("--key", "build/certs/server.key"))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(128)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    print("standin: listening on https://127.0.0.1:%d/%s" % (port, " (bug: %s)" % BUG if BUG else ""), flush=True)
    ls.settimeout(0.2)
    while not stop.is_set():
        try:
            raw, _ = ls.accept()
        except (socket.timeout, InterruptedError):
            continue
        threading.Thread(target=handle, args=(raw, ctx), daemon=True).start()
    ls.close()
    print("standin: stopped", flush=True)


if __name__ == "__main__":
    main()
