#!/usr/bin/env bash
# Mutation testing with cargo-mutants against the derived tests: every test target except
# tests/portable_bits.rs (blessed snapshots, which a re-bless would accept), tests/capi.rs (the
# header's freshness) and tests/parallel.rs (feature rayon). Built with the `capi` feature, so
# that mutants of src/capi/ are compiled and judged by tests/capi_errors.rs (the C tests in
# tests/c/ are not run by cargo-mutants). Verdict by scripts/mutants-check.py against
# .ci/mutants-exceptions.
#
# The cargo profile: $OPTKERN_MUTANTS_PROFILE; `full` defaults to Cargo.toml's `mutants` profile
# (the test profile at opt-level 1 without debug info; overflow checks and debug assertions kept),
# `diff` to cargo's own (debug) test build. The optimised build runs the derived tests ~17x faster
# but rebuilds a mutant of a file inlined into every kernel ~5x slower: run the shared core files
# (src/numerics.rs) with OPTKERN_MUTANTS_PROFILE=dev. Measurements: docs/mutation.md.
#
#   bash scripts/mutants.sh diff [BASE]   the CI leg: only mutants in lines changed since BASE
#                                         (default HEAD~1), time-boxed ($OPTKERN_MUTANTS_MINUTES,
#                                         default 10); in place, reusing target/debug
#   bash scripts/mutants.sh full FILE...  a full run over FILEs (globs), in a copy of the tree;
#                                         hours for the whole library: run it in pieces
#                                         (two passes: $OPTKERN_MUTANTS_FIRST, then the rest;
#                                         run again to resume; OPTKERN_MUTANTS_RETEST=1 tests
#                                         every survivor again, after tests were added;
#                                         OPTKERN_MUTANTS_SECOND_ONLY=1 runs the second pass
#                                         over the first's survivors so far, its rest untested:
#                                         for a first pass stopped where another clone took
#                                         the remaining files over;
#                                         OPTKERN_MUTANTS_SHARD=K/N its first pass over one
#                                         share, K in 0..N)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked --version 27.1.0
fi
# Every test target but the three above, found rather than listed (a list had missed fast, gemm
# and parameter_free: two mutants of reduce.rs survived the full run that parameter_free kills).
tests=(--lib)
for f in tests/*.rs; do
    t=$(basename "$f" .rs)
    case $t in portable_bits | capi | parallel) ;; *) tests+=(--test "$t") ;; esac
done
mode=${1:?diff or full}
shift
case "$mode" in
diff)
    base=${1:-HEAD~1}
    out=target/mutants-diff
    mkdir -p "$out"
    git diff "$base" -- 'src/*.rs' 'src/**/*.rs' > "$out/changes.diff"
    if ! [ -s "$out/changes.diff" ]; then
        echo "no library source changed since $base: no mutants"
        exit 0
    fi
    # Past the time box cargo-mutants is interrupted: the mutants tested so far are judged, the
    # rest are reported as not tested (the full run covers them) and do not fail the leg.
    # --in-place mutates src/ itself (and restores it); keep a copy in case an interrupt leaves a
    # mutant behind.
    rm -rf "$out/src.orig" && cp -r src "$out/src.orig"
    status=0
    timeout --signal=INT "${OPTKERN_MUTANTS_MINUTES:-10}m" \
        cargo mutants --in-diff "$out/changes.diff" --in-place --baseline skip --timeout 300 --features capi \
        ${OPTKERN_MUTANTS_PROFILE:+--profile "$OPTKERN_MUTANTS_PROFILE"} \
        --no-shuffle --output "$out" -- "${tests[@]}" || status=$?
    # 0 all caught, 2 missed (judged below), 3 timeouts (judged below), 124/130 the time box.
    if ! diff -r -q src "$out/src.orig" >/dev/null; then
        echo "restoring src/ (cargo mutants left a mutant behind)"
        rm -rf src && cp -r "$out/src.orig" src
    fi
    case $status in 0 | 2 | 3 | 124 | 130) ;; *) echo "cargo mutants failed ($status)"; exit 1 ;; esac
    [ -f "$out/mutants.out/outcomes.json" ] || { echo "no mutants in the diff"; exit 0; }
    python3 scripts/mutants-check.py "$out"
    ;;
