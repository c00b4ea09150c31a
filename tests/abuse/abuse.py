#!/usr/bin/env python3
"""Hostile clients for tests/abuse.sh: each attack runs against a live sn_demo
for a bounded time and prints its own checks as "ok - ..." / "not ok - ...: why"
and notes as "# ..." lines. tests/abuse.sh runs a normal client beside each
attack and checks the server's memory afterwards.

  abuse.py ATTACK --port P [--http-port H] --ca CAFILE [options]

  loris     N connections that send one header byte every --interval seconds,
            reconnecting when the server closes them, for --seconds; then no new
            ones, and every open one must be closed by the server within --drain.
            --mode tls|plain|handshake|idle: 'handshake' sends a ClientHello
            and then nothing; 'idle' completes the TLS handshake and sends nothing.
  maxconns  against a server with a small --max-conns: idle keep-alive
            connections are evicted for busy clients, mid-request ones are not
            (the newcomer waits for the request timeout), and a burst of
            clients far beyond the limit is served in the end.
  stall     connections that ask for a huge download and stop reading
            (the shell watches the server's heap and RSS meanwhile).
  garbage   TLS garbage: random bytes, truncated and replayed handshakes, an
            SSLv2 ClientHello, ClientHellos with hundreds of suites or extensions.
  cuts      clients that disconnect at every stage: mid-handshake, mid-headers,
            mid-TLS-record, mid-body, mid-response (FIN and RST).
  traversal path traversal against the static file table.
  bigcl     --conns plain (and --tls-conns TLS) connections that each send a head
            announcing a --content-length body and then no body: heap_bytes
            (/api/status, over --heap-base) must stay within --per-conn bytes per
            connection, then within that plus twice what each really sent after
            a trickle of body bytes (memory follows what arrived, not what was
            announced); afterwards a whole large body is still echoed intact.

Standard library only; run with /usr/bin/python3.
"""
import argparse
import asyncio
import concurrent.futures
import os
import random
import select
import socket
import ssl
import struct
import sys
import time

A = None  # the parsed arguments
HOST = "127.0.0.1"
failed = 0


def report(cond, name, why=""):
    global failed
    if cond:
        print("ok - %s" % name, flush=True)
    else:
        failed += 1
        print("not ok - %s: %s" % (name, why), flush=True)


def note(msg):
    print("# " + msg, flush=True)


def tls_ctx(max12=False):
    ctx = ssl.create_default_context(cafile=A.ca)
    if max12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def rst_close(s):
    """Closes with a TCP reset instead of a FIN (SO_LINGER 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def tcp(port=None, timeout=5.0):
    return socket.create_connection((HOST, port or A.port), timeout=timeout)


def connect_tls(port=None, timeout=5.0):
    s = tcp(port, timeout)
    return tls_ctx().wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False)


def read_until_end(s, wait):
    """Reads until the peer ends the stream or `wait` seconds pass: (bytes, how)."""
    out = b""
    end = time.time() + wait
    while True:
        left = end - time.time()
        if left <= 0:
            return out, "timeout"
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return out, "timeout"
        except ssl.SSLEOFError:
            return out, "ragged"
        except (ConnectionResetError, BrokenPipeError):
            return out, "reset"
        except ssl.SSLError as e:
            return out, "tls-error " + str(e.reason)
        except OSError as e:
            return out, "error " + str(e)
        if not d:
            return out, "eof"
        out += d


def status(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def get(path, tls=True, port=None, wait=5.0):
    s = connect_tls(port) if tls else tcp(port)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
    out, how = read_until_end(s, wait)
    s.close()
    return out, how


# ---- raw TLS: a handshake through memory BIOs, so its bytes can be cut, kept and replayed ----
class RawTLS:
    """A TLS client whose record bytes pass through our hands: .flights holds
    what the client sent, one entry per write, in order."""

    def __init__(self, port=None, max12=True, sock=None, offline=False):
        self.sock = None if offline else (sock or tcp(port))
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = tls_ctx(max12).wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.flights = []

    def client_hello(self):
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        ch = self.out.read()
        self.flights.append(ch)
        return ch

    def handshake(self, timeout=5.0):
        """Runs the whole handshake over the socket; returns True when done."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                self.obj.do_handshake()
                data = self.out.read()
                if data:
                    self.flights.append(data)
                    self.sock.sendall(data)
                return True
            except ssl.SSLWantReadError:
                data = self.out.read()
                if data:
                    self.flights.append(data)
                    self.sock.sendall(data)
                self.sock.settimeout(max(0.05, end - time.time()))
                d = self.sock.recv(65536)
                if not d:
                    return False
                self.inc.write(d)
        return False

    def encrypt(self, data):
        self.obj.write(data)
        return self.out.read()


