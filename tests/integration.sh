#!/usr/bin/env bash
# Integration tests: sn_demo on loopback (127.0.0.1 and ::1), driven by real
# clients: curl, openssl s_client, gnutls-cli and raw bytes from Python's ssl
# and socket modules (tests/integration/raw.py). One line per check,
# "ok - ..." or "not ok - ...: why", then "N passed, N failed"; exit 1 if any
# failed. Lines starting with "#" are notes (server log tails, observations).
#
# Environment:
#   SN_DEMO       the server binary (default build/sn_demo)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  first of 14 loopback ports used (default: a free block 20000 + k * 16, tests/free-ports)
#   SN_TMP        scratch directory (default build/it-tmp.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the server command, e.g. "valgrind -q --error-exitcode=9"
#
#   tests/integration.sh --only GROUP --port P [--http-port H] [--plain]
#     runs one group of checks against a server already listening on port P
#     (HTTPS; H is its plain HTTP port for the groups plain and redirect)
#     (used to show each negative check failing against a peer that does the
#     wrong thing, e.g. an `openssl s_server` stand-in). GROUP is one of
#       verify curl resume tls-versions suites-ecdsa suites-rsa mtls gnutls
#       plain redirect ipv6 basic errors timeout lru idle
#     (basic errors timeout lru idle are raw.py groups; add --plain for TCP).
#     --host ADDR: clients connect to ADDR (IPv4) instead of 127.0.0.1/localhost and
#     still verify the certificate name localhost (curl --connect-to, s_client
#     -connect ADDR:P -servername localhost, gnutls-cli --sni-hostname/--verify-hostname,
#     raw.py SN_HOST); for a server on another stack, e.g. tests/lwip_integration.sh.
#   source tests/integration.sh --lib
#     defines the functions (e.g. server_refused_version OUTPUT) and returns
#     (after a cd to the repository's top and set -u).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
# Each run uses 13 ports from BASE. Not 20000 + $$ % 20000: runs started together have
# neighbouring PIDs, so their ranges would overlap; 16 ports per PID keeps them apart.
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 20000 790 16)} # below the ephemeral range (32768-)
TMP=${SN_TMP:-build/it-tmp.$$}
PY=/usr/bin/python3
RAW=tests/integration/raw.py
CA="--cacert $CERTS/ca.pem"
# Where clients connect (--host changes these): the address for s_client, plain
# http:// and raw.py, extra curl options, and gnutls-cli's host arguments.
ADDR=127.0.0.1 CTO=() GN=(localhost)
pass=0 fail=0 pids="" LOG=""

# ---- reporting --------------------------------------------------------------------------
ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 8 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-300)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]
is() { [ "$1" = "$2" ] && echo 0 || echo 1; }                           # for check: is GOT WANT

# Every client command is bounded.
C() { timeout 20 curl -q -sS --max-time 15 "${CTO[@]}" "$@"; }
# s_client HOST:PORT [options...]: stdin must be given by the caller
SC() { local hp=$1; shift; timeout 10 openssl s_client -connect "$hp" -servername localhost -verify_hostname localhost "$@" 2>&1; }

# ---- assertions on s_client -msg output (usable on their own: source --lib) ----------------
# The client really offered the handshake (its ClientHello went out), so a
# failure cannot be the client refusing to start (e.g. "no protocols available").
client_hello_sent() { grep -qE '^>>> .*Handshake .*ClientHello' <<<"$1"; }
# Nothing was negotiated: no "Cipher is <a real suite>" line.
no_suite_negotiated() { ! grep -qE 'Cipher is [A-Z0-9]' <<<"$1"; }
# The server said no: a fatal alert arrived FROM the peer ("<<<" is inbound).
peer_fatal_alert() { grep -qE '^<<< .*Alert .*fatal' <<<"$1"; }
# OUTPUT of `s_client -msg -tls1_1 ...`: the client offered the old version and
# the server refused it (its protocol_version alert, or a reply in another
# version, which OpenSSL calls "wrong version number"/"unsupported protocol").
server_refused_version() {
  local out=$1 v=$2 # v: "1.0" or "1.1"
  grep -qE "^>>> TLS $v, Handshake .*ClientHello" <<<"$out" || return 1
  ! grep -q "no protocols available" <<<"$out" || return 1
  no_suite_negotiated "$out" || return 1
  peer_fatal_alert "$out" || grep -qE "wrong version number|unsupported protocol" <<<"$out"
}
# OUTPUT of `s_client -msg -cipher X`: offered, and refused by the server's alert.
server_refused_handshake() { client_hello_sent "$1" && no_suite_negotiated "$1" && peer_fatal_alert "$1"; }

