//! The typed result of [`super::evaluate`]: what `assay monitor --format json` prints and what
//! the text / Markdown / HTML renderers and the GUI's monitor view read.
//!
//! The JSON is a stable output, so the field order here is its key order: the fields of each
//! struct are declared in alphabetical order (the order the report had when it was built as a
//! `serde_json::Value`), keys that can be missing are skipped when `None`, and every number
//! that is not finite is written as `null` (the readers treat it as missing too).

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

/// A batch-monitoring report: the rules, one entry per batch (in batch order) and the series
/// of the per-batch rates for plotting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorReport {
    /// How agreement is counted.
    pub agreement_rule: &'static str,
    /// The baseline batch's name.
    pub baseline: String,
    pub batches: Vec<BatchReport>,
    /// The batch field (`folder`, `scan_date` or a column).
    pub by: String,
    /// The drift test and its thresholds, in words.
    pub drift_rule: String,
    /// How the intervals are computed.
    pub interval: &'static str,
    /// The batches' order, in words.
    pub order: &'static str,
    /// How the review rate is counted.
    pub review_rate_rule: &'static str,
    pub series: Series,
    /// The monitored signals, as requested.
    pub signals: Vec<String>,
}

/// One batch: its size, decisions, agreement and per-signal statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReport {
    /// Whether this is the baseline batch.
    pub baseline: bool,
    /// The batch's name.
    pub batch: String,
    /// Images with a decision other than `none`.
    pub decided: usize,
    /// The signals that drifted against the baseline (in key order).
    pub drifted_signals: Vec<String>,
    pub human_policy: HumanPolicy,
    pub n: usize,
    /// Images whose latest decision is `review`.
    pub review: usize,
    /// `review / n` (`None`: an empty batch).
    #[serde(serialize_with = "opt_num")]
    pub review_rate: Option<f64>,
    /// Wilson 95 % interval of the review rate.
    #[serde(serialize_with = "opt_pair")]
    pub review_rate_ci95: Option<[f64; 2]>,
    /// Per signal (in key order).
    pub signals: BTreeMap<String, SignalStats>,
}

/// Agreement of the latest human and policy statuses on images that have both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HumanPolicy {
    /// Images whose two statuses are equal.
    pub agree: usize,
    /// `agree / n` (`None`: no pairs).
    #[serde(serialize_with = "opt_num")]
    pub agreement: Option<f64>,
    /// Wilson 95 % interval of the agreement.
    #[serde(serialize_with = "opt_pair")]
    pub ci95: Option<[f64; 2]>,
    /// Images with both a human and a policy decision.
    pub n: usize,
}

/// One signal in one batch. The mean and its interval are missing without values; KS, PSI and
/// the drift flag are missing for the baseline (and KS / PSI when either side has no values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalStats {
    /// Normal-approximation 95 % interval of the mean.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_pair")]
    pub ci95: Option<[f64; 2]>,
    /// Whether the batch drifted on this signal (`None`: the baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<bool>,
    /// Two-sample KS test against the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks: Option<Ks>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_num")]
    pub mean: Option<f64>,
    /// Finite values.
    pub n: usize,
    /// Population stability index against the baseline.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_num")]
    pub psi: Option<f64>,
}

/// A two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ks {
    #[serde(serialize_with = "num")]
    pub p_value: f64,
    /// The KS distance D.
    #[serde(serialize_with = "num")]
    pub statistic: f64,
}

/// The per-batch values as parallel arrays in batch order, for plotting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    #[serde(serialize_with = "opt_nums")]
    pub agreement: Vec<Option<f64>>,
    /// Human-policy pairs per batch.
    pub agreement_n: Vec<usize>,
    /// Batch names.
    pub batch: Vec<String>,
    /// Number of drifted signals per batch.
    pub drifted_signals: Vec<usize>,
    pub n: Vec<usize>,
    #[serde(serialize_with = "opt_nums")]
    pub review_rate: Vec<Option<f64>>,
}

impl Series {
    /// The series of `batches`.
    pub fn of(batches: &[BatchReport]) -> Self {
        Self {
            agreement: batches.iter().map(|b| b.human_policy.agreement).collect(),
            agreement_n: batches.iter().map(|b| b.human_policy.n).collect(),
            batch: batches.iter().map(|b| b.batch.clone()).collect(),
            drifted_signals: batches.iter().map(|b| b.drifted_signals.len()).collect(),
            n: batches.iter().map(|b| b.n).collect(),
            review_rate: batches.iter().map(|b| b.review_rate).collect(),
        }
    }
}

/// `x` when it is finite (what the report writes as a number rather than `null`).
pub fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// The two ends of an interval, each when it is finite.
pub fn ends(ci: Option<[f64; 2]>) -> [Option<f64>; 2] {
    ci.map_or([None, None], |[lo, hi]| {
        [finite(Some(lo)), finite(Some(hi))]
    })
}

/// A number written as JSON `null` when it is not finite.
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        finite(Some(self.0)).serialize(s)
    }
}

fn num<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    Num(*x).serialize(s)
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<_>`
fn opt_num<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    x.map(Num).serialize(s)
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<_>`
fn opt_pair<S: Serializer>(x: &Option<[f64; 2]>, s: S) -> Result<S::Ok, S::Error> {
    x.map(|[lo, hi]| [Num(lo), Num(hi)]).serialize(s)
}

fn opt_nums<S: Serializer>(xs: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(xs.iter().map(|x| x.map(Num)))
}
