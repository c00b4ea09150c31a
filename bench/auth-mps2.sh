#!/usr/bin/env bash
# bench/auth-mps2.sh - a password check beside a TLS handshake on the QEMU
# Cortex-M4 board (examples/qemu-mps2, build/sn_mps2.elf).
#
#   bench/auth-mps2.sh [PAIRS]     (default 10 pairs, at most 50)
#
# Boots the firmware as tests/qemu_integration.sh does and alternates PAIRS
# times:
#   - "a" on the console: the firmware times one sn_user_check of
#     SN_AUTH_ITERATIONS with its millisecond clock (SysTick) and prints
#     "auth: one sn_user_check of N iterations: X ms";
#   - one full TLS 1.3 handshake by curl from the host (a new process, no
#     session to resume; TLS_AES_128_GCM_SHA256, P-256) and a GET, with "b"
#     on the console before and after: the firmware's time in sn_poll over
#     the connection (its SysTick, to the microsecond), less what as many
#     idle sn_poll calls cost (measured first, 2 s without traffic): the
#     server's share of the handshake, as bench/auth_cost.c measures it on
#     the host. curl's time_appconnect - time_connect is shown beside it
#     (the whole TLS handshake: the client, QEMU's user network, the main
#     loop's waits).
# Prints the medians and check / handshake. QEMU's TCG does not model a
# Cortex-M4's speed (nor the relative speed of its instructions): only the
# ratio means something, and only roughly.
# SN_QEMU_ICOUNT=1 runs QEMU with -icount shift=0: the emulated clock then
# advances 1 ns per instruction executed, so every time the board measures
# is its instruction count (a real Cortex-M4 runs about one instruction per
# cycle, more for loads, branches and multiplies): closer to the real core's
# ratio than TCG's host-speed time.
# Environment: SN_MPS2_ELF (build/sn_mps2.elf), SN_CERTS (build/certs),
# SN_QEMU_PORT (default: a free one of 16100-16199).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
ELF=${SN_MPS2_ELF:-build/sn_mps2.elf}
CERTS=${SN_CERTS:-build/certs}
PAIRS=${1:-10}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] && [ "$PAIRS" -le 50 ] || { echo "auth-mps2: PAIRS must be 1-50" >&2; exit 2; }
[ -f "$ELF" ] || { echo "auth-mps2: no $ELF (make build/sn_mps2.elf)" >&2; exit 2; }
TMP=$(mktemp -d)
qpid=""
cleanup() { exec 3>&- 2>/dev/null; [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
port=${SN_QEMU_PORT:-$(tests/free-ports 16100 100 1)}

mkfifo "$TMP/in"
icount=()
[ "${SN_QEMU_ICOUNT:-0}" = 1 ] && icount=(-icount shift=0)
qemu-system-arm -M mps2-an386 -nographic -semihosting "${icount[@]}" -kernel "$ELF" \
  -nic "user,net=198.18.9.0/24,hostfwd=tcp:127.0.0.1:$port-:443" <"$TMP/in" >"$TMP/console.log" 2>&1 &
qpid=$!
exec 3>"$TMP/in"
for _ in $(seq 600); do
  grep -q 'listening on https://' "$TMP/console.log" 2>/dev/null && break
  kill -0 "$qpid" 2>/dev/null || { echo "auth-mps2: QEMU exited" >&2; cat "$TMP/console.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'listening on https://' "$TMP/console.log" || { echo "auth-mps2: no listening line in 60 s" >&2; exit 1; }
boot=$(grep -m1 'auth: one sn_user_check' "$TMP/console.log" | tr -d '\r')
echo "auth-mps2: at boot: ${boot#sn_mps2: }"

busy() { # -> "US CALLS" from the console's b
  local n line
  n=$(grep -c 'busy: ' "$TMP/console.log")
  printf 'b' >&3
  for _ in $(seq 100); do
    [ "$(grep -c 'busy: ' "$TMP/console.log")" -gt "$n" ] && break
    sleep 0.05
  done
  line=$(grep 'busy: ' "$TMP/console.log" | tail -n 1 | tr -d '\r')
  sed -nE 's/.*busy: ([0-9]+) us in sn_poll, ([0-9]+) calls.*/\1 \2/p' <<<"$line"
}
read -r b0 n0 < <(busy)
sleep 2
read -r b1 n1 < <(busy)
idle=$(awk -v b=$((b1 - b0)) -v n=$((n1 - n0)) 'BEGIN { printf "%.3f", n ? b / n : 0 }')
echo "auth-mps2: an idle sn_poll call: $idle us ($((n1 - n0)) calls in 2 s)"

checks=() hss=() curls=()
for i in $(seq "$PAIRS"); do
  n=$(grep -c 'auth: one sn_user_check' "$TMP/console.log")
  printf 'a' >&3
  for _ in $(seq 300); do
    [ "$(grep -c 'auth: one sn_user_check' "$TMP/console.log")" -gt "$n" ] && break
    sleep 0.1
  done
  line=$(grep 'auth: one sn_user_check' "$TMP/console.log" | tail -n 1 | tr -d '\r')
  [[ $line == *"(match)" ]] || { echo "auth-mps2: check $i: $line" >&2; exit 1; }
  checks+=("$(sed -nE 's/.*: ([0-9.]+) ms .*/\1/p' <<<"$line")")
  iters=$(sed -nE 's/.*sn_user_check of ([0-9]+) iterations.*/\1/p' <<<"$line")
  read -r b0 n0 < <(busy)
  out=$(timeout 60 curl -q -sS --max-time 50 --cacert "$CERTS/ca.pem" --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256 \
    --curves prime256v1 -o /dev/null -w '%{http_code} %{time_connect} %{time_appconnect}' \
    "https://localhost:$port/api/hello/auth") || { echo "auth-mps2: curl $i failed: $out" >&2; exit 1; }
  read -r code tc ta <<<"$out"
  [ "$code" = 200 ] || { echo "auth-mps2: curl $i: HTTP $code" >&2; exit 1; }
  read -r b1 n1 < <(busy)
  curls+=("$(awk -v a="$ta" -v c="$tc" 'BEGIN { printf "%.1f", (a - c) * 1000 }')")
  hss+=("$(awk -v b=$((b1 - b0)) -v n=$((n1 - n0)) -v i="$idle" 'BEGIN { printf "%.1f", (b - n * i) / 1000 }')")
done
printf 'q' >&3
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
c=$(med "${checks[@]}") h=$(med "${hss[@]}")
echo "auth-mps2: checks (ms, board clock): ${checks[*]}"
echo "auth-mps2: server's share of each TLS 1.3 connection (ms in sn_poll, board clock): ${hss[*]}"
echo "auth-mps2: the same handshakes by curl (ms, time_appconnect - time_connect): ${curls[*]} (median $(med "${curls[@]}"))"
echo "auth-mps2: median check $c ms of $iters iterations, median server share of a handshake $h ms: check / handshake $(awk -v c="$c" -v h="$h" 'BEGIN { printf "%.2f", c / h }');" \
  "iterations that cost one handshake: $(awk -v c="$c" -v h="$h" -v n="$iters" 'BEGIN { printf "%.0f", n * h / c }')"
lost=$(grep -c 'Slirp: Failed to send packet' "$TMP/console.log")
echo "auth-mps2: frames QEMU dropped (a handshake that lost one pays a TCP retransmission): $lost"
