#!/usr/bin/env python3
"""WebSocket protocol abuse against sn_demo's /ws and /ws/status over TLS,
with hand-built frames (tests/ws_abuse.sh runs it; RFC 6455 throughout).

  raw.py --port P --ca CAFILE [--heap-base N] [--only GROUP,...] [--list]
    GROUP: framing utf8 limits close controls frames pingflood neverread status linger

Each case opens its own TLS connection, does the opening handshake by hand
(GET /ws, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version 13;
the 101 and its Sec-WebSocket-Accept checked), writes frames (masked as a
client's must be, unless the case says otherwise) and reads the server's
(never masked, no RSV bits, lengths in the fewest bytes). A case that
breaks the protocol checks three things:
  - the server's close frame carries the code RFC 6455 requires;
  - the server then ends the connection (close_notify or a TCP end) within
    WS_END_WAIT seconds of our answering close frame, sending nothing after
    its close frame;
  - a new connection is still served (an echo, and a clean close).
The stalling cases (a ping flood, a client that sends 8 MB and does not
read) also read heap_bytes from /api/status meanwhile and compare it with
--heap-base.
Every check is a line "ok - NAME [what was measured]" or "not ok - NAME
[...]: why" (NAME holds no colon or bracket, so tests/ws_abuse.sh's
self-check can match names); "# " lines are notes. --list prints every
check's name without running anything (tests/ws_abuse.sh WS_ABUSE_WRONG=1
shows each failing against tests/ws/lax_server.py).

Environment: WS_CLOSE_WAIT, WS_END_WAIT (seconds for the server's close
frame and for the end after it; 5 each), WS_PINGS (the flood's pings, 40000),
WS_STATUS_WAIT (seconds a /ws/status client does not read before it expects
1008; 0, the default: not tried, see case_status_reader), WS_STATUS_PATH
(that client's path, default /ws/status), SN_HOST (127.0.0.1).

TLS runs on ssl.MemoryBIO over a non-blocking socket, so a case can write
without reading (a client that never reads) and read without writing, each
bounded by a deadline. Standard library only; run with /usr/bin/python3.
"""
import argparse
import base64
import hashlib
import json
import os
import select
import socket
import ssl
import struct
import sys
import time

HOST = os.environ.get("SN_HOST", "127.0.0.1")
CLOSE_WAIT = float(os.environ.get("WS_CLOSE_WAIT", "5"))  # for the server's close frame
END_WAIT = float(os.environ.get("WS_END_WAIT", "5"))  # for the connection's end after it
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
A = None
CTX = None
failed = 0
NAMES = []  # every check's name, in order (--list)


def report(cond, name, why="", detail=""):
    """One check's line. name is the check (no colon, no '['); detail (what
    was measured) follows it in brackets; why (when it failed) after a colon."""
    global failed
    assert ":" not in name and "[" not in name, name
    NAMES.append(name)
    if A is not None and A.list:
        return cond
    d = " [%s]" % detail if detail else ""
    if cond:
        print("ok - %s%s" % (name, d), flush=True)
    else:
        failed += 1
        print("not ok - %s%s: %s" % (name, d, str(why).replace("\n", " ")[:400]), flush=True)
    return cond


def note(msg):
    if not (A is not None and A.list):
        print("# " + msg, flush=True)


