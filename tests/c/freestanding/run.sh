#!/usr/bin/env bash
# Builds the no_std C library (no std, panic = abort, no panic handler that links) and the
# freestanding program against it, with -static -nostdlib: no libc at all. The link itself
# proves that no panic path survives in what the program calls (the panic handler references a
# symbol nothing defines). Prints the size the library adds and exits with the program's status.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=target/freestanding
mkdir -p "$out"
RUSTFLAGS="--cfg optkern_no_panic_check" CARGO_PROFILE_RELEASE_PANIC=abort CARGO_TARGET_DIR="$out/build" \
    cargo rustc --release --lib --no-default-features --features capi --crate-type staticlib -q
lib="$out/build/release/liboptkern.a"
cflags=(-std=c99 -O2 -ffreestanding -fno-builtin -fno-stack-protector -static -nostdlib -Iinclude)
gcc "${cflags[@]}" tests/c/freestanding/main.c "$lib" -Wl,--gc-sections -o "$out/adam"
printf 'int main(void){return 0;}\n' > "$out/empty.c"
echo "archive: $(stat -c %s "$lib") bytes"
size "$out/adam"
"$out/adam" && echo "freestanding Adam step: status 0"
