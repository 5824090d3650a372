//! Label events → training pairs for the Bradley–Terry loss.
//!
//! - Pairwise and best-of-N events go through [`human::comparisons`] (one event at a time, so
//!   every pair remembers its event): a win is target 1 for the winner, a tie or "both bad" is
//!   target ½ (half a win each), a best-of-N pick beats every other item shown.
//! - Likert ratings become pairs between items the *same rater* rated on the same criterion with
//!   different ratings (the higher rating wins). Equal ratings make no pair: a shared 3 says little
//!   about a preference between the two. Likert pairs are built only within one split (see
//!   [`likert_pairs`]), so a held-out rating never leaks into training.
//!
//! Attention-check events are excluded by the caller (they are gold items, not opinions).

use std::collections::{BTreeMap, HashMap};

use crate::domain::Protocol;
use crate::human::{self, Event};
use crate::ranking::bt::Outcome;
use crate::ranking::rng::Rng;

/// One training pair: `target` is the probability that `a` is preferred to `b` (1, 0 or ½).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabeledPair {
    /// Index into [`Labels::items`].
    pub a: usize,
    pub b: usize,
    pub target: f64,
    /// Index of the event it came from (into the events given to [`assemble`]).
    pub event: usize,
}

/// One Likert rating.
#[derive(Debug, Clone, PartialEq)]
pub struct LikertRating {
    pub item: usize,
    pub rating: f64,
    pub rater: String,
    pub event: usize,
}

/// The labels of one criterion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// Item names (relative paths), sorted.
    pub items: Vec<String>,
    /// Pairs from pairwise and best-of-N events.
    pub pairs: Vec<LabeledPair>,
    pub likert: Vec<LikertRating>,
}

impl Labels {
    /// Indices of the events that carry labels, ascending.
    pub fn events(&self) -> Vec<usize> {
        let mut e: Vec<usize> = self
            .pairs
            .iter()
            .map(|p| p.event)
            .chain(self.likert.iter().map(|l| l.event))
            .collect();
        e.sort_unstable();
        e.dedup();
        e
    }
}

