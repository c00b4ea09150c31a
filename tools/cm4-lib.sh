# tools/cm4-lib.sh - sourced by bench/size.sh and examples/qemu-mps2/build.sh:
# compiles a tree of C sources (mbedTLS, lwIP) for a microcontroller into one
# archive, in parallel, and again only when something it depends on changed.
#
#   cm4_lib DIR INPUT... -- FLAG... -- SOURCE...
#
# DIR/lib.a from the SOURCEs, compiled by the array `cc` of the caller with
# FLAGs (JOBS at a time, default 2). It is rebuilt when the compiler or
# flags, the list of sources, the content of an INPUT (a config header), or
# any SOURCE or INPUT newer than the archive says so. On a compile error it
# prints the first errors and calls the caller's `die`.
cm4_lib() {
  local dir=$1 inputs=() flags=() srcs=() key f
  shift
  while [ "$1" != -- ]; do inputs+=("$1"); shift; done
  shift
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  srcs=("$@")
  key=$({ printf '%s\n' "${cc[@]}" "${flags[@]}" "${srcs[@]}"; cat "${inputs[@]}"; } | sha256sum | cut -c1-16)
  if [ -f "$dir/lib.a" ] && [ "$(cat "$dir/key" 2>/dev/null)" = "$key" ] &&
     [ -z "$(find "${srcs[@]}" "${inputs[@]}" -newer "$dir/lib.a" 2>/dev/null | head -n 1)" ]; then
    return 0
  fi
  echo "${me:-cm4-lib}: compiling $(basename "$dir") (${#srcs[@]} files)" >&2
  rm -rf "$dir" && mkdir -p "$dir"
  : >"$dir/jobs"
  for f in "${srcs[@]}"; do
    printf '%q ' "${cc[@]}" "${flags[@]}" -c "$f" -o "$dir/$(basename "$f" .c).o" >>"$dir/jobs"
    printf '|| echo %q\n' "failed: $f" >>"$dir/jobs"
  done
  xargs -P "${JOBS:-2}" -d '\n' -I{} sh -c '{}' <"$dir/jobs" >"$dir/errors" 2>&1 || true
  if grep -q '^failed: ' "$dir/errors"; then
    head -n 30 "$dir/errors" >&2
    die "compiling $(basename "$dir") failed (all errors: $dir/errors)"
  fi
  arm-none-eabi-ar rcs "$dir/lib.a" "$dir"/*.o
  echo "$key" >"$dir/key"
}
