//! Human evidence for calibrating and judging a policy: good / bad labels per image (from human
//! decisions, or derived from pairwise label events through Bradley–Terry) and the humans' best
//! image of a group. Pure: rows and decoded events come in, nothing is read or written.
//!
//! **Conventions** (deliberate; the docs repeat them):
//! - A human decision `accepted` is good, `rejected` is bad; other statuses carry no label.
//!   Decisions win over pairwise evidence for the same image.
//! - Pairwise and best-of-N events of one criterion become Bradley–Terry comparisons
//!   ([`crate::human::comparisons`]: a best-of-N pick beats each other item, `tie` and
//!   `both_bad` count half a win each) fitted with the prior `alpha = 0.01` (as `assay rank`).
//!   An image is **good when its strength is above the mean of the compared images**
//!   (`θ > 0`, θ being centred), i.e. it beats an image of average strength with probability
//!   above ½; `|θ| ≤ 1e-9` is undecided and left out. This is a *relative* label: on pairwise
//!   evidence alone about half of the compared images are good, whatever their absolute quality,
//!   so thresholds calibrated on it separate the better half from the worse.

use crate::domain::{Protocol, Status};
use std::collections::{BTreeMap, HashMap};

use crate::human::{self, Event};
use crate::ranking::bt::{self, BtOptions};
use crate::store::ImageRow;

/// Bradley–Terry prior used for labels (as `assay rank`'s default).
pub const BT_ALPHA: f64 = 0.01;

/// Where an image's label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelSource {
    Decision,
    Pairwise,
}

impl LabelSource {
    pub fn name(self) -> &'static str {
        match self {
            Self::Decision => "decision",
            Self::Pairwise => "pairwise",
        }
    }
}

/// Good / bad labels derived from pairwise events, by item path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairwiseLabels {
    /// `path → (good, θ)` for the compared images whose strength is not at the mean.
    pub by_path: BTreeMap<String, (bool, f64)>,
    /// Images compared at least once.
    pub compared: usize,
    pub comparisons: usize,
    /// Compared images left undecided (θ at the mean).
    pub undecided: usize,
    /// Why no Bradley–Terry fit was possible (too few comparisons, …).
    pub error: Option<String>,
}

/// Derives good / bad labels from the pairwise and best-of-N events of `criterion`
/// (see the module docs for the rule).
pub fn pairwise_labels(events: &[Event], criterion: &str) -> PairwiseLabels {
    let (names, comps) = human::comparisons(events, criterion);
    let mut out = PairwiseLabels {
        compared: names.len(),
        comparisons: comps.len(),
        ..PairwiseLabels::default()
    };
    if comps.is_empty() {
        return out;
    }
    let opts = BtOptions {
        alpha: BT_ALPHA,
        ..BtOptions::default()
    };
    match bt::fit(names.len(), &comps, &opts) {
        Ok(fit) => {
            for (name, theta) in names.into_iter().zip(fit.theta) {
                if theta.abs() <= 1e-9 || !theta.is_finite() {
                    out.undecided += 1;
                } else {
                    out.by_path.insert(name, (theta > 0.0, theta));
                }
            }
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// How many labels of each kind were found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelCounts {
    pub decision_good: usize,
    pub decision_bad: usize,
    pub pairwise_good: usize,
    pub pairwise_bad: usize,
    /// Pairwise labels of images that also have a decision (the decision was used).
    pub pairwise_overridden: usize,
    pub pairwise: PairwiseLabels,
}

/// Labels of the current, readable-or-not rows: `id → (good, source)`; decisions win.
pub fn image_labels(
    rows: &[ImageRow],
    events: &[Event],
    criterion: &str,
) -> (HashMap<i64, (bool, LabelSource)>, LabelCounts) {
    let pairwise = pairwise_labels(events, criterion);
    let mut counts = LabelCounts::default();
    let mut out = HashMap::new();
    for r in rows {
        let decision = match (r.decision_source.as_deref(), r.status) {
            (Some("human"), Some(Status::Accepted)) => Some(true),
            (Some("human"), Some(Status::Rejected)) => Some(false),
            _ => None,
        };
        let pair = pairwise.by_path.get(&r.path).map(|x| x.0);
        if let Some(good) = decision {
            if good {
                counts.decision_good += 1;
            } else {
                counts.decision_bad += 1;
            }
            counts.pairwise_overridden += usize::from(pair.is_some());
            out.insert(r.id, (good, LabelSource::Decision));
        } else if let Some(good) = pair {
            if good {
                counts.pairwise_good += 1;
            } else {
                counts.pairwise_bad += 1;
            }
            out.insert(r.id, (good, LabelSource::Pairwise));
        }
    }
    counts.pairwise = pairwise;
    (out, counts)
}

/// The kind of evidence that named a group's best image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BestEvidence {
    /// Exactly one image of the group accepted by a human, every other one rejected.
    Decisions,
    /// Every image of the group compared (pairwise / best-of-N); unique highest BT strength
    /// fitted on the comparisons inside the group.
    Comparisons,
    /// Every image of the group rated (Likert, this criterion); unique highest mean rating.
    Ratings,
}

impl BestEvidence {
    pub fn name(self) -> &'static str {
        match self {
            Self::Decisions => "decisions",
            Self::Comparisons => "comparisons",
            Self::Ratings => "ratings",
        }
    }
}

