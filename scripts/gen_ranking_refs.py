#!/usr/bin/env python3
# Regenerate (from the repository root):
#   python3 -m pip install -r scripts/requirements-ranking.txt
#   python3 scripts/gen_ranking_refs.py --out tests/data/ranking_refs.json
"""Reference vectors for Assay's ranking and agreement statistics (src/ranking/).

Every value comes from the peer implementation that defines the convention
(docs/metrics-reference.md section 7), on seeded random inputs:

* Bradley-Terry: ``choix.mm_pairwise`` (tol 1e-8, max_iter 10000). Assay counts a
  tie as half a win for each side (FastChat ``compute_elo_mle_with_tie``). For
  problems with ties choix is run on DOUBLED data: every decisive comparison
  twice and every tie once in each direction, with ``alpha = 2 * alpha``. That
  log-likelihood is exactly twice the tie-as-half one, so alpha = 0 gives the
  same optimum, and the MM iterates coincide with Assay's (counts and prior
  both scaled by 1/2). (Doubling only the ties would weight ties twice as much
  as decisive outcomes and give a different optimum.) For alpha = 0 the script
  also fits the FastChat-style weighted logistic objective with
  ``scipy.optimize.minimize`` (L-BFGS-B) and asserts it agrees with choix.
* Bootstrap: the resampling is replicated exactly with the same RNG
  (SplitMix64-seeded xoshiro256**, Lemire's ``below``), each resample is fitted
  with choix, quantiles with ``np.percentile`` (linear).
* Online Elo: FastChat ``compute_elo`` (K=4, base 10, scale 400, init 1000),
  copied below since FastChat is not a pinned dependency.
* Cohen's kappa: ``sklearn.metrics.cohen_kappa_score`` (None / linear / quadratic).
* Fleiss' kappa: ``statsmodels.stats.inter_rater.fleiss_kappa`` (fleiss, randolph).
* Krippendorff's alpha: ``krippendorff.alpha`` (4 levels, NaN = missing).
* Spearman / Kendall tau-b: ``scipy.stats.spearmanr`` / ``scipy.stats.kendalltau``.
"""

import argparse
import json
import math
from collections import defaultdict

import choix
import krippendorff
import numpy as np
import scipy
import scipy.optimize
import scipy.special
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats
import sklearn
import sklearn.metrics
import statsmodels
from statsmodels.stats.inter_rater import fleiss_kappa

M64 = (1 << 64) - 1
A_WINS, B_WINS, TIE = 0, 1, 2


class Rng:
    """Bit-exact replica of src/ranking/rng.rs (SplitMix64-seeded xoshiro256**)."""

    def __init__(self, seed):
        sm = seed & M64
        self.s = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            self.s.append(splitmix_mix(sm))

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_f64(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def below(self, n):
        if n <= 1:
            return 0
        m = self.next_u64() * n
        if (m & M64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M64) < threshold:
                m = self.next_u64() * n
        return m >> 64


def splitmix_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def bench_inputs(n_items, n_comps, seed):
    """Replica of bt::bench_inputs: returns lists a, b, outcome (0 = a wins, 1 = b wins)."""
    rng = Rng(seed)
    s = [0.05 + rng.next_f64() for _ in range(n_items)]
    a_l, b_l, o_l = [], [], []
    for _ in range(n_comps):
        a = rng.below(n_items)
        b = rng.below(n_items - 1)
        if b >= a:
            b += 1
        u = rng.next_f64()
        a_l.append(a)
        b_l.append(b)
        o_l.append(A_WINS if u * (s[a] + s[b]) < s[a] else B_WINS)
    return a_l, b_l, o_l


# ---------------------------------------------------------------- Bradley-Terry


def choix_data(a, b, o):
    """(winner, loser) list; with ties, the doubled data described in the module doc."""
    has_ties = TIE in o
    data = []
    for ai, bi, oi in zip(a, b, o):
        if oi == TIE:
            data += [(ai, bi), (bi, ai)]
        else:
            w, l = (ai, bi) if oi == A_WINS else (bi, ai)
            data += [(w, l)] * (2 if has_ties else 1)
    return data, has_ties


def choix_fit(n, a, b, o, alpha, tol=1e-8, max_iter=10000):
    data, has_ties = choix_data(a, b, o)
    return choix.mm_pairwise(n, data, alpha=2 * alpha if has_ties else alpha, tol=tol,
                             max_iter=max_iter)


def fastchat_fit(n, a, b, o):
    """Tie-as-half logistic MLE (FastChat compute_elo_mle_with_tie objective), centred θ."""
    a, b = np.asarray(a), np.asarray(b)
    y = np.array([{A_WINS: 1.0, B_WINS: 0.0, TIE: 0.5}[x] for x in o])

    def f(theta):
        z = theta[a] - theta[b]
        loss = np.sum(np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y))
        r = scipy.special.expit(z) - y
        g = np.zeros(n)
        np.add.at(g, a, r)
        np.add.at(g, b, -r)
        return loss, g

    res = scipy.optimize.minimize(f, np.zeros(n), jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=100000, ftol=1e-16, gtol=1e-11))
    return res.x - res.x.mean()


