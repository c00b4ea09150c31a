#!/usr/bin/env bash
# WebSocket and server-sent events against sn_demo (issue 19, WS_DEMO.md), driven
# by real clients over TLS with the dev CA and verification on:
#   Python's websockets (Debian python3-websockets, tests/ws/py_client.py): echo of
#     text and binary messages of 0, 1, 125, 126, 65535, 65536 and 1 MiB bytes, 40 back
#     to back, fragmented messages (one with a ping between its fragments), pings,
#     close codes 1000 and 4000 echoed, 1009 over ?max=1000 and over 1 MiB, 10 sockets at once,
#     /ws/status's seq 1, 2, 3, close 1001 when the server stops, a wrong CA and a
#     wrong host name refused
#   Node's ws (Debian node-ws, tests/ws/node_client.js): echo of 0 B, 1 KiB, 1 MiB,
#     fragments (send's fin: false), pings, close codes (and none), a wrong CA refused
#   curl -N on /api/events (tests/ws/sse_check.py): text/event-stream, ids 1, 2, ...
#     and 42, 43, ... after Last-Event-ID: 41, JSON data, no event: field
#   curl: GET /ws without Upgrade is 400, Sec-WebSocket-Version: 8 is 426
# Frames RFC 6455 forbids (invalid UTF-8, unmasked frames, ...) are
# tests/ws_abuse.sh's, raw bytes no library here would send.
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N failed";
# exit 1 if any failed. Lines starting with "#" are notes.
#
# Environment:
#   SN_DEMO       the server binary (default build/sn_demo); tests/ws/standin.py is a
#                 stand-in with the same options and switchable bugs (WS_STANDIN_BUG,
#                 see there) that shows the checks failing
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  the HTTPS port (default: a free one of 27500 + k * 2, tests/free-ports)
#   SN_TMP        scratch directory (default build/ws-tmp.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the server command, e.g. "valgrind -q --error-exitcode=9"
#   NODE_PATH     where node finds ws (default /usr/share/nodejs, Debian's node-ws)
#   WS_WRONG_CA   the CA the "refused" checks use (default: one made in SN_TMP); set it
#                 to $SN_CERTS/ca.pem to see those checks fail
# About 4 s (also under ASan): the SSE streams and /ws/status run beside the rest.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 27500 100 2)}
TMP=${SN_TMP:-build/ws-tmp.$$}
PY=/usr/bin/python3
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
CA="--cacert $CERTS/ca.pem"
CA_S="-CAfile $CERTS/ca.pem"
pass=0 fail=0 pids="" LOG=""

