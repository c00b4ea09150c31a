#!/usr/bin/env bash
# Client connection tests: build/sn_tlscat (securenet's sn_connect byte stream,
# TLS or plain) against real servers on loopback: `openssl s_server -rev` (a
# raw TLS peer that echoes lines reversed), sn_demo over HTTPS and plain HTTP
# (with and without mutual TLS), tests/client/tls_peer.py for the peers
# that misbehave (a response cut without close_notify, a server that never
# answers) and tests/client/http_peer.py, which records the SNI it gets. One line per check, "ok - ..." or "not ok - ...: why", then
# "N passed, N failed"; exit 1 if any failed.
#
# Environment:
#   SN_TLSCAT     the client (default build/sn_tlscat)
#   SN_DEMO       the server (default build/sn_demo)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  first of 10 loopback ports (default: a free block 10000 + k * 10, tests/free-ports: below the ephemeral range)
#   SN_TMP        scratch directory (default build/client-it.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the client, e.g. "valgrind -q --leak-check=full --error-exitcode=9"
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
CAT=${SN_TLSCAT:-build/sn_tlscat}
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 10000 250 10)}
TMP=${SN_TMP:-build/client-it.$$}
PY=/usr/bin/python3
LIMIT=20
[ -n "${SN_WRAP:-}" ] && LIMIT=90
pass=0 fail=0 pids=""
mkdir -p "$TMP"

. tests/client/suite.sh

# inp FORMAT [ARGS]: what the next client run sends (printf), into $TMP/in
inp() { printf "$@" >"$TMP/in"; }
# cat_ ARGS...: runs the client with $TMP/in as input; stdout in $TMP/out, stderr in $TMP/err, status in rc
cat_() {
  timeout $LIMIT ${SN_WRAP:-} "$CAT" "$@" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}
# one line on stderr naming the reason, besides the "connected:" note
one_line() { [ "$(grep -vc '^sn_tlscat: connected:' "$TMP/err")" -eq 1 ] && grep -qiE "$1" "$TMP/err"; }


[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
CA=(--ca "$CERTS/ca.pem")
P_REV=$BASE P_HTTPS=$((BASE + 1)) P_HTTP=$((BASE + 2)) P_MTLS=$((BASE + 3)) P_EXP=$((BASE + 4))
P_TRUNC=$((BASE + 5)) P_SILENT=$((BASE + 6)) P_NONE=$((BASE + 7)) P_SNI=$((BASE + 8)) P_SNI6=$((BASE + 9))

openssl s_server -accept "127.0.0.1:$P_REV" -cert "$CERTS/server-chain.pem" -key "$CERTS/server.key" -rev -quiet \
  </dev/null >"$TMP/rev.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_HTTPS --http-port $P_HTTP >"$TMP/demo.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_MTLS --client-ca "$CERTS/ca.pem" >"$TMP/mtls.log" 2>&1 &
pids="$pids $!"
tests/expired_cert.sh "$CERTS" "$TMP/expired" >/dev/null 2>&1
openssl s_server -accept "127.0.0.1:$P_EXP" -cert "$TMP/expired/expired.pem" -key "$TMP/expired/expired.key" -rev -quiet \
  </dev/null >"$TMP/exp.log" 2>&1 &
pids="$pids $!"
$PY tests/client/tls_peer.py truncate $P_TRUNC "$CERTS/server.pem" "$CERTS/server.key" >"$TMP/trunc.log" 2>&1 &
pids="$pids $!"
$PY tests/client/tls_peer.py silent $P_SILENT "$CERTS/server.pem" "$CERTS/server.key" >"$TMP/silent.log" 2>&1 &
pids="$pids $!"
$PY tests/client/http_peer.py $P_SNI "$TMP/sni.log" --cert "$CERTS/server-chain.pem" --key "$CERTS/server.key" >"$TMP/sni.out" 2>&1 &
pids="$pids $!"
$PY tests/client/http_peer.py $P_SNI6 "$TMP/sni.log" --bind ::1 --cert "$CERTS/server-chain.pem" --key "$CERTS/server.key" \
  >"$TMP/sni6.out" 2>&1 &
pids="$pids $!"
for p in $P_REV $P_HTTPS $P_HTTP $P_MTLS $P_EXP $P_TRUNC $P_SILENT $P_SNI; do wait_port $p "$TMP/demo.log" || true; done
listening "$TMP/demo.log" "$TMP/mtls.log"

# ---- a raw TLS peer: openssl s_server -rev --------------------------------------------------
inp 'hello world\nsecond line\n'; cat_ "${CA[@]}" --tls-name localhost 127.0.0.1 $P_REV
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'dlrow olleh\nenil dnoces')" ]
check $? "s_server -rev: two lines go out over verified TLS and come back reversed; an orderly close (exit 0)" "$(why)"
grep -qE 'connected: TLSv1\.[23] (TLS-ECDHE-ECDSA-WITH-(AES-(128|256)-GCM|CHACHA20)|TLS1-3-(AES-(128|256)-GCM|CHACHA20))' "$TMP/err"
check $? "s_server -rev: TLS 1.2 or 1.3 with a forward-secret AEAD suite" "$(cat "$TMP/err")"
head -c 300000 /dev/urandom | base64 -w 100 >"$TMP/lines.txt"
cp "$TMP/lines.txt" "$TMP/in"; cat_ "${CA[@]}" localhost $P_REV
[ $rc -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq "$(wc -l <"$TMP/lines.txt")" ] && cmp -s <(rev "$TMP/lines.txt") "$TMP/out"
check $? "s_server -rev: 400 KB of lines (more than the send queue's default) come back whole and in order" "$(why)"

