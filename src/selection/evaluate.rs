//! Judging a whole policy against human evidence: calibrating its accept / reject thresholds on
//! the final score ([`calibrate_policy`]), the best-of-N curve per scope group ([`best_of_n`])
//! and selector efficiency ([`selector_efficiency`]). Pure; shared by `assay calibrate
//! --policy`, `assay select --best-of-n` and the GUI's policy editor.
//!
//! Scores come from [`plan::plan`] run with **no** image held back for human decisions: the
//! labelled images are exactly the human-decided ones, and they need a score. (`assay select`
//! leaves human-decided images out of the scope it ranks, so percentile scores there can shift
//! slightly when many images of a group are decided by hand.)

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Value;
use super::calibrate::{self, BandMetrics, CostThreshold, Interval, Threshold, Z95};
use super::labels::{self, BestEvidence, LabelCounts};
use super::plan::{self, Plan, Prepared};
use crate::human::Event;
use crate::store::ImageRow;
use crate::table;

/// Options of [`calibrate_policy`].
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrateOptions {
    pub cost_false_accept: f64,
    pub cost_false_reject: f64,
    /// Accept band precision target; `None` = the accept threshold is the minimum-cost one.
    pub target_precision: Option<f64>,
    /// Share of labelled images held out for evaluation (0 = evaluate on the training labels).
    pub holdout: f64,
    pub seed: u64,
    /// Criterion of the pairwise events used.
    pub criterion: String,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        Self {
            cost_false_accept: 1.0,
            cost_false_reject: 1.0,
            target_precision: None,
            holdout: 0.3,
            seed: 1,
            criterion: "overall".into(),
        }
    }
}

/// Labelled images the score calibration could not use, by why.
#[derive(Debug, Clone, PartialEq)]
pub struct Excluded {
    /// The policy's reason (`blurry`, `missing signal noise_sigma`, `unreadable file`).
    pub reason: String,
    pub good: usize,
    pub bad: usize,
}

/// A calibrated pair of thresholds and how they do.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyCalibration {
    /// `score ≥ accept` → accept.
    pub accept: f64,
    /// `score < reject` → reject; `≤ accept`.
    pub reject: f64,
    /// The minimum-cost threshold on the training labels (the reject threshold, and the accept
    /// threshold when there is no precision target).
    pub cost: CostThreshold,
    /// The precision-target threshold, when one was asked for.
    pub precision: Option<Threshold>,
    pub train_n: usize,
    pub train_good: usize,
    /// `true`: metrics are on held-out labels; `false`: on the training labels (no hold-out).
    pub held_out: bool,
    pub eval_n: usize,
    pub metrics: BandMetrics,
    pub labels: LabelCounts,
    /// Labelled images without a score (failed a gate, lacked a signal, unreadable).
    pub excluded: Vec<Excluded>,
}

impl PolicyCalibration {
    /// A warning when the chosen accept cut was "accept nothing": bands lie in [0, 1], so it is
    /// written as 1, which still accepts the images scoring exactly 1.
    pub fn accept_nothing_note(&self) -> Option<String> {
        let cut = self.precision.map_or(self.cost.value, |p| p.value);
        (!cut.is_finite()).then(|| {
            "the cheapest choice was to accept nothing; bands cannot exceed 1, so accept = 1 \
             still accepts images scoring exactly 1 (a scope group's top image when the score \
             is a percentile)"
                .to_string()
        })
    }
}

/// Why calibration could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrateError {
    #[error(
        "no labels: record human accept/reject decisions (assay decide, or the grid's P/X keys) or pairwise comparisons (assay label import, or the labeling view){0}"
    )]
    NoLabels(String),
    #[error(
        "all {n} labelled images with a policy score are {class}: calibration needs both good and bad examples"
    )]
    OneClass { n: usize, class: &'static str },
    #[error(
        "too few labels: the training part has {good} good and {bad} bad scored images; at least two of each are needed (add labels or lower --holdout)"
    )]
    TooFew { good: usize, bad: usize },
    #[error(
        "no accept threshold reaches precision {target} on the training labels (best is {best:.3}); lower --target-precision or add labels"
    )]
    PrecisionUnreachable { target: f64, best: f64 },
    #[error("policy error: {0}")]
    Policy(String),
    #[error("invalid option: {0}")]
    Options(String),
}

