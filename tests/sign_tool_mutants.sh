#!/usr/bin/env bash
# tests/sign_tool_mutants.sh - shows that tests/sign_tool.sh catches a wrong
# tools/sn-sign: each mutant is the tool with one check or conversion broken
# (a sed expression), and the suite must report at least one "not ok" against
# it. Prints "ok - caught: ..." / "not ok - missed: ...". Not part of make test
# (about 15 s per mutant).
#   tests/sign_tool_mutants.sh [NAME...]
set -u
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/sn-sign-mutants.XXXXXX")
trap 'rm -rf "$T"' EXIT
mutants=(
  "magic|s/\] || refuse \"wrong magic/] || true \"wrong magic/"
  "format-version|s/-eq 1 \] || refuse \"format version/-ge 0 ] || refuse \"format version/"
  "header-length|s/-eq \$HEAD \] || refuse \"header length/-ge 0 ] || refuse \"header length/"
  "flags|s/|| refuse \"flags are not 0\"/|| true/"
  "reserved|s/|| refuse \"the reserved bytes/|| true \"the reserved bytes/"
  "nul-padding|s/|| refuse \"the version text is not NUL-padded/|| true \"/"
  "printable|s/|| refuse \"the version text has a byte/|| true \"/"
  "empty-version|s/|| refuse \"the version text is empty\"/|| true/"
  "longer|s/elif \[ \"\$size\" -gt/elif false \&\& [ \"\$size\" -gt/"
  "shorter|s/if \[ \"\$size\" -lt \$((n + HEAD + SIG))/if false \&\& [ \"\$size\" -lt \$((n + HEAD + SIG))/"
  "no-signature-check|s/if openssl dgst -sha256 -verify \"\$pub\"/if true || openssl dgst -sha256 -verify \"\$pub\"/"
  "der-no-pad|s/case \${r:0:1} in \[89a-f\]) r=00\$r ;; esac/:/"
  "der-keep-zeros|s/while \[ \${#r} -gt 2 \] \&\& \[ \"\${r:0:2}\" = 00 \]; do r=\${r:2}; done/:/"
  "raw-no-leftpad|s/while \[ \${#l} -lt 64 \]; do l=00\$l; done/:/"
  "sign-version-text|s/version_ok \"\$ver\" || die/version_ok x || die/"
  "sign-any-curve|s/is_p256 private \"\$key\" || die/true || die/"
  "keygen-overwrites|s/if \[ \"\$force\" -eq 0 \] \&\& \[ -e \"\$dir\/sign.key\" \]/if false/"
  "payload-limit|s/-le \"\$PAYLOAD_MAX\" \] || die/-ge 0 ] || die/"
  "hash-whole-file|s/head -c \$((HEAD + n)) \"\$img\" | tail/cat \"\$img\" | tail/"
)
want=("$@")
for m in "${mutants[@]}"; do
  name=${m%%|*} expr=${m#*|}
  if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then continue; fi
  sed "$expr" tools/sn-sign >"$T/sn-sign"; chmod +x "$T/sn-sign"
  if cmp -s tools/sn-sign "$T/sn-sign"; then echo "not ok - mutant $name: the sed expression changed nothing"; continue; fi
  SN_SIGN=$T/sn-sign SIGN_ROUNDS=20 tests/sign_tool.sh >"$T/log" 2>&1
  caught=$(grep -c '^not ok' "$T/log")
  if [ "$caught" -gt 0 ]; then echo "ok - caught: $name ($caught failures, e.g. $(grep -m1 '^not ok' "$T/log" | cut -c1-120))"
  else echo "not ok - missed: $name"; fi
done
