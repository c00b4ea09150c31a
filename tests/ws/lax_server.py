#!/usr/bin/env python3
"""A small WebSocket echo server over TLS that can be told to be wrong: the
peer tests/ws_abuse.sh's self-check (WS_ABUSE_WRONG=1) runs tests/ws/raw.py
against, to see every check fail at least once. Never used otherwise.

  lax_server.py --port P --cert PEM --key KEY --mode strict|lax|fragile

It serves what raw.py needs of sn_demo: GET /ws (echo, ?max=N), /ws/status
(JSON once per `?interval_ms=`, default 1000), /api/status (connections,
requests and a heap_bytes that counts the bytes it holds: queued to send,
received and not yet processed, and leaked), anything else 200 "hello".
It prints "listening" when ready.

  strict   RFC 6455 as sn_demo promises it (raw.py's own reference: every
           check should pass against it).
  lax      checks nothing: unmasked frames, RSV bits, any opcode, any length
           (it waits for 2^63 bytes), fragmented or long control frames,
           continuations anywhere, any UTF-8, no limit; echoes what one read
           brought as one frame (so fragments and messages are merged), pongs
           with an empty payload, ignores close frames (never closes), reads
           whatever comes and queues without bound, and keeps every message
           forever, pings too (heap_bytes grows); the client's end (FIN or reset)
           is taken for "no data yet" and the connection kept (connections
           never go back).
  fragile  strict, except: UTF-8 is checked per fragment (a character split
           between fragments is refused), the limit is checked once the
           payload has arrived and refuses a message of exactly max, a
           client's close is answered with 1000 whatever its code (1005 when
           it had none), frames of 126 bytes or more carry a 64-bit length,
           and after a connection that broke the protocol or was closed
           without having echoed a "probe ..." message, the next "probe ..."
           message (raw.py's "served afterwards" check) is not answered: its
           connection is dropped (a server that stops serving others; keyed to
           raw.py's probe so that the other checks' connections are served).
Standard library only; run with /usr/bin/python3.
"""
import argparse
import base64
import codecs
import hashlib
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAXQ = 65536
A = None
LOCK = threading.Lock()
STATE = {"conns": 0, "requests": 0, "held": 0, "refuse_next": False, "t0": time.time()}
LEAK = []


def held(n):
    with LOCK:
        STATE["held"] += n


def heap_bytes():
    with LOCK:
        return STATE["held"] + sum(len(x) for x in LEAK)


def xor(data, key):
    n = len(data)
    if n == 0:
        return b""
    rep = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(rep, "big")).to_bytes(n, "big")


def sframe(op, payload=b""):
    n = len(payload)
    if n < 126:
        h = bytes([0x80 | op, n])
    elif n < 65536 and A.mode != "fragile":
        h = bytes([0x80 | op, 126]) + struct.pack(">H", n)
    else:
        h = bytes([0x80 | op, 127]) + struct.pack(">Q", n)
    return h + payload


def valid_close_code(c):
    return 1000 <= c <= 1003 or 1007 <= c <= 1014 or 3000 <= c <= 4999


class Proto(Exception):
    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


