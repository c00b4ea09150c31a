#!/usr/bin/python3
"""Raw HTTPS clients for tests/auth.sh (keep-alive, a chosen source address).

  client.py throttle --port P --ca CA --user NAME --password PW [--count 200]
  client.py timing   --port P --ca CA --user NAME --password PW [--n 40]
  client.py random   --port P --ca CA [--count 10000] [--seed S]

Each prints "ok - ..." / "not ok - ...: why" lines and "# ..." notes; the
shell counts them. Every loop is bounded in count and in time (--deadline).

throttle  200 wrong passwords for NAME from 127.0.0.1, one after the other:
          the answers slow down (failure k waits at least 250 ms << (k - 2)),
          then 429 with Retry-After, fast; while it runs, curl --interface
          127.0.0.2 logs NAME in (303), and GET /api/health from 127.0.0.3
          keeps its idle median (a sanity bound: 10x, at least 20 ms).
timing    from 127.0.0.4: a login with a name no user has, then a good one,
          a login of NAME with a wrong password, then a good one, N times
          (a success clears the address: the failures wait for nothing);
          the medians of both kinds of failure agree within the noise.
random    COUNT requests to GET /api/status with random Cookie and
          Authorization values: 401, or 400 (a control byte in a value) /
          431 (a head over 8192 bytes) from the HTTP parser; 429 only for
          credentials that are well-formed Basic (they are checked and
          throttled); never 200. A 401 without credentials carries
          WWW-Authenticate (one to refused credentials is counted: securenet
          sends none there)."""
import argparse, base64, os, random, re, socket, ssl, statistics, subprocess, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["throttle", "timing", "random"])
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ca", required=True)
ap.add_argument("--user", default="alice")
ap.add_argument("--password", default="")
ap.add_argument("--count", type=int, default=0)
ap.add_argument("--n", type=int, default=40)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--deadline", type=float, default=300)
ap.add_argument("--slow", type=float, default=1, help="factor for upper time bounds")
a = ap.parse_args()
T0 = time.monotonic()
fails = 0


def ok(what):
    print("ok - " + what, flush=True)


def nok(what, why=""):
    global fails
    fails += 1
    print("not ok - " + what + (": " + why if why else ""), flush=True)


def check(cond, what, why=""):
    (ok if cond else (lambda w: nok(w, why)))(what)


def note(s):
    print("# " + s, flush=True)


def over():
    return time.monotonic() - T0 > a.deadline


CTX = ssl.create_default_context(cafile=a.ca)


class Conn:
    """One keep-alive HTTPS connection from src; reconnects when the server closed it."""

    def __init__(self, src, timeout=20):
        self.src, self.timeout, self.s, self.buf = src, timeout, None, b""

    def _open(self):
        raw = socket.create_connection(("127.0.0.1", a.port), timeout=self.timeout, source_address=(self.src, 0))
        self.s = CTX.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""

    def close(self):
        if self.s is not None:
            try:
                self.s.close()
            except OSError:
                pass
        self.s = None

    def _read_more(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def request(self, method, path, headers=(), body=b""):
        """-> (status, {lower name: value}, body, seconds from the send to the answer)"""
        head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method.encode(), path.encode(), a.port)
        for k, v in headers:
            head += k + b": " + v + b"\r\n"
        if body or method == "POST":
            head += b"Content-Length: %d\r\n" % len(body)
        head += b"\r\n"
        for attempt in (0, 1):
            fresh = self.s is None
            if fresh:
                self._open()
            t = time.monotonic()
            try:
                self.s.sendall(head + body)
                while b"\r\n\r\n" not in self.buf:
                    self._read_more()
                break
            except (ConnectionError, ssl.SSLError, OSError) as e:
                self.close()
                if fresh or attempt == 1:  # a new connection failed: a real error
                    raise ConnectionError("request failed: %s" % e)
        i = self.buf.index(b"\r\n\r\n")
        lines = self.buf[:i].split(b"\r\n")
        self.buf = self.buf[i + 4:]
        status = int(lines[0].split()[1])
        hs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        n = int(hs.get("content-length", "0"))
        while len(self.buf) < n:
            self._read_more()
        resp, self.buf = self.buf[:n], self.buf[n:]
        el = time.monotonic() - t
        if hs.get("connection", "").lower() == "close":
            self.close()
        return status, hs, resp, el


def form(user, pw):
    from urllib.parse import quote
    return ("user=%s&password=%s" % (quote(user), quote(pw))).encode()


FORM_CT = (b"Content-Type", b"application/x-www-form-urlencoded")


def ms(x):
    return "%.1f ms" % (x * 1000)


def median(v):
    return statistics.median(v) if v else float("nan")


def mad(v):
    m = median(v)
    return median([abs(x - m) for x in v])


