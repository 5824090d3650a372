//! Ranking rules over plain numbers (pure, deterministic): Pareto fronts, lexicographic order
//! with tolerances, weighted sums of z-scores, and per-scope percentile scores.
//!
//! Every function takes rows in the caller's order and breaks remaining ties by row index, so a
//! caller that orders rows by image id gets id tie-breaking.

use std::cmp::Ordering;

/// Pareto front index of every point: 0 = non-dominated, 1 = non-dominated once front 0 is
/// removed, and so on. `maximise[j]` says whether larger is better on coordinate `j`.
///
/// `a` dominates `b` when `a` is at least as good on every coordinate and strictly better on at
/// least one, so equal points never dominate each other and always share a front.
pub fn pareto_fronts(points: &[Vec<f64>], maximise: &[bool]) -> Vec<usize> {
    let n = points.len();
    let dominates = |a: &[f64], b: &[f64]| {
        let mut strictly = false;
        for ((x, y), &max) in a.iter().zip(b).zip(maximise) {
            let (x, y) = if max { (*x, *y) } else { (-*x, -*y) };
            if x < y {
                return false;
            }
            if x > y {
                strictly = true;
            }
        }
        strictly
    };
    // Deb's fast non-dominated sort.
    let mut dominated_by_count = vec![0usize; n];
    let mut dominated: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in points.iter().enumerate() {
        for (j, q) in points.iter().enumerate() {
            if i != j && dominates(p, q) {
                dominated[i].push(j);
            } else if i != j && dominates(q, p) {
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut front = vec![0usize; n];
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    let mut level = 0;
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            front[i] = level;
            for &j in &dominated[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        current = next;
        level += 1;
    }
    front
}

/// One key of a lexicographic order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LexKey {
    /// Column of the row.
    pub column: usize,
    /// Larger is better when true.
    pub maximise: bool,
    /// Values within `tolerance` of the best remaining value count as tied (≥ 0).
    pub tolerance: f64,
}

/// Lexicographic order with tolerances; returns row indices, best first.
///
/// Semantics (greedy, relative to the best *remaining* row): to choose the next row, start with
/// every remaining row as a candidate; for each key in turn, find the best candidate value `b`
/// on that key and keep only the candidates whose value is within the key's tolerance of it
/// (`v ≥ b − tol` when maximising, `v ≤ b + tol` when minimising); after the last key the
/// smallest row index among the survivors is chosen and removed. Repeat until no row remains.
///
/// With every tolerance 0 this is the ordinary lexicographic sort with ties broken by index.
/// Tolerances are not transitive: a row 2·tol below the best is not tied with it even though a
/// row tol below is tied with both, and once the best row is taken the window moves down.
pub fn lexicographic_order(rows: &[Vec<f64>], keys: &[LexKey]) -> Vec<usize> {
    let value = |i: usize, k: &LexKey| {
        let v = rows[i].get(k.column).copied().unwrap_or(f64::NAN);
        if k.maximise { v } else { -v }
    };
    let mut remaining: Vec<usize> = (0..rows.len()).collect();
    let mut order = Vec::with_capacity(rows.len());
    while !remaining.is_empty() {
        let mut cands = remaining.clone();
        for k in keys {
            let best = cands
                .iter()
                .map(|&i| value(i, k))
                .fold(f64::NEG_INFINITY, f64::max);
            cands.retain(|&i| value(i, k) >= best - k.tolerance);
        }
        // `cands` keeps `remaining`'s ascending order; an empty set can only come from NaN.
        let pick = cands.first().copied().unwrap_or(remaining[0]);
        remaining.retain(|&i| i != pick);
        order.push(pick);
    }
    order
}

/// Population z-scores (mean 0, ddof 0); a constant column gives all zeros.
pub fn zscores(values: &[f64]) -> Vec<f64> {
    let n = values.len() as f64;
    if values.is_empty() {
        return Vec::new();
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    if sd <= f64::EPSILON * mean.abs().max(1.0) {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - mean) / sd).collect()
}

/// Weighted sum of z-scores: `columns[j][i]` is signal `j` of row `i`; a negative weight
/// rewards low values. Each column is standardised over the given rows.
pub fn weighted_sum(columns: &[Vec<f64>], weights: &[f64], n_rows: usize) -> Vec<f64> {
    let mut total = vec![0.0; n_rows];
    for (col, w) in columns.iter().zip(weights) {
        for (t, z) in total.iter_mut().zip(zscores(col)) {
            *t += w * z;
        }
    }
    total
}

/// Percentile score in [0, 1] of each raw value (higher raw = better): the share of the other
/// rows it beats, ties counting half (mid-rank). A single row scores 1.
pub fn percentile_scores(raw: &[f64]) -> Vec<f64> {
    let n = raw.len();
    if n <= 1 {
        return vec![1.0; n];
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| raw[a].total_cmp(&raw[b]));
    let mut out = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && raw[idx[end]].total_cmp(&raw[idx[start]]) == Ordering::Equal {
            end += 1;
        }
        // Rows below: `start`; tied others: end - start - 1.
        let beats = start as f64 + 0.5 * (end - start - 1) as f64;
        for &i in &idx[start..end] {
            out[i] = beats / (n - 1) as f64;
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_table() {
        // (points, maximise, expected fronts)
        type Case = (Vec<Vec<f64>>, Vec<bool>, Vec<usize>);
        let cases: Vec<Case> = vec![
            (vec![], vec![true, true], vec![]),
            (vec![vec![1.0, 1.0]], vec![true, true], vec![0]),
            // A chain: each dominates the next.
            (
                vec![vec![3.0, 3.0], vec![2.0, 2.0], vec![1.0, 1.0]],
                vec![true, true],
                vec![0, 1, 2],
            ),
            // Trade-off: all non-dominated.
            (
                vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]],
                vec![true, true],
                vec![0, 0, 0],
            ),
            // Exact ties share a front; a point equal on one axis and worse on the other is
            // dominated.
            (
                vec![
                    vec![2.0, 2.0],
                    vec![2.0, 2.0],
                    vec![2.0, 1.0],
                    vec![1.0, 1.0],
                    vec![1.0, 1.0],
                ],
                vec![true, true],
                vec![0, 0, 1, 2, 2],
            ),
            // Minimising the second coordinate reverses it.
            (
                vec![vec![2.0, 5.0], vec![2.0, 1.0], vec![1.0, 0.0]],
                vec![true, false],
                vec![1, 0, 0],
            ),
            // Three coordinates; tie on two, strictly better on one.
            (
                vec![
                    vec![1.0, 1.0, 1.0],
                    vec![1.0, 1.0, 2.0],
                    vec![0.0, 5.0, 0.0],
                ],
                vec![true, true, true],
                vec![1, 0, 0],
            ),
        ];
        for (points, max, want) in cases {
            assert_eq!(pareto_fronts(&points, &max), want, "{points:?} {max:?}");
        }
    }

    #[test]
    fn lexicographic_table() {
        let k = |column, maximise, tolerance| LexKey {
            column,
            maximise,
            tolerance,
        };
        type Case = (Vec<Vec<f64>>, Vec<LexKey>, Vec<usize>);
        let cases: Vec<Case> = vec![
            // Zero tolerance: plain lexicographic sort, index breaks full ties.
            (
                vec![
                    vec![1.0, 5.0],
                    vec![2.0, 0.0],
                    vec![2.0, 3.0],
                    vec![1.0, 5.0],
                ],
                vec![k(0, true, 0.0), k(1, true, 0.0)],
                vec![2, 1, 0, 3],
            ),
            // Tolerance 0.2 on key 0: 0.9 and 1.0 are tied, key 1 decides.
            (
                vec![vec![1.0, 1.0], vec![0.9, 5.0], vec![0.5, 9.0]],
                vec![k(0, true, 0.2), k(1, true, 0.0)],
                vec![1, 0, 2],
            ),
            // Boundary: exactly tol below the best is tied (≥ best − tol).
            (
                vec![vec![1.0, 0.0], vec![0.75, 1.0]],
                vec![k(0, true, 0.25), k(1, true, 0.0)],
                vec![1, 0],
            ),
            // Not transitive: 1.0 / 0.85 / 0.7 with tol 0.2. First pick: window [0.8, 1.0]
            // holds rows 0 and 1; key 1 prefers row 1. Then the window moves to [0.8, 1.0]
            // again (best remaining is row 0 at 1.0): row 2 (0.7) is still outside.
            (
                vec![vec![1.0, 0.0], vec![0.85, 1.0], vec![0.7, 9.0]],
                vec![k(0, true, 0.2), k(1, true, 0.0)],
                vec![1, 0, 2],
            ),
            // Once the best is taken the window is relative to the best remaining.
            (
                vec![vec![1.0, 9.0], vec![0.85, 0.0], vec![0.7, 5.0]],
                vec![k(0, true, 0.2), k(1, true, 0.0)],
                vec![0, 2, 1],
            ),
            // Minimising key 0 with tolerance, key 1 maximised.
            (
                vec![
                    vec![3.0, 0.0],
                    vec![3.5, 2.0],
                    vec![1.0, 1.0],
                    vec![1.4, 7.0],
                ],
                vec![k(0, false, 0.5), k(1, true, 0.0)],
                vec![3, 2, 1, 0],
            ),
            // Tolerance on the second key, third key decides.
            (
                vec![
                    vec![1.0, 10.0, 0.0],
                    vec![1.0, 9.5, 3.0],
                    vec![1.0, 8.0, 9.0],
                ],
                vec![k(0, true, 0.0), k(1, true, 1.0), k(2, true, 0.0)],
                vec![1, 0, 2],
            ),
        ];
        for (rows, keys, want) in cases {
            assert_eq!(lexicographic_order(&rows, &keys), want, "{rows:?}");
        }
    }

    #[test]
    fn zscores_and_weighted_sum() {
        let z = zscores(&[1.0, 2.0, 3.0]);
        let s = (2.0f64 / 3.0).sqrt();
        for (a, b) in z.iter().zip([-1.0 / s, 0.0, 1.0 / s]) {
            assert!((a - b).abs() < 1e-12);
        }
        assert_eq!(zscores(&[4.0, 4.0]), vec![0.0, 0.0]);
        assert!(zscores(&[]).is_empty());
        // Constant column contributes nothing; negative weight rewards low values.
        let cols = vec![vec![7.0, 7.0, 7.0], vec![1.0, 2.0, 3.0]];
        let w = weighted_sum(&cols, &[5.0, -1.0], 3);
        assert!(w[0] > w[1] && w[1] > w[2]);
        assert!((w[1]).abs() < 1e-12);
    }

    #[test]
    fn percentile_table() {
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (vec![], vec![]),
            (vec![5.0], vec![1.0]),
            (vec![1.0, 2.0, 3.0], vec![0.0, 0.5, 1.0]),
            (vec![3.0, 1.0, 3.0], vec![0.75, 0.0, 0.75]),
            (vec![2.0, 2.0], vec![0.5, 0.5]),
        ];
        for (raw, want) in cases {
            assert_eq!(percentile_scores(&raw), want, "{raw:?}");
        }
    }
}
