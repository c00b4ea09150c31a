#!/usr/bin/env python3
"""multipart_ref.py - a reference reading of securenet.h's multipart/form-data
grammar (the section "multipart/form-data" of the header, RFC 2046 5.1, RFC
7578, RFC 9110 5.6, RFC 8187), written from the header's words and the RFCs,
not from the C code, and a comparison with the C parser's record.

    multipart_ref.py --dump FILE...            the record of each file (the fuzz
                                               input format, multipart_case.h)
    multipart_ref.py --bin DUMP [--cases N] [--seed S] [--keep DIR] FILE...
                                               compare the C dump (BUILD/fuzz/
                                               multipart_dump) with this reading
                                               on FILEs and on N generated cases
                                               (random well-formed bodies and
                                               mutations of them); prints TAP-ish
                                               "ok - ..." / "not ok - ..." lines

What is compared: the whole record, for accepted and refused bodies alike:
every part head (index, name, filename, Content-Type) in order, each part's
data joined, each part end, and the result (ok, proto, too_big, stop). For a
refused body that is well defined because the parser hands data on only up
to a delimiter or, when the body ends without a closing delimiter, up to the
start of a delimiter the body may have been cut in (that start is held back,
so it is not part of the record; see data_until_end).

Readings where the header is silent (chosen to match what browsers send and
noted so a reader sees the choice): OWS is allowed around "=" in parameters,
an empty parameter (";;", a trailing ";") is malformed, a quoted-string may
hold any byte but CR, LF and NUL (a part head refuses NUL anywhere), the
value-chars of filename* are token characters other than "'" (RFC 8187's
attr-char is narrower: "*" is taken), UTF-8 in filename* is not validated,
Content-Type or Content-Disposition twice in a part is malformed, and a
parameter is "given twice" when its name (without case) appears twice in one
Content-Disposition, whatever the parameter.

Runs with any python3 (standard library only).
"""
import os
import random
import subprocess
import sys
import tempfile