# ---- servers ----------------------------------------------------------------------------
# start NAME HTTPS_PORT [sn_demo flags...]: starts the server, waits up to 10 s for "listening"
start() {
  local name=$1 port=$2 i; shift 2
  LOG="$TMP/$name.log"
  ${SN_WRAP:-} "$DEMO" --https-port "$port" --cert "$CERTS/server.pem" --key "$CERTS/server.key" "$@" >"$LOG" 2>&1 &
  SPID=$!
  pids="$pids $SPID"
  for i in $(seq 1 100); do
    grep -q listening "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: server starts and prints 'listening' within 10 s"
  kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; reaped
  return 1
}
# the server SPID has exited and been waited for: the exit trap must not signal its PID again
reaped() { pids=$(for p in $pids; do [ "$p" != "$SPID" ] && echo "$p"; done); }
# alive NAME URL [curl options]: the server still answers GET /api/status after its checks
alive() {
  local name=$1 url=$2 out; shift 2
  out=$(C $CA "$@" "$url/api/status" 2>&1)
  grep -q '"uptime_ms"' <<<"$out"
  check $? "$name: still answers GET /api/status after the checks above" "$out"
}
# stop NAME: SIGTERM; exit 0 within 5 s (15 s under SN_WRAP); no sanitizer or leak report
stop() {
  local name=$1 rc i n=50
  [ -n "${SN_WRAP:-}" ] && n=150
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $n); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null; reaped
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "still running after $((n / 10)) s"
    return
  fi
  wait "$SPID"; rc=$?; reaped
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]" "$LOG"; then
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "status $rc"
    grep -m5 -E "ERROR:|runtime error:|SUMMARY|definitely lost" "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)"
  fi
}

# ---- check groups; each takes the port(s) of a server that is already listening ----------
group_verify() {
  local U="https://localhost:$1" out rc
  out=$(C $CA -w '\n%{http_code}' "$U/" 2>&1)
  grep -q 'id="uptime"' <<<"$out" && [ "$(tail -n1 <<<"$out")" = 200 ]
  check $? "curl: GET / over HTTPS verifies against the dev CA (200, dashboard with id=\"uptime\")" "$(grep -E '^curl:' <<<"$out") status $(tail -n1 <<<"$out")"
  # Same request with the system's CAs only: the dev certificate must not verify.
  out=$(C -o /dev/null "$U/" 2>&1); rc=$?
  check "$(is $rc 60)" "curl: without --cacert (system CAs) verification fails with exit 60" "exit $rc: $out"
}

