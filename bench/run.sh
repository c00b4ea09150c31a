#!/bin/bash
# bench/run.sh - `make bench`: sn_demo against mbedTLS's ssl_server2 and nginx
#
# On loopback, with the same ECDSA P-256 certificate (build/certs), the same
# suite (TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, TLS 1.3 TLS_AES_128_GCM_SHA256)
# and the same key-exchange group (P-256), alternating the three servers
# round after round (sn_demo, ssl_server2, nginx, sn_demo, ...), measures:
#   keep-alive requests/s and p99 latency at 1 and 50 connections (wrk),
#   full and resumed handshakes/s, TLS 1.2 and 1.3 (openssl s_time -new /
#   -reuse, resumption checked connection by connection), the server's CPU
#   time per request and per handshake (/proc/PID/schedstat), a 1 MiB
#   download's throughput (wrk), a streamed upload's throughput (curl -T,
#   256 MiB to PUT /api/upload; sn_demo's answer checked: byte count and
#   SHA-256), a signed firmware update's throughput beside it (figure ota:
#   a BENCH_OTA_MB MiB image PUT to /api/firmware into a slot file under
#   build/bench, and a plain PUT /api/upload of the same size, alternated;
#   the ratio is the verifier's cost), a password check's cost beside a
#   TLS 1.3 handshake's (figure auth: bench/auth_cost.c, on the server's
#   CPU, alternating one sn_user_check of BENCH_AUTH_ITERATIONS and one full
#   handshake served by securenet on the in-memory port, the server's share
#   timed; the ratio is check / handshake) and the server's peak RSS (VmHWM).
# Prints a table of medians with sn_demo's ratio to each peer and writes
# build/bench/results.txt, results.json and the raw samples.tsv.
#
# Settings (environment):
#   BENCH_SECONDS=5     seconds per figure and round (integer >= 1)
#   BENCH_ROUNDS=3      alternations of the three servers (median over them)
#   BENCH_HS_CLIENTS=2  s_time processes at once for the handshake figures
#   BENCH_PORT_BASE=14430  servers on 127.0.0.1 BASE+1..BASE+3 (14000-14996)
#   BENCH_MAX_CONNS=64  connection limit given to sn_demo and nginx
#   BENCH_UPLOAD_MB=256 size of the uploaded body in MiB (1-4095)
#   BENCH_SERVERS="sn_demo ssl_server2 nginx"  the servers to run (a subset)
#   BENCH_OTA_MB=64     payload of the signed image for the ota figure in MiB (1-1024)
#   BENCH_AUTH_ITERATIONS=10000  PBKDF2 iterations of the auth figure's check (1000-10000000)
#   BENCH_FIGURES="keepalive handshake download upload ota auth"  the figures (a subset;
#                       the peak RSS is always taken)
#   BENCH_NO_BUILD=1    use what is built; do not install, build or make certs
# A smoke run: BENCH_SECONDS=1 BENCH_ROUNDS=1 bench/run.sh (about a minute);
# BENCH_UPLOAD_MB=16 makes its uploads short.
#
# Builds (unless BENCH_NO_BUILD): wrk and nginx-light through tools/deps.sh;
# ssl_server2 through tools/build-mbedtls3.sh --programs into
# build/mbedtls-3.6-bench (run with bench/nodelay.c preloaded: TCP_NODELAY
# like the others); sn_demo at -O2 against mbedTLS 3.6 into
# build/bench/m3 with SN_MAX_CONNS=64 (the default 16 cannot hold 50
# keep-alive connections: beyond it idle ones are evicted).
set -eu
set -o pipefail

me=bench
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top"

S=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
HS_CLIENTS=${BENCH_HS_CLIENTS:-2}
PORT_BASE=${BENCH_PORT_BASE:-14430}
MAX_CONNS=${BENCH_MAX_CONNS:-64}
UPLOAD_MB=${BENCH_UPLOAD_MB:-256}
OTA_MB=${BENCH_OTA_MB:-64}
AUTH_ITER=${BENCH_AUTH_ITERATIONS:-10000}
for v in S ROUNDS HS_CLIENTS PORT_BASE MAX_CONNS UPLOAD_MB OTA_MB AUTH_ITER; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
if [ "$S" -gt 600 ] || [ "$ROUNDS" -gt 50 ] || [ "$HS_CLIENTS" -gt 16 ]; then
    die "BENCH_SECONDS <= 600, BENCH_ROUNDS <= 50, BENCH_HS_CLIENTS <= 16"
