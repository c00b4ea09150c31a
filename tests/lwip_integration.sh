#!/usr/bin/env bash
# lwIP port tests: securenet on a real lwIP stack (lwIP's unix port on a TAP
# device, running as a Linux process), driven from the Linux side of the TAP
# by the same clients as tests/integration.sh and tests/smtp_integration.sh.
# One line per check, "ok - ..." or "not ok - ...: why", then
# "N passed, N failed"; exit 1 if any failed. Lines starting with "#" are notes.
#
# The test makes a network namespace of its own (sn-lwip-<pid>), so nothing
# outside it is touched, with two TAP devices (198.18.0.0/15, the benchmarking
# range):
#
#   sntap0  198.18.0.1/24 (Linux)  <->  sn_demo_lwip     --ip 198.18.0.2  HTTPS 443, HTTP 80
#   sntap1  198.18.1.1/24 (Linux)  <->  sn_sendmail_lwip --ip 198.18.1.2  (aiosmtpd on 198.18.1.1:587, :465)
#
# (a TAP device is opened by one process at a time, so the mail client has its
# own). The server is started once per configuration (main, rsa, mtls, lru, idle, timeout),
# and inside the namespace tests/integration.sh --only GROUP --host 198.18.0.2
# runs its groups against it, verifying the certificate name localhost. Then
# 50 concurrent HTTPS clients (tests/lwip/many_clients.py), and mail through the
# lwIP client to tests/smtp/server.py (STARTTLS and implicit TLS with AUTH,
# checked with tests/smtp/check_mail.py). Every wait and client is bounded;
# the run takes well under 3 minutes.
#
# Skips (prints "# SKIP: why", "0 passed, 0 failed", exits 0) when not root,
# without `ip netns`, or without /dev/net/tun.
#
# Environment:
#   SN_DEMO_LWIP      the server (default build/sn_demo_lwip), split on spaces
#   SN_SENDMAIL_LWIP  the mail client (default build/sn_sendmail_lwip), split on spaces
#   SN_DEMO           the POSIX sn_demo the fetch part serves from the Linux side (default build/sn_demo)
#   SN_DEMO_LWIP_STARVED  sn_demo_lwip with lwIP's pools too small (default build/sn_demo_lwip_starved)
#   SN_FETCH_LWIP     the HTTP client (default build/sn_fetch_lwip), split on spaces; its part
#                     (fetch) is skipped with a note when it does not exist
#   SN_CERTS          certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_TMP            scratch directory (default build/lwip-it.$$; removed unless a check failed)
#   SN_WRAP           a wrapper for both lwIP programs, e.g. "valgrind -q --error-exitcode=9"
#
# Stand-ins (tests/lwip/standin.sh: the same command lines, the POSIX sn_demo
# and sn_sendmail in a namespace of their own behind a veth pair, at the same
# addresses) run the suite without the lwIP programs, and with STANDIN_BUG
# make a peer that does one wrong thing, to show the checks fail:
#   SN_DEMO_LWIP=tests/lwip/standin_demo.sh SN_SENDMAIL_LWIP=tests/lwip/standin_sendmail.sh \
#     tests/lwip_integration.sh
#   STANDIN_BUG=othername SN_DEMO_LWIP=tests/lwip/standin_demo.sh ... tests/lwip_integration.sh
#
#   tests/lwip_integration.sh [--only PART[,PART...]]
#     PARTS: main rsa mtls lru idle timeout starved mail fetch (default: all)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
read -ra DEMO <<<"${SN_DEMO_LWIP:-build/sn_demo_lwip}"
read -ra SM <<<"${SN_SENDMAIL_LWIP:-build/sn_sendmail_lwip}"
read -ra FETCH <<<"${SN_FETCH_LWIP:-build/sn_fetch_lwip}"
read -ra WRAP <<<"${SN_WRAP:-}"
CERTS=${SN_CERTS:-build/certs}
TMP=${SN_TMP:-build/lwip-it.$$}
PY=/usr/bin/python3
NS=sn-lwip-$$
TAP0=sntap0 GW0=198.18.0.1 DEV0=198.18.0.2 # the server's link
TAP1=sntap1 GW1=198.18.1.1 DEV1=198.18.1.2 # the mail client's link
MASK=255.255.255.0
HTTPS=443 HTTP=80 SUBMISSION=587 SMTPS=465
SLOW=1 # time limits are multiplied by this (5 under SN_WRAP)
[ -n "${SN_WRAP:-}" ] && SLOW=5
pass=0 fail=0 SPID="" LOG="" pids=""
only=""
if [ "${1:-}" = --only ]; then only=",${2:?--only needs parts},"; fi
want() { [ -z "$only" ] || [[ $only == *",$1,"* ]]; }

