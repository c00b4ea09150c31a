#!/usr/bin/env bash
# WebSocket protocol abuse (RFC 6455) against sn_demo's /ws and /ws/status over
# TLS: tests/ws/raw.py writes hand-built frames (unmasked, RSV bits, unknown
# opcodes, 2^63 lengths, long or fragmented control frames, stray
# continuations, bad UTF-8 split across fragments, messages over ?max, bad
# close codes and reasons, 10000 one-byte frames, a ping flood, a client that
# never reads) and checks for each the close code RFC 6455 requires, that the
# server then ends the connection, and that a new connection is still served.
# Around it this script checks that heap_bytes (/api/status) comes back to
# its baseline and every connection is closed, and that the server exits
# cleanly (no ASan/UBSan/LeakSanitizer report).
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N failed";
# exit 1 if any failed. Lines starting with "#" are notes.
#
# Environment:
#   SN_DEMO        the server binary (default build/sn_demo; build/asan/sn_demo for ASan/UBSan)
#   SN_CERTS       certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE   first of 6 loopback ports (default: a free block 35000 + k * 10, tests/free-ports)
#   SN_TMP         scratch directory (default build/ws-abuse-tmp.$$; removed unless a check failed)
#   WS_HEAP_TOL    bytes heap_bytes may stay above its baseline (default 4096, as tests/abuse.sh)
#   WS_ONLY        raw.py's case groups to run (framing utf8 limits close controls frames
#                  pingflood neverread status linger; default all)
#   WS_ABUSE_WRONG self-check, never in CI: 1 runs raw.py against tests/ws/lax_server.py's wrong
#                  servers (lax, fragile: see there) instead of sn_demo, and checks that every
#                  one of raw.py's checks and this script's heap and connection checks fails
#                  against at least one of them; "strict" runs the suite against lax_server.py's
#                  correct mode (the suite's own reference), where everything should pass.
#
# Heap tolerance: as in tests/abuse.sh, the server runs with glibc's tcache off
# (heap_bytes is then exact; ASan's count is exact anyway) and the baseline is
# taken after abuse.py warm (40 full handshakes: mbedTLS's session cache full)
# and one WebSocket session. raw.py opens about 150 connections, so 4 KiB over
# the baseline would be a leak of under 30 bytes per connection; an sn_ws, a
# receive buffer or an mbedTLS context left behind is far beyond it.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 35000 50 10)}
TMP=${SN_TMP:-build/ws-abuse-tmp.$$}
TOL=${WS_HEAP_TOL:-4096}
WRONG=${WS_ABUSE_WRONG:-}
PY=/usr/bin/python3
RAW=tests/ws/raw.py
CA=$CERTS/ca.pem
pass=0 fail=0 pids="" LOG="" SPID="" KEEP=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 6 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

# ---- the server ----------------------------------------------------------------------------
# start NAME PORT: sn_demo (or, with WS_ABUSE_WRONG, lax_server.py --mode NAME) with HTTPS on
# PORT (sn_demo: plain HTTP on PORT+1); waits up to 10 s for "listening"
start() {
  local name=$1 port=$2 _
  LOG="$TMP/$name.log"
  case $name in
    lax | fragile | strict)
      $PY tests/ws/lax_server.py --mode "$name" --port "$port" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
        >"$LOG" 2>&1 & ;;
    *) # glibc's tcache keeps freed small chunks counted as in use by mallinfo2: without it,
       # heap_bytes is exact (tests/abuse.sh)
      GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$DEMO" --https-port "$port" --http-port $((port + 1)) \
        --cert "$CERTS/server.pem" --key "$CERTS/server.key" >"$LOG" 2>&1 & ;;
  esac
  SPID=$!
  pids="$pids $SPID"
  for _ in $(seq 1 100); do
    grep -q listening "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: server starts and prints 'listening' within 10 s"
  kill -9 "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  return 1
}
sanitizer_report() { grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$LOG"; }
# stop NAME: SIGTERM; exit 0 within 10 s; no sanitizer report in the server's output
stop() {
  local name=$1 rc _
  kill -TERM "$SPID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "still running after 10 s"
    return
  fi
  wait "$SPID"
  rc=$?
  [ -n "$WRONG" ] && return 0 # a Python test double: its exit says nothing
  if [ "$rc" -ne 0 ] || sanitizer_report; then
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "status $rc"
    grep -m8 -E "ERROR:|runtime error:|SUMMARY|#[0-9] " "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)"
  fi
}

# status: "CONNECTIONS HEAP_BYTES" from /api/status (empty if it did not answer)
status() {
  timeout 15 curl -q -sS --max-time 10 --cacert "$CA" "https://localhost:$S/api/status" 2>/dev/null |
    $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["connections"], d.get("heap_bytes", -1))' 2>/dev/null
}

