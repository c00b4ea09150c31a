#!/usr/bin/env bash
# Request lifecycle tests (issue 16): requests that live longer than a handler
# call, against sn_demo's fixed interfaces, driven by curl and by Python's ssl
# module (tests/lifecycle/lc.py):
#   upload        curl PUTs SN_UPLOAD_MB MiB to /api/upload, chunked and with a
#                 Content-Length, generated as a stream (nothing on disk); the answer
#                 has the byte count and SHA-256; heap_bytes sampled every 0.2 s on a
#                 second connection stays within 8 KiB of its value during a small echo
#   expect        Expect: 100-continue with a Content-Length over 4 GiB: 413 first,
#                 no body sent, the connection closed; within the limit: 100 Continue
#   abort         a client leaving mid-upload (FIN, reset): "aborted" +1, heap back
#   backpressure  ?delay_ms=50 slows the client's writes (TCP window), heap flat
#   late          a client leaving before its deferred reply: "late" +1, heap back
#   delay         50 clients on /api/delay?ms=2000 while keep-alive requests are served
#   worker        /api/worker?ms=200 from another thread, one and 4 at once
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N failed";
# exit 1 if any failed. Lines starting with "#" are notes.
#
# Environment:
#   SN_DEMO       the server binary (default build/sn_demo); tests/lifecycle/standin.py
#                 is a stand-in with the same options and switchable bugs (LC_STANDIN_BUG,
#                 see there) that shows each check failing
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  the HTTPS port (default: a free one of 18500 + k * 4, tests/free-ports)
#   SN_TMP        scratch directory (default build/lc-tmp.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the server command, e.g. "valgrind -q --error-exitcode=9";
#                 then the upper time bounds are LC_SLOW (default 4) times longer
#   SN_UPLOAD_MB  MiB per curl upload (default 1024; tests/run.sh: 256 under ASan, 32 under valgrind)
#   LC_ONLY       the groups to run, space-separated (default: all, in the order above)
#   LC_SLOW       the factor for upper time bounds (default 1, 4 with SN_WRAP)
#   LC_HEAP_TOL   bytes heap_bytes may stay above its baseline at rest (default 4096)
#
# heap_bytes: the server runs with glibc's tcache off, so mallinfo2 counts exactly
# what is allocated (tests/abuse.sh); after `lc.py warm` (mbedTLS's session cache
# full) it does not move at rest. Under valgrind, whose allocator glibc's mallinfo2
# does not see, it says little; valgrind's own leak check at exit stands in (stop).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 18500 375 4)} # 18500-19999: no other suite's ports
TMP=${SN_TMP:-build/lc-tmp.$$}
MB=${SN_UPLOAD_MB:-1024}
SLOW=${LC_SLOW:-$([ -n "${SN_WRAP:-}" ] && echo 4 || echo 1)}
TOL=${LC_HEAP_TOL:-4096}
RUN=${LC_ONLY:-upload expect abort backpressure late delay worker}
PY=/usr/bin/python3
LC=tests/lifecycle/lc.py
CA=$CERTS/ca.pem
pass=0 fail=0 pids="" LOG="" SPID="" NOHEAP=""

# ---- reporting (as tests/integration.sh) -------------------------------------------------
ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 8 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

# ---- the server --------------------------------------------------------------------------
# start NAME [sn_demo flags...]: waits up to 10 s (60 s with SN_WRAP) for "listening"
start() {
  local name=$1 i n=100; shift
  [ -n "${SN_WRAP:-}" ] && n=600
  LOG="$TMP/$name.log"
  # glibc's tcache keeps freed small chunks counted as in use by mallinfo2: off, heap_bytes is exact
  GLIBC_TUNABLES=glibc.malloc.tcache_count=0 ${SN_WRAP:-} "$DEMO" --https-port "$S" --cert "$CERTS/server.pem" \
    --key "$CERTS/server.key" "$@" >"$LOG" 2>&1 &
  SPID=$!
  pids="$pids $SPID"
  for i in $(seq 1 $n); do
    grep -q listening "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: server starts and prints 'listening' within $((n / 10)) s"
  kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; reaped
  return 1
}
reaped() { pids=$(for p in $pids; do [ "$p" != "$SPID" ] && echo "$p"; done); }
# stop NAME: SIGTERM; exit 0 within 10 s (30 s under SN_WRAP); no sanitizer or leak report
stop() {
  local name=$1 rc i n=100
  [ -n "${SN_WRAP:-}" ] && n=300
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $n); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null; reaped
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer or leak report)" "still running after $((n / 10)) s"
    return
  fi
  wait "$SPID"; rc=$?; reaped
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]|indirectly lost: [1-9]" "$LOG"; then
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer or leak report)" "status $rc"
    grep -m8 -E "ERROR:|runtime error:|SUMMARY|definitely lost|indirectly lost|#[0-9] " "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer or leak report)"
  fi
}
# status: /api/status's JSON (empty if it did not answer)
status() { timeout 15 curl -q -sS --max-time 10 --cacert "$CA" "https://localhost:$S/api/status" 2>/dev/null; }

