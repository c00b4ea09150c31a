#!/usr/bin/env bash
# Mail-sender faults: sn_sendmail against a scripted hostile SMTP server
# (tests/smtp/hostile.py) on loopback, over real sockets and real TLS.
# What the other mail suites already prove is not repeated here (STARTTLS
# downgrade and injection after its 220, untrusted/expired certificates,
# --tls-name mismatch, a close in the middle of DATA, a server that never
# greets): see tests/smtp_quick.sh and tests/smtp_integration.sh.
#
# Each case checks what sn_sendmail printed (stage, reply code, error words),
# its exit status and time, and what the server received. Under an ASan/UBSan
# build any sanitizer report fails the case. One line per check, then
# "N passed, N failed".
#
#   tests/smtp_faults.sh             the checks
#   tests/smtp_faults.sh --tame      against a well-behaved server (HOSTILE_TAME=1):
#                                    every negative check must fail (the refused-connection
#                                    and attachment checks at the end need no hostile server)
#   tests/smtp_faults.sh --mutant M  with tests/smtp/sendmail_mutant.c (SN_MUTANT=M:
#                                    ok, closed, partial): the result checks must fail;
#                                    fixed: a candidate fix of sn_sendmail's report
# Environment: SN_SENDMAIL (default build/sn_sendmail), SN_CERTS (build/certs),
# SN_PORT_BASE (default: a free block 18000 + k * 40, tests/free-ports; 34 ports from there, below 18500).
set -u
cd "$(dirname "$0")/.." || exit 1
SM=${SN_SENDMAIL:-build/sn_sendmail}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$(tests/free-ports 18000 12 40)}
PY=/usr/bin/python3
TAME=0
case "${1:-}" in
  --tame) TAME=1 ;;
  --mutant)
    mkdir -p build/faults
    cc -std=c99 -O1 -g -I. -Iexamples/common tests/smtp/sendmail_mutant.c -o build/faults/sn_sendmail_mutant \
      -lmbedtls -lmbedx509 -lmbedcrypto -pthread || exit 1
    SM=build/faults/sn_sendmail_mutant
    export SN_MUTANT=${2:?--mutant needs ok, closed, partial or fixed}
    ;;
esac
mkdir -p build
TMP=$(mktemp -d build/smtp-faults.XXXXXX)
pass=0 fail=0 spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$TMP"' EXIT
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]

[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
[ -x "$SM" ] || { nok "$SM exists and is executable"; echo "$pass passed, $fail failed"; exit 1; }

# A certificate for other.example only, from the same trusted dev CA: the chain
# verifies, the name does not (unlike --tls-name games, the client asks for the
# name it connects to).
(
  set -e
  openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key"
  openssl req -new -key "$TMP/other.key" -subj /CN=other.example -out "$TMP/other.csr"
  printf 'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n' >"$TMP/other.ext"
  openssl x509 -req -in "$TMP/other.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days 2 -sha256 -extfile "$TMP/other.ext" -out "$TMP/other.pem"
) >"$TMP/certs.log" 2>&1 || nok "a certificate for other.example is made with openssl" "$(tail -n 3 "$TMP/certs.log")"

declare -A PORT
while read -r i name; do PORT[$name]=$((BASE + i)); done < <($PY tests/smtp/hostile.py --list)
HOSTILE_TAME=$TAME $PY tests/smtp/hostile.py "$BASE" "$TMP/srv" "$CERTS/server.pem" "$CERTS/server.key" \
  "$TMP/other.pem" "$TMP/other.key" >"$TMP/server.out" 2>&1 &
spid=$!
for _ in $(seq 1 50); do grep -q ready "$TMP/server.out" && break; sleep 0.1; done
grep -q ready "$TMP/server.out" || { nok "the hostile server starts on ports $BASE..$((BASE + ${#PORT[@]} - 1))" "$(tail -n 3 "$TMP/server.out")"; echo "$pass passed, $fail failed"; exit 1; }

printf 'Hostile server test\n.a line starting with a dot\nGrüße, and a last line\n' >"$TMP/body.txt"
head -c 1000000 /dev/urandom >"$TMP/1m.bin"

# send NAME MODE [sn_sendmail args...]: one mail to scenario NAME; stderr in $TMP/NAME.err,
# exit status in $rc, elapsed ms in $el. TMO (ms) sets SN_SMTP_TIMEOUT_MS (default 4000).
send() {
  local name=$1 mode=$2 t0
  shift 2
  t0=$(date +%s%N)
  SN_SMTP_TIMEOUT_MS=${TMO:-4000} timeout 30 "$SM" --server localhost --port "${PORT[$name]}" --mode "$mode" \
    --ca "$CERTS/ca.pem" --from dev@example.org --subject "faults: $name" "$@" 2>"$TMP/$name.err"
  rc=$?
  el=$((($(date +%s%N) - t0) / 1000000))
  cur=$name
}
err() { cat "$TMP/$cur.err"; }
# clean: no sanitizer report, not killed by the time limit, at most one line on stderr
clean() {
  ! grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$TMP/$cur.err" && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] &&
    [ "$(wc -l <"$TMP/$cur.err")" -le 1 ]
}
said() { grep -qE "$1" "$TMP/$cur.err"; }                   # stderr matches an ERE
slog() { cat "$TMP/srv/$1.log" 2>/dev/null; }               # the server's log for a scenario
msgs() { ls "$TMP/srv/$1".*.eml 2>/dev/null | wc -l; }      # messages the server stored
why() { echo "rc=$rc ${el}ms stored=$(msgs "$cur") stderr: $(head -c 600 "$TMP/$cur.err" | tr '\n' '|')"; }
# delivered NAME: the stored message's text body is the body file, byte for byte
delivered() {
  [ "$(msgs "$1")" -eq 1 ] && $PY - "$TMP/srv/$1.1.eml" "$TMP/body.txt" <<'PY'
import email, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
body = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
sys.exit(0 if body == open(sys.argv[2], encoding="utf-8").read() else 1)
PY
}
UNCONF='may have been accepted'

# ---- replies split at every byte -------------------------------------------------------
send split-tls tls --to a@example.com --to b@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 0 ] && delivered split-tls && grep -q '^rcpt=a@example.com,b@example.com$' "$TMP/srv/split-tls.1.env"
check $? "implicit TLS, every reply byte in its own TLS record (TCP_NODELAY, 1 ms apart): the mail is delivered whole" "$(why)"
send split-starttls starttls --user u --pass p --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 0 ] && delivered split-starttls && slog split-starttls | grep -q '^C: STARTTLS$' &&
  slog split-starttls | grep -q '^C: EHLO .* tls$' && slog split-starttls | grep -q '^C: AUTH PLAIN .* tls$'