# ---- reporting (as tests/integration.sh) ---------------------------------------------------
ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 8 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-300)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]
# collect WHAT FILE STATUS: the ok/not ok lines a client wrote to FILE, counted; its notes as
# notes; a client that wrote no check or ended non-zero without a "not ok" is a failure
collect() {
  local what=$1 file=$2 rc=$3
  sed -E '/^(ok|not ok) /!{s/^# //; s/^/# /}' "$file"
  pass=$((pass + $(grep -c '^ok ' "$file")))
  fail=$((fail + $(grep -c '^not ok ' "$file")))
  if grep -q '^not ok ' "$file"; then logtail; fi
  if ! grep -qE '^(ok|not ok) ' "$file" || { [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$file"; }; then
    nok "$what ran and reported its checks" "status $rc: $(tail -n 3 "$file")"
  fi
}

# ---- the server (as tests/integration.sh) ---------------------------------------------------
start() { # NAME HTTPS_PORT [sn_demo flags...]: waits up to 10 s for "listening"
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
reaped() { pids=$(for p in $pids; do [ "$p" != "$SPID" ] && echo "$p"; done); }
stop() { # NAME: SIGTERM; exit 0 within 5 s (15 s under SN_WRAP); no sanitizer or leak report
  local name=$1 rc i n=50
  [ -n "${SN_WRAP:-}" ] && n=150
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $n); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null; reaped
    nok "$name: server exits cleanly on SIGTERM with a WebSocket open (status 0, no sanitizer report)" "still running after $((n / 10)) s"
    return
  fi
  wait "$SPID"; rc=$?; reaped
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]" "$LOG"; then
    nok "$name: server exits cleanly on SIGTERM with a WebSocket open (status 0, no sanitizer report)" "status $rc"
    grep -m5 -E "ERROR:|runtime error:|SUMMARY|definitely lost" "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM with a WebSocket open (status 0, no sanitizer report)"
  fi
}

# ---- checks ---------------------------------------------------------------------------------
# sse NAME PORT FIRST_ID [curl options]: reads /api/events for 2.5 s into $TMP/NAME.{h,body}
# (in the background: sse_wait reads the result)
sse() {
  local name=$1 port=$2; shift 3
  timeout 10 curl -q -N -sS --max-time 2.5 $CA -D "$TMP/$name.h" -o "$TMP/$name.body" "$@" \
    "https://localhost:$port/api/events" 2>"$TMP/$name.err" &
  eval "SSE_$name=$!"
}
sse_wait() { # NAME FIRST_ID WHAT
  local name=$1 first=$2 what=$3 rc pid
  eval "pid=\$SSE_$name"
  wait "$pid"; rc=$?
  # 28: curl's --max-time ended it; the stream was still open after 2.5 s, as it should be
  check "$([ "$rc" = 28 ] && echo 0 || echo 1)" "$what: the stream stays open (curl's --max-time 2.5 ends it)" \
    "curl exit $rc: $(cat "$TMP/$name.err")"
  touch "$TMP/$name.h" "$TMP/$name.body"
  $PY tests/ws/sse_check.py "$TMP/$name.h" "$TMP/$name.body" "$first" "$what" >"$TMP/$name.out" 2>&1
  collect "sse_check.py ($what)" "$TMP/$name.out" $?
}

handshake_refusals() { # PORT: openings sn_ws_upgrade answers itself (securenet.h, RFC 6455 4.2.2)
  local U="https://localhost:$1/ws" out
  out=$(timeout 10 curl -q -sS --max-time 5 $CA -o /dev/null -w '%{http_code}' "$U" 2>&1)
  check "$([ "$out" = 400 ] && echo 0 || echo 1)" "curl: GET /ws without Upgrade: websocket is answered 400" "got $out"
  out=$(timeout 10 curl -q -sS --max-time 5 $CA -o /dev/null -D - -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 8' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$U" 2>&1 | tr -d '\r')
  head -n1 <<<"$out" | grep -qE '^HTTP/1.1 426' && grep -qiE '^sec-websocket-version: *13$' <<<"$out"
  check $? "curl: GET /ws with Sec-WebSocket-Version: 8 is answered 426 with Sec-WebSocket-Version: 13" "$(head -n 6 <<<"$out")"
}

keyupdate() { # PORT: a TLS 1.3 KeyUpdate on a WebSocket (mbedTLS 3.6 has none): named as such, with an alert
  local out
  out=$( (printf 'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
    sleep 1; echo k; sleep 1.5) | timeout 10 openssl s_client -connect "localhost:$1" $CA_S 2>&1 | tr -d '\000' | grep -a -E 'Protocol|TLSv1|alert|KEYUPDATE|101 Switching')
  if ! grep -q 'TLSv1.3' <<<"$out"; then echo "# keyupdate: no TLS 1.3 in this build (2.28): skipped"; return; fi
  grep -q KEYUPDATE <<<"$out" && grep -q '101 Switching' <<<"$out" && grep -q 'alert unexpected message' <<<"$out"
  check $? "openssl s_client's KeyUpdate on an open WebSocket: the unexpected_message alert, not a bare EOF" "$out"
  grep -q 'KeyUpdate' "$LOG"
  check $? "the server's log names the KeyUpdate" "$(tail -n 3 "$LOG")"
}

# ---- command line ---------------------------------------------------------------------------
if [ ! -d "$CERTS" ] || [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { echo "not ok - tools/sn-certgen --out $CERTS"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ ! -x "$DEMO" ]; then echo "not ok - $DEMO exists and is executable"; echo "0 passed, 1 failed"; exit 1; fi
missing=""
$PY -c 'import websockets' 2>/dev/null || missing="$missing python3-websockets"
command -v node >/dev/null || missing="$missing nodejs"
NODE_PATH=$NODE_PATH node -e 'require("ws")' 2>/dev/null || missing="$missing node-ws"
if [ -n "$missing" ]; then echo "not ok - the clients are installed (missing:$missing; tools/deps.sh installs them)"; echo "0 passed, 1 failed"; exit 1; fi
mkdir -p "$TMP"
cleanup() {
  local p
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

WRONG=${WS_WRONG_CA:-$TMP/wrong-ca.pem}
if [ -z "${WS_WRONG_CA:-}" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=not securenet/CN=another CA" \
    -days 2 -keyout "$TMP/wrong-ca.key" -out "$WRONG" >/dev/null 2>&1 || nok "openssl makes another CA for the refusal checks"
fi

# ---- one server: every client against it, then SIGTERM with a socket open -------------------
P=$BASE
echo "# $DEMO on https://localhost:$P; $($PY -c 'import websockets; print("websockets", websockets.__version__)'), node $(node --version), ws $(NODE_PATH=$NODE_PATH node -p 'require("ws/package.json").version')"
if start main $P; then
  # beside the rest (each takes 2-3 s of waiting): /ws/status's three messages, two SSE streams
  timeout 30 $PY tests/ws/py_client.py $P "$CERTS/ca.pem" status >"$TMP/status.out" 2>&1 &
  STATUS=$!
  sse ev $P 1
  sse ev42 $P 42 -H 'Last-Event-ID: 41'

  timeout 90 $PY tests/ws/py_client.py $P "$CERTS/ca.pem" handshake echo frag ping close toobig many >"$TMP/py.out" 2>&1
  collect "py_client.py" "$TMP/py.out" $?
  SN_CA="$CERTS/ca.pem" timeout 30 $PY tests/ws/py_client.py $P "$WRONG" wrongca >"$TMP/wrongca.out" 2>&1
  collect "py_client.py wrongca" "$TMP/wrongca.out" $?
  timeout 90 node tests/ws/node_client.js $P "$CERTS/ca.pem" "$WRONG" >"$TMP/node.out" 2>&1
  collect "node_client.js" "$TMP/node.out" $?
  handshake_refusals $P
  keyupdate $P

  wait $STATUS; collect "py_client.py status" "$TMP/status.out" $?
  sse_wait ev 1 "curl -N /api/events"
  sse_wait ev42 42 "curl -N /api/events with Last-Event-ID: 41"

  out=$(timeout 20 curl -q -sS --max-time 15 $CA "https://localhost:$P/api/status" 2>&1)
  grep -q '"uptime_ms"' <<<"$out"
  check $? "main: still answers GET /api/status after the checks above" "$out"

  # a socket open when the server stops: close 1001 (going away), then a clean exit
  rm -f "$TMP/marker"
  WS_MARKER="$TMP/marker" timeout 40 $PY tests/ws/py_client.py $P "$CERTS/ca.pem" shutdown >"$TMP/shutdown.out" 2>&1 &
  SHUT=$!
  for _ in $(seq 1 100); do [ -f "$TMP/marker" ] && break; kill -0 $SHUT 2>/dev/null || break; sleep 0.1; done
  stop main
  wait $SHUT; collect "py_client.py shutdown" "$TMP/shutdown.out" $?
fi
finish
