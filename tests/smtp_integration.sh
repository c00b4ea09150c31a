#!/usr/bin/env bash
# Mail client integration tests: build/sn_sendmail against SMTP servers on
# loopback. tests/smtp/server.py (aiosmtpd) plays STARTTLS, implicit TLS and
# plain servers with injected faults; a private Postfix instance
# (tests/smtp/postfix.sh) is the real MTA for STARTTLS (submission) and
# wrapper-mode (smtps) delivery to local Maildirs. Each received message is
# parsed with Python's email package (tests/smtp/check_mail.py).
# One line per check, "ok - ..." or "not ok - ...: why", then
# "N passed, N failed"; exit 1 if any failed. Lines starting with "#" are notes
# (the command and its stderr when a check fails, observations).
#
# Environment:
#   SN_SENDMAIL   the client command (default build/sn_sendmail); split on
#                 spaces, so a wrapper works, e.g. the smtplib stand-in:
#                 SN_SENDMAIL="/usr/bin/python3 tests/smtp/stand_in_sendmail.py"
#                 (STANDIN_BUG=... makes that one misbehave on purpose; see its header)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  first of 19 loopback ports (default: a free block 8000 + k * 20, tests/free-ports: below the ephemeral range,
#                 8000-9999, and runs started together (neighbouring PIDs) do not overlap)
#   SN_TMP        scratch directory (default build/smtp-it.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the client, e.g. "valgrind -q --error-exitcode=9"
#   SN_SMTP_TIMEOUT_MS  passed to the client: 5000, and 1500 for the stalling servers
#
#   tests/smtp_integration.sh [--only GROUP[,GROUP...]]
#     GROUPS: message names auth refuse wire big crlf implicit count verify
#             starttls inject plainauth helo faults size 8bit postfix ids
#
# Needs /usr/bin/python3 with aiosmtpd and, for the Postfix group, root and
# postfix: tests/smtp/setup.sh installs both (Debian packages) when missing.
# Every wait is bounded; the whole run takes well under 3 minutes.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
SM=${SN_SENDMAIL:-build/sn_sendmail}
read -ra SMCMD <<<"$SM"
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 8000 100 20)} # below the ephemeral range (32768-)
TMP=${SN_TMP:-build/smtp-it.$$}
PY=/usr/bin/python3
LIMIT=20 # seconds for one client run (the client's own timeouts are shorter); 120 under SN_WRAP
[ -n "${SN_WRAP:-}" ] && LIMIT=120
CHECK=tests/smtp/check_mail.py
CA=$CERTS/ca.pem
pass=0 fail=0 pids=""
only=""
if [ "${1:-}" = --only ]; then only=",${2:?--only needs groups},"; fi
want() { [ -z "$only" ] || [[ $only == *",$1,"* ]]; }

# ---- reporting --------------------------------------------------------------------------
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-400)}"
  fail=$((fail + 1))
  echo "#   command: ${LASTCMD:-}"
  echo "#   exit $rc; stderr: $(tr '\n' ' ' <"$TMP/err" 2>/dev/null | cut -c1-300)"
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; } # STATUS WHAT [WHY]
t() { if "$@"; then echo 0; else echo 1; fi; }                        # t TEST...: for check
note() { echo "# $*"; }

# ---- servers ----------------------------------------------------------------------------
declare -A PORT SPID MARK LMARK
next_port=$BASE
# serve NAME [server.py options...]: starts tests/smtp/server.py on the next port
serve() {
  local name=$1; shift
  PORT[$name]=$next_port; next_port=$((next_port + 1))
  mkdir -p "$TMP/$name"
  $PY tests/smtp/server.py --port "${PORT[$name]}" --maildir "$TMP/$name" "$@" >"$TMP/$name.out" 2>&1 &
  SPID[$name]=$!
  pids="$pids $!"
}
# ready NAME: the server printed "ready" (waits up to 15 s)
ready() {
  local i
  for i in $(seq 1 150); do
    grep -q '^ready' "$TMP/$1.out" 2>/dev/null && return 0
    kill -0 "${SPID[$1]}" 2>/dev/null || break # e.g. its port is taken
    sleep 0.1
  done
  nok "server $1 starts and prints ready within 15 s" "$(tail -n 3 "$TMP/$1.out")"
  return 1
}
cleanup() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null; done
  [ -f "${PFDIR:-/nonexistent}/etc/main.cf" ] && tests/smtp/postfix.sh stop "$PFDIR" >/dev/null 2>&1
  [ -n "${PFTMP:-}" ] && rm -rf "$PFTMP"
  if [ "$fail" -eq 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}

# ---- what a server saw ------------------------------------------------------------------
msgs() { find "$TMP/$1" -maxdepth 1 -name '*.eml' 2>/dev/null | wc -l; }
# mark NAME: remember the message count and log length; new/newlog: what came after
mark() { MARK[$1]=$(msgs "$1"); LMARK[$1]=$({ wc -l <"$TMP/$1/log"; } 2>/dev/null || echo 0); }
new() { echo $(($(msgs "$1") - ${MARK[$1]})); }
newlog() { tail -n +$((${LMARK[$1]} + 1)) "$TMP/$1/log" 2>/dev/null; }
# newest NAME: path of the newest message without .eml (N), empty if none
newest() { local n; n=$(msgs "$1"); [ "$n" -gt 0 ] && echo "$TMP/$1/$n"; }
nomail() { ! newlog "$1" | grep -qE 'C: (MAIL|AUTH)'; } # no MAIL FROM and no AUTH since mark
oneline() { [ "$(grep -c . "$TMP/err")" -eq 1 ]; }
err() { grep -qiE "$1" "$TMP/err"; }

