#!/usr/bin/python3
"""stand_in_sendmail.py: build/sn_sendmail's command line on Python's smtplib.

  stand_in_sendmail.py --server HOST --port N --mode tls|starttls|plain --ca FILE...
      [--tls-name NAME] [--user U --pass P | --oauth-user U --token T]
      --from ADDR --to ADDR... [--cc ADDR] [--bcc ADDR] --subject TEXT
      (--body TEXT | --body-file FILE) [--html-file FILE] [--attach FILE...] [--count N]

Written to develop tests/smtp_integration.sh before sn_sendmail existed, and
kept as a second client to run the suite against:
  SN_SENDMAIL="/usr/bin/python3 tests/smtp/stand_in_sendmail.py" tests/smtp_integration.sh
An ADDR may carry a display name: "Zoë Ops <ops@example.com>". Exit 0 when every
message was accepted, else 1 with one line on stderr: "stand_in_sendmail:
STAGE: reply or error". SN_SMTP_TIMEOUT_MS sets the socket timeout.

Where it is knowingly weaker than sn_sendmail (the suite says so): it does not
pipeline, never uses 8BITMIME, and holds bodies and attachments in memory.

STANDIN_BUG=NAME[,NAME] makes it do a wrong thing on purpose, to show that
the suite's checks catch it:
  noverify        no certificate or hostname verification (like curl --insecure)
  keep-injected   bytes received with the 220 to STARTTLS are kept and read as
                  replies after the handshake (the STARTTLS injection bug)
  clear-fallback  carries on in clear when STARTTLS is not offered
  clear-auth      sends credentials without TLS
  no-dot-stuffing lines starting with "." are sent as they are
  raw-subject     the subject is written to the header unchecked (CR/LF kept)
"""
import argparse
import os
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage
from email.policy import SMTP as POLICY
from email.utils import formatdate, make_msgid, parseaddr

BUGS = set(filter(None, os.environ.get("STANDIN_BUG", "").split(",")))
ME = "stand_in_sendmail"
stage = "connect"


def fail(detail):
    print("%s: %s: %s" % (ME, stage, " ".join(str(detail).split())), file=sys.stderr)
    sys.exit(1)


def reply(code, text):
    return "%d %s" % (code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text)


p = argparse.ArgumentParser()
for opt in ("server", "mode", "tls-name", "user", "pass", "oauth-user", "token", "from", "subject", "body",
            "body-file", "html-file"):
    p.add_argument("--" + opt)
p.add_argument("--port", type=int, required=True)
p.add_argument("--count", type=int, default=1)
for opt in ("ca", "to", "cc", "bcc", "attach"):
    p.add_argument("--" + opt, action="append", default=[])
A = p.parse_args()
user = A.user or A.oauth_user
timeout = int(os.environ.get("SN_SMTP_TIMEOUT_MS", "30000")) / 1000.0
name = A.tls_name or A.server

ctx = ssl.create_default_context(cafile=None, capath=None, cadata="".join(open(f).read() for f in A.ca) or None)
if "noverify" in BUGS:
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE


class Client(smtplib.SMTP):

    def _get_socket(self, host, port, tmo):
        sock = super()._get_socket(host, port, tmo)
        return ctx.wrap_socket(sock, server_hostname=name) if A.mode == "tls" else sock

    def starttls(self):  # smtplib's, with a place for the injection bug
        code, text = self.docmd("STARTTLS")
        if code == 220:
            leftover = b""
            if "keep-injected" in BUGS:  # what came with the 220, still in the reader's buffer
                self.sock.settimeout(0.2)
                try:
                    leftover = self.file.peek()
                except (socket.timeout, OSError):
                    pass
                self.sock.settimeout(timeout)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=name)
            self.file = Chain(leftover, self.sock.makefile("rb")) if leftover else None
            self.helo_resp = self.ehlo_resp = None
            self.esmtp_features, self.does_esmtp = {}, False
        return code, text


class Chain:
    """Lines left over from before the handshake, then the TLS stream."""

    def __init__(self, first, rest):
        self.lines, self.rest = first.splitlines(keepends=True), rest

    def readline(self, n=-1):
        return self.lines.pop(0) if self.lines else self.rest.readline(n)

    def close(self):
        self.rest.close()


def address(text):
    disp, addr = parseaddr(text)
    return disp, addr


