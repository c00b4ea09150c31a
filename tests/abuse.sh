#!/usr/bin/env bash
# Abuse tests: sn_demo on loopback under load and hostility over time (the
# malformed single requests are tests/integration.sh's errors group). Each
# scenario starts its own server with short timeouts, runs one attack from
# tests/abuse/abuse.py for a bounded time and checks that:
#   - a normal client (curl, verifying the certificate) is served within a bound
#     while the attack runs, and after it;
#   - the attack's own checks hold (abuse.py's ok/not ok lines);
#   - every connection is gone afterwards and heap_bytes (/api/status) is back
#     within ABUSE_HEAP_TOL of the baseline taken before the attack;
#   - the server exits cleanly on SIGTERM with no ASan/UBSan/LeakSanitizer report.
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N failed";
# exit 1 if any failed. Lines starting with "#" are notes.
#
# Environment:
#   SN_DEMO        the server binary (default build/sn_demo; build/asan/sn_demo for ASan/UBSan)
#   SN_CERTS       certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE   first of 20 loopback ports (default: a block 17000 + k * 20 where nothing listens, tests/free-ports; within 17000-17499)
#   SN_TMP         scratch directory (default build/abuse-tmp.$$; removed unless a check failed)
#   ABUSE_HEAP_TOL bytes heap_bytes may stay above its baseline (default 4096, see below)
#   ABUSE_ONLY     run only the scenarios named (space-separated: loris halfopen idle maxconns
#                  stall garbage reneg cuts traversal bigcl)
#   ABUSE_EXTRA    extra sn_demo flags for every server (to weaken it on purpose, e.g.
#                  "--request-timeout-ms 60000", and see the checks fail)
#
# Heap tolerance: the server runs with glibc's tcache off (see start), so
# heap_bytes counts exactly what is allocated (ASan's count is exact anyway).
# After abuse.py warm (40 full handshakes: mbedTLS's 32-entry session cache is
# full, the DRBG set up) it no longer moves at rest: every scenario measured
# 0 bytes of difference, release and ASan. Each scenario opens 300 to 2000
# connections, so 4 KiB over the baseline would be a leak of 2 to 14 bytes per
# connection; a real one (an sn_conn is 1.2 KiB, an mbedTLS context several
# KiB) is far beyond it.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 17000 24 20)}
TMP=${SN_TMP:-build/abuse-tmp.$$}
TOL=${ABUSE_HEAP_TOL:-4096}
PY=/usr/bin/python3
AB=tests/abuse/abuse.py
CA=$CERTS/ca.pem
# The short timeouts every scenario runs with (sn_demo's defaults are 10 s, 10 s, 30 s).
REQ_S=2 HS_S=2 IDLE_S=3
TIMEOUTS="--request-timeout-ms $((REQ_S * 1000)) --handshake-timeout-ms $((HS_S * 1000)) --idle-timeout-ms $((IDLE_S * 1000))"
pass=0 fail=0 pids="" LOG="" SPID=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 6 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

