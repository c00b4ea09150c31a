#!/usr/bin/env bash
# Installs, only where missing, the Debian packages securenet's build and
# tests need (and any package names given as arguments).
#   tools/deps.sh [--check] [package ...]
# --check: print what is missing and exit 1 if anything is; install nothing.
set -eu
check_only=0
if [ "${1:-}" = "--check" ]; then check_only=1; shift; fi
want="build-essential clang gcc-multilib libmbedtls-dev curl openssl gnutls-bin valgrind dpkg-dev python3 ca-certificates $*"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$check_only" -eq 1 ]; then echo "missing Debian packages:$missing"; exit 1; fi
echo "deps: installing$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"
  else echo "deps: not root and no sudo; run: apt-get update && apt-get install -y$missing" >&2; exit 1; fi
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
