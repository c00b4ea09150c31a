#!/usr/bin/env bash
# Fetches the source of Debian trixie's `mbedtls` package (3.6 LTS) and builds
# its static libraries into OUTDIR (default build/mbedtls-3.6): include/, lib/.
#   tools/build-mbedtls3.sh [--programs] [OUTDIR]
# The source comes through a private apt configuration under build/ (its own
# deb-src-only sources list, lists and cache), so the system's apt sources and
# state stay untouched and no binary package from trixie is installed.
# --programs also builds ssl_server2 / ssl_client2 into OUTDIR/bin (benchmarks).
set -eu
programs=0
if [ "${1:-}" = "--programs" ]; then programs=1; shift; fi
out=${1:-build/mbedtls-3.6}
top=$(cd "$(dirname "$0")/.." && pwd)
case "$out" in /*) ;; *) out="$top/$out" ;; esac
apt_dir="$top/build/apt-trixie"
stamp="$out/.built"
if [ -f "$stamp" ] && [ -f "$out/lib/libmbedtls.a" ] && { [ "$programs" -eq 0 ] || [ -x "$out/bin/ssl_server2" ]; }; then
  echo "mbedtls $(cat "$stamp") ready in $out"
  exit 0
fi

# The mirror the system already uses, read from its sources.
mirror=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+' /etc/apt/sources.list 2>/dev/null | awk '{print $NF}' | grep -v security | head -n 1 || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$apt_dir/preferences.d" "$apt_dir/src"
echo "deb-src [signed-by=$keyring] $mirror trixie main" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Dir::Etc::Preferences=$apt_dir/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
          -o "APT::Sandbox::User=root")
echo "mbedtls3: fetching the source of trixie's mbedtls from $mirror"
apt-get -qq "${apt_opts[@]}" update
rm -rf "$apt_dir/src"/mbedtls-*
(cd "$apt_dir/src" && apt-get -qq "${apt_opts[@]}" source mbedtls >/dev/null)
srcdir=$(ls -d "$apt_dir/src"/mbedtls-*/ | head -n 1)
version=$(basename "$srcdir" | sed 's/^mbedtls-//')
case "$version" in 3.6.*) ;; *) echo "mbedtls3: expected 3.6.x, got $version" >&2; exit 1 ;; esac

echo "mbedtls3: building mbedTLS $version (static libraries)"
make -s -C "$srcdir/library" -j2 CFLAGS="-O2 -fPIC" libmbedcrypto.a libmbedx509.a libmbedtls.a >/dev/null
mkdir -p "$out/lib" "$out/include"
cp "$srcdir"/library/libmbed*.a "$out/lib/"
rm -rf "$out/include/mbedtls" "$out/include/psa"
cp -r "$srcdir/include/mbedtls" "$srcdir/include/psa" "$out/include/"
if [ "$programs" -eq 1 ]; then
  make -s -C "$srcdir/programs" -j2 CFLAGS="-O2" ssl/ssl_server2 ssl/ssl_client2 >/dev/null
  mkdir -p "$out/bin"
  cp "$srcdir/programs/ssl/ssl_server2" "$srcdir/programs/ssl/ssl_client2" "$out/bin/"
fi
echo "$version" > "$stamp"
echo "mbedtls $version ready in $out (cflags: -I$out/include; libs: $out/lib/libmbedtls.a $out/lib/libmbedx509.a $out/lib/libmbedcrypto.a)"
