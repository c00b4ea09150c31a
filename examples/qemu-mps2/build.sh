#!/bin/bash
# examples/qemu-mps2/build.sh - builds the sn_mps2 firmware for QEMU's
# mps2-an386 board (Cortex-M4): securenet's dashboard and API on HTTPS port
# 443 over lwIP (bare metal) and a LAN9118 Ethernet controller.
#
#   examples/qemu-mps2/build.sh [--out ELF]      (default build/sn_mps2.elf)
#
# Compiles, with arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os:
#   - mbedTLS 3.6 (Debian trixie's source, tools/build-mbedtls3.sh) with
#     configs/sn_mbedtls_minimal.h, server only, 16 KiB incoming records
#     (curl, OpenSSL and browsers send a large POST body in 16 KiB records;
#     the minimal config's 4 KiB would fail it with record_overflow);
#   - lwIP 2.2 (tools/fetch-lwip.sh) with examples/lwip/lwipopts.h and the
#     MCU pool sizes below, no DNS, no IP fragments;
#   - the board (startup, board, lan9118; and examples/baremetal's cortex_m,
#     board_common, syscalls, semihost, shared with examples/qemu-lm3s), the update
#     slot's simulated flash (flash_slot) and main.c,
#     with -Wall -Wextra -Werror -pedantic;
# and links them with mps2-an386.ld and newlib-nano (whose printf has no
# %llu: neither securenet nor the demo uses it). Objects go to
# build/qemu/; mbedTLS and lwIP are compiled again only when their flags or
# sources change. Inputs it makes when missing: the development
# certificates (tools/sn-certgen, build/certs/certs.h), the development
# key pair images are signed with (tools/sn-sign keygen, build/certs/sign_pub.h:
# the public key compiled in for the update slot) and the dashboard's file
# table (tools/sn-embed, build/qemu/demo_static.h).
#
# Environment: SN_MPS2_CFLAGS adds flags to the board and application files
# (e.g. -DSN_MPS2_NO_SEMIHOSTING, which must stop at securenet's entropy
# #error); JOBS (default 2) parallel compilations.
set -eu
set -o pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$top"
me=sn_mps2-build
die() { echo "$me: error: $*" >&2; exit 1; }

elf=build/sn_mps2.elf
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
if [ ! -f build/certs/sign_pub.h ]; then
  [ -x tools/sn-sign ] || die "build/certs/sign_pub.h is missing and there is no tools/sn-sign to make it (tools/sn-sign keygen build/certs)"
  tools/sn-sign keygen build/certs >&2
fi

out=build/qemu
mkdir -p "$out"
static=(examples/posix/static/*)
if [ ! -f "$out/demo_static.h" ] || [ -n "$(find "${static[@]}" tools/sn-embed -newer "$out/demo_static.h" | head -n 1)" ]; then
  python3 tools/sn-embed -o "$out/demo_static.h" --name demo_files --gzip --strip examples/posix/static "${static[@]}"
fi

here=examples/qemu-mps2
cc=(arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -g -ffunction-sections -fdata-sections -std=c99)
warn=(-Wall -Wextra -Werror -pedantic)
# mbedTLS: the minimal MCU configuration, without the TLS client (the image
# sends no mail), 16 KiB incoming records. Library and program see the same
# flags: the config takes -D overrides for both.
mbed_flags=(-Iconfigs -I"$mbed_src/include" '-DMBEDTLS_CONFIG_FILE="sn_mbedtls_minimal.h"'
  -DSN_MBEDTLS_SERVER_ONLY=1 -DMBEDTLS_SSL_IN_CONTENT_LEN=16384)
# lwIP: the project's lwipopts.h with pools for a board serving a few
# connections at once (the README's "lwIP memory" table):
#   MEM_SIZE 32 KiB        copies of sent data: TCP_SND_BUF (8 MSS) for ~3 senders
#   MEMP_NUM_TCP_PCB 12    6 connections + backlog 4 + TIME_WAIT headroom
#   MEMP_NUM_TCP_SEG 64    TCP_SND_QUEUELEN (32) for two sending connections
#   PBUF_POOL_SIZE 32      two 16 KiB TLS records in flight (TCP_WND = 12 MSS each)
lwip_flags=(-Iexamples/lwip -I"$lwip/src/include" -DMEM_SIZE=32768 -DMEMP_NUM_TCP_PCB=12
  -DMEMP_NUM_TCP_SEG=64 -DPBUF_POOL_SIZE=32 -DLWIP_DNS=0 -DIP_REASSEMBLY=0 -DIP_FRAG=0)
# securenet: HTTPS server only; certificates come compiled in (no files).
sn_flags=(-DSN_ENABLE_SMTP=0 -DSN_ENABLE_CLIENT=0 -DSN_ENABLE_PLAIN_HTTP=0 -DSN_NO_FILES=1 -DSN_MAX_CONNS=6)

. tools/cm4-lib.sh # cm4_lib: an archive of MCU objects, made again when its inputs change
cm4_lib "$out/mbedtls" configs/sn_mbedtls_minimal.h -- "${mbed_flags[@]}" -- "$mbed_src"/library/*.c
cm4_lib "$out/lwip" examples/lwip/lwipopts.h -- "${lwip_flags[@]}" -- "$lwip"/src/core/*.c "$lwip"/src/core/ipv4/*.c "$lwip"/src/netif/ethernet.c

# The board and the application: every file with the project's warnings.
extra=()
[ -n "${SN_MPS2_CFLAGS:-}" ] && read -r -a extra <<<"$SN_MPS2_CFLAGS"
app_flags=("${warn[@]}" -I. -I"$here" -Iexamples/baremetal -I"$out" -Ibuild/certs -Iexamples/common "${mbed_flags[@]}" "${lwip_flags[@]}" "${sn_flags[@]}" "${extra[@]}")
# (Objects of a build with SN_MPS2_CFLAGS go apart from the normal ones.)
app=$out/app${SN_MPS2_CFLAGS:+-custom}
mkdir -p "$app"
objs=()
# (examples/baremetal: start-up, system calls, semihosting and the counted
# heap, shared with the lm3s6965 board)
for f in "$here"/{startup,board,lan9118,flash_slot,main}.c examples/baremetal/{cortex_m,board_common,syscalls,semihost,stack_hooks}.c; do
  "${cc[@]}" "${app_flags[@]}" -c "$f" -o "$app/$(basename "$f" .c).o"
  objs+=("$app/$(basename "$f" .c).o")
done

mkdir -p "$(dirname "$elf")"
"${cc[@]}" -nostartfiles --specs=nano.specs -T "$here/mps2-an386.ld" -Wl,--gc-sections -Wl,-Map="$app/sn_mps2.map" \
  "${objs[@]}" "$out/lwip/lib.a" "$out/mbedtls/lib.a" -o "$elf"
arm-none-eabi-size "$elf" | sed "s/^/$me: /"
