#!/bin/bash
# tools/fetch-lwip.sh [--refresh] [OUTDIR]
#
# Fetches the source of Debian trixie's `lwip` package and leaves the
# unpacked tree, Debian's patches applied (they touch
# contrib/ports/unix/posixlib), at OUTDIR (default build/lwip in the
# repository): OUTDIR/src/core/tcp.c, OUTDIR/src/include/lwip/opt.h,
# OUTDIR/contrib/ports/unix/port/include/arch/cc.h, ...
#
#   --refresh   ask the archive for trixie's current version even when a
#               tree exists; fetch again only if the version changed.
#
# The source arrives through the private apt configuration in
# build/apt-trixie/ that tools/build-mbedtls3.sh uses too (tools/apt-trixie.sh:
# one deb-src line for trixie on the system's own mirror or $TRIXIE_MIRROR,
# own lists and cache, apt hooks cleared).  Nothing on the system changes and
# nothing from trixie is installed; it works as root and as an ordinary user.
#
# Idempotent: when the tree is there and OUTDIR/.fetched records its Debian
# version, it prints and exits 0 without touching the network.  The last line
# printed is "lwip VERSION ready in OUTDIR" (VERSION: the Debian version).
set -eu
set -o pipefail

me=fetch-lwip
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }
usage() { echo "usage: ${0##*/} [--refresh] [OUTDIR]"; }
parse_option() { [ "$1" = --refresh ] && refresh=1; }

top=$(cd "$(dirname "$0")/.." && pwd -P)
# shellcheck source=tools/apt-trixie.sh
. "$top/tools/apt-trixie.sh"
refresh=0
trixie_parse_args "$@"
out=$(realpath -m -- "${out_arg:-$top/build/lwip}")
[ "$out" != / ] || die "OUTDIR must not be /"
apt_dir=$top/build/apt-trixie
stamp=$out/.fetched

show() { case $1 in "$PWD"/*) echo "${1#"$PWD"/}" ;; *) echo "$1" ;; esac; }

# Files the lwIP port and its tests build from; a tree without them is not one.
tree_ok() {       # tree_ok DIR
    [ -f "$1/src/core/tcp.c" ] && [ -f "$1/src/include/lwip/opt.h" ] &&
        [ -f "$1/contrib/ports/unix/port/include/arch/cc.h" ]
}

fetched_version() {
    [ -f "$stamp" ] && tree_ok "$out" || return 0
    sed -n 's/^version=//p' "$stamp" | head -n 1
}

ready() {         # ready VERSION: the last line, what callers look for
    echo "lwip $1 ready in $(show "$out")"
}

# ---- fast path: nothing to do ------------------------------------------------
have=$(fetched_version)
if [ $refresh -eq 0 ] && [ -n "$have" ]; then
    say "already fetched (--refresh to ask the archive for a newer version)"
    ready "$have"
    exit 0
fi

# Never clobber a directory this script did not fill.
if [ -d "$out" ] && [ ! -e "$stamp" ] && [ -n "$(ls -A "$out")" ]; then
    die "$out exists, is not empty and was not made by this script"
fi
[ ! -e "$out" ] || [ -d "$out" ] || die "$out exists and is not a directory"

t0=$SECONDS
trixie_lock "$apt_dir"
version=$(trixie_newest_version lwip)
if [ "$version" = "$(fetched_version)" ]; then
    say "trixie still has $version; nothing to fetch"
    ready "$version"
    exit 0
fi

# Unpacked beside the private index first (same file system as the default
# OUTDIR), so OUTDIR only ever holds a complete, patched tree.
stage=$apt_dir/src/lwip-$(trixie_upstream "$version")
mkdir -p "$apt_dir/src"
rm -rf "$apt_dir/src"/lwip-[0-9]*
trixie_unpack lwip "$version" "$stage"
tree_ok "$stage" ||
    die "lwip $version unpacked, but src/core/tcp.c, src/include/lwip/opt.h or contrib/ports/unix/port/include/arch/cc.h is missing"
if [ -f "$stage/debian/patches/series" ]; then
    say "Debian patches applied: $(grep -v -E '^[[:space:]]*(#|$)' "$stage/debian/patches/series" |
        tr '\n' ' ' | sed 's/ $//')"
fi
echo "version=$version" >"$stage/.fetched"

mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$stage" "$out"
say "done in $((SECONDS - t0))s"
ready "$version"
