#!/usr/bin/python3
"""http_peer.py PORT LOG [--bind ADDR] [--cert CERT --key KEY]: a scripted
HTTP/1.1 server on ADDR:PORT (default 127.0.0.1), plain or TLS, for the HTTP
client tests. Every request it reads is appended to LOG as one JSON line:
port, sni (the TLS server_name the client sent, null for none, "-" on plain
TCP), method, target, h (header fields, names in lower case, repeated ones
joined by ", "), te (the raw Transfer-Encoding values), body (its bytes as
text). With TLS, each ClientHello also adds a line {"port", "handshake_sni"}
(before the certificate is verified). Prints "ready" once it listens.
  /redirect?code=C&to=URL  answers C with Location: URL (percent-decoded)
  /te/two                  "Transfer-Encoding: gzip" and "Transfer-Encoding: chunked"
                           as two fields, the body gzip-coded, then chunked
  /te/list                 one field "gzip, chunked", the same body
  /te/twice                "chunked" in two fields (chunked applied twice)
  /te/chunked              one "chunked" field: a correct chunked body
  /bare-lf, /bare-cr       a header line holding a bare LF (CR) before "Content-Length: 5",
                           then "Content-Length: 3" and 3 body bytes
  /keep                    200 with Content-Length, the connection stays open for more requests
  /keep-te-cl              the same with Content-Length: 3 and Transfer-Encoding: chunked
                           (RFC 9112 6.3: ambiguous framing; the connection must not be used again)
Every record also has conn, a number per connection.
  anything else            200, "ok METHOD TARGET"
Other answers end the connection. Connections are served on threads, each
bounded by a 10 s timeout."""
import gzip
import json
import socket
import ssl
import sys
import threading
import urllib.parse

args = sys.argv[1:]
port, log = int(args[0]), args[1]
bind, cert, key = "127.0.0.1", None, None
i = 2
while i < len(args):
    if args[i] == "--bind": bind = args[i + 1]
    elif args[i] == "--cert": cert = args[i + 1]
    elif args[i] == "--key": key = args[i + 1]
    else: sys.exit("http_peer.py: unknown option " + args[i])
    i += 2
lock = threading.Lock()
ctx = None
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    local = threading.local()

    def on_sni(sock, name, c):
        local.sni = name  # None when the client sent no server_name
        with lock, open(log, "a") as out:  # also when the handshake fails later
            out.write(json.dumps({"port": port, "handshake_sni": name}) + "\n")
    ctx.sni_callback = on_sni


def read_request(f):
    line = f.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    h, te = {}, []
    while True:
        line = f.readline(65536).decode("latin-1").rstrip("\r\n")
        if line == "":
            break
        n, v = line.split(":", 1)
        n, v = n.strip().lower(), v.strip()
        h[n] = h[n] + ", " + v if n in h else v
        if n == "transfer-encoding":
            te.append(v)
    body = b""
    if te:
        while True:
            size = int(f.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline(65536).strip() != b"":
                    pass
                break
            body += f.read(size)
            f.readline(16)
    elif "content-length" in h:
        body = f.read(int(h["content-length"]))
    return method, target, h, te, body


def answer(target, method):
    path, _, query = target.partition("?")
    q = urllib.parse.parse_qs(query)
    gz = gzip.compress(b"this body is gzip-coded\n")
    if path == "/redirect":
        return ("HTTP/1.1 %s Moved\r\nLocation: %s\r\nContent-Length: 9\r\nConnection: close\r\n\r\nredirect\n"
                % (q["code"][0], q["to"][0])).encode()
    chunked = b"%x\r\n" % len(gz) + gz + b"\r\n0\r\n\r\n"
    if path == "/te/two":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
    if path == "/te/list":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n" + chunked
    if path == "/te/twice":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n")
    if path == "/bare-lf":  # one reading: X-A holds the rest; another: two differing Content-Lengths
        return b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 5\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    if path == "/bare-cr":
        return b"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 5\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    if path == "/keep":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nkept\n"
    if path == "/keep-te-cl":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nkept\n\r\n0\r\n\r\n"
    if path == "/te/chunked":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nplain\n\r\n0\r\n\r\n"
    body = ("ok %s %s\n" % (method, target)).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


conns = [0]


def serve(c):
    with lock:
        conns[0] += 1
        conn = conns[0]
    try:
        c.settimeout(10)
        sni = "-"
        if ctx is not None:
            local.sni = None
            c = ctx.wrap_socket(c, server_side=True)
            sni = local.sni
        f = c.makefile("rb")
        for _ in range(16):  # requests on this connection
            req = read_request(f)
            if req is None:
                return
            method, target, h, te, body = req
            with lock, open(log, "a") as out:
                out.write(json.dumps({"port": port, "conn": conn, "sni": sni, "method": method, "target": target, "h": h,
                                      "te": te, "body": body.decode("latin-1")}) + "\n")
            a = answer(target, method)
            c.sendall(a)
            if b"Connection: close" in a.split(b"\r\n\r\n")[0]:
                break
        if ctx is not None:
            c.unwrap()  # close_notify
    except (OSError, ssl.SSLError, ValueError, KeyError, IndexError) as e:
        print("peer error: %s" % e, flush=True)
    finally:
        c.close()


srv = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((bind, port))
srv.listen(16)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
