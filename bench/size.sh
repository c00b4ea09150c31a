#!/bin/bash
# bench/size.sh - flash and RAM of securenet on a Cortex-M4 (`make size`).
#
#   bench/size.sh [--config FILE] [--mcpu CPU]
#
# Builds, with arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os, one complete
# firmware image per feature set: securenet (bench/size/sn.c) + its lwIP
# port (port.c) + a small application (app.c) + lwIP 2.2 (bare metal,
# examples/lwip/lwipopts.h with MCU pool sizes) + mbedTLS 3.6 built from
# Debian trixie's source with FILE (default configs/sn_mbedtls_minimal.h) +
# newlib-nano, linked with bench/size/cortex-m4.ld and --gc-sections. Then
# it reads the linker's map and prints what securenet's own objects kept
# (code + read-only data, initialised data, zeroed data), and the image's
# text/data/bss as arm-none-eabi-size reports them.
#
# Feature sets (each row adds to the one before; SN_ENABLE_* switches):
#   https   HTTPS server, router, static files; SN_ENABLE_SMTP=0,
#           SN_ENABLE_CLIENT=0, SN_ENABLE_PLAIN_HTTP=0
#   +plain  plain HTTP beside it (a listener redirecting to HTTPS)
#   +mail   the mail sender (sn_mail_send)
#   +client client connections (sn_connect) and the HTTP client
# plus the https row with SN_ENABLE_LOG=0 (no log strings). WebSocket and
# server-sent events are off in all of these (SN_ENABLE_WEBSOCKET=0,
# SN_ENABLE_SSE=0) and priced beside the https row: a WebSocket echo route
# (its mbedTLS part, SHA-1 for Sec-WebSocket-Accept, priced apart), an event
# stream route, and the WebSocket client on top of the +client row.
#
# Inputs come from the project's own scripts: the mbedTLS source from
# tools/build-mbedtls3.sh, lwIP from tools/fetch-lwip.sh (`make size`
# runs both first). Objects go to build/size/; mbedTLS and lwIP are
# compiled again only when their flags or the config change.
set -eu
set -o pipefail
shopt -s inherit_errexit

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top"
me=size
die() { echo "$me: error: $*" >&2; exit 1; }

config=configs/sn_mbedtls_minimal.h
mcpu=cortex-m4
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --mcpu) mcpu=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

command -v arm-none-eabi-gcc >/dev/null || die "arm-none-eabi-gcc is not installed"
[ -f "$config" ] || die "no mbedTLS configuration $config"
mbed_src=$(ls -d build/apt-trixie/src/mbedtls-3.6.*/ 2>/dev/null | head -n 1)
mbed_src=${mbed_src%/}
[ -n "$mbed_src" ] && [ -d "$mbed_src/library" ] || die "no mbedTLS 3.6 source: run tools/build-mbedtls3.sh (make mbedtls3)"
lwip=${LWIP_DIR:-build/lwip}
[ -f "$lwip/src/core/tcp.c" ] || die "no lwIP source in $lwip: run tools/fetch-lwip.sh $lwip"

out=build/size
mkdir -p "$out"
cc=(arm-none-eabi-gcc -mcpu="$mcpu" -mthumb -Os -ffunction-sections -fdata-sections -std=c99)
warn=(-Wall -Wextra -Werror -pedantic)
cfg_name=$(basename "$config")
mbed_inc=(-I"$(dirname "$config")" -I"$mbed_src/include" "-DMBEDTLS_CONFIG_FILE=\"$cfg_name\"")
# lwIP with an MCU's pools (examples/lwip/lwipopts.h lets these be set)
# and no assertions (LWIP_NOASSERT), as a release build has; a server alone
# also goes without DNS, UDP and IP fragments (lwip_srv), and without
# mbedTLS's TLS client (SN_MBEDTLS_SERVER_ONLY, configs/sn_mbedtls_minimal.h).
lwip_defs=(-DMEM_SIZE=20480 -DMEMP_NUM_TCP_PCB=12 -DMEMP_NUM_TCP_SEG=32 -DPBUF_POOL_SIZE=24 -DLWIP_NOASSERT)
lwip_srv=(-DLWIP_DNS=0 -DIP_REASSEMBLY=0 -DIP_FRAG=0)
mbed_srv=(-DSN_MBEDTLS_SERVER_ONLY=1)
lwip_inc=(-Iexamples/lwip -I"$lwip/src/include")

