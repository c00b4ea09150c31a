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
# The source arrives through a PRIVATE apt configuration in build/apt-trixie/:
# its own sources list (one deb-src line, trixie, the system's own mirror,
# Signed-By the Debian archive keyring), its own lists, cache, empty
# sources.list.d and preferences, and the apt hooks that `apt-get update`
# would otherwise run (e.g. an AppStream cache refresh) cleared.  Nothing on
# the system changes, nothing from trixie is installed, and it works as an
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
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
JOBS=${JOBS:-2}

me=build-mbedtls3
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }
usage() {
    echo "usage: ${0##*/} [--programs] [--refresh] [--debian-config] [OUTDIR]"
}

programs=0 refresh=0 config=source out_arg=
while [ $# -gt 0 ]; do
    case $1 in
        --programs) programs=1 ;;
        --refresh) refresh=1 ;;
        --debian-config) config=debian ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "$me: unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "$out_arg" ] || { usage >&2; exit 2; }; out_arg=$1 ;;
    esac
    shift
done

top=$(cd "$(dirname "$0")/.." && pwd -P)
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
mkdir -p "$apt_dir" "$src_parent"
# One run at a time (parallel make, two terminals): the rest wait here.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$apt_dir/.lock"
    flock 9
fi

# ---- the private apt configuration ------------------------------------------
system_mirror() {
    local m=
    # deb822 (bookworm's default): the first URIs: that is not -security.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' \
                /etc/apt/sources.list.d/debian.sources | grep -v -- '-security' |
            head -n 1 || true)
    fi
    # One-line format: "deb [options] URI suite components".
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(sed -n -E 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\3/p' \
                /etc/apt/sources.list | grep -v -- '-security' | head -n 1 || true)
    fi
    echo "${m%/}"
}

mirror=${MBEDTLS3_MIRROR:-$(system_mirror)}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list (set MBEDTLS3_MIRROR)"
[ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"

mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
         "$apt_dir/sources.list.d" "$apt_dir/preferences.d"
: >"$apt_dir/preferences"
# Exactly one line: sources only, trixie, verified against the archive keyring
# (bookworm's debian-archive-keyring already holds the trixie keys).
echo "deb-src [signed-by=$KEYRING] $mirror $SUITE main" >"$apt_dir/sources.list"
# The system's apt.conf.d is still read (proxies, Acquire settings), but the
# hooks it registers must not run for our private update: on this machine
# APT::Update::Post-Invoke-Success would refresh the system's AppStream cache
# (/var/cache/swcatalog) and ping PackageKit.  -o cannot empty a list; a
# config file read with -c can.
cat >"$apt_dir/apt.conf" <<'EOF'
// Private apt configuration of tools/build-mbedtls3.sh (generated).
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF

apt_opts=(
    -c "$apt_dir/apt.conf"
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "Dir::Etc::Preferences=$apt_dir/preferences"
    -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
    -o "APT::Get::Only-Source=true"
)

fetch_version() { # apt-get update (private) and print trixie's version
    say "updating the private trixie source index from $mirror" >&2
    apt-get -q=2 "${apt_opts[@]}" --error-on=any update >&2 ||
        die "apt-get update of the private index failed"
    local v best=
    for v in $(apt-cache "${apt_opts[@]}" showsrc mbedtls 2>/dev/null |
               sed -n 's/^Version: //p'); do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
            best=$v
        fi
    done
    [ -n "$best" ] || die "no source package mbedtls in $SUITE's index"
    echo "$best"
}

upstream_of() { local v=${1#*:}; echo "${v%-*}"; }

# ---- the source tree ---------------------------------------------------------
# $src_parent/current holds the Debian version of the tree extracted there,
# written only once extraction (with Debian's patches) has completed.
version=
if [ $refresh -eq 0 ] && [ -f "$src_parent/current" ]; then
    version=$(cat "$src_parent/current")
    [ -d "$src_parent/mbedtls-$(upstream_of "$version")/library" ] || version=
fi
if [ -z "$version" ] || [ $refresh -eq 1 ]; then
    version=$(fetch_version)
    upstream=$(upstream_of "$version")
    case $upstream in "$SERIES".*) ;; *) die "$SUITE has mbedtls $version, not $SERIES.x" ;; esac
    if [ $refresh -eq 1 ] && up_to_date "$version"; then
        say "trixie still has $version; nothing to rebuild"
        report
        exit 0
    fi
    if [ "$(cat "$src_parent/current" 2>/dev/null || true)" != "$version" ] ||
       [ ! -d "$src_parent/mbedtls-$upstream/library" ]; then
        rm -f "$src_parent/current"
        rm -rf "$src_parent"/mbedtls-* "$src_parent"/mbedtls_* "$src_parent/dl"
        mkdir -p "$src_parent/dl"
        # Downloads run as the unprivileged _apt user when we are root; give
        # it the download directory, as apt does for its own partial dirs.
        if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
            chown _apt "$src_parent/dl"
        fi
        say "downloading the source of mbedtls $version"
        # The .dsc and tarballs are checked against the hashes in the
        # signed (InRelease -> Sources) index: no --allow-unauthenticated.
        (cd "$src_parent/dl" &&
            apt-get -q=2 "${apt_opts[@]}" source --download-only "mbedtls=$version") ||
            die "apt-get source failed"
        dsc=$(ls "$src_parent/dl"/mbedtls_*.dsc)
        # dpkg-source re-checks the tarballs against the .dsc's checksums and
        # applies debian/patches (3.0 quilt).  Its OpenPGP check of the .dsc
        # needs debian-keyring, which is not installed; the archive signature
        # verified by apt above is what authenticates the files.
        (cd "$src_parent" && dpkg-source -q --no-copy -x "$dsc" "mbedtls-$upstream") \
            >"$src_parent/extract.log" 2>&1 ||
            { cat "$src_parent/extract.log" >&2; die "dpkg-source -x failed"; }
        grep -v -i -E '^gpgv:|signature|keyring' "$src_parent/extract.log" >&2 || true
        # Pristine copy of the shipped config, to build any variant from.
        cp "$src_parent/mbedtls-$upstream/include/mbedtls/mbedtls_config.h" \
           "$src_parent/mbedtls-$upstream/include/mbedtls/mbedtls_config.h.shipped"
        echo "$version" >"$src_parent/current"
    fi
fi
upstream=$(upstream_of "$version")
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
