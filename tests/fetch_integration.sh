#!/usr/bin/env bash
# HTTP client tests: build/sn_fetch (securenet's sn_http_request) against
# sn_demo, a private nginx instance (Debian's nginx, its own configuration on
# loopback, static files small and large over HTTPS and HTTP, a redirect down
# to http) and peers that misbehave (openssl s_server with an expired
# certificate, tests/client/tls_peer.py cutting a response short or never
# answering, tests/client/http_peer.py recording what it receives: redirects
# between origins, transfer codings, SNI and certificates for IP literals). One line per check, "ok - ..." or "not ok - ...: why", then
# "N passed, N failed"; exit 1 if any failed.
#
# Environment:
#   SN_FETCH      the client (default build/sn_fetch)
#   SN_DEMO       the server (default build/sn_demo)
#   SN_CERTS      certificates from tools/sn-certgen (default build/certs; made if missing)
#   SN_PORT_BASE  first of 23 loopback ports (default: a free block 12500 + k * 23, tests/free-ports: below the ephemeral range)
#   SN_TMP        scratch directory (default build/fetch-it.$$; removed unless a check failed)
#   SN_WRAP       a wrapper for the client, e.g. "valgrind -q --leak-check=full --error-exitcode=9"
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
FETCH=${SN_FETCH:-build/sn_fetch}
DEMO=${SN_DEMO:-build/sn_demo}
CERTS=${SN_CERTS:-build/certs}
BASE=${SN_PORT_BASE:-$("$ROOT"/tests/free-ports 12500 450 23)}
TMP=${SN_TMP:-build/fetch-it.$$}
PY=/usr/bin/python3
LIMIT=30
[ -n "${SN_WRAP:-}" ] && LIMIT=120
pass=0 fail=0 pids=""
mkdir -p "$TMP"
TMP=$(cd "$TMP" && pwd)

. tests/client/suite.sh

# fetch ARGS...: stdout in $TMP/out, stderr in $TMP/err, exit status in rc
fetch() {
  timeout $LIMIT ${SN_WRAP:-} "$FETCH" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}
