#!/usr/bin/env bash
# tests/qemu_integration.sh - the sn_mps2 firmware (examples/qemu-mps2: securenet
# + lwIP + mbedTLS, bare metal on an emulated Cortex-M4) under QEMU's
# mps2-an386 board, driven from the host through QEMU's user network:
#   - boots the image and waits for its "listening" console line;
#   - curl verifies the certificate against the dev CA and gets /, /api/status
#     (TLS 1.3, and TLS 1.2 when asked) and /api/hello/:name;
#   - a 64 KiB POST to /api/echo comes back byte for byte;
#   - firmware updates into the board's update slot (simulated NOR flash,
#     examples/qemu-mps2/flash_slot.h): 1 MiB images signed with the
#     development key (tools/sn-sign), by PUT (curl -T) and by a form (curl -F)
#     are accepted, and the bank in flash holds each byte for byte; one signed
#     with another key (422), one too large (413) and an upload cut off at 50%
#     leave the accepted image; the heap peak of the signed upload against a
#     small request's + 4 KiB + the verifier's state; no flash fault;
#   - openssl s_client resumes a session on reconnect (TLS 1.3 ticket, TLS 1.2);
#   - 8 keep-alive requests on one connection (one handshake);
#   - 4 connections at once;
#   - asks the console for the heap high-water mark of each phase and the
#     stack depth;
#   - then stops the image from its console (QEMU exits with status 0) and
#     prints the console's last memory and statistics lines and the
#     handshake time of every connection (curl's time_appconnect; emulated, so
#     only a relative figure);
#   - and a build without semihosting stops at securenet's entropy #error.
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N
# failed"; exit 1 if any failed. Lines starting with "#" are notes.
#
# Environment:
#   SN_MPS2_ELF   the firmware (default build/sn_mps2.elf; built if missing)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs)
#   SN_QEMU_PORT  host port forwarded to the guest's 443 (default: the first
#                 free one of 16000-16099, from an offset of this PID)
#   SN_QEMU_BOOT  seconds to wait for the listening line (default 60)
#   SN_TMP        scratch directory (default build/qemu-it.$$; removed unless a check failed)
#   SN_SIGN_KEY   the private key the firmware's compiled-in public key belongs to
#                 (default $SN_CERTS/sign.key, from tools/sn-sign keygen)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
ELF=${SN_MPS2_ELF:-build/sn_mps2.elf}
CERTS=${SN_CERTS:-build/certs}
BOOT=${SN_QEMU_BOOT:-60}
TMP=${SN_TMP:-build/qemu-it.$$}
PY=/usr/bin/python3
pass=0 fail=0 qpid="" times=()

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
SIGN_KEY=${SN_SIGN_KEY:-$CERTS/sign.key}
if [ ! -f "$ELF" ]; then
  examples/qemu-mps2/build.sh --out "$ELF" >&2 || { nok "the firmware builds" "examples/qemu-mps2/build.sh failed"; finish; }
fi

# A free port of 16000-16099, starting from an offset of this PID.
port=${SN_QEMU_PORT:-}
if [ -z "$port" ]; then
  used=$(ss -Htln 2>/dev/null | awk '{ print $4 }' | sed 's/.*://')
  for i in $(seq 0 99); do
    p=$((16000 + ($$ + i) % 100))
    grep -qx "$p" <<<"$used" || { port=$p; break; }
  done
fi
[ -n "$port" ] || { nok "a free host port in 16000-16099"; finish; }
URL=https://localhost:$port
CA=(--cacert "$CERTS/ca.pem")
SLOT_BANK_BYTES=1114112 # examples/qemu-mps2/main.c: SLOT_BANK (1 MiB + 64 KiB)
# Every client command is bounded; curl notes its handshake time in $TMP/times.
C() { timeout 60 curl -q -sS --max-time 50 "${CA[@]}" "$@"; }
SC() { timeout 30 openssl s_client -connect "127.0.0.1:$port" -servername localhost -verify_hostname localhost \
  -CAfile "$CERTS/ca.pem" "$@" 2>&1; }
hs() { echo "$1=$2" >>"$TMP/times"; } # WHAT SECONDS: one connection's time_appconnect

