#!/bin/bash
# tools/deps.sh [--check] [PACKAGE...]
#
# Installs the Debian packages securenet's build, tests and benchmarks need,
# but only those that are missing.  Extra package names given as arguments
# are handled the same way (e.g. `tools/deps.sh postfix`).
#
#   --check   only report what is missing; exit 1 if anything is, 0 if not.
#
# When everything is present it prints a single line and changes nothing.
# `apt-get update` runs only when something has to be installed, and at most
# once.  Not root: uses sudo when available, otherwise prints the exact
# command to run and exits 1.
set -eu

PACKAGES=(
    build-essential
    clang
    gcc-multilib
    libmbedtls-dev
    curl
    openssl
    gnutls-bin
    valgrind
    dpkg-dev
    python3
    ca-certificates
    chromium
    python3-websockets
    nodejs
    node-ws
)

me=${0##*/}
check_only=0

usage() {
    echo "usage: $me [--check] [PACKAGE...]"
}

while [ $# -gt 0 ]; do
    case $1 in
        --check) check_only=1 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; PACKAGES+=("$@"); break ;;
        -*) echo "$me: unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) PACKAGES+=("$1") ;;
    esac
    shift
done

# Debian package names (optionally :arch); refuse anything else so that an
# argument can never turn into an apt-get option.
for p in "${PACKAGES[@]}"; do
    if ! [[ $p =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$ ]]; then
        echo "$me: not a Debian package name: '$p'" >&2
        exit 2
    fi
done

# "Installed" means dpkg's status ends in " installed" (so neither
# "config-files", "half-installed" nor "not-installed").  `dpkg -s` alone
# succeeds for removed-but-not-purged packages, hence the status check.
is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: .* installed$'
}

missing=()
seen=" "
for p in "${PACKAGES[@]}"; do
    case $seen in *" $p "*) continue ;; esac
    seen="$seen$p "
    is_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "$me: all $(( $(wc -w <<<"$seen") )) packages present"
    exit 0
fi

if [ $check_only -eq 1 ]; then
    echo "$me: missing: ${missing[*]}"
    exit 1
fi

install_cmd=(env DEBIAN_FRONTEND=noninteractive apt-get install -y
             --no-install-recommends "${missing[@]}")
update_cmd=(env DEBIAN_FRONTEND=noninteractive apt-get update)

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "$me: missing: ${missing[*]}" >&2
    echo "$me: not root and no sudo; run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "$me: installing: ${missing[*]}"
"${as_root[@]}" "${update_cmd[@]}"
"${as_root[@]}" "${install_cmd[@]}"

still=()
for p in "${missing[@]}"; do
    is_installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    echo "$me: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "$me: done"
