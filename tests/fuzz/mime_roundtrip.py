#!/usr/bin/python3
"""tests/fuzz/mime_roundtrip.py - securenet's mail writer against Python's
email package, on the fuzz corpus.

    /usr/bin/python3 tests/fuzz/mime_roundtrip.py [--bin BUILD/fuzz/fuzz_mime] [DIR...]

Runs the fuzz_mime target over the corpus directories (default: the
committed corpus and regressions of fuzz_mime) with FUZZ_MIME_DUMP set, so
that for every mail the writer accepted it leaves the message (dot-stuffing
undone) and what went in (hex); the target's own checks fail an input too. Each message is then read with the email
package (policy.default) and compared with what went in: Subject, the From
and To display names (as bytes) and addresses, the text and HTML bodies (line ends
made uniform), and each attachment's file name, content type and bytes.
Names are compared where the input is UTF-8 (an encoded word of invalid
UTF-8 cannot come back as the same str); content types where the input is
a plain type/subtype. Prints "ok - ..." / "not ok - ..." lines (the format
tests/run.sh counts) and exits 1 on any mismatch or parser defect."""
import email
import email.header
import email.policy
import email.utils
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def norm(b):
    return b.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def utf8(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_expect(path):
    exp = {"att_name": [], "att_type": [], "att_data": []}
    with open(path) as f:
        for line in f:
            key, _, hexv = line.rstrip("\n").partition(" ")
            val = bytes.fromhex(hexv)
            if key.startswith("att_"):
                exp[key].append(val)
            else:
                exp[key] = val
    return exp


def compare(eml, exp):
    """Returns a list of problems (empty: the round trip holds)."""
    problems = []
    with open(eml, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        for d in part.defects:
            problems.append("parser defect in %s: %s" % (part.get_content_type(), d.__class__.__name__))

    def header_check(name, want_bytes, got):
        want = utf8(want_bytes)
        if want is not None and got != want:
            problems.append("%s: got %r, want %r" % (name, got, want))

    header_check("Subject", exp["subject"], str(msg["Subject"]))
    # Display names: policy.default keeps the space between two encoded words
    # of a phrase (RFC 2047 6.2 says it is ignored), so names are read the
    # older way: the unfolded field, email.utils.parseaddr, then
    # email.header.decode_header, which follows 6.2; compared as bytes.
    old = email.message_from_bytes(raw, policy=email.policy.compat32)
    for field, who in (("From", "from"), ("To", "to")):
        value = old.get(field)
        if value is None:
            problems.append("no %s field" % field)
            continue
        name, addr = email.utils.parseaddr(re.sub(r"\r?\n([ \t])", r"\1", str(value)))
        got = b"".join(p if isinstance(p, bytes) else p.encode("ascii", "surrogateescape")
                       for p, _ in email.header.decode_header(name)) if name else b""
        if got != exp[who + "_name"]:
            problems.append("%s display name: got %r, want %r" % (field, got[:60], exp[who + "_name"][:60]))
        if addr.encode() != exp[who + "_addr"]:
            problems.append("%s address: got %r, want %r" % (field, addr, exp[who + "_addr"]))

    text = msg.get_body(preferencelist=("plain",))
    got = norm(text.get_payload(decode=True)) if text is not None else None
    want = norm(exp["text"])
    if got not in (want, want + b"\n"):  # a single-part message ends its last line
        problems.append("text body: got %r, want %r" % (got[:80] if got else got, want[:80]))
    if "html" in exp:
        html = msg.get_body(preferencelist=("html",))
        got = norm(html.get_payload(decode=True)) if html is not None else None
        if got != norm(exp["html"]):
            problems.append("html body differs: got %r" % (got[:80] if got else got,))
    atts = list(msg.iter_attachments())
    if len(atts) != len(exp["att_data"]):
        problems.append("%d attachments, want %d" % (len(atts), len(exp["att_data"])))
    for i, (part, name, ctype, data) in enumerate(zip(atts, exp["att_name"], exp["att_type"], exp["att_data"])):
        if part.get_payload(decode=True) != data:
            problems.append("attachment %d: bytes differ" % i)
        want = utf8(name)
        if want is not None:
            want = want.strip()  # get_filename() strips surrounding white space
        if want is not None and part.get_filename() != want:
            problems.append("attachment %d: file name %r, want %r" % (i, part.get_filename(), want))
        if re.fullmatch(rb"[a-z0-9.+-]+/[a-z0-9.+-]+", ctype) and part.get_content_type() != ctype.decode():
            problems.append("attachment %d: type %r, want %r" % (i, part.get_content_type(), ctype.decode()))
    return problems


def main():
    args = sys.argv[1:]
    binary = os.path.join(ROOT, "build", "fuzz", "fuzz_mime")
    if args[:1] == ["--bin"]:
        binary, args = args[1], args[2:]
    dirs = args or [d for d in (os.path.join(ROOT, "tests", "fuzz", "corpus", "mime"),
                                os.path.join(ROOT, "tests", "fuzz", "regressions", "mime")) if os.path.isdir(d)]
    failed = 0
    with tempfile.TemporaryDirectory() as out:
        files = [os.path.join(d, f) for d in dirs for f in sorted(os.listdir(d))]
        env = dict(os.environ, FUZZ_MIME_DUMP=out)
        # one process per input: a libFuzzer binary and the replay driver both take file names
        for path in files:
            r = subprocess.run([binary, path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                lines = [l for l in r.stderr.decode(errors="replace").splitlines() if "INVARIANT" in l or "ERROR" in l]
                print("not ok - fuzz_mime %s: the target's own checks failed (status %d): %s"
                      % (path, r.returncode, " | ".join(lines[:2])))
                failed += 1
        emls = sorted(f for f in os.listdir(out) if f.endswith(".eml"))
        for f in emls:
            exp = read_expect(os.path.join(out, f[:-4] + ".expect"))
            problems = compare(os.path.join(out, f), exp)
            if problems:
                failed += 1
                print("not ok - mime round trip %s (subject %r): %s" % (f, exp["subject"][:40], "; ".join(problems)))
            else:
                print("ok - mime round trip %s (subject %r)" % (f, exp["subject"][:40]))
        print("%d messages from %d inputs, %d failed" % (len(emls), len(files), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
