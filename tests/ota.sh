#!/usr/bin/env bash
# Signed firmware updates (issue 17) through sn_demo's /api/firmware, driven by
# curl and by a raw Python client (tests/ota/client.py):
#   accept    curl -F image=@IMG and -T IMG of 1 MiB and SN_OTA_BIG_MB MiB images: 200,
#             version/bytes/sha256 in the answer, the slot file byte-identical, GET agrees
#   refuse    a flipped signature byte, another key's signature, a flipped payload byte,
#             wrong magic, a header stating 10 bytes more / fewer than sent (422); a form
#             without the image field, with two, without its closing delimiter (400)
#   truncate  the client closes at 1 %, 50 %, 99 % of a full Content-Length
#   busy      a second upload while the first is half-sent: 409; the first then completes
#   capacity  --ota-capacity below the image: 413 for PUT before the body is sent
#             (Expect: 100-continue), for a form once the image's header arrives
#   kill      kill -9 of sn_demo mid-upload; after a restart GET works
# After every refusal: the slot file is the image accepted before (cmp), no FILE.part
# is left behind, GET /api/firmware says the state is not "receiving" and names the
# refusal. One line per check, "ok - ..." or "not ok - ...: why", then
# "N passed, N failed"; exit 1 if any failed.
#
# Environment:
#   SN_DEMO        the server binary (default build/sn_demo)
#   SN_CERTS       certificates from tools/sn-certgen (default build/certs)
#   SN_PORT_BASE   the HTTPS port (default: a free one of 33000 + k * 4, tests/free-ports)
#   SN_TMP         scratch directory (default build/ota-tmp.$$; removed unless a check failed)
#   SN_WRAP        a wrapper for the server command (valgrind ...); time bounds x OTA_SLOW
#   SN_OTA_BIG_MB  the large image's payload in MiB (default 16; tests/run.sh: 4 under ASan)
#   SN_SIGN        the signer (default tools/sn-sign: keygen DIR, sign --key K --version V IN OUT)
#   OTA_SLOW       factor for time bounds (default 1, 4 with SN_WRAP)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 33000 100 4)} # 33000-33399: no other suite's ports
TMP=${SN_TMP:-build/ota-tmp.$$}
BIG=${SN_OTA_BIG_MB:-16}
SIGN=${SN_SIGN:-tools/sn-sign}
SLOW=${OTA_SLOW:-$([ -n "${SN_WRAP:-}" ] && echo 4 || echo 1)}
PY=/usr/bin/python3
CLIENT=tests/ota/client.py
CA=$CERTS/ca.pem
URL=https://localhost:$S/api/firmware
pass=0 fail=0 LOG="" SPID="" PREV=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 6 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

