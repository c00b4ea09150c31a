#!/usr/bin/python3
"""check_mail.py LABEL EML JSON SPEC: one received message against what was sent.

EML is the message as the server stored it (tests/smtp/server.py's N.eml, or a
Postfix Maildir file), JSON its envelope (server.py's N.json, or "-" for none).
SPEC is a JSON object; each key present adds checks, each printed as
"ok - LABEL: ..." or "not ok - LABEL: ...: why":
  from [name, addr]        the From header (display name decoded)
  to, cc [[name, addr]..]  the To / Cc headers, in order
  bcc [addr..]             in the envelope, in no header (there is no Bcc header)
  rcpt [addr..]            the envelope recipients: each exactly once
  mail_from addr           the envelope sender
  subject text             the Subject header, decoded
  text path                the text/plain body equals the file (UTF-8; line ends normalised)
  html path                a multipart/alternative with text/plain then text/html equal to the file
  attach [path..]          multipart/mixed; each file attached base64, by name, same sha256
  auth [mech, user]        the AUTH mechanism and user the server saw
  no8bit true              7-bit only on the wire and no BODY=8BITMIME (the server offered no 8BITMIME)
  wire true                generic: CRLF only, lines <= 998 octets, headers ASCII, Date, Message-ID,
                           MIME-Version, and BODY=8BITMIME declared whenever 8-bit bytes were sent
"""
import datetime
import email
import email.utils
import hashlib
import json
import os
import re
import sys
from email import policy

label, eml, envf, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
raw = open(eml, "rb").read()
env = json.load(open(envf)) if envf != "-" else {}
msg = email.message_from_bytes(raw, policy=policy.default)
failed = 0


def check(good, what, why=""):
    global failed
    if good:
        print("ok - %s: %s" % (label, what))
    else:
        failed += 1
        print("not ok - %s: %s: %s" % (label, what, " ".join(str(why).split())[:400]))


def addrs(header):
    h = msg[header]
    if h is None:
        return None
    return [[a.display_name, a.addr_spec] for a in h.addresses]


def show(pair):
    return "%s <%s>" % tuple(pair) if pair[0] else "<%s>" % pair[1]


def text_of(path):
    return open(path, "rb").read().decode("utf-8").replace("\r\n", "\n")


def same_text(got, want):  # a final newline may be added by the writer
    return got.replace("\r\n", "\n").rstrip("\n") == want.rstrip("\n")


def first_diff(got, want):
    got = got.replace("\r\n", "\n")
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return "lengths %d/%d, first difference at %d: got %r, want %r" % (len(got), len(want), i, got[i:i + 40], want[i:i + 40])


if "from" in spec:
    check(addrs("From") == [spec["from"]], "From is %s (display name decoded)" % show(spec["from"]), msg["From"])
for h in ("to", "cc"):
    if h in spec:
        check(addrs(h.capitalize()) == spec[h], "%s lists %s" % (h.capitalize(), ", ".join(map(show, spec[h]))),
              msg[h])
if "bcc" in spec:
    check(msg["Bcc"] is None and all(b in env.get("rcpt_tos", []) and b not in raw.decode("latin-1") for b in spec["bcc"]),
          "Bcc %s is in the envelope and nowhere in the message" % ", ".join(spec["bcc"]),
          "Bcc header %r, envelope %r" % (msg["Bcc"], env.get("rcpt_tos")))
if "rcpt" in spec:
    got = env.get("rcpt_tos", [])
    check(sorted(got) == sorted(spec["rcpt"]), "the envelope has each recipient once (one RCPT each): %s" % " ".join(spec["rcpt"]), got)
if "mail_from" in spec:
    check(env.get("mail_from") == spec["mail_from"], "MAIL FROM is <%s>" % spec["mail_from"], env.get("mail_from"))
if "subject" in spec:
    check(str(msg["Subject"]) == spec["subject"], "the Subject decodes to the UTF-8 text sent", repr(str(msg["Subject"])))
if "auth" in spec:
    got = [env.get("auth_mech"), env.get("auth_user")]
    check(got == spec["auth"], "AUTH %s as %s" % tuple(spec["auth"]), "server saw %s" % got)
