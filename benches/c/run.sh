#!/usr/bin/env bash
# Builds the C library (scripts/build-capi.sh) and runs benches/c/adam_vs_c.c against it:
# optkern's Adam vs the hand-written intrinsics loop, the plain C loop and a same-traffic copy.
#   bash benches/c/run.sh [--quick]      (--quick: 4 Ki elements, 3 short rounds: a smoke test)
# OPTKERN_CAPI_BUILT=1 uses the library already in target/capi (CI builds it just before).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${OPTKERN_CAPI_BUILT:-}" ] || bash scripts/build-capi.sh >/dev/null
out=target/capi/adam_vs_c
gcc -std=c11 -O3 -march=native -fno-math-errno -Wall -Wextra -Werror -Iinclude \
    benches/c/adam_vs_c.c target/capi/lib/liboptkern.a -lm -o "$out"
"$out" "$@"