/// Scores of every image (no human decision held back).
pub fn score_all(p: &Prepared, rows: &[ImageRow]) -> Result<Plan, CalibrateError> {
    plan::plan(p, rows, &HashSet::new()).map_err(|e| CalibrateError::Policy(e.to_string()))
}

/// Chooses accept / reject thresholds on the policy's final score from human labels.
///
/// Rule: the reject threshold is the minimum-cost cut for the false-accept : false-reject cost
/// ratio (below it, rejecting is the cheaper error in expectation). The accept threshold is the
/// loosest cut whose accepted training images reach `target_precision`, or the minimum-cost cut
/// when there is no target; the reject threshold is capped at the accept one. Images between
/// the two go to review. Both are then moved to the shortest decimal that splits the training
/// scores the same way ([`calibrate::tidy_threshold`]).
pub fn calibrate_policy(
    p: &Prepared,
    rows: &[ImageRow],
    events: &[Event],
    o: &CalibrateOptions,
) -> Result<PolicyCalibration, CalibrateError> {
    if !(0.0..1.0).contains(&o.holdout) {
        return Err(CalibrateError::Options(
            "--holdout must be in [0, 1)".into(),
        ));
    }
    if o.target_precision.is_some_and(|t| !(t > 0.0 && t <= 1.0)) {
        return Err(CalibrateError::Options(
            "--target-precision must be in (0, 1]".into(),
        ));
    }
    let (labels, counts) = labels::image_labels(rows, events, &o.criterion);
    if labels.is_empty() {
        let why = counts
            .pairwise
            .error
            .as_ref()
            .map(|e| format!(" (pairwise events could not be fitted: {e})"))
            .unwrap_or_default();
        return Err(CalibrateError::NoLabels(why));
    }
    let plan = score_all(p, rows)?;
    let path: HashMap<i64, &str> = rows.iter().map(|r| (r.id, r.path.as_str())).collect();
    let mut excluded: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut scored = HashSet::new();
    let mut train = (Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new());
    for out in &plan.outcomes {
        let Some(&(good, _)) = labels.get(&out.id) else {
            continue;
        };
        let Some(score) = out.score else {
            let e = excluded.entry(out.reason.clone()).or_default();
            *(if good { &mut e.0 } else { &mut e.1 }) += 1;
            continue;
        };
        scored.insert(out.id);
        let key = path.get(&out.id).copied().unwrap_or_default();
        let side = if calibrate::held_out(o.seed, key, o.holdout) {
            &mut test
        } else {
            &mut train
        };
        side.0.push(score);
        side.1.push(good);
    }
    // Labelled images the policy never scored: unreadable files (rejected before ranking).
    for d in &plan.decisions {
        if let Some(&(good, _)) = labels.get(&d.image_id)
            && d.detail.is_none()
        {
            let e = excluded.entry("unreadable file".into()).or_default();
            *(if good { &mut e.0 } else { &mut e.1 }) += 1;
        }
    }
    let all_good = train.1.iter().chain(&test.1).filter(|g| **g).count();
    let all_n = train.1.len() + test.1.len();
    if all_n > 0 && (all_good == 0 || all_good == all_n) {
        return Err(CalibrateError::OneClass {
            n: all_n,
            class: if all_good == 0 { "bad" } else { "good" },
        });
    }
    let good = train.1.iter().filter(|g| **g).count();
    let bad = train.1.len() - good;
    if good < 2 || bad < 2 {
        return Err(CalibrateError::TooFew { good, bad });
    }
    let cost =
        calibrate::threshold_min_cost(&train.0, &train.1, o.cost_false_accept, o.cost_false_reject)
            .ok_or_else(|| CalibrateError::Options("costs must be finite and >= 0".into()))?;
    let precision = match o.target_precision {
        Some(t) => Some(
            calibrate::threshold_for_precision(&train.0, &train.1, t).ok_or_else(|| {
                CalibrateError::PrecisionUnreachable {
                    target: t,
                    best: best_precision(&train.0, &train.1),
                }
            })?,
        ),
        None => None,
    };
    let below = |t: f64| {
        train
            .0
            .iter()
            .copied()
            .filter(|s| *s < t)
            .max_by(f64::total_cmp)
    };
    // A cost cut of +∞ (accept nothing) cannot be written: bands lie in [0, 1], so it becomes
    // 1, which still accepts the images scoring exactly 1 (the metrics below use it as written).
    let finite = |t: f64| {
        if t.is_finite() {
            calibrate::tidy_threshold(t, below(t))
        } else {
            1.0
        }
    };
    let accept = finite(precision.map_or(cost.value, |p| p.value));
    let reject = finite(cost.value).min(accept);
    let (eval, held_out) = if test.0.is_empty() {
        (&train, false)
    } else {
        (&test, true)
    };
    let metrics = calibrate::band_metrics(&eval.0, &eval.1, accept, reject);
    Ok(PolicyCalibration {
        accept,
        reject,
        cost,
        precision,
        train_n: train.1.len(),
        train_good: good,
        held_out,
        eval_n: eval.1.len(),
        metrics,
        labels: counts,
        excluded: excluded
            .into_iter()
            .map(|(reason, (good, bad))| Excluded { reason, good, bad })
            .collect(),
    })
}

