#!/usr/bin/env python3
"""Layering check (ARCHITECTURE.md "Rules"): fails when

- `crate::cli` is used outside `src/cli/` (the CLI is a front end, nothing builds on it),
- `crate::gui` is used outside `src/gui/` and the CLI's dispatch (`src/cli/`),
- the top-level modules form a dependency circle that is not in KNOWN_CIRCLES.

Dependencies are read from code (comments and doc lines are ignored): every `crate::M` path,
`use crate::{M, …}` groups, and `super::M` in a top-level module's own file. KNOWN_CIRCLES is
the list the architecture issue (20) removes; a circle that grows, or a new one, fails.

`python3 .ci/layers.py` checks `src/`; `--self-test` shows that each rule fails on a violation.
"""
import os
import re
import sys
import tempfile

# Module circles tolerated (none since the architecture issue broke the last three: signals <->
# models, selection <-> table, cli <-> fuzz). Keep it empty.
KNOWN_CIRCLES = []
# Files outside src/cli/ allowed to use crate::cli (none; keep it empty).
CLI_USERS_ALLOWED = set()

PATH_RE = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP_RE = re.compile(r"\bcrate::\{([^}]*)\}")
SUPER_RE = re.compile(r"\bsuper::([a-z_][a-z0-9_]*)")


def top_modules(src):
    mods = set()
    for name in os.listdir(src):
        p = os.path.join(src, name)
        if os.path.isdir(p) and os.path.exists(os.path.join(p, "mod.rs")):
            mods.add(name)
        elif name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            mods.add(name[:-3])
    return mods


def code_lines(text):
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("//"):
            continue
        yield line


def scan(root):
    src = os.path.join(root, "src")
    mods = top_modules(src)
    edges = {}  # (from, to) -> first "file:line"
    uses = []  # (file, line, target) for crate::cli / crate::gui
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            parts = os.path.relpath(path, src).replace(os.sep, "/").split("/")
            if parts[0] in ("lib.rs", "main.rs"):
                continue
            me = parts[0][:-3] if len(parts) == 1 else parts[0]
            top_file = len(parts) == 1 or parts[1] == "mod.rs"
            text = open(path, encoding="utf-8").read()
            for n, line in enumerate(code_lines(text), 1):
                targets = set(PATH_RE.findall(line))
                for g in GROUP_RE.findall(line):
                    for item in g.split(","):
                        m = re.match(r"\s*([a-z_][a-z0-9_]*)", item)
                        if m:
                            targets.add(m.group(1))
                if top_file:
                    targets |= {t for t in SUPER_RE.findall(line) if t in mods}
                for t in targets:
                    if t not in mods or t == me:
                        continue
                    edges.setdefault((me, t), f"{rel}:{n}")
                    if t in ("cli", "gui"):
                        uses.append((rel, n, t))
    return mods, edges, uses


def circles(mods, edges):
    """Strongly connected components with more than one module (Tarjan)."""
    graph = {m: sorted({b for (a, b) in edges if a == m}) for m in mods}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for m in sorted(mods):
        if m not in index:
            visit(m)
    return out


def check(root, known=None, cli_allowed=None):
    known = KNOWN_CIRCLES if known is None else known
    cli_allowed = CLI_USERS_ALLOWED if cli_allowed is None else cli_allowed
    mods, edges, uses = scan(root)
    errors = []
    for rel, n, t in uses:
        if t == "cli" and not rel.startswith("src/cli/") and rel not in cli_allowed:
            errors.append(f"{rel}:{n}: uses crate::cli outside src/cli/ (the CLI only parses and prints)")
        if t == "gui" and not rel.startswith(("src/gui/", "src/cli/")):
            errors.append(f"{rel}:{n}: uses crate::gui outside src/gui/ and the CLI's dispatch")
    for comp in circles(mods, edges):
        if comp in known:
            continue
        where = "; ".join(
            f"{a} -> {b} ({edges[(a, b)]})" for (a, b) in sorted(edges) if a in comp and b in comp
        )
        errors.append(f"module circle {sorted(comp)}: {where}")
    return errors, len(mods), len(edges)


def self_test():
    """Each rule must fail on a planted violation and pass on the clean tree."""
    def tree(files):
        d = tempfile.mkdtemp()
        for rel, body in files.items():
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").write(body)
        return d

    clean = {
        "src/lib.rs": "",
        "src/store/mod.rs": "use crate::catalog::x;\n",
        "src/catalog/mod.rs": "// crate::store in a comment is not a dependency\n",
        "src/cli/mod.rs": "use crate::{store, gui::run};\n",
        "src/gui/mod.rs": "use crate::store::Store;\n",
        "src/table.rs": "use super::store;\n",
    }
    assert check(tree(clean), [], set())[0] == [], check(tree(clean), [], set())
    bad_cli = dict(clean, **{"src/gui/scorers.rs": "use crate::cli::train;\n"})
    assert any("crate::cli" in e for e in check(tree(bad_cli), [], set())[0])
    bad_gui = dict(clean, **{"src/store/x.rs": "fn f() { crate::gui::run(); }\n"})
    assert any("crate::gui" in e for e in check(tree(bad_gui), [], set())[0])
    bad_circle = dict(clean, **{"src/catalog/mod.rs": "use crate::{table};\n"})
    errs = check(tree(bad_circle), [], set())[0]
    assert any("circle" in e and "catalog" in e and "table" in e for e in errs), errs
    assert check(tree(bad_circle), [{"catalog", "store", "table"}], set())[0] == []
    print("layers self-test: every rule fails on its planted violation")


if __name__ == "__main__":
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if "--self-test" in sys.argv:
        self_test()
        sys.exit(0)
    errors, nmods, nedges = check(root)
    mods, edges, _ = scan(root)
    known = [sorted(c) for c in circles(mods, edges)]
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    for c in KNOWN_CIRCLES:
        if sorted(c) not in known:
            print(f"note: the circle {sorted(c)} is gone: remove it from KNOWN_CIRCLES")
    print(f"layers ok: {nmods} modules, {nedges} dependencies, known circles {known}")
