//! `assay select DIR --policy FILE.toml`: applies a selection policy and appends one decision
//! per image (source = the policy's name and version). Human decisions always win: images whose
//! latest decision came from a human are left alone. Unreadable files are rejected.
//! `--best-of-n` reports the best-of-N curves and selector efficiency instead
//! (`select_best_of_n.rs`).

use crate::domain::Status;
use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::json;

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::selection::plan;

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    pub dir: PathBuf,
    /// Policy file (TOML; see assets/policies/example.toml).
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Compute and print the counts without writing decisions.
    #[arg(long)]
    pub dry_run: bool,
    /// Report instead of applying: expected quality of the policy's pick vs N per scope group
    /// and pooled, and selector efficiency against the humans' best (writes nothing).
    #[arg(long)]
    pub best_of_n: bool,
    /// Largest N of the best-of-N curve.
    #[arg(long, default_value_t = 16, requires = "best_of_n")]
    pub n_max: usize,
    /// Quality measured by the best-of-N curve (a numeric signal; default: learned_preference or
    /// aesthetic when present, else the policy score).
    #[arg(long, requires = "best_of_n")]
    pub quality: Option<String>,
    /// Criterion of the label events used for the humans' best.
    #[arg(long, default_value = "overall", requires = "best_of_n")]
    pub criterion: String,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

pub fn run(a: &SelectArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&a.policy)
        .with_context(|| format!("cannot read {}", a.policy.display()))?;
    let prepared =
        plan::prepare(&text).map_err(|e| UsageError(format!("{e} ({})", a.policy.display())))?;
    let pol = &prepared.policy;
    let source = &prepared.source;
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let rows = store.image_rows(false)?;
    if a.best_of_n {
        let events = super::rank::load_events(&store, false)?;
        return super::select_best_of_n::run(a, &prepared, &rows, &events);
    }
    let human: std::collections::HashSet<i64> = store
        .latest_decision_sources()?
        .into_iter()
        .filter(|(_, s)| s == "human")
        .map(|(id, _)| id)
        .collect();
    let plan = plan::plan(&prepared, &rows, &human).map_err(|e| UsageError(e.to_string()))?;
    let (by_band, by_reason) = (&plan.counts, &plan.reasons);
    if !a.dry_run {
        store.record_policy(&pol.name, &prepared.hash, &text)?;
        store.append_decisions(&plan.decisions)?;
    }
    match a.format {
        ListFormat::Json => {
            let reasons: Vec<_> = by_reason
                .iter()
                .map(|((s, r), n)| json!({"status": s, "reason": r, "count": n}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "policy": pol.name, "source": source, "written": !a.dry_run,
                    "kept_human_decisions": human.len(), "counts": by_band, "reasons": reasons,
                }))?
            );
        }
        ListFormat::Text => {
            println!(
                "{} {} ({source}): {} accepted, {} review, {} rejected; {} human decisions kept",
                if a.dry_run { "would apply" } else { "applied" },
                pol.name,
                by_band.get(&Status::Accepted).unwrap_or(&0),
                by_band.get(&Status::Review).unwrap_or(&0),
                by_band.get(&Status::Rejected).unwrap_or(&0),
                human.len()
            );
            for ((s, r), n) in by_reason {
                println!("  {s:<9} {n:>5}  {r}");
            }
        }
    }
    Ok(0)
}
