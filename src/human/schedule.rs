//! Which items to show next in a labeling session. Pure: items are indices, raters names.
//!
//! Pairwise ([`PairScheduler`]), in this order of priority:
//! 1. **Replication**: a pair other raters judged but fewer than `raters_per_pair` did, that
//!    this rater has not seen (so every pair ends up with several raters, for agreement).
//! 2. **Coverage**: the item with the fewest distinct opponents, while below
//!    `comparisons_per_item`, against a new opponent (fewest opponents first, then the closest
//!    Bradley–Terry score).
//! 3. **Active**: with a preference scorer ([`PairModel`], the Laplace posterior of the linear
//!    scorer over the items' features), the pair whose label is expected to tell the scorer
//!    most: the largest information gain `½ ln(1 + p(1 − p)·dᵀΣd)` (p the scorer's win
//!    probability, d the feature difference, Σ the posterior covariance: the scorer is least
//!    sure about p near ½ and about directions few labels have pinned down), weighted by
//!    `1 + max(top(a), top(b))` where `top(i) = 1 / (1 + rank_i / k)` is item i's nearness to
//!    the top of its group (rank by the scorer, `k = max(3, n/10)`): uncertainty at the top of
//!    each prompt group matters most when picking. Each judgement recorded afterwards shrinks
//!    Σ by its expected Fisher information (a rank-one update that needs no outcome), so a
//!    batch of trials between two retrainings spreads over different directions. Without a
//!    scorer: the pair with the largest `p(1 − p) / sqrt(1 + n_a + n_b)`, where `p` is the
//!    Bradley–Terry win probability and `n` the judgements of each item.
//!
//! A pair is never shown to the same rater twice and never judged by more than
//! `raters_per_pair` raters; when nothing is left the study is complete for that rater.
//! Pairs stay within a prompt group unless the scope is the whole collection. Large groups
//! (more than [`FULL_PAIRS_MAX`] items) consider only score neighbours in the active step.
//!
//! Single items (Likert, multi-dimensional) and sets (best-of-N) use [`next_single`] and
//! [`next_set`]: fewest judgements first, each judged by at most `raters_per_pair` raters.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ranking::bt::win_probability;
use crate::ranking::rng::Rng;

/// Groups up to this size consider every pair in the active step; larger ones only each
/// item's [`NEIGHBOURS`] score neighbours.
pub const FULL_PAIRS_MAX: usize = 64;
/// Score neighbours per item considered in large groups.
pub const NEIGHBOURS: usize = 8;

/// Study parameters that shape the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Distinct opponents every item should meet before the active phase.
    pub comparisons_per_item: usize,
    /// Distinct raters per pair (≥ 3 recommended for agreement statistics).
    pub raters_per_pair: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            comparisons_per_item: 4,
            raters_per_pair: 3,
        }
    }
}

/// Why a pair was chosen (shown on screen, useful in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Replication,
    Coverage,
    Active,
    /// Active, chosen by the preference scorer's uncertainty.
    Uncertain,
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::Replication => "replication",
            Why::Coverage => "coverage",
            Why::Active => "active (close scores)",
            Why::Uncertain => "active (scorer least sure)",
        }
    }
}

/// A linear preference scorer over the scheduler's items with its posterior: standardised
/// feature rows `x` (one per item), mean weights `w` and covariance `cov` (row-major d × d).
#[derive(Debug, Clone, PartialEq)]
pub struct PairModel {
    pub x: Vec<Vec<f64>>,
    pub w: Vec<f64>,
    pub cov: Vec<f64>,
}

impl PairModel {
    fn d(&self) -> usize {
        self.w.len()
    }

    fn well_formed(&self, n: usize) -> bool {
        let d = self.d();
        self.x.len() == n && self.x.iter().all(|r| r.len() == d) && self.cov.len() == d * d
    }

    /// The scorer's score of item i.
    pub fn score(&self, i: usize) -> f64 {
        self.x[i].iter().zip(&self.w).map(|(a, b)| a * b).sum()
    }

    fn diff(&self, a: usize, b: usize) -> Vec<f64> {
        self.x[a]
            .iter()
            .zip(&self.x[b])
            .map(|(u, v)| u - v)
            .collect()
    }