fi
if [ "$PORT_BASE" -lt 14000 ] || [ "$PORT_BASE" -gt 14996 ]; then die "BENCH_PORT_BASE must be 14000-14996"; fi
[ "$MAX_CONNS" -ge 51 ] || die "BENCH_MAX_CONNS must be at least 51 (50 wrk connections)"
[ "$UPLOAD_MB" -le 4095 ] || die "BENCH_UPLOAD_MB must be 1-4095"
[ "$OTA_MB" -le 1024 ] || die "BENCH_OTA_MB must be 1-1024"
[ "$AUTH_ITER" -ge 1000 ] && [ "$AUTH_ITER" -le 10000000 ] || die "BENCH_AUTH_ITERATIONS must be 1000-10000000"
ALL_SERVERS="sn_demo ssl_server2 nginx"
ALL_FIGURES="keepalive handshake download upload ota auth"
subset() {          # subset NAME WANTED ALL -> the words of ALL that are in WANTED
    local w a out=""
    for w in $2; do [[ " $3 " == *" $w "* ]] || die "$1: unknown '$w' (from: $3)"; done
    for a in $3; do [[ " $2 " != *" $a "* ]] || out="${out:+$out }$a"; done
    [ -n "$out" ] || die "$1 is empty"
    echo "$out"
}
SERVERS=$(subset BENCH_SERVERS "${BENCH_SERVERS:-$ALL_SERVERS}" "$ALL_SERVERS")
FIGS=$(subset BENCH_FIGURES "${BENCH_FIGURES:-$ALL_FIGURES}" "$ALL_FIGURES")
has() { [[ " $SERVERS $FIGS " == *" $1 "* ]]; }

OUT=$top/build/bench
LOGS=$OUT/logs
CERT=$top/build/certs/server.pem
KEY=$top/build/certs/server.key
CA=$top/build/certs/ca.pem
SN_DEMO=$top/build/bench/m3/sn_demo
AUTH_COST=$top/build/bench/m3/sn_auth_cost
MBED_BENCH=$top/build/mbedtls-3.6-bench
SSL_SERVER2=$MBED_BENCH/bin/ssl_server2
NGINX=/usr/sbin/nginx
CNF12=$top/bench/openssl-tls12.cnf
CNF13=$top/bench/openssl-tls13.cnf
SMALL=/api/hello/bench        # 13 bytes of body from sn_demo and nginx
BLOB_BYTES=1048576
UPLOAD_BYTES=$((UPLOAD_MB * 1048576))
UPLOAD_FILE=$top/build/bench/upload-${UPLOAD_MB}m.bin
OTA_DIR=$top/build/bench/ota
OTA_SLOT=$top/build/bench/ota-slot.$$.img   # removed at exit
SIGN=${SN_SIGN:-$top/tools/sn-sign}

# ---- what the run needs ------------------------------------------------------
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    tools/deps.sh wrk nginx-light openssl python3 curl
    if has ssl_server2; then tools/build-mbedtls3.sh --programs "$MBED_BENCH" | tail -n 1; fi
    if has sn_demo; then
        make -s MBEDTLS=3 MBEDTLS_SOURCE=1 BUILD=build/bench/m3 CFLAGS="-O2 -g -DSN_MAX_CONNS=$MAX_CONNS" build/bench/m3/sn_demo \
            $(has auth && echo build/bench/m3/sn_auth_cost)
    fi
    make -s certs
fi
# ssl_server2 leaves Nagle on: bench/nodelay.c sets TCP_NODELAY as the others do
NODELAY=$top/build/bench/nodelay.so
if [ ! -f "$NODELAY" ] || [ bench/nodelay.c -nt "$NODELAY" ]; then
    mkdir -p "$(dirname "$NODELAY")"
    "${CC:-cc}" -std=c99 -Wall -Wextra -Werror -pedantic -O2 -shared -fPIC -o "$NODELAY" bench/nodelay.c -ldl
fi
! has sn_demo || [ -x "$SN_DEMO" ] || die "missing $SN_DEMO"
! has sn_demo || ! has auth || [ -x "$AUTH_COST" ] || die "missing $AUTH_COST"
! has ssl_server2 || [ -x "$SSL_SERVER2" ] || die "missing $SSL_SERVER2"
! has nginx || [ -x "$NGINX" ] || die "missing $NGINX"
for f in "$CERT" "$KEY" "$CA"; do [ -f "$f" ] || die "missing $f (make certs)"; done
for t in wrk openssl python3 timeout curl sha256sum; do command -v "$t" >/dev/null || die "missing $t"; done

mkdir -p "$OUT" "$LOGS"

# The upload's body: made once (the same bytes every time: AES-128-CTR of
# zeros under a fixed passphrase), reused; its SHA-256 kept beside it.
if has upload; then
    if [ ! -f "$UPLOAD_FILE" ] || [ "$(stat -c %s "$UPLOAD_FILE")" != "$UPLOAD_BYTES" ]; then
        say "making the upload body: $UPLOAD_MB MiB in $(realpath --relative-to="$top" "$UPLOAD_FILE")"
        rm -f "$UPLOAD_FILE" "$UPLOAD_FILE.sha256"
        { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:securenet-bench-upload -in /dev/zero 2>/dev/null || true; } |
            head -c "$UPLOAD_BYTES" >"$UPLOAD_FILE.tmp"
        [ "$(stat -c %s "$UPLOAD_FILE.tmp")" = "$UPLOAD_BYTES" ] || die "could not make $UPLOAD_FILE"
        mv "$UPLOAD_FILE.tmp" "$UPLOAD_FILE"
    fi
    if [ ! -s "$UPLOAD_FILE.sha256" ] || [ "$UPLOAD_FILE" -nt "$UPLOAD_FILE.sha256" ]; then
        sha256sum "$UPLOAD_FILE" | cut -d' ' -f1 >"$UPLOAD_FILE.sha256"
    fi
    UPLOAD_SHA256=$(cat "$UPLOAD_FILE.sha256")
    [[ $UPLOAD_SHA256 =~ ^[0-9a-f]{64}$ ]] || die "bad $UPLOAD_FILE.sha256"
