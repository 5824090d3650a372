//! `assay select DIR --policy FILE.toml`: applies a selection policy and appends one decision
//! per image (source = the policy's name and version). Human decisions always win: images whose
//! latest decision came from a human are left alone. Unreadable files are rejected.
//! `--best-of-n` reports the best-of-N curves and selector efficiency instead
//! (`select_best_of_n.rs`). The use-cases are `pipeline::policy::{select, best_of_n}`; this file
//! parses and prints.

use crate::domain::Status;
use std::path::PathBuf;

use super::ListFormat;
use super::calibrate::cli_error;
use super::label::open_catalogue;
use crate::pipeline::policy::{self, PolicyFile};
use crate::selection::report::SelectReport;

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
    super::signals::preload(&a.dir, a.db.as_deref()); // a policy may name imported signals
    let file = PolicyFile::read(&a.policy).map_err(cli_error)?;
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    if a.best_of_n {
        return super::select_best_of_n::run(a, &file, &store);
    }
    let r = policy::select(&mut store, &file, a.dry_run).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => print_text(&r),
    }
    Ok(0)
}

fn print_text(r: &SelectReport) {
    println!(
        "{} {} ({}): {} accepted, {} review, {} rejected; {} human decisions kept",
        if r.written { "applied" } else { "would apply" },
        r.policy,
        r.source,
        r.count(Status::Accepted),
        r.count(Status::Review),
        r.count(Status::Rejected),
        r.kept_human_decisions
    );
    for x in &r.reasons {
        println!("  {:<9} {:>5}  {}", x.status, x.count, x.reason);
    }
}
