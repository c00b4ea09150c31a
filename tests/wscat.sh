#!/usr/bin/env bash
# WebSocket client tests: build/sn_wscat (securenet's sn_ws_connect) against real peers on
# loopback: Debian's python3-websockets server over TLS (tests/ws/echo_server.py ws), sn_demo's
# /ws echo, hand-written TLS servers that answer the upgrade wrongly (echo_server.py raw), and
# `openssl s_server` sending a TLS 1.3 KeyUpdate (echo_server.py keyupdate). One line per check,
# "ok - ..." or "not ok - ...: why", then "N passed, N failed"; exit 1 if any failed.
#
# Environment:
#   SN_WSCAT      the client (default build/sn_wscat)
#   SN_DEMO       the server (default build/sn_demo)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  first of 8 loopback ports (default: a free block, tests/free-ports)
#   SN_TMP        scratch directory (default build/wscat-it.$$; removed unless a check failed)
#   MBEDTLS_MAJOR 2: the client is built with mbedTLS 2.28 (no TLS 1.3: the KeyUpdate check is skipped)
#   SN_WRAP       a wrapper for the client, e.g. "valgrind -q --leak-check=full --error-exitcode=9"
#   SN_WSCAT_WRONG_PEERS=1  the suite's own check: every refusal check talks to a peer that does
#                 the right thing instead (the good raw server, the real CA, the right name, the
#                 echo path), so each of those checks must fail ("not ok")
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
WSCAT=${SN_WSCAT:-build/sn_wscat}
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 10000 250 10)}
TMP=${SN_TMP:-build/wscat-it.$$}
WRONG=${SN_WSCAT_WRONG_PEERS:-0}
PY=/usr/bin/python3
LIMIT=20
[ -n "${SN_WRAP:-}" ] && LIMIT=90
pass=0 fail=0 pids=""
mkdir -p "$TMP"

. tests/client/suite.sh

# ws ARGS...: runs the client with $TMP/in as input; stdout in $TMP/out, stderr in $TMP/err, status in rc
ws() {
  timeout $LIMIT ${SN_WRAP:-} "$WSCAT" --idle-ms 300 "$@" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}