fi
# The ota figure's image: the first BENCH_OTA_MB MiB of the same stream,
# signed with a bench key (tools/sn-sign keygen, made once); the plain
# upload beside it is the image itself (the same bytes, the same size).
if has ota; then
    [ -x "$SIGN" ] || die "missing $SIGN (tools/sn-sign; SN_SIGN names another)"
    mkdir -p "$OTA_DIR"
    [ -s "$OTA_DIR/sign.key" ] || "$SIGN" keygen "$OTA_DIR" >/dev/null || die "$SIGN keygen failed"
    OTA_IMG=$OTA_DIR/image-${OTA_MB}m.img
    if [ ! -s "$OTA_IMG" ] || [ "$OTA_DIR/sign.key" -nt "$OTA_IMG" ]; then
        say "making the signed image: $OTA_MB MiB payload in $(realpath --relative-to="$top" "$OTA_IMG")"
        { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:securenet-bench-ota -in /dev/zero 2>/dev/null || true; } |
            head -c $((OTA_MB * 1048576)) >"$OTA_DIR/payload.tmp"
        "$SIGN" sign --key "$OTA_DIR/sign.key" --version "bench-$OTA_MB" "$OTA_DIR/payload.tmp" "$OTA_IMG.tmp" >/dev/null ||
            die "$SIGN sign failed"
        rm -f "$OTA_DIR/payload.tmp"
        mv "$OTA_IMG.tmp" "$OTA_IMG"
    fi
    OTA_BYTES=$(stat -c %s "$OTA_IMG")
    OTA_SHA256=$(sha256sum "$OTA_IMG" | cut -d' ' -f1)
fi
SAMPLES=$OUT/samples.tsv
META=$OUT/meta.tsv
: >"$SAMPLES"
: >"$META"

# Pinning: the server on CPU 0, the load (wrk, s_time) on CPU 1.
pin=0
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=1; fi
run_on() {          # run_on CPU CMD...  (execs: $! of `run_on ... &` is CMD's pid)
    local cpu=$1
    shift
    if [ $pin = 1 ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

# ---- servers -------------------------------------------------------------------
pids=()             # every process started and not yet reaped, for the trap
cleanup() {
    local p
    for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for p in ${pids[@]+"${pids[@]}"}; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -f "$OTA_SLOT" "$OTA_SLOT.part"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() {          # forget PID: drop it from the trap's list
    local p keep=()
    for p in ${pids[@]+"${pids[@]}"}; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=(${keep[@]+"${keep[@]}"})
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

srv_pid=        # the process measured (nginx: its one worker)
srv_all=()      # the processes to stop
srv_port=

start_server() {    # start_server NAME ROUND
    local name=$1 round=$2 log=$LOGS/$1.$2.log pid i
    case $name in
        sn_demo) srv_port=$((PORT_BASE + 1)) ;;
        ssl_server2) srv_port=$((PORT_BASE + 2)) ;;
        nginx) srv_port=$((PORT_BASE + 3)) ;;
    esac
    ! port_open "$srv_port" || die "port $srv_port is in use (BENCH_PORT_BASE)"
    case $name in
        sn_demo)
            local ota=()
            ! has ota || ota=(--ota-pub "$OTA_DIR/sign.pub.pem" --ota-slot "$OTA_SLOT" --ota-capacity "$OTA_BYTES")
            run_on 0 "$SN_DEMO" --https-port "$srv_port" --bind 127.0.0.1 --cert "$CERT" --key "$KEY" \
                --max-conns "$MAX_CONNS" "${ota[@]}" >"$log" 2>&1 &
            ;;
        ssl_server2)
            # its stdout narrates every connection: only errors are kept
            LD_PRELOAD=$NODELAY run_on 0 "$SSL_SERVER2" server_addr=127.0.0.1 server_port="$srv_port" \
                crt_file="$CERT" key_file="$KEY" ca_file=none auth_mode=none \
                min_version=tls12 max_version=tls13 tickets=1 >/dev/null 2>"$log" &
            ;;
        nginx)
            local prefix=$OUT/nginx user_line=""
            mkdir -p "$prefix/html" "$prefix/tmp"
            [ -s "$prefix/html/blob-1m" ] || head -c "$BLOB_BYTES" /dev/zero >"$prefix/html/blob-1m"
            # as root the worker would become "nobody": keep the current user
            [ "$(id -u)" != 0 ] || user_line="user $(id -un) $(id -gn);"
            sed -e "s|@USER_LINE@|$user_line|" -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$srv_port|g" \
                -e "s|@MAX_CONNS@|$MAX_CONNS|g" -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" \
                bench/nginx.conf.in >"$prefix/nginx.conf"
            run_on 0 "$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$log" 2>&1 &
            ;;
    esac
    pid=$!
    pids+=("$pid")
    srv_all=("$pid")
    srv_pid=$pid
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited at start (log: $log)"; }
        if port_open "$srv_port"; then break; fi
        [ "$i" -lt 100 ] || die "$name does not listen on port $srv_port after 10 s"
        sleep 0.1
    done
    if [ "$name" = ssl_server2 ] && ! grep -q nodelay.so "/proc/$pid/maps"; then
        sample ssl_server2 start "$round" nan "nodelay.so not loaded: Nagle is on"
    fi
    if [ "$name" = nginx ]; then
        local w=
        for i in $(seq 50); do
            w=$(pgrep -P "$pid" | head -n 1 || true)
            [ -z "$w" ] || break
            sleep 0.1
        done
        [ -n "$w" ] || die "no nginx worker process"
        pids+=("$w")
        srv_all+=("$w")
        srv_pid=$w
    fi
}

