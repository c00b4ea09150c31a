#!/usr/bin/env bash
# tests/qemu_lm3s.sh - the sn_lm3s firmware (examples/qemu-lm3s: securenet +
# lwIP + mbedTLS in 64 KiB of RAM, bare metal on an emulated Cortex-M3) under
# QEMU's lm3s6965evb board, driven from the host through QEMU's user network:
#   - the image's RAM: .data + .bss + the heap arena + the stack are the
#     LM3S6965's 64 KiB (the linker script fails the build otherwise);
#   - boots and waits for its "listening" console line;
#   - curl verifies the certificate against the dev CA and gets / and
#     /api/status over TLS 1.3 and TLS 1.2 (ECDHE-ECDSA);
#   - 8 keep-alive requests on one connection (one handshake);
#   - 2 connections at once, 30 rounds (60 full handshakes, 2 in progress at a
#     time): every one answered, none refused for memory;
#   - openssl s_client resumes a session: TLS 1.3 ticket, TLS 1.2 ticket and
#     TLS 1.2 by session id (the small session cache);
#   - POST /api/echo: a body at the board's limit comes back byte for byte,
#     one byte more is a 413; a body sent in a record larger than the board's
#     4 KiB records is a record_overflow alert at the client and a logged
#     reason on the console, never a silent close;
#   - the heap per phase from the console (idle, one handshake, two at once,
#     an idle keep-alive connection), and the heap back to its idle figure
#     once every client is gone;
#   - stops the image from its console (QEMU exits with status 0); no fault;
#   - and a build without semihosting stops at securenet's entropy #error.
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N
# failed"; exit 1 if any failed. Lines starting with "#" are notes (the
# figures the README's RAM budget quotes).
#
# Environment:
#   SN_LM3S_ELF   the firmware (default build/sn_lm3s.elf; built if missing)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs)
#   SN_QEMU_PORT  host port forwarded to the guest's 443 (default: a free one
#                 of 16100-16199, tests/free-ports)
#   SN_QEMU_BOOT  seconds to wait for the listening line (default 60)
#   SN_TMP        scratch directory (default build/qemu-lm3s-it.$$; removed unless a check failed)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
ELF=${SN_LM3S_ELF:-build/sn_lm3s.elf}
CERTS=${SN_CERTS:-build/certs}
BOOT=${SN_QEMU_BOOT:-60}
TMP=${SN_TMP:-build/qemu-lm3s-it.$$}
PY=/usr/bin/python3
RAM=65536 # the LM3S6965's SRAM
pass=0 fail=0 qpid=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-300)}"
  fail=$((fail + 1))
  [ -f "$TMP/console.log" ] && tail -n 6 "$TMP/console.log" | tr -d '\r' | sed 's/^/#   console: /'
  return 0
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ] && rm -rf "$TMP"
  [ "$fail" = 0 ]
  exit $?
}
cleanup() {
  exec 3>&- 2>/dev/null
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
  return 0
}
trap cleanup EXIT

mkdir -p "$TMP"
command -v qemu-system-arm >/dev/null || tools/deps.sh qemu-system-arm >&2
command -v qemu-system-arm >/dev/null || { nok "qemu-system-arm is installed" "tools/deps.sh qemu-system-arm failed"; finish; }
[ -f "$CERTS/certs.h" ] || tools/sn-certgen --out "$CERTS" >&2
if [ ! -f "$ELF" ]; then
  examples/qemu-lm3s/build.sh --out "$ELF" >&2 || { nok "the firmware builds" "examples/qemu-lm3s/build.sh failed"; finish; }
fi

port=${SN_QEMU_PORT:-$(tests/free-ports 16100 100 1)}
[ -n "$port" ] || { nok "a free host port in 16100-16199"; finish; }
URL=https://localhost:$port
CA=(--cacert "$CERTS/ca.pem")
# Every client command is bounded in time.
C() { timeout 60 curl -q -sS --max-time 50 "${CA[@]}" "$@"; }
SC() { timeout 30 openssl s_client -connect "127.0.0.1:$port" -servername localhost -verify_hostname localhost \
  -CAfile "$CERTS/ca.pem" "$@" 2>&1; }
clean() { tr -d '\r' <"$TMP/console.log"; }