# ---- the client -------------------------------------------------------------------------
# send ARGS...: runs the client (exit status in rc, stderr in $TMP/err, time in ms in el)
send() {
  local t0
  t0=$(date +%s%N)
  LASTCMD="SN_SMTP_TIMEOUT_MS=${TMO:-5000} $SM $(printf '%q ' "$@")"
  if [ -n "${RSS:-}" ]; then
    SN_SMTP_TIMEOUT_MS=${TMO:-5000} timeout $LIMIT $PY tests/smtp/maxrss.py "$RSS" "${SMCMD[@]}" "$@" >"$TMP/out" 2>"$TMP/err"
  else
    SN_SMTP_TIMEOUT_MS=${TMO:-5000} timeout $LIMIT ${SN_WRAP:-} "${SMCMD[@]}" "$@" >"$TMP/out" 2>"$TMP/err"
  fi
  rc=$?
  el=$((($(date +%s%N) - t0) / 1000000))
}
# mailcheck LABEL NAME SPEC: check_mail.py on the newest message of server NAME
mailcheck() {
  local m out
  m=$(newest "$2")
  if [ -z "$m" ]; then nok "$1: a message was stored" "none"; return; fi
  out=$($PY $CHECK "$1" "$m.eml" "$m.json" "$3" 2>&1)
  echo "$out" | grep -E '^(ok|not ok) '
  pass=$((pass + $(grep -c '^ok ' <<<"$out")))
  fail=$((fail + $(grep -c '^not ok ' <<<"$out")))
  if ! grep -qE '^(ok|not ok) ' <<<"$out"; then nok "$1: $m.eml parses" "$(tail -n 2 <<<"$out")"; fi
}
jget() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$1.json" "$2" 2>/dev/null; }
FROM=(--from dev@example.org)
AUTH=(--user dev@example.org --pass s3cret)

# ---- setup -------------------------------------------------------------------------------
mkdir -p "$TMP" && TMP=$(cd "$TMP" && pwd) || exit 1
: >"$TMP/err"
rc=0
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
if ! tests/smtp/setup.sh >"$TMP/setup.log" 2>&1; then
  nok "tests/smtp/setup.sh installs python3-aiosmtpd and postfix" "$(tail -n 3 "$TMP/setup.log")"
  $PY -c 'import aiosmtpd' 2>/dev/null || finish
fi
if [ ! -f "$CERTS/server.pem" ]; then
  tools/sn-certgen --out "$CERTS" >/dev/null || { nok "tools/sn-certgen --out $CERTS"; finish; }
fi
[ -n "$only" ] || [ -x "${SMCMD[0]}" ] || command -v "${SMCMD[0]}" >/dev/null ||
  { nok "$SM exists and is executable"; finish; }