/// The humans' best image among `group` (the readable images of one scope group), when the
/// evidence names one: decisions first, then comparisons, then ratings (see [`BestEvidence`]).
/// Groups of fewer than two images, or with incomplete or tied evidence, have none.
pub fn human_best(
    group: &[&ImageRow],
    events: &[Event],
    criterion: &str,
) -> Option<(i64, BestEvidence)> {
    if group.len() < 2 {
        return None;
    }
    let human_status = |r: &ImageRow| {
        (r.decision_source.as_deref() == Some("human"))
            .then_some(r.status)
            .flatten()
    };
    let accepted: Vec<&&ImageRow> = group
        .iter()
        .filter(|r| human_status(r) == Some(Status::Accepted))
        .collect();
    let rejected = group
        .iter()
        .filter(|r| human_status(r) == Some(Status::Rejected))
        .count();
    if let [one] = accepted.as_slice()
        && rejected + 1 == group.len()
    {
        return Some((one.id, BestEvidence::Decisions));
    }
    let index: HashMap<&str, usize> = group
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();
    let inside = |e: &&Event| {
        e.payload
            .items
            .iter()
            .all(|p| index.contains_key(p.as_str()))
    };
    let group_events: Vec<Event> = events.iter().filter(inside).cloned().collect();
    let (names, comps) = human::comparisons(&group_events, criterion);
    if names.len() == group.len() && !comps.is_empty() {
        let opts = BtOptions {
            alpha: BT_ALPHA,
            ..BtOptions::default()
        };
        if let Ok(fit) = bt::fit(names.len(), &comps, &opts)
            && let Some(i) = unique_argmax(&fit.theta)
            && let Some(r) = names.get(i).and_then(|n| index.get(n.as_str()))
        {
            return Some((group[*r].id, BestEvidence::Comparisons));
        }
    }
    let mut ratings = vec![(0.0, 0usize); group.len()];
    for e in group_events
        .iter()
        .filter(|e| e.protocol == Protocol::Likert && e.payload.criterion == criterion)
    {
        if let (Some(item), Some(v)) = (e.payload.items.first(), e.payload.rating)
            && let Some(&i) = index.get(item.as_str())
        {
            ratings[i].0 += v;
            ratings[i].1 += 1;
        }
    }
    if ratings.iter().all(|r| r.1 > 0) {
        let means: Vec<f64> = ratings.iter().map(|(s, n)| s / *n as f64).collect();
        if let Some(i) = unique_argmax(&means) {
            return Some((group[i].id, BestEvidence::Ratings));
        }
    }
    None
}

