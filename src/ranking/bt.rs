//! Bradley–Terry maximum-likelihood fit (Hunter's MM algorithm, as `choix.mm_pairwise`),
//! bootstrap intervals (as FastChat's battle bootstrap) and a deterministic benchmark input.
//!
//! Model: `P(i ≻ j) = σ(θ_i − θ_j)`, `θ = ln p`, reported with mean zero (choix convention).
//! **Ties count as half a win for each side** (FastChat `compute_elo_mle_with_tie`, y = ½).
//! With `alpha = 0` the optimum is exactly FastChat's tie-as-half logistic MLE; it is also the
//! optimum of choix on *doubled* data (every decisive comparison twice, every tie once in each
//! direction), since that log-likelihood is twice ours. With a prior the doubled data need
//! `2·alpha` in choix: the MM update below is choix's update on the doubled data with both
//! counts and prior scaled by ½, so the iterates (and convergence) coincide. Without ties the
//! fit equals `choix.mm_pairwise(n_items, data, alpha=alpha)` iterate for iterate.

use super::error::StatsError;
use super::quantile::percentile_sorted;
use super::rng::Rng;
use graph::mle_obstacle;

#[path = "bt_graph.rs"]
mod graph;

/// The result of one comparison between items `a` and `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `a` was preferred.
    AWins,
    /// `b` was preferred.
    BWins,
    /// Neither was preferred; counts as half a win for each side.
    Tie,
}

/// One pairwise judgement between items `a` and `b` (indices into `0..n_items`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comparison {
    /// First item.
    pub a: usize,
    /// Second item.
    pub b: usize,
    /// What the rater chose.
    pub outcome: Outcome,
}

/// Options of [`fit`], with the defaults of `choix.mm_pairwise`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BtOptions {
    /// choix-style prior: `p_i ← (W_i + α)/(Σ_j n_ij/(p_i+p_j) + α)` with p at mean 1.
    /// Default 0 (plain MLE, which needs a strongly connected win graph).
    pub alpha: f64,
    /// Converged when the L1 change of the centred θ is `<= tol · n_items` (choix
    /// `NormOfDifferenceTest`). Default `1e-8`.
    pub tol: f64,
    /// Maximum number of MM iterations. Default 10 000 (as choix).
    pub max_iter: usize,
}

impl Default for BtOptions {
    fn default() -> Self {
        BtOptions {
            alpha: 0.0,
            tol: 1e-8,
            max_iter: 10_000,
        }
    }
}

/// A Bradley–Terry fit: `theta` in natural-log units with mean zero.
#[derive(Debug, Clone, PartialEq)]
pub struct BtFit {
    /// Strength per item, `θ = ln p − mean(ln p)` (choix `mm_pairwise` return value).
    pub theta: Vec<f64>,
    /// MM iterations run.
    pub iterations: usize,
    /// Whether the choix convergence rule was met within `max_iter`.
    pub converged: bool,
}

/// Bootstrap summary per item: median and 2.5 / 97.5 % quantiles of θ over the rounds
/// that fitted (numpy `percentile`, linear interpolation).
#[derive(Debug, Clone, PartialEq)]
pub struct BtIntervals {
    /// Median θ per item.
    pub median: Vec<f64>,
    /// 2.5 % quantile per item.
    pub lower: Vec<f64>,
    /// 97.5 % quantile per item.
    pub upper: Vec<f64>,
    /// Rounds requested.
    pub rounds: usize,
    /// Rounds skipped because the resample had no MLE (alpha = 0) or did not converge.
    pub failed_rounds: usize,
}

/// Per-pair aggregated counts, `lo < hi` (`u32` indices keep the MM loop compact).
struct Pairs {
    /// `(lo, hi, comparisons between them)`.
    edges: Vec<(u32, u32, f64)>,
    /// Wins of `lo` over `hi`, ties as ½.
    w_lo: Vec<f64>,
}

/// Distinct unordered pairs and, per comparison, its pair index and its win credit to `lo`.
struct Index {
    keys: Vec<(u32, u32)>,
    comp_pair: Vec<usize>,
    comp_wlo: Vec<f64>,
}