# Certificates beside the dev ones: another CA; from the dev CA an expired one, one not
# yet valid, and an intermediate CA with a leaf under it. OpenSSL 3.0 has no
# -not_before/-not_after (3.4 has): `openssl ca -startdate/-enddate` sets both dates.
# (`openssl x509 -req -days -1` also works in 3.0, but gives notAfter < notBefore.)
X=$TMP/certs
mkdir -p "$X"
(
  cd "$X" || exit 1
  key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1"; }
  csr() { key "$1.key" && openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"; }
  touch index.txt && echo 1000 >serial
  cat >ca.cnf <<'EOF'
[ca]
default_ca = d
[d]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
EOF
  sign() { # NAME CA_CERT CA_KEY EXT START END
    openssl ca -batch -notext -config ca.cnf -cert "$2" -keyfile "$3" -extensions "$4" \
      -startdate "$5" -enddate "$6" -in "$1.csr" -out "$1.pem"
  }
  now=$(date -u +%Y%m%d%H%M%SZ) later=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
  key other-ca.key && openssl req -x509 -new -key other-ca.key -subj "/CN=another CA" -days 30 -out other-ca.pem &&
    csr other /CN=localhost && sign other other-ca.pem other-ca.key leaf "$now" "$later" &&
    csr expired /CN=localhost && sign expired "$ROOT/$CA" "$ROOT/$CERTS/ca.key" leaf 20200101000000Z 20200201000000Z &&
    csr future /CN=localhost && sign future "$ROOT/$CA" "$ROOT/$CERTS/ca.key" leaf 20400101000000Z 20410101000000Z &&
    csr inter "/CN=securenet test intermediate" && sign inter "$ROOT/$CA" "$ROOT/$CERTS/ca.key" inter "$now" "$later" &&
    csr chained /CN=localhost && sign chained inter.pem inter.key leaf "$now" "$later" &&
    cat chained.pem inter.pem >chained-chain.pem
) >"$TMP/certs.log" 2>&1 || { nok "test certificates are made with openssl" "$(tail -n 3 "$TMP/certs.log")"; finish; }
C=$CERTS/server.pem K=$CERTS/server.key

# ---- start every server at once ----------------------------------------------------------
serve main --mode starttls --cert $C --key $K --auth dev@example.org:s3cret \
  --reject-rcpt nobody@example.com --tempfail-rcpt busy@example.com
serve implicit --mode implicit --cert $C --key $K --auth dev@example.org:s3cret
serve untrusted --mode implicit --cert "$X/other.pem" --key "$X/other.key"
serve expired --mode implicit --cert "$X/expired.pem" --key "$X/expired.key"
serve future --mode implicit --cert "$X/future.pem" --key "$X/future.key"
serve chain --mode implicit --cert "$X/chained-chain.pem" --key "$X/chained.key"
serve nochain --mode implicit --cert "$X/chained.pem" --key "$X/chained.key"
serve nostarttls --mode starttls --no-starttls --auth dev@example.org:s3cret
serve inject --mode starttls --cert $C --key $K --auth dev@example.org:s3cret --inject-before-tls
serve loginonly --mode starttls --cert $C --key $K --auth dev@example.org:s3cret --mechs LOGIN
serve plainauth --mode plain --auth dev@example.org:s3cret
serve noehlo --mode plain --no-ehlo
serve closedata --mode starttls --cert $C --key $K --close-in-data
serve stallconn --mode starttls --cert $C --key $K --stall-after connect
serve stalldot --mode implicit --cert $C --key $K --stall-after DOT
serve size --mode starttls --cert $C --key $K --size 20000
serve no8bit --mode starttls --cert $C --key $K --no-8bitmime --no-pipelining
SUB=$next_port SMTPS=$((next_port + 1))
pf=skip
if want postfix; then
  if [ "$(id -u)" -ne 0 ]; then
    pfwhy="not root (Postfix's master must start as root)"
  elif [ ! -x /usr/sbin/postfix ]; then
    pfwhy="postfix is not installed"
  else
    pf=starting
    # Postfix's daemons (user postfix) must be able to reach its directory: $TMP, or /tmp when
    # a parent of $TMP is closed to others.
    if runuser -u postfix -- test -x "$TMP" 2>/dev/null; then PFDIR=$TMP/postfix; else
      PFDIR=$(mktemp -d /tmp/sn-postfix.XXXXXX) && chmod 755 "$PFDIR" && PFTMP=$PFDIR
    fi
    timeout 30 tests/smtp/postfix.sh start "$PFDIR" $SUB $SMTPS "$C" "$K" >"$TMP/postfix.out" 2>&1 &
    pfpid=$!
  fi
fi
for s in "${!PORT[@]}"; do ready "$s"; done

# ---- the checks --------------------------------------------------------------------------
printf 'Grüße from cabinet 3: 41 °C\nsecond line, ASCII\n\nthird paragraph ✓\n' >"$TMP/body.txt"
printf '<p>Grüße from <b>cabinet 3</b>: 41 °C</p>\n' >"$TMP/body.html"
head -c 200000 /dev/urandom >"$TMP/blob.bin"
printf 'log line 1\nlog line 2\n' >"$TMP/notes.txt"
SUBJ="Température élevée ✓ cabinet 3"

if want message; then
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" \
    --to a@example.com --to b@example.com --cc c@example.com --bcc d@example.com --subject "$SUBJ" \
    --body-file "$TMP/body.txt" --html-file "$TMP/body.html" --attach "$TMP/blob.bin" --attach "$TMP/notes.txt"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "STARTTLS (587 style) + AUTH: the full message is accepted (exit 0, one message stored; two-line greeting, multi-line EHLO)" "rc=$rc new=$(new main)"
  mailcheck "STARTTLS message" main '{"mail_from": "dev@example.org", "rcpt": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
    "from": ["", "dev@example.org"], "to": [["", "a@example.com"], ["", "b@example.com"]], "cc": [["", "c@example.com"]],
    "bcc": ["d@example.com"], "subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "html": "'"$TMP/body.html"'",
    "attach": ["'"$TMP/blob.bin"'", "'"$TMP/notes.txt"'"], "auth": ["PLAIN", "dev@example.org"], "wire": true}'
  m=$(newest main) l=$(newlog main)
  seq=$(grep -oE 'tls=[01] (C: [A-Z]+|TLS established)' <<<"$l" | sed 's/C: //; s/TLS established/TLS/' | tr '\n' ' ')
  [[ $seq == "tls=0 EHLO tls=0 STARTTLS tls=1 TLS tls=1 EHLO "* ]] && ! grep -q 'tls=0 C: ' <<<"$(sed -n '/TLS established/,$p' <<<"$l")"
  check $? "STARTTLS: EHLO, STARTTLS, handshake, then EHLO again under TLS; no command in clear after it" "$seq"
  ! grep -qE 'tls=0 C: (AUTH|MAIL|RCPT|DATA)' <<<"$l" && grep -q 'tls=1 C: AUTH PLAIN' <<<"$l"
  check $? "credentials only under TLS: AUTH PLAIN after the handshake, nothing of the mail in clear" "$seq"
  check "$(t [ "$(jget "$m" auth_mech)" = PLAIN ])" "AUTH: with PLAIN, LOGIN and XOAUTH2 offered and a password given, PLAIN is used" "$(jget "$m" auth_mech)"
  check "$(t [ "$(jget "$m" sni)" = localhost ])" "SNI: the ClientHello names the server (--server localhost)" "sni=$(jget "$m" sni)"
  check "$(t [ "$(jget "$m" pipelined)" = True ])" "PIPELINING: offered, so RCPT/DATA follow MAIL FROM without waiting for its reply" "pipelined=$(jget "$m" pipelined)"
  [ "$(grep -c 'C: RCPT' <<<"$l")" -eq 4 ] && [ "$(grep -oE 'C: [A-Z]+' <<<"$l" | tail -n 1)" = "C: QUIT" ]
  check $? "one RCPT per recipient (To, To, Cc, Bcc), and QUIT at the end" "$seq"
