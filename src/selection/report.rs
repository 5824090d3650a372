//! The typed reports of `assay calibrate` (one signal, or a policy's bands), `assay select`
//! (applied or dry-run counts) and `assay select --best-of-n`, built from rows, events and a
//! prepared policy without I/O (the store-reading use-cases are `pipeline::policy`). Their JSON
//! (through `serde_json::Value`, keys sorted) is the CLI's `--format json`; the CLI's text
//! renders the same fields.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Value;
use super::calibrate::{self, BandStat};
use super::evaluate::{self, CalibrateOptions, PolicyCalibration, group_label};
use super::plan::{Plan, Prepared};
use crate::domain::Status;
use crate::human::Event;
use crate::signals::{self, Direction};
use crate::store::ImageRow;
use crate::table;

/// Why a selection report could not be built; the texts are the CLI's messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("unknown signal '{0}'")]
    UnknownSignal(String),
    #[error("'{0}' has no better direction to threshold")]
    NoDirection(String),
    #[error("--holdout must be in [0, 1)")]
    Holdout,
    #[error(
        "calibration needs at least two accepted and two rejected human decisions with '{signal}' (training part has {accepted} accepted, {rejected} rejected); record some with `assay decide`"
    )]
    TooFewDecisions {
        signal: String,
        accepted: usize,
        rejected: usize,
    },
    #[error("no finite scores to calibrate on")]
    NoFiniteScores,
    #[error("--n-max must be at least 1")]
    NMax,
    #[error(
        "--quality '{0}' is not a numeric signal with a better direction (see `assay signals`)"
    )]
    Quality(String),
    /// The policy could not be applied or calibrated (its message).
    #[error("{0}")]
    Policy(String),
}

/// One band's precision and recall with its Wilson 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandReport {
    pub n: usize,
    pub good: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub interval: Option<[f64; 2]>,
}

impl From<&BandStat> for BandReport {
    fn from(s: &BandStat) -> Self {
        Self {
            n: s.n,
            good: s.n_good,
            precision: s.precision,
            recall: s.recall,
            interval: s.interval.map(|i| [i.lo, i.hi]),
        }
    }
}

/// What `assay calibrate --signal` computes.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalCalibrateOptions {
    pub signal: String,
    pub cost_false_accept: f64,
    pub cost_false_reject: f64,
    /// Also report the loosest threshold whose accepted set reaches this precision.
    pub target_precision: Option<f64>,
    /// Share of labelled images held out for evaluation (0: evaluate on the training labels).
    pub holdout: f64,
    pub seed: u64,
}

/// `1` when higher values of `signal` are better, `-1` when lower ones are; an error for an
/// unknown signal or one without a better direction.
pub fn signal_sign(signal: &str) -> Result<f64, ReportError> {
    let def = signals::get(signal).ok_or_else(|| ReportError::UnknownSignal(signal.into()))?;
    match def.direction {
        Direction::HigherIsBetter => Ok(1.0),
        Direction::LowerIsBetter => Ok(-1.0),
        Direction::Neutral => Err(ReportError::NoDirection(signal.into())),
    }
}

impl SignalCalibrateOptions {
    /// Checks the signal and the holdout share; returns the signal's sign ([`signal_sign`]).
    pub fn validate(&self) -> Result<f64, ReportError> {
        let sign = signal_sign(&self.signal)?;
        if !(0.0..1.0).contains(&self.holdout) {
            return Err(ReportError::Holdout);
        }
        Ok(sign)
    }
}

/// The training decisions of a signal calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainCounts {
    pub n: usize,
    pub accepted: usize,
    pub rejected: usize,
}

/// The precision-target threshold of a signal calibration (`None`s: no threshold reaches it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalPrecisionTarget {
    pub target: f64,
    pub threshold: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

/// A threshold on one signal chosen from human accept / reject decisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalCalibration {
    pub signal: String,
    /// `KEY ≥ t` or `KEY ≤ t` (the signal's better direction).
    pub accept_when: String,
    /// `≥` or `≤`.
    #[serde(skip)]
    pub comparison: &'static str,
    /// The minimum-cost threshold, in the signal's own units.
    pub threshold: f64,
    pub cost_ratio: [f64; 2],
    pub train: TrainCounts,
    pub precision_target: Option<SignalPrecisionTarget>,
    pub evaluated_on: &'static str,
    pub accept: BandReport,
    pub reject: BandReport,
}

