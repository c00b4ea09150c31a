#!/usr/bin/env bash
# tests/passwd_tool_mutants.sh - shows that tests/passwd_tool.sh catches a wrong
# tools/sn-passwd: each mutant is the tool with one rule or step broken (a sed
# expression), and the suite must report at least one "not ok" against it.
# Prints "ok - caught: ..." / "not ok - missed: ...". Not part of make test
# (about 20 s per mutant, PASSWD_QUICK=1).
#   tests/passwd_tool_mutants.sh [NAME...]
set -u
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/sn-passwd-mutants.XXXXXX")
trap 'rm -rf "$T"' EXIT
mutants=(
  "iterations-minus-1|s/pbkdf2_hmac(\"sha256\", pw, salt, iterations, HASH_LEN)/pbkdf2_hmac(\"sha256\", pw, salt, iterations - 1, HASH_LEN)/"
  "sha1|s/pbkdf2_hmac(\"sha256\"/pbkdf2_hmac(\"sha1\"/"
  "sha512|s/pbkdf2_hmac(\"sha256\"/pbkdf2_hmac(\"sha512\"/"
  "password-latin1|s/return hashlib.pbkdf2_hmac(\"sha256\", pw,/return hashlib.pbkdf2_hmac(\"sha256\", pw.decode(\"utf-8\").encode(\"latin-1\", \"replace\"),/"
  "zero-salt|s/salt = os.urandom(SALT_LEN)/salt = bytes(SALT_LEN)/"
  "salt-from-name|s/salt = os.urandom(SALT_LEN)/salt = hashlib.sha256(name).digest()[:SALT_LEN]/"
  "salt-15-bytes|s/^SALT_LEN = 16/SALT_LEN = 15/"
  "hash-31-bytes|s/^HASH_LEN = 32/HASH_LEN = 31/"
  "uppercase-hex|s/salt.hex().encode()/salt.hex().upper().encode()/"
  "default-iterations|s/^ITER_DEFAULT = 6000/ITER_DEFAULT = 1000/"
  "iterations-min-999|s/^ITER_MIN = 1000/ITER_MIN = 999/"
  "iterations-max-plus-1|s/^ITER_MAX = 10000000/ITER_MAX = 10000001/"
  "iterations-max-minus-1|s/^ITER_MAX = 10000000/ITER_MAX = 9999999/"
  "iterations-int-parse|s/if not DIGITS_RE.fullmatch(text):/if False:/"
  "default-role|s/else b\"admin\"/else b\"user\"/"
  "name-33|s/len(name) > NAME_MAX:/len(name) > NAME_MAX + 1:/"
  "name-del|s/b < 0x20 or b == 0x7f/b < 0x20/"
  "name-colon|s/if b\":\" in name:/if False:/"
  "name-hash|s/if name.startswith(b\"#\"):/if False:/"
  "name-utf8|s/name.decode(\"utf-8\", \"strict\")/name.decode(\"latin-1\")/"
  "role-any|s/\[A-Za-z0-9_.-\]{1,%d}/[^:]{1,%d}/"
  "password-129|s/len(pw) > PASSWORD_MAX:/len(pw) > PASSWORD_MAX + 1:/"
  "password-empty|s/^    if not pw:$/    if False:/"
  "password-utf8|s/pw.decode(\"utf-8\", \"strict\")/pw.decode(\"latin-1\")/"
  "env-ignored|s/if arg == b\"-\":/if False:/"
  "check-always|s/if hmac.compare_digest(derive(pw, salt, it), h):/if True:/"
  "check-scheme|s/if scheme != SCHEME:/if False:/"
  "exit-1|s/sys.exit(2)/sys.exit(1)/"
  "header-hex-escapes|s/\"\\\\\\\\%03o\" % c/\"\\\\\\\\x%02x\" % c/"
  "header-no-question-escape|s/(0x22, 0x5c, 0x3f)/(0x22, 0x5c)/"
  "header-duplicates|s/if u\[0\] in seen:/if False:/"
)
want=("$@")
for m in "${mutants[@]}"; do
  name=${m%%|*} expr=${m#*|}
  if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then continue; fi
  sed "$expr" tools/sn-passwd >"$T/sn-passwd"; chmod +x "$T/sn-passwd"
  if cmp -s tools/sn-passwd "$T/sn-passwd"; then echo "not ok - mutant $name: the sed expression changed nothing"; continue; fi
  SN_PASSWD=$T/sn-passwd PASSWD_QUICK=1 tests/passwd_tool.sh >"$T/log" 2>&1
  caught=$(grep -ac '^not ok' "$T/log")
  if [ "$caught" -gt 0 ]; then echo "ok - caught: $name ($caught failures, e.g. $(grep -a -m1 '^not ok' "$T/log" | cut -c1-150))"
  else echo "not ok - missed: $name"; fi
done
