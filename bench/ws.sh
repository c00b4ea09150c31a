#!/bin/bash
# bench/ws.sh - `make bench`'s WebSocket figure: sn_demo's /ws echo against
# the same echo written with Node's `ws` module on `https`
# (bench/ws_echo_server.js), on loopback, with the same ECDSA P-256
# certificate (build/certs) and the same pinned suite (TLS 1.2
# ECDHE-ECDSA-AES128-GCM-SHA256, P-256; or TLS 1.3 TLS_AES_128_GCM_SHA256:
# BENCH_WS_TLS=13), alternating the two servers round after round (the
# order swapped each round), each freshly started, measures with one load
# client (bench/ws_load.c: C, OpenSSL, one thread, epoll):
#   echo round trips per second over 1 and over 50 connections (each sends
#   a message of BENCH_WS_BYTES, waits for the whole echo, checks it, sends
#   the next), the latency of a round trip (p50, p99), the server's CPU time
#   per round trip (all its threads, /proc/PID/task/*/schedstat), the
#   server's and the client's CPU share, how evenly the 50 connections were
#   served, and the server's peak RSS (VmHWM).
# Prints a table of medians with the ratio securenet / node and writes
# build/bench/ws/results.txt, results.json and the raw samples.tsv.
#
# Settings (environment):
#   BENCH_SECONDS=5        seconds measured per figure and round (integer >= 1)
#   BENCH_ROUNDS=3         alternations of the two servers (median over them)
#   BENCH_WS_WARMUP=1      seconds of round trips before each measurement (not counted)
#   BENCH_WS_BYTES=32      message size (24-65535)
#   BENCH_WS_TYPE=text     text or binary messages
#   BENCH_WS_TLS=12        12: TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256; 13: TLS 1.3 TLS_AES_128_GCM_SHA256
#   BENCH_WS_CONNS="1 50"  the connection counts measured
#   BENCH_WS_PORT_BASE=14440  servers on 127.0.0.1 BASE+1 (sn_demo), BASE+2 (node)
#   BENCH_MAX_CONNS=64     connection limit built into and given to sn_demo
#   BENCH_WS_SERVERS="sn_demo node"  the servers to run (a subset)
#   BENCH_NO_BUILD=1       use what is built; do not install, build or make certs
# A smoke run: BENCH_SECONDS=1 BENCH_ROUNDS=1 bench/ws.sh (about 20 s).
#
# Builds (unless BENCH_NO_BUILD): nodejs, node-ws and libssl-dev through
# tools/deps.sh; sn_demo as bench/run.sh does (-O2 against mbedTLS 3.6 into
# build/bench/m3, SN_MAX_CONNS=64); bench/ws_load.c into build/bench/ws_load.
set -eu
set -o pipefail

me=bench-ws
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top"

S=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WS_WARMUP:-1}
BYTES=${BENCH_WS_BYTES:-32}
TYPE=${BENCH_WS_TYPE:-text}
TLS=${BENCH_WS_TLS:-12}
CONNS=${BENCH_WS_CONNS:-1 50}
PORT_BASE=${BENCH_WS_PORT_BASE:-14440}
MAX_CONNS=${BENCH_MAX_CONNS:-64}
for v in S ROUNDS BYTES PORT_BASE MAX_CONNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $WARMUP =~ ^[0-9]+$ ]] && [ "$WARMUP" -le 60 ] || die "BENCH_WS_WARMUP must be 0-60"
if [ "$S" -gt 600 ] || [ "$ROUNDS" -gt 50 ]; then die "BENCH_SECONDS <= 600, BENCH_ROUNDS <= 50"; fi
[ "$BYTES" -ge 24 ] && [ "$BYTES" -le 65535 ] || die "BENCH_WS_BYTES must be 24-65535"
[ "$TYPE" = text ] || [ "$TYPE" = binary ] || die "BENCH_WS_TYPE must be text or binary"
[ "$TLS" = 12 ] || [ "$TLS" = 13 ] || die "BENCH_WS_TLS must be 12 or 13"
if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65000 ]; then die "BENCH_WS_PORT_BASE must be 1024-65000"; fi
for c in $CONNS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] && [ "$c" -lt "$MAX_CONNS" ] ||
        die "BENCH_WS_CONNS: '$c' is not 1 to BENCH_MAX_CONNS - 1 ($((MAX_CONNS - 1)))"
done
[ -n "$CONNS" ] || die "BENCH_WS_CONNS is empty"
ALL_SERVERS="sn_demo node"
SERVERS=
for w in ${BENCH_WS_SERVERS:-$ALL_SERVERS}; do
    [[ " $ALL_SERVERS " == *" $w "* ]] || die "BENCH_WS_SERVERS: unknown '$w' (from: $ALL_SERVERS)"