# ---- frames ----------------------------------------------------------------------------------
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def xor(data, key):
    """RFC 6455 5.3: data masked (or unmasked) with the 4-byte key."""
    n = len(data)
    if n == 0:
        return b""
    rep = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(rep, "big")).to_bytes(n, "big")


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None, enc=None, with_payload=True):
    """One frame as a client writes it. length: the length declared (default
    len(payload)); enc: 7, 16 or 64, the length's encoding (default the minimal
    one); with_payload False: the header (and masking key) only."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    m = 0x80 if mask else 0
    if enc is None:
        enc = 7 if n < 126 else 16 if n < 65536 else 64
    if enc == 7:
        head = bytes([b0, m | n])
    elif enc == 16:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + (payload if with_payload else b"")
    key = os.urandom(4)
    return head + key + (xor(payload, key) if with_payload else b"")


def close_frame(code=None, reason=b"", **kw):
    payload = b"" if code is None else struct.pack(">H", code) + reason
    return frame(OP_CLOSE, payload, **kw)


class Frame:
    def __init__(self, fin, rsv, op, masked, payload, minimal=True):
        self.fin, self.rsv, self.op, self.masked, self.payload = fin, rsv, op, masked, payload
        self.minimal = minimal  # the length in the fewest bytes (RFC 6455 5.2)

    def code(self):
        return struct.unpack(">H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        p = self.payload if len(self.payload) <= 40 else self.payload[:40] + b"...(%d bytes)" % len(self.payload)
        return "<fin=%d rsv=%d op=%d%s %r>" % (self.fin, self.rsv, self.op, " MASKED" if self.masked else "", p)


def parse_frame(buf):
    """(Frame, bytes used) from the front of buf, or (None, 0) if incomplete."""
    if len(buf) < 2:
        return None, 0
    b0, b1 = buf[0], buf[1]
    n, i, minimal = b1 & 0x7F, 2, True
    if n == 126:
        if len(buf) < 4:
            return None, 0
        n, i = struct.unpack(">H", bytes(buf[2:4]))[0], 4
        minimal = n >= 126
    elif n == 127:
        if len(buf) < 10:
            return None, 0
        n, i = struct.unpack(">Q", bytes(buf[2:10]))[0], 10
        minimal = n >= 65536 and not n >> 63
    key = None
    if b1 & 0x80:
        if len(buf) < i + 4:
            return None, 0
        key, i = bytes(buf[i:i + 4]), i + 4
    if len(buf) < i + n:
        return None, 0
    payload = bytes(buf[i:i + n])
    if key:
        payload = xor(payload, key)
    return Frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0xF, bool(key), payload, minimal), i + n


# ---- a TLS connection on memory BIOs ------------------------------------------------------------
class Conn:
    """TLS over a non-blocking socket. write() encrypts at once and queues
    the ciphertext; pump() moves bytes both ways as the socket allows (reading
    only when asked: a client that never reads simply never calls it with
    read=True). end is None while open, else 'close_notify', 'eof' (TCP end
    without close_notify), 'reset' or 'error ...'."""

    def __init__(self, port, rcvbuf=0, sndbuf=0, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, port))
        self.sock.setblocking(False)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = CTX.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.pending = bytearray()  # ciphertext not yet taken by the socket
        self.plain = bytearray()  # plaintext received, not yet parsed
        self.end = None
        self.sent = 0  # ciphertext bytes the socket took
        deadline = time.time() + timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            self._take_out()
            if time.time() > deadline:
                raise OSError("TLS handshake timed out")
            self.pump(0.2)
            if self.end:
                raise OSError("TLS handshake: connection ended (%s)" % self.end)
        self._take_out()

    def _take_out(self):
        d = self.out.read()
        if d:
            self.pending += d

    def write(self, data):
        mv = memoryview(data)
        while len(mv):
            n = self.tls.write(mv[:16384])
            mv = mv[n:]
            self._take_out()
        self.pump(0, read=False)

    def pump(self, wait, read=True):
        """One round: up to wait seconds for the socket, then writes what it
        takes and (read=True) reads what has come, decrypting it."""
        if self.end and self.end != "close_notify":
            return
        r = [self.sock] if read else []
        w = [self.sock] if self.pending else []
        if not r and not w:
            if wait:
                time.sleep(wait)
            return
        try:
            rr, ww, _ = select.select(r, w, [], wait)
        except (OSError, ValueError):
            self.end = self.end or "error select"
            return
        if ww:
            try:
                n = self.sock.send(self.pending[:262144])
                del self.pending[:n]
                self.sent += n
            except (BlockingIOError, InterruptedError):
                pass
            except (ConnectionResetError, BrokenPipeError):
                self.end = self.end or "reset"
                return
            except OSError as e:
                self.end = self.end or "error %s" % e
                return
        if rr:
            try:
                d = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionResetError:
                self.end = self.end or "reset"
                return
            except OSError as e:
                self.end = self.end or "error %s" % e
                return
            if not d:
                self.inc.write_eof()
            else:
                self.inc.write(d)
            while True:
                try:
                    p = self.tls.read(262144)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    self.end = self.end or "close_notify"
                    break
                except ssl.SSLEOFError:
                    self.end = self.end or "eof"
                    break
                except ssl.SSLError as e:
                    self.end = self.end or "error tls %s" % e.reason
                    break
                if not p:
                    self.end = self.end or "close_notify"
                    break
                self.plain += p
            self._take_out()
            if not d and not self.end:
                self.end = "eof"

    def flush(self, timeout):
        """Writes what is queued, for at most timeout seconds (not reading).
        True when all of it was taken."""
        deadline = time.time() + timeout
        while self.pending and not self.end and time.time() < deadline:
            self.pump(min(0.1, max(0.0, deadline - time.time())), read=False)
        return not self.pending

    def read_until(self, marker, timeout):
        deadline = time.time() + timeout
        while marker not in self.plain:
            if self.end or time.time() > deadline:
                return None
            self.pump(min(0.1, max(0.0, deadline - time.time())))
        i = self.plain.index(marker) + len(marker)
        out = bytes(self.plain[:i])
        del self.plain[:i]
        return out

    def frame(self, timeout):
        """The server's next frame, or None (timed out, or the stream ended:
        see self.end)."""
        deadline = time.time() + timeout
        while True:
            f, used = parse_frame(self.plain)
            if f is not None:
                del self.plain[:used]
                return f
            if self.end or time.time() > deadline:
                return None
            self.pump(min(0.1, max(0.0, deadline - time.time())))

    def wait_end(self, timeout):
        """Reads (and discards into self.plain) until the stream ends: the
        end, or None if it did not within timeout."""
        deadline = time.time() + timeout
        while not self.end and time.time() < deadline:
            self.pump(min(0.1, max(0.0, deadline - time.time())))
        return self.end

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class UpgradeError(Exception):
    pass


def ws_open(path="/ws", port=None, timeout=5.0, **kw):
    """A Conn after a checked 101 (RFC 6455 4.1: status 101, Upgrade:
    websocket, Connection: upgrade, Sec-WebSocket-Accept). Raises UpgradeError."""
    try:
        c = Conn(port or A.port, timeout=timeout, **kw)
    except OSError as e:
        raise UpgradeError("connect: %s" % e)
    key = base64.b64encode(os.urandom(16))
    c.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " % (port or A.port) + key +
            b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = c.read_until(b"\r\n\r\n", timeout)
    if head is None:
        c.close()
        raise UpgradeError("no response head within %.0f s (%s; got %r)" % (timeout, c.end or "open", bytes(c.plain[:200])))
    lines = head.decode("latin-1").split("\r\n")
    hdr = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdr[k.strip().lower()] = v.strip()
    want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    why = None
    if not lines[0].startswith("HTTP/1.1 101"):
        why = "status line %r" % lines[0]
    elif hdr.get("upgrade", "").lower() != "websocket":
        why = "Upgrade: %r" % hdr.get("upgrade")
    elif "upgrade" not in [t.strip().lower() for t in hdr.get("connection", "").split(",")]:
        why = "Connection: %r" % hdr.get("connection")
    elif hdr.get("sec-websocket-accept") != want:
        why = "Sec-WebSocket-Accept %r, want %r" % (hdr.get("sec-websocket-accept"), want)
    if why:
        c.close()
        raise UpgradeError(why)
    return c


def server_frame_ok(f):
    """RFC 6455 5.1/5.2: a server's frame is never masked, has no RSV bits
    and its length in the fewest bytes."""
    if f.masked:
        return "the server's frame is masked (RFC 6455 5.1 forbids it): %r" % f
    if f.rsv:
        return "the server's frame has RSV bits %d: %r" % (f.rsv, f)
    if not f.minimal:
        return "the server's frame has its length of %d in more bytes than needed (RFC 6455 5.2): %r" % (len(f.payload), f)
    return None


def await_close(c, timeout=CLOSE_WAIT):
    """Reads frames until the server's close frame: (close Frame or None, the
    frames before it, why-not)."""
    before = []
    deadline = time.time() + timeout
    while True:
        f = c.frame(max(0.0, deadline - time.time()))
        if f is None:
            how = "timed out after %.1f s" % timeout if not c.end else "the connection ended (%s)" % c.end
            return None, before, "no close frame (%s; %d frames before: %r)" % (how, len(before), before[:3])
        if f.op == OP_CLOSE:
            return f, before, None
        before.append(f)
        if len(before) > 100000:
            return None, before, "more than 100000 frames and no close"


def check_close_payload(f):
    """RFC 6455 5.5, 5.5.1: a close frame is final, at most 125 bytes, a code and a UTF-8 reason."""
    bad = server_frame_ok(f)
    if bad:
        return bad
    if not f.fin or len(f.payload) > 125 or len(f.payload) == 1:
        return "malformed close frame %r" % f
    try:
        f.payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return "close reason not UTF-8: %r" % f
    return None


def end_after_close(c, name, code, answer=True):
    """Answers the server's close frame as RFC 6455 5.5.1 asks (the same
    code; not when our own close frame went first: answer False), then the
    server must end the connection within END_WAIT seconds with nothing more
    sent."""
    if answer:
        try:
            c.write(close_frame(code) if code is not None else close_frame())
        except (ssl.SSLError, OSError):
            pass
    end = c.wait_end(END_WAIT)
    extra = bytes(c.plain)
    report(end is not None and not extra,
           "%s -> the server ends the connection after the close handshake" % name,
           "still open after %.0f s" % END_WAIT if end is None else "%d bytes after its close frame: %r" % (len(extra), extra[:60]))
    c.close()


PROBES = [0]


def echo_once(c, payload=None, op=OP_TEXT, timeout=5.0):
    """Sends one message and expects it back, whole, as one frame of the same
    type; pongs are skipped. None if so, else why not."""
    if payload is None:
        PROBES[0] += 1
        payload = b"probe %d" % PROBES[0]
    c.write(frame(op, payload))
    deadline = time.time() + timeout
    while True:
        f = c.frame(max(0.0, deadline - time.time()))
        if f is None:
            return "no echo (%s)" % (c.end or "timed out after %.0f s" % timeout)
        bad = server_frame_ok(f)
        if bad:
            return bad
        if f.op == OP_PONG:
            continue
        if f.op != op or not f.fin or f.payload != payload:
            return "echo %r, want one frame op=%d %r" % (f, op, payload[:40])
        return None


def served_after(name):
    """A new connection is served: an echo and a clean close (1000 echoed, then the end)."""
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        why = echo_once(c)
        if not why:
            c.write(close_frame(1000))
            f, _, why = await_close(c)
            if f is not None and f.code() != 1000:
                why = "close %r after our 1000" % f
        c.close()
    report(why is None, "%s -> a new connection is served afterwards (echo, close 1000)" % name, why)


def expect_failure(name, data, code, path="/ws", then=b"", served=True, answer=True):
    """Writes data (then `then` after the close frame arrived: bytes a client
    might still send), and expects close `code`, the end, and service after.
    answer: whether to answer the server's close frame (not when data held
    our own close frame)."""
    try:
        c = ws_open(path)
    except UpgradeError as e:
        report(False, "%s -> close %d" % (name, code), "upgrade: %s" % e)
        report(False, "%s -> the server ends the connection after the close handshake" % name, "no connection")
        if served:
            served_after(name)
        return
    c.write(data)
    f, before, why = await_close(c)
    if f is not None:
        why = check_close_payload(f) or (None if f.code() == code else "close code %s (%r), want %d" % (f.code(), f, code))
    report(why is None, "%s -> close %d" % (name, code), why)
    if f is None:
        report(False, "%s -> the server ends the connection after the close handshake" % name,
               "no close frame came (%s)" % (c.end or "still open"))
        c.close()
    else:
        if then:
            try:
                c.write(then)
            except (ssl.SSLError, OSError):
                pass
        end_after_close(c, name, f.code(), answer)
    if served:
        served_after(name)


# ---- the cases ----------------------------------------------------------------------------------
def case_framing():
    """RFC 6455 5.1, 5.2, 5.4, 5.5: frames the server must fail with 1002."""
    expect_failure("unmasked text frame", frame(OP_TEXT, b"hello", mask=False), 1002)
    expect_failure("unmasked ping", frame(OP_PING, b"hi", mask=False), 1002)
    for bit, name in ((4, "RSV1"), (2, "RSV2"), (1, "RSV3")):
        expect_failure("text frame with %s set" % name, frame(OP_TEXT, b"hello", rsv=bit), 1002)
    for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
        expect_failure("unknown opcode 0x%X" % op, frame(op, b"x"), 1002)
    expect_failure("64-bit length with the top bit set (2^63)",
                   frame(OP_BIN, length=1 << 63, enc=64, with_payload=False) + b"abcd", 1002)
    expect_failure("ping of 126 bytes", frame(OP_PING, b"p" * 126), 1002)
    expect_failure("pong of 126 bytes", frame(OP_PONG, b"p" * 126), 1002)
    expect_failure("close of 126 bytes", frame(OP_CLOSE, struct.pack(">H", 1000) + b"r" * 124), 1002, answer=False)
    expect_failure("fragmented ping (FIN=0)", frame(OP_PING, b"ab", fin=False) + frame(OP_CONT, b"cd"), 1002)
    expect_failure("continuation frame with no message begun", frame(OP_CONT, b"abc"), 1002)
    expect_failure("non-final continuation with no message begun", frame(OP_CONT, b"abc", fin=False), 1002)
    expect_failure("new text frame inside a fragmented message",
                   frame(OP_TEXT, b"ab", fin=False) + frame(OP_TEXT, b"cd"), 1002)
    expect_failure("new binary frame inside a fragmented text message",
                   frame(OP_TEXT, b"ab", fin=False) + frame(OP_BIN, b"cd", fin=False), 1002)
    expect_failure("16-bit length for 5 bytes (non-minimal)", frame(OP_TEXT, b"hello", enc=16), 1002)
    expect_failure("64-bit length for 5 bytes (non-minimal)", frame(OP_TEXT, b"hello", enc=64), 1002)
    expect_failure("64-bit length for 200 bytes (non-minimal)", frame(OP_BIN, b"b" * 200, enc=64), 1002)


def case_utf8():
    """RFC 6455 5.6, 8.1: text that is not UTF-8 fails with 1007, also across
    fragments and at a message's end; valid UTF-8 split anywhere is echoed."""
    expect_failure("invalid UTF-8 across fragments (E2 82 | 28)",
                   frame(OP_TEXT, b"ab\xe2\x82", fin=False) + frame(OP_CONT, b"\x28cd"), 1007)
    expect_failure("overlong encoding C0 80", frame(OP_TEXT, b"a\xc0\x80b"), 1007)
    expect_failure("surrogate ED A0 80", frame(OP_TEXT, b"a\xed\xa0\x80b"), 1007)
    expect_failure("code point U+110000 (F4 90 80 80)", frame(OP_TEXT, b"a\xf4\x90\x80\x80b"), 1007)
    expect_failure("text message ending inside a character (E2 82)", frame(OP_TEXT, b"ab\xe2\x82"), 1007)
    expect_failure("text message whose last fragment ends inside a character",
                   frame(OP_TEXT, b"ab", fin=False) + frame(OP_CONT, b"\xf0\x9f\x98"), 1007)
    # Valid: every split of a 2-, 3- and 4-byte character, and one byte per frame.
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        n = 0
        for ch in ("\u00e9", "\u20ac", "\U0001F600"):
            msg = ("a" + ch + "b").encode()
            splits = [[msg[:k], msg[k:]] for k in range(2, len(msg) - 1)]
            splits.append([msg[i:i + 1] for i in range(len(msg))])
            splits.append([b""] + [msg[:2], b"", msg[2:]] + [b""])  # empty fragments too
            for parts in splits:
                data = b"".join(frame(OP_TEXT if i == 0 else OP_CONT, p, fin=(i == len(parts) - 1))
                                for i, p in enumerate(parts))
                c.write(data)
                f = c.frame(5.0)
                n += 1
                if f is None or server_frame_ok(f) or f.op != OP_TEXT or not f.fin or f.payload != msg:
                    why = "fragments %r: got %r (%s)" % (parts, f, c.end or "open")
                    break
            if why:
                break
        if not why:
            why = echo_once(c)
        c.close()
    report(why is None, "valid UTF-8 split at every byte of 2-, 3- and 4-byte characters -> echoed whole as one text frame", why)