group_curl() {
  local P=$1 U="https://localhost:$1" out hdr etag id
  out=$(C $CA -v "$U/api/hello/a" "$U/api/hello/b" 2>&1)
  grep -qE "Re-using existing connection|Reusing existing" <<<"$out" && [ "$(grep -c 'Server hello' <<<"$out")" -eq 1 ] &&
    grep -q "hello, a" <<<"$out" && grep -q "hello, b" <<<"$out"
  check $? "curl: two URLs in one call reuse one keep-alive connection (exactly one TLS handshake)" \
    "$(grep -cE 'Server hello' <<<"$out") handshakes; $(grep -E 'Re-using|Reusing|Closing|Connected to' <<<"$out" | head -n 3)"

  head -c 1048576 /dev/urandom >"$TMP/1m.bin"
  C $CA -D "$TMP/h" --data-binary @"$TMP/1m.bin" -H 'Content-Type: application/octet-stream' "$U/api/echo" -o "$TMP/1m.out"
  [ "$(sha256sum <"$TMP/1m.bin")" = "$(sha256sum <"$TMP/1m.out" 2>/dev/null)" ] && grep -qi '^Content-Type: application/octet-stream' "$TMP/h"
  check $? "curl: a 1 MiB random POST to /api/echo comes back with the same sha256 and Content-Type" \
    "$(head -n1 "$TMP/h" 2>/dev/null) $(wc -c <"$TMP/1m.out" 2>/dev/null) bytes"

  head -c 300000 /dev/urandom >"$TMP/300k.bin"
  C $CA -D "$TMP/h" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-test' --data-binary @"$TMP/300k.bin" \
    "$U/api/echo" -o "$TMP/300k.out"
  cmp -s "$TMP/300k.bin" "$TMP/300k.out" && grep -qi '^Content-Type: application/x-test' "$TMP/h"
  check $? "curl: a 300 KB chunked upload (Transfer-Encoding: chunked) is echoed byte for byte" "$(head -n1 "$TMP/h" 2>/dev/null)"

  head -c 200000 /dev/urandom >"$TMP/200k.bin"
  out=$(C $CA -v -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/200k.bin" \
    "$U/api/echo" -o "$TMP/200k.out" 2>&1)
  grep -q "^< HTTP/1.1 100 Continue" <<<"$out" && cmp -s "$TMP/200k.bin" "$TMP/200k.out"
  check $? "curl: Expect: 100-continue on a 200 KB body gets 'HTTP/1.1 100 Continue', then the exact echo" \
    "$(grep -E '^< HTTP' <<<"$out" | tr '\r\n' '  ')"

  out=$(C $CA "$U/api/hello/w%C3%B6rld")
  check "$(is "$out" "hello, wörld")" "curl: /api/hello/w%C3%B6rld percent-decodes the name (hello, wörld)" "$out"
  out=$(C $CA "$U/files/a/b/c.txt")
  check "$(is "$out" "a/b/c.txt")" "curl: /files/a/b/c.txt answers the wildcard remainder a/b/c.txt" "$out"

  C $CA -D "$TMP/h" "$U/stream?n=1000" -o "$TMP/s.out"
  # 1000 lines "line <i>\n", consecutive, starting at 0 or 1
  awk 'NR==1 { s = $2 } $0 != "line " (s + NR - 1) { bad = 1 } END { exit !(NR == 1000 && !bad && (s == "0" || s == "1")) }' "$TMP/s.out" &&
    [ "$(tail -c1 "$TMP/s.out" | od -An -c | tr -d ' ')" = '\n' ] && grep -qi '^Transfer-Encoding: chunked' "$TMP/h"
  check $? "curl: /stream?n=1000 is a chunked response of 1000 consecutive 'line <i>' lines" \
    "$(wc -l <"$TMP/s.out") lines, first '$(head -n1 "$TMP/s.out")', last '$(tail -n1 "$TMP/s.out")', $(grep -i '^Transfer-Encoding' "$TMP/h" | tr -d '\r')"

  out=$(C $CA "$U/api/status")
  $PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert {"uptime_ms", "connections", "requests", "tls", "client"} <= set(d), "keys"
assert isinstance(d["uptime_ms"], int) and isinstance(d["connections"], int) and isinstance(d["requests"], int), "types"
assert d["tls"]["version"] in ("TLSv1.2", "TLSv1.3"), "tls.version"
assert isinstance(d["tls"]["suite"], str) and d["tls"]["suite"], "tls.suite"
assert d["client"] is None, "client"' "$out" 2>"$TMP/py.err"
  check $? "curl: /api/status is JSON with uptime_ms, connections, requests, tls {version 1.2/1.3, suite}, client null" \
    "$(tail -n1 "$TMP/py.err") in $out"

  C $CA -I -o /dev/null -D "$TMP/h" "$U/api/status"
  printf 'HEAD /api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 15 $PY "$RAW" tls "$P" "$CERTS/ca.pem" send >"$TMP/head.out" 2>/dev/null
  out=$($PY -c '
import sys
d = open(sys.argv[1], "rb").read()
head, sep, body = d.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
cl = [l for l in lines if l.lower().startswith("content-length:")]
print("%s | %s | %d body bytes" % (lines[0], cl[0] if cl else "no Content-Length", len(body)))
ok = sep and lines[0].startswith("HTTP/1.1 200") and cl and int(cl[0].split(":")[1]) > 0 and not body
sys.exit(0 if ok else 1)' "$TMP/head.out")
  [ $? = 0 ] && grep -qi '^Content-Length: [1-9]' "$TMP/h"
  check $? "HEAD /api/status: 200 with a Content-Length and no body bytes on the wire" "$out"

  out=$(C $CA -o /dev/null -w '%{http_code}' "$U/nope")
  check "$(is "$out" 404)" "curl: an unknown path (/nope) is 404" "$out"
  C $CA -X DELETE -D "$TMP/h" -o /dev/null "$U/api/status"
  grep -q '^HTTP/1.1 405' "$TMP/h" && grep -qiE '^Allow:.*\bGET\b' "$TMP/h"
  check $? "curl: DELETE /api/status is 405 with an Allow header listing GET" "$(head -n1 "$TMP/h"; grep -i '^Allow' "$TMP/h")"

  # RFC 9110 6.6.1: Date (IMF-fixdate, the server's clock) on a 200, a 404 and a 400
  local code st why=""
  for code in 200:/api/status 404:/nope 400:/api/status; do
    st=${code%%:*}
    if [ "$st" = 400 ]; then C $CA -i -H 'Host: user@localhost' "$U${code#*:}" >"$TMP/d" 2>&1; else C $CA -i "$U${code#*:}" >"$TMP/d" 2>&1; fi
    why+="$($PY - "$TMP/d" "$st" <<'PYEOF'
import email.utils, re, sys, time
d = open(sys.argv[1], "rb").read().decode("latin-1")
head = d.split("\r\n\r\n", 1)[0].split("\r\n")
dates = [l[5:].strip() for l in head if l.lower().startswith("date:")]
ok = head[0].startswith("HTTP/1.1 " + sys.argv[2]) and len(dates) == 1 and \
    re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", dates[0]) \
    and abs(email.utils.parsedate_to_datetime(dates[0]).timestamp() - time.time()) < 30
print("" if ok else "%s: %r; " % (head[0], dates))
PYEOF
)"
  done
  check "$(is "$why" "")" "curl -i: a 200, a 404 and a 400 carry one Date in IMF-fixdate within 30 s of the clock (RFC 9110 6.6.1)" "$why"
  # RFC 9110 9.3.7: OPTIONS
  C $CA -i -X OPTIONS "$U/api/status" >"$TMP/o" 2>&1
  grep -q '^HTTP/1.1 200' "$TMP/o" && grep -q '^Allow: GET, HEAD, OPTIONS' "$TMP/o" && grep -qi '^Content-Length: 0' "$TMP/o"
  check $? "curl: OPTIONS /api/status is 200 with Allow: GET, HEAD, OPTIONS and Content-Length: 0" "$(tr -d '\r' <"$TMP/o" | head -n 12 | tr '\n' ' ')"
  C $CA -i -X OPTIONS --request-target '*' "$U/" >"$TMP/o" 2>&1
  grep -q '^HTTP/1.1 200' "$TMP/o" && grep -q '^Allow: GET, HEAD, POST, PUT, OPTIONS' "$TMP/o" && grep -qi '^Content-Length: 0' "$TMP/o"
  check $? "curl: OPTIONS * is 200 with Allow: GET, HEAD, POST, PUT, OPTIONS (the demo's methods) and Content-Length: 0" "$(tr -d '\r' <"$TMP/o" | head -n 12 | tr '\n' ' ')"
  out=$(C $CA -X OPTIONS -o /dev/null -w '%{http_code}' "$U/nope")
  check "$(is "$out" 404)" "curl: OPTIONS on an unknown path (/nope) is 404" "$out"

  C $CA -D "$TMP/h" "$U/" -o /dev/null && grep -qi '^Content-Type: text/html; charset=utf-8' "$TMP/h" &&
    C $CA -D "$TMP/h2" "$U/style.css" -o /dev/null && grep -qi '^Content-Type: text/css' "$TMP/h2"
  check $? "curl: static files have Content-Type by extension (/ text/html; charset=utf-8, /style.css text/css)" \
    "$(grep -hi '^Content-Type' "$TMP/h" "$TMP/h2" | tr -d '\r' | tr '\n' ' ')"
  C $CA -D "$TMP/h" "$U/app.js" -o "$TMP/app.js"
  grep -q '^HTTP/1.1 200' "$TMP/h" && grep -qi '^Content-Type:.*javascript' "$TMP/h" && [ -s "$TMP/app.js" ] &&
    ! grep -qi '^Content-Encoding' "$TMP/h" && { [ ! -f examples/posix/static/app.js ] || cmp -s "$TMP/app.js" examples/posix/static/app.js; }
  check $? "curl: /app.js without Accept-Encoding is the identity file with a JavaScript Content-Type" \
    "$(head -n1 "$TMP/h"; grep -i '^Content-Type' "$TMP/h")"
  C $CA --compressed -D "$TMP/h" "$U/app.js" -o "$TMP/app.gz.js"
  grep -qi '^Content-Encoding: gzip' "$TMP/h" && grep -qi '^Vary:.*Accept-Encoding' "$TMP/h" && cmp -s "$TMP/app.gz.js" "$TMP/app.js"
  check $? "curl: with Accept-Encoding: gzip, /app.js has Content-Encoding: gzip, Vary, and decompresses to the identity body" \
    "$(grep -iE '^(Content-Encoding|Vary)' "$TMP/h" | tr -d '\r' | tr '\n' ' ')"
  etag=$(C $CA -D - -o /dev/null "$U/app.js" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  out=$(C $CA -H "If-None-Match: $etag" -o "$TMP/304" -w '%{http_code}' "$U/app.js")
  [ -n "$etag" ] && [ "$out" = 304 ] && [ ! -s "$TMP/304" ]
  check $? "curl: /app.js has an ETag; If-None-Match with it gives 304 and an empty body" "etag=$etag status=$out"
  out=$(C $CA -H 'If-None-Match: "not-the-etag"' -o /dev/null -w '%{http_code}' "$U/app.js")
  check "$(is "$out" 200)" "curl: If-None-Match with another ETag gives the full 200" "$out"
  group_etag_variants "$1"
}
# RFC 9110 8.8.3: the gzip and the identity variant of a file have different strong
# ETags, and If-None-Match gives 304 only for the variant that would be served.
group_etag_variants() {
  local U="https://localhost:$1" plain gz a b c d
  plain=$(C $CA -D - -o /dev/null "$U/app.js" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  gz=$(C $CA -H 'Accept-Encoding: gzip' -D - -o /dev/null "$U/app.js" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  [ -n "$plain" ] && [ -n "$gz" ] && [ "$plain" != "$gz" ] && [ "${gz#\"}" != "$gz" ] && [ "${gz%\"}" != "$gz" ]
  check $? "curl: /app.js's gzip variant has a strong ETag of its own, not the identity variant's" "identity $plain, gzip $gz"
  a=$(C $CA -H 'Accept-Encoding: gzip' -H "If-None-Match: $gz" -o /dev/null -w '%{http_code}' "$U/app.js")
  b=$(C $CA -H 'Accept-Encoding: gzip' -H "If-None-Match: $plain" -o /dev/null -w '%{http_code}' "$U/app.js")
  c=$(C $CA -H "If-None-Match: $plain" -o /dev/null -w '%{http_code}' "$U/app.js")
  d=$(C $CA -H "If-None-Match: $gz" -o /dev/null -w '%{http_code}' "$U/app.js")
  [ "$a $b $c $d" = "304 200 304 200" ]
  check $? "curl: If-None-Match gives 304 only with the ETag of the variant served (gzip: its own 304, the identity's 200; identity: 304, the gzip one's 200)" \
    "got $a $b $c $d"
  a=$(C $CA -H 'Accept-Encoding: gzip' -H "If-None-Match: $gz" -D - -o /dev/null "$U/app.js" | tr -d '\r')
  grep -qx "ETag: $gz" <<<"$a" && grep -qi '^Vary: Accept-Encoding' <<<"$a"
  check $? "curl: the gzip variant's 304 carries its ETag and Vary: Accept-Encoding (RFC 9110 15.4.5)" "$(tr '\n' ' ' <<<"$a")"
}

group_resume() {
  local P=$1 out
  out=$(SC $ADDR:$P -CAfile "$CERTS/ca.pem" -tls1_2 -sess_out "$TMP/s12" </dev/null)
  grep -q "Verify return code: 0 (ok)" <<<"$out" && grep -q "^New, TLSv1.2" <<<"$out"
  check $? "s_client: a TLS 1.2 handshake verifies against the dev CA (-servername localhost)" "$(grep -E '^(New|Reused)|Verify return' <<<"$out")"
  out=$(SC $ADDR:$P -CAfile "$CERTS/ca.pem" -tls1_2 -sess_in "$TMP/s12" </dev/null)
  grep -q "^Reused, TLSv1.2" <<<"$out"
  check $? "s_client: the TLS 1.2 session is resumed with -sess_in (Reused, TLSv1.2)" "$(grep -E '^(New|Reused)' <<<"$out")"
  SC $ADDR:$P -CAfile "$CERTS/ca.pem" -tls1_2 -no_ticket -sess_out "$TMP/sid" </dev/null >/dev/null
  out=$(SC $ADDR:$P -CAfile "$CERTS/ca.pem" -tls1_2 -no_ticket -sess_in "$TMP/sid" </dev/null)
  grep -q "^Reused, TLSv1.2" <<<"$out"
  check $? "s_client: without tickets (-no_ticket) a TLS 1.2 session is resumed from the server's cache" "$(grep -E '^(New|Reused)' <<<"$out")"
  # TLS 1.3 tickets come after the handshake: keep stdin open a moment to read them.
  out=$( (sleep 1) | SC $ADDR:$P -CAfile "$CERTS/ca.pem" -sess_out "$TMP/s13")
  if grep -q "^New, TLSv1.3" <<<"$out"; then
    out=$( (sleep 1) | SC $ADDR:$P -CAfile "$CERTS/ca.pem" -sess_in "$TMP/s13")
    grep -q "^Reused, TLSv1.3" <<<"$out"
    check $? "s_client: a TLS 1.3 session is resumed from its ticket (Reused, TLSv1.3)" "$(grep -E '^(New|Reused)' <<<"$out")"
  elif grep -q "^New, TLSv1.2" <<<"$out"; then
    ok "TLS 1.3 not offered by this mbedTLS build (skip)"
  else
    nok "s_client: a default handshake (TLS 1.3 offered) succeeds" "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"
  fi
}

group_tls_versions() {
  local P=$1 out v n
  for v in 1.0 1.1; do
    n=tls1; [ $v = 1.1 ] && n=tls1_1
    # The client offers only the old version and, at SECLEVEL=0, is willing to use it.
    out=$(SC $ADDR:$P -msg -CAfile "$CERTS/ca.pem" -$n -cipher 'DEFAULT:@SECLEVEL=0' </dev/null)
    server_refused_version "$out" $v
    check $? "s_client: TLS $v is refused by the server (client offered it; the server's alert or version)" \
      "$(grep -E 'ClientHello|<<< .*(Alert|ServerHello)|Cipher is|error' <<<"$out" | head -n 4)"
  done
}

# suites_case PORT CIPHER accept|refuse WHAT
suites_case() {
  local out
  out=$(SC $ADDR:$1 -msg -CAfile "$CERTS/ca.pem" -tls1_2 -cipher "$2" </dev/null)
  if [ "$3" = accept ]; then
    grep -qE "^New, TLSv1.2, Cipher is ${2%%:*}\$" <<<"$out" && grep -q "Verify return code: 0 (ok)" <<<"$out"
  else
    server_refused_handshake "$out"
  fi
  check $? "$4" "$(grep -E 'ClientHello|<<< .*(Alert|ServerHello)|Cipher is|error' <<<"$out" | head -n 4)"
}
group_suites_ecdsa() { # ECDSA certificate (the default)
  suites_case "$1" ECDHE-ECDSA-AES128-GCM-SHA256 accept "s_client: ECDHE-ECDSA-AES128-GCM-SHA256 (forward secret, AEAD) is accepted"
  suites_case "$1" 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0' refuse \
    "s_client: ECDHE-ECDSA CBC suites (forward secret, not AEAD) are refused by the server"
}
group_suites_rsa() { # RSA certificate, so that RSA key exchange would be possible at all
  suites_case "$1" 'AES128-SHA256:@SECLEVEL=0' refuse "s_client: AES128-SHA256 (RSA key exchange, CBC) is refused by the server"
  suites_case "$1" 'AES128-GCM-SHA256:@SECLEVEL=0' refuse \
    "s_client: AES128-GCM-SHA256 (AEAD but RSA key exchange, no forward secrecy) is refused by the server"
  suites_case "$1" 'ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0' refuse \
    "s_client: ECDHE-RSA CBC suites (forward secret, not AEAD) are refused by the server"
  suites_case "$1" ECDHE-RSA-AES128-GCM-SHA256 accept "s_client: ECDHE-RSA-AES128-GCM-SHA256 is accepted with an RSA certificate and its chain"
}

# mtls_refused WHAT CURL_OUTPUT EXIT: the TLS layer failed after TCP connected (35 handshake,
# 55/56 send/receive: TLS 1.3 learns of the refusal after its handshake), with no HTTP answer.
mtls_refused() {
  local what=$1 out=$2 rc=$3
  if { [ "$rc" = 35 ] || [ "$rc" = 55 ] || [ "$rc" = 56 ]; } && ! grep -q uptime_ms <<<"$out"; then
    ok "$what"
    echo "#   seen by curl: exit $rc: $(tail -n1 <<<"$out")"
  else
    nok "$what" "curl exit $rc: $out"
  fi
}
group_mtls() {
  local P=$1 U="https://localhost:$1" out rc
  out=$(C $CA --cert "$CERTS/client.pem" --key "$CERTS/client.key" "$U/api/status" 2>&1)
  $PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert "CN=sn-dev-client" in d["client"]' "$out" 2>/dev/null
  check $? "mTLS: curl with the dev client certificate gets /api/status whose client contains CN=sn-dev-client" "$out"
  out=$(C $CA "$U/api/status" 2>&1); rc=$?
  mtls_refused "mTLS: curl without a client certificate is refused in the TLS layer" "$out" $rc
  if [ ! -f "$TMP/other.pem" ]; then # same subject as the real client, signed by another CA
    openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other-ca.key" &&
      openssl req -x509 -new -key "$TMP/other-ca.key" -subj "/CN=other-ca" -days 2 -out "$TMP/other-ca.pem" 2>/dev/null &&
      openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" &&
      openssl req -new -key "$TMP/other.key" -subj "/O=securenet development/CN=sn-dev-client" -out "$TMP/other.csr" &&
      openssl x509 -req -in "$TMP/other.csr" -CA "$TMP/other-ca.pem" -CAkey "$TMP/other-ca.key" -set_serial 7 -days 2 \
        -out "$TMP/other.pem" 2>/dev/null
  fi
  out=$(C $CA --cert "$TMP/other.pem" --key "$TMP/other.key" "$U/api/status" 2>&1); rc=$?
  mtls_refused "mTLS: a client certificate with the same subject from another CA is refused" "$out" $rc
  # A second client stack: the server asks for a certificate, and without one no HTTP answer comes.
  out=$( (printf 'GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 1) |
    SC $ADDR:$P -msg -ign_eof -CAfile "$CERTS/ca.pem")
  grep -qE '^<<< .*CertificateRequest' <<<"$out" && ! grep -q "^HTTP/1.1" <<<"$out" && client_hello_sent "$out"
  check $? "mTLS: s_client is sent a CertificateRequest and, with no certificate, gets no HTTP response" \
    "$(grep -E 'CertificateRequest|^HTTP|Alert|error' <<<"$out" | head -n 3)"
  mtls_alerts "$P"
}
# mTLS refusals end with the server's fatal alert, not a bare close (mbedTLS sends none
# for a TLS 1.2 client without a certificate: securenet sends handshake_failure,
# RFC 5246 7.4.6), and the server logs why in words.
mtls_alerts() {
  local P=$1 out
  out=$( (printf 'GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 1) |
    SC $ADDR:$P -msg -ign_eof -tls1_2 -CAfile "$CERTS/ca.pem")
  client_hello_sent "$out" && peer_fatal_alert "$out" && ! grep -qi 'unexpected eof' <<<"$out" && ! grep -q "^HTTP/1.1" <<<"$out"
  check $? "mTLS: s_client -tls1_2 without a certificate gets the server's fatal alert (handshake_failure), not an unexpected EOF" \
    "$(grep -E '^<<< .*Alert|unexpected eof|:error:' <<<"$out" | head -n 3)"
  echo "#   seen by s_client -tls1_2: $(grep -E '^<<< .*Alert|:error:' <<<"$out" | head -n 2 | tr '\n' ' ' | cut -c1-200)"
  if [ -z "$LOG" ]; then # --host: the server is not ours (tests/lwip_integration.sh), its log is not here
    echo "#   not checked here: the server's log lines about the refusals (no local server log with --host)"
    return 0
  fi
  grep -q 'refused: it sent no certificate' "$LOG" 2>/dev/null
  check $? "mTLS: the server logs that the client sent no certificate" "$(grep -i refused "$LOG" 2>/dev/null | tail -n 2)"
  grep -q 'client certificate from .* refused: .*not correctly signed by the trusted CA' "$LOG" 2>/dev/null
  check $? "mTLS: the server logs why the other CA's certificate was refused, in words (verify flags)" \
    "$(grep -i refused "$LOG" 2>/dev/null | tail -n 2)"
}

group_gnutls() {
  local out
  out=$(printf 'GET /api/hello/gnutls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$1" "${GN[@]}" 2>&1)
  grep -q "^hello, gnutls" <<<"$out" && grep -q "^HTTP/1.1 200" <<<"$out"
  check $? "gnutls-cli: a second TLS stack verifies the server and GET /api/hello/gnutls answers hello, gnutls" \
    "$(grep -iE 'error|fatal|hello' <<<"$out" | tail -n 2)"
}

group_plain() { # $1: the plain HTTP port beside HTTPS
  local out
  out=$(C "http://$ADDR:$1/api/hello/plain")
  check "$(is "$out" "hello, plain")" "plain HTTP beside HTTPS: http:// /api/hello/plain works" "$out"
  out=$(C "http://$ADDR:$1/api/status")
  $PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["tls"] is None and d["client"] is None' "$out" 2>/dev/null
  check $? "plain HTTP: /api/status says tls null" "$out"
}

group_redirect() { # $1 plain HTTP port, $2 HTTPS port
  local out loc
  C -D "$TMP/h" -o /dev/null "http://$ADDR:$1/api/hello/x"
  loc=$(grep -i '^Location:' "$TMP/h" | tr -d '\r')
  grep -q '^HTTP/1.1 301' "$TMP/h" && [ "$loc" = "Location: https://$ADDR:$2/api/hello/x" ]
  check $? "--redirect: plain HTTP answers 301 with Location https://127.0.0.1:<https-port>/api/hello/x" "$(head -n1 "$TMP/h") $loc"
  out=$(C -L $CA "http://localhost:$1/api/hello/follow?q=1")
  check "$(is "$out" "hello, follow")" "--redirect: curl -L follows to HTTPS and gets the answer" "$out"
  redirect_more "$@"
}
# rsend PORT: the bytes on stdin to the plain HTTP port, what came back (raw.py send)
rsend() { SN_WAIT=3 timeout 10 $PY "$RAW" plain "$1" "$CERTS/ca.pem" send 2>/dev/null | tr -d '\r'; }
# status line and Location of a raw request's answer, on one line
rsl() { sed -n -e '1p' -e 's/^[Ll]ocation: //p' | tr '\n' ' '; }
redirect_more() { # $1 plain HTTP port, $2 HTTPS port (RFC 9110 15.4, RFC 9112 3.2.2)
  local m got want="" bad="" out
  for m in GET HEAD POST PUT DELETE PATCH; do
    got=$(printf '%s /api/echo?x=1 HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$m" "$ADDR" "$1" | rsend "$1" | rsl)
    case $m in GET | HEAD) want="HTTP/1.1 301 " ;; *) want="HTTP/1.1 308 " ;; esac
    [[ "$got" == "$want"*" https://$ADDR:$2/api/echo?x=1 " ]] || bad="$bad $m: $got;"
  done
  check "$([ -z "$bad" ] && echo 0 || echo 1)" \
    "--redirect: GET and HEAD get 301, POST, PUT, DELETE and PATCH 308 (method and body kept), each with Location https://127.0.0.1:<https-port>/api/echo?x=1" "$bad"
  out=$(C -L $CA --data-binary 'posted body' -H 'Content-Type: text/plain' "http://localhost:$1/api/echo" 2>&1)
  check "$(is "$out" "posted body")" "--redirect: curl -L --data POST follows the 308 and POSTs the body to HTTPS /api/echo" "$out"
  out=$(printf 'GET /api/hello/x?q=1&r=2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | rsend "$1" | tail -n 1)
  check "$(is "$out" "moved to https://localhost:$2/api/hello/x?q=1&r=2")" "--redirect: the body text names the target with its query string" "$out"
  out=$(printf 'GET http://device.example:%s/api/hello/x?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n' "$1" | rsend "$1" | rsl)
  check "$(is "$out" "HTTP/1.1 301 Moved Permanently https://device.example:$2/api/hello/x?q=1 ")" \
    "--redirect: an absolute-form request (GET http://device.example/...) gets Location from its authority, not from Host (RFC 9112 3.2.2)" "$out"
  bad=""
  for h in ']' '127.0.0.1:abc' '127.0.0.1:' '[::1' '[]' 'a]b' 'x:99999999' '' 'a b'; do
    got=$(printf 'GET /api/hello/x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$h" | rsend "$1" | rsl)
    [ "$h" = '127.0.0.1:' ] && { [ "${got#HTTP/1.1 301 }" != "$got" ] || bad="$bad [$h]: $got;"; continue; } # port = *DIGIT
    [ "${got#HTTP/1.1 400 }" != "$got" ] || bad="$bad [$h]: $got;"
  done
  got=$(printf 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | rsend "$1" | rsl)
  [ "${got#HTTP/1.1 400 }" != "$got" ] || bad="$bad OPTIONS *: $got;"
  got=$(printf 'GET http://]:1/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | rsend "$1" | rsl)
  [ "${got#HTTP/1.1 400 }" != "$got" ] || bad="$bad absolute-form ]: $got;"
  check "$([ -z "$bad" ] && echo 0 || echo 1)" \
    "--redirect: a malformed Host (], a port that is not a number, an unclosed [, empty) or authority, and OPTIONS *, get 400, never a Location" "$bad"
}

group_headers() { # $1 HTTPS port, $2 plain HTTP port, $3 HSTS max-age expected on HTTPS (0: none)
  local h sts
  C $CA -D "$TMP/h" -o /dev/null "https://localhost:$1/api/status"
  h=$(tr -d '\r' <"$TMP/h")
  grep -qx 'X-Content-Type-Options: nosniff' <<<"$h" && grep -qx 'X-Frame-Options: SAMEORIGIN' <<<"$h" &&
    grep -qx 'Referrer-Policy: same-origin' <<<"$h"
  check $? "headers: every HTTPS response has nosniff, X-Frame-Options SAMEORIGIN and Referrer-Policy by default" "$h"
  sts=$(grep -i '^Strict-Transport-Security:' <<<"$h")
  if [ "$3" = 0 ]; then
    check "$(is "$sts" "")" "headers: no HSTS unless asked (a certificate error could not be clicked through)" "$sts"
  else
    check "$(is "$sts" "Strict-Transport-Security: max-age=$3")" "headers: --hsts $3 sends Strict-Transport-Security on HTTPS" "$sts"
  fi
  C -D "$TMP/h" -o /dev/null "http://$ADDR:$2/api/status"
  h=$(tr -d '\r' <"$TMP/h")
  grep -qx 'X-Frame-Options: SAMEORIGIN' <<<"$h" && ! grep -qi '^Strict-Transport-Security' <<<"$h"
  check $? "headers: plain HTTP responses have the defaults and never HSTS (RFC 6797 8.1)" "$h"
}

group_ipv6() {
  local out
  out=$(C $CA "https://[::1]:$1/api/hello/v6" 2>&1)
  check "$(is "$out" "hello, v6")" "IPv6: curl https://[::1]:port/ verifies (IP SAN ::1) and answers over --bind ::1" "$out"
}

# raw MODE PORT GROUP: a group of raw.py checks (its ok/not ok lines are counted here)
raw() {
  local out
  out=$(timeout 90 $PY "$RAW" "$1" "$2" "$CERTS/ca.pem" "$3" 2>&1)
  echo "$out" | grep -vE '^(ok|not ok) ' | sed 's/^/# /'
  echo "$out" | grep -E '^(ok|not ok) '
  pass=$((pass + $(grep -c '^ok ' <<<"$out")))
  fail=$((fail + $(grep -c '^not ok ' <<<"$out")))
  if grep -q '^not ok ' <<<"$out"; then logtail; fi
  if ! grep -qE '^(ok|not ok) ' <<<"$out"; then nok "raw.py $1 $3 ran" "$(tail -n 3 <<<"$out")"; fi
}

[ "${1:-}" = "--lib" ] && return 0 2>/dev/null

# ---- command line -----------------------------------------------------------------------
only="" oport="" ohttp="" omode=tls
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift ;;
    --port) oport=$2; shift ;;
    --http-port) ohttp=$2; shift ;;
    --plain) omode=plain ;;
    --host)
      ADDR=$2 CTO=(--connect-to "localhost::$2:") GN=(--sni-hostname localhost --verify-hostname localhost "$2")
      export SN_HOST=$2
      shift ;;
    *) echo "usage: $0 [--only GROUP --port P [--http-port H] [--plain] [--host ADDR]]" >&2; exit 2 ;;
  esac
  shift
done
if [ ! -d "$CERTS" ] || [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { echo "not ok - tools/sn-certgen --out $CERTS"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ -z "$only" ] && [ ! -x "$DEMO" ]; then echo "not ok - $DEMO exists and is executable"; echo "0 passed, 1 failed"; exit 1; fi
mkdir -p "$TMP"
cleanup() {
  local p
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

if [ -n "$only" ]; then
  [ -n "$oport" ] || { echo "--only needs --port" >&2; exit 2; }
  case "$only" in
    verify | curl | resume | mtls | gnutls | ipv6) "group_$only" "$oport" ;;
    tls-versions) group_tls_versions "$oport" ;;
    suites-ecdsa) group_suites_ecdsa "$oport" ;;
    suites-rsa) group_suites_rsa "$oport" ;;
    plain) group_plain "${ohttp:-$oport}" ;;
    redirect) group_redirect "${ohttp:?--only redirect needs --http-port (plain) and --port (HTTPS)}" "$oport" ;;
    basic | errors | timeout | lru | idle) raw "$omode" "$oport" "$only" ;;
    *) echo "unknown group $only" >&2; exit 2 ;;
  esac
  finish
