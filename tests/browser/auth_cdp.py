#!/usr/bin/python3
"""Logging in to sn_demo through headless Chromium (tests/auth_browser.sh).

  auth_cdp.py --chromium BIN --port P --profile DIR --pidfile FILE
              --device https://localhost:S --attacker http://127.0.0.1:A
              --user NAME --password PW --idle SECONDS --ca CA.pem
              [--serve PATH=FILE]... [--timeout S]

Starts Chromium (headless, DevTools on 127.0.0.1:P, its pid in FILE for the
caller to kill whatever happens here) and drives the device's own pages the
way a person would: the login form is filled and its submit button clicked
(a real form post and redirects, not a fetch), the dashboard's logout button
clicked. What the browser sent and got is read from DevTools Network events
(the raw request headers, the cookies sent or blocked and why, the raw
response headers with Set-Cookie) and its cookie jar. The attacker origin
(another site: 127.0.0.1 vs localhost, http vs https) serves the pages
attack-form-echo.html, attack-form-logout.html and attack-fetch.html (made by
the caller). curl replays a cookie from outside the browser.
--serve PATH=FILE answers the device's PATH with FILE (DevTools Fetch
interception), to run the checks against a broken page.
Prints one "ok - ..." or "not ok - ...: why" line per check, "# ..."
for notes. Exit 0 when every check passed, 1 if one failed, 2 if Chromium or
the protocol failed. Debian's python3-websockets only.
"""
import argparse
import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import websockets

from cdp import content_type, kill, launch  # tests/browser/cdp.py: the browser's start and end

COOKIE = "__Host-sn"
results = {"pass": 0, "fail": 0}


def check(cond, name, why=""):
    if cond:
        print("ok - " + name, flush=True)
        results["pass"] += 1
    else:
        why = re.sub(r"\s+", " ", str(why))[:500]
        print("not ok - %s%s" % (name, ": " + why if why else ""), flush=True)
        results["fail"] += 1
    return bool(cond)


def note(text):
    print("# " + text, flush=True)


def hdr(headers, name):
    """A header's value from a DevTools header object (names in any case;
    several values of one name come joined by newlines)."""
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


class Browser:
    """One websocket to the browser; each tab is a flat session on it."""

    def __init__(self, ws):
        self.ws, self.next_id, self.waiting, self.tabs = ws, 0, {}, {}

    async def call(self, method, params=None, session=None, timeout=15):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.waiting[mid] = fut
        await self.ws.send(json.dumps(msg))
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise RuntimeError("%s: no answer from DevTools in %g s" % (method, timeout)) from None
        finally:
            self.waiting.pop(mid, None)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self.waiting.get(msg["id"])
                if fut and not fut.done():
                    fut.set_result(msg)
            elif msg.get("sessionId") in self.tabs:
                self.tabs[msg["sessionId"]].event(msg["method"], msg.get("params", {}))