fi

if want names; then
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" --from 'Gérard Dév <dev@example.org>' \
    --to 'Zoë Ops <ops@example.com>' --to 'Plain Name <b@example.com>' --cc '"Müller, Jörg" <j@example.com>' \
    --subject "$SUBJ" --body "names"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "display names: a mail with UTF-8 and quoted display names is accepted" "rc=$rc"
  [ $rc -eq 0 ] && mailcheck "display names" main '{"mail_from": "dev@example.org", "rcpt": ["ops@example.com", "b@example.com", "j@example.com"],
    "from": ["Gérard Dév", "dev@example.org"], "to": [["Zoë Ops", "ops@example.com"], ["Plain Name", "b@example.com"]],
    "cc": [["Müller, Jörg", "j@example.com"]], "wire": true}'
fi

if want auth; then
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA --oauth-user dev@example.org --token s3cret "${FROM[@]}" \
    --to a@example.com --subject oauth --body "xoauth2"
  m=$(newest main)
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 -a "$(jget "$m" auth_mech)" = XOAUTH2 ])" \
    "AUTH XOAUTH2: a bearer token (--oauth-user/--token) is accepted as user=..^Aauth=Bearer ..^A^A" "rc=$rc mech=$(jget "$m" auth_mech)"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA --user dev@example.org --pass wrong "${FROM[@]}" \
    --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && oneline && err 'AUTH' && err '535' && ! newlog main | grep -q 'C: MAIL' && [ "$(new main)" -eq 0 ]
  check $? "a wrong password: exit non-zero, one stderr line naming AUTH and the 535, no MAIL FROM"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA --oauth-user dev@example.org --token wrong "${FROM[@]}" \
    --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && oneline && err '535' && [ $el -lt 4000 ] && ! newlog main | grep -q 'C: MAIL'
  check $? "a wrong XOAUTH2 token: the 334 JSON challenge is answered, the 535 reported (no hang: ${el} ms)"
  mark loginonly
  send --server localhost --port ${PORT[loginonly]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body login
  m=$(newest loginonly)
  check "$(t [ $rc -eq 0 -a "$(new loginonly)" -eq 1 -a "$(jget "$m" auth_mech)" = LOGIN ])" \
    "AUTH LOGIN: used when it is the only mechanism offered" "rc=$rc mech=$(jget "$m" auth_mech)"
  mark loginonly
  send --server localhost --port ${PORT[loginonly]} --mode starttls --ca $CA --oauth-user dev@example.org --token s3cret "${FROM[@]}" \
    --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && nomail loginonly && [ "$(new loginonly)" -eq 0 ]
  check $? "a token is never sent through another mechanism: XOAUTH2 not offered, so no AUTH at all and no mail" "$(newlog loginonly | grep 'C: ' | tr '\n' ' ')"
fi

if want refuse; then
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" \
    --to a@example.com --to nobody@example.com --cc c@example.com --subject x --body "one refused"
  m=$(newest main)
  [ $rc -ne 0 ] && oneline && err 'nobody@example\.com' && err '550' && [ "$(new main)" -eq 1 ]
  check $? "a recipient refused with 550 (a two-line reply): exit non-zero, one stderr line naming it and the 550"
  check "$(t [ "$(new main)" -eq 1 ] && $PY -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["rcpt_tos"] != ["a@example.com", "c@example.com"])' "$m.json")" \
    "a recipient refused with 550: the others (To and Cc) still get the mail" "new=$(new main)"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to nobody@example.com --subject x --body x
  [ $rc -ne 0 ] && err '550' && [ "$(new main)" -eq 0 ] && ! newlog main | grep -q 'stored'
  check $? "every recipient refused: exit non-zero with the 550, no message"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" \
    --to busy@example.com --to a@example.com --subject x --body "one deferred"
  [ $rc -ne 0 ] && oneline && err 'busy@example\.com' && err '452' && [ "$(new main)" -eq 1 ]
  check $? "a 452 temporary failure for one recipient: exit non-zero, stderr names it and the 452, the other gets the mail"
fi

if want wire; then
  # dot-stuffing: lines that are or start with "." (a lone "." would end DATA early)
  printf '.\n..\n.hidden\nmiddle . dot\n.\n.. two\nlast line\n' >"$TMP/dots.txt"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject dots --body-file "$TMP/dots.txt"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "dot-stuffing: a body with lines '.', '..', '.hidden' (a lone '.' would end DATA) arrives as one message" "rc=$rc new=$(new main)"
  [ "$(new main)" -eq 1 ] && mailcheck "dot-stuffing" main '{"text": "'"$TMP/dots.txt"'", "wire": true}'
  m=$(newest main)
  [ -n "$m" ] && note "dot-stuffing: lines starting with '.' in the message as sent: $(grep -c '^\.' "$m.eml") (0: the encoder kept every line from starting with '.', e.g. =2E, so SMTP dot-stuffing had nothing to do)"
  # CRLF normalisation: LF-only and mixed line ends in the body and HTML files
  printf 'unix line\nwindows line\r\nunix again\n\nend' >"$TMP/mixed.txt"
  printf '<p>a</p>\n<p>b</p>\r\n' >"$TMP/mixed.html"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject crlf \
    --body-file "$TMP/mixed.txt" --html-file "$TMP/mixed.html"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "CRLF normalisation: LF-only and mixed line ends are accepted" "rc=$rc"
  [ "$(new main)" -eq 1 ] && mailcheck "CRLF normalisation" main '{"text": "'"$TMP/mixed.txt"'", "html": "'"$TMP/mixed.html"'", "wire": true}'
  # lines over 998 octets (the server refuses a line over 1000 with 500): ASCII and UTF-8, and a long subject
  $PY -c 'import sys; open(sys.argv[1], "w", encoding="utf-8").write("short\n" + "x" * 5000 + "\n" + "é" * 1500 + " end\nlast\n")' "$TMP/long.txt"
  LONGSUBJ="$(printf 'Überlänge %.0s' $(seq 1 30))end"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject "$LONGSUBJ" \
    --body-file "$TMP/long.txt"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "long lines: a 5000-octet ASCII line, a 3000-octet UTF-8 line and a 330-character subject are accepted" "rc=$rc"
  [ "$(new main)" -eq 1 ] && mailcheck "long lines" main '{"text": "'"$TMP/long.txt"'", "subject": "'"$LONGSUBJ"'", "wire": true}'
fi

if want big; then
  head -c 5242880 /dev/urandom >"$TMP/big.bin"
  $PY -c 'import sys; open(sys.argv[1], "w").write("".join("line %d of a large log body\n" % i for i in range(80000)))' "$TMP/bigbody.txt"
  RSS=$TMP/rss.small send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject small --body small
  mark main
  RSS=$TMP/rss.big send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject big \
    --body-file "$TMP/bigbody.txt" --attach "$TMP/big.bin"
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "a 5 MiB attachment with a $(($(wc -c <"$TMP/bigbody.txt") / 1024)) KiB body file is accepted (${el} ms)" "rc=$rc"
  [ "$(new main)" -eq 1 ] && mailcheck "5 MiB attachment" main '{"text": "'"$TMP/bigbody.txt"'", "attach": ["'"$TMP/big.bin"'"], "wire": true}'
  small=$(cat "$TMP/rss.small" 2>/dev/null || echo 0) big=$(cat "$TMP/rss.big" 2>/dev/null || echo 0)
  check "$(t [ "$big" -gt 0 -a $((big - small)) -lt 2048 ])" \
    "streamed: peak RSS for the 5 MiB attachment + $(($(wc -c <"$TMP/bigbody.txt") / 1024)) KiB body file is within 2 MiB of a one-line mail's ($small KiB -> $big KiB)" \
    "the client held the message in memory"
fi

if want crlf; then
  # header injection attempts; each must be refused before anything reaches the server
  for c in "subject|--subject|$(printf 'hi\r\nBcc: victim@example.net')" \
    "To address|--to|$(printf 'a@example.com\r\nRCPT TO:<victim@example.net>')" \
    "From address|--from|$(printf 'dev@example.org\nX-Evil: 1')" \
    "display name|--cc|$(printf 'Evil\rName <c@example.com>')"; do
    what=${c%%|*} rest=${c#*|} opt=${rest%%|*} val=${rest#*|}
    args=(--to a@example.com "${FROM[@]}" --subject x)
    case $opt in --to) args=("${FROM[@]}" --subject x) ;; --from) args=(--to a@example.com --subject x) ;; --subject) args=(--to a@example.com "${FROM[@]}") ;; esac
    mark main
    send --server localhost --port ${PORT[main]} --mode starttls --ca $CA "${AUTH[@]}" "${args[@]}" "$opt" "$val" --body x
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && nomail main && [ "$(new main)" -eq 0 ]
    check $? "CR/LF in the $what is refused before anything is sent (no AUTH, no MAIL FROM, no message)" "$(newlog main | grep -c connect) connections"
    newlog main | grep -q connect && note "CR/LF in the $what: the client connected before refusing ($(newlog main | grep -c 'C: ') commands)"
  done
