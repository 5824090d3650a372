//! `assay calibrate DIR --signal KEY`: chooses a threshold on one signal from the humans' own
//! decisions (accepted = good, rejected = bad): the minimum expected cost for a stated
//! false-accept : false-reject cost ratio, and optionally the loosest threshold that meets a
//! precision target; then reports each side's precision and recall on held-out decisions with
//! Wilson 95 % intervals.

use std::path::PathBuf;

use serde_json::json;

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::selection::Value;
use crate::selection::calibrate::{self, BandStat};
use crate::signals::{self, Direction};
use crate::table;

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    pub dir: PathBuf,
    /// The signal to threshold (its registry direction says which side is good).
    #[arg(long)]
    pub signal: String,
    /// Cost of a false accept : cost of a false reject.
    #[arg(long, default_value = "1:1")]
    pub cost_ratio: String,
    /// Also report the loosest threshold whose accepted set reaches this precision.
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

pub fn run(a: &CalibrateArgs) -> anyhow::Result<u8> {
    let def = signals::get(&a.signal)
        .ok_or_else(|| UsageError(format!("unknown signal '{}'", a.signal)))?;
    // Scores where higher = better.
    let sign = match def.direction {
        Direction::HigherIsBetter => 1.0,
        Direction::LowerIsBetter => -1.0,
        Direction::Neutral => {
            return Err(UsageError(format!(
                "'{}' has no better direction to threshold",
                a.signal
            ))
            .into());
        }
    };
    let (fa, fr) = a
        .cost_ratio
        .split_once(':')
        .and_then(|(x, y)| Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?)))
        .filter(|(x, y)| *x >= 0.0 && *y >= 0.0 && x.is_finite() && y.is_finite())
        .ok_or_else(|| {
            UsageError(format!(
                "--cost-ratio must look like 2:1, not '{}'",
                a.cost_ratio
            ))
        })?;
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
        let label = match r.status.as_deref() {
            Some("accepted") => true,
            Some("rejected") => false,
            _ => continue,
        };
        let Value::Num(v) = table::value(&r, &a.signal) else {
            continue;
        };
        // Deterministic split by path and seed.
        let h = xxhash_rust::xxh3::xxh3_64(format!("{}\u{1f}{}", a.seed, r.path).as_bytes());
        let held_out = (h % 10_000) as f64 / 10_000.0 < a.holdout;
        let side = if held_out { &mut test } else { &mut train };
        side.0.push(sign * v);
        side.1.push(label);
    }
    let goods = train.1.iter().filter(|l| **l).count();
    let bads = train.1.len() - goods;
    if goods < 2 || bads < 2 {
        return Err(UsageError(format!(
            "calibration needs at least two accepted and two rejected human decisions with '{}' (training part has {goods} accepted, {bads} rejected); record some with `assay decide`",
            a.signal
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
        "signal": a.signal, "accept_when": format!("{} {cmp} {}", a.signal, shown(cost.value)),
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
                a.signal,
                shown(cost.value),
                goods,
                bads
            );
            if let Some(t) = a.target_precision {
                match precision {
                    Some(p) => println!(
                        "precision ≥ {t}: accept when {} {cmp} {:.4} (precision {:.3}, recall {:.3})",
                        a.signal,
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