    fn cov_times(&self, d: &[f64]) -> Vec<f64> {
        let n = d.len();
        (0..n)
            .map(|i| {
                self.cov[i * n..(i + 1) * n]
                    .iter()
                    .zip(d)
                    .map(|(c, x)| c * x)
                    .sum()
            })
            .collect()
    }

    /// Win probability of a over b and the posterior variance of their score difference.
    pub fn margin(&self, a: usize, b: usize) -> (f64, f64) {
        let d = self.diff(a, b);
        let m: f64 = d.iter().zip(&self.w).map(|(x, w)| x * w).sum();
        let v: f64 = self.cov_times(&d).iter().zip(&d).map(|(x, y)| x * y).sum();
        (win_probability(m, 0.0), v.max(0.0))
    }

    /// Expected information gain of a label on the pair: `½ ln(1 + p(1 − p)·v)`.
    pub fn gain(&self, a: usize, b: usize) -> f64 {
        let (p, v) = self.margin(a, b);
        0.5 * (p * (1.0 - p) * v).ln_1p()
    }

    /// Shrinks the covariance by the expected Fisher information of a label on the pair.
    pub fn observe(&mut self, a: usize, b: usize) {
        let (p, _) = self.margin(a, b);
        let c = p * (1.0 - p);
        let d = self.diff(a, b);
        let sd = self.cov_times(&d);
        let v: f64 = sd.iter().zip(&d).map(|(x, y)| x * y).sum();
        let k = c / (1.0 + c * v);
        if !k.is_finite() || k <= 0.0 {
            return;
        }
        let n = d.len();
        for i in 0..n {
            for j in 0..n {
                self.cov[i * n + j] -= k * sd[i] * sd[j];
            }
        }
    }
}

/// A scheduled pair, `a < b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub a: usize,
    pub b: usize,
    pub why: Why,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Pair scheduler over items `0..n` with a group per item.
#[derive(Debug, Clone)]
pub struct PairScheduler {
    groups: Vec<u32>,
    members: Vec<Vec<usize>>,
    /// Raters per judged pair.
    raters: HashMap<(usize, usize), BTreeSet<String>>,
    opponents: Vec<HashSet<usize>>,
    judgements: Vec<usize>,
    pub cfg: ScheduleConfig,
    model: Option<PairModel>,
    /// Per item: `1 + top(i)` under the model (see the module docs).
    top_weight: Vec<f64>,
    /// Items of each group sorted by the model's score (for large groups).
    model_order: Vec<Vec<usize>>,
}

