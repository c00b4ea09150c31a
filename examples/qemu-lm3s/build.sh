#!/bin/bash
# examples/qemu-lm3s/build.sh - builds the sn_lm3s firmware for QEMU's
# lm3s6965evb board (TI Stellaris LM3S6965: Cortex-M3, 256 KiB flash, 64 KiB
# RAM): HTTPS on port 443 over lwIP (bare metal) and the on-chip Ethernet MAC.
#
#   examples/qemu-lm3s/build.sh [--out ELF]      (default build/sn_lm3s.elf)
#
# Compiles, with arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -Os:
#   - mbedTLS 3.6 (Debian trixie's source, tools/build-mbedtls3.sh) with
#     configs/sn_mbedtls_minimal.h as it is (4 KiB records in, 2 KiB out),
#     server only;
#   - lwIP 2.2 (tools/fetch-lwip.sh) with examples/qemu-lm3s/lwipopts.h (the
#     64 KiB part's pools, then examples/lwip/lwipopts.h);
#   - the board (startup, board, enet; and examples/baremetal's cortex_m,
#     board_common, syscalls, semihost, shared with examples/qemu-mps2) and
#     main.c, with -Wall -Wextra -Werror -pedantic;
# and links them with lm3s6965.ld (which fails the link when .data + .bss +
# the heap + the stack do not fit 64 KiB) and newlib-nano. Objects go to
# build/qemu-lm3s/. Prints the image's size and its static RAM by owner
# (from the link map, build/qemu-lm3s/app/sn_lm3s.map).
#
# Environment: SN_LM3S_CFLAGS adds flags to the board and application files
# (e.g. -DBOARD_NO_SEMIHOSTING, which must stop at securenet's entropy
# #error); JOBS (default 2) parallel compilations.
set -eu
set -o pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$top"
me=sn_lm3s-build
die() { echo "$me: error: $*" >&2; exit 1; }

elf=build/sn_lm3s.elf
while [ $# -gt 0 ]; do
  case $1 in
    --out) elf=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

command -v arm-none-eabi-gcc >/dev/null || die "arm-none-eabi-gcc is not installed (tools/deps.sh gcc-arm-none-eabi libnewlib-arm-none-eabi)"
mbed_src=$(ls -d build/apt-trixie/src/mbedtls-3.6.*/ 2>/dev/null | head -n 1)
mbed_src=${mbed_src%/}
if [ -z "$mbed_src" ] || [ ! -d "$mbed_src/library" ]; then
  tools/build-mbedtls3.sh build/mbedtls-3.6 >&2
  mbed_src=$(ls -d build/apt-trixie/src/mbedtls-3.6.*/ | head -n 1)
  mbed_src=${mbed_src%/}
fi
lwip=${LWIP_DIR:-build/lwip}
[ -f "$lwip/src/core/tcp.c" ] || tools/fetch-lwip.sh "$lwip" >&2
[ -f build/certs/certs.h ] || tools/sn-certgen --out build/certs >&2

out=build/qemu-lm3s
here=examples/qemu-lm3s
mkdir -p "$out"
cc=(arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -Os -g -ffunction-sections -fdata-sections -std=c99)
warn=(-Wall -Wextra -Werror -pedantic)
# mbedTLS: the minimal MCU configuration unchanged (4 KiB in, 2 KiB out),
# without the TLS client (the image only serves) and without SHA-1 (only a
# WebSocket handshake needs it; 4.4 KiB). Library and program see the same
# flags.
mbed_flags=(-Iconfigs -I"$mbed_src/include" '-DMBEDTLS_CONFIG_FILE="sn_mbedtls_minimal.h"' -DSN_MBEDTLS_SERVER_ONLY=1
  -DSN_MBEDTLS_NO_SHA1=1)
# lwIP: this board's lwipopts.h first (it includes the project's).
lwip_flags=(-I"$here" -Iexamples/lwip -I"$lwip/src/include")
# securenet: one HTTPS listener, 2 connections (two handshakes at once fit
# the heap; a third client waits in the backlog), 16 header fields (sn_conn
# 1064 B instead of 1320 on Cortex-M3), every optional feature out.
sn_flags=(-DSN_ENABLE_SMTP=0 -DSN_ENABLE_CLIENT=0 -DSN_ENABLE_PLAIN_HTTP=0 -DSN_NO_FILES=1 -DSN_ENABLE_OTA=0
  -DSN_ENABLE_AUTH=0 -DSN_ENABLE_MULTIPART=0 -DSN_MAX_CONNS=2 -DSN_MAX_LISTENERS=1 -DSN_MAX_HEADERS=16
  -DSN_MAX_ROUTES=8 -DSN_ENABLE_WEBSOCKET=0 -DSN_ENABLE_SSE=0)

. tools/cm4-lib.sh # cm4_lib: an archive of MCU objects, made again when its inputs change
cm4_lib "$out/mbedtls" configs/sn_mbedtls_minimal.h -- "${mbed_flags[@]}" -- "$mbed_src"/library/*.c
cm4_lib "$out/lwip" "$here/lwipopts.h" examples/lwip/lwipopts.h -- "${lwip_flags[@]}" -- \
  "$lwip"/src/core/*.c "$lwip"/src/core/ipv4/*.c "$lwip"/src/netif/ethernet.c

extra=()
[ -n "${SN_LM3S_CFLAGS:-}" ] && read -r -a extra <<<"$SN_LM3S_CFLAGS"
app_flags=("${warn[@]}" -I. -I"$here" -Iexamples/baremetal -Ibuild/certs "${mbed_flags[@]}" "${lwip_flags[@]}" "${sn_flags[@]}" "${extra[@]}")
app=$out/app${SN_LM3S_CFLAGS:+-custom}
mkdir -p "$app"
objs=()
for f in "$here"/{startup,board,enet,main}.c examples/baremetal/{cortex_m,board_common,syscalls,semihost,stack_hooks}.c; do
  "${cc[@]}" "${app_flags[@]}" -c "$f" -o "$app/$(basename "$f" .c).o"
  objs+=("$app/$(basename "$f" .c).o")
done

mkdir -p "$(dirname "$elf")"
"${cc[@]}" -nostartfiles --specs=nano.specs -T "$here/lm3s6965.ld" -Wl,--gc-sections -Wl,-Map="$app/sn_lm3s.map" \
  "${objs[@]}" "$out/lwip/lib.a" "$out/mbedtls/lib.a" -o "$elf"
arm-none-eabi-size "$elf" | sed "s/^/$me: /"
# Static RAM and flash by owner, from the link map.
python3 "$here/map_owners.py" "$app/sn_lm3s.map" | sed "s/^/$me: /"