/// The best precision any cut reaches (for the error message).
fn best_precision(scores: &[f64], labels: &[bool]) -> f64 {
    (1..=100)
        .rev()
        .map(|k| f64::from(k) / 100.0)
        .find(|t| calibrate::threshold_for_precision(scores, labels, *t).is_some())
        .unwrap_or(0.0)
}

/// The readable images of each scope group (`scope key → rows`), in row order.
fn groups<'a>(p: &Prepared, rows: &'a [ImageRow]) -> BTreeMap<String, Vec<&'a ImageRow>> {
    let mut g: BTreeMap<String, Vec<&ImageRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.error.is_none()) {
        g.entry(plan::scope_key(
            p.policy.scope,
            &r.path,
            r.positive.as_deref(),
        ))
        .or_default()
        .push(r);
    }
    g
}

/// A scope key as people read it.
pub fn group_label(key: &str) -> String {
    if key.is_empty() {
        return "(whole collection)".into();
    }
    let text = key.replace('\u{1f}', " / ");
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

/// The best-of-N curves of one scope group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCurve {
    pub key: String,
    /// Readable images of the group.
    pub n_images: usize,
    /// Candidates: images the policy scored that have a quality value.
    pub n_candidates: usize,
    /// Expected quality of the policy's pick among N random candidates, N = 1, 2, …
    pub policy: Vec<f64>,
    /// Expected quality of the best of N by quality itself (the oracle; ≥ `policy`).
    pub oracle: Vec<f64>,
}

/// Best-of-N per group and pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct BestOfN {
    /// The quality measured: a signal key, or `policy score`.
    pub quality: String,
    pub groups: Vec<GroupCurve>,
    /// Per N: mean over the groups with at least N candidates of the policy curve, the oracle
    /// curve, and how many groups that is.
    pub pooled: Vec<(f64, f64, usize)>,
}

/// Multiplies a curve back by the quality's sign (see [`best_of_n`]).
fn unsign(curve: Vec<f64>, sign: f64) -> Vec<f64> {
    curve.into_iter().map(|v| v * sign).collect()
}

/// Whether `key` can measure best-of-N quality: a numeric signal with a better direction.
pub fn is_quality_key(key: &str) -> bool {
    crate::signals::get(key).is_some_and(|d| {
        d.kind == crate::signals::Kind::Number && d.direction != crate::signals::Direction::Neutral
    })
}

/// The quality key used when none is named: the learned preference or the aesthetic score when
/// some image has it, else `None` (the policy score).
pub fn default_quality(rows: &[ImageRow]) -> Option<&'static str> {
    ["learned_preference", "aesthetic"].into_iter().find(|k| {
        rows.iter()
            .any(|r| matches!(table::value(r, k), Value::Num(v) if v.is_finite()))
    })
}