# ---- boot: the console is QEMU's stdio (-nographic), fed from a FIFO -------------------
mkfifo "$TMP/console.in"
qemu-system-arm -M mps2-an386 -nographic -semihosting -kernel "$ELF" \
  -nic "user,net=198.18.9.0/24,hostfwd=tcp:127.0.0.1:$port-:443" <"$TMP/console.in" >"$TMP/console.log" 2>&1 &
qpid=$!
exec 3>"$TMP/console.in" # the console's writer: kept open until the end
console() { printf '%s' "$1" >&3; }
# memory PHASE: asks the console for its memory line (waits up to 5 s), notes
# the heap peak since the last reset and the deepest stack since boot, then
# starts a new heap peak for the next phase.
memory() {
  local n line
  n=$(grep -c 'memory (on request)' "$TMP/console.log")
  console m
  for _ in $(seq 1 50); do
    [ "$(grep -c 'memory (on request)' "$TMP/console.log")" -gt "$n" ] && break
    sleep 0.1
  done
  line=$(grep 'memory (on request)' "$TMP/console.log" | tail -n 1 | tr -d '\r')
  last_peak=$(sed -nE 's/.*heap peak ([0-9]+) B.*/\1/p' <<<"$line")
  echo "# memory, $1: $(sed -E 's/.*(heap peak [0-9]+ B).*(stack deepest [0-9]+ of [0-9]+ B).*(lwIP heap peak [0-9]+ of [0-9]+ B, pbuf pool peak [0-9]+ of [0-9]+).*/\1, \2, \3/' <<<"$line")"
  console r
}
listening=1
for _ in $(seq 1 $((BOOT * 10))); do
  grep -q 'listening on https://' "$TMP/console.log" 2>/dev/null && { listening=0; break; }
  kill -0 "$qpid" 2>/dev/null || break
  sleep 0.1
done
check $listening "the firmware boots on mps2-an386 and prints its listening line (within ${BOOT}s)" \
  "$(tr -d '\r' <"$TMP/console.log" | tail -n 3)"
[ $listening = 0 ] || finish
echo "# $(grep -m1 'securenet' "$TMP/console.log" | tr -d '\r')"
echo "# host port $port -> guest 198.18.9.15:443"
echo "# memory, at boot: $(grep -m1 'memory (listening)' "$TMP/console.log" | tr -d '\r' | sed -E 's/.*(heap peak [0-9]+ B).*/\1/')"
auth=$(grep -m1 'auth: one sn_user_check' "$TMP/console.log" | tr -d '\r')
[[ $auth == *"(match)" ]]
check $? "a password verifier made on the board checks on the board (PBKDF2-HMAC-SHA256 on the Cortex-M4)" "${auth:-no auth line}"
echo "# ${auth#sn_mps2: } (emulated: bench/auth-mps2.sh compares it with a handshake)"
console r

# ---- curl: certificate, dashboard, API ------------------------------------------------------
out=$(C -o "$TMP/index" -w '%{http_code} %{ssl_verify_result} %{time_appconnect}' "$URL/")
read -r code verify t <<<"$out"
hs "/" "$t"
[ "$code" = 200 ] && [ "$verify" = 0 ] && grep -qi '<html' "$TMP/index"
check $? "curl verifies the certificate against the dev CA (localhost) and gets the dashboard /" "got: $out"

out=$(C -w '\n%{time_appconnect}' "$URL/api/status")
hs status-tls1.3 "$(tail -n 1 <<<"$out")"
v=$($PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["tls"]["version"])' <<<"$out" 2>/dev/null)
[ "$v" = TLSv1.3 ]
check $? "GET /api/status is JSON and reports TLS 1.3" "got: $out"

out=$(C --tls-max 1.2 -w '\n%{time_appconnect}' "$URL/api/status")
hs status-tls1.2 "$(tail -n 1 <<<"$out")"
v=$($PY -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d["tls"]["version"], d["tls"]["suite"])' <<<"$out" 2>/dev/null)
[[ $v == "TLSv1.2 "*ECDHE-ECDSA* ]]
check $? "GET /api/status over TLS 1.2 (curl --tls-max 1.2) reports TLS 1.2 with ECDHE-ECDSA" "got: $out"

out=$(C -w '\n%{time_appconnect}' "$URL/api/hello/mps2")
hs hello "$(tail -n 1 <<<"$out")"
[ "$(head -n 1 <<<"$out")" = "hello, mps2" ]
check $? "GET /api/hello/:name answers 'hello, mps2'" "got: $out"

