#!/usr/bin/python3
"""ping.py ADDR [TRIES]: one ICMP echo answered by ADDR (IPv4), within 2 s per try.

Exit 0 and "# echo reply from ADDR in N ms" on stdout when a reply with our
identifier and sequence number comes back, else exit 1 with the reason.
A raw socket: run as root. (There is no ping in every image this runs in.)
"""
import os
import socket
import struct
import sys
import time

addr = sys.argv[1]
tries = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


ident = os.getpid() & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(1, tries + 1):
    payload = b"securenet lwip test %d" % seq
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, checksum(head + payload), ident, seq) + payload
    t0 = time.time()
    s.sendto(pkt, (addr, 0))
    while time.time() - t0 < 2:
        s.settimeout(max(0.01, 2 - (time.time() - t0)))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (data[0] & 0x0F) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if src[0] == addr and typ == 0 and rid == ident and rseq == seq and data[ihl + 8:] == payload:
            print("# echo reply from %s in %.1f ms" % (addr, (time.time() - t0) * 1000))
            sys.exit(0)
print("no echo reply from %s in %d tries of 2 s" % (addr, tries))
sys.exit(1)
