#!/usr/bin/env python3
"""A minimal DNS responder for the lwIP tests: answers A queries for the names
given on the command line and NXDOMAIN for every other name, on UDP ADDR:53.

    dns_server.py ADDR NAME=IPV4 [NAME=IPV4 ...]

Prints "ready" once it listens and one line per query ("Q name type -> answer").
Only what lwIP's DNS client sends is understood: one question, no EDNS."""
import socket
import struct
import sys


def parse_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xC0:
            raise ValueError("compression in a query")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def main():
    addr, table = sys.argv[1], {}
    for spec in sys.argv[2:]:
        name, ip = spec.split("=", 1)
        table[name.lower().rstrip(".")] = socket.inet_aton(ip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    print("ready", flush=True)
    while True:
        msg, peer = s.recvfrom(512)
        try:
            qid, _flags, qd = struct.unpack("!HHH", msg[:6])
            name, off = parse_name(msg, 12)
            qtype, _qclass = struct.unpack("!HH", msg[off:off + 4])
        except (ValueError, IndexError, struct.error):
            continue
        question = msg[12:off + 4]
        ip = table.get(name.lower()) if qd == 1 and qtype == 1 else None
        if ip is not None:
            head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + ip
        else:
            head = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0)
            answer = b""
        s.sendto(head + question + answer, peer)
        print("Q %s %d -> %s" % (name, qtype, socket.inet_ntoa(ip) if ip else "NXDOMAIN"), flush=True)


if __name__ == "__main__":
    main()
