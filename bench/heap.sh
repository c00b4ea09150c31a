#!/usr/bin/env bash
# make heap: securenet's RAM with mbedTLS 3.6 and configs/sn_mbedtls_minimal.h,
# 32-bit (-m32), measured with real peers on loopback:
#   - heap (counted through SN_MALLOC/SN_FREE and mbedtls_platform_set_calloc_free,
#     user bytes, from before sn_mgr_create): full and resumed HTTPS exchanges
#     with openssl s_client (TLS 1.3 and 1.2), idle keep-alive connections (1, 4,
#     8 at once), one WebSocket (/ws, an echo) with Python's websockets
#     (bench/heap_ws.py): idle, one 4088 B message each way, 100 more round trips,
#     one SMTPS mail and a burst of 10 to tests/smtp/server.py
#     (aiosmtpd, implicit TLS, build/certs);
#   - static RAM (.data + .bss) of securenet for Cortex-M4 and -m32, and of the
#     mbedTLS libraries; sizeof the main structures;
#   - the deepest stack below main (stack painting).
#   bench/heap.sh [--sites] [--massif]
#     --sites   also print, for the full handshake and the mail, the live blocks
#               at the peak by call site
#     --massif  also run the full-exchange scenario under valgrind massif
#   Environment: HEAP_CONFIG (default sn_mbedtls_minimal), HEAP_CFLAGS (extra
#   flags for the program, e.g. "-DSN_RX_INIT=1024 -DSN_TX_INIT=1024"),
#   HEAP_MBEDTLS_FLAGS (given to mbedTLS and the program alike, e.g.
#   "-DMBEDTLS_SSL_OUT_CONTENT_LEN=2048": the configs take such overrides),
#   HEAP_PORT (first of two loopback ports, default 15200-15398).
set -u
cd "$(dirname "$0")/.." || exit 1
SITES=0 MASSIF=0
for a in "$@"; do
  case $a in
    --sites) SITES=1 ;;
    --massif) MASSIF=1 ;;
    *) echo "usage: bench/heap.sh [--sites] [--massif]" >&2; exit 2 ;;
  esac
done
CFG=${HEAP_CONFIG:-sn_mbedtls_minimal}
SRC=$(ls -d build/apt-trixie/src/mbedtls-3.6.*/ 2>/dev/null | head -n 1)
SRC=${SRC%/}
if [ -z "$SRC" ] || [ ! -f "$SRC/library/ssl_tls.c" ]; then
  echo "heap: mbedTLS 3.6 sources missing: run tools/build-mbedtls3.sh (or make mbedtls3)" >&2
  exit 1
fi
for t in gcc openssl /usr/bin/python3 addr2line; do
  command -v $t >/dev/null || { echo "heap: $t is missing" >&2; exit 1; }
