#!/usr/bin/python3
"""WebSocket checks against sn_demo's /ws and /ws/status (WS_DEMO.md) with the
asyncio client of Python's websockets package (Debian python3-websockets 10.x:
websockets.connect, the legacy client API), over wss:// with verification on.

  py_client.py PORT CAFILE GROUP...
    GROUP  handshake | echo | frag | ping | close | toobig | many | status
           wrongca    CAFILE is a CA that did not sign the server's certificate:
                      the connection must be refused (and the right one, in
                      SN_CA, accepted by the same code)
           shutdown   holds a /ws open, touches $WS_MARKER once an echo came
                      back, then waits up to 15 s for the server's close (the
                      caller sends SIGTERM): the close code must be 1001

Prints "ok - ..." / "not ok - ...: why" lines like every securenet suite,
lines starting with "#" are notes. Every wait is bounded (WS_WAIT seconds per
message, default 10); the whole run stops after 60 s.
Run with /usr/bin/python3.
"""
import asyncio
import json
import os
import ssl
import sys

import websockets
from websockets.exceptions import ConnectionClosed

PORT, CAFILE, GROUPS = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
WAIT = float(os.environ.get("WS_WAIT", "10"))
TAG = "websockets %s" % websockets.__version__
failed = 0


def report(cond, name, why=""):
    global failed
    if cond:
        print("ok - %s: %s" % (TAG, name), flush=True)
    else:
        failed += 1
        print("not ok - %s: %s: %s" % (TAG, name, why), flush=True)


def note(s):
    print("# %s" % s, flush=True)


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)  # CERT_REQUIRED, check_hostname
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return ctx


def connect(path="/ws", cafile=None, host="localhost", **kw):
    # No keep-alive pings of the client's own (the ping checks send theirs);
    # max_size above the 1 MiB the echo may send back; permessage-deflate is
    # offered (the client's default) and must be declined (no extension in sn_demo).
    kw.setdefault("max_size", 4 << 20)
    return websockets.connect("wss://%s:%d%s" % (host, PORT, path), ssl=context(cafile or CAFILE),
                              ping_interval=None, close_timeout=5, open_timeout=WAIT, **kw)


def text_of(n):
    """A str of exactly n bytes of UTF-8, with 1-, 2-, 3- and 4-byte characters."""
    s = "a\u00e9\u20ac\U0001F600" * (n // 10) + "b" * (n % 10)
    assert len(s.encode()) == n
    return s


def describe(m):
    if isinstance(m, str):
        return "text of %d bytes" % len(m.encode())
    return "binary of %d bytes" % len(m)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), WAIT)


async def echo_one(ws, msg):
    """(ok, why): msg comes back with the same type and bytes."""
    try:
        await asyncio.wait_for(ws.send(msg), WAIT)
        got = await recv(ws)
    except ConnectionClosed as e:
        return False, "connection closed: %s" % e
    except asyncio.TimeoutError:
        return False, "no echo within %g s" % WAIT
    if type(got) is not type(msg):
        return False, "sent %s, got %s back" % (describe(msg), describe(got))
    if got != msg:
        return False, "sent %s, got %s with other bytes" % (describe(msg), describe(got))
    return True, ""


async def closed_with(ws, want, what):
    """After a message the server must refuse: the next thing is its close frame with code want."""
    try:
        got = await recv(ws)
        report(False, what, "the server sent a message back (%s) instead of closing with %d" % (describe(got), want))
        return
    except ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        report(False, what, "neither a message nor a close within %g s" % WAIT)
        return
    rcvd = ws.close_rcvd
    report(rcvd is not None and rcvd.code == want, what,
           "close frame received: %s" % (rcvd if rcvd is not None else "none (connection ended without one: 1006)"))


