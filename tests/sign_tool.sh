#!/usr/bin/env bash
# tests/sign_tool.sh - tools/sn-sign: keys, the image layout (read back with od, not with the
# tool), round trips, 150 signatures (r and s of every shape), and every refusal of verify.
set -u
cd "$(dirname "$0")/.." || exit 1
S=tools/sn-sign
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; fail=$((fail + 1)); }
t() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name"; fi; }
tn() { local name=$1; shift; if "$@" >/dev/null 2>&1; then nok "$name"; else ok "$name"; fi; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

t "keygen writes the key pair and the C header" $S keygen "$d/k"
t "sign.key is mode 0600" test "$(stat -c %a "$d/k/sign.key")" = 600
t "sign_pub.h holds the DER public key" grep -q 'static const unsigned char sn_sign_pub\[\] = {' "$d/k/sign_pub.h"
der=$(openssl pkey -pubin -in "$d/k/sign.pub.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
arr=$(sed -n 's/.*\(0x[0-9a-f][0-9a-f]\).*/&/p' "$d/k/sign_pub.h" | grep -o '0x[0-9a-f][0-9a-f]' | tr -d '\n' | sed 's/0x//g')
t "the C array is the public key's DER" test "$der" = "$arr"
tn "keygen does not replace a key without --force" $S keygen "$d/k"
t "keygen --force replaces it" $S keygen --force "$d/k2"
$S keygen "$d/other" >/dev/null

for n in 0 1 1000 1048576; do
  head -c $n /dev/urandom >"$d/p.bin"
  t "sign a payload of $n bytes" $S sign --key "$d/k/sign.key" --version "1.0.$n" "$d/p.bin" "$d/p.img"
  t "verify it ($n bytes)" $S verify --pub "$d/k/sign.pub.pem" "$d/p.img"
  t "the image is the payload + 128 bytes ($n)" test "$(stat -c %s "$d/p.img")" -eq $((n + 128))
done
head -c 1000 /dev/urandom >"$d/p.bin"
$S sign --key "$d/k/sign.key" --version "rel 2.1" "$d/p.bin" "$d/g.img"
h=$(od -An -v -tx1 -N 64 "$d/g.img" | tr -d ' \n')
t "header: magic SNFW, version 1, length 64" test "${h:0:16}" = 534e465700010040
t "header: payload length 1000, flags 0" test "${h:16:16}" = 000003e800000000
t "header: version text NUL-padded" test "${h:32:64}" = "$(printf 'rel 2.1' | od -An -v -tx1 | tr -d ' \n')$(printf '%050d' 0)"
t "header: reserved zero" test "${h:96:32}" = "$(printf '%032d' 0)"
t "the payload follows the header unchanged" cmp <(head -c 1064 "$d/g.img" | tail -c +65) "$d/p.bin"
# the signature checked by a second route: r||s -> DER by openssl's own asn1 generator, pkeyutl on SHA-256(M)
sig=$(tail -c 64 "$d/g.img" | od -An -v -tx1 | tr -d ' \n')
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${sig:0:64}" "${sig:64}" >"$d/sig.cnf"
openssl asn1parse -genconf "$d/sig.cnf" -out "$d/sig.der" >/dev/null
{ head -c 64 "$d/g.img"; head -c 1000 "$d/p.bin" | openssl dgst -sha256 -binary; } | openssl dgst -sha256 -binary >"$d/hash"
t "the signature verifies with openssl pkeyutl over SHA-256(header || SHA-256(payload))" \
  openssl pkeyutl -verify -pubin -inkey "$d/k/sign.pub.pem" -in "$d/hash" -sigfile "$d/sig.der"

bad=0 high=0
for i in $(seq 1 150); do
  head -c $((i % 7)) /dev/urandom >"$d/x.bin"
  $S sign --key "$d/k/sign.key" --version "v$i" "$d/x.bin" "$d/x.img" && $S verify --pub "$d/k/sign.pub.pem" "$d/x.img" >/dev/null 2>&1 || bad=$((bad + 1))
  b=$(tail -c 64 "$d/x.img" | od -An -tu1 -N 1)
  [ "$b" -ge 128 ] && high=$((high + 1))
done
t "150 signatures all verify (r with the high bit set in $high of them)" test $bad -eq 0 -a $high -gt 0

flip() { # file offset-from-start -> copy with that byte's low bit flipped
  cp "$d/g.img" "$d/f.img"
  local b; b=$(od -An -tu1 -j "$1" -N 1 "$d/g.img" | tr -d ' ')
  printf "$(printf '\\%03o' $(((b ^ ${2:-1}) & 255)))" | dd of="$d/f.img" bs=1 seek="$1" conv=notrunc 2>/dev/null
}
$S sign --key "$d/other/sign.key" --version "rel 2.1" "$d/p.bin" "$d/o.img"
tn "verify refuses a valid signature by another key" $S verify --pub "$d/k/sign.pub.pem" "$d/o.img"
flip 500; tn "verify refuses a flipped payload byte" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 20; tn "verify refuses a flipped version byte" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 1100; tn "verify refuses a flipped signature byte" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 0; tn "verify refuses a wrong magic" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 5 3; tn "verify refuses format version 2" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 60; tn "verify refuses a nonzero reserved byte" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
head -c 1127 "$d/g.img" >"$d/f.img"; tn "verify refuses an image one byte short" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
{ cat "$d/g.img"; printf x; } >"$d/f.img"; tn "verify refuses one byte appended" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
flip 0 0; t "verify takes the untouched copy (the flips above are what failed)" $S verify --pub "$d/k/sign.pub.pem" "$d/f.img"
tn "sign refuses an empty version" $S sign --key "$d/k/sign.key" --version "" "$d/p.bin" "$d/z.img"
tn "sign refuses a 33-character version" $S sign --key "$d/k/sign.key" --version "$(printf '%033d' 1)" "$d/p.bin" "$d/z.img"
tn "sign refuses a control character in the version" $S sign --key "$d/k/sign.key" --version "$(printf 'a\tb')" "$d/p.bin" "$d/z.img"
t "sign takes a 32-character version" $S sign --key "$d/k/sign.key" --version "$(printf '%032d' 1)" "$d/p.bin" "$d/z.img"
openssl genpkey -algorithm ed25519 -out "$d/ed.key" 2>/dev/null
tn "sign refuses a key that is not P-256" $S sign --key "$d/ed.key" --version 1 "$d/p.bin" "$d/z.img"
$S verify >/dev/null 2>&1; t "a usage error exits 2" test $? -eq 2
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