check $? "STARTTLS, every reply byte in its own segment before TLS and its own record after: delivered, AUTH under TLS" "$(why)"

# ---- multi-line replies: very long, over-long lines, never ending ----------------------
send ehlo300 starttls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 0 ] && delivered ehlo300 && slog ehlo300 | grep -q '^C: STARTTLS$'
check $? "EHLO with 300 continuation lines (STARTTLS and PIPELINING after them): read whole, STARTTLS found, delivered" "$(why)"
send line1000 tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 0 ] && delivered line1000
check $? "an EHLO line of 1000 octets (over RFC 5321's 512, under the client's buffer) is tolerated: delivered" "$(why)"
send line5000 tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: EHLO: .*protocol' && [ "$(msgs line5000)" -eq 0 ] && ! slog line5000 | grep -q '^C: MAIL' && [ $el -lt 3000 ]
check $? "an EHLO line of 5000 octets (over the client's buffer): a protocol error at stage EHLO, at once, no MAIL FROM" "$(why)"
TMO=1500 send endless-greet tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: greeting: timed out' && [ $el -lt 5000 ] && ! slog endless-greet | grep -q '^C: '
check $? "a greeting of continuation lines for ever: 'greeting: timed out' after the stage timeout (1.5 s), nothing sent" "$(why)"
TMO=1500 send endless-ehlo starttls --user u --pass p --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: EHLO: timed out' && [ $el -lt 5000 ] && ! slog endless-ehlo | grep -qE '^C: (STARTTLS|AUTH|MAIL)'
check $? "an EHLO reply of continuation lines for ever: 'EHLO: timed out' in bounded time, no STARTTLS, AUTH or MAIL" "$(why)"

# ---- a certificate for another name (issued by the trusted CA) -------------------------
send wrongname-tls tls --user u --pass p --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: TLS: .*(CN|name)' && slog wrongname-tls | grep -q 'handshake failed' &&
  ! slog wrongname-tls | grep -q '^C: ' && [ "$(msgs wrongname-tls)" -eq 0 ]
check $? "implicit TLS, a valid certificate for other.example on 'localhost': refused at TLS (names the name), nothing sent" "$(why)"
send wrongname-starttls starttls --user u --pass p --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: TLS: .*(CN|name)' && slog wrongname-starttls | grep -q 'handshake failed' &&
  ! slog wrongname-starttls | grep -qE '^C: .* tls$|^C: AUTH' && [ "$(msgs wrongname-starttls)" -eq 0 ]
check $? "STARTTLS, a valid certificate for other.example: refused at TLS after the 220, no AUTH, no command under TLS" "$(why)"