def strongly_connected(n, a, b, o):
    rows, cols = [], []
    for ai, bi, oi in zip(a, b, o):
        if oi in (A_WINS, TIE):
            rows.append(ai)
            cols.append(bi)
        if oi in (B_WINS, TIE):
            rows.append(bi)
            cols.append(ai)
    g = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    k, _ = scipy.sparse.csgraph.connected_components(g, directed=True, connection="strong")
    return k == 1


def simulate(gen, n, m, tie_rate, spread=1.5):
    theta = gen.uniform(-spread, spread, n)
    a = gen.integers(0, n, m)
    b = (a + gen.integers(1, n, m)) % n
    u = gen.random(m)
    p = 1 / (1 + np.exp(theta[b] - theta[a]))
    o = np.where(u < tie_rate, TIE, np.where(gen.random(m) < p, A_WINS, B_WINS))
    return a.tolist(), b.tolist(), o.tolist()


def bt_problems():
    gen = np.random.default_rng(20240501)
    out = []
    specs = [("dense_no_ties_a0", 8, 400, 0.0, 0.0), ("dense_ties_a0", 10, 600, 0.15, 0.0),
             ("sparse_no_ties_a05", 30, 90, 0.0, 0.5), ("sparse_ties_a01", 25, 120, 0.2, 0.1),
             ("medium_ties_a0", 40, 2000, 0.1, 0.0), ("medium_no_ties_a001", 60, 800, 0.0, 0.01)]
    for name, n, m, tie_rate, alpha in specs:
        a, b, o = simulate(gen, n, m, tie_rate)
        if alpha == 0.0:
            assert strongly_connected(n, a, b, o), name
        theta = choix_fit(n, a, b, o, alpha)
        case = dict(name=name, n_items=n, a=a, b=b, outcome=o, alpha=alpha,
                    theta_choix=theta.tolist(), theta_fastchat=None)
        if alpha == 0.0:
            fc = fastchat_fit(n, a, b, o)
            assert np.max(np.abs(fc - theta)) < 1e-5, (name, np.max(np.abs(fc - theta)))
            case["theta_fastchat"] = fc.tolist()
        out.append(case)
    return out