full)
    name=$(echo "$*" | tr -c 'a-zA-Z0-9' '_' | cut -c1-60)
    out=target/mutants-full/$name
    mkdir -p "$out"
    files=()
    for f in "$@"; do files+=(-f "$f"); done
    common=("${files[@]}" -j 1 --no-shuffle --features capi)
    # Two passes with the same verdict as one over every test. The first builds and runs only the
    # targets in $OPTKERN_MUTANTS_FIRST (default bit_model, reference, errors, which catch most
    # kernel mutants: 78 of 84 in the eighth session's diff run were caught first by bit_model;
    # `lib` names the unit tests), so a caught mutant costs one small link and a short test run
    # instead of ~20 test binaries. The second re-tests exactly the first's survivors against
    # every derived test. A mutant caught by a subset is caught by the whole set, so the score is
    # the same. Each pass keeps its own outputs; scripts/mutants-check.py
    # merges them. Run the same command again to resume an interrupted run: each pass gains a part
    # ($out/pass1-K, $out/pass2-K) over the mutants its earlier parts did not reach. A first-pass
    # timeout (an endless loop, judged by the exceptions file as every timeout is) is not re-run:
    # each costs the whole time limit. OPTKERN_MUTANTS_FIRST=none: one pass over every test.
    #
    # Profiles: the first pass in $OPTKERN_MUTANTS_PROFILE (default `mutants`); the second in
    # $OPTKERN_MUTANTS_PROFILE2 (default `mutants`): its mutants mostly survive the first pass
    # and run every test, 10 s optimised against ~190 s in debug.
    first=${OPTKERN_MUTANTS_FIRST:-bit_model reference errors}
    # `--re`/`--exclude-re` arguments naming each mutant on stdin exactly.
    exact() {
        local flag=$1 name
        while IFS= read -r name; do
            [ -n "$name" ] || continue
            printf '%s\0%s\0' "$flag" "^$(printf '%s' "$name" | sed 's/[][\.^$*+?(){}|]/\\&/g')\$"
        done
    }
    # The next free part number of pass $1.
    part() {
        local k=1
        while [ -e "$out/pass$1-$k" ]; do k=$((k + 1)); done
        echo "$k"
    }
    if ! tested=$(python3 scripts/mutants-check.py "$out" --first-tested) && [ -z "${OPTKERN_MUTANTS_SECOND_ONLY:-}" ]; then
        subset=(-- "${tests[@]}")
        if [ "$first" != none ]; then
            subset=()
            for t in $first; do
                if [ "$t" = lib ]; then subset+=(-C --lib); else subset+=(-C "--test=$t"); fi
            done
        fi
        mapfile -d '' skip < <(printf '%s\n' "$tested" | exact --exclude-re)
        # OPTKERN_MUTANTS_SHARD=K/N: the first pass over the K-th of N shares of the mutants
        # (one large file over two clones; copy a shard's pass1-1 into the other's run as a
        # further part to merge them; a resumed shard takes its share of what is left).
        cargo mutants "${common[@]}" --profile "${OPTKERN_MUTANTS_PROFILE:-mutants}" \
            ${OPTKERN_MUTANTS_SHARD:+--shard "$OPTKERN_MUTANTS_SHARD"} \
            --output "$out/pass1-$(part 1)" "${skip[@]}" "${subset[@]}" || true
    fi
    if [ "$first" != none ]; then
        # OPTKERN_MUTANTS_RETEST=1: every survivor so far, e.g. after adding tests for them.
        which=--remaining
        [ -z "${OPTKERN_MUTANTS_RETEST:-}" ] || which=--survivors
        mapfile -d '' only < <(python3 scripts/mutants-check.py "$out" $which | exact --re)
        if [ ${#only[@]} -gt 0 ]; then
            cargo mutants "${common[@]}" --profile "${OPTKERN_MUTANTS_PROFILE2:-mutants}" \
                --output "$out/pass2-$(part 2)" "${only[@]}" -- "${tests[@]}" || true
        fi
    fi
    python3 scripts/mutants-check.py "$out" --summary
    ;;
*)
    echo "usage: scripts/mutants.sh diff [BASE] | full FILE..." >&2
    exit 2
    ;;
esac
