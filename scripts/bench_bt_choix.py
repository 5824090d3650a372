#!/usr/bin/env python3
# Baseline for Assay's Bradley-Terry benchmark (run from the repository root):
#   python3 -m pip install -r scripts/requirements-ranking.txt
#   python3 scripts/bench_bt_choix.py --items 10000 --comparisons 100000 --bootstrap 1000 --seed 1
"""Time choix.mm_pairwise (fit + bootstrap) on the same comparisons as Assay's benchmark.

The comparisons are generated exactly as ``bt::bench_inputs`` in src/ranking/bt.rs:

  rng = xoshiro256** seeded with four SplitMix64 outputs started at ``seed``
  strengths s_i = 0.05 + next_f64()                for i in 0..items
  for each comparison:
      a = below(items); b = below(items - 1); b += 1 if b >= a
      u = next_f64(); a wins iff u * (s_a + s_b) < s_a, else b wins   (no ties)

with next_f64 = (next_u64 >> 11) * 2**-53 and below(n) = Lemire's unbiased
multiply-and-reject. Only correctly rounded float operations are involved, so
both sides produce identical data (the script prints a checksum; the Rust side
prints the same one).

Fit: ``choix.mm_pairwise(items, data, alpha=ALPHA)`` (tol 1e-8, cold start), as a
Python user would call it. Bootstrap: resample the comparisons with replacement
(numpy ``default_rng(seed).integers``) and refit, ``--bootstrap`` rounds; rounds
that raise (no convergence) are counted. Pure-Python choix is slow on 100k
comparisons, so ``--max-seconds`` stops the bootstrap loop early; the JSON then
reports the rounds done and a linear projection to the requested count.
Output: one JSON line {"fit_s", "bootstrap_s", "rounds", ...}.
"""

import argparse
import json
import time

import choix
import numpy as np

M64 = (1 << 64) - 1
ALPHA = 0.01


class Rng:
    """Bit-exact replica of src/ranking/rng.rs (see scripts/gen_ranking_refs.py)."""

    def __init__(self, seed):
        sm, self.s = seed & M64, []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        x = (s1 * 5) & M64
        result = ((((x << 7) | (x >> 57)) & M64) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & M64
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


def bench_inputs(items, comparisons, seed):
    """(winner, loser) pairs and the checksum sum(a*31+b) % 2**64 over (a, b, a_wins)."""
    rng = Rng(seed)
    s = [0.05 + rng.next_f64() for _ in range(items)]
    data, checksum = [], 0
    for _ in range(comparisons):
        a = rng.below(items)
        b = rng.below(items - 1)
        if b >= a:
            b += 1
        u = rng.next_f64()
        a_wins = u * (s[a] + s[b]) < s[a]
        data.append((a, b) if a_wins else (b, a))
        checksum = (checksum * 1_000_003 + a * 31 + b * 7 + int(a_wins)) & M64
    return data, checksum


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--comparisons", type=int, default=100000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=300.0,
                    help="stop the bootstrap loop after this long (0 = no limit)")
    args = ap.parse_args()

    data, checksum = bench_inputs(args.items, args.comparisons, args.seed)
    t0 = time.perf_counter()
    theta = choix.mm_pairwise(args.items, data, alpha=ALPHA)
    fit_s = time.perf_counter() - t0

    gen = np.random.default_rng(args.seed)
    arr = np.array(data)
    m = len(data)
    done = failed = 0
    t0 = time.perf_counter()
    for _ in range(args.bootstrap):
        sample = [tuple(p) for p in arr[gen.integers(0, m, m)].tolist()]
        try:
            choix.mm_pairwise(args.items, sample, alpha=ALPHA)
        except RuntimeError:
            failed += 1
        done += 1
        if args.max_seconds and time.perf_counter() - t0 > args.max_seconds:
            break
    boot_s = time.perf_counter() - t0
    print(json.dumps(dict(
        tool="choix.mm_pairwise", items=args.items, comparisons=args.comparisons, alpha=ALPHA,
        seed=args.seed, checksum=checksum, fit_s=round(fit_s, 4), bootstrap_s=round(boot_s, 4),
        rounds=done, rounds_requested=args.bootstrap, failed_rounds=failed,
        bootstrap_s_projected=round(boot_s / max(done, 1) * args.bootstrap, 2),
        theta_top5=[int(i) for i in np.argsort(-theta)[:5]])))


if __name__ == "__main__":
    main()