def case_limits():
    """?max=1000: a longer message is refused with 1009 at the header that
    would exceed it (the server's contract: before its bytes are held)."""
    p = "/ws?max=1000"
    why = None
    try:
        c = ws_open(p)
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        why = echo_once(c, b"m" * 1000) or echo_once(c, b"n" * 1000, OP_BIN)
        if not why:
            parts = [b"a" * 500, b"b" * 500]
            c.write(frame(OP_TEXT, parts[0], fin=False) + frame(OP_CONT, parts[1]))
            f = c.frame(5.0)
            if f is None or f.op != OP_TEXT or f.payload != b"".join(parts):
                why = "1000 bytes in two fragments: got %r" % f
        c.close()
    report(why is None, "messages of exactly the limit (?max=1000, 1000 bytes, whole and fragmented) -> echoed", why)
    for op, kind in ((OP_TEXT, "text"), (OP_BIN, "binary")):
        expect_failure("%s message of 1001 bytes over ?max=1000" % kind, frame(op, b"x" * 1001), 1009, path=p)
    expect_failure("fragmented message 600 + 401 bytes over ?max=1000",
                   frame(OP_BIN, b"x" * 600, fin=False) + frame(OP_CONT, b"y" * 401), 1009, path=p)
    # The header alone: the close must come before the payload does.
    expect_failure("header of a 1001-byte message only (no payload sent) over ?max=1000",
                   frame(OP_BIN, length=1001, with_payload=False), 1009, path=p)
    expect_failure("header of a 2^62-byte message only over ?max=1000",
                   frame(OP_BIN, length=1 << 62, enc=64, with_payload=False), 1009, path=p)
    expect_failure("header of a 2 MiB message only (default limit 1 MiB)",
                   frame(OP_BIN, length=2 << 20, with_payload=False), 1009)