fi

# An RSA server certificate from the same CA (for the key exchange checks): the one
# in $CERTS/rsa if there is one, else a fresh one in $TMP/rsa.
RSA=$CERTS/rsa
if [ ! -f "$RSA/server-chain.pem" ]; then
  RSA=$TMP/rsa
  mkdir -p "$RSA" && cp "$CERTS/ca.pem" "$CERTS/ca.key" "$RSA/" && tools/sn-certgen --rsa --out "$RSA" >/dev/null ||
    nok "tools/sn-certgen --rsa makes an RSA server certificate from the dev CA"
fi

# ---- the servers, one block each --------------------------------------------------------
S=$BASE H=$((BASE + 1))
if start main $S --http-port $H; then
  group_verify $S; group_curl $S; group_resume $S; group_tls_versions $S; group_suites_ecdsa $S; group_gnutls $S
  group_plain $H; group_headers $S $H 0
  raw tls $S basic; raw plain $H basic; raw tls $S errors; raw plain $H errors
  alive main "https://localhost:$S"; stop main
fi
if start redirect $((BASE + 2)) --http-port $((BASE + 3)) --redirect --hsts 600; then
  group_redirect $((BASE + 3)) $((BASE + 2)); group_headers $((BASE + 2)) $((BASE + 3)) 600; alive redirect "https://localhost:$((BASE + 2))"; stop redirect
