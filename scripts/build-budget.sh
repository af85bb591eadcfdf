#!/usr/bin/env bash
# Fails when the library's monomorphised code grows past the budget in .ci/build-budget
# (issue: build cost). Counts, in a release build of the library with default features and no
# RUSTFLAGS, the copies of the chunk loops (`driver::for_each_chunk_live`, and
# `for_each_chunk_summed` for kernels with sums: one per kernel body × lane width × profile ×
# specialised option) and the LLVM IR lines rustc hands to
# LLVM, both from `cargo llvm-lines`. Raising a budget is a decision stated in the commit.
#   bash scripts/build-budget.sh           check
#   bash scripts/build-budget.sh --print   print the current counts only
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo llvm-lines --version >/dev/null 2>&1; then
    cargo install cargo-llvm-lines --locked --version 0.4.48
fi
report=$(RUSTFLAGS="" CARGO_TARGET_DIR=target/build-budget cargo llvm-lines --release --lib 2>/dev/null)
lines=$(awk '/\(TOTAL\)/ { print $1; exit }' <<<"$report")
# The copies column: "<n> (<pct>, <cum>)" after the lines column.
loops=$(grep -E ' optkern::(driver::for_each_chunk_(live|summed)|format::fused::Fused<P,S,G,_,_>::for_each_group)$' <<<"$report" \
    | sed -E 's/^ *[0-9]+ \([^)]*\) +([0-9]+) .*/\1/' | awk '{ s += $1 } END { print s + 0 }')
echo "chunk loops: $loops, LLVM IR lines: $lines"
[ "${1:-}" = "--print" ] && exit 0
budget_loops=$(awk '$1 == "loops" { print $2 }' .ci/build-budget)
budget_lines=$(awk '$1 == "llvm_lines" { print $2 }' .ci/build-budget)
status=0
if [ "$loops" -gt "$budget_loops" ]; then
    echo "FAILED: $loops chunk loops, budget $budget_loops (.ci/build-budget)"; status=1
fi
if [ "$lines" -gt "$budget_lines" ]; then
    echo "FAILED: $lines LLVM IR lines, budget $budget_lines (.ci/build-budget)"; status=1
fi
[ $status -eq 0 ] && echo "within budget ($budget_loops loops, $budget_lines lines)"
exit $status
