#!/usr/bin/env bash
# tests/sign_tool.sh - tools/sn-sign: keys, signed images (format v1,
# securenet.h "signed firmware updates") and their verification, checked
# against openssl and coreutils by routes of their own: the header read back
# with od, the payload's hash by sha256sum, the raw r||s turned into DER by
# `openssl asn1parse -genconf` and checked by `openssl pkeyutl -verify` on the
# SHA-256 of M, and headers that break one rule each signed correctly here
# (openssl dgst -sign, DER taken apart with od) so that verify must refuse
# them for that rule and not for their signature.
#
#   tests/sign_tool.sh                 prints "ok - ..." / "not ok - ..." lines
#   SN_SIGN=/tmp/bad-sn-sign tests/sign_tool.sh   the same checks against another tool
#   SIGN_ROUNDS=1000 tests/sign_tool.sh           more signatures in the r||s round (200)
#
# Needs openssl, coreutils, and for sign_pub.h a C compiler (cc; mbedTLS's
# headers and libraries, MBED_CFLAGS/MBED_LIBS or the system's, to parse the
# key: skipped without). About 30 s.
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
SIGN=${SN_SIGN:-tools/sn-sign}
case $SIGN in /*) ;; *) SIGN=$PWD/$SIGN ;; esac
rounds=${SIGN_ROUNDS:-200}
T=$(mktemp -d "${TMPDIR:-/tmp}/sn-sign-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
real_openssl=$(command -v openssl) || { echo "not ok - openssl is not installed"; exit 1; }

pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; }
# expect DESC RC CMD...: CMD exits with RC
expect() {
  local desc=$1 want=$2 rc; shift 2
  "$@" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$desc"; else fail "$desc: exit $rc, not $want ($(head -c 300 "$T/err"))"; fi
}

# ---- independent helpers (nothing of tools/sn-sign) ------------------------------
size() { stat -c %s "$1"; }
ubytes() { od -An -v -tu1 -j"$2" -N"$3" "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; } # FILE OFF COUNT
u16() { local b; read -r -a b <<<"$(ubytes "$1" "$2" 2)"; echo $((b[0] * 256 + b[1])); }
u32() { local b; read -r -a b <<<"$(ubytes "$1" "$2" 4)"; echo $(((b[0] << 24) + (b[1] << 16) + (b[2] << 8) + b[3])); }
hexof() { od -An -v -tx1 "$@" | tr -d ' \n'; }
bin() { local h=$1 o='' i; for ((i = 0; i < ${#h}; i += 2)); do o+=$(printf '\\%03o' $((16#${h:i:2}))); done; printf "$o"; }
# put FILE OFF HEX: overwrite bytes in place
put() { bin "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
flip() { local b; b=$(ubytes "$1" "$2" 1); put "$1" "$2" "$(printf %02x $((b ^ 1)))"; } # FILE OFF: low bit

# M of an image: its first 64 bytes and the SHA-256 (sha256sum) of its payload (length from the header)
msg_of() { # IMG OUT
  local n; n=$(u32 "$1" 8)
  head -c 64 "$1" >"$2"
  bin "$(tail -c +65 "$1" | head -c "$n" | sha256sum | cut -c1-64)" >>"$2"
}
# raw r||s (64 bytes at the end of IMG) to DER through openssl's ASN.1 generator
gen_der() { # IMG OUT
  local h; h=$(tail -c 64 "$1" | hexof)
  printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${h:0:64}" "${h:64:64}" >"$T/gen.cnf"
  "$real_openssl" asn1parse -genconf "$T/gen.cnf" -out "$2" -noout >/dev/null 2>&1
}
# second method: pkeyutl on SHA-256(M) with the genconf DER
indep_verify() { # IMG PUB
  local n; n=$(u32 "$1" 8)
  [ "$(size "$1")" -eq $((n + 128)) ] || return 1
  msg_of "$1" "$T/im.m" && gen_der "$1" "$T/im.der" || return 1
  bin "$(sha256sum <"$T/im.m" | cut -c1-64)" >"$T/im.h"
  "$real_openssl" pkeyutl -verify -pubin -inkey "$2" -in "$T/im.h" -sigfile "$T/im.der" >/dev/null 2>&1
}
# an ECDSA-Sig-Value in DER to r||s, by reading its bytes (od)
der_raw_od() { # DER -> raw bytes on stdout
  local b i j l off=2 out='' v
  read -r -a b <<<"$(od -An -v -tu1 "$1" | tr '\n' ' ')"
  [ "${b[0]}" -eq 48 ] && [ "${b[1]}" -eq $((${#b[@]} - 2)) ] || return 1
  for i in 1 2; do
    [ "${b[off]}" -eq 2 ] || return 1
    l=${b[off + 1]} v=''
    for ((j = 0; j < l; j++)); do v+=$(printf %02x "${b[off + 2 + j]}"); done
    [ ${#v} -eq 66 ] && v=${v:2}
    while [ ${#v} -lt 64 ]; do v=00$v; done
    out+=$v off=$((off + 2 + l))
  done
  bin "$out"
}
# an image with header HEAD (64 bytes, any content), PAYLOAD, signed correctly with KEY
resign() { # HEAD PAYLOAD KEY OUT
  cat "$1" >"$T/rs.m"
  bin "$(sha256sum <"$2" | cut -c1-64)" >>"$T/rs.m"
  "$real_openssl" dgst -sha256 -sign "$3" -out "$T/rs.der" "$T/rs.m" || return 1
  { cat "$1" "$2"; der_raw_od "$T/rs.der"; } >"$4"
}
# refused DESC IMG WORDS: verify exits 1 and says WORDS on stderr
refused() {
  local rc
  "$SIGN" verify --pub "$K/sign.pub.pem" "$2" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" -eq 1 ] && grep -qi -- "$3" "$T/err" && [ ! -s "$T/out" ]; then pass "verify refuses $1 ($(head -1 "$T/err" | sed 's/^[^:]*: [^:]*: //'))"
  else fail "verify refuses $1: exit $rc, stdout '$(head -c 200 "$T/out")', stderr '$(head -c 200 "$T/err")' (wanted 1 and '$3')"; fi
}

# ---- keygen ----------------------------------------------------------------------
K=$T/keys
expect "keygen makes a new key pair" 0 "$SIGN" keygen "$K"
if [ -f "$K/sign.key" ] && [ "$(stat -c %a "$K/sign.key")" = 600 ]; then pass "sign.key is mode 0600"
else fail "sign.key is mode 0600: $(stat -c %a "$K/sign.key" 2>&1)"; fi
if "$real_openssl" pkey -in "$K/sign.key" -noout -text_pub 2>/dev/null | grep -q '^ASN1 OID: prime256v1$'; then
  pass "sign.key is an ECDSA P-256 private key (named curve) that openssl reads"
else fail "sign.key is an ECDSA P-256 private key: $("$real_openssl" pkey -in "$K/sign.key" -noout -text_pub 2>&1 | head -3)"; fi
if head -1 "$K/sign.pub.pem" | grep -q '^-----BEGIN PUBLIC KEY-----$' &&
   cmp -s <("$real_openssl" pkey -in "$K/sign.key" -pubout 2>/dev/null) "$K/sign.pub.pem"; then
  pass "sign.pub.pem is the public half of sign.key"
else fail "sign.pub.pem is the public half of sign.key"; fi
if [ -z "$(find "$K" -mindepth 1 -name '.*')" ] && [ "$(find "$K" -mindepth 1 | wc -l)" -eq 3 ]; then
  pass "keygen leaves three files and no temporary ones"
else fail "keygen leaves three files: $(ls -A "$K" | tr '\n' ' ')"; fi

# sign_pub.h: the DER SubjectPublicKeyInfo, byte for byte, as a C array that compiles cleanly
"$real_openssl" pkey -in "$K/sign.key" -pubout -outform DER -out "$T/pub.der" 2>/dev/null
hexh=$(grep -o '0x[0-9a-f][0-9a-f]' "$K/sign_pub.h" | tr -d '\n' | sed 's/0x//g')
if grep -q '^static const unsigned char sn_sign_pub\[\] = {$' "$K/sign_pub.h" && [ "$hexh" = "$(hexof "$T/pub.der")" ] &&
   [ "${hexh:0:4}" = 3059 ] && grep -q 'SubjectPublicKeyInfo' "$K/sign_pub.h" && grep -q 'tools/sn-sign keygen' "$K/sign_pub.h"; then
  pass "sign_pub.h holds sn_sign_pub[], the 91-byte DER SubjectPublicKeyInfo, and says so and how it was made"
else fail "sign_pub.h holds the DER public key: $(head -c 400 "$K/sign_pub.h")"; fi
if command -v cc >/dev/null; then
  cat >"$T/pubh.c" <<'EOF'
#include <stdio.h>
#include "sign_pub.h"
#include "sign_pub.h" /* include guard */
#ifdef SN_TRY_MBEDTLS
#include <mbedtls/pk.h>
#include <mbedtls/ecp.h>
#endif
int main(void) {
#ifdef SN_TRY_MBEDTLS
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  if (mbedtls_pk_parse_public_key(&pk, sn_sign_pub, sizeof sn_sign_pub) != 0) return 3;
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return 4;
  if (mbedtls_pk_get_bitlen(&pk) != 256) return 5;
  mbedtls_pk_free(&pk);
#endif
  fwrite(sn_sign_pub, 1, sizeof sn_sign_pub, stdout);
  return 0;
}
EOF
  ccok=1
  for c in cc clang; do
    command -v "$c" >/dev/null || continue
    "$c" -std=c99 -Wall -Wextra -Werror -pedantic -I"$K" "$T/pubh.c" -o "$T/pubh" 2>"$T/err" && "$T/pubh" >"$T/pubh.der" &&
      cmp -s "$T/pubh.der" "$T/pub.der" || { ccok=0; fail "sign_pub.h compiles warning-free with $c (C99, -pedantic) and holds the key: $(head -c 300 "$T/err")"; }
  done
  [ $ccok -eq 0 ] || pass "sign_pub.h compiles warning-free (C99, -Wall -Wextra -pedantic, gcc and clang), included twice, and sizeof is the DER's length"
  # mbedTLS parses it as securenet's verifier will (mbedtls_pk_parse_public_key)
  mlibs=${MBED_LIBS:--lmbedtls -lmbedx509 -lmbedcrypto}
  # shellcheck disable=SC2086
  if cc -std=c99 -DSN_TRY_MBEDTLS ${MBED_CFLAGS:-} -I"$K" "$T/pubh.c" -o "$T/pubh_m" $mlibs -lpthread 2>/dev/null; then
    if "$T/pubh_m" >/dev/null; then pass "mbedTLS parses sn_sign_pub as a 256-bit EC public key"
    else fail "mbedTLS parses sn_sign_pub as a 256-bit EC public key: exit $?"; fi
  else echo "# skip: mbedTLS not linkable here (MBED_CFLAGS/MBED_LIBS): sn_sign_pub not parsed by mbedTLS"; fi