fi
if start rsa $((BASE + 4)) --cert "$RSA/server-chain.pem" --key "$RSA/server.key"; then
  group_suites_rsa $((BASE + 4)); alive rsa "https://localhost:$((BASE + 4))"; stop rsa
fi
if start mtls $((BASE + 5)) --client-ca "$CERTS/ca.pem"; then
  group_mtls $((BASE + 5))
  alive mtls "https://localhost:$((BASE + 5))" --cert "$CERTS/client.pem" --key "$CERTS/client.key"; stop mtls
fi
if start lru $((BASE + 6)) --http-port $((BASE + 7)) --max-conns 4 --idle-timeout-ms 4000; then
  raw tls $((BASE + 6)) lru; raw plain $((BASE + 7)) lru; alive lru "https://localhost:$((BASE + 6))"; stop lru
fi
if start idle $((BASE + 8)) --http-port $((BASE + 9)) --idle-timeout-ms 500; then
  raw tls $((BASE + 8)) idle; raw plain $((BASE + 9)) idle; alive idle "https://localhost:$((BASE + 8))"; stop idle
fi
if start timeout $((BASE + 10)) --http-port $((BASE + 11)) --request-timeout-ms 500; then
  raw tls $((BASE + 10)) timeout; raw plain $((BASE + 11)) timeout; alive timeout "https://localhost:$((BASE + 10))"; stop timeout
fi
if start ipv6 $((BASE + 12)) --bind ::1; then
  group_ipv6 $((BASE + 12)); alive ipv6 "https://[::1]:$((BASE + 12))"; stop ipv6
fi
# a small max_reply (--max-body 1000: 5096 B): /api/blob's 16 KiB chunks are refused as too
# big, the demo halves them (it spun on SN_ERR_TOO_BIG until the timeout before, issue 20)
if start small $((BASE + 13)) --max-body 1000; then
  out=$(timeout 20 curl -sS --max-time 15 $CA "https://localhost:$((BASE + 13))/api/blob?bytes=100000" | wc -c)
  [ "$out" = 100000 ]; check $? "small: GET /api/blob?bytes=100000 with max_reply 5096: the 100000 bytes, in chunks that fit" "got $out bytes"
  alive small "https://localhost:$((BASE + 13))"; stop small
fi
finish
