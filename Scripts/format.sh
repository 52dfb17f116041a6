#!/usr/bin/env bash
# Checks (default) or applies the project's formatting (.swift-format: 4 spaces, 120 columns) to
# every Swift file in the repository except the generated protobuf code.
#   bash Scripts/format.sh          lint; exits non-zero and lists each finding when any
#   bash Scripts/format.sh --fix    rewrite the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
mode=lint
[[ "${1:-}" == "--fix" ]] && mode=fix
mapfile -t files < <(git ls-files '*.swift' ':!:Sources/ShoalWire/Generated/*')
if [[ "$mode" == fix ]]; then
    swift format format --in-place --parallel "${files[@]}"
else
    if ! swift format lint --strict --parallel "${files[@]}"; then
        echo "format.sh: the files above are not formatted; run 'bash Scripts/format.sh --fix'" >&2
        exit 1
    fi
    echo "format.sh: ${#files[@]} files formatted as .swift-format says"
fi
