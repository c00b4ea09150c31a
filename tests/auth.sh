#!/usr/bin/env bash
# Logging in (issue 18) against sn_demo --users FILE, driven by curl and by a raw
# Python client over TLS (tests/auth/client.py):
#   open      GET /login, /login.js (if the demo has one), /style.css, /api/health: 200
#             without credentials
#   refuse    GET /api/status without credentials: 401 with exactly
#             WWW-Authenticate: Basic realm="securenet", charset="UTF-8"; GET /: 303 to /login
#   basic     Basic over TLS: 200 and "user":"alice" in /api/status; a wrong password 401;
#             Basic over the plain-HTTP listener: 403 and no WWW-Authenticate
#   session   the form login: 303 to / with Set-Cookie __Host-sn=<32 hex>; Secure; HttpOnly;
#             SameSite=Strict; Path=/; the cookie works; a second login a new id; POST /logout:
#             303 to /login and the old cookie 401; a cookie of --https-port2 refused here
#   table     a fresh server: 8 logins, each cookie used once in order, a 9th login: the
#             first cookie (least recently used) refused, the other 8 taken
#   csrf      POST /api/echo: cookie + Origin https://evil.example 403, cookie + Sec-Fetch-Site
#             cross-site 403, cookie alone 403, cookie + the request's own Origin 200, Basic
#             alone 200, Basic + Sec-Fetch-Site cross-site 403
#   cert      a fresh server with --client-ca: the client certificate whose CN is a user's
#             name (sn-dev-client, role viewer) authenticates as that user ("user" in
#             /api/status, no password); its POST with another Origin 403, with its own 200
#   throttle  a fresh server: 200 wrong passwords from 127.0.0.1 slow down, then 429 with
#             Retry-After at once; meanwhile curl --interface 127.0.0.2 logs in (303, and is not
#             held behind the attacker), /api/health from 127.0.0.3 keeps its idle median
#   timing    a fresh server: N logins with a name no user has and N with a wrong password
#             (a good login after each): both medians agree within the noise (printed)
#   random    the ASan build: AUTH_RANDOM (10000) random Cookie / Authorization values: 401
#             (400 for a control byte, 431 for a head over 8192 bytes: the HTTP parser; 429
#             only for well-formed Basic, which is checked and throttled); the server alive,
#             exit 0 on SIGTERM, no sanitizer report
# One line per check, "ok - ..." or "not ok - ...: why", then "N passed, N failed";
# exit 1 if any failed. Lines starting with "#" are notes (figures).
#
# Environment:
#   SN_DEMO        the server binary (default build/sn_demo)
#   SN_DEMO_ASAN   its ASan/UBSan build for "random" (default build/asan/sn_demo)
#   SN_CERTS       certificates from tools/sn-certgen (default build/certs)
#   SN_PORT_BASE   the first of 4 ports: HTTPS, HTTP, HTTPS 2 (default: a free one of
#                  34000 + k * 4, tests/free-ports)
#   SN_TMP         scratch directory (default build/auth-tmp.$$; removed unless a check failed)
#   AUTH_ONLY      the groups to run, space-separated (default: all, in the order above)
#   AUTH_WRONG     "open": run every server without --users (the demo as it was before
#                  login): every negative check must fail. The timing check was seen failing
#                  against a mutant (unknown names answered without a check):
#                    mkdir -p build/mutant && cp examples/posix/sn_demo.c build/mutant/ &&
#                    sed 's/sn_user_check(u != NULL ? u : &a->dummy, pw, pw_len)/u \&\& sn_user_check(u, pw, pw_len)/' \
#                      securenet.h >build/mutant/securenet.h && cc ... build/mutant/sn_demo.c (as make does)
#                    SN_DEMO=build/mutant/sn_demo AUTH_ONLY=timing tests/auth.sh   (0.3 ms vs 11 ms)
#   AUTH_RANDOM    requests of the random group (default 10000)
#   AUTH_TIMING_N  logins of each kind in the timing group (default 40)
#   AUTH_SLOW      factor for upper time bounds (default 1)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEMO=${SN_DEMO:-build/sn_demo}
ASAN=${SN_DEMO_ASAN:-build/asan/sn_demo}
CERTS=${SN_CERTS:-build/certs}
S=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 34000 250 4)} # 34000-34999: no other suite's ports
H=$((S + 1)) S2=$((S + 2))
TMP=${SN_TMP:-build/auth-tmp.$$}
RUN=${AUTH_ONLY:-open refuse basic session table csrf cert throttle timing random}
WRONG=${AUTH_WRONG:-}
NRANDOM=${AUTH_RANDOM:-10000}
NTIMING=${AUTH_TIMING_N:-40}
SLOW=${AUTH_SLOW:-1}
PY=/usr/bin/python3
CLIENT=tests/auth/client.py
CA=$CERTS/ca.pem
B=https://127.0.0.1:$S
pass=0 fail=0 LOG="" SPID=""

ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 6 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }
want() { case " $RUN " in *" $1 "*) return 0 ;; esac; return 1; }

