#!/usr/bin/python3
"""A stand-in for sn_demo's WebSocket and SSE routes (WS_DEMO.md, issue 19), to
try tests/ws.sh on before sn_demo has them, and to see its checks fail on
purpose:

  SN_DEMO=tests/ws/standin.py tests/ws.sh
  WS_STANDIN_BUG=echo-too-big SN_DEMO=tests/ws/standin.py tests/ws.sh

It takes sn_demo's options (--https-port, --cert, --key; the others are
ignored), prints "listening", serves HTTPS on 127.0.0.1 and ends with status 0
on SIGTERM (open sockets get close 1001 first). The WebSocket side is the
sans-I/O protocol of Python's websockets package (Debian python3-websockets
10.x: websockets.server.ServerConnection), so its frames are those of an
independent implementation:
  GET /ws[?max=N]   echo, messages reassembled, over N bytes (default 1 MiB): close 1009
  GET /ws/status    a JSON text message at once and every second, seq 1, 2, 3, ...
  GET /api/events   SSE: "id: N" and "data: <JSON>" at once and every second, N from
                    Last-Event-ID + 1
  GET /api/status   the JSON, as a plain reply

WS_STANDIN_BUG (one of):
  echo-too-big   ?max is ignored: a longer message is echoed
  close-1000     every close is answered with 1000, whatever code came
  frag-first     a fragmented message is echoed as its first fragment only
  text-as-binary text messages are echoed as binary ones
  status-seq     /ws/status sends seq 1 every time
  sse-last-id    Last-Event-ID is ignored (ids start at 1)
  sse-type       /api/events is sent as text/plain
  no-pong        pings are not answered
  no-going-away  SIGTERM ends the connections without a close frame
Standard library and websockets only; run with /usr/bin/python3.
"""
import asyncio
import json
import signal
import ssl
import sys
import time
import urllib.parse

from websockets.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Frame
from websockets.http11 import Request
from websockets.server import ServerConnection

BUG = __import__("os").environ.get("WS_STANDIN_BUG", "")
T0 = time.monotonic()
counters = {"connections": 0, "requests": 0}
sockets = set()  # open WebSocket handlers, for SIGTERM's 1001


def status(seq):
    return json.dumps({"seq": seq, "uptime_ms": int((time.monotonic() - T0) * 1000),
                       "connections": counters["connections"], "requests": counters["requests"]})


class Socket:
    """One upgraded connection: a ServerConnection fed from the stream."""

    def __init__(self, reader, writer, head, path, query):
        self.reader, self.writer, self.path = reader, writer, path
        mx = int(query.get("max", ["1048576"])[0])
        self.conn = ServerConnection(max_size=None if BUG == "echo-too-big" else mx)
        if BUG == "no-pong":  # the sans-I/O layer answers pings itself: make it not
            orig = self.conn.send_frame
            self.conn.send_frame = lambda f: None if f.opcode.name == "PONG" else orig(f)
        self.conn.receive_data(head)
        self.parts, self.kind = [], None
        self.ended = False

    async def flush(self):
        for data in self.conn.data_to_send():
            if data == b"":  # the protocol ends the TCP connection here
                self.ended = True
                try:
                    self.writer.close()
                except OSError:
                    pass
                return
            self.writer.write(data)
        try:
            await self.writer.drain()
        except OSError:
            self.ended = True

    def on_frame(self, f):
        if f.opcode in (OP_TEXT, OP_BINARY):
            self.kind, self.parts = f.opcode, [f.data]
        elif f.opcode is OP_CONT:
            if BUG != "frag-first":
                self.parts.append(f.data)
        elif f.opcode is OP_CLOSE:
            return
        else:
            return
        if f.fin and self.path == "/ws":
            data = b"".join(self.parts)
            if self.kind is OP_TEXT and BUG != "text-as-binary":
                self.conn.send_text(data)
            else:
                self.conn.send_binary(data)

    async def pusher(self):
        seq = 0
        while not self.ended and self.conn.state.name == "OPEN":
            seq = 1 if BUG == "status-seq" else seq + 1
            self.conn.send_text(status(seq).encode())
            await self.flush()
            await asyncio.sleep(1.0)

    async def run(self):
        events = self.conn.events_received()
        req = events[0] if events else None
        if not isinstance(req, Request):
            self.writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.writer.close()
            return
        resp = self.conn.accept(req)
        if BUG == "close-1000":
            orig = self.conn.send_frame

            def send_frame(f):
                if f.opcode is OP_CLOSE and f.data[:2] != b"\x03\xe8":
                    f = Frame(OP_CLOSE, b"\x03\xe8")
                orig(f)
            self.conn.send_frame = send_frame
        self.conn.send_response(resp)
        await self.flush()
        if resp.status_code != 101:
            self.writer.close()
            return
        push = asyncio.ensure_future(self.pusher()) if self.path == "/ws/status" else None
        sockets.add(self)
        try:
            while not self.ended:
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), 60)
                except (asyncio.TimeoutError, OSError):
                    data = b""
                if data:
                    self.conn.receive_data(data)
                else:
                    self.conn.receive_eof()
                for f in self.conn.events_received():
                    if isinstance(f, Frame):
                        self.on_frame(f)
                await self.flush()
                if not data:
                    break
        finally:
            sockets.discard(self)
            if push:
                push.cancel()
            self.writer.close()

    async def going_away(self):
        if BUG == "no-going-away":
            self.writer.close()
            return
        try:
            self.conn.send_close(1001, "going away")
        except Exception:
            return
        await self.flush()


async def sse(writer, last_id):
    n = 0 if BUG == "sse-last-id" else last_id
    ctype = "text/plain" if BUG == "sse-type" else "text/event-stream"
    writer.write(("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
                  "Connection: close\r\n\r\n" % ctype).encode())
    for _ in range(120):
        n += 1
        writer.write(("id: %d\ndata: %s\n\n" % (n, status(n))).encode())
        try:
            await writer.drain()
        except OSError:
            break
        await asyncio.sleep(1.0)
    writer.close()


async def handle(reader, writer):
    counters["connections"] += 1
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        writer.close()
        return
    counters["requests"] += 1
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if len(lines[0].split(" ")) == 3 else "/"
    u = urllib.parse.urlsplit(target)
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    try:
        if u.path in ("/ws", "/ws/status") and hdrs.get("upgrade", "").lower() != "websocket":
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
        elif u.path in ("/ws", "/ws/status") and hdrs.get("sec-websocket-version") != "13":
            writer.write(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            writer.close()
        elif u.path in ("/ws", "/ws/status"):
            await Socket(reader, writer, head, u.path, urllib.parse.parse_qs(u.query)).run()
        elif u.path == "/api/events":
            await sse(writer, int(hdrs.get("last-event-id", "0") or 0))
        elif u.path == "/api/status":
            body = status(0).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            writer.close()
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
    except (OSError, ssl.SSLError):
        writer.close()


async def main():
    args = sys.argv[1:]
    opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1) if args[i].startswith("--")}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opt["--cert"], opt["--key"])
    server = await asyncio.start_server(handle, "127.0.0.1", int(opt["--https-port"]), ssl=ctx)
    print("listening on https://localhost:%s (ws stand-in%s)" % (opt["--https-port"], ", bug " + BUG if BUG else ""),
          flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    await asyncio.gather(*(s.going_away() for s in list(sockets)), return_exceptions=True)
    await asyncio.sleep(0.2)


asyncio.run(main())