# ---- reporting --------------------------------------------------------------------------
ok() { echo "ok - $1"; pass=$((pass + 1)); }
logtail() { [ -n "$LOG" ] && [ -f "$LOG" ] && tail -n 8 "$LOG" | sed 's/^/#   server log: /'; return 0; }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-300)}"
  fail=$((fail + 1))
  logtail
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
skip() { echo "# SKIP: $1"; echo "0 passed, 0 failed"; exit 0; }
# counted OUTPUT: echo the ok/not ok lines of a sub-suite and count them, the rest as notes
counted() {
  echo "$1" | grep -vE '^(ok|not ok) |^[0-9]+ passed, [0-9]+ failed$|^$' | sed -E 's/^#? ?/# /'
  echo "$1" | grep -E '^(ok|not ok) '
  pass=$((pass + $(grep -c '^ok ' <<<"$1")))
  fail=$((fail + $(grep -c '^not ok ' <<<"$1")))
  if grep -q '^not ok ' <<<"$1"; then logtail; fi
}
# nsx COMMAND...: run inside the test's namespace
nsx() { ip netns exec "$NS" "$@"; }
# bounded FILE COMMAND...: runs COMMAND (`timeout ...` or `ip netns exec NS timeout ...`, not
# a function, which would run in a subshell), output and errors to FILE, status in rc. In the
# background, waited for: a foreground command would hold off Ctrl-C's trap until it ends
# (timeout takes a process group of its own, so the terminal's SIGINT never reaches it);
# cleanup ends it, and its children, by that group.
CPID=""
bounded() {
  local f=$1; shift
  "$@" >"$f" 2>&1 &
  CPID=$!
  wait "$CPID"; rc=$?
  CPID=""
}

# ---- can it run here? --------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root (the test makes a network namespace and TAP devices)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
ip netns list >/dev/null 2>&1 || skip "ip netns is not available: $(ip netns list 2>&1 | head -n1)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun (no TUN/TAP support)"