. tools/cm4-lib.sh # cm4_lib

lwip_srcs=("$lwip"/src/core/*.c "$lwip"/src/core/ipv4/*.c "$lwip"/src/netif/ethernet.c)
cm4_lib "$out/mbedtls" "$config" -- "${mbed_inc[@]}" -- "$mbed_src"/library/*.c
cm4_lib "$out/mbedtls-srv" "$config" -- "${mbed_inc[@]}" "${mbed_srv[@]}" -- "$mbed_src"/library/*.c
# the same configuration without MBEDTLS_SHA1_C (WebSocket's only need):
# what SHA-1 costs the minimal server, which links it through PSA's hash
# dispatch whether or not WebSocket is used
nosha1_dir=$out/cfg-nosha1
mkdir -p "$nosha1_dir"
sed 's|^#define MBEDTLS_SHA1_C$|/* MBEDTLS_SHA1_C left out by bench/size.sh */|' "$config" >"$nosha1_dir/$cfg_name.new"
cmp -s "$nosha1_dir/$cfg_name.new" "$nosha1_dir/$cfg_name" || mv "$nosha1_dir/$cfg_name.new" "$nosha1_dir/$cfg_name"
rm -f "$nosha1_dir/$cfg_name.new"
nosha1_inc=(-I"$nosha1_dir" "${mbed_inc[@]}")
if ! grep -q '^#define MBEDTLS_SHA1_C$' "$config"; then nosha1_dir=""; fi
[ -n "$nosha1_dir" ] && cm4_lib "$out/mbedtls-srv-nosha1" "$nosha1_dir/$cfg_name" -- "${nosha1_inc[@]}" "${mbed_srv[@]}" -- \
  "$mbed_src"/library/*.c
cm4_lib "$out/lwip" examples/lwip/lwipopts.h -- "${lwip_inc[@]}" "${lwip_defs[@]}" -- "${lwip_srcs[@]}"
cm4_lib "$out/lwip-srv" examples/lwip/lwipopts.h -- "${lwip_inc[@]}" "${lwip_defs[@]}" "${lwip_srv[@]}" -- "${lwip_srcs[@]}"

# map_sum MAP OBJ: "flash data bss" that OBJ contributed to the image
# (sections named in the map's memory part, after garbage collection).
map_sum() {
  awk -v obj="$2" '
    function hex(s,   i, v) {
      v = 0
      for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    function add(sec, size, file) {
      if (index(file, obj) == 0 || substr(file, length(file) - length(obj) + 1) != obj) return
      size = hex(size)
      if (sec ~ /^\.(text|rodata)/) flash += size
      else if (sec ~ /^\.data/) data += size
      else if (sec ~ /^\.bss|^COMMON/) bss += size
    }
    /^Linker script and memory map/ { go = 1; next }
    !go { next }
    /^ [.A-Za-z_][^ ]*$/ { sec = $1; next }                      # a long name: numbers on the next line
    /^ [.A-Za-z_][^ ]* +0x[0-9a-f]+ +0x[0-9a-f]+ / { add($1, $3, $4); sec = ""; next }
    sec != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ / { add(sec, $2, $3); sec = ""; next }
    { sec = "" }
    END { printf "%d %d %d\n", flash, data, bss }' "$1"
}

# image NAME srv|full FLAGS...: links one image, prints "sn_flash sn_data sn_bss port_flash port_data port_bss
# text data bss sha1_flash" (sha1_flash: what mbedTLS's sha1.o put in the image)
image() {
  local name=$1 dir=$out/img-$1 suffix="" extra=()
  local inc=("${mbed_inc[@]}") lwsuffix=""
  [ "$2" = srv ] && suffix=-srv lwsuffix=-srv extra=("${mbed_srv[@]}" "${lwip_srv[@]}")
  [ "$2" = srv-nosha1 ] && suffix=-srv-nosha1 lwsuffix=-srv extra=("${mbed_srv[@]}" "${lwip_srv[@]}") inc=("${nosha1_inc[@]}")
  shift 2
  mkdir -p "$dir"
  local common=("${cc[@]}" "${warn[@]}" -I. "${inc[@]}" "${lwip_inc[@]}" "${lwip_defs[@]}" "${extra[@]}" "$@")
  "${common[@]}" -c bench/size/sn.c -o "$dir/sn.o"
  "${common[@]}" -c bench/size/port.c -o "$dir/port.o"
  "${common[@]}" -c bench/size/app.c -o "$dir/app.o"
  "${cc[@]}" "${warn[@]}" -c bench/size/startup.c -o "$dir/startup.o"
  "${cc[@]}" -nostartfiles -T bench/size/cortex-m4.ld -Wl,--gc-sections -Wl,-Map="$dir/image.map" \
    --specs=nano.specs --specs=nosys.specs "$dir/startup.o" "$dir/app.o" "$dir/sn.o" "$dir/port.o" \
    "$out/lwip$lwsuffix/lib.a" "$out/mbedtls$suffix/lib.a" -o "$dir/image.elf" 2>"$dir/link.log" ||
    { cat "$dir/link.log" >&2; die "linking $name failed"; }
  local sn port sz
  sn=$(map_sum "$dir/image.map" "$dir/sn.o")
  port=$(map_sum "$dir/image.map" "$dir/port.o")
  sz=$(arm-none-eabi-size "$dir/image.elf" | awk 'NR == 2 { print $1, $2, $3 }')
  echo "$sn $port $sz $(map_sum "$dir/image.map" "lib.a(sha1.o)" | cut -d' ' -f1)"
}

live=(-DSN_ENABLE_WEBSOCKET=0 -DSN_ENABLE_SSE=0)
srv_off=(-DSN_ENABLE_SMTP=0 -DSN_ENABLE_CLIENT=0 -DSN_ENABLE_PLAIN_HTTP=0)
off=("${srv_off[@]}" "${live[@]}")
declare -A row
row[https]=$(image https srv "${off[@]}")
row[nolog]=$(image nolog srv "${off[@]}" -DSN_ENABLE_LOG=0)
row[plain]=$(image plain srv -DSN_ENABLE_SMTP=0 -DSN_ENABLE_CLIENT=0 "${live[@]}" -DSIZE_PLAIN)
row[mail]=$(image mail full -DSN_ENABLE_CLIENT=0 "${live[@]}" -DSIZE_PLAIN -DSIZE_MAIL)
row[all]=$(image all full "${live[@]}" -DSIZE_PLAIN -DSIZE_MAIL -DSIZE_CLIENT -DSIZE_HTTPC)
row[ws]=$(image ws srv "${srv_off[@]}" -DSN_ENABLE_SSE=0 -DSIZE_WS)
row[sse]=$(image sse srv "${srv_off[@]}" -DSN_ENABLE_WEBSOCKET=0 -DSIZE_SSE)
[ -n "$nosha1_dir" ] && row[nosha1]=$(image nosha1 srv-nosha1 "${off[@]}")
row[wsc]=$(image wsc full -DSN_ENABLE_SSE=0 -DSIZE_PLAIN -DSIZE_MAIL -DSIZE_CLIENT -DSIZE_HTTPC -DSIZE_WS -DSIZE_WSC)
row[ota]=$(image ota srv "${off[@]}" -DSN_ENABLE_MULTIPART=0 -DSIZE_OTA)
row[mp]=$(image mp srv "${off[@]}" -DSIZE_OTA)
row[auth]=$(image auth srv "${off[@]}" -DSIZE_AUTH)

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
field() { echo "${row[$1]}" | cut -d' ' -f"$2"; }

echo "securenet on Cortex-M4 ($(arm-none-eabi-gcc --version | head -n 1 | sed 's/.*) //'), -mcpu=$mcpu -mthumb -Os, --gc-sections"
echo "mbedTLS $(basename "$mbed_src" | sed 's/mbedtls-//') with $config; lwIP $(awk '/define LWIP_VERSION_(MAJOR|MINOR|REVISION)[ \t]/ { v = v (v ? "." : "") $3 } END { print v }' "$lwip/src/include/lwip/init.h" | tr -d 'U')"
echo
echo "securenet's own code (what the linker kept of securenet.h; read-only data included):"
printf '  %-48s %10s %8s %10s\n' "feature set" "flash B" "KiB" "RAM B"
prev=0
for r in https plain mail all; do
  case $r in
    https) label="HTTPS server, router, static files" ;;
    plain) label="+ plain HTTP (SN_ENABLE_PLAIN_HTTP)" ;;
    mail) label="+ mail sender (SN_ENABLE_SMTP)" ;;
    all) label="+ client connections, HTTP client (SN_ENABLE_CLIENT)" ;;
  esac
  f=$(field $r 1)
  printf '  %-48s %10d %8s %10d   (+%d)\n' "$label" "$f" "$(kib "$f")" $(($(field $r 2) + $(field $r 3))) $((f - prev))
  prev=$f
done
pf=$(field all 4)
printf '  %-48s %10d %8s %10d\n' "+ lwIP port (securenet_port_lwip.h)" "$((prev + pf))" "$(kib $((prev + pf)))" \
  $(($(field all 2) + $(field all 3) + $(field all 5) + $(field all 6)))
printf '  %-48s %10d %8s\n' "  (the lwIP port alone)" "$pf" "$(kib "$pf")"
f=$(field nolog 1)
printf '  %-48s %10d %8s   (%d)\n' "HTTPS server with SN_ENABLE_LOG=0" "$f" "$(kib "$f")" $((f - $(field https 1)))
f=$(field ota 1)
printf '  %-48s %10d %8s   (+%d, the verifier and its route; SN_ENABLE_OTA)\n' "HTTPS server + signed updates, raw bodies" "$f" "$(kib "$f")" $((f - $(field https 1)))
printf '  %-48s %10d %8s   (+%d, the multipart parser; SN_ENABLE_MULTIPART)\n' "  + multipart/form-data uploads" "$(field mp 1)" "$(kib "$(field mp 1)")" $(($(field mp 1) - f))
f=$(field auth 1)
printf '  %-48s %10d %8s   (+%d, users, guards, sessions, throttle; SN_ENABLE_AUTH)\n' "HTTPS server + login" "$f" "$(kib "$f")" $((f - $(field https 1)))
f=$(field ws 1)
printf '  %-48s %10d %8s   (+%d, handshake, frames, UTF-8, close; SN_ENABLE_WEBSOCKET)\n' "HTTPS server + WebSocket (sn_ws_upgrade)" "$f" "$(kib "$f")" $((f - $(field https 1)))
f=$(field sse 1)
printf '  %-48s %10d %8s   (+%d, event stream, keepalive; SN_ENABLE_SSE)\n' "HTTPS server + server-sent events" "$f" "$(kib "$f")" $((f - $(field https 1)))
f=$(field wsc 1)
printf '  %-48s %10d %8s   (+%d over the +client row: server and client)\n' "  + client connections + WebSocket (sn_ws_connect)" "$f" "$(kib "$f")" $((f - $(field all 1)))
echo
echo "complete images (securenet + lwIP port + lwIP + mbedTLS + newlib-nano + app; arm-none-eabi-size):"
printf '  %-48s %10s %8s %8s %10s\n' "image" "text" "KiB" "data" "bss"
for r in https plain mail all; do
  case $r in
    https) label="minimal HTTPS server (no TLS client, no DNS)" ;;
    plain) label="+ plain HTTP" ;;
    mail) label="+ mail sender (TLS client, DNS)" ;;
    all) label="+ client connections, HTTP client" ;;
  esac
  t=$(field $r 7)
  printf '  %-48s %10d %8s %8d %10d\n' "$label" "$t" "$(kib "$t")" "$(field $r 8)" "$(field $r 9)"
done
for r in ota mp ws sse; do # beside the minimal server: what updates add, mbedTLS's ECDSA verify and pk parsing included
  case $r in
    ota) label="minimal HTTPS server + signed updates (raw)" ;;
    mp) label="  + multipart/form-data uploads" ;;
    ws) label="minimal HTTPS server + WebSocket" ;;
    sse) label="minimal HTTPS server + server-sent events" ;;
  esac
  t=$(field $r 7)
  printf '  %-48s %10d %8s %8d %10d   (+%d)\n' "$label" "$t" "$(kib "$t")" "$(field $r 8)" "$(field $r 9)" $((t - $(field https 7)))
done
t=$(field wsc 7)
printf '  %-48s %10d %8s %8d %10d   (+%d over + client connections)\n' "  + WebSocket server and client" "$t" "$(kib "$t")" \
  "$(field wsc 8)" "$(field wsc 9)" $((t - $(field all 7)))
printf '  %-48s %10d %8s   (mbedTLS sha1.o in the WebSocket image; %d B in the minimal one)\n' "  (SHA-1 alone, MBEDTLS_SHA1_C)" \
  "$(field ws 10)" "$(kib "$(field ws 10)")" "$(field https 10)"
if [ -n "${row[nosha1]:-}" ]; then # PSA's hash dispatch links SHA-1 into every image of a configuration that has it
  t=$(field nosha1 7)
  printf '  %-48s %10d %8s %8d %10d   (%d: what MBEDTLS_SHA1_C costs every image)\n' "minimal HTTPS server, mbedTLS without SHA-1" "$t" \
    "$(kib "$t")" "$(field nosha1 8)" "$(field nosha1 9)" $((t - $(field https 7)))
fi
if [ -x examples/qemu-mps2/build.sh ]; then # the firmware that really runs (make qemu)
  if examples/qemu-mps2/build.sh --out build/sn_mps2.elf >"$out/qemu.log" 2>&1; then
    # (its bss without .psram: the update slot's simulated flash, RAM a real board has as flash)
    psram=$(arm-none-eabi-size -A build/sn_mps2.elf | awk '$1 == ".psram" { print $2 }')
    arm-none-eabi-size build/sn_mps2.elf | awk -v p="${psram:-0}" 'NR == 2 { printf "  %-48s %10d %8.1f %8d %10d\n", "sn_mps2 (QEMU mps2-an386, examples/qemu-mps2)", $1, $1 / 1024, $2, $3 - p }'
  else
    echo "  sn_mps2: build failed (see $out/qemu.log)"
  fi
fi
if [ -x examples/qemu-lm3s/build.sh ]; then # the 64 KiB Cortex-M3 firmware (make qemu-lm3s)
  if examples/qemu-lm3s/build.sh --out build/sn_lm3s.elf >"$out/qemu-lm3s.log" 2>&1; then
    arm-none-eabi-size build/sn_lm3s.elf | awk 'NR == 2 { printf "  %-48s %10d %8.1f %8d %10d\n", "sn_lm3s (QEMU lm3s6965evb, examples/qemu-lm3s)", $1, $1 / 1024, $2, $3 }'
  else
    echo "  sn_lm3s: build failed (see $out/qemu-lm3s.log)"
  fi
fi
echo
echo "(images: build/size/img-*/image.elf, maps beside them; bss includes lwIP's pools: $(printf '%s ' "${lwip_defs[@]}" | sed 's/-D//g'))"
