#!/usr/bin/env bash
# The C interop check (run by `make test`): builds Protocol/interop/shoal-interop against protobuf-c
# and OpenSSL, starts one real Shoal node on loopback, stores a small public file in it, and runs
# the C client against the node's peer port: TLS 1.3 mutual authentication, Hello, Ping, FindNode,
# GetChunk (whole, ranged), FindValue, a walk of the file's manifest, StoreChunk and owner-signed
# Delete, the connection-level error rules, and a private file sealed by the C client that
# `shoal get` must read back byte for byte.
#
# Environment:
#   SHOAL_BIN   path of the shoal executable (default: .build/debug/shoal, else `swift build --show-bin-path`)
#   CC          C compiler (default: cc)
# Exits with the client's status; 0 (with a SKIPPED line) when the C toolchain is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

skip() {
    echo "interop: SKIPPED — install protobuf-c-compiler libprotobuf-c-dev libssl-dev pkg-config to run the C interop check"
    exit 0
}
command -v protoc-c >/dev/null 2>&1 || skip
command -v pkg-config >/dev/null 2>&1 || skip
pkg-config --exists libprotobuf-c openssl 2>/dev/null || skip
command -v "${CC:-cc}" >/dev/null 2>&1 || skip
[[ -f "$(pkg-config --variable=includedir libprotobuf-c)/protobuf-c/protobuf-c.h" ]] || skip

bash "$here/build.sh"
client="$here/build/shoal-interop"

# The shoal executable.
shoal="${SHOAL_BIN:-}"
if [[ -z "$shoal" && -x "$root/.build/debug/shoal" ]]; then
    shoal="$root/.build/debug/shoal"
fi
if [[ -z "$shoal" ]] && command -v swift >/dev/null 2>&1; then
    bin="$(cd "$root" && flock /tmp/shoal-build.lock swift build --show-bin-path 2>/dev/null || true)"
    [[ -n "$bin" && -x "$bin/shoal" ]] && shoal="$bin/shoal"
fi
if [[ -z "$shoal" || ! -x "$shoal" ]]; then
    echo "interop: cannot find the shoal executable; run 'swift build' first or set SHOAL_BIN" >&2
    exit 1
fi

# A free loopback TCP port.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port attempt
    for attempt in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "interop: no free port found" >&2
    return 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-interop.XXXXXX")"
node_pid=""
cleanup() {
    if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$node_pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$node_pid" 2>/dev/null; then
            echo "interop: node $node_pid did not stop within 10 s of SIGTERM; killing it" >&2
            kill -KILL "$node_pid" 2>/dev/null || true
        fi
        wait "$node_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

peer_port="$(free_port)"
api_port="$(free_port)"
while [[ "$api_port" == "$peer_port" ]]; do api_port="$(free_port)"; done
api="127.0.0.1:$api_port"

"$shoal" node --listen "127.0.0.1:$peer_port" --data "$work/node" --api "$api" >"$work/node.log" 2>&1 &
node_pid=$!

show_log() {
    echo "---- node log (last 40 lines) ----" >&2
    tail -n 40 "$work/node.log" >&2 || true
}

# Wait (at most 30 s) for the node's API to answer.
node_id=""
for _ in $(seq 1 60); do
    if ! kill -0 "$node_pid" 2>/dev/null; then
        echo "interop: the node exited during startup" >&2
        show_log
        exit 1
    fi
    if "$shoal" status --api "$api" --json >"$work/status.json" 2>/dev/null; then
        node_id="$(grep -o '"nodeID"[[:space:]]*:[[:space:]]*"[0-9a-fA-F]\{64\}"' "$work/status.json" | grep -o '[0-9a-fA-F]\{64\}' | head -n 1 || true)"
        [[ -n "$node_id" ]] && break
    fi
    sleep 0.5
done
if [[ -z "$node_id" ]]; then
    echo "interop: the node's API at $api did not report a nodeID within 30 s" >&2
    cat "$work/status.json" >&2 2>/dev/null || true
    show_log
    exit 1
fi

# A small public file of three chunks (the last one short) at the default 1 MiB chunk size.
head -c $((2 * 1024 * 1024 + 12345)) /dev/urandom >"$work/file.bin"
file_sha="$(sha256sum "$work/file.bin" | cut -c1-64)"
if ! "$shoal" put --public --api "$api" "$work/file.bin" >"$work/put.out" 2>"$work/put.err"; then
    echo "interop: 'shoal put --public' failed:" >&2
    cat "$work/put.err" >&2
    show_log
    exit 1
fi
address="$(grep -o '^[0-9a-fA-F]\{64\}$' "$work/put.out" | tail -n 1 || true)"
if [[ -z "$address" ]]; then
    echo "interop: 'shoal put --public' printed no 64-hex address:" >&2
    cat "$work/put.out" >&2
    exit 1
fi

# A private file written by the C client itself, which the node must read back with `shoal get`.
head -c $((1024 * 1024 + 54321)) /dev/urandom >"$work/private.bin"

echo "interop: node $node_id on 127.0.0.1:$peer_port, public file $address"
set +e
"$client" "127.0.0.1:$peer_port" --expect-id "$node_id" --get "$address" --walk --expect-sha256 "$file_sha" \
    --write --put-private "$work/private.bin" 2>&1 | tee "$work/client.out" | grep -v '^interop: [0-9]* passed'
status=${PIPESTATUS[0]}
set -e
passed="$(sed -n 's/^interop: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/client.out")"
failed="$(sed -n 's/^interop: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/client.out")"
passed="${passed:-0}"
failed="${failed:-0}"

private_address="$(sed -n 's/^private-address \([0-9a-f]\{64\}\.[A-Za-z0-9_-]\{43\}\)$/\1/p' "$work/client.out")"
if [[ -n "$private_address" ]]; then
    if "$shoal" get --api "$api" "$private_address" -o "$work/private.out" >"$work/get.out" 2>&1 &&
        cmp -s "$work/private.bin" "$work/private.out"; then
        echo "ok    shoal get of the private file written by the C client returns its exact bytes"
        passed=$((passed + 1))
    else
        echo "FAIL  shoal get of the private file written by the C client ($private_address):"
        sed 's/^/      /' "$work/get.out" | tail -n 5
        [[ -f "$work/private.out" ]] && echo "      got $(wc -c <"$work/private.out") bytes, expected $(wc -c <"$work/private.bin")"
        failed=$((failed + 1))
    fi
fi

if [[ $status -ne 0 || $failed -ne 0 ]]; then
    show_log
    [[ $status -eq 0 ]] && status=1
fi
echo "interop: $passed passed, $failed failed"
exit "$status"
