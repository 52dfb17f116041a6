#!/usr/bin/env bash
# Membership soak: starts N `shoal node` processes on loopback (127.0.x.y, one address per node),
# RATE per second, each bootstrapping from one random earlier node, optionally with a CPU hog, and
# prints once a minute: suspicions, deaths and refutations logged in that minute, members seen per
# node (min/median/max), connections per node, CPU% per node over the minute and RSS per node
# (medians). Stops only the processes it started (by PID) and removes its files unless KEEP=1.
#
#   Scripts/soak.sh 100                       # 100 nodes, 10 per second, 10 minutes
#   MINUTES=3 HOG=2 HOG_SECONDS=30 Scripts/soak.sh 40
#   BIN=.build/release/shoal Scripts/soak.sh 100
#
# Environment: BIN (default: the release build, .build/release/shoal), RATE (starts per second,
# default 10), MINUTES (default 10), HOG (spinning processes, default 0), HOG_SECONDS (default
# 30), PERIOD_MS (protocol period, default 1000), NODE_ARGS (more `shoal node` options, e.g.
# "--connections-low 32 --connections-high 48"), KEEP=1 keeps logs and data.
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-}"
if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 1000 ]; then
    echo "usage: $0 N   (1 ≤ N ≤ 1000; see the header for the environment)" >&2
    exit 2
fi
bin="${BIN:-.build/release/shoal}"
rate="${RATE:-10}"
minutes="${MINUTES:-10}"
hog="${HOG:-0}"
hog_seconds="${HOG_SECONDS:-30}"
period="${PERIOD_MS:-1000}"
port=7000
[ -x "$bin" ] || { echo "no shoal binary at $bin (build it: swift build -c release --product shoal)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }

root="$(mktemp -d -t shoal-soak.XXXXXX)"
pids=()
hogs=()
clk=$(getconf CLK_TCK)

stop() {
    trap - INT TERM EXIT
    for pid in "${hogs[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    echo "stopping ${#pids[@]} nodes" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -z "${KEEP:-}" ]; then rm -rf "$root"; else echo "logs and data kept in $root" >&2; fi
}
trap stop INT TERM EXIT

address() { echo "127.0.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }

if [ "$hog" -gt 0 ]; then
    for _ in $(seq 1 "$hog"); do sh -c 'while :; do :; done' & hogs+=($!); disown "$!"; done
    ( sleep "$hog_seconds"; for pid in "${hogs[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done ) &
    echo "CPU hog: $hog spinning processes for $hog_seconds s" >&2
fi

started=$(date +%s.%N)
for i in $(seq 0 $((n - 1))); do
    dir="$root/node$i"
    mkdir -p "$dir"
    args=(node --listen "$(address "$i"):$port" --data "$dir" --api 127.0.0.1:0 --protocol-period-ms "$period")
    # shellcheck disable=SC2206  # NODE_ARGS is split on purpose
    args+=(${NODE_ARGS:-})
    if [ "$i" -gt 0 ]; then
        seed=$(( RANDOM % i ))
        args+=(--bootstrap "$(address "$seed"):$port")
    fi
    "$bin" "${args[@]}" >"$dir/node.log" 2>&1 &
    pids+=($!)
    sleep "$(echo "scale=3; 1 / $rate" | bc)"
done
echo "started $n nodes in $(echo "$(date +%s.%N) - $started" | bc | cut -c1-5) s; data in $root" >&2

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'; }
minmax() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }
count_lines() { cat "$root"/node*/node.log 2>/dev/null | grep -c "$1" || true; }

declare -A ticks
for pid in "${pids[@]}"; do ticks[$pid]=$(cpu_ticks "$pid"); done
last_suspected=0; last_dead=0; last_refuted=0
printf "%-6s %10s %7s %10s %14s %16s %9s %9s %5s\n" minute suspicions deaths refutations "members/node" "connections/node" "cpu%/node" "rss MiB" alive
for minute in $(seq 1 "$minutes"); do
    sleep 60
    suspected=$(count_lines "member suspected"); dead=$(count_lines "member declared dead"); refuted=$(count_lines "refuted a suspicion")
    members=(); conns=(); cpus=(); rss=(); alive=0
    for i in $(seq 0 $((n - 1))); do
        pid=${pids[$i]}
        kill -0 "$pid" 2>/dev/null || continue
        alive=$((alive + 1))
        now=$(cpu_ticks "$pid")
        cpus+=("$(echo "scale=2; ($now - ${ticks[$pid]}) * 100 / $clk / 60" | bc)")
        ticks[$pid]=$now
        rss+=("$(rss_mib "$pid")")
        api=$(cat "$root/node$i/api" 2>/dev/null || true)
        [ -n "$api" ] || continue
        status=$(curl -s -m 5 "http://$api/v1/status" || true)
        m=$(echo "$status" | grep -o '"members":[0-9]*' | head -1 | cut -d: -f2)
        c=$(echo "$status" | grep -o '"peers":[0-9]*' | head -1 | cut -d: -f2)
        [ -n "$m" ] && members+=("$m")
        [ -n "$c" ] && conns+=("$c")
    done
    printf "%-6s %10s %7s %10s %14s %16s %9s %9s %5s\n" "$minute" \
        "$((suspected - last_suspected))" "$((dead - last_dead))" "$((refuted - last_refuted))" \
        "$(printf '%s\n' "${members[@]}" | minmax)" \
        "$(printf '%s\n' "${conns[@]}" | median) (max $(printf '%s\n' "${conns[@]}" | sort -n | tail -1))" \
        "$(printf '%s\n' "${cpus[@]}" | median)" "$(printf '%s\n' "${rss[@]}" | median)" "$alive"
    last_suspected=$suspected; last_dead=$dead; last_refuted=$refuted
done
