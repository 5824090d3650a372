//! Which items to show next in a labeling session. Pure: items are indices, raters names.
//!
//! Pairwise ([`PairScheduler`]), in this order of priority:
//! 1. **Replication**: a pair other raters judged but fewer than `raters_per_pair` did, that
//!    this rater has not seen (so every pair ends up with several raters, for agreement).
//! 2. **Coverage**: the item with the fewest distinct opponents, while below
//!    `comparisons_per_item`, against a new opponent (fewest opponents first, then the closest
//!    Bradley–Terry score).
//! 3. **Active**: the pair with the largest `p(1 − p) / sqrt(1 + n_a + n_b)`, where `p` is
//!    the Bradley–Terry win probability and `n` the judgements of each item: close scores
//!    and few comparisons are where a label changes the ranking most.
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
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::Replication => "replication",
            Why::Coverage => "coverage",
            Why::Active => "active (close scores)",
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
        }
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

    fn active(&self, rater: &str, theta: Option<&[f64]>, rng: &mut Rng) -> Option<Planned> {
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