# ---- after the final dot: unconfirmed, never success, never a plain failure ------------
send drop-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && delivered drop-dot && [ $el -lt 3000 ]
check $? "TCP closed after the final dot (the server kept the mail): DATA, '$UNCONF', exit non-zero" "$(why)"
send notify-dot starttls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && delivered notify-dot && [ $el -lt 3000 ]
check $? "TLS close_notify after the final dot (STARTTLS): DATA, '$UNCONF'" "$(why)"
TMO=1500 send silent-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && delivered silent-dot && [ $el -ge 1400 ] && [ $el -lt 5000 ]
check $? "silence after the final dot: DATA, '$UNCONF' after the stage timeout (1.5 s), not 'timed out' alone" "$(why)"
TMO=1500 send endless-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && delivered endless-dot && [ $el -lt 5000 ]
check $? "a reply to the final dot that never ends (250- lines for ever): DATA, '$UNCONF', bounded time" "$(why)"
send long-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && delivered long-dot && { [ $rc -eq 0 ] || said "^sn_sendmail: DATA: .*$UNCONF"; }
check $? "a 3000-octet '250 ...' to the final dot: success, or at worst '$UNCONF' (never 'not sent')" "$(why)"
send garbage-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && delivered garbage-dot
check $? "garbage instead of the reply to the final dot (the server stored the mail): DATA, '$UNCONF', not 'not sent'" "$(why)"
send garbage354 tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said '^sn_sendmail: DATA: ' && [ $el -lt 5000 ]
check $? "354 followed at once by a garbage line: a clear failure at stage DATA" "$(why)"
clean && [ $rc -ne 0 ] && ! said "$UNCONF" && [ "$(msgs garbage354)" -eq 0 ] && slog garbage354 | grep -q 'client closed in DATA after 0 bytes'
check $? "354 followed at once by a garbage line: the client stops before the message (nothing stored) and says 'not sent'" "$(why)"

# ---- a refused recipient, then a later failure: the later failure wins -----------------
send refuse-552 tls --to refuse@example.com --to b@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said '^sn_sendmail: DATA: 552 ' && ! said 'got the mail' && [ "$(msgs refuse-552)" -eq 1 ]
check $? "550 for one of two recipients, then 552 to the final dot: the 552 at stage DATA, not 'the others got the mail'" "$(why)"
send refuse-drop354 starttls --to refuse@example.com --to b@example.com --body x --attach "$TMP/1m.bin"
clean && [ $rc -ne 0 ] && said '^sn_sendmail: DATA: ' && ! said 'got the mail' && ! said "$UNCONF" && [ "$(msgs refuse-drop354)" -eq 0 ] &&
  slog refuse-drop354 | grep -q 'dropped in DATA'
check $? "550 for one of two recipients, then the connection dropped after 354 (mid-body): a DATA failure, not partial success" "$(why)"
send refuse-dropdot tls --to refuse@example.com --to b@example.com --body-file "$TMP/body.txt"
clean && [ $rc -ne 0 ] && said "^sn_sendmail: DATA: .*$UNCONF" && ! said 'got the mail' && delivered refuse-dropdot
check $? "550 for one of two recipients, then the connection dropped after the final dot: '$UNCONF', not partial success" "$(why)"

# ---- refusals at each stage -------------------------------------------------------------
send greet554 tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: greeting: 554 5\.3\.2' && ! slog greet554 | grep -qE '^C: (EHLO|HELO|MAIL)'
check $? "greeting 554: refused at stage greeting with the 554, no EHLO" "$(why)"
send ehlo554 tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: EHLO: 554 5\.7\.1' && ! slog ehlo554 | grep -qE '^C: (HELO|MAIL)'
check $? "EHLO answered 554 (not 'command unrecognised'): refused at EHLO, no HELO fallback, no MAIL" "$(why)"
send ehlo502-helo550 tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: HELO: 550 5\.7\.1' && slog ehlo502-helo550 | grep -q '^C: HELO' && ! slog ehlo502-helo550 | grep -q '^C: MAIL'
check $? "EHLO 502, then HELO 550: the fallback is tried, the failure is at stage HELO with the 550" "$(why)"
send ehlo502-helo tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 0 ] && delivered ehlo502-helo && slog ehlo502-helo | grep -q '^C: HELO .* tls$'
check $? "implicit TLS, EHLO 502: HELO under TLS, the mail is delivered" "$(why)"
send mail553 tls --to a@example.com --to b@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: MAIL FROM: 553 5\.7\.1' && [ "$(msgs mail553)" -eq 0 ]
check $? "MAIL FROM 553 (PIPELINING: RCPTs and DATA refused too): refused at MAIL FROM with the 553, nothing stored" "$(why)"