# ---- groups -------------------------------------------------------------------------------
async def g_handshake():
    async with connect() as ws:
        h = ws.response_headers
        note("101 headers: %s" % ", ".join("%s: %s" % kv for kv in h.raw_items()))
        report(ws.extensions == [] and "Sec-WebSocket-Extensions" not in h,
               "permessage-deflate offered by the client is declined (no Sec-WebSocket-Extensions in the 101)",
               "extensions %s, header %r" % (ws.extensions, h.get("Sec-WebSocket-Extensions")))
        report(ws.subprotocol is None, "no subprotocol chosen when none was offered", "got %r" % ws.subprotocol)


async def g_echo():
    async with connect() as ws:
        for n in (0, 1, 125, 126, 65535, 65536, 1 << 20):
            ok, why = await echo_one(ws, os.urandom(n))
            report(ok, "/ws echoes a binary message of %d byte(s) byte for byte, as binary" % n, why)
        for n in (0, 1, 125, 126, 65535, 65536, 1 << 20):
            ok, why = await echo_one(ws, text_of(n))
            report(ok, "/ws echoes a text message of %d byte(s) (UTF-8 with 2-, 3- and 4-byte characters) as text" % n, why)
        # 40 messages of both types sent back to back, then read: all come back, in order
        msgs = [text_of(i * 37) if i % 2 else os.urandom(i * 613) for i in range(40)]
        why = ""
        try:
            for m in msgs:
                await asyncio.wait_for(ws.send(m), WAIT)
            for i, m in enumerate(msgs):
                got = await recv(ws)
                if got != m or type(got) is not type(m):
                    why = "message %d: sent %s, got %s" % (i, describe(m), describe(got))
                    break
        except (ConnectionClosed, asyncio.TimeoutError) as e:
            why = "%s: %s" % (type(e).__name__, e)
        report(why == "", "/ws: 40 messages sent back to back come back whole and in order", why)


async def g_frag():
    async with connect() as ws:
        parts = ["hel", "lo, ", "w\u00f6rld \u20ac\U0001F600"]
        ok, why = await echo_one_frag(ws, parts, "".join(parts))
        report(ok, "/ws: a text message in 3 fragments comes back as the one reassembled text message", why)
        parts = [os.urandom(1000), b"", os.urandom(70000)]
        ok, why = await echo_one_frag(ws, parts, b"".join(parts))
        report(ok, "/ws: a binary message in 3 fragments (1000, an empty one, 70000 bytes) comes back whole", why)
        parts = [os.urandom(65536) for _ in range(16)]
        ok, why = await echo_one_frag(ws, parts, b"".join(parts))
        report(ok, "/ws: 16 fragments of 64 KiB (1 MiB, the default limit exactly) come back as one message", why)

        # RFC 6455 5.4: control frames may come between the fragments of a message
        pong = {"ok": False, "why": ""}

        async def with_ping():
            yield "first half, "
            try:
                w = await ws.ping(b"between fragments")
                await asyncio.wait_for(w, WAIT)
                pong["ok"] = True
            except (ConnectionClosed, asyncio.TimeoutError) as e:
                pong["why"] = "%s: %s" % (type(e).__name__, e)
            yield "second half"
        ok, why = await echo_one_frag(ws, with_ping(), "first half, second half")
        report(pong["ok"], "/ws: a ping between two fragments of a text message is answered with its pong at once",
               pong["why"] or "no pong")
        report(ok, "/ws: that message still comes back whole after the ping", why)


async def echo_one_frag(ws, parts, want):
    try:
        await asyncio.wait_for(ws.send(parts), WAIT)
        got = await recv(ws)
    except ConnectionClosed as e:
        return False, "connection closed: %s" % e
    except asyncio.TimeoutError:
        return False, "no echo within %g s" % WAIT
    if type(got) is not type(want) or got != want:
        return False, "wanted %s, got %s%s" % (describe(want), describe(got),
                                               "" if type(got) is not type(want) or len(got) != len(want)
                                               else " with other bytes")
    return True, ""


