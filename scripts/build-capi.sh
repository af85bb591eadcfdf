#!/usr/bin/env bash
# Builds the C libraries into target/capi/:
#   lib/liboptkern.a, lib/liboptkern.so                  baseline x86-64 (runs everywhere)
#   lib/glibc-hwcaps/x86-64-v3/liboptkern.so             AVX2 + FMA
#   lib/glibc-hwcaps/x86-64-v4/liboptkern.so             AVX-512
# The dynamic loader (glibc ≥ 2.33) picks the best of the three at run time. `wide` chooses
# its instructions at compile time, so each level is its own build (its own target dir).
# Extra RUSTFLAGS for every build can be given in $OPTKERN_RUSTFLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/capi/lib
mkdir -p "$out/glibc-hwcaps/x86-64-v3" "$out/glibc-hwcaps/x86-64-v4"
build() { # level, target dir, crate types
    RUSTFLAGS="-C target-cpu=$1 ${OPTKERN_RUSTFLAGS:-}" CARGO_TARGET_DIR="$2" \
        cargo rustc --release --lib --features capi --crate-type "$3"
}
build x86-64 target/capi/x86-64 staticlib,cdylib
cp target/capi/x86-64/release/liboptkern.a target/capi/x86-64/release/liboptkern.so "$out/"
for level in x86-64-v3 x86-64-v4; do
    build "$level" "target/capi/$level" cdylib
    cp "target/capi/$level/release/liboptkern.so" "$out/glibc-hwcaps/$level/"
done
echo "built $(ls -R "$out" | tr '\n' ' ')"
