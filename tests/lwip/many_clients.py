#!/usr/bin/python3
"""many_clients.py ADDR PORT CAFILE N [TIMEOUT]: N HTTPS clients at once.

N threads start together (a barrier); each makes two TLS connections to
ADDR:PORT, one after the other, verifying the certificate for the name
localhost against CAFILE, with one request on each (Connection: close):
  GET /api/hello/c<i>   must answer 200 "hello, c<i>\\n"
  POST /api/echo        16 KiB of bytes unique to client i, with Content-Type
                        application/x-c<i>, must come back byte for byte with it
One request per connection: with more clients than the server's connection
slots, an idle keep-alive connection may be closed to make room (securenet's
LRU eviction), which a client would have to retry; a new connection is never
evicted before its first request.
Every socket operation is bounded by TIMEOUT seconds (default 30) and the
whole run by TIMEOUT + 10.

Prints "ok - ..." or "not ok - ...: why" (one line for all N clients) and
"# ..." notes: how long the slowest client took, the first errors.
Standard library only; run with /usr/bin/python3.
"""
import http.client
import random
import socket
import ssl
import sys
import threading
import time

ADDR, PORT, CAFILE, N = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
TIMEOUT = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
ctx = ssl.create_default_context(cafile=CAFILE)
start = threading.Barrier(N + 1)
results = [None] * N  # per client: None (still running), or (error or "", seconds)


def client(i):
    try:
        start.wait(TIMEOUT)
    except threading.BrokenBarrierError:
        results[i] = ("the start barrier broke", 0.0)
        return
    t0 = time.time()
    stage = ["GET: connect"]
    try:
        status, body, _ = one(stage, "GET", "/api/hello/c%d" % i, None, {})
        if status != 200 or body != b"hello, c%d\n" % i:
            raise AssertionError("%d %r" % (status, body[:60]))
        data = random.Random(i).randbytes(16384)
        stage[0] = "POST: connect"
        status, body, ctype = one(stage, "POST", "/api/echo", data, {"Content-Type": "application/x-c%d" % i})
        if status != 200 or body != data or ctype != "application/x-c%d" % i:
            raise AssertionError("%d, %d bytes, same=%s, Content-Type %s" % (status, len(body), body == data, ctype))
        results[i] = ("", time.time() - t0)
    except Exception as e:  # each client reports its own failure, whatever it was
        results[i] = ("%s: %s: %s" % (stage[0], type(e).__name__, e), time.time() - t0)


def one(stage, method, path, data, headers):
    """One request on a new verified TLS connection: (status, body, Content-Type).
    stage[0] says how far it got: "METHOD: connect|handshake|request|response"."""
    with socket.create_connection((ADDR, PORT), timeout=TIMEOUT) as raw:
        stage[0] = method + ": handshake"
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            stage[0] = method + ": request"
            conn = http.client.HTTPConnection(ADDR, PORT, timeout=TIMEOUT)
            conn.sock = sock
            conn.request(method, path, body=data, headers=dict(headers, Host="localhost", Connection="close"))
            stage[0] = method + ": response"
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("Content-Type")


threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(N)]
for t in threads:
    t.start()
t0 = time.time()
try:
    start.wait(TIMEOUT)
except threading.BrokenBarrierError:
    pass
deadline = time.time() + TIMEOUT + 10
for t in threads:
    t.join(max(0.0, deadline - time.time()))
took = time.time() - t0
bad = [(i, r) for i, r in enumerate(results) if r is None or r[0]]
times = [r[1] for r in results if r is not None and not r[0]]
if times:
    print("# %d clients done in %.2f s; fastest %.2f s, slowest %.2f s" % (N - len(bad), took, min(times), max(times)))
for i, r in bad[:5]:
    print("#   client %d: %s" % (i, "still running at the deadline" if r is None else "%s (after %.2f s)" % r))
what = ("%d concurrent HTTPS clients (started together), two connections each: each verifies localhost, gets "
        "its own /api/hello/c<i>, and its own 16 KiB POST /api/echo back byte for byte" % N)
if bad:
    print("not ok - %s: %d of %d failed" % (what, len(bad), N))
    sys.exit(1)
print("ok - %s" % what)