mkdir -p "$TMP" || exit 1
cleanup() {
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  [ "$fail" -eq 0 ] && [ -z "${SN_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- users -------------------------------------------------------------------------------
# userline NAME PASSWORD ROLE: tools/sn-passwd if there is one, else the same line by hashlib
userline() {
  if [ -x tools/sn-passwd ]; then
    tools/sn-passwd "$1" "$2" "$3"
  else
    $PY -c 'import hashlib, os, sys
salt = os.urandom(16)
dk = hashlib.pbkdf2_hmac("sha256", sys.argv[2].encode(), salt, 10000, 32)
print("%s:%s:pbkdf2-sha256:10000:%s:%s" % (sys.argv[1], sys.argv[3], salt.hex(), dk.hex()))' "$1" "$2" "$3"
  fi
}
APW='alice pw: correct horse'
{
  echo "# users of tests/auth.sh"
  userline alice "$APW" admin
  echo
  userline bob 'bob-pw' operator
  userline sn-dev-client 'never used' viewer  # the CN of build/certs/client.pem
} >"$TMP/users" || { nok "users file"; exit 1; }
grep -qE '^alice:admin:pbkdf2-sha256:[0-9]+:[0-9a-f]{32}:[0-9a-f]{64}$' "$TMP/users"
check $? "the users file has alice's line in sn-passwd's format ($([ -x tools/sn-passwd ] && echo tools/sn-passwd || echo hashlib))"

# ---- the server --------------------------------------------------------------------------
# start NAME BINARY [flags...]: --users unless AUTH_WRONG=open; waits 10 s x SLOW for "listening"
start() {
  local name=$1 bin=$2 i n=$((100 * SLOW)) users=(--users "$TMP/users"); shift 2
  [ "$WRONG" = open ] && users=()
  LOG="$TMP/$name.log"
  "$bin" --https-port "$S" --http-port "$H" --https-port2 "$S2" --cert "$CERTS/server.pem" \
    --key "$CERTS/server.key" "${users[@]}" "$@" >"$LOG" 2>&1 &
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
# stop NAME: SIGTERM; exit 0, no sanitizer report
stop() {
  local name=$1 rc i n=$((100 * SLOW))
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $n); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
    nok "$name: server exits on SIGTERM" "still running after $((n / 10)) s"
    return
  fi
  wait "$SPID"; rc=$?; SPID=""
  if [ "$rc" -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$LOG"; then
    nok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)" "status $rc"
    grep -m8 -E "ERROR:|runtime error:|SUMMARY|#[0-9] " "$LOG" | sed 's/^/#   /'
  else
    ok "$name: server exits cleanly on SIGTERM (status 0, no sanitizer report)"
  fi
}
# req NAME CURL-ARGS... URL: sets CODE, HEAD (the response head, CRs removed) and BODY
req() {
  local name; name=$(printf %s "$1" | tr -c 'A-Za-z0-9.-' '_'); shift
  CODE=$(timeout $((20 * SLOW)) curl -q -sS --max-time $((15 * SLOW)) --cacert "$CA" -D "$TMP/h.$name" \
    -o "$TMP/b.$name" -w '%{http_code}' "$@" 2>"$TMP/e.$name")
  HEAD=$(tr -d '\r' <"$TMP/h.$name" 2>/dev/null)
  BODY=$(cat "$TMP/b.$name" 2>/dev/null)
}
hdr() { echo "$HEAD" | grep -i "^$1:" | head -1 | sed 's/^[^:]*: *//'; } # a field's value
has() { echo "$HEAD" | grep -qi "^$1:"; }
login() { # login NAME [curl args]: POST /login as alice; sets CODE, HEAD, COOKIE (the id)
  local name=$1; shift
  req "$name" -d user=alice --data-urlencode "password=$APW" "$@"
  COOKIE=$(hdr Set-Cookie | sed -n 's/^__Host-sn=\([0-9a-f]*\);.*/\1/p')
}
pyrun() { # the Python client: its ok/not ok lines count here
  local out rc
  out=$(timeout $(($2 * SLOW)) $PY $CLIENT "$1" --port "$S" --ca "$CA" --slow "$SLOW" --deadline $(($2 * SLOW - 10)) \
    "${@:3}" 2>&1)
  rc=$?
  echo "$out"
  pass=$((pass + $(echo "$out" | grep -c '^ok - ')))
  fail=$((fail + $(echo "$out" | grep -c '^not ok - ')))
  if [ $rc -ne 0 ] && ! echo "$out" | grep -q '^not ok - '; then nok "client.py $1 ends cleanly" "status $rc"; fi
}
[ -n "$WRONG" ] && echo "# AUTH_WRONG=$WRONG: a wrong server; the negative checks should fail"

# ---- open, refuse, basic, session, csrf: one server --------------------------------------
if want open || want refuse || want basic || want session || want csrf; then
  start main "$DEMO" || { echo "$pass passed, $fail failed"; exit 1; }
fi
if [ -n "$SPID" ] && want open; then
  paths="/login /style.css /api/health"
  [ -f examples/posix/static/login.js ] && paths="/login /login.js /style.css /api/health"
  for p in $paths; do
    req open "$B$p"
    [ "$CODE" = 200 ]; check $? "open: GET $p without credentials: 200" "got $CODE $(echo "$BODY" | head -c 100)"
  done
fi
if [ -n "$SPID" ] && want refuse; then
  req refuse "$B/api/status"
  [ "$CODE" = 401 ] && [ "$(echo "$HEAD" | grep -ci '^WWW-Authenticate:')" = 1 ] &&
    echo "$HEAD" | grep -qFx 'WWW-Authenticate: Basic realm="securenet", charset="UTF-8"'
  check $? 'refuse: GET /api/status without credentials: 401, WWW-Authenticate: Basic realm="securenet", charset="UTF-8"' \
    "got $CODE, $(echo "$HEAD" | grep -i www-auth)"
  req refuse-page "$B/"
  [ "$CODE" = 303 ] && case "$(hdr Location)" in /login | "$B/login") true ;; *) false ;; esac
  check $? "refuse: GET / without credentials: 303 to /login" "got $CODE, Location $(hdr Location)"