fn check_options(opts: &BtOptions) -> Result<(), StatsError> {
    if !(opts.alpha.is_finite() && opts.alpha >= 0.0) {
        return Err(StatsError::InvalidArgument(format!(
            "alpha must be >= 0, got {}",
            opts.alpha
        )));
    }
    if !(opts.tol.is_finite() && opts.tol >= 0.0) || opts.max_iter == 0 {
        return Err(StatsError::InvalidArgument(
            "tol must be >= 0 and max_iter >= 1".into(),
        ));
    }
    Ok(())
}

fn index(n_items: usize, comps: &[Comparison]) -> Result<Index, StatsError> {
    if comps.is_empty() {
        return Err(StatsError::Empty("no comparisons"));
    }
    if u32::try_from(n_items).is_err() {
        return Err(StatsError::InvalidArgument(format!(
            "at most {} items are supported, got {n_items}",
            u32::MAX
        )));
    }
    let mut order = Vec::with_capacity(comps.len());
    let mut comp_wlo = Vec::with_capacity(comps.len());
    for (k, c) in comps.iter().enumerate() {
        for index in [c.a, c.b] {
            if index >= n_items {
                return Err(StatsError::IndexOutOfRange { index, n_items });
            }
        }
        if c.a == c.b {
            return Err(StatsError::InvalidArgument(format!(
                "comparison {k} compares item {} with itself",
                c.a
            )));
        }
        let (lo, hi) = (c.a.min(c.b) as u32, c.a.max(c.b) as u32);
        let w = match c.outcome {
            Outcome::Tie => 0.5,
            Outcome::AWins if c.a < c.b => 1.0,
            Outcome::BWins if c.b < c.a => 1.0,
            _ => 0.0,
        };
        comp_wlo.push(w);
        order.push((lo, hi, k));
    }
    order.sort_unstable();
    let mut keys: Vec<(u32, u32)> = Vec::new();
    let mut comp_pair = vec![0usize; comps.len()];
    for &(lo, hi, k) in &order {
        if keys.last() != Some(&(lo, hi)) {
            keys.push((lo, hi));
        }
        comp_pair[k] = keys.len() - 1;
    }
    Ok(Index {
        keys,
        comp_pair,
        comp_wlo,
    })
}