async def g_ping():
    async with connect() as ws:
        for data in (b"", b"p", os.urandom(125)):
            why = ""
            try:
                w = await ws.ping(data)
                await asyncio.wait_for(w, WAIT)
            except (ConnectionClosed, asyncio.TimeoutError) as e:
                why = "%s: %s" % (type(e).__name__, e)
            report(why == "", "/ws: a ping with %d byte(s) is answered by a pong with the same bytes" % len(data), why)
        why = ""
        try:
            ws_ = [await ws.ping(b"ping %d" % i) for i in range(5)]
            await asyncio.wait_for(asyncio.gather(*ws_), WAIT)
        except (ConnectionClosed, asyncio.TimeoutError) as e:
            why = "%s: %s" % (type(e).__name__, e)
        report(why == "", "/ws: 5 pings sent back to back are each answered", why)
        await ws.pong(b"unsolicited")  # RFC 6455 5.5.3: no answer expected; the socket goes on
        ok, why = await echo_one(ws, "after an unsolicited pong")
        report(ok, "/ws: an unsolicited pong is ignored (the next message still echoes)", why)


async def g_close():
    for code, reason in ((1000, ""), (4000, "bye \u00fc\u20ac")):
        async with connect() as ws:
            ok, why = await echo_one(ws, "before the close")
            try:
                await asyncio.wait_for(ws.close(code, reason), WAIT + 6)
            except asyncio.TimeoutError:
                pass
            rcvd = ws.close_rcvd
            if rcvd is not None:
                note("close %d %r answered with %d %r" % (code, reason, rcvd.code, rcvd.reason))
            report(ok and rcvd is not None and rcvd.code == code and ws.close_rcvd_then_sent is False,
                   "/ws: the client's close %d%s is answered with a close frame of code %d" %
                   (code, " (reason %r)" % reason if reason else "", code),
                   why or "close frame received: %s" % (rcvd if rcvd is not None else "none (1006)"))


async def g_many():
    # 10 sockets open at once (sn_demo holds 16 connections), their messages interleaved:
    # each gets its own back, whole and in order
    socks = []
    try:
        for _ in range(10):
            socks.append(await connect().__aenter__())

        async def one(i, ws):
            for k in range(20):
                m = ("socket %d message %d " % (i, k)) + text_of(k * 101) if k % 2 else os.urandom(k * 997) + bytes([i])
                ok, why = await echo_one(ws, m)
                if not ok:
                    return "socket %d message %d: %s" % (i, k, why)
            return ""
        whys = await asyncio.gather(*(one(i, ws) for i, ws in enumerate(socks)))
        why = "; ".join(w for w in whys if w)
    except Exception as e:
        why = "%d sockets open, then %s: %s" % (len(socks), type(e).__name__, e)
    for ws in socks:
        await ws.close()
    report(why == "", "/ws: 10 sockets at once, 20 messages each interleaved: each socket gets its own back in order", why)


async def g_toobig():
    async with connect("/ws?max=1000") as ws:
        ok, why = await echo_one(ws, os.urandom(1000))
        report(ok, "/ws?max=1000: a binary message of 1000 bytes (the limit) is echoed", why)
        ok, why = await echo_one(ws, text_of(1000))
        report(ok, "/ws?max=1000: a text message of 1000 bytes is echoed", why)
        await ws.send(os.urandom(1001))
        await closed_with(ws, 1009, "/ws?max=1000: a binary message of 1001 bytes is refused with close 1009")
    async with connect("/ws?max=1000") as ws:
        await ws.send([text_of(600), text_of(600)])
        await closed_with(ws, 1009, "/ws?max=1000: a text message in 2 fragments of 600 bytes is refused with close 1009")
    async with connect("/ws") as ws:
        await ws.send(os.urandom((1 << 20) + 1))
        await closed_with(ws, 1009, "/ws: a message of 1 MiB + 1 byte (over the default limit) is refused with close 1009")