HEAD_MAX = 512  # SN_MULTIPART_HEAD
PARTS_DEFAULT = 16  # SN_MULTIPART_PARTS
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
BCHARS = set(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ")
OWS = b" \t"
SKIP_KNOWN = bool(os.environ.get("FUZZ_SKIP_KNOWN"))

TYPES = [
    None,
    b"multipart/form-data; boundary=b",
    b"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    b"multipart/form-data; boundary=------------------------d74496d66958873e",
    b'multipart/form-data; boundary="1234567890123456789012345678901234567890123456789012345678901234567890"',
    b'Multipart/Form-Data ; charset=utf-8; BOUNDARY="a b\\""',
    b"multipart/mixed; boundary=\"'()+_,-./:=? x\"",
    b'multipart/form-data; boundary="\\-\\-"',
]


class Bad(Exception):
    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


def strip_ows(b):
    return b.strip(OWS)


def params(s):
    """The parameters after a media type or disposition type: a list of
    (lowercased name, raw value). Raises Bad("proto") when malformed."""
    out = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in OWS:
            i += 1
        if i == n:
            return out
        if s[i] != ord(";"):
            raise Bad("proto")
        i += 1
        while i < n and s[i] in OWS:
            i += 1
        k = i
        while i < n and s[i] in TCHAR:
            i += 1
        name = s[k:i]
        while i < n and s[i] in OWS:
            i += 1
        if not name or i == n or s[i] != ord("="):
            raise Bad("proto")
        i += 1
        while i < n and s[i] in OWS:
            i += 1
        if i < n and s[i] == ord('"'):
            j = i + 1
            val = bytearray()
            while True:
                if j == n:
                    raise Bad("proto")
                c = s[j]
                if c == ord('"'):
                    break
                if c == ord("\\"):
                    j += 1
                    if j == n:
                        raise Bad("proto")
                    c = s[j]
                val.append(c)
                j += 1
            out.append((name.lower(), ("q", bytes(val))))
            i = j + 1
        else:
            k = i
            while i < n and s[i] in TCHAR:
                i += 1
            if i == k:
                raise Bad("proto")
            out.append((name.lower(), ("t", s[k:i])))


def boundary_of(ct):
    ct = strip_ows(ct)
    if ct[:10].lower() != b"multipart/":
        raise Bad("proto")
    i = 10
    while i < len(ct) and ct[i] in TCHAR:
        i += 1
    if i == 10:
        raise Bad("proto")
    found = [v for k, (_, v) in params(ct[i:]) if k == b"boundary"]
    if len(found) != 1:
        raise Bad("proto")
    b = found[0]
    if not 1 <= len(b) <= 70 or b.endswith(b" ") or any(c not in BCHARS for c in b):
        raise Bad("proto")
    return b


def ext_value(v):
    """filename* (RFC 8187): charset'language'value-chars, decoded to UTF-8."""
    parts = v.split(b"'")
    if len(parts) != 3:
        raise Bad("proto")
    charset, _lang, chars = parts
    cs = charset.lower()
    if cs not in (b"utf-8", b"iso-8859-1"):
        raise Bad("proto")
    raw = bytearray()
    i = 0
    hexd = b"0123456789abcdefABCDEF"
    while i < len(chars):
        c = chars[i]
        if c == ord("%"):
            h = chars[i + 1:i + 3]
            if len(h) != 2 or h[0] not in hexd or h[1] not in hexd:
                raise Bad("proto")
            c = int(h, 16)
            i += 3
        else:
            i += 1
        if c == 0:
            raise Bad("proto")
        raw.append(c)
    if cs == b"iso-8859-1":
        return bytes(raw).decode("latin-1").encode("utf-8")
    return bytes(raw)


def part_head(head):
    """head: the field lines, each with its CRLF (the blank line not
    included). Returns (name, filename, content_type), None for absent."""
    name = filename = ctype = None
    seen_ct = seen_cd = False
    lines = head.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        if b"\r" in line or b"\n" in line or b"\0" in line:
            raise Bad("proto")
        if line[:1] in (b" ", b"\t"):
            raise Bad("proto")  # obs-fold
        colon = line.find(b":")
        if colon <= 0 or any(c not in TCHAR for c in line[:colon]):
            raise Bad("proto")
        fname, value = line[:colon].lower(), strip_ows(line[colon + 1:])
        if fname == b"content-type":
            if seen_ct:
                raise Bad("proto")
            seen_ct = True
            ctype = value
        elif fname == b"content-disposition":
            if seen_cd:
                raise Bad("proto")
            seen_cd = True
            i = 0
            while i < len(value) and value[i] in TCHAR:
                i += 1
            if i == 0:
                raise Bad("proto")
            ps = params(value[i:])
            keys = [k for k, _ in ps]
            if SKIP_KNOWN:  # finding 10 (tests/fuzz/README.md): only these are checked
                keys = [k for k in keys if k in (b"name", b"filename", b"filename*")]
            if len(set(keys)) != len(keys):
                raise Bad("proto")  # a parameter given twice
            fn = fnx = None
            for k, (kind, v) in ps:
                if k == b"name":
                    name = v
                elif k == b"filename":
                    fn = v
                elif k == b"filename*":
                    if kind != "t":
                        raise Bad("proto")
                    fnx = ext_value(v)
            filename = fnx if fnx is not None else fn
    return name, filename, ctype


def parse(ct, body, max_parts=PARTS_DEFAULT, head_max=HEAD_MAX, mode=0, k=0):
    """The record of a parse, as a list of lines (multipart_case.h's format)."""
    rec = []

    class Stop(Exception):
        pass

    counters = {"part": 0, "end": 0}

    def emit(kind, line):
        if mode == 3:
            return
        rec.append(line)
        if (mode == 1 and kind == "part") or (mode == 2 and kind == "end"):
            if counters[kind] == k:
                raise Stop()
            counters[kind] += 1

    def s(v):
        return "-" if v is None else "x" + v.hex()

    try:
        delim = b"\r\n--" + boundary_of(ct)
    except Bad as e:
        return ["result " + e.code]
    t = b"\r\n" + body  # the first delimiter may open the body
    result = "ok"
    try:
        d = t.find(delim)
        if d < 0:
            raise Bad("proto")  # no delimiter at all: no closing one
        pos = d + len(delim)
        index = 0
        while True:
            # after a delimiter: "--" closes; padding CRLF opens a part
            if t[pos:pos + 2] == b"--":
                break
            if t[pos:pos + 1] == b"-" and pos + 1 == len(t):
                raise Bad("proto")  # cut after one dash: no closing delimiter
            while pos < len(t) and t[pos] in OWS:
                pos += 1
            if t[pos:pos + 2] != b"\r\n":
                raise Bad("proto")  # data after the delimiter, or the end
            pos += 2
            if index >= max_parts:
                raise Bad("too_big")
            if t[pos:pos + 2] == b"\r\n":
                hend = pos + 2
                head = b""
            else:
                h = t.find(b"\r\n\r\n", pos)
                if h < 0 or h + 4 - pos > head_max:
                    raise Bad("too_big" if len(t) - pos > head_max else "proto")
                hend = h + 4
                head = t[pos:h + 2]
            if hend - pos > head_max:
                raise Bad("too_big")
            name, filename, ctype = part_head(head)
            emit("part", "part %d %s %s %s" % (index, s(name), s(filename), s(ctype)))
            index += 1
            nxt = t.find(delim, hend)
            if nxt < 0:
                data = data_until_end(t[hend:], delim)
                if data:
                    emit("data", "data " + data.hex())
                raise Bad("proto")
            if nxt > hend:
                emit("data", "data " + t[hend:nxt].hex())
            emit("end", "end")
            pos = nxt + len(delim)
    except Bad as e:
        result = e.code
    except Stop:
        result = "stop"
    rec.append("result " + result)
    return rec


def data_until_end(rest, delim):
    """A part's data when the body ends inside it: all of it but a tail that
    may be the start of a delimiter (CR, then a prefix of the delimiter),
    which a streaming parser cannot yet tell from data."""
    for j in range(max(0, len(rest) - len(delim) + 1), len(rest)):
        if delim.startswith(rest[j:]):
            return rest[:j]
    return rest


def decode_input(data):
    """multipart_case.h's input format -> (ct, body, max_parts, mode, k)."""
    flags = data[0] if len(data) > 0 else 0
    kbyte = data[1] if len(data) > 1 else 0
    p = 2 + 2 * (kbyte & 15)
    rest = data[p:] if len(data) > p else b""
    sel = flags & 7
    if sel == 0:
        lf = rest.find(b"\n")
        line = rest if lf < 0 else rest[:lf]
        if line.endswith(b"\r"):
            line = line[:-1]
        ct, body = line, (b"" if lf < 0 else rest[lf + 1:])
    else:
        ct, body = TYPES[sel], rest
    mp = (flags >> 3) & 7
    return ct, body, (PARTS_DEFAULT if mp == 0 else mp - 1), flags >> 6, kbyte >> 4


def record_of(data):
    ct, body, mp, mode, k = decode_input(data)
    return parse(ct, body, max_parts=mp, mode=mode, k=k)


# ---- generated cases ------------------------------------------------------------

def rand_boundary(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return b"----WebKitFormBoundary" + bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
    if kind == 1:
        return b"-" * 24 + bytes(rng.choice(b"0123456789abcdef") for _ in range(16))
    if kind == 2:
        return bytes([rng.choice(b"abc-")])
    n = rng.choice([1, 2, 3, 5, 10, 40, 69, 70, 71])
    b = bytes(rng.choice(b"ab-'()+_,./:=? 0") for _ in range(n))
    if b.endswith(b" ") and rng.random() < 0.8:
        b = b[:-1] + b"z"
    return b


def ct_for(rng, b):
    if all(c in TCHAR for c in b) and rng.random() < 0.6:
        v = b
    else:
        v = b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    pre = rng.choice([b"multipart/form-data", b"Multipart/Form-Data", b"multipart/mixed"])
    extra = rng.choice([b"", b"; charset=utf-8", b' ; foo="x;y"'])
    if rng.random() < 0.5:
        return pre + b"; boundary=" + v + extra
    return pre + extra + b"; BOUNDARY=" + v


def rand_data(rng, delim):
    out = bytearray()
    for _ in range(rng.randrange(6)):
        c = rng.randrange(6)
        if c == 0:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        elif c == 1:
            out += delim[:rng.randrange(1, len(delim))]  # a proper prefix of the delimiter
        elif c == 2:
            out += rng.choice([b"\r", b"\n", b"\r\n", b"\r\n-", b"\r\n--", b"--", b"\r\r\n"])
        elif c == 3:
            out += delim[2:]  # "--boundary" without the CRLF
        else:
            out += b"text " * rng.randrange(4)
    data = bytes(out)
    while delim in data:
        data = data.replace(delim[2:], b"x")
    return data


def rand_head(rng):
    lines = []
    if rng.random() < 0.9:
        ps = [b"form-data"]
        if rng.random() < 0.9:
            ps.append(b'name="' + rng.choice([b"image", b"a", b"", b"x\\\"y", b"f\xc3\xa9"]) + b'"')
        r = rng.random()
        if r < 0.3:
            ps.append(b'filename="' + rng.choice([b"fw.bin", b"a b.txt", b"\xe2\x82\xac.txt", b"q\\\"q"]) + b'"')
        elif r < 0.45:
            ps.append(b"filename*=" + rng.choice([b"UTF-8''%e2%82%ac.txt", b"iso-8859-1'en'%A3%20rates", b"utf-8''plain"]))
        elif r < 0.55:
            ps.append(b'filename="fallback.txt"')
            ps.append(b"filename*=UTF-8''%C3%A9.txt")
            if rng.random() < 0.5:
                ps[-1], ps[-2] = ps[-2], ps[-1]
        if rng.random() < 0.1:
            ps.append(rng.choice([b"size=10", b"creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\""]))
            if rng.random() < 0.3:
                ps.append(ps[-1].upper())  # the same parameter again
        lines.append(rng.choice([b"Content-Disposition", b"content-disposition", b"CONTENT-DISPOSITION"]) + b":" +
                     rng.choice([b" ", b"", b"  \t"]) + b"; ".join(ps) + rng.choice([b"", b" "]))
    if rng.random() < 0.5:
        lines.append(b"Content-Type: " + rng.choice([b"application/octet-stream", b"text/plain; charset=utf-8", b""]))
    if rng.random() < 0.2:
        lines.append(b"X-Other: whatever; name=\"ignored\"")
    rng.shuffle(lines)
    head = b"".join(l + b"\r\n" for l in lines)
    if rng.random() < 0.15:  # a head of about SN_MULTIPART_HEAD bytes (with the blank line)
        fill = HEAD_MAX + rng.randrange(-2, 3) - len(head) - len(b"X-Pad: \r\n\r\n")
        if fill >= 0:
            head += b"X-Pad: " + b"p" * fill + b"\r\n"
    return head


def rand_case(rng):
    """A well-formed body: [preamble CRLF] *( "--" b padding CRLF head CRLF data CRLF ) "--" b "--" [epilogue]."""
    b = rand_boundary(rng)
    d = b"--" + b
    body = bytearray()
    if rng.random() < 0.3:
        body += rng.choice([b"preamble, ignored\r\n", b"\r\n", b"-" + d + b"\r\n", d[:-1] + b"\r\n"])
    for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 17])):
        body += d + rng.choice([b"", b"", b" ", b"\t \t"]) + rng.choice([b"\r\n"] * 20 + [b" --", b"\r-", b"-\r\n"])
        body += rand_head(rng) + b"\r\n" + rand_data(rng, b"\r\n" + d) + b"\r\n"
    body += d + b"--" + rng.choice([b"", b"\r\n", b"\r\nepilogue\r\n" + d + b"\r\n", b"garbage"])
    return ct_for(rng, b), bytes(body)


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            break
        op = rng.randrange(6)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1:
            del data[i:i + rng.randrange(1, 8)]
        elif op == 2:
            data[i:i] = rng.choice([b"\r", b"\n", b"\r\n", b"--", b" ", b";", b'"', b"\\", b"%", b"'", b":", b"\r\n\r\n", b"\0"])
        elif op == 3:
            j = rng.randrange(len(data))
            data[i:i] = data[j:j + rng.randrange(1, 40)]
        elif op == 4:
            del data[i:]
        else:
            data[i:i] = b"A" * rng.choice([1, 100, 500])
    return bytes(data)


