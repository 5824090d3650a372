//! `assay calibrate DIR --signal KEY`: chooses a threshold on one signal from the humans' own
//! decisions (accepted = good, rejected = bad): the minimum expected cost for a stated
//! false-accept : false-reject cost ratio, and optionally the loosest threshold that meets a
//! precision target; then reports each side's precision and recall on held-out decisions with
//! Wilson 95 % intervals.

use std::path::PathBuf;

use super::label::open_catalogue_read_only as open_catalogue;
use super::{ListFormat, UsageError};
use crate::pipeline::policy::{self, PolicyUseError};
use crate::selection::report::{self, SignalCalibrateOptions, SignalCalibration};

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    pub dir: PathBuf,
    /// The signal to threshold (its registry direction says which side is good).
    #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
    pub signal: Option<String>,
    /// Calibrate the accept / reject bands of this policy's final score instead (labels: human
    /// decisions, and pairwise / best-of-N events through Bradley-Terry).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// With --policy: rewrite the policy file's [bands] accept / reject (comments kept).
    #[arg(long, requires = "policy")]
    pub write: bool,
    /// With --policy: the criterion of the pairwise events used as labels.
    #[arg(long, default_value = "overall")]
    pub criterion: String,
    /// Cost of a false accept : cost of a false reject.
    #[arg(long, default_value = "1:1")]
    pub cost_ratio: String,
    /// --signal: also report the loosest threshold whose accepted set reaches this precision.
    /// --policy: the accept threshold is the loosest one reaching it (reject stays at the
    /// minimum cost), which opens a review band between them.
    #[arg(long)]
    pub target_precision: Option<f64>,
    /// Share of labelled images held out for evaluation (0 = evaluate on the training labels).
    #[arg(long, default_value_t = 0.3)]
    pub holdout: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// Parses `--cost-ratio FA:FR`.
pub(super) fn parse_cost_ratio(text: &str) -> Result<(f64, f64), UsageError> {
    text.split_once(':')
        .and_then(|(x, y)| Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?)))
        .filter(|(x, y)| *x >= 0.0 && *y >= 0.0 && x.is_finite() && y.is_finite())
        .ok_or_else(|| UsageError(format!("--cost-ratio must look like 2:1, not '{text}'")))
}

/// The use-case's errors: the user-fixable ones exit 1.
pub(super) fn cli_error(e: PolicyUseError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

pub fn run(a: &CalibrateArgs) -> anyhow::Result<u8> {
    super::signals::preload(&a.dir, a.db.as_deref()); // it may calibrate an imported signal
    if let Some(policy) = &a.policy {
        return super::calibrate_policy::run(a, policy);
    }
    let Some(signal) = a.signal.as_deref() else {
        return Err(UsageError("give --signal KEY or --policy FILE".into()).into());
    };
    report::signal_sign(signal).map_err(|e| UsageError(e.to_string()))?;
    let (fa, fr) = parse_cost_ratio(&a.cost_ratio)?;
    let o = SignalCalibrateOptions {
        signal: signal.to_string(),
        cost_false_accept: fa,
        cost_false_reject: fr,
        target_precision: a.target_precision,
        holdout: a.holdout,
        seed: a.seed,
    };
    o.validate().map_err(|e| UsageError(e.to_string()))?;
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let c = policy::calibrate_signal(&store, &o).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&c)?)?
        ),
        ListFormat::Text => print_text(&c),
    }
    Ok(0)
}

fn print_text(c: &SignalCalibration) {
    let (signal, cmp) = (&c.signal, c.comparison);
    let [fa, fr] = c.cost_ratio;
    println!(
        "accept when {signal} {cmp} {:.4}  (minimum cost at false-accept:false-reject = {fa}:{fr}; {} accepted / {} rejected human decisions)",
        c.threshold, c.train.accepted, c.train.rejected
    );
    if let Some(t) = &c.precision_target {
        let target = t.target;
        match (t.threshold, t.precision, t.recall) {
            (Some(v), Some(p), Some(r)) => println!(
                "precision ≥ {target}: accept when {signal} {cmp} {v:.4} (precision {p:.3}, recall {r:.3})"
            ),
            _ => println!("precision ≥ {target}: no threshold reaches it on these labels"),
        }
    }
    for (name, s) in [("accept", &c.accept), ("reject", &c.reject)] {
        let iv = s
            .interval
            .map_or_else(String::new, |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"));
        println!(
            "  {name:<6} on {}: n = {}, share good = {}{iv}",
            c.evaluated_on,
            s.n,
            s.precision
                .map_or_else(|| "–".to_string(), |p| format!("{p:.3}"))
        );
    }
}