# ---- throttle ------------------------------------------------------------------------------
def throttle():
    count = a.count or 200
    hc = Conn("127.0.0.3")
    idle = []
    for _ in range(30):
        st, _, _, el = hc.request("GET", "/api/health")
        if st != 200:
            nok("GET /api/health before the attack", "status %d" % st)
            return
        idle.append(el)
        time.sleep(0.02)
    m0 = median(idle)
    res, during, legit = [], [], {}
    done = threading.Event()

    def attacker():
        c = Conn("127.0.0.1", timeout=20 * a.slow)
        try:
            for i in range(count):
                if over():
                    break
                st, hs, _, el = c.request("POST", "/login", [FORM_CT], form(a.user, "wrong-%d" % i))
                res.append((st, el, hs.get("retry-after")))
        except Exception as e:  # noqa: BLE001 (reported below)
            res.append((-1, 0, str(e)))
        done.set()

    def sampler():
        while not done.is_set() and not over():
            try:
                st, _, _, el = hc.request("GET", "/api/health")
            except Exception:  # noqa: BLE001
                st, el = -1, 0
            during.append((st, el))
            time.sleep(0.05)

    th = [threading.Thread(target=attacker), threading.Thread(target=sampler)]
    for t in th:
        t.start()
    # the legitimate user, once the attacker is being slowed down (5 failures in: its next waits 4 s)
    while len(res) < 5 and not done.is_set() and not over():
        time.sleep(0.05)
    t = time.monotonic()
    p = subprocess.run(["curl", "-q", "-sS", "--max-time", str(int(20 * a.slow)), "--cacert", a.ca, "--interface",
                        "127.0.0.2", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "-d", "user=" + a.user,
                        "--data-urlencode", "password=" + a.password,
                        "https://127.0.0.1:%d/login" % a.port], capture_output=True, text=True)
    legit["s"] = time.monotonic() - t
    legit["out"] = p.stdout.strip().splitlines()[-1:] or [p.stderr.strip()]
    legit["cookie"] = "__Host-sn=" in p.stdout
    legit["during"] = not done.is_set()
    for t in th:
        t.join(a.deadline)
    statuses = [r[0] for r in res]
    note("attacker's answers: " + " ".join("%d/%s" % (r[0], ms(r[1])) for r in res[:12]) +
         (" ... (%d answers)" % len(res) if len(res) > 12 else ""))
    check(len(res) == count and -1 not in statuses, "throttle: %d wrong passwords answered, one after the other" % count,
          "%d answers; %s" % (len(res), res[-1] if res else ""))
    first429 = statuses.index(429) if 429 in statuses else len(statuses)
    check(first429 == 8 and all(s == 401 for s in statuses[:first429]),
          "throttle: the first 8 wrong passwords answered 401, then 429 (lockout_failures 8)",
          "statuses before the first 429: %s" % statuses[:first429 + 1])
    lat = [r[1] for r in res[:first429]]
    grow = all(lat[k] >= 0.8 * 0.25 * (1 << (k - 1)) for k in range(1, min(len(lat), 6)))
    check(len(lat) >= 6 and grow and lat[5] > lat[1] + 1.0,
          "throttle: the answers slow down (failure k waits >= 250 ms << (k - 2): %s)" % ", ".join(ms(x) for x in lat[:8]),
          "not growing as documented")
    check(len(lat) > 0 and max(lat) < 8.0 * a.slow + 1, "throttle: no answer held beyond SN_AUTH_MAX_WAIT_MS (8 s)",
          "longest %s" % ms(max(lat) if lat else 0))
    locked = res[first429:]
    lat429 = [r[1] for r in locked]
    ra_ok = all(r[0] == 429 and r[2] is not None and r[2].isdigit() and int(r[2]) > 0 for r in locked)
    check(len(locked) > 0 and ra_ok, "throttle: once locked out every answer is 429 with Retry-After (%d of them, Retry-After %s)" %
          (len(locked), locked[0][2] if locked else "-"), "%s" % [r for r in locked if r[0] != 429 or not r[2]][:3])
    check(len(lat429) > 0 and median(lat429) < 0.1 * a.slow and max(lat429) < 1.0 * a.slow,
          "throttle: a locked-out address is answered at once (median %s, max %s)" %
          (ms(median(lat429)), ms(max(lat429) if lat429 else 0)), "too slow")
    check(legit["out"] == ["303"] and legit["cookie"] and legit["during"],
          "throttle: meanwhile alice logs in from 127.0.0.2 (303 with a cookie, in %s)" % ms(legit["s"]),
          "curl says %s, cookie %s, while attacked %s" % (legit["out"], legit["cookie"], legit["during"]))
    check(legit["s"] < 1.0 * a.slow, "throttle: the other address's login is not held behind the attacker's delay (%s)" %
          ms(legit["s"]),
          "took %s" % ms(legit["s"]))
    dl = [x[1] for x in during if x[0] == 200]
    bad = [x for x in during if x[0] != 200]
    m1 = median(dl)
    note("GET /api/health from 127.0.0.3: idle median %s (max %s, %d), during the attack median %s (max %s, %d)" %
         (ms(m0), ms(max(idle)), len(idle), ms(m1), ms(max(dl) if dl else 0), len(dl)))
    check(len(dl) >= 10 and not bad and m1 <= max(10 * m0, 0.02) * a.slow,
          "throttle: /api/health from a third address served during the attack, median %s (idle %s)" % (ms(m1), ms(m0)),
          "%d answered, %d failed, bound %s" % (len(dl), len(bad), ms(max(10 * m0, 0.02) * a.slow)))