async def g_status():
    async with connect("/ws/status") as ws:
        got, why = [], ""
        try:
            for i in range(3):
                m = await asyncio.wait_for(ws.recv(), 5)
                got.append(m)
                if i == 0:  # messages from the client are ignored (not echoed, no close)
                    await ws.send("ignored")
                    await ws.send(b"ignored too")
        except (ConnectionClosed, asyncio.TimeoutError) as e:
            why = "after %d messages: %s: %s" % (len(got), type(e).__name__, e)
        objs = []
        for m in got:
            try:
                o = json.loads(m) if isinstance(m, str) else None
            except ValueError:
                o = None
            if not isinstance(o, dict):
                why = why or "not a JSON object in a text message: %r" % (m[:80],)
                break
            objs.append(o)
        if got:
            note("/ws/status: %s" % got[0])
        seqs = [o.get("seq") for o in objs]
        report(why == "" and len(objs) == 3, "/ws/status: 3 text messages of JSON within 5 s each, the first at once",
               why or "%d messages" % len(objs))
        report(len(seqs) == 3 and seqs == [1, 2, 3], "/ws/status: their seq are 1, 2, 3 (messages sent to it ignored)",
               "seq %s" % seqs)
        keys = ("uptime_ms", "connections", "requests")
        bad = [k for o in objs for k in keys if not isinstance(o.get(k), int)]
        report(objs and not bad, "/ws/status: each has integer uptime_ms, connections and requests", "missing or not integers: %s" % bad)
        up = [o.get("uptime_ms") for o in objs]
        report(len(up) == 3 and all(isinstance(u, int) for u in up) and up == sorted(up),
               "/ws/status: uptime_ms does not go back", "uptime_ms %s" % up)


async def g_wrongca():
    # the same client code with the right CA connects (the refusal below is the CA's, nothing else)
    right = os.environ.get("SN_CA", "")
    if right:
        why = ""
        try:
            async with connect(cafile=right) as ws:
                ok, why = await echo_one(ws, "right CA")
        except Exception as e:
            why = "%s: %s" % (type(e).__name__, e)
        report(why == "", "wss:// with the dev CA connects and echoes (the same code as below)", why)
    for what, kw in (("a CA that did not sign the server's certificate", {}),
                     ("the dev CA but another host name (127.0.0.1 as wrong.example)",
                      {"cafile": right or CAFILE, "host": "127.0.0.1", "server_hostname": "wrong.example"})):
        try:
            async with connect(**kw) as ws:
                await echo_one(ws, "must not get here")
            report(False, "wss:// with %s is refused (certificate verify failed)" % what, "connected and echoed")
        except ssl.SSLCertVerificationError as e:
            note("refused: %s" % e.verify_message)
            report(True, "wss:// with %s is refused (certificate verify failed)" % what)
        except Exception as e:
            report(False, "wss:// with %s is refused (certificate verify failed)" % what,
                   "another error: %s: %s" % (type(e).__name__, e))


async def g_shutdown():
    marker = os.environ["WS_MARKER"]
    async with connect() as ws:
        ok, why = await echo_one(ws, "before the shutdown")
        open(marker, "w").close()
        if not ok:
            report(False, "/ws: an open socket gets close 1001 (going away) when the server stops", why)
            return
        try:
            got = await asyncio.wait_for(ws.recv(), 15)
            why = "a message instead: %s" % describe(got)
        except ConnectionClosed:
            pass
        except asyncio.TimeoutError:
            why = "nothing within 15 s"
        rcvd = ws.close_rcvd
        report(why == "" and rcvd is not None and rcvd.code == 1001,
               "/ws: an open socket gets close 1001 (going away) when the server stops (SIGTERM)",
               why or "close frame received: %s" % (rcvd if rcvd is not None else "none (1006)"))


GROUP = {"handshake": g_handshake, "echo": g_echo, "frag": g_frag, "ping": g_ping, "close": g_close,
         "toobig": g_toobig, "many": g_many, "status": g_status, "wrongca": g_wrongca, "shutdown": g_shutdown}


async def main():
    for g in GROUPS:
        try:
            await GROUP[g]()
        except Exception as e:  # a connection that failed to open, a close mid-group
            report(False, "group %s ran to its end" % g, "%s: %s" % (type(e).__name__, e))


try:
    asyncio.run(asyncio.wait_for(main(), 60))
except asyncio.TimeoutError:
    report(False, "groups %s ended within 60 s" % " ".join(GROUPS), "timeout")
sys.exit(1 if failed else 0)