stop_server() {
    local p
    for p in "${srv_all[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${srv_all[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
        forget "$p"
    done
    srv_all=()
}

cpu_ns() { awk '{print $1}' "/proc/$srv_pid/schedstat"; }
now_ns() { date +%s%N; }

# ---- samples ---------------------------------------------------------------------
sample() {          # sample SERVER FIGURE ROUND VALUE [NOTE]
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$SAMPLES"
}

to_ms() {           # wrk's "2.71ms" / "840.00us" / "1.02s" -> ms
    awk -v t="$1" 'BEGIN {
        v = t + 0
        if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) ; else if (t ~ /m$/) v *= 60000; else if (t ~ /s$/) v *= 1000
        printf "%.3f", v }'
}

# run_wrk SERVER ROUND CONNS PATH -> sets wrk_rps wrk_p99 wrk_reqs wrk_cpu_us wrk_note
run_wrk() {
    local server=$1 round=$2 conns=$3 path=$4 out c0 c1 errs non2xx
    c0=$(cpu_ns)
    out=$(OPENSSL_CONF=$CNF12 run_on 1 timeout $((S + 30)) wrk -t1 -c"$conns" -d"${S}s" --timeout 5s \
          --latency "https://127.0.0.1:$srv_port$path" 2>&1) || true
    c1=$(cpu_ns)
    printf '%s\n' "$out" >"$LOGS/wrk.$server.$round.c$conns.${path//[^a-z0-9]/_}.log"
    wrk_rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    wrk_reqs=$(awk '/ requests in / {print $1}' <<<"$out")
    wrk_p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    wrk_note=
    if [ -z "$wrk_rps" ] || [ -z "$wrk_reqs" ] || [ "$wrk_reqs" = 0 ]; then
        wrk_rps=nan wrk_p99=nan wrk_cpu_us=nan
        wrk_note="wrk failed: $(tail -n 1 <<<"$out")"
        return 0
    fi
    wrk_p99=$(to_ms "$wrk_p99")
    wrk_cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$wrk_reqs" 'BEGIN {printf "%.1f", (b - a) / 1000 / n}')
    errs=$(sed -n 's/^ *Socket errors: //p' <<<"$out")
    non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' <<<"$out")
    [ -z "$errs" ] || wrk_note="socket errors: $errs"
    [ -z "$non2xx" ] || wrk_note="${wrk_note:+$wrk_note; }non-2xx responses: $non2xx"
    return 0
}

