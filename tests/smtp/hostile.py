#!/usr/bin/env python3
"""A scripted hostile SMTP server for tests/smtp_faults.sh (run with /usr/bin/python3).

  hostile.py BASE_PORT DIR CERT KEY OTHER_CERT OTHER_KEY

Listens on 127.0.0.1, one port per scenario: BASE_PORT + its index in
SCENARIOS (`hostile.py --list` prints "index name"). Prints "ready" once
every port is bound. For scenario NAME it writes
  DIR/NAME.log      one line per event: "C: <command>" as received (with
                    "tls" when it came under TLS), "S: ..." for notable
                    replies, "saved N", "dropped ...", "handshake failed ..."
  DIR/NAME.N.eml    the N-th message received (dot-unstuffed, CRLF kept)
  DIR/NAME.N.env    its envelope: from=, rcpt=, tls=
A message is saved when its final dot arrives, whatever the server answers
(or does not answer) to it: that is what "the server may have taken it" means.

HOSTILE_TAME=1 in the environment turns every scenario into a well-behaved
server (same TLS mode, the right certificate, normal replies, no pauses):
the suite's negative checks must then fail, which shows they can.
"""
import os, socket, ssl, sys, threading, time

# name: (TLS mode, behaviour...) -- the behaviour keys are read in session()
SCENARIOS = [
    ("split-tls", dict(mode="tls", split=True)),             # every reply byte in its own record
    ("split-starttls", dict(mode="starttls", split=True)),   # same, in clear and then under TLS
    ("ehlo300", dict(mode="starttls", ehlo_lines=300)),      # 300 continuation lines, STARTTLS last
    ("line1000", dict(mode="tls", ehlo_long=1000)),          # a 1000-octet EHLO line: over 512, within reason
    ("line5000", dict(mode="tls", ehlo_long=5000)),          # a 5000-octet EHLO line: over any sane buffer
    ("endless-greet", dict(mode="tls", endless="greet")),    # "220-..." for ever
    ("endless-ehlo", dict(mode="starttls", endless="ehlo")), # "250-..." for ever, in clear
    ("endless-dot", dict(mode="tls", endless="dot")),        # the reply to the final dot never ends
    ("wrongname-tls", dict(mode="tls", cert="other")),       # a trusted certificate for other.example
    ("wrongname-starttls", dict(mode="starttls", cert="other")),
    ("drop-dot", dict(mode="tls", dot="drop")),              # TCP closed after the final dot, no reply
    ("notify-dot", dict(mode="starttls", dot="notify")),     # TLS close_notify after the final dot, no reply
    ("silent-dot", dict(mode="tls", dot="silent")),          # no reply to the final dot, connection kept
    ("refuse-552", dict(mode="tls", refuse_first=True, dot=b"552 5.3.4 message too big for system\r\n")),
    ("refuse-drop354", dict(mode="starttls", refuse_first=True, data="drop")),  # closed in the body
    ("refuse-dropdot", dict(mode="tls", refuse_first=True, dot="drop")),
    ("greet554", dict(mode="tls", greeting=b"554 5.3.2 hostile.test no service for you\r\n")),
    ("ehlo554", dict(mode="tls", ehlo=b"554 5.7.1 go away\r\n")),
    ("ehlo502-helo550", dict(mode="tls", ehlo=b"502 5.5.1 no EHLO here\r\n", helo=b"550 5.7.1 no HELO either\r\n")),
    ("ehlo502-helo", dict(mode="tls", ehlo=b"502 5.5.1 no EHLO here\r\n")),   # HELO under TLS: the mail goes
    ("mail553", dict(mode="tls", mail=b"553 5.7.1 sender not allowed\r\n")),
    ("garbage354", dict(mode="tls", data="garbage")),       # 354, then garbage instead of replies
    ("long-dot", dict(mode="tls", dot=b"250 " + b"q" * 3000 + b"\r\n")),  # the dot's 250, 3000 octets long
    ("garbage-dot", dict(mode="tls", dot=b"\x00\xff\xfe this is not an SMTP reply\r\n")),  # garbage for the dot's reply
    ("ctrl-greet", dict(mode="tls", greeting=b"554 5.7.1 \x1b[2J\x1b]0;owned\x07 \x1b[31mblocked\x1b[0m\r\n")),
    # reply lines shorter than four characters ("250", bare LF): malformed, never read past
    ("short-ehlo-clear", dict(mode="starttls", ehlo_clear=b"250-hostile\r\n250\nAUTH PLAIN\r\n")),  # before TLS
    ("short-ehlo-tls", dict(mode="starttls", ehlo_tls=b"250-hostile\r\n250\nAUTH PLAIN\r\n")),    # after STARTTLS
    ("short-greet", dict(mode="starttls", greeting=b"220\r\n")),
    ("short-rcpt", dict(mode="tls", rcpt=b"25\n")),
    ("short-dot", dict(mode="tls", dot=b"250\r\n")),                # the dot's reply: the mail may be taken
    ("mixed-codes", dict(mode="starttls", ehlo_clear=b"250-hostile\r\n250-STARTTLS\r\n554 no\r\n")),
    ("plain-ok", dict(mode="tls")),                                 # well-behaved: attachment faults
]

