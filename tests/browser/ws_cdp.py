#!/usr/bin/python3
"""The dashboard's live values in headless Chromium (tests/ws_browser.sh).

  ws_cdp.py --chromium BIN --port P --profile DIR --pidfile FILE --url https://localhost:S/
            --server-log FILE --server-pidfile FILE [--serve PATH=FILE]... [--timeout S]
            -- SERVER ARGS...

Starts the server (SERVER ARGS..., its output in --server-log, its pid in
--server-pidfile; "listening" in its output says it is up) and Chromium
(tests/browser/cdp.py's launch: headless, DevTools on 127.0.0.1:P, its pid in
FILE). Each scenario is a tab of its own (its own DevTools connection, a
cdp.Session) that opens the dashboard and reads its DOM every 0.2 s: #transport,
#updates (and its data-seq, the server's seq), #uptime, #requests, #connections,
without reloading it. What the browser really did is read from DevTools Network
events: WebSockets created and their frames, EventSource messages, requests.
  websocket      as it is: "websocket", >= 3 updates, the values change, as
                 many frames received on wss://.../ws/status, no /api/events
  sse-missing    window.WebSocket deleted before the page runs: "sse", >= 2
                 updates, as many EventSource messages from /api/events
  sse-throws     new WebSocket throws (a SecurityError): the same
  sse-refused    the page's WebSocket sent to /ws/refused, which the server
                 answers 404 (it never opens): the same
  poll-missing   WebSocket and EventSource deleted: "polling", >= 2 updates,
                 /api/status requested for each, no socket, no stream
  poll-refused   the WebSocket to /ws/refused, the event stream to /api/refused
                 (404): the same
  reconnect      (after the others) the server stopped (SIGTERM) while the page
                 is on a WebSocket, down for 3 s, started again: the page finds it
                 by itself, on a WebSocket again (seq from 1 again), without a
                 reload and without dropping to SSE or polling, in a few attempts
                 (back-off: at most 6 WebSockets tried while the server was down)
Every scenario: one navigation (no reload), no exception in the page. At the end
the server gets SIGTERM and must exit with status 0 (no sanitizer report).
--serve PATH=FILE answers PATH with FILE (cdp.py's Fetch interception), to run
the checks against a broken page.
Prints one "ok - ..." or "not ok - ...: why" line per check, "# ..." for notes.
Exit 0 when every check passed, 1 if one failed, 2 if Chromium, the server or
the protocol failed. Debian's python3-websockets only.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import websockets

import cdp  # tests/browser/cdp.py: the browser's start and end, one DevTools session

results = {"pass": 0, "fail": 0}
SAMPLE = """(() => { const $ = (id) => document.getElementById(id); return $("transport") && {
  t: $("transport").textContent, st: $("transport").dataset.state || "", u: +$("updates").textContent,
  seq: $("updates").dataset.seq === undefined ? null : +$("updates").dataset.seq,
  up: $("uptime").textContent, rq: $("requests").textContent, cn: $("connections").textContent }; })()"""
NO_WS = "delete window.WebSocket;"
THROW_WS = """window.WebSocket = function WebSocket() {
  throw new DOMException("blocked by the test", "SecurityError"); };"""
NO_SSE = "delete window.EventSource;"
# The page's own URLs, turned into ones the server refuses (404): a WebSocket that
# never opens, an event stream that fails. (DevTools' Network.setBlockedURLs does
# not stop WebSocket handshakes.)
REFUSE_WS = """window.WebSocket = class extends WebSocket {
  constructor(url, p) { super(String(url).replace("/ws/status", "/ws/refused"), p); } };"""
REFUSE_SSE = """window.EventSource = class extends EventSource {
  constructor(url, o) { super(String(url).replace("/api/events", "/api/refused"), o); } };"""


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


class Server:
    """The device under test: started, stopped (SIGTERM) and started again."""

    def __init__(self, cmd, log, pidfile):
        self.cmd, self.log, self.pidfile, self.proc = cmd, log, pidfile, None

    async def start(self):
        with open(self.log, "ab") as out:
            out.write(b"---- start\n")
            out.flush()
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)
        mark = self.text().rindex("---- start")
        for _ in range(100):   # 10 s at most
            if "listening" in self.text()[mark:]:
                return True
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        return False

    async def stop(self):
        """SIGTERM, up to 10 s, then SIGKILL; the exit status (None: killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        for _ in range(100):
            if self.proc.poll() is not None:
                return self.proc.returncode
            await asyncio.sleep(0.1)
        self.proc.kill()
        self.proc.wait(timeout=10)
        return None

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")


class Tab(cdp.Session):
    """One tab on its own DevTools connection, and what DevTools saw it do."""

    def __init__(self, ws, serve, name):
        super().__init__(ws, serve)
        self.name, self.samples = name, []
        self.sockets = {}     # requestId -> {"url", "frames", "data", "t"}
        self.sse = []         # EventSource messages: (url, data)
        self.requests = []    # (url, method) of every request
        self.exceptions, self.navigations = [], 0

    async def event(self, method, p):
        if method == "Network.webSocketCreated":
            self.sockets[p["requestId"]] = {"url": p["url"], "frames": 0, "data": [], "t": time.monotonic()}
        elif method == "Network.webSocketFrameReceived":
            if p["requestId"] in self.sockets and p["response"].get("opcode") == 1:
                self.sockets[p["requestId"]]["frames"] += 1
                self.sockets[p["requestId"]]["data"].append(p["response"].get("payloadData", ""))
        elif method == "Network.eventSourceMessageReceived":
            self.sse.append((p["requestId"], p.get("data", "")))
        elif method == "Network.requestWillBeSent":
            self.requests.append((p["request"]["url"], p["request"]["method"]))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description", d.get("text")))
        elif method == "Page.frameNavigated" and not p["frame"].get("parentId"):
            self.navigations += 1
        await super().event(method, p)

    def frames(self, url_prefix):
        return sum(s["frames"] for s in self.sockets.values() if s["url"].startswith(url_prefix))

    def requested(self, path):
        return [u for u, _ in self.requests if urllib.parse.urlsplit(u).path == path]

    async def sample(self):
        try:
            v = await cdp.evaluate(self, SAMPLE)
        except RuntimeError:
            return None   # between documents
        if v:
            v["at"] = time.monotonic()
            self.samples.append(v)
        return v

    async def watch(self, until, seconds):
        """Samples every 0.2 s until until(sample) holds (True) or seconds pass (False)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            v = await self.sample()
            if v and until(v):
                return True
            await asyncio.sleep(0.2)
        return False

    async def close(self):
        """Closes the tab and its DevTools connection."""
        try:
            await self.call("Target.closeTarget", {"targetId": self.target}, session=False, timeout=5)
        except (RuntimeError, asyncio.TimeoutError):
            pass
        self.pump_task.cancel()
        await self.conn.close()


async def open_tab(ver, name, url, serve, scripts=()):
    ws = await websockets.connect(ver["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
    t = Tab(ws, serve, name)
    t.conn = ws
    t.pump_task = asyncio.get_running_loop().create_task(t.pump())
    t.target = target = (await t.call("Target.createTarget", {"url": "about:blank"}, session=False))["targetId"]
    t.session = (await t.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                              session=False))["sessionId"]
    for m in ("Runtime.enable", "Page.enable", "Network.enable"):
        await t.call(m)
    if serve:   # only the paths served from files: WebSockets and streams go by untouched
        await t.call("Fetch.enable", {"patterns": [{"urlPattern": "*" + p, "requestStage": "Request"} for p in serve]})
    for s in scripts:
        await t.call("Page.addScriptToEvaluateOnNewDocument", {"source": s})
    await t.call("Page.navigate", {"url": url})
    return t


def on(samples, name):
    """The samples showing transport name, open."""
    return [s for s in samples if s["t"] == name and s["st"] == "open"]


def grew(samples, name):
    """How far #updates went up while the page said name (0 if it never did)."""
    s = on(samples, name)
    return s[-1]["u"] - s[0]["u"] if s else 0


def common(t, what):
    check(t.navigations == 1, "%s: the page was loaded once (no reload)" % what, "%d navigations" % t.navigations)
    check(not t.exceptions, "%s: no exception in the page" % what, "; ".join(map(str, t.exceptions)))


def last(t):
    return t.samples[-1] if t.samples else {}


async def websocket(ver, a, serve):
    t = await open_tab(ver, "websocket", a.url, serve)
    await t.watch(lambda v: grew(t.samples, "websocket") >= 3, 15)
    await asyncio.sleep(0.3)   # frames in flight when the last sample was read
    ws_url = "wss://%s/ws/status" % urllib.parse.urlsplit(a.url).netloc
    s = on(t.samples, "websocket")
    check(last(t).get("t") == "websocket" and last(t).get("st") == "open", "websocket: #transport says websocket",
          "it says %r (%s)" % (last(t).get("t"), last(t).get("st")))
    check(grew(t.samples, "websocket") >= 3, "websocket: >= 3 updates shown without a reload (#updates grew)",
          "#updates %s" % [v["u"] for v in s] if s else "never on websocket: %s" % sorted({v["t"] for v in t.samples}))
    ups, seqs = [v["up"] for v in s], [v["seq"] for v in s if v["seq"] is not None]   # None: open, no message yet
    check(len(set(ups)) >= 3 and len(set(seqs)) >= 3 and seqs == sorted(seqs),
          "websocket: the values change with each update (>= 3 uptimes shown, seq increasing)",
          "uptimes %s, seq %s" % (sorted(set(ups)), seqs))
    frames = t.frames(ws_url)
    check(frames >= 3 and s and frames >= s[-1]["u"],
          "websocket: DevTools saw as many messages arrive on %s (>= 3, >= #updates)" % ws_url,
          "%d frames, #updates %s, sockets %s" % (frames, s[-1]["u"] if s else None,
                                                   [x["url"] for x in t.sockets.values()]))
    check(not t.requested("/api/events") and len(t.sockets) == 1,
          "websocket: one WebSocket, no event stream (/api/events not requested)",
          "%d sockets, /api/events %d times" % (len(t.sockets), len(t.requested("/api/events"))))
    common(t, "websocket")
    await t.close()
    return t


async def sse(ver, a, serve, what, scripts=()):
    t = await open_tab(ver, what, a.url, serve, scripts)
    await t.watch(lambda v: grew(t.samples, "sse") >= 2, 12)
    await asyncio.sleep(0.3)
    s = on(t.samples, "sse")
    check(last(t).get("t") == "sse" and last(t).get("st") == "open", "%s: #transport says sse" % what,
          "it says %r (%s)" % (last(t).get("t"), last(t).get("st")))
    check(grew(t.samples, "sse") >= 2, "%s: >= 2 updates over server-sent events (#updates grew)" % what,
          "#updates %s" % [v["u"] for v in s] if s else "never on sse: %s" % sorted({v["t"] for v in t.samples}))
    check(len(set(v["seq"] for v in s)) >= 2, "%s: the values change (seq)" % what, [v["seq"] for v in s])
    n = len(t.sse)
    check(n >= 2 and s and n >= s[-1]["u"] and t.requested("/api/events"),
          "%s: DevTools saw as many EventSource messages from /api/events (>= 2, >= #updates)" % what,
          "%d messages, #updates %s" % (n, s[-1]["u"] if s else None))
    frames = sum(x["frames"] for x in t.sockets.values())
    check(frames == 0, "%s: nothing came over a WebSocket" % what, "%d frames" % frames)
    if REFUSE_WS in scripts:
        tried = [x["url"] for x in t.sockets.values() if x["url"].endswith("/ws/refused")]
        check(len(tried) == 1 and len(t.sockets) == 1,
              "%s: the page tried its WebSocket once (to /ws/refused, refused) before the stream" % what,
              "sockets %s" % [x["url"] for x in t.sockets.values()])
    common(t, what)
    await t.close()


async def polling(ver, a, serve, what, scripts=()):
    t = await open_tab(ver, what, a.url, serve, scripts)
    await t.watch(lambda v: grew(t.samples, "polling") >= 2, 12)
    s = on(t.samples, "polling")
    check(last(t).get("t") == "polling", "%s: #transport says polling" % what, "it says %r" % last(t).get("t"))
    check(grew(t.samples, "polling") >= 2, "%s: >= 2 updates by polling (#updates grew)" % what,
          "#updates %s" % [v["u"] for v in s] if s else "never polling: %s" % sorted({v["t"] for v in t.samples}))
    check(len(set(v["up"] for v in s)) >= 2, "%s: the values change (uptime)" % what, [v["up"] for v in s])
    n = len(t.requested("/api/status"))
    frames = sum(x["frames"] for x in t.sockets.values())
    check(s and n >= s[-1]["u"] and not t.sse and frames == 0,
          "%s: DevTools saw an /api/status request for each update, no socket or stream messages" % what,
          "%d requests, #updates %s, %d EventSource messages, %d frames" % (n, s[-1]["u"] if s else None,
                                                                          len(t.sse), frames))
    if REFUSE_SSE in scripts:
        check(len(t.sockets) == 1 and len(t.requested("/api/refused")) == 1 and not t.requested("/api/events"),
              "%s: the page tried its WebSocket and its event stream once each (refused) before polling" % what,
              "sockets %s, /api/refused %d times" % ([x["url"] for x in t.sockets.values()],
                                                     len(t.requested("/api/refused"))))
    common(t, what)
    await t.close()


async def reconnect(ver, a, serve, server):
    t = await open_tab(ver, "reconnect", a.url, serve)
    if not await t.watch(lambda v: grew(t.samples, "websocket") >= 2, 12):
        check(False, "reconnect: the page on a WebSocket with 2 updates first", last(t))
        await t.close()
        return
    before = last(t)
    stopped = time.monotonic()
    rc = await server.stop()
    check(rc == 0, "reconnect: the server stopped by SIGTERM (status 0) with the page on a WebSocket",
          "status %s" % rc)
    await asyncio.sleep(3)
    tried = sum(1 for x in t.sockets.values() if x["t"] >= stopped)
    restarted = time.monotonic()
    if not await server.start():
        check(False, "reconnect: the server starts again", server.text()[-300:])
        await t.close()
        return
    note("reconnect: the server was down for %.1f s; %d WebSockets tried meanwhile" % (restarted - stopped, tried))
    found = await t.watch(lambda v: v["t"] == "websocket" and v["st"] == "open" and v["u"] >= before["u"] + 2, 25)
    await asyncio.sleep(0.3)
    new = [x for x in t.sockets.values() if x["t"] >= stopped and x["frames"]]   # the new server's
    seqs = [json.loads(d).get("seq") for x in new for d in x["data"]]
    check(found and len(new) == 1 and seqs[:2] == [1, 2] and (last(t).get("seq") or 99) <= len(seqs),
          "reconnect: the page is on a WebSocket to the new server by itself: its messages from seq 1 "
          "shown (#updates went on from %d)" % before["u"],
          "last sample %s; sockets after the restart with messages: %d, seq %s" % (last(t), len(new), seqs))
    check(1 <= tried <= 6, "reconnect: a back-off while the server was down: 1 to 6 WebSockets tried in 3 s "
          "(not a storm, not given up)", "%d tried" % tried)
    check(not t.requested("/api/events") and not any(v["t"].startswith(("sse", "polling")) for v in t.samples),
          "reconnect: no fall back to SSE or polling for a WebSocket that worked before",
          "transports shown %s, /api/events %d times" % (sorted({v["t"] for v in t.samples}),
                                                         len(t.requested("/api/events"))))
    common(t, "reconnect")
    await t.close()


async def drive(a, serve, server):
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
    t0 = time.monotonic()
    await asyncio.gather(
        websocket(ver, a, serve),
        sse(ver, a, serve, "sse-missing", scripts=[NO_WS]),
        sse(ver, a, serve, "sse-throws", scripts=[THROW_WS]),
        sse(ver, a, serve, "sse-refused", scripts=[REFUSE_WS]),
        polling(ver, a, serve, "poll-missing", scripts=[NO_WS, NO_SSE]),
        polling(ver, a, serve, "poll-refused", scripts=[REFUSE_WS, REFUSE_SSE]))
    note("the six tabs at once took %.1f s" % (time.monotonic() - t0))
    t0 = time.monotonic()
    await reconnect(ver, a, serve, server)
    note("reconnect took %.1f s" % (time.monotonic() - t0))


def main():
    ap = argparse.ArgumentParser()
    for k in ("chromium", "profile", "pidfile", "url", "server_log", "server_pidfile"):
        ap.add_argument("--" + k.replace("_", "-"), required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--serve", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("server", nargs="+")
    a = ap.parse_args()
    serve = dict(x.split("=", 1) for x in a.serve)
    server = Server(a.server, a.server_log, a.server_pidfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    if not asyncio.run(server.start()):
        print("not ok - the server starts: %s" % " ".join(server.text()[-300:].split()), flush=True)
        asyncio.run(server.stop())
        return 2
    proc = cdp.launch(a.chromium, a.profile, a.port, a.pidfile)
    rc = 2
    try:
        asyncio.run(asyncio.wait_for(drive(a, serve, server), a.timeout))
        rc = 0
    except (Exception, asyncio.TimeoutError) as e:
        print("not ok - ws_cdp.py: the scenarios ended early: %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        cdp.kill(proc)
    st = asyncio.run(server.stop())
    log = server.text()
    check(st == 0 and not re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", log),
          "the server exits cleanly on SIGTERM (status 0)", "status %s %s" % (st, log[-300:]))
    return rc if rc else (1 if results["fail"] else 0)


if __name__ == "__main__":
    sys.exit(main())
