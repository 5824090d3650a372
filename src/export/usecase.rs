//! `assay export` as a use-case: selects the catalogue's readable images by latest status,
//! exports them into a folder outside the collection ([`super::export`]), optionally with a
//! manifest of every column, and returns what happened. Two steps, so a front end can report
//! the removed leftovers of an interrupted export before the progress starts:
//! [`ExportJob::prepare`], then [`ExportJob::run`].

use std::path::PathBuf;

use serde::Serialize;

use super::{Fate, ManifestFormat, Mode, Source};
use crate::domain::Status;
use crate::store::{self, ImageRow, Store};

/// Status filter for export; `unflagged` = no decision or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    Accepted,
    Rejected,
    Review,
    Unflagged,
    All,
}

impl StatusFilter {
    /// Whether an image with this latest status is selected.
    pub fn matches(self, status: Option<Status>) -> bool {
        match self {
            Self::All => true,
            Self::Unflagged => matches!(status, None | Some(Status::None)),
            Self::Accepted => status == Some(Status::Accepted),
            Self::Rejected => status == Some(Status::Rejected),
            Self::Review => status == Some(Status::Review),
        }
    }
}

/// What to export, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// The collection's root.
    pub dir: PathBuf,
    /// Target folder (created if needed; must be outside the collection).
    pub to: PathBuf,
    pub status: StatusFilter,
    pub mode: Mode,
    /// Write an XMP sidecar next to each exported file.
    pub xmp: bool,
    /// Write `manifest.csv` / `manifest.json` with every column of every exported file.
    pub manifest: Option<ManifestFormat>,
}

/// Why an export could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The target folder is inside the collection (the user can fix it).
    #[error(
        "the export folder {} is inside the collection; choose a folder outside it",
        .0.display()
    )]
    InsideCollection(PathBuf),
    #[error("cannot export into {}", .0.display())]
    Export(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Manifest(anyhow::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// One file that could not be exported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub rel: String,
    pub why: String,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    pub to: PathBuf,
    /// Files selected.
    pub total: usize,
    /// Files processed (fewer than `total` when cancelled).
    pub processed: usize,
    pub exported: usize,
    pub already_exported: usize,
    pub failed: Vec<Failure>,
    /// Truncated copies of an interrupted export that were completed.
    pub completed_partial: usize,
    /// Asked-for XMP sidecars that were not written (unwritable, or another program's sidecar).
    pub sidecars_missing: usize,
}

impl ExportReport {
    /// Whether the export was cancelled before every file was processed.
    pub fn cancelled(&self) -> bool {
        self.processed < self.total
    }
}

/// An export whose files are selected and whose target is checked and cleaned.
#[derive(Debug)]
pub struct ExportJob {
    rows: Vec<ImageRow>,
    sources: Vec<Source>,
    /// Temporary files of an interrupted export removed from the target.
    pub leftovers: usize,
}

impl ExportJob {
    /// Selects the readable images whose latest status matches, checks that the target is
    /// outside the collection and removes an interrupted export's temporary files from it.
    pub fn prepare(store: &Store, o: &ExportOptions) -> Result<Self, ExportError> {
        let rows: Vec<ImageRow> = store
            .image_rows(false)?
            .into_iter()
            .filter(|r| r.error.is_none() && o.status.matches(r.status))
            .collect();
        if super::is_inside(&o.to, &o.dir) {
            return Err(ExportError::InsideCollection(o.to.clone()));
        }
        let sources = rows
            .iter()
            .map(|r| Source {
                path: super::absolute_path(&o.dir, r),
                rel: r.path.clone(),
                status: r.status.unwrap_or(Status::None),
                rating: r.decision_rating,
                prompt: r.positive.as_deref().map(str::to_string),
            })
            .collect();
        // Temporary files of an export that was killed (the export would remove them too;
        // done first here so a front end can say so).
        let leftovers = super::remove_leftovers(&o.to).unwrap_or(0);
        Ok(Self {
            rows,
            sources,
            leftovers,
        })
    }

    /// Files selected.
    pub fn total(&self) -> usize {
        self.sources.len()
    }

    /// Exports the files (`progress(done)` after each; false cancels the rest) and writes the
    /// manifest when asked.
    pub fn run(
        mut self,
        store: &Store,
        o: &ExportOptions,
        progress: impl FnMut(usize) -> bool,
    ) -> Result<ExportReport, ExportError> {
        let results = super::export(&self.sources, &o.to, o.mode, o.xmp, progress)
            .map_err(|e| ExportError::Export(o.to.clone(), e))?;
        if let Some(fmt) = o.manifest {
            // The manifest has every column, the raw metadata too.
            store.load_raw(&mut self.rows)?;
            super::write_manifest(&o.to, fmt, &results, &self.rows)
                .map_err(ExportError::Manifest)?;
        }
        let count = |f: &Fate| results.iter().filter(|e| e.fate == *f).count();
        Ok(ExportReport {
            to: o.to.clone(),
            total: self.sources.len(),
            processed: results.len(),
            exported: count(&Fate::Exported),
            already_exported: count(&Fate::AlreadyExported),
            failed: results
                .iter()
                .filter_map(|e| match &e.fate {
                    Fate::Failed(why) => Some(Failure {
                        rel: e.rel.clone(),
                        why: why.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            completed_partial: results.iter().filter(|e| e.completed_partial).count(),
            sidecars_missing: results
                .iter()
                .filter(|e| o.xmp && !e.sidecar && !matches!(e.fate, Fate::Failed(_)))
                .count(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filter_matches_latest_statuses() {
        assert!(StatusFilter::Unflagged.matches(None));
        assert!(StatusFilter::Unflagged.matches(Some(Status::None)));
        assert!(!StatusFilter::Unflagged.matches(Some(Status::Review)));
        assert!(StatusFilter::Accepted.matches(Some(Status::Accepted)));
        assert!(!StatusFilter::Accepted.matches(Some(Status::Rejected)));
        assert!(StatusFilter::All.matches(Some(Status::Rejected)));
    }

    #[test]
    fn export_job_reports_and_refuses_a_target_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.png"), b"not really a png").unwrap();
        let mut s = Store::open_in_memory().unwrap();
        s.write_ingest(&[crate::store::new_image("a.png")]).unwrap();
        let o = ExportOptions {
            dir: root.clone(),
            to: root.join("out"),
            status: StatusFilter::All,
            mode: Mode::Copy,
            xmp: false,
            manifest: None,
        };
        let e = ExportJob::prepare(&s, &o).unwrap_err();
        assert!(matches!(e, ExportError::InsideCollection(_)), "{e}");
        let o = ExportOptions {
            to: dir.path().join("out"),
            ..o
        };
        let job = ExportJob::prepare(&s, &o).unwrap();
        assert_eq!((job.total(), job.leftovers), (1, 0));
        let r = job.run(&s, &o, |_| true).unwrap();
        assert_eq!((r.exported, r.already_exported, r.processed), (1, 0, 1));
        assert!(!r.cancelled() && r.failed.is_empty());
        assert!(dir.path().join("out/a.png").exists());
    }
}