memory "full handshakes (TLS 1.3, 1.2) and small requests, one connection at a time"
small_peak=${last_peak:-0}

# ---- a 1 MiB streamed upload: hashed as it arrives, never held -------------------------------
head -c 1048576 /dev/urandom >"$TMP/up.bin"
want=$(sha256sum "$TMP/up.bin" | cut -c1-64)
out=$(C -T "$TMP/up.bin" -w '\n%{http_code} %{time_appconnect} %{time_total}' "$URL/api/upload")
read -r code t total <<<"$(tail -n 1 <<<"$out")"
hs upload "$t"
[ "$code" = 200 ] && grep -q "\"bytes\":1048576,\"sha256\":\"$want\"" <<<"$out"
check $? "a 1 MiB PUT to /api/upload is streamed and hashed on the board: bytes and SHA-256 match (${total}s)" "got: $(head -n 1 <<<"$out")"
memory "a 1 MiB streamed upload (one connection, a full handshake)"
up_peak=${last_peak:-0}
[ "$up_peak" -gt 0 ] && [ "$small_peak" -gt 0 ] && [ "$up_peak" -le $((small_peak + 4096)) ]
check $? "the 1 MiB upload's heap peak ($up_peak B) is at most a small request's ($small_peak B) + 4 KiB" \
  "upload peak $up_peak B, small requests $small_peak B"

# ---- firmware updates into the simulated flash slot ------------------------------------------
# sign KEY VERSION IN OUT: a signed image (tools/sn-sign; without it, the same
# format made here from securenet.h's description with openssl, so the test
# runs before the tool exists).
sign() {
  if [ -x tools/sn-sign ]; then
    tools/sn-sign sign --key "$1" --version "$2" "$3" "$4" >/dev/null
    return
  fi
  $PY - "$1" "$2" "$3" "$4" <<'PYEOF'
import hashlib, struct, subprocess, sys
key, version, src, dst = sys.argv[1:5]
payload = open(src, "rb").read()
head = b"SNFW" + struct.pack(">HHII", 1, 64, len(payload), 0) + version.encode().ljust(32, b"\0") + bytes(16)
m = head + hashlib.sha256(payload).digest()
der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=m, capture_output=True, check=True).stdout
def ints(d):  # SEQUENCE { INTEGER r, INTEGER s } (short lengths: P-256)
    out, i = [], 2
    while i < len(d):
        n = d[i + 1]; out.append(int.from_bytes(d[i + 2:i + 2 + n], "big")); i += 2 + n
    return out
