//! `assay merge OUT DB...`: shard catalogues into one (`pipeline::shard::merge`). OUT is a
//! catalogue file (created when absent) or a collection folder (its `.assay/assay.db`). Exit
//! code 2 when conflicts were found (reported, the output's rows kept).

use std::path::PathBuf;

use super::term::escape;
use super::{EXIT_PARTIAL, ListFormat, UsageError};
use crate::pipeline::shard::{self, MergeOptions, MergeSummary};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The catalogue to write: a database file (created when absent), or a collection folder
    /// (its DIR/.assay/assay.db, where `assay table DIR` looks).
    pub out: PathBuf,
    /// Shard catalogues (`assay scan DIR --shard I/N`), merged in this order.
    #[arg(required = true)]
    pub dbs: Vec<PathBuf>,
    /// pHash distance of the recomputed near-duplicate groups (default: the shards' own).
    #[arg(long)]
    pub dup_threshold: Option<u32>,
    /// Backups of a non-empty output to keep (one is made before the merge writes).
    #[arg(long, default_value_t = crate::store::health::DEFAULT_BACKUPS)]
    pub backups: usize,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

pub fn run(args: &MergeArgs) -> anyhow::Result<u8> {
    let output = if args.out.is_dir() {
        Store::locate(&args.out, None, true).0
    } else {
        args.out.clone()
    };
    if let Some(missing) = args.dbs.iter().find(|p| !p.is_file()) {
        return Err(UsageError(format!("no catalogue at {}", missing.display())).into());
    }
    let summary = shard::merge(&MergeOptions {
        output,
        shards: args.dbs.clone(),
        dup_threshold: args.dup_threshold,
        backups: args.backups,
    })?;
    let text = match args.format {
        ListFormat::Json => serde_json::to_string_pretty(&summary)? + "\n",
        ListFormat::Text => summary_text(&summary),
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    if let Some(e) = &summary.backup_error {
        eprintln!("warning: no backup of the output was made before the merge: {e}");
    }
    if let Some(e) = &summary.learned_error {
        eprintln!("warning: could not refresh learned_preference: {e}");
    }
    Ok(if summary.merge.conflicts_total > 0 {
        EXIT_PARTIAL
    } else {
        0
    })
}

fn summary_text(s: &MergeSummary) -> String {
    use std::fmt::Write as _;
    let m = &s.merge;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "merged {} catalogue(s) into {}: {} rows added",
        m.shards.len(),
        escape(&m.output),
        m.rows_added
    );
    for d in &m.shards {
        let _ = writeln!(
            out,
            "  {}: {} images added ({} versions), {} already present; {} signals, {} embeddings, \
             {} metadata, {} decisions, {} label events, {} scans, {} imported signal definitions; \
             {} content and {} value conflicts",
            escape(&d.database),
            d.images_added,
            d.versions_added,
            d.images_present,
            d.signals,
            d.embeddings,
            d.metadata,
            d.decisions,
            d.label_events,
            d.scans,
            d.external_signals,
            d.content_conflicts,
            d.value_conflicts
        );
    }
    let _ = writeln!(
        out,
        "  near-duplicate groups (recomputed over the merged images, threshold {}): {}",
        s.dup_threshold, s.near_duplicate_groups
    );
    if let Some(r) = &s.learned {
        let _ = writeln!(
            out,
            "  learned_preference: {} images scored by preference scorer v{}",
            r.images_scored, r.version
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    if m.conflicts_total > 0 {
        let _ = writeln!(
            out,
            "  {} conflicts (not overwritten; the output's rows kept){}:",
            m.conflicts_total,
            if m.conflicts.len() < m.conflicts_total as usize {
                format!(", the first {}", m.conflicts.len())
            } else {
                String::new()
            }
        );
        for c in &m.conflicts {
            let _ = writeln!(
                out,
                "    {:?} {}: {} ({})",
                c.kind,
                escape(&c.path),
                escape(&c.detail),
                escape(&c.database)
            );
        }
    }
    out
}