done
for a in $ALL_SERVERS; do [[ " ${BENCH_WS_SERVERS:-$ALL_SERVERS} " != *" $a "* ]] || SERVERS="${SERVERS:+$SERVERS }$a"; done
[ -n "$SERVERS" ] || die "BENCH_WS_SERVERS is empty"
has() { [[ " $SERVERS " == *" $1 "* ]]; }

OUT=$top/build/bench/ws
LOGS=$OUT/logs
CERT=$top/build/certs/server.pem
KEY=$top/build/certs/server.key
CA=$top/build/certs/ca.pem
SN_DEMO=$top/build/bench/m3/sn_demo
WS_LOAD=$top/build/bench/ws_load
NODE_SERVER=$top/bench/ws_echo_server.js

# ---- what the run needs ------------------------------------------------------
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    tools/deps.sh nodejs node-ws libssl-dev
    if has sn_demo; then
        make -s MBEDTLS=3 MBEDTLS_SOURCE=1 BUILD=build/bench/m3 CFLAGS="-O2 -g -DSN_MAX_CONNS=$MAX_CONNS" build/bench/m3/sn_demo
    fi
    make -s certs
fi
if [ ! -x "$WS_LOAD" ] || [ bench/ws_load.c -nt "$WS_LOAD" ]; then
    mkdir -p "$(dirname "$WS_LOAD")"
    "${CC:-cc}" -std=c99 -Wall -Wextra -Werror -pedantic -O2 -o "$WS_LOAD" bench/ws_load.c -lssl -lcrypto ||
        die "could not build $WS_LOAD (libssl-dev)"
fi
! has sn_demo || [ -x "$SN_DEMO" ] || die "missing $SN_DEMO"
for f in "$CERT" "$KEY" "$CA"; do [ -f "$f" ] || die "missing $f (make certs)"; done
for t in python3 timeout; do command -v "$t" >/dev/null || die "missing $t"; done
NODE=
if has node; then
    NODE=$(command -v node || command -v nodejs || true)
    [ -n "$NODE" ] || die "missing node (apt-get install nodejs)"
    # Debian's node-ws is /usr/share/nodejs/ws: on node's default path for
    # Debian's nodejs, not for others' (nodesource): say where it is.
    export NODE_PATH=${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs:/usr/lib/nodejs
    WS_DIR=$("$NODE" -e 'console.log(require("path").dirname(require.resolve("ws/package.json")))' 2>/dev/null) ||
        die "node finds no 'ws' module (apt-get install node-ws; or NODE_PATH)"
fi

mkdir -p "$OUT" "$LOGS"
SAMPLES=$OUT/samples.tsv
META=$OUT/meta.tsv
: >"$SAMPLES"
: >"$META"

# Pinning: the server on CPU 0, the load client on CPU 1 (as bench/run.sh).
pin=0
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=1; fi
run_on() {          # run_on CPU CMD...  (execs: $! of `run_on ... &` is CMD's pid)
    local cpu=$1
    shift
    if [ $pin = 1 ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

# ---- servers -------------------------------------------------------------------
pids=()
cleanup() {
    local p
    for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in ${pids[@]+"${pids[@]}"}; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

srv_pid=
srv_port=
start_server() {    # start_server NAME ROUND
    local name=$1 round=$2 log=$LOGS/$1.$2.log i
    case $name in
        sn_demo) srv_port=$((PORT_BASE + 1)) ;;
        node) srv_port=$((PORT_BASE + 2)) ;;
    esac
    ! port_open "$srv_port" || die "port $srv_port is in use (BENCH_WS_PORT_BASE)"
    case $name in
        sn_demo)
            run_on 0 "$SN_DEMO" --https-port "$srv_port" --bind 127.0.0.1 --cert "$CERT" --key "$KEY" \
                --max-conns "$MAX_CONNS" >"$log" 2>&1 &
            ;;
        node)
            run_on 0 "$NODE" "$NODE_SERVER" "$srv_port" "$CERT" "$KEY" "$TLS" >"$log" 2>&1 &
            ;;
    esac
    srv_pid=$!
    pids+=("$srv_pid")
    for i in $(seq 100); do
        kill -0 "$srv_pid" 2>/dev/null || { cat "$log" >&2; die "$name exited at start (log: $log)"; }
        if port_open "$srv_port"; then break; fi
        [ "$i" -lt 100 ] || die "$name does not listen on port $srv_port after 10 s"
        sleep 0.1
    done
}

stop_server() {
    local p=$srv_pid keep=() q
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    for q in ${pids[@]+"${pids[@]}"}; do [ "$q" = "$p" ] || keep+=("$q"); done
    pids=(${keep[@]+"${keep[@]}"})
}

sample() {          # sample SERVER FIGURE ROUND VALUE [NOTE]
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$SAMPLES"
}

