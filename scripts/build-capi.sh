#!/usr/bin/env bash
# Builds the C libraries into target/capi/lib/:
#   liboptkern.a                                   baseline x86-64 (runs everywhere)
#   liboptkern.so.0 (+ liboptkern.so link)         baseline
#   glibc-hwcaps/x86-64-v3/liboptkern.so.0         AVX2 + FMA
#   glibc-hwcaps/x86-64-v4/liboptkern.so.0         AVX-512
# The dynamic loader (glibc ≥ 2.33) picks the best shared build at run time. `wide` chooses
# its instructions at compile time, so each level is its own build (its own target dir).
#
# The C library has no `std` and `panic = "abort"` (its panic handler references a symbol
# nothing defines, so a surviving panic path fails any link that reaches it); LTO and one
# codegen unit. The archive is one relocatable object: `ld -r --gc-sections` keeps what the
# `optkern_*` functions reach, then every other symbol is made local, so only `optkern_*` is
# exported (the shared library has a version script for the same). Extra RUSTFLAGS for every
# build can be given in $OPTKERN_RUSTFLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/capi/lib
mkdir -p "$out/glibc-hwcaps/x86-64-v3" "$out/glibc-hwcaps/x86-64-v4"
export CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
build() { # level, target dir, crate types
    RUSTFLAGS="-C target-cpu=$1 ${OPTKERN_RUSTFLAGS:-}" CARGO_TARGET_DIR="$2" \
        cargo rustc --release --lib --no-default-features --features capi --crate-type "$3" -q -- \
        -C link-arg=-Wl,-soname,liboptkern.so.0 -C link-arg=-Wl,--version-script=scripts/optkern.map
}

# One relocatable object with only the optkern_* symbols global.
pack() { # input archive, output archive
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$OLDPWD/$1")
    nm -g --defined-only "$tmp"/optkern.*.o 2>/dev/null | awk '$3 ~ /^optkern_/ { print $3 }' | sort -u > "$tmp/exports"
    ld -r --gc-sections $(sed 's/^/-u /' "$tmp/exports") -o "$tmp/optkern.o" "$tmp"/*.o
    # Embedded LLVM bitcode is of no use to a C linker (and crashes GNU ar's LLVM plugin).
    objcopy --keep-global-symbols="$tmp/exports" --strip-debug \
        --remove-section=.llvmbc --remove-section=.llvmcmd "$tmp/optkern.o"
    rm -f "$2"
    ar rcs "$2" "$tmp/optkern.o"
    rm -rf "$tmp"
}

build x86-64 target/capi/x86-64 staticlib,cdylib
pack target/capi/x86-64/release/liboptkern.a "$out/liboptkern.a"
cp target/capi/x86-64/release/liboptkern.so "$out/liboptkern.so.0"
ln -sf liboptkern.so.0 "$out/liboptkern.so"
for level in x86-64-v3 x86-64-v4; do
    build "$level" "target/capi/$level" cdylib
    cp "target/capi/$level/release/liboptkern.so" "$out/glibc-hwcaps/$level/liboptkern.so.0"
done
echo "built $(cd "$out" && find . -name 'liboptkern*' | sort | tr '\n' ' ')"
echo "archive: $(stat -c %s "$out/liboptkern.a") bytes"
