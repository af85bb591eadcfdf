#!/usr/bin/env bash
# Builds the no_std multi-level C library (whose build fails if any panic path survives in it:
# scripts/build-capi.sh) and the freestanding program against it with -static -nostdlib: no libc
# at all. Prints the code the library adds (text of the program minus an empty one), fails if
# that is over budget, and exits with the program's status.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=target/freestanding
mkdir -p "$out"
bash scripts/build-capi.sh --out "$out/lib" --static-only
cflags=(-std=c99 -O2 -ffreestanding -fno-builtin -fno-stack-protector -static -nostdlib -Iinclude -Wl,--gc-sections)
gcc "${cflags[@]}" tests/c/freestanding/main.c "$out/lib/liboptkern.a" -o "$out/adam"
# The same program without the library: its own memcpy, _start and checks.
printf 'void _start(void){for(;;);}\n' > "$out/empty.c"
gcc "${cflags[@]}" "$out/empty.c" -o "$out/empty"
size "$out/adam" "$out/empty"
text() { size -A "$1" | awk '$1 ~ /^\.(text|rodata)/ { t += $2 } END { print t }'; }
# Issue 17's budget: 64 KiB per level, 192 KiB for the three; over it, the run fails.
over=0
for level in x86-64 x86-64-v3 x86-64-v4; do
    gcc "${cflags[@]}" tests/c/freestanding/main.c "$out/lib/levels/liboptkern-$level.a" -o "$out/adam-$level"
    added=$(( $(text "$out/adam-$level") - $(text "$out/empty") ))
    echo "text + rodata added by the library, $level build alone: $added bytes (budget 65536)"
    [ "$added" -le 65536 ] || over=1
done
added=$(( $(text "$out/adam") - $(text "$out/empty") ))
echo "text + rodata added by the library, all levels: $added bytes (budget 196608)"
[ "$added" -le 196608 ] || over=1
if [ "$over" = 1 ]; then
    echo "error: an Adam-only program gains more code than issue 17's budget" >&2
    exit 1
fi
"$out/adam"
echo "freestanding: status 0"