/// The index of the largest value when no other value is within 1e-9 of it.
fn unique_argmax(v: &[f64]) -> Option<usize> {
    let (i, best) = v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let ties = v.iter().filter(|x| (*x - best).abs() <= 1e-9).count();
    (ties == 1).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::human::Payload;

    fn pair(a: &str, b: &str, choice: &str) -> Event {
        Event {
            rater: "r".into(),
            protocol: Protocol::Pairwise,
            payload: Payload {
                criterion: "overall".into(),
                items: vec![a.into(), b.into()],
                hashes: vec![],
                order: vec![a.into(), b.into()],
                choice: Some(choice.into()),
                rating: None,
                ratings: None,
                response_ms: None,
                attention_check: false,
            },
        }
    }

    fn row(id: i64, path: &str, status: Option<&str>) -> ImageRow {
        ImageRow {
            id,
            path: path.into(),
            status: status.map(|s| s.parse().unwrap()),
            decision_source: status.map(|_| "human".into()),
            ..ImageRow::default()
        }
    }

    #[test]
    fn pairwise_labels_split_at_the_mean_strength() {
        // (events as (a, b, winner), expected good set, expected bad set)
        type Case = (
            Vec<(&'static str, &'static str, &'static str)>,
            &'static str,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            // A chain a > b > c > d, each pair judged once: a, b good; c, d bad.
            (
                vec![
                    ("a", "b", "a"),
                    ("b", "c", "b"),
                    ("c", "d", "c"),
                    ("a", "d", "a"),
                ],
                "ab",
                "cd",
            ),
            // Three items, a beats both, b and c tie: only a is above the mean.
            (
                vec![("a", "b", "a"), ("a", "c", "a"), ("b", "c", "tie")],
                "a",
                "bc",
            ),
            // A perfect tie: nobody is above or below the mean; nothing labelled.
            (vec![("a", "b", "tie"), ("b", "a", "tie")], "", ""),
        ];
        for (evs, good, bad) in cases {
            let events: Vec<Event> = evs.iter().map(|(a, b, c)| pair(a, b, c)).collect();
            let l = pairwise_labels(&events, "overall");
            let got = |want: bool| -> String {
                l.by_path
                    .iter()
                    .filter(|(_, v)| v.0 == want)
                    .map(|(k, _)| k.as_str())
                    .collect()
            };
            assert_eq!(
                (got(true).as_str(), got(false).as_str()),
                (good, bad),
                "{evs:?}"
            );
            assert_eq!(l.undecided + l.by_path.len(), l.compared);
        }
        // Another criterion sees nothing.
        let l = pairwise_labels(&[pair("a", "b", "a")], "aesthetics");
        assert_eq!((l.compared, l.by_path.len()), (0, 0));
    }

    #[test]
    fn decisions_win_over_pairwise_labels() {
        let rows = vec![
            row(1, "a", Some("rejected")),
            row(2, "b", None),
            row(3, "c", None),
        ];
        let events = vec![
            pair("a", "b", "a"),
            pair("b", "c", "b"),
            pair("a", "c", "a"),
        ];
        let (labels, counts) = image_labels(&rows, &events, "overall");
        assert_eq!(labels[&1], (false, LabelSource::Decision));
        assert_eq!(labels[&3], (false, LabelSource::Pairwise));
        assert_eq!(counts.pairwise_overridden, 1);
        assert_eq!((counts.decision_good, counts.decision_bad), (0, 1));
        // b: one win, one loss against a stronger and a weaker item: above the mean or not,
        // but labelled by pairwise evidence.
        assert_eq!(labels.get(&2).map(|l| l.1), Some(LabelSource::Pairwise));
    }

    #[test]
    fn human_best_by_each_kind_of_evidence() {
        let rows = [row(1, "a", None), row(2, "b", None), row(3, "c", None)];
        let group: Vec<&ImageRow> = rows.iter().collect();
        // Comparisons covering the whole group: c wins everything.
        let events = vec![
            pair("c", "a", "c"),
            pair("c", "b", "c"),
            pair("a", "b", "b"),
        ];
        assert_eq!(
            human_best(&group, &events, "overall"),
            Some((3, BestEvidence::Comparisons))
        );
        // An uncompared member: no evidence.
        assert_eq!(human_best(&group, &events[..1], "overall"), None);
        // Decisions: one accepted, the rest rejected.
        let decided = [
            row(1, "a", Some("rejected")),
            row(2, "b", Some("accepted")),
            row(3, "c", Some("rejected")),
        ];
        let g: Vec<&ImageRow> = decided.iter().collect();
        assert_eq!(
            human_best(&g, &events, "overall"),
            Some((2, BestEvidence::Decisions))
        );
        // Ratings: every member rated, a unique best mean.
        let likert = |item: &str, v: f64| {
            let mut e = pair(item, item, item);
            e.protocol = Protocol::Likert;
            e.payload.items = vec![item.into()];
            e.payload.choice = None;
            e.payload.rating = Some(v);
            e
        };
        let ev = vec![
            likert("a", 2.0),
            likert("b", 5.0),
            likert("c", 3.0),
            likert("a", 4.0),
        ];
        assert_eq!(
            human_best(&group, &ev, "overall"),
            Some((2, BestEvidence::Ratings))
        );
        // A tie for the best mean is no evidence.
        let ev = vec![likert("a", 5.0), likert("b", 5.0), likert("c", 3.0)];
        assert_eq!(human_best(&group, &ev, "overall"), None);
    }
}