# baseline NAME: warm the server up (40 full handshakes, one WebSocket session), then HEAP0
baseline() {
  local name=$1 st
  $PY tests/abuse/abuse.py warm --port "$S" --ca "$CA" >/dev/null 2>&1
  $PY $RAW --port "$S" --ca "$CA" --only controls >/dev/null 2>&1
  sleep 0.3
  st=$(status)
  HEAP0=${st#* }
  if [ -z "$st" ] || [ "$HEAP0" -lt 0 ]; then
    nok "$name: /api/status reports heap_bytes (glibc mallinfo2 or ASan)" "got '$st'"
    HEAP0=-1
  fi
}

# back_to_baseline NAME: within 10 s every WebSocket is gone (connections 1: the one asking)
# and heap_bytes is within TOL of HEAP0 (looked at again 2 s later if not)
back_to_baseline() {
  local name=$1 st="" _ conns heap
  for _ in $(seq 1 20); do
    st=$(status)
    [ "${st%% *}" = 1 ] && break
    sleep 0.5
  done
  conns=${st%% *} heap=${st#* }
  check "$([ "$conns" = 1 ] && echo 0 || echo 1)" "$name: every WebSocket connection is closed afterwards (connections back to 1)" \
    "status '$st' after 10 s"
  [ "$HEAP0" -ge 0 ] && [ -n "$st" ] || return 0
  if [ "$heap" -gt $((HEAP0 + TOL)) ]; then # allocations may be on their way out: one more look
    sleep 2
    st=$(status)
    heap=${st#* }
  fi
  check "$([ -n "$heap" ] && [ "$heap" -le $((HEAP0 + TOL)) ] && echo 0 || echo 1)" \
    "$name: heap_bytes back to its baseline (within $TOL bytes) [$HEAP0 before, $heap after, $((heap - HEAP0)) bytes]" \
    "$((heap - HEAP0)) bytes over"
}

# suite NAME PORT: one server, the whole of raw.py against it, the heap around it
suite() {
  local name=$1 t0
  S=$2
  t0=$(date +%s)
  start "$name" "$S" || return
  baseline "$name"
  # shellcheck disable=SC2086
  $PY $RAW --port "$S" --ca "$CA" --heap-base "$HEAP0" ${WS_ONLY:+--only "$WS_ONLY"} >"$TMP/$name.raw" 2>&1
  sed -e '/^\(ok\|not ok\) /!s/^/# /' -e 's/^# # /# /' "$TMP/$name.raw"
  pass=$((pass + $(grep -c '^ok ' "$TMP/$name.raw")))
  fail=$((fail + $(grep -c '^not ok ' "$TMP/$name.raw")))
  grep -qE '^(ok|not ok) ' "$TMP/$name.raw" || nok "$name: raw.py ran" "$(tail -n 3 "$TMP/$name.raw")"
  grep -q '^not ok ' "$TMP/$name.raw" && logtail
  sleep 1 # buffers released after the last connection's end
  if kill -0 "$SPID" 2>/dev/null; then
    back_to_baseline "$name"
  else
    nok "$name: the server is still running after the suite" "$(tail -n 3 "$LOG")"
  fi
  stop "$name"
  echo "#   ($name: $(($(date +%s) - t0)) s)"
}

# ---- main --------------------------------------------------------------------------------------
if [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { echo "not ok - tools/sn-certgen --out $CERTS"; echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$TMP"
cleanup() {
  local p
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  if [ "$fail" -eq 0 ] && [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case $WRONG in
  "")
    if [ ! -x "$DEMO" ]; then echo "not ok - $DEMO exists and is executable"; echo "0 passed, 1 failed"; exit 1; fi
    echo "# $DEMO on 127.0.0.1:$BASE (HTTPS) and :$((BASE + 1)) (HTTP)"
    suite sn_demo "$BASE"
    ;;
  strict)
    echo "# tests/ws/lax_server.py --mode strict (the suite's reference) on 127.0.0.1:$((BASE + 4))"
    suite strict $((BASE + 4))
    ;;
  *)
    # Self-check: every check must fail against a wrong server. Nothing waits long for what a
    # wrong server never sends.
    export WS_CLOSE_WAIT=1 WS_END_WAIT=1
    echo "# self-check: raw.py against tests/ws/lax_server.py's wrong servers (lax, fragile)"
    p=2
    for m in lax fragile; do
      suite $m $((BASE + p)) >"$TMP/self-$m.out"
      p=$((p + 1))
    done
    pass=0 fail=0 # the wrong servers' results are the material, not the result
    { $PY $RAW --list --ca "$CA"
      echo "lax: every WebSocket connection is closed afterwards (connections back to 1)"
      echo "lax: heap_bytes back to its baseline (within $TOL bytes)"; } >"$TMP/names"
    n=0
    while IFS= read -r name; do
      n=$((n + 1))
      key=${name#lax: }
      who=$(for m in lax fragile; do sed -e "s/^not ok - $m: /not ok - /" "$TMP/self-$m.out" |
        sed -n 's/^not ok - \([^:[]*\).*/\1/p' | sed 's/ *$//' | grep -qxF "$key" && echo $m; done | tr '\n' ' ')
      check "$([ -n "$who" ] && echo 0 || echo 1)" "self-check: '$key' fails against a wrong server [${who% }]" \
        "passed against both lax and fragile"
    done <"$TMP/names"
    echo "# self-check: $n checks; what the wrong servers got: $TMP/self-lax.out, $TMP/self-fragile.out"
    KEEP=1
    ;;
esac
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
