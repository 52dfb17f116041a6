#!/usr/bin/env bash
# The web UI's browser test: starts a node from an already built `shoal`, drives its page at / in
# headless Chromium (Tests/browser/test_webui.py), stops the node by its PID; then again with a node
# that requires an API token; cleans up.
#
#   SHOAL_BIN        the shoal binary to run          [.build/debug/shoal]
#   SHOAL_UI_URL     test this page instead; no node is started (e.g. a devserver.py URL);
#                    SHOAL_UI_TOKEN then gives its API token, if it has one
#   SHOAL_UI_DEVSERVER=1   start the node, and serve the page from disk through devserver.py in
#                    front of it (for a node that does not serve / itself; it also stands in for
#                    GET /v1/files while the node lacks it)
#   SHOAL_UI_KEEP=1  keep the temp dir (screenshots, logs) after a pass; it is always kept after a failure
#   CHROMIUM_BIN, CHROMEDRIVER_BIN, PYTHON   [/usr/bin/chromium, /usr/bin/chromedriver, python3]
#
# Skips (exit 0, one line saying so) where Chromium, its driver or Selenium is missing.
# Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."

CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
CHROMEDRIVER_BIN=${CHROMEDRIVER_BIN:-/usr/bin/chromedriver}
PYTHON=${PYTHON:-python3}
export CHROMIUM_BIN CHROMEDRIVER_BIN

missing=()
[ -x "$CHROMIUM_BIN" ] || missing+=("chromium ($CHROMIUM_BIN)")
[ -x "$CHROMEDRIVER_BIN" ] || missing+=("chromedriver ($CHROMEDRIVER_BIN)")
"$PYTHON" -c 'import selenium' >/dev/null 2>&1 || missing+=("the selenium Python package")
if [ ${#missing[@]} -gt 0 ]; then
    echo "browser test: SKIPPED, missing ${missing[*]}; install with: apt-get install chromium chromium-driver && pip install selenium"
    exit 0
fi

SHOAL_BIN=${SHOAL_BIN:-.build/debug/shoal}
if [ -z "${SHOAL_UI_URL:-}" ] && [ ! -x "$SHOAL_BIN" ]; then
    echo "browser test: no shoal binary at $SHOAL_BIN; build it first (swift build) or set SHOAL_BIN" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-webui.XXXXXX")
node_pid=""
dev_pid=""

stop() {   # stop one process we started: TERM, up to 20 s, then KILL
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "browser test: process $pid did not stop within 20 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

finish() {
    local rc=$?
    stop "$dev_pid"
    stop "$node_pid"
    if [ "$rc" -eq 0 ] && [ -z "${SHOAL_UI_KEEP:-}" ]; then
        rm -rf "$tmp"
    else
        echo "browser test: kept $tmp (screenshots, logs)"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

wait_file() {   # wait_file FILE SECONDS PID: until FILE is non-empty, while PID lives
    local i
    for i in $(seq 1 $(($2 * 10))); do
        [ -s "$1" ] && return 0
        if [ -n "$3" ] && ! kill -0 "$3" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}

# One pass: start a node (with an API token when $1 is given), optionally the dev server in front of
# it, run the test against it, stop them. Each pass has its own dir under $tmp.
run_pass() {
    local token=$1 dir=$tmp/pass${2} api url
    mkdir -p "$dir/node" "$dir/browser"
    "$SHOAL_BIN" node --listen 127.0.0.1:0 --data "$dir/node" --api 127.0.0.1:0 ${token:+--api-token "$token"} \
        >"$dir/node.log" 2>&1 &
    node_pid=$!
    if ! wait_file "$dir/node/api" 30 "$node_pid"; then
        echo "browser test: the node did not write $dir/node/api within 30 s" >&2
        tail -n 20 "$dir/node.log" >&2
        return 1
    fi
    api=$(tr -d '[:space:]' <"$dir/node/api")
    url="http://$api/"
    if [ -n "${SHOAL_UI_DEVSERVER:-}" ]; then
        "$PYTHON" Tests/browser/devserver.py --api "$api" --url-file "$dir/dev.url" --quiet --emulate-keyring \
            >"$dir/devserver.log" 2>&1 &
        dev_pid=$!
        if ! wait_file "$dir/dev.url" 10 "$dev_pid"; then
            echo "browser test: devserver.py did not start within 10 s" >&2
            cat "$dir/devserver.log" >&2
            return 1
        fi
        url=$(tr -d '[:space:]' <"$dir/dev.url")
    fi
    local rc=0
    SHOAL_UI_URL="$url" SHOAL_UI_TOKEN="$token" SHOAL_UI_TMP="$dir/browser" \
        timeout -k 10 300 "$PYTHON" Tests/browser/test_webui.py || rc=$?
    stop "$dev_pid"; dev_pid=""
    stop "$node_pid"; node_pid=""
    if [ "$rc" -ne 0 ]; then
        echo "--- node log (last 40 lines)"
        tail -n 40 "$dir/node.log"
    fi
    return "$rc"
}

if [ -n "${SHOAL_UI_URL:-}" ]; then
    mkdir -p "$tmp/browser"
    SHOAL_UI_URL="$SHOAL_UI_URL" SHOAL_UI_TOKEN="${SHOAL_UI_TOKEN:-}" SHOAL_UI_TMP="$tmp/browser" \
        timeout -k 10 300 "$PYTHON" Tests/browser/test_webui.py
    exit
fi

# Once as a plain loopback node, once with --api-token (the page must ask for it and send it).
run_pass "" 1
run_pass "webui-test-token-$$-$RANDOM" 2
