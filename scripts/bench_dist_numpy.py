#!/usr/bin/env python3
"""Python baseline for `assay bench dist`: FD + KID + PRDC with the peers' own code paths.

    python3 -m venv /tmp/distvenv && /tmp/distvenv/bin/pip install -r scripts/requirements-distribution.txt
    target/release/assay bench dist --python /tmp/distvenv/bin/python     # runs this script twice
    /tmp/distvenv/bin/python scripts/bench_dist_numpy.py --n 10000 --d 768 --threads 1

Same protocol as the Rust side: two seeded Gaussian sets of N x D (B shifted by 0.1 and scaled by
1.1; numpy's generator, so the samples differ from Assay's but the distributions are the same and
the metric values agree to sampling noise), then, each timed separately, in f64:

* FD: pytorch-fid 0.3.0 / clean-fid 0.1.35 `calculate_frechet_distance` (`scipy.linalg.sqrtm`)
  on `np.mean` / `np.cov`, the statistics included in the time;
* KID: torch-fidelity 0.4.0 `kernel_poly` + unbiased `mmd2` over `--kid-subsets` subsets of
  `--kid-subset-size` (the bodies reproduced in `gen_distribution_refs.py`);
* PRDC: `prdc.compute_prdc` 0.2 twice, with k = 3 (precision / recall) and k = 5
  (density / coverage), as the Rust bench does.

`--threads N` caps the BLAS / OpenMP pools (threadpoolctl); 0 leaves numpy's default (all cores).
Prints JSON on stdout.
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
import prdc
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_distribution_refs import fd_sqrtm, kid_ref, stats  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--kid-subsets", type=int, default=100)
    ap.add_argument("--kid-subset-size", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t = time.perf_counter()
    fa = rng.standard_normal((a.n, a.d))
    fb = 0.1 + 1.1 * rng.standard_normal((a.n, a.d))
    gen_s = time.perf_counter() - t
    if a.threads > 0:
        threadpool_limits(limits=a.threads)  # applies from here on

    def timed(f):
        t = time.perf_counter()
        v = f()
        return {"seconds": time.perf_counter() - t, "value": v}

    def fd():
        m1, s1 = stats(fa)
        m2, s2 = stats(fb)
        return fd_sqrtm(m1, s1, m2, s2)[0]

    def kid():
        r = kid_ref(fa, fb, a.kid_subsets, min(a.kid_subset_size, a.n))
        return {"mean": r["mean"], "std": r["std"]}

    def prdc_k(k, keys):
        with contextlib.redirect_stdout(sys.stderr):  # prdc prints the sample counts
            r = prdc.compute_prdc(real_features=fa, fake_features=fb, nearest_k=k)
        return {key: float(r[key]) for key in keys}

    metrics = {
        "fd": timed(fd),
        "kid": timed(kid),
        "prdc_k3": timed(lambda: prdc_k(3, ("precision", "recall"))),
        "prdc_k5": timed(lambda: prdc_k(5, ("density", "coverage"))),
    }
    print(json.dumps({
        "peer": {"numpy": np.__version__, "prdc": "0.2", "fd": "pytorch-fid 0.3.0 (scipy sqrtm)",
                 "kid": "torch-fidelity 0.4.0 (numpy body)"},
        "threads": a.threads or os.cpu_count(),
        "n": a.n, "d": a.d, "generate_seconds": gen_s,
        "total_seconds": sum(m["seconds"] for m in metrics.values()),
        "metrics": metrics,
    }))


if __name__ == "__main__":
    main()
