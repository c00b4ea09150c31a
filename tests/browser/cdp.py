#!/usr/bin/python3
"""Drives headless Chromium over the DevTools protocol (tests/browser.sh).

  cdp.py --chromium BIN --port P --profile DIR --pidfile FILE --url URL
         [--serve PATH=FILE]... [--wait JS] [--read JS] [--timeout S] [--upload-bps B]

Starts Chromium (headless, its DevTools on 127.0.0.1:P, profile DIR, its pid
written to FILE so the caller can kill it whatever happens here), opens URL in
a new tab and, while the page runs, answers every request whose URL path is a
--serve PATH with FILE's bytes (DevTools Fetch interception: the server under
test never sees those requests). Then evaluates --wait every 0.1 s until it is
true (at most --timeout seconds), and prints the value of --read as one line
of JSON. --upload-bps: the tab's uploads throttled to B bytes/s (DevTools
network emulation), so that a loopback upload lasts long enough for Chromium
to report progress more than once (it does every 50 ms or so). Console messages and page exceptions go to stderr as "# page: ...".
Exit 0; 1 if the wait timed out (the --read value is still printed); 2 if
Chromium or the protocol failed. Debian's python3-websockets only.
"""
import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import websockets


def content_type(path):
    return {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
            ".css": "text/css; charset=utf-8"}.get(os.path.splitext(path)[1], "application/octet-stream")


def launch(chromium, profile, port, pidfile):
    """Headless Chromium with DevTools on 127.0.0.1:port, in its own process group
    (its pid in pidfile, its output in profile/chromium.log)."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--ignore-certificate-errors", "--user-data-dir=" + profile,
           "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % port, "about:blank"]
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    with open(pidfile, "w") as f:
        f.write("%d\n" % proc.pid)
    return proc


def kill(proc):
    """Ends the browser and its children (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


class Session:
    """One websocket to the browser; commands to a tab go with its sessionId."""

    def __init__(self, ws, serve):
        self.ws, self.serve, self.next_id, self.waiting = ws, serve, 0, {}
        self.session = None

    async def call(self, method, params=None, session=True, timeout=15):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, timeout)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self.waiting.pop(msg["id"], None)
                if fut and not fut.done():
                    fut.set_result(msg)
            else:
                asyncio.get_running_loop().create_task(self.event(msg["method"], msg.get("params", {})))

    async def event(self, method, p):
        if method == "Fetch.requestPaused":
            path = urllib.parse.urlsplit(p["request"]["url"]).path
            if path in self.serve:
                with open(self.serve[path], "rb") as f:
                    body = f.read()
                print("# served %s (%d bytes) from %s" % (path, len(body), self.serve[path]), file=sys.stderr)
                await self.call("Fetch.fulfillRequest", {
                    "requestId": p["requestId"], "responseCode": 200,
                    "responseHeaders": [{"name": "Content-Type", "value": content_type(path)},
                                        {"name": "Cache-Control", "value": "no-store"}],
                    "body": base64.b64encode(body).decode()})
            else:
                await self.call("Fetch.continueRequest", {"requestId": p["requestId"]})
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            print("# page: console.%s: %s" % (p.get("type"), text), file=sys.stderr)
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            print("# page: exception: %s" % d.get("exception", {}).get("description", d.get("text")), file=sys.stderr)


async def evaluate(s, expr):
    r = await s.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in r:
        raise RuntimeError("evaluate %r: %s" % (expr, r["exceptionDetails"].get("text")))
    return r.get("result", {}).get("value")


async def drive(a, serve):
    deadline = time.monotonic() + a.timeout
    ver = None
    while time.monotonic() < min(deadline, time.monotonic() + 30):   # DevTools up within 30 s
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/version" % a.port, timeout=2) as r:
                ver = json.load(r)
            break
        except OSError:
            await asyncio.sleep(0.1)
    if ver is None:
        raise RuntimeError("no DevTools on port %d" % a.port)
    print("# %s" % ver.get("Browser"), file=sys.stderr)
    async with websockets.connect(ver["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
        s = Session(ws, serve)
        pump = asyncio.get_running_loop().create_task(s.pump())
        target = (await s.call("Target.createTarget", {"url": "about:blank"}, session=False))["targetId"]
        s.session = (await s.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                  session=False))["sessionId"]
        await s.call("Runtime.enable")
        await s.call("Page.enable")
        if a.upload_bps:
            await s.call("Network.enable")
            await s.call("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                         "downloadThroughput": -1, "uploadThroughput": a.upload_bps})
        if serve:
            await s.call("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})
        await s.call("Page.navigate", {"url": a.url})
        timed_out = True
        while time.monotonic() < deadline:
            try:
                if await evaluate(s, a.wait):
                    timed_out = False
                    break
            except RuntimeError:
                pass   # the page is not there yet (navigation under way)
            await asyncio.sleep(0.1)
        print(json.dumps(await evaluate(s, a.read)))
        pump.cancel()
        return 1 if timed_out else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--serve", action="append", default=[])
    ap.add_argument("--wait", default="document.readyState === 'complete'")
    ap.add_argument("--read", default="document.title")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--upload-bps", type=float, default=0)
    a = ap.parse_args()
    serve = dict(x.split("=", 1) for x in a.serve)
    proc = launch(a.chromium, a.profile, a.port, a.pidfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    rc = 2
    try:
        rc = asyncio.run(asyncio.wait_for(drive(a, serve), a.timeout + 20))
    except (Exception, asyncio.TimeoutError) as e:
        print("# cdp.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    finally:
        kill(proc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
