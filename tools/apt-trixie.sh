# tools/apt-trixie.sh - Debian trixie source packages through a private apt
# configuration.  Sourced (not run) by tools/build-mbedtls3.sh and
# tools/fetch-lwip.sh; it only defines functions, so sourcing it changes
# nothing and touches neither the disk nor the network.
#
# The configuration lives in one directory (build/apt-trixie/ for both
# scripts): its own sources list (one deb-src line, trixie, the system's own
# mirror, Signed-By the Debian archive keyring), its own lists, cache, empty
# sources.list.d and preferences, and the apt hooks that `apt-get update`
# would otherwise run (e.g. an AppStream cache refresh) cleared.  Nothing on
# the system changes, nothing from trixie is installed, and it works as an
# ordinary user too.
#
# The caller defines `say MESSAGE` and `die MESSAGE` (die exits) and runs
# under `set -eu -o pipefail`.  In the order a caller uses them:
#
#   trixie_lock APT_DIR          create APT_DIR and wait for its lock, held
#                                until the caller exits: one run at a time.
#   trixie_newest_version P      `apt-get update` of the private index, then
#                                print the newest version of source package P.
#   trixie_unpack P VERSION DIR  download P=VERSION's source and unpack it,
#                                Debian's patches applied, into DIR (which
#                                must not exist).
#   trixie_upstream VERSION      the upstream part of a Debian version
#                                (1:2.3-4 -> 2.3).
#
# And the command line both scripts share, "[OPTION...] [OUTDIR]":
#
#   trixie_parse_args "$@"       -h/--help, unknown options and at most one
#                                OUTDIR (into out_arg); every other option
#                                goes to the caller's `parse_option OPTION`,
#                                which returns 1 for one it does not know.
#                                Needs the caller's $me and `usage`.
#
# The mirror is $TRIXIE_MIRROR when set, otherwise the first non-security
# mirror of the system's own apt sources.  Globals: trixie_dir (APT_DIR),
# trixie_mirror, and trixie_apt_opts (the options that make apt-get and
# apt-cache private).
# shellcheck shell=bash

trixie_parse_args() {
    out_arg=
    while [ $# -gt 0 ]; do
        case $1 in
            -h|--help) usage; exit 0 ;;
            -*) parse_option "$1" ||
                    { echo "${me:?}: unknown option: $1" >&2; usage >&2; exit 2; } ;;
            *) [ -z "$out_arg" ] || { usage >&2; exit 2; }; out_arg=$1 ;;
        esac
        shift
    done
}

trixie_lock() {
    trixie_dir=$1
    mkdir -p "$trixie_dir"
    # Parallel make, two terminals, or both scripts at once: the rest wait.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$trixie_dir/.lock"
        flock 9
    fi
}

trixie_system_mirror() {
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

# Writes the private configuration into $trixie_dir (once per run) and sets
# trixie_apt_opts.  Needed only when the network is: a build from a tree
# already unpacked does not require a mirror.
trixie_configure() {
    [ -z "${trixie_apt_opts+set}" ] || return 0
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    trixie_mirror=${TRIXIE_MIRROR:-$(trixie_system_mirror)}
    [ -n "$trixie_mirror" ] ||
        die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list (set TRIXIE_MIRROR)"
    [ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"

    mkdir -p "$trixie_dir/lists/partial" "$trixie_dir/cache/archives/partial" \
             "$trixie_dir/sources.list.d" "$trixie_dir/preferences.d"
    : >"$trixie_dir/preferences"
    # Exactly one line: sources only, trixie, verified against the archive
    # keyring (bookworm's debian-archive-keyring already holds the trixie keys).
    echo "deb-src [signed-by=$keyring] $trixie_mirror trixie main" >"$trixie_dir/sources.list"
    # The system's apt.conf.d is still read (proxies, Acquire settings), but
    # the hooks it registers must not run for our private update: on this
    # machine APT::Update::Post-Invoke-Success would refresh the system's
    # AppStream cache (/var/cache/swcatalog) and ping PackageKit.  -o cannot
    # empty a list; a config file read with -c can.
    cat >"$trixie_dir/apt.conf" <<'EOF'
// Private apt configuration of tools/apt-trixie.sh (generated).
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF

    trixie_apt_opts=(
        -c "$trixie_dir/apt.conf"
        -o "Dir::Etc::SourceList=$trixie_dir/sources.list"
        -o "Dir::Etc::SourceParts=$trixie_dir/sources.list.d"
        -o "Dir::State::Lists=$trixie_dir/lists"
        -o "Dir::Cache=$trixie_dir/cache"
        -o "Dir::Cache::pkgcache="
        -o "Dir::Cache::srcpkgcache="
        -o "Dir::Etc::Preferences=$trixie_dir/preferences"
        -o "Dir::Etc::PreferencesParts=$trixie_dir/preferences.d"
        -o "APT::Get::Only-Source=true"
    )
}

# Messages go to stderr: callers use it as version=$(trixie_newest_version P).
trixie_newest_version() {
    local pkg=$1 v best=
    trixie_configure
    say "updating the private trixie source index from $trixie_mirror" >&2
    apt-get -q=2 "${trixie_apt_opts[@]}" --error-on=any update >&2 ||
        die "apt-get update of the private index failed"
    for v in $(apt-cache "${trixie_apt_opts[@]}" showsrc "$pkg" 2>/dev/null |
               sed -n 's/^Version: //p'); do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
            best=$v
        fi
    done
    [ -n "$best" ] || die "no source package $pkg in trixie's index"
    echo "$best"
}

trixie_upstream() { local v=${1#*:}; echo "${v%-*}"; }

# Downloads go to $trixie_dir/dl/P, replaced on every call; nothing else is
# removed.  A failure may leave a partial DIR: callers trust a tree only once
# they have written their own stamp after this returned.
trixie_unpack() {
    local pkg=$1 version=$2 dir=$3 dl dsc
    trixie_configure
    dl=$trixie_dir/dl/$pkg
    rm -rf "$dl"
    mkdir -p "$dl"
    # Downloads run as the unprivileged _apt user when we are root; give it
    # the download directory, as apt does for its own partial dirs.
    if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
        chown _apt "$dl"
    fi
    say "downloading the source of $pkg $version"
    # The .dsc and tarballs are checked against the hashes in the signed
    # (InRelease -> Sources) index: no --allow-unauthenticated.
    (cd "$dl" && apt-get -q=2 "${trixie_apt_opts[@]}" source --download-only "$pkg=$version") ||
        die "apt-get source $pkg=$version failed"
    dsc=$(ls "$dl/${pkg}_"*.dsc) || die "apt-get source left no .dsc in $dl"
    # dpkg-source re-checks the tarballs against the .dsc's checksums and
    # applies debian/patches (3.0 quilt).  Its OpenPGP check of the .dsc needs
    # debian-keyring, which is not installed; the archive signature verified
    # by apt above is what authenticates the files.
    dpkg-source -q --no-copy -x "$dsc" "$dir" >"$dl/extract.log" 2>&1 ||
        { cat "$dl/extract.log" >&2; die "dpkg-source -x of $pkg $version failed"; }
    grep -v -i -E '^gpgv:|signature|keyring' "$dl/extract.log" >&2 || true
}