/// Scores (higher = better) and labels (accepted = true) of a signal calibration's two parts.
type Labelled = (Vec<f64>, Vec<bool>);

/// The human-decided images' signal values, split by path and seed into (train, test).
fn decided_values(
    rows: &[ImageRow],
    o: &SignalCalibrateOptions,
    sign: f64,
) -> (Labelled, Labelled) {
    let mut train = (Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new());
    for r in rows {
        if r.decision_source.as_deref() != Some("human") {
            continue;
        }
        let label = match r.status {
            Some(Status::Accepted) => true,
            Some(Status::Rejected) => false,
            _ => continue,
        };
        let Value::Num(v) = table::value(r, &o.signal) else {
            continue;
        };
        // Deterministic split by path and seed.
        let side = if calibrate::held_out(o.seed, &r.path, o.holdout) {
            &mut test
        } else {
            &mut train
        };
        side.0.push(sign * v);
        side.1.push(label);
    }
    (train, test)
}

/// Chooses a threshold on `o.signal` from the human decisions in `rows`: the minimum expected
/// cost for the cost ratio, optionally the loosest one reaching a precision target, and each
/// side's precision / recall on the held-out (or, without any, the training) decisions.
pub fn calibrate_signal(
    rows: &[ImageRow],
    o: &SignalCalibrateOptions,
) -> Result<SignalCalibration, ReportError> {
    let signal = o.signal.as_str();
    let sign = o.validate()?;
    let (train, test) = decided_values(rows, o, sign);
    let goods = train.1.iter().filter(|l| **l).count();
    let bads = train.1.len() - goods;
    if goods < 2 || bads < 2 {
        return Err(ReportError::TooFewDecisions {
            signal: signal.into(),
            accepted: goods,
            rejected: bads,
        });
    }
    let (fa, fr) = (o.cost_false_accept, o.cost_false_reject);
    let cost = calibrate::threshold_min_cost(&train.0, &train.1, fa, fr)
        .ok_or(ReportError::NoFiniteScores)?;
    let precision = o
        .target_precision
        .and_then(|t| calibrate::threshold_for_precision(&train.0, &train.1, t));
    let (eval, evaluated_on) = if test.0.is_empty() {
        (&train, "training labels (no held-out set)")
    } else {
        (&test, "held-out labels")
    };
    let metrics = calibrate::band_metrics(&eval.0, &eval.1, cost.value, cost.value);
    let comparison = if sign > 0.0 { "≥" } else { "≤" };
    let shown = |v: f64| sign * v;
    Ok(SignalCalibration {
        signal: signal.into(),
        accept_when: format!("{signal} {comparison} {}", shown(cost.value)),
        comparison,
        threshold: shown(cost.value),
        cost_ratio: [fa, fr],
        train: TrainCounts {
            n: train.1.len(),
            accepted: goods,
            rejected: bads,
        },
        precision_target: o.target_precision.map(|target| SignalPrecisionTarget {
            target,
            threshold: precision.map(|p| shown(p.value)),
            precision: precision.map(|p| p.precision),
            recall: precision.map(|p| p.recall),
        }),
        evaluated_on,
        accept: BandReport::from(&metrics.accept),
        reject: BandReport::from(&metrics.reject),
    })
}

/// Accept / reject thresholds of a policy, before or after calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    pub accept: f64,
    pub reject: f64,
}

/// The minimum-cost threshold on the training labels (`threshold`: `None` = accept nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinimumCost {
    pub threshold: Option<f64>,
    pub cost: f64,
    pub false_accepts: usize,
    pub false_rejects: usize,
}

/// The precision-target threshold of a policy calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyPrecisionTarget {
    pub target: Option<f64>,
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
}

/// Good / bad counts of one label source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoodBad {
    pub good: usize,
    pub bad: usize,
}

/// Pairwise labels through Bradley–Terry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairwiseReport {
    pub good: usize,
    pub bad: usize,
    pub compared: usize,
    pub comparisons: usize,
    pub undecided: usize,
    pub overridden_by_decisions: usize,
    pub error: Option<String>,
}

/// The labels a policy calibration used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelsReport {
    pub criterion: String,
    pub decisions: GoodBad,
    pub pairwise: PairwiseReport,
    pub rule: &'static str,
}

/// Scored training labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyTrain {
    pub n: usize,
    pub good: usize,
    pub bad: usize,
}

