#!/usr/bin/env bash
# tests/ota/mutants.sh [MUTANT...]: shows that tests/ota.sh's negative checks fail
# against servers that do the wrong thing. Builds sn_demo (-O0) from copies of
# securenet.h and sn_demo.c with one fault each (below) into build/ota-mutants/,
# runs tests/ota.sh against each and prints its "not ok" lines; a mutant with none
# is reported as MISSED (exit 1). Ports: SN_PORT_BASE as for tests/ota.sh.
#   NOSIG            the ECDSA check skipped
#   FINISH_ON_REFUSE a refusal finishes the slot (rename) instead of aborting it
#   NOABORT          a refusal does not tell the slot (FILE.part stays)
#   NOSHORT NOLONG   no "shorter"/"longer than its header states" checks
#   NOMAGIC          the magic not checked
#   NOBUSY           no 409 at the head of a second upload
#   NOCLCAP          no 413 from a raw body's Content-Length (only from the image header)
#   NOCAP            the image header's length not compared with the capacity
#   TWICE NOFIELD NOCLOSE  the form checks: a second image field, none, no closing delimiter
#   DIRECT           sn_demo's slot written in place (not FILE.part + rename)
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=build/ota-mutants
ALL="NOSIG FINISH_ON_REFUSE NOABORT NOSHORT NOLONG NOMAGIC NOBUSY NOCLCAP NOCAP TWICE NOFIELD NOCLOSE DIRECT"
mkdir -p "$OUT"
/usr/bin/python3 - "$OUT" <<'PYEOF' || exit 1
import sys
out = sys.argv[1]
s = open("securenet.h").read()
def mut(names, old, news):
    global s
    assert s.count(old) == 1, names
    r = "\n"
    for i, (n, new) in enumerate(zip(names, news)):
        r += "#%s defined(MUT_%s)\n%s\n" % ("if" if i == 0 else "elif", n, new)
    s = s.replace(old, r + "#else\n%s\n#endif\n" % old)
mut(["NOSIG"], '''  if ((derlen = sn__sig_der(j->sig, der)) == 0 ||
      mbedtls_pk_verify(&o->pk, MBEDTLS_MD_SHA256, hash, sizeof hash, der, derlen) != 0)''',
    ["  (void) derlen; (void) der;\n  if (0)"])
mut(["FINISH_ON_REFUSE", "NOABORT"],
    "  if (o->job->slot_open && o->opts.slot->abort != NULL) o->opts.slot->abort(o->opts.slot_ctx);",
    ["  if (o->job->slot_open) o->opts.slot->finish(o->opts.slot_ctx);", ""])
mut(["NOSHORT"], '  if (j->got < o->cur.bytes) return sn__ota_refuse(o, SN_ERR_IMAGE, "image shorter than its header states");', [""])
mut(["NOLONG"], '    if (j->got >= o->cur.bytes) return sn__ota_refuse(o, SN_ERR_IMAGE, "image longer than its header states");',
    ["    if (j->got >= o->cur.bytes) break;"])
mut(["NOMAGIC"], '  if (memcmp(h, "SNFW", 4) != 0) return "not a signed image (wrong magic)";', [""])
mut(["NOBUSY"], '''  if (o->job != NULL) {
    sn__ota_reply_err(c, o, SN_ERR_STATE, "another update is under way");''', ["  if (0) {"])
mut(["NOCLCAP"], '''    if (n > o->opts.capacity) {
      sn__ota_reply_err(c, o, SN_ERR_TOO_BIG, "image larger than the slot");''', ["    if (0) {"])
mut(["NOCAP"], '      if (o->cur.bytes > o->opts.capacity) return sn__ota_refuse(o, SN_ERR_TOO_BIG, "image larger than the slot");', [""])
mut(["TWICE"], "  if (q->in_image && q->images++) {", ["  if (q->in_image && q->images++ && 0) {"])
mut(["NOFIELD"], "    if (q->images == 0) {", ["    if (0) {"])
mut(["NOCLOSE"], '  if (mp->state != SN__MP_EPILOGUE) return sn__mp_fail(mp, SN_ERR_PROTO, "no closing delimiter");', [""])
open(out + "/securenet.h", "w").write(s)
d = open("examples/posix/sn_demo.c").read()
old = "  f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);"
assert old in d
d = d.replace(old, "#ifdef MUT_DIRECT\n" + old.replace("f->tmp", "f->path") + "\n#else\n" + old + "\n#endif\n")
open(out + "/sn_demo.c", "w").write(d)
PYEOF
missed=0
for m in ${*:-$ALL}; do
  cc -std=c99 -O0 -DMUT_"$m" -I"$OUT" -Ibuild/mbedtls-3.6/include -I. -Ibuild -Iexamples/common "$OUT/sn_demo.c" \
    -o "$OUT/sn_demo.$m" build/mbedtls-3.6/lib/libmbedtls.a build/mbedtls-3.6/lib/libmbedx509.a \
    build/mbedtls-3.6/lib/libmbedcrypto.a -lpthread -pthread || { echo "$m: does not build"; missed=1; continue; }
  res=$(SN_DEMO="$OUT/sn_demo.$m" SN_TMP="$OUT/tmp.$m" timeout 300 tests/ota.sh 2>&1)
  n=$(grep -c '^not ok' <<<"$res")
  if [ "$n" -eq 0 ]; then echo "MISSED $m"; missed=1; else echo "$m: $n checks fail"; grep '^not ok' <<<"$res" | cut -c1-160 | sed 's/^/  /'; fi
  rm -rf "$OUT/tmp.$m"
done
exit $missed
