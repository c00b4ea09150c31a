#!/usr/bin/env bash
# tests/fuzz/run.sh - builds securenet's fuzz targets and runs them.
#
#   tests/fuzz/run.sh [SECONDS]          fuzz each target for SECONDS (default 60), each on one
#                                        CPU (-jobs is never used), FUZZ_PARALLEL targets at once
#   tests/fuzz/run.sh --regress [BUILD]  replay the committed corpus and regressions once
#                                        (no fuzzing), plus the MIME round trip through
#                                        Python's email package and the multipart parser
#                                        against its Python reference; prints "ok - ..." /
#                                        "not ok - ..." lines (for tests/run.sh)
#
# Targets (tests/fuzz/fuzz_*.c): http_parser router smtp mime server httpc multipart auth ws.
# Binaries go to BUILD/fuzz (BUILD: build). Fuzzing works on a copy of the corpus
# in BUILD/fuzz/corpus/<target> (it grows there; nothing is ever written into
# tests/fuzz/); crashes land in BUILD/fuzz/crashes/<target>/. A crash, a leak or
# a broken invariant ends the run with status 1 and the command to reproduce it.
#
# Environment:
#   BUILD=build/m2             the build directory (also the second argument of --regress)
#   FUZZ_TARGETS="smtp mime"   only these targets
#   FUZZ_SKIP_KNOWN=1          look past the bugs already reported (tests/fuzz/README.md)
#   FUZZ_PARALLEL=1            targets built and fuzzed at once (default: 2 on a machine with
#                              2 or more CPUs, else 1); each still gets SECONDS of one CPU
#   CLANG=clang-14             the compiler for libFuzzer builds (default: clang)
#   CC=gcc                     --regress without libFuzzer: the compiler for the
#                              replay driver (default: clang, then cc)
#   MBED_CFLAGS, MBED_LIBS     mbedTLS (default: the system's, -lmbedtls -lmbedx509 -lmbedcrypto;
#                              `make fuzz` and `make test` pass those of their build: 3.6 by
#                              default, 2.28 with MBEDTLS=2)
set -u
cd "$(dirname "$0")/../.." || exit 1

mode=fuzz
seconds=60
build=${BUILD:-build}
if [ "${1:-}" = "--regress" ]; then
  mode=regress
  build=${2:-$build}
elif [ -n "${1:-}" ]; then
  seconds=$1
fi
case $seconds in ''|*[!0-9]*) echo "usage: $0 [SECONDS] | --regress [BUILD]" >&2; exit 2 ;; esac

targets=${FUZZ_TARGETS:-"http_parser router smtp mime server httpc multipart auth ws"}
CLANG=${CLANG:-clang}
MBED_CFLAGS=${MBED_CFLAGS:-}
MBED_LIBS=${MBED_LIBS:-"-lmbedtls -lmbedx509 -lmbedcrypto"}
WARN="-std=c99 -Wall -Wextra -Werror -pedantic"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
INC="-I. -Itests/fuzz -I$build -Iexamples/common"
out=$build/fuzz
mkdir -p "$out"

