#!/usr/bin/env bash
# Stand-ins for the lwIP programs, so that tests/lwip_integration.sh can be run
# (and its checks shown to fail against a peer that does the wrong thing)
# without them:
#
#   tests/lwip/standin.sh demo     --tap IF --ip A --netmask M --gw G [sn_demo options...]
#   tests/lwip/standin.sh sendmail --tap IF --ip A --netmask M --gw G [sn_sendmail options...]
#
# The command lines are those of sn_demo_lwip and sn_sendmail_lwip, and the
# caller sees the same topology: the device is at address A, one hop away on
# the A/M network whose Linux side is G. Instead of lwIP on the TAP IF, the
# POSIX program (build/sn_demo --bind A, build/sn_sendmail) runs in a network
# namespace of its own (unshare --net), joined to the caller's namespace by a
# veth pair: A/M on its end, with a default route via G, and in the caller's
# namespace a host route A/32 over the other end, with source G. That route is
# more specific than the TAP's A/M, so the caller's packets for A take the veth.
# IF is not opened (it must exist, as lwIP's tapif needs it); the veth pair and
# the route go away with the program's namespace when it exits.
#
# Like the real programs: demo prints "listening on https://A:N/" when ready
# and, on SIGTERM or SIGINT, exits with sn_demo's status after one line
# "sn_demo_lwip: stats: ..."; sendmail exits with sn_sendmail's status.
# Run as root, from the namespace the test made (ip netns exec NS ...).
#
# Environment:
#   STANDIN_DEMO      the server (default build/sn_demo)
#   STANDIN_SENDMAIL  the mail client, split on spaces (default build/sn_sendmail),
#                     e.g. "/usr/bin/python3 tests/smtp/stand_in_sendmail.py"
#                     (whose own STANDIN_BUG names, e.g. noverify, reach it)
#   STANDIN_BUG       wrong things on purpose, comma separated (demo only):
#     othername   the server's certificate is from the dev CA but for the name
#                 other.invalid, not localhost (instead of --cert/--key)
#     noclientca  --client-ca is dropped: no client certificate is asked for
#     overflow    at most 2 connections and an accept queue of 2 that resets
#                 what does not fit (net.core.somaxconn=2,
#                 net.ipv4.tcp_abort_on_overflow=1 in its namespace)
#     wrongip     the server is at A+1 (198.18.0.3 for 198.18.0.2), and says so
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bug() { [[ ",${STANDIN_BUG:-}," == *",$1,"* ]]; }
die() { echo "standin: $*" >&2; exit 1; }

# ---- inside the new namespace: wait for the veth end, configure it, run the program -------
if [ "${1:-}" = --inner ]; then
  dev=$2 addr=$3 prefix=$4 gw=$5; shift 5
  for _ in $(seq 1 100); do ip link show dev "$dev" >/dev/null 2>&1 && break; sleep 0.05; done
  ip link set lo up && ip addr add "$addr/$prefix" dev "$dev" && ip link set "$dev" up &&
    ip route add default via "$gw" || die "cannot configure $dev in the stand-in's namespace"
  if bug overflow; then
    sysctl -qw net.core.somaxconn=2 net.ipv4.tcp_abort_on_overflow=1 || die "sysctl for overflow"
  fi
  exec "$@"
fi

mode=${1:-}
shift || true
[ "$mode" = demo ] || [ "$mode" = sendmail ] || die "usage: standin.sh demo|sendmail --tap IF --ip A --netmask M --gw G ..."
tap="" ip="" mask="" gw="" rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tap) tap=$2; shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --netmask) mask=$2; shift 2 ;;
    --gw) gw=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