# ---- the server ----------------------------------------------------------------------------
# start NAME [sn_demo flags...]: HTTPS on $S, plain HTTP on $H; waits up to 10 s for "listening"
start() {
  local name=$1 i; shift
  LOG="$TMP/$name.log"
  # shellcheck disable=SC2086
  # glibc's tcache keeps freed small chunks counted as in use by mallinfo2 (up to 7 per
  # size class): without it, heap_bytes is exact. Allocation behaviour is otherwise unchanged.
  GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$DEMO" --https-port "$S" --http-port "$H" --cert "$CERTS/server.pem" --key "$CERTS/server.key" "$@" ${ABUSE_EXTRA:-} \
    >"$LOG" 2>&1 &
  SPID=$!
  pids="$pids $SPID"
  for i in $(seq 1 100); do
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
  local name=$1 rc i
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "still running after 10 s"
    return
  fi
  wait "$SPID"
  rc=$?
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
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status" 2>/dev/null; }
fds() { ls "/proc/$SPID/fd" 2>/dev/null | wc -l; }

# baseline NAME: warm the server up, then HEAP0 (heap_bytes with only the asking connection open)
baseline() {
  local name=$1 st
  $PY $AB warm --port "$S" --ca "$CA" >/dev/null 2>&1
  sleep 0.2
  st=$(status)
  HEAP0=${st#* } FD0=$(fds) RSS0=$(rss_kb)
  if [ -z "$st" ] || [ "$HEAP0" -lt 0 ]; then
    nok "$name: /api/status reports heap_bytes (glibc mallinfo2 or ASan)" "got '$st'"
    HEAP0=""
  fi
}

# back_to_baseline NAME: within 15 s every attacking connection is gone (connections 1:
# the one asking) and heap_bytes is within TOL of HEAP0; file descriptors back too
back_to_baseline() {
  local name=$1 st="" i conns heap
  for i in $(seq 1 30); do
    st=$(status)
    [ "${st%% *}" = 1 ] && break
    sleep 0.5
  done
  conns=${st%% *} heap=${st#* }
  check "$([ "$conns" = 1 ] && echo 0 || echo 1)" "$name: every attacking connection is closed afterwards (connections back to 1)" \
    "status '$st' after 15 s"
  [ -n "$HEAP0" ] && [ -n "$st" ] || return 0
  if [ "$heap" -gt $((HEAP0 + TOL)) ]; then # allocations may be on their way out: one more look
    sleep 2
    st=$(status)
    heap=${st#* }
  fi
  check "$([ "$heap" -le $((HEAP0 + TOL)) ] && echo 0 || echo 1)" \
    "$name: heap_bytes back to its baseline (within $TOL bytes): $HEAP0 before, $heap after ($((heap - HEAP0)) bytes)" \
    "$((heap - HEAP0)) bytes over"
  # the connection that asked for the status may still be closing (its linger): a few looks
  for i in $(seq 1 10); do
    [ "$(fds)" -le "$FD0" ] && break
    sleep 0.3
  done
  check "$([ "$(fds)" -le "$FD0" ] && echo 0 || echo 1)" "$name: open file descriptors back to $FD0" "$(fds) open"
}

# attack NAME BOUND abuse.py-args...: runs the attack in the background and, while it runs
# and once after it, a normal client every 0.5 s: curl GET /api/hello/probe then /api/status
# on one connection, each within BOUND seconds. Prints the attack's lines; MAXCONN is the
# most connections /api/status reported meanwhile.
attack() {
  local name=$1 bound=$2 apid n=0 bad=0 worst=0 t0 t1 ms out after=0 conns
  shift 2
  MAXCONN=0
  $PY $AB "$@" --port "$S" --http-port "$H" --ca "$CA" >"$TMP/$name.attack" 2>&1 &
  apid=$!
  pids="$pids $apid"
  sleep 0.5
  while :; do # the last probe starts after the attack has ended
    kill -0 $apid 2>/dev/null || after=1
    t0=$(date +%s%N)
    out=$(timeout $((bound + 5)) curl -q -sS --max-time "$bound" --cacert "$CA" \
      "https://localhost:$S/api/hello/probe" "https://localhost:$S/api/status" 2>&1)
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    n=$((n + 1))
    if ! grep -q "^hello, probe" <<<"$out"; then
      bad=$((bad + 1))
      echo "#   probe $n failed after $ms ms: $(tail -n1 <<<"$out" | cut -c1-120)"
    fi
    [ "$ms" -gt "$worst" ] && worst=$ms
    conns=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$conns" ] && [ "$conns" -gt "$MAXCONN" ] && MAXCONN=$conns
    [ "$after" = 1 ] && break
    sleep 0.5
  done
  wait $apid
  sed -e '/^\(ok\|not ok\) /!s/^/# /' -e 's/^# # /# /' "$TMP/$name.attack"
  pass=$((pass + $(grep -c '^ok ' "$TMP/$name.attack")))
  fail=$((fail + $(grep -c '^not ok ' "$TMP/$name.attack")))
  grep -qE '^(ok|not ok) ' "$TMP/$name.attack" || nok "$name: abuse.py $1 ran" "$(tail -n 3 "$TMP/$name.attack")"
  grep -q '^not ok ' "$TMP/$name.attack" && logtail
  check "$([ "$bad" = 0 ] && echo 0 || echo 1)" \
    "$name: a normal client is served within $bound s during and after the attack ($n probes, slowest $worst ms, up to $MAXCONN connections open)" \
    "$bad of $n probes failed"
}

alive_after() { # NAME: no sanitizer report so far and the server still runs
  local name=$1
  if ! kill -0 "$SPID" 2>/dev/null; then nok "$name: the server is still running" "$(tail -n 3 "$LOG")"; return 1; fi
  if sanitizer_report; then
    nok "$name: no ASan/UBSan report in the server's output"
    grep -m8 -E "ERROR:|runtime error:|SUMMARY|#[0-9] " "$LOG" | sed 's/^/#   /'
  fi
  return 0
}

# scenario NAME: run it unless ABUSE_ONLY leaves it out
want() { [ -z "${ABUSE_ONLY:-}" ] || grep -qw "$1" <<<"$ABUSE_ONLY"; }

# ---- scenarios -------------------------------------------------------------------------------
# Slow loris: 300 connections (SN_MAX_CONNS is 128 and the listen backlog 128, so
# some wait in the backlog and a few in SYN retransmission), each sending one
# header byte per second and reconnecting when closed, for 8 s. A slot turns
# over within the request timeout (2 s), so a normal client waits at most a few
# turnovers: bound 12 s. After the attack every loris must be closed by the
# server within 14 s (the backlog drains in 2 s steps).
scenario_loris() {
  start loris $TIMEOUTS || return
  baseline loris
  attack loris 12 loris --mode tls --conns 300 --seconds 8 --drain 14 --max-life $((REQ_S + 2))
  attack loris-plain 12 loris --mode plain --conns 300 --seconds 8 --drain 14
  alive_after loris && back_to_baseline loris
  stop loris
}
# Half-open TLS handshakes: a ClientHello, then silence (the handshake timeout, 2 s).
scenario_halfopen() {
  start halfopen $TIMEOUTS || return
  baseline halfopen
  attack halfopen 12 loris --mode handshake --conns 300 --seconds 8 --drain 14 --max-life $((HS_S + 2))
  alive_after halfopen && back_to_baseline halfopen
  stop halfopen
}
# Idle TLS connections after the handshake: bounded by the request timeout (no first request yet).
scenario_idle() {
  start idle $TIMEOUTS || return
  baseline idle
  attack idle 12 loris --mode idle --conns 300 --seconds 8 --drain 14 --max-life $((REQ_S + 2))
  alive_after idle && back_to_baseline idle
  stop idle
}
# More connections than max_conns (16): idle ones are evicted, mid-request ones never,
# the excess wait in the backlog and are all served; the server never holds more than 16.
scenario_maxconns() {
  start maxconns --max-conns 16 $TIMEOUTS || return
  baseline maxconns
  attack maxconns 12 maxconns --max-conns 16 --request-timeout $REQ_S
  check "$([ "$MAXCONN" -le 16 ] && echo 0 || echo 1)" "maxconns: /api/status never counted more than 16 connections (max-conns 16)" \
    "saw $MAXCONN"
  alive_after maxconns && back_to_baseline maxconns
  stop maxconns
}
# A client that stops reading a 50 MB download (12 of them: /api/blob and /stream,
# TLS and plain): the server must hold no more than its per-connection buffers,
# and drop them at the idle timeout (3 s) after the last byte moved.
# Per-connection bound: mbedTLS's two 16 KiB record buffers and context, our send
# buffer grown to one 16 KiB chunk: measured about 60 KiB for TLS; 128 KiB each
# leaves room, while buffering the body would be megabytes per connection.
scenario_stall() {
  local i st heap conns maxheap=0 maxrss=0 t_stall t_gone="" now rss
  start stall $TIMEOUTS || return
  baseline stall
  $PY $AB stall --conns 12 --seconds 9 --port "$S" --http-port "$H" --ca "$CA" >"$TMP/stall.attack" 2>&1 &
  local apid=$!
  pids="$pids $apid"
  for i in $(seq 1 100); do grep -q STALLED "$TMP/stall.attack" && break; sleep 0.1; done
  t_stall=$(date +%s%N)
  for i in $(seq 1 16); do
    st=$(status)
    conns=${st%% *} heap=${st#* } rss=$(rss_kb)
    now=$((($(date +%s%N) - t_stall) / 1000000))
    [ -n "$heap" ] && [ "$heap" -gt "$maxheap" ] && maxheap=$heap
    [ -n "$rss" ] && [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    [ -z "$t_gone" ] && [ "$conns" = 1 ] && t_gone=$now
    sleep 0.4
  done
  wait $apid
  sed -e '/^\(ok\|not ok\) /!s/^/# /' -e 's/^# # /# /' "$TMP/stall.attack" | grep -v '^# STALLED'
  pass=$((pass + $(grep -c '^ok ' "$TMP/stall.attack")))
  fail=$((fail + $(grep -c '^not ok ' "$TMP/stall.attack")))
  grep -qE '^(ok|not ok) ' "$TMP/stall.attack" || nok "stall: abuse.py stall ran" "$(tail -n 3 "$TMP/stall.attack")"
  echo "#   stall: heap_bytes $HEAP0 at rest, at most $maxheap while stalled; RSS ${RSS0} KiB at rest, at most $maxrss KiB"
  check "$([ "$maxheap" -le $((HEAP0 + 12 * 131072)) ] && echo 0 || echo 1)" \
    "stall: heap stays bounded while 12 clients stall 50 MB downloads (at most 128 KiB each over the baseline; $(((maxheap - HEAP0) / 1024)) KiB)" \
    "$(((maxheap - HEAP0) / 1024)) KiB over"
  check "$([ "$maxrss" -le $((RSS0 + 32768)) ] && echo 0 || echo 1)" \
    "stall: RSS stays within 32 MiB of its resting size ($(((maxrss - RSS0) / 1024)) MiB more)" "$(((maxrss - RSS0) / 1024)) MiB more"
  check "$([ -n "$t_gone" ] && [ "$t_gone" -ge $((IDLE_S * 1000 - 500)) ] && [ "$t_gone" -le $((IDLE_S * 1000 + 3000)) ] && echo 0 || echo 1)" \
    "stall: the server drops the stalled connections at its idle timeout (${IDLE_S} s; gone ${t_gone:-never} ms after the stall)" \
    "gone after ${t_gone:-never (6 s)} ms"
  attack stall-after 5 traversal # a normal client right after (traversal is quick)
  alive_after stall && back_to_baseline stall
  stop stall
}
# TLS garbage (abuse.py garbage), with a normal client beside it.
scenario_garbage() {
  start garbage $TIMEOUTS || return
  baseline garbage
  attack garbage 5 garbage --handshake-timeout $HS_S
  alive_after garbage && back_to_baseline garbage
  stop garbage
}
# Renegotiation requested by the client after the handshake (openssl s_client's R):
# refused, and the server keeps serving, on that connection's peers and others.
scenario_reneg() {
  local out
  start reneg $TIMEOUTS || return
  baseline reneg
  out=$( (sleep 0.5; printf 'R\n'; sleep 1.5) |
    timeout 10 openssl s_client -connect "127.0.0.1:$S" -servername localhost -CAfile "$CA" -tls1_2 -msg 2>&1)
  # refused: s_client asked (RENEGOTIATING, a second ClientHello went out), the server said
  # no (no_renegotiation, or any alert of its own) and no second ServerHello came
  grep -q "^RENEGOTIATING" <<<"$out" && [ "$(grep -cE '^>>> .*Handshake .*ClientHello$' <<<"$out")" = 2 ] &&
    [ "$(grep -cE '^<<< .*Handshake .*ServerHello$' <<<"$out")" = 1 ] && grep -qE '^<<< .*Alert .*(no_renegotiation|fatal)' <<<"$out"
  check $? "reneg: a client-initiated renegotiation (s_client R, TLS 1.2) is refused (no second ServerHello, the server's alert)" \
    "$(grep -E 'RENEGOTIATING|<<< .*(Alert|ServerHello)|:error:' <<<"$out" | head -n 6)"
  echo "#   reneg: s_client saw: $(grep -E '^<<< .*Alert|RENEGOTIATING|hello, afterR|:error:' <<<"$out" | tr '\n' ';' | cut -c1-300)"
  attack reneg-after 5 traversal
  alive_after reneg && back_to_baseline reneg
  stop reneg
}
# Disconnects at every stage (abuse.py cuts).
scenario_cuts() {
  start cuts $TIMEOUTS || return
  baseline cuts
  attack cuts 5 cuts
  alive_after cuts && back_to_baseline cuts
  stop cuts
}
# Heads announcing a large body (Content-Length 2000000, within sn_demo's max_body of
# 2 MiB) and then no body: 100 over plain HTTP, 16 over TLS. The server must not
# allocate what a head announces: heap_bytes over the baseline stays within 8 KiB per
# plain connection (the sn_conn struct and an SN_RX_INIT buffer; measured 3.5 KiB)
# and 96 KiB per TLS one (mbedTLS's context and records on top; measured 39 KiB),
# where allocating the announced length costs 2 MB each; after 5000 body bytes each, it
# grows by at most twice that. A normal client is served meanwhile.
scenario_bigcl() {
  start bigcl $TIMEOUTS || return
  baseline bigcl
  attack bigcl 5 bigcl --conns 100 --tls-conns 16 --heap-base "${HEAP0:-0}"
  alive_after bigcl && back_to_baseline bigcl
  stop bigcl
}
scenario_traversal() {
  start traversal $TIMEOUTS || return
  baseline traversal
  attack traversal 5 traversal
  alive_after traversal && back_to_baseline traversal
  stop traversal
}

# ---- main --------------------------------------------------------------------------------------
if [ ! -f "$CERTS/server.pem" ]; then
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
ulimit -n 4096 2>/dev/null

S=$BASE H=$((BASE + 1))
echo "# $DEMO on 127.0.0.1:$S (HTTPS) and :$H (HTTP); timeouts: request ${REQ_S} s, handshake ${HS_S} s, idle ${IDLE_S} s"
for s in loris halfopen idle maxconns stall garbage reneg cuts traversal bigcl; do
  want $s || continue
  t0=$(date +%s)
  "scenario_$s"
  echo "#   ($s: $(($(date +%s) - t0)) s)"
  S=$((S + 2)) H=$((H + 2)) # a fresh pair: no TIME_WAIT or backlog left from the last one
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