def bt_bootstrap_refs():
    gen = np.random.default_rng(77)
    out = []
    for name, n, m, tie_rate, alpha, rounds, seed in [
        ("boot_sparse_a0_failures", 6, 40, 0.0, 0.0, 60, 11),
        ("boot_ties_a02", 12, 150, 0.2, 0.2, 40, 12),
    ]:
        a, b, o = simulate(gen, n, m, tie_rate, spread=1.0)
        assert strongly_connected(n, a, b, o), name
        master = Rng(seed)
        seeds = [master.next_u64() for _ in range(rounds)]
        thetas, failed = [], 0
        for s in seeds:
            rng = Rng(s)
            idx = [rng.below(m) for _ in range(m)]
            ra, rb, ro = [a[k] for k in idx], [b[k] for k in idx], [o[k] for k in idx]
            if alpha == 0.0 and not strongly_connected(n, ra, rb, ro):
                failed += 1
                continue
            try:
                thetas.append(choix_fit(n, ra, rb, ro, alpha))
            except RuntimeError:
                failed += 1
        t = np.array(thetas)
        out.append(dict(name=name, n_items=n, a=a, b=b, outcome=o, alpha=alpha, rounds=rounds,
                        seed=seed, failed_rounds=failed,
                        median=np.percentile(t, 50, axis=0).tolist(),
                        lower=np.percentile(t, 2.5, axis=0).tolist(),
                        upper=np.percentile(t, 97.5, axis=0).tolist()))
    return out


# ---------------------------------------------------------------- Elo


def compute_elo(battles, K=4, SCALE=400, BASE=10, INIT_RATING=1000):
    """FastChat fastchat/serve/monitor/elo_analysis.py compute_elo, on (a, b, winner) tuples."""
    rating = defaultdict(lambda: INIT_RATING)
    for model_a, model_b, winner in battles:
        ra = rating[model_a]
        rb = rating[model_b]
        ea = 1 / (1 + BASE ** ((rb - ra) / SCALE))
        eb = 1 / (1 + BASE ** ((ra - rb) / SCALE))
        if winner == "model_a":
            sa = 1
        elif winner == "model_b":
            sa = 0
        elif winner == "tie" or winner == "tie (bothbad)":
            sa = 0.5
        else:
            raise Exception(f"unexpected vote {winner}")
        rating[model_a] += K * (sa - ea)
        rating[model_b] += K * (1 - sa - eb)
    return dict(rating)


def elo_refs():
    gen = np.random.default_rng(99)
    out = []
    for n, m, k in [(5, 200, 4.0), (12, 1500, 4.0), (7, 300, 32.0)]:
        a, b, o = simulate(gen, n, m, 0.15)
        names = {A_WINS: "model_a", B_WINS: "model_b", TIE: "tie"}
        r = compute_elo([(x, y, names[z]) for x, y, z in zip(a, b, o)], K=k)
        out.append(dict(n_items=n, k=k, a=a, b=b, outcome=o,
                        ratings=[r.get(i, 1000) for i in range(n)]))
    return out


# ---------------------------------------------------------------- agreement


def cohen_refs():
    gen = np.random.default_rng(5)
    out = []
    words = np.array(["bad", "fine", "good", "great", "meh"])
    for n, k, noise in [(50, 3, 0.3), (200, 5, 0.5), (30, 4, 0.1), (100, 2, 0.4)]:
        a = gen.integers(0, k, n)
        b = np.where(gen.random(n) < noise, gen.integers(0, k, n), a)
        sa, sb = words[a], words[b]  # string labels; sorted union = Rust's i64 order
        for w in (None, "linear", "quadratic"):
            kappa = sklearn.metrics.cohen_kappa_score(sa, sb, weights=w)
            out.append(dict(a=a.tolist(), b=b.tolist(), labels_a=sa.tolist(),
                            labels_b=sb.tolist(), weights=w or "none", kappa=float(kappa)))
    # float ratings (sklearn needs integral floats) with a label absent from one rater
    a = [1.0, 2.0, 2.0, 5.0, 1.0, 2.0, 3.0, 5.0]
    b = [1.0, 2.0, 5.0, 5.0, 2.0, 2.0, 1.0, 5.0]
    for w in (None, "linear", "quadratic"):
        out.append(dict(a=a, b=b, weights=w or "none",
                        kappa=float(sklearn.metrics.cohen_kappa_score(a, b, weights=w))))
    return out