fi
if [ -n "$SPID" ] && want basic; then
  req basic-good -u "alice:$APW" "$B/api/status"
  [ "$CODE" = 200 ] && echo "$BODY" | grep -q '"user":"alice"'
  check $? 'basic: the right password over TLS: 200 and "user":"alice" in /api/status' "got $CODE $(echo "$BODY" | head -c 200)"
  req basic-bad -u "alice:not the password" --interface 127.0.0.7 "$B/api/status"
  [ "$CODE" = 401 ]; check $? "basic: a wrong password: 401" "got $CODE"
  req basic-http -u "alice:$APW" "http://127.0.0.1:$H/api/status"
  [ "$CODE" = 403 ] && ! has WWW-Authenticate
  check $? "basic: Basic over plain HTTP (--http-port): 403, no WWW-Authenticate" "got $CODE $(hdr WWW-Authenticate)"
  req basic-http-none "http://127.0.0.1:$H/api/status"
  [ "$CODE" = 403 ] && ! has WWW-Authenticate
  check $? "basic: no credentials over plain HTTP: 403, never asked for any" "got $CODE $(hdr WWW-Authenticate)"
fi
if [ -n "$SPID" ] && { want session || want csrf; }; then
  login s1 "$B/login"
  C1=$COOKIE
  SC=$(hdr Set-Cookie)
