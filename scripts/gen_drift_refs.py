#!/usr/bin/env python3
"""Reference vectors for src/ranking/drift.rs (two-sample KS, kstwo.sf, PSI).

KS: scipy.stats.ks_2samp(a, b, method='asymp') and scipy.stats.kstwo.sf(d, n) (SciPy 1.17.1).
PSI has no canonical library; it is written here in NumPy with the convention drift.rs states:
inner edges = np.quantile(baseline, i/bins) (linear), duplicates dropped, bin index =
np.searchsorted(edges, x, side='right'), shares floored at 1e-4, sum (q - p) ln(q / p).

Inputs are multiples of 1/1024 so that their decimal text is exact for any JSON parser.
"""
import argparse
import json

import numpy as np
from scipy import stats

EPS = 1e-4


def psi(base, cur, bins):
    edges = np.unique(np.quantile(base, np.arange(1, bins) / bins))
    def share(x):
        idx = np.searchsorted(edges, x, side="right")
        return np.bincount(idx, minlength=len(edges) + 1) / len(x)
    p = np.maximum(share(base), EPS)
    q = np.maximum(share(cur), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def sample(rng, n, loc, scale, ties=False):
    x = rng.normal(loc, scale, n)
    if ties:
        x = np.round(x)
    return np.round(x * 1024) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/drift_refs.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20261127)
    cases = []
    for (na, nb, shift, scale, ties) in [
        (30, 40, 0.0, 1.0, False),
        (50, 60, 0.5, 1.0, False),
        (200, 300, 0.1, 1.0, False),
        (200, 300, 0.0, 1.5, False),
        (1000, 800, 0.2, 1.0, False),
        (1000, 800, 0.05, 1.0, False),
        (500, 500, 0.0, 1.0, True),
        (3000, 2000, 0.3, 1.2, False),
    ]:
        a = sample(rng, na, 0.0, 1.0, ties)
        b = sample(rng, nb, shift, scale, ties)
        ks = stats.ks_2samp(a, b, method="asymp")
        cases.append({
            "a": a.tolist(), "b": b.tolist(),
            "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
            "psi10": psi(a, b, 10), "psi5": psi(a, b, 5),
        })
    kstwo = []
    for n in [5, 20, 60, 140, 141, 500, 2000, 10000]:
        for d in [0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.9]:
            kstwo.append({"n": n, "d": d, "sf": float(stats.kstwo.sf(d, n))})
    kstwobign = [{"z": z, "sf": float(stats.kstwobign.sf(z))}
                 for z in [0.2, 0.5, 0.8, 1.0, 1.17, 1.19, 1.36, 1.63, 2.0, 3.0]]
    out = {"generator": "scripts/gen_drift_refs.py", "scipy": __import__("scipy").__version__,
           "numpy": np.__version__, "cases": cases, "kstwo": kstwo, "kstwobign": kstwobign}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
