#!/usr/bin/env python3
"""Merge outputs of `cargo bench --bench roofline` (one file per run, any sizes) into the README
table: per kernel and profile, the 4 Ki time and its ratio to the kernel's own div/sqrt +
traffic limit, the speed-up over the same body at one lane, and the % of the same-traffic
baseline at the larger sizes. Repeated runs of one size are combined by their median.

    B=target/native/release/deps/roofline-...   (or: cargo bench --bench roofline > run1.md)
    for i in 1 2 3; do $B > r-4k-$i.md; done
    OPTKERN_ROOFLINE_N=16777216 OPTKERN_ROOFLINE_ROUNDS=7 $B > r-16m.md
    python3 scripts/roofline-report.py r-*.md
"""
import re
import statistics
import sys
from collections import defaultdict


def parse(path):
    n, rows = None, {}
    for line in open(path):
        m = re.match(r"n = (\d+)", line)
        if m:
            n = int(m.group(1))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 11 and cells[1] in ("Torch", "Portable"):
            optkern, limit, baseline = (float(c) for c in (cells[3], cells[4], cells[6]))
            x1 = float(cells[9]) if cells[9] not in ("–", "") else None
            rows[(cells[0], cells[1])] = dict(
                div_sqrt=cells[2], ns=optkern, over_limit=optkern / limit,
                of_baseline=baseline / optkern, bound=cells[8],
                speedup=x1 / optkern if x1 else None)
        elif line.startswith("| adam scalar loop"):
            rows[("adam scalar loop", "")] = dict(ns=float(cells[3]))
    return n, rows


def main():
    runs = defaultdict(list)  # n -> [rows]
    for path in sys.argv[1:]:
        n, rows = parse(path)
        runs[n].append(rows)
    med = lambda xs: statistics.median(xs) if xs else None

    def stat(n, key, field):
        return med([r[key][field] for r in runs.get(n, []) if key in r and r[key].get(field) is not None])

    small = min(runs)
    larger = sorted(n for n in runs if n != small)
    label = lambda n: f"{n >> 20} Mi" if n >= 1 << 20 else f"{n >> 10} Ki"
    head = ["kernel", "profile", "div, √ per element", f"{label(small)} ns/elem",
            "× own limit", "bound by", "× one-lane body"]
    head += [f"{label(n)} × limit · % of baseline" for n in larger]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    keys = [k for k in runs[small][0] if k[1]]
    for key in keys:
        cells = [key[0], key[1], runs[small][0][key]["div_sqrt"], f"{stat(small, key, 'ns'):.3f}",
                 f"{stat(small, key, 'over_limit'):.2f}", runs[small][0][key]["bound"],
                 f"{stat(small, key, 'speedup'):.1f}"]
        for n in larger:
            cells.append(f"{stat(n, key, 'over_limit'):.2f} · {100 * stat(n, key, 'of_baseline'):.0f} %")
        print("| " + " | ".join(cells) + " |")
    for n in [small] + larger:
        scalar = stat(n, ("adam scalar loop", ""), "ns")
        adam = {p: stat(n, ("adam", p), "ns") for p in ("Torch", "Portable")}
        if scalar:
            print(f"\nAdam at {label(n)}: scalar loop {scalar:.3f} ns/elem; optkern Torch "
                  f"{adam['Torch']:.3f} ({scalar / adam['Torch']:.2f}× faster), Portable "
                  f"{adam['Portable']:.3f} ({scalar / adam['Portable']:.2f}× faster)")


if __name__ == "__main__":
    main()
