//! `assay calibrate DIR --signal KEY`: chooses a threshold on one signal from the humans' own
//! decisions (accepted = good, rejected = bad): the minimum expected cost for a stated
//! false-accept : false-reject cost ratio, and optionally the loosest threshold that meets a
//! precision target; then reports each side's precision and recall on held-out decisions with
//! Wilson 95 % intervals.

use crate::domain::Status;
use std::path::PathBuf;

use serde_json::json;

use super::label::open_catalogue_read_only as open_catalogue;
use super::{ListFormat, UsageError};
use crate::selection::Value;
use crate::selection::calibrate::{self, BandStat};
use crate::signals::{self, Direction};
use crate::table;

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

fn stat_json(s: &BandStat) -> serde_json::Value {
    json!({
        "n": s.n, "good": s.n_good, "precision": s.precision, "recall": s.recall,
        "interval": s.interval.map(|i| [i.lo, i.hi]),
    })
}

/// Parses `--cost-ratio FA:FR`.
pub(super) fn parse_cost_ratio(text: &str) -> Result<(f64, f64), UsageError> {
    text.split_once(':')
        .and_then(|(x, y)| Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?)))
        .filter(|(x, y)| *x >= 0.0 && *y >= 0.0 && x.is_finite() && y.is_finite())
        .ok_or_else(|| UsageError(format!("--cost-ratio must look like 2:1, not '{text}'")))
}

pub fn run(a: &CalibrateArgs) -> anyhow::Result<u8> {
    if let Some(policy) = &a.policy {
        return super::calibrate_policy::run(a, policy);
    }
    let Some(signal) = a.signal.as_deref() else {
        return Err(UsageError("give --signal KEY or --policy FILE".into()).into());
    };
    let def =
        signals::get(signal).ok_or_else(|| UsageError(format!("unknown signal '{signal}'")))?;
    // Scores where higher = better.
    let sign = match def.direction {
        Direction::HigherIsBetter => 1.0,
        Direction::LowerIsBetter => -1.0,
        Direction::Neutral => {
            return Err(
                UsageError(format!("'{signal}' has no better direction to threshold")).into(),
            );
        }
    };
    let (fa, fr) = parse_cost_ratio(&a.cost_ratio)?;
    if !(0.0..1.0).contains(&a.holdout) {
        return Err(UsageError("--holdout must be in [0, 1)".into()).into());
    }
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let mut train = (Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new());
    for r in store.image_rows(false)? {
        if r.decision_source.as_deref() != Some("human") {
            continue;
        }
        let label = match r.status {
            Some(Status::Accepted) => true,
            Some(Status::Rejected) => false,
            _ => continue,
        };
        let Value::Num(v) = table::value(&r, signal) else {
            continue;
        };
        // Deterministic split by path and seed.
        let side = if calibrate::held_out(a.seed, &r.path, a.holdout) {
            &mut test
        } else {
            &mut train
        };
        side.0.push(sign * v);
        side.1.push(label);
    }
    let goods = train.1.iter().filter(|l| **l).count();
    let bads = train.1.len() - goods;
    if goods < 2 || bads < 2 {
        return Err(UsageError(format!(
            "calibration needs at least two accepted and two rejected human decisions with '{signal}' (training part has {goods} accepted, {bads} rejected); record some with `assay decide`"
        ))
        .into());
    }
    let Some(cost) = calibrate::threshold_min_cost(&train.0, &train.1, fa, fr) else {
        return Err(UsageError("no finite scores to calibrate on".into()).into());
    };
    let precision = a
        .target_precision
        .and_then(|t| calibrate::threshold_for_precision(&train.0, &train.1, t));
    let (eval, eval_name) = if test.0.is_empty() {
        (&train, "training labels (no held-out set)")
    } else {
        (&test, "held-out labels")
    };
    let metrics = calibrate::band_metrics(&eval.0, &eval.1, cost.value, cost.value);
    let cmp = if sign > 0.0 { "≥" } else { "≤" };
    let shown = |v: f64| sign * v;
    let out = json!({
        "signal": signal, "accept_when": format!("{} {cmp} {}", signal, shown(cost.value)),
        "threshold": shown(cost.value), "cost_ratio": [fa, fr], "train": {"n": train.1.len(), "accepted": goods, "rejected": bads},
        "precision_target": a.target_precision.map(|t| json!({
            "target": t, "threshold": precision.map(|p| shown(p.value)), "precision": precision.map(|p| p.precision),
            "recall": precision.map(|p| p.recall),
        })),
        "evaluated_on": eval_name, "accept": stat_json(&metrics.accept), "reject": stat_json(&metrics.reject),
    });
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Text => {
            println!(
                "accept when {} {cmp} {:.4}  (minimum cost at false-accept:false-reject = {fa}:{fr}; {} accepted / {} rejected human decisions)",
                signal,
                shown(cost.value),
                goods,
                bads
            );
            if let Some(t) = a.target_precision {
                match precision {
                    Some(p) => println!(
                        "precision ≥ {t}: accept when {} {cmp} {:.4} (precision {:.3}, recall {:.3})",
                        signal,
                        shown(p.value),
                        p.precision,
                        p.recall
                    ),
                    None => println!("precision ≥ {t}: no threshold reaches it on these labels"),
                }
            }
            for (name, s) in [("accept", &metrics.accept), ("reject", &metrics.reject)] {
                let iv = s
                    .interval
                    .map_or_else(String::new, |i| format!(" [{:.3}, {:.3}]", i.lo, i.hi));
                println!(
                    "  {name:<6} on {eval_name}: n = {}, share good = {}{iv}",
                    s.n,
                    s.precision
                        .map_or_else(|| "–".to_string(), |p| format!("{p:.3}"))
                );
            }
        }
    }
    Ok(0)
}
