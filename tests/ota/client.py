#!/usr/bin/python3
"""A raw HTTPS client for tests/ota.sh: PUTs an image to /api/firmware with
its full Content-Length but sends only part of it.

  client.py --port P --ca CA --file IMG --frac F [--then close|wait-rest]
            [--ready FILE] [--go FILE] [--max-s S]

Sends the head and the first F * size bytes (F in 0..1), creates --ready (if
given), then:
  close      closes the connection (a truncated upload); prints "closed"
  wait-rest  waits until --go exists (bounded by --max-s), sends the rest,
             prints the status line and the body of the answer
Exit 0 unless something unexpected happened (connect refused, timeout)."""
import argparse, os, socket, ssl, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ca", required=True)
ap.add_argument("--file", required=True)
ap.add_argument("--frac", type=float, required=True)
ap.add_argument("--then", default="close", choices=["close", "wait-rest"])
ap.add_argument("--ready")
ap.add_argument("--go")
ap.add_argument("--max-s", type=float, default=30)
a = ap.parse_args()

data = open(a.file, "rb").read()
cut = int(len(data) * a.frac)
ctx = ssl.create_default_context(cafile=a.ca)
raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.max_s)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"PUT /api/firmware HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: %d\r\n\r\n" % len(data))
s.sendall(data[:cut])
if a.ready:
    open(a.ready, "w").close()
if a.then == "close":
    s.close()
    print("closed")
    sys.exit(0)
end = time.monotonic() + a.max_s
while not os.path.exists(a.go):
    if time.monotonic() > end:
        print("timeout waiting for", a.go)
        sys.exit(1)
    time.sleep(0.05)
try:
    s.sendall(data[cut:])
except OSError as e:
    print("send failed:", e)
resp = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp += b
        if b"\r\n\r\n" in resp:
            head, _, body = resp.partition(b"\r\n\r\n")
            cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if cl and len(body) >= int(cl[0].split(b":")[1]):
                break
except (OSError, ssl.SSLError) as e:
    print("recv failed:", e)
print(resp.decode("latin-1").split("\r\n")[0])
print(resp.decode("latin-1").partition("\r\n\r\n")[2].strip())
