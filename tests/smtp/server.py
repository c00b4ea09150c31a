#!/usr/bin/python3
"""A configurable SMTP server for tests/smtp_integration.sh (aiosmtpd).

Run it with /usr/bin/python3 (Debian's python3-aiosmtpd). It listens on
127.0.0.1:PORT and prints "ready" once it does.

  --mode implicit|starttls|plain   TLS from the first byte (465 style),
                     STARTTLS required before anything else (587 style), or none
  --cert/--key PEM   the server certificate (chain) and key
  --auth USER:SECRET AUTH required: PLAIN and LOGIN take USER with password
                     SECRET, XOAUTH2 takes USER with bearer token SECRET
                     ("user=USER\\x01auth=Bearer SECRET\\x01\\x01"; a wrong one gets
                     Google's 334 JSON challenge, then 535)
  --mechs M[,M..]    only these AUTH mechanisms are offered (default PLAIN,LOGIN,XOAUTH2)
  --maildir DIR      each accepted message: DIR/N.eml (as received, dots
                     unstuffed) and DIR/N.json (envelope: mail_from, rcpt_tos,
                     mail_options, auth_mech, auth_user, tls, tls_version, sni,
                     helo, conn, txn, pipelined, eight_bit); DIR/log: one line
                     per connection, command and notable event, e.g.
                       conn=3 tls=1 C: EHLO client.example
  failure injection:
  --reject-rcpt ADDR     550 (a two-line reply) for that recipient (repeatable)
  --tempfail-rcpt ADDR   452 for that recipient (repeatable)
  --no-starttls          STARTTLS is neither advertised nor accepted, and AUTH
                         is offered in clear (a client must not use it)
  --no-ehlo              EHLO gets 502: the client must fall back to HELO
  --no-pipelining        PIPELINING is not advertised (it is by default)
  --no-8bitmime          8BITMIME is not advertised; BODY=8BITMIME is refused
  --size N               SIZE N advertised and enforced (default 32 MiB)
  --close-in-data        after 354 and the first bytes of the message, the
                         connection is dropped
  --stall-after STAGE    the server stops answering at STAGE: connect (no
                         greeting), EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA (the
                         command gets no reply) or DOT (the whole message is
                         read, its final dot gets no reply)
  --inject-before-tls    the 220 reply to STARTTLS carries, in the same write,
                         a forged extra reply in clear ("250-injected ...");
                         a correct client discards it and says EHLO again
                         under TLS (RFC 3207 section 4.2)

Pipelining is seen from here: at the first MAIL of a connection the server
waits up to 0.3 s, before replying, for the next command to arrive; only a
client that pipelines can have sent it ("pipelined": true in N.json).
"""
import argparse
import warnings
import asyncio
import base64
import binascii
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--mode", choices=["implicit", "starttls", "plain"], default="starttls")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--auth")
p.add_argument("--mechs", default="PLAIN,LOGIN,XOAUTH2")
p.add_argument("--maildir", required=True)
p.add_argument("--reject-rcpt", action="append", default=[])
p.add_argument("--tempfail-rcpt", action="append", default=[])
p.add_argument("--no-starttls", action="store_true")
p.add_argument("--no-ehlo", action="store_true")
p.add_argument("--no-pipelining", action="store_true")
p.add_argument("--no-8bitmime", action="store_true")
p.add_argument("--size", type=int, default=32 * 1024 * 1024)
p.add_argument("--close-in-data", action="store_true")
p.add_argument("--stall-after", choices=["connect", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "DOT"])
p.add_argument("--inject-before-tls", action="store_true")
A = p.parse_args()
warnings.simplefilter("ignore")  # aiosmtpd 1.4 warns about its own login_data
os.makedirs(A.maildir, exist_ok=True)
USER, SECRET = (A.auth.split(":", 1) if A.auth else (None, None))
INJECTED = b"250-injected.invalid\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n"
conn_ids, msg_ids = itertools.count(1), itertools.count(1)

ctx = None
if A.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(A.cert, A.key)

    def remember_sni(sslobj, name, _ctx):  # the name the client asked for (None: no SNI)
        sslobj.sni_name = name
    ctx.sni_callback = remember_sni