tls_seen=
measure() {         # measure SERVER ROUND
    local server=$1 round=$2 c out log key v note fig
    for c in $CONNS; do
        log=$LOGS/ws_load.$server.$round.c$c.log
        out=$(run_on 1 timeout $((S + WARMUP + 60)) "$WS_LOAD" -c "$c" -d "$S" -w "$WARMUP" -s "$BYTES" -t "$TYPE" \
              -T "$TLS" -A "$CA" -n localhost -p /ws -P "$srv_pid" 127.0.0.1 "$srv_port" 2>&1) || true
        printf '%s\n' "$out" >"$log"
        note=$(sed -n 's/^ws_load: error: //p' <<<"$out" | head -n 1)
        [ -n "$note" ] || grep -q '^ws_load: rt_per_s ' <<<"$out" || note="ws_load failed: $(tail -n 1 <<<"$out")"
        fig=ws$c
        for key in rt_per_s p50_us p99_us server_cpu_us_per_rt server_cpu_pct client_cpu_pct per_conn_min per_conn_max; do
            v=$(sed -n "s/^ws_load: $key //p" <<<"$out")
            [ -n "$v" ] && [ -z "$note" ] || v=nan
            if [ "$key" = rt_per_s ]; then sample "$server" "${fig}_$key" "$round" "$v" "$note"
            else sample "$server" "${fig}_$key" "$round" "$v"; fi
        done
        sample "$server" "${fig}_fair_pct" "$round" "$(awk -v a="$(sed -n 's/^ws_load: per_conn_min //p' <<<"$out")" \
            -v b="$(sed -n 's/^ws_load: per_conn_max //p' <<<"$out")" 'BEGIN { print (b > 0) ? 100 * a / b : "nan" }')"
        [ -n "$tls_seen" ] || tls_seen=$(sed -n 's/^ws_load: tls //p' <<<"$out")
        if [ -n "$note" ]; then
            say "  $c conn(s): failed: $note"
        else
            say "  $c conn(s): $(sed -n 's/^ws_load: rt_per_s //p' <<<"$out") round trips/s," \
                "server $(sed -n 's/^ws_load: server_cpu_us_per_rt //p' <<<"$out") us CPU each," \
                "server $(sed -n 's/^ws_load: server_cpu_pct //p' <<<"$out")% / client $(sed -n 's/^ws_load: client_cpu_pct //p' <<<"$out")% CPU"
        fi
    done
    sample "$server" rss_kib "$round" "$(awk '/^VmHWM:/ {print $2}' "/proc/$srv_pid/status")"
}

# ---- the machine and the tools ---------------------------------------------------
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
meta cpu "${cpu_model:-unknown}, $(nproc) CPUs online"
if [ $pin = 1 ]; then
    meta pinning "server on CPU 0, load client (ws_load) on CPU 1 (taskset)"
else
    meta pinning "none (taskset missing or fewer than 2 CPUs): server and client share the CPUs"
fi
meta kernel "$(uname -sr)"
meta securenet "$(sed -n 's/^#define SN_VERSION "\(.*\)"/\1/p' securenet.h) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- securenet.h securenet_port_posix.h examples 2>/dev/null || echo ' + local changes'), sn_demo -O2, mbedTLS 3.6, SN_MAX_CONNS=$MAX_CONNS"
! has node || meta node "node $("$NODE" -p process.versions.node), ws $("$NODE" -p "require('ws/package.json').version") ($WS_DIR), node's OpenSSL $("$NODE" -p process.versions.openssl)"
meta client "bench/ws_load.c, $(openssl version 2>/dev/null | cut -d' ' -f1-2 || echo OpenSSL), one thread, epoll"
meta load "loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$TLS" = 12 ]; then
    meta tls "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, P-256 (cert and ECDHE), pinned by the client (and by the node server)"
else
    meta tls "TLS 1.3 TLS_AES_128_GCM_SHA256, P-256 (cert and ECDHE), pinned by the client (and by the node server)"
fi
meta message "$BYTES bytes, $TYPE, round trips one at a time on each connection; ${WARMUP} s warm-up"
meta servers "$SERVERS"
meta conns "$CONNS"
meta rounds "$ROUNDS"
meta seconds "$S"

say "$ROUNDS round(s) x $S s per figure (+ $WARMUP s warm-up); ports $((PORT_BASE + 1))-$((PORT_BASE + 2)); $(sed -n 's/^pinning\t//p' "$META")"
t_start=$SECONDS
order=$SERVERS
for round in $(seq "$ROUNDS"); do
    for server in $order; do
        say "round $round/$ROUNDS: $server"
        start_server "$server" "$round"
        measure "$server" "$round"
        stop_server
    done
    # the other order next round: neither server always runs first
    order=$(printf '%s\n' $order | tac | tr '\n' ' ')
done
meta negotiated "${tls_seen:-?} (ws_load checks it on every connection)"
say "measured in $((SECONDS - t_start)) s"
echo
python3 bench/ws_report.py "$SAMPLES" "$META" "$OUT/results.txt" "$OUT/results.json"
echo
say "results: $(realpath --relative-to="$top" "$OUT")/results.txt, results.json (raw: samples.tsv, logs/)"