# ---- the image: 64 KiB of RAM, spent ------------------------------------------------------
read -r text data bss <<<"$(arm-none-eabi-size "$ELF" | awk 'NR == 2 { print $1, $2, $3 }')"
echo "# image: flash $((text + data)) B of 262144 (text $text, data $data), static RAM $((data + bss)) B (data $data, bss $bss)"

# ---- boot: the console is QEMU's stdio (-nographic), fed from a FIFO -------------------
mkfifo "$TMP/console.in"
qemu-system-arm -M lm3s6965evb -nographic -semihosting -kernel "$ELF" \
  -nic "user,net=198.18.0.0/24,hostfwd=tcp:127.0.0.1:$port-:443" <"$TMP/console.in" >"$TMP/console.log" 2>&1 &
qpid=$!
exec 3>"$TMP/console.in" # the console's writer: kept open until the end
console() { printf '%s' "$1" >&3; }
# ask PATTERN KEY: sends KEY to the console and waits (5 s) for one more line matching PATTERN; prints it
ask() {
  local n
  n=$(clean | grep -c "$1")
  console "$2"
  for _ in $(seq 1 50); do
    [ "$(clean | grep -c "$1")" -gt "$n" ] && break
    sleep 0.1
  done
  clean | grep "$1" | tail -n 1
}
# memory: the console's memory line now; sets heap_peak, heap_now, stack_deep, pool_peak
memory() {
  local line
  line=$(ask 'memory (on request)' m)
  heap_peak=$(sed -nE 's/.*heap peak ([0-9]+) B, now.*/\1/p' <<<"$line")
  heap_now=$(sed -nE 's/.*now ([0-9]+) B in.*/\1/p' <<<"$line")
  stack_deep=$(sed -nE 's/.*stack deepest ([0-9]+) of.*/\1/p' <<<"$line")
  pool_peak=$(sed -nE 's/.*pbuf pool peak ([0-9]+ of [0-9]+).*/\1/p' <<<"$line")
}
reset_peak() { ask 'heap peak reset' r >/dev/null; }
# quiet: waits (10 s) until the board has no connection open; then its memory
quiet() {
  for _ in $(seq 1 20); do
    ask 'stats:' s | grep -q '(0 open)' && break
    sleep 0.5
  done
  memory
}

listening=1
for _ in $(seq 1 $((BOOT * 10))); do
  grep -q 'listening on https://' "$TMP/console.log" 2>/dev/null && { listening=0; break; }
  kill -0 "$qpid" 2>/dev/null || break
  sleep 0.1
done
check $listening "the firmware boots on lm3s6965evb and prints its listening line (within ${BOOT}s)" \
  "$(clean | tail -n 3)"
[ $listening = 0 ] || finish
echo "# $(clean | grep -m1 'securenet')"
echo "# host port $port -> guest 198.18.0.15:443"
boot=$(clean | grep -m1 'memory (listening)')
idle=$(sed -nE 's/.*now ([0-9]+) B in.*/\1/p' <<<"$boot")
arena_max=$(sed -nE 's/.*malloc arena [0-9]+ of ([0-9]+) B.*/\1/p' <<<"$boot")
stack_size=$(sed -nE 's/.*stack deepest [0-9]+ of ([0-9]+) B.*/\1/p' <<<"$boot")
echo "# RAM: static $((data + bss)) B + heap arena ${arena_max:-?} B + stack ${stack_size:-?} B = $((data + bss + ${arena_max:-0} + ${stack_size:-0})) B"
# (the arena starts at .bss's end rounded to 8; the map's .bss already ends there)
[ -n "$arena_max" ] && [ -n "$stack_size" ] && [ $((data + bss + arena_max + stack_size)) -le $RAM ] &&
  [ $((data + bss + arena_max + stack_size)) -gt $((RAM - 64)) ]
check $? "static RAM + heap arena + stack are the LM3S6965's 64 KiB (nothing outside it, nothing left unused)" \
  "static $((data + bss)), arena $arena_max, stack $stack_size"
echo "# heap idle (listening, no client): $idle B"
reset_peak

# ---- curl: certificate, hello, status ---------------------------------------------------------
out=$(C -w '\n%{http_code} %{ssl_verify_result}' "$URL/")
[ "$(head -n 1 <<<"$out")" = "hello from sn_lm3s" ] && [ "$(tail -n 1 <<<"$out")" = "200 0" ]
check $? "curl verifies the certificate against the dev CA (localhost) and gets / (hello)" "got: $out"
memory
one_hs=$((heap_peak - idle))
echo "# heap, one full TLS 1.3 handshake and a request: peak $heap_peak B (idle + $one_hs B); stack deepest $stack_deep B"