def tls_records(data):
    """Splits a byte stream into (type, version, body) TLS records; the rest is ignored."""
    recs, i = [], 0
    while i + 5 <= len(data):
        t, v, n = data[i], data[i + 1:i + 3], struct.unpack(">H", data[i + 3:i + 5])[0]
        if i + 5 + n > len(data):
            break
        recs.append((t, v, data[i + 5:i + 5 + n]))
        i += 5 + n
    return recs


def server_answer(s, wait=3.0):
    """What the server said to a ClientHello: ('hello', suite), ('alert', desc),
    ('closed', how) or ('nothing', how)."""
    data, end = b"", time.time() + wait
    how = "timeout"
    while time.time() < end:
        recs = tls_records(data)
        for t, _, body in recs:
            if t == 22 and body[:1] == b"\x02" and len(body) >= 4 + 2 + 32 + 1:
                sid = body[38]
                return "hello", struct.unpack(">H", body[39 + sid:41 + sid])[0]
            if t == 21 and len(body) >= 2:
                return "alert", body[1]
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
            break
        if not d:
            how = "eof"
            break
        data += d
    return ("closed" if how in ("eof", "reset") else "nothing"), "%s after %d bytes" % (how, len(data))


def ext(t, body):
    return struct.pack(">HH", t, len(body)) + body


def vec16(b):
    return struct.pack(">H", len(b)) + b


def crafted_client_hello(suites, extra_exts=b"", record_max=16384):
    """A TLS 1.2 ClientHello made by hand: our suites, the extensions an
    ECDHE-ECDSA handshake needs, then extra_exts; split into records of at
    most record_max bytes of handshake data."""
    exts = (ext(0, vec16(b"\x00" + vec16(b"localhost")))  # server_name
            + ext(10, vec16(b"\x00\x1d\x00\x17\x00\x18"))  # supported_groups: x25519, P-256, P-384
            + ext(11, b"\x01\x00")  # ec_point_formats: uncompressed
            + ext(13, vec16(b"\x04\x03\x05\x03\x08\x04\x04\x01"))  # signature_algorithms
            + ext(0xff01, b"\x00")  # renegotiation_info (empty)
            + extra_exts)
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + vec16(b"".join(struct.pack(">H", s) for s in suites))
            + b"\x01\x00" + vec16(exts))
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    out = b""
    for i in range(0, len(hs), record_max):
        frag = hs[i:i + record_max]
        out += b"\x16\x03\x01" + struct.pack(">H", len(frag)) + frag
    return out


# ---- loris: many slow connections, reconnecting --------------------------------------------
async def loris_conn(stats, deadline, hard_end):
    """One slot of the attack: connects again and again until `deadline`;
    the connection open at the deadline goes on until the server closes it
    or `hard_end`."""
    line = b"GET /api/hello/loris HTTP/1.1\r\nHost: x\r\n" + b"X-Loris: " + b"z" * 4000 + b"\r\n"
    while time.time() < deadline:
        t_conn = time.time()
        writer = None
        try:
            rest = max(0.1, hard_end - time.time())
            if A.mode in ("tls", "idle"):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, A.port, ssl=tls_ctx(), server_hostname="localhost"), rest)
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, A.http_port if A.mode == "plain" else A.port), rest)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
            stats["connect_fail"] += 1
            stats["connect_errors"].add(type(e).__name__)
            await asyncio.sleep(0.2)
            continue
        stats["opened"] += 1
        t_admit = time.time()  # TLS: the handshake is done, so the server holds a slot for it
        admitted = A.mode in ("tls", "idle")  # plain: the connection may still be in the backlog
        got, how = b"", "open"
        i = 0
        try:
            if A.mode == "handshake":
                writer.write(RawTLS(offline=True).client_hello())  # a fresh ClientHello, then silence
                await writer.drain()
            while True:
                if A.mode in ("tls", "plain") and i < len(line):
                    writer.write(line[i:i + 1])
                    i += 1
                    await writer.drain()
                left = hard_end - time.time()
                if left <= 0:
                    how = "still open"
                    break
                try:
                    d = await asyncio.wait_for(reader.read(65536), min(A.interval, left))
                except asyncio.TimeoutError:
                    continue
                if not d:
                    how = "eof"
                    break
                if not got and A.mode == "handshake":
                    t_admit = time.time()  # the server answered: it holds a slot for us now
                    admitted = True
                got += d
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
        except (ssl.SSLError, OSError) as e:
            how = "error " + type(e).__name__
        t_end = time.time()
        if how == "still open":
            stats["still_open"] += 1
            if admitted:
                stats["max_life"] = max(stats["max_life"], t_end - t_admit)
        else:
            stats["closed_by_server"] += 1
            stats["max_life"] = max(stats["max_life"], t_end - t_admit)
            stats["max_life_conn"] = max(stats["max_life_conn"], t_end - t_conn)
        if got.startswith(b"HTTP/1.1 408"):
            stats["s408"] += 1
        stats["ends"][how.split(" ")[0]] = stats["ends"].get(how.split(" ")[0], 0) + 1
        try:
            writer.close()
        except Exception:
            pass