def log(conn, tls, text):
    with open(os.path.join(A.maildir, "log"), "a") as f:
        f.write("conn=%d tls=%d %s\n" % (conn, tls, text))


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if A.no_ehlo:
            return ["502 5.5.1 EHLO not implemented here, say HELO"]
        session.host_name = hostname
        out = [r for r in responses if not (A.no_8bitmime and r == "250-8BITMIME")
               and not (not A.auth and r.startswith("250-AUTH"))]
        if not A.no_pipelining:
            out.insert(-1, "250-PIPELINING")
        return out

    async def handle_MAIL(self, server, session, envelope, address, options):
        if A.no_8bitmime and "BODY=8BITMIME" in options:
            return "555 5.5.4 BODY=8BITMIME not offered"
        envelope.mail_from, envelope.mail_options = address, options
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in A.reject_rcpt:
            return "550-5.1.1 <%s>: no such user here\r\n550 5.1.1 (this reply has two lines)" % address
        if address in A.tempfail_rcpt:
            return "452 4.2.2 <%s>: mailbox full, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if A.stall_after == "DOT":
            server.note("stalling: no reply to the final dot")
            await asyncio.sleep(3600)
        n = next(msg_ids)
        server.txn += 1
        data = envelope.original_content
        with open(os.path.join(A.maildir, "%d.eml" % n), "wb") as f:
            f.write(data)
        sslobj = server.transport.get_extra_info("ssl_object")
        env = dict(mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos,
                   mail_options=envelope.mail_options, auth_mech=getattr(session, "auth_mech", None),
                   auth_user=getattr(session, "auth_user", None), tls=sslobj is not None,
                   tls_version=sslobj.version() if sslobj else None, sni=getattr(sslobj, "sni_name", None),
                   helo=session.host_name, conn=server.conn, txn=server.txn,
                   pipelined=server.pipelined, eight_bit=any(b > 127 for b in data), size=len(data))
        with open(os.path.join(A.maildir, "%d.json" % n), "w") as f:
            json.dump(env, f, indent=1)
        server.note("stored %d.eml (%d bytes)" % (n, len(data)))
        return "250 2.0.0 OK queued as %d" % n

    async def auth_XOAUTH2(self, server, args):
        blob = await server.challenge_auth("", encode_to_b64=False) if len(args) == 1 else args[1].encode()
        try:
            blob = base64.b64decode(blob, validate=True) if isinstance(blob, bytes) else None
        except binascii.Error:
            blob = None
        if blob is None:
            return AuthResult(success=False, handled=False, message="501 5.5.2 cannot decode XOAUTH2")
        fields = dict(f.split("=", 1) for f in blob.decode("utf-8", "replace").split("\x01") if "=" in f)
        if blob.endswith(b"\x01\x01") and fields.get("user") == USER and fields.get("auth") == "Bearer " + SECRET:
            server.session.auth_mech, server.session.auth_user = "XOAUTH2", USER
            return AuthResult(success=True, auth_data=LoginPassword(USER.encode(), b""))
        # Google's failure: a 334 with a JSON error; the client answers with an empty line.
        err = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"})
        answer = await server.challenge_auth(err)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")


def authenticator(server, session, envelope, mechanism, data):
    good = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == SECRET.encode()
    if good:
        session.auth_mech, session.auth_user = mechanism, USER
    return AuthResult(success=good, handled=False)


class Server(SMTP):
    def __init__(self):
        mechs = set(A.mechs.upper().split(","))
        starttls = A.mode == "starttls" and not A.no_starttls
        super().__init__(
            Handler(), hostname="mx.test.invalid", ident="securenet test server",
            data_size_limit=A.size, tls_context=ctx if starttls else None, require_starttls=starttls,
            # AUTH is offered only under TLS, except where the test tempts the client (plain, --no-starttls)
            auth_required=bool(A.auth), auth_require_tls=starttls,
            authenticator=authenticator if A.auth else None,
            auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN", "XOAUTH2") if m not in mechs])
        self.conn, self.txn, self.pipelined, self.greeted = next(conn_ids), 0, None, False
        # Every command goes through note() first, with the TLS state it arrived in.
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._wrap(name, method)

    def tls(self):
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    def note(self, text):
        log(self.conn, self.tls(), text)

    def _wrap(self, name, method):
        async def run(arg):
            shown = arg.split()[0] if name == "AUTH" and arg else arg  # no credentials in the log
            self.note("C: %s%s" % (name, " " + shown if shown else ""))
            if A.stall_after == name:
                self.note("stalling: no reply to " + name)
                await asyncio.sleep(3600)
            if name == "MAIL" and self.pipelined is None:
                for _ in range(30):  # did the next command come before our reply?
                    if self._reader._buffer:
                        break
                    await asyncio.sleep(0.01)
                self.pipelined = bool(self._reader._buffer)
            if name == "DATA" and A.close_in_data and self.envelope.rcpt_tos:
                await self.push("354 End data with <CR><LF>.<CR><LF>")
                await self._reader.read(512)
                self.note("dropping the connection in the middle of DATA")
                self.transport.abort()
                return
            return await method(arg)
        return run

    def connection_made(self, transport):
        first = self.transport is None
        super().connection_made(transport)
        self.note("connect" if first else "TLS established (%s)" % transport.get_extra_info("ssl_object").version())

    def connection_lost(self, error):
        log(self.conn, 0, "closed")
        super().connection_lost(error)

    async def push(self, status):
        if not self.greeted:  # the greeting: two lines, or none at all
            self.greeted = True
            if A.stall_after == "connect":
                self.note("stalling: no greeting")
                await asyncio.sleep(3600)
            status = "220-mx.test.invalid securenet test server\r\n" + status
        if A.inject_before_tls and status.startswith("220 Ready to start TLS"):
            self.note("S: 220 to STARTTLS, with an injected reply in the same write")
            self._writer.write(status.encode() + b"\r\n" + INJECTED)
            await self._writer.drain()
            return
        await super().push(status)


async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(Server, "127.0.0.1", A.port, ssl=ctx if A.mode == "implicit" else None)
    print("ready", flush=True)
    await asyncio.Event().wait()

try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
