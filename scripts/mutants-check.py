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

--summary prints caught/missed/unviable/timeout counts per file (the full run's table);
--first-tested, --remaining and --survivors are scripts/mutants.sh's: what a resumed full run
has left, and what to test again after tests were added.
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


def passes(out_dir):
    """The outcome files of a run, oldest first, each with its pass number. A full run
    (scripts/mutants.sh full) keeps one cargo-mutants output per part of a pass: pass1-1/,
    pass1-2/, ... (a subset of the tests; a resumed first pass adds a part over the mutants the
    earlier parts did not reach), then pass2-1/, ... (every derived test, over the first pass's
    survivors). A diff run has one: OUTPUT_DIR/mutants.out, counted as pass 1."""
    found = []
    for name in os.listdir(out_dir) if os.path.isdir(out_dir) else []:
        m = re.fullmatch(r"pass(\d+)-(\d+)", name)
        path = os.path.join(out_dir, name, "mutants.out", "outcomes.json")
        if m and os.path.exists(path):
            found.append(((int(m.group(1)), int(m.group(2))), path))
    if not found:
        single = os.path.join(out_dir, "mutants.out", "outcomes.json")
        return [(1, single)] if os.path.exists(single) else []
    return [(key[0], path) for key, path in sorted(found)]


def merged(out_dir):
    """Each mutant's latest outcome with the pass that gave it (a later pass re-tested it against
    more tests); the number of mutants generated (the first part's mutants.json lists them all);
    and whether the first pass is complete (its last part ran to its end)."""
    outcomes, generated, first_done = {}, 0, False
    for number, path in passes(out_dir):
        run = json.load(open(path))
        if not generated:
            listing = os.path.join(os.path.dirname(path), "mutants.json")
            exists = os.path.exists(listing)
            generated = len(json.load(open(listing))) if exists else run.get("total_mutants", 0)
        if number == 1:
            first_done = run.get("end_time") is not None
        for o in run["outcomes"]:
            scenario = o["scenario"]
            if scenario == "Baseline" or "Mutant" not in scenario:
                continue
            outcomes[scenario["Mutant"]["name"]] = (o, number)
    return outcomes, generated, first_done


def main():
    out_dir = sys.argv[1]
    outcomes, generated, first_done = merged(out_dir)
    # For scripts/mutants.sh's resumable full run:
    if "--first-tested" in sys.argv:
        # the mutants the first pass has tested; exit status 0 when that is all of them.
        for name in sorted(outcomes):
            print(name)
        sys.exit(0 if first_done else 1)
    if "--remaining" in sys.argv or "--survivors" in sys.argv:
        # the first pass's survivors that no second pass has tested yet; or (after tests were
        # added for them) every mutant whose latest outcome is a survival, to test them again.
        every = "--survivors" in sys.argv
        for name, (o, number) in sorted(outcomes.items()):
            # "Failure": the build or test was killed (an interrupted run), no verdict: test again.
            if (every or number == 1) and o["summary"] in ("MissedMutant", "Failure"):
                print(name)
        return
    outcomes = {name: o for name, (o, _) in outcomes.items()}
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
    # A "Failure" is a mutant whose build or test was killed (an interrupted run): no verdict,
    # counted as not tested (the next resumed pass tests it again).
    tested = sum(sum(n for k, n in c.items() if k != "Failure") for c in per_file.values())
    if "--summary" in sys.argv:
        print("| file | caught | missed | unviable | timeout | interrupted |")
        print("|---|---|---|---|---|---|")
        for f in sorted(per_file):
            c = per_file[f]
            print(
                f"| {f} | {c['CaughtMutant']} | {c['MissedMutant']} | {c['Unviable']} "
                f"| {c['Timeout']} | {c['Failure']} |"
            )
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