if len(sys.argv) > 1 and sys.argv[1] == "--list":
    for i, (n, _) in enumerate(SCENARIOS):
        print(i, n)
    sys.exit(0)

BASE, DIR, CERT, KEY, OTHER_CERT, OTHER_KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
TAME = os.environ.get("HOSTILE_TAME") == "1"
os.makedirs(DIR, exist_ok=True)
lock = threading.Lock()
counts = {}


def tls_context(other):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(OTHER_CERT if other else CERT, OTHER_KEY if other else KEY)
    return ctx


GOOD, OTHER = tls_context(False), tls_context(True)


class Peer:
    """One client connection: line reads with our own buffer, replies whole or a byte at a time."""

    def __init__(self, sock, name, split):
        self.raw = self.s = sock
        self.name, self.split, self.buf, self.tls = name, split, b"", False

    def log(self, text):
        with lock, open(os.path.join(DIR, self.name + ".log"), "a") as f:
            f.write(text + "\n")

    def send(self, data):
        if not self.split:
            self.s.sendall(data)
            return
        for i in range(len(data)):  # TCP_NODELAY is set: one segment (and one TLS record) per byte
            self.s.sendall(data[i:i + 1])
            time.sleep(0.001)

    def line(self, limit=1 << 20):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d or len(self.buf) > limit:
                return None
            self.buf += d
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def start_tls(self, ctx):
        if self.buf:
            self.log("client sent %d bytes in clear after STARTTLS (dropped)" % len(self.buf))
        self.buf = b""
        self.s = ctx.wrap_socket(self.raw, server_side=True)
        self.tls = True

    def endless(self, code, seconds=30):
        """A multi-line reply that never ends: batches of continuation lines until the client leaves."""
        self.log("S: %s- lines for ever" % code)
        end, n = time.time() + seconds, 0
        try:
            while time.time() < end:
                self.s.sendall(b"".join(b"%s-line %d of a reply that never ends\r\n" % (code, n + k) for k in range(50)))
                n += 50
                time.sleep(0.02)
        except OSError:
            pass
        self.log("endless reply stopped after %d lines" % n)

    def wait_close(self, seconds=30):
        """Says nothing; returns when the client closes (or after `seconds`)."""
        self.s.settimeout(seconds)
        try:
            while self.s.recv(4096):
                pass
        except (OSError, ssl.SSLError):
            pass


def save(name, data, mail_from, rcpts, tls):
    with lock:
        counts[name] = counts.get(name, 0) + 1
        n = counts[name]
    open(os.path.join(DIR, "%s.%d.eml" % (name, n)), "wb").write(data)
    open(os.path.join(DIR, "%s.%d.env" % (name, n)), "w").write("from=%s\nrcpt=%s\ntls=%s\n" % (mail_from, ",".join(rcpts), tls))
    return n


def ehlo_reply(b, tls):
    exts = [b"PIPELINING", b"8BITMIME", b"SIZE 10000000", b"AUTH PLAIN LOGIN"]
    if b["mode"] == "starttls" and not tls:
        exts = [b"STARTTLS"]
    lines = [b"hostile.test greets you"]
    if b.get("ehlo_lines"):  # filler first, so the real extensions come after 300 lines
        lines += [b"X-FILLER-%03d some extension nobody knows" % i for i in range(b["ehlo_lines"])]
    if b.get("ehlo_long"):
        lines.append(b"X-LONG " + b"L" * (b["ehlo_long"] - 7 - 6))  # the whole line, CRLF included, is ehlo_long
    lines += exts
    return b"".join(b"250-" + x + b"\r\n" for x in lines[:-1]) + b"250 " + lines[-1] + b"\r\n"


