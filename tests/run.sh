#!/usr/bin/env bash
# Runs securenet's test suites and prints one closing line: "N passed, N failed".
#   tests/run.sh [--unit] BUILD_DIR
# Each suite prints "ok - ..." / "not ok - ..." lines; this script counts them
# and also counts a suite that crashes or exits non-zero without a "not ok".
# Environment (make test sets them):
#   MBEDTLS_MAJOR  3 or 2: the mbedTLS BUILD_DIR was built with (default: what
#                  BUILD_DIR/.mbedtls says, else 3). The 3.6 pass runs every
#                  suite; the 2.28 pass, to keep CI's two passes within its
#                  time, runs what differs by mbedTLS once: check-build, the
#                  unit tests, the fuzz targets that reach mbedTLS, and each
#                  integration suite under ASan/UBSan only (no release or
#                  valgrind twin). Some run in one pass only: the testssl
#                  audit, the browsers, the QEMU firmware and the valgrind
#                  suites with 3; the abuse suite and the lwIP port under
#                  ASan/UBSan with 2.
#   MBED_CFLAGS, MBED_LIBS  how to compile against that mbedTLS (check-build,
#                  fuzz regressions; empty: the system's)
#   SN_MPS2_ELF    the QEMU firmware to boot (default with 3: build/sn_mps2.elf
#                  if it exists; empty: none)
set -u
unit_only=0
if [ "${1:-}" = "--unit" ]; then unit_only=1; shift; fi
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
major=${MBEDTLS_MAJOR:-}
if [ -z "$major" ]; then
  case $(cat "$build/.mbedtls" 2>/dev/null) in "system mbedTLS 2."*) major=2 ;; *) major=3 ;; esac
fi
case $major in
  2|3) export MBEDTLS_MAJOR=$major ;;
  *) echo "tests/run.sh: MBEDTLS_MAJOR must be 2 or 3, not '$major'" >&2; exit 2 ;;
esac
echo "# mbedTLS $major ($(sed 's/:.*//' "$build/.mbedtls" 2>/dev/null || echo "${MBED_CFLAGS:-system headers}")), binaries in $build"
log=$(mktemp)
pass=0 fail=0
# rel: the release build's run of a suite that also runs under ASan/UBSan (the 3.6 pass only)
rel() { [ "$major" = 3 ]; }