inp() { printf "$@" >"$TMP/in"; }
# ready LOG: a python peer printed "ready" (at most 5 s)
ready() {
  local i
  for i in $(seq 1 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
  nok "a peer starts ($1)" "$(tail -n 3 "$1" 2>/dev/null)"
}

[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
CA=(--ca "$CERTS/ca.pem")
P_WS=$BASE P_DEMO=$((BASE + 1)) P_200=$((BASE + 2)) P_ACC=$((BASE + 3)) P_GOOD=$((BASE + 4))
P_KU=$((BASE + 5)) P_NONE=$((BASE + 6))

$PY tests/ws/echo_server.py ws $P_WS "$CERTS/server-chain.pem" "$CERTS/server.key" >"$TMP/ws.log" 2>&1 &
pids="$pids $!"
$PY tests/ws/echo_server.py raw 200 $P_200 "$CERTS/server-chain.pem" "$CERTS/server.key" >"$TMP/200.log" 2>&1 &
pids="$pids $!"
$PY tests/ws/echo_server.py raw badaccept $P_ACC "$CERTS/server-chain.pem" "$CERTS/server.key" >"$TMP/acc.log" 2>&1 &
pids="$pids $!"
$PY tests/ws/echo_server.py raw good $P_GOOD "$CERTS/server-chain.pem" "$CERTS/server.key" >"$TMP/good.log" 2>&1 &
pids="$pids $!"
$PY tests/ws/echo_server.py keyupdate $P_KU "$CERTS/server.pem" "$CERTS/server.key" "$TMP/s_server.log" >"$TMP/ku.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_DEMO --cert "$CERTS/server.pem" --key "$CERTS/server.key" >"$TMP/demo.log" 2>&1 &
pids="$pids $!"
for f in ws 200 acc good ku; do ready "$TMP/$f.log"; done
listening "$TMP/demo.log"
# the refusal checks' peers, or (SN_WSCAT_WRONG_PEERS=1) peers that do it right
if [ "$WRONG" = 1 ]; then
  P_200=$P_GOOD P_ACC=$P_GOOD BYE=echo OTHER_NAME=localhost
else
  BYE=bye OTHER_NAME=other.example
fi

# ---- python websockets: messages both ways ------------------------------------------------
inp 'one\ntwo\nthree\n'; ws "${CA[@]}" "wss://localhost:$P_WS/echo"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'one\ntwo\nthree')" ] && [ ! -s "$TMP/err" ]
check $? "websockets echo: three lines go out as text messages and come back; at EOF a close 1000 (exit 0, stderr quiet)" "$(why)"
inp 'caf\303\251 \342\202\254\n'; ws "${CA[@]}" "wss://localhost:$P_WS/type"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "text 6" ]
check $? "a UTF-8 line is one text message (the server sees text of 6 characters)" "$(why) out=$(cat "$TMP/out")"
printf 'a\000b\377\200z' >"$TMP/in"; ws "${CA[@]}" --binary "wss://localhost:$P_WS/type"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "binary 6" ]
check $? "--binary: a line with NUL and non-UTF-8 bytes is one binary message of 6 bytes" "$(why) out=$(cat "$TMP/out")"
head -c 20000 /dev/urandom | tr -d '\n' >"$TMP/blob"; printf '\n' >>"$TMP/blob"
cp "$TMP/blob" "$TMP/in"; ws "${CA[@]}" --binary "wss://localhost:$P_WS/echo"
[ $rc -eq 0 ] && cmp -s "$TMP/blob" "$TMP/out"
check $? "--binary: ~20 KB of random bytes go out as a binary message and come back byte for byte" "$(why)"
printf 'ok\n\377\376\n' >"$TMP/in"; ws "${CA[@]}" "wss://localhost:$P_WS/echo"
[ $rc -eq 1 ] && grep -q 'not UTF-8' "$TMP/err" && [ "$(cat "$TMP/out")" = ok ]
check $? "a line that is not UTF-8 is not sent as text: exit 1, 'not UTF-8' on stderr" "$(why)"
inp 'x\n'; ws "${CA[@]}" --protocol chat.v9 --protocol chat.v2 --header 'X-Test: 42' "wss://localhost:$P_WS/info"
[ $rc -eq 0 ] && [ "$(head -n 1 "$TMP/out")" = "protocol=chat.v2 x-test=42" ] && grep -q 'subprotocol chat.v2' "$TMP/err"
check $? "--protocol (two offered, the server picks chat.v2) and --header reach the server" "$(why) out=$(cat "$TMP/out")"

# ---- closes ---------------------------------------------------------------------------------
inp 'x\n'; ws "${CA[@]}" "wss://localhost:$P_WS/$BYE"
[ $rc -eq 1 ] && grep -q 'closed by the server: 4001 bye' "$TMP/err"
check $? "the server closes with 4001 \"bye\": reported on stderr with code and reason, exit 1" "$(why)"
inp 'x\n'; ws "${CA[@]}" "wss://localhost:$P_WS/close"
[ $rc -eq 0 ] && grep -q 'closed by the server: 1000 done' "$TMP/err"
check $? "the server closes with 1000 \"done\": reported, exit 0" "$(why)"

# ---- verification ---------------------------------------------------------------------------
inp 'x\n'; ws "${CA[@]}" --tls-name $OTHER_NAME "wss://127.0.0.1:$P_WS/echo"
[ $rc -eq 1 ] && grep -qiE 'CN|name' "$TMP/err" && grep -qi 'verif' "$TMP/err" && [ ! -s "$TMP/out" ]
check $? "--tls-name other.example (the certificate names localhost and 127.0.0.1): a verification error, exit 1" "$(why)"
mkdir -p "$TMP/other"
if [ "$WRONG" = 1 ]; then cp "$CERTS/ca.pem" "$TMP/other/ca.pem"; else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other/ca.key" \
    -out "$TMP/other/ca.pem" -subj "/CN=throwaway test CA" -days 1 >/dev/null 2>&1