done
OUT=build/heap
XF=(${HEAP_MBEDTLS_FLAGS:-})
LIB=$OUT/lib-$CFG$( [ ${#XF[@]} -gt 0 ] && echo "-$(echo "${XF[*]}" | sha256sum | cut -c1-8)")
mkdir -p "$LIB/obj"
MBED_FLAGS=(-m32 -O2 -std=c99 -I"$SRC/include" -I"$SRC/library" -Iconfigs "-DMBEDTLS_CONFIG_FILE=\"$CFG.h\"" "${XF[@]}")

# ---- mbedTLS 3.6 with the configuration: rebuilt only when an input changed
stamp=$( { echo "${MBED_FLAGS[*]}"; gcc --version | head -n 1; cat "configs/$CFG.h"; ls -l "$SRC"/library/*.c "$SRC"/include/*/*.h; } |
  sha256sum | cut -c1-16)
if [ "$(cat "$LIB/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "heap: building mbedTLS $(basename "$SRC") with configs/$CFG.h (-m32 -O2) into $LIB" >&2
  rm -f "$LIB"/obj/*.o "$LIB"/*.a "$LIB/stamp"
  export SRC LIB
  if ! ls "$SRC"/library/*.c | xargs -P 2 -I{} sh -c \
      'gcc "$@" -Werror -c "$0" -o "$LIB/obj/$(basename "$0" .c).o" || exit 255' {} "${MBED_FLAGS[@]}"; then
    echo "heap: mbedTLS does not build with configs/$CFG.h" >&2
    exit 1
  fi
  ( cd "$LIB/obj" &&
    ar rcs ../libmbedx509.a x509*.o pkcs7.o &&
    ar rcs ../libmbedtls.a ssl*.o debug.o net_sockets.o mps_*.o 2>/dev/null ||
    ar rcs ../libmbedtls.a ssl*.o debug.o net_sockets.o ) || exit 1
  ( cd "$LIB/obj" && ar rcs ../libmbedcrypto.a $(ls *.o | grep -v -E '^(x509|pkcs7|ssl|debug|net_sockets|mps_)') ) || exit 1
  echo "$stamp" > "$LIB/stamp"
fi

# ---- the measuring program (-m32, -g and no PIE: call sites resolve with addr2line)
BIN=$OUT/heap_server-$CFG$( [ ${#XF[@]} -gt 0 ] && echo "-$(echo "${XF[*]}" | sha256sum | cut -c1-8)")
W=(-Wall -Wextra -Werror -pedantic)
PROG_FLAGS=(-m32 -O2 -g -no-pie -std=c99 -I. -isystem "$SRC/include" -Iconfigs "-DMBEDTLS_CONFIG_FILE=\"$CFG.h\"" "${XF[@]}" ${HEAP_CFLAGS:-})
LIBS=("$LIB/libmbedtls.a" "$LIB/libmbedx509.a" "$LIB/libmbedcrypto.a" -pthread)
build_prog() { gcc "${PROG_FLAGS[@]}" "$@" bench/heap.c "${LIBS[@]}" -o "$BIN"; }
build_prog "${W[@]}"

# ---- static RAM and code
impl=$OUT/impl.c
printf '#define SECURENET_IMPLEMENTATION\n#include "securenet.h"\n' > "$impl"
printf '#define SECURENET_IMPLEMENTATION\n#include "securenet.h"\n#include "securenet_port_posix.h"\n' > "$OUT/impl_posix.c"
static_line() { # label, object or archive
  size -t "$2" 2>/dev/null | tail -n 1 | awk -v l="$1" '{printf "  %-52s text %7d  data %5d  bss %6d\n", l, $1, $2, $3}'
}
echo
echo "== static RAM (.data + .bss) and code (.text), $CFG"
gcc -m32 -O2 -std=c99 "${W[@]}" -I. -isystem "$SRC/include" -Iconfigs "-DMBEDTLS_CONFIG_FILE=\"$CFG.h\"" \
  -c "$OUT/impl_posix.c" -o "$OUT/impl_m32.o" && static_line "securenet + POSIX port, gcc -m32 -O2" "$OUT/impl_m32.o"
if command -v arm-none-eabi-gcc >/dev/null; then
  arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -std=c99 "${W[@]}" -I. -isystem "$SRC/include" -Iconfigs \
    "-DMBEDTLS_CONFIG_FILE=\"$CFG.h\"" -c "$impl" -o "$OUT/impl_cm4.o" &&
    size -t "$OUT/impl_cm4.o" | tail -n 1 |
    awk '{printf "  %-52s text %7d  data %5d  bss %6d\n", "securenet (no port), Cortex-M4 -Os", $1, $2, $3}'
fi
for l in "${LIBS[@]}"; do [ "$l" = -pthread ] && continue; static_line "$(basename "$l") (-m32 -O2)" "$l"; done

# ---- scenarios
T=$(mktemp -d)
PIDS=()
cleanup() {
  { exec 3>&-; } 2>/dev/null
  { exec 4>&-; } 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
PORT=${HEAP_PORT:-$((15200 + ($$ % 100) * 2))}
SPORT=$((PORT + 1))
CERTS=build/certs
if [ ! -f $CERTS/server.pem ]; then echo "heap: $CERTS missing (make certs)" >&2; exit 1; fi
mkdir -p "$T/mail"
timeout 600 /usr/bin/python3 tests/smtp/server.py --port $SPORT --mode implicit --cert $CERTS/server.pem \
  --key $CERTS/server.key --maildir "$T/mail" >"$T/smtp.out" 2>&1 &
PIDS+=($!)
start_server() { # https port (0: none), output file, [wrapper...]
  local port=$1 of=$2
  shift 2
  { exec 3>&-; } 2>/dev/null # (a bare "exec 3>&- 2>/dev/null" would silence the script from here on)
  rm -f "$T/ctl" && mkfifo "$T/ctl"
  OUTF=$of
  timeout 600 "$@" "$BIN" $port $SPORT $CERTS/server.pem $CERTS/server.key $CERTS/ca.pem <"$T/ctl" >"$OUTF" 2>"$T/err" &
  SRV=$!
  PIDS+=($SRV)
  exec 3>"$T/ctl"
}
start_server $PORT "$T/out"

wait_for() { # file, pattern, seconds: waits until the pattern is in the file
  local i=0
  while ! grep -q -- "$2" "$1" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    if [ $i -gt $(($3 * 20)) ]; then echo "heap: timed out waiting for '$2' in $1" >&2; cat "$T/err" >&2; exit 1; fi
  done
}
ask() { # command, reply prefix: prints the reply line
  local n
  n=$(grep -c -- "^$2" "$OUTF")
  echo "$1" >&3
  local i=0
  while [ "$(grep -c -- "^$2" "$OUTF")" -le "$n" ]; do
    sleep 0.02
    i=$((i + 1))
    if [ $i -gt 500 ]; then echo "heap: no answer to $1" >&2; cat "$T/err" >&2; exit 1; fi
  done
  grep -- "^$2" "$OUTF" | tail -n 1
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
wait_for "$T/out" "^ready" 10
wait_for "$T/smtp.out" "^ready" 10
setup=$(grep "^ready" "$T/out")
BASE=$(field current "$setup")
SETUP_PEAK=$(field peak "$setup")
REQ="GET /hello HTTP/1.1\r\nHost: localhost\r\n"
client() { # tls-flag, session-option, extra request header line; runs one exchange, prints s_client's output
  printf "$REQ$3\r\n" | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername localhost \
    -CAfile $CERTS/ca.pem -verify_return_error $1 $2 -ign_eof 2>&1
}
ROWS=()
row() { ROWS+=("$(printf '| %-44s | %9s | %9s | %s |' "$1" "$2" "$3" "$4")"); }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
wait_conns() { # n: until the server holds n connections
  local i=0 c
  while :; do
    c=$(ask count count:)
    [ "$(field conns "$c")" = "$1" ] && break
    sleep 0.05
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "heap: connections did not reach $1: $c" >&2; break; }
  done
}
sites() { # title
  [ $SITES = 1 ] || return 0
  echo
  echo "== live blocks at the peak of: $1 (bytes, count, call site)"
  ask sites "sites: end" >/dev/null
  # the last dump only
  awk '/^sites: [0-9]/ {buf=""} /^site / {buf = buf $0 "\n"} END {printf "%s", buf}' "$OUTF" > "$T/sites"
  while read -r _ n a1 a2 a3 a4; do
    where=$(addr2line -f -s -e "$BIN" "$a1" "$a2" "$a3" "$a4" 2>/dev/null | paste - - |
      awk '$1 !~ /^(mbedtls_calloc|heap_alloc|count_calloc|count_malloc|\?\?)$/ {w = w (w ? "<" : "") $1; if (++k == 2) exit} END {print w}')
    echo "$n ${where:-?}"
  done <"$T/sites" | awk '{n[$2] += $1; c[$2]++} END {for (k in n) printf "  %7d  %3d  %s\n", n[k], c[k], k}' |
    sort -rn | head -n 15
}

ask stats heap: >/dev/null
# 1. full exchanges (Connection: close), TLS 1.3 then 1.2; the session is kept for 2.
for v in 1.3 1.2; do
  fl=-tls${v/./_}
  o=$(client "$fl" "-sess_out $T/sess$v.pem" "Connection: close\r\n")
  grep -q "hello from securenet" <<<"$o" || { echo "heap: TLS $v exchange failed:"; echo "$o" | tail -n 5; exit 1; }
  wait_conns 0
  [ "$v" = 1.3 ] && sites "full handshake + request, TLS 1.3"
  s=$(ask stats heap:)
  row "full handshake + request, TLS $v" "$(field peak "$s")" "$(field current "$s")" \
    "peak $(kib $(($(field peak "$s") - BASE))) KiB over the idle server"
done
# 2. resumed
for v in 1.3 1.2; do
  fl=-tls${v/./_}
  o=$(client "$fl" "-sess_in $T/sess$v.pem" "Connection: close\r\n")
  grep -q "hello from securenet" <<<"$o" || { echo "heap: resumed TLS $v exchange failed"; exit 1; }
  reused=$(grep -c "^Reused" <<<"$o")
  wait_conns 0
  s=$(ask stats heap:)
  row "resumed handshake + request, TLS $v" "$(field peak "$s")" "$(field current "$s")" \
    "$([ "$reused" -gt 0 ] && echo resumed || echo NOT resumed)"
done
# 3. idle keep-alive connections: N clients connect at once, each makes one
#    request and stays connected; then the clients are ended
idle() { # n, tls flag
  local n=$1 fl=$2 i before s cur reqs0 cp=()
  before=$(field current "$(ask count count:)")
  reqs0=$(field requests "$(ask count count:)")
  for ((i = 0; i < n; i++)); do
    ( (printf "$REQ\r\n"; sleep 20) | timeout 25 openssl s_client -connect 127.0.0.1:$PORT -servername localhost \
      -CAfile $CERTS/ca.pem $fl -ign_eof ) >/dev/null 2>&1 &
    cp+=($!)
  done
  i=0
  while [ "$(field requests "$(ask count count:)")" -lt $((reqs0 + n)) ]; do
    sleep 0.05; i=$((i + 1)); [ $i -gt 300 ] && { echo "heap: idle clients did not all get an answer" >&2; break; }
  done
  sleep 1.5 # past SN_IDLE_RELEASE_MS (1 s), when an idle connection frees its buffers
  s=$(ask stats heap:)
  cur=$(field current "$s")
  v=${fl#-tls}
  row "$n idle keep-alive conn(s), TLS ${v/_/.}" "$(field peak "$s")" "$cur" \
    "$(kib $(((cur - before) / n))) KiB per idle connection ($(((cur - before) / n)) B)"
  [ "$n" = 1 ] && IDLE1[$v]=$(((cur - before) / n))
  [ "$n" = 1 ] && sites "one idle keep-alive connection, TLS ${v/_/.} (what is held)"
  for p in "${cp[@]}"; do pkill -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  wait "${cp[@]}" 2>/dev/null
  wait_conns 0
  ask stats heap: >/dev/null
}
declare -A IDLE1
idle 1 -tls1_3
idle 1 -tls1_2
idle 4 -tls1_3
idle 8 -tls1_3
idle 8 -tls1_2
# 4. WebSocket: one Python websockets client (bench/heap_ws.py) on /ws, the
#    echo (max_message 8 KiB, max_queued 16 KiB + 64): open, idle past
#    SN_IDLE_RELEASE_MS; one message each way of 4088 B (4 KiB less its frame
#    header: the minimal config takes records of 4096 B at most); 100 more round trips
#    (the allocation count on entry to the 2nd and 3rd message and after the
#    101st); the close handshake
if [ "$(ask ws ws:)" != "ws: off" ]; then
  PYOUT=$T/py.out
  rm -f "$T/pyctl" && mkfifo "$T/pyctl"
  timeout 300 /usr/bin/python3 bench/heap_ws.py $PORT $CERTS/ca.pem <"$T/pyctl" >"$PYOUT" 2>"$T/py.err" &
  PIDS+=($!)
  exec 4>"$T/pyctl"
  pyask() { # command, reply prefix: the peer's reply line
    local n i=0
    n=$(grep -c -- "^$2" "$PYOUT")
    echo "$1" >&4
    while [ "$(grep -c -- "^$2" "$PYOUT")" -le "$n" ]; do
      if grep -q "^fail:" "$PYOUT"; then
        echo "heap: WebSocket peer: $(grep "^fail:" "$PYOUT") (after: $1)" >&2
        cat "$T/py.err" >&2
        grep -E "^(log|ws:)" "$OUTF" | tail -n 5 >&2
        exit 1
      fi
      sleep 0.02
      i=$((i + 1))
      if [ $i -gt 1000 ]; then echo "heap: WebSocket peer: no answer to $1" >&2; cat "$T/py.err" "$T/err" >&2; exit 1; fi
    done
    grep -- "^$2" "$PYOUT" | tail -n 1
  }
  for v in 1.3 1.2; do
    before=$(field current "$(ask count count:)")
    pyask "open $v" "open:" >/dev/null
    opened=$(field current "$(ask count count:)")
    sleep 1.5 # past SN_IDLE_RELEASE_MS (1 s): the socket's buffers are given back
    s=$(ask stats heap:)
    cur=$(field current "$s")
    row "1 idle WebSocket, TLS $v" "$(field peak "$s")" "$cur" \
      "$(kib $((cur - before))) KiB ($((cur - before)) B; just after the 101: $((opened - before)) B; idle keep-alive: ${IDLE1[${v/./_}]:-?} B)"
    [ "$v" = 1.3 ] && sites "one idle WebSocket, TLS 1.3 (what is held)"
    pyask "echo 1" "echo:" >/dev/null
    s=$(ask stats heap:)
    row "one 4088 B message each way on it, TLS $v" "$(field peak "$s")" "$(field current "$s")" \
      "peak $(($(field peak "$s") - cur)) B over the idle WebSocket"
    [ "$v" = 1.3 ] && sites "one 4 KiB message each way on a WebSocket, TLS 1.3"
    pyask "echo 100" "echo:" >/dev/null
    w=$(ask ws ws:)
    s=$(ask stats heap:)
    a2=$(field at2 "$w") a3=$(field at3 "$w") an=$(field allocs "$w")
    row "100 more 4088 B round trips, TLS $v" "$(field peak "$s")" "$(field current "$s")" \
      "$(($(field messages "$w") - 1)) more; allocations after round trip 1: $a2, 2: $a3, $(field messages "$w"): $an (+$((an - a3)))"
    pyask close "close:" >/dev/null
    wait_conns 0
    ask stats heap: >/dev/null
  done
  echo quit >&4
  exec 4>&-
fi
# 5. mail, from this process (which also serves HTTPS), then from a mail-only one
mails() { # label suffix
  local m s
  m=$(ask "mail 1" "mail: done")
  sites "one SMTPS mail$1"
  s=$(ask stats heap:)
  row "one SMTPS mail$1" "$(field peak "$s")" "$(field current "$s")" "${m#mail: }"
  m=$(ask "mail 10" "mail: done")
  s=$(ask stats heap:)
  row "a burst of 10 mails$1" "$(field peak "$s")" "$(field current "$s")" "${m#mail: }"
}
mails " (HTTPS server process)"
sizes=$(ask sizes "size sizes: end" >/dev/null; grep "^size " "$OUTF" | grep -v "sizes: end")
stack=$(ask stack stack:)
ask quit "heap: after destroy" >/dev/null
wait $SRV 2>/dev/null
after=$(grep "after destroy" "$OUTF" | tail -n 1)
start_server 0 "$T/out-mail"
wait_for "$OUTF" "^ready" 10
msetup=$(grep "^ready" "$OUTF")
ask stats heap: >/dev/null
mails " (mail-only process)"
ask quit "heap: after destroy" >/dev/null
wait $SRV 2>/dev/null

echo
echo "== heap ($CFG ${XF[*]} ${HEAP_CFLAGS:-}, gcc -m32, counted user bytes; BASE = after sn_mgr_create + sn_http_listen)"
echo "   setup: peak $SETUP_PEAK B, then $BASE B held (certificate, key, DRBG, PSA, listener, tickets)"
printf '| %-44s | %9s | %9s | %s |\n' "scenario" "peak B" "after B" "notes"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "-----------" "-----------" "------"
for r in "${ROWS[@]}"; do echo "$r"; done
echo "   mail-only process: setup held $(field current "$msetup") B (manager, DRBG, PSA)"
echo "   ${after#heap: } B after sn_mgr_destroy (PSA's global state stays until mbedtls_psa_crypto_free)"
echo
echo "== sizeof (-m32)"
sed 's/^size /  /' <<<"$sizes" | column -t
echo
echo "== stack: deepest use below main, all scenarios: $(field deepest "$stack") B"
cat "$T/out" "$T/out-mail" | grep "^log [12]" | head -n 5

if [ $MASSIF = 1 ]; then
  command -v valgrind >/dev/null || { echo "heap: valgrind missing"; exit 0; }
  echo
  echo "== massif: setup + one full TLS 1.3 exchange"
  start_server $PORT "$T/out-massif" valgrind --tool=massif --massif-out-file="$T/massif.out" --threshold=2
  wait_for "$OUTF" "^ready" 60
  client -tls1_3 "" "Connection: close\r\n" >/dev/null
  wait_conns 0
  ask quit "heap: after destroy" >/dev/null
  wait $SRV 2>/dev/null
  ms_print "$T/massif.out" | sed -n '1,60p'
fi
