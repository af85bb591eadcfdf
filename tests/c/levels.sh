#!/usr/bin/env bash
# The multi-level C library (scripts/build-capi.sh): for each x86-64 level, the static and the
# shared library must accept it exactly when this CPU has it (/proc/cpuinfo), report it through
# optkern_build_info, and give the bits of the single-level build for that level, in both
# profiles; with no level chosen they must run the best level. Portable bits must also agree
# across levels. Run after scripts/build-capi.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=target/capi/lib
tmp=target/capi/levels-test
mkdir -p "$tmp"
cc=(gcc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -Iinclude tests/c/levels.c)
"${cc[@]}" "$lib/liboptkern.a" -lm -o "$tmp/multi-static"
"${cc[@]}" -L"$lib" -loptkern -o "$tmp/multi-shared"
has() { for f in "$@"; do grep -qw "$f" /proc/cpuinfo || return 1; done; }
best=1
passed=0
for entry in 1:x86-64:sse2 3:x86-64-v3:"avx2 fma bmi2 movbe f16c" 4:x86-64-v4:"avx512f avx512bw avx512cd avx512dq avx512vl"; do
    IFS=: read -r level name flags <<<"$entry"
    # shellcheck disable=SC2086
    if has $flags; then supported=1; best=$level; else supported=0; fi
    for kind in static shared; do
        status=0
        LD_LIBRARY_PATH="$lib" "$tmp/multi-$kind" "$level" > "$tmp/$kind-$level.txt" || status=$?
        if [ "$supported" = 0 ]; then
            [ "$status" = 2 ] || { echo "FAILED: $kind library accepted level $level ($name), which this CPU lacks"; exit 1; }
            echo "level $level ($name): refused by the $kind library, as this CPU lacks it"
            # Nothing ran: no output to compare with the other levels below.
            rm -f "$tmp/$kind-$level.txt"
            continue
        fi
        [ "$status" = 0 ] || { echo "FAILED: $kind library refused level $level ($name)"; exit 1; }
        grep -q "^build $name " "$tmp/$kind-$level.txt" \
            || { echo "FAILED: level $level reports: $(head -1 "$tmp/$kind-$level.txt")"; exit 1; }
        if [ ! -e "$tmp/single-$level.txt" ]; then
            "${cc[@]}" "$lib/levels/liboptkern-$name.a" -lm -o "$tmp/single-$level"
            "$tmp/single-$level" 0 > "$tmp/single-$level.txt"
        fi
        cmp -s "$tmp/$kind-$level.txt" "$tmp/single-$level.txt" \
            || { echo "FAILED: level $level of the $kind library differs from the $name build"; exit 1; }
        echo "level $level ($name): $kind library == single-level build, bit for bit (both profiles)"
        passed=$((passed + 1))
    done
done
for kind in static shared; do
    LD_LIBRARY_PATH="$lib" "$tmp/multi-$kind" 0 > "$tmp/$kind-0.txt"
    cmp -s "$tmp/$kind-0.txt" "$tmp/$kind-$best.txt" \
        || { echo "FAILED: the $kind library's own choice is not level $best"; exit 1; }
    echo "no level chosen: the $kind library runs level $best, the best this CPU has"
    passed=$((passed + 1))
done
for f in "$tmp"/static-[34].txt; do
    [ -e "$f" ] || continue
    cmp -s <(grep '^portable' "$f") <(grep '^portable' "$tmp/static-1.txt") \
        || { echo "FAILED: Portable bits differ between levels ($f)"; exit 1; }
done
echo "levels: $passed passed, 0 failed"
