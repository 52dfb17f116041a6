#!/usr/bin/env bash
# Builds the C interop client into Protocol/interop/build/:
#   protoc-c generates C from Protocol/shoal.proto, then the client is compiled (C11) and linked
#   against libprotobuf-c and OpenSSL, found with pkg-config.
# Needs: protobuf-c-compiler libprotobuf-c-dev libssl-dev pkg-config and a C compiler.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto_dir="$(cd "$here/.." && pwd)"
out="$here/build"
cc="${CC:-cc}"

mkdir -p "$out"
protoc-c --c_out="$out" --proto_path="$proto_dir" "$proto_dir/shoal.proto"

# shellcheck disable=SC2046 # pkg-config output is a list of flags
"$cc" -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
    -I "$out" $(pkg-config --cflags libprotobuf-c openssl) \
    -o "$out/shoal-interop" "$here/shoal-interop.c" "$out/shoal.pb-c.c" \
    $(pkg-config --libs libprotobuf-c openssl)

echo "built $out/shoal-interop"
