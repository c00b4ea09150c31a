#!/usr/bin/env bash
# bench/soak.sh - `make soak`: sn_demo (release build) under wrk with 100
# keep-alive HTTPS connections for SOAK_SECONDS, on a mix of routes
# (bench/soak.lua: /api/hello/soak, /api/status, a 3 KB POST /api/echo,
# /style.css, /app.js gzip, /). Measures, with the server at rest (no
# connection open) after a warm-up run and again after the soak:
#   RSS (VmRSS), heap_bytes (/api/status: glibc mallinfo2, exact with the
#   tcache off), open file descriptors (/proc/PID/fd); RSS also every 10 s
#   under load. Passes when wrk saw no error (connect, read, write, timeout,
#   non-2xx) and nothing grew beyond its tolerance:
#     heap_bytes  + SOAK_HEAP_TOL (4096) bytes: securenet and mbedTLS free every
#                 connection's memory on close; at rest the count is exact, so any
#                 growth is memory kept across requests (a leak or a cache without
#                 bound)
#     RSS         + SOAK_RSS_TOL_KB (2048) KiB: glibc keeps freed pages, so RSS at
#                 rest is the warm-up's high-water mark; fragmentation that grows
#                 over time, or a leak, shows as more
#     fds         equal
# Prints "ok - ..." / "not ok - ..." lines and "N passed, N failed"; exit 1 on failure.
#
# Settings (environment):
#   SOAK_SECONDS=600     length of the soak (CI: 60)
#   SOAK_WARMUP=10       seconds of the same load before the start figures
#   SOAK_PORT=17900      HTTPS port (17900-17999)
#   SOAK_EXTRA=          extra sn_demo flags (e.g. "--max-conns 50", to see the checks fail)
#   SN_DEMO=build/sn_demo, SN_CERTS=build/certs
set -u
top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top" || exit 1

SECS=${SOAK_SECONDS:-600}
WARM=${SOAK_WARMUP:-10}
PORT=${SOAK_PORT:-$((17900 + ($$ % 50) * 2))}
HEAP_TOL=${SOAK_HEAP_TOL:-4096}
RSS_TOL=${SOAK_RSS_TOL_KB:-2048}
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
CONNS=100
for v in SECS WARM PORT HEAP_TOL RSS_TOL; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "soak: $v must be a number (got '${!v}')" >&2; exit 2; }
done
[ "$PORT" -ge 17900 ] && [ "$PORT" -le 17999 ] || { echo "soak: SOAK_PORT must be 17900-17999" >&2; exit 2; }
command -v wrk >/dev/null || { echo "soak: wrk is missing (make deps)" >&2; exit 2; }
[ -x "$DEMO" ] && [ -f "$CERTS/server.pem" ] || { echo "soak: needs $DEMO and $CERTS (make build/sn_demo certs)" >&2; exit 2; }

OUT=build/soak
mkdir -p "$OUT"
LOG=$OUT/server.log
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

# glibc's tcache keeps up to 7 freed chunks per size class that mallinfo2 counts
# as in use; with it off, heap_bytes at rest is exact.
GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$DEMO" --https-port "$PORT" --cert "$CERTS/server.pem" \
  --key "$CERTS/server.key" --max-conns 128 ${SOAK_EXTRA:-} >"$LOG" 2>&1 &
