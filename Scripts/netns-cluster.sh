#!/usr/bin/env bash
# A multi-host test bed on one kernel: one network namespace per node, each with its own address,
# joined by veth pairs to two bridges (side a and side b) in a hub namespace. The two bridges are
# linked only through a user-space relay (Scripts/netns-relay.py) that adds delay and loss, since
# `tc netem` is not available everywhere; taking its links down partitions the cluster in two.
# Each node namespace also has a management link to the calling namespace (a /30 of its own), so
# the caller reaches the node's HTTP API without joining the data network.
#
#   Scripts/netns-cluster.sh check                       # can namespaces be made here? (exit 0 if so)
#   Scripts/netns-cluster.sh up TAG N [DELAY_MS] [LOSS]  # create; prints one line per node
#   Scripts/netns-cluster.sh exec TAG I COMMAND...       # run COMMAND in node I's namespace
#   Scripts/netns-cluster.sh partition TAG               # take the links between the sides down
#   Scripts/netns-cluster.sh heal TAG                    # bring them up again
#   Scripts/netns-cluster.sh down TAG                    # end what runs inside, remove everything
#
# TAG: 1 to 6 lowercase letters or digits, unique among concurrent test beds (interface names are
# built from it). Nodes 1..N/2 (rounded up) are on side a, the rest on side b.
# `up` prints, for node I:  I NAMESPACE DATA_ADDRESS MANAGEMENT_ADDRESS SIDE
# Data addresses are 10.77.0.(10+I)/24 inside the hub; management addresses are 10.M.K.(4I+2)/30
# with M and K derived from TAG, reached from the calling namespace through 10.M.K.(4I+1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state_root="${TMPDIR:-/tmp}/shoal-netns"

die() { echo "netns-cluster: $*" >&2; exit 1; }

check_tag() {
    [[ "${1:-}" =~ ^[a-z0-9]{1,6}$ ]] || die "TAG must be 1 to 6 lowercase letters or digits, got '${1:-}'"
}

# The management /24 of a tag: 10.M.K.0 with M in 200..249 and K in 0..255, from the tag's checksum.
management_prefix() {
    local sum
    sum=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    echo "10.$((200 + sum % 50)).$(((sum / 50) % 256))"
}

hub() { echo "shoal-$1-hub"; }
node_ns() { echo "shoal-$1-n$2"; }

cmd_check() {
    command -v ip >/dev/null || die "the 'ip' command (iproute2) is missing"
    command -v python3 >/dev/null || die "python3 is missing (the delay and loss relay needs it)"
    [ "$(id -u)" -eq 0 ] || die "network namespaces need root (running as uid $(id -u))"
    [ -c /dev/net/tun ] || die "/dev/net/tun is missing (the relay needs TAP devices)"
    local probe="shoal-probe-$$"
    ip netns add "$probe" 2>/dev/null || die "'ip netns add' failed: namespaces cannot be made here"
    local ok=1
    ip -n "$probe" link add br0 type bridge 2>/dev/null || ok=0
    ip link add "shp$$a" type veth peer name "shp$$b" 2>/dev/null && ip link del "shp$$a" || ok=0
    ip -n "$probe" tuntap add mode tap name tap0 2>/dev/null || ok=0
    ip netns del "$probe"
    [ "$ok" -eq 1 ] || die "bridges, veth pairs or TAP devices cannot be made in a namespace here"
    echo "network namespaces, veth pairs, bridges and TAP devices are available"
}

