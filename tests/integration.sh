#!/usr/bin/env bash
# Integration tests: sn_demo on loopback, driven by real clients (curl,
# openssl s_client, gnutls-cli, Python's ssl). One line per check:
# "ok - ..." or "not ok - ...", then "N passed, N failed".
#
# Environment: SN_DEMO (default build/sn_demo), SN_CERTS (default build/certs,
# made with tools/sn-certgen if missing), SN_PORT_BASE (default 20000 + $$ % 20000),
# SN_WRAP (a wrapper for the server, e.g. "valgrind -q").
# tests/integration.sh --only GROUP [--port P]: one group against a running
# server (used to show each negative check failing against a wrong peer).
set -u
cd "$(dirname "$0")/.." || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$((20000 + $$ % 20000))}
TMP=${SN_TMP:-build/it-tmp.$$}
PY=/usr/bin/python3
RAW="tests/integration/raw.py"
only="" only_port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift ;;
    --port) only_port=$2; shift ;;
    *) echo "usage: $0 [--only GROUP --port P]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$TMP"
pass=0 fail=0 pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); [ -n "${LOG:-}" ] && [ -f "$LOG" ] && tail -n 5 "$LOG" | sed 's/^/#   /'; }
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }
CA="--cacert $CERTS/ca.pem"
C() { timeout 20 curl -sS --max-time 15 "$@"; }

[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
if [ ! -f "$CERTS/rsa/server.pem" ]; then
  mkdir -p "$CERTS/rsa" && cp "$CERTS/ca.pem" "$CERTS/ca.key" "$CERTS/rsa/"
  tools/sn-certgen --rsa --out "$CERTS/rsa" >/dev/null
fi

# start NAME HTTPS_PORT [sn_demo flags...]: starts the server, waits for "listening"
start() {
  local name=$1 port=$2; shift 2
  LOG="$TMP/$name.log"
  ${SN_WRAP:-} "$DEMO" --https-port "$port" --cert "$CERTS/server.pem" --key "$CERTS/server.key" "$@" >"$LOG" 2>&1 &
  SPID=$!
  pids="$pids $SPID"
  local i
  for i in $(seq 1 100); do
    grep -q listening "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: server starts and prints 'listening'" "$(tail -n 3 "$LOG")"
  return 1
}
# stop NAME: SIGTERM, exit 0 within 5 s, no sanitizer report in its log
stop() {
  local name=$1 rc i
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then kill -9 "$SPID"; nok "$name: server exits within 5 s of SIGTERM"; return; fi
  wait "$SPID"; rc=$?
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]" "$LOG"; then
    nok "$name: server exits 0 on SIGTERM, no sanitizer or leak report" "status $rc"
    grep -m3 -E "ERROR:|runtime error:|SUMMARY" "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits 0 on SIGTERM, no sanitizer or leak report"
  fi
}