def case_close():
    """RFC 6455 5.5.1, 7.4: the close frame's payload."""
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535):
        expect_failure("close with invalid code %d" % code, close_frame(code), 1002, answer=False)
    expect_failure("close with a 1-byte payload", frame(OP_CLOSE, b"\x03"), 1002, answer=False)
    expect_failure("close 1000 with an invalid UTF-8 reason (FF)", close_frame(1000, b"bye \xff"), 1007, answer=False)
    expect_failure("close 1000 with a reason cut inside a character", close_frame(1000, b"ok \xe2\x82"), 1007,
                   answer=False)
    for code, reason in ((1000, b""), (1000, b"bye \xe2\x82\xac"), (1001, b""), (1003, b""), (1011, b""),
                         (1014, b""), (3000, b""), (4999, b"x")):
        expect_failure("close %d%s" % (code, " with a reason" if reason else ""), close_frame(code, reason),
                       code, then=frame(OP_TEXT, b"after close"), answer=False)
    # An empty close: answered with a close (empty, or 1000), then the end.
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
        c = None
    if c:
        c.write(close_frame())
        f, _, why = await_close(c)
        if f is not None:
            why = check_close_payload(f) or (None if f.code() in (None, 1000) else "close %r" % f)
    report(why is None, "close with no payload -> answered with an empty close or 1000", why)
    if not c:
        report(False, "close with no payload -> the server ends the connection after the close handshake", why)
    else:
        if f is not None:
            c.wait_end(END_WAIT)
            report(c.end is not None, "close with no payload -> the server ends the connection after the close handshake",
                   "still open after %.0f s" % END_WAIT)
        else:
            report(False, "close with no payload -> the server ends the connection after the close handshake", "no close")
        c.close()


