#!/usr/bin/python3
"""bench/heap_ws.py - the WebSocket peer of bench/heap.sh: Python's websockets
(Debian python3-websockets, the asyncio client) over wss:// with the server
verified, driven by one command per line on stdin, answered on stdout:

  open 1.3|1.2   connects to wss://localhost:PORT/ws with that TLS version
                 only (as heap.sh's openssl s_client -tls1_3/-tls1_2; the
                 rest is OpenSSL's defaults, as s_client's): "open: ok"
  echo N         N round trips, one after the other: 4088 bytes of binary
                 out (see MSG), the same back (checked): "echo: done n=N"
  close          the close handshake (1000): "close: done code=C"
  quit           ends

  heap_ws.py PORT CAFILE
Any failure prints "fail: why" and ends with status 1. Every wait is bounded
(10 s); the whole run stops after 300 s. Run with /usr/bin/python3.
"""
import asyncio
import os
import ssl
import sys

import websockets

PORT, CAFILE = int(sys.argv[1]), sys.argv[2]
WAIT = 10
# 4 KiB less the frame's 8-byte header (length 126 form, mask): the largest
# message whose frame fits one record of configs/sn_mbedtls_minimal.h's
# 4096-byte MBEDTLS_SSL_IN_CONTENT_LEN (OpenSSL sends a 4096-byte message's
# 4104-byte frame as one record: record_overflow). HEAP_WS_MSG overrides.
MSG = int(os.environ.get("HEAP_WS_MSG", "4088"))


def say(s):
    print(s, flush=True)


def context(version):
    ctx = ssl.create_default_context(cafile=CAFILE)  # CERT_REQUIRED, check_hostname
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    return ctx


async def main():
    loop = asyncio.get_running_loop()
    ws = None
    n = 0
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "open":
            ws = await websockets.connect("wss://localhost:%d/ws" % PORT, ssl=context(cmd[1]),
                                          ping_interval=None, close_timeout=WAIT, open_timeout=WAIT,
                                          max_size=1 << 20)
            say("open: ok")
        elif cmd[0] == "echo":
            for _ in range(int(cmd[1])):
                n += 1
                msg = os.urandom(MSG)
                await ws.send(msg)
                back = await asyncio.wait_for(ws.recv(), WAIT)
                if back != msg:
                    say("fail: echo %d: %s of %d bytes came back" % (n, type(back).__name__, len(back)))
                    sys.exit(1)
            say("echo: done n=%s" % cmd[1])
        elif cmd[0] == "close":
            await asyncio.wait_for(ws.close(1000), WAIT)
            say("close: done code=%s" % ws.close_code)
            ws = None
        elif cmd[0] == "quit":
            break
        else:
            say("fail: unknown command %s" % cmd[0])
            sys.exit(1)


try:
    asyncio.run(asyncio.wait_for(main(), 300))
except SystemExit:
    raise
except BaseException as e:  # a refused handshake, a timeout, a dropped connection
    say("fail: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
