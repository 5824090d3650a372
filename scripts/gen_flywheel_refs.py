#!/usr/bin/env python3
# Regenerate (from the repository root):
#   python3 -m pip install -r scripts/requirements-flywheel.txt
#   python3 scripts/gen_flywheel_refs.py --out tests/data/flywheel_refs.json
"""Reference vectors for the preference-scorer flywheel (src/learn/, label import).

* ``linear``: the linear Bradley-Terry scorer of ``src/learn/linear.rs`` minimises
  ``(1/n) sum_k loss_k + l2 * |w|^2`` over pairs k with feature differences ``d_k`` and
  targets ``y_k`` in {1, 1/2, 0}. scikit-learn's ``LogisticRegression`` minimises
  ``1/2 |w|^2 + C sum_i s_i loss_i``, so with ``C = 1 / (2 * l2 * n)``, no intercept, and a tie
  entered as two samples (y = 1 and y = 0, weight 1/2 each), both have the same minimiser.
  Solved with ``solver="newton-cholesky"`` to ``tol=1e-12``.
* ``bt600``: 600 pairwise judgements among 8 items by one rater without times, drawn from a
  Bradley-Terry model, so many lines are identical (the issue's "600 comparisons, 108 distinct
  lines" situation). ``theta`` is ``choix.mm_pairwise`` (alpha as ``assay rank``'s default,
  0.01) on all 600; ``theta_unique`` on the distinct lines only (what collapsing repeated lines
  used to give).
"""

import argparse
import json

import choix
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def linear_case(name, rng, n_items, d, n_pairs, tie_rate, l2, scale):
    x = rng.normal(size=(n_items, d))
    w_true = rng.normal(size=d) * scale
    pairs = []
    for _ in range(n_pairs):
        a, b = rng.choice(n_items, size=2, replace=False)
        if rng.random() < tie_rate:
            t = 0.5
        else:
            p = 1.0 / (1.0 + np.exp(-(x[a] - x[b]) @ w_true))
            t = 1.0 if rng.random() < p else 0.0
        pairs.append([int(a), int(b), t])
    X, y, sw = [], [], []
    for a, b, t in pairs:
        diff = x[a] - x[b]
        if t == 0.5:
            X += [diff, diff]
            y += [1, 0]
            sw += [0.5, 0.5]
        else:
            X.append(diff)
            y.append(int(t))
            sw.append(1.0)
    C = 1.0 / (2.0 * l2 * len(pairs))
    m = LogisticRegression(C=C, fit_intercept=False, tol=1e-12, max_iter=10000,
                           solver="newton-cholesky")
    m.fit(np.array(X), np.array(y), sample_weight=np.array(sw))
    return dict(name=name, x=x.tolist(), pairs=pairs, l2=l2, w=m.coef_[0].tolist())


def bt600(rng):
    n, m = 8, 600
    theta_true = np.linspace(-1.5, 1.5, n)
    raters = ["r1"]
    lines = []
    for _ in range(m):
        a, b = rng.choice(n, size=2, replace=False)
        p = 1.0 / (1.0 + np.exp(theta_true[b] - theta_true[a]))
        winner = int(a) if rng.random() < p else int(b)
        lines.append([raters[0], int(a), int(b), winner])
    data = [(w, b if w == a else a) for _, a, b, w in lines]
    theta = choix.mm_pairwise(n, data, alpha=0.01, tol=1e-10, max_iter=100000)
    unique = sorted({tuple(l) for l in lines})
    data_u = [(w, b if w == a else a) for _, a, b, w in unique]
    theta_u = choix.mm_pairwise(n, data_u, alpha=0.01, tol=1e-10, max_iter=100000)
    return dict(n_items=n, alpha=0.01, lines=lines, distinct_lines=len(unique),
                theta=list(map(float, theta)), theta_unique=list(map(float, theta_u)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(20261127)
    refs = dict(
        versions=dict(numpy=np.__version__, sklearn=sklearn.__version__, choix="0.4.1"),
        linear=[
            linear_case("d4_ties", rng, 30, 4, 200, 0.1, 0.01, 1.5),
            linear_case("d6_weak_penalty", rng, 50, 6, 300, 0.0, 1e-3, 1.0),
            linear_case("d3_strong_signal", rng, 20, 3, 120, 0.05, 1e-4, 6.0),
            linear_case("d10_strong_penalty", rng, 40, 10, 150, 0.2, 0.3, 1.0),
        ],
        bt600=bt600(rng),
    )
    with open(a.out, "w") as f:
        json.dump(refs, f, indent=1)


if __name__ == "__main__":
    main()