# run_stime SERVER ROUND VER(12|13) MODE(-new|-reuse) -> hs_rate hs_cpu_us hs_note
run_stime() {
    local server=$1 round=$2 ver=$3 mode=$4 cnf=$CNF12 t0 t1 c0 c1 i n total=0 r=0 star=0
    local lp=() f proto=(-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
    # s_time resets the protocol range the configuration sets: say it again
    [ "$ver" = 12 ] || cnf=$CNF13 proto=(-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256)
    c0=$(cpu_ns)
    t0=$(now_ns)
    for i in $(seq "$HS_CLIENTS"); do
        f=$LOGS/stime.$server.$round.tls$ver$mode.$i.log
        OPENSSL_CONF=$cnf run_on 1 timeout $((S + 30)) openssl s_time -connect "127.0.0.1:$srv_port" \
            "${proto[@]}" "$mode" -time "$S" -www "$SMALL" >"$f" 2>&1 &
        lp+=("$!")
        pids+=("$!")
    done
    for i in "${lp[@]}"; do wait "$i" || true; forget "$i"; done
    t1=$(now_ns)
    c1=$(cpu_ns)
    for i in $(seq "$HS_CLIENTS"); do
        f=$LOGS/stime.$server.$round.tls$ver$mode.$i.log
        n=$(awk '/ connections in / {print $1; exit}' "$f")
        total=$((total + ${n:-0}))
        # one character per connection: 'r' resumed, '*' full
        n=$(grep -E '^[*rt3]+$' "$f" | tr -d '\n' || true)
        r=$((r + $(tr -cd 'r' <<<"$n" | wc -c)))
        star=$((star + $(tr -cd '*' <<<"$n" | wc -c)))
    done
    hs_note=
    if [ "$total" = 0 ]; then
        hs_rate=nan hs_cpu_us=nan
        hs_note="s_time made no connection: $(tail -n 1 "$f")"
        return 0
    fi
    hs_rate=$(awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / ((b - a) / 1e9)}')
    hs_cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN {printf "%.1f", (b - a) / 1000 / n}')
    if [ "$mode" = -reuse ] && [ $((r * 100)) -lt $(((r + star) * 95)) ]; then
        hs_note="only $r of $((r + star)) connections resumed"
    elif [ "$mode" = -new ] && [ "$r" -gt 0 ]; then
        hs_note="$r of $((r + star)) connections resumed (should be full handshakes)"
    fi
    return 0
}

# run_upload SERVER ROUND -> ul_mbps ul_cpu_us ul_client_pct ul_note
# curl uploads the body (PUT /api/upload, Content-Length, no Expect), then
# asks GET /api/hello/bench on the same connection: the server reads that
# only after the last byte of the body, so the time from the body's first
# byte to that answer is the body's time whether the server answers the
# PUT at the end (sn_demo) or at once and discards the body (nginx).
# Repeated for BENCH_SECONDS (at least once, at most 50 times). The client's
# CPU share: curl's user + system time over its process's wall time.
run_upload() {
    local server=$1 round=$2 url="https://127.0.0.1:$srv_port" n=0 bytes=0 body_s=0 curl_s=0 cli_s=0
    local t0 c0 c1 w0 w1 log reply out up get rc got sum
    local tls=(--http1.1 --cacert "$CA" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
               --curves prime256v1 --connect-timeout 10 --max-time $((60 + UPLOAD_MB)))
    ul_note=
    c0=$(cpu_ns)
    t0=$(now_ns)
    while [ "$n" -lt 50 ] && { [ "$n" = 0 ] || [ $(($(now_ns) - t0)) -lt $((S * 1000000000)) ]; }; do
        n=$((n + 1))
        log=$LOGS/upload.$server.$round.$n.log
        reply=$LOGS/upload.$server.$round.$n.reply
        # the inner ( ) becomes curl (run_on execs); `times` then gives its CPU time
        w0=$(now_ns)
        out=$( ( (OPENSSL_CONF=$CNF12 run_on 1 curl -sS -v "${tls[@]}" -H 'Expect:' \
                    -H 'Content-Type: application/octet-stream' -T "$UPLOAD_FILE" -o "$reply" \
                    -w 'up %{http_code} %{size_upload} %{time_pretransfer} %{time_total}\n' "$url/api/upload" \
                    --next "${tls[@]}" -o "$reply.get" \
                    -w 'get %{http_code} %{num_connects} %{time_total}\n' "$url$SMALL" 2>"$log") &&
                    echo "rc 0" || echo "rc $?"
                  times) 2>&1) || true
        w1=$(now_ns)
        printf '%s\n' "$out" >>"$log"
        up=$(sed -n 's/^up //p' <<<"$out")
        get=$(sed -n 's/^get //p' <<<"$out")
        rc=$(sed -n 's/^rc //p' <<<"$out")
        if [ "$rc" != 0 ] || [ -z "$up" ] || [ -z "$get" ]; then
            ul_note="upload $n: curl failed (exit ${rc:-?}): $(grep -m1 '^curl: ' "$log" || true)"
        elif [ "$(cut -d' ' -f1 <<<"$up")" != 200 ]; then
            ul_note="upload $n: HTTP $(cut -d' ' -f1 <<<"$up") ($(head -c 80 "$reply" | tr -c '[:print:]' ' '))"
        elif [ "$(cut -d' ' -f2 <<<"$up")" != "$UPLOAD_BYTES" ]; then
            ul_note="upload $n: curl sent $(cut -d' ' -f2 <<<"$up") of $UPLOAD_BYTES bytes"
        elif [ "$(cut -d' ' -f1-2 <<<"$get")" != "200 0" ] || [ "$(cat "$reply.get")" != "hello, bench" ]; then
            ul_note="upload $n: the GET after it was not answered on the same connection ($get)"
        elif ! grep -q '^\* SSL connection using TLSv1\.2 / ECDHE-ECDSA-AES128-GCM-SHA256$' "$log"; then
            ul_note="upload $n: not TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256: $(grep -m1 'SSL connection using' "$log" || true)"
        elif [ "$server" = sn_demo ]; then
            # {"bytes": N, "sha256": "<hex>"}
            got=$(tr -d ' \n\r\t' <"$reply" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
            sum=$(tr -d ' \n\r\t' <"$reply" | sed -n 's/.*"sha256":"\([0-9a-fA-F]*\)".*/\1/p' | tr 'A-F' 'a-f')
            [ "$got" = "$UPLOAD_BYTES" ] || ul_note="upload $n: the server counted ${got:-?} bytes, not $UPLOAD_BYTES"
            [ -n "$ul_note" ] || [ "$sum" = "$UPLOAD_SHA256" ] ||
                ul_note="upload $n: the server's SHA-256 ${sum:-?} is not the body's $UPLOAD_SHA256"
        fi
        if [ -n "$ul_note" ]; then
            ul_mbps=nan ul_cpu_us=nan ul_client_pct=nan
            return 0
        fi
        bytes=$((bytes + UPLOAD_BYTES))
        # body: from after the handshake to the GET's answer
        body_s=$(awk -v s="$body_s" -v u="$up" -v g="$get" 'BEGIN {
            split(u, a, " "); split(g, b, " "); printf "%.6f", s + a[4] - a[3] + b[3] }')
        curl_s=$(awk -v s="$curl_s" -v a="$w0" -v b="$w1" 'BEGIN {printf "%.6f", s + (b - a) / 1e9}')
        # `times`: the shell's user and system time, then its children's ("0m0.090s 0m0.181s")
        cli_s=$(awk -v s="$cli_s" 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } }
            END { printf "%.6f", s }' < <(grep -E '^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$' <<<"$out"))
    done
    c1=$(cpu_ns)
    ul_mbps=$(awk -v b="$bytes" -v t="$body_s" 'BEGIN {printf "%.1f", b / t / 1e6}')
    ul_cpu_us=$(awk -v a="$c0" -v c="$c1" -v b="$bytes" 'BEGIN {printf "%.1f", (c - a) / 1000 / (b / 1e6)}')
    ul_client_pct=$(awk -v c="$cli_s" -v t="$curl_s" 'BEGIN {printf "%.0f", 100 * c / t}')
    say "  upload: $n x $UPLOAD_MB MiB, $ul_mbps MB/s"
    return 0
}

# run_ota SERVER ROUND -> ota_mbps ota_plain_mbps ota_ratio ota_note (sn_demo only)
# Alternates, for BENCH_SECONDS (at least one pair, at most 20): the signed
# image PUT to /api/firmware (streamed through the verifier into the slot
# file, fsynced and renamed: the answer's sha256 and the slot file checked)
# and the same bytes PUT to /api/upload (hashed with SHA-256 only, its answer
# checked). Time: curl's, from after the handshake to the answer. The ratio
# is the update's throughput over the plain upload's, in % (it pays the
# verifier and the slot file's write, fsync and rename).
run_ota() {
    local server=$1 round=$2 url="https://127.0.0.1:$srv_port" n=0 ota_s=0 plain_s=0 t0 kind path log reply up sum
    local tls=(--http1.1 --cacert "$CA" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
               --curves prime256v1 --connect-timeout 10 --max-time $((60 + OTA_MB)))
    ota_note=
    t0=$(now_ns)
    while [ "$n" -lt 20 ] && { [ "$n" = 0 ] || [ $(($(now_ns) - t0)) -lt $((S * 1000000000)) ]; }; do
        n=$((n + 1))
        for kind in plain ota; do
            path=/api/upload
            [ $kind = plain ] || path=/api/firmware
            log=$LOGS/ota.$kind.$round.$n.log
            reply=$LOGS/ota.$kind.$round.$n.reply
            rm -f "$OTA_SLOT"
            up=$(OPENSSL_CONF=$CNF12 run_on 1 curl -sS "${tls[@]}" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
                -T "$OTA_IMG" -o "$reply" -w '%{http_code} %{size_upload} %{time_pretransfer} %{time_total}' \
                "$url$path" 2>"$log") || true
            sum=$(tr -d ' \n\r\t' <"$reply" 2>/dev/null | sed -n 's/.*"sha256":"\([0-9a-fA-F]*\)".*/\1/p' | tr 'A-F' 'a-f')
            if [ "$(cut -d' ' -f1-2 <<<"$up")" != "200 $OTA_BYTES" ]; then
                ota_note="$kind $n: HTTP/sent '$up' ($(head -c 80 "$reply" 2>/dev/null | tr -c '[:print:]' ' '))"
            elif [ "$sum" != "$OTA_SHA256" ]; then
                ota_note="$kind $n: the server's SHA-256 ${sum:-?} is not the image's $OTA_SHA256"
            elif [ $kind = ota ] && ! cmp -s "$OTA_SLOT" "$OTA_IMG"; then
                ota_note="ota $n: the slot file is not the image"
            fi
            if [ -n "$ota_note" ]; then
                ota_mbps=nan ota_plain_mbps=nan ota_ratio=nan
                return 0
            fi
            if [ $kind = ota ]; then
                ota_s=$(awk -v s="$ota_s" -v u="$up" 'BEGIN { split(u, a, " "); printf "%.6f", s + a[4] - a[3] }')
            else
                plain_s=$(awk -v s="$plain_s" -v u="$up" 'BEGIN { split(u, a, " "); printf "%.6f", s + a[4] - a[3] }')
            fi
        done
    done
    rm -f "$OTA_SLOT"
    ota_mbps=$(awk -v b=$((n * OTA_BYTES)) -v t="$ota_s" 'BEGIN {printf "%.1f", b / t / 1e6}')
    ota_plain_mbps=$(awk -v b=$((n * OTA_BYTES)) -v t="$plain_s" 'BEGIN {printf "%.1f", b / t / 1e6}')
    ota_ratio=$(awk -v a="$ota_mbps" -v b="$ota_plain_mbps" 'BEGIN {printf "%.0f", 100 * a / b}')
    say "  ota: $n x ($OTA_BYTES bytes signed to /api/firmware, the same to /api/upload): $ota_mbps vs $ota_plain_mbps MB/s ($ota_ratio %)"
    return 0
}

# run_auth SERVER ROUND -> auth_check_us auth_hs_us auth_total_us auth_ratio auth_iter_eq auth_note
# bench/auth_cost.c on the server's CPU for BENCH_SECONDS: one sn_user_check
# of BENCH_AUTH_ITERATIONS, one full TLS 1.3 handshake (+ a small GET) served
# by securenet on the in-memory port to an mbedTLS client in the process,
# alternated; medians of the check's time and of the server's share of the
# handshake (its time in sn_poll). auth_iter_eq: the iteration count whose
# check would cost one handshake (linear in the count).
run_auth() {
    local server=$1 round=$2 out log=$LOGS/auth.$1.$2.log
    auth_note=
    out=$(run_on 0 timeout $((S * 4 + 60)) "$AUTH_COST" -i "$AUTH_ITER" -s "$S" -n 2000 "$CERT" "$KEY" "$CA" 2>&1) || true
    printf '%s\n' "$out" >"$log"
    auth_check_us=$(sed -n 's/^auth: check_us //p' <<<"$out")
    auth_hs_us=$(sed -n 's/^auth: handshake_server_us //p' <<<"$out")
    auth_total_us=$(sed -n 's/^auth: handshake_total_us //p' <<<"$out")
    auth_ratio=$(sed -n 's/^auth: ratio //p' <<<"$out")
    auth_iter_eq=$(sed -n 's/^auth: iterations_for_one_handshake //p' <<<"$out")
    if [ -z "$auth_check_us" ] || [ -z "$auth_hs_us" ] || [ -z "$auth_ratio" ]; then
        auth_check_us=nan auth_hs_us=nan auth_total_us=nan auth_ratio=nan auth_iter_eq=nan
        auth_note="auth_cost failed: $(tail -n 1 <<<"$out")"
        return 0
    fi
    say "  auth: one check of $AUTH_ITER iterations $auth_check_us us, the server's share of one full TLS 1.3 handshake $auth_hs_us us (CPU time): ratio $auth_ratio ($(sed -n 's/^auth: pairs //p' <<<"$out") pairs)"
    return 0
}

# What each server negotiates under the clients' configuration (round 1).
probe_tls() {       # probe_tls SERVER
    local ver cnf out proto suite group
    for ver in 12 13; do
        cnf=$CNF12
        [ $ver = 12 ] || cnf=$CNF13
        out=$(OPENSSL_CONF=$cnf timeout 10 openssl s_client -connect "127.0.0.1:$srv_port" \
              -servername localhost -CAfile "$CA" -verify_return_error </dev/null 2>&1) || true
        # "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" (always printed)
        read -r proto suite < <(sed -n 's/^New, \(TLSv1\.[0-9]\), Cipher is \(.*\)$/\1 \2/p' <<<"$out" | head -n 1) || true
        group=$(sed -n 's/^Server Temp Key: \(.*\)$/\1/p;s/^Negotiated TLS1.3 group: \(.*\)$/\1/p' <<<"$out" | head -n 1)
        say "  $1 under openssl-tls$ver.cnf: ${proto:-?} ${suite:-?} ${group:-?}"
        case "$ver $proto $suite" in
            "12 TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" | "13 TLSv1.3 TLS_AES_128_GCM_SHA256") ;;
            *) sample "$1" probe 1 nan "TLS 1.${ver#1} probe negotiated '${proto:-?} ${suite:-?}'" ;;
        esac
        case $group in *prime256v1* | *P-256* | *secp256r1*) ;;
            *) sample "$1" probe 1 nan "TLS 1.${ver#1} probe: key exchange '${group:-?}', not P-256" ;;
        esac
    done
    if [ "$1" = sn_demo ]; then
        out=$(OPENSSL_CONF=$CNF12 run_on 1 timeout 20 wrk -t1 -c1 -d1s -s bench/tls-probe.lua \
              "https://127.0.0.1:$srv_port/api/status" 2>&1 | sed -n 's/^probe: //p') || true
        say "  wrk under openssl-tls12.cnf, sn_demo's /api/status: $out"
        case $out in *TLSv1.2*TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256*) ;;
            *) sample sn_demo probe 1 nan "wrk did not negotiate TLS 1.2 ECDHE-ECDSA-AES128-GCM: $out" ;;
        esac
    fi
}