fi

if want implicit; then
  mark implicit
  send --server localhost --port ${PORT[implicit]} --mode tls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject "$SUBJ" --body-file "$TMP/body.txt"
  m=$(newest implicit)
  [ $rc -eq 0 ] && [ "$(new implicit)" -eq 1 ] && [ "$(jget "$m" tls)" = True ] && ! newlog implicit | grep -q 'C: STARTTLS' &&
    [ "$(newlog implicit | grep -m1 'C: ' | cut -d' ' -f2)" = tls=1 ]
  check $? "implicit TLS (465 style): TLS from the first byte, no STARTTLS, the mail is accepted" "rc=$rc"
  [ "$(new implicit)" -eq 1 ] && mailcheck "implicit TLS message" implicit '{"subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "auth": ["PLAIN", "dev@example.org"], "wire": true}'
  mark implicit
  send --server 127.0.0.1 --tls-name localhost --port ${PORT[implicit]} --mode tls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  m=$(newest implicit)
  check "$(t [ $rc -eq 0 -a "$(new implicit)" -eq 1 -a "$(jget "$m" sni)" = localhost ])" \
    "--server 127.0.0.1 --tls-name localhost: verified as localhost, and SNI is localhost" "rc=$rc sni=$(jget "$m" sni)"
  mark implicit
  send --server localhost --tls-name wrong.example --port ${PORT[implicit]} --mode tls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && oneline && nomail implicit && [ "$(new implicit)" -eq 0 ]
  check $? "hostname mismatch (--tls-name wrong.example, certificate for localhost): refused at TLS, no AUTH, no mail"
  note "hostname mismatch: $(cat "$TMP/err")"
  mark implicit
  send --server localhost --port ${PORT[implicit]} --mode tls "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && nomail implicit && [ "$(new implicit)" -eq 0 ]
  check $? "verification is on by default: without --ca (no trusted root) the dev certificate is refused"