run_suite() { # name, command...
  local name=$1 t0=$SECONDS; shift
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  count_suite "$name" "${PIPESTATUS[0]}" "$log" $((SECONDS - t0))
}
count_suite() { # name, exit status, its output, seconds
  local name=$1 rc=$2 p f
  echo "# $name: $4 s (at $SECONDS s)"
  p=$(grep -c '^ok ' "$3")
  f=$(grep -c '^not ok ' "$3")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $name exited with status $rc"
    f=1
  fi
  pass=$((pass + p)); fail=$((fail + f))
}
# two_at_once NAME COMMAND...: suites run two at a time (the valgrind ones: each
# a single-threaded process mostly, and their ports in blocks of their own);
# two_at_once_end waits for them and shows each one's output whole, in order
pool=() pool_dir=$(mktemp -d) pool_running=0
trap 'rm -f "$log"; rm -rf "$pool_dir"' EXIT
two_at_once() {
  local k=${#pool[@]} name=$1; shift
  pool+=("$name")
  { t0=$SECONDS; "$@" >"$pool_dir/$k.out" 2>&1; echo "$? $((SECONDS - t0))" >"$pool_dir/$k.rc"; } &
  pool_running=$((pool_running + 1))
  if [ "$pool_running" -ge 2 ]; then wait -n; pool_running=$((pool_running - 1)); fi
}
two_at_once_end() {
  local k rc secs
  wait; pool_running=0
  for k in "${!pool[@]}"; do
    echo "== ${pool[$k]}"
    cat "$pool_dir/$k.out"
    read -r rc secs <"$pool_dir/$k.rc" || { rc=1; secs=0; }
    count_suite "${pool[$k]}" "$rc" "$pool_dir/$k.out" "$secs"
  done
  pool=()
}

if [ "$unit_only" -eq 0 ]; then
  run_suite "check-build" tests/check-build.sh "${MBED_CFLAGS:-}" "$build"
fi
for t in test_http_parser test_chunked test_router test_faults test_tls_setup test_mime test_smtp test_multipart test_auth \
  test_posix_port test_posix_port_pipe test_wakeup test_lifecycle test_ws test_ota test_flash_slot; do
  [ -x "$build/$t" ] && run_suite "$t" "$build/$t"
  [ -x "$build/asan/$t" ] && run_suite "$t (ASan/UBSan)" env ASAN_OPTIONS=detect_leaks=1 "$build/asan/$t"
done
if [ "$unit_only" -eq 0 ]; then
  if command -v valgrind >/dev/null && [ -x "$build/test_faults" ]; then
    run_suite "test_faults (valgrind)" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 "$build/test_faults"
  fi
  # every committed fuzz input and regression, replayed once (tests/fuzz/README.md)
  # (the 2.28 pass: the targets whose code calls mbedTLS, TLS records, SMTP's STARTTLS, base64
  # and PBKDF2, SHA-1 and base64; the parsers are the same with either)
  ft=${FUZZ_TARGETS:-}
  if [ "$major" = 2 ] && [ -z "$ft" ]; then ft="server smtp auth ws"; fi
  run_suite "fuzz regressions" env BUILD="$build" ${ft:+"FUZZ_TARGETS=$ft"} tests/fuzz/run.sh --regress "$build"
  # tools/sn-sign: keys, the image layout read back with od, 150 signatures, every refusal of verify
  # (a shell tool on openssl: once, in the 3.6 pass)
  if [ "$major" = 3 ]; then run_suite "sn-sign" tests/sign_tool.sh; fi
  # tools/sn-passwd: lines against openssl's PBKDF2, every refusal, --check, --header compiled and printed back
  # (a Python tool: once, in the 3.6 pass)
  if [ "$major" = 3 ]; then run_suite "sn-passwd" tests/passwd_tool.sh; fi
  rel && run_suite "integration" env SN_DEMO="$build/sn_demo" tests/integration.sh
  run_suite "integration (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" ASAN_OPTIONS=detect_leaks=1 tests/integration.sh
  # WebSocket protocol abuse (tests/ws_abuse.sh): hand-built frames against /ws over TLS, each with the
  # close code RFC 6455 requires, the connection's end and service afterwards; 10000-frame messages, a
  # ping flood and a client that never reads; heap_bytes back to its baseline (8-11 s). The release
  # build in the 3.6 pass, ASan/UBSan in the 2.28 pass (the WebSocket code is the same with either)
  rel && run_suite "WebSocket abuse" env SN_DEMO="$build/sn_demo" tests/ws_abuse.sh
  if [ "$major" = 2 ]; then
    run_suite "WebSocket abuse (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" ASAN_OPTIONS=detect_leaks=1 tests/ws_abuse.sh
  fi
  # WebSocket and SSE with real clients (tests/ws.sh): Python's websockets, Node's ws, curl -N (4 s each)
  rel && run_suite "ws" env SN_DEMO="$build/sn_demo" tests/ws.sh
  run_suite "ws (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" ASAN_OPTIONS=detect_leaks=1 tests/ws.sh
  # requests that outlive a handler call (tests/lifecycle.sh): streamed uploads of 1 GiB with a flat heap,
  # 100-continue, aborts, backpressure, deferred and late replies, the worker thread. Under ASan
  # 256 MiB per upload (mbedTLS itself is not instrumented, so it runs near full speed; 20 s), under
  # valgrind 32 MiB (3.5 MB/s there; 40 s)
  rel && run_suite "lifecycle" env SN_DEMO="$build/sn_demo" tests/lifecycle.sh
  run_suite "lifecycle (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" SN_UPLOAD_MB=256 ASAN_OPTIONS=detect_leaks=1 tests/lifecycle.sh
  # signed firmware updates (tests/ota.sh): uploads accepted byte for byte, every refusal leaving the
  # slot as it was, truncation, 409, 413, kill -9; 5 s plain, 4 MiB images under ASan
  rel && run_suite "firmware update" env SN_DEMO="$build/sn_demo" tests/ota.sh
  run_suite "firmware update (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" SN_OTA_BIG_MB=4 ASAN_OPTIONS=detect_leaks=1 tests/ota.sh
  # logging in (tests/auth.sh): open routes, 401/303, Basic over TLS only, form sessions and their
  # table, CSRF, the throttle against 200 wrong passwords (another address logs in meanwhile), the
  # timing of unknown and known names, 10 000 random Cookie/Authorization values under ASan (90 s)
  # (the 2.28 pass: 2000 random values and 20 logins of each kind for the timing, to keep CI's time)
  if [ "$major" = 3 ]; then auth_env=""; else auth_env="AUTH_RANDOM=2000 AUTH_TIMING_N=20"; fi
  run_suite "login" env $auth_env SN_DEMO="$build/sn_demo" SN_DEMO_ASAN="$build/asan/sn_demo" ASAN_OPTIONS=detect_leaks=1 tests/auth.sh
  # the dashboard's firmware page in headless Chromium (tests/browser.sh): a signed image uploaded
  # through the page's own form code with its progress bar, and one by another key refused (the page
  # is the same with either mbedTLS: once, in the 3.6 pass)
  if [ "$major" = 3 ]; then
    run_suite "browser: firmware page (Chromium)" env SN_DEMO="$build/sn_demo" tests/browser.sh
    # logging in through the pages (tests/auth_browser.sh): the login form, the cookie's flags, a wrong
    # password's 401, logout, an idle session, and another site's form post and fetch refused (403)
    run_suite "browser: logging in (Chromium)" env SN_DEMO="$build/sn_demo" tests/auth_browser.sh
    # the dashboard's live values (tests/ws_browser.sh): pushed over /ws/status, falling back to
    # /api/events (EventSource) and then to polling when WebSocket, then both, are missing or refused;
    # the WebSocket found again after sn_demo restarts under the page, with a back-off (~12 s)
    run_suite "browser: live values (Chromium)" env SN_DEMO="$build/sn_demo" tests/ws_browser.sh
  fi
  # testssl.sh against sn_demo's default configuration (docs/tls-audit.md), in the mbedTLS 3.6 pass
  # (TLS 1.3; `MBEDTLS_MAJOR=2 SN_DEMO=build/m2/sn_demo tests/audit.sh` audits the 2.28 build)
  if [ "$major" = 3 ]; then
    run_suite "TLS audit (testssl.sh)" env SN_DEMO="$build/sn_demo" tests/audit.sh
  fi
  # load and hostility over time (tests/abuse.sh): loris, half-open TLS, max-conns, stalled readers,
  # garbage, cuts, traversal. Against mbedTLS 2.28's ASan/UBSan build (90 s; `make abuse` runs the
  # release build too): once, for CI's 45 minutes (both mbedTLS passes, fuzzing and the soak)
  if [ "$major" = 2 ]; then
    run_suite "abuse (ASan/UBSan)" env SN_DEMO="$build/asan/sn_demo" ASAN_OPTIONS=detect_leaks=1 tests/abuse.sh
  fi
  rel && run_suite "mail" env SN_SENDMAIL="$build/sn_sendmail" tests/smtp_quick.sh
  run_suite "mail (ASan/UBSan)" env SN_SENDMAIL="$build/asan/sn_sendmail" ASAN_OPTIONS=detect_leaks=1 tests/smtp_quick.sh
  # a scripted hostile SMTP server (tests/smtp/hostile.py): split and endless replies, wrong names, drops after the dot
  rel && run_suite "mail faults" env SN_SENDMAIL="$build/sn_sendmail" tests/smtp_faults.sh
  run_suite "mail faults (ASan/UBSan)" env SN_SENDMAIL="$build/asan/sn_sendmail" ASAN_OPTIONS=detect_leaks=1 tests/smtp_faults.sh
  # client connections (sn_connect) through sn_tlscat against s_server, sn_demo and misbehaving peers
  rel && run_suite "client connections" env SN_TLSCAT="$build/sn_tlscat" SN_DEMO="$build/sn_demo" tests/client_integration.sh
  run_suite "client connections (ASan/UBSan)" env SN_TLSCAT="$build/asan/sn_tlscat" SN_DEMO="$build/sn_demo" \
    ASAN_OPTIONS=detect_leaks=1 tests/client_integration.sh
  # WebSocket client (sn_ws_connect) through sn_wscat against python websockets, sn_demo's /ws, wrong upgrades, a KeyUpdate
  # (the release build in the 3.6 pass, ASan/UBSan in the 2.28 pass: CI's time)
  if [ "$major" = 3 ]; then
    run_suite "WebSocket client" env SN_WSCAT="$build/sn_wscat" SN_DEMO="$build/sn_demo" tests/wscat.sh
  else
    run_suite "WebSocket client (ASan/UBSan)" env SN_WSCAT="$build/asan/sn_wscat" SN_DEMO="$build/sn_demo" \
      ASAN_OPTIONS=detect_leaks=1 tests/wscat.sh
  fi
  # the HTTP client (sn_http_request) through sn_fetch against sn_demo, a private nginx and misbehaving peers
  rel && run_suite "HTTP client" env SN_FETCH="$build/sn_fetch" SN_DEMO="$build/sn_demo" tests/fetch_integration.sh
  run_suite "HTTP client (ASan/UBSan)" env SN_FETCH="$build/asan/sn_fetch" SN_DEMO="$build/sn_demo" \
    ASAN_OPTIONS=detect_leaks=1 tests/fetch_integration.sh
  # a name server that answers after 3 s, in a network namespace: HTTPS on the same manager is
  # answered within 100 ms meanwhile (tests/dns_integration.sh; the POSIX port's code is the same
  # with either mbedTLS: once, in the 3.6 pass)
  if [ "$major" = 3 ]; then
    run_suite "DNS: a slow name server" env SN_DNS_PROBE="$build/dns_probe" tests/dns_integration.sh
  fi
  # aiosmtpd with every feature and fault, and a private Postfix instance (tests/smtp/README.md)
  rel && run_suite "mail servers" env SN_SENDMAIL="$build/sn_sendmail" tests/smtp_integration.sh
  run_suite "mail servers (ASan/UBSan)" env SN_SENDMAIL="$build/asan/sn_sendmail" ASAN_OPTIONS=detect_leaks=1 tests/smtp_integration.sh
  # the Cortex-M4 firmware (examples/qemu-mps2) under QEMU's mps2-an386, driven from the host
  # (its own mbedTLS 3.6 for Cortex-M: once, in the 3.6 pass; make test has just built it)
  elf=${SN_MPS2_ELF-$([ "$major" = 3 ] && echo build/sn_mps2.elf)}
  if [ -n "$elf" ] && [ -f "$elf" ] && command -v qemu-system-arm >/dev/null; then
    run_suite "QEMU mps2-an386 firmware" env SN_MPS2_ELF="$elf" SN_CERTS="${SN_CERTS:-build/certs}" tests/qemu_integration.sh
  fi
  # the 64 KiB Cortex-M3 firmware (examples/qemu-lm3s) under QEMU's lm3s6965evb, likewise
  elf=${SN_LM3S_ELF-$([ "$major" = 3 ] && echo build/sn_lm3s.elf)}
  if [ -n "$elf" ] && [ -f "$elf" ] && command -v qemu-system-arm >/dev/null; then
    run_suite "QEMU lm3s6965evb firmware (64 KiB RAM)" env SN_LM3S_ELF="$elf" SN_CERTS="${SN_CERTS:-build/certs}" tests/qemu_lm3s.sh
  fi
  # securenet_port_lwip.h on a real lwIP stack behind TAP devices (tests/lwip_integration.sh):
  # bare metal (NO_SYS=1) and RTOS mode (NO_SYS=0, core locking): the release builds with 3.6, under
  # ASan/UBSan with 2.28
  if [ -x "$build/sn_demo_lwip" ]; then
    rel && run_suite "lwIP port" env SN_DEMO="$build/sn_demo" SN_FETCH_LWIP="$build/sn_fetch_lwip" SN_DEMO_LWIP="$build/sn_demo_lwip" SN_SENDMAIL_LWIP="$build/sn_sendmail_lwip" tests/lwip_integration.sh
    if [ "$major" = 2 ]; then # the sanitizer runs once, with mbedTLS 2.28 (the port's code is the same)
    run_suite "lwIP port (ASan/UBSan)" env SN_DEMO="$build/sn_demo" SN_FETCH_LWIP="$build/sn_fetch_lwip" SN_DEMO_LWIP="$build/asan/sn_demo_lwip" SN_SENDMAIL_LWIP="$build/sn_sendmail_lwip" \
      ASAN_OPTIONS=detect_leaks=1 tests/lwip_integration.sh
    fi
    rel && run_suite "lwIP port, RTOS mode" env SN_DEMO="$build/sn_demo" SN_FETCH_LWIP="$build/sn_fetch_lwip" SN_DEMO_LWIP="$build/sn_demo_lwip_rtos" SN_SENDMAIL_LWIP="$build/sn_sendmail_lwip_rtos" \
      tests/lwip_integration.sh
    if [ "$major" = 2 ]; then
    run_suite "lwIP port, RTOS mode (ASan/UBSan)" env SN_DEMO="$build/sn_demo" SN_FETCH_LWIP="$build/sn_fetch_lwip" SN_DEMO_LWIP="$build/asan/sn_demo_lwip_rtos" \
      SN_SENDMAIL_LWIP="$build/sn_sendmail_lwip_rtos" ASAN_OPTIONS=detect_leaks=1 tests/lwip_integration.sh
    fi
  fi
  # under valgrind (uninitialised reads, leaks; the 3.6 pass only: ASan/UBSan runs them in both),
  # two at a time, the longest first; each suite's ports in a block no other of them uses
  # (the HTTP client's 12500-18479, integration's 23000-32599, the others' own defaults)
  if rel && command -v valgrind >/dev/null; then
    vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"
    two_at_once "HTTP client (valgrind)" env SN_FETCH="$build/sn_fetch" SN_DEMO="$build/sn_demo" \
      SN_PORT_BASE="$(tests/free-ports 12500 260 23)" SN_WRAP="$vg" tests/fetch_integration.sh
    two_at_once "lifecycle (valgrind)" env SN_DEMO="$build/sn_demo" SN_UPLOAD_MB=32 SN_WRAP="$vg" tests/lifecycle.sh
    two_at_once "integration (valgrind)" env SN_DEMO="$build/sn_demo" \
      SN_PORT_BASE="$(tests/free-ports 23000 600 16)" SN_WRAP="$vg" tests/integration.sh
    two_at_once "client connections (valgrind)" env SN_TLSCAT="$build/sn_tlscat" SN_DEMO="$build/sn_demo" \
      SN_WRAP="$vg" tests/client_integration.sh
    two_at_once "mail (valgrind)" env SN_SENDMAIL="$build/sn_sendmail" SN_WRAP="$vg" tests/smtp_quick.sh
    two_at_once_end
  fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
