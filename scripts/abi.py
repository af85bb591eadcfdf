#!/usr/bin/env python3
"""The ABI guard: the C library's ABI as text — every function prototype and enum value of
include/optkern.h, and sizeof/offsetof of every struct, measured by a C program compiled
against the header — compared with the committed snapshot tests/c/abi.txt.

    python3 scripts/abi.py            check (exit 1 on a difference)
    OPTKERN_BLESS=1 python3 scripts/abi.py   rewrite the snapshot

Any difference fails until the snapshot is re-blessed in the same commit: an ABI change is
always a decision. Blessing a change that removes or alters a line (an incompatible change)
also needs a version bump in Cargo.toml; pure additions (new functions, structs, enums, values
appended to an enum) do not.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "include", "optkern.h")
SNAPSHOT = os.path.join(ROOT, "tests", "c", "abi.txt")


def version():
    for line in open(os.path.join(ROOT, "Cargo.toml")):
        m = re.match(r'version = "([^"]+)"', line)
        if m:
            return m.group(1)
    sys.exit("no version in Cargo.toml")


def parse(text):
    # Drop comments and preprocessor lines.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = "\n".join(l for l in text.split("\n") if not l.strip().startswith("#"))
    text = re.sub(r'extern "C" \{|\}\s*// extern "C"', "", text)
    structs, enums, protos = [], [], []
    for m in re.finditer(r"typedef struct \{(.*?)\}\s*(\w+);", text, flags=re.S):
        fields = [re.split(r"[\s*]+", f.strip())[-1].split("[")[0] for f in m.group(1).split(";") if f.strip()]
        structs.append((m.group(2), fields))
    for m in re.finditer(r"typedef enum \{(.*?)\}\s*(\w+);|enum (\w+)\s*(?::\s*\w+)?\s*\{(.*?)\};", text, flags=re.S):
        body, name = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(4), m.group(3))
        values = [" ".join(v.split()) for v in body.split(",") if v.strip()]
        enums.append((name, values))
    flat = " ".join(text.split())
    for m in re.finditer(r"([A-Za-z_][\w \*]*?\boptkern_\w+\s*\([^;{}]*\))\s*;", flat):
        protos.append(" ".join(m.group(1).split()))
    return structs, enums, protos


def layouts(structs):
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "optkern.h"', "int main(void) {"]
    for name, fields in structs:
        lines.append(f'    printf("struct {name} size %zu align %zu\\n", sizeof({name}), _Alignof({name}));')
        for f in fields:
            lines.append(f'    printf("  {name}.{f} offset %zu size %zu\\n", offsetof({name}, {f}), sizeof((({name} *)0)->{f}));')
    lines += ["    return 0;", "}"]
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "abi.c"), os.path.join(d, "abi")
        open(src, "w").write("\n".join(lines) + "\n")
        subprocess.run(["gcc", "-std=c11", "-I", os.path.join(ROOT, "include"), src, "-o", exe], check=True)
        return subprocess.run([exe], capture_output=True, text=True, check=True).stdout


def current():
    structs, enums, protos = parse(open(HEADER).read())
    out = [f"version {version()}"]
    out += [f"enum {n}: " + ", ".join(v) for n, v in enums]
    out += sorted(f"fn {p}" for p in protos)
    out.append(layouts(structs).rstrip())
    return "\n".join(out) + "\n"


def main():
    now = current()
    old = open(SNAPSHOT).read() if os.path.exists(SNAPSHOT) else ""
    if os.environ.get("OPTKERN_BLESS"):
        body = lambda t: t.splitlines()[1:]
        removed = set(body(old)) - set(body(now))
        # An enum that only gained values at its end is a compatible change.
        grown = lambda line: any(n.startswith(line.rstrip() + ", ") for n in body(now))
        removed = {l for l in removed if not (l.startswith("enum ") and grown(l))}
        old_version = old.splitlines()[0].split()[-1] if old else "none"
        if removed and old_version == version():
            sys.exit("FAILED: incompatible ABI change without a version bump:\n  " + "\n  ".join(sorted(removed)))
        open(SNAPSHOT, "w").write(now)
        print(f"blessed {SNAPSHOT}")
        return
    if now == old:
        print(f"ABI unchanged ({len(now.splitlines())} lines, version {version()})")
        return
    import difflib
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), now.splitlines(True), "abi.txt", "header"))
    sys.exit("FAILED: the C ABI differs from tests/c/abi.txt: bless it (OPTKERN_BLESS=1 python3 scripts/abi.py; "
             "an incompatible change also needs a version bump)")


if __name__ == "__main__":
    main()