out=$(C "$URL/api/status")
v=$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["tls"]["version"], d["heap"]["idle"], d["echo_max"])' <<<"$out" 2>/dev/null)
read -r tlsv jidle echo_max <<<"$v"
[ "$tlsv" = TLSv1.3 ] && [ "$jidle" = "$idle" ]
check $? "GET /api/status is JSON, reports TLS 1.3 and the heap's idle figure" "got: $out"

reset_peak
out=$(C --tls-max 1.2 "$URL/api/status")
v=$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["tls"]["version"], d["tls"]["suite"])' <<<"$out" 2>/dev/null)
[[ $v == "TLSv1.2 "*ECDHE-ECDSA* ]]
check $? "GET /api/status over TLS 1.2 (curl --tls-max 1.2) reports TLS 1.2 with ECDHE-ECDSA" "got: $out"
memory
echo "# heap, one full TLS 1.2 handshake and a request: peak $heap_peak B (idle + $((heap_peak - idle)) B)"
# a second TLS 1.2 client: the session cache (2 entries) is full from here on
C --tls-max 1.2 -o /dev/null "$URL/"
quiet
idle_cached=$heap_now
echo "# heap idle after TLS 1.3 and with the session cache full (2 TLS 1.2 sessions): $idle_cached B (idle + $((idle_cached - idle)) B)"

# ---- keep-alive ----------------------------------------------------------------------------
out=$(C -w '%{num_connects}\n' "$URL/" "$URL/" "$URL/" "$URL/" "$URL/" "$URL/" "$URL/" "$URL/")
got=$(grep -c '^hello from sn_lm3s$' <<<"$out")
conns=$(grep -E '^[0-9]+$' <<<"$out" | awk '{ n += $1 } END { print n + 0 }')
[ "$got" = 8 ] && [ "$conns" = 1 ]
check $? "8 keep-alive requests on one connection: 8 answers, 1 handshake" "answers $got, connections $conns"

# ---- an idle keep-alive connection ------------------------------------------------------------
quiet
before=$heap_now
for v in 1.3 1.2; do
  flag=-tls1_3
  [ $v = 1.2 ] && flag=-tls1_2
  (printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 4) | SC $flag -quiet >"$TMP/idle$v.out" &
  spid=$!
  sleep 2.5 # the request answered, SN_IDLE_RELEASE_MS (1 s) past: buffers freed
  memory
  eval "idle_conn_${v/./}=$((heap_now - before))"
  wait $spid
  quiet
  before=$heap_now
done
echo "# heap, one idle keep-alive connection (after SN_IDLE_RELEASE_MS): TLS 1.3 $idle_conn_13 B, TLS 1.2 $idle_conn_12 B"
grep -q 'hello from sn_lm3s' "$TMP/idle1.3.out" && grep -q 'hello from sn_lm3s' "$TMP/idle1.2.out"
check $? "an idle keep-alive connection (s_client, TLS 1.3 and 1.2) is answered and kept open"

# ---- 2 connections at once, 30 rounds -----------------------------------------------------------
reset_peak
bad=0 t0=$(date +%s.%N)
for r in $(seq 1 30); do
  C -o "$TMP/par.a" "$URL/api/status" 2>"$TMP/par.a.err" &
  a=$!
  C -o "$TMP/par.b" "$URL/" 2>"$TMP/par.b.err" &
  b=$!
  wait $a $b
  grep -q '"tls":{"version":"TLSv1.3"' "$TMP/par.a" && [ "$(cat "$TMP/par.b")" = "hello from sn_lm3s" ] || {
    bad=$((bad + 1))
    echo "#   round $r: $(cat "$TMP/par.a.err" "$TMP/par.b.err" | head -n 2 | tr '\n' ' ')"
  }
done
t1=$(date +%s.%N)
check $bad "2 connections at once, 30 rounds (60 full handshakes): every one answered ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)" "$bad rounds failed"
memory
two_hs=$heap_peak
echo "# heap, 2 full handshakes at once (30 rounds): peak $two_hs B (idle + $((two_hs - idle)) B) of a $arena_max B arena; pbuf pool peak $pool_peak; stack deepest $stack_deep B"