# ---- what a hostile reply can do to the operator's terminal -----------------------------
send ctrl-greet tls --to a@example.com --body x
clean && [ $rc -ne 0 ] && said '^sn_sendmail: greeting: 554' && ! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$TMP/ctrl-greet.err"
check $? "a 554 greeting carrying ESC/BEL sequences: reported, with no control character reaching stderr" "$(why | LC_ALL=C sed 's/[[:cntrl:]]/^/g')"

# ---- reply lines shorter than four characters: a malformed reply, never read past -------
MALFORMED='protocol violation by the peer: a malformed reply line'
send short-ehlo-clear starttls --user u --pass p --to a@example.com --body x
clean && [ $rc -eq 1 ] && said "^sn_sendmail: EHLO: $MALFORMED\$" && ! slog short-ehlo-clear | grep -qE '^C: (STARTTLS|AUTH|MAIL)'
check $? "STARTTLS mode, before TLS: EHLO answered '250-hostile', '250' (bare LF), 'AUTH PLAIN': a malformed reply at EHLO, no code, nothing more sent" "$(why)"
send short-ehlo-tls starttls --user u --pass p --to a@example.com --body x
clean && [ $rc -eq 1 ] && said "^sn_sendmail: EHLO: $MALFORMED\$" && slog short-ehlo-tls | grep -q '^C: EHLO .* tls$' &&
  ! slog short-ehlo-tls | grep -qE '^C: (AUTH|MAIL)'
check $? "STARTTLS mode, after TLS: the same EHLO reply under TLS: a malformed reply at EHLO, no AUTH, no MAIL" "$(why)"
send short-greet starttls --to a@example.com --body x
clean && [ $rc -eq 1 ] && said "^sn_sendmail: greeting: $MALFORMED\$" && ! slog short-greet | grep -q '^C: '
check $? "a greeting of three characters ('220' CRLF): a malformed reply at stage greeting, no EHLO" "$(why)"
send short-rcpt tls --to a@example.com --body x
clean && [ $rc -eq 1 ] && said "^sn_sendmail: RCPT TO: $MALFORMED\$" && [ "$(msgs short-rcpt)" -eq 0 ]
check $? "RCPT TO answered '25' (bare LF): a malformed reply at stage RCPT TO, nothing stored" "$(why)"
send short-dot tls --to a@example.com --body-file "$TMP/body.txt"
clean && [ $rc -eq 3 ] && said "^sn_sendmail: DATA: .*malformed reply line in the answer to the end of the message" && delivered short-dot
check $? "the final dot answered '250' alone: not success, '$UNCONF' (exit 3, the server has the mail)" "$(why)"
send mixed-codes starttls --to a@example.com --body x
clean && [ $rc -eq 1 ] && said '^sn_sendmail: EHLO: protocol violation by the peer: a reply whose lines differ in their code$' &&
  ! slog mixed-codes | grep -qE '^C: (STARTTLS|MAIL)'
check $? "an EHLO reply '250-', '250-STARTTLS', '554': lines with different codes are malformed, not a 250 with STARTTLS" "$(why)"

# ---- the failure in words: a refused connection, an attachment that cannot be read ------
NOPORT=$((BASE + ${#PORT[@]} + 1)) # nothing listens there
for mode in plain starttls tls; do
  t0=$(date +%s%N)
  timeout 30 "$SM" --server 127.0.0.1 --port "$NOPORT" --mode "$mode" --ca "$CERTS/ca.pem" --from dev@example.org \
    --to a@example.com --body x 2>"$TMP/refused-$mode.err"
  rc=$? el=$((($(date +%s%N) - t0) / 1000000)) cur=refused-$mode
  clean && [ $rc -eq 1 ] && said "^sn_sendmail: connect: network I/O error: cannot connect to 127\.0\.0\.1 port $NOPORT \(refused or unreachable\)\$"
  check $? "--mode $mode, nothing listening: 'connect: ... cannot connect to 127.0.0.1 port $NOPORT (refused or unreachable)'" "$(why)"
done
send plain-ok tls --to a@example.com --body x --attach /nonexistent/file.bin --count 2
clean && [ $rc -eq 1 ] && said '^sn_sendmail: message: cannot read /nonexistent/file.bin$' && ! slog plain-ok | grep -q '^C: '
check $? "an attachment that cannot be opened: 'message: cannot read FILE', nothing sent, nothing leaked (ASan)" "$(why)"
mkdir -p "$TMP/a-directory"
send plain-ok tls --to a@example.com --body x --attach "$TMP/a-directory" --count 2
clean && [ $rc -eq 1 ] && said '^sn_sendmail: message: cannot read file: the message stopped before its end: not sent$' && [ "$(msgs plain-ok)" -eq 0 ]
check $? "an attachment that is a directory (read fails mid-message): not sent, no stale 354 in the words, nothing stored or leaked" "$(why)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
