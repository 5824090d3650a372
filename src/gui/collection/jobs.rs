//! A collection's long jobs: the scan of its folder and the export, with the result of the
//! last of each.

use crate::gui::jobs::{ExportJob, ExportReport, ScanJob};
use crate::pipeline::ScanSummary;
use crate::pipeline::clip::ClipOptions;

/// The scan and export jobs of a [`Collection`](crate::gui::Collection).
pub struct Jobs {
    /// CLIP options of this collection's scans.
    pub(in crate::gui) clip: ClipOptions,
    /// The running scan (progress, cancel flag) and the last one's summary or error.
    pub scan: Option<ScanJob>,
    pub last_scan: Option<Result<ScanSummary, String>>,
    /// The running export (progress, cancel flag) and the last one's report or error.
    pub export_job: Option<ExportJob>,
    pub last_export: Option<Result<ExportReport, String>>,
}

impl Jobs {
    /// No export yet; `scan` already started, or none.
    pub(in crate::gui) fn new(clip: ClipOptions, scan: Option<ScanJob>) -> Self {
        Self {
            clip,
            scan,
            last_scan: None,
            export_job: None,
            last_export: None,
        }
    }

    /// Whether a scan is running.
    pub fn scanning(&self) -> bool {
        self.scan.is_some()
    }

    /// Whether a scan or an export is running.
    pub fn busy(&self) -> bool {
        self.scan.is_some() || self.export_job.is_some()
    }
}