# The server target serves the demo's routes, whose static files are generated.
if [ ! -f "$build/demo_static.h" ]; then
  python3 tools/sn-embed -o "$build/demo_static.h" --name demo_files --gzip --strip examples/posix/static \
    examples/posix/static/* || exit 1
fi

have_libfuzzer() {
  local t
  t=$(mktemp -d) || return 1
  printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }\n' >"$t/t.c"
  "$CLANG" -fsanitize=fuzzer "$t/t.c" -o "$t/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$t"
  return $rc
}

# build TARGET: BUILD/fuzz/fuzz_TARGET, libFuzzer or (regress mode only) the replay driver;
# kept when it was built by the same command and no source is newer (make test's replay
# and make fuzz share their binaries: CI builds each once)
build_target() {
  local t=$1 bin=$out/fuzz_$1 cmd newer
  if [ "$engine" = libfuzzer ]; then
    cmd="$CLANG $WARN -O1 -g -fsanitize=fuzzer $SAN $MBED_CFLAGS $INC tests/fuzz/fuzz_$t.c -o $bin $MBED_LIBS"
  else
    cmd="$REPLAY_CC $WARN -O1 -g $SAN $MBED_CFLAGS $INC tests/fuzz/fuzz_$t.c tests/fuzz/replay_main.c -o $bin $MBED_LIBS"
  fi
  if [ -x "$bin" ] && [ "$(cat "$bin.cmd" 2>/dev/null)" = "$cmd" ]; then
    # shellcheck disable=SC2086
    newer=$(find securenet*.h configs tests/fuzz/*.h "tests/fuzz/fuzz_$t.c" tests/fuzz/replay_main.c examples/common "$build/demo_static.h" \
      $(for w in $MBED_LIBS $MBED_CFLAGS; do case $w in -I*) echo "${w#-I}" ;; -*) ;; *) echo "$w" ;; esac; done) \
      -newer "$bin" -print -quit 2>/dev/null)
    if [ -z "$newer" ]; then
      echo "   fuzz_$t: up to date"
      return 0
    fi
  fi
  rm -f "$bin" "$bin.cmd"
  # shellcheck disable=SC2086
  $cmd && echo "$cmd" >"$bin.cmd"
}

inputs_of() { # the committed inputs of a target, one per line
  local d
  for d in "tests/fuzz/corpus/$1" "tests/fuzz/regressions/$1"; do
    [ -d "$d" ] && find "$d" -type f | sort
  done
}

if have_libfuzzer; then
  engine=libfuzzer
elif [ "$mode" = regress ]; then
  engine=replay
  REPLAY_CC=${CC:-}
  if [ -z "$REPLAY_CC" ]; then command -v clang >/dev/null && REPLAY_CC=clang || REPLAY_CC=cc; fi
  echo "# no libFuzzer for $CLANG (Debian: libclang-rt-14-dev): replaying with $REPLAY_CC"
else
  echo "$0: $CLANG cannot link -fsanitize=fuzzer; install libclang-rt-14-dev (tools/deps.sh libclang-rt-14-dev)" >&2
  exit 1
fi

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# FUZZ_PARALLEL targets at a time (built, or fuzzed each with its own CPU); their
# reports are printed in the targets' order once a batch has ended
ncpu=$(nproc 2>/dev/null || echo 1)
par=${FUZZ_PARALLEL:-$([ "$ncpu" -ge 2 ] && echo 2 || echo 1)}
case $par in ''|*[!0-9]*|0) par=1 ;; esac
# in_batches FUNCTION: runs FUNCTION TARGET for every target, par at a time,
# each one's output into $out/batch_<target>.out, printed in order; 1 if any failed
in_batches() {
  local fn=$1 t rc=0 batch=() pids=() i
  for t in $targets ""; do
    if [ -n "$t" ]; then
      batch+=("$t")
      "$fn" "$t" >"$out/batch_$t.out" 2>&1 &
      pids+=($!)
    fi
    if [ ${#batch[@]} -eq "$par" ] || { [ -z "$t" ] && [ ${#batch[@]} -gt 0 ]; }; then
      for i in "${!batch[@]}"; do
        wait "${pids[$i]}" || rc=1
        cat "$out/batch_${batch[$i]}.out"
      done
      batch=() pids=()
    fi
  done
  return $rc
}
build_one() { echo "== fuzz_$1: building"; build_target "$1"; }

if [ "$mode" = regress ]; then
  in_batches build_one >/dev/null 2>"$out/build.err"
  for t in $targets; do
    if [ ! -x "$out/fuzz_$t" ] || [ ! -f "$out/fuzz_$t.cmd" ]; then
      echo "not ok - fuzz $t: does not build"
      grep -v '^   fuzz_' "$out/batch_$t.out" 2>/dev/null | head -20
      status=1
      continue
    fi
    mapfile -t files < <(inputs_of "$t")
    log=$(mktemp)
    # a hang is a failure too: libFuzzer's own -timeout, or timeout(1) around the replay driver
    if [ "$engine" = libfuzzer ]; then
      "$out/fuzz_$t" -timeout=10 "${files[@]}" >"$log" 2>&1
    else
      timeout 30 "$out/fuzz_$t" "${files[@]}" >"$log" 2>&1
    fi
    rc=$?
    if [ $rc -eq 0 ]; then
      echo "ok - fuzz regression $t: ${#files[@]} committed inputs replay cleanly"
    else
      bad=$(grep '^Running: ' "$log" | tail -1 | sed 's/^Running: //')
      echo "not ok - fuzz regression $t: $bad fails (status $rc); reproduce: $out/fuzz_$t $bad"
      grep -v '^Running: \|^Executed \|^INFO: ' "$log" | head -40
      # go on with the other inputs of the target, one by one
      for f in "${files[@]}"; do
        [ "$f" = "$bad" ] && continue
        timeout 20 "$out/fuzz_$t" "$f" >/dev/null 2>&1 || echo "not ok - fuzz regression $t: $f fails; reproduce: $out/fuzz_$t $f"
      done
      status=1
    fi
    rm -f "$log"
  done
  case " $targets " in
    *" mime "*)
      if [ -x "$out/fuzz_mime" ]; then
        /usr/bin/python3 tests/fuzz/mime_roundtrip.py --bin "$out/fuzz_mime" || status=1
      fi
      ;;
  esac
  case " $targets " in
    *" multipart "*)
      # the C parser's record of every committed input and of 300 generated bodies (well-formed
      # ones and mutations) against tests/fuzz/multipart_ref.py, a reading of the header's grammar
      py=/usr/bin/python3
      [ -x "$py" ] || py=python3
      if "${REPLAY_CC:-$CLANG}" $WARN -O1 -g $SAN $MBED_CFLAGS $INC tests/fuzz/multipart_dump.c -o "$out/multipart_dump" $MBED_LIBS; then
        mapfile -t files < <(inputs_of multipart)
        "$py" tests/fuzz/multipart_ref.py --bin "$out/multipart_dump" --cases 300 --keep "$out/multipart_ref_diffs" "${files[@]}" || status=1
      else
        echo "not ok - multipart reference: multipart_dump does not build"
        status=1
      fi
      ;;
  esac
  exit $status
fi

in_batches build_one || exit 1

# A unit that took 10 s or more (libFuzzer's slow-unit-, or a timeout- at -timeout=10) is
# run again at once, alone, on the same machine: an input that is slow is slow again; one
# that replays within SLOW_REPLAY seconds was slow because the machine stalled (CI once
# saw a 10 s unit in a target that runs 2000 units a second, and fuzzing found no unit of
# even 1 s in 2.6 M runs). A stall is reported and its unit kept, but fails nothing;
# after a stalled timeout (which ends libFuzzer's run) the target is fuzzed once more.
SLOW_REPLAY=${SLOW_REPLAY:-3}
stalled() { # stalled TARGET ARTIFACT: 0 if it is a slow unit or timeout that replays quickly
  local t=$1 f=$2 t0 t1
  case ${f##*/} in slow-unit-*|timeout-*) ;; *) return 1 ;; esac
  t0=$(date +%s%N)
  timeout $((SLOW_REPLAY * 4)) "$out/fuzz_$t" -timeout="$SLOW_REPLAY" "$f" >/dev/null 2>&1 || return 1
  t1=$(date +%s%N)
  echo "   fuzz_$t: ${f##*/} took 10 s or more once and replays in $(((t1 - t0) / 1000000)) ms: the machine stalled, not a failure (kept: $f)"
}
fuzz_one() {
  local t=$1 work crashes log rc repro status=0 f new try
  work=$out/corpus/$t
  crashes=$out/crashes/$t
  mkdir -p "$work" "$crashes"
  inputs_of "$t" | while read -r f; do cp -f "$f" "$work/"; done
  echo "== fuzz_$t: ${seconds}s on $(find "$work" -type f | wc -l) inputs ($work)"
  log=$out/fuzz_$t.log
  for try in 1 2; do
    touch "$out/.fuzz_$t.start" # this run's artifacts are newer
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -report_slow_units=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$crashes/" "$work" >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | sed 's/^/   /'
    grep -E 'average_exec_per_sec|number_of_executed_units' "$log" | sed 's/^stat::/   /'
    new=0
    while read -r f; do
      [ -n "$f" ] || continue
      stalled "$t" "$f" || new=$((new + 1))
    done < <(find "$crashes" -type f -newer "$out/.fuzz_$t.start")
    # a stalled timeout the first time: once more; anything else that ended the run fails below
    [ $try -eq 1 ] && [ $new -eq 0 ] && [ $rc -ne 0 ] && grep -q 'ERROR: libFuzzer: timeout' "$log" || break
    echo "   fuzz_$t: the stalled timeout ended the run early; fuzzing again"
  done
  if [ $new -gt 0 ] || [ $rc -ne 0 ]; then
    status=1
    repro=$(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')
    echo "!! fuzz_$t failed (status $rc); the report:"
    grep -E -A12 'FUZZ INVARIANT|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|Slowest unit' "$log" | head -60 | sed 's/^/   /'
    echo "!! reproducer: ${repro:-see $log}"
    echo "!! replay:     $out/fuzz_$t ${repro:-<file>}"
    echo "!! keep it:    cp ${repro:-<file>} tests/fuzz/regressions/$t/<what-it-shows>"
  fi
  return $status
}
in_batches fuzz_one || status=1
[ $status -eq 0 ] && echo "fuzz: every target ran ${seconds}s without a failure"
exit $status