one_line() { [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qiE "$1" "$TMP/err"; }

[ -f "$CERTS/server.pem" ] || tools/sn-certgen --out "$CERTS" >/dev/null
CERTS=$(cd "$CERTS" && pwd)
CA=(--ca "$CERTS/ca.pem")
P_HTTPS=$BASE P_HTTP=$((BASE + 1)) P_MTLS=$((BASE + 2)) P_NGX=$((BASE + 3)) P_NGXP=$((BASE + 4))
P_EXP=$((BASE + 5)) P_TRUNC=$((BASE + 6)) P_SILENT=$((BASE + 7)) P_NONE=$((BASE + 8)) P_REDIR=$((BASE + 9))
P_WWW=$((BASE + 11)) # (BASE + 10 is the plain HTTP port of the redirecting sn_demo)
P_V6=$((BASE + 12))  # and BASE + 13
P_IDLE=$((BASE + 14))
P_PA=$((BASE + 15)) P_PB=$((BASE + 16)) # http_peer.py, plain: two origins
P_TA=$((BASE + 17)) P_TB=$((BASE + 18)) # http_peer.py, TLS (the dev certificate): two origins
P_T6=$((BASE + 19))                     # http_peer.py, TLS on ::1
P_CDNS=$((BASE + 20)) P_CCN=$((BASE + 21)) P_CIP2=$((BASE + 22)) # TLS with certificates that must not verify for 127.0.0.1

"$DEMO" --https-port $P_HTTPS --http-port $P_HTTP >"$TMP/demo.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_REDIR --http-port $((P_REDIR + 10)) --redirect >"$TMP/redir.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_MTLS --client-ca "$CERTS/ca.pem" >"$TMP/mtls.log" 2>&1 &
pids="$pids $!"
"$DEMO" --https-port $P_IDLE --idle-timeout-ms 300 >"$TMP/idle.log" 2>&1 &
pids="$pids $!"
tests/expired_cert.sh "$CERTS" "$TMP/expired" >/dev/null 2>&1
openssl s_server -accept "127.0.0.1:$P_EXP" -cert "$TMP/expired/expired.pem" -key "$TMP/expired/expired.key" -www -quiet \
  </dev/null >"$TMP/exp.log" 2>&1 &
pids="$pids $!"
$PY tests/client/tls_peer.py truncate $P_TRUNC "$CERTS/server.pem" "$CERTS/server.key" >"$TMP/trunc.log" 2>&1 &
pids="$pids $!"
$PY tests/client/tls_peer.py silent $P_SILENT "$CERTS/server.pem" "$CERTS/server.key" >"$TMP/silent.log" 2>&1 &
pids="$pids $!"

# a private nginx: its own prefix, configuration, logs and temp paths under $TMP, loopback only
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then tools/deps.sh nginx-light >/dev/null 2>&1 || tools/deps.sh nginx >/dev/null 2>&1; fi
mkdir -p "$TMP/ngx/www/files" "$TMP/ngx/tmp" "$TMP/ngx/logs"
printf 'small file from nginx\n' >"$TMP/ngx/www/files/small.txt"
head -c 5242880 /dev/urandom >"$TMP/ngx/www/files/large.bin"
cat >"$TMP/ngx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/logs/error.log;
events { worker_connections 64; }
http {
  log_format reuse '\$connection \$connection_requests \$request';
  access_log $TMP/ngx/logs/access.log reuse;
  client_body_temp_path $TMP/ngx/tmp/body;
  proxy_temp_path $TMP/ngx/tmp/proxy;
  fastcgi_temp_path $TMP/ngx/tmp/fastcgi;
  uwsgi_temp_path $TMP/ngx/tmp/uwsgi;
  scgi_temp_path $TMP/ngx/tmp/scgi;
  server {
    listen 127.0.0.1:$P_NGX ssl;
    ssl_certificate $CERTS/server-chain.pem;
    ssl_certificate_key $CERTS/server.key;
    root $TMP/ngx/www;
    location = /down { return 302 http://127.0.0.1:$P_NGXP/files/small.txt; }
    location = /bighead { $(for i in 1 2 3 4 5 6; do printf 'add_header X-Big%s %s; ' $i "$(head -c 3000 /dev/zero | tr '\0' a)"; done) return 200 "x"; }
  }
  server {
    listen 127.0.0.1:$P_NGXP;
    root $TMP/ngx/www;
  }
}
EOF
"$NGINX" -p "$TMP/ngx" -c "$TMP/ngx/nginx.conf" -g 'daemon off;' >"$TMP/ngx/out.log" 2>&1 &
pids="$pids $!"
for p in $P_IDLE $P_HTTPS $P_HTTP $P_MTLS $P_EXP $P_TRUNC $P_SILENT $P_NGX $P_NGXP $P_REDIR; do wait_port $p "$TMP/demo.log" || true; done
listening "$TMP/demo.log" "$TMP/redir.log" "$TMP/mtls.log" "$TMP/idle.log"

# ---- sn_demo ------------------------------------------------------------------------------------
fetch "${CA[@]}" "https://localhost:$P_HTTPS/api/hello/fetch"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, fetch" ] && [ ! -s "$TMP/err" ]
check $? "sn_demo: GET over verified HTTPS, the body on stdout, exit 0" "$(why)"
fetch "http://127.0.0.1:$P_HTTP/api/hello/plain"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, plain" ]
check $? "sn_demo: GET over plain HTTP to a numeric address" "$(why)"
fetch -i "${CA[@]}" -d 'a=1&b=2' -H 'Content-Type: application/x-www-form-urlencoded' "https://localhost:$P_HTTPS/api/echo"
[ $rc -eq 0 ] && head -n 1 "$TMP/out" | grep -q '^HTTP/1.1 200 OK' && grep -qi '^content-type: application/x-www-form-urlencoded' "$TMP/out" &&
  [ "$(tail -c 7 "$TMP/out")" = 'a=1&b=2' ]
check $? "sn_demo: POST -d with an extra header, -i shows the status line and headers before the body" "$(why)"
head -c 1048576 /dev/urandom >"$TMP/blob.bin"
fetch "${CA[@]}" --data-file "$TMP/blob.bin" -o "$TMP/blob.out" "https://localhost:$P_HTTPS/api/echo"
[ $rc -eq 0 ] && cmp -s "$TMP/blob.bin" "$TMP/blob.out"
check $? "sn_demo: a 1 MiB --data-file (streamed, sent chunked) comes back byte for byte into -o" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_HTTPS/stream?n=30000"
[ $rc -eq 0 ] && [ "$(wc -l <"$TMP/out")" -eq 30000 ] && [ "$(tail -n 1 "$TMP/out")" = "line 29999" ]
check $? "sn_demo: a chunked /stream response is decoded to its 30000 lines" "$(why)"
fetch "${CA[@]}" --cert "$CERTS/client.pem" --key "$CERTS/client.key" "https://localhost:$P_MTLS/api/status"
[ $rc -eq 0 ] && grep -qE '"client":"[^"]*CN=' "$TMP/out"
check $? "mutual TLS: /api/status reports the client certificate's subject" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_MTLS/api/status"
[ $rc -eq 35 ] && one_line '^sn_fetch: TLS: '
check $? "mutual TLS: a server that demands a client certificate and gets none: exit 35, one line at TLS" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_HTTPS/no/such/page"
[ $rc -eq 22 ] && one_line 'answered 404'
check $? "sn_demo: a 404 gives exit 22, like curl -f" "$(why)"
fetch "${CA[@]}" "http://localhost:$((P_REDIR + 10))/api/hello/up"
[ $rc -eq 22 ] && one_line 'answered 301'
check $? "a redirect is not followed unless asked (301: exit 22)" "$(why)"
fetch "${CA[@]}" --max-redirs 2 "http://localhost:$((P_REDIR + 10))/api/hello/up"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, up" ]
check $? "--max-redirs 2: the 301 from http to https is followed, and the https answer verified" "$(why)"

fetch -vv "${CA[@]}" "https://localhost:$P_HTTPS/api/hello/trace"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, trace" ] && grep -q '^sn_fetch: debug: mbedtls .*handshake' "$TMP/err"
check $? "-vv: mbedTLS's handshake trace comes through securenet's log hook (tls_debug), the answer is unchanged" "$(why)"
fetch -v "${CA[@]}" "https://localhost:$P_HTTPS/api/hello/trace"
[ $rc -eq 0 ] && ! grep -q 'debug: mbedtls ' "$TMP/err" && grep -q 'debug: ' "$TMP/err"
check $? "-v: securenet's own steps only, no mbedTLS trace" "$(why)"

# ---- session resumption, seen from the server's side (openssl s_server -www reports it) ----------
openssl s_server -accept "127.0.0.1:$P_WWW" -cert "$CERTS/server-chain.pem" -key "$CERTS/server.key" -www -quiet \
  </dev/null >"$TMP/www.log" 2>&1 &
pids="$pids $!"
wait_port $P_WWW "$TMP/www.log"
fetch --repeat 3 "${CA[@]}" "https://localhost:$P_WWW/"
[ $rc -eq 0 ] && [ "$(grep -cE '^New, TLSv1\.[23]' "$TMP/out")" -eq 1 ] && [ "$(grep -cE '^Reused, TLSv1\.[23]' "$TMP/out")" -eq 2 ]
check $? "resumption: three requests in one process to s_server: the first a full handshake, the next two resumed" \
  "$(why) $(grep -E '^(New|Reused)' "$TMP/out" | tr '\n' ' ')"
fetch --repeat 100 "${CA[@]}" -o "$TMP/hundred.out" "https://localhost:$P_HTTPS/api/hello/again"
[ $rc -eq 0 ] && [ "$(wc -c <"$TMP/hundred.out")" -eq $((100 * 13)) ] && [ ! -s "$TMP/err" ]
check $? "100 requests in one process, each on its own resumed connection: all answered, and (under ASan or valgrind) nothing leaked" "$(why)"
fetch --repeat 2 "${CA[@]}" --tls-name wrong.example "https://localhost:$P_WWW/"
[ $rc -eq 60 ]
check $? "resumption never skips verification: a name mismatch still fails (exit 60)" "$(why)"

# ---- IPv6 literals ------------------------------------------------------------------------------
if "$DEMO" --bind ::1 --https-port $P_V6 --http-port $((P_V6 + 1)) >"$TMP/v6.log" 2>&1 & then
  pids="$pids $!"
  for i in $(seq 1 50); do grep -q listening "$TMP/v6.log" && break; sleep 0.1; done
  fetch "${CA[@]}" --tls-name localhost "https://[::1]:$P_V6/api/hello/six"
  [ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, six" ]
  check $? "an IPv6 literal URL (https://[::1]:port/...) over verified TLS (--tls-name localhost)" "$(why)"
  fetch "http://[::1]:$((P_V6 + 1))/api/hello/six?x=1"
  [ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, six" ]
  check $? "an IPv6 literal URL with a query over plain HTTP" "$(why)"
fi

# ---- nginx --------------------------------------------------------------------------------------
fetch "${CA[@]}" "https://localhost:$P_NGX/files/small.txt"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "small file from nginx" ]
check $? "nginx over HTTPS: a small static file" "$(why)"
fetch "${CA[@]}" -o "$TMP/large.out" "https://localhost:$P_NGX/files/large.bin"
[ $rc -eq 0 ] && cmp -s "$TMP/ngx/www/files/large.bin" "$TMP/large.out"
check $? "nginx over HTTPS: a 5 MiB static file, byte for byte" "$(why)"
fetch --repeat 3 "${CA[@]}" "https://localhost:$P_NGX/files/small.txt?keep"
conns=$(grep 'small.txt?keep' "$TMP/ngx/logs/access.log" | cut -d' ' -f1 | sort -u | wc -l)
reqs=$(grep 'small.txt?keep' "$TMP/ngx/logs/access.log" | cut -d' ' -f2 | tr '\n' ' ')
[ $rc -eq 0 ] && [ "$(grep -c 'small file from nginx' "$TMP/out")" -eq 3 ] && [ "$conns" -eq 1 ] && [ "$reqs" = "1 2 3 " ]
check $? "nginx keep-alive: three requests to one server go over one kept connection (nginx counts requests 1 2 3 on it)" \
  "$(why) connections=$conns requests=$reqs"
fetch --repeat 2 "${CA[@]}" "https://localhost:$P_HTTPS/api/hello/kept"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'hello, kept\nhello, kept')" ]
check $? "sn_demo keep-alive: a second request on the kept connection is answered" "$(why)"
fetch -v --repeat 2 --pause-ms 1200 "${CA[@]}" "https://localhost:$P_IDLE/api/hello/stale"
[ $rc -eq 0 ] && [ "$(grep -c 'hello, stale' "$TMP/out")" -eq 2 ] && grep -q 'kept connection was closed by the server' "$TMP/err"
check $? "a kept connection the server closed while the client slept (idle timeout 300 ms): the request goes again on a new one" "$(why)"
fetch "${CA[@]}" --max-filesize 100000 -o "$TMP/big.out" "https://localhost:$P_NGX/files/large.bin"
[ $rc -eq 63 ] && one_line 'max_body'
check $? "--max-filesize 100000 against a 5 MiB file: refused with exit 63, one line" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_NGX/bighead"
[ $rc -eq 63 ] && one_line 'head'
check $? "a response head over 16 KiB (nginx add_header): refused with exit 63, one line" "$(why)"
openssl x509 -in "$CERTS/ca.pem" -outform der -out "$TMP/ca.der"
fetch --ca "$TMP/ca.der" "https://localhost:$P_NGX/files/small.txt"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "small file from nginx" ]
check $? "trusted roots given as DER" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_NGX/files/missing"
[ $rc -eq 22 ] && one_line 'answered 404'
check $? "nginx: a 404 gives exit 22" "$(why)"
fetch -X HEAD -i "${CA[@]}" "https://localhost:$P_NGX/files/large.bin"
[ $rc -eq 0 ] && grep -qi '^content-length: 5242880' "$TMP/out" && [ "$(wc -c <"$TMP/out")" -lt 1000 ]
check $? "nginx: HEAD gets the headers (Content-Length 5242880) and no body" "$(why)"
fetch "${CA[@]}" --max-redirs 3 "https://localhost:$P_NGX/down"
[ $rc -ne 0 ] && one_line 'https to http' && [ ! -s "$TMP/out" ]
check $? "a redirect from https down to http is refused, even with --max-redirs" "$(why)"
grep -c 'GET /files/small.txt' "$TMP/ngx/logs/access.log" >/dev/null 2>&1
check $? "nginx's access log saw the requests (a real peer answered)"

# ---- verification failures ----------------------------------------------------------------------
mkdir -p "$TMP/other" && tools/sn-certgen --out "$TMP/other" >/dev/null 2>&1
fetch --ca "$TMP/other/ca.pem" "https://localhost:$P_HTTPS/api/hello/x"
[ $rc -eq 60 ] && one_line 'trusted CA|not trusted' && [ ! -s "$TMP/out" ]
check $? "an untrusted CA: exit 60, one line says not trusted, nothing written" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_EXP/"
[ $rc -eq 60 ] && one_line 'expired'
check $? "an expired certificate: exit 60, one line says expired" "$(why)"
fetch "${CA[@]}" --tls-name wrong.example "https://localhost:$P_HTTPS/api/hello/x"
[ $rc -eq 60 ] && one_line 'CN|name'
check $? "a host name the certificate does not name: exit 60" "$(why)"
fetch "${CA[@]}" "https://127.0.0.2:$P_HTTPS/api/hello/x"
[ $rc -ne 0 ] && [ ! -s "$TMP/out" ]
check $? "an address the certificate does not name (127.0.0.2): refused" "$(why)"
PIN=$(openssl x509 -in "$CERTS/server.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
OTHERPIN=$(openssl ecparam -name prime256v1 -genkey | openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64)
fetch --pin-sha256 "$PIN" "https://localhost:$P_HTTPS/api/hello/pinned"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, pinned" ]
check $? "a matching pin, without roots: accepted" "$(why)"
fetch "${CA[@]}" --pin-sha256 "$OTHERPIN" "https://localhost:$P_HTTPS/api/hello/pinned"
[ $rc -eq 60 ] && one_line 'pin' && [ ! -s "$TMP/out" ]
check $? "a pin of another key: exit 60, one line names the pin" "$(why)"
fetch "https://localhost:$P_HTTPS/api/hello/x"
[ $rc -eq 3 ] && one_line 'needs --ca'
check $? "https without roots or a pin: refused before connecting (exit 3)" "$(why)"

# ---- connection failures ------------------------------------------------------------------------
fetch "${CA[@]}" "https://localhost:$P_NONE/"
[ $rc -eq 7 ] && one_line "cannot connect to localhost port $P_NONE"
check $? "connection refused: exit 7, one line names host and port" "$(why)"
fetch "${CA[@]}" "https://nonexistent.invalid/"
[ $rc -eq 6 ] && one_line 'nonexistent.invalid'
check $? "an unresolvable name: exit 6" "$(why)"
start=$(date +%s%N)
fetch "${CA[@]}" --timeout 2 "https://localhost:$P_SILENT/"
el=$((($(date +%s%N) - start) / 1000000))
[ $rc -eq 28 ] && one_line 'time' && [ $el -lt 15000 ]
check $? "a server that never answers: --timeout 2 ends it (exit 28 after ${el} ms)" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_TRUNC/"
[ $rc -eq 18 ] && one_line 'cut short' && [ "$(wc -c <"$TMP/out")" -eq 1000 ]
check $? "a body cut short before its Content-Length, without close_notify: exit 18, not success" "$(why)"
fetch "${CA[@]}" "ftp://localhost/"
[ $rc -eq 3 ]
check $? "a URL that is not http(s): exit 3" "$(why)"
fetch "${CA[@]}" "https://user@localhost:$P_HTTPS/"
[ $rc -eq 3 ]
check $? "a URL with user info (user@host): refused, exit 3" "$(why)"

# ---- http_peer.py: what reaches the server -------------------------------------------------------
# req LOG TARGET EXPR: the last request to TARGET that LOG recorded makes the Python expression EXPR
# (over r, the record) true
req() {
  $PY -c 'import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if "target" in l]
rs = [r for r in rs if r.get("target") == sys.argv[2]]
sys.exit(0 if rs and eval(sys.argv[3], {"r": rs[-1]}) else 1)' "$1" "$2" "$3" 2>/dev/null
}
reqlog() { grep -h "\"$2\"" "$1" 2>/dev/null | tail -n 1 | cut -c1-300; } # for the why of a failure
PL="$TMP/peers.log"
for p in $P_PA $P_PB; do
  $PY tests/client/http_peer.py $p "$PL" >"$TMP/peer$p.log" 2>&1 &
  pids="$pids $!"
done
for p in $P_TA $P_TB; do
  $PY tests/client/http_peer.py $p "$PL" --cert "$CERTS/server-chain.pem" --key "$CERTS/server.key" >"$TMP/peer$p.log" 2>&1 &
  pids="$pids $!"
done
$PY tests/client/http_peer.py $P_T6 "$PL" --bind ::1 --cert "$CERTS/server-chain.pem" --key "$CERTS/server.key" \
  >"$TMP/peer$P_T6.log" 2>&1 &
pids="$pids $!"
# certificates from the dev CA that name 127.0.0.1 the wrong way: as a DNS name, as the CN alone,
# and an IP SAN of another address
mkcert() { # NAME EXTENSIONS
  openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/$1.key" 2>/dev/null &&
    openssl req -new -key "$TMP/$1.key" -subj "/CN=127.0.0.1" 2>/dev/null |
    openssl x509 -req -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -set_serial $((RANDOM * 32768 + RANDOM)) -days 30 \
      -extfile <(printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n%s\n' "$2") -out "$TMP/$1.pem" 2>/dev/null
}
mkcert ipdns 'subjectAltName=DNS:127.0.0.1,DNS:localhost'
mkcert ipcn ''
mkcert ipother 'subjectAltName=IP:127.0.0.2,DNS:localhost'
for c in "ipdns $P_CDNS" "ipcn $P_CCN" "ipother $P_CIP2"; do
  set -- $c
  $PY tests/client/http_peer.py $2 "$PL" --cert "$TMP/$1.pem" --key "$TMP/$1.key" >"$TMP/peer$2.log" 2>&1 &
  pids="$pids $!"
done
for p in $P_PA $P_PB $P_TA $P_TB $P_CDNS $P_CCN $P_CIP2; do wait_port $p "$TMP/peer$p.log" || true; done
for i in $(seq 1 50); do grep -q ready "$TMP/peer$P_T6.log" && break; sleep 0.1; done
A="http://127.0.0.1:$P_PA" B="http://127.0.0.1:$P_PB"
CREDS=(-H 'Authorization: Basic c2VjcmV0' -H 'Cookie: session=s3cret' -H 'Proxy-Authorization: Basic cHJveHk=' -H 'X-Other: kept')

# redirects: methods and bodies (RFC 9110 15.4, as curl)
fetch --max-redirs 2 -d 'the body' -H 'Content-Type: text/plain' "$A/redirect?code=303&to=$B/after303"
[ $rc -eq 0 ] && req "$PL" /after303 'r["method"] == "GET" and r["body"] == "" and "content-length" not in r["h"] and "content-type" not in r["h"]'
check $? "redirect: a 303 after a POST becomes a GET without the body (and its Content-Type)" "$(why) $(reqlog "$PL" /after303)"
fetch --max-redirs 2 -X PUT -d 'the body' "$A/redirect?code=303&to=$B/after303put"
[ $rc -eq 0 ] && req "$PL" /after303put 'r["method"] == "GET" and r["body"] == ""'
check $? "redirect: a 303 after a PUT becomes a GET without the body" "$(why) $(reqlog "$PL" /after303put)"
fetch --max-redirs 2 -X HEAD "$A/redirect?code=303&to=$B/after303head"
[ $rc -eq 0 ] && req "$PL" /after303head 'r["method"] == "HEAD"'
check $? "redirect: a 303 after a HEAD stays a HEAD" "$(why) $(reqlog "$PL" /after303head)"
for code in 301 302; do
  fetch --max-redirs 2 -d 'the body' "$A/redirect?code=$code&to=$B/after$code"
  [ $rc -eq 0 ] && req "$PL" /after$code 'r["method"] == "GET" and r["body"] == "" and "content-length" not in r["h"]'
  check $? "redirect: a $code after a POST becomes a GET without the body" "$(why) $(reqlog "$PL" /after$code)"
done
fetch --max-redirs 2 -X PUT -d 'the body' "$A/redirect?code=301&to=$B/after301put"
[ $rc -eq 0 ] && req "$PL" /after301put 'r["method"] == "PUT" and r["body"] == "the body"'
check $? "redirect: a 301 after a PUT keeps the method and the body" "$(why) $(reqlog "$PL" /after301put)"
for code in 307 308; do
  fetch --max-redirs 2 -d 'the body' "$A/redirect?code=$code&to=$B/after$code"
  [ $rc -eq 0 ] && req "$PL" /after$code 'r["method"] == "POST" and r["body"] == "the body"'
  check $? "redirect: a $code keeps POST and the body" "$(why) $(reqlog "$PL" /after$code)"
done
head -c 20000 /dev/urandom | base64 -w 0 >"$TMP/stream.txt"
fetch --max-redirs 2 --data-file "$TMP/stream.txt" "$A/redirect?code=307&to=$B/after307stream"
[ $rc -eq 65 ] && one_line 'streamed body .*cannot be sent twice' && ! req "$PL" /after307stream 'True' && [ ! -s "$TMP/out" ]
check $? "redirect: a 307 that would need a streamed --data-file again fails (exit 65, one line), nothing goes to the new origin" \
  "$(why) $(reqlog "$PL" /after307stream)"
fetch --max-redirs 2 --data-file "$TMP/stream.txt" "$A/redirect?code=303&to=$B/after303stream"
[ $rc -eq 0 ] && req "$PL" /after303stream 'r["method"] == "GET" and r["body"] == "" and "transfer-encoding" not in r["h"]' &&
  req "$PL" "/redirect?code=303&to=$B/after303stream" "len(r[\"body\"]) == $(wc -c <"$TMP/stream.txt")"
check $? "redirect: a 303 after a streamed POST: the first server got the whole stream, the next a GET without a body" \
  "$(why) $(reqlog "$PL" /after303stream)"

# redirects: credentials stay with their origin
fetch --max-redirs 2 "${CREDS[@]}" -d x "$A/redirect?code=307&to=$B/otherport"
[ $rc -eq 0 ] && req "$PL" /otherport '"authorization" not in r["h"] and "cookie" not in r["h"] and "proxy-authorization" not in r["h"] and r["h"].get("x-other") == "kept" and r["body"] == "x"'
check $? "redirect to another port: Authorization, Cookie and Proxy-Authorization are dropped, other headers and the body kept" \
  "$(why) $(reqlog "$PL" /otherport)"
fetch --max-redirs 2 "${CREDS[@]}" "$A/redirect?code=302&to=http://localhost:$P_PA/otherhost"
[ $rc -eq 0 ] && req "$PL" /otherhost '"authorization" not in r["h"] and "cookie" not in r["h"] and "proxy-authorization" not in r["h"]'
check $? "redirect to another host on the same port (127.0.0.1 to localhost): the credentials are dropped" "$(why) $(reqlog "$PL" /otherhost)"
fetch --max-redirs 2 "${CREDS[@]}" "http://localhost:$P_PA/redirect?code=302&to=http://LocalHost:$P_PA/samehost"
[ $rc -eq 0 ] && req "$PL" /samehost 'r["h"].get("authorization") == "Basic c2VjcmV0" and r["h"].get("cookie") == "session=s3cret"'
check $? "redirect to the same origin (the host's case differs): the credentials are kept" "$(why) $(reqlog "$PL" /samehost)"
fetch --max-redirs 2 "${CREDS[@]}" "$A/redirect?code=302&to=/relative"
[ $rc -eq 0 ] && req "$PL" /relative 'r["h"].get("authorization") == "Basic c2VjcmV0" and r["h"].get("proxy-authorization") == "Basic cHJveHk="'
check $? "redirect to a path on the same server: the credentials are kept" "$(why) $(reqlog "$PL" /relative)"
fetch --max-redirs 3 "${CREDS[@]}" "$A/redirect?code=302&to=$B/redirect%3Fcode%3D302%26to%3D$A/back"
[ $rc -eq 0 ] && req "$PL" "/redirect?code=302&to=$A/back" '"authorization" not in r["h"]' &&
  req "$PL" /back 'r["h"].get("authorization") == "Basic c2VjcmV0"'
check $? "redirect away and back: the other origin never sees the credentials, the first origin gets them again (as curl)" \
  "$(why) $(reqlog "$PL" /back)"
fetch --max-redirs 2 --location-trusted "${CREDS[@]}" "$A/redirect?code=302&to=$B/trusted"
[ $rc -eq 0 ] && req "$PL" /trusted 'r["h"].get("authorization") == "Basic c2VjcmV0" and r["h"].get("cookie") == "session=s3cret"'
check $? "--location-trusted (redirect_keep_credentials): the credentials go to the other origin too" "$(why) $(reqlog "$PL" /trusted)"
fetch --max-redirs 2 "${CA[@]}" "${CREDS[@]}" "https://localhost:$P_TA/redirect?code=302&to=https://localhost:$P_TB/tlsother"
[ $rc -eq 0 ] && req "$PL" /tlsother '"authorization" not in r["h"] and "cookie" not in r["h"]'
check $? "https redirect to another https origin: the credentials are dropped" "$(why) $(reqlog "$PL" /tlsother)"

# redirects: the TLS identity and the pin are for the first server only
PIN=$(openssl x509 -in "$CERTS/server.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
fetch --max-redirs 2 --pin-sha256 "$PIN" "https://localhost:$P_TA/redirect?code=302&to=https://localhost:$P_TB/pinother"
[ $rc -eq 60 ] && one_line 'another origin.*pin' && ! req "$PL" /pinother 'True'
check $? "a pinned request redirected to another origin: refused (exit 60, one line), the other origin is not asked" "$(why)"
fetch --max-redirs 2 --pin-sha256 "$PIN" "https://localhost:$P_TA/redirect?code=302&to=/pinsame"
[ $rc -eq 0 ] && req "$PL" /pinsame 'True'
check $? "a pinned request redirected on the same origin: followed" "$(why)"
fetch --max-redirs 2 "${CA[@]}" --cert "$CERTS/client.pem" --key "$CERTS/client.key" \
  "https://localhost:$P_TA/redirect?code=307&to=https://localhost:$P_TB/certother"
[ $rc -eq 60 ] && one_line 'another origin.*client certificate' && ! req "$PL" /certother 'True'
check $? "a request with a client certificate redirected to another origin: refused (exit 60), the certificate is not shown there" "$(why)"

# transfer codings: only chunked is decoded, whatever the number of fields
fetch "$A/te/two"
[ $rc -eq 8 ] && one_line 'transfer coding \(gzip\)' && [ ! -s "$TMP/out" ]
check $? "Transfer-Encoding: gzip and Transfer-Encoding: chunked in two fields: refused (exit 8), no gzip bytes handed over as the body" \
  "$(why) $(head -c 20 "$TMP/out" | od -c | head -n 1)"
fetch "$A/te/list"
[ $rc -eq 8 ] && one_line 'transfer coding \(gzip\)' && [ ! -s "$TMP/out" ]
check $? "Transfer-Encoding: gzip, chunked in one field: refused (exit 8)" "$(why)"
fetch "$A/te/twice"
[ $rc -eq 8 ] && one_line 'after chunked' && [ ! -s "$TMP/out" ]
check $? "chunked in two Transfer-Encoding fields (chunked applied twice): refused (exit 8)" "$(why)"
fetch "$A/te/chunked"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = plain ]
check $? "one Transfer-Encoding: chunked field from the same peer: decoded" "$(why)"

for x in lf cr; do
  fetch "$A/bare-$x"
  [ $rc -eq 8 ] && one_line "bare CR or LF" && [ ! -s "$TMP/out" ]
  check $? "a response head with a bare ${x^^} inside a header line (a second reading of the lines): refused (exit 8)" "$(why)"
done

# conns LOG TARGET: the connection numbers of the requests to TARGET, e.g. "3 3" (one connection, kept)
conns() { $PY -c 'import json, sys
print(" ".join(str(r["conn"]) for r in map(json.loads, open(sys.argv[1])) if r.get("target") == sys.argv[2]))' "$1" "$2"; }
fetch --repeat 2 "$A/keep"
c=$(conns "$PL" /keep)
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'kept\nkept')" ] && [ "${c% *}" = "${c#* }" ]
check $? "http_peer keeps a connection: two requests on it (connections $c)" "$(why)"
fetch --repeat 2 "$A/keep-te-cl"
c=$(conns "$PL" /keep-te-cl)
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "$(printf 'kept\nkept')" ] && [ "$(echo $c | wc -w)" -eq 2 ] && [ "${c% *}" != "${c#* }" ]
check $? "a response with Content-Length and Transfer-Encoding: chunked is decoded, and its connection not used again (connections $c)" "$(why)"

# IP literals: no SNI (RFC 6066 3), an iPAddress SAN and nothing else verifies them
fetch "${CA[@]}" "https://127.0.0.1:$P_TA/sni4"
[ $rc -eq 0 ] && req "$PL" /sni4 'r["sni"] is None'
check $? "https://127.0.0.1: no SNI is sent for an IPv4 literal, and the IP SAN verifies" "$(why) $(reqlog "$PL" /sni4)"
if grep -q ready "$TMP/peer$P_T6.log"; then
  fetch "${CA[@]}" "https://[::1]:$P_T6/sni6"
  [ $rc -eq 0 ] && req "$PL" /sni6 'r["sni"] is None'
  check $? "https://[::1]: no SNI is sent for an IPv6 literal, and the IP SAN verifies" "$(why) $(reqlog "$PL" /sni6)"
  fetch "${CA[@]}" --tls-name localhost "https://[::1]:$P_T6/sni6named"
  [ $rc -eq 0 ] && req "$PL" /sni6named 'r["sni"] == "localhost"'
  check $? "https://[::1] with --tls-name localhost: that name is the SNI" "$(why) $(reqlog "$PL" /sni6named)"
fi
fetch "${CA[@]}" "https://localhost:$P_TA/snidns"
[ $rc -eq 0 ] && req "$PL" /snidns 'r["sni"] == "localhost"'
check $? "https://localhost: the host name is the SNI" "$(why) $(reqlog "$PL" /snidns)"
fetch "${CA[@]}" "https://127.0.0.1:$P_HTTPS/api/hello/ip"
[ $rc -eq 0 ] && [ "$(cat "$TMP/out")" = "hello, ip" ]
check $? "sn_demo at https://127.0.0.1 verifies against the dev certificate's IP:127.0.0.1 SAN" "$(why)"
fetch "${CA[@]}" "https://127.0.0.1:$P_CDNS/"
[ $rc -eq 60 ] && one_line 'CN|name' && [ ! -s "$TMP/out" ]
check $? "a certificate naming 127.0.0.1 only as a DNS name (and CN): refused for https://127.0.0.1 (exit 60)" "$(why)"
fetch "${CA[@]}" "https://127.0.0.1:$P_CCN/"
[ $rc -eq 60 ] && one_line 'CN|name' && [ ! -s "$TMP/out" ]
check $? "a certificate naming 127.0.0.1 only in its CN (no SAN): refused for https://127.0.0.1 (exit 60)" "$(why)"
fetch "${CA[@]}" "https://127.0.0.1:$P_CIP2/"
[ $rc -eq 60 ] && one_line 'CN|name' && [ ! -s "$TMP/out" ]
check $? "a certificate with the IP SAN 127.0.0.2: refused for https://127.0.0.1 (exit 60)" "$(why)"
fetch --pin-sha256 "$(openssl pkey -in "$TMP/ipdns.key" -pubout -outform der | openssl dgst -sha256 -binary | base64)" "https://127.0.0.1:$P_CDNS/"
[ $rc -eq 60 ] && one_line 'CN|name'
check $? "a matching pin does not excuse an IP literal the certificate names only as DNS (exit 60)" "$(why)"
fetch "${CA[@]}" "https://localhost:$P_CDNS/dnsok"
[ $rc -eq 0 ] && req "$PL" /dnsok 'r["sni"] == "localhost"'
check $? "that certificate's DNS name (localhost) still verifies: the negative checks fail for the IP, not the chain" "$(why)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
