#!/usr/bin/env bash
# Starts N `shoal node` processes on loopback, each with its own data directory, the first a new
# network and every other bootstrapping from the first two. Prints each node's API address, then
# waits; Ctrl-C (or SIGTERM) stops them cleanly (graceful leave) and removes the data directories.
#
#   Scripts/cluster.sh 5                  # 5 nodes, peer ports 7001..7005
#   BASE_PORT=9000 Scripts/cluster.sh 3
#   KEEP=1 Scripts/cluster.sh 3           # keep the data directories
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-3}"
base="${BASE_PORT:-7000}"
if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
    echo "usage: $0 N   (1 ≤ N ≤ 200)" >&2
    exit 2
fi

swift build --product shoal >&2
bin="$(swift build --show-bin-path)/shoal"
root="$(mktemp -d -t shoal-cluster.XXXXXX)"
pids=()

stop() {
    trap - INT TERM EXIT
    echo "stopping ${#pids[@]} nodes" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -z "${KEEP:-}" ]; then rm -rf "$root"; else echo "data kept in $root" >&2; fi
}
trap stop INT TERM EXIT

for i in $(seq 1 "$n"); do
    port=$((base + i))
    dir="$root/node$i"
    args=(node --listen "127.0.0.1:$port" --data "$dir" --api 127.0.0.1:0)
    [ "$i" -gt 1 ] && args+=(--bootstrap "127.0.0.1:$((base + 1))")
    [ "$i" -gt 2 ] && args+=(--bootstrap "127.0.0.1:$((base + 2))")
    mkdir -p "$dir"
    "$bin" "${args[@]}" 2>"$dir/node.log" &
    pids+=($!)
done

for i in $(seq 1 "$n"); do
    dir="$root/node$i"
    for _ in $(seq 1 100); do [ -s "$dir/api" ] && break; sleep 0.1; done
    if [ -s "$dir/api" ]; then
        echo "node$i  peer 127.0.0.1:$((base + i))  api $(cat "$dir/api")  data $dir"
    else
        echo "node$i failed to start; see $dir/node.log" >&2
    fi
done
echo "try:  $bin put FILE --data $root/node1   ·   $bin get ADDRESS --data $root/node$n" >&2
echo "Ctrl-C stops the cluster" >&2
wait