class Session:
    def __init__(self, sock, ctx):
        self.sock = sock
        self.sock.setblocking(False)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=True)
        self.wbuf = bytearray()  # ciphertext to send
        self.queued = 0  # plaintext bytes queued (for the bound), accounted in STATE
        self.rx = bytearray()
        self.eof = False
        self.handshaken = False
        self.mode = A.mode

    # -- I/O --
    def _take_out(self):
        d = self.out.read()
        if d:
            self.wbuf += d

    def send(self, data):
        self.tls.write(data)
        self._take_out()
        self.queued += len(data)
        held(len(data))

    def io(self, wait, read=True):
        r = [self.sock] if read and not self.eof else []
        w = [self.sock] if self.wbuf else []
        if not r and not w:
            time.sleep(wait)
            return
        rr, ww, _ = select.select(r, w, [], wait)
        if ww:
            try:
                n = self.sock.send(self.wbuf[:65536])
                del self.wbuf[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.eof = self.mode != "lax"
                self.wbuf.clear()
            if not self.wbuf and self.queued:
                held(-self.queued)
                self.queued = 0
        if rr:
            try:
                d = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                if self.mode == "lax":  # "transient": the connection is kept for ever
                    time.sleep(0.1)
                    return
                d = b""
            if not d and self.mode == "lax" and self.handshaken:  # "no data yet": the connection is kept for ever
                time.sleep(0.1)
                return
            if not d:
                self.eof = True
                self.inc.write_eof()
            else:
                self.inc.write(d)
            self._pull()

    def _pull(self):
        if not self.handshaken:
            try:
                self.tls.do_handshake()
                self.handshaken = True
            except ssl.SSLWantReadError:
                self._take_out()
                return
            except (ssl.SSLError, OSError):
                self.eof = True
                return
            self._take_out()
        while True:
            try:
                p = self.tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLError, OSError):
                self.eof = True
                break
            if not p:
                self.eof = True
                break
            self.rx += p
            held(len(p))
        self._take_out()

    def consume(self, n):
        del self.rx[:n]
        held(-n)

    def finish(self):
        """close_notify, our FIN, then a short lingering read."""
        try:
            self.tls.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        self._take_out()
        end = time.time() + 2
        while self.wbuf and not self.eof and time.time() < end:
            self.io(0.1, read=False)
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        end = time.time() + 1
        while time.time() < end:
            try:
                rr, _, _ = select.select([self.sock], [], [], 0.1)
                if rr and not self.sock.recv(65536):
                    break
            except OSError:
                break
        self.sock.close()
        if self.queued:
            held(-self.queued)
        held(-len(self.rx))

    # -- HTTP --
    def run(self):
        deadline = time.time() + 10
        while b"\r\n\r\n" not in self.rx:
            if self.eof or time.time() > deadline:
                return
            self.io(0.1)
        i = self.rx.index(b"\r\n\r\n") + 4
        head = bytes(self.rx[:i]).decode("latin-1")
        self.consume(i)
        lines = head.split("\r\n")
        parts = lines[0].split()
        hdr = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdr[k.strip().lower()] = v.strip()
        with LOCK:
            STATE["requests"] += 1
        url = urlsplit(parts[1] if len(parts) > 1 else "/")
        q = parse_qs(url.query)
        if url.path in ("/ws", "/ws/status") and "sec-websocket-key" in hdr:
            acc = base64.b64encode(hashlib.sha1(hdr["sec-websocket-key"].encode() + GUID).digest())
            self.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
            if url.path == "/ws":
                self.ws_echo(int(q.get("max", ["1048576"])[0]))
            else:
                self.ws_status(int(q.get("interval_ms", ["1000"])[0]) / 1000.0)
            return
        if url.path == "/api/status":
            with LOCK:
                body = json.dumps({"uptime_ms": int((time.time() - STATE["t0"]) * 1000), "connections": STATE["conns"],
                                   "requests": STATE["requests"], "heap_bytes": 0}).encode()
            body = body.replace(b'"heap_bytes": 0', b'"heap_bytes": %d' % heap_bytes())
        else:
            body = b"hello, lax\n"
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        self.finish()

    # -- WebSocket --
    def parse(self, max_msg, msg):
        """Next client frame from rx: (fin, op, payload) or None (incomplete).
        msg: the message in progress (op, bytearray) or None. Raises Proto."""
        b = self.rx
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        fin, rsv, op, masked, n = b0 >> 7, (b0 >> 4) & 7, b0 & 15, b1 >> 7, b1 & 127
        lax = self.mode == "lax"
        i = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack(">H", bytes(b[2:4]))[0], 4
            if n < 126 and not lax:
                raise Proto(1002)
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack(">Q", bytes(b[2:10]))[0], 10
            if not lax and (n >> 63 or n < 65536):
                raise Proto(1002)
        if not lax:
            if rsv or not masked or op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
                raise Proto(1002)
            if op >= 8 and (n > 125 or not fin):
                raise Proto(1002)
            if op == 0 and msg is None:
                raise Proto(1002)
            if op in (1, 2) and msg is not None:
                raise Proto(1002)
            if self.mode == "strict" and op < 8:
                so_far = len(msg[1]) if msg else 0
                if so_far + n > max_msg:
                    raise Proto(1009)
        if masked:
            i += 4
        if len(b) < i + n:
            return None
        payload = bytes(b[i:i + n])
        if masked:
            payload = xor(payload, bytes(b[i - 4:i]))
        self.consume(i + n)
        if self.mode == "fragile" and op < 8:
            so_far = len(msg[1]) if msg else 0
            if so_far + n >= max_msg:
                raise Proto(1009)
        return fin, op, payload

    def fail(self, code):
        """RFC 6455 7.1.7: the close frame, then the end, processing nothing more."""
        self.send(sframe(8, struct.pack(">H", code)))
        self.ended(broke=True)

    def ended(self, broke=False):
        if self.mode == "fragile" and (broke or not self.probed):
            with LOCK:
                STATE["refuse_next"] = True
        self.finish()

    def closing(self):
        """After our close frame (not a failure): wait (5 s) for the client's, then end."""
        end = time.time() + 5
        while time.time() < end and not self.eof:
            while True:
                try:
                    f = self.parse(1 << 62, None)
                except Proto:
                    self.rx.clear()
                    f = None
                if f is None:
                    break
                if f[1] == 8:
                    end = 0
                    break
            if end:
                self.io(0.1)
        self.finish()

    def ws_echo(self, max_msg):
        msg = None  # (op, bytearray, utf8 decoder)
        self.probed = False
        while True:
            if self.eof:
                self.finish()
                return
            if self.mode != "lax" and self.queued > MAXQ:  # pushed back: neither parse nor read
                self.io(0.1, read=False)
                continue
            merged = []
            try:
                while self.mode == "lax" or self.queued <= MAXQ:
                    f = self.parse(max_msg, msg)
                    if f is None:
                        break
                    fin, op, payload = f
                    if self.mode == "lax":
                        if op == 9:
                            LEAK.append(payload)
                            self.send(sframe(10))
                        elif op in (0, 1, 2):
                            LEAK.append(payload)
                            merged.append((op or 1, payload))
                        continue
                    if op == 9:
                        self.send(sframe(10, payload))
                        continue
                    if op == 10:
                        continue
                    if op == 8:
                        self.on_close(payload)
                        return
                    if op in (1, 2):
                        msg = (op, bytearray(), codecs.getincrementaldecoder("utf-8")() if op == 1 else None)
                    msg[1].extend(payload)
                    if msg[2] is not None:
                        try:
                            if self.mode == "fragile":
                                codecs.getincrementaldecoder("utf-8")().decode(payload, True)
                            else:
                                msg[2].decode(payload, bool(fin))
                        except UnicodeDecodeError:
                            raise Proto(1007)
                    if fin:
                        if bytes(msg[1][:6]) == b"probe ":
                            with LOCK:
                                refuse, STATE["refuse_next"] = STATE["refuse_next"], False
                            if refuse:  # "stopped serving": the probe goes unanswered
                                self.finish()
                                return
                            self.probed = True
                        self.send(sframe(msg[0], bytes(msg[1])))
                        msg = None
            except Proto as e:
                self.fail(e.code)
                return
            if merged:
                self.send(sframe(merged[0][0], b"".join(p for _, p in merged)))
            self.io(0.1, read=(self.mode == "lax" or self.queued <= MAXQ))

    def on_close(self, payload):
        if self.mode == "fragile":
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.send(sframe(8, struct.pack(">H", 1000 if code != 1005 else 1005)))
            return self.ended()
        if len(payload) == 1:
            return self.fail(1002)
        if len(payload) >= 2:
            code = struct.unpack(">H", payload[:2])[0]
            if not valid_close_code(code):
                return self.fail(1002)
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                return self.fail(1007)
            self.send(sframe(8, payload[:2]))
        else:
            self.send(sframe(8))
        self.ended()

    def ws_status(self, interval):
        seq, nxt = 0, time.time()
        self.probed = True
        while not self.eof:
            if time.time() >= nxt:
                seq += 1
                nxt += interval
                with LOCK:
                    d = {"seq": seq, "uptime_ms": int((time.time() - STATE["t0"]) * 1000), "connections": STATE["conns"],
                         "requests": STATE["requests"]}
                m = sframe(1, json.dumps(d).encode())
                if self.mode != "lax" and self.queued + len(m) > MAXQ:
                    self.send(sframe(8, struct.pack(">H", 1008)))
                    self.closing()
                    return
                self.send(m)
            while True:
                try:
                    f = self.parse(1 << 20, None)
                except Proto as e:
                    return self.fail(e.code)
                if f is None:
                    break
                if f[1] == 8 and self.mode != "lax":
                    return self.on_close(f[2])
                if f[1] == 9:
                    self.send(sframe(10, f[2]))
            self.io(min(0.1, max(0.0, nxt - time.time())))
        self.finish()


def serve(sock, ctx):
    with LOCK:
        STATE["conns"] += 1
    try:
        Session(sock, ctx).run()
    except Exception as e:  # a test double: say what broke, keep serving
        print("lax_server: %r" % e, file=sys.stderr, flush=True)
        try:
            sock.close()
        except OSError:
            pass
    finally:
        with LOCK:
            STATE["conns"] -= 1


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--mode", choices=("strict", "lax", "fragile"), default="lax")
    A = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(A.cert, A.key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", A.port))
    ls.listen(128)
    print("lax_server (%s) listening on 127.0.0.1:%d" % (A.mode, A.port), flush=True)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s, ctx), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