# ---- timing --------------------------------------------------------------------------------
def timing():
    c = Conn("127.0.0.4")
    unknown, known, bad = [], [], []
    for i in range(a.n):
        if over():
            break
        for kind, name, pw, want in (("unknown", "nobody-here", "x-%d" % i, 401), ("good", a.user, a.password, 303),
                                     ("known", a.user, "wrong-%d" % i, 401), ("good", a.user, a.password, 303)):
            if kind != "good":
                time.sleep(0.2)  # the global cap's turn (125 ms) is free again: only the check is timed
            st, _, _, el = c.request("POST", "/login", [FORM_CT], form(name, pw))
            if st != want:
                bad.append("%s %d" % (kind, st))
            elif kind == "unknown":
                unknown.append(el)
            elif kind == "known":
                known.append(el)
    check(not bad and len(unknown) == a.n, "timing: %d x (unknown user 401, good 303, wrong password 401, good 303)" % a.n,
          "%d rounds; unexpected %s" % (len(unknown), bad[:5]))
    if not unknown or not known:
        return
    m1, m2 = median(unknown), median(known)
    noise = max(mad(unknown), mad(known))
    bound = max(0.002, 3 * noise, 0.25 * min(m1, m2))
    note("login failure: unknown user median %s (MAD %s), known user wrong password median %s (MAD %s)" %
         (ms(m1), ms(mad(unknown)), ms(m2), ms(mad(known))))
    check(abs(m1 - m2) < bound, "timing: a name no user has costs what a wrong password costs (|%s - %s| < %s)" %
          (ms(m1), ms(m2), ms(bound)), "differ by %s" % ms(abs(m1 - m2)))
    check(m2 >= 0.5 * m1 and m1 >= 0.5 * m2 and min(m1, m2) > 0.0005,
          "timing: both failures pay a PBKDF2 check (neither answered in no time)", "medians %s %s" % (ms(m1), ms(m2)))


# ---- random --------------------------------------------------------------------------------
B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
MAX_HEAD = 8192


def rbytes(r, n, alphabet=None):
    if alphabet is None:
        alphabet = bytes(range(0x20, 0x7f)) + b":=;  ,\t\"" * 4
    return bytes(r.choice(alphabet) for _ in range(n))


def dirty(r, v):
    """now and then a control byte, DEL or a byte over 0x7f (not CR or LF)"""
    if r.random() < 0.1 and v:
        i = r.randrange(len(v))
        v = v[:i] + bytes([r.choice([0, 1, 8, 0x1b, 0x7f, 0x80, 0xc3, 0xff])]) + v[i + 1:]
    return v


def rcookie(r, room):
    k = r.randrange(8)
    if k == 0:
        return rbytes(r, r.randrange(0, 200))
    if k == 1:
        return b"__Host-sn=" + os.urandom(16).hex().encode()
    if k == 2:
        return b"__Host-sn=" + rbytes(r, r.choice([0, 31, 32, 33, 64]), b"0123456789abcdefABCDEF")
    if k == 3:
        return b"; ".join(b"%s=%s" % (r.choice([b"__Host-sn", b"a", b"__host-sn", b"sn"]), os.urandom(16).hex().encode())
                          for _ in range(r.randrange(1, 6)))
    if k == 4:  # near the head's limit
        return rbytes(r, max(0, room + r.randrange(-40, 40)))
    if k == 5:
        return b"x=__Host-sn=" + os.urandom(16).hex().encode()
    if k == 6:
        return rbytes(r, r.randrange(1, 3000))
    return b"__Host-sn=" + os.urandom(16).hex().encode() + b";" + rbytes(r, r.randrange(0, 50))


