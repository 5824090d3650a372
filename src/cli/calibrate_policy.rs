//! `assay calibrate DIR --policy FILE`: chooses a policy's accept / reject thresholds on its final
//! score from human evidence (decisions, and pairwise / best-of-N events through Bradley–Terry;
//! see `selection::labels` for the conventions), reports each band's precision and recall on
//! held-out labels with Wilson 95 % intervals, and with `--write` rewrites the policy file's
//! `[bands]` (comments kept). Only the policy file is ever written; images and decisions never.
//! The use-case is `pipeline::policy::calibrate_policy`; this file parses and prints.

use std::path::Path;

use super::ListFormat;
use super::calibrate::{CalibrateArgs, cli_error, parse_cost_ratio};
use super::label::open_catalogue_read_only as open_catalogue;
use crate::pipeline::policy::{self, PolicyFile};
use crate::selection::evaluate::CalibrateOptions;
use crate::selection::report::{PolicyCalibrationReport, PolicyPrecisionTarget};

pub fn run(a: &CalibrateArgs, path: &Path) -> anyhow::Result<u8> {
    let (fa, fr) = parse_cost_ratio(&a.cost_ratio)?;
    let file = PolicyFile::read_for_calibration(path).map_err(cli_error)?;
    let store = open_catalogue(&a.dir, a.db.as_deref())?;
    let events = super::rank::load_events(&store, false)?;
    let opts = CalibrateOptions {
        cost_false_accept: fa,
        cost_false_reject: fr,
        target_precision: a.target_precision,
        holdout: a.holdout,
        seed: a.seed,
        criterion: a.criterion.clone(),
    };
    let c = policy::calibrate_policy(&store, &file, &events, &opts, a.write).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&c)?)?
        ),
        ListFormat::Text => print_text(&c),
    }
    Ok(0)
}

fn print_text(c: &PolicyCalibrationReport) {
    let [fa, fr] = c.cost_ratio;
    println!(
        "{}: accept when score >= {}, reject when score < {}  (was {} / {}){}",
        c.policy,
        c.accept,
        c.reject,
        c.previous.accept,
        c.previous.reject,
        if c.written {
            "; policy file updated"
        } else {
            ""
        }
    );
    if let Some(n) = &c.note {
        println!("  note: {n}");
    }
    match &c.precision_target {
        Some(PolicyPrecisionTarget {
            target: Some(t),
            precision,
            recall,
            ..
        }) => println!(
            "  accept: precision >= {t} on training labels (precision {precision:.3}, recall {recall:.3}); reject: minimum cost at false-accept:false-reject = {fa}:{fr}"
        ),
        _ => println!(
            "  accept = reject: minimum cost at false-accept:false-reject = {fa}:{fr} ({} false accepts, {} false rejects on training labels); --target-precision opens a review band",
            c.minimum_cost.false_accepts, c.minimum_cost.false_rejects
        ),
    }
    let l = &c.labels;
    println!(
        "  labels ({}): {} accepted / {} rejected by humans; pairwise: {} good / {} bad from {} comparisons of {} images{}",
        l.criterion,
        l.decisions.good,
        l.decisions.bad,
        l.pairwise.good,
        l.pairwise.bad,
        l.pairwise.comparisons,
        l.pairwise.compared,
        l.pairwise
            .error
            .as_ref()
            .map(|e| format!(" (not fitted: {e})"))
            .unwrap_or_default()
    );
    println!(
        "  trained on {} scored labels ({} good); evaluated on {} {}:",
        c.train.n, c.train.good, c.eval_n, c.evaluated_on
    );
    for (band, s) in [
        ("accept", &c.bands.accept),
        ("review", &c.bands.review),
        ("reject", &c.bands.reject),
    ] {
        let iv = s
            .interval
            .map_or_else(String::new, |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"));
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