else echo "# skip: no C compiler: sign_pub.h not compiled"; fi

cp "$K/sign.key" "$T/key.before"
expect "keygen refuses to replace an existing sign.key" 1 "$SIGN" keygen "$K"
if cmp -s "$K/sign.key" "$T/key.before" && grep -qi exists "$T/err"; then pass "the refused keygen left sign.key as it was and said why"
else fail "the refused keygen left sign.key as it was: $(cat "$T/err")"; fi
K2=$T/keys2
cp -r "$K" "$K2"
expect "keygen --force replaces it" 0 "$SIGN" keygen --force "$K2"
if ! cmp -s "$K2/sign.key" "$K/sign.key" && ! cmp -s "$K2/sign.pub.pem" "$K/sign.pub.pem"; then pass "the forced keygen made a different key pair"
else fail "the forced keygen made a different key pair"; fi

# ---- sign, and the layout read back ------------------------------------------------
head -c 0 /dev/urandom >"$T/p0"
head -c 1 /dev/urandom >"$T/p1"
head -c 1000 /dev/urandom >"$T/p1000"
head -c 1048576 /dev/urandom >"$T/p1M"
layout_ok() { # IMG PAYLOAD VERSION -> "" or what is wrong
  local img=$1 n v vh pad
  n=$(size "$2")
  [ "$(size "$img")" -eq $((n + 128)) ] || { echo "size $(size "$img"), not $((n + 128))"; return; }
  [ "$(ubytes "$img" 0 4)" = "83 78 70 87" ] || { echo "magic $(ubytes "$img" 0 4)"; return; }
  [ "$(u16 "$img" 4)" -eq 1 ] || { echo "format version $(u16 "$img" 4)"; return; }
  [ "$(u16 "$img" 6)" -eq 64 ] || { echo "header length $(u16 "$img" 6)"; return; }
  [ "$(u32 "$img" 8)" -eq "$n" ] || { echo "payload length $(u32 "$img" 8), not $n"; return; }
  [ "$(u32 "$img" 12)" -eq 0 ] || { echo "flags $(u32 "$img" 12)"; return; }
  v=$(printf %s "$3" | hexof)
  pad=''; while [ $((${#v} + ${#pad})) -lt 64 ]; do pad+=0; done
  vh=$(hexof -j16 -N32 "$img")
  [ "$vh" = "$v$pad" ] || { echo "version text $vh, not $v$pad"; return; }
  [ "$(hexof -j48 -N16 "$img")" = "00000000000000000000000000000000" ] || { echo "reserved not zero"; return; }
  cmp -s <(tail -c +65 "$img" | head -c "$n") "$2" || { echo "payload differs"; return; }
}
for p in 0 1 1000 1M; do
  ver="1.2.$p-rc1 (build #$p)"
  expect "sign: a $p-byte payload" 0 "$SIGN" sign --key "$K/sign.key" --version "$ver" "$T/p$p" "$T/i$p.img"
  why=$(layout_ok "$T/i$p.img" "$T/p$p" "$ver")
  if [ -z "$why" ]; then pass "image of the $p-byte payload: header fields, version text NUL-padded, reserved zero, payload at 64, N + 128 bytes"
  else fail "image of the $p-byte payload has the format v1 layout: $why"; fi
  n=$(size "$T/p$p")
  "$SIGN" verify --pub "$K/sign.pub.pem" "$T/i$p.img" >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc -eq 0 ] && [ "$(cat "$T/out")" = "ok: version $ver, payload $n bytes" ]; then pass "verify accepts it: $(cat "$T/out")"
  else fail "verify accepts the $p-byte image: exit $rc, '$(cat "$T/out")' '$(head -c 200 "$T/err")'"; fi
  if indep_verify "$T/i$p.img" "$K/sign.pub.pem"; then pass "its signature checks by the second route (asn1parse -genconf DER, pkeyutl -verify on SHA-256(M))"
  else fail "the $p-byte image's signature checks by the second route"; fi
done
cp "$T/i1000.img" "$T/bad.img"; flip "$T/bad.img" 1100
if ! indep_verify "$T/bad.img" "$K/sign.pub.pem"; then pass "the second route refuses a flipped signature byte (it is no rubber stamp)"
else fail "the second route refuses a flipped signature byte"; fi
dotfiles() { find "$T" -maxdepth 1 -name '.*' ! -name . -printf '%f '; }
if [ -z "$(dotfiles)" ]; then pass "sign leaves no temporary file beside its output"
else fail "sign leaves no temporary file beside its output: $(dotfiles)"; fi
if [ "$(stat -c %a "$T/i1000.img")" = "$(printf %o $((0666 & ~0$(umask))))" ]; then pass "the image has the umask's mode, not the temporary file's 0600"
else fail "the image has the umask's mode: $(stat -c %a "$T/i1000.img")"; fi

# 64 MiB: streamed, not in shell variables (a few seconds at most even on a slow machine)
head -c 67108864 /dev/zero >"$T/p64M"
t0=$(date +%s%N)
"$SIGN" sign --key "$K/sign.key" --version big "$T/p64M" "$T/i64M.img" >/dev/null 2>"$T/err" &&
  "$SIGN" verify --pub "$K/sign.pub.pem" "$T/i64M.img" >/dev/null 2>>"$T/err"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ $rc -eq 0 ] && [ "$(size "$T/i64M.img")" -eq $((67108864 + 128)) ] && [ $ms -lt 20000 ]; then pass "a 64 MiB payload signs and verifies in $ms ms"
else fail "a 64 MiB payload signs and verifies within 20 s: exit $rc, $ms ms, $(head -c 200 "$T/err")"; fi
rm -f "$T/p64M" "$T/i64M.img"

# ---- sign refuses ------------------------------------------------------------------
echo keep >"$T/keep.img"; cp "$T/keep.img" "$T/keep.orig"
for v in "" "$(printf 'x%.0s' {1..33})" $'tab\there' $'nl\n' $'two\nlines' $'del\177' $'caf\303\251' $'esc\033[0m'; do
  expect "sign refuses the version text $(printf %q "$v") (${#v} bytes)" 1 "$SIGN" sign --key "$K/sign.key" --version "$v" "$T/p1" "$T/keep.img"
done
expect "sign takes a version text of exactly 32 printable bytes" 0 "$SIGN" sign --key "$K/sign.key" --version "$(printf '~%.0s' {1..31}) " "$T/p1" "$T/v32.img"
expect "... and verify accepts it" 0 "$SIGN" verify --pub "$K/sign.pub.pem" "$T/v32.img"
expect "sign takes a version text of one space (0x20 is printable)" 0 "$SIGN" sign --key "$K/sign.key" --version " " "$T/p1" "$T/v1.img"
expect "... and verify accepts it" 0 "$SIGN" verify --pub "$K/sign.pub.pem" "$T/v1.img"
"$real_openssl" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null
"$real_openssl" ecparam -name secp384r1 -genkey -noout -out "$T/p384.key" 2>/dev/null
"$real_openssl" ecparam -name secp256k1 -genkey -noout -out "$T/k256.key" 2>/dev/null
"$real_openssl" genpkey -algorithm ED25519 -out "$T/ed.key" 2>/dev/null
for k in rsa p384 k256 ed; do
  expect "sign refuses a $k key" 1 "$SIGN" sign --key "$T/$k.key" --version x "$T/p1" "$T/keep.img"
done
expect "sign refuses a public key as the signing key" 1 "$SIGN" sign --key "$K/sign.pub.pem" --version x "$T/p1" "$T/keep.img"
expect "sign refuses a missing payload file" 1 "$SIGN" sign --key "$K/sign.key" --version x "$T/nothing" "$T/keep.img"
truncate -s 4294967168 "$T/huge" # sparse: 4294967167 + 1 bytes, never read
expect "sign refuses a payload of 4294967168 bytes (the image's length would not fit in 32 bits)" 1 \
  timeout 20 "$SIGN" sign --key "$K/sign.key" --version x "$T/huge" "$T/keep.img"
rm -f "$T/huge"
"$real_openssl" ec -in "$K/sign.key" -aes128 -passout pass:sesame -out "$T/enc.key" 2>/dev/null
expect "sign refuses an encrypted key without SN_SIGN_PASS, without a prompt" 1 \
  timeout 20 "$SIGN" sign --key "$T/enc.key" --version x "$T/p1" "$T/keep.img" </dev/null
expect "sign takes an encrypted key with SN_SIGN_PASS" 0 env SN_SIGN_PASS=sesame "$SIGN" sign --key "$T/enc.key" --version x "$T/p1" "$T/enc.img"
expect "... and that image verifies" 0 "$SIGN" verify --pub "$K/sign.pub.pem" "$T/enc.img"
if cmp -s "$T/keep.img" "$T/keep.orig" && [ -z "$(dotfiles)" ]; then pass "every refused sign left its output file as it was, and no temporary file"
else fail "every refused sign left its output file as it was: $(od -An -c -N16 "$T/keep.img") $(dotfiles)"; fi

# ---- usage ---------------------------------------------------------------------------
expect "--help exits 0" 0 "$SIGN" --help
if grep -q 'sn-sign sign --key KEY --version TEXT IN.bin OUT.img' "$T/out" && grep -q 'verify --pub' "$T/out"; then pass "--help shows the command lines"
else fail "--help shows the command lines: $(head -c 200 "$T/out")"; fi
expect "no command: usage error (2)" 2 "$SIGN"
expect "unknown command: usage error (2)" 2 "$SIGN" frobnicate
expect "sign without --key: usage error (2)" 2 "$SIGN" sign --version x "$T/p1" "$T/o.img"
expect "sign without --version: usage error (2)" 2 "$SIGN" sign --key "$K/sign.key" "$T/p1" "$T/o.img"
expect "sign with one file: usage error (2)" 2 "$SIGN" sign --key "$K/sign.key" --version x "$T/p1"
expect "verify with two images: usage error (2)" 2 "$SIGN" verify --pub "$K/sign.pub.pem" "$T/i1.img" "$T/i0.img"
expect "verify with an unknown option: usage error (2)" 2 "$SIGN" verify --pub "$K/sign.pub.pem" --lax "$T/i1.img"
expect "keygen without a directory: usage error (2)" 2 "$SIGN" keygen

# ---- verify refuses ------------------------------------------------------------------
good=$T/i1000.img P=$T/p1000
"$SIGN" sign --key "$K2/sign.key" --version 1.2.1000-rc1 "$P" "$T/other.img" >/dev/null 2>&1
refused "an image signed by another key" "$T/other.img" "bad signature"
expect "the other key's own public key accepts it" 0 "$SIGN" verify --pub "$K2/sign.pub.pem" "$T/other.img"
for off in 64 563 1063; do
  cp "$good" "$T/bad.img"; flip "$T/bad.img" $off
  refused "a flipped payload byte (offset $off)" "$T/bad.img" "bad signature"
done
cp "$good" "$T/bad.img"; put "$T/bad.img" 16 32   # '1' -> '2': still printable, so only the signature catches it
refused "a changed header byte (the version text)" "$T/bad.img" "bad signature"
cp "$good" "$T/bad.img"; flip "$T/bad.img" 11   # the payload length's last byte: 1000 -> 1001
refused "a flipped header byte (the payload length)" "$T/bad.img" "shorter"
for off in 1064 1095 1096 1127; do
  cp "$good" "$T/bad.img"; flip "$T/bad.img" $off
  refused "a flipped signature byte (offset $off, $([ $off -lt 1096 ] && echo r || echo s))" "$T/bad.img" "bad signature"
done
head -c $(($(size "$good") - 1)) "$good" >"$T/bad.img"
refused "an image truncated by 1 byte" "$T/bad.img" "shorter"
{ cat "$good"; printf '\000'; } >"$T/bad.img"
refused "an image with one byte appended" "$T/bad.img" "longer"
head -c 127 "$T/i0.img" >"$T/bad.img"
refused "127 bytes (less than a header and a signature)" "$T/bad.img" "shorter"
: >"$T/bad.img"
refused "an empty file" "$T/bad.img" "shorter"
refused "a file that is not there" "$T/nothing" "not a readable file"
cp "$T/p0" "$T/bad.img"; head -c 100 /dev/urandom >>"$T/bad.img"; cat "$T/p1000" >>"$T/bad.img"
refused "random bytes" "$T/bad.img" "magic"

# headers that break one rule each, correctly signed: the rule refuses them, not the signature
head -c 64 "$good" >"$T/head.good"
broken() { # DESC WORDS OFF HEX [OFF HEX]...
  local desc=$1 words=$2; shift 2
  cp "$T/head.good" "$T/head.bad"
  while [ $# -ge 2 ]; do put "$T/head.bad" "$1" "$2"; shift 2; done
  resign "$T/head.bad" "$P" "$K/sign.key" "$T/bad.img"
  if indep_verify "$T/bad.img" "$K/sign.pub.pem" || [[ $words =~ ^(shorter|longer|beyond)$ ]]; then
    refused "$desc, though correctly signed" "$T/bad.img" "$words"
  else fail "the test's own signature over '$desc' checks"; fi
}
resign "$T/head.good" "$P" "$K/sign.key" "$T/resigned.img"
expect "the test's own signing route makes an image verify accepts (so the cases below differ in one rule only)" 0 \
  "$SIGN" verify --pub "$K/sign.pub.pem" "$T/resigned.img"
broken "a wrong magic (SNFX)" "magic" 3 58
broken "a wrong magic (snfw)" "magic" 0 736e6677
broken "format version 2" "format version 2" 4 0002
broken "format version 0" "format version 0" 4 0000
broken "format version 257" "format version 257" 4 0101
broken "header length 63" "header length 63" 6 003f
broken "header length 128" "header length 128" 6 0080
broken "flags 1" "flags" 15 01
broken "flags 0x80000000" "flags" 12 80
broken "a non-zero reserved byte (the first)" "reserved" 48 01
broken "a non-zero reserved byte (the last)" "reserved" 63 80
broken "an empty version text" "empty" 16 "$(printf '00%.0s' {1..32})"
broken "a version text with a control byte" "printable" 18 01
broken "a version text with a byte over 0x7E" "printable" 17 c3a9
broken "a version text with DEL" "printable" 16 7f
broken "a version text with a byte after its NUL" "NUL-padded" 44 41
broken "a version text whose last of 32 bytes follows a NUL" "NUL-padded" 47 41
broken "a header that states one payload byte more" "shorter" 10 03e9
broken "a header that states one payload byte less" "longer" 10 03e7
broken "a header that states 4294967295 bytes" "beyond" 8 ffffffff
# 32 bytes of version text, no NUL at all: allowed
broken_ok() {
  cp "$T/head.good" "$T/head.bad"; put "$T/head.bad" 16 "$(printf '41%.0s' {1..32})"
  resign "$T/head.bad" "$P" "$K/sign.key" "$T/v32b.img"
  "$SIGN" verify --pub "$K/sign.pub.pem" "$T/v32b.img" >"$T/out" 2>"$T/err"
  if [ $? -eq 0 ] && grep -qx "ok: version $(printf 'A%.0s' {1..32}), payload 1000 bytes" "$T/out"; then pass "verify accepts a 32-byte version text with no NUL"
  else fail "verify accepts a 32-byte version text with no NUL: $(cat "$T/out" "$T/err")"; fi
}
broken_ok
"$real_openssl" pkey -in "$T/p384.key" -pubout -out "$T/p384.pub" 2>/dev/null
expect "verify refuses a P-384 public key" 1 "$SIGN" verify --pub "$T/p384.pub" "$good"
expect "verify refuses a missing public key" 1 "$SIGN" verify --pub "$T/nothing.pem" "$good"

# ---- the README's example for a build server in another language ---------------------
if /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
  sed -n '/^# sign_image.py /,/^```$/p' README.md | sed '$d' >"$T/sign_image.py"
  if [ "$(wc -l <"$T/sign_image.py")" -gt 10 ] &&
     /usr/bin/python3 "$T/sign_image.py" "$K/sign.key" "py 1.0" "$P" "$T/py.img" 2>"$T/err" &&
     "$SIGN" verify --pub "$K/sign.pub.pem" "$T/py.img" >"$T/out" 2>>"$T/err" && grep -qx 'ok: version py 1.0, payload 1000 bytes' "$T/out" &&
     indep_verify "$T/py.img" "$K/sign.pub.pem" && [ -z "$(layout_ok "$T/py.img" "$P" "py 1.0")" ]; then
    pass "the README's Python example (cryptography) makes an image sn-sign verify and the second route accept"
  else fail "the README's Python example makes a valid image: $(head -c 300 "$T/err")"; fi
  if /usr/bin/python3 "$T/sign_image.py" "$T/p384.key" "py" "$P" "$T/py2.img" 2>/dev/null; then
    fail "the README's Python example refuses a P-384 key"
  else pass "the README's Python example refuses a P-384 key"; fi
else echo "# skip: Python's cryptography package is not installed: the README's example not run"; fi

# ---- r||s: many signatures, and the rare shapes on purpose ----------------------------------
# Half of all r and s have the top bit set (DER needs a 0x00 in front); one in 256 starts with a
# zero byte (DER drops it). The round counts them; the cases below make sure of each.
hi=0 lz=0 bad=0
for ((i = 0; i < rounds; i++)); do
  head -c $((i % 17)) /dev/urandom >"$T/small"
  if ! "$SIGN" sign --key "$K/sign.key" --version "r$i" "$T/small" "$T/r.img" >/dev/null 2>"$T/err" ||
     ! "$SIGN" verify --pub "$K/sign.pub.pem" "$T/r.img" >/dev/null 2>>"$T/err"; then
    bad=$((bad + 1)); [ $bad -gt 3 ] || fail "signature $i signs and verifies: $(head -c 200 "$T/err")"
    continue
  fi
  n=$(size "$T/r.img")
  for off in $((n - 64)) $((n - 32)); do
    top=$(ubytes "$T/r.img" $off 1)
    [ "$top" -ge 128 ] && hi=$((hi + 1))
    [ "$top" -eq 0 ] && lz=$((lz + 1))
  done
  if [ $((i % 20)) -eq 0 ] && ! indep_verify "$T/r.img" "$K/sign.pub.pem"; then
    bad=$((bad + 1)); fail "signature $i checks by the second route"
  fi
done
if [ $bad -eq 0 ] && [ $hi -gt 0 ]; then
  pass "$rounds signatures of small payloads all sign and verify ($hi of $((2 * rounds)) integers with the top bit set, $lz with a leading zero byte; every 20th also checked by the second route)"
else fail "$rounds signatures all sign and verify: $bad failed, $hi with the top bit set"; fi

# The rare shapes on purpose: openssl signs M of a fixed image until r or s is short (a leading
# zero byte in r||s); sn-sign is then handed exactly that DER signature (an openssl on PATH that
# answers `dgst -sign` with it) and must put it into r||s correctly, and verify must take it back.
printf 'SNFW\000\001\000\100\000\000\003\350\000\000\000\000shape' >"$T/head.shape"
head -c 27 /dev/zero >>"$T/head.shape"; head -c 16 /dev/zero >>"$T/head.shape"
cat "$T/head.shape" >"$T/shape.m"; bin "$(sha256sum <"$P" | cut -c1-64)" >>"$T/shape.m"
short='' long='' tries=0 t_end=$(($(date +%s) + 120))
while { [ -z "$short" ] || [ -z "$long" ]; } && [ $tries -lt 4000 ] && [ "$(date +%s)" -lt $t_end ]; do
  tries=$((tries + 1))
  "$real_openssl" dgst -sha256 -sign "$K/sign.key" -out "$T/cand.der" "$T/shape.m" 2>/dev/null || break
  read -r -a d <<<"$(ubytes "$T/cand.der" 0 6)"
  lr=${d[3]}; ls_=$(ubytes "$T/cand.der" $((5 + lr)) 1)
  if [ -z "$short" ] && { [ "$lr" -lt 32 ] || [ "$ls_" -lt 32 ]; }; then short=$T/short.der; cp "$T/cand.der" "$short"; fi
  if [ -z "$long" ] && [ "$lr" -eq 33 ] && [ "$ls_" -eq 33 ]; then long=$T/long.der; cp "$T/cand.der" "$long"; fi
done
mkdir -p "$T/bin"
cat >"$T/bin/openssl" <<EOF
#!/usr/bin/env bash
# openssl, except that \`dgst ... -sign ... -out FILE\` writes \$SHAPE_DER to FILE
if [ -n "\${SHAPE_DER:-}" ] && [ "\$1" = dgst ] && [[ " \$* " == *" -sign "* ]]; then
  out=
  while [ \$# -gt 0 ]; do [ "\$1" = -out ] && out=\$2; shift; done
  [ -n "\$out" ] && cp "\$SHAPE_DER" "\$out" && exit 0
  exit 1
fi
exec "$real_openssl" "\$@"
EOF
chmod +x "$T/bin/openssl"
shape() { # DESC DER
  local want rc
  want=$(der_raw_od "$2" | hexof)
  SHAPE_DER=$2 PATH="$T/bin:$PATH" "$SIGN" sign --key "$K/sign.key" --version shape "$P" "$T/shape.img" >/dev/null 2>"$T/err"; rc=$?
  if [ $rc -eq 0 ] && [ "$(tail -c 64 "$T/shape.img" | hexof)" = "$want" ] && cmp -s <(head -c 64 "$T/shape.img") "$T/head.shape"; then
    pass "sign puts a DER signature with $1 into r||s right ($(hexof -N8 "$2")...)"
  else fail "sign puts a DER signature with $1 into r||s right: exit $rc, $(head -c 200 "$T/err")"; fi
  expect "verify takes back r||s with $1" 0 "$SIGN" verify --pub "$K/sign.pub.pem" "$T/shape.img"
  if indep_verify "$T/shape.img" "$K/sign.pub.pem"; then pass "... and so does the second route"
  else fail "r||s with $1 checks by the second route"; fi
}
if [ -n "$short" ]; then shape "an integer under 32 bytes (searched $tries signatures)" "$short"
else fail "openssl made a signature with an integer under 32 bytes within $tries tries"; fi
if [ -n "$long" ]; then shape "both integers 33 bytes (top bit set, 0x00 in front)" "$long"
else fail "openssl made a signature with both integers 33 bytes within $tries tries"; fi