fi
inp 'x\n'; ws --ca "$TMP/other/ca.pem" "wss://localhost:$P_WS/echo"
[ $rc -eq 1 ] && grep -qiE 'not trusted|trust' "$TMP/err" && grep -qi 'verif' "$TMP/err" && [ ! -s "$TMP/out" ]
check $? "a server whose CA is not the one given (a throwaway CA): a verification error, exit 1" "$(why)"

# ---- wrong upgrades -------------------------------------------------------------------------
inp 'x\n'; ws "${CA[@]}" "wss://localhost:$P_200/"
[ $rc -eq 1 ] && grep -q '200' "$TMP/err" && grep -q '101' "$TMP/err" && [ ! -s "$TMP/out" ]
check $? "a server that answers the upgrade with 200: refused, the message names 200 (not 101), exit 1" "$(why)"
inp 'x\n'; ws "${CA[@]}" "wss://localhost:$P_ACC/"
[ $rc -eq 1 ] && grep -qi 'Sec-WebSocket-Accept' "$TMP/err" && [ ! -s "$TMP/out" ]
check $? "a 101 with a wrong Sec-WebSocket-Accept: refused, the message names the header, exit 1" "$(why)"
inp 'good\n'; ws "${CA[@]}" "wss://localhost:$P_GOOD/"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = good ]
check $? "the same raw server answering right (the control for the two above): one echo, exit 0" "$(why)"

# ---- sn_demo's /ws echo ---------------------------------------------------------------------
inp 'alpha\nbeta\ngamma\n'; ws "${CA[@]}" "wss://localhost:$P_DEMO/ws"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'alpha\nbeta\ngamma')" ]
check $? "sn_demo /ws: three lines echoed by securenet's own server, exit 0" "$(why)"
cp "$TMP/blob" "$TMP/in"; ws "${CA[@]}" --binary "wss://localhost:$P_DEMO/ws"
[ $rc -eq 0 ] && cmp -s "$TMP/blob" "$TMP/out"
check $? "sn_demo /ws: a binary message of ~20 KB comes back byte for byte" "$(why)"

# ---- TLS 1.3 KeyUpdate: one reconnect, the session resumed -----------------------------------
# (mbedTLS 2.28 has no TLS 1.3, and s_server here speaks nothing else: skipped in that pass)
if [ "${MBEDTLS_MAJOR:-3}" = 2 ]; then
  ok "s_server sends a TLS 1.3 KeyUpdate: not run, this build (mbedTLS 2.28) has no TLS 1.3 (skip)"
else
  mkfifo "$TMP/hold"; sleep $LIMIT >"$TMP/hold" & # the input stays open: the server ends it
  pids="$pids $!"
  timeout $LIMIT ${SN_WRAP:-} "$WSCAT" "${CA[@]}" "wss://localhost:$P_KU/" <"$TMP/hold" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  [ $rc -eq 0 ] && grep -q 'KeyUpdate.*reconnecting once' "$TMP/err" && [ "$(cat "$TMP/out")" = again ] &&
    grep -q 'Reused' "$TMP/s_server.log"
  check $? "s_server sends a KeyUpdate: sn_wscat says so, reconnects once (s_server: 'Reused' session), gets 'again'" \
    "$(why) s_server: $(grep -aE 'Reused|New,' "$TMP/s_server.log" | tr '\n' ' ')"
fi

# ---- connection refused ---------------------------------------------------------------------
inp 'x\n'; ws "${CA[@]}" "wss://localhost:$P_NONE/"
[ $rc -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ]
check $? "nothing listens: one line on stderr, exit 1" "$(why)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