# ---- 3 clients at once: the board serves 2 (SN_MAX_CONNS), the third waits in the backlog ----------
reset_peak
bad=0
for r in $(seq 1 5); do
  pids=()
  for k in 1 2 3; do
    C -o "$TMP/three.$k" -w '%{time_appconnect}\n' "$URL/" 2>"$TMP/three.$k.err" >>"$TMP/three.times" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for k in 1 2 3; do
    [ "$(cat "$TMP/three.$k")" = "hello from sn_lm3s" ] || {
      bad=$((bad + 1))
      echo "#   round $r, client $k: $(head -n 1 "$TMP/three.$k.err")"
    }
  done
done
check $bad "3 clients at once, 5 rounds: all 15 answered (2 served at a time, the third waits in the backlog)" "$bad not answered"
# A SYN the listener drops (lwIP counts connections in its backlog from the
# SYN on: SN_LWIP_BACKLOG 1 dropped the third client's) costs a retransmission,
# 1 s and more; a handshake here takes about 0.1 s.
slow=$(sort -g "$TMP/three.times" | tail -n 1)
awk -v t="${slow:-99}" 'BEGIN { exit !(t < 2.5) }'
check $? "no client of the 3 waited for a SYN retransmission (slowest handshake ${slow:-?} s < 2.5 s)" "slowest ${slow:-?} s"
memory
three_hs=$heap_peak
echo "# heap, 3 clients at once: peak $three_hs B (2 handshakes at most: SN_MAX_CONNS 2)"
[ "$three_hs" -le "$two_hs" ]
check $? "3 clients at once peak no higher than 2 at once ($three_hs B <= $two_hs B)"
st=$(ask 'stats:' s)
echo "# ${st#sn_lm3s: }"
grep -q 'refused for memory' <<<"$st" && [ "$(sed -nE 's/.*, ([0-9]+) refused for memory.*/\1/p' <<<"$st")" = 0 ]
check $? "no connection refused or closed for lack of memory" "$st"

# ---- session resumption with openssl s_client -----------------------------------------------------
out=$( (sleep 2) | SC -tls1_3 -sess_out "$TMP/s13")
if grep -q '^New, TLSv1.3' <<<"$out" && [ -s "$TMP/s13" ]; then
  out=$( (sleep 1) | SC -tls1_3 -sess_in "$TMP/s13")
  grep -q '^Reused, TLSv1.3' <<<"$out"
  check $? "s_client: a TLS 1.3 session is resumed from its ticket on reconnect (Reused, TLSv1.3)" \
    "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"
else
  nok "s_client: a TLS 1.3 handshake gives a session to resume" "$(grep -E '^(New|Reused)|error|Verify' <<<"$out" | head -n 3)"
fi
SC -tls1_2 -sess_out "$TMP/s12" </dev/null >/dev/null
out=$(SC -tls1_2 -sess_in "$TMP/s12" </dev/null)
grep -q '^Reused, TLSv1.2' <<<"$out"
check $? "s_client: a TLS 1.2 session is resumed from its ticket (Reused, TLSv1.2)" "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"
SC -tls1_2 -no_ticket -sess_out "$TMP/s12c" </dev/null >/dev/null
out=$(SC -tls1_2 -no_ticket -sess_in "$TMP/s12c" </dev/null)
grep -q '^Reused, TLSv1.2' <<<"$out"
check $? "s_client -no_ticket: a TLS 1.2 session is resumed by its id from the 2-entry session cache" \
  "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"

