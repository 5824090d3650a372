//! `assay calibrate DIR --policy FILE`: chooses a policy's accept / reject thresholds on its final
//! score from human evidence (decisions, and pairwise / best-of-N events through Bradley–Terry;
//! see `selection::labels` for the conventions), reports each band's precision and recall on
//! held-out labels with Wilson 95 % intervals, and with `--write` rewrites the policy file's
//! `[bands]` (comments kept). Only the policy file is ever written; images and decisions never.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use super::calibrate::{CalibrateArgs, parse_cost_ratio};
use super::label::open_catalogue_read_only as open_catalogue;
use super::{ListFormat, UsageError};
use crate::selection::calibrate::BandStat;
use crate::selection::evaluate::{self, CalibrateOptions, PolicyCalibration};
use crate::selection::plan;

fn stat_json(s: &BandStat) -> serde_json::Value {
    json!({
        "n": s.n, "good": s.n_good, "precision": s.precision, "recall": s.recall,
        "interval": s.interval.map(|i| [i.lo, i.hi]),
    })
}

pub fn run(a: &CalibrateArgs, path: &Path) -> anyhow::Result<u8> {
    let (fa, fr) = parse_cost_ratio(&a.cost_ratio)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy {}", path.display()))?;
    let prepared =
        plan::prepare(&text).map_err(|e| UsageError(format!("{e} ({})", path.display())))?;
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let rows = store.image_rows(false)?;
    let events = super::rank::load_events(&store, false)?;
    let opts = CalibrateOptions {
        cost_false_accept: fa,
        cost_false_reject: fr,
        target_precision: a.target_precision,
        holdout: a.holdout,
        seed: a.seed,
        criterion: a.criterion.clone(),
    };
    let c = evaluate::calibrate_policy(&prepared, &rows, &events, &opts)
        .map_err(|e| UsageError(e.to_string()))?;
    let previous = (prepared.policy.bands.accept, prepared.policy.bands.reject);
    if a.write {
        write_bands(path, &text, c.accept, c.reject)?;
    }
    let out = report_json(&prepared.policy.name, path, &c, (fa, fr), a, previous);
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Text => print_text(&prepared.policy.name, &c, (fa, fr), a, previous),
    }
    Ok(0)
}

/// Rewrites `[bands]` and checks that the file now says what was calibrated.
fn write_bands(path: &Path, text: &str, accept: f64, reject: f64) -> anyhow::Result<()> {
    let new = plan::set_bands(text, accept, reject);
    let ok = plan::prepare(&new).is_ok_and(|p| {
        (p.policy.bands.accept - accept).abs() < 1e-12
            && (p.policy.bands.reject - reject).abs() < 1e-12
    });
    if !ok {
        return Err(UsageError(format!(
            "cannot rewrite the thresholds: write `accept = …` and `reject = …` on their own lines in a [bands] table ({})",
            path.display()
        ))
        .into());
    }
    // Write next to the real file (a symlinked policy stays a symlink), keep its permissions,
    // and replace it atomically; a failed replace leaves no temporary file behind.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let tmp = target.with_extension("toml.assay-tmp");
    std::fs::write(&tmp, new).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(&target) {
        std::fs::set_permissions(&tmp, meta.permissions()).ok();
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        std::fs::remove_file(&tmp).ok();
        return Err(anyhow::Error::new(e).context(format!("cannot replace {}", target.display())));
    }
    Ok(())
}

