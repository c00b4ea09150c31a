#!/usr/bin/env bash
# Headless Chromium against the dashboard's firmware page (issue 17): the page's
# own form code uploads a signed image to sn_demo's POST /api/firmware.
#   load      /firmware.html shows the slot state from GET /api/firmware (idle);
#             ?test_image= with anything but a same-origin path starts nothing
#   upload    ?test_image=/test/good.img: the page fetches a 1 MiB signed image,
#             puts it in its file input and submits the form (multipart, field
#             "image", XHR); it shows the version, bytes and SHA-256; the progress
#             bar moved (>= 2 upload progress events, loaded increasing, the last
#             loaded == total) and ends full; the page's slot state says accepted;
#             curl's GET /api/firmware has the image's sha256sum; the slot file is
#             the image byte for byte
#   refused   an image signed by another key: the page shows HTTP 422 and the
#             reason; the state, the SHA-256 and the slot file are still the first
#             image's
# /test/*.img never reach sn_demo: tests/browser/cdp.py answers them from files
# (DevTools Fetch interception). Uploads are throttled to 2 MB/s (DevTools network
# emulation) so Chromium reports progress more than once on loopback.
# One line per check, "ok - ..." or "not ok - ...: why"; exit 1 if any failed.
# "ok - browser: ... # SKIP" when no Chromium is installed (tools/deps.sh installs it).
#
# Environment:
#   SN_DEMO        the server (default build/sn_demo)
#   SN_CERTS       TLS certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_CHROMIUM    the browser (default: chromium on PATH)
#   SN_PORT_BASE   sn_demo's HTTPS port; DevTools on the next (default: a free pair of
#                  27100 + 2k, tests/free-ports)
#   SN_TMP         scratch directory (default build/browser-tmp.$$; removed unless a check failed)
#   SN_BROWSER_BUG serve a broken page instead of the embedded one, to see the checks
#                  fail: no-progress (no upload progress handler), wrong-field (the file
#                  input named "file"), always-ok (any answer shown as accepted),
#                  no-refresh (the slot state not read again after an upload)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 27100 50 2)}
DT=$((S + 1))
TMP=${SN_TMP:-build/browser-tmp.$$}
PY=/usr/bin/python3
CDP=tests/browser/cdp.py
SIGN=tools/sn-sign
CA=$CERTS/ca.pem
URL=https://localhost:$S
pass=0 fail=0 SPID="" LOG=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }

CHROMIUM=${SN_CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
if [ -z "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then
  echo "ok - browser: firmware page # SKIP no chromium (tools/deps.sh installs it)"
  exit 0
fi

cleanup() {
  local p
  [ -f "$TMP/chromium.pid" ] && p=$(cat "$TMP/chromium.pid") && kill -9 -- "-$p" 2>/dev/null
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP"

# j FILE EXPR: a Python expression over the JSON in FILE (as d)
j() { $PY -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2" 2>&1; }

# page NAME URL WAIT READ [cdp.py options...]: READ's value into $TMP/NAME.json (60 s at most)
page() {
  local name=$1 url=$2 wait=$3 read=$4 rc; shift 4
  rm -rf "$TMP/profile" && mkdir -p "$TMP/profile"
  timeout -k 5 90 $PY $CDP --chromium "$CHROMIUM" --port "$DT" --profile "$TMP/profile" --pidfile "$TMP/chromium.pid" \
    --url "$url" --wait "$wait" --read "$read" --timeout 60 "${BUG_SERVE[@]}" "$@" >"$TMP/$name.json" 2>"$TMP/$name.err"
  rc=$?
  [ -f "$TMP/chromium.pid" ] && kill -9 -- "-$(cat "$TMP/chromium.pid")" 2>/dev/null
  rm -f "$TMP/chromium.pid"
  [ $rc = 0 ] || echo "# $name: cdp.py exit $rc: $(grep -v '^# served' "$TMP/$name.err" | tr '\n' ' ' | cut -c1-300)"
  return $rc
}

# ---- the images, the keys, the server --------------------------------------------------------
[ -f "$CERTS/server.pem" ] || tools/sn-certgen "$CERTS" >/dev/null 2>&1
head -c 1048576 /dev/urandom >"$TMP/payload.bin"
if ! { $SIGN keygen "$TMP/key" && $SIGN keygen "$TMP/other" &&
       $SIGN sign --key "$TMP/key/sign.key" --version 1.2.3-browser "$TMP/payload.bin" "$TMP/good.img" &&
       $SIGN sign --key "$TMP/other/sign.key" --version 6.6.6-other "$TMP/payload.bin" "$TMP/other.img"; } >"$TMP/sign.log" 2>&1; then
  nok "images signed by tools/sn-sign" "$(cat "$TMP/sign.log")"
  exit 1
fi
GOOD_BYTES=$(stat -c %s "$TMP/good.img")
GOOD_SHA=$(sha256sum "$TMP/good.img" | cut -d' ' -f1)
SLOT=$TMP/slot.img

BUG_SERVE=()
case ${SN_BROWSER_BUG:-} in
  "") ;;
  no-progress) sed 's/xhr\.upload\.onprogress = /const unused = /' examples/posix/static/firmware.js >"$TMP/bug.js" ;;
  always-ok) sed 's/const ok = status === 200 .*;/const ok = true;/' examples/posix/static/firmware.js >"$TMP/bug.js" ;;
  no-refresh) sed 's/^  await refreshSlot();$//' examples/posix/static/firmware.js >"$TMP/bug.js" ;;
  wrong-field) sed 's/name="image"/name="file"/' examples/posix/static/firmware.html >"$TMP/bug.html" ;;
  *) echo "tests/browser.sh: unknown SN_BROWSER_BUG '$SN_BROWSER_BUG'" >&2; exit 2 ;;
