#!/usr/bin/env bash
# Regenerates Sources/ShoalWire/Generated/shoal.pb.swift from Protocol/shoal.proto.
# Installs protoc (Debian's protobuf-compiler) if missing and builds protoc-gen-swift
# from the swift-protobuf dependency, so the generator matches the runtime exactly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
    echo "protoc not found; installing protobuf-compiler" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq protobuf-compiler; else sudo apt-get update -qq && sudo apt-get install -y -qq protobuf-compiler; fi
fi

swift build --product protoc-gen-swift >&2
plugin="$(swift build --show-bin-path)/protoc-gen-swift"

out=Sources/ShoalWire/Generated
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=Visibility=Internal \
    --swift_out="$out" \
    -I Protocol Protocol/shoal.proto
echo "generated $out/shoal.pb.swift" >&2
