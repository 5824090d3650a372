#!/usr/bin/env python3
# The scikit-learn side of `assay bench flywheel` (src/cli/bench_flywheel.rs), which runs it
# with the same features and labels it trains Assay's scorer on:
#   python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r scripts/requirements-flywheel.txt
#   assay bench flywheel --python /tmp/venv/bin/python
"""A ten-line baseline for the preference scorer.

Features: the nine classical signals of every image of the collection, ``log1p`` of the two
sharpness signals (``blur_laplacian_var``, ``tenengrad``), each z-scored over the collection
(population std; missing values imputed with the mean, i.e. 0 after z-scoring).

Model: ``sklearn.linear_model.LogisticRegression(C=1)`` on pairwise differences
``z[a] - z[b]`` with label 1 when ``a`` won (each labelled pair enters once, in the order the
label names it). Tie labels are left out. ``max_iter`` is raised to 10000 so the solver
converges; everything else is scikit-learn's default (lbfgs, intercept).

Input (``--features``): CSV with a header ``item,<nine signal keys>``; empty = missing.
Input (``--labels``): CSV ``run,a,b,target`` with ``a``/``b`` row indices of the features and
``target`` 1 (a won), 0 (b won) or 0.5 (tie).
Output (``--out``): JSON ``{"sklearn": version, "runs": {run: [score of every item]}}``, the
score being the decision function ``w . z`` without the intercept (it cancels in every pair).
"""

import argparse
import csv
import json
import math
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

CLASSICAL = [
    "blur_laplacian_var",
    "tenengrad",
    "clip_shadows",
    "clip_highlights",
    "luminance_mean",
    "contrast_rms",
    "colorfulness",
    "noise_sigma",
    "blockiness",
]
LOG1P = {"blur_laplacian_var", "tenengrad"}


def load_features(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.full((len(rows), len(CLASSICAL)), np.nan)
    for i, r in enumerate(rows):
        for j, k in enumerate(CLASSICAL):
            v = r.get(k, "")
            if v != "":
                v = float(v)
                x[i, j] = math.log1p(max(v, 0.0)) if k in LOG1P else v
    mean = np.nanmean(x, axis=0)
    std = np.nanstd(x, axis=0)
    std[~(std > 1e-12)] = 1.0
    z = (x - mean) / std
    z[np.isnan(z)] = 0.0
    return z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--C", type=float, default=1.0)
    a = ap.parse_args()
    z = load_features(a.features)
    runs = {}
    with open(a.labels, newline="") as f:
        for r in csv.DictReader(f):
            runs.setdefault(r["run"], []).append((int(r["a"]), int(r["b"]), float(r["target"])))
    out = {}
    for run, pairs in runs.items():
        decided = [(i, j, t) for i, j, t in pairs if t != 0.5]
        X = np.array([z[i] - z[j] for i, j, _ in decided])
        y = np.array([1 if t > 0.5 else 0 for _, _, t in decided])
        if len(set(y.tolist())) < 2:
            out[run] = [0.0] * len(z)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = LogisticRegression(C=a.C, max_iter=10000).fit(X, y)
        out[run] = (z @ model.coef_[0]).tolist()
    with open(a.out, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "runs": out}, f)


if __name__ == "__main__":
    main()
