#!/usr/bin/env python3
"""Raw HTTP/1.1 checks against sn_demo: exact bytes over TLS or plain TCP.

  raw.py MODE PORT CAFILE GROUP
    MODE  tls | plain        GROUP  basic | errors | timeout | lru | idle | send
  HOST defaults to 127.0.0.1; set SN_HOST=::1 for IPv6.

  "send" is a tool, not a check: the bytes on stdin go out in one write, the
  bytes received until the server closes (or SN_WAIT seconds, default 5) are
  written to stdout, and how the stream ended to stderr as
  "# end: eof|ragged|reset|timeout" (TLS: "eof" only after a close_notify).

Prints "ok - ..." / "not ok - ...: why" lines like every securenet suite.
Standard library only; run with /usr/bin/python3.
"""
import os
import select
import socket
import ssl
import sys
import time

MODE, PORT, CAFILE, GROUP = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
HOST = os.environ.get("SN_HOST", "127.0.0.1")
failed = 0


def report(cond, name, why=""):
    global failed
    if cond:
        print("ok - %s (%s)" % (name, MODE))
    else:
        failed += 1
        print("not ok - %s (%s): %s" % (name, MODE, why))


def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    if MODE == "tls":
        ctx = ssl.create_default_context(cafile=CAFILE)
        # A TCP end without close_notify raises instead of looking like a clean end.
        s = ctx.wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False)
    return s


def read_all(s, wait=5.0):
    """Reads until the server ends the stream; returns (bytes, how) with how in
    'eof' (TLS: after close_notify), 'ragged' (TLS: TCP end without close_notify),
    'reset', 'timeout'."""
    s.settimeout(wait)
    out = b""
    end = time.time() + wait
    while True:
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
        if time.time() > end:
            return out, "timeout"


LEFTOVER = {}


def read_response(s, wait=5.0):
    """Reads one response with a Content-Length body; bytes of the next one
    (pipelining) are kept for the next call."""
    s.settimeout(wait)
    buf = LEFTOVER.pop(id(s), b"")
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    LEFTOVER[id(s)] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


