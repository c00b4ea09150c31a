#!/usr/bin/env bash
# Compiles securenet.h the ways users meet it, with every warning an error:
# declarations and implementation, gcc and clang, C99 and C++, 64 and 32 bit
# (also the in-memory test port, securenet_port_mem.h),
# and the implementation for Cortex-M4 when arm-none-eabi-gcc is here.
#   tests/check-build.sh "MBED_CFLAGS" BUILD_DIR
# MBEDTLS_MAJOR (2 or 3) says which mbedTLS an empty MBED_CFLAGS (the
# system's headers) is; without it, empty means 2.28 and non-empty 3.6.
set -u
mbed=${1:-}
build=${2:-build}
MBED_LIBS=${MBED_LIBS:--lmbedtls -lmbedx509 -lmbedcrypto}
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "securenet.h"\n#include "securenet_port_posix.h"\nint main(void) { return sn_strerror(0) == 0; }\n' > "$tmp/decl.c"
printf '#define SECURENET_IMPLEMENTATION\n#include "securenet.h"\n#include "securenet_port_posix.h"\nint main(void) { return sn_posix_port() == 0; }\n' > "$tmp/impl.c"
cp "$tmp/decl.c" "$tmp/decl.cpp"
cp "$tmp/impl.c" "$tmp/impl.cpp"
W="-Wall -Wextra -Werror -pedantic"
# check NAME COMMAND...: COMMAND in the background, one per CPU at a time (an
# object file it writes directly in $tmp gets a name of its own); check_flush
# waits for them and prints their lines in order
ncpu=$(nproc 2>/dev/null || echo 1)
mkdir -p "$tmp/chk"
names=() running=0
check() {
  local k=${#names[@]} a args=()
  names+=("$1"); shift
  for a in "$@"; do
    case $a in "$tmp"/*/*) ;; "$tmp"/*.o) a=$tmp/chk/$k.o ;; esac
    args+=("$a")
  done
  { "${args[@]}" >"$tmp/chk/$k.out" 2>&1; echo $? >"$tmp/chk/$k.rc"; } &
  running=$((running + 1))
  if [ "$running" -ge "$ncpu" ]; then wait -n; running=$((running - 1)); fi
}
check_flush() {
  local k
  wait; running=0
  for k in "${!names[@]}"; do
    [ -f "$tmp/chk/$k.rc" ] || continue
    if [ "$(cat "$tmp/chk/$k.rc")" = 0 ]; then
      echo "ok - builds cleanly: ${names[$k]}"; pass=$((pass + 1))
    else
      echo "not ok - builds cleanly: ${names[$k]}"; head -n 20 "$tmp/chk/$k.out"; fail=$((fail + 1))
    fi
    rm -f "$tmp/chk/$k.rc"
  done
}
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  check "$cc C99 declarations" $cc -std=c99 $W $mbed -I. -c "$tmp/decl.c" -o "$tmp/d.o"
  check "$cc C99 implementation" $cc -std=c99 $W $mbed -I. -c "$tmp/impl.c" -o "$tmp/i.o"
  check "$cc C99 -m32 implementation" $cc -m32 -std=c99 $W $mbed -I. -fsyntax-only "$tmp/impl.c"
  check "$cc sn_demo" $cc -std=c99 $W $mbed -I. -I"$build" -Iexamples/common -fsyntax-only examples/posix/sn_demo.c
  for ex in sn_sendmail sn_tlscat sn_fetch; do
    check "$cc $ex" $cc -std=c99 $W $mbed -I. -Iexamples/common -fsyntax-only examples/posix/$ex.c
  done
  check "$cc -m32 sn_fetch" $cc -m32 -std=c99 $W $mbed -I. -Iexamples/common -fsyntax-only examples/posix/sn_fetch.c
done
# Each SN_ENABLE_* switch off on its own, and all together (gcc and clang):
# what is left builds without a warning; all off also runs (tests/feature_off.c).
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  for sw in SN_ENABLE_SMTP SN_ENABLE_CLIENT SN_ENABLE_HTTP_CLIENT SN_ENABLE_PLAIN_HTTP SN_ENABLE_LOG SN_ENABLE_MULTIPART SN_ENABLE_OTA SN_ENABLE_AUTH SN_ENABLE_WEBSOCKET SN_ENABLE_SSE; do
    check "$cc implementation with $sw=0" $cc -std=c99 $W $mbed -I. -D$sw=0 -c "$tmp/impl.c" -o "$tmp/i.o"
  done
done
off="-DSN_ENABLE_SMTP=0 -DSN_ENABLE_CLIENT=0 -DSN_ENABLE_PLAIN_HTTP=0 -DSN_ENABLE_LOG=0 -DSN_ENABLE_MULTIPART=0 -DSN_ENABLE_OTA=0 -DSN_ENABLE_AUTH=0 -DSN_ENABLE_WEBSOCKET=0 -DSN_ENABLE_SSE=0"
check "gcc every optional feature off (tests/feature_off.c)" gcc -std=c99 $W $mbed $off -I. tests/feature_off.c \
  -o "$tmp/feature_off" $MBED_LIBS -pthread
check_flush
if [ -x "$tmp/feature_off" ]; then
  if out=$("$tmp/feature_off" 2>&1); then
    echo "ok - runs with every optional feature off"; pass=$((pass + 1))
  else
    echo "not ok - runs with every optional feature off"; fail=$((fail + 1))
  fi
  echo "$out" | sed 's/^/# /'
fi
# A system header before securenet.h in the implementation file (strict C99): glibc
# has hidden the POSIX port's interfaces; the first error says what to do.
printf '#include <stdio.h>\n#define SECURENET_IMPLEMENTATION\n#include "securenet.h"\n#include "securenet_port_posix.h"\nint main(void) { return sn_posix_port() == 0; }\n' > "$tmp/order.c"
if out=$(gcc -std=c99 $W $mbed -I. -c "$tmp/order.c" -o "$tmp/o.o" 2>&1); then
  echo "ok - a system header before securenet.h builds here (not glibc)"; pass=$((pass + 1))
elif grep -m1 'error' <<<"$out" | grep -q "include securenet.h before any system header"; then
  echo "ok - a system header before securenet.h in the implementation file: the first error says to include securenet.h first"
  pass=$((pass + 1))
else
  echo "not ok - a system header before securenet.h in the implementation file: the first error says to include securenet.h first"
  echo "$out" | head -n 5; fail=$((fail + 1))
fi
check "gcc C99 a system header before securenet.h with -D_POSIX_C_SOURCE=200809L" \
  gcc -std=c99 -D_POSIX_C_SOURCE=200809L $W $mbed -I. -c "$tmp/order.c" -o "$tmp/o.o"
if out=$(gcc -std=c99 $W $mbed -I. -DSN_ENABLE_CLIENT=0 -DSN_ENABLE_HTTP_CLIENT=1 -c "$tmp/impl.c" -o "$tmp/i.o" 2>&1); then
  echo "not ok - SN_ENABLE_HTTP_CLIENT without SN_ENABLE_CLIENT is refused"; fail=$((fail + 1))
elif grep -q "SN_ENABLE_HTTP_CLIENT needs SN_ENABLE_CLIENT" <<<"$out"; then
  echo "ok - SN_ENABLE_HTTP_CLIENT without SN_ENABLE_CLIENT is refused"; pass=$((pass + 1))
else
  echo "not ok - SN_ENABLE_HTTP_CLIENT without SN_ENABLE_CLIENT is refused (other error)"; echo "$out" | head -n 5
  fail=$((fail + 1))
fi
for cxx in g++ clang++; do
  command -v $cxx >/dev/null || continue
  check "$cxx C++11 declarations" $cxx -std=c++11 $W $mbed -I. -c "$tmp/decl.cpp" -o "$tmp/d.o"
  check "$cxx C++11 implementation" $cxx -std=c++11 $W $mbed -I. -c "$tmp/impl.cpp" -o "$tmp/i.o"
done
# The in-memory test port (securenet_port_mem.h): declarations alone, and its
# implementation with securenet's, its allocator as SN_MALLOC/SN_FREE.
printf '#include "securenet_port_mem.h"\nint main(void) { return sn_mem_heap_get() == 0; }\n' > "$tmp/mem_decl.c"
printf '#define SN_MALLOC(n) sn_mem_malloc(n)\n#define SN_FREE(p) sn_mem_free(p)\n#define SECURENET_IMPLEMENTATION\n#define SECURENET_PORT_MEM_IMPLEMENTATION\n#include "securenet_port_mem.h"\nstatic sn_mem m;\nint main(void) { sn_mem_init(&m); return sn_mem_port(&m)->ctx != &m; }\n' > "$tmp/mem_impl.c"
cp "$tmp/mem_decl.c" "$tmp/mem_decl.cpp"
cp "$tmp/mem_impl.c" "$tmp/mem_impl.cpp"
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  check "$cc C99 securenet_port_mem.h declarations" $cc -std=c99 $W $mbed -I. -c "$tmp/mem_decl.c" -o "$tmp/d.o"
  check "$cc C99 securenet_port_mem.h implementation" $cc -std=c99 $W $mbed -I. -c "$tmp/mem_impl.c" -o "$tmp/i.o"
  check "$cc C99 -m32 securenet_port_mem.h implementation" $cc -m32 -std=c99 $W $mbed -I. -fsyntax-only "$tmp/mem_impl.c"
done
for cxx in g++ clang++; do
  command -v $cxx >/dev/null || continue
  check "$cxx C++11 securenet_port_mem.h declarations" $cxx -std=c++11 $W $mbed -I. -c "$tmp/mem_decl.cpp" -o "$tmp/d.o"
  check "$cxx C++11 securenet_port_mem.h implementation" $cxx -std=c++11 $W $mbed -I. -c "$tmp/mem_impl.cpp" -o "$tmp/i.o"
done
check_flush
# Cortex-M4, -Os: the implementation without a port (a port is the MCU's own).
if command -v arm-none-eabi-gcc >/dev/null; then
  printf '#define SECURENET_IMPLEMENTATION\n#include "securenet.h"\n' > "$tmp/mcu.c"
  major=${MBEDTLS_MAJOR:-$([ -z "$mbed" ] && echo 2 || echo 3)}
  if [ -z "$mbed" ] && [ "$major" = 2 ]; then # Debian's 2.28: its headers only, seen through an MCU configuration
    mkdir -p "$tmp/inc" && ln -s /usr/include/mbedtls "$tmp/inc/mbedtls"
    arm_mbed=(-isystem "$tmp/inc" '-DMBEDTLS_CONFIG_FILE="mbedtls_cm4_check.h"')
  elif [ -z "$mbed" ]; then # the system's 3.6 or newer (Debian trixie): its headers only, with the Cortex-M adjustments
    mkdir -p "$tmp/inc" && ln -s /usr/include/mbedtls "$tmp/inc/mbedtls" && ln -s /usr/include/psa "$tmp/inc/psa"
    arm_mbed=(-isystem "$tmp/inc" '-DMBEDTLS_USER_CONFIG_FILE="mbedtls3_cm4_check.h"')
  else
    arm_mbed=($mbed '-DMBEDTLS_USER_CONFIG_FILE="mbedtls3_cm4_check.h"')
  fi
  check "arm-none-eabi-gcc Cortex-M4 -Os implementation" arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -std=c99 \
    $W -I. -Iconfigs "${arm_mbed[@]}" -c "$tmp/mcu.c" -o "$tmp/mcu.o"
fi
# Cortex-M4, -Os -Werror: securenet with its lwIP port, lwIP's sources (NO_SYS=1,
# examples/lwip/lwipopts.h) and, on mbedTLS 3.6, mbedTLS's own sources, linked
# into one ELF with newlib (tests/lwip_cm4.c: a board of made-up registers).
lwip=${LWIP_DIR:-build/lwip}
if command -v arm-none-eabi-gcc >/dev/null && [ -f "$lwip/src/core/tcp.c" ]; then
  cm4=(arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -ffunction-sections -fdata-sections)
  mkdir -p "$tmp/cm4"
  # cm4_each PREFIX FLAGS -- FILE...: each FILE compiled with "${cm4[@]}" FLAGS into $tmp/cm4/PREFIX_NAME.o,
  # one per CPU at a time; 1 if any failed (their messages on stderr)
  ncpu=$(nproc 2>/dev/null || echo 1)
  cm4_each() {
    local prefix=$1 flags=() f rc=0 n=0; shift
    while [ "$1" != "--" ]; do flags+=("$1"); shift; done; shift
    for f in "$@"; do
      "${cm4[@]}" "${flags[@]}" -c "$f" -o "$tmp/cm4/${prefix}_$(basename "$f" .c).o" &
      n=$((n + 1))
      if [ "$n" -ge "$ncpu" ]; then wait -n || rc=1; n=$((n - 1)); fi
    done
    while [ "$n" -gt 0 ]; do wait -n || rc=1; n=$((n - 1)); done
    return $rc
  }
  lw_ok=0
  cm4_each lwip -std=c99 -Wall -Werror -Iexamples/lwip -I"$lwip/src/include" -- \
    "$lwip"/src/core/*.c "$lwip"/src/core/ipv4/*.c "$lwip"/src/netif/ethernet.c || lw_ok=1
  check "arm-none-eabi-gcc Cortex-M4 -Os -Werror: lwIP's sources with examples/lwip/lwipopts.h" test $lw_ok = 0
  check "arm-none-eabi-gcc Cortex-M4 -Os -Werror: securenet + securenet_port_lwip.h" "${cm4[@]}" -std=c99 $W -I. -Iconfigs \
    "${arm_mbed[@]}" -Iexamples/lwip -I"$lwip/src/include" -c tests/lwip_cm4.c -o "$tmp/cm4/app.o"
  check_flush
  # What the port refuses to build without, each stopping with its #error and the fix in words.
  refuses() { # name, message, extra flags...
    local name=$1 msg=$2 out; shift 2
    out=$("${cm4[@]}" -std=c99 $W -I. -Iconfigs "${arm_mbed[@]}" -Iexamples/lwip -I"$lwip/src/include" "$@" \
      -c tests/lwip_cm4.c -o "$tmp/cm4/refused.o" 2>&1)
    if [ $? -ne 0 ] && grep -q "$msg" <<<"$out"; then
      echo "ok - the lwIP port refuses to build $name"; pass=$((pass + 1))
    else
      echo "not ok - the lwIP port refuses to build $name"; echo "$out" | head -n 5; fail=$((fail + 1))
    fi
  }
  refuses "without SN_LWIP_ENTROPY (no fallback to a clock)" "define SN_LWIP_ENTROPY" -DLWIP_CM4_NO_ENTROPY
  refuses "without a wall-clock choice (SN_LWIP_WALL_S or SN_LWIP_NO_WALL_CLOCK)" "define SN_LWIP_WALL_S" -DLWIP_CM4_NO_CLOCK_CHOICE
  refuses "with TCP_WND smaller than one TLS record" "TCP_WND is smaller than one TLS record" -DLWIP_CM4_SMALL_WND
  rm -f "$tmp/cm4/refused.o"
  mbed_src=$(ls -d build/apt-trixie/src/mbedtls-3.6.*/library 2>/dev/null | head -n 1)
  if [ -n "$mbed" ] && [ -n "$mbed_src" ]; then
    mb_ok=0
    # shellcheck disable=SC2086
    cm4_each mbed -std=c99 -Werror $mbed -I"$mbed_src" -Iconfigs '-DMBEDTLS_USER_CONFIG_FILE="mbedtls3_cm4_check.h"' -- \
      "$mbed_src"/*.c || mb_ok=1
    check "arm-none-eabi-gcc Cortex-M4 -Os -Werror: mbedTLS 3.6's sources" test $mb_ok = 0
    check_flush
    check "Cortex-M4 image links (securenet + lwIP port + lwIP + mbedTLS, newlib-nano)" "${cm4[@]}" -Wl,--gc-sections \
      --specs=nano.specs --specs=nosys.specs "$tmp"/cm4/*.o -o "$tmp/cm4/lwip_cm4.elf"
    check_flush
    [ -f "$tmp/cm4/lwip_cm4.elf" ] && arm-none-eabi-size "$tmp/cm4/lwip_cm4.elf" | sed 's/^/# /'
  fi
fi
check_flush
echo "check-build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