/// The three bands' metrics on the evaluation labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandsReport {
    pub accept: BandReport,
    pub review: BandReport,
    pub reject: BandReport,
}

/// Labelled images without a score, by reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExcludedReport {
    pub reason: String,
    pub good: usize,
    pub bad: usize,
}

/// A policy's calibrated accept / reject bands with their evidence (`assay calibrate --policy`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyCalibrationReport {
    pub policy: String,
    pub file: String,
    /// The policy file's `[bands]` were rewritten.
    pub written: bool,
    pub accept: f64,
    pub reject: f64,
    pub note: Option<String>,
    pub previous: Bands,
    pub accept_rule: String,
    pub reject_rule: &'static str,
    pub cost_ratio: [f64; 2],
    pub minimum_cost: MinimumCost,
    pub precision_target: Option<PolicyPrecisionTarget>,
    pub labels: LabelsReport,
    pub train: PolicyTrain,
    pub evaluated_on: &'static str,
    /// Labels the bands were evaluated on.
    #[serde(skip)]
    pub eval_n: usize,
    pub holdout: f64,
    pub seed: u64,
    pub bands: BandsReport,
    pub excluded: Vec<ExcludedReport>,
}

/// How the labels of a policy calibration are read, in words.
const LABEL_RULE: &str = "decision accepted = good, rejected = bad; otherwise Bradley-Terry strength above the mean of the compared images = good";

/// Where band metrics were evaluated, in words.
fn evaluated_on(held_out: bool) -> &'static str {
    if held_out {
        "held-out labels"
    } else {
        "training labels (no held-out set)"
    }
}

/// The labels section of a policy calibration.
fn labels_report(c: &PolicyCalibration, criterion: &str) -> LabelsReport {
    let l = &c.labels;
    LabelsReport {
        criterion: criterion.into(),
        decisions: GoodBad {
            good: l.decision_good,
            bad: l.decision_bad,
        },
        pairwise: PairwiseReport {
            good: l.pairwise_good,
            bad: l.pairwise_bad,
            compared: l.pairwise.compared,
            comparisons: l.pairwise.comparisons,
            undecided: l.pairwise.undecided,
            overridden_by_decisions: l.pairwise_overridden,
            error: l.pairwise.error.clone(),
        },
        rule: LABEL_RULE,
    }
}

/// Calibrates `p`'s bands on `rows` and `events` (see `evaluate::calibrate_policy`); `file` names
/// the policy file, `written` whether its bands are rewritten with the result.
pub fn calibrate_policy(
    p: &Prepared,
    rows: &[ImageRow],
    events: &[Event],
    o: &CalibrateOptions,
    file: String,
    written: bool,
) -> Result<PolicyCalibrationReport, ReportError> {
    let c = evaluate::calibrate_policy(p, rows, events, o)
        .map_err(|e| ReportError::Policy(e.to_string()))?;
    let m = &c.metrics;
    Ok(PolicyCalibrationReport {
        policy: p.policy.name.clone(),
        file,
        written,
        accept: c.accept,
        reject: c.reject,
        note: c.accept_nothing_note(),
        previous: Bands {
            accept: p.policy.bands.accept,
            reject: p.policy.bands.reject,
        },
        accept_rule: o.target_precision.map_or_else(
            || "minimum cost".to_string(),
            |t| format!("precision >= {t}"),
        ),
        reject_rule: "minimum cost",
        cost_ratio: [o.cost_false_accept, o.cost_false_reject],
        minimum_cost: MinimumCost {
            threshold: c.cost.value.is_finite().then_some(c.cost.value),
            cost: c.cost.cost,
            false_accepts: c.cost.false_accepts,
            false_rejects: c.cost.false_rejects,
        },
        precision_target: c.precision.map(|t| PolicyPrecisionTarget {
            target: o.target_precision,
            threshold: t.value,
            precision: t.precision,
            recall: t.recall,
        }),
        labels: labels_report(&c, &o.criterion),
        train: PolicyTrain {
            n: c.train_n,
            good: c.train_good,
            bad: c.train_n - c.train_good,
        },
        evaluated_on: evaluated_on(c.held_out),
        eval_n: c.eval_n,
        holdout: o.holdout,
        seed: o.seed,
        bands: BandsReport {
            accept: BandReport::from(&m.accept),
            review: BandReport::from(&m.review),
            reject: BandReport::from(&m.reject),
        },
        excluded: c
            .excluded
            .iter()
            .map(|e| ExcludedReport {
                reason: e.reason.clone(),
                good: e.good,
                bad: e.bad,
            })
            .collect(),
    })
}