r, s_ = ints(der)
open(dst, "wb").write(head + payload + r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
PYEOF
}
# slot_json FIELD...: fields of GET /api/slot, space-separated
slot_json() {
  C "$URL/api/slot" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(d[k]) for k in sys.argv[1:]))' "$@" 2>/dev/null
}
fw_json() { # FIELD...: of GET /api/firmware
  C "$URL/api/firmware" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(d.get(k)) for k in sys.argv[1:]))' "$@" 2>/dev/null
}
# wait_console PATTERN [N]: until the console has more than N lines matching (5 s)
wait_console() {
  for _ in $(seq 1 50); do
    [ "$(tr -d '\r' <"$TMP/console.log" | grep -cE "$1")" -gt "${2:-0}" ] && return 0
    sleep 0.1
  done
  return 1
}
verifier=$(tr -d '\r' <"$TMP/console.log" | sed -nE "s/.*the verifier's state during an update: ([0-9]+) B.*/\1/p" | head -n 1)
echo "# the verifier's state during an update, measured on the board at boot: ${verifier:-?} B (SHA-256 contexts, header, ECDSA verification)"
if [ -f "$SIGN_KEY" ]; then
  head -c 1048576 /dev/urandom >"$TMP/fw1.bin"
  head -c 1048576 /dev/urandom >"$TMP/fw2.bin"
  sign "$SIGN_KEY" qemu-1 "$TMP/fw1.bin" "$TMP/fw1.img" && sign "$SIGN_KEY" qemu-2 "$TMP/fw2.bin" "$TMP/fw2.img"
  check $? "1 MiB images are signed with the development key ($( [ -x tools/sn-sign ] && echo tools/sn-sign || echo "openssl: tools/sn-sign is not there yet"))"
  fw1=$(sha256sum "$TMP/fw1.img" | cut -c1-64) fw2=$(sha256sum "$TMP/fw2.img" | cut -c1-64)
  bytes=$(stat -c %s "$TMP/fw1.img")

  # PUT: the image as the body (curl -T)
  out=$(C -T "$TMP/fw1.img" -w '\n%{http_code} %{time_total}' "$URL/api/firmware")
  read -r code total <<<"$(tail -n 1 <<<"$out")"
  got=$(head -n 1 <<<"$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["version"], d["bytes"], d["sha256"])' 2>/dev/null)
  [ "$code" = 200 ] && [ "$got" = "accepted qemu-1 $bytes $fw1" ]
  check $? "PUT /api/firmware (curl -T) of a signed 1 MiB image: 200, accepted, version, bytes and SHA-256 of the image (${total}s)" \
    "HTTP $code: $(head -n 1 <<<"$out")"
  memory "a 1 MiB signed image PUT into the flash slot (a full handshake)"
  fw_peak=${last_peak:-0}
  [ "$(slot_json accepted bytes version sha256 faults)" = "A $bytes qemu-1 $fw1 0" ]
  check $? "the slot: bank A accepted, and the bank in flash holds the image byte for byte (SHA-256 read back), no fault" \
    "GET /api/slot: $(slot_json accepted bytes version sha256 faults)"
  wait_console "slot: accepted bank A, $bytes bytes, version qemu-1, record 1, faults 0 \(update finished\)"
  check $? "the console shows the slot's new state: 'slot: accepted bank A, $bytes bytes, version qemu-1, ... faults 0'"
  bar=$((small_peak + 4096 + ${verifier:-0}))
  echo "# heap peak: 1 MiB signed update $fw_peak B; small request $small_peak B; bar = small + 4096 + verifier ${verifier:-?} = $bar B (plain 1 MiB streamed upload: $up_peak B)"
  [ "$fw_peak" -gt 0 ] && [ -n "$verifier" ] && [ "$fw_peak" -le "$bar" ]
  check $? "the signed update's heap peak ($fw_peak B) is at most a small request's ($small_peak B) + 4 KiB + the verifier's state (${verifier:-?} B)" \
    "peak $fw_peak B > $bar B"

  # POST: an HTML form's multipart/form-data (curl -F image=@...)
  out=$(C -F "image=@$TMP/fw2.img" -w '\n%{http_code} %{time_total}' "$URL/api/firmware")
  read -r code total <<<"$(tail -n 1 <<<"$out")"
  got=$(head -n 1 <<<"$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["version"], d["bytes"], d["sha256"])' 2>/dev/null)
  [ "$code" = 200 ] && [ "$got" = "accepted qemu-2 $bytes $fw2" ]
  check $? "POST /api/firmware (curl -F image=@...) of a signed 1 MiB image: 200, accepted, version, bytes, SHA-256 (${total}s)" \
    "HTTP $code: $(head -n 1 <<<"$out")"
  memory "a 1 MiB signed image POSTed as a form into the flash slot"
  fw_form_peak=${last_peak:-0}
  echo "# heap peak: 1 MiB signed update as multipart/form-data $fw_form_peak B"
  [ "$(slot_json accepted bytes version sha256 faults)" = "B $bytes qemu-2 $fw2 0" ]
  check $? "the slot: bank B accepted now, holding the form's image byte for byte; bank A was not the one written" \
    "GET /api/slot: $(slot_json accepted bytes version sha256 faults)"

  # refused: signed with another key; too large; cut off at 50 %
  openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" 2>/dev/null
  sign "$TMP/other.key" qemu-bad "$TMP/fw1.bin" "$TMP/bad.img"
  out=$(C -T "$TMP/bad.img" -w '\n%{http_code}' "$URL/api/firmware")
  code=$(tail -n 1 <<<"$out")
  [ "$code" = 422 ] && grep -q 'signature' <<<"$out" && [ "$(fw_json state version sha256)" = "accepted qemu-2 $fw2" ] &&
    [ "$(slot_json accepted version sha256 faults)" = "B qemu-2 $fw2 0" ]
  check $? "an image signed with another key: 422 (bad signature); GET /api/firmware and the slot still hold qemu-2, byte for byte" \
    "HTTP $code: $(head -n 1 <<<"$out"); firmware: $(fw_json state version error); slot: $(slot_json accepted version faults)"
  wait_console "slot: accepted bank B, $bytes bytes, version qemu-2, record 2, faults 0 \(update into bank A dropped at $bytes of $bytes bytes\)"
  check $? "the console: the refused image's bank A dropped, B still accepted"

  head -c $((SLOT_BANK_BYTES + 1)) /dev/zero >"$TMP/big.bin" 2>/dev/null
  out=$(C -T "$TMP/big.bin" -w '\n%{http_code}' "$URL/api/firmware")
  [ "$(tail -n 1 <<<"$out")" = 413 ] && [ "$(slot_json accepted version sha256)" = "B qemu-2 $fw2" ]
  check $? "a body larger than a bank ($((SLOT_BANK_BYTES + 1)) B): 413 before it is read; the slot unchanged" "got: $(tr '\n' ' ' <<<"$out")"

  n=$(tr -d '\r' <"$TMP/console.log" | grep -c 'dropped at')
  timeout 60 $PY - "$port" "$CERTS/ca.pem" "$TMP/fw1.img" <<'PYEOF'
import socket, ssl, sys, time
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
img = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost")
s.sendall(b"PUT /api/firmware HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(img))
half = len(img) // 2
for i in range(0, half, 16384):
    s.sendall(img[i:min(i + 16384, half)])
time.sleep(3)  # until the board has read what was sent
s.close()  # gone at 50 %: no close_notify, a FIN
PYEOF
  wait_console 'dropped at [0-9]+ of' "$n"
  st=$?
  [ $st = 0 ] && [ "$(fw_json state version sha256)" = "accepted qemu-2 $fw2" ] && [ "$(slot_json accepted version sha256 faults)" = "B qemu-2 $fw2 0" ]
  check $? "an upload cut off at 50% (the client closes): the slot drops it; qemu-2 stays accepted, byte for byte" \
    "console: $(tr -d '\r' <"$TMP/console.log" | grep 'slot:' | tail -n 1); firmware: $(fw_json state version error)"
  echo "# $(tr -d '\r' <"$TMP/console.log" | grep 'dropped at' | tail -n 1 | sed 's/^sn_mps2: //')"
  console r
else
  nok "the signing key $SIGN_KEY exists (tools/sn-sign keygen $CERTS)"
fi

# ---- a 64 KiB POST, echoed ------------------------------------------------------------------
head -c 65536 /dev/urandom >"$TMP/post.bin"
out=$(C -o "$TMP/echo.bin" -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/post.bin" \
  -w '%{http_code} %{time_appconnect} %{time_total}' "$URL/api/echo")
read -r code t total <<<"$out"
hs echo "$t"
[ "$code" = 200 ] && cmp -s "$TMP/post.bin" "$TMP/echo.bin"
check $? "a 64 KiB POST to /api/echo comes back byte for byte (${total}s)" "got: $out, $(stat -c %s "$TMP/echo.bin" 2>/dev/null) bytes"

memory "the 64 KiB echo (its request and reply buffered whole)"

# ---- session resumption with openssl s_client --------------------------------------------
out=$( (sleep 2) | SC -sess_out "$TMP/s13")
if grep -q '^New, TLSv1.3' <<<"$out" && [ -s "$TMP/s13" ]; then
  out=$( (sleep 1) | SC -sess_in "$TMP/s13")
  grep -q '^Reused, TLSv1.3' <<<"$out"
  check $? "s_client: a TLS 1.3 session is resumed from its ticket on reconnect (Reused, TLSv1.3)" \
    "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"
else
  nok "s_client: a TLS 1.3 handshake gives a session to resume" "$(grep -E '^(New|Reused)|error|Verify' <<<"$out" | head -n 3)"
fi
SC -tls1_2 -sess_out "$TMP/s12" </dev/null >/dev/null
out=$(SC -tls1_2 -sess_in "$TMP/s12" </dev/null)
grep -q '^Reused, TLSv1.2' <<<"$out"
check $? "s_client: a TLS 1.2 session is resumed on reconnect (Reused, TLSv1.2)" "$(grep -E '^(New|Reused)|error' <<<"$out" | head -n 2)"

# ---- keep-alive: 8 requests, one connection ----------------------------------------------
urls=()
for i in 1 2 3 4 5 6 7 8; do urls+=("$URL/api/hello/k$i"); done
out=$(C -w '%{num_connects} %{time_appconnect}\n' "${urls[@]}")
got=$(grep -c '^hello, k[1-8]$' <<<"$out")
conns=$(awk 'NF == 2 && $1 ~ /^[0-9]+$/ { n += $1 } END { print n + 0 }' <<<"$out")
hs keep-alive "$(awk 'NF == 2 && $1 == 1 { print $2; exit }' <<<"$out")"
[ "$got" = 8 ] && [ "$conns" = 1 ]
check $? "8 keep-alive requests on one connection: 8 answers, 1 handshake" "answers $got, connections $conns"

# ---- 4 connections at once ----------------------------------------------------------------
cpids=()
for i in 1 2 3 4; do
  C -o "$TMP/par$i" -w '%{time_appconnect}' "$URL/api/hello/p$i" >"$TMP/par$i.t" 2>"$TMP/par$i.err" &
  cpids+=($!)
done
wait "${cpids[@]}" # (not a bare wait: QEMU is a background job too)
wait_ok=0
for i in 1 2 3 4; do
  [ "$(cat "$TMP/par$i" 2>/dev/null)" = "hello, p$i" ] || wait_ok=1
  hs "parallel$i" "$(cat "$TMP/par$i.t" 2>/dev/null)"
done
check $wait_ok "4 connections at once are all answered" "$(cat "$TMP"/par*.err 2>/dev/null | head -n 2)"

memory "resumption, keep-alive, 4 connections at once"

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
grep -q 'sn_mps2: stopped' "$TMP/console.log" && [ "$status" = 0 ] && stopped=0
check $stopped "the console's q stops the firmware cleanly (connections closed, QEMU exits with status 0)" \
  "exit status ${status:-none (still running after 30s)}"
[ -n "$qpid" ] && kill "$qpid" 2>/dev/null

tr -d '\r' <"$TMP/console.log" | grep -E 'sn_mps2: (memory \(stopped\)|stats:)' | tail -n 2 | sed 's/^/# /'
lost=$(grep -c 'Slirp: Failed to send packet' "$TMP/console.log")
echo "# frames QEMU could not hand to the LAN9118 (its RX FIFO full; TCP sent them again): $lost"
grep -qE 'heap peak [0-9]+ B.*stack deepest [0-9]+ of' "$TMP/console.log"
check $? "the console reports the heap high-water mark and the stack depth"
if [ -s "$TMP/times" ]; then
  echo "# handshake time per connection (curl time_appconnect, s; full handshakes, TLS 1.3 but status-tls1.2; emulated, so relative):"
  echo "#   $(tr '\n' ' ' <"$TMP/times")"
  # the median: a frame QEMU dropped costs one of them a TCP retransmission (about 1 s)
  awk -F= '$2 > 0 { print $2 }' "$TMP/times" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) printf "# full handshakes: %d, median %.3f s, fastest %.3f s, slowest %.3f s\n", NR, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
fi
# (the slot's state lines end in "faults N": counted apart, below)
errs=$(tr -d '\r' <"$TMP/console.log" | grep -iE 'FAULT|lwIP assertion|unexpected interrupt' | grep -vcE '^sn_mps2: slot: .*, faults 0( |,|$)')
check "$( [ "$errs" = 0 ]; echo $?)" "no fault or assertion on the console"
if [ -f "$SIGN_KEY" ]; then
  last=$(tr -d '\r' <"$TMP/console.log" | grep '^sn_mps2: slot:' | tail -n 1)
  echo "# ${last#sn_mps2: }"
  [[ $last == *", faults 0"* ]] && [[ $last != *"contract errors"* ]] && ! grep -q 'flash: FAULT' "$TMP/console.log"
  check $? "the flash simulator counted no fault and the slot hooks no contract error over every update" "last: $last"
fi

# ---- without semihosting there is no entropy: the build must stop ------------------------
out=$(SN_MPS2_CFLAGS=-DSN_MPS2_NO_SEMIHOSTING examples/qemu-mps2/build.sh --out "$TMP/nosemi.elf" 2>&1)
st=$?
[ $st != 0 ] && [ ! -f "$TMP/nosemi.elf" ] && grep -q 'error: #error "securenet_port_lwip.h: define SN_LWIP_ENTROPY' <<<"$out"
check $? "a build without semihosting (-DSN_MPS2_NO_SEMIHOSTING) stops at securenet's entropy #error" \
  "status $st: $(grep -m1 error <<<"$out")"

finish
