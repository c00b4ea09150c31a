#!/bin/bash
# tools/build-mbedtls3.sh [--programs] [--refresh] [--debian-config] [OUTDIR]
#
# Fetches the source of Debian trixie's `mbedtls` package (mbedTLS 3.6 LTS),
# builds its static libraries and installs headers and libraries into
#   OUTDIR/include  OUTDIR/lib/{libmbedtls,libmbedx509,libmbedcrypto}.a
# (OUTDIR defaults to build/mbedtls-3.6 in the repository).
#
#   --programs       also build programs/ssl/ssl_server2 and ssl_client2 into
#                    OUTDIR/bin (for benchmarks).
#   --refresh        ask the archive for trixie's current version even when a
#                    build exists; rebuild only if the version changed.
#   --debian-config  apply the `scripts/config.py set ...` lines of
#                    debian/rules (what Debian's binary packages are built
#                    with: THREADING_C/PTHREAD, CMAC_C, DTLS_SRTP, ...).
#                    Default: the config exactly as shipped in the source
#                    package (upstream's default + Debian's patches).
#
# The source arrives through a PRIVATE apt configuration in build/apt-trixie/
# (tools/apt-trixie.sh, shared with tools/fetch-lwip.sh): its own sources list
# (one deb-src line, trixie, the system's own mirror or $MBEDTLS3_MIRROR /
# $TRIXIE_MIRROR), lists, cache and preferences, apt hooks cleared.  Nothing
# on the system changes, nothing from trixie is installed, and it works as an
# ordinary user too.
#
# Idempotent: when OUTDIR/lib/libmbedtls.a exists and OUTDIR/.built records a
# 3.6.x build of the same recipe/config (and the programs if asked for), it
# prints the paths and exits 0 without touching the network.
set -eu
set -o pipefail

# Bump when the way the libraries are built changes, so old builds redo.
RECIPE=2
SERIES=3.6
SUITE=trixie
JOBS=${JOBS:-2}

me=build-mbedtls3
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }
usage() {
    echo "usage: ${0##*/} [--programs] [--refresh] [--debian-config] [OUTDIR]"
}

parse_option() {
    case $1 in
        --programs) programs=1 ;;
        --refresh) refresh=1 ;;
        --debian-config) config=debian ;;
        *) return 1 ;;
    esac
}

top=$(cd "$(dirname "$0")/.." && pwd -P)
# shellcheck source=tools/apt-trixie.sh
. "$top/tools/apt-trixie.sh"
programs=0 refresh=0 config=source
trixie_parse_args "$@"
if [ -z "$out_arg" ]; then
    out=$top/build/mbedtls-3.6