/// Expected quality of the pick vs N for every scope group (draws without replacement from the
/// group's candidates; see [`calibrate::best_of_n_pick_curve`]). `quality = None` measures the
/// policy's own score — within a group that is a percentile, so the curve then mostly reflects
/// the group's size.
pub fn best_of_n(
    p: &Prepared,
    plan: &Plan,
    rows: &[ImageRow],
    quality: Option<&str>,
    n_max: usize,
) -> BestOfN {
    let by_id: HashMap<i64, &ImageRow> = rows.iter().map(|r| (r.id, r)).collect();
    let outcome: HashMap<i64, &super::policy::Outcome> =
        plan.outcomes.iter().map(|o| (o.id, o)).collect();
    // Curves are computed on "higher is better" values: a lower-is-better signal is negated
    // going in and the curves negated coming out, so they stay in the signal's own units.
    let sign = match quality.and_then(crate::signals::get).map(|d| d.direction) {
        Some(crate::signals::Direction::LowerIsBetter) => -1.0,
        _ => 1.0,
    };
    let mut groups_out = Vec::new();
    for (key, members) in groups(p, rows) {
        // (selector rank, quality) of the candidates; rank 1 = the policy's favourite.
        let mut cand: Vec<(usize, f64)> = members
            .iter()
            .filter_map(|r| {
                let o = outcome.get(&r.id)?;
                let (rank, score) = (o.rank_in_scope?, o.score?);
                let q = match quality {
                    None => score,
                    Some(k) => match table::value(by_id.get(&r.id)?, k) {
                        Value::Num(v) if v.is_finite() => sign * v,
                        _ => return None,
                    },
                };
                Some((rank, q))
            })
            .collect();
        cand.sort_by_key(|c| std::cmp::Reverse(c.0));
        let worst_first: Vec<f64> = cand.iter().map(|c| c.1).collect();
        groups_out.push(GroupCurve {
            key,
            n_images: members.len(),
            n_candidates: cand.len(),
            policy: unsign(calibrate::best_of_n_pick_curve(&worst_first, n_max), sign),
            oracle: unsign(calibrate::best_of_n_curve(&worst_first, n_max), sign),
        });
    }
    let longest = groups_out.iter().map(|g| g.policy.len()).max().unwrap_or(0);
    let pooled = (0..longest)
        .map(|i| {
            let (mut s, mut o, mut n) = (0.0, 0.0, 0usize);
            for g in &groups_out {
                if let (Some(a), Some(b)) = (g.policy.get(i), g.oracle.get(i)) {
                    s += a;
                    o += b;
                    n += 1;
                }
            }
            (s / n as f64, o / n as f64, n)
        })
        .collect();
    BestOfN {
        quality: quality.unwrap_or("policy score").to_string(),
        groups: groups_out,
        pooled,
    }
}

/// One group judged for selector efficiency.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPick {
    pub key: String,
    pub size: usize,
    /// The policy's top-1 (rank 1 in the scope); `None` when it scored nothing there.
    pub policy_pick: Option<i64>,
    pub human_best: i64,
    pub evidence: BestEvidence,
    pub hit: bool,
}

/// How often the policy's top-1 pick is the humans' best.
#[derive(Debug, Clone, PartialEq)]
pub struct Efficiency {
    pub groups: Vec<GroupPick>,
    pub hits: usize,
    /// `hits / groups` with a Wilson 95 % interval (`None` without evidence).
    pub rate: Option<f64>,
    pub interval: Option<Interval>,
    /// A random pick's hit rate: the mean of `1 / group size` over the judged groups.
    pub chance: Option<f64>,
    /// Groups of two or more images without usable human evidence of their best.
    pub groups_without_evidence: usize,
}

/// Selector efficiency over the scope groups with human evidence of their best image
/// ([`labels::human_best`]: decisions, else comparisons, else ratings).
pub fn selector_efficiency(
    p: &Prepared,
    plan: &Plan,
    rows: &[ImageRow],
    events: &[Event],
    criterion: &str,
) -> Efficiency {
    let top1: HashMap<i64, bool> = plan
        .outcomes
        .iter()
        .map(|o| (o.id, o.rank_in_scope == Some(1)))
        .collect();
    let mut picks = Vec::new();
    let mut without = 0;
    for (key, members) in groups(p, rows) {
        if members.len() < 2 {
            continue;
        }
        let Some((best, evidence)) = labels::human_best(&members, events, criterion) else {
            without += 1;
            continue;
        };
        let policy_pick = members
            .iter()
            .find(|r| top1.get(&r.id).copied().unwrap_or(false))
            .map(|r| r.id);
        picks.push(GroupPick {
            key,
            size: members.len(),
            policy_pick,
            human_best: best,
            evidence,
            hit: policy_pick == Some(best),
        });
    }
    let n = picks.len();
    let hits = picks.iter().filter(|g| g.hit).count();
    Efficiency {
        hits,
        rate: (n > 0).then(|| hits as f64 / n as f64),
        interval: calibrate::wilson(hits, n, Z95),
        chance: (n > 0).then(|| picks.iter().map(|g| 1.0 / g.size as f64).sum::<f64>() / n as f64),
        groups: picks,
        groups_without_evidence: without,
    }
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
