#!/usr/bin/env bash
# Several "hosts" on one machine: network namespaces joined by a bridge, each link cuttable.
#
#   netns.sh up <prefix> <n> [subnet]   namespaces <prefix>-0 .. <prefix>-<n-1>, host i at
#                                       <subnet>.<i+1>/24 (subnet default 10.77.0), plus the
#                                       bridge namespace <prefix>-br; removes stale ones first.
#                                       Each host routes multicast (224.0.0.0/4) to its link,
#                                       so mDNS works between hosts (a namespace has no
#                                       default route to send it by)
#   netns.sh down <prefix>              kill every process in them and delete them (idempotent)
#   netns.sh cut <prefix> <i> [silent]  take host i's link down at the bridge: host i sees
#                                       NO-CARRIER. With `silent`, unplug it from the bridge
#                                       instead: host i's link stays up, frames go nowhere
#                                       (a failure somewhere along the path, not at the host)
#   netns.sh restore <prefix> <i>       plug it back in and bring it up (undoes either cut)
#   netns.sh gc [letters]               delete namespaces of dead runs: <letters><pid>-* whose
#                                       pid is gone (letters default csn)
#   netns.sh list <prefix>              print the namespaces with this prefix
#
# Needs root and iproute2. The bridge lives in its own namespace so nothing is added to the
# root namespace and deleting the namespaces removes every link with them.
set -euo pipefail

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

check_prefix() {
  # Names stay short (interface and namespace names are used in patterns and kept < 16 chars)
  # and free of characters a regex or a shell would read.
  [[ $1 =~ ^[a-z][a-z0-9]{0,11}$ ]] || die "prefix must be [a-z][a-z0-9]{0,11}, got '$1'"
}

check_index() {
  [[ $1 =~ ^[0-9]{1,3}$ ]] || die "host index must be a number, got '$1'"
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces), running as uid $(id -u)"
  command -v ip >/dev/null || die "iproute2 'ip' not found"
}

# The namespaces named <prefix>-br or <prefix>-<digits>, one per line.
list() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1-(br|[0-9]+)\$" || true
}

down() {
  local ns pids
  local spaces
  spaces=$(list "$1")
  [[ -z $spaces ]] && return 0
  # A namespace outlives `ip netns delete` while a process is inside it: end them first.
  for ns in $spaces; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
  done
  for ns in $spaces; do
    ip netns delete "$ns" 2>/dev/null || true
  done
  spaces=$(list "$1")
  [[ -z $spaces ]] || die "could not delete: $spaces"
}

gc() {
  local letters=${1:-csn} ns pid
  [[ $letters =~ ^[a-z]+$ ]] || die "gc wants letters only, got '$letters'"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${letters}[0-9]+-(br|[0-9]+)\$" || true); do
    pid=${ns#"$letters"}
    pid=${pid%%-*}
    # A live pid is a run in progress (ours or a parallel one): leave it alone.
    if ! kill -0 "$pid" 2>/dev/null; then down "${letters}${pid}"; fi
  done
}

up() {
  local prefix=$1 n=$2 subnet=${3:-10.77.0} i ns br
  [[ $n =~ ^[0-9]{1,2}$ && $n -ge 1 && $n -le 50 ]] || die "n must be 1..50, got '$n'"
  [[ $subnet =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "subnet must be a.b.c, got '$subnet'"
  gc "$(echo "$prefix" | sed -E 's/[0-9]+$//')"
  down "$prefix"
  br="$prefix-br"
  # Undo a half-built network when any step fails.
  trap 'down "$prefix"' ERR
  ip netns add "$br"
  ip -n "$br" link set lo up
  ip -n "$br" link add br0 type bridge
  ip -n "$br" link set br0 up
  for ((i = 0; i < n; i++)); do
    ns="$prefix-$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # p<i> is the bridge-side end (what `cut` takes down); the host sees its end as eth0.
    ip -n "$br" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "p$i" master br0
    ip -n "$br" link set "p$i" up
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 224.0.0.0/4 dev eth0
  done
  trap - ERR
}

cut() {
  local br="$1-br" port="p$2"
  ip -n "$br" link show "$port" >/dev/null 2>&1 || die "no host $2 in $1"
  if [[ ${3:-} == silent ]]; then
    ip -n "$br" link set "$port" nomaster
  else
    ip -n "$br" link set "$port" down
  fi
}

restore() {
  local br="$1-br" port="p$2"
  ip -n "$br" link show "$port" >/dev/null 2>&1 || die "no host $2 in $1"
  ip -n "$br" link set "$port" master br0
  ip -n "$br" link set "$port" up
}

cmd=${1:-}
case $cmd in
up)
  [[ $# -ge 3 && $# -le 4 ]] || usage
  need_root
  check_prefix "$2"
  up "$2" "$3" "${4:-}"
  ;;
down)
  [[ $# -eq 2 ]] || usage
  need_root
  check_prefix "$2"
  down "$2"
  ;;
cut)
  [[ $# -eq 3 || ($# -eq 4 && $4 == silent) ]] || usage
  need_root
  check_prefix "$2"
  check_index "$3"
  cut "$2" "$3" "${4:-}"
  ;;
restore)
  [[ $# -eq 3 ]] || usage
  need_root
  check_prefix "$2"
  check_index "$3"
  restore "$2" "$3"
  ;;
gc)
  [[ $# -le 2 ]] || usage
  need_root
  gc "${2:-}"
  ;;
list)
  [[ $# -eq 2 ]] || usage
  check_prefix "$2"
  list "$2"
  ;;
*) usage ;;
esac