measure() {         # measure SERVER ROUND
    local server=$1 round=$2 ver mode fig
    if [ "$server" != ssl_server2 ] && has keepalive; then
        run_wrk "$server" "$round" 1 "$SMALL"
        sample "$server" ka1_rps "$round" "$wrk_rps" "$wrk_note"
        sample "$server" ka1_p99_ms "$round" "$wrk_p99"
        run_wrk "$server" "$round" 50 "$SMALL"
        sample "$server" ka50_rps "$round" "$wrk_rps" "$wrk_note"
        sample "$server" ka50_p99_ms "$round" "$wrk_p99"
        sample "$server" ka50_cpu_us "$round" "$wrk_cpu_us"
    fi
    for ver in 12 13; do
        has handshake || break
        for mode in -new -reuse; do
            fig=full
            [ $mode = -new ] || fig=res
            run_stime "$server" "$round" $ver $mode
            sample "$server" "$fig${ver}_hs" "$round" "$hs_rate" "$hs_note"
            sample "$server" "$fig${ver}_cpu_us" "$round" "$hs_cpu_us"
        done
    done
    if [ "$server" != ssl_server2 ] && has download; then
        local path=/blob-1m
        [ "$server" != sn_demo ] || path="/api/blob?bytes=$BLOB_BYTES"
        run_wrk "$server" "$round" 1 "$path"
        sample "$server" dl_mbps "$round" \
            "$(awk -v r="$wrk_rps" -v b="$BLOB_BYTES" 'BEGIN {print (r == "nan") ? "nan" : r * b / 1e6}')" "$wrk_note"
    fi
    if [ "$server" != ssl_server2 ] && has upload; then
        run_upload "$server" "$round"
        sample "$server" ul_mbps "$round" "$ul_mbps" "$ul_note"
        sample "$server" ul_cpu_us "$round" "$ul_cpu_us"
        sample "$server" ul_client_pct "$round" "$ul_client_pct"
    fi
    if [ "$server" = sn_demo ] && has ota; then
        run_ota "$server" "$round"
        sample "$server" ota_mbps "$round" "$ota_mbps" "$ota_note"
        sample "$server" ota_plain_mbps "$round" "$ota_plain_mbps"
        sample "$server" ota_ratio "$round" "$ota_ratio"
    fi
    if [ "$server" = sn_demo ] && has auth; then
        run_auth "$server" "$round"
        sample "$server" auth_check_us "$round" "$auth_check_us" "$auth_note"
        sample "$server" auth_hs_us "$round" "$auth_hs_us"
        sample "$server" auth_hs_total_us "$round" "$auth_total_us"
        sample "$server" auth_ratio "$round" "$auth_ratio"
        sample "$server" auth_iter_eq "$round" "$auth_iter_eq"
    fi
    sample "$server" rss_kib "$round" "$(awk '/^VmHWM:/ {print $2}' "/proc/$srv_pid/status")"
}