def rauth(r, room):
    k = r.randrange(11)
    sch = r.choice([b"Basic", b"basic", b"BASIC", b"Basic", b"Bearer", b"Digest", b"Basi", b""])
    if k == 0:
        return rbytes(r, r.randrange(0, 200))
    if k == 1:
        return sch + b" " + rbytes(r, r.randrange(0, 120), B64 + b"=")
    if k == 2:
        return b"Basic " + base64.b64encode(os.urandom(r.randrange(0, 100)))
    if k == 3:  # name:password of random bytes
        return b"Basic " + base64.b64encode(rbytes(r, r.randrange(0, 40), bytes(range(256))) + b":" +
                                             rbytes(r, r.randrange(0, 140), bytes(range(256))))
    if k == 4:  # bad base64
        v = bytearray(base64.b64encode(b"alice:" + os.urandom(r.randrange(1, 30))))
        v.insert(r.randrange(len(v) + 1), r.choice(b"=*.-_ !%"))
        return b"Basic " + bytes(v)
    if k == 5:  # unpadded or truncated
        return b"Basic " + base64.b64encode(b"bob:" + os.urandom(r.randrange(1, 30))).rstrip(b"=")[:r.randrange(1, 60)]
    if k == 6:
        return b"Basic " + rbytes(r, max(0, room + r.randrange(-40, 40)), B64)
    if k == 7:
        return b"Basic" + b" " * r.randrange(0, 4) + b"\t" * r.randrange(0, 2) + base64.b64encode(b"alice:x")
    if k == 8:
        return sch + b" " + base64.b64encode(os.urandom(r.randrange(0, 3000)))
    if k == 9:  # a plausible name with a wrong password: a real check
        return b"Basic " + base64.b64encode(r.choice([b"alice", b"bob", b"nobody"]) + b":" + os.urandom(8).hex().encode())
    return b"Basic " + base64.b64encode(b"alice:" + os.urandom(4).hex().encode() + b"\x00")


def wellformed_basic(v):
    """credentials that decode (the server may check and throttle them): lenient on purpose"""
    v = v.strip(b" \t")
    if len(v) < 6 or v[:6].lower() != b"basic ":
        return False
    t = v[6:].lstrip(b" ")
    if not t or len(t) % 4 or re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", t) is None:
        return False
    try:
        d = base64.b64decode(t, validate=True)
    except Exception:  # noqa: BLE001
        return False
    return b":" in d


def rnd():
    count = a.count or 10000
    r = random.Random(a.seed)
    ck, au = Conn("127.0.0.5"), Conn("127.0.0.6")
    base = len(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % a.port)
    seen, bad = {}, []
    n = nochallenge = 0
    for i in range(count):
        if over():
            break
        hs = []
        which = r.randrange(3)  # 0 Cookie, 1 Authorization, 2 both
        room = MAX_HEAD - base - len(b"Authorization: \r\n")
        if which in (0, 2):
            hs.append((b"Cookie", dirty(r, rcookie(r, room))))
        if which in (1, 2):
            hs.append((b"Authorization", dirty(r, rauth(r, room))))
        head_len = base + sum(len(k) + 4 + len(v) for k, v in hs)
        ctl = any(re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", v.strip(b" \t")) for _, v in hs)
        basic = any(k == b"Authorization" and wellformed_basic(v) for k, v in hs)
        allowed = {401}
        if basic:
            allowed.add(429)
        if ctl and head_len > MAX_HEAD:
            allowed = {400, 431}
        elif ctl:
            allowed = {400}
        elif head_len > MAX_HEAD:
            allowed = {431}
        c = au if which else ck
        try:
            st, rh, _, _ = c.request("GET", "/api/status", hs)
        except Exception as e:  # noqa: BLE001
            bad.append("#%d: %s (%r)" % (i, e, hs))
            break
        n += 1
        key = (st, "basic" if basic else "ctl" if ctl else "big" if head_len > MAX_HEAD else "plain")
        seen[key] = seen.get(key, 0) + 1
        creds = any(k == b"Authorization" for k, _ in hs)
        if st == 401 and creds and "www-authenticate" not in rh:
            nochallenge += 1
        if st not in allowed or (st == 429 and "retry-after" not in rh) or (st == 401 and
                                                                             "www-authenticate" not in rh):
            bad.append("#%d: %d, allowed %s: %r" % (i, st, sorted(allowed), [(k, v[:120]) for k, v in hs]))
    note("answers by (status, kind): " + ", ".join("%s %s: %d" % (k[0], k[1], v) for k, v in sorted(seen.items())))
    note("%d answers 401 to refused credentials without WWW-Authenticate (RFC 9110 11.6.1: a 401 MUST carry one; "
         "each is counted as unexpected)" % nochallenge)
    for b in bad[:5]:
        note(b[:600])
    check(n == count and not bad, "random: %d random Cookie / Authorization values answered 401 with a challenge (400 for a control byte, "
          "431 for a head over 8192 bytes, 429 only for well-formed Basic) in %.0f s" % (n, time.monotonic() - T0),
          "%d answered, %d unexpected" % (n, len(bad)))


{"throttle": throttle, "timing": timing, "random": rnd}[a.mode]()
sys.exit(1 if fails else 0)