else
    case $out_arg in /*) out=$out_arg ;; *) out=$PWD/$out_arg ;; esac
fi
out=${out%/}
[ -n "$out" ] || die "OUTDIR must not be /"
apt_dir=$top/build/apt-trixie
src_parent=$apt_dir/src
stamp=$out/.built
owner=$out/.build-mbedtls3    # marks OUTDIR as ours (survives failed builds)

# Paths as the caller most likely wants them: relative when under $PWD.
show() { case $1 in "$PWD"/*) echo "${1#"$PWD"/}" ;; *) echo "$1" ;; esac; }

stamp_field() {   # stamp_field KEY -> value from OUTDIR/.built ("" if none)
    [ -f "$stamp" ] || return 0
    tr ' ' '\n' <"$stamp" | sed -n "s/^$1=//p" | head -n 1
}

report() {        # the lines a caller needs; last line "mbedtls X ready in Y"
    local up libs
    up=$(stamp_field upstream)
    libs="-L$(show "$out/lib") -lmbedtls -lmbedx509 -lmbedcrypto"
    [ "$(stamp_field pthread)" != 1 ] || libs="$libs -lpthread"
    [ "${1:-}" != full ] || [ ! -f "$out/config.txt" ] ||
        sed "s/^/$me: /" "$out/config.txt"
    say "Debian source: mbedtls $(stamp_field version) ($SUITE), config: $(stamp_field config)"
    say "include: $(show "$out/include")"
    say "lib:     $(show "$out/lib")"
    [ "$(stamp_field programs)" != 1 ] || say "bin:     $(show "$out/bin") (ssl_server2, ssl_client2)"
    say "CFLAGS += -I$(show "$out/include")"
    say "LDLIBS += $libs"
    echo "mbedtls $up ready in $(show "$out")"
}

up_to_date() {    # up_to_date [DEBIAN_VERSION]
    [ -f "$out/lib/libmbedtls.a" ] && [ -f "$out/lib/libmbedx509.a" ] &&
        [ -f "$out/lib/libmbedcrypto.a" ] || return 1
    [ "$(stamp_field recipe)" = "$RECIPE" ] || return 1
    [ "$(stamp_field config)" = "$config" ] || return 1
    case $(stamp_field upstream) in "$SERIES".*) ;; *) return 1 ;; esac
    [ -z "${1:-}" ] || [ "$(stamp_field version)" = "$1" ] || return 1
    if [ $programs -eq 1 ]; then
        [ "$(stamp_field programs)" = 1 ] && [ -x "$out/bin/ssl_server2" ] &&
            [ -x "$out/bin/ssl_client2" ] || return 1
    fi
}

# ---- fast path: nothing to do ------------------------------------------------
if [ $refresh -eq 0 ] && up_to_date; then
    say "already built (config table: $(show "$out/config.txt"); --refresh to ask the archive for a newer version)"
    report
    exit 0
fi

# Never clobber a directory this script did not create.
if [ -d "$out" ] && [ ! -e "$owner" ] && [ ! -e "$stamp" ] &&
   [ -n "$(ls -A "$out")" ]; then
    die "$out exists, is not empty and was not made by this script"
fi

t0=$SECONDS
trixie_lock "$apt_dir"
mkdir -p "$src_parent"
TRIXIE_MIRROR=${MBEDTLS3_MIRROR:-${TRIXIE_MIRROR:-}}

# ---- the source tree ---------------------------------------------------------
# $src_parent/current holds the Debian version of the tree extracted there,
# written only once extraction (with Debian's patches) has completed.
version=
if [ $refresh -eq 0 ] && [ -f "$src_parent/current" ]; then
    version=$(cat "$src_parent/current")
    [ -d "$src_parent/mbedtls-$(trixie_upstream "$version")/library" ] || version=
fi
if [ -z "$version" ] || [ $refresh -eq 1 ]; then
    version=$(trixie_newest_version mbedtls)
    upstream=$(trixie_upstream "$version")
    case $upstream in "$SERIES".*) ;; *) die "$SUITE has mbedtls $version, not $SERIES.x" ;; esac
    if [ $refresh -eq 1 ] && up_to_date "$version"; then
        say "trixie still has $version; nothing to rebuild"
        report
        exit 0
    fi
    if [ "$(cat "$src_parent/current" 2>/dev/null || true)" != "$version" ] ||
       [ ! -d "$src_parent/mbedtls-$upstream/library" ]; then
        rm -f "$src_parent/current"
        # Only mbedtls's own: its trees, and dl/ where its downloads went
        # before they moved to build/apt-trixie/dl/mbedtls.
        rm -rf "$src_parent"/mbedtls-[0-9]* "$src_parent/dl"
        trixie_unpack mbedtls "$version" "$src_parent/mbedtls-$upstream"
        # Pristine copy of the shipped config, to build any variant from.
        cp "$src_parent/mbedtls-$upstream/include/mbedtls/mbedtls_config.h" \
           "$src_parent/mbedtls-$upstream/include/mbedtls/mbedtls_config.h.shipped"
        echo "$version" >"$src_parent/current"
    fi
fi
upstream=$(trixie_upstream "$version")
src=$src_parent/mbedtls-$upstream
cfg=$src/include/mbedtls/mbedtls_config.h
[ -f "$cfg.shipped" ] || cp "$cfg" "$cfg.shipped"

# ---- configuration -------------------------------------------------------------
# The make build has no header dependencies: a different config must start
# from a clean tree.
want_tree="version=$version recipe=$RECIPE config=$config"
have_tree=$(cat "$src/.sn-tree" 2>/dev/null || true)
if [ "$have_tree" != "$want_tree" ]; then
    say "preparing the $config config"
    cp "$cfg.shipped" "$cfg"
    if [ "$config" = debian ]; then
        opts=$(sed -n -E 's/^[[:space:]]*scripts\/config\.py[[:space:]]+set[[:space:]]+([A-Z0-9_]+)[[:space:]]*$/\1/p' \
                   "$src/debian/rules")
        [ -n "$opts" ] || die "no 'scripts/config.py set' lines in debian/rules"
        for o in $opts; do
            say "  debian/rules: set $o"
            (cd "$src" && python3 scripts/config.py -f "$cfg" set "$o")
        done
    fi
    make -s -C "$src/library" clean >/dev/null 2>&1 || true
    make -s -C "$src/programs" clean >/dev/null 2>&1 || true
    make -s -C "$src/tests" clean >/dev/null 2>&1 || true
    echo "$want_tree" >"$src/.sn-tree"
fi

# ---- build -----------------------------------------------------------------------
log=$src_parent/build.log
: >"$log"
cflags="-O2 -fPIC"
build() {         # build DIR TARGET...   (output to the log; tail on failure)
    local dir=$1; shift
    if ! make -C "$dir" -j"$JOBS" CFLAGS="$cflags" "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "build failed in $dir (full log: $log)"
    fi
}
tb=$SECONDS
say "building mbedTLS $upstream static libraries (-j$JOBS, $cflags)"
build "$src/library" libmbedcrypto.a libmbedx509.a libmbedtls.a
if [ $programs -eq 1 ]; then
    say "building ssl_server2 and ssl_client2"
    build "$src/programs" ssl/ssl_server2 ssl/ssl_client2
fi
if grep -q -i 'warning:' "$log"; then
    say "compiler warnings: $(grep -c -i 'warning:' "$log") (see $log)"
fi
say "compiled in $((SECONDS - tb))s"

# ---- config report -----------------------------------------------------------
# What build_info.h really ends up with (config + its adjust headers).
defs=$("${CC:-cc}" -E -dM -I"$src/include" "$src/include/mbedtls/build_info.h")
on() { grep -q "^#define $1\\( \\|\$\\)" <<<"$defs"; }
report_tmp=$src_parent/config.txt
: >"$report_tmp"
for o in MBEDTLS_SSL_PROTO_TLS1_3 MBEDTLS_SSL_PROTO_TLS1_2 MBEDTLS_SSL_TICKET_C \
         MBEDTLS_SSL_CACHE_C MBEDTLS_SSL_SESSION_TICKETS \
         MBEDTLS_SSL_KEEP_PEER_CERTIFICATE MBEDTLS_FS_IO MBEDTLS_THREADING_C \
         MBEDTLS_THREADING_PTHREAD MBEDTLS_USE_PSA_CRYPTO MBEDTLS_PSA_CRYPTO_C; do
    if on "$o"; then s=on; else s=off; fi
    printf '  %-36s %s\n' "$o" "$s" >>"$report_tmp"
done
pthread=0
on MBEDTLS_THREADING_PTHREAD && pthread=1

# ---- install -------------------------------------------------------------------
mkdir -p "$out"
: >"$owner"
rm -f "$stamp"          # no stamp while OUTDIR is being replaced
stage=$out/.stage
rm -rf "$stage"
mkdir -p "$stage/include" "$stage/lib"
cp -R "$src/include/mbedtls" "$src/include/psa" "$stage/include/"
rm -f "$stage/include/mbedtls/mbedtls_config.h.shipped"
cp "$src/library/libmbedtls.a" "$src/library/libmbedx509.a" \
   "$src/library/libmbedcrypto.a" "$stage/lib/"
dirs="include lib"
if [ $programs -eq 1 ]; then
    mkdir -p "$stage/bin"
    cp "$src/programs/ssl/ssl_server2" "$src/programs/ssl/ssl_client2" "$stage/bin/"
    dirs="$dirs bin"
fi
for d in $dirs; do
    rm -rf "$out/$d.old"
    [ ! -e "$out/$d" ] || mv "$out/$d" "$out/$d.old"
    mv "$stage/$d" "$out/$d"
    rm -rf "$out/$d.old"
done
# Programs from an earlier, different build would not match these libraries.
[ $programs -eq 1 ] || rm -rf "${out:?}/bin"
rmdir "$stage"
cp "$report_tmp" "$out/config.txt"
echo "version=$version upstream=$upstream recipe=$RECIPE config=$config programs=$programs pthread=$pthread" \
    >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"

say "done in $((SECONDS - t0))s"
report full
