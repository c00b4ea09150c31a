#!/usr/bin/python3
"""tls_peer.py MODE PORT CERT KEY: a TLS server on 127.0.0.1:PORT that does one
wrong thing, for the client connection tests. Prints "ready" once it listens.
  truncate  reads a request, answers "Content-Length: 100000" with 1000 bytes
            of body, then ends TCP without a TLS close_notify
  silent    accepts TCP connections and never says a word (no ServerHello)
Runs until killed; connections are served one at a time."""
import socket
import ssl
import sys
import time

mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)
print("ready", flush=True)
held = []
while True:
    c, _ = srv.accept()
    if mode == "silent":
        held.append(c)  # kept open, never answered
        continue
    try:
        c.settimeout(10)
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(65536)
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        time.sleep(0.2)
        raw = socket.socket(fileno=t.detach())  # the TCP socket without its TLS layer
        raw.shutdown(socket.SHUT_RDWR)           # FIN, and no close_notify before it
        raw.close()
    except (OSError, ssl.SSLError) as e:
        print("peer error: %s" % e, flush=True)
        c.close()