esac
[ -f "$TMP/bug.js" ] && BUG_SERVE=(--serve "/firmware.js=$TMP/bug.js") && echo "# SN_BROWSER_BUG=$SN_BROWSER_BUG: /firmware.js served broken"
[ -f "$TMP/bug.html" ] && BUG_SERVE=(--serve "/firmware.html=$TMP/bug.html") && echo "# SN_BROWSER_BUG=$SN_BROWSER_BUG: /firmware.html served broken"

LOG=$TMP/sn_demo.log
"$DEMO" --https-port "$S" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
  --ota-pub "$TMP/key/sign.pub.pem" --ota-slot "$SLOT" >"$LOG" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
  grep -q listening "$LOG" 2>/dev/null && break
  kill -0 "$SPID" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q listening "$LOG"; then
  nok "sn_demo starts with --ota-pub and --ota-slot" "$(tail -n 5 "$LOG")"
  exit 1
fi
api() { timeout 15 curl -q -sS --max-time 10 --cacert "$CA" "$URL/api/firmware" >"$TMP/$1.json" 2>&1; }
SLOT_READ='JSON.stringify(fwTest) && ({t: fwTest, slot: document.getElementById("slot").textContent,
  slotState: document.getElementById("slot-state").textContent, slotSha: document.getElementById("slot-sha256").textContent,
  ds: document.getElementById("result").dataset.state || "", dr: document.getElementById("result").dataset.result || "",
  text: document.getElementById("result").textContent,
  bar: [document.getElementById("progress").value, document.getElementById("progress").max],
  link: !!document.querySelector("a[href=\"/\"]")})'

# ---- load: the slot state on load; a test_image not a same-origin path starts nothing ----------
page index "$URL/" "document.getElementById('state').textContent === 'online'" \
  '!!document.querySelector("a[href=\"/firmware.html\"]")'
check "$([ "$(cat "$TMP/index.json")" = true ]; echo $?)" "load: the dashboard (/) links to /firmware.html" "$(cat "$TMP/index.json")"
for bad in "$URL/test/good.img" "//localhost:$S/test/good.img" "/\\localhost:$S/test/good.img"; do
  enc=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$bad")
  page load "$URL/firmware.html?test_image=$enc" \
    'window.fwTest && fwTest.slot && ((window.t0 = window.t0 || Date.now()), Date.now() - window.t0 > 1500)' \
    "$SLOT_READ" --serve /test/good.img="$TMP/good.img"
  why=$(j "$TMP/load.json" '"" if d["slot"] == "idle" and d["slotState"] == "idle" and d["link"] else "slot shown %r/%r" % (d["slot"], d["slotState"])')
  check "$([ -z "$why" ]; echo $?)" "load: the page shows the slot state idle from GET /api/firmware (test_image=$bad)" "$why"
  why=$(j "$TMP/load.json" '"" if not d["t"]["started"] else "the upload started"')
  check "$([ -z "$why" ] && ! grep -q '^# served' "$TMP/load.err" && [ ! -e "$SLOT" ]; echo $?)" \
    "load: test_image=$bad (not a same-origin path) is ignored: nothing fetched or uploaded" "$why $(grep '^# served' "$TMP/load.err")"
done

# ---- upload: a signed image through the page's form ------------------------------------------
page upload "$URL/firmware.html?test_image=/test/good.img" 'window.fwTest && fwTest.done' "$SLOT_READ" \
  --serve /test/good.img="$TMP/good.img" --upload-bps 2000000
