#!/usr/bin/env bash
# Mail sender against real servers on loopback: aiosmtpd (Debian's
# python3-aiosmtpd) for STARTTLS, implicit TLS and a server without STARTTLS,
# and raw scripted servers for the STARTTLS injection, a stall and a refused
# login. One line per check, then "N passed, N failed".
# Environment: SN_SENDMAIL (default build/sn_sendmail), SN_CERTS (build/certs),
# SN_PORT_BASE (default: a free block 2000 + k * 12, tests/free-ports; below the ephemeral range), SN_WRAP (e.g. valgrind with
# --error-exitcode, so a leak fails the check that expected success).
set -u
cd "$(dirname "$0")/.." || exit 1
SM=${SN_SENDMAIL:-build/sn_sendmail}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$(tests/free-ports 2000 500 12)} # below the ephemeral range (32768-)
TMP=$(mktemp -d build/smtp-tmp.XXXXXX)
PY=/usr/bin/python3
pass=0 fail=0 pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }
[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
$PY -c 'import aiosmtpd' 2>/dev/null || tools/deps.sh python3-aiosmtpd >/dev/null

serve() { # NAME MODE PORT [CERT KEY]
  mkdir -p "$TMP/$1"
  $PY tests/integration/smtp_server.py "$2" "$3" "$TMP/$1" "${4:-$CERTS/server.pem}" "${5:-$CERTS/server.key}" >"$TMP/$1.out" 2>&1 &
  pids="$pids $!"
  local i
  for i in $(seq 1 50); do grep -q ready "$TMP/$1.out" && return 0; sleep 0.1; done
  nok "$1: test server starts" "$(tail -n 3 "$TMP/$1.out")"
}
send() { # sn_sendmail args...; stderr to $TMP/err, exit status in $rc
  SN_SMTP_TIMEOUT_MS=${TIMEOUT_MS:-5000} timeout 60 ${SN_WRAP:-} $SM --from dev@example.org --subject "${SUBJECT:-hello}" "$@" 2>"$TMP/err"
  rc=$?
}
msgs() { ls "$TMP/$1"/*.eml 2>/dev/null | wc -l; }

serve starttls starttls $BASE
serve implicit implicit $((BASE + 1))
serve nostarttls nostarttls $((BASE + 2))
serve inject inject $((BASE + 3))
serve stall stall $((BASE + 4))
serve authfail authfail $((BASE + 5))
serve login login $((BASE + 6))
serve noehlo noehlo $((BASE + 7))
serve dropdata dropdata $((BASE + 8))
serve size size $((BASE + 9))
# an expired server certificate from the dev CA
tests/expired_cert.sh "$CERTS" "$TMP" >/dev/null 2>&1
serve expired implicit $((BASE + 10)) "$TMP/expired.pem" "$TMP/expired.key"

head -c 200000 /dev/urandom >"$TMP/blob.bin"
printf 'Grüße from the device\n.a line starting with a dot\nand a last line\n' >"$TMP/body.txt"
printf '<p>Grüße</p>\n' >"$TMP/body.html"
SUBJECT="Température élevée" send --server localhost --port $BASE --mode starttls --ca "$CERTS/ca.pem" --user u --pass p \
  --to a@example.com --to b@example.com --cc c@example.com --bcc d@example.com --body-file "$TMP/body.txt" \
  --html-file "$TMP/body.html" --attach "$TMP/blob.bin"
check $rc "STARTTLS + AUTH: a mail with Cc, Bcc, HTML and a 200 KB attachment is accepted (exit 0)" "$(cat "$TMP/err")"
parsed=$($PY - "$TMP/starttls/1.eml" "$TMP/starttls/1.env" "$TMP/blob.bin" "$TMP/body.txt" 2>&1 <<'PY'
import email, hashlib, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
env = open(sys.argv[2]).read()
att = [p for p in m.iter_attachments()]
body = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
checks = [
    ("the subject decodes to the UTF-8 text", str(m["Subject"]) == "Température élevée"),
    ("To and Cc list the recipients, Bcc is not in the message", "a@example.com" in str(m["To"]) and "b@example.com" in str(m["To"]) and "c@example.com" in str(m["Cc"]) and m["Bcc"] is None),
    ("the envelope has every recipient, Bcc included", "rcpt=a@example.com,b@example.com,c@example.com,d@example.com" in env),
    ("Date and Message-ID are present", m["Date"] is not None and m["Message-ID"] is not None),
    ("the text body decodes byte for byte (dots and UTF-8 kept)", body == open(sys.argv[4], encoding="utf-8").read()),
    ("the HTML alternative is there", m.get_body(("html",)) is not None and "Grüße" in m.get_body(("html",)).get_content()),
    ("the attachment decodes byte for byte", len(att) == 1 and att[0].get_filename() == "blob.bin" and hashlib.sha256(att[0].get_content()).digest() == hashlib.sha256(open(sys.argv[3], "rb").read()).digest()),
    ("the session was under TLS when the mail went", "tls=True" in env),
]
for name, good in checks:
    print(("ok - " if good else "not ok - ") + "STARTTLS mail: " + name)
PY
)
echo "$parsed"
pass=$((pass + $(echo "$parsed" | grep -c '^ok ')))
fail=$((fail + $(echo "$parsed" | grep -c '^not ok ')))
echo "$parsed" | grep -qE '^(ok|not ok) ' || nok "the delivered STARTTLS mail parses" "$parsed"
grep -q "AUTH PLAIN ok" "$TMP/starttls/log" && grep -q "EHLO securenet.invalid tls=True" "$TMP/starttls/log"
check $? "STARTTLS: EHLO again under TLS, then AUTH PLAIN (the strongest allowed)"

send --server 127.0.0.1 --tls-name localhost --port $((BASE + 1)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body "one of ten" --count 10
[ $rc -eq 0 ] && [ "$(msgs implicit)" -eq 10 ] && [ "$(grep -c EHLO "$TMP/implicit/log")" -eq 1 ]
check $? "implicit TLS: --count 10 sends ten mails in one session (one EHLO)" "rc=$rc msgs=$(msgs implicit) $(cat "$TMP/err")"
ids=$(cat "$TMP"/implicit/*.eml | grep -i '^Message-ID:' | sort -u | wc -l)
check $([ "$ids" -eq 10 ] && echo 0 || echo 1) "implicit TLS: ten distinct Message-IDs" "$ids"

before=$(msgs starttls)
send --server localhost --port $BASE --mode starttls --ca "$CERTS/ca.pem" --to refuse@example.com --to ok@example.com --body x
[ $rc -ne 0 ] && grep -q "RCPT TO:<refuse@example.com>: 550" "$TMP/err" && [ "$(msgs starttls)" -eq $((before + 1)) ] && grep -q "rcpt=ok@example.com$" "$TMP/starttls/$((before + 1)).env"
check $? "a 550 for one recipient is reported (non-zero exit, names it) and the other still gets the mail" "$(cat "$TMP/err")"

openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key"
openssl req -x509 -new -key "$TMP/other.key" -subj /CN=other -days 2 -out "$TMP/other.pem" 2>/dev/null
before=$(msgs implicit)
send --server 127.0.0.1 --tls-name localhost --port $((BASE + 1)) --mode tls --ca "$TMP/other.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "^sn_sendmail: TLS:" "$TMP/err" && [ "$(msgs implicit)" -eq "$before" ]
check $? "an untrusted server certificate stops the send at TLS, nothing delivered" "$(cat "$TMP/err")"
send --server 127.0.0.1 --tls-name wrong.example --port $((BASE + 1)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -qiE "^sn_sendmail: TLS:.*(CN|name)" "$TMP/err" && [ "$(msgs implicit)" -eq "$before" ]
check $? "a hostname mismatch (--tls-name wrong.example) stops the send at TLS" "$(cat "$TMP/err")"

# an IP literal as the server: verified against the certificate's iPAddress SAN (the dev
# certificate has IP:127.0.0.1), on mbedTLS 2.28 too (which matches DNS names only), no SNI
before=$(msgs implicit)
send --server 127.0.0.1 --port $((BASE + 1)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -eq 0 ] && [ "$(msgs implicit)" -eq $((before + 1)) ]
check $? "implicit TLS to 127.0.0.1 verifies against the certificate's IP SAN and delivers" "rc=$rc $(cat "$TMP/err")"
before=$(msgs starttls)
send --server 127.0.0.1 --port $BASE --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -eq 0 ] && [ "$(msgs starttls)" -eq $((before + 1)) ]
check $? "STARTTLS to 127.0.0.1 verifies against the certificate's IP SAN and delivers" "rc=$rc $(cat "$TMP/err")"
before=$(msgs implicit)
send --server 127.0.0.1 --tls-name 127.0.0.2 --port $((BASE + 1)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "^sn_sendmail: TLS:" "$TMP/err" && [ "$(msgs implicit)" -eq "$before" ]
check $? "an IP address the certificate does not name (--tls-name 127.0.0.2) stops the send at TLS" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 10)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -qi "^sn_sendmail: TLS:.*expired" "$TMP/err" && [ "$(msgs expired)" -eq 0 ]
check $? "an expired server certificate stops the send at TLS" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 2)) --mode starttls --ca "$CERTS/ca.pem" --user u --pass p --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "STARTTLS" "$TMP/err" && [ "$(msgs nostarttls)" -eq 0 ] && ! grep -q "AUTH" "$TMP/nostarttls/log" 2>/dev/null
check $? "a server without STARTTLS is refused: no downgrade, no AUTH, no mail" "$(cat "$TMP/err")"
send --server localhost --port $((BASE + 2)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "STARTTLS" "$TMP/err" && [ "$(msgs nostarttls)" -eq 0 ]
check $? "a server without STARTTLS gets no mail in clear text either (no credentials involved)" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 3)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --to b@example.com --body x
[ $rc -eq 0 ] && [ "$(msgs inject)" -eq 1 ] && grep -q "C: b'EHLO" "$TMP/inject/log" && [ "$(grep -c "C: b'EHLO" "$TMP/inject/log")" -eq 1 ]
check $? "STARTTLS injection: replies sent with the 220 in clear are dropped; EHLO is said again under TLS" "$(cat "$TMP/err")"
grep -q "C: b'RCPT TO:<b@example.com>'" "$TMP/inject/log"
check $? "PIPELINING: MAIL, RCPTs and DATA go out together when advertised"

send --server localhost --port $((BASE + 5)) --mode starttls --ca "$CERTS/ca.pem" --user u --pass wrong --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "^sn_sendmail: AUTH: 535" "$TMP/err" && ! grep -q "C: b'MAIL" "$TMP/authfail/log"
check $? "a refused login ends at AUTH with the 535 reply, no MAIL FROM" "$(cat "$TMP/err")"

t0=$(date +%s)
TIMEOUT_MS=1000 send --server localhost --port $((BASE + 4)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body x
t1=$(date +%s)
[ $rc -ne 0 ] && grep -q "^sn_sendmail: greeting: timed out" "$TMP/err" && [ $((t1 - t0)) -le 5 ]
check $? "a server that never answers gives a timeout error at the greeting" "$(cat "$TMP/err") after $((t1 - t0)) s"

send --server 127.0.0.1 --port $((BASE + 11)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && grep -q "^sn_sendmail: connect:" "$TMP/err"
check $? "a refused connection is reported at the connect stage" "$(cat "$TMP/err")"

before=$(msgs starttls)
SUBJECT="$(printf 'hi\r\nBcc: victim@example.net')" send --server localhost --port $BASE --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body x
[ $rc -ne 0 ] && [ "$(msgs starttls)" -eq "$before" ]
check $? "CR LF in the subject is refused before anything is sent" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 3)) --mode starttls --ca "$CERTS/ca.pem" --oauth-user dev@example.org --token tok123 --to a@example.com --body x
tok=$(grep -o "AUTH XOAUTH2 [A-Za-z0-9+/=]*" "$TMP/inject/log" | tail -n 1 | cut -d' ' -f3 | base64 -d 2>/dev/null | tr '\001' '|')
[ $rc -eq 0 ] && [ "$tok" = "user=dev@example.org|auth=Bearer tok123||" ]
check $? "XOAUTH2: a bearer token is sent in the XOAUTH2 format when the server offers it" "rc=$rc token=$tok $(cat "$TMP/err")"

send --server localhost --port $((BASE + 6)) --mode starttls --ca "$CERTS/ca.pem" --user u --pass p --to a@example.com --body x
[ $rc -eq 0 ] && grep -q "C: b'AUTH LOGIN'" "$TMP/login/log" && grep -q "C: b'dQ=='" "$TMP/login/log" && grep -q "C: b'cA=='" "$TMP/login/log"
check $? "AUTH LOGIN is used when it is the only method offered (user and password in base64)" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 7)) --mode plain --to a@example.com --body x
[ $rc -eq 0 ] && [ "$(msgs noehlo)" -eq 1 ] && grep -q "C: b'HELO" "$TMP/noehlo/log"
check $? "a server refusing EHLO gets HELO instead (plain test relay mode)" "$(cat "$TMP/err")"
send --server localhost --port $((BASE + 7)) --mode plain --user u --pass p --to a@example.com --body x
[ $rc -ne 0 ] && ! grep -q "C: b'AUTH" "$TMP/noehlo/log"
check $? "credentials are never sent without TLS, even in plain mode" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 8)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --attach "$TMP/blob.bin" --body x
# (the client may have handed the whole message and its dot to TCP before the close shows: then it cannot
# know how much the server read, and says the mail may have been accepted; either way it never says sent)
[ $rc -ne 0 ] && grep -qE "^sn_sendmail: DATA: (connection closed|the message was sent but not confirmed)" "$TMP/err" &&
  [ "$(msgs dropdata)" -eq 0 ]
check $? "a server closing in the middle of DATA gives an error at DATA (closed, or unconfirmed if the dot had left)" "$(cat "$TMP/err")"

send --server localhost --port $BASE --mode starttls --ca "$CERTS/ca.pem" --to busy@example.com --body x
[ $rc -ne 0 ] && grep -q "RCPT TO:<busy@example.com>: 452" "$TMP/err"
check $? "a 452 temporary failure is reported with its code" "$(cat "$TMP/err")"

send --server localhost --port $((BASE + 9)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body "$(head -c 6000 /dev/zero | tr '\0' x)"
[ $rc -ne 0 ] && grep -q "^sn_sendmail: MAIL FROM:.*SIZE" "$TMP/err" && ! grep -q "C: b'MAIL" "$TMP/size/log"
check $? "SIZE: a mail over the advertised limit is refused before MAIL FROM" "$(cat "$TMP/err")"
send --server localhost --port $((BASE + 9)) --mode starttls --ca "$CERTS/ca.pem" --to a@example.com --body small
check $rc "SIZE: a mail under the limit goes" "$(cat "$TMP/err")"

before=$(msgs implicit)
send --server 127.0.0.1 --tls-name localhost --port $((BASE + 1)) --mode tls --ca "$CERTS/ca.pem" --to a@example.com --body "burst" --count 100
[ $rc -eq 0 ] && [ "$(msgs implicit)" -eq $((before + 100)) ]
check $? "100 mails in one session are all accepted${SN_WRAP:+ (under $(echo $SN_WRAP | cut -d' ' -f1): no leak, no error)}" "rc=$rc $(tail -n 3 "$TMP/err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