/// Pairs and Likert ratings of `criterion` from `events`.
pub fn assemble(events: &[Event], criterion: &str) -> Labels {
    let mut names: Vec<String> = events
        .iter()
        .filter(|e| {
            e.payload.criterion == criterion
                && matches!(
                    e.protocol,
                    Protocol::Pairwise | Protocol::BestOfN | Protocol::Likert
                )
        })
        .flat_map(|e| e.payload.items.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut pairs = Vec::new();
    let mut likert = Vec::new();
    for (k, e) in events.iter().enumerate() {
        if e.payload.criterion != criterion {
            continue;
        }
        match e.protocol {
            Protocol::Pairwise | Protocol::BestOfN => {
                let (local, comps) = human::comparisons(std::slice::from_ref(e), criterion);
                let global = |i: usize| local.get(i).and_then(|n| index.get(n.as_str())).copied();
                for c in comps {
                    let (Some(a), Some(b)) = (global(c.a), global(c.b)) else {
                        continue;
                    };
                    let target = match c.outcome {
                        Outcome::AWins => 1.0,
                        Outcome::BWins => 0.0,
                        Outcome::Tie => 0.5,
                    };
                    pairs.push(LabeledPair {
                        a,
                        b,
                        target,
                        event: k,
                    });
                }
            }
            Protocol::Likert => {
                let (Some(item), Some(rating)) = (
                    e.payload
                        .items
                        .first()
                        .and_then(|n| index.get(n.as_str()).copied()),
                    e.payload.rating,
                ) else {
                    continue;
                };
                likert.push(LikertRating {
                    item,
                    rating,
                    rater: e.rater.clone(),
                    event: k,
                });
            }
            Protocol::Multi => {}
        }
    }
    Labels {
        items: names,
        pairs,
        likert,
    }
}

/// Pairs from Likert ratings: within each rater, every two items with different ratings (the
/// higher wins; a rater's latest rating of an item counts). More than `cap` pairs → a seeded
/// sample of `cap`. Each pair carries the event of its first item.
pub fn likert_pairs(ratings: &[&LikertRating], cap: usize, seed: u64) -> Vec<LabeledPair> {
    let mut by_rater: BTreeMap<&str, BTreeMap<usize, (f64, usize)>> = BTreeMap::new();
    for r in ratings {
        by_rater
            .entry(r.rater.as_str())
            .or_default()
            .insert(r.item, (r.rating, r.event));
    }
    let mut out = Vec::new();
    for items in by_rater.values() {
        let v: Vec<(usize, f64, usize)> = items.iter().map(|(&i, &(r, e))| (i, r, e)).collect();
        for (x, &(a, ra, ea)) in v.iter().enumerate() {
            for &(b, rb, _) in &v[x + 1..] {
                if ra != rb {
                    out.push(LabeledPair {
                        a,
                        b,
                        target: if ra > rb { 1.0 } else { 0.0 },
                        event: ea,
                    });
                }
            }
        }
    }
    if out.len() > cap {
        let mut rng = Rng::new(seed);
        for i in 0..cap {
            let j = i + rng.below(out.len() - i);
            out.swap(i, j);
        }
        out.truncate(cap);
    }
    out
}

/// A seeded split of `events` into (kept, held out): `round(fraction · n)` events held out.
pub fn split_events(events: &[usize], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order = events.to_vec();
    let mut rng = Rng::new(seed);
    for i in (1..order.len()).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let k = ((fraction.clamp(0.0, 1.0) * order.len() as f64).round() as usize).min(order.len());
    let mut held: Vec<usize> = order[..k].to_vec();
    let mut kept: Vec<usize> = order[k..].to_vec();
    held.sort_unstable();
    kept.sort_unstable();
    (kept, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::human::Payload;

    fn ev(
        protocol: &str,
        rater: &str,
        items: &[&str],
        choice: Option<&str>,
        rating: Option<f64>,
    ) -> Event {
        Event {
            rater: rater.into(),
            protocol: protocol.parse().unwrap(),
            payload: Payload {
                criterion: "overall".into(),
                items: items.iter().map(|s| (*s).to_string()).collect(),
                hashes: vec![],
                order: items.iter().map(|s| (*s).to_string()).collect(),
                choice: choice.map(str::to_string),
                rating,
                ratings: None,
                response_ms: None,
                attention_check: false,
            },
        }
    }

    #[test]
    fn events_become_pairs_with_ties_as_half_wins() {
        let events = vec![
            ev("pairwise", "r1", &["b", "a"], Some("a"), None),
            ev("pairwise", "r1", &["a", "c"], Some("tie"), None),
            ev("pairwise", "r2", &["a", "c"], Some("both_bad"), None),
            ev("best_of_n", "r1", &["a", "b", "c"], Some("c"), None),
            ev("likert", "r1", &["a"], None, Some(4.0)),
            ev("likert", "r1", &["b"], None, Some(2.0)),
            ev("likert", "r1", &["c"], None, Some(4.0)),
            ev("likert", "r2", &["b"], None, Some(5.0)),
        ];
        let l = assemble(&events, "overall");
        assert_eq!(l.items, vec!["a", "b", "c"]);
        let t: Vec<(usize, usize, f64, usize)> = l
            .pairs
            .iter()
            .map(|p| (p.a, p.b, p.target, p.event))
            .collect();
        assert_eq!(
            t,
            vec![
                (1, 0, 0.0, 0), // b vs a, a chosen: b loses
                (0, 2, 0.5, 1),
                (0, 2, 0.5, 2),
                (2, 0, 1.0, 3),
                (2, 1, 1.0, 3),
            ]
        );
        assert_eq!(l.likert.len(), 4);
        assert_eq!(l.events(), (0..8).collect::<Vec<_>>());
        assert!(assemble(&events, "other").pairs.is_empty());

        let refs: Vec<&LikertRating> = l.likert.iter().collect();
        let lp = likert_pairs(&refs, 100, 1);
        // r1: a(4)>b(2), b(2)<c(4), a = c makes no pair; r2 rated one item only.
        let t: Vec<(usize, usize, f64)> = lp.iter().map(|p| (p.a, p.b, p.target)).collect();
        assert_eq!(t, vec![(0, 1, 1.0), (1, 2, 0.0)]);
        assert_eq!(likert_pairs(&refs, 1, 1).len(), 1, "capped");
    }

    #[test]
    fn split_is_seeded_and_exact() {
        let events: Vec<usize> = (0..10).collect();
        let (k1, h1) = split_events(&events, 0.3, 7);
        let (k2, h2) = split_events(&events, 0.3, 7);
        assert_eq!((&k1, &h1), (&k2, &h2));
        assert_eq!((k1.len(), h1.len()), (7, 3));
        let (_, h3) = split_events(&events, 0.3, 8);
        assert_ne!(h1, h3, "another seed, another split");
        assert_eq!(split_events(&events, 0.0, 1).1, Vec::<usize>::new());
    }
}