impl PairScheduler {
    /// `groups[i]` is item i's group; with `within_groups == false` every item is in one group.
    pub fn new(groups: &[u32], within_groups: bool, cfg: ScheduleConfig) -> Self {
        let groups: Vec<u32> = if within_groups {
            groups.to_vec()
        } else {
            vec![0; groups.len()]
        };
        let mut by: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, g) in groups.iter().enumerate() {
            by.entry(*g).or_default().push(i);
        }
        let mut members: Vec<Vec<usize>> = by.into_values().collect();
        members.sort();
        Self {
            opponents: vec![HashSet::new(); groups.len()],
            judgements: vec![0; groups.len()],
            groups,
            members,
            raters: HashMap::new(),
            cfg,
            model: None,
            top_weight: Vec::new(),
            model_order: Vec::new(),
        }
    }

    /// Uses a preference scorer for the active step (`None`: back to Bradley–Terry scores).
    /// A model whose rows do not match the items is ignored.
    pub fn set_model(&mut self, model: Option<PairModel>) {
        let n = self.groups.len();
        self.model = model.filter(|m| m.well_formed(n));
        self.top_weight = vec![1.0; n];
        self.model_order.clear();
        if let Some(m) = &self.model {
            let scores: Vec<f64> = (0..n).map(|i| m.score(i)).collect();
            for members in &self.members {
                let mut sorted = members.clone();
                sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
                let k = (sorted.len() / 10).max(3) as f64;
                for (rank, &i) in sorted.iter().enumerate() {
                    self.top_weight[i] = 1.0 + 1.0 / (1.0 + rank as f64 / k);
                }
                self.model_order.push(sorted);
            }
        }
    }

    /// Whether a preference scorer steers the active step.
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Items that cannot be compared (alone in their group).
    pub fn alone(&self) -> Vec<usize> {
        self.members
            .iter()
            .filter(|m| m.len() < 2)
            .flatten()
            .copied()
            .collect()
    }

    /// Records a judgement of the pair by `rater` (any order; out-of-range items ignored).
    pub fn record(&mut self, a: usize, b: usize, rater: &str) {
        let n = self.groups.len();
        if a == b || a >= n || b >= n {
            return;
        }
        self.raters
            .entry(key(a, b))
            .or_default()
            .insert(rater.to_string());
        self.opponents[a].insert(b);
        self.opponents[b].insert(a);
        self.judgements[a] += 1;
        self.judgements[b] += 1;
        if let Some(m) = &mut self.model {
            m.observe(a, b);
        }
    }

    /// Distinct opponents of each item.
    pub fn opponents(&self, i: usize) -> usize {
        self.opponents.get(i).map_or(0, HashSet::len)
    }

    /// Raters who judged the pair.
    pub fn raters_of(&self, a: usize, b: usize) -> usize {
        self.raters.get(&key(a, b)).map_or(0, BTreeSet::len)
    }

    fn open_for(&self, a: usize, b: usize, rater: &str) -> bool {
        a != b
            && self.groups.get(a) == self.groups.get(b)
            && self
                .raters
                .get(&key(a, b))
                .is_none_or(|r| r.len() < self.cfg.raters_per_pair.max(1) && !r.contains(rater))
    }

    fn p_close(theta: Option<&[f64]>, a: usize, b: usize) -> f64 {
        match theta.and_then(|t| Some((*t.get(a)?, *t.get(b)?))) {
            Some((ta, tb)) => {
                let p = win_probability(ta, tb);
                p * (1.0 - p)
            }
            None => 0.25,
        }
    }

    /// The next pair for `rater`, or `None` when the study is complete for them. `theta`
    /// (Bradley–Terry scores per item, may lag behind) steers the choice; `rng` breaks ties.
    pub fn next(&self, rater: &str, theta: Option<&[f64]>, rng: &mut Rng) -> Option<Planned> {
        self.replication(rater, theta, rng)
            .or_else(|| self.coverage(rater, theta, rng))
            .or_else(|| self.active(rater, theta, rng))
    }

    /// Picks the best-scoring candidate, breaking ties at random.
    fn best<T: Copy>(cands: impl Iterator<Item = (T, f64)>, rng: &mut Rng) -> Option<T> {
        let mut best: Option<(T, f64)> = None;
        let mut ties = 0usize;
        for (c, s) in cands {
            match best {
                Some((_, b)) if s < b - 1e-12 => {}
                Some((_, b)) if s <= b + 1e-12 => {
                    ties += 1;
                    if rng.below(ties + 1) == 0 {
                        best = Some((c, s));
                    }
                }
                _ => {
                    best = Some((c, s));
                    ties = 0;
                }
            }
        }
        best.map(|b| b.0)
    }

    fn replication(&self, rater: &str, theta: Option<&[f64]>, rng: &mut Rng) -> Option<Planned> {
        let mut keys: Vec<&(usize, usize)> = self.raters.keys().collect();
        keys.sort_unstable();
        let cands = keys
            .into_iter()
            .filter(|&&(a, b)| self.open_for(a, b, rater))
            .map(|&(a, b)| {
                let n = self.raters_of(a, b) as f64;
                ((a, b), n + Self::p_close(theta, a, b))
            });
        Self::best(cands, rng).map(|(a, b)| Planned {
            a,
            b,
            why: Why::Replication,
        })
    }

    fn coverage(&self, rater: &str, theta: Option<&[f64]>, rng: &mut Rng) -> Option<Planned> {
        let target = self.cfg.comparisons_per_item;
        let mut needy: Vec<usize> = (0..self.groups.len())
            .filter(|&i| self.opponents(i) < target)
            .collect();
        // Fewest opponents first; random order among equals.
        for k in (1..needy.len()).rev() {
            needy.swap(k, rng.below(k + 1));
        }
        needy.sort_by_key(|&i| self.opponents(i));
        for i in needy {
            let Some(group) = self.members.iter().find(|m| m.contains(&i)) else {
                continue;
            };
            let cands = group
                .iter()
                .copied()
                .filter(|&j| !self.opponents[i].contains(&j) && self.open_for(i, j, rater))
                .map(|j| {
                    let few = -(self.opponents(j) as f64);
                    (j, few + Self::p_close(theta, i, j))
                });
            if let Some(j) = Self::best(cands, rng) {
                let (a, b) = key(i, j);
                return Some(Planned {
                    a,
                    b,
                    why: Why::Coverage,
                });
            }
        }
        None
    }

    /// The active step with a preference scorer (see the module docs).
    fn uncertain(&self, m: &PairModel, rater: &str, rng: &mut Rng) -> Option<Planned> {
        let mut cands: Vec<((usize, usize), f64)> = Vec::new();
        let value = |a: usize, b: usize| m.gain(a, b) * self.top_weight[a].max(self.top_weight[b]);
        for sorted in &self.model_order {
            if sorted.len() <= FULL_PAIRS_MAX {
                for (x, &a) in sorted.iter().enumerate() {
                    for &b in &sorted[x + 1..] {
                        if self.open_for(a, b, rater) {
                            cands.push((key(a, b), value(a, b)));
                        }
                    }
                }
            } else {
                // Score neighbours (p near ½) and a few random partners (other directions).
                let mut seen = HashSet::new();
                for (x, &a) in sorted.iter().enumerate() {
                    let near = sorted.iter().skip(x + 1).take(NEIGHBOURS).copied();
                    let far: Vec<usize> = (0..NEIGHBOURS / 2)
                        .map(|_| sorted[rng.below(sorted.len())])
                        .collect();
                    for b in near.chain(far) {
                        if self.open_for(a, b, rater) && seen.insert(key(a, b)) {
                            cands.push((key(a, b), value(a, b)));
                        }
                    }
                }
            }
        }
        Self::best(cands.into_iter(), rng).map(|(a, b)| Planned {
            a,
            b,
            why: Why::Uncertain,
        })
    }

    fn active(&self, rater: &str, theta: Option<&[f64]>, rng: &mut Rng) -> Option<Planned> {
        if let Some(m) = &self.model {
            return self.uncertain(m, rater, rng);
        }
        let mut cands: Vec<((usize, usize), f64)> = Vec::new();
        let score = |a: usize, b: usize| {
            let n = (self.judgements[a] + self.judgements[b]) as f64;
            Self::p_close(theta, a, b) / (1.0 + n).sqrt()
        };
        for m in &self.members {
            if m.len() <= FULL_PAIRS_MAX {
                for (x, &a) in m.iter().enumerate() {
                    for &b in &m[x + 1..] {
                        if self.open_for(a, b, rater) {
                            cands.push((key(a, b), score(a, b)));
                        }
                    }
                }
            } else {
                let mut sorted = m.clone();
                if let Some(t) = theta {
                    sorted.sort_by(|&a, &b| {
                        let ta = t.get(a).copied().unwrap_or(0.0);
                        let tb = t.get(b).copied().unwrap_or(0.0);
                        ta.total_cmp(&tb)
                    });
                }
                for (x, &a) in sorted.iter().enumerate() {
                    for &b in sorted.iter().skip(x + 1).take(NEIGHBOURS) {
                        if self.open_for(a, b, rater) {
                            cands.push((key(a, b), score(a, b)));
                        }
                    }
                }
            }
        }
        Self::best(cands.into_iter(), rng).map(|(a, b)| Planned {
            a,
            b,
            why: Why::Active,
        })
    }
}

