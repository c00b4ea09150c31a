#!/usr/bin/python3
"""syn_burst.py ADDR PORT N HOLD: opens N TCP connections to ADDR:PORT at
once (non-blocking connects, so they do not wait for each other), holds
them HOLD seconds, then closes them all. Against an lwIP built with fewer
TCP pcbs than N this runs the pcb pool dry whatever the machine's speed:
a check that lwIP "really ran short" must not depend on how many clients
happened to overlap. Prints "# syn burst: ..." with how many connected.
Standard library only; bounded by HOLD + 5 seconds."""
import select
import socket
import sys
import time

ADDR, PORT, N, HOLD = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for _ in range(N):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((ADDR, PORT))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        continue
    socks.append(s)
end = time.time() + HOLD
connected = set()
while time.time() < end and socks:
    _, w, _ = select.select([], [s for s in socks if s not in connected], [], max(0.0, min(0.2, end - time.time())))
    for s in w:
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            connected.add(s)
    if len(connected) == len(socks):
        time.sleep(max(0.0, end - time.time()))
        break
print("# syn burst: %d of %d connections established, held %.1f s" % (len(connected), N, HOLD))
for s in socks:
    s.close()
