//! `assay export DIR --to OUT` and `assay decide DIR --status S PATH...`.
//!
//! `decide` records human decisions headlessly through the same append-only log the GUI uses;
//! `export` copies or links the files whose latest status matches, writes a manifest with every
//! column, and optional XMP sidecars. Originals are never modified. The use-cases are
//! `export::usecase` and `pipeline::decide`; this file parses and prints.

use crate::domain::Status;
use std::path::PathBuf;

use super::label::{open_catalogue, open_catalogue_read_only};
use super::{EXIT_CANCELLED, EXIT_PARTIAL, UsageError};
pub use crate::export::usecase::StatusFilter;
use crate::export::usecase::{ExportError, ExportJob, ExportOptions, ExportReport};
use crate::export::{ManifestFormat, Mode};
use crate::pipeline::decide::{self, DecideOptions};

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

impl ExportArgs {
    /// The export these arguments describe.
    pub fn options(&self) -> ExportOptions {
        ExportOptions {
            dir: self.dir.clone(),
            to: self.to.clone(),
            status: self.status,
            mode: self.mode,
            xmp: self.xmp,
            manifest: self.manifest,
        }
    }
}

pub fn export(a: &ExportArgs) -> anyhow::Result<u8> {
    let o = a.options();
    let store = open_catalogue_read_only(&a.dir, a.db.as_deref())?;
    let job = ExportJob::prepare(&store, &o).map_err(export_error)?;
    let cancel = super::scan::cancel_flag();
    if job.leftovers > 0 {
        eprintln!(
            "removed {} temporary file(s) left by an interrupted export in {}",
            job.leftovers,
            a.to.display()
        );
    }
    let mut bar = ProgressLine::new(job.total());
    let r = job
        .run(&store, &o, |done| {
            bar.update(done);
            !cancel.load(std::sync::atomic::Ordering::Relaxed)
        })
        .map_err(export_error)?;
    bar.finish();
    print_export(&r);
    Ok(if r.cancelled() {
        EXIT_CANCELLED
    } else if r.failed.is_empty() {
        0
    } else {
        EXIT_PARTIAL
    })
}

/// A target inside the collection is a usage error (exit 1).
fn export_error(e: ExportError) -> anyhow::Error {
    match e {
        ExportError::InsideCollection(_) => UsageError(e.to_string()).into(),
        e => e.into(),
    }
}

fn print_export(r: &ExportReport) {
    println!(
        "exported {} files ({} already there, {} failed) to {}",
        r.exported,
        r.already_exported,
        r.failed.len(),
        r.to.display()
    );
    if r.completed_partial > 0 {
        println!(
            "  {} truncated copies from an interrupted export were completed",
            r.completed_partial
        );
    }
    if r.sidecars_missing > 0 {
        println!(
            "  {} XMP sidecars were not written (unwritable, or another program's sidecar is there)",
            r.sidecars_missing
        );
    }
    for f in &r.failed {
        println!(
            "  failed: {}: {}",
            super::term::escape(&f.rel),
            super::term::escape(&f.why)
        );
    }
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
    let o = DecideOptions {
        dir: a.dir.clone(),
        status: match a.status {
            DecideStatus::Accepted => Status::Accepted,
            DecideStatus::Rejected => Status::Rejected,
            DecideStatus::Review => Status::Review,
            DecideStatus::Unflagged => Status::None,
        },
        rating: a.rating,
        paths: a.paths.clone(),
    };
    let d = decide::decide(&mut store, &o)?;
    for rel in &d.unknown {
        eprintln!("not in the catalogue: {}", super::term::escape(rel));
    }
    println!("recorded {} decisions ({})", d.recorded, d.status);
    Ok(if d.unknown.is_empty() {
        0
    } else {
        EXIT_PARTIAL
    })
}