check $? "upload: the page says done within 60 s" "$(tail -n 3 "$TMP/upload.err")"
echo "# progress events: $(j "$TMP/upload.json" '" ".join("%d/%d" % (e["loaded"], e["total"]) for e in d["t"]["progress"])')"
why=$(j "$TMP/upload.json" "'' if d['t']['status'] == 200 and d['t']['result'] == {'version': '1.2.3-browser', 'bytes': $GOOD_BYTES, 'sha256': '$GOOD_SHA', 'state': 'accepted'} else 'status %s, %s' % (d['t']['status'], d['t']['result'])")
check "$([ -z "$why" ]; echo $?)" "upload: 200 with version 1.2.3-browser, bytes $GOOD_BYTES, the image's sha256, state accepted" "$why"
why=$(j "$TMP/upload.json" "'' if d['ds'] == 'accepted' and all(w in d['text'] for w in ('Accepted', '1.2.3-browser', '$GOOD_BYTES', '$GOOD_SHA')) else 'data-state %r, shown %r' % (d['ds'], d['text'])")
check "$([ -z "$why" ]; echo $?)" "upload: the page shows success with the version, bytes and SHA-256 (#result, data-state=accepted)" "$why"
why=$(j "$TMP/upload.json" "(lambda p: '' if len(p) >= 2 and all(b['loaded'] > a['loaded'] for a, b in zip(p, p[1:])) and p[-1]['loaded'] == p[-1]['total'] >= $GOOD_BYTES and all(e['total'] == p[-1]['total'] for e in p) and d['bar'][0] == d['bar'][1] == p[-1]['total'] else 'progress %s, bar %s' % (p, d['bar']))(d['t']['progress'])")
check "$([ -z "$why" ]; echo $?)" "upload: the progress bar moved (>= 2 events, loaded increasing, last == total >= image) and ends full" "$why"
why=$(j "$TMP/upload.json" "'' if d['t']['slot']['state'] == 'accepted' and d['t']['slot'].get('sha256') == '$GOOD_SHA' and d['slotState'] == 'accepted' and d['slotSha'] == '$GOOD_SHA' else 'slot %s, shown %r %r' % (d['t']['slot'], d['slotState'], d['slotSha'])")
check "$([ -z "$why" ]; echo $?)" "upload: the page reads the slot state again after the upload: accepted, the image's SHA-256" "$why"
api after-upload
why=$(j "$TMP/after-upload.json" "'' if d['state'] == 'accepted' and d['sha256'] == '$GOOD_SHA' and d['bytes'] == $GOOD_BYTES and d['version'] == '1.2.3-browser' else d")
check "$([ -z "$why" ]; echo $?)" "upload: curl's GET /api/firmware: accepted, sha256 == sha256sum of the image, bytes, version" "$why"
check "$(cmp -s "$SLOT" "$TMP/good.img"; echo $?)" "upload: the slot file is the image byte for byte" "$(cmp "$SLOT" "$TMP/good.img" 2>&1)"

# ---- refused: signed by another key ----------------------------------------------------------
page refused "$URL/firmware.html?test_image=/test/other.img" 'window.fwTest && fwTest.done' "$SLOT_READ" \
  --serve /test/other.img="$TMP/other.img" --upload-bps 2000000
check $? "refused: the page says done within 60 s" "$(tail -n 3 "$TMP/refused.err")"
why=$(j "$TMP/refused.json" "'' if d['t']['status'] == 422 and d['t']['result'].get('error') and d['ds'] == 'refused' and 'HTTP 422' in d['text'] and d['t']['result']['error'] in d['text'] and 'Accepted' not in d['text'] else 'status %s, %s, data-state %r, shown %r' % (d['t']['status'], d['t']['result'], d['ds'], d['text'])")
check "$([ -z "$why" ]; echo $?)" "refused: another key's image: the page shows HTTP 422 and the reason (data-state=refused)" "$why"
why=$(j "$TMP/refused.json" "'' if d['t']['slot']['state'] == 'accepted' and d['t']['slot'].get('sha256') == '$GOOD_SHA' and d['slotState'] == 'accepted' and d['slotSha'] == '$GOOD_SHA' else 'slot %s, shown %r %r' % (d['t']['slot'], d['slotState'], d['slotSha'])")
check "$([ -z "$why" ]; echo $?)" "refused: the page's slot state is still the first image (accepted, its SHA-256)" "$why"
api after-refused
why=$(j "$TMP/after-refused.json" "'' if d['state'] == 'accepted' and d['sha256'] == '$GOOD_SHA' and d['version'] == '1.2.3-browser' and d['error'] else d")
check "$([ -z "$why" ]; echo $?)" "refused: curl's GET /api/firmware: still accepted with the first image's sha256, the refusal in error" "$why"
check "$(cmp -s "$SLOT" "$TMP/good.img"; echo $?)" "refused: the slot file is still the first image" "$(cmp "$SLOT" "$TMP/good.img" 2>&1)"

# ---- the server exits cleanly ----------------------------------------------------------------
kill -TERM "$SPID"
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SPID" 2>/dev/null; then
  nok "sn_demo exits on SIGTERM within 10 s"
else
  wait "$SPID"; rc=$?; SPID=""
  check "$([ $rc = 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; echo $?)" \
    "sn_demo exits cleanly on SIGTERM (status 0)" "status $rc $(tail -n 3 "$LOG")"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
