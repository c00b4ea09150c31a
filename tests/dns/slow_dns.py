#!/usr/bin/env python3
"""A slow name server for tests/dns_integration.sh: answers every query on
UDP ADDR:53 only after DELAY seconds, meanwhile taking more queries.

    slow_dns.py ADDR DELAY NAME=IPV4 [NAME=IPV4 ...]

A query for a NAME: type A gets its address, any other type (AAAA, which
glibc asks at the same time) an empty NOERROR answer; other names get
NXDOMAIN. Prints "ready" once it listens and one line per answer sent
("A slow.test 1 -> 198.18.0.2 after 3.00 s"). Standard library only."""
import heapq
import select
import socket
import struct
import sys
import time


def parse_question(msg):
    """(id, name, qtype, end of the question) of a query with one question."""
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qdcount != 1:
        raise ValueError("not a query with one question")
    labels, off = [], 12
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    qtype, _qclass = struct.unpack("!HH", msg[off:off + 4])
    return qid, ".".join(labels).lower().rstrip("."), qtype, off + 4


def answer(msg, table):
    qid, name, qtype, end = parse_question(msg)
    question = msg[12:end]
    rd = struct.unpack("!H", msg[2:4])[0] & 0x0100
    if name not in table:
        return struct.pack("!HHHHHH", qid, 0x8483 | rd, 1, 0, 0, 0) + question, name, qtype, "NXDOMAIN"
    if qtype != 1:
        return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 0, 0, 0) + question, name, qtype, "no data"
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + table[name]
    return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 1, 0, 0) + question + rr, name, qtype, socket.inet_ntoa(table[name])


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    addr, delay, table = sys.argv[1], float(sys.argv[2]), {}
    for spec in sys.argv[3:]:
        name, ip = spec.split("=", 1)
        table[name.lower().rstrip(".")] = socket.inet_aton(ip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    print("ready", flush=True)
    due = []  # (time to send, arrival, sequence, reply, peer, note)
    seq = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([s], [], [], timeout)
        if readable:
            msg, peer = s.recvfrom(4096)
            try:
                reply, name, qtype, what = answer(msg, table)
            except (ValueError, IndexError, struct.error):
                continue
            now = time.monotonic()
            heapq.heappush(due, (now + delay, now, seq, reply, peer, "%s %d -> %s" % (name, qtype, what)))
            seq += 1
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, arrived, _, reply, peer, note = heapq.heappop(due)
            s.sendto(reply, peer)
            print("A %s after %.2f s" % (note, now - arrived), flush=True)


if __name__ == "__main__":
    main()