/// Pairs with a non-zero count, from per-pair counts parallel to `keys`.
fn compact(keys: &[(u32, u32)], n: &[f64], w_lo: &[f64]) -> Pairs {
    let mut p = Pairs {
        edges: Vec::new(),
        w_lo: Vec::new(),
    };
    for ((&(lo, hi), &nk), &wk) in keys.iter().zip(n).zip(w_lo) {
        if nk > 0.0 {
            p.edges.push((lo, hi, nk));
            p.w_lo.push(wk);
        }
    }
    p
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// choix `_mm` loop on aggregated pairs: returns (θ, iterations, converged).
///
/// choix recomputes the weights as `exp(θ − mean θ)` rescaled to mean 1; with
/// `θ = ln r − mean ln r` that is `r / mean r`, used here to save the `exp` calls
/// (same iterates up to rounding).
fn mm(n_items: usize, p: &Pairs, opts: &BtOptions) -> (Vec<f64>, usize, bool) {
    let n = n_items as f64;
    let alpha = opts.alpha;
    let mut wins = vec![0.0; n_items];
    for (&(lo, hi, nk), &w) in p.edges.iter().zip(&p.w_lo) {
        wins[lo as usize] += w;
        wins[hi as usize] += nk - w;
    }
    let mut params = vec![0.0; n_items];
    let mut weights = vec![1.0; n_items];
    let mut denoms = vec![0.0; n_items];
    let mut prev = vec![0.0; n_items];
    for it in 1..=opts.max_iter {
        denoms.iter_mut().for_each(|d| *d = 0.0);
        for &(lo, hi, nk) in &p.edges {
            let (lo, hi) = (lo as usize, hi as usize);
            let v = nk / (weights[lo] + weights[hi]);
            denoms[lo] += v;
            denoms[hi] += v;
        }
        // r_i = (W_i + α)/(Σ_j n_ij/(p_i + p_j) + α); θ = ln r centred; p = r at mean 1.
        let mut r_sum = 0.0;
        for (((w, t), &wi), &d) in weights.iter_mut().zip(&mut params).zip(&wins).zip(&denoms) {
            *w = (wi + alpha) / (d + alpha);
            *t = w.ln();
            r_sum += *w;
        }
        let scale = n / r_sum;
        weights.iter_mut().for_each(|w| *w *= scale);
        let m = mean(&params);
        params.iter_mut().for_each(|t| *t -= m);
        // choix NormOfDifferenceTest: centres again, L1 distance <= tol · n, skips the first.
        let m = mean(&params);
        let mut dist = 0.0;
        for (q, &t) in prev.iter_mut().zip(&params) {
            dist += (*q - (t - m)).abs();
            *q = t - m;
        }
        if it > 1 && dist <= opts.tol * n {
            return (params, it, true);
        }
    }
    (params, opts.max_iter, false)
}

/// Fits Bradley–Terry strengths by Hunter's MM algorithm, as `choix.mm_pairwise(n_items,
/// data, alpha=opts.alpha, tol=opts.tol, max_iter=opts.max_iter)` (ties: see module docs).
///
/// Comparisons are first aggregated per distinct pair, so an iteration costs
/// O(items + distinct pairs). With `alpha == 0` the MLE must exist: otherwise
/// [`StatsError::MleDoesNotExist`] names the items (never compared, never won, never lost,
/// or a break in the chain of wins).
pub fn fit(n_items: usize, comps: &[Comparison], opts: &BtOptions) -> Result<BtFit, StatsError> {
    check_options(opts)?;
    let ix = index(n_items, comps)?;
    let mut n = vec![0.0; ix.keys.len()];
    let mut w = vec![0.0; ix.keys.len()];
    for (&p, &c) in ix.comp_pair.iter().zip(&ix.comp_wlo) {
        n[p] += 1.0;
        w[p] += c;
    }
    let pairs = compact(&ix.keys, &n, &w);
    if opts.alpha == 0.0
        && let Some(why) = mle_obstacle(n_items, &pairs)
    {
        return Err(StatsError::MleDoesNotExist(why));
    }
    let (theta, iterations, converged) = mm(n_items, &pairs, opts);
    Ok(BtFit {
        theta,
        iterations,
        converged,
    })
}

/// One bootstrap round: resample with `Rng::new(seed)`, `below(m)` m times; `None` if it fails.
fn bootstrap_round(n_items: usize, ix: &Index, opts: &BtOptions, seed: u64) -> Option<Vec<f64>> {
    let m = ix.comp_pair.len();
    let mut rng = Rng::new(seed);
    let mut n = vec![0.0; ix.keys.len()];
    let mut w = vec![0.0; ix.keys.len()];
    for _ in 0..m {
        let k = rng.below(m);
        let p = *ix.comp_pair.get(k)?;
        n[p] += 1.0;
        w[p] += *ix.comp_wlo.get(k)?;
    }
    let pairs = compact(&ix.keys, &n, &w);
    if opts.alpha == 0.0 && mle_obstacle(n_items, &pairs).is_some() {
        return None;
    }
    let (theta, _, converged) = mm(n_items, &pairs, opts);
    converged.then_some(theta)
}

/// [`bootstrap_with_threads`] on all available cores.
pub fn bootstrap(
    n_items: usize,
    comps: &[Comparison],
    opts: &BtOptions,
    rounds: usize,
    seed: u64,
) -> Result<BtIntervals, StatsError> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    bootstrap_with_threads(n_items, comps, opts, rounds, seed, threads)
}

