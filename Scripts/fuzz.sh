#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of Fuzz/ (see Fuzz/README.md).
#
#   bash Scripts/fuzz.sh TARGET SECONDS     TARGET: frames | manifest | addresses | range | all
#   bash Scripts/fuzz.sh seeds              rewrites the seed corpora, Fuzz/corpus/
#
# Each target is built with `-sanitize=fuzzer,address` into .build-fuzz (the fuzz targets exist only
# when SHOAL_FUZZ=1, so a normal build never sees them), then runs for SECONDS on a temporary copy
# of Fuzz/corpus/TARGET/ plus the inputs that once crashed it, Fuzz/crashes/TARGET/ (the committed
# files stay as they are). Prints executions, exec/s and libFuzzer's coverage (cov: edges, ft:
# features); exits 1 on a crash, hang or runaway allocation, naming the input that caused it (kept
# under .build-fuzz/artifacts/TARGET/).
#
# Environment: FUZZ_CONFIG (release, the default, or debug: quicker to build, about 5x slower to
# run), FUZZ_SANITIZERS (default fuzzer,address), FUZZ_ARGS (more libFuzzer flags, e.g. -jobs=2).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: bash Scripts/fuzz.sh frames|manifest|addresses|range|all SECONDS" >&2
    echo "       bash Scripts/fuzz.sh seeds" >&2
    exit 64
}

config="${FUZZ_CONFIG:-release}"
sanitizers="${FUZZ_SANITIZERS:-fuzzer,address}"
scratch=.build-fuzz
export SHOAL_FUZZ=1
# A failed check should reach libFuzzer at once, without the Swift runtime's symbolicated backtrace.
export SWIFT_BACKTRACE=enable=no

build() {
    local product=$1 log="$scratch/build-$1.log"
    mkdir -p "$scratch"
    local started=$SECONDS
    if ! nice -n 10 swift build --scratch-path "$scratch" -c "$config" --product "$product" \
        -Xswiftc "-sanitize=$sanitizers" -Xswiftc -DSHOAL_LIBFUZZER >"$log" 2>&1; then
        grep -v 'ld.gold: warning' "$log" | tail -40 >&2
        echo "fuzz: building $product failed (log: $log)" >&2
        exit 2
    fi
    echo "fuzz: built $product ($config, -sanitize=$sanitizers) in $((SECONDS - started)) s"
}

if [ "${1:-}" = seeds ]; then
    [ $# -eq 1 ] || usage
    build fuzz-seeds
    # (The generator keeps its tables until exit, which LeakSanitizer would call leaks.)
    ASAN_OPTIONS=detect_leaks=0 "$scratch/$config/fuzz-seeds" Fuzz/corpus
    exit 0
fi

[ $# -eq 2 ] || usage
case "$1" in
    frames | manifest | addresses | range) targets=("$1") ;;
    all) targets=(frames manifest addresses range) ;;
    *) usage ;;
esac
seconds=$2
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || usage

# Longest input per target: a manifest tree needs room for a few nodes of 38-byte entries.
max_len() {
    case "$1" in
        manifest) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

for target in "${targets[@]}"; do build "fuzz-$target"; done

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${targets[@]}"; do
    corpus="$work/$target"
    artifacts="$scratch/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    cp Fuzz/corpus/"$target"/* "$corpus"/
    if [ -d Fuzz/crashes/"$target" ]; then cp Fuzz/crashes/"$target"/* "$corpus"/; fi
    log="$work/$target.log"
    echo "fuzz: $target for $seconds s on $(ls "$corpus" | wc -l) seed inputs"
    status=0
    # Leak checks are off: the Swift runtime's caches look like leaks to LeakSanitizer, which then
    # scans the heap after every input. Growth is bounded by -rss_limit_mb and -malloc_limit_mb.
    # shellcheck disable=SC2086
    nice -n 10 "$scratch/$config/fuzz-$target" "$corpus" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -detect_leaks=0 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -1 || true)
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $target: ${executions:-?} executions, ${rate:-?} exec/s, ${coverage:-no coverage line}"
    else
        grep -aE 'Fatal error|ERROR: |SUMMARY: |==[0-9]+==|deadly signal|timeout|out-of-memory' "$log" | head -20 >&2 || true
        input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz: $target FAILED (exit $status) after ${executions:-?} executions; ${coverage:-}" >&2
        echo "fuzz: crashing input: ${input:-none written}; replay: $scratch/$config/fuzz-$target ${input:-INPUT}" >&2
        cp "$log" "$artifacts/last-failure.log"
        echo "fuzz: full log: $artifacts/last-failure.log" >&2
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
