#!/usr/bin/env bash
# Logging in through headless Chromium (issue 18): sn_demo --users FILE
# --session-idle 3, driven with its own pages by tests/browser/auth_cdp.py.
#   no session   GET / answers 303 and the browser lands on /login; the page is a
#                form post to /login with autocomplete username/current-password
#   wrong        a wrong password, typed into the form and submitted by its button:
#                401 with the login page again, which shows "wrong user or password"
#                (login.js reads its navigation's responseStatus); no cookie
#   login        a real form post (a navigation, urlencoded, Sec-Fetch-Site
#                same-origin) answered 303 with Set-Cookie __Host-sn=<32 hex>;
#                Secure; HttpOnly; SameSite=Strict; Path=/ (raw response headers);
#                the cookie jar has those flags; document.cookie cannot see it; the
#                dashboard shows the user; curl replaying the cookie gets 200
#   CSRF         with the browser logged in, pages on another site (http://127.0.0.1:A,
#                /usr/bin/python3 -m http.server) auto-submit a form post to
#                /api/echo and to /logout and send fetch(no-cors, credentials:
#                include) to /api/echo: each gets 403 at the device, carried
#                Sec-Fetch-Site: cross-site and its Origin and not the cookie; the
#                session still works; the same fetch and form post from the
#                device's own page get 200
#   logout       the dashboard's button posts /logout: 303, back on /login, the
#                cookie gone from the jar; the old cookie replayed by curl: 401 on
#                /api/status, 303 to /login on /
#   elsewhere    a session logged out by curl: the open dashboard's next poll (401)
#                takes the page to /login
#   idle         past --session-idle (the tab on about:blank meanwhile: the
#                dashboard's poll keeps a session alive) a reload lands on /login;
#                the cookie replayed gets 401
# One line per check, "ok - ..." or "not ok - ...: why"; exit 1 if any failed.
# "ok - ... # SKIP" when no Chromium is installed (tools/deps.sh installs it).
#
# Environment:
#   SN_DEMO      the server (default build/sn_demo)
#   SN_CERTS     TLS certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_CHROMIUM  the browser (default: chromium on PATH)
#   SN_PASSWD    the user-line maker (default tools/sn-passwd; until it exists, the same
#                line from /usr/bin/python3's hashlib, 10000 iterations)
#   SN_PORT_BASE the device's HTTPS port; the attacker's page server on the next, DevTools
#                on the one after (default: a free block of 3 from 27300, tests/free-ports)
#   SN_TMP       scratch directory (default build/auth-browser-tmp.$$; removed unless a check failed)
#   SN_AUTH_BROWSER_BUG  run the checks against a wrong server or page, to see them fail:
#                no-users       sn_demo without --users (login off)
#                httponly, samesite-lax, no-csrf, keep-session, no-expiry, login-200,
#                no-redirect    tests/browser/fake_device.py with that bug
#                page-no-error  login.js that never shows the error
#                page-no-401    app.js that ignores a 401
#   SN_AUTH_BROWSER_FAKE=1  the device is tests/browser/fake_device.py (without a bug unless
#                one is named), a stand-in with the same interface
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 27300 60 3)}
A=$((S + 1)) DT=$((S + 2))
TMP=${SN_TMP:-build/auth-browser-tmp.$$}
PY=/usr/bin/python3
PASSWD=${SN_PASSWD:-tools/sn-passwd}
IDLE=3
USER_NAME=alice PASSWORD='correct horse'
pass=0 fail=0 SPID="" APID="" LOG=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
}

CHROMIUM=${SN_CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
if [ -z "$CHROMIUM" ]; then
  echo "ok - browser: logging in # SKIP no chromium (tools/deps.sh installs it)"
  exit 0
elif [ ! -x "$CHROMIUM" ]; then
  echo "not ok - browser: SN_CHROMIUM=$CHROMIUM is not a program"
  exit 1
fi

stop() { # PID: SIGTERM, then SIGKILL after 5 s
  local p=$1
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}
cleanup() {
  [ -f "$TMP/chromium.pid" ] && kill -9 -- "-$(cat "$TMP/chromium.pid")" 2>/dev/null
  stop "$APID"
  stop "$SPID"
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$TMP/profile" && mkdir -p "$TMP/profile" "$TMP/attacker"   # a fresh profile: no cookie from before

# ---- the user ----------------------------------------------------------------------------
if [ -x "$PASSWD" ]; then
  "$PASSWD" "$USER_NAME" "$PASSWORD" >"$TMP/users" 2>"$TMP/passwd.err"
else
  echo "# $PASSWD not there: the user line from /usr/bin/python3 hashlib (PBKDF2-SHA256, 10000 iterations)"
  $PY -c 'import hashlib, os, sys
salt = os.urandom(16)
h = hashlib.pbkdf2_hmac("sha256", sys.argv[2].encode(), salt, 10000)
print("%s:admin:pbkdf2-sha256:10000:%s:%s" % (sys.argv[1], salt.hex(), h.hex()))' "$USER_NAME" "$PASSWORD" >"$TMP/users" 2>"$TMP/passwd.err"
fi
if ! grep -qE "^$USER_NAME:admin:pbkdf2-sha256:[0-9]+:[0-9a-f]{32}:[0-9a-f]{64}\$" "$TMP/users"; then
  nok "a user line for $USER_NAME" "$(cat "$TMP/users" "$TMP/passwd.err")"
  exit 1
fi
{ echo "# the demo's users"; echo; cat "$TMP/users"; } >"$TMP/users.txt"   # comments and blank lines allowed

# ---- the device (or a wrong one) ---------------------------------------------------------
[ -f "$CERTS/server.pem" ] || tools/sn-certgen "$CERTS" >/dev/null 2>&1
BUG=${SN_AUTH_BROWSER_BUG:-}
SERVE=()
LOG=$TMP/device.log
FAKE=${SN_AUTH_BROWSER_FAKE:-}
case $BUG in
  "" | no-users | page-no-error | page-no-401) ;;
  httponly | samesite-lax | no-csrf | keep-session | no-expiry | login-200 | no-redirect) FAKE=1 ;;
  *) echo "tests/auth_browser.sh: unknown SN_AUTH_BROWSER_BUG '$BUG'" >&2; exit 2 ;;