/// Images per (status, reason kind) of a policy's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonCount {
    pub status: Status,
    pub reason: String,
    pub count: u64,
}

/// What `assay select` applied (or, dry-run, would apply).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectReport {
    pub policy: String,
    pub source: String,
    /// The decisions were appended (not a dry run).
    pub written: bool,
    pub kept_human_decisions: usize,
    pub counts: BTreeMap<Status, u64>,
    pub reasons: Vec<ReasonCount>,
}

impl SelectReport {
    /// The report of `plan` (of `p`), with the number of human-decided images left alone.
    pub fn of(p: &Prepared, plan: &Plan, kept_human: usize, written: bool) -> Self {
        Self {
            policy: p.policy.name.clone(),
            source: p.source.clone(),
            written,
            kept_human_decisions: kept_human,
            counts: plan.counts.clone(),
            reasons: plan
                .reasons
                .iter()
                .map(|((status, reason), count)| ReasonCount {
                    status: *status,
                    reason: reason.clone(),
                    count: *count,
                })
                .collect(),
        }
    }

    /// Images in one band.
    pub fn count(&self, s: Status) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }
}

/// What `assay select --best-of-n` computes.
#[derive(Debug, Clone, PartialEq)]
pub struct BestOfNOptions {
    /// Largest N of the curves.
    pub n_max: usize,
    /// Quality signal (default: learned_preference or aesthetic when present, else the policy
    /// score).
    pub quality: Option<String>,
    /// Criterion of the label events used for the humans' best.
    pub criterion: String,
}

/// One scope group's best-of-N curves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupCurveReport {
    pub group: String,
    pub images: usize,
    pub candidates: usize,
    pub policy_pick: Vec<f64>,
    pub oracle: Vec<f64>,
}

/// The pooled curves at one N (mean over groups with at least N candidates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PooledPoint {
    pub n: usize,
    pub policy_pick: f64,
    pub oracle: f64,
    pub groups: usize,
}

/// One group's top-1 against the humans' best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPickReport {
    pub group: String,
    pub size: usize,
    pub policy_pick: Option<String>,
    pub human_best: String,
    pub evidence: &'static str,
    pub hit: bool,
}

/// Selector efficiency: how often the policy's top-1 is the humans' best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EfficiencyReport {
    pub criterion: String,
    /// Groups with evidence of their best image.
    pub groups: usize,
    pub hits: usize,
    pub rate: Option<f64>,
    pub interval: Option<[f64; 2]>,
    pub chance: Option<f64>,
    pub groups_without_evidence: usize,
    pub per_group: Vec<GroupPickReport>,
}

/// The best-of-N report of a policy (`assay select --best-of-n`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestOfNReport {
    pub policy: String,
    pub source: String,
    pub quality: String,
    pub sampling: &'static str,
    pub groups: Vec<GroupCurveReport>,
    pub pooled: Vec<PooledPoint>,
    pub selector_efficiency: EfficiencyReport,
}

/// The quality key of a best-of-N report: the asked one (checked), or the default.
fn quality_key<'a>(
    o: &'a BestOfNOptions,
    rows: &[ImageRow],
) -> Result<Option<&'a str>, ReportError> {
    match o.quality.as_deref() {
        Some(k) if !evaluate::is_quality_key(k) => Err(ReportError::Quality(k.into())),
        Some(k) => Ok(Some(k)),
        None => Ok(evaluate::default_quality(rows)),
    }
}