async def loris_main():
    stats = {"opened": 0, "connect_fail": 0, "connect_errors": set(), "closed_by_server": 0, "still_open": 0,
             "max_life": 0.0, "max_life_conn": 0.0, "s408": 0, "ends": {}}
    t0 = time.time()
    deadline = t0 + A.seconds
    hard_end = deadline + A.drain
    await asyncio.gather(*(loris_conn(stats, deadline, hard_end) for _ in range(A.conns)))
    took = time.time() - deadline
    note("loris %s: %d connections opened by %d slots in %.0f s, %d connect failures %s, ends %r, %d answered 408; "
         "longest life %.1f s after admission, %.1f s after connect; all ended %.1f s after the attack stopped"
         % (A.mode, stats["opened"], A.conns, A.seconds, stats["connect_fail"], sorted(stats["connect_errors"]),
            stats["ends"], stats["s408"], stats["max_life"], stats["max_life_conn"], took))
    report(stats["still_open"] == 0,
           "loris %s: every slow connection is closed by the server within %.0f s of the attack's end" % (A.mode, A.drain),
           "%d still open" % stats["still_open"])
    if A.max_life > 0:
        report(stats["max_life"] <= A.max_life,
               "loris %s: no connection lives longer than %.1f s once the server has taken it" % (A.mode, A.max_life),
               "longest %.1f s" % stats["max_life"])
    if A.mode in ("tls", "plain"):
        report(stats["s408"] > 0, "loris %s: the server answers the slow requests 408" % A.mode, "%d 408s" % stats["s408"])


def loris():
    asyncio.run(loris_main())