def build():
    msg = EmailMessage(policy=POLICY)
    f = address(A.__dict__["from"])
    msg["From"] = text_addr(f)
    if A.to:
        msg["To"] = ", ".join(text_addr(address(a)) for a in A.to)
    if A.cc:
        msg["Cc"] = ", ".join(text_addr(address(a)) for a in A.cc)
    msg["Subject"] = "SUBJECT-PLACEHOLDER" if "raw-subject" in BUGS else A.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=f[1].rpartition("@")[2] or "stand-in.invalid")
    body = A.body if A.body is not None else open(A.body_file, "rb").read().decode("utf-8")
    body = body.replace("\r\n", "\n")
    msg.set_content(body, cte=None if body.isascii() and max(map(len, body.split("\n"))) <= 78 else "quoted-printable")
    if A.html_file:
        msg.add_alternative(open(A.html_file, "rb").read().decode("utf-8"), subtype="html", cte="quoted-printable")
    for path in A.attach:
        msg.add_attachment(open(path, "rb").read(), maintype="application", subtype="octet-stream",
                           filename=os.path.basename(path))
    data = msg.as_bytes()
    if "raw-subject" in BUGS:
        data = data.replace(b"SUBJECT-PLACEHOLDER", A.subject.encode())
    return data


def text_addr(pair):
    from email.headerregistry import Address
    disp, addr = pair
    local, _, domain = addr.rpartition("@")
    return str(Address(display_name=disp, username=local, domain=domain))


if "no-dot-stuffing" in BUGS:
    smtplib._quote_periods = lambda b: b

try:
    stage = "message"
    for a in [A.__dict__["from"]] + A.to + A.cc + A.bcc:
        if "\r" in a or "\n" in a:
            fail("CR or LF in an address")
    if "raw-subject" not in BUGS and ("\r" in A.subject or "\n" in A.subject):
        fail("CR or LF in the subject")
    stage = "connect"
    s = Client(timeout=timeout)
    code, text = s.connect(A.server, A.port)
    stage = "greeting"
    if code != 220:
        fail(reply(code, text))
    stage = "EHLO"
    s.ehlo_or_helo_if_needed()
    tls = A.mode == "tls"
    if A.mode == "starttls":
        stage = "STARTTLS"
        if s.has_extn("starttls"):
            code, text = s.starttls()
            if code != 220:
                fail(reply(code, text))
            tls = True
            stage = "EHLO"
            s.ehlo_or_helo_if_needed()
        elif "clear-fallback" not in BUGS:
            fail("the server does not offer STARTTLS; refusing to continue in clear")
    if user:
        stage = "AUTH"
        if not tls and "clear-auth" not in BUGS and "clear-fallback" not in BUGS:
            fail("refusing to send credentials without TLS")
        offered = s.esmtp_features.get("auth", "").upper().split()
        if A.token:
            mech = "XOAUTH2" if "XOAUTH2" in offered else None
            obj = lambda challenge=None: "" if challenge else "user=%s\x01auth=Bearer %s\x01\x01" % (user, A.token)
        else:
            mech = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
            s.user, s.password = user, A.__dict__["pass"]
            obj = s.auth_plain if mech == "PLAIN" else s.auth_login
        if mech is None:
            fail("no mechanism this client may use is offered (server: %s)" % (" ".join(offered) or "none"))
        try:
            s.auth(mech, obj)
        except smtplib.SMTPAuthenticationError as e:
            fail(reply(e.smtp_code, e.smtp_error))
    for i in range(A.count):
        if i:
            stage = "RSET"
            s.rset()
        stage = "message"
        data = build()
        frm, rcpts = address(A.__dict__["from"])[1], [address(a)[1] for a in A.to + A.cc + A.bcc]
        stage = "MAIL FROM:<%s>" % frm
        code, text = s.mail(frm, ["SIZE=%d" % len(data)] if s.has_extn("size") else [])
        if code != 250:
            fail(reply(code, text))
        refused = {}
        for r in rcpts:
            stage = "RCPT TO:<%s>" % r
            code, text = s.rcpt(r)
            if code not in (250, 251):
                refused[r] = (code, text)
        if len(refused) == len(rcpts):
            s.rset()
            stage = "RCPT TO:<%s>" % rcpts[0]
            fail(reply(*refused[rcpts[0]]) + " (every recipient refused)")
        stage = "DATA"
        code, text = s.data(data)
        if code != 250:
            fail(reply(code, text))
        if refused:
            a, (code, text) = next(iter(refused.items()))
            stage = "RCPT TO:<%s>" % a
            fail(reply(code, text) + " (%d of %d refused; the others got the mail)" % (len(refused), len(rcpts)))
    stage = "QUIT"
    s.quit()
except ssl.SSLCertVerificationError as e:
    stage = "TLS"
    fail("certificate verification failed: %s" % e.verify_message)
except ssl.SSLError as e:
    fail("TLS: %s" % e)
except (socket.timeout, TimeoutError):
    fail("timed out")
except smtplib.SMTPServerDisconnected as e:
    fail("connection closed by the server (%s)" % e)
except smtplib.SMTPResponseException as e:
    fail(reply(e.smtp_code, e.smtp_error))
except (OSError, smtplib.SMTPException) as e:
    fail(e)