/// Per scope group and pooled, the expected quality of `p`'s pick among N images (and the
/// oracle's), and selector efficiency against the humans' best in `events` and the decisions.
pub fn best_of_n(
    p: &Prepared,
    rows: &[ImageRow],
    events: &[Event],
    o: &BestOfNOptions,
) -> Result<BestOfNReport, ReportError> {
    if o.n_max == 0 {
        return Err(ReportError::NMax);
    }
    let quality = quality_key(o, rows)?;
    let plan = evaluate::score_all(p, rows).map_err(|e| ReportError::Policy(e.to_string()))?;
    let bon = evaluate::best_of_n(p, &plan, rows, quality, o.n_max);
    let eff = evaluate::selector_efficiency(p, &plan, rows, events, &o.criterion);
    let paths: HashMap<i64, &str> = rows.iter().map(|r| (r.id, r.path.as_str())).collect();
    let path = |id: i64| {
        paths
            .get(&id)
            .map_or_else(String::new, |p| (*p).to_string())
    };
    Ok(BestOfNReport {
        policy: p.policy.name.clone(),
        source: p.source.clone(),
        quality: bon.quality,
        sampling: "without replacement from each group's candidates",
        groups: bon
            .groups
            .into_iter()
            .map(|g| GroupCurveReport {
                group: group_label(&g.key),
                images: g.n_images,
                candidates: g.n_candidates,
                policy_pick: g.policy,
                oracle: g.oracle,
            })
            .collect(),
        pooled: bon
            .pooled
            .iter()
            .enumerate()
            .map(|(i, &(policy_pick, oracle, groups))| PooledPoint {
                n: i + 1,
                policy_pick,
                oracle,
                groups,
            })
            .collect(),
        selector_efficiency: EfficiencyReport {
            criterion: o.criterion.clone(),
            groups: eff.groups.len(),
            hits: eff.hits,
            rate: eff.rate,
            interval: eff.interval.map(|i| [i.lo, i.hi]),
            chance: eff.chance,
            groups_without_evidence: eff.groups_without_evidence,
            per_group: eff
                .groups
                .iter()
                .map(|g| GroupPickReport {
                    group: group_label(&g.key),
                    size: g.size,
                    policy_pick: g.policy_pick.map(path),
                    human_best: path(g.human_best),
                    evidence: g.evidence.name(),
                    hit: g.hit,
                })
                .collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, path: &str, blur: f64, status: Status) -> ImageRow {
        let mut r = ImageRow {
            id,
            path: path.into(),
            status: Some(status),
            decision_source: Some("human".into()),
            ..ImageRow::default()
        };
        r.signals.insert(
            "blur_laplacian_var".into(),
            crate::store::SignalValue::Number(blur),
        );
        r
    }

    #[test]
    fn calibrate_signal_reports_the_minimum_cost_threshold() {
        let rows: Vec<ImageRow> = (0..8)
            .map(|i| {
                let good = i >= 4;
                let s = if good {
                    Status::Accepted
                } else {
                    Status::Rejected
                };
                row(i, &format!("i{i}.png"), f64::from(i as i32) * 10.0, s)
            })
            .collect();
        let o = SignalCalibrateOptions {
            signal: "blur_laplacian_var".into(),
            cost_false_accept: 1.0,
            cost_false_reject: 1.0,
            target_precision: Some(0.9),
            holdout: 0.0,
            seed: 1,
        };
        let c = calibrate_signal(&rows, &o).unwrap();
        assert_eq!(c.train.accepted, 4);
        assert_eq!(c.train.rejected, 4);
        assert!(c.threshold > 30.0 && c.threshold <= 40.0, "{c:?}");
        assert_eq!(c.evaluated_on, "training labels (no held-out set)");
        assert_eq!(c.accept.n, 4);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["train"]["n"], 8);
        assert!(json.get("comparison").is_none());
        let few = calibrate_signal(&rows[3..6], &o).unwrap_err();
        assert!(
            few.to_string()
                .contains("training part has 2 accepted, 1 rejected")
        );
        let o = SignalCalibrateOptions {
            signal: "nope".into(),
            ..o
        };
        assert_eq!(
            calibrate_signal(&rows, &o).unwrap_err(),
            ReportError::UnknownSignal("nope".into())
        );
    }

    #[test]
    fn best_of_n_checks_its_options() {
        let p = super::super::plan::prepare(include_str!("../../assets/policies/example.toml"))
            .unwrap();
        let o = BestOfNOptions {
            n_max: 0,
            quality: None,
            criterion: "overall".into(),
        };
        assert_eq!(best_of_n(&p, &[], &[], &o), Err(ReportError::NMax));
        let o = BestOfNOptions {
            n_max: 4,
            quality: Some("phash".into()),
            ..o
        };
        assert_eq!(
            best_of_n(&p, &[], &[], &o),
            Err(ReportError::Quality("phash".into()))
        );
        let o = BestOfNOptions { quality: None, ..o };
        let r = best_of_n(&p, &[], &[], &o).unwrap();
        assert_eq!(r.selector_efficiency.groups, 0);
        assert_eq!(r.quality, "policy score");
    }
}