[ -n "$tap" ] && [ -n "$ip" ] && [ -n "$mask" ] && [ -n "$gw" ] || die "--tap, --ip, --netmask and --gw are required"
ip link show dev "$tap" >/dev/null 2>&1 || die "no network device $tap (sn_*_lwip opens an existing TAP)"
prefix=0
for o in ${mask//./ }; do
  while [ "$o" -gt 0 ]; do prefix=$((prefix + (o & 1))); o=$((o >> 1)); done
done

scratch=""
if [ "$mode" = demo ]; then
  if bug wrongip; then ip=${ip%.*}.$((${ip##*.} + 1)); fi
  args=() certdir=""
  while [ ${#rest[@]} -gt 0 ]; do
    case "${rest[0]}" in
      --cert) certdir=$(dirname "${rest[1]}"); args+=("${rest[@]:0:2}"); rest=("${rest[@]:2}") ;;
      --client-ca) bug noclientca || args+=("${rest[@]:0:2}"); rest=("${rest[@]:2}") ;;
      *) args+=("${rest[0]}"); rest=("${rest[@]:1}") ;;
    esac
  done
  if bug othername; then # a certificate for other.invalid from the same CA; the later --cert/--key win
    scratch=$(mktemp -d /tmp/sn-standin.XXXXXX) || die "mktemp"
    [ -f "$certdir/ca.key" ] || die "othername: no $certdir/ca.key beside --cert"
    openssl ecparam -name prime256v1 -genkey -noout -out "$scratch/o.key" 2>/dev/null &&
      openssl req -new -key "$scratch/o.key" -subj /CN=other.invalid -out "$scratch/o.csr" 2>/dev/null &&
      printf 'subjectAltName = DNS:other.invalid\n' >"$scratch/ext" &&
      openssl x509 -req -in "$scratch/o.csr" -CA "$certdir/ca.pem" -CAkey "$certdir/ca.key" -set_serial 99 \
        -days 2 -extfile "$scratch/ext" -out "$scratch/o.pem" 2>/dev/null || die "othername: openssl failed"
    args+=(--cert "$scratch/o.pem" --key "$scratch/o.key")
  fi
  bug overflow && args+=(--max-conns 2)
  read -ra prog <<<"${STANDIN_DEMO:-$ROOT/build/sn_demo}"
  cmd=("${prog[@]}" "${args[@]}" --bind "$ip")
else
  read -ra prog <<<"${STANDIN_SENDMAIL:-$ROOT/build/sn_sendmail}"
  cmd=("${prog[@]}" "${rest[@]}")
fi

# ---- the program in its own namespace, then the veth pair to it ----------------------------
va=snsv$$a vb=snsv$$b
unshare --net -- "$0" --inner "$vb" "$ip" "$prefix" "$gw" "${cmd[@]}" &
child=$!
finish() {
  local rc=$1
  [ -n "$scratch" ] && rm -rf "$scratch"
  exit "$rc"
}
on_signal() {
  kill -TERM "$child" 2>/dev/null
  wait "$child"
  local rc=$?
  [ "$mode" = demo ] && echo "sn_demo_lwip: stats: stand-in (build/sn_demo over a veth pair), no lwIP pools"
  finish "$rc"
}
trap on_signal TERM INT
me=$(readlink /proc/$$/ns/net)
for _ in $(seq 1 100); do
  ns=$(readlink "/proc/$child/ns/net" 2>/dev/null) || break
  [ "$ns" != "$me" ] && break
  sleep 0.02
done
[ "${ns:-}" != "$me" ] && kill -0 "$child" 2>/dev/null || { kill -9 "$child" 2>/dev/null; finish 1; }
if ! { ip link add "$va" type veth peer name "$vb" && ip link set "$va" up &&
  ip route add "$ip/32" dev "$va" src "$gw" && ip link set "$vb" netns "$child"; }; then
  kill -9 "$child" 2>/dev/null
  ip link del "$va" 2>/dev/null
  die "cannot make the veth pair $va/$vb to the stand-in's namespace"
fi
# `wait` returns early when a trapped signal arrives; on_signal then takes over.
wait "$child"
finish $?