if "text" in spec:
    part = msg.get_body(("plain",))
    got = part.get_content() if part is not None else ""
    want = text_of(spec["text"])
    check(part is not None and same_text(got, want) and part.get_content_charset() in ("utf-8", "us-ascii"),
          "the text/plain body decodes to the text sent (charset %s, %s)" % (
              part.get_content_charset() if part else "-", part["Content-Transfer-Encoding"] if part else "-"),
          "no text/plain part" if part is None else first_diff(got, want))
if "html" in spec:
    alt = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
    kids = [p.get_content_type() for p in alt[0].iter_parts()] if alt else []
    part = msg.get_body(("html",))
    want = text_of(spec["html"])
    good = kids == ["text/plain", "text/html"] and part is not None and same_text(part.get_content(), want)
    check(good, "multipart/alternative holds text/plain then text/html, and the HTML decodes to the file",
          "alternative parts %s; %s" % (kids, first_diff(part.get_content(), want) if part is not None else "no html"))
if "attach" in spec:
    got = {p.get_filename(): p for p in msg.iter_attachments()}
    check(msg.get_content_type() == "multipart/mixed", "the message is multipart/mixed (it has attachments)",
          msg.get_content_type())
    for path in spec["attach"]:
        name = os.path.basename(path)
        p = got.get(name)
        want = hashlib.sha256(open(path, "rb").read()).hexdigest()
        have = hashlib.sha256(p.get_payload(decode=True)).hexdigest() if p is not None else None
        check(p is not None and have == want and p["Content-Transfer-Encoding"].lower() == "base64",
              "attachment %s (%d bytes) is base64 and byte for byte the file (sha256)" % (name, os.path.getsize(path)),
              "attachments %s; %s sha256 %s, want %s" % (list(got), p and p["Content-Transfer-Encoding"], have, want))
if spec.get("no8bit"):
    hi = next((i for i, b in enumerate(raw) if b > 127), None)
    check(hi is None and not any("BODY=8BITMIME" in o.upper() for o in env.get("mail_options", [])),
          "without 8BITMIME offered, only 7-bit octets are sent and no BODY=8BITMIME",
          "8-bit octet at %s; MAIL options %s" % (hi, env.get("mail_options")))
if spec.get("wire"):
    lines = raw.split(b"\r\n")
    bare = [i for i, l in enumerate(lines) if b"\n" in l or b"\r" in l]
    longest = max(len(l) for l in lines)
    check(not bare and longest <= 998 and raw.endswith(b"\r\n"),
          "every line ends in CRLF (no bare CR or LF) and is at most 998 octets",
          "bare CR/LF in lines %s; longest line %d octets" % (bare[:5], longest))
    head = raw.split(b"\r\n\r\n", 1)[0]
    check(all(b < 128 for b in head), "the header is ASCII only (RFC 2047 encoded words; the server offered no SMTPUTF8)",
          [l for l in head.split(b"\r\n") if any(b > 127 for b in l)][:2])
    try:
        date = email.utils.parsedate_to_datetime(str(msg["Date"]))
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - date).total_seconds())
    except (TypeError, ValueError) as e:
        date, skew = None, str(e)
    check(date is not None and skew < 86400, "Date is present, RFC 5322, and about now", "Date %r (%s)" % (msg["Date"], skew))
    mid = str(msg["Message-ID"] or "")
    check(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid) is not None and len(msg.get_all("Message-ID", [])) == 1,
          "exactly one Message-ID, <left@right>", repr(mid))
    check(str(msg["MIME-Version"]).strip() == "1.0", "MIME-Version: 1.0", msg["MIME-Version"])
    eight = any(b > 127 for b in raw)
    body8 = any("BODY=8BITMIME" in o.upper() for o in env.get("mail_options", []))
    check(not eight or body8 or envf == "-", "8-bit octets are sent only with MAIL FROM ... BODY=8BITMIME",
          "8-bit message, MAIL options %s" % env.get("mail_options"))
sys.exit(1 if failed else 0)
