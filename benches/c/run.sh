#!/usr/bin/env bash
# Builds the C library (scripts/build-capi.sh) and runs benches/c/vs_hand.c against it:
# optkern's Adam, Adagrad and RMSprop vs hand-written intrinsics loops, plain C loops and
# same-traffic copies.
#   bash benches/c/run.sh [--quick] [adam|adagrad|rmsprop ...]
#   (--quick: 4 Ki elements, 3 short rounds: a smoke test; no kernel named: all three)
# OPTKERN_CAPI_BUILT=1 uses the library already in target/capi (CI builds it just before).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${OPTKERN_CAPI_BUILT:-}" ] || bash scripts/build-capi.sh >/dev/null
out=target/capi/vs_hand
gcc -std=c11 -O3 -march=native -fno-math-errno -Wall -Wextra -Werror -Iinclude \
    benches/c/vs_hand.c target/capi/lib/liboptkern.a -lm -o "$out"
"$out" "$@"