mkdir -p "$TMP" || exit 1
SLOT=$TMP/slot.img
cleanup() {
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  [ "$fail" -eq 0 ] && [ -z "${SN_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the server --------------------------------------------------------------------------
# start NAME [sn_demo flags...]: waits up to 10 s (x SLOW) for "listening"
start() {
  local name=$1 i n=$((100 * SLOW)); shift
  LOG="$TMP/$name.log"
  ${SN_WRAP:-} "$DEMO" --https-port "$S" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
    --ota-pub "$TMP/k1/sign.pub.pem" --ota-slot "$SLOT" "$@" >"$LOG" 2>&1 &
  SPID=$!
  for i in $(seq 1 $n); do
    grep -q listening "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: server starts and prints 'listening'"
  kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""
  return 1
}
# stop NAME: SIGTERM; exit 0, no sanitizer or leak report
stop() {
  local name=$1 rc i n=$((100 * SLOW))
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $n); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
    nok "$name: server exits cleanly on SIGTERM" "still running after $((n / 10)) s"
    return
  fi
  wait "$SPID"; rc=$?; SPID=""
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]|indirectly lost: [1-9]" "$LOG"; then
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer or leak report)" "status $rc"
    grep -m8 -E "ERROR:|runtime error:|SUMMARY|definitely lost|#[0-9] " "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer or leak report)"
  fi
}
get() { timeout $((15 * SLOW)) curl -q -sS --max-time $((10 * SLOW)) --cacert "$CA" "$URL" 2>&1; }
# jf JSON FIELD: a field of a JSON object (strings without quotes)
jf() { $PY -c 'import json,sys
try: v = json.loads(sys.argv[1]).get(sys.argv[2], "")
except Exception: v = "<not JSON>"
print(v)' "$1" "$2"; }
# up NAME CURL-ARGS...: an upload; sets CODE and BODY
up() {
  local name=$1; shift
  CODE=$(timeout $((60 * SLOW)) curl -q -sS --max-time $((50 * SLOW)) --cacert "$CA" -o "$TMP/body.$name" \
    -w '%{http_code}' "$@" "$URL" 2>"$TMP/curl.$name")
  BODY=$(cat "$TMP/body.$name" 2>/dev/null)
}
# wait_idle: GET until the state is not "receiving" (5 s x SLOW); sets G
wait_idle() {
  local i
  for i in $(seq 1 $((50 * SLOW))); do
    G=$(get)
    [ "$(jf "$G" state)" != receiving ] && [ "$(jf "$G" state)" != "<not JSON>" ] && return 0
    sleep 0.1
  done
  return 1
}
# untouched WHAT WORDS: the slot is still $PREV, no .part, GET names WORDS
untouched() {
  local what=$1 words=$2 why="" idle=0
  wait_idle && idle=1 # first: a client's close may still be on its way to the server
  cmp -s "$SLOT" "$PREV" || why="the slot file is not the image accepted before; "
  [ -e "$SLOT.part" ] && why="$why$SLOT.part left behind; "
  if [ $idle = 0 ]; then why="${why}GET still says receiving (or no answer): $G; "
  elif [ -n "$words" ] && [[ "$(jf "$G" error)" != *"$words"* ]]; then why="${why}GET's error is not '$words': $G; "; fi
  check "$([ -z "$why" ]; echo $?)" "$what: the previous image untouched, no .part left, GET not receiving${words:+ and says '$words'}" "$why"
}
# refused NAME CODE WORDS CURL-ARGS...
refused() {
  local name=$1 code=$2 words=$3; shift 3
  up "$name" "$@"
  [ "$CODE" = "$code" ] && [[ "$(jf "$BODY" error)" == *"$words"* ]]
  check $? "$name: $code with '$words'" "got $CODE $BODY $(head -c 200 "$TMP/curl.$name")"
  untouched "$name" "$words"
}
# accepted NAME IMG CURL-ARGS...: 200 with the image's version, bytes, sha256; slot == IMG; GET agrees
accepted() {
  local name=$1 img=$2 why="" ver sha bytes; shift 2
  ver=$(cat "$img.version") sha=$(sha256sum "$img" | cut -c1-64) bytes=$(stat -c %s "$img")
  up "$name" "$@"
  [ "$CODE" = 200 ] || why="status $CODE $BODY; "
  [ "$(jf "$BODY" version)" = "$ver" ] && [ "$(jf "$BODY" bytes)" = "$bytes" ] && [ "$(jf "$BODY" sha256)" = "$sha" ] &&
    [ "$(jf "$BODY" state)" = accepted ] || why="${why}answer $BODY, want version $ver bytes $bytes sha256 $sha; "
  cmp -s "$SLOT" "$img" || why="${why}the slot file differs from the image; "
  [ -e "$SLOT.part" ] && why="$why.part left behind; "
  G=$(get)
  [ "$(jf "$G" state)" = accepted ] && [ "$(jf "$G" version)" = "$ver" ] && [ "$(jf "$G" bytes)" = "$bytes" ] &&
    [ "$(jf "$G" sha256)" = "$sha" ] || why="${why}GET says $G; "
  check "$([ -z "$why" ]; echo $?)" "$name: 200, version/bytes/sha256 right, slot file identical, GET agrees" "$why"
  PREV=$img
}

# ---- keys and images ---------------------------------------------------------------------
# mkimg NAME PAYLOAD-BYTES VERSION [KEYDIR]: $TMP/NAME.img signed (default key k1)
mkimg() {
  head -c "$2" /dev/urandom >"$TMP/$1.bin" &&
    "$SIGN" sign --key "$TMP/${4:-k1}/sign.key" --version "$3" "$TMP/$1.bin" "$TMP/$1.img" >/dev/null &&
    echo "$3" >"$TMP/$1.img.version" && rm -f "$TMP/$1.bin"
}
if ! "$SIGN" keygen "$TMP/k1" >/dev/null 2>&1 || ! "$SIGN" keygen "$TMP/k2" >/dev/null 2>&1 ||
  ! mkimg a $((1 << 20)) 1.0.0 || ! mkimg b $((BIG << 20)) 2.0.0-big || ! mkimg c $((1 << 20)) 3.0.0 ||
  ! mkimg other $((1 << 20)) 4.0.0 k2; then
  nok "images signed with $SIGN"
  echo "$pass passed, $fail failed"; exit 1
fi
$PY - "$TMP" <<'PYEOF' || nok "broken images made"
import struct, sys
t = sys.argv[1]
d = open(t + "/c.img", "rb").read()
n = len(d) - 128
def w(name, b): open(t + "/" + name + ".img", "wb").write(bytes(b))
b = bytearray(d); b[-7] ^= 0x01; w("badsig", b)
b = bytearray(d); b[64 + n // 2] ^= 0x01; w("badpayload", b)
b = bytearray(d); b[0:4] = b"SNFX"; w("magic", b)
b = bytearray(d); b[8:12] = struct.pack(">I", n + 10); w("says-more", b)
b = bytearray(d); b[8:12] = struct.pack(">I", n - 10); w("says-less", b)
PYEOF

# ---- accepted ----------------------------------------------------------------------------
start main || { echo "$pass passed, $fail failed"; exit 1; }
G=$(get)
[ "$(jf "$G" state)" = idle ]; check $? "GET /api/firmware on a fresh server: idle" "$G"
accepted "PUT 1 MiB (curl -T)" "$TMP/a.img" -T "$TMP/a.img"
accepted "PUT $BIG MiB (curl -T)" "$TMP/b.img" -T "$TMP/b.img"
accepted "POST form 1 MiB (curl -F image=@)" "$TMP/a.img" -F "image=@$TMP/a.img"
accepted "POST form $BIG MiB (curl -F image=@)" "$TMP/b.img" -F "image=@$TMP/b.img"
accepted "POST form 1 MiB beside another field" "$TMP/a.img" -F "note=hello" -F "image=@$TMP/a.img;type=application/octet-stream"

# ---- refused: 422 and 400 ----------------------------------------------------------------
for how in PUT form; do
  if [ $how = PUT ]; then a=(-T); p=""; else a=(-F); p="image=@"; fi
  refused "$how: a flipped signature byte" 422 "bad signature" "${a[@]}" "$p$TMP/badsig.img"
  refused "$how: signed by another key" 422 "bad signature" "${a[@]}" "$p$TMP/other.img"
  refused "$how: a flipped payload byte" 422 "bad signature" "${a[@]}" "$p$TMP/badpayload.img"
  refused "$how: wrong magic" 422 "wrong magic" "${a[@]}" "$p$TMP/magic.img"
  refused "$how: header states 10 bytes more than sent" 422 "shorter than its header states" "${a[@]}" "$p$TMP/says-more.img"
  refused "$how: header states 10 bytes fewer than sent" 422 "longer than its header states" "${a[@]}" "$p$TMP/says-less.img"
done
printf 'hello' >"$TMP/note.txt"
refused "form without an image field" 400 "no image field" -F "firmware=@$TMP/c.img" -F "note=@$TMP/note.txt"
refused "form with the image field twice" 400 "two image fields" -F "image=@$TMP/c.img" -F "image=@$TMP/c.img"
$PY - "$TMP" <<'PYEOF'
import sys
t = sys.argv[1]
d = open(t + "/c.img", "rb").read()
open(t + "/unclosed.body", "wb").write(
    b'--XyZ12\r\nContent-Disposition: form-data; name="image"; filename="c.img"\r\n'
    b'Content-Type: application/octet-stream\r\n\r\n' + d + b'\r\n--XyZ12\r\nContent-Disposition: form-data; name="x"\r\n\r\nabc')
PYEOF
refused "form without its closing delimiter" 400 "no closing delimiter" \
  -H 'Content-Type: multipart/form-data; boundary=XyZ12' --data-binary "@$TMP/unclosed.body"

# ---- truncated: the client closes at 1 %, 50 %, 99 % -------------------------------------
for f in 0.01 0.50 0.99; do
  out=$(timeout $((30 * SLOW)) $PY $CLIENT --port "$S" --ca "$CA" --file "$TMP/c.img" --frac $f --then close 2>&1)
  check $? "truncated at $f: the client sent $f of the image and closed" "$out"
  untouched "truncated at $f" ""
  kill -0 "$SPID" 2>/dev/null; check $? "truncated at $f: the server still runs"
done

# ---- busy: a second upload during the first ----------------------------------------------
rm -f "$TMP/ready" "$TMP/go"
timeout $((40 * SLOW)) $PY $CLIENT --port "$S" --ca "$CA" --file "$TMP/c.img" --frac 0.5 --then wait-rest \
  --ready "$TMP/ready" --go "$TMP/go" --max-s $((30 * SLOW)) >"$TMP/first.out" 2>&1 &
cpid=$!
for i in $(seq 1 $((100 * SLOW))); do [ -e "$TMP/ready" ] && break; sleep 0.1; done
for i in $(seq 1 $((50 * SLOW))); do [ "$(jf "$(get)" state)" = receiving ] && break; sleep 0.1; done
[ "$(jf "$(get)" state)" = receiving ]; check $? "busy: GET says receiving while the first upload is half-sent"
up busy -T "$TMP/a.img"
[ "$CODE" = 409 ] && [[ "$(jf "$BODY" error)" == *"under way"* ]]
check $? "busy: a second upload meanwhile gets 409 with 'under way'" "got $CODE $BODY"
cmp -s "$SLOT" "$PREV" && [ -e "$SLOT.part" ]
check $? "busy: the slot still holds the previous image, the first upload's .part is there"
touch "$TMP/go"
wait $cpid
first=$(cat "$TMP/first.out")
if [[ "$first" == *" 200 "* ]]; then
  cmp -s "$SLOT" "$TMP/c.img" && [ ! -e "$SLOT.part" ]
  check $? "busy: the first upload then completes (200) and its image is in the slot" "$first"
  PREV=$TMP/c.img
else
  ok "# busy: the first upload was closed ($first)"
  untouched "busy: the first closed" ""
fi
G=$(get); [ "$(jf "$G" state)" = accepted ]; check $? "busy: GET says accepted afterwards" "$G"
stop main

# ---- capacity ----------------------------------------------------------------------------
asz=$(stat -c %s "$TMP/a.img")
start capacity --ota-capacity $((asz - 1000)) || { echo "$pass passed, $fail failed"; exit 1; }
# 413 at the head: no 100 Continue, nothing of the body sent (curl's size_upload 0)
up cap-put -T "$TMP/a.img" -H 'Expect: 100-continue' --expect100-timeout $((20 * SLOW)) -v -w '%{http_code} %{size_upload}'
upl=${CODE#* } CODE=${CODE%% *}
cont=$(grep -c '^< HTTP/1.1 100' "$TMP/curl.cap-put")
[ "$CODE" = 413 ] && [ "$upl" = 0 ] && [ "$cont" = 0 ] && [[ "$(jf "$BODY" error)" == *"larger than the slot"* ]]
check $? "capacity: PUT with Expect: 100-continue gets 413 with 'larger than the slot' before the body is sent" \
  "got $CODE $BODY, $upl bytes of the body sent, $cont '100 Continue' seen"
untouched "capacity: PUT" ""
refused "capacity: a form whose image's header states more than the slot holds" 413 "larger than the slot" -F "image=@$TMP/a.img"
stop capacity

# ---- the multipart parser on its own: POST /api/form ---------------------------------------
start form || { echo "$pass passed, $fail failed"; exit 1; }
FORM=${URL%/api/firmware}/api/form
fpost() { timeout $((30 * SLOW)) curl -q -sS --max-time $((20 * SLOW)) --cacert "$CA" -w ' %{http_code}' "$@" "$FORM" 2>&1; }
R=$(fpost -F a=hello -F "image=@$TMP/a.img;filename=€ x.img" -F "e=@/dev/null;filename=empty")
want=$($PY -c 'import json,sys,hashlib
a = open(sys.argv[1], "rb").read()
print(json.dumps({"parts": [
  {"name": "a", "filename": "", "bytes": 5, "sha256": hashlib.sha256(b"hello").hexdigest()},
  {"name": "image", "filename": "\u20ac x.img", "bytes": len(a), "sha256": hashlib.sha256(a).hexdigest()},
  {"name": "e", "filename": "empty", "bytes": 0, "sha256": hashlib.sha256(b"").hexdigest()}]}, sort_keys=True))' "$TMP/a.img")
got=$($PY -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1].rsplit(" ", 1)[0]), sort_keys=True))' "$R" 2>/dev/null)
[ "$got" = "$want" ] && [ "${R##* }" = 200 ]; check $? "form: curl -F with a field, a file with a UTF-8 name and an empty file: each part's name, filename, size and SHA-256" "$R"
R=$(printf -- '--X\r\n\r\nabc' | fpost -H 'Content-Type: multipart/form-data; boundary=X' --data-binary @-)
[[ $R == '{"error":"no closing delimiter"}'* && ${R##* } == 400 ]]; check $? "form: a body without its closing delimiter is 400 with the words" "$R"
R=$(fpost -H 'Content-Type: multipart/form-data' --data-binary x)
[[ $R == '{"error":"no boundary parameter"}'* && ${R##* } == 400 ]]; check $? "form: no boundary parameter is 400 with the words" "$R"
stop form

# ---- kill -9 mid-upload ------------------------------------------------------------------
start kill || { echo "$pass passed, $fail failed"; exit 1; }
rm -f "$TMP/ready" "$TMP/go"
timeout $((40 * SLOW)) $PY $CLIENT --port "$S" --ca "$CA" --file "$TMP/b.img" --frac 0.5 --then wait-rest \
  --ready "$TMP/ready" --go "$TMP/go" --max-s $((30 * SLOW)) >"$TMP/kill.out" 2>&1 &
cpid=$!
for i in $(seq 1 $((100 * SLOW))); do [ -e "$TMP/ready" ] && break; sleep 0.1; done
for i in $(seq 1 $((50 * SLOW))); do [ "$(jf "$(get)" state)" = receiving ] && break; sleep 0.1; done
[ "$(jf "$(get)" state)" = receiving ]; check $? "kill -9: GET says receiving while the upload is half-sent"
kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
touch "$TMP/go"; wait $cpid
cmp -s "$SLOT" "$PREV"; check $? "kill -9 mid-upload: the slot file is still the previous image"
start kill-restart || { echo "$pass passed, $fail failed"; exit 1; }
G=$(get); [ "$(jf "$G" state)" = idle ]; check $? "kill -9: after a restart GET /api/firmware answers (idle)" "$G"
accepted "kill -9: after a restart an upload is accepted" "$TMP/a.img" -T "$TMP/a.img"
stop kill-restart

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