# ---- more connections than max_conns --------------------------------------------------------
def hello_keepalive(s, name):
    s.sendall(b"GET /api/hello/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name)
    buf = b""
    s.settimeout(10)
    while not buf.endswith(b"hello, %s\n" % name):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return status(buf)


def is_closed(s, wait=0.3):
    s.settimeout(wait)
    try:
        return s.recv(100) == b""
    except socket.timeout:
        return False
    except (ssl.SSLError, OSError):
        return True


async def busy_client(i, results):
    """A normal client that may have to wait for a slot: 5 requests on keep-alive
    connections. An idle keep-alive connection may be evicted (closed, or reset
    when the next request was already on its way), and then, as RFC 9112 9.3.1
    lets a client do for a request the server has not answered, it connects
    again and repeats it. results gets (answers, reconnections)."""
    n, again, end = 0, -1, time.time() + 25
    while n < 5 and time.time() < end:
        again += 1
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, A.port, ssl=tls_ctx(), server_hostname="localhost"), 20)
            while n < 5:
                writer.write(b"GET /api/hello/b%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                want = b"hello, b%d\n" % i
                buf = b""
                while not buf.endswith(want):
                    d = await asyncio.wait_for(reader.read(4096), 20)
                    if not d:
                        break
                    buf += d
                if not (buf.startswith(b"HTTP/1.1 200") and buf.endswith(want)):
                    break
                n += 1
            writer.close()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            await asyncio.sleep(0.05)
    results.append((n, again))


def maxconns():
    m = A.max_conns
    # 1. m idle keep-alive connections fill the server; 3 m busy clients come.
    idle = []
    for i in range(m):
        s = connect_tls()
        hello_keepalive(s, b"idle%d" % i)
        idle.append(s)
    results = []

    async def burst():
        await asyncio.gather(*(busy_client(i, results) for i in range(3 * m)))
    t0 = time.time()
    asyncio.run(burst())
    took = time.time() - t0
    evicted = sum(is_closed(s, 0.05) for s in idle)
    good = sum(1 for r in results if r[0] == 5)
    note("maxconns: %d busy clients against %d slots: %d got all 5 answers in %.1f s after %d reconnections "
         "(evicted between two requests), %d of %d idle ones evicted"
         % (3 * m, m, good, took, sum(r[1] for r in results), evicted, m))
    report(good == 3 * m, "max-conns %d: %d busy keep-alive clients beyond the limit all get their 5 answers "
           "(reconnecting when evicted)" % (m, 3 * m), "%d of %d: %r" % (good, 3 * m, results))
    report(evicted == m, "max-conns %d: the idle keep-alive connections are evicted to admit them" % m,
           "%d of %d evicted" % (evicted, m))
    for s in idle:
        s.close()
    time.sleep(0.5)
    # 2. m connections in the middle of a request: none may be evicted; a newcomer waits.
    mid = []
    for i in range(m):
        s = connect_tls()
        s.sendall(b"GET /api/hello/mid%d HTTP/1.1\r\nHost: x\r\n" % i)
        mid.append(s)
    time.sleep(0.2)
    t0 = time.time()
    try:
        s = connect_tls(timeout=A.request_timeout + 8)
        st = hello_keepalive(s, b"newcomer")
        s.close()
    except (OSError, ssl.SSLError) as e:
        st = repr(e)
    waited = time.time() - t0
    ends = []
    for s in mid:
        out, how = read_until_end(s, 3)
        ends.append((status(out), how))
        s.close()
    n408 = sum(1 for e in ends if e[0] == 408)
    note("maxconns: with %d mid-request connections the newcomer waited %.1f s (status %r); their ends: %r"
         % (m, waited, st, sorted(set(ends))))
    report(st == 200 and A.request_timeout - 1.0 <= waited <= A.request_timeout + 6,
           "max-conns %d: a newcomer waits while every slot is mid-request and is served once they time out" % m,
           "status %r after %.1f s (request timeout %.1f s)" % (st, waited, A.request_timeout))
    report(n408 == m, "max-conns %d: no connection in the middle of a request is evicted (each ends with its 408)" % m,
           "%d of %d got 408: %r" % (n408, m, sorted(set(ends))))
    # 3. a burst far beyond the limit: 10 m connections at once, one request each.
    results = []

    async def one(i):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, A.port, ssl=tls_ctx(), server_hostname="localhost"), 30)
            writer.write(b"GET /api/hello/x%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i)
            d = await asyncio.wait_for(reader.read(), 30)
            results.append(d.startswith(b"HTTP/1.1 200"))
            writer.close()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            results.append(False)

    async def flood():
        await asyncio.gather(*(one(i) for i in range(10 * m)))
    t0 = time.time()
    asyncio.run(flood())
    note("maxconns: %d simultaneous one-request clients: %d served in %.1f s" % (10 * m, sum(results), time.time() - t0))
    report(sum(results) == 10 * m, "max-conns %d: %d simultaneous clients all served in the end (they wait, none lost)"
           % (m, 10 * m), "%d of %d" % (sum(results), 10 * m))


# ---- a client that stops reading a large response ----------------------------------------
def stall():
    socks = []
    targets = [b"/api/blob?bytes=50000000", b"/stream?n=10000000"]
    for i in range(A.conns):
        tls = i % 4 != 3  # every fourth over plain HTTP
        s = connect_tls() if tls else tcp(A.http_port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % targets[i % 2])
        s.settimeout(5)
        got = s.recv(65536)
        socks.append((s, tls, len(got)))
    print("STALLED", flush=True)  # the shell measures from here
    time.sleep(A.seconds)
    # Now read what is left: the server must have given up on us (a truncated body).
    ends, total = [], 0
    for s, tls, n in socks:
        out, how = read_until_end(s, 20)
        ends.append(how)
        total += n + len(out)
        s.close()
    note("stall: %d stalled downloads received %.1f MB in all before the server ended them; ends %r"
         % (len(socks), total / 1e6, sorted(set(ends))))
    report(all(e != "timeout" for e in ends) and total < len(socks) * 20e6,
           "stall: the server ended every stalled download (bodies cut short, not sent in full)",
           "ends %r, %d bytes" % (ends, total))


# ---- heads announcing a big body that never comes --------------------------------------------
def server_status():
    """/api/status as a dict (a normal client, over TLS), or None."""
    import json
    out, _ = get(b"/api/status")
    try:
        return json.loads(out.partition(b"\r\n\r\n")[2])
    except ValueError:
        return None


def bigcl_round(tls, n, head):
    socks = []
    for i in range(n):
        try:
            s = connect_tls() if tls else tcp(A.http_port)
            s.sendall(head)
            socks.append(s)
        except (OSError, ssl.SSLError) as e:
            note("bigcl: connection %d: %s" % (i, e))
            break
    time.sleep(0.3)
    st = server_status() or {}
    held = st.get("heap_bytes", -1) - A.heap_base
    trickle = 5000
    for s in socks:
        try:
            s.sendall(b"x" * trickle)
        except (OSError, ssl.SSLError):
            pass
    time.sleep(0.3)
    st2 = server_status() or {}
    fed = st2.get("heap_bytes", -1) - A.heap_base
    for s in socks:
        s.close()
    kind = "TLS" if tls else "plain"
    note("bigcl: %d %s heads of Content-Length %d: heap_bytes %d over the baseline (%d per connection), "
         "%d after %d body bytes each; %s connections open"
         % (len(socks), kind, A.content_length, held, held // max(len(socks), 1), fed, trickle,
            st.get("connections")))
    per = A.per_conn if not tls else A.per_conn_tls
    report(len(socks) == n and "heap_bytes" in st and held <= n * per,
           "bigcl: %d %s heads announcing %d body bytes raise heap_bytes by at most %d bytes per connection, "
           "not by the announced length (%d per connection)" % (n, kind, A.content_length, per, held // max(n, 1)),
           "%d connections held, heap_bytes %d over the baseline" % (len(socks), held))
    report("heap_bytes" in st2 and fed <= n * (per + 2 * trickle),
           "bigcl: after %d body bytes on each, heap_bytes follows what arrived (at most %d per connection; %d)"
           % (trickle, per + 2 * trickle, fed // max(n, 1)), "heap_bytes %d over the baseline" % fed)
    for _ in range(50):  # the server notices the closes within a poll round or two
        st = server_status() or {}
        if st.get("connections") == 1:
            break
        time.sleep(0.1)


def bigcl():
    head = (b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % A.content_length)
    bigcl_round(False, A.conns, head)
    if A.tls_conns > 0:
        bigcl_round(True, A.tls_conns, head)
    # growth as the body arrives still delivers the whole body, byte for byte
    body = bytes(random.getrandbits(8) for _ in range(300000))
    s = connect_tls()
    s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    for k in range(0, len(body), 7000):
        s.sendall(body[k:k + 7000])
    out, how = read_until_end(s, 10)
    s.close()
    report(status(out) == 200 and out.partition(b"\r\n\r\n")[2] == body,
           "bigcl: a 300000-byte body sent in 7000-byte pieces is echoed intact",
           "status %r, %d bytes back, %s" % (status(out), len(out.partition(b"\r\n\r\n")[2]), how))


# ---- TLS garbage ---------------------------------------------------------------------------
def garbage():
    rnd = random.Random(7)
    # random bytes: the server gives up at once when the bytes cannot start a
    # TLS record; fewer than a record header's 5 bytes wait for the handshake timeout
    cases = []
    for i in range(40):
        n = rnd.choice([1, 3, 5, 64, 517, 4096, 20000])
        cases.append(bytes(rnd.getrandbits(8) for _ in range(n)))

    def one(data):
        s = tcp()
        t0 = time.time()
        try:
            s.sendall(data)
        except OSError:
            pass
        _, how = read_until_end(s, A.handshake_timeout + 3)
        took = time.time() - t0
        s.close()
        limit = A.handshake_timeout + 1.5 if len(data) < 5 else 1.0
        return None if how in ("eof", "reset") and took <= limit else (len(data), data[:5].hex(), how, round(took, 1))
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        slow = [r for r in pool.map(one, cases) if r is not None]
    report(not slow, "garbage: 40 connections of random bytes (1 B - 20 KB) are each closed, within 1 s when they "
           "hold a record header, at the handshake timeout when not", "%r" % slow[:5])
    # a truncated ClientHello, then silence: closed at the handshake timeout, not before, not never
    ch = RawTLS(offline=True).client_hello()
    s = tcp()
    s.sendall(ch[:len(ch) // 2])
    t0 = time.time()
    _, how = read_until_end(s, A.handshake_timeout + 5)
    took = time.time() - t0
    s.close()
    report(how in ("eof", "reset") and A.handshake_timeout - 0.5 <= took <= A.handshake_timeout + 2.5,
           "garbage: half a ClientHello, then silence, is closed at the handshake timeout (%.0f s)" % A.handshake_timeout,
           "%s after %.1f s" % (how, took))
    # a record header announcing more than a record may hold
    s = tcp()
    s.sendall(b"\x16\x03\x01\xff\xff" + b"\x01" * 100)
    ans = server_answer(s, 3)
    s.close()
    report(ans[0] in ("alert", "closed"), "garbage: a handshake record claiming 65535 bytes is refused at once", repr(ans))
    # replay: a whole client handshake captured, then sent again on a new connection
    r = RawTLS()
    done = r.handshake()
    app = r.encrypt(b"GET /api/hello/replay HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r.sock.sendall(app)
    first, _ = read_until_end(r.sock, 3)
    r.sock.close()
    flights = list(r.flights)
    # the first connection saw a real answer (encrypted): the capture is a working handshake
    report(done and len(flights) >= 2 and any(t == 23 for t, _, _ in tls_records(first)),
           "garbage: a real TLS 1.2 handshake and request captured for replay",
           "done=%r, %d flights, %d bytes back" % (done, len(flights), len(first)))
    s = tcp()
    s.sendall(flights[0])
    hello = server_answer(s, 3)
    answered = b""
    for f in flights[1:] + [app]:
        try:
            s.sendall(f)
        except OSError:
            break
        time.sleep(0.05)
    answered, how = read_until_end(s, 3)
    s.close()
    recs = tls_records(answered)
    report(hello[0] == "hello" and not any(t == 23 for t, _, _ in recs) and how in ("eof", "reset"),
           "garbage: a captured handshake replayed on a new connection gets a fresh ServerHello, then is refused "
           "(no application data, connection closed)",
           "hello=%r, records %r, end %s" % (hello, [t for t, _, _ in recs], how))
    # the captured ClientHello alone, many times at once: each is a fresh handshake
    socks = [tcp() for _ in range(20)]
    for s in socks:
        s.sendall(flights[0])
    answers = [server_answer(s, 3)[0] for s in socks]
    for s in socks:
        s.close()
    report(answers.count("hello") == 20, "garbage: the same ClientHello on 20 connections at once gets 20 ServerHellos",
           "%r" % answers)
    # SSLv2-format ClientHello (RFC 5246 E.2), offering TLS 1.2 and then SSL 2.0's own version
    for ver, what in ((b"\x03\x03", "TLS 1.2"), (b"\x00\x02", "SSL 2.0")):
        specs = b"\x00\xc0\x2b\x00\xc0\x2f\x01\x00\x80\x07\x00\xc0"
        msg = b"\x01" + ver + struct.pack(">HHH", len(specs), 0, 16) + specs + os.urandom(16)
        s = tcp()
        s.sendall(struct.pack(">H", 0x8000 | len(msg)) + msg)
        ans = server_answer(s, 3)
        s.close()
        report(ans[0] in ("alert", "closed"), "garbage: an SSLv2-format ClientHello (version %s) is refused" % what,
               repr(ans))
    # hundreds of suites: 600 the server does not know, ours last
    unknown = [0x5600 + i for i in range(599)]  # unassigned code points
    s = tcp()
    s.sendall(crafted_client_hello(unknown + [0xc02b]))
    ans = server_answer(s, 3)
    s.close()
    report(ans == ("hello", 0xc02b), "garbage: a ClientHello with 600 cipher suites (599 unknown) gets a ServerHello "
           "with the one it knows (ECDHE-ECDSA-AES128-GCM-SHA256)", repr(ans))
    # hundreds of unknown extensions (RFC 5246 7.4.1.4: ignored)
    extra = b"".join(ext(0xfa00 + i, b"\x00" * (i % 8)) for i in range(400))
    s = tcp()
    s.sendall(crafted_client_hello([0xc02b], extra))
    ans = server_answer(s, 3)
    s.close()
    report(ans == ("hello", 0xc02b), "garbage: a ClientHello with 400 unknown extensions gets a ServerHello",
           repr(ans))
    # a ClientHello of 8000 suites (16 KB), split over two records
    many = [0x0101 + i for i in range(8000) if 0x0101 + i not in (0xc02b,)][:7999] + [0xc02b]
    s = tcp()
    s.sendall(crafted_client_hello(many, record_max=9000))
    ans = server_answer(s, 3)
    s.close()
    report(ans[0] in ("hello", "alert", "closed"), "garbage: a 16 KB ClientHello split over two records is answered "
           "or refused within 3 s", repr(ans))
    note("garbage: the 16 KB ClientHello got %r" % (ans,))
    # the same with a bogus length inside: the handshake message claims more than the records hold
    s = tcp()
    bad = bytearray(crafted_client_hello([0xc02b], extra))
    bad[6:9] = b"\xff\xff\xff"
    s.sendall(bytes(bad))
    ans = server_answer(s, A.handshake_timeout + 3)
    s.close()
    report(ans[0] in ("alert", "closed"), "garbage: a ClientHello whose length says 16 MB is refused", repr(ans))


# ---- disconnect at every stage ------------------------------------------------------------
def cuts():
    n = 0
    # 1. mid-handshake: every prefix of a ClientHello, closed with FIN or RST
    ch = RawTLS(offline=True).client_hello()
    for k in range(1, len(ch), 3):
        s = tcp()
        s.sendall(ch[:k])
        (rst_close if k % 2 else socket.socket.close)(s)
        n += 1
    # after the server's first flight, and in the middle of the client's second
    for k in (0, 1, 10, 40, 80, 120):
        r = RawTLS()
        r.sock.sendall(r.client_hello())
        r.sock.settimeout(3)
        try:
            r.inc.write(r.sock.recv(65536))
            try:
                r.obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            flight2 = r.out.read()
            if k:
                r.sock.sendall(flight2[:k])
        except (OSError, ssl.SSLError):
            pass
        (rst_close if k % 20 else socket.socket.close)(r.sock)
        n += 1
    # 2. mid-headers, over TLS (also mid-record) and plain
    head = b"GET /api/hello/cut HTTP/1.1\r\nHost: x\r\nUser-Agent: abuse\r\nAccept: */*\r\n\r\n"
    for k in range(0, len(head)):
        for tls in (True, False):
            s = connect_tls() if tls else tcp(A.http_port)
            if k:
                s.sendall(head[:k])
            time.sleep(0.002)
            (rst_close if k % 2 else socket.socket.close)(s)
            n += 1
    for k in (1, 5, 6, 20, 60):  # a TLS record cut inside: header, nonce, ciphertext, tag
        r = RawTLS()
        r.handshake()
        rec = r.encrypt(head)
        r.sock.sendall(rec[:k])
        (rst_close if k % 2 else socket.socket.close)(r.sock)
        n += 1
    # 3. mid-body: Content-Length and chunked bodies cut anywhere
    body = os.urandom(40000)
    for k in (0, 1, 100, 1000, 16383, 16384, 16385, 30000, 39999):
        for tls in (True, False):
            s = connect_tls() if tls else tcp(A.http_port)
            s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n" + body[:k])
            time.sleep(0.005)
            (rst_close if k % 2 else socket.socket.close)(s)
            n += 1
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5000]), body[i:i + 5000]) for i in range(0, 40000, 5000))
    chunked += b"0\r\n\r\n"
    for k in (1, 3, 4, 5, 5003, 5005, 20000, len(chunked) - 3, len(chunked) - 1):
        s = connect_tls()
        s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked[:k])
        time.sleep(0.005)
        (rst_close if k % 2 else socket.socket.close)(s)
        n += 1
    # 4. mid-response: read part of a large or streamed answer, then go
    big, small = (0, 1, 100, 5000, 70000), (0, 1, 100, 300)  # bytes read before going
    for path, ks in ((b"/api/blob?bytes=5000000", big), (b"/stream?n=200000", big), (b"/index.html", small),
                     (b"/api/status", small)):
        for k in ks:
            for tls in (True, False):
                s = connect_tls() if tls else tcp(A.http_port)
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" % path)
                got = 0
                s.settimeout(3)
                try:
                    while got < k:
                        d = s.recv(min(65536, k - got))
                        if not d:
                            break
                        got += len(d)
                except (OSError, ssl.SSLError):
                    pass
                (rst_close if k % 2 else socket.socket.close)(s)
                n += 1
    # an echo whose answer is not read, with more requests pipelined behind it
    for tls in (True, False):
        s = connect_tls() if tls else tcp(A.http_port)
        try:
            s.sendall((b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n" + body) * 3)
        except (OSError, ssl.SSLError):
            pass
        rst_close(s)
        n += 1
    note("cuts: %d connections cut at every stage" % n)
    out, _ = get(b"/api/hello/after-cuts")
    report(out.endswith(b"hello, after-cuts\n"), "cuts: %d connections cut mid-handshake, mid-headers, mid-record, "
           "mid-body and mid-response; the server answers the next one" % n, repr(out[-60:]))


# ---- path traversal against the static file table ------------------------------------------
TRAVERSAL = [
    b"/../etc/passwd", b"/../../../../../../etc/passwd", b"/%2e%2e/etc/passwd", b"/%2E%2E/%2E%2E/etc/passwd",
    b"/..%2fetc%2fpasswd", b"/%2e%2e%2fetc%2fpasswd", b"/.%2e/etc/passwd", b"/%2e./etc/passwd",
    b"/%252e%252e/etc/passwd", b"/%252e%252e%252fetc%252fpasswd", b"/%25%32%65%25%32%65/etc/passwd",
    b"/index.html%00", b"/index.html%00.txt", b"/%00/index.html", b"/style.css%00/../../etc/passwd",
    b"/..\\..\\etc\\passwd", b"/%5c..%5c..%5cetc%5cpasswd", b"/..%5cetc%5cpasswd", b"/%5cindex.html",
    b"/style.css/../../etc/passwd", b"/index.html/../../securenet.h", b"/./../securenet.h", b"//etc/passwd",
    b"/%2fetc%2fpasswd", b"/%c0%ae%c0%ae/etc/passwd", b"/%c0%af..%c0%afetc/passwd", b"/..;/etc/passwd",
    b"/static/../../securenet.h", b"/examples/posix/static/index.html", b"/securenet.h", b"/Makefile",
    b"/.git/config", b"/%2e%2e", b"/..", b"/.%2e", b"/index.html/..%2f..%2fsecurenet.h",
    b"http://x/../etc/passwd", b"/files/../index.html", b"/api/../../etc/passwd",
]


def traversal():
    ok_paths = {b"/", b"/index.html", b"/app.js", b"/style.css"}
    bad = []
    for tls in (True, False):
        for target in TRAVERSAL:
            out, how = get(target, tls, None if tls else A.http_port, 4)
            st = status(out)
            body = out.partition(b"\r\n\r\n")[2]
            leaked = any(m in body for m in (b"root:", b"SECURENET_IMPLEMENTATION", b"[core]", b"<html", b"body {"))
            if st not in (400, 404) or leaked:
                bad.append((tls and "tls" or "plain", target, st, how, body[:40]))
    report(not bad, "traversal: %d traversal targets (../, %%2e%%2e, %%2f, .%%2e, %%252e, %%00, backslash, overlong "
           "UTF-8) over TLS and plain are each 400 or 404, never a file" % len(TRAVERSAL), "%r" % bad[:6])
    good = []
    for p in ok_paths:
        out, _ = get(p)
        good.append(status(out))
    report(good == [200] * len(ok_paths), "traversal: the table's own files are still served (200)", repr(good))


def warm():
    """40 full handshakes without tickets: mbedTLS's session cache (32 entries,
    about 200 bytes each) and the DRBG's first allocations are in place, so
    that heap_bytes measured afterwards is a baseline that idle time keeps."""
    ctx = tls_ctx(max12=True)
    ctx.options |= ssl.OP_NO_TICKET
    for i in range(40):
        s = ctx.wrap_socket(tcp(), server_hostname="localhost")
        s.sendall(b"GET /api/hello/warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        read_until_end(s, 5)
        s.close()


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("attack")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--mode", default="tls")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--drain", type=float, default=12)
    ap.add_argument("--max-life", type=float, default=0)
    ap.add_argument("--max-conns", type=int, default=16)
    ap.add_argument("--request-timeout", type=float, default=2.0)
    ap.add_argument("--handshake-timeout", type=float, default=2.0)
    ap.add_argument("--content-length", type=int, default=2000000)
    ap.add_argument("--tls-conns", type=int, default=0)
    ap.add_argument("--heap-base", type=int, default=0)
    ap.add_argument("--per-conn", type=int, default=8192)
    ap.add_argument("--per-conn-tls", type=int, default=98304)
    A = ap.parse_args()
    {"warm": warm, "loris": loris, "maxconns": maxconns, "stall": stall, "garbage": garbage, "cuts": cuts,
     "traversal": traversal, "bigcl": bigcl}[A.attack]()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