# ---- bodies: at the limit, one over, and a record over the board's 4 KiB -----------------------------
echo_max=${echo_max:-3584}
head -c "$echo_max" /dev/urandom >"$TMP/at.bin"
reset_peak
out=$(C -o "$TMP/at.out" -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/at.bin" -w '%{http_code}' "$URL/api/echo")
[ "$out" = 200 ] && cmp -s "$TMP/at.bin" "$TMP/at.out"
check $? "POST /api/echo of $echo_max B (the board's limit) comes back byte for byte" "HTTP $out, $(stat -c %s "$TMP/at.out" 2>/dev/null) B"
memory
echo "# heap, a $echo_max B echo (request and reply buffered): peak $heap_peak B (idle + $((heap_peak - idle)) B)"
head -c $((echo_max + 1)) /dev/urandom >"$TMP/over.bin"
out=$(C -o /dev/null -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/over.bin" -w '%{http_code}' "$URL/api/echo")
[ "$out" = 413 ]
check $? "POST /api/echo of $((echo_max + 1)) B (one over): 413" "HTTP $out"
n=$(clean | grep -c 'larger than this build takes')
head -c 8192 /dev/urandom >"$TMP/big.bin"
out=$(C -o /dev/null -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/big.bin" -w '%{http_code}' "$URL/api/echo" 2>&1)
grep -qiE 'record.overflow' <<<"$out"
check $? "POST of 8 KiB (curl sends it in one record over the board's 4 KiB): the client gets a record_overflow alert, not an empty reply" "curl: $out"
for _ in $(seq 1 30); do [ "$(clean | grep -c 'larger than this build takes')" -gt "$n" ] && break; sleep 0.1; done
line=$(clean | grep 'larger than this build takes' | tail -n 1)
[ "$(clean | grep -c 'larger than this build takes')" -gt "$n" ]
check $? "the console logs why the connection ended (a record larger than MBEDTLS_SSL_IN_CONTENT_LEN)" "no such line"
echo "# ${line#sn_lm3s: }"

# ---- the heap back at its idle figure -----------------------------------------------------------
quiet
echo "# heap at the end, no client: $heap_now B (idle with the session cache full: $idle_cached B)"
[ -n "$heap_now" ] && [ "$heap_now" = "$idle_cached" ]
check $? "the heap is back at its idle figure once every client is gone ($heap_now B)" "now $heap_now B, idle $idle_cached B"
[ -n "$stack_deep" ] && [ "$stack_deep" -lt "${stack_size:-0}" ]
check $? "the stack's deepest use ($stack_deep B) stays inside its $stack_size B" "deepest $stack_deep of $stack_size"

# ---- stop cleanly from the console ---------------------------------------------------------
console q
stopped=1 status=""
for _ in $(seq 1 300); do
  if ! kill -0 "$qpid" 2>/dev/null; then
    wait "$qpid"
    status=$?
    qpid=""
    break
  fi
  sleep 0.1
done
grep -q 'sn_lm3s: stopped' "$TMP/console.log" && [ "$status" = 0 ] && stopped=0
check $stopped "the console's q stops the firmware cleanly (connections closed, QEMU exits with status 0)" \
  "exit status ${status:-none (still running after 30s)}"
[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
clean | grep -E 'sn_lm3s: (memory \(stopped\)|stats:)' | tail -n 2 | sed 's/^/# /'
echo "# frames QEMU could not hand to the MAC: $(grep -c 'Slirp: Failed to send packet' "$TMP/console.log")"
errs=$(clean | grep -ciE 'FAULT|lwIP assertion|unexpected interrupt|hardware error')
check "$( [ "$errs" = 0 ]; echo $?)" "no fault or assertion on the console"

# ---- RAM that does not fit fails the link ------------------------------------------------
# The same objects linked with a 10 KiB stack instead of 5: 5 KiB short of the 64 KiB.
if ls build/qemu-lm3s/app/*.o >/dev/null 2>&1; then
  sed 's/__stack_size = 5K;/__stack_size = 10K;/' examples/qemu-lm3s/lm3s6965.ld >"$TMP/big.ld"
  out=$(arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -nostartfiles --specs=nano.specs -T "$TMP/big.ld" -Wl,--gc-sections \
    build/qemu-lm3s/app/*.o build/qemu-lm3s/lwip/lib.a build/qemu-lm3s/mbedtls/lib.a -o "$TMP/big.elf" 2>&1)
  st=$?
  [ $st != 0 ] && grep -q "do not fit the LM3S6965's 64 KiB" <<<"$out"
  check $? "a link whose .data + .bss + heap + stack exceed 64 KiB fails (the linker script's ASSERT)" "status $st: $(tail -n 1 <<<"$out")"
fi

# ---- without semihosting there is no entropy: the build must stop ------------------------
out=$(SN_LM3S_CFLAGS=-DBOARD_NO_SEMIHOSTING examples/qemu-lm3s/build.sh --out "$TMP/nosemi.elf" 2>&1)
st=$?
[ $st != 0 ] && [ ! -f "$TMP/nosemi.elf" ] && grep -q 'error: #error "securenet_port_lwip.h: define SN_LWIP_ENTROPY' <<<"$out"
check $? "a build without semihosting (-DBOARD_NO_SEMIHOSTING) stops at securenet's entropy #error" \
  "status $st: $(grep -m1 error <<<"$out")"

finish