fn report_json(
    name: &str,
    path: &Path,
    c: &PolicyCalibration,
    (fa, fr): (f64, f64),
    a: &CalibrateArgs,
    previous: (f64, f64),
) -> serde_json::Value {
    let l = &c.labels;
    json!({
        "policy": name, "file": path.display().to_string(), "written": a.write,
        "accept": c.accept, "reject": c.reject, "note": c.accept_nothing_note(),
        "previous": {"accept": previous.0, "reject": previous.1},
        "accept_rule": a.target_precision.map_or_else(|| "minimum cost".to_string(), |t| format!("precision >= {t}")),
        "reject_rule": "minimum cost",
        "cost_ratio": [fa, fr],
        "minimum_cost": {"threshold": c.cost.value.is_finite().then_some(c.cost.value), "cost": c.cost.cost,
            "false_accepts": c.cost.false_accepts, "false_rejects": c.cost.false_rejects},
        "precision_target": c.precision.map(|p| json!({"target": a.target_precision, "threshold": p.value,
            "precision": p.precision, "recall": p.recall})),
        "labels": {
            "criterion": a.criterion,
            "decisions": {"good": l.decision_good, "bad": l.decision_bad},
            "pairwise": {"good": l.pairwise_good, "bad": l.pairwise_bad, "compared": l.pairwise.compared,
                "comparisons": l.pairwise.comparisons, "undecided": l.pairwise.undecided,
                "overridden_by_decisions": l.pairwise_overridden, "error": l.pairwise.error},
            "rule": "decision accepted = good, rejected = bad; otherwise Bradley-Terry strength above the mean of the compared images = good",
        },
        "train": {"n": c.train_n, "good": c.train_good, "bad": c.train_n - c.train_good},
        "evaluated_on": if c.held_out { "held-out labels" } else { "training labels (no held-out set)" },
        "holdout": a.holdout, "seed": a.seed,
        "bands": {"accept": stat_json(&c.metrics.accept), "review": stat_json(&c.metrics.review),
            "reject": stat_json(&c.metrics.reject)},
        "excluded": c.excluded.iter().map(|e| json!({"reason": e.reason, "good": e.good, "bad": e.bad})).collect::<Vec<_>>(),
    })
}

fn print_text(
    name: &str,
    c: &PolicyCalibration,
    (fa, fr): (f64, f64),
    a: &CalibrateArgs,
    previous: (f64, f64),
) {
    let l = &c.labels;
    println!(
        "{name}: accept when score >= {}, reject when score < {}  (was {} / {}){}",
        c.accept,
        c.reject,
        previous.0,
        previous.1,
        if a.write { "; policy file updated" } else { "" }
    );
    if let Some(n) = c.accept_nothing_note() {
        println!("  note: {n}");
    }
    match (a.target_precision, c.precision) {
        (Some(t), Some(p)) => println!(
            "  accept: precision >= {t} on training labels (precision {:.3}, recall {:.3}); reject: minimum cost at false-accept:false-reject = {fa}:{fr}",
            p.precision, p.recall
        ),
        _ => println!(
            "  accept = reject: minimum cost at false-accept:false-reject = {fa}:{fr} ({} false accepts, {} false rejects on training labels); --target-precision opens a review band",
            c.cost.false_accepts, c.cost.false_rejects
        ),
    }
    println!(
        "  labels ({}): {} accepted / {} rejected by humans; pairwise: {} good / {} bad from {} comparisons of {} images{}",
        a.criterion,
        l.decision_good,
        l.decision_bad,
        l.pairwise_good,
        l.pairwise_bad,
        l.pairwise.comparisons,
        l.pairwise.compared,
        l.pairwise
            .error
            .as_ref()
            .map(|e| format!(" (not fitted: {e})"))
            .unwrap_or_default()
    );
    let eval = if c.held_out {
        "held-out labels"
    } else {
        "training labels (no held-out set)"
    };
    println!(
        "  trained on {} scored labels ({} good); evaluated on {} {eval}:",
        c.train_n, c.train_good, c.eval_n
    );
    for (band, s) in [
        ("accept", &c.metrics.accept),
        ("review", &c.metrics.review),
        ("reject", &c.metrics.reject),
    ] {
        let iv = s
            .interval
            .map_or_else(String::new, |i| format!(" [{:.3}, {:.3}]", i.lo, i.hi));
        let share = s
            .precision
            .map_or_else(|| "-".to_string(), |p| format!("{p:.3}"));
        let recall = s
            .recall
            .map_or_else(|| "-".to_string(), |r| format!("{r:.3}"));
        println!(
            "    {band:<6} n = {:>4}  share good = {share}{iv}  recall of good = {recall}",
            s.n
        );
    }
    for e in &c.excluded {
        println!(
            "  not scored ({}): {} good, {} bad labelled images",
            e.reason, e.good, e.bad
        );
    }
}
