#!/usr/bin/env python3
"""Test mail servers for tests/smtp_quick.sh (run with /usr/bin/python3).

  smtp_server.py MODE PORT DIR CERT KEY
    aiosmtpd modes:  starttls | implicit | nostarttls   (AUTH PLAIN/LOGIN u/p)
    raw modes:       inject | stall | authfail | login | noehlo | dropdata | size
      (all but noehlo go through STARTTLS, with plaintext injected after its
      220; login offers only AUTH LOGIN; noehlo refuses EHLO (plain only);
      dropdata closes in the middle of DATA; size advertises SIZE 8000)

Each received message is written to DIR/N.eml with DIR/N.env (mail from,
recipients, tls, connection number); DIR/log gets one line per event.
"""
import os, socket, ssl, sys, threading, time
MODE, PORT, DIR, CERT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
os.makedirs(DIR, exist_ok=True)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(CERT, KEY)
lock = threading.Lock()
count = [0, 0]  # messages, connections


def log(line):
    with lock, open(os.path.join(DIR, "log"), "a") as f:
        f.write(line + "\n")


def save(data, mail_from, rcpts, tls, conn):
    with lock:
        count[0] += 1
        n = count[0]
    open(os.path.join(DIR, "%d.eml" % n), "wb").write(data)
    open(os.path.join(DIR, "%d.env" % n), "w").write("from=%s\nrcpt=%s\ntls=%s\nconn=%s\n" % (mail_from, ",".join(rcpts), tls, conn))


if MODE in ("starttls", "implicit", "nostarttls"):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword, SMTP

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            with lock:
                count[1] += 1
                session.conn_no = count[1]
            log("EHLO %s tls=%s conn=%d" % (hostname, session.ssl is not None, session.conn_no))
            session.host_name = hostname
            return responses

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("refuse"):
                return "550 5.1.1 <%s>: no such user" % address
            if address.startswith("busy"):
                return "452 4.2.2 <%s>: mailbox busy, try later" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            save(envelope.original_content, envelope.mail_from, envelope.rcpt_tos,
                 session.ssl is not None or MODE == "implicit", getattr(session, "conn_no", 0))
            return "250 OK queued"

    def auth(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"u" and auth_data.password == b"p"
        log("AUTH %s %s" % (mechanism, "ok" if ok else "bad"))
        return AuthResult(success=ok, handled=False)

    kw = dict(hostname="127.0.0.1", port=PORT, authenticator=auth, auth_require_tls=MODE != "implicit")
    if MODE == "implicit":
        c = Controller(Handler(), ssl_context=ctx, **kw)
    elif MODE == "starttls":
        c = Controller(Handler(), tls_context=ctx, require_starttls=True, **kw)
    else:
        c = Controller(Handler(), **kw)
    c.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)

# raw servers: exact bytes
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", PORT))
ls.listen(8)
print("ready", flush=True)


def serve(c):
    f = c.makefile("rb")
    if MODE == "stall":
        log("stall: connected, saying nothing")
        time.sleep(30)
        return
    c.sendall(b"220 raw test server\r\n")
    if MODE == "noehlo":
        t, tf = c, f
    else:
        f.readline()
        c.sendall(b"250-raw\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
        line = f.readline()
        log("C: %r" % line.strip())
        # STARTTLS, answered together with injected plaintext a correct client drops
        c.sendall(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        t = ctx.wrap_socket(c, server_side=True)
        tf = t.makefile("rb")
    auth = {"login": b"250-AUTH LOGIN\r\n", "size": b"250-SIZE 8000\r\n"}.get(MODE, b"250-AUTH PLAIN LOGIN XOAUTH2\r\n")
    data, in_data, rcpts, mail_from = b"", False, [], ""
    while True:
        line = tf.readline()
        if not line:
            break
        if in_data:
            if MODE == "dropdata" and len(data) > 2000:
                log("dropping the connection in DATA")
                t.close()
                return
            if line == b".\r\n":
                in_data = False
                save(data, mail_from, rcpts, True, 1)
                t.sendall(b"250 queued\r\n")
            else:
                data += line
            continue
        log("C: %r" % line.strip())
        cmd = line[:4].upper()
        if cmd == b"EHLO":
            t.sendall(b"502 5.5.1 EHLO not here\r\n" if MODE == "noehlo" else b"250-raw\r\n" + auth + b"250 PIPELINING\r\n")
        elif cmd == b"HELO":
            t.sendall(b"250 raw\r\n")
        elif cmd == b"AUTH" and MODE == "login":
            t.sendall(b"334 VXNlcm5hbWU6\r\n")
            log("C: %r" % tf.readline().strip())
            t.sendall(b"334 UGFzc3dvcmQ6\r\n")
            log("C: %r" % tf.readline().strip())
            t.sendall(b"235 ok\r\n")
        elif cmd == b"AUTH":
            t.sendall(b"535 5.7.8 bad credentials\r\n" if MODE == "authfail" else b"235 ok\r\n")
        elif cmd == b"MAIL":
            mail_from = line.decode().split("<")[1].split(">")[0]
            t.sendall(b"250 ok\r\n")
        elif cmd == b"RCPT":
            rcpts.append(line.decode().split("<")[1].split(">")[0])
            t.sendall(b"250 ok\r\n")
        elif cmd == b"DATA":
            in_data, data = True, b""
            t.sendall(b"354 go\r\n")
        elif cmd == b"QUIT":
            t.sendall(b"221 bye\r\n")
            break
        else:
            t.sendall(b"250 ok\r\n")
    t.close()


while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
