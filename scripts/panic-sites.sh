#!/usr/bin/env bash
# Counts the panic call sites left in the release C library (issue: the C library): every
# relocation from an optkern function (or a generic instantiated for it) to a function of
# core::panicking or core's slice/str index failures, in the no_std, panic=abort staticlib.
#   bash scripts/panic-sites.sh            prints the sites, exits 1 if there are any
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/panic-sites
CARGO_PROFILE_RELEASE_PANIC=abort CARGO_TARGET_DIR=$dir/build \
    cargo rustc --release --lib --no-default-features --features capi --crate-type staticlib -q
rm -rf "$dir/objs" && mkdir -p "$dir/objs"
(cd "$dir/objs" && ar x ../build/release/liboptkern.a)
sites=$(for o in "$dir"/objs/optkern*.o; do
    readelf -rW "$o" | awk '/^Relocation section/ { sec = $3 }
        /panicking|slice_index_fail|slice_end_index|slice_start_index|index_order_fail|panic_bounds_check|unwrap_failed|expect_failed|assert_failed|str_index_overflow/ { print sec }'
done | sed "s/^'\.rela\.text\.//; s/'$//" | sort | uniq -c | sort -rn)
count=$(awk '{ s += $1 } END { print s + 0 }' <<<"$sites")
if [ "$count" -gt 0 ]; then
    echo "$sites" | c++filt
    echo "$count panic call sites in the C library"
    exit 1
fi
echo "0 panic call sites in the C library"