def fleiss_refs():
    gen = np.random.default_rng(6)
    out = []
    for n_items, raters, k in [(20, 3, 3), (50, 5, 4), (10, 2, 2), (30, 7, 5)]:
        truth = gen.integers(0, k, n_items)
        counts = np.zeros((n_items, k), dtype=int)
        for i in range(n_items):
            for _ in range(raters):
                c = truth[i] if gen.random() < 0.6 else gen.integers(0, k)
                counts[i, c] += 1
        out.append(dict(counts=counts.tolist(),
                        fleiss=float(fleiss_kappa(counts, method="fleiss")),
                        randolph=float(fleiss_kappa(counts, method="randolph"))))
    return out


TEXTBOOK = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]


def kripp_refs():
    gen = np.random.default_rng(7)
    cases = [TEXTBOOK]
    for raters, units, vals, miss in [(3, 15, [1, 2, 3, 4, 5], 0.2), (5, 40, [1, 2, 3, 4, 5, 6, 7], 0.3),
                                      (2, 25, [0.5, 1.0, 2.0, 4.5], 0.1), (4, 30, [1, 2, 3], 0.5)]:
        truth = gen.choice(vals, units)
        d = []
        for _ in range(raters):
            row = []
            for u in range(units):
                if gen.random() < miss:
                    row.append(None)
                else:
                    row.append(float(truth[u] if gen.random() < 0.7 else gen.choice(vals)))
            d.append(row)
        cases.append(d)
    out = []
    for d in cases:
        arr = np.array([[np.nan if v is None else v for v in row] for row in d], dtype=float)
        case = dict(data=d)
        for level in ("nominal", "ordinal", "interval", "ratio"):
            case[level] = float(krippendorff.alpha(reliability_data=arr, level_of_measurement=level))
        out.append(case)
    tb = out[0]
    for level, want in [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]:
        assert round(tb[level], 3) == want, (level, tb[level])
    return out


def corr_refs():
    gen = np.random.default_rng(8)
    out = []
    for n, levels in [(10, None), (50, 5), (200, 12), (1000, 30), (31, 3)]:
        if levels is None:
            x = gen.normal(size=n)
            y = x + gen.normal(size=n)
        else:
            x = gen.integers(0, levels, n).astype(float)
            y = np.round(x + gen.normal(scale=levels / 3, size=n))
        out.append(dict(x=x.tolist(), y=y.tolist(),
                        spearman=float(scipy.stats.spearmanr(x, y).statistic),
                        kendall=float(scipy.stats.kendalltau(x, y).statistic)))
    return out


def rng_refs():
    rng = Rng(42)
    u = [rng.next_u64() for _ in range(8)]
    f = [rng.next_f64() for _ in range(8)]
    below = []
    for n in [1, 2, 3, 7, 10, 1000, 10**9 + 7, (1 << 63) + 12345]:
        below.append([n, rng.below(n)])
    a, b, o = bench_inputs(50, 300, 5)
    return dict(seed=42, u64=u, f64=f, below=below), dict(n_items=50, n_comps=300, seed=5,
                                                          a=a, b=b, outcome=o)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/data/ranking_refs.json")
    args = ap.parse_args()
    rng, bench = rng_refs()
    refs = dict(
        meta=dict(generator="scripts/gen_ranking_refs.py",
                  outcome_codes="0 = a wins, 1 = b wins, 2 = tie",
                  versions=dict(numpy=np.__version__, scipy=scipy.__version__,
                                sklearn=sklearn.__version__, statsmodels=statsmodels.__version__,
                                krippendorff="0.9.0", choix="0.4.1")),
        rng=rng, bench_inputs=bench, bt=bt_problems(), bt_bootstrap=bt_bootstrap_refs(),
        elo=elo_refs(), cohen=cohen_refs(), fleiss=fleiss_refs(), krippendorff=kripp_refs(),
        correlation=corr_refs())
    with open(args.out, "w") as fh:
        json.dump(refs, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