/// Bootstrap intervals (FastChat `get_bootstrap_result` style): resample the comparisons with
/// replacement, refit with [`fit`]'s algorithm (cold start), and report per item the median
/// and the 2.5 / 97.5 % quantiles (numpy `percentile`, linear). Rounds without an MLE
/// (`alpha = 0`) or without convergence are skipped and counted in `failed_rounds`.
///
/// Deterministic for a given `seed` whatever `threads` is: round `r` uses
/// `Rng::new(s_r)` where `s_r` is the r-th `next_u64()` of `Rng::new(seed)`, and draws
/// comparison indices with `below(m)`, m times.
pub fn bootstrap_with_threads(
    n_items: usize,
    comps: &[Comparison],
    opts: &BtOptions,
    rounds: usize,
    seed: u64,
    threads: usize,
) -> Result<BtIntervals, StatsError> {
    check_options(opts)?;
    if rounds == 0 {
        return Err(StatsError::InvalidArgument(
            "bootstrap needs at least one round".into(),
        ));
    }
    // A resample only drops edges of the win graph, so without a full-data MLE none has one.
    fit(
        n_items,
        comps,
        &BtOptions {
            max_iter: 1,
            ..*opts
        },
    )?;
    let ix = index(n_items, comps)?;
    let mut master = Rng::new(seed);
    let seeds: Vec<u64> = (0..rounds).map(|_| master.next_u64()).collect();
    let run = |chunk: &[u64]| -> Vec<Option<Vec<f64>>> {
        chunk
            .iter()
            .map(|&s| bootstrap_round(n_items, &ix, opts, s))
            .collect()
    };
    let threads = threads.clamp(1, rounds);
    let results: Vec<Option<Vec<f64>>> = if threads == 1 {
        run(&seeds)
    } else {
        std::thread::scope(|s| {
            let jobs: Vec<_> = seeds
                .chunks(rounds.div_ceil(threads))
                .enumerate()
                .map(|(t, chunk)| {
                    let b = std::thread::Builder::new().name(format!("bt-bootstrap-{t}"));
                    b.spawn_scoped(s, move || run(chunk)).map_err(|_| chunk)
                })
                .collect();
            let mut out = Vec::with_capacity(rounds);
            for job in jobs {
                match job {
                    Ok(h) => match h.join() {
                        Ok(v) => out.extend(v),
                        Err(panic) => std::panic::resume_unwind(panic),
                    },
                    Err(chunk) => out.extend(run(chunk)),
                }
            }
            out
        })
    };
    let ok: Vec<&Vec<f64>> = results.iter().flatten().collect();
    if ok.is_empty() {
        return Err(StatsError::NotEnoughData(format!(
            "all {rounds} bootstrap rounds failed (no MLE or no convergence); set alpha > 0"
        )));
    }
    let (mut median, mut lower, mut upper) = (Vec::new(), Vec::new(), Vec::new());
    let mut col = vec![0.0; ok.len()];
    for i in 0..n_items {
        for (c, th) in col.iter_mut().zip(&ok) {
            *c = th.get(i).copied().unwrap_or(f64::NAN);
        }
        col.sort_unstable_by(f64::total_cmp);
        median.push(percentile_sorted(&col, 0.5).unwrap_or(f64::NAN));
        lower.push(percentile_sorted(&col, 0.025).unwrap_or(f64::NAN));
        upper.push(percentile_sorted(&col, 0.975).unwrap_or(f64::NAN));
    }
    Ok(BtIntervals {
        median,
        lower,
        upper,
        rounds,
        failed_rounds: rounds - ok.len(),
    })
}

/// `P(a ≻ b) = σ(θ_a − θ_b)` (choix `probabilities([a, b], θ)[0]`), computed without overflow.
pub fn win_probability(theta_a: f64, theta_b: f64) -> f64 {
    let d = theta_a - theta_b;
    if d >= 0.0 {
        1.0 / (1.0 + (-d).exp())
    } else {
        d.exp() / (1.0 + d.exp())
    }
}

/// FastChat's Elo scale: `1000 + 400·θ/ln 10` (θ in natural-log units, before any anchoring).
pub fn to_elo_scale(theta: f64) -> f64 {
    1000.0 + 400.0 * theta / std::f64::consts::LN_10
}

/// Deterministic benchmark comparisons, reproduced by `scripts/bench_bt_choix.py`:
/// `rng = Rng::new(seed)`; strengths `s_i = 0.05 + rng.next_f64()` for each item in order;
/// then per comparison `a = rng.below(n_items)`, `b = rng.below(n_items − 1)` (plus one if
/// `b >= a`), `u = rng.next_f64()`, and `AWins` iff `u · (s_a + s_b) < s_a`, else `BWins`
/// (no ties; only correctly rounded operations, so Python gets identical data).
/// Empty when `n_items < 2`.
pub fn bench_inputs(n_items: usize, n_comps: usize, seed: u64) -> Vec<Comparison> {
    if n_items < 2 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed);
    let s: Vec<f64> = (0..n_items).map(|_| 0.05 + rng.next_f64()).collect();
    (0..n_comps)
        .map(|_| {
            let a = rng.below(n_items);
            let mut b = rng.below(n_items - 1);
            if b >= a {
                b += 1;
            }
            let u = rng.next_f64();
            let (sa, sb) = (s[a], s[b]);
            let outcome = if u * (sa + sb) < sa {
                Outcome::AWins
            } else {
                Outcome::BWins
            };
            Comparison { a, b, outcome }
        })
        .collect()
}

// Reference vectors, errors and the recovery property test.
#[cfg(test)]
#[path = "bt_tests.rs"]
mod tests;