SPID=$!
trap 'kill -9 $SPID 2>/dev/null' EXIT
for i in $(seq 1 100); do grep -q listening "$LOG" && break; sleep 0.1; done
grep -q listening "$LOG" || { nok "sn_demo starts on port $PORT" "$(tail -n 3 "$LOG")"; echo "$pass passed, $fail failed"; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status"; }
fds() { ls "/proc/$SPID/fd" | wc -l; }
heap() {
  curl -q -sS --max-time 10 --cacert "$CERTS/ca.pem" "https://localhost:$PORT/api/status" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["connections"], d.get("heap_bytes", -1))'
}
# at_rest: waits until only the asking connection is open; prints "HEAP RSS FDS"
at_rest() {
  local st i
  for i in $(seq 1 40); do
    st=$(heap)
    [ "${st%% *}" = 1 ] && break
    sleep 0.25
  done
  echo "${st#* } $(rss) $(fds)"
}
# wrk SECONDS OUTFILE: the load; its report goes to OUTFILE
run_wrk() {
  wrk -t2 -c$CONNS -d"$1"s --timeout 5s --latency -s bench/soak.lua "https://localhost:$PORT/" >"$2" 2>&1
}
# wrk_errors FILE: "connect read write timeout non2xx requests"
wrk_errors() {
  local f=$1 se n2
  se=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$f")
  n2=$(sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$f")
  echo "${se:-0 0 0 0} ${n2:-0} $(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$f")"
}

echo "soak: $DEMO on https://localhost:$PORT/, wrk -t2 -c$CONNS, ${WARM} s warm-up, ${SECS} s soak"
/usr/bin/python3 tests/abuse/abuse.py warm --port "$PORT" --ca "$CERTS/ca.pem" # fills the 32-entry session cache
run_wrk "$WARM" "$OUT/warmup.txt"
read -r HEAP0 RSS0 FD0 <<<"$(at_rest)"
echo "soak: at rest after warm-up: heap_bytes $HEAP0, RSS $RSS0 KiB, $FD0 fds"

# the soak itself, RSS sampled every 10 s
run_wrk "$SECS" "$OUT/wrk.txt" &
WPID=$!
: >"$OUT/rss.tsv"
t=0
while kill -0 $WPID 2>/dev/null; do
  sleep 1
  t=$((t + 1))
  [ $((t % 10)) = 0 ] && echo "$t $(rss)" >>"$OUT/rss.tsv"
done
wait $WPID
read -r HEAP1 RSS1 FD1 <<<"$(at_rest)"
read -r e_conn e_read e_write e_timeout e_non2xx nreq <<<"$(wrk_errors "$OUT/wrk.txt")"
sed -n '/Requests\/sec\|Latency  \|99%\|requests in\|Socket errors\|Non-2xx/p' "$OUT/wrk.txt" | sed 's/^/soak: wrk: /'
echo "soak: RSS under load (KiB, every 10 s): $(awk '{printf "%s ", $2}' "$OUT/rss.tsv")"
echo "soak: at rest after the soak: heap_bytes $HEAP1, RSS $RSS1 KiB, $FD1 fds"

check "$([ "${nreq:-0}" -gt 0 ] && echo 0 || echo 1)" "soak: wrk ran ${nreq:-0} requests in ${SECS} s" "$(tail -n 3 "$OUT/wrk.txt")"
check "$([ "$e_conn$e_read$e_write$e_timeout$e_non2xx" = 00000 ] && echo 0 || echo 1)" \
  "soak: no errors (connect $e_conn, read $e_read, write $e_write, timeout $e_timeout, non-2xx $e_non2xx)"
check "$([ "$HEAP1" -ge 0 ] && [ "$HEAP1" -le $((HEAP0 + HEAP_TOL)) ] && echo 0 || echo 1)" \
  "soak: heap_bytes at rest $HEAP0 -> $HEAP1 ($((HEAP1 - HEAP0)) bytes; tolerance $HEAP_TOL)"
check "$([ "$RSS1" -le $((RSS0 + RSS_TOL)) ] && echo 0 || echo 1)" \
  "soak: RSS at rest $RSS0 -> $RSS1 KiB ($((RSS1 - RSS0)) KiB; tolerance $RSS_TOL KiB)"
check "$([ "$FD1" -le "$FD0" ] && echo 0 || echo 1)" "soak: open file descriptors at rest $FD0 -> $FD1"
kill -TERM $SPID
wait $SPID
rc=$?
check "$([ "$rc" = 0 ] && echo 0 || echo 1)" "soak: sn_demo exits cleanly on SIGTERM (status $rc)" "$(tail -n 3 "$LOG")"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
