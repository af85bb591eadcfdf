#!/usr/bin/env bash
# Lists the panic call sites left in the release C library: every relocation from an optkern
# function (or a generic instantiated for it) to a function of core::panicking or core's
# slice/index failures, in each level's no_std, panic=abort, LTO staticlib built exactly as
# scripts/build-capi.sh builds it, but with the trapping panic handler (so the sites can be
# listed instead of failing the link). build-capi.sh itself fails on any site; this script says
# where they are.
#   bash scripts/panic-sites.sh [LEVEL...]   LEVEL: x86-64 (default: x86-64 x86-64-v3 x86-64-v4)
#                                            prints the sites, exits 1 if there are any
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
total=0
levels=("$@")
[ $# -gt 0 ] || levels=(x86-64 x86-64-v3 x86-64-v4)
for cpu in "${levels[@]}"; do
    flags="-C target-cpu=$cpu"
    # The baseline level is built without option specialisation (as build-capi.sh does).
    [ "$cpu" = x86-64 ] && flags="$flags --cfg optkern_unspecialized"
    dir=target/panic-sites/$cpu
    RUSTFLAGS="$flags" CARGO_TARGET_DIR=$dir/build \
        cargo rustc --release --lib --no-default-features --features capi --crate-type staticlib -q
    rm -rf "$dir/objs" && mkdir -p "$dir/objs"
    (cd "$dir/objs" && ar x ../build/release/liboptkern.a)
    sites=$(for o in "$dir"/objs/optkern*.o; do
        readelf -rW "$o" | awk '/^Relocation section/ { sec = $3 }
            /panicking|slice_index_fail|slice_end_index|slice_start_index|index_order_fail|panic_bounds_check|unwrap_failed|expect_failed|assert_failed|str_index_overflow|len_mismatch_fail/ { print sec }'
    done | sed "s/^'\.rela\.text\.//; s/'$//" | grep -v 'rela\.debug\|rela\.eh_frame\|^unlikely\.' \
        | sort | uniq -c | sort -rn || true)
    count=$(awk '{ s += $1 } END { print s + 0 }' <<<"$sites")
    [ "$count" -gt 0 ] && echo "$sites" | c++filt
    echo "$cpu: $count panic call sites in the C library"
    total=$((total + count))
done
[ "$total" -eq 0 ]