/// The next single item (Likert, multi-dimensional) for `rater`: among items the rater has
/// not judged and fewer than `raters_per_item` raters have, one with the fewest judgements.
/// `judged[i]` is the set of raters who judged item i.
pub fn next_single(
    judged: &[BTreeSet<String>],
    rater: &str,
    raters_per_item: usize,
    rng: &mut Rng,
) -> Option<usize> {
    let cands = judged
        .iter()
        .enumerate()
        .filter(|(_, r)| r.len() < raters_per_item.max(1) && !r.contains(rater))
        .map(|(i, r)| (i, -(r.len() as f64)));
    PairScheduler::best(cands, rng)
}

/// The next set of `n` items of one group for best-of-N: the item with the fewest
/// appearances plus the `n − 1` least-shown others of its group, a set `rater` has not seen.
/// `shown[i]` counts appearances; `seen` holds the rater's sets (sorted indices).
pub fn next_set(
    groups: &[u32],
    shown: &[usize],
    seen: &HashSet<Vec<usize>>,
    n: usize,
    rng: &mut Rng,
) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    for k in (1..order.len()).rev() {
        order.swap(k, rng.below(k + 1));
    }
    order.sort_by_key(|&i| shown.get(i).copied().unwrap_or(0));
    for &first in &order {
        let mut set: Vec<usize> = vec![first];
        set.extend(
            order
                .iter()
                .copied()
                .filter(|&j| j != first && groups.get(j) == groups.get(first))
                .take(n.saturating_sub(1)),
        );
        if set.len() < n.max(2) {
            continue;
        }
        set.sort_unstable();
        if !seen.contains(&set) {
            return Some(set);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        s: &mut PairScheduler,
        rater: &str,
        theta: Option<&[f64]>,
        rng: &mut Rng,
        max: usize,
    ) -> Vec<Planned> {
        let mut out = Vec::new();
        while let Some(p) = s.next(rater, theta, rng) {
            s.record(p.a, p.b, rater);
            out.push(p);
            assert!(out.len() <= max, "did not terminate");
        }
        out
    }

    #[test]
    fn coverage_first_then_every_pair_once_per_rater() {
        let groups = [0, 0, 0, 0, 1, 1, 1, 2];
        let cfg = ScheduleConfig {
            comparisons_per_item: 2,
            raters_per_pair: 2,
        };
        let mut s = PairScheduler::new(&groups, true, cfg);
        assert_eq!(s.alone(), vec![7]);
        let mut rng = Rng::new(3);
        let r1 = run(&mut s, "r1", None, &mut rng, 100);
        // Every comparable item met two opponents before anything else.
        let first_active = r1.iter().position(|p| p.why != Why::Coverage).unwrap();
        let mut opp = vec![HashSet::new(); 8];
        for p in &r1[..first_active] {
            opp[p.a].insert(p.b);
            opp[p.b].insert(p.a);
        }
        assert!((0..7).all(|i| opp[i].len() >= 2), "{opp:?}");
        // The rater saw every within-group pair exactly once (6 + 3), none across groups.
        assert_eq!(r1.len(), 9);
        let set: HashSet<(usize, usize)> = r1.iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(set.len(), 9);
        assert!(r1.iter().all(|p| groups[p.a] == groups[p.b]));
        // A second rater replicates those pairs first; a third finds nothing (2 per pair).
        let r2 = run(&mut s, "r2", None, &mut rng, 100);
        assert_eq!(r2.len(), 9);
        assert!(r2.iter().all(|p| p.why == Why::Replication));
        assert!(s.next("r3", None, &mut rng).is_none());
        assert!(s.next("r1", None, &mut rng).is_none());
    }

    #[test]
    fn active_step_prefers_close_scores() {
        let groups = [0; 6];
        let cfg = ScheduleConfig {
            comparisons_per_item: 0,
            raters_per_pair: 1,
        };
        let s = PairScheduler::new(&groups, true, cfg);
        let theta = [0.0, 3.0, 6.0, 6.1, 9.0, 12.0];
        let mut rng = Rng::new(1);
        let p = s.next("r1", Some(&theta), &mut rng).unwrap();
        assert_eq!((p.a, p.b, p.why), (2, 3, Why::Active));
    }

    /// Items on a line in a 2-d feature space; the scorer is unsure along the second axis.
    fn model(n: usize) -> PairModel {
        PairModel {
            x: (0..n)
                .map(|i| vec![i as f64, if i % 2 == 0 { 1.0 } else { -1.0 }])
                .collect(),
            w: vec![1.0, 0.0],
            cov: vec![0.01, 0.0, 0.0, 4.0],
        }
    }

    #[test]
    fn the_scorer_asks_where_it_is_least_sure() {
        let m = model(6);
        // Neighbours 2–3 differ by 1 on the sure axis (p ≈ 0.73) and by 2 on the unsure one;
        // 0–5 differ by 5 on the sure axis (p ≈ 0.99): a label there tells little.
        assert!(
            m.gain(2, 3) > 5.0 * m.gain(0, 5),
            "{} {}",
            m.gain(2, 3),
            m.gain(0, 5)
        );
        // Same feature difference, same gain; the variance is dᵀΣd.
        let (p, v) = m.margin(2, 3);
        assert!((p - 1.0 / (1.0 + (1.0f64).exp())).abs() < 1e-12);
        assert!((v - (0.01 + 16.0)).abs() < 1e-12);
        // Recording a judgement shrinks the variance along its direction (no outcome needed).
        let mut m2 = m.clone();
        m2.observe(2, 3);
        assert!(m2.margin(2, 3).1 < 0.5 * v);
        assert!(
            m2.margin(4, 5).1 < v,
            "similar pairs are less uncertain too"
        );

        let groups = [0u32; 6];
        let cfg = ScheduleConfig {
            comparisons_per_item: 0,
            raters_per_pair: 1,
        };
        let mut s = PairScheduler::new(&groups, true, cfg);
        s.set_model(Some(m));
        assert!(s.has_model());
        let mut rng = Rng::new(1);
        let first = s.next("r", None, &mut rng).unwrap();
        assert_eq!(first.why, Why::Uncertain);
        assert_eq!(
            first.b - first.a,
            1,
            "an adjacent, opposite-parity pair: {first:?}"
        );
        // Among the adjacent pairs the one nearest the top (highest scores) wins.
        assert_eq!((first.a, first.b), (4, 5));
        s.record(first.a, first.b, "r");
        let second = s.next("r", None, &mut rng).unwrap();
        assert_ne!((second.a, second.b), (first.a, first.b));
        // Rows that do not match the items are ignored.
        s.set_model(Some(model(3)));
        assert!(!s.has_model());
        assert_eq!(s.next("r", None, &mut rng).unwrap().why, Why::Active);
    }

    #[test]
    fn large_groups_consider_neighbours_and_random_partners() {
        let n = 300;
        let groups = vec![0u32; n];
        let cfg = ScheduleConfig {
            comparisons_per_item: 0,
            raters_per_pair: 1,
        };
        let mut s = PairScheduler::new(&groups, false, cfg);
        s.set_model(Some(model(n)));
        let mut rng = Rng::new(4);
        let mut seen = HashSet::new();
        for _ in 0..40 {
            let p = s.next("r", None, &mut rng).unwrap();
            assert_eq!(p.why, Why::Uncertain);
            assert!(seen.insert((p.a, p.b)), "never twice");
            s.record(p.a, p.b, "r");
        }
    }

    #[test]
    fn collection_scope_pairs_across_groups_and_large_groups_stay_bounded() {
        let groups: Vec<u32> = (0..200).map(|i| i % 2).collect();
        let cfg = ScheduleConfig {
            comparisons_per_item: 1,
            raters_per_pair: 1,
        };
        let mut s = PairScheduler::new(&groups, false, cfg);
        let mut rng = Rng::new(9);
        let mut cross = false;
        for _ in 0..150 {
            let p = s.next("r", None, &mut rng).unwrap();
            cross |= groups[p.a] != groups[p.b];
            s.record(p.a, p.b, "r");
        }
        assert!(cross);
        assert!((0..200).all(|i| s.opponents(i) >= 1), "coverage reached");
    }

    #[test]
    fn singles_and_sets() {
        let mut judged = vec![BTreeSet::new(); 3];
        let mut rng = Rng::new(2);
        let mut order = Vec::new();
        while let Some(i) = next_single(&judged, "r1", 2, &mut rng) {
            judged[i].insert("r1".to_string());
            order.push(i);
        }
        assert_eq!(order.len(), 3);
        let i = next_single(&judged, "r2", 2, &mut rng).unwrap();
        judged[i].insert("r2".into());
        for r in &mut judged {
            r.insert("r2".into());
        }
        assert!(next_single(&judged, "r3", 2, &mut rng).is_none());

        let groups = [0, 0, 0, 0, 1, 1];
        let mut shown = vec![0; 6];
        let mut seen = HashSet::new();
        while let Some(set) = next_set(&groups, &shown, &seen, 3, &mut rng) {
            assert_eq!(set.len(), 3);
            assert!(set.iter().all(|&i| groups[i] == 0), "group 1 is too small");
            for &i in &set {
                shown[i] += 1;
            }
            assert!(seen.insert(set), "never the same set twice");
        }
        assert!(seen.len() >= 3 && seen.len() <= 4, "{seen:?}");
    }
}
