#!/usr/bin/env python3
"""Summarise criterion results (target/criterion or $CARGO_TARGET_DIR/criterion) as Markdown.

For every group (a kernel and profile) and size: median ns/element, GB/s, % of the same-traffic
`baseline` in the same group, and speed-up over the `scalar` loop.

    RUSTFLAGS="-C target-cpu=native" cargo bench --bench optim
    python3 scripts/bench-report.py [criterion-dir] [group-prefix ...]
"""
import json
import os
import sys
from collections import defaultdict


def load(root):
    rows = defaultdict(dict)  # (group, n) -> impl -> (median_ns, bytes)
    for dirpath, _, files in os.walk(root):
        if "benchmark.json" not in files or os.path.basename(dirpath) != "new":
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        group, impl, n = bench["group_id"], bench["function_id"], bench["value_str"]
        tp = bench.get("throughput") or {}
        rows[(group, int(n))][impl] = (est["median"]["point_estimate"], tp.get("Bytes"))
    return rows


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    prefixes = sys.argv[2:]
    rows = load(root)
    print("| group | n | impl | ns/elem | GB/s | % of baseline | × scalar |")
    print("|---|---|---|---|---|---|---|")
    for (group, n) in sorted(rows):
        if prefixes and not any(group.startswith(p) for p in prefixes):
            continue
        impls = rows[(group, n)]
        base = impls.get("baseline")
        scalar = impls.get("scalar")
        for impl in sorted(impls, key=lambda k: (k in ("baseline", "scalar"), k)):
            ns, nbytes = impls[impl]
            gbs = f"{nbytes / ns:.1f}" if nbytes else ""
            pct = f"{100 * base[0] / ns:.0f} %" if base and impl != "baseline" else ""
            speed = f"{scalar[0] / ns:.2f}" if scalar and impl != "scalar" else ""
            print(f"| {group} | {n} | {impl} | {ns / n:.3f} | {gbs} | {pct} | {speed} |")


if __name__ == "__main__":
    main()