def case_controls():
    """Pings answered with their payload, also between fragments; unsolicited pongs ignored."""
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        for payload in (b"", b"x", bytes(range(125))):
            c.write(frame(OP_PING, payload))
            f = c.frame(5.0)
            if f is None or server_frame_ok(f) or f.op != OP_PONG or not f.fin or f.payload != payload:
                why = "ping %r: got %r" % (payload[:10], f)
                break
        if not why:
            c.write(frame(OP_PONG, b"unsolicited"))
            why = echo_once(c, b"after pong")
        c.close()
    report(why is None, "pings of 0, 1 and 125 bytes -> pongs with the same payload; an unsolicited pong is ignored", why)
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        for n in (0, 125, 126, 127, 65535, 65536, 65537, 1 << 20):
            why = echo_once(c, bytes([n % 251]) * n, OP_BIN, timeout=10.0)
            if why:
                why = "%d bytes: %s" % (n, why)
                break
        c.close()
    report(why is None, "binary messages of 0, 125, 126, 127, 65535, 65536, 65537 and 1 MiB bytes -> echoed, lengths in the fewest bytes", why)


def case_many_frames():
    """10000 one-byte frames: one message of 10000 fragments (pings among
    them), and 10000 one-byte messages."""
    why = None
    n = 10000
    alpha = bytes(range(0x61, 0x61 + 26))
    msg = bytes(alpha[i % 26] for i in range(n))
    pings = len([i for i in range(n) if i % 1000 == 500])
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        out = []
        for i in range(n):
            out.append(frame(OP_TEXT if i == 0 else OP_CONT, msg[i:i + 1], fin=(i == n - 1)))
            if i % 1000 == 500:
                out.append(frame(OP_PING, b"ping %d" % i))
        c.write(b"".join(out))
        got_pongs = []
        deadline = time.time() + 15
        while True:
            f = c.frame(max(0.0, deadline - time.time()))
            if f is None:
                why = "no echo of the 10000-fragment message (%s; %d pongs)" % (c.end or "timed out", len(got_pongs))
                break
            if f.op == OP_PONG:
                got_pongs.append(f.payload)
                continue
            if server_frame_ok(f) or f.op != OP_TEXT or not f.fin or f.payload != msg:
                why = "echo %r, want one text frame of the %d bytes" % (f, n)
            elif len(got_pongs) != pings:
                why = "%d pongs before the echo, want %d (one per ping between the fragments)" % (len(got_pongs), pings)
            break
        c.close()
    report(why is None, "one message in 10000 one-byte frames with %d pings between them -> reassembled and echoed whole, every ping answered" % pings, why)
    why = None
    try:
        c = ws_open()
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        c.write(b"".join(frame(OP_TEXT, msg[i:i + 1]) for i in range(n)))
        k = 0
        deadline = time.time() + 20
        while k < n:
            f = c.frame(max(0.0, deadline - time.time()))
            if f is None:
                why = "%d of %d echoes (%s)" % (k, n, c.end or "timed out")
                break
            if server_frame_ok(f) or f.op != OP_TEXT or not f.fin or f.payload != msg[k:k + 1]:
                why = "echo %d: %r, want %r" % (k, f, msg[k:k + 1])
                break
            k += 1
        if not why:
            why = echo_once(c)
        c.close()
    report(why is None, "10000 one-byte text messages -> each echoed, in order", why)