# ---- IP literals: no SNI (RFC 6066 3), verified against the certificate's iPAddress SAN ------------
inp 'ip\n'; cat_ "${CA[@]}" 127.0.0.1 $P_REV
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "pi" ]
check $? "s_server -rev at 127.0.0.1 without --tls-name: verified against the IP:127.0.0.1 SAN" "$(why)"
# sni LABEL: the SNI http_peer.py recorded for the request to /LABEL (JSON: null for none)
sni() { $PY -c 'import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if "\"target\"" in l]
print([json.dumps(r["sni"]) for r in rs if r["target"] == "/" + sys.argv[2]][-1])' "$TMP/sni.log" "$1" 2>/dev/null; }
inp 'GET /v4 HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" 127.0.0.1 $P_SNI
[ $rc -eq 0 ] && grep -q '^ok GET /v4' "$TMP/out" && [ "$(sni v4)" = null ]
check $? "no SNI for the IPv4 literal 127.0.0.1 (the peer records none)" "$(why) sni=$(sni v4)"
for i in $(seq 1 50); do grep -q ready "$TMP/sni6.out" && break; sleep 0.1; done
inp 'GET /v6 HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" ::1 $P_SNI6
[ $rc -eq 0 ] && grep -q '^ok GET /v6' "$TMP/out" && [ "$(sni v6)" = null ]
check $? "no SNI for the IPv6 literal ::1, verified against the IP:::1 SAN" "$(why) sni=$(sni v6)"
inp 'GET /named HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" localhost $P_SNI
[ $rc -eq 0 ] && [ "$(sni named)" = '"localhost"' ]
check $? "a host name is sent as SNI (localhost)" "$(why) sni=$(sni named)"

# ---- sn_demo: HTTP over the byte stream -----------------------------------------------------
inp 'GET /api/hello/stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; cat_ "${CA[@]}" localhost $P_HTTPS
[ $rc -eq 0 ] && head -n 1 "$TMP/out" | grep -q '^HTTP/1.1 200' && [ "$(tail -n 1 "$TMP/out")" = "hello, stream" ]
check $? "sn_demo over HTTPS: GET /api/hello/stream answers 200 'hello, stream'" "$(why)"
inp 'GET /api/hello/plain HTTP/1.0\r\n\r\n'; cat_ --plain localhost $P_HTTP
[ $rc -eq 0 ] && [ "$(tail -n 1 "$TMP/out")" = "hello, plain" ] && ! grep -q 'connected: TLS' "$TMP/err"
check $? "sn_demo over plain TCP (--plain): the same call without TLS" "$(why)"
head -c 1048576 /dev/urandom >"$TMP/blob.bin"
{ printf 'POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n'
  cat "$TMP/blob.bin"; } >"$TMP/in"
cat_ "${CA[@]}" localhost $P_HTTPS
[ $rc -eq 0 ] && tail -c 1048576 "$TMP/out" | cmp -s - "$TMP/blob.bin"
check $? "sn_demo over HTTPS: a 1 MiB POST /api/echo comes back byte for byte" "$(why)"
inp 'GET /stream?n=20000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; cat_ "${CA[@]}" localhost $P_HTTPS
[ $rc -eq 0 ] && grep -q '^line 19999$' "$TMP/out" && grep -qi 'transfer-encoding: chunked' "$TMP/out"
check $? "sn_demo over HTTPS: a chunked /stream of 20000 lines arrives to its last line" "$(why)"

# ---- mutual TLS ---------------------------------------------------------------------------------
inp 'GET /api/status HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" --cert "$CERTS/client.pem" --key "$CERTS/client.key" localhost $P_MTLS
[ $rc -eq 0 ] && grep -qE '"client":"[^"]*CN=' "$TMP/out"
check $? "mutual TLS: with --cert/--key the server sees the client certificate's subject in /api/status" "$(why) $(tail -c 200 "$TMP/out")"
inp 'GET /api/status HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" localhost $P_MTLS
[ $rc -eq 4 ] && one_line 'TLS' && ! grep -q 'HTTP/1' "$TMP/out"
check $? "mutual TLS: without a client certificate the handshake fails (exit 4, one line), no HTTP answer" "$(why)"

# ---- pins ---------------------------------------------------------------------------------------
PIN=$(openssl x509 -in "$CERTS/server.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
inp 'GET /api/hello/pin HTTP/1.0\r\n\r\n'; cat_ --pin-sha256 "$PIN" localhost $P_HTTPS
[ $rc -eq 0 ] && [ "$(tail -n 1 "$TMP/out")" = "hello, pin" ]
check $? "a pin alone (no roots) that matches the server's key: accepted" "$(why)"
inp 'GET /api/hello/pin HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" --pin-sha256 "$PIN" localhost $P_HTTPS
[ $rc -eq 0 ] && [ "$(tail -n 1 "$TMP/out")" = "hello, pin" ]
check $? "roots and a matching pin: accepted" "$(why)"
OTHERPIN=$(openssl ecparam -name prime256v1 -genkey | openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64)
inp 'GET /api/hello/pin HTTP/1.0\r\n\r\n'; cat_ "${CA[@]}" --pin-sha256 "$OTHERPIN" localhost $P_HTTPS
[ $rc -eq 5 ] && one_line 'pin' && ! grep -q 'HTTP/1' "$TMP/out"
check $? "a pin of another key, even with trusted roots: refused (exit 5, 'pin' in the one line), nothing received" "$(why)"
inp 'GET /api/hello/pin HTTP/1.0\r\n\r\n'; cat_ --pin-sha256 "$PIN" --tls-name wrong.example localhost $P_HTTPS
[ $rc -eq 5 ] && one_line 'CN|name'
check $? "a matching pin does not excuse a name mismatch (exit 5)" "$(why)"

# ---- verification failures ------------------------------------------------------------------------
mkdir -p "$TMP/other" && tools/sn-certgen --out "$TMP/other" >/dev/null 2>&1
inp 'hi\n'; cat_ --ca "$TMP/other/ca.pem" localhost $P_REV
[ $rc -eq 5 ] && one_line 'not trusted|trust' && [ ! -s "$TMP/out" ]
check $? "a server from an untrusted CA: refused (exit 5, one line says not trusted)" "$(why)"
inp 'hi\n'; cat_ "${CA[@]}" --tls-name wrong.example localhost $P_REV
[ $rc -eq 5 ] && one_line 'CN|name' && [ ! -s "$TMP/out" ]
check $? "--tls-name that the certificate does not name: refused (exit 5, one line says the name)" "$(why)"
inp 'hi\n'; cat_ "${CA[@]}" localhost $P_EXP
[ $rc -eq 5 ] && one_line 'expired' && [ ! -s "$TMP/out" ]
check $? "an expired server certificate: refused (exit 5, one line says expired)" "$(why)"
inp 'hi\n'; cat_ localhost $P_REV
[ $rc -eq 2 ] && grep -q 'no trusted roots and no pin' "$TMP/err"
check $? "TLS without roots or a pin is refused before connecting (nothing to verify against)" "$(why)"

# ---- connection failures ------------------------------------------------------------------------
inp 'hi\n'; cat_ "${CA[@]}" localhost $P_NONE
[ $rc -eq 3 ] && one_line "cannot connect to localhost port $P_NONE"
check $? "connection refused: exit 3, one line naming host and port" "$(why)"
inp 'hi\n'; cat_ "${CA[@]}" nonexistent.invalid 443
[ $rc -eq 3 ] && one_line 'resolve.*nonexistent.invalid'
check $? "an unresolvable name: exit 3, one line naming it" "$(why)"
start=$(date +%s%N)
inp 'hi\n'; cat_ "${CA[@]}" --timeout 2 localhost $P_SILENT
el=$((($(date +%s%N) - start) / 1000000))
[ $rc -eq 6 ] && one_line 'in time' && [ $el -lt $((LIMIT * 1000)) ]
check $? "a server that never answers: the handshake times out (--timeout 2: exit 6 after ${el} ms)" "$(why)"
inp 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'; cat_ "${CA[@]}" localhost $P_TRUNC
[ $rc -eq 7 ] && one_line 'without close_notify' && grep -q '^HTTP/1.1 200' "$TMP/out"
check $? "a response cut short without close_notify is reported as a possible truncation (exit 7), not success" "$(why)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