class Tab:
    """A tab, its Network events (hops: one per request or redirect) and its
    Fetch interception (--serve files; HTTP auth prompts counted and cancelled)."""

    def __init__(self, browser, session, name, serve):
        self.b, self.session, self.name, self.serve = browser, session, name, serve
        self.hops, self.req_extra, self.resp_extra = {}, {}, {}
        self.auth_prompts = []

    @classmethod
    async def open(cls, b, name, serve=None, background=False):
        target = (await b.call("Target.createTarget", {"url": "about:blank", "background": background}))["targetId"]
        session = (await b.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        t = cls(b, session, name, serve or {})
        b.tabs[session] = t
        for m in ("Runtime.enable", "Page.enable", "Network.enable"):
            await t.call(m)
        await t.call("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}],
                                      "handleAuthRequests": True})
        return t

    async def call(self, method, params=None, timeout=15):
        return await self.b.call(method, params, self.session, timeout)

    def event(self, method, p):
        rid = p.get("requestId")
        if method == "Network.requestWillBeSent":
            hops = self.hops.setdefault(rid, [])
            if "redirectResponse" in p and hops:
                hops[-1]["status"] = p["redirectResponse"]["status"]
            r = p["request"]
            hops.append({"url": r["url"], "method": r["method"], "post": r.get("postData"), "type": p.get("type"),
                         "headers": r.get("headers", {}), "status": None, "error": None})
        elif method == "Network.responseReceived":
            if self.hops.get(rid):
                self.hops[rid][-1]["status"] = p["response"]["status"]
        elif method == "Network.loadingFailed":
            if self.hops.get(rid):
                self.hops[rid][-1]["error"] = p.get("errorText")
        elif method == "Network.requestWillBeSentExtraInfo":
            self.req_extra.setdefault(rid, []).append(p)
        elif method == "Network.responseReceivedExtraInfo":
            self.resp_extra.setdefault(rid, []).append(p)
        elif method == "Fetch.requestPaused":
            asyncio.get_running_loop().create_task(self.paused(p))
        elif method == "Fetch.authRequired":
            self.auth_prompts.append(p["request"]["url"])
            asyncio.get_running_loop().create_task(self.cancel_auth(p["requestId"]))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            print("# %s: console.%s: %s" % (self.name, p.get("type"), text), file=sys.stderr)
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            print("# %s: exception: %s" % (self.name, d.get("exception", {}).get("description", d.get("text"))),
                  file=sys.stderr)

    async def paused(self, p):
        path = urllib.parse.urlsplit(p["request"]["url"]).path
        try:
            if path in self.serve and p["request"]["url"].startswith(self.serve_origin):
                with open(self.serve[path], "rb") as f:
                    body = f.read()
                print("# %s: served %s from %s" % (self.name, path, self.serve[path]), file=sys.stderr)
                await self.call("Fetch.fulfillRequest", {
                    "requestId": p["requestId"], "responseCode": 200,
                    "responseHeaders": [{"name": "Content-Type", "value": content_type(path)},
                                        {"name": "Cache-Control", "value": "no-store"}],
                    "body": base64.b64encode(body).decode()})
            else:
                await self.call("Fetch.continueRequest", {"requestId": p["requestId"]})
        except (RuntimeError, OSError):
            pass   # the request went away meanwhile (a navigation replaced it)

    serve_origin = ""

    async def cancel_auth(self, rid):
        """What a person does at a Basic prompt they did not expect: Cancel."""
        try:
            await self.call("Fetch.continueWithAuth", {"requestId": rid, "authChallengeResponse": {"response": "CancelAuth"}})
        except (RuntimeError, OSError):
            pass

    def all_hops(self):
        """Every hop so far, in order, with its raw request headers, the
        cookies sent or blocked, and the raw response headers when DevTools
        gave them (paired with the hop by order within its request id)."""
        out = []
        for rid, hops in self.hops.items():
            rq, rs = self.req_extra.get(rid, []), self.resp_extra.get(rid, [])
            for i, h in enumerate(hops):
                h = dict(h, id=rid)
                if i < len(rq):
                    h["raw_headers"] = rq[i].get("headers", {})
                    h["cookies"] = rq[i].get("associatedCookies", [])
                if i < len(rs):
                    h["raw_status"] = rs[i].get("statusCode")
                    h["resp_headers"] = rs[i].get("headers", {})
                out.append(h)
        return out

    def find(self, url, method=None):
        return [h for h in self.all_hops() if h["url"] == url and (method is None or h["method"] == method)]

    def clear(self):
        self.hops, self.req_extra, self.resp_extra = {}, {}, {}

    async def eval(self, expr, timeout=10):
        r = await self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                            timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: %s" % r["exceptionDetails"].get("exception", {}).get(
                "description", r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    async def wait(self, expr, seconds):
        """Polls expr every 0.1 s for at most `seconds`: True once it is true."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if await self.eval(expr, timeout=5):
                    return True
            except (RuntimeError, asyncio.TimeoutError):
                pass   # between documents
            await asyncio.sleep(0.1)
        return False

    async def navigate(self, url):
        await self.eval("window.__old_doc = true")
        await self.call("Page.navigate", {"url": url})

    async def new_doc(self, path, seconds=15, also="true"):
        """Waits for the next document (the one after the mark set by
        navigate() or mark()) to be loaded at `path`."""
        return await self.wait("!window.__old_doc && document.readyState === 'complete' && location.pathname === %s && (%s)"
                               % (json.dumps(path), also), seconds)

    async def state(self):
        try:
            return await self.eval("""({url: location.href, status: (performance.getEntriesByType('navigation')[0] || {}).responseStatus,
                text: document.body ? document.body.innerText.slice(0, 300) : ''})""")
        except (RuntimeError, asyncio.TimeoutError) as e:
            return {"error": str(e)}


def curl(a, path, cookie=None, method="GET", origin=None):
    """(status, Location) of a request from outside the browser."""
    cmd = ["curl", "-q", "-sS", "--max-time", "10", "--cacert", a.ca, "-o", "/dev/null", "-D", "-",
           "-X", method, a.device + path]
    if cookie:
        cmd += ["-H", "Cookie: %s=%s" % (COOKIE, cookie)]
    if origin:
        cmd += ["-H", "Origin: " + origin]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout
    except subprocess.TimeoutExpired:
        return 0, None
    m = re.match(r"HTTP/\S+ (\d+)", out)
    loc = re.search(r"(?im)^location: *(\S+)", out)
    return (int(m.group(1)) if m else 0), (loc.group(1) if loc else None)


FILL = """(() => {
  const f = document.querySelector('form[action="/login"]');
  if (!f) return false;
  f.elements.user.value = %s; f.elements.password.value = %s;
  window.__old_doc = true;
  f.querySelector('[type=submit]').click();
  return true; })()"""

DASHBOARD = ("!!document.getElementById('user') && document.getElementById('user').textContent === %s"
             " && !document.getElementById('session').hidden")


def hops_seen(tab):
    return [(h["method"], h["url"], h["status"]) for h in tab.all_hops()]


class Scenario:
    """The checks, in sections; a section that breaks off (a page not there, a
    DevTools error) is one "not ok" and the next section starts afresh."""

    def __init__(self, b, a, serve):
        self.b, self.a, self.serve = b, a, serve
        self.dev, self.att = a.device, a.attacker
        self.origin = urllib.parse.urlsplit(a.device)
        self.tab = None

    async def cookie(self):
        cs = (await self.tab.call("Network.getCookies", {"urls": [self.dev + "/"]}))["cookies"]
        return next((c for c in cs if c["name"] == COOKIE), None)

    async def submit_login(self, password, expect_path):
        """Fills the login form of the page shown and clicks its button: True
        once the next document is at expect_path."""
        if not await self.tab.eval(FILL % (json.dumps(self.a.user), json.dumps(password))):
            return False
        return await self.tab.new_doc(expect_path, 20)

    async def logged_in(self):
        """The dashboard, logged in through the login page (from wherever the tab is)."""
        t = self.tab
        await t.navigate(self.dev + "/login")
        if not await t.new_doc("/login", 15, "!!document.querySelector('form[action=\"/login\"]')"):
            return False
        return await self.submit_login(self.a.password, "/") and await t.wait(DASHBOARD % json.dumps(self.a.user), 10)

    async def run(self):
        self.tab = await Tab.open(self.b, "device", self.serve)
        self.tab.serve_origin = self.dev
        for name in ("no_session", "wrong", "login", "csrf", "logout", "elsewhere", "idle"):
            try:
                await getattr(self, name)()
            except Exception as e:
                check(False, "%s: the checks ran to their end" % name.replace("_", " "),
                      "%s: %s; page %s" % (type(e).__name__, e, await self.tab.state()))

    async def no_session(self):
        t, dev = self.tab, self.dev
        await t.navigate(dev + "/")
        shown = await t.new_doc("/login", 15, "!!document.querySelector('form[action=\"/login\"]')")
        first = t.find(dev + "/", "GET")
        check(shown and first and first[0]["status"] == 303 and t.find(dev + "/login", "GET"),
              "no session: GET / answers 303 and the browser lands on the login page (/login)",
              "shown %s, hops %s, page %s" % (shown, hops_seen(t), await t.state()))
        st = await t.eval("""(() => { const n = performance.getEntriesByType('navigation')[0], e = document.getElementById('error');
            const u = document.querySelector('input[name=user]'), p = document.querySelector('input[name=password]');
            return {status: n && n.responseStatus, error: !e || !e.hidden,
              user: u && u.autocomplete, pw: p && p.type + ' ' + p.autocomplete,
              form: document.forms[0] && document.forms[0].method + ' ' + document.forms[0].getAttribute('action')}; })()""")
        check(st["status"] == 200 and not st["error"] and st["user"] == "username" and st["pw"] == "password current-password"
              and st["form"] == "post /login",
              "login page: a form post to /login, user (autocomplete username) and password (current-password); no error shown on a 200",
              st)

    async def wrong(self):
        t, dev = self.tab, self.dev
        await t.navigate(dev + "/login")
        await t.new_doc("/login", 15)
        t.clear()
        shown = await self.submit_login(self.a.password + "-wrong", "/login")
        hop = t.find(dev + "/login", "POST")
        st = await t.eval("""(() => { const e = document.getElementById('error');
            return {status: performance.getEntriesByType('navigation')[0].responseStatus, shown: !!e && !e.hidden && e.offsetParent !== null,
                    text: e && e.textContent.trim(), form: !!document.querySelector('form[action="/login"]')}; })()""") if shown else {}
        check(shown and hop and hop[0]["status"] == 401 and st.get("status") == 401 and st.get("form"),
              "wrong password: the form post answers 401 with the login page again",
              "hops %s, page %s" % (hops_seen(t), st or await t.state()))
        check(st.get("shown") and st.get("text") == "wrong user or password",
              "wrong password: the page shows 'wrong user or password' (from its navigation's responseStatus 401)", st)
        c = await self.cookie()
        check(c is None, "wrong password: no session cookie set", c)

    async def login(self):
        t, dev, a = self.tab, self.dev, self.a
        await t.navigate(dev + "/login")
        await t.new_doc("/login", 15)
        t.clear()
        shown = await self.submit_login(a.password, "/")
        dash = shown and await t.wait(DASHBOARD % json.dumps(a.user), 10)
        hop = (t.find(dev + "/login", "POST") or [{}])[0]
        check(dash, "login: the form post leads to the dashboard (/), which shows the user %s" % a.user,
              "hops %s, page %s" % (hops_seen(t), await t.state()))
        raw = hop.get("raw_headers", {})
        check(hop.get("type") == "Document" and hop.get("post") == urllib.parse.urlencode({"user": a.user, "password": a.password})
              and (hdr(raw, "content-type") or "").startswith("application/x-www-form-urlencoded")
              and hdr(raw, "sec-fetch-mode") == "navigate" and hdr(raw, "sec-fetch-site") == "same-origin",
              "login: a real form post (a navigation, urlencoded user and password, Sec-Fetch-Site same-origin)",
              {k: hop.get(k) for k in ("type", "post", "raw_headers")})
        setc = hdr(hop.get("resp_headers"), "set-cookie") or ""
        attrs = [x.strip().lower() for x in setc.split(";")]
        check(hop.get("status") == 303 and re.fullmatch(COOKIE + r"=[0-9a-f]{32}", setc.split(";")[0].strip() or "-")
              and {"secure", "httponly", "samesite=strict", "path=/"} <= set(attrs)
              and not any(x.startswith("domain") for x in attrs),
              "login: 303 with Set-Cookie __Host-sn=<32 hex>; Secure; HttpOnly; SameSite=Strict; Path=/ (raw response headers)",
              "status %s, Set-Cookie %r" % (hop.get("status"), setc))
        c = await self.cookie()
        check(c and c["secure"] and c["httpOnly"] and c.get("sameSite") == "Strict" and c["path"] == "/"
              and c["domain"] == self.origin.hostname and c.get("session"),
              "login: the browser's cookie jar holds __Host-sn: Secure, HttpOnly, SameSite=Strict, Path=/, host-only, "
              "a session cookie", c)
        js = await t.eval("document.cookie")
        check(COOKIE not in (js or ""), "login: the page's script cannot read the cookie (document.cookie)", js)
        code, _ = curl(a, "/api/status", c["value"] if c else "-")
        check(code == 200, "login: the cookie replayed by curl gets 200 on /api/status", "status %s" % code)

    async def csrf(self):
        t, dev, att, a = self.tab, self.dev, self.att, self.a
        if not await t.wait(DASHBOARD % json.dumps(a.user), 1):
            check(await self.logged_in(), "CSRF: logged in first", await t.state())
        c = await self.cookie()
        evil = await Tab.open(self.b, "attacker", background=True)
        try:
            for page, target, what in (("attack-form-echo.html", "/api/echo", "form post"),
                                       ("attack-form-logout.html", "/logout", "form post"),
                                       ("attack-fetch.html", "/api/echo", "fetch (no-cors, credentials include)")):
                evil.clear()
                await evil.navigate(att + "/" + page)
                end = time.monotonic() + 15
                got = []
                while time.monotonic() < end:
                    got = [h for h in evil.find(dev + target, "POST") if h["status"] or h["error"]]
                    if got and got[0].get("raw_headers") is not None:
                        break
                    await asyncio.sleep(0.1)
                h = got[0] if got else {}
                raw = h.get("raw_headers") or {}
                site, sent = hdr(raw, "sec-fetch-site"), hdr(raw, "cookie") or ""
                blocked = [r for x in h.get("cookies", []) if x["cookie"]["name"] == COOKIE for r in x.get("blockedReasons", [])]
                check(h.get("status") == 403, "CSRF: %s's %s to %s gets 403 at the device" % (att, what, target),
                      "status %s, error %s, hops %s" % (h.get("status"), h.get("error"), hops_seen(evil)))
                check(site == "cross-site" and hdr(raw, "origin") == att and COOKIE not in sent,
                      "CSRF: that %s carried Sec-Fetch-Site: cross-site and Origin %s, and not the cookie" % (what, att),
                      "sec-fetch-site %r, origin %r, cookie %r" % (site, hdr(raw, "origin"), sent))
                note("%s to %s: the browser held the cookie back: %s" % (what, target, blocked or "not listed"))
                # (also keeps the session from going idle: a background tab's poll may be throttled)
                code, _ = curl(a, "/api/status", c["value"] if c else "-")
                check(code == 200, "CSRF: the session still works after that %s to %s (curl with the cookie: 200)"
                      % (what, target), "status %s" % code)
        finally:
            await evil.call("Page.close")

        t.clear()
        r = await t.eval("""fetch('/api/echo', {method: 'POST', credentials: 'include', body: 'same-origin-x'})
            .then(async (r) => ({status: r.status, body: await r.text()}), (e) => ({status: 0, body: String(e)}))""")
        h = (t.find(dev + "/api/echo", "POST") or [{}])[0]
        check(r["status"] == 200 and r["body"] == "same-origin-x" and hdr(h.get("raw_headers"), "sec-fetch-site") == "same-origin",
              "CSRF: the same fetch from the device's own page succeeds (200, the body echoed, Sec-Fetch-Site same-origin)",
              "%s, sec-fetch-site %r" % (r, hdr(h.get("raw_headers"), "sec-fetch-site")))
        t.clear()
        await t.eval("""(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/api/echo';
            f.enctype = 'text/plain'; const i = document.createElement('input'); i.name = 'x'; i.value = 'own-form';
            f.appendChild(i); document.body.appendChild(f); window.__old_doc = true; f.submit(); return true; })()""")
        shown = await t.new_doc("/api/echo", 15)
        h = (t.find(dev + "/api/echo", "POST") or [{}])[0]
        body = await t.eval("document.body.innerText") if shown else None
        check(shown and h.get("status") == 200 and (body or "").strip() == "x=own-form"
              and hdr(h.get("raw_headers"), "sec-fetch-site") == "same-origin",
              "CSRF: the same form post from the device's own page succeeds (200, the body echoed, Sec-Fetch-Site same-origin)",
              "status %s, body %r, sec-fetch-site %r" % (h.get("status"), body, hdr(h.get("raw_headers"), "sec-fetch-site")))

    async def logout(self):
        t, dev, a = self.tab, self.dev, self.a
        await t.navigate(dev + "/")
        dash = await t.new_doc("/", 15) and await t.wait(DASHBOARD % json.dumps(a.user), 10)
        if not dash:
            dash = await self.logged_in()
        c = await self.cookie()
        t.clear()
        await t.eval("window.__old_doc = true; document.getElementById('logout').click(); true")
        shown = await t.new_doc("/login", 15)
        hop = (t.find(dev + "/logout", "POST") or [{}])[0]
        check(dash and shown and hop.get("status") == 303 and hop.get("type") == "Document",
              "logout: the dashboard's button posts /logout (303) and the browser is back on /login",
              "dashboard %s, logout %s, page %s" % (dash, hop.get("status"), await t.state()))
        left = await self.cookie()
        check(left is None, "logout: the browser's cookie jar no longer holds __Host-sn", left)
        code, _ = curl(a, "/api/status", c["value"] if c else "-")
        check(code == 401, "logout: the old cookie replayed by curl now gets 401 on /api/status", "status %s" % code)
        code, loc = curl(a, "/", c["value"] if c else "-")
        check(code == 303 and loc == "/login", "logout: the old cookie replayed on / gets 303 to /login", "%s %s" % (code, loc))

    async def elsewhere(self):
        t = self.tab
        shown = await self.logged_in()
        c = await self.cookie()
        await t.eval("window.__old_doc = true")
        code, _ = curl(self.a, "/logout", c["value"] if c else "-", "POST", "%s://%s" % (self.origin.scheme, self.origin.netloc))
        moved = await t.new_doc("/login", 8)
        check(shown and code == 303 and moved,
              "elsewhere: with the session logged out by curl, the open dashboard's next /api/status (401) takes it to /login",
              "login %s, curl logout %s, page %s" % (shown, code, await t.state()))
        # the page's own fetch gets a Form challenge (Sec-Fetch-Mode: cors), never Basic:
        # a desktop browser would otherwise show its credentials dialog before the page moves on
        check(not t.auth_prompts,
              "elsewhere: the page's 401 asks the browser for no credentials (no Basic prompt)",
              "Chromium was asked %d time(s): %s" % (len(t.auth_prompts), sorted(set(t.auth_prompts))))

    async def idle(self):
        t, dev, a = self.tab, self.dev, self.a
        shown = await self.logged_in()
        c = await self.cookie()
        await t.navigate("about:blank")   # the dashboard's poll would keep the session alive
        await t.wait("location.href === 'about:blank'", 5)
        await asyncio.sleep(a.idle + 1.5)
        t.clear()
        await t.navigate(dev + "/")
        back = await t.new_doc("/login", 15)
        first = t.find(dev + "/", "GET")
        check(shown and back and first and first[0]["status"] == 303,
              "idle: after %gs without a request (--session-idle %g) a reload of / gets 303 and lands on /login"
              % (a.idle + 1.5, a.idle), "login %s, hops %s, page %s" % (shown, hops_seen(t), await t.state()))
        code, _ = curl(a, "/api/status", c["value"] if c else "-")
        check(code == 401, "idle: that session's cookie replayed by curl gets 401", "status %s" % code)


async def drive(a, serve):
    ver = None
    end = time.monotonic() + 30
    while time.monotonic() < end:   # DevTools up within 30 s
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/version" % a.port, timeout=2) as r:
                ver = json.load(r)
            break
        except OSError:
            await asyncio.sleep(0.1)
    if ver is None:
        raise RuntimeError("no DevTools on port %d" % a.port)
    note(ver.get("Browser"))
    async with websockets.connect(ver["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
        b = Browser(ws)
        pump = asyncio.get_running_loop().create_task(b.pump())
        try:
            await Scenario(b, a, serve).run()
        finally:
            pump.cancel()


def main():
    ap = argparse.ArgumentParser()
    for k in ("chromium", "profile", "pidfile", "device", "attacker", "user", "password", "ca"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idle", type=float, required=True)
    ap.add_argument("--serve", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=150)
    a = ap.parse_args()
    serve = dict(x.split("=", 1) for x in a.serve)
    proc = launch(a.chromium, a.profile, a.port, a.pidfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    rc = 2
    try:
        asyncio.run(asyncio.wait_for(drive(a, serve), a.timeout))
        rc = 1 if results["fail"] else 0
    except (Exception, asyncio.TimeoutError) as e:
        print("not ok - auth_cdp.py: the scenario ended early: %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        kill(proc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