esac
if [ -n "$FAKE" ]; then
  case $BUG in page-* | "") B="" ;; *) B=$BUG ;; esac
  $PY tests/browser/fake_device.py --port "$S" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
    --users "$TMP/users.txt" --static examples/posix/static --session-idle "$IDLE" --bug "$B" >"$LOG" 2>&1 &
  SPID=$!
else
  USERS=(--users "$TMP/users.txt" --session-idle "$IDLE")
  [ "$BUG" = no-users ] && USERS=()
  "$DEMO" --https-port "$S" --cert "$CERTS/server.pem" --key "$CERTS/server.key" "${USERS[@]}" >"$LOG" 2>&1 &
  SPID=$!
fi
case $BUG in
  page-no-error)
    grep -v 'responseStatus === 401' examples/posix/static/login.js >"$TMP/bug.js"
    SERVE=(--serve "/login.js=$TMP/bug.js") ;;
  page-no-401)
    sed 's/if (r.status === 401) location.assign("\/login");//' examples/posix/static/app.js >"$TMP/bug.js"
    SERVE=(--serve "/app.js=$TMP/bug.js") ;;
esac
[ -n "$BUG" ] && echo "# SN_AUTH_BROWSER_BUG=$BUG: checks run against a wrong server or page"
for _ in $(seq 1 100); do
  grep -q listening "$LOG" 2>/dev/null && break
  kill -0 "$SPID" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q listening "$LOG"; then
  nok "the device starts${FAKE:+ (tests/browser/fake_device.py)}" "$(tail -n 5 "$LOG")"
  exit 1
fi

# ---- the attacker: another site (127.0.0.1 over http, the device is localhost over https) --
DEV=https://localhost:$S ATT=http://127.0.0.1:$A
cat >"$TMP/attacker/attack-form-echo.html" <<EOF
<!doctype html><title>win a prize</title>
<form id="f" method="post" action="$DEV/api/echo" enctype="text/plain"><input name="x" value="csrf"></form>
<script>document.getElementById("f").submit();</script>
EOF
cat >"$TMP/attacker/attack-form-logout.html" <<EOF
<!doctype html><title>win a prize</title>
<form id="f" method="post" action="$DEV/logout"></form>
<script>document.getElementById("f").submit();</script>
EOF
cat >"$TMP/attacker/attack-fetch.html" <<EOF
<!doctype html><title>win a prize</title>
<script>
fetch("$DEV/api/echo", { method: "POST", credentials: "include", mode: "no-cors", body: "x" })
  .then((r) => { document.title = "sent: " + r.type; }, (e) => { document.title = "failed: " + e; });
</script>
EOF
$PY -m http.server --bind 127.0.0.1 --directory "$TMP/attacker" "$A" >"$TMP/attacker.log" 2>&1 &
APID=$!
for _ in $(seq 1 100); do
  timeout 3 curl -q -s -o /dev/null "$ATT/attack-fetch.html" && break
  kill -0 "$APID" 2>/dev/null || break
  sleep 0.1
done

# ---- the browser -------------------------------------------------------------------------
timeout -k 5 200 $PY tests/browser/auth_cdp.py --chromium "$CHROMIUM" --port "$DT" --profile "$TMP/profile" \
  --pidfile "$TMP/chromium.pid" --device "$DEV" --attacker "$ATT" --user "$USER_NAME" --password "$PASSWORD" \
  --idle "$IDLE" --ca "$CERTS/ca.pem" --timeout 150 "${SERVE[@]}" >"$TMP/cdp.out" 2>"$TMP/cdp.err"
rc=$?
cat "$TMP/cdp.out"
p=$(grep -c '^ok - ' "$TMP/cdp.out") f=$(grep -c '^not ok - ' "$TMP/cdp.out")
pass=$((pass + p)) fail=$((fail + f))
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
  nok "auth_cdp.py ran to its end" "exit $rc: $(grep -v '^# ' "$TMP/cdp.err" | tail -n 3)"
fi
[ "$f" != 0 ] && sed 's/^/#   device log: /' "$LOG" | tail -n 12

# ---- the device exits cleanly ------------------------------------------------------------
if [ -z "$FAKE" ]; then
  kill -TERM "$SPID"
  for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    nok "sn_demo exits on SIGTERM within 10 s"
  else
    wait "$SPID"; rc=$?; SPID=""
    if [ $rc = 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
      ok "sn_demo exits cleanly on SIGTERM (status 0)"
    else
      nok "sn_demo exits cleanly on SIGTERM (status 0)" "status $rc $(tail -n 3 "$LOG")"
    fi
  fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