def status(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def exchange(data, wait=5.0):
    s = connect()
    s.sendall(data)
    out, how = read_all(s, wait)
    s.close()
    return out, how


def clean_end(how):
    return how == "eof"


def basic():
    # Pipelining: three requests in one write, three answers in order.
    reqs = b"".join(b"GET /api/hello/%s HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in (b"a", b"b", b"c"))
    s = connect()
    s.sendall(reqs)
    got = [read_response(s) for _ in range(3)]
    s.close()
    bodies = [g.partition(b"\r\n\r\n")[2] for g in got]
    report([status(g) for g in got] == [200] * 3 and bodies == [b"hello, a\n", b"hello, b\n", b"hello, c\n"],
           "three pipelined requests in one write are answered in order on one connection", repr(bodies))
    # Keep-alive for HTTP/1.0 when asked for.
    s = connect()
    s.sendall(b"GET /api/hello/one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r1 = read_response(s)
    s.sendall(b"GET /api/hello/two HTTP/1.0\r\n\r\n")
    r2, how = read_all(s)
    r2 = LEFTOVER.pop(id(s), b"") + r2
    s.close()
    report(b"Connection: keep-alive" in r1 and r1.endswith(b"hello, one\n") and r2.endswith(b"hello, two\n")
           and clean_end(how), "HTTP/1.0 keep-alive is honoured, and a plain 1.0 request ends the connection",
           repr((r1[-40:], r2[-40:], how)))
    # HEAD: headers with Content-Length, no body.
    out, how = exchange(b"HEAD /api/hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    report(status(out) == 200 and b"Content-Length: 9" in head and body == b"" and clean_end(how),
           "HEAD has the GET's Content-Length and no body", repr(out))
    # Chunked upload split in odd places, then a request right behind it.
    body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
    s = connect()
    s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 7):
        s.sendall(body[i:i + 7])
        time.sleep(0.01)
    s.sendall(b"GET /api/hello/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out, how = read_all(s)
    s.close()
    report(b"Content-Type: text/x-test" in out and b"\r\n\r\nWikipedia" in out and out.endswith(b"hello, after\n"),
           "a chunked upload with extensions and trailers, split across writes, is de-chunked and the next "
           "request is kept", repr(out[-120:]))
    # Half-close: requests, then the client's end of stream (FIN) at once.
    if MODE == "plain":
        s = connect()
        s.sendall(b"GET /api/hello/h1 HTTP/1.1\r\nHost: x\r\n\r\nGET /api/hello/h2 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        out, how = read_all(s)
        s.close()
        report(out.count(b"HTTP/1.1 200") == 2 and out.endswith(b"hello, h2\n") and how == "eof",
               "requests followed at once by the client's FIN are all answered, then the server closes",
               repr((out[-40:], how)))
    # Absolute-form target.
    out, how = exchange(b"GET http://localhost/api/hello/abs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    report(status(out) == 200 and out.endswith(b"hello, abs\n"), "an absolute-form request target is served",
           repr(out[-60:]))


ERRORS = [
    (400, "Content-Length together with Transfer-Encoding",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    (400, "a header line without a colon", b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
    (400, "two different Content-Length values",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    (400, "whitespace between a header name and its colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
    (400, "an obs-folded header line", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n"),
    (400, "a missing Host header in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n"),
    (400, "a path escaping upwards with %2e%2e", b"GET /files/%2e%2e/secret HTTP/1.1\r\nHost: x\r\n\r\n"),
    (400, "a malformed chunk size", b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    (404, "an unknown path", b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    (414, "a 10000-byte request target", b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    (431, "200 headers of 100 bytes", b"GET / HTTP/1.1\r\nHost: x\r\n" +
     b"".join(b"X-H%03d: %s\r\n" % (i, b"v" * 92) for i in range(200)) + b"\r\n"),
    (431, "one 20 KB header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"),
    (413, "Content-Length: 100000000 before any body is sent",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"),
    (400, "Transfer-Encoding: gzip (chunked not last, RFC 9112 6.3)",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
    (400, "Transfer-Encoding: chunked, gzip (chunked not last, RFC 9112 6.3)",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
    (501, "Transfer-Encoding: gzip, chunked (an unknown coding)",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    (400, "Content-Length: 99999999999999999999 (no integer holds it)",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"),
    (400, "an empty Host (RFC 9112 3.2)", b"GET /api/status HTTP/1.1\r\nHost:\r\n\r\n"),
    (400, "a Host with userinfo (user@host)", b"GET /api/status HTTP/1.1\r\nHost: user@x\r\n\r\n"),
    (400, "a Host with a path (host/path)", b"GET /api/status HTTP/1.1\r\nHost: x/path\r\n\r\n"),
    (400, "a Host list (a, b)", b"GET /api/status HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n"),
    (400, "a Host with a port that is not digits", b"GET /api/status HTTP/1.1\r\nHost: x:8a\r\n\r\n"),
    (400, "raw UTF-8 in the request target (/caf\\xC3\\xA9)", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"),
    (400, "raw \\xC0\\xAF in the request target", b"GET /files/\xc0\xaf HTTP/1.1\r\nHost: x\r\n\r\n"),
    (400, "a bare ';' as chunk extension",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n"),
    (400, "white space after a chunk size with no ';' (5 \\r\\n)",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
    (400, "a chunk extension name that is not a token",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;(x)\r\nhello\r\n0\r\n\r\n"),
    (400, "a NUL in a chunk extension",
     b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x00\r\nhello\r\n0\r\n\r\n"),
    (501, "a method of 9000 characters (never 414)", b"M" * 9000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n"),
    (501, "an unknown method", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"),
    (505, "HTTP/2.0 in the request line", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
]


def errors():
    for code, what, data in ERRORS:
        t0 = time.time()
        out, how = exchange(data, wait=4)
        took = time.time() - t0
        closed = clean_end(how)
        report(status(out) == code and closed and took < 2.5,
               "%d for %s, then a clean close%s" % (code, what, " (close_notify)" if MODE == "tls" else ""),
               "got %r, end=%s, %.1fs" % (out[:60], how, took))
    # 405 with Allow
    out, how = exchange(b"DELETE /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    report(status(out) == 405 and b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in out,
           "405 with Allow: GET, HEAD, OPTIONS for DELETE /api/status", repr(out[:200]))
    # OPTIONS (RFC 9110 9.3.7), on one keep-alive connection
    s = connect()
    got = []
    for target in (b"/api/status", b"*", b"/api/echo", b"/nope"):
        s.sendall(b"OPTIONS %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
        got.append(read_response(s))
    s.close()
    heads = [g.partition(b"\r\n\r\n")[0].split(b"\r\n") for g in got]
    want = [b"Allow: GET, HEAD, OPTIONS", b"Allow: GET, HEAD, POST, PUT, OPTIONS", b"Allow: POST, OPTIONS"]
    report([status(g) for g in got] == [200, 200, 200, 404] and
           all(w in h and b"Content-Length: 0" in h for w, h in zip(want, heads)),
           "OPTIONS /api/status, OPTIONS *, OPTIONS /api/echo: 200 with the Allow list and Content-Length: 0; "
           "OPTIONS /nope: 404; one connection", repr(got))
    # an 8000-byte target (RFC 9112 3) is within the default limits: routed (404 here), not 414
    out, how = exchange(b"GET /" + b"a" * 7999 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    report(status(out) == 404, "an 8000-byte request target is routed (404), not 414", repr(out[:60]))
    # After all that, the server still serves.
    out, how = exchange(b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    report(status(out) == 200, "the server still answers after the bad requests", repr(out[:60]))


def timeout():
    # Server runs with --request-timeout-ms 500.
    s = connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the headers never end
    t0 = time.time()
    out, how = read_all(s, wait=6)
    s.close()
    took = time.time() - t0
    report(status(out) == 408 and clean_end(how) and took < 3,
           "408 within 3 s when the headers do not complete within the request timeout, then a clean close",
           "%r end=%s %.1fs" % (out[:40], how, took))
    # a slow body is bounded the same way
    s = connect()
    s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    t0 = time.time()
    out, how = read_all(s, wait=6)
    s.close()
    took = time.time() - t0
    report(status(out) == 408 and clean_end(how) and took < 3,
           "408 within 3 s when the body does not complete within the request timeout, then a clean close",
           "%r end=%s %.1fs" % (out[:40], how, took))
    # a request that keeps trickling bytes is still bounded from its first byte
    s = connect()
    t0 = time.time()
    out, how = b"", "timeout"
    try:
        s.sendall(b"GET / HTTP/1.1\r\n")
        for i in range(40):  # one header line every 100 ms, for up to 4 s, until the server answers
            time.sleep(0.1)
            if select.select([s], [], [], 0)[0]:
                break
            s.sendall(b"X-Slow-%d: y\r\n" % i)
    except (OSError, ssl.SSLError):
        pass
    out, how = read_all(s, wait=6)
    s.close()
    took = time.time() - t0
    report(status(out) == 408 and took < 3.5,
           "408 for a request whose header lines trickle in (the timeout counts from the first byte)",
           "%r end=%s %.1fs" % (out[:40], how, took))


def req(s, name):
    s.sendall(b"GET /api/hello/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name)
    return read_response(s)


def is_closed(s, wait=0.5):
    s.settimeout(wait)
    try:
        d = s.recv(100)
        return d == b""
    except socket.timeout:
        return False
    except (ssl.SSLEOFError, ConnectionResetError):
        return True


def lru():
    # Server runs with --max-conns 4 --idle-timeout-ms 4000.
    idle = []
    for i in range(3):
        s = connect()
        r = req(s, b"idle%d" % i)
        idle.append(s)
        time.sleep(0.05)
    mid = connect()
    mid.sendall(b"GET /api/hello/mid HTTP/1.1\r\nHost: x\r\n")  # half a request
    time.sleep(0.2)
    new = connect()
    r = req(new, b"new")
    report(status(r) == 200, "a fifth connection is served when four are open", repr(r[:40]))
    seen = [is_closed(idle[0]), is_closed(idle[1], 0.2), is_closed(idle[2], 0.2)]
    report(seen == [True, False, False],
           "the least recently used idle keep-alive connection was the one closed",
           "closed (idle0, idle1, idle2) = %r" % seen)
    newer = connect()
    r = req(newer, b"newer")
    seen = [is_closed(idle[1]), is_closed(idle[2], 0.2)]
    report(status(r) == 200 and seen == [True, False],
           "the next connection closes the next least recently used idle one",
           "status %r, closed (idle1, idle2) = %r" % (status(r), seen))
    mid.sendall(b"Connection: close\r\n\r\n")
    out, how = read_all(mid)
    report(status(out) == 200 and out.endswith(b"hello, mid\n"),
           "a connection in the middle of a request is never evicted", repr(out[-40:]))
    for s in idle + [new, newer]:
        s.close()


def idle_close():
    # Server runs with --idle-timeout-ms 500. The connection is idle from the
    # moment the request was received at the latest, so the close may not come
    # earlier than 0.5 s after it was sent, and should come within 3 s.
    # A first connection warms the server up: under valgrind, the first
    # handshake and request run so slowly inside one sn_poll round that its
    # cached clock is ~0.2 s old when the request is stamped (see the report).
    w = connect()
    req(w, b"warm-up")
    w.close()
    s = connect()
    t_sent = time.time()
    r = req(s, b"x")
    t0 = time.time()
    out, how = read_all(s, wait=5)
    t_end = time.time()
    report(status(r) == 200 and out == b"" and clean_end(how) and t_end - t_sent > 0.45 and t_end - t0 < 3,
           "an idle keep-alive connection is closed by the server within 3 s (idle timeout 500 ms)%s" %
           (", with close_notify" if MODE == "tls" else ""),
           "%r, %s %.2fs after the request, %.2fs after the response" % (out[:40], how, t_end - t_sent, t_end - t0))


def send():
    data = sys.stdin.buffer.read()
    s = connect()
    s.sendall(data)
    out, how = read_all(s, float(os.environ.get("SN_WAIT", "5")))
    s.close()
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.write("# end: %s\n" % how)


{"basic": basic, "errors": errors, "timeout": timeout, "lru": lru, "idle": idle_close, "send": send}[GROUP]()
sys.exit(1 if failed else 0)
