"""WebSocket peers over TLS for tests/wscat.sh (run with /usr/bin/python3: Debian's websockets 10.x).

  echo_server.py ws PORT CERT KEY        Debian's `websockets` server (its asyncio API, 10.x):
      /echo    every message back, text as text, binary as binary
      /info    one text message: "protocol=<agreed> x-test=<the X-Test header>", then echo
      /bye     closes with 4001 "bye" at the first message
      /close   closes with 1000 "done" at once
      /type    answers each message with its type and length: "text 3", "binary 5"
  echo_server.py raw MODE PORT CERT KEY  a hand-written TLS server that answers the upgrade wrongly:
      200         "HTTP/1.1 200 OK" instead of 101
      badaccept   101 with a Sec-WebSocket-Accept computed from another key
      good        the right 101, then echoes one frame (the suite's own check that the peers above
                  are what makes the client refuse them)
  echo_server.py keyupdate PORT CERT KEY LOG  drives `openssl s_server` (the only peer at hand that
      sends a TLS 1.3 KeyUpdate, its "k" command): the first connection gets a 101, then a KeyUpdate;
      the second a 101, a text frame "again" and a close with 1000. s_server's output goes to LOG.
Prints "ready" once listening."""
import asyncio
import base64
import hashlib
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def ws_mode(port, cert, key):
    import websockets

    async def handler(ws, path):
        if path == "/info":
            await ws.send("protocol=%s x-test=%s" % (ws.subprotocol, ws.request_headers.get("X-Test")))
        if path == "/bye":
            await ws.recv()
            await ws.close(4001, "bye")
            return
        if path == "/type":
            async for m in ws:
                await ws.send("%s %d" % ("text" if isinstance(m, str) else "binary", len(m)))
            return
        if path == "/close":
            await ws.close(1000, "done")
            return
        async for m in ws:
            await ws.send(m)

    async def main():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        async with websockets.serve(handler, "127.0.0.1", port, ssl=ctx, compression=None,
                                    subprotocols=["chat.v1", "chat.v2"]):
            print("ready", flush=True)
            await asyncio.sleep(120)  # the suite ends it long before

    asyncio.run(main())


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 16384:
        b = conn.recv(4096)
        if not b:
            break
        data += b
    m = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)\s*$", data)
    return data, (m.group(1) if m else b"")


def raw_mode(mode, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    print("ready", flush=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        c, _ = ls.accept()
        try:
            conn = ctx.wrap_socket(c, server_side=True)
            conn.settimeout(10)
            _, k = read_head(conn)
            if mode == "200":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nhi\n")
            else:
                acc = accept_for(b"dGhlIHNhbXBsZSBub25jZQ==" if mode == "badaccept" else k)
                conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
                if mode == "good":  # one masked frame in, the same payload back unmasked, then a close 1000
                    h = conn.recv(2)
                    n = h[1] & 0x7F
                    body = b""
                    while len(body) < 4 + n:
                        body += conn.recv(4 + n - len(body))
                    mask, p = body[:4], body[4:]
                    p = bytes(b ^ mask[i % 4] for i, b in enumerate(p))
                    conn.sendall(bytes([0x80 | (h[0] & 0x0F), n]) + p + b"\x88\x02\x03\xe8")
            time.sleep(0.5)
            conn.close()
        except (OSError, ssl.SSLError):
            pass


def keyupdate_mode(port, cert, key, log):
    p = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
                          "-tls1_3", "-naccept", "2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = open(log, "wb")
    buf = b""
    lock = threading.Lock()

    def pump():
        nonlocal buf
        for chunk in iter(lambda: p.stdout.read1(4096), b""):
            out.write(chunk)
            out.flush()
            with lock:
                buf += chunk

    threading.Thread(target=pump, daemon=True).start()
    print("ready", flush=True)

    def wait_key(start):
        end = time.time() + 15
        while time.time() < end:
            with lock:
                m = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)\s*$", buf[start:])
                if m and b"\r\n\r\n" in buf[start + m.end() - 2:]:
                    return m.group(1), start + m.end()
            if p.poll() is not None:
                break
            time.sleep(0.05)
        return None, start

    def answer(k):
        p.stdin.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n\r\n" % accept_for(k)).encode())
        p.stdin.flush()
        time.sleep(0.3)  # s_server reads its commands a read() at a time

    k, at = wait_key(0)
    if k is None:
        sys.exit(1)
    answer(k)
    p.stdin.write(b"k\n")  # SSL_key_update: the client cannot take it
    p.stdin.flush()
    k, at = wait_key(at)
    if k is not None:
        answer(k)
        # s_server sends stdin's bytes as they are: a text frame "again", then a close 1000
        p.stdin.write(b"\x81\x05again\x88\x02\x03\xe8")
        p.stdin.flush()
        time.sleep(1)
    p.terminate()
    p.wait()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "ws":
        ws_mode(int(a[1]), a[2], a[3])
    elif a[0] == "raw":
        raw_mode(a[1], int(a[2]), a[3], a[4])
    elif a[0] == "keyupdate":
        keyupdate_mode(int(a[1]), a[2], a[3], a[4])