def as_input(rng, ct, body):
    flags = rng.choice([0, 0, 0, 0, 0x08 * rng.randrange(1, 8), 0x40, 0x80, 0xC0])
    parts = body.count(b"\r\n\r\n")
    if rng.random() < 0.15 and 1 <= parts <= 7:  # max_parts right at the count of parts, or one below
        flags = 0x08 * rng.choice([parts, parts + 1])
    k = rng.randrange(4)
    return bytes([flags, k << 4]) + ct + b"\r\n" + body


# ---- driver -------------------------------------------------------------------

def c_records(dump, files):
    run = subprocess.run([dump] + files, stdout=subprocess.PIPE)
    if run.returncode != 0:  # an invariant of multipart_case.h broke: find the file, one by one
        recs = {}
        for f in files:
            one = c_records(dump, [f]) if len(files) > 1 else None
            recs[f] = one[f] if one else ["(multipart_dump died: status %d)" % run.returncode]
        return recs
    out = run.stdout.decode("ascii")
    recs, cur = {}, None
    for line in out.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            recs[cur] = []
        else:
            recs[cur].append(line)
    return recs


def main(argv):
    if argv[:1] == ["--dump"]:
        for f in argv[1:]:
            print("== " + f)
            with open(f, "rb") as fh:
                for line in record_of(fh.read()):
                    print(line)
        return 0
    dump, cases, seed, keep, files = None, 300, 17, None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--bin":
            dump = argv[i + 1]; i += 2
        elif a == "--cases":
            cases = int(argv[i + 1]); i += 2
        elif a == "--seed":
            seed = int(argv[i + 1]); i += 2
        elif a == "--keep":
            keep = argv[i + 1]; i += 2
        else:
            files.append(a); i += 1
    if dump is None:
        print(__doc__)
        return 2
    rng = random.Random(seed)
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        gen = []
        for n in range(cases):
            ct, body = rand_case(rng)
            data = as_input(rng, ct, body)
            if n % 2:
                data = data[:2] + mutate(rng, data[2:])
            p = os.path.join(tmp, "case%04d" % n)
            with open(p, "wb") as fh:
                fh.write(data)
            gen.append(p)
        for label, group in (("corpus and regression files", files), ("generated cases (seed %d)" % seed, gen)):
            if not group:
                continue
            crec = c_records(dump, group)
            bad = []
            outcomes = {}
            for f in group:
                with open(f, "rb") as fh:
                    mine = record_of(fh.read())
                res = mine[-1]
                outcomes[res] = outcomes.get(res, 0) + 1
                if crec.get(f) != mine:
                    bad.append((f, crec.get(f), mine))
            summary = ", ".join("%s %d" % (k[7:], v) for k, v in sorted(outcomes.items()))
            if not bad:
                print("ok - multipart reference: %d %s agree with the C parser (%s)" % (len(group), label, summary))
                continue
            status = 1
            print("not ok - multipart reference: %d of %d %s differ from the C parser" % (len(bad), len(group), label))
            for f, c, mine in bad[:5]:
                shown = f
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    shown = os.path.join(keep, os.path.basename(f))
                    with open(f, "rb") as src, open(shown, "wb") as dst:
                        dst.write(src.read())
                print("#   %s" % shown)
                for j in range(max(len(c or []), len(mine))):
                    a = (c or [])[j] if j < len(c or []) else "(none)"
                    b = mine[j] if j < len(mine) else "(none)"
                    if a != b:
                        print("#     C:   %s\n#     ref: %s" % (a[:200], b[:200]))
                        break
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