fi
if [ -n "$SPID" ] && want session; then
  [ "$CODE" = 303 ] && [ "$(hdr Location)" = / ]
  check $? "session: the form login (curl -d user=..&password=..): 303 to /" "got $CODE, Location $(hdr Location)"
  why=""
  [[ "$SC" =~ ^__Host-sn=[0-9a-f]{32}\; ]] || why="no __Host-sn=<32 hex> first; "
  for attr in Secure HttpOnly SameSite=Strict Path=/; do
    echo "$SC" | tr ';' '\n' | sed 's/^ *//' | grep -qx "$attr" || why="$why no $attr;"
  done
  check "$([ -z "$why" ]; echo $?)" "session: Set-Cookie __Host-sn=<32 hex>; Secure; HttpOnly; SameSite=Strict; Path=/" "$why Set-Cookie: $SC"
  req s-use -H "Cookie: __Host-sn=$C1" "$B/api/status"
  [ -n "$C1" ] && [ "$CODE" = 200 ] && echo "$BODY" | grep -q '"user":"alice"'
  check $? "session: the cookie works: GET /api/status 200 as alice" "got $CODE $(echo "$BODY" | head -c 200)"
  login s2 -H "Cookie: __Host-sn=$C1" "$B/login"
  C2=$COOKIE
  [ "$CODE" = 303 ] && [ -n "$C2" ] && [ "$C2" != "$C1" ]
  check $? "session: a second login (sent with the first cookie) gets a new id (no fixation)" "got $CODE, ids $C1 / $C2"
  req s-out -X POST -H "Cookie: __Host-sn=$C1" -H "Origin: $B" "$B/logout"
  [ "$CODE" = 303 ] && case "$(hdr Location)" in /login | "$B/login") true ;; *) false ;; esac
  check $? "session: POST /logout: 303 to /login" "got $CODE, Location $(hdr Location)"
  echo "# logout's Set-Cookie: $(hdr Set-Cookie)"
  req s-old -H "Cookie: __Host-sn=$C1" "$B/api/status"
  [ "$CODE" = 401 ]; check $? "session: after the logout the old cookie gets 401" "got $CODE"
  req s-other -H "Cookie: __Host-sn=$C2" "$B/api/status"
  [ "$CODE" = 200 ]; check $? "session: the other session lives on (200)" "got $CODE"
  login s3 "https://127.0.0.1:$S2/login"
  C3=$COOKIE
  req s3-there -H "Cookie: __Host-sn=$C3" "https://127.0.0.1:$S2/api/status"
  T=$CODE
  req s3-here -H "Cookie: __Host-sn=$C3" "$B/api/status"
  [ -n "$C3" ] && [ "$T" = 200 ] && [ "$CODE" = 401 ]
  check $? "session: a cookie of the second listener (--https-port2) works there and is refused on the first" \
    "there $T, here $CODE, id '$C3'"
fi
if [ -n "$SPID" ] && want csrf; then
  login c1 "$B/login"
  CK=$COOKIE
  # csrf NAME WANT CURL-ARGS...
  csrf() {
    local name=$1 code=$2; shift 2
    req "csrf-$name" -d 'x=1' "$@" "$B/api/echo"
    [ "$CODE" = "$code" ]; check $? "csrf: POST /api/echo, $name: $code" "got $CODE $(echo "$BODY" | head -c 100)"
  }
  csrf "cookie + Origin: https://evil.example" 403 -H "Cookie: __Host-sn=$CK" -H "Origin: https://evil.example"
  csrf "cookie + Sec-Fetch-Site: cross-site" 403 -H "Cookie: __Host-sn=$CK" -H "Sec-Fetch-Site: cross-site"
  csrf "cookie, neither header" 403 -H "Cookie: __Host-sn=$CK"
  csrf "cookie + Origin: $B (the Host sent)" 200 -H "Cookie: __Host-sn=$CK" -H "Origin: $B"
  csrf "cookie + Origin: http://127.0.0.1:$S (another scheme)" 403 -H "Cookie: __Host-sn=$CK" -H "Origin: http://127.0.0.1:$S"
  csrf "cookie + Sec-Fetch-Site: same-origin" 200 -H "Cookie: __Host-sn=$CK" -H "Sec-Fetch-Site: same-origin"
  csrf "Basic, neither header" 200 -u "alice:$APW"
  csrf "Basic + Sec-Fetch-Site: cross-site" 403 -u "alice:$APW" -H "Sec-Fetch-Site: cross-site"
  csrf "Basic + Origin: null" 403 -u "alice:$APW" -H "Origin: null"
