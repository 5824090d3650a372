//! `assay export DIR --to OUT` and `assay decide DIR --status S PATH...`.
//!
//! `decide` records human decisions headlessly through the same append-only log the GUI uses;
//! `export` copies or links the files whose latest status matches, writes a manifest with every
//! column, and optional XMP sidecars. Originals are never modified.

use crate::domain::Status;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::label::{open_catalogue, open_catalogue_read_only};
use super::{EXIT_CANCELLED, EXIT_PARTIAL, UsageError};
use crate::export::{self, Fate, ManifestFormat, Mode, Source};
use crate::store::{ImageRow, NewDecision};

/// Status filter for export; `unflagged` = no decision or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    Accepted,
    Rejected,
    Review,
    Unflagged,
    All,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub dir: PathBuf,
    /// Target folder (created if needed).
    #[arg(long)]
    pub to: PathBuf,
    #[arg(long, value_enum, default_value_t = StatusFilter::Accepted)]
    pub status: StatusFilter,
    #[arg(long, value_enum, default_value_t = Mode::Copy)]
    pub mode: Mode,
    /// Write an XMP sidecar (rating, pick label, prompt) next to each exported file.
    #[arg(long)]
    pub xmp: bool,
    /// Write `manifest.csv` or `manifest.json` with every column of every exported file.
    #[arg(long, value_enum)]
    pub manifest: Option<ManifestFormat>,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// Decision status for `decide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecideStatus {
    Accepted,
    Rejected,
    Review,
    Unflagged,
}

#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    pub dir: PathBuf,
    #[arg(long, value_enum)]
    pub status: DecideStatus,
    /// 0–5 stars.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=5))]
    pub rating: Option<i64>,
    /// Files, relative to DIR (or paths inside DIR).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long)]
    pub db: Option<PathBuf>,
}

fn matches(filter: StatusFilter, status: Option<Status>) -> bool {
    match filter {
        StatusFilter::All => true,
        StatusFilter::Unflagged => matches!(status, None | Some(Status::None)),
        StatusFilter::Accepted => status == Some(Status::Accepted),
        StatusFilter::Rejected => status == Some(Status::Rejected),
        StatusFilter::Review => status == Some(Status::Review),
    }
}

pub fn export(a: &ExportArgs) -> anyhow::Result<u8> {
    let store = open_catalogue_read_only(&a.dir, a.db.as_deref())?;
    let mut rows: Vec<ImageRow> = store
        .image_rows(false)?
        .into_iter()
        .filter(|r| r.error.is_none() && matches(a.status, r.status))
        .collect();
    if export::is_inside(&a.to, &a.dir) {
        return Err(UsageError(format!(
            "the export folder {} is inside the collection; choose a folder outside it",
            a.to.display()
        ))
        .into());
    }
    let sources: Vec<Source> = rows
        .iter()
        .map(|r| Source {
            path: export::absolute_path(&a.dir, r),
            rel: r.path.clone(),
            status: r.status.unwrap_or(Status::None),
            rating: r.decision_rating,
            prompt: r.positive.as_deref().map(str::to_string),
        })
        .collect();
    let cancel = super::scan::cancel_flag();
    let total = sources.len();
    // Temporary files of an export that was killed (the next export would remove them too;
    // done first here to say so).
    let leftovers = export::remove_leftovers(&a.to).unwrap_or(0);
    if leftovers > 0 {
        eprintln!(
            "removed {leftovers} temporary file(s) left by an interrupted export in {}",
            a.to.display()
        );
    }
    let mut bar = ProgressLine::new(total);
    let results = export::export(&sources, &a.to, a.mode, a.xmp, |done| {
        bar.update(done);
        !cancel.load(std::sync::atomic::Ordering::Relaxed)
    })
    .with_context(|| format!("cannot export into {}", a.to.display()))?;
    bar.finish();
    if let Some(fmt) = a.manifest {
        // The manifest has every column, the raw metadata too.
        store.load_raw(&mut rows)?;
        export::write_manifest(&a.to, fmt, &results, &rows)?;
    }
    let failed: Vec<_> = results
        .iter()
        .filter_map(|e| match &e.fate {
            Fate::Failed(why) => Some((e.rel.clone(), why.clone())),
            _ => None,
        })
        .collect();
    let new = results.iter().filter(|e| e.fate == Fate::Exported).count();
    let already = results
        .iter()
        .filter(|e| e.fate == Fate::AlreadyExported)
        .count();
    println!(
        "exported {new} files ({already} already there, {} failed) to {}",
        failed.len(),
        a.to.display()
    );
    let completed = results.iter().filter(|e| e.completed_partial).count();
    if completed > 0 {
        println!("  {completed} truncated copies from an interrupted export were completed");
    }
    let no_sidecar = results
        .iter()
        .filter(|e| a.xmp && !e.sidecar && !matches!(e.fate, Fate::Failed(_)))
        .count();
    if no_sidecar > 0 {
        println!(
            "  {no_sidecar} XMP sidecars were not written (unwritable, or another program's sidecar is there)"
        );
    }
    for (rel, why) in &failed {
        println!(
            "  failed: {}: {}",
            super::term::escape(rel),
            super::term::escape(why)
        );
    }
    Ok(if results.len() < total {
        EXIT_CANCELLED
    } else if failed.is_empty() {
        0
    } else {
        EXIT_PARTIAL
    })
}

/// Export progress on stderr: one rewritten line on a terminal; otherwise (a log file, a
/// pipe) a plain line every 5 seconds and at the end, never carriage returns.
struct ProgressLine {
    total: usize,
    tty: bool,
    last: Option<std::time::Instant>,
    done: usize,
}

impl ProgressLine {
    fn new(total: usize) -> Self {
        use std::io::IsTerminal as _;
        Self {
            total,
            tty: std::io::stderr().is_terminal(),
            last: None,
            done: 0,
        }
    }

    fn update(&mut self, done: usize) {
        self.done = done;
        if self.tty {
            eprint!("\rexporting {done}/{}", self.total);
        } else if self
            .last
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5))
        {
            eprintln!("exporting {done}/{}", self.total);
            self.last = Some(std::time::Instant::now());
        }
    }

    fn finish(&self) {
        if self.total == 0 {
            return;
        }
        if self.tty {
            eprintln!();
        } else {
            eprintln!("exporting {}/{}: done", self.done, self.total);
        }
    }
}

pub fn decide(a: &DecideArgs) -> anyhow::Result<u8> {
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let status = match a.status {
        DecideStatus::Accepted => Status::Accepted,
        DecideStatus::Rejected => Status::Rejected,
        DecideStatus::Review => Status::Review,
        DecideStatus::Unflagged => Status::None,
    };
    let root = a.dir.canonicalize().unwrap_or_else(|_| a.dir.clone());
    let mut rows = Vec::new();
    let mut unknown = 0;
    for p in &a.paths {
        let rel = match p.canonicalize() {
            Ok(abs) if abs.starts_with(&root) => abs
                .strip_prefix(&root)
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            _ => p.clone(),
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        match store.image_id(&rel)? {
            Some(id) => rows.push(NewDecision {
                image_id: id,
                status,
                rating: a.rating,
                source: "human".to_string(),
                reason: None,
                detail: None,
            }),
            None => {
                unknown += 1;
                eprintln!("not in the catalogue: {}", super::term::escape(&rel));
            }
        }
    }
    store.append_decisions(&rows)?;
    println!("recorded {} decisions ({status})", rows.len());
    Ok(if unknown > 0 { EXIT_PARTIAL } else { 0 })
}
