# tests/client/suite.sh: what the client suites (client_integration.sh,
# fetch_integration.sh) share; sourced after they set TMP, pass, fail, pids.
#   ok / nok / check    one "ok - ..." or "not ok - ...: why" line each
#   why                 the last run's exit status ($rc) and stderr ($TMP/err)
#   wait_port PORT LOG  until something listens on 127.0.0.1:PORT (at most 5 s)
#   listening LOG...    each sn_demo log says it listens (its ports were free)
#   cleanup             (the EXIT trap) ends the servers in $pids, keeps $TMP if a check failed
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() {
  echo "not ok - $1${2:+: $(echo "$2" | tr '\n' ' ' | cut -c1-300)}"
  fail=$((fail + 1))
}
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2" "${3:-}"; fi; }
why() { echo "exit $rc; stderr: $(tr '\n' ' ' <"$TMP/err" | cut -c1-240)"; }
wait_port() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  nok "a server listens on port $1" "$(tail -n 3 "$2" 2>/dev/null)"
  return 1
}
# listening LOG...: each sn_demo log says "listening" (a port taken by another process
# would otherwise go unnoticed, and the checks would talk to a stranger)
listening() {
  local f i
  for f in "$@"; do
    for i in $(seq 1 50); do grep -q listening "$f" 2>/dev/null && break; sleep 0.1; done
    grep -q listening "$f" 2>/dev/null || nok "sn_demo starts and listens ($f)" "$(tail -n 2 "$f" 2>/dev/null)"
  done
}
cleanup() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "$fail" -eq 0 ] && rm -rf "$TMP"
}
trap cleanup EXIT