# ---- check groups, each usable alone against any server on port $P ----------------------
group_curl() {
  local P=$1 U="https://localhost:$1" out hdr
  out=$(C $CA "$U/") && echo "$out" | grep -q 'id="uptime"'
  check $? "curl: GET / over HTTPS verifies against the dev CA and returns the dashboard"
  C "$U/" >/dev/null 2>&1; local rc=$?
  check $([ $rc -eq 60 ] && echo 0 || echo 1) "curl: without the dev CA, verification fails (exit 60)" "exit $rc"
  out=$(C $CA -v "$U/api/hello/a" "$U/api/hello/b" 2>&1)
  echo "$out" | grep -qE "Re-using existing connection|Reusing existing" && [ "$(echo "$out" | grep -c 'Server hello')" -le 1 ] &&
    echo "$out" | grep -q "hello, b"
  check $? "curl: two requests reuse one keep-alive connection (one handshake)"
  head -c 1048576 /dev/urandom >"$TMP/1m.bin"
  C $CA -D "$TMP/h" --data-binary @"$TMP/1m.bin" -H 'Content-Type: application/octet-stream' "$U/api/echo" -o "$TMP/1m.out"
  cmp -s "$TMP/1m.bin" "$TMP/1m.out" && grep -qi '^Content-Type: application/octet-stream' "$TMP/h"
  check $? "curl: a 1 MiB POST is echoed byte for byte with its Content-Type"
  head -c 300000 /dev/urandom >"$TMP/300k.bin"
  C $CA -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-test' --data-binary @"$TMP/300k.bin" "$U/api/echo" -o "$TMP/300k.out"
  cmp -s "$TMP/300k.bin" "$TMP/300k.out"
  check $? "curl: a 300 KB chunked upload is echoed byte for byte"
  out=$(C $CA -v -H 'Expect: 100-continue' --data-binary @"$TMP/300k.bin" "$U/api/echo" -o "$TMP/e.out" 2>&1)
  echo "$out" | grep -q "HTTP/1.1 100 Continue" && cmp -s "$TMP/300k.bin" "$TMP/e.out"
  check $? "curl: Expect: 100-continue gets '100 Continue', then the echo"
  out=$(C $CA "$U/api/hello/w%C3%B6rld")
  check $([ "$out" = "hello, wörld" ] && echo 0 || echo 1) "curl: /api/hello/:name percent-decodes the name" "$out"
  out=$(C $CA "$U/files/a/b/c.txt")
  check $([ "$out" = "a/b/c.txt" ] && echo 0 || echo 1) "curl: /files/* answers the wildcard remainder" "$out"
  C $CA -D "$TMP/h" "$U/stream?n=1000" -o "$TMP/s.out"
  [ "$(wc -l <"$TMP/s.out")" -eq 1000 ] && [ "$(head -n1 "$TMP/s.out")" = "line 0" ] && [ "$(tail -n1 "$TMP/s.out")" = "line 999" ] &&
    grep -qi '^Transfer-Encoding: chunked' "$TMP/h"
  check $? "curl: /stream?n=1000 is a chunked response of 1000 lines"
  out=$(C $CA "$U/api/status")
  echo "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert {"uptime_ms","connections","requests","tls","client"} <= set(d); assert d["tls"]["version"] in ("TLSv1.2","TLSv1.3"); assert d["client"] is None' 2>/dev/null
  check $? "curl: /api/status is JSON with uptime_ms, connections, requests, tls (1.2 or 1.3), client null" "$out"
  C $CA -I "$U/api/status" -o /dev/null -D "$TMP/h" && grep -qi '^Content-Length: [1-9]' "$TMP/h" && [ "$(C $CA -X HEAD "$U/api/status" --max-time 3 2>/dev/null | wc -c)" -eq 0 ]
  check $? "curl: HEAD /api/status has a Content-Length and no body"
  [ "$(C $CA -o /dev/null -w '%{http_code}' "$U/nope")" = 404 ]
  check $? "curl: an unknown path is 404"
  C $CA -X DELETE -D "$TMP/h" -o /dev/null "$U/api/status"; grep -q '^HTTP/1.1 405' "$TMP/h" && grep -qi '^Allow: GET, HEAD' "$TMP/h"
  check $? "curl: DELETE /api/status is 405 with Allow: GET, HEAD"
  C $CA -D "$TMP/h" "$U/app.js" -o "$TMP/app.js" && grep -qi '^Content-Type: text/javascript' "$TMP/h" && cmp -s "$TMP/app.js" examples/posix/static/app.js
  check $? "curl: /app.js comes from the static table with a JavaScript Content-Type"
  C $CA --compressed -D "$TMP/h" "$U/app.js" -o "$TMP/app.gz.js" && grep -qi '^Content-Encoding: gzip' "$TMP/h" && grep -qi '^Vary: Accept-Encoding' "$TMP/h" && cmp -s "$TMP/app.gz.js" examples/posix/static/app.js
  check $? "curl: with Accept-Encoding: gzip the pre-gzipped variant is served and decompresses to the file"
  local etag
  etag=$(C $CA -D - -o /dev/null "$U/style.css" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
  [ -n "$etag" ] && [ "$(C $CA -H "If-None-Match: $etag" -o "$TMP/304" -w '%{http_code}' "$U/style.css")" = 304 ] && [ ! -s "$TMP/304" ]
  check $? "curl: If-None-Match with the ETag gives 304 with no body" "etag=$etag"
}

group_s_client() {
  local P=$1 out
  out=$( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -sess_out "$TMP/s12" 2>&1)
  echo "$out" | grep -q "Verify return code: 0 (ok)"
  check $? "s_client: TLS 1.2 handshake verifies against the dev CA"
  out=$( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -sess_in "$TMP/s12" 2>&1)
  echo "$out" | grep -q "^Reused, TLSv1.2"
  check $? "s_client: a TLS 1.2 session is resumed (Reused)" "$(echo "$out" | grep -E '^(New|Reused)')"
  ( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -no_ticket -sess_out "$TMP/sid" >/dev/null 2>&1 )
  out=$( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -no_ticket -sess_in "$TMP/sid" 2>&1)
  echo "$out" | grep -q "^Reused, TLSv1.2"
  check $? "s_client: without tickets, a TLS 1.2 session is resumed from the session cache (Reused)" "$(echo "$out" | grep -E '^(New|Reused)')"
  out=$( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -sess_out "$TMP/s13" 2>&1)
  if echo "$out" | grep -q "^New, TLSv1.3"; then
    out=$( (sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -sess_in "$TMP/s13" 2>&1)
    echo "$out" | grep -q "^Reused, TLSv1.3"
    check $? "s_client: a TLS 1.3 session is resumed from a ticket (Reused)" "$(echo "$out" | grep -E '^(New|Reused)')"
  else
    ok "s_client: TLS 1.3 is not in this mbedTLS build (1.3 resumption skipped)"
  fi
  local v
  for v in tls1 tls1_1; do
    out=$(timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -$v -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1)
    # The client offers the old version (SECLEVEL=0); the refusal must be the server's alert.
    echo "$out" | grep -qE "alert protocol version|wrong version number|unsupported protocol" && ! echo "$out" | grep -q "no protocols available" && ! echo "$out" | grep -qE "^New, TLSv1(\.1)?,"
    check $? "s_client: the server refuses -$v (its alert, with a client willing at SECLEVEL=0)" "$(echo "$out" | grep -iE 'alert|New,|error' | head -n 2)"
  done
}

group_suites() { # against the RSA server
  local P=$1 out
  out=$(timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -cipher 'AES128-GCM-SHA256:@SECLEVEL=0' </dev/null 2>&1)
  ! echo "$out" | grep -qE "^New, TLSv1.2, Cipher is AES128-GCM-SHA256" && echo "$out" | grep -qiE "alert handshake failure|handshake failure"
  check $? "s_client: RSA key exchange without forward secrecy (AES128-GCM-SHA256) is refused" "$(echo "$out" | grep -E 'New,|alert' | head -n 1)"
  out=$(timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0' </dev/null 2>&1)
  ! echo "$out" | grep -qE "^New, TLSv1.2, Cipher is ECDHE-RSA-AES128-SHA" && echo "$out" | grep -qiE "handshake failure"
  check $? "s_client: CBC suites (not AEAD) are refused" "$(echo "$out" | grep -E 'New,|alert' | head -n 1)"
  out=$(timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256' </dev/null 2>&1)
  echo "$out" | grep -q "^New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256" && echo "$out" | grep -q "Verify return code: 0"
  check $? "s_client: ECDHE-RSA-AES128-GCM-SHA256 is accepted with an RSA certificate and its chain"
}

group_mtls() {
  local P=$1 U="https://localhost:$1" out
  out=$(C $CA --cert "$CERTS/client.pem" --key "$CERTS/client.key" "$U/api/status")
  echo "$out" | grep -q '"client":"[^"]*CN=sn-dev-client'
  check $? "mTLS: a client certificate from the CA is verified and its subject reaches the handler" "$out"
  out=$(C $CA "$U/api/status" 2>&1)
  ! echo "$out" | grep -q uptime_ms
  check $? "mTLS: without a client certificate, no response" "$out"
  if [ ! -f "$TMP/other-ca.pem" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other-ca.key"
    openssl req -x509 -new -key "$TMP/other-ca.key" -subj /CN=other-ca -days 2 -out "$TMP/other-ca.pem" 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key"
    openssl req -new -key "$TMP/other.key" -subj /CN=intruder -out "$TMP/other.csr"
    openssl x509 -req -in "$TMP/other.csr" -CA "$TMP/other-ca.pem" -CAkey "$TMP/other-ca.key" -set_serial 7 -days 2 -out "$TMP/other.pem" 2>/dev/null
  fi
  out=$(C $CA --cert "$TMP/other.pem" --key "$TMP/other.key" "$U/api/status" 2>&1)
  ! echo "$out" | grep -q uptime_ms
  check $? "mTLS: a client certificate from another CA is refused" "$out"
  out=$( (printf 'GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 1) | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$P -servername localhost -CAfile "$CERTS/ca.pem" 2>&1)
  ! echo "$out" | grep -q "uptime_ms"
  check $? "mTLS: s_client without a certificate gets no response (a second client stack)"
}

group_gnutls() {
  local P=$1 out
  out=$(printf 'GET /api/hello/gnutls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | timeout 10 gnutls-cli --x509cafile "$CERTS/ca.pem" -p "$P" localhost 2>&1)
  echo "$out" | grep -q "hello, gnutls"
  check $? "gnutls-cli: a second TLS stack verifies the server and gets hello, gnutls" "$(echo "$out" | tail -n 2)"
}

group_plain() { # HTTP beside HTTPS
  local H=$1 out
  out=$(C "http://127.0.0.1:$H/api/hello/plain")
  check $([ "$out" = "hello, plain" ] && echo 0 || echo 1) "plain HTTP beside HTTPS serves the same router" "$out"
  out=$(C "http://127.0.0.1:$H/api/status")
  echo "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["tls"] is None' 2>/dev/null
  check $? "plain HTTP: /api/status says tls null" "$out"
}

group_redirect() {
  local H=$1 S=$2 out
  C -D "$TMP/h" -o /dev/null "http://127.0.0.1:$H/api/hello/x?y=1"
  grep -q '^HTTP/1.1 301' "$TMP/h" && grep -qi "^Location: https://127.0.0.1:$S/api/hello/x?y=1" "$TMP/h"
  check $? "--redirect: plain HTTP answers 301 to the same target on HTTPS" "$(grep -i location "$TMP/h")"
  out=$(C -L $CA "http://localhost:$H/api/hello/follow")
  check $([ "$out" = "hello, follow" ] && echo 0 || echo 1) "--redirect: curl -L follows to HTTPS and gets the answer" "$out"
}

raw() { # MODE PORT GROUP
  local out
  out=$(timeout 60 $PY "$RAW" "$1" "$2" "$CERTS/ca.pem" "$3" 2>&1)
  echo "$out"
  pass=$((pass + $(echo "$out" | grep -c '^ok ')))
  fail=$((fail + $(echo "$out" | grep -c '^not ok ')))
  if ! echo "$out" | grep -qE '^(ok|not ok) '; then nok "raw $1 $3 ran" "$(echo "$out" | tail -n 3)"; fi
}

if [ -n "$only" ]; then
  case "$only" in
    curl|s_client|suites|mtls|gnutls|plain) "group_$only" "$only_port" ;;
    *) raw tls "$only_port" "$only" ;;
  esac
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]; exit
fi

# ---- servers ----------------------------------------------------------------------------
S=$BASE H=$((BASE + 1))
if start main $S --http-port $H --request-timeout-ms 1000; then
  group_curl $S; group_s_client $S; group_gnutls $S; group_plain $H
  raw tls $S basic; raw plain $H basic; raw tls $S errors; raw plain $H errors; raw tls $S timeout; raw plain $H timeout
  out=$(C $CA "https://localhost:$S/api/status"); echo "$out" | grep -q uptime_ms
  check $? "main: still serving after every check above"
  stop main
fi
if start redirect $((BASE + 2)) --http-port $((BASE + 3)) --redirect; then
  group_redirect $((BASE + 3)) $((BASE + 2)); stop redirect
fi
if start rsa $((BASE + 4)) --cert "$CERTS/rsa/server-chain.pem" --key "$CERTS/rsa/server.key"; then
  group_suites $((BASE + 4)); stop rsa
fi
if start mtls $((BASE + 5)) --client-ca "$CERTS/ca.pem"; then
  group_mtls $((BASE + 5)); stop mtls
fi
if start lru $((BASE + 6)) --http-port $((BASE + 7)) --max-conns 4 --idle-timeout-ms 4000; then
  raw tls $((BASE + 6)) lru; raw plain $((BASE + 7)) lru; stop lru
fi
if start idle $((BASE + 8)) --http-port $((BASE + 9)) --idle-timeout-ms 1000; then
  raw tls $((BASE + 8)) idle; raw plain $((BASE + 9)) idle; stop idle
fi
if start ipv6 $((BASE + 10)) --bind ::1; then
  out=$(C $CA "https://[::1]:$((BASE + 10))/api/hello/v6")
  check $([ "$out" = "hello, v6" ] && echo 0 || echo 1) "IPv6: https://[::1] verifies (IP SAN ::1) and answers" "$out"
  stop ipv6
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