# ---- the machine and the tools ---------------------------------------------------
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
meta cpu "${cpu_model:-unknown}, $(nproc) CPUs online"
if [ $pin = 1 ]; then
    meta pinning "server on CPU 0, load (wrk, s_time) on CPU 1 (taskset)"
else
    meta pinning "none (taskset missing or fewer than 2 CPUs): server and load share the CPUs"
fi
meta kernel "$(uname -sr)"
meta compiler "$(${CC:-cc} --version | head -n 1)"
meta mbedtls "$(sed -n 's/.*version=\([^ ]*\).*/\1/p' "$MBED_BENCH/.built" 2>/dev/null || echo '?') (sn_demo and ssl_server2, -O2)"
meta openssl "$(openssl version) (s_time; wrk's and curl's libssl)"
meta curl "$(curl --version | head -n 1 | cut -d' ' -f1-2)"
meta wrk "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
meta nginx "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), 1 worker"
meta securenet "$(sed -n 's/^#define SN_VERSION "\(.*\)"/\1/p' securenet.h) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- securenet.h securenet_port_posix.h examples 2>/dev/null || echo ' + local changes'), SN_MAX_CONNS=$MAX_CONNS"
meta load "loadavg at start $(cut -d' ' -f1-3 /proc/loadavg); wrk -t1; $HS_CLIENTS s_time at once; limit $MAX_CONNS connections"
meta tls "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, TLS 1.3 TLS_AES_128_GCM_SHA256, P-256 (cert and ECDHE); keep-alive, download and upload on TLS 1.2"
! has upload || meta upload "$UPLOAD_MB MiB body (build/bench/$(basename "$UPLOAD_FILE"), SHA-256 ${UPLOAD_SHA256:-?}), curl -T, PUT /api/upload, then a GET on the same connection"
! has ota || meta ota "$OTA_MB MiB payload signed ($OTA_BYTES bytes, build/bench/ota/$(basename "$OTA_IMG")), curl -T to PUT /api/firmware (slot file under build/bench, fsync + rename), alternated with the same bytes to PUT /api/upload"
! has auth || meta auth "bench/auth_cost.c on CPU 0: one sn_user_check of $AUTH_ITER PBKDF2-HMAC-SHA256 iterations alternated with one full TLS 1.3 handshake (TLS_AES_128_GCM_SHA256, P-256 ECDHE, the ECDSA P-256 certificate, + GET) served by securenet on securenet_port_mem.h to an mbedTLS client in the process; the server's time in sn_poll"
meta servers "$SERVERS"
meta figures "$FIGS"
meta rounds "$ROUNDS"
meta seconds "$S"

say "$ROUNDS round(s) x $S s per figure; ports $((PORT_BASE + 1))-$((PORT_BASE + 3)); $(sed -n 's/^pinning\t//p' "$META")"
t_start=$SECONDS
for round in $(seq "$ROUNDS"); do
    for server in $SERVERS; do
        say "round $round/$ROUNDS: $server"
        start_server "$server" "$round"
        [ "$round" != 1 ] || probe_tls "$server"
        measure "$server" "$round"
        stop_server
    done
done
say "measured in $((SECONDS - t_start)) s"
echo
python3 bench/report.py "$SAMPLES" "$META" "$OUT/results.txt" "$OUT/results.json"
echo
say "results: $(realpath --relative-to="$top" "$OUT")/results.txt, results.json (raw: samples.tsv, logs/)"