fi

if want count; then
  mark implicit
  send --server localhost --port ${PORT[implicit]} --mode tls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject "one of ten" --body "same body" --count 10
  l=$(newlog implicit)
  conns=$(grep -c ' connect$' <<<"$l")
  txns=$(for f in $(ls "$TMP/implicit"/*.json | sort -V | tail -n "$(new implicit)"); do jget "${f%.json}" conn; done | sort -u | wc -l)
  check "$(t [ $rc -eq 0 -a "$(new implicit)" -eq 10 -a "$conns" -eq 1 -a "$txns" -eq 1 ])" \
    "--count 10: ten messages in ONE session (one connection, one EHLO, ten transactions)" "rc=$rc messages=$(new implicit) connections=$conns"
  check "$(t [ "$(grep -c 'C: RSET' <<<"$l")" -ge 9 ])" "--count 10: RSET between the messages" "$(grep -c 'C: RSET' <<<"$l") RSETs"
  ids=$(for i in $(seq $((${MARK[implicit]} + 1)) "$(msgs implicit)"); do $PY -c 'import email,sys; print(email.message_from_binary_file(open(sys.argv[1],"rb"))["Message-ID"])' "$TMP/implicit/$i.eml"; done | sort -u | wc -l)
  check "$(t [ "$ids" -eq 10 ])" "--count 10: ten different Message-IDs" "$ids distinct"
fi

if want verify; then
  for c in "untrusted|a certificate from another CA (not in --ca)|" "expired|an expired certificate (2020, from the dev CA)|expired" \
    "future|a certificate not valid until 2040 (from the dev CA)|future|not yet|valid" "nochain|a leaf from an intermediate CA that the server does not send|"; do
    name=${c%%|*} rest=${c#*|} what=${rest%%|*} pat=${rest#*|}
    mark "$name"
    send --server localhost --port ${PORT[$name]} --mode tls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && oneline && nomail "$name" && [ "$(new "$name")" -eq 0 ] && { [ -z "$pat" ] || err "$pat"; }
    check $? "verification: $what is refused in the handshake, no mail${pat:+ (stderr says ${pat//|/ or })}"
    note "$name: $(cat "$TMP/err")"
  done
  mark chain
  send --server localhost --port ${PORT[chain]} --mode tls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
  check "$(t [ $rc -eq 0 -a "$(new chain)" -eq 1 ])" "verification: a chain (leaf + intermediate sent, root in --ca) is accepted" "rc=$rc"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca "$X/other-ca.pem" "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && oneline && nomail main && [ "$(new main)" -eq 0 ]
  check $? "verification under STARTTLS: an untrusted certificate stops the session before AUTH (credentials not sent)"
  mark main
  send --server localhost --port ${PORT[main]} --mode starttls --ca "$X/other-ca.pem" --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  check "$(t [ $rc -eq 0 -a "$(new main)" -eq 1 ])" "--ca is repeatable: the right root as the second --ca is used" "rc=$rc"
fi

if want starttls; then
  mark nostarttls
  send --server localhost --port ${PORT[nostarttls]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && oneline && err 'STARTTLS' && nomail nostarttls && [ "$(new nostarttls)" -eq 0 ]
  check $? "STARTTLS not offered (AUTH offered in clear): refused, stderr names STARTTLS, no AUTH, no mail" "$(newlog nostarttls | grep 'C: ' | tr '\n' ' ')"
  mark nostarttls
  send --server localhost --port ${PORT[nostarttls]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && nomail nostarttls && [ "$(new nostarttls)" -eq 0 ]
  check $? "STARTTLS not offered, no credentials: still no mail in clear (no downgrade)"
  mark noehlo
  send --server localhost --port ${PORT[noehlo]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && nomail noehlo && [ "$(new noehlo)" -eq 0 ]
  check $? "STARTTLS mode against a server refusing EHLO: no HELO downgrade, no mail in clear"
fi

if want inject; then
  mark inject
  send --server localhost --port ${PORT[inject]} --mode starttls --ca $CA "${AUTH[@]}" "${FROM[@]}" --to a@example.com --to b@example.com \
    --subject "$SUBJ" --body-file "$TMP/body.txt"
  l=$(newlog inject)
  check "$(t [ $rc -eq 0 -a "$(new inject)" -eq 1 ])" \
    "STARTTLS injection: a forged reply sent in clear with the 220 is discarded; the mail goes through (exit 0, one message)" "rc=$rc new=$(new inject)"
  [ "$(grep -c 'tls=1 C: EHLO' <<<"$l")" -eq 1 ] && grep -A1 'TLS established' <<<"$l" | grep -q 'tls=1 C: EHLO'
  check $? "STARTTLS injection: the client says EHLO again as its first command under TLS" "$(grep 'C: ' <<<"$l" | cut -d' ' -f2- | tr '\n' ' ')"
  [ "$(new inject)" -eq 1 ] && mailcheck "after STARTTLS injection" inject '{"rcpt": ["a@example.com", "b@example.com"], "text": "'"$TMP/body.txt"'", "auth": ["PLAIN", "dev@example.org"]}'
fi

if want plainauth; then
  mark plainauth
  send --server localhost --port ${PORT[plainauth]} --mode plain "${AUTH[@]}" "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && ! newlog plainauth | grep -q 'C: AUTH'
  check $? "plain mode with credentials (AUTH offered in clear): the credentials are never sent without TLS" "$(newlog plainauth | grep 'C: ' | tr '\n' ' ')"
fi

if want helo; then
  mark noehlo
  send --server localhost --port ${PORT[noehlo]} --mode plain "${FROM[@]}" --to a@example.com --subject helo --body "helo fallback"
  l=$(newlog noehlo)
  [ $rc -eq 0 ] && [ "$(new noehlo)" -eq 1 ] && grep -q 'C: EHLO' <<<"$l" && grep -A1 'C: EHLO' <<<"$l" | grep -q 'C: HELO'
  check $? "EHLO answered 502: the client falls back to HELO and the mail goes (plain mode)" "rc=$rc $(grep 'C: ' <<<"$l" | cut -d' ' -f3- | tr '\n' ' ')"
fi

if want faults; then
  head -c 100000 /dev/urandom >"$TMP/100k.bin"
  mark closedata
  send --server localhost --port ${PORT[closedata]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x --attach "$TMP/100k.bin"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && oneline && err 'DATA|message' && [ "$(new closedata)" -eq 0 ] && [ $el -lt 10000 ]
  check $? "the server drops the connection in the middle of DATA: exit non-zero within ${el} ms, one line naming DATA"
  note "close in DATA: $(cat "$TMP/err")"
  TMO=1500 send --server localhost --port ${PORT[stallconn]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && oneline && err 'tim' && [ $el -lt 8000 ]
  check $? "a server that never greets: the client gives up with a timeout error (SN_SMTP_TIMEOUT_MS=1500: ${el} ms)"
  note "no greeting: $(cat "$TMP/err")"
  TMO=1500 send --server localhost --port ${PORT[stalldot]} --mode tls --ca $CA "${FROM[@]}" --to a@example.com --subject x --body x
  [ $rc -eq 3 ] && oneline && err 'may have been accepted' && [ $el -lt 8000 ]
  check $? "a server that never answers the final dot: the client gives up in time and says the mail may have been accepted (exit 3, ${el} ms)"
  note "no reply to the dot: $(cat "$TMP/err")"
fi

if want size; then
  mark size
  send --server localhost --port ${PORT[size]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject big --body "$(head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70)"
  [ $rc -ne 0 ] && oneline && ! newlog size | grep -q 'C: DATA' && [ "$(new size)" -eq 0 ]
  check $? "SIZE 20000 offered: a 30 KB mail is not sent (no DATA), the error names the limit or the reply" "$(newlog size | grep 'C: ' | cut -d' ' -f3- | tr '\n' ' ')"
  note "SIZE: $(cat "$TMP/err")"
  mark size
  send --server localhost --port ${PORT[size]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject small --body small
  m=$(newest size)
  check "$(t [ $rc -eq 0 -a "$(new size)" -eq 1 ])" "SIZE 20000 offered: a small mail goes" "rc=$rc"
  [ -n "$m" ] && note "MAIL FROM parameters with SIZE offered: $(jget "$m" mail_options)"
fi

if want 8bit; then
  mark no8bit
  send --server localhost --port ${PORT[no8bit]} --mode starttls --ca $CA "${FROM[@]}" --to a@example.com --subject "$SUBJ" --body-file "$TMP/body.txt" \
    --html-file "$TMP/body.html"
  m=$(newest no8bit)
  check "$(t [ $rc -eq 0 -a "$(new no8bit)" -eq 1 ])" "without 8BITMIME and PIPELINING offered, a UTF-8 mail is accepted" "rc=$rc"
  [ -n "$m" ] && mailcheck "no 8BITMIME" no8bit '{"subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "html": "'"$TMP/body.html"'", "no8bit": true, "wire": true}'
  check "$(t [ -n "$m" ] && [ "$(jget "$m" pipelined)" = False ])" "PIPELINING not offered: each command waits for its reply" "pipelined=$([ -n "$m" ] && jget "$m" pipelined)"
  [ -n "$(newest main)" ] && note "with 8BITMIME offered (main server), the last message's MAIL FROM parameters: $(jget "$(newest main)" mail_options)"
fi

# ---- Postfix: the real MTA, STARTTLS on submission and wrapper-mode smtps -------------
# delivered WHO: the newest file in Postfix's Maildir for WHO@test.example (waits up to 10 s for COUNT files)
delivered() {
  local i d=$PFDIR/mail/$1/new
  for i in $(seq 1 100); do
    [ "$(ls "$d" 2>/dev/null | wc -l)" -ge "${2:-1}" ] && { ls -t "$d"/* | head -n 1; return 0; }
    sleep 0.1
  done
  return 1
}
if want postfix; then
  if [ "$pf" = starting ]; then
    wait "$pfpid"; pfrc=$?
    check $pfrc "Postfix: a private instance (own config, queue and data directories, loopback only) starts on :$SUB and :$SMTPS" \
      "$(tail -n 3 "$TMP/postfix.out")"
    [ $pfrc = 0 ] && pf=up
    ss -ltn 2>/dev/null | grep -qE '[:.]25 ' && note "something listens on port 25 (not this instance: its master.cf has no port 25)"
  else
    ok "Postfix checks skipped: $pfwhy (skip)"
  fi
fi
if [ "$pf" = up ]; then
  send --server localhost --port $SUB --mode starttls --ca $CA "${FROM[@]}" --to alice@test.example --cc bob@test.example \
    --bcc carol@test.example --subject "$SUBJ" --body-file "$TMP/body.txt" --attach "$TMP/blob.bin"
  check $rc "Postfix submission (STARTTLS): the mail for alice, bob (Cc) and carol (Bcc) is accepted" "rc=$rc"
  a=$(delivered alice) && delivered bob >/dev/null && c=$(delivered carol)
  check $? "Postfix submission (STARTTLS): delivered to the three Maildirs" "$(find "$PFDIR/mail" -type f | wc -l) files; $(tail -n 2 "$PFDIR/log")"
  if [ -n "${a:-}" ]; then
    out=$($PY $CHECK "Postfix STARTTLS delivery" "$a" - '{"from": ["", "dev@example.org"], "to": [["", "alice@test.example"]],
      "cc": [["", "bob@test.example"]], "subject": "'"$SUBJ"'", "text": "'"$TMP/body.txt"'", "attach": ["'"$TMP/blob.bin"'"]}')
    echo "$out"; pass=$((pass + $(grep -c '^ok ' <<<"$out"))); fail=$((fail + $(grep -c '^not ok ' <<<"$out")))
    grep -q '^Delivered-To: carol@test.example' "${c:-/dev/null}" && ! grep -qi '^Bcc:' "$c" && ! grep -q 'carol@' <(sed '/^$/q' "$a" | grep -v '^Delivered-To')
    check $? "Postfix: the Bcc recipient got the mail, and no header names carol"
    grep -A3 '^Received: from' "$a" | grep -q 'using TLSv1\.[23]' && grep -q 'with ESMTPS' "$a"
    check $? "Postfix: the Received header says the submission was under TLS (ESMTPS, TLSv1.2+)" "$(grep -A3 '^Received: from' "$a" | tr -s ' \t\n' ' ')"
  fi
  n=$(ls "$PFDIR/mail/alice/new" | wc -l)
  send --server localhost --port $SMTPS --mode tls --ca $CA "${FROM[@]}" --to alice@test.example --subject "smtps" --body "wrapper mode"
  a=$(delivered alice $((n + 1)))
  check "$(t [ $rc -eq 0 ] && [ -n "$a" ] && grep -q 'wrapper mode' "$a" && grep -q 'with ESMTPS' "$a")" \
    "Postfix smtps (wrapper mode, implicit TLS): the mail is delivered to alice's Maildir" "rc=$rc"
  n=$(ls "$PFDIR/mail/alice/new" | wc -l)
  send --server localhost --port $SUB --mode starttls --ca $CA "${FROM[@]}" --to alice@test.example --to nobody@test.example --subject x --body "unknown user"
  a=$(delivered alice $((n + 1)))
  [ $rc -ne 0 ] && oneline && err 'nobody@test\.example' && err '550' && [ -n "$a" ] && grep -q 'unknown user' "$a"
  check $? "Postfix: an unknown user is refused with 550 (named on stderr), and alice still gets the mail"
  send --server localhost --port $SUB --mode starttls --ca $CA "${FROM[@]}" --to someone@example.net --subject x --body relay
  [ $rc -ne 0 ] && err '554|relay'
  check $? "Postfix: the test instance relays nowhere (554 relay access denied for example.net)"
  n=$(find "$PFDIR/mail" -type f | wc -l)
  send --server localhost --tls-name wrong.example --port $SMTPS --mode tls --ca $CA "${FROM[@]}" --to alice@test.example --subject x --body x
  sleep 0.3
  check "$(t [ $rc -ne 0 ] && [ "$(find "$PFDIR/mail" -type f | wc -l)" -eq "$n" ])" \
    "Postfix smtps: --tls-name wrong.example is refused against a real MTA too, nothing delivered" "rc=$rc"
fi

if want ids; then
  ids=$(cat "$TMP"/*/*.eml 2>/dev/null | grep -i '^Message-ID:' | wc -l)
  uniq=$(cat "$TMP"/*/*.eml 2>/dev/null | grep -i '^Message-ID:' | sort -u | wc -l)
  check "$(t [ "$ids" -ge 2 -a "$ids" -eq "$uniq" ])" "Message-ID is unique across all $ids messages of this run" "$uniq distinct of $ids"
fi

for s in "${!PORT[@]}"; do
  # (a refused handshake is logged by asyncio as an SSLError: expected, not shown)
  grep -E '^[A-Za-z.]+(Error|Exception)' "$TMP/$s.out" | grep -vE "SSLError|TLSSetupException" | head -n 2 | sed "s/^/# server $s: /"
done
finish
