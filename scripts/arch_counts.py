#!/usr/bin/env python3
"""Counts the architecture issue (20) tracks, for before/after notes:

- module circles (top-level, from `.ci/layers.py`),
- functions longer than 100 and 150 lines (brace matching from each `fn` to its closing brace;
  test modules included), with the ten longest,
- `serde_json::Value` returned across layers (`-> … Value` in signatures),
- `Result<_, String>` in signatures,
- string literals of decision statuses and label protocols outside tests.

Usage: python3 scripts/arch_counts.py [--json]
"""
import importlib.util
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")

STATUSES = ("accepted", "rejected", "review", "undecided")
PROTOCOLS = ("pairwise", "likert", "best_of_n", "multi")
FN_RE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([a-zA-Z_0-9]+)")


def rust_files():
    for d, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".rs"):
                yield os.path.join(d, f)


def strip_strings_and_comments(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return line.split("//", 1)[0]


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = FN_RE.match(lines[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = strip_strings_and_comments(lines[j])
            if not started and ";" in code and "{" not in code:
                break  # a declaration without a body (trait method)
            for ch in code:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
            if started and depth <= 0:
                out.append((m.group(6), i + 1, j - i + 1))
                break
            j += 1
        i += 1
    return out


def literal_counts(words):
    places, files = 0, set()
    for p in rust_files():
        text = open(p, encoding="utf-8").read()
        # leave out `#[cfg(test)]` modules at the end of files and *_tests.rs files
        if p.endswith("_tests.rs") or "/fuzz/" in p:
            continue
        cut = text.find("#[cfg(test)]")
        if cut >= 0:
            text = text[:cut]
        n = sum(len(re.findall(r'"%s"' % re.escape(w), text)) for w in words)
        if n:
            places += n
            files.add(os.path.relpath(p, ROOT))
    return places, len(files)


def main():
    spec = importlib.util.spec_from_file_location("layers", os.path.join(ROOT, ".ci", "layers.py"))
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    mods, edges, _ = layers.scan(ROOT)
    circles = [sorted(c) for c in layers.circles(mods, edges)]

    fns = []
    value_returns = string_results = 0
    for p in rust_files():
        rel = os.path.relpath(p, ROOT)
        for name, line, n in functions(p):
            fns.append((n, f"{rel}:{line} {name}"))
        text = open(p, encoding="utf-8").read()
        value_returns += len(re.findall(r"->\s*[^{;]*\bValue\b", text))
        string_results += len(re.findall(r"Result<[^<>]*(<[^<>]*>)?[^<>]*,\s*String>", text))
    fns.sort(reverse=True)
    st = literal_counts(STATUSES)
    pr = literal_counts(PROTOCOLS)
    out = {
        "module_circles": circles,
        "functions_over_100_lines": sum(1 for n, _ in fns if n > 100),
        "functions_over_150_lines": sum(1 for n, _ in fns if n > 150),
        "longest_functions": [f"{n} {w}" for n, w in fns[:10]],
        "value_returning_signatures": value_returns,
        "result_string_signatures": string_results,
        "status_literals": {"places": st[0], "files": st[1]},
        "protocol_literals": {"places": pr[0], "files": pr[1]},
    }
    if "--json" in sys.argv:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        if isinstance(v, list) and k == "longest_functions":
            print(f"{k}:")
            for x in v:
                print(f"  {x}")
        else:
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