fi
[ -n "$SPID" ] && stop main

# ---- table: a fresh server --------------------------------------------------------------
if want table && start table "$DEMO"; then
  ids=() why=""
  for i in 1 2 3 4 5 6 7 8; do
    login "t$i" "$B/login"
    ids+=("$COOKIE")
  done
  for i in 0 1 2 3 4 5 6 7; do # each once, in order: the first is the least recently used
    req "tu$i" -H "Cookie: __Host-sn=${ids[$i]}" "$B/api/status"
    [ "$CODE" = 200 ] || why="$why cookie $((i + 1)) before the 9th login: $CODE;"
  done
  login t9 "$B/login"
  ids+=("$COOKIE")
  req tfirst -H "Cookie: __Host-sn=${ids[0]}" "$B/api/status"
  [ "$CODE" = 401 ] || why="$why the first cookie after the 9th login: $CODE;"
  for i in 1 2 3 4 5 6 7 8; do
    req "tk$i" -H "Cookie: __Host-sn=${ids[$i]}" "$B/api/status"
    [ -n "${ids[$i]}" ] && [ "$CODE" = 200 ] || why="$why cookie $((i + 1)): $CODE;"
  done
  check "$([ -z "$why" ]; echo $?)" "table: 9 logins into 8 sessions: the least recently used (the first) refused, the other 8 taken" "$why"
  stop table
fi

# ---- throttle, timing: fresh servers ----------------------------------------------------
if want cert && start cert "$DEMO" --client-ca "$CA"; then
  req cert-status --cert "$CERTS/client.pem" --key "$CERTS/client.key" "$B/api/status"
  [ "$CODE" = 200 ] && echo "$BODY" | grep -q '"user":"sn-dev-client"'
  check $? 'cert: the client certificate (CN=sn-dev-client) is that user: 200 and "user":"sn-dev-client", no password' \
    "got $CODE $(echo "$BODY" | head -c 200)"
  req cert-evil --cert "$CERTS/client.pem" --key "$CERTS/client.key" -H 'Origin: https://evil.example' -d x "$B/api/echo"
  [ "$CODE" = 403 ]; check $? "cert: its POST with another Origin: 403 (the origin rule holds for certificates too)" "got $CODE"
  req cert-own --cert "$CERTS/client.pem" --key "$CERTS/client.key" -H "Origin: $B" -d x "$B/api/echo"
  [ "$CODE" = 200 ]; check $? "cert: its POST with the request's own Origin: 200" "got $CODE"
  stop cert
fi

if want throttle && start throttle "$DEMO"; then
  pyrun throttle 200 --user alice --password "$APW" --count 200
  stop throttle
fi
if want timing && start timing "$DEMO"; then
  pyrun timing 300 --user alice --password "$APW" --n "$NTIMING"
  stop timing
fi

# ---- random: the ASan build ---------------------------------------------------------------
if want random && start random "$ASAN"; then
  pyrun random 600 --count "$NRANDOM" --seed "${AUTH_SEED:-$$}"
  req r-alive -u "alice:$APW" --interface 127.0.0.8 "$B/api/status"
  [ "$CODE" = 200 ]; check $? "random: the ASan server still answers (Basic from another address: 200)" "got $CODE"
  stop random
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