cmd_up() {
    local tag="$1" n="$2" delay="${3:-0}" loss="${4:-0}"
    check_tag "$tag"
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 60 ] || die "N must be 2 to 60"
    local state="$state_root/$tag"
    [ ! -e "$state" ] || die "test bed '$tag' exists already ($state); run 'down $tag' first"
    mkdir -p "$state"
    local h mp half
    h="$(hub "$tag")"
    mp="$(management_prefix "$tag")"
    half=$(((n + 1) / 2))
    echo "$n" > "$state/nodes"

    ip netns add "$h"
    ip -n "$h" link set lo up
    for side in a b; do
        ip -n "$h" link add "br$side" type bridge
        ip -n "$h" link set "br$side" up
        ip -n "$h" tuntap add mode tap name "tap$side"
        ip -n "$h" link set "tap$side" master "br$side" up
    done
    for i in $(seq 1 "$n"); do
        local ns side
        ns="$(node_ns "$tag" "$i")"
        side=a; [ "$i" -gt "$half" ] && side=b
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # Data link: eth0 in the node, its peer on the side's bridge in the hub.
        ip link add "sh${tag}d$i" type veth peer name "sh${tag}p$i"
        ip link set "sh${tag}d$i" netns "$ns"
        ip -n "$ns" link set "sh${tag}d$i" name eth0
        ip -n "$ns" addr add "10.77.0.$((10 + i))/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip link set "sh${tag}p$i" netns "$h"
        ip -n "$h" link set "sh${tag}p$i" master "br$side" up
        # Management link: mgmt in the node, its peer here.
        ip link add "sh${tag}m$i" type veth peer name "sh${tag}q$i"
        ip link set "sh${tag}q$i" netns "$ns"
        ip -n "$ns" link set "sh${tag}q$i" name mgmt
        ip -n "$ns" addr add "$mp.$((4 * i + 2))/30" dev mgmt
        ip -n "$ns" link set mgmt up
        ip addr add "$mp.$((4 * i + 1))/30" dev "sh${tag}m$i"
        ip link set "sh${tag}m$i" up
        echo "$i $ns 10.77.0.$((10 + i)) $mp.$((4 * i + 2)) $side"
    done
    # The relay is the only path between the sides.
    setsid ip netns exec "$h" python3 "$here/netns-relay.py" tapa tapb --delay "$delay" --loss "$loss" \
        </dev/null >"$state/relay.log" 2>&1 &
    echo $! > "$state/relay.pid"
}

cmd_exec() {
    local tag="$1" i="$2"
    shift 2
    check_tag "$tag"
    exec ip netns exec "$(node_ns "$tag" "$i")" "$@"
}

cmd_links() {
    local tag="$1" state="$2"
    check_tag "$tag"
    local h
    h="$(hub "$tag")"
    ip -n "$h" link set tapa "$state"
    ip -n "$h" link set tapb "$state"
}

cmd_down() {
    local tag="$1"
    check_tag "$tag"
    local state="$state_root/$tag" h
    h="$(hub "$tag")"
    # What still runs inside the test bed's namespaces was started for it: end it.
    local n=0
    [ -f "$state/nodes" ] && n="$(cat "$state/nodes")"
    for i in $(seq 1 "$n"); do
        local ns
        ns="$(node_ns "$tag" "$i")"
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        fi
    done
    if [ -f "$state/relay.pid" ]; then
        local pid
        pid="$(cat "$state/relay.pid")"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for i in $(seq 1 "$n"); do
        ip link del "sh${tag}m$i" 2>/dev/null || true
        ip netns del "$(node_ns "$tag" "$i")" 2>/dev/null || true
    done
    ip netns del "$h" 2>/dev/null || true
    [ -f "$state/relay.log" ] && cat "$state/relay.log" >&2
    rm -rf "$state"
}

case "${1:-}" in
    check) cmd_check ;;
    up) [ $# -ge 3 ] || die "usage: $0 up TAG N [DELAY_MS] [LOSS]"; shift; cmd_up "$@" ;;
    exec) [ $# -ge 4 ] || die "usage: $0 exec TAG I COMMAND..."; shift; cmd_exec "$@" ;;
    partition) [ $# -eq 2 ] || die "usage: $0 partition TAG"; cmd_links "$2" down ;;
    heal) [ $# -eq 2 ] || die "usage: $0 heal TAG"; cmd_links "$2" up ;;
    down) [ $# -eq 2 ] || die "usage: $0 down TAG"; cmd_down "$2" ;;
    *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
