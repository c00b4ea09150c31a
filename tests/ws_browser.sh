#!/usr/bin/env bash
# The dashboard's live values in headless Chromium (issue 19), driven by
# tests/browser/ws_cdp.py (which starts sn_demo, and restarts it once):
#   websocket     the page as it is: #transport says websocket and >= 3 updates
#                 arrive over wss://.../ws/status without a reload (#updates grows,
#                 the uptime and seq change; DevTools saw the frames)
#   sse-*         WebSocket deleted, throwing, or its handshake blocked (it never
#                 opens): #transport says sse, >= 2 updates from /api/events
#                 (EventSource), nothing over a WebSocket
#   poll-*        WebSocket and EventSource deleted, or both blocked: polling,
#                 >= 2 updates, one /api/status request for each
#   reconnect     sn_demo stopped under the open page for 3 s and started again:
#                 the page is back on a WebSocket by itself (seq from 1), with a
#                 back-off (1 to 6 attempts while it was down), never dropping to
#                 SSE or polling, without a reload
# The six first run at once, each in a tab of its own (about 5 s); the whole suite
# takes about 12 s. One line per check, "ok - ..." or "not ok - ...: why"; exit 1
# if any failed. "ok - ... # SKIP" when no Chromium is installed (tools/deps.sh
# installs it).
#
# Environment:
#   SN_DEMO        the server (default build/sn_demo)
#   SN_CERTS       TLS certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_CHROMIUM    the browser (default: chromium on PATH)
#   SN_PORT_BASE   sn_demo's HTTPS port; DevTools on the next (default: a free pair of
#                  27500 + 2k, tests/free-ports)
#   SN_TMP         scratch directory (default build/ws-browser-tmp.$$; removed unless a check failed)
#   SN_WS_BROWSER_BUG  serve a broken /app.js instead of the embedded one, to see the
#                  checks fail: no-websocket (starts on SSE), label-only (polls, says
#                  websocket), count-only (counts updates, shows no values), reload (reloads
#                  itself after 2 updates), no-fallback (a failed WebSocket: nothing),
#                  no-open-fallback (a WebSocket that never opens retried for ever), no-sse
#                  (a failed WebSocket: straight to polling), no-poll (a failed event stream:
#                  nothing), no-reconnect (a closed WebSocket not opened again), no-backoff
#                  (retried every 50 ms)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 27500 50 2)}
DT=$((S + 1))
TMP=${SN_TMP:-build/ws-browser-tmp.$$}
PY=/usr/bin/python3
pass=0 fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
}

CHROMIUM=${SN_CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
if [ -z "$CHROMIUM" ]; then
  echo "ok - browser: live values # SKIP no chromium (tools/deps.sh installs it)"
  exit 0
elif [ ! -x "$CHROMIUM" ]; then
  echo "not ok - browser: SN_CHROMIUM=$CHROMIUM is not a program"
  exit 1
fi

cleanup() {
  local f
  for f in "$TMP/chromium.pid" "$TMP/server.pid"; do   # whatever ws_cdp.py left running
    [ -f "$f" ] || continue
    if [ "$f" = "$TMP/chromium.pid" ]; then kill -9 -- "-$(cat "$f")" 2>/dev/null; else kill -9 "$(cat "$f")" 2>/dev/null; fi
  done
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$TMP/profile" && mkdir -p "$TMP/profile"
[ -f "$CERTS/server.pem" ] || tools/sn-certgen "$CERTS" >/dev/null 2>&1

# ---- a broken page, to see the checks fail ------------------------------------------------
JS=examples/posix/static/app.js
SERVE=()
case ${SN_WS_BROWSER_BUG:-} in
  "") ;;
  no-websocket) sed 's/^viaWebSocket(false);$/viaSSE(false);/' $JS ;;
  label-only) sed -e 's/^viaWebSocket(false);$/viaPolling();/' \
                  -e 's/^  showTransport("polling");$/  showTransport("websocket"); transport = "polling";/' $JS ;;
  count-only) sed 's/^  values(st);$//' $JS ;;
  reload) sed 's/^  ws.onmessage = (e) => live(parse(e.data));$/  ws.onmessage = (e) => { live(parse(e.data)); if (updates === 2) location.reload(); };/' $JS ;;
  no-fallback) sed -e 's/return viaSSE(false);/return;/' -e 's/else viaSSE(false);/else return;/' $JS ;;
  no-open-fallback) sed 's/if (opened || worked) retry("websocket"/if (true) retry("websocket"/' $JS ;;
  no-sse) sed 's/viaSSE(false)/viaPolling()/' $JS ;;
  no-poll) sed -e 's/return viaPolling();/return;/' -e 's/else viaPolling();/else return;/' $JS ;;
  no-reconnect) sed 's/if (opened || worked) retry("websocket", () => viaWebSocket(true));/if (opened || worked) return;/' $JS ;;
  no-backoff) sed 's/setTimeout(start, ms);/setTimeout(start, 50);/' $JS ;;
  *) echo "tests/ws_browser.sh: unknown SN_WS_BROWSER_BUG '$SN_WS_BROWSER_BUG'" >&2; exit 2 ;;
esac >"$TMP/bug.js"
if [ -n "${SN_WS_BROWSER_BUG:-}" ]; then
  if cmp -s "$TMP/bug.js" $JS; then
    echo "tests/ws_browser.sh: SN_WS_BROWSER_BUG=$SN_WS_BROWSER_BUG changed nothing in $JS (its sed is out of date)" >&2
    exit 2
  fi
  SERVE=(--serve "/app.js=$TMP/bug.js")
  echo "# SN_WS_BROWSER_BUG=$SN_WS_BROWSER_BUG: /app.js served broken"
fi

# ---- the browser, the server -------------------------------------------------------------
timeout -k 5 120 $PY tests/browser/ws_cdp.py --chromium "$CHROMIUM" --port "$DT" --profile "$TMP/profile" \
  --pidfile "$TMP/chromium.pid" --url "https://localhost:$S/" --server-log "$TMP/sn_demo.log" \
  --server-pidfile "$TMP/server.pid" --timeout 90 "${SERVE[@]}" -- \
  "$DEMO" --https-port "$S" --cert "$CERTS/server.pem" --key "$CERTS/server.key" >"$TMP/cdp.out" 2>"$TMP/cdp.err"
rc=$?
cat "$TMP/cdp.out"
p=$(grep -c '^ok - ' "$TMP/cdp.out") f=$(grep -c '^not ok - ' "$TMP/cdp.out")
pass=$((pass + p)) fail=$((fail + f))
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
  nok "ws_cdp.py ran to its end" "exit $rc: $(grep -v '^# ' "$TMP/cdp.err" | tail -n 3)"
fi
[ "$f" != 0 ] && grep '^# page' "$TMP/cdp.err" | head -n 10
[ "$f" != 0 ] && sed 's/^/#   sn_demo log: /' "$TMP/sn_demo.log" | tail -n 12
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