# ---- check 1: curl uploads, chunked and with a Content-Length ----------------------------
group_upload() {
  local n=$((MB * 1048576)) base mode code why framing samp maxt
  # a stall (under 100 kB/s for 15 s) ends curl long before this bound
  maxt=$(((60 + MB / 4) * SLOW))
  # Seen failing against today's sn_demo (no /api/upload: 404, the generator cut), and
  # against tests/lifecycle/standin.py with LC_STANDIN_BUG=sha (sha256 differs) and
  # LC_STANDIN_BUG=buffer-body (heap_bytes grows with the body).
  if ! base=$(timeout 30 $PY $LC echo-baseline --port "$S" --ca "$CA" 2>"$TMP/eb.err"); then
    nok "upload: heap_bytes read from /api/status during a small POST /api/echo" "$(cat "$TMP/eb.err") $base"
    base=0
  fi
  for mode in chunked length; do
    rm -f "$TMP/stop"
    samp="$TMP/samples.$mode"
    timeout $((maxt + 30)) $PY $LC sample --port "$S" --ca "$CA" --out "$samp" --stop "$TMP/stop" --max-s $((maxt + 10)) &
    local spid=$!
    sleep 0.3
    if [ $mode = chunked ]; then
      framing=(-H 'Expect:')
    else # curl sends a Content-Length it is given for a body of unknown size once Transfer-Encoding is unset
      framing=(-H "Content-Length: $n" -H 'Transfer-Encoding:' -H 'Expect:')
    fi
    timeout $((maxt + 20)) $PY $LC gen $n "$TMP/sha.$mode" |
      timeout $((maxt + 15)) curl -q -sS -v --max-time $maxt --speed-limit 100000 --speed-time 15 --cacert "$CA" \
        -T - "${framing[@]}" -H 'Content-Type: application/octet-stream' -o "$TMP/resp.$mode" -w '%{http_code}' \
        "https://localhost:$S/api/upload" >"$TMP/code.$mode" 2>"$TMP/curl.$mode"
    touch "$TMP/stop"
    wait $spid
    code=$(cat "$TMP/code.$mode")
    why=""
    if [ $mode = chunked ]; then
      grep -q '^> Transfer-Encoding: chunked' "$TMP/curl.$mode" || why="curl did not send Transfer-Encoding: chunked; "
    else
      grep -q "^> Content-Length: $n" "$TMP/curl.$mode" && ! grep -qi '^> Transfer-Encoding' "$TMP/curl.$mode" ||
        why="curl did not send Content-Length: $n alone; "
    fi
    [ "$code" = 200 ] || why+="status $code $(grep -E '^curl:' "$TMP/curl.$mode" | head -n1); "
    timeout 120 $PY $LC judge --resp "$TMP/resp.$mode" --sha "$TMP/sha.$mode" --bytes $n --samples "$samp" \
      --base "$base" --tol 8192 $NOHEAP >"$TMP/judge.$mode" 2>&1
    grep '^#' "$TMP/judge.$mode"
    why+=$(grep -v '^#' "$TMP/judge.$mode")
    check "$([ -z "$why" ] && echo 0 || echo 1)" \
      "upload: curl PUTs $MB MiB ($([ $mode = chunked ] && echo chunked || echo Content-Length)) to /api/upload: the answer has its bytes and sha256, $([ -n "$NOHEAP" ] && echo "heap_bytes not measured here" || echo "heap_bytes within 8 KiB of a small echo's meanwhile")" \
      "$why"
  done
}

# ---- checks 2-7: Python clients (lc.py), one group each ----------------------------------
py_group() {
  local g=$1 out
  out=$(timeout $((180 * SLOW)) $PY $LC check "$g" --port "$S" --ca "$CA" --tol "$TOL" --slow "$SLOW" $NOHEAP 2>&1)
  echo "$out" | grep -E '^(ok|not ok|#) '
  echo "$out" | grep -vE '^(ok|not ok|#) ' | grep . | tail -n 5 | sed 's/^/#   lc.py: /'
  pass=$((pass + $(grep -c '^ok ' <<<"$out")))
  fail=$((fail + $(grep -c '^not ok ' <<<"$out")))
  if grep -q '^not ok ' <<<"$out"; then logtail; fi
  if ! grep -qE '^(ok|not ok) ' <<<"$out"; then nok "lc.py check $g ran" "$(tail -n 3 <<<"$out")"; fi
}

# ---- command line ------------------------------------------------------------------------
[ $# -eq 0 ] || { echo "usage: $0 (no arguments; see the environment in its header)" >&2; exit 2; }
if [ ! -d "$CERTS" ] || [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { echo "not ok - tools/sn-certgen --out $CERTS"; echo "0 passed, 1 failed"; exit 1; }
fi
if [ ! -x "$DEMO" ]; then echo "not ok - $DEMO exists and is executable"; echo "0 passed, 1 failed"; exit 1; fi
mkdir -p "$TMP"
cleanup() {
  local p
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# $DEMO on port $S, uploads of $MB MiB, time bounds x$SLOW${SN_WRAP:+, under $SN_WRAP}"
if start lifecycle; then
  timeout $((120 * SLOW)) $PY $LC warm --port "$S" --ca "$CA" || nok "lifecycle: 44 handshakes to warm the server up"
  st=$(status)
  grep -q '"heap_bytes"' <<<"$st" || echo "# /api/status has no heap_bytes (the heap checks fail): $st"
  if grep -qE '"heap_bytes": *0[,}]' <<<"$st"; then # valgrind's allocator: glibc's mallinfo2 sees none of it
    NOHEAP=--no-heap
    echo "# heap_bytes is 0 (an allocator mallinfo2 does not see): not compared; the leak check at exit stands in"
  fi
  for g in $RUN; do
    case $g in
      upload) group_upload ;;
      expect | abort | backpressure | late | delay | worker) py_group "$g" ;;
      *) nok "LC_ONLY: a known group" "'$g'" ;;
    esac
  done
  st=$(status)
  grep -q '"uptime_ms"' <<<"$st"
  check $? "lifecycle: still answers GET /api/status after the checks above" "$st"
  stop lifecycle
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
