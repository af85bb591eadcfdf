#!/usr/bin/env python3
"""Verdict of a cargo-mutants run: fails on any missed (or timed-out) mutant that is not listed,
with its reason, in .ci/mutants-exceptions.

    python3 scripts/mutants-check.py OUTPUT_DIR [--summary]

OUTPUT_DIR is cargo-mutants' --output directory (holding mutants.out/). An exception names a
mutant by its file, its description without the position (e.g. `replace * with / in
adam_lanes`) and the source text it replaces, so that it survives edits that move lines:

    src/optim/adam.rs | replace * with / in adam_lanes | g * grad_scale | reason ...

A source of `*` matches any source text: for the mutants of a function body that the leg's
build compiles out (whole-function replacements, whose source is the whole body).

--summary prints caught/missed/unviable/timeout counts per file (the full run's table).
"""
import collections
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_text(mutant):
    """The source the mutant replaces (its span), whitespace collapsed."""
    path = os.path.join(ROOT, mutant["file"])
    lines = open(path, encoding="utf-8").read().split("\n")
    s, e = mutant["span"]["start"], mutant["span"]["end"]
    if s["line"] == e["line"]:
        text = lines[s["line"] - 1][s["column"] - 1 : e["column"] - 1]
    else:
        text = "\n".join(
            [lines[s["line"] - 1][s["column"] - 1 :]]
            + lines[s["line"] : e["line"] - 1]
            + [lines[e["line"] - 1][: e["column"] - 1]]
        )
    return " ".join(text.split())


def description(mutant):
    """The mutant's name without `file:line:col: `."""
    return re.sub(r"^[^:]+:\d+:\d+: ", "", mutant["name"])


def exceptions():
    """The exception lines. A description or source may itself hold ` | ` (a mutant of `|`),
    so lines are matched by their whole `file | description | source | ` prefix, not split."""
    out = []
    path = os.path.join(ROOT, ".ci/mutants-exceptions")
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line.split(" | ")) < 4 or not line.rsplit(" | ", 1)[1]:
            sys.exit(f".ci/mutants-exceptions:{n}: want `file | description | source | reason`")
        out.append(line)
    return out


def reason(listed, key):
    """The listed reason for the mutant `key` (file, description, source), or None."""
    for k in (key, key[:2] + ("*",)):
        prefix = " | ".join(k) + " | "
        for line in listed:
            if line.startswith(prefix) and line[len(prefix) :]:
                return line[len(prefix) :]
    return None


def main():
    out_dir = sys.argv[1]
    data = json.load(open(os.path.join(out_dir, "mutants.out", "outcomes.json")))
    # A two-pass full run (scripts/mutants.sh): the first pass's outcomes, kept as first-pass.json,
    # stand for the mutants the second (--iterate) skipped; a mutant tested in both is judged by
    # the second.
    outcomes, generated = {}, data.get("total_mutants", 0)
    first = os.path.join(out_dir, "first-pass.json")
    runs = [json.load(open(first)), data] if os.path.exists(first) else [data]
    for run in runs:
        generated = max(generated, run.get("total_mutants", 0))
        for o in run["outcomes"]:
            scenario = o["scenario"]
            if scenario == "Baseline" or "Mutant" not in scenario:
                continue
            outcomes[scenario["Mutant"]["name"]] = o
    listed = exceptions()
    per_file = collections.defaultdict(collections.Counter)
    unexplained, explained = [], []
    for o in outcomes.values():
        m = o["scenario"]["Mutant"]
        summary = o["summary"]
        per_file[m["file"]][summary] += 1
        if summary in ("MissedMutant", "Timeout"):
            key = (m["file"], description(m), source_text(m))
            why = reason(listed, key)
            (explained if why else unexplained).append((key, summary, m["name"], why))
    tested = sum(sum(c.values()) for c in per_file.values())
    if "--summary" in sys.argv:
        print("| file | caught | missed | unviable | timeout |")
        print("|---|---|---|---|---|")
        for f in sorted(per_file):
            c = per_file[f]
            print(f"| {f} | {c['CaughtMutant']} | {c['MissedMutant']} | {c['Unviable']} | {c['Timeout']} |")
    for key, summary, name, why in explained:
        print(f"explained ({summary}): {name}\n    {why}")
    for key, summary, name, _ in unexplained:
        print(f"UNEXPLAINED {summary}: {name}\n    exception line: {' | '.join(key)} | <reason>")
    print(f"{tested} of {generated} mutants tested; {len(unexplained)} unexplained survivors")
    if tested < generated:
        print(f"time box: {generated - tested} mutants were not tested (the full run covers them)")
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
