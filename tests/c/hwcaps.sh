#!/usr/bin/env bash
# The glibc-hwcaps install: with target/capi/lib (baseline .so plus glibc-hwcaps/x86-64-v3 and
# -v4) on the library path, the loader must pick the best build this CPU runs, and its results
# must agree with the baseline build's: bit for bit in the Portable profile, within 1e-5 of the
# largest |param| in the Torch profile (FMA vs no FMA). Run after scripts/build-capi.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=target/capi/lib
tmp=target/capi/hwcaps-test
mkdir -p "$tmp/baseline-only"
cp "$lib/liboptkern.so.0" "$tmp/baseline-only/"
gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude tests/c/hwcaps.c -L"$lib" -loptkern -o "$tmp/hwcaps"
LD_LIBRARY_PATH="$lib" "$tmp/hwcaps" > "$tmp/best.txt"
LD_LIBRARY_PATH="$tmp/baseline-only" "$tmp/hwcaps" > "$tmp/base.txt"
best=$(head -1 "$tmp/best.txt"); base=$(head -1 "$tmp/base.txt")
echo "loader picked: $best; baseline: $base"
expect="baseline"
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && expect="x86-64-v3"
grep -qw avx512f /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && expect="x86-64-v4"
[[ "$best" == *"$expect"* ]] || { echo "FAILED: expected the $expect build"; exit 1; }
[[ "$base" == *baseline* ]] || { echo "FAILED: the baseline-only directory did not load the baseline build"; exit 1; }
cmp <(grep '^portable' "$tmp/best.txt") <(grep '^portable' "$tmp/base.txt") \
    || { echo "FAILED: Portable results differ between builds"; exit 1; }
python3 - "$tmp/best.txt" "$tmp/base.txt" <<'PY'
import struct, sys
def torch(path):
    for line in open(path):
        if line.startswith("torch"):
            return [struct.unpack("<f", bytes.fromhex(h)[::-1])[0] for h in line.split()[1:]]
a, b = torch(sys.argv[1]), torch(sys.argv[2])
scale = max(abs(x) for x in b)
worst = max(abs(x - y) for x, y in zip(a, b)) / scale
print(f"Torch profile, best build vs baseline: largest difference {worst:.2e} of max|param|")
sys.exit(0 if worst <= 1e-5 else 1)
PY
echo "hwcaps: 1 passed, 0 failed"