if [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { nok "tools/sn-certgen --out $CERTS"; finish; }
fi
mkdir -p "$TMP" && TMP=$(cd "$TMP" && pwd) || exit 1

cleanup() {
  local p="" i
  [ -n "$CPID" ] && { kill -TERM -- "-$CPID" 2>/dev/null; kill -TERM "$CPID" 2>/dev/null; }
  # The programs and everything they started: each runs in its own session (setsid).
  for p in $pids; do kill -TERM -- "-$p" 2>/dev/null; done
  for i in $(seq 1 30); do
    for p in $pids; do kill -0 -- "-$p" 2>/dev/null && break; p=""; done
    [ -z "$p" ] && break
    sleep 0.1
  done
  for p in $pids; do kill -KILL -- "-$p" 2>/dev/null; done
  # Anything still inside the namespace was started by this test.
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}

# ---- the namespace and its two TAP devices -----------------------------------------------
if ! err=$(ip netns add "$NS" 2>&1); then skip "ip netns add $NS: $err"; fi
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! err=$({ nsx ip link set lo up && nsx ip tuntap add dev $TAP0 mode tap && nsx ip tuntap add dev $TAP1 mode tap; } 2>&1); then
  skip "cannot make TAP devices in a namespace: $err"
fi
if ! err=$({ nsx ip addr add $GW0/24 dev $TAP0 && nsx ip link set $TAP0 up &&
  nsx ip addr add $GW1/24 dev $TAP1 && nsx ip link set $TAP1 up; } 2>&1); then
  nok "the namespace's TAP devices take 198.18.0.1/24 and 198.18.1.1/24" "$err"
  finish
fi
echo "# namespace $NS: $TAP0 $GW0/24 (server $DEV0), $TAP1 $GW1/24 (mail client $DEV1)"

# ---- the server ---------------------------------------------------------------------------
# start NAME [sn_demo_lwip options...]: starts the server on sntap0 and waits (20 s, 100 s
# under SN_WRAP) for "listening on https://198.18.0.2:443/"; its log is $TMP/NAME.log
start() {
  local name=$1 i; shift
  LOG="$TMP/$name.log"
  # setsid: the server (and whatever a wrapper starts) is a process group that cleanup can end
  setsid ip netns exec "$NS" "${WRAP[@]}" "${DEMO[@]}" --tap $TAP0 --ip $DEV0 --netmask $MASK --gw $GW0 \
    --https-port $HTTPS --cert "$CERTS/server.pem" --key "$CERTS/server.key" "$@" >"$LOG" 2>&1 &
  SPID=$!
  pids="$pids $SPID"
  for i in $(seq 1 $((200 * SLOW))); do
    grep -q "listening on https://$DEV0:$HTTPS/" "$LOG" 2>/dev/null && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  nok "$name: the server prints 'listening on https://$DEV0:$HTTPS/' within $((20 * SLOW)) s" \
    "$(kill -0 "$SPID" 2>/dev/null && echo "still running" || echo "exited")"
  kill -KILL -- "-$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; reaped
  return 1
}
reaped() { pids=$(for p in $pids; do [ "$p" != "$SPID" ] && echo "$p"; done); }
# stop NAME: SIGTERM; exit 0 within 5 s (25 s under SN_WRAP) with its stats line, no sanitizer report
stop() {
  local name=$1 rc i what="$1: the server exits 0 on SIGTERM, with its stats line and no sanitizer report"
  kill -TERM "$SPID" 2>/dev/null
  for i in $(seq 1 $((50 * SLOW))); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SPID" 2>/dev/null; then
    kill -KILL -- "-$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; reaped
    nok "$what" "still running after $((5 * SLOW)) s"
    return
  fi
  wait "$SPID"; rc=$?; reaped
  kill -KILL -- "-$SPID" 2>/dev/null # anything a wrapper left behind
  grep -h 'sn_demo_lwip: stats:' "$LOG" | sed 's/^/# /'
  if [ "$rc" -ne 0 ] || ! grep -q 'sn_demo_lwip: stats:' "$LOG" ||
    grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|definitely lost: [1-9]" "$LOG"; then
    nok "$what" "status $rc, $(grep -c 'sn_demo_lwip: stats:' "$LOG") stats lines"
    grep -m5 -E "ERROR:|runtime error:|SUMMARY|definitely lost" "$LOG" | sed 's/^/#   /'
  else
    ok "$what"
  fi
}
# group GROUP PORT [integration.sh options]: one group of tests/integration.sh, run in the
# namespace against the server at 198.18.0.2 (certificate name localhost)
gn=0
group() {
  local g=$1 p=$2 out; shift 2
  gn=$((gn + 1))
  bounded "$TMP/it.$gn.out" timeout $((150 * SLOW)) ip netns exec "$NS" env SN_CERTS="$CERTS" SN_TMP="$TMP/it.$gn" \
    tests/integration.sh --only "$g" --port "$p" --host $DEV0 "$@"
  out=$(cat "$TMP/it.$gn.out")
  counted "$out"
  grep -qE '^(ok|not ok) ' <<<"$out" || nok "integration.sh --only $g $* ran" "$(tail -n 3 <<<"$out")"
}
# alive NAME [curl options]: the server still answers GET /api/status
alive() {
  local out
  bounded "$TMP/alive.out" ip netns exec "$NS" timeout 20 curl -q -sS --max-time 15 --cacert "$CERTS/ca.pem" --connect-to "localhost::$DEV0:" \
    "${@:2}" "https://localhost:$HTTPS/api/status"
  out=$(cat "$TMP/alive.out")
  grep -q '"uptime_ms"' <<<"$out"
  check $? "$1: still answers GET /api/status after the checks above" "$out"
}

if [ -x "${DEMO[0]}" ] || command -v "${DEMO[0]}" >/dev/null; then
  if want main && start main --http-port $HTTP; then
    bounded "$TMP/ping.out" ip netns exec "$NS" timeout 10 $PY tests/lwip/ping.py $DEV0
    out=$(cat "$TMP/ping.out")
    check $rc "main: $DEV0 answers an ICMP echo through $TAP0 (ARP and IP work)" "$out"
    grep '^#' <<<"$out"
    for g in verify curl resume tls-versions suites-ecdsa gnutls; do group $g $HTTPS; done
    group plain $HTTP
    group basic $HTTPS; group basic $HTTP --plain
    group errors $HTTPS; group errors $HTTP --plain
    bounded "$TMP/many.out" ip netns exec "$NS" timeout $((60 * SLOW)) $PY tests/lwip/many_clients.py $DEV0 $HTTPS "$CERTS/ca.pem" 50 $((30 * SLOW))
    out=$(cat "$TMP/many.out")
    counted "$out"
    if ! grep -qE '^(ok|not ok) ' <<<"$out"; then nok "many_clients.py ran to the end within $((60 * SLOW)) s" "exit $rc: $(tail -n 2 <<<"$out")"; fi
    # a streamed upload through lwIP: hashed as it arrives; with delay_ms the handler pauses reading
    # after each piece, the port stops reading the pcb and the window it gives back stays closed
    head -c $((4 << 20)) /dev/urandom >"$TMP/up4.bin"
    want_sha=$(sha256sum "$TMP/up4.bin" | cut -c1-64)
    for q in "" "?delay_ms=1"; do
      bounded "$TMP/upload.out" ip netns exec "$NS" timeout $((60 * SLOW)) curl -q -sS --max-time $((50 * SLOW)) \
        --cacert "$CERTS/ca.pem" --connect-to "localhost::$DEV0:" -T "$TMP/up4.bin" "https://localhost:$HTTPS/api/upload$q"
      out=$(cat "$TMP/upload.out")
      grep -q "\"bytes\":4194304,\"sha256\":\"$want_sha\"" <<<"$out"
      check $? "main: a 4 MiB PUT /api/upload$q through lwIP is streamed: its byte count and SHA-256 come back" "$out"
    done
    alive main
    stop main
  fi
  if want rsa; then
    # An RSA server certificate from the same CA: $CERTS/rsa if there is one, else a fresh one.
    RSA=$CERTS/rsa
    if [ ! -f "$RSA/server-chain.pem" ]; then
      RSA=$TMP/rsa
      mkdir -p "$RSA" && cp "$CERTS/ca.pem" "$CERTS/ca.key" "$RSA/" && tools/sn-certgen --rsa --out "$RSA" >/dev/null ||
        nok "tools/sn-certgen --rsa makes an RSA server certificate from the dev CA"
    fi
    if start rsa --cert "$RSA/server-chain.pem" --key "$RSA/server.key"; then
      group suites-rsa $HTTPS; alive rsa; stop rsa
    fi
  fi
  if want mtls && start mtls --client-ca "$CERTS/ca.pem"; then
    group mtls $HTTPS
    alive mtls --cert "$CERTS/client.pem" --key "$CERTS/client.key"
    stop mtls
  fi
  if want lru && start lru --http-port $HTTP --max-conns 4; then
    group lru $HTTPS; group lru $HTTP --plain; alive lru; stop lru
  fi
  if want idle && start idle --http-port $HTTP --idle-timeout-ms 500; then
    group idle $HTTPS; group idle $HTTP --plain; alive idle; stop idle
  fi
  if want timeout && start timeout --http-port $HTTP --request-timeout-ms 500; then
    group timeout $HTTPS; group timeout $HTTP --plain; alive timeout; stop timeout
  fi
  # starved: lwIP's pools and the backlog far too small for 50 clients at once (see LWIP_STARVED in
  # the Makefile): connections may fail, the server must not, and must serve a client afterwards
  read -ra STARVED <<<"${SN_DEMO_LWIP_STARVED:-build/sn_demo_lwip_starved}"
  if want starved && [ -x "${STARVED[0]}" ]; then
    SAVED=("${DEMO[@]}")
    DEMO=("${STARVED[@]}")
    if start starved; then
      # first more connections at once than lwIP has pcbs (held, so none is freed meanwhile): the
      # pool runs dry on any machine; then 50 clients at once, which must be served or fail cleanly
      ip netns exec "$NS" timeout 20 $PY tests/lwip/syn_burst.py $DEV0 $HTTPS 24 3 | head -n 1
      bounded "$TMP/starved.out" ip netns exec "$NS" timeout $((60 * SLOW)) $PY tests/lwip/many_clients.py $DEV0 $HTTPS "$CERTS/ca.pem" 50 10
      grep '^# ' "$TMP/starved.out" | head -n 3
      kill -0 "$SPID" 2>/dev/null
      check $? "starved: the server is still running after 50 clients at once with 8 pcbs and 20 pbufs" "$(tail -n 2 "$TMP/starved.out")"
      alive starved
      stop starved
      grep -qE 'errors [1-9]|dropped [1-9]|refused for a full table [1-9]' "$LOG"
      check $? "starved: lwIP really ran short (pool errors, dropped frames or refused connections in the stats)" \
        "$(grep 'stats:' "$LOG" | tr '\n' ' ')"
    fi
    DEMO=("${SAVED[@]}")
  elif want starved; then
    echo "# starved: ${STARVED[0]} not built; running out of lwIP's pools was not tested"
  fi
  echo "# not run here: integration.sh's redirect and ipv6 groups (examples/lwip/lwipopts.h has no IPv6)"
else
  nok "${DEMO[0]} exists and is executable (SN_DEMO_LWIP)"
fi

# ---- mail -----------------------------------------------------------------------------------
# serve NAME [server.py options...]: tests/smtp/server.py in the namespace on 198.18.1.1
serve() {
  local name=$1 port=$2 i; shift 2
  mkdir -p "$TMP/$name"
  setsid ip netns exec "$NS" $PY tests/lwip/smtp_server.py --host $GW1 --port "$port" --maildir "$TMP/$name" \
    --cert "$CERTS/server.pem" --key "$CERTS/server.key" --auth dev@example.org:s3cret "$@" >"$TMP/$name.out" 2>&1 &
  pids="$pids $!"
  for i in $(seq 1 150); do
    grep -q '^ready' "$TMP/$name.out" 2>/dev/null && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  nok "mail: tests/smtp/server.py $name starts on $GW1:$port within 15 s" "$(tail -n 3 "$TMP/$name.out")"
  return 1
}
msgs() { find "$TMP/$1" -maxdepth 1 -name '*.eml' 2>/dev/null | wc -l; }
jget() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$1.json" "$2" 2>/dev/null; }
# send ARGS...: the lwIP mail client on sntap1 (exit status in rc, stderr in $TMP/err)
send() {
  LASTCMD="${SM[*]} --tap $TAP1 --ip $DEV1 --netmask $MASK --gw $GW1 $(printf '%q ' "$@")"
  SN_SMTP_TIMEOUT_MS=5000 timeout $((40 * SLOW)) ip netns exec "$NS" "${WRAP[@]}" "${SM[@]}" \
    --tap $TAP1 --ip $DEV1 --netmask $MASK --gw $GW1 "$@" >"$TMP/out" 2>"$TMP/err" &
  CPID=$! # in the background for the reason given at bounded()
  wait "$CPID"; rc=$?
  CPID=""
}
why() { echo "exit $rc; stderr: $(tr '\n' ' ' <"$TMP/err" | cut -c1-200); command: $LASTCMD"; }
# mailcheck LABEL NAME SPEC: tests/smtp/check_mail.py on the newest message of server NAME
mailcheck() {
  local n out
  n=$(msgs "$2")
  out=$($PY tests/smtp/check_mail.py "$1" "$TMP/$2/$n.eml" "$TMP/$2/$n.json" "$3" 2>&1)
  counted "$out"
  grep -qE '^(ok|not ok) ' <<<"$out" || nok "$1: $TMP/$2/$n.eml parses" "$(tail -n 2 <<<"$out")"
}

if want mail; then
  LOG=""
  if ! { [ -x "${SM[0]}" ] || command -v "${SM[0]}" >/dev/null; }; then
    nok "${SM[0]} exists and is executable (SN_SENDMAIL_LWIP)"
  elif ! $PY -c 'import aiosmtpd' 2>/dev/null; then
    nok "mail: /usr/bin/python3 has aiosmtpd (tests/smtp/setup.sh installs it)"
  elif serve starttls $SUBMISSION --mode starttls && serve implicit $SMTPS --mode implicit; then
    printf 'Grüße from cabinet 3: 41 °C\nsecond line, ASCII\n\n.a line starting with a dot\nthird paragraph ✓\n' >"$TMP/body.txt"
    head -c 200000 /dev/urandom >"$TMP/blob.bin"
    SUBJ="Température élevée ✓ cabinet 3"
    AUTH=(--ca "$CERTS/ca.pem" --tls-name localhost --user dev@example.org --pass s3cret --from dev@example.org)

    send --server $GW1 --port $SUBMISSION --mode starttls "${AUTH[@]}" --to a@example.com --cc c@example.com \
      --subject "$SUBJ" --body-file "$TMP/body.txt" --attach "$TMP/blob.bin"
    [ $rc -eq 0 ] && [ "$(msgs starttls)" -eq 1 ]
    check $? "mail: STARTTLS + AUTH from $DEV1 to $GW1:$SUBMISSION: a message with a 200 KB attachment is accepted (exit 0, one message stored)" "$(why)"
    if [ "$(msgs starttls)" -ge 1 ]; then
      mailcheck "mail STARTTLS" starttls '{"mail_from": "dev@example.org", "rcpt": ["a@example.com", "c@example.com"],
        "from": ["", "dev@example.org"], "to": [["", "a@example.com"]], "cc": [["", "c@example.com"]],
        "subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "attach": ["'"$TMP/blob.bin"'"],
        "auth": ["PLAIN", "dev@example.org"], "wire": true}'
      m=$TMP/starttls/$(msgs starttls)
      [ "$(jget "$m" tls)" = True ] && [ "$(jget "$m" sni)" = localhost ]
      check $? "mail STARTTLS: the message came under TLS, and the ClientHello named --tls-name (SNI localhost)" \
        "tls=$(jget "$m" tls) sni=$(jget "$m" sni)"
    fi

    send --server $GW1 --port $SMTPS --mode tls "${AUTH[@]}" --to b@example.com --subject "$SUBJ" --body-file "$TMP/body.txt"
    [ $rc -eq 0 ] && [ "$(msgs implicit)" -eq 1 ] && ! grep -q 'C: STARTTLS' "$TMP/implicit/log"
    check $? "mail: implicit TLS + AUTH to $GW1:$SMTPS: TLS from the first byte, the message is accepted" "$(why)"
    [ "$(msgs implicit)" -ge 1 ] && mailcheck "mail implicit TLS" implicit '{"mail_from": "dev@example.org",
      "rcpt": ["b@example.com"], "subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "auth": ["PLAIN", "dev@example.org"], "wire": true}'

    before=$(msgs starttls) lines=$(wc -l <"$TMP/starttls/log")
    send --server $GW1 --port $SUBMISSION --mode starttls "${AUTH[@]}" --tls-name mail.example.invalid \
      --to a@example.com --subject x --body "must not arrive"
    [ $rc -ne 0 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && [ "$(msgs starttls)" -eq "$before" ] &&
      ! tail -n +$((lines + 1)) "$TMP/starttls/log" | grep -qE 'C: (AUTH|MAIL)'
    check $? "mail: a server certificate that does not name --tls-name (mail.example.invalid) is refused: exit non-zero, one stderr line, no AUTH, no MAIL" "$(why)"

    # a host name, resolved by lwIP's DNS client (dns_gethostbyname) through a responder on $GW1:53
    setsid ip netns exec "$NS" $PY tests/lwip/dns_server.py $GW1 mail.test.example=$GW1 >"$TMP/dns.out" 2>&1 &
    pids="$pids $!"
    for i in $(seq 1 50); do grep -q '^ready' "$TMP/dns.out" 2>/dev/null && break; sleep 0.1; done
    before=$(msgs starttls)
    send --server mail.test.example --dns $GW1 --port $SUBMISSION --mode starttls "${AUTH[@]}" --to d@example.com \
      --subject dns --body "found by name"
    [ $rc -eq 0 ] && [ "$(msgs starttls)" -eq $((before + 1)) ] && grep -q '^Q mail.test.example 1 -> ' "$TMP/dns.out"
    check $? "mail: --server mail.test.example is resolved by lwIP's DNS client (an A query to $GW1) and the message is accepted" "$(why)"
    send --server nowhere.test.example --dns $GW1 --port $SUBMISSION --mode starttls "${AUTH[@]}" --to d@example.com \
      --subject dns --body "must not arrive"
    [ $rc -ne 0 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q '^sn_sendmail: connect: .*nowhere.test.example' "$TMP/err" &&
      [ "$(msgs starttls)" -eq $((before + 1)) ]
    check $? "mail: a name the DNS does not know (NXDOMAIN) fails at the connect stage with one line naming it" "$(why)"
  fi
fi
# ---- the HTTP client on lwIP: sn_fetch_lwip on sntap1 to sn_demo on the Linux side ----------------
if want fetch; then
  if ! { [ -x "${FETCH[0]}" ] || command -v "${FETCH[0]}" >/dev/null; }; then
    echo "# fetch: ${FETCH[0]} not built; the HTTP client on lwIP was not tested"
  else
    setsid ip netns exec "$NS" "${SN_DEMO:-build/sn_demo}" --bind $GW1 --https-port 8443 --http-port 8080 >"$TMP/linuxdemo.log" 2>&1 &
    pids="$pids $!"
    for i in $(seq 1 50); do grep -q listening "$TMP/linuxdemo.log" 2>/dev/null && break; sleep 0.1; done
    fetch_lwip() { # ARGS...: stdout in $TMP/out, stderr in $TMP/err, rc
      LASTCMD="${FETCH[*]} $*"
      timeout $((40 * SLOW)) ip netns exec "$NS" "${WRAP[@]}" "${FETCH[@]}" --tap $TAP1 --ip $DEV1 --netmask $MASK --gw $GW1 \
        "$@" >"$TMP/out" 2>"$TMP/err" &
      CPID=$!
      wait "$CPID"; rc=$?
      CPID=""
    }
    fetch_lwip --ca "$CERTS/ca.pem" --tls-name localhost "https://$GW1:8443/api/hello/lwip"
    [ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, lwip" ]
    check $? "fetch: sn_fetch_lwip from $DEV1 gets https://$GW1:8443/api/hello/lwip over verified TLS through lwIP" "$(why)"
    head -c 300000 /dev/urandom >"$TMP/up.bin"
    fetch_lwip --ca "$CERTS/ca.pem" --tls-name localhost --data-file "$TMP/up.bin" -o "$TMP/up.out" "https://$GW1:8443/api/echo"
    [ $rc -eq 0 ] && cmp -s "$TMP/up.bin" "$TMP/up.out"
    check $? "fetch: a 300 KB upload through lwIP comes back byte for byte" "$(why)"
    fetch_lwip "http://$GW1:8080/api/hello/plain"
    [ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, plain" ]
    check $? "fetch: plain HTTP through lwIP" "$(why)"
    fetch_lwip --ca "$CERTS/ca.pem" "https://$GW1:8443/api/hello/x"
    [ $rc -eq 60 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ]
    check $? "fetch: the address $GW1 is not in the certificate: refused on lwIP too (exit 60)" "$(why)"
  fi
fi
finish