def session(p, b):
    if b["mode"] == "tls":
        try:
            p.start_tls(OTHER if b.get("cert") == "other" else GOOD)
        except (OSError, ssl.SSLError) as e:
            p.log("handshake failed: %s" % e)
            return
    if b.get("endless") == "greet":
        return p.endless(b"220")
    p.send(b.get("greeting", b"220 hostile.test ESMTP\r\n"))
    mail_from, rcpts, nrcpt = "", [], 0
    while True:
        ln = p.line()
        if ln is None:
            p.log("client closed")
            return
        p.log("C: %s%s" % (ln.rstrip(b"\r\n").decode("latin-1"), " tls" if p.tls else ""))
        cmd = ln[:4].upper()
        if cmd == b"EHLO":
            if b.get("endless") == "ehlo":
                return p.endless(b"250")
            p.send(b.get("ehlo_tls" if p.tls else "ehlo_clear") or b.get("ehlo") or ehlo_reply(b, p.tls))
        elif cmd == b"HELO":
            p.send(b.get("helo", b"250 hostile.test\r\n"))
        elif cmd == b"STAR":
            p.send(b"220 2.0.0 go ahead\r\n")
            try:
                p.start_tls(OTHER if b.get("cert") == "other" else GOOD)
            except (OSError, ssl.SSLError) as e:
                p.log("handshake failed: %s" % e)
                return
        elif cmd == b"AUTH":
            p.send(b"235 2.7.0 ok\r\n")
        elif cmd == b"MAIL":
            mail_from, rcpts, nrcpt = ln.decode().split("<")[1].split(">")[0], [], 0
            p.send(b.get("mail", b"250 2.1.0 ok\r\n"))
        elif cmd == b"RCPT":
            nrcpt += 1
            if b.get("mail"):
                p.send(b"503 5.5.1 no sender\r\n")
            elif b.get("refuse_first") and nrcpt == 1:
                p.send(b"550 5.1.1 no such user here\r\n")
            elif b.get("rcpt"):
                p.send(b["rcpt"])
            else:
                rcpts.append(ln.decode().split("<")[1].split(">")[0])
                p.send(b"250 2.1.5 ok\r\n")
        elif cmd == b"DATA":
            if b.get("mail") or not rcpts:
                p.send(b"554 5.5.1 no valid recipients\r\n")
                continue
            if b.get("data") == "garbage":
                p.send(b"354 go ahead\r\n\x00\xff\xfe this is not an SMTP reply \x01\x02\r\n")
                p.log("S: 354 followed by garbage")
            else:
                p.send(b"354 go ahead\r\n")
            body = b""
            while True:
                dl = p.line()
                if dl is None:
                    p.log("client closed in DATA after %d bytes" % len(body))
                    return
                if b.get("data") == "drop" and len(body) > 4000:
                    p.log("dropped in DATA after %d bytes" % len(body))
                    p.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    p.s.close()  # unread data in the socket: the peer gets a reset
                    return
                if dl == b".\r\n":
                    break
                body += dl[1:] if dl.startswith(b".") else dl
            n = save(p.name, body, mail_from, rcpts, p.tls)
            p.log("saved %d" % n)
            if b.get("data") == "garbage":
                return p.wait_close(10)
            dot = b.get("dot", b"250 2.0.0 queued as hostile-%d\r\n" % n)
            if dot == "drop":  # SSLSocket.close() sends no close_notify: the TCP connection just ends
                p.log("dropped after the final dot")
                p.s.close()
                return
            if dot == "notify":
                p.log("close_notify after the final dot")
                p.s.settimeout(5)
                p.s.unwrap().close()
                return
            if dot == "silent":
                p.log("silent after the final dot")
                return p.wait_close()
            if b.get("endless") == "dot":
                return p.endless(b"250")
            p.send(dot)
        elif cmd == b"QUIT":
            p.send(b"221 2.0.0 bye\r\n")
            return
        elif cmd == b"RSET":
            p.send(b"250 2.0.0 ok\r\n")
        else:
            p.send(b"500 5.5.2 what?\r\n")


def serve(conn, name, b):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    p = Peer(conn, name, b.get("split", False))
    p.log("connect")
    try:
        session(p, b)
    except (OSError, ssl.SSLError, ValueError, IndexError) as e:
        p.log("ended: %s" % e)
    finally:
        try:
            p.s.close()
        except OSError:
            pass


def listen(port, name, b):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    return ls


def accept_loop(ls, name, b):
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, name, b), daemon=True).start()


socks = []
for i, (name, b) in enumerate(SCENARIOS):
    if TAME:
        b = dict(mode=b["mode"])
    socks.append((listen(BASE + i, name, b), name, b))
for ls, name, b in socks:
    threading.Thread(target=accept_loop, args=(ls, name, b), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