def api_status():
    """GET /api/status on a connection of its own: the JSON, or None."""
    try:
        c = Conn(A.port)
    except OSError:
        return None
    c.write(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    c.wait_end(5.0)
    c.close()
    body = bytes(c.plain).split(b"\r\n\r\n", 1)
    try:
        return json.loads(body[1].decode())
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def heap_now():
    st = api_status()
    return st.get("heap_bytes") if st else None


def heap_bounded(name, bound, h=None):
    """heap_bytes (now, or h) within bound of --heap-base (when both are known)."""
    check = "%s -> heap_bytes stays bounded meanwhile (at most %d KiB over the baseline)" % (name, bound // 1024)
    if A.list:
        return report(True, check)
    if h is None:
        h = heap_now()
    if A.heap_base < 0 or h is None:
        note("%s: heap_bytes not reported, not checked (now %s)" % (name, h))
        return
    report(h <= A.heap_base + bound, check, "%d KiB over" % ((h - A.heap_base) // 1024),
           detail="%d KiB over" % ((h - A.heap_base) // 1024))


def push_until_stalled(c, limit_s, quiet_s):
    """Writes (never reading) until all is taken, the socket stops taking
    bytes for quiet_s, the stream ends, or limit_s passes. True if stalled
    (bytes left and no progress)."""
    deadline = time.time() + limit_s
    last, last_t = c.sent, time.time()
    while c.pending and not c.end and time.time() < deadline:
        c.pump(0.05, read=False)
        if c.sent != last:
            last, last_t = c.sent, time.time()
        elif time.time() - last_t > quiet_s:
            return True
    return bool(c.pending) and not c.end


# Bound of the server's heap for one stalled WebSocket over the baseline, at
# ?max=8192 (sn_demo's queue is then 2 * 8192 + 64 bytes): the TLS connection
# (mbedTLS context and two 16 KiB records, about 40 KiB), the receive buffer
# (one message and a header, at most 8448 bytes), the send queue (16 KiB):
# about 70 KiB; 512 KiB leaves room, while buffering what the client pushes
# (8 MB) costs megabytes. (At the default 1 MiB limit, sn_demo may hold 3 MiB
# for a client that does not read: bounded, but not what this measures.)
STALL_PATH = "/ws?max=8192"
STALL_BOUND = 512 * 1024


def case_ping_flood():
    """40000 pings of 125 bytes (5 MB) without reading: pongs come (the last ping's at
    least, RFC 6455 5.5.3), in order; memory stays bounded; others are served."""
    n = int(os.environ.get("WS_PINGS", "40000"))
    name = "/ws?max=8192 %d pings of 125 bytes sent without reading" % n
    final = "%s -> pongs in order, the last ping answered (or a close 1008), then echoes again" % name
    try:
        c = ws_open(STALL_PATH, rcvbuf=4096, sndbuf=16384)
    except UpgradeError as e:
        heap_bounded(name, STALL_BOUND)
        served_after(name)
        report(False, final, "upgrade: %s" % e)
        return
    payloads = [(b"%05d" % i) * 25 for i in range(n)]
    c.write(b"".join(frame(OP_PING, p) for p in payloads))
    total = c.sent + len(c.pending)
    stalled = push_until_stalled(c, 6.0, 1.0)
    note("%s: %d of %d bytes taken before %s" % (name, c.sent, total, "the server stopped reading" if stalled else "the end of the push"))
    heap_bounded(name, STALL_BOUND)
    served_after(name)
    # now read everything (and write the rest)
    pongs, close, why = [], None, None
    c.write(frame(OP_TEXT, b"after the flood"))
    deadline = time.time() + 20
    echo = None
    while time.time() < deadline:
        f = c.frame(max(0.0, deadline - time.time()))
        if f is None:
            break
        bad = server_frame_ok(f)
        if bad:
            why = bad
            break
        if f.op == OP_PONG:
            pongs.append(f.payload)
        elif f.op == OP_CLOSE:
            close = f
            break
        else:
            echo = f
            break
    idx = {p: i for i, p in enumerate(payloads)}
    seq = [idx.get(p, -1) for p in pongs]
    if not why:
        if -1 in seq:
            why = "a pong with a payload no ping had: %r" % pongs[seq.index(-1)][:20]
        elif any(b <= a for a, b in zip(seq, seq[1:])):
            why = "pongs out of order"
        elif close is not None:
            why = None if close.code() == 1008 and seq else "close %r after %d pongs" % (close, len(seq))
        elif echo is None:
            why = "after %d pongs: %s" % (len(seq), c.end or "nothing more")
        elif echo.op != OP_TEXT or echo.payload != b"after the flood":
            why = "after the pongs: %r" % echo
        elif not seq or seq[-1] != n - 1:
            why = "the last ping (of %d) not answered: %d pongs, the last for ping %s" % (n, len(seq), seq[-1] if seq else None)
    note("%s: %d pongs%s" % (name, len(seq), ", then close %s" % close.code() if close else ""))
    report(why is None, final, why, detail="%d pongs" % len(seq))
    c.close()


def case_never_reader():
    """/ws: a client that sends lots and never reads is pushed back (the
    server stops reading) or closed, memory bounded, others served; once it
    reads, every echo arrives intact (pushback loses nothing)."""
    name = "/ws?max=8192 client sending 8 MB without reading"
    pushed = "%s -> pushed back (the server stops taking bytes, or closes)" % name
    final = "%s -> once it reads, every echo arrives intact and in order (or a close 1008)" % name
    try:
        c = ws_open(STALL_PATH, rcvbuf=4096, sndbuf=16384)
    except UpgradeError as e:
        report(False, pushed, "upgrade: %s" % e)
        heap_bounded(name, STALL_BOUND)
        served_after(name)
        report(False, final, "upgrade: %s" % e)
        return
    size, count = 8000, 1024
    msgs = [bytes([0x30 + i % 64]) * size for i in range(count)]
    c.write(b"".join(frame(OP_BIN, m) for m in msgs))
    total = c.sent + len(c.pending)
    stalled = push_until_stalled(c, 8.0, 1.0)
    report(stalled or (c.end is not None and c.pending), pushed, "all %d KiB taken" % (total // 1024),
           detail="%d KiB of %d KiB taken%s" % (c.sent // 1024, total // 1024, ", then %s" % c.end if c.end else ""))
    heap_bounded(name, STALL_BOUND)
    served_after(name)
    # read it all back
    k, why = 0, None
    deadline = time.time() + 25
    while k < count:
        f = c.frame(max(0.0, deadline - time.time()))
        if f is None:
            why = "%d of %d echoes (%s)" % (k, count, c.end or "timed out")
            break
        if f.op == OP_CLOSE:
            why = None if f.code() == 1008 else "close %r after %d echoes" % (f, k)
            note("%s: closed with %s after %d echoes" % (name, f.code(), k))
            break
        if server_frame_ok(f) or f.op != OP_BIN or f.payload != msgs[k]:
            why = "echo %d: %r" % (k, f)
            break
        k += 1
    if k == count:
        why = echo_once(c)
    report(why is None, final, why)
    c.close()


def case_status_reader():
    """/ws/status: JSON pushed at once with seq 1, then 2; a client's message
    ignored; close 1000 echoed. A client that never reads is closed with 1008
    once the queue is full: only with WS_STATUS_WAIT (seconds of not
    reading), since over loopback the kernel takes 2-3 MB of unsent data
    (the server's send buffer grows while the client's window is closed)
    before sn_demo's 8 KiB queue fills: at one 130-byte message a second,
    hours. (WS_STATUS_PATH for a server that pushes faster.)"""
    name = "/ws/status"
    why = None
    try:
        c = ws_open("/ws/status")
    except UpgradeError as e:
        why = "upgrade: %s" % e
    else:
        seqs = []
        deadline = time.time() + 4
        while len(seqs) < 2 and time.time() < deadline:
            f = c.frame(max(0.0, deadline - time.time()))
            if f is None:
                break
            try:
                d = json.loads(f.payload.decode())
            except (ValueError, UnicodeDecodeError):
                why = "not JSON: %r" % f
                break
            if server_frame_ok(f) or f.op != OP_TEXT or not f.fin:
                why = "frame %r" % f
                break
            missing = [k for k in ("seq", "uptime_ms", "connections", "requests") if k not in d]
            if missing:
                why = "JSON without %s: %r" % (missing, d)
                break
            seqs.append(d["seq"])
        if not why and seqs != [1, 2]:
            why = "seq %r within 4 s, want [1, 2]" % seqs
        c.write(frame(OP_TEXT, b"ignored"))
        c.write(close_frame(1000))
        f, _, w2 = await_close(c)
        why = why or w2 or (None if f.code() == 1000 else "close %r" % f)
        c.close()
    report(why is None, "%s pushes JSON with seq 1 at once, then 2; ignores a client's message; close 1000 echoed" % name, why)
    wait = float(os.environ.get("WS_STATUS_WAIT", "0"))
    if wait <= 0:
        note("%s: a client that never reads not tried (WS_STATUS_WAIT unset: at one message a second, the kernel's buffers take hours to fill)" % name)
        return
    closed = "%s client that never reads -> close 1008" % name
    try:
        c = ws_open(os.environ.get("WS_STATUS_PATH", "/ws/status"), rcvbuf=4096)
    except UpgradeError as e:
        heap_bounded("%s client that never reads" % name, STALL_BOUND)
        served_after("%s client that never reads" % name)
        report(False, closed, "upgrade: %s" % e)
        return
    deadline = time.time() + wait
    while time.time() < deadline:
        time.sleep(0.5)
    heap_bounded("%s client that never reads" % name, STALL_BOUND)
    served_after("%s client that never reads" % name)
    close, n = None, 0
    end = time.time() + 20
    while time.time() < end:
        f = c.frame(max(0.0, end - time.time()))
        if f is None:
            break
        if f.op == OP_CLOSE:
            close = f
            break
        n += 1
    report(close is not None and close.code() == 1008, closed,
           "got %r after %d messages (%s)" % (close, n, c.end or "open"), detail="after %d messages" % n)
    c.close()


class Lingering:
    """A client that breaks the protocol and then never answers the server's
    close frame: the server must end the connection by itself (its
    close_timeout_ms, 5 s by default) - checked at the end of the run."""

    def __init__(self):
        self.c, self.t0, self.why, self.t_end = None, time.time(), None, None
        try:
            self.c = ws_open()
            self.c.write(frame(OP_TEXT, b"x", rsv=4))
            f, _, self.why = await_close(self.c)
            if f is not None and f.code() != 1002:
                self.why = "close %r" % f
        except UpgradeError as e:
            self.why = "upgrade: %s" % e
        served_after("a client that never answers the server's close frame")

    def poll(self):
        if self.c is not None and not self.why and self.t_end is None:
            if self.c.end is None:
                self.c.pump(0)
            if self.c.end is not None:
                self.t_end = time.time()

    def finish(self, limit=10.0):
        name = "a client that never answers the server's close frame -> the server ends the connection by itself"
        if self.why:
            report(False, name, self.why)
            return
        self.poll()
        if self.c.end is None:
            self.c.wait_end(max(0.1, self.t0 + limit - time.time()))
            self.t_end = time.time()
        report(self.c.end is not None, name, "still open after %.0f s" % (time.time() - self.t0),
               detail="%s, seen %.1f s after its close frame" % (self.c.end, self.t_end - self.t0))
        self.c.close()


CASES = [("framing", case_framing), ("utf8", case_utf8), ("limits", case_limits), ("close", case_close),
         ("controls", case_controls), ("frames", case_many_frames), ("pingflood", case_ping_flood),
         ("neverread", case_never_reader), ("status", case_status_reader)]


def main():
    global A, CTX
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ca", default="build/certs/ca.pem")
    ap.add_argument("--heap-base", type=int, default=-1)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    A = ap.parse_args()
    CTX = ssl.create_default_context(cafile=A.ca)
    only = [s for s in A.only.replace(",", " ").split() if s]
    if A.list:
        # Names only: run the cases against nothing (every connection fails at once).
        A.port = 1
        for name, fn in CASES:
            fn()
        Lingering().finish(0)
        for n in NAMES:
            print(n)
        return 0
    linger = Lingering() if not only or "linger" in only else None
    for name, fn in CASES:
        if only and name not in only:
            continue
        t0 = time.time()
        fn()
        note("(%s: %.1f s)" % (name, time.time() - t0))
        if linger:
            linger.poll()
    if linger:
        linger.finish()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
