//! The desktop workbench (eframe/egui). Only this module uses egui.
//!
//! Structure (rerun's and egui's conventions): [`App`] owns the open [`Collection`] and the
//! settings; panels (`panels/`) and views (`views.rs`) read state and push [`Cmd`]s, which
//! the app applies after the frame's UI. A central view is given a [`ViewCtx`] (the collection,
//! the jobs' outbox, the command queue) and its own state (the grid's filters, the Pareto axes,
//! the policy editor, the scorers) instead of the whole `App`, and each panel only the fields it
//! uses, so no view reaches another's state (labeling and the monitor still take the app).
//! Background threads (`jobs.rs`, `thumbs.rs`) scan,
//! read the database, append decisions, make thumbnails, decode full images and export; they
//! report through a channel drained at the start of each frame, so the UI thread never decodes,
//! queries in bulk or scores.
//!
//! # Features
//!
//! virtualised thumbnail grid (disk-cached thumbnails, LRU textures), sort by any column, filter
//! bar (status, tool, duplicate group, errors, signal ranges with histograms, `--where`
//! expressions, prompt search), inspector (signals with unit/direction, metadata, raw, copy
//! prompt), detail (off-thread full decode, downscaled to the texture limit, wheel zoom / drag pan
//! / fit / 100 %), compare 2–4 with synchronised zoom, Lightroom keys (P/X/U, 0–5, arrows, Space,
//! C, G, Ctrl+Z/Ctrl+Shift+Z, `?`), export dialog, status bar with scan/export progress and cancel,
//! settings in eframe storage, `--screenshot`; `assay bench gui`; face overlay (F); Pareto view (V:
//! scatter of two signals with the non-dominated front, colour by status or a third signal, click /
//! box select into the grid, hover thumbnail; parallel coordinates); policy editor (View →
//! Selection policy: TOML text, threshold sliders with live counts per band and reason and a score
//! histogram, save, apply, review queue, Calibrate from labels, best-of-N plot with selector
//! efficiency); preference-scorer view (View → Preference scorer: versions with their
//! cross-validated accuracy and Spearman, Train now / Activate / Roll back as background jobs
//! calling `pipeline::preference`, learning-curve plot, how the numbers were obtained); batch
//! monitor (`monitor.rs`, View → Batch monitor or M: batch by folder / scan day / column, baseline,
//! signal; per-batch table with N, review rate, agreement and drifted signals, drift table, means
//! with interval bars, ridgeline, review-share bars and agreement-over-batches plots, adjustable
//! thresholds, HTML report export; computed by `crate::monitor` on a background thread); labeling
//! (`labeling.rs`, `labeling_jobs.rs`, `labeling_stats.rs`: study setup, blind pairwise / Likert /
//! best-of-N / multi-dimensional trials with randomised sides, attention checks with gold images
//! made off-thread, results with Bradley–Terry interval bars, agreement and per-rater panels;
//! Ctrl+L). Dashboards are their issues' work
//!
//! # Design
//!
//! - **Threads.** The UI thread only lays out and paints. Background threads (named, `assay-*`):
//!   the view thread (filters and sort of large collections, newest request wins, the previous view
//!   stays on screen; rows from a reload are installed together with their view; up to 20,000 rows
//!   the view is computed within the frame), the database worker (the UI's one SQLite connection:
//!   reloads rows, appends decision batches in order), the scan job (`pipeline::scan` with a shared
//!   `Progress` and cancel flag), a thumbnail pool (2–4 workers), the full-image decoder (newest
//!   request wins) and the export job. They report through one channel drained at the start of each
//!   frame; `request_repaint` wakes the UI.
//! - **Commands.** Panels and views read state and push `Cmd`s; `App::apply` runs them after the
//!   frame's UI, one method per family (edit, move, show, filter, job). Culling commands build a `model::Change` (before/after status and rating per
//!   image), apply it in memory at once, send it to the database worker as one append-only batch
//!   and push it on the undo stack. Undo/redo append the earlier/later state (reason
//!   `undo`/`redo`). A reload that was read before a batch committed gets that batch re-applied
//!   (sequence numbers), so the grid never flickers back.
//! - **Newest request wins.** Every background request is tagged by a `latest::Latest`
//!   (`next()`), and a result is used only while its tag `is_current`: views, histograms (by
//!   rows version), policy plans, calibration and evidence, monitor results, labeling reports.
//! - **Keys.** One command table (`shortcuts.rs`: command, keys, views, menu label, help line)
//!   drives the key handler (`keyboard.rs`), the menus' labels and key text and the help overlay;
//!   the labeling trial's answer keys are matched in `labeling.rs` and only listed there.
//! - **Thumbnails.** Keyed by content hash: `<db folder>/thumbs/<xxh3>_256.jpg` (alpha flattened on
//!   grey; written via a temporary file and rename). The grid replaces the wanted list every frame
//!   with the visible rows, then one screen of margin below and above; when nothing is wanted the
//!   pool generates the rest to disk without keeping pixels. Textures beyond max(256, 3 × visible)
//!   are evicted least-recently-used.
//! - **Detail/compare.** The thumbnail is shown scaled up at once; the full image is decoded
//!   off-thread (pixel limit, orientation) and downscaled to the GPU's texture limit when larger
//!   (said on screen).
//! - **Policy editor.** Planning (`selection::plan`) runs on a short-lived thread whenever the text
//!   or the rows change (a generation counter drops stale results); Apply sends the planned
//!   decisions and the policy text to the database worker (one `policies` row by hash, decisions
//!   appended). Threshold sliders rewrite the `[bands]` values in the text itself, so what is saved
//!   is what was seen. "Open review queue" resets the filters to the review band and returns to the
//!   grid.
//! - **Policy evidence** (`policy_evidence.rs`). "Calibrate from labels" (target precision on /
//!   off, false-accept : false-reject costs, hold-out) runs `selection::evaluate::calibrate_policy`
//!   on an `assay-policy-calibrate` thread with the rows and the label events the labeling state
//!   loaded through the database worker (attention checks and unreliable raters left out); the
//!   result is applied only if the policy text still has the same hash, through
//!   `PolicyEditor::apply_bands` (= `set_bands`, as the sliders), so the re-plan updates the live
//!   counts; the panel shows each band's share of good images with its Wilson interval and recall.
//!   The best-of-N plot (policy pick and oracle, pooled over groups, quality automatic or chosen)
//!   and selector efficiency come from an `assay-policy-evidence` thread, recomputed when the text,
//!   the rows, the number of label events or the quality change.
//! - **Pareto view.** Points are the shown images (the filter bar applies); the front comes from
//!   `selection::rules::pareto_fronts` with the directions chosen on screen (default: the
//!   registry's). "Show selection in grid" filters the grid to the chosen ids (`Filters::only_ids`,
//!   not persisted).
//! - **Batch monitor.** `monitor.rs` asks for a computation whenever the batch field, the baseline,
//!   the thresholds, the rows (`rows_generation`) or the committed decision batches change, and
//!   only once no decision batch is waiting for the database worker (agreement reads decisions from
//!   the store). An `assay-monitor` thread groups a copy of the rows with the human/policy status
//!   pairs (`Store::human_policy_statuses` on its own connection) through `crate::monitor::group`
//!   and `evaluate` — the CLI's code — and a generation counter drops stale results; the previous
//!   result stays on screen meanwhile. The monitored signals are the registry's numeric quality
//!   signals with values in the collection (classical first; the CLI defaults to the classical
//!   ones). "Export report" renders `monitor::render_html` of the result on screen on an
//!   `assay-monitor-report` thread (default file: `monitor-<field>.html` next to the database,
//!   which the scanner never reads). Batch rows carry accessible summaries ("batch NAME: N n, DRIFT
//!   on ...") for screen readers and the kittest test. The inspector is hidden in this view.
//! - **Settings** (thumbnail size, sort, filters, panels, recent collections) persist with eframe's
//!   storage (`persistence` feature); domain state only in SQLite.
//! - **Fonts.** egui 0.37 ships Ubuntu-Light, Hack and its icon font only: no emoji. The UI uses
//!   glyphs those fonts have (egui_kittest panics on a missing glyph, so the GUI test guards this).
//! - **Testing.** `tests/integration/gui.rs` drives the real `App` with `egui_kittest` through
//!   AccessKit (thumbnails are list items named after the file). `assay open --screenshot` saves
//!   the first fully loaded frame (CI renders the shared fixtures under Xvfb). `assay bench gui`
//!   drives `App::show` on a bare `egui::Context` and times the UI thread's frame (app +
//!   tessellation).
//! - **Labeling.** `ViewMode::Label` (Ctrl+L, View → Labeling) has three tabs. *Study setup*: rater
//!   (typed or picked), protocol, criterion, scope (same prompt — else same folder — or the whole
//!   collection), comparisons per item, raters per pair (3), attention-check rate, "both bad".
//!   *Trials*: blind (no names, signals or inspector), the criterion's question on screen, the
//!   images drawn with the shared zoom (full-resolution textures; the trial's response time starts
//!   when all are on screen, and answers before that are ignored). Keys: ←/A, →/L, ↓ tie, B both
//!   bad, 1–5 Likert, 1–N best of N, three digits for fidelity / alignment / aesthetics, Z full
//!   size, Esc back. Each answer is one `DbCmd::Label(Append)` (own sequence numbers; the view
//!   shows "saving…" until confirmed) and is also kept in memory so scheduling and statistics never
//!   wait for SQL. Sides and items are shuffled with the session's seeded `ranking::rng`. Pairwise
//!   scheduling is `human::schedule::PairScheduler`, replayed from the stored events of the same
//!   protocol and criterion when a session starts; its Bradley–Terry scores come from the
//!   `assay-label-stats` thread (newest request wins) after each answer and may lag by one trial.
//!   Attention checks: the `assay-gold` thread decodes an image, downsizes it to 1024 px and
//!   degrades it (blur σ = 2 % of the long side, noise σ = 30); three are kept ready, and a check
//!   is inserted at the study's rate (never twice in a row) only when one is ready, so trials never
//!   wait for it. Best-of-N has no attention checks yet. *Results*: the same statistics thread runs
//!   `human::report::build` (Bradley–Terry with 200 bootstrap rounds per criterion, Krippendorff's
//!   α / Fleiss' κ per protocol and criterion, per-rater judgements, sessions, median response
//!   time, attention pass rate, agreement with the strict majority of the other raters); raters
//!   below the threshold (80 %, adjustable) are left out unless included.

pub mod bench;
pub mod bench_catalog;
mod collection;
mod commands;
mod context;
mod events;
mod jobs;
mod keyboard;
pub mod labeling;
mod labeling_jobs;
mod labeling_stats;
mod latest;
pub mod model;
pub mod monitor;
mod panels;
pub mod pareto;
pub mod policy_editor;
pub mod policy_evidence;
pub mod scorers;
mod shortcuts;
mod theme;
mod thumbs;
mod views;
mod zoom;

use crate::domain::Status;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::pipeline::ScanOptions;
use crate::store::{ImageRow, Store};
use collection::{Caches, Catalogue, Grid, Jobs, ViewState};
pub use context::ViewCtx;
use jobs::{DbCmd, Event, ExportRequest, Outbox, ScanJob, ViewReq, ViewResult};
use model::{ClickMode, Filters, Flag, Selection, Sort};
use thumbs::ThumbReq;
pub use zoom::ZoomPan;

/// The collection's rows, shared with background jobs (the view, thumbnail and monitor
/// threads): the vector is copied on write only while a job still holds it, and then only
/// its pointers; a row is copied only when flagged while a job holds it.
pub type Rows = Arc<Vec<Arc<ImageRow>>>;

/// Owned copies of the rows, for library code that takes `&[ImageRow]` (call it off the UI
/// thread: it copies every row).
pub fn owned_rows(rows: &Rows) -> Vec<ImageRow> {
    rows.iter().map(|r| ImageRow::clone(r)).collect()
}

/// Collections up to this many rows compute their view on the UI thread within the frame
/// (a few milliseconds); larger ones on the view thread, keeping the previous view on screen.
pub const INLINE_VIEW_ROWS: usize = 20_000;

/// What persists between sessions (eframe storage). Domain state lives only in SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Grid cell size in points.
    pub thumb_size: f32,
    pub sort: Sort,
    pub filters: Filters,
    pub show_filters: bool,
    pub show_inspector: bool,
    /// Face boxes and landmarks over detail and compare images.
    pub show_faces: bool,
    pub pareto: pareto::ParetoState,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            thumb_size: 160.0,
            sort: Sort::default(),
            filters: Filters::default(),
            show_filters: true,
            show_inspector: true,
            show_faces: false,
            pareto: pareto::ParetoState::default(),
            recent: Vec::new(),
        }
    }
}

/// Which main view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewMode {
    Grid,
    Detail,
    Compare,
    /// Human evaluation: study setup, trials, results (`labeling.rs`).
    Label,
    /// Scatter of two signals with the Pareto front; parallel coordinates.
    Pareto,
    /// The selection-policy editor.
    Policy,
    /// Preference-scorer versions, training and the learning curve.
    Scorers,
    /// Batch monitoring: per-batch signal distributions, drift, review rate, agreement.
    Monitor,
}

impl ViewMode {
    /// Every view, in the View menu's order.
    pub const ALL: [ViewMode; 8] = [
        ViewMode::Grid,
        ViewMode::Detail,
        ViewMode::Compare,
        ViewMode::Label,
        ViewMode::Pareto,
        ViewMode::Policy,
        ViewMode::Scorers,
        ViewMode::Monitor,
    ];
}

/// Everything a panel can ask for.
#[derive(Debug, Clone)]
pub enum Cmd {
    Open(PathBuf),
    Rescan,
    CancelScan,
    /// Set the status of the targets (selection, or cursor; in compare: the focused image).
    SetStatus(Status),
    SetRating(Option<i64>),
    Undo,
    Redo,
    Click(i64, ClickMode),
    Step(isize, bool),
    Home(bool),
    End(bool),
    ShowGrid,
    ShowDetail(Option<i64>),
    ShowCompare,
    FocusCompare(usize),
    FilterDupGroup(i64),
    StartExport(ExportRequest, ExportScope),
    CancelExport,
    ShowLabel,
    ShowPareto,
    ShowPolicy,
    ShowScorers,
    ShowMonitor,
    /// Show only these images in the grid (a selection made elsewhere, e.g. the Pareto view).
    ShowOnly(Vec<i64>),
    /// A status-bar message (text, is error).
    Message(String, bool),
    /// Append a planned policy run (decisions + the policy version).
    ApplyPolicy(
        Box<crate::selection::plan::Prepared>,
        std::sync::Arc<crate::selection::plan::Plan>,
    ),
    /// Show the review band in the grid, to step through with the culling keys.
    ReviewQueue,
}

/// Which images an export takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    Accepted,
    Selected,
    Shown,
}

/// Rows from a reload waiting for their view: rows, id → position, the decision sequence
/// number they were read at, and the `rows_id` they will get.
type PendingRows = (Rows, Arc<HashMap<i64, usize>>, u64, u64);

/// The raw metadata of one image (pretty JSON, warnings), or why it could not be read.
type RawMetadata = Result<Option<(String, String)>, String>;

/// An open collection: its folder and database, and its parts (`collection/`), one job each.
pub struct Collection {
    /// The collection's folder, its database, and whether that is the per-user fallback for
    /// a read-only collection.
    pub root: PathBuf,
    pub db: PathBuf,
    pub fallback_db: bool,
    /// Where background jobs report (drained at the start of each frame).
    out: Outbox,
    /// The rows, their index and versions, reloads and decision batches (database worker).
    pub catalogue: Catalogue,
    /// Human-evaluation state: study, session, trial, statistics.
    pub label: labeling::Labeling,
    /// The shown rows in order (filters and sort), the filter bar's counts, the view thread.
    pub view: ViewState,
    /// Selection, cursor, undo history, zoom, compared images, grid scroll and layout.
    pub grid: Grid,
    /// What was loaded on demand and is kept: thumbnails, full images, histograms, raw metadata.
    pub caches: Caches,
    /// The scan and export jobs and their last results.
    pub jobs: Jobs,
}

impl Collection {
    fn open(
        root: PathBuf,
        db: Option<PathBuf>,
        clip: crate::pipeline::clip::ClipOptions,
        scan: bool,
        out: &Outbox,
        ctx: &egui::Context,
    ) -> Self {
        let mut opts = ScanOptions::new(&root);
        opts.db = db;
        opts.clip = clip;
        let (db_path, fallback) = opts.db_path();
        let thumbs_dir = db_path
            .parent()
            .map_or_else(|| root.join(".assay"), Path::to_path_buf)
            .join("thumbs");
        opts.thumbnails = Some(thumbs_dir.clone());
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
        let catalogue = Catalogue::start(&db_path, out);
        let clip = opts.clip.clone();
        let scan = scan.then(|| ScanJob::start(opts, out.clone()));
        Self {
            root,
            db: db_path,
            fallback_db: fallback,
            out: out.clone(),
            catalogue,
            label: labeling::Labeling::new(out),
            view: ViewState::start(out),
            grid: Grid::new(),
            caches: Caches::start(thumbs_dir, workers, ctx, out),
            jobs: Jobs::new(clip, scan),
        }
    }

    pub fn row(&self, id: i64) -> Option<&ImageRow> {
        self.catalogue.row(id)
    }

    pub fn abs_path(&self, row: &ImageRow) -> PathBuf {
        crate::export::absolute_path(&self.root, row)
    }

    /// Decision batches not yet confirmed by the database worker.
    pub fn pending_writes(&self) -> usize {
        self.catalogue.unconfirmed.len()
    }

    /// Vertical scroll offset of the grid (points) in the last frame.
    pub fn grid_offset(&self) -> f32 {
        self.grid.scroll.0
    }

    /// Whether every thumbnail has been generated (the background pass has run and is done).
    pub fn thumbs_settled(&self) -> bool {
        self.caches.thumbs_settled()
    }

    pub fn scanning(&self) -> bool {
        self.jobs.scanning()
    }

    /// Nothing in flight: rows loaded, view computed, scan finished, decisions committed,
    /// visible thumbnails loaded, no export running.
    pub fn idle(&self) -> bool {
        self.catalogue.loaded
            && self.view_settled()
            && !self.jobs.busy()
            && self.catalogue.unconfirmed.is_empty()
            && !self.catalogue.reload_in_flight
            && !self.caches.thumbs.busy()
    }

    /// Whether the view on screen is the one for the current rows, filters and sort.
    pub fn view_settled(&self) -> bool {
        !self.view.dirty && !self.view.in_flight && self.catalogue.pending_rows.is_none()
    }

    /// The row behind an id as a shared pointer (cheap to keep across a frame).
    pub fn row_arc(&self, id: i64) -> Option<Arc<ImageRow>> {
        self.catalogue.row_arc(id)
    }

    /// Rows from a reload: shown at once when small, else together with their view.
    fn set_rows(&mut self, rows: Rows, index: Arc<HashMap<i64, usize>>, done_seq: u64) {
        self.catalogue.set_pending(rows, index, done_seq);
        self.view.dirty = true;
    }

    /// Makes pending rows the shown ones, re-applying decisions sent after they were read
    /// (so the grid never flickers back); whether any were re-applied.
    fn install_rows(&mut self) -> bool {
        let Some(reapplied) = self.catalogue.install_pending() else {
            return false;
        };
        self.caches.clear_histograms();
        reapplied
    }

    /// Starts (or, for small collections, computes) the view when something changed.
    fn refresh_view(&mut self, filters: &Filters, sort: &Sort) {
        if !self.view.dirty {
            return;
        }
        self.view.dirty = false;
        let generation = self.view.generation.next();
        let (rows, rows_id) = match &self.catalogue.pending_rows {
            Some((rows, _, _, id)) => (rows.clone(), *id),
            None => (
                self.catalogue.rows.clone(),
                self.catalogue.rows_id.current(),
            ),
        };
        let req = ViewReq {
            generation,
            rows_id,
            rows,
            filters: filters.clone(),
            sort: sort.clone(),
        };
        if req.rows.len() <= self.view.inline_rows {
            let r = jobs::compute_view(&req);
            drop(req);
            self.accept_view(r);
        } else {
            self.view.in_flight = true;
            self.view.worker.send(req);
        }
    }

    /// Shows a computed view unless a newer one was requested since.
    fn accept_view(&mut self, r: ViewResult) {
        if !self.view.generation.is_current(r.generation) {
            return;
        }
        self.view.in_flight = false;
        if self
            .catalogue
            .pending_rows
            .as_ref()
            .is_some_and(|p| p.3 == r.rows_id)
            && self.install_rows()
        {
            // Decisions made while these rows were read: counts and status filters follow.
            self.view.dirty = true;
        }
        if !self.catalogue.rows_id.is_current(r.rows_id) {
            return;
        }
        self.view.install(r);
        let (index, view) = (&self.catalogue.index, &self.view);
        self.grid.sel.retain_with(
            |id| index.get(&id).is_some_and(|&i| view.shows(i)),
            self.view.ids.first().copied(),
        );
        if self.grid.sel.cursor.is_none() {
            self.grid.sel.cursor = self.view.ids.first().copied();
        }
    }

    /// Histogram of a column over all rows (cached until the rows change; computed off the
    /// UI thread for large collections, `Computing` meanwhile).
    pub fn histogram(&mut self, key: &str) -> HistState {
        if let Some(h) = self.caches.hist_cache.get(key) {
            return HistState::Ready(h.clone());
        }
        if self.catalogue.rows.len() <= self.view.inline_rows {
            let h = model::histogram(&self.catalogue.rows[..], key, 40);
            self.caches.hist_cache.insert(key.to_string(), h.clone());
            return HistState::Ready(h);
        }
        if self.caches.hist_requested.insert(key.to_string()) {
            let out = self.out.clone();
            jobs::histogram(
                self.catalogue.rows.clone(),
                self.catalogue.rows_id.current(),
                key.to_string(),
                40,
                out,
            );
        }
        HistState::Computing
    }

    /// The raw metadata of `id` for the inspector: `None` while it loads (requested once).
    pub fn raw_metadata(&mut self, id: i64) -> Option<&Result<Option<(String, String)>, String>> {
        if self.caches.raw.as_ref().is_some_and(|(i, _)| *i == id) {
            return self.caches.raw.as_ref().map(|(_, r)| r);
        }
        if self.caches.raw_requested != Some(id) {
            self.caches.raw_requested = Some(id);
            self.catalogue.db_worker.send(DbCmd::Raw(id));
        }
        None
    }

    /// Appends `flags` as human decisions (one batch, committed by the database worker) and
    /// shows them at once.
    fn write_flags(&mut self, flags: Vec<(i64, Flag)>, reason: Option<&str>) {
        if flags.is_empty() {
            return;
        }
        for (id, f) in &flags {
            if let Some(r) = self.row(*id) {
                let before = model::status_index(model::status_of(r));
                let after = model::status_index(f.status);
                self.view.status_counts[before] = self.view.status_counts[before].saturating_sub(1);
                self.view.status_counts[after] += 1;
            }
        }
        self.catalogue.decide(flags, reason);
    }

    /// Asks the database worker for the rows, unless a reload is in flight.
    fn reload(&mut self) {
        self.catalogue.reload();
    }

    /// Full-resolution texture of `id` (and whether it was downscaled), requesting the decode.
    pub fn full(&mut self, id: i64, max_side: usize) -> Option<(egui::TextureId, bool)> {
        if let Some((t, scaled)) = self.caches.full_tex.get(&id) {
            return Some((t.id(), *scaled));
        }
        if !self.caches.full_failed.contains_key(&id)
            && self.caches.full_requested != Some(id)
            && let Some(row) = self.row(id)
            && row.error.is_none()
        {
            let p = self.abs_path(row);
            self.caches.full.request(id, p, max_side);
            self.caches.full_requested = Some(id);
        }
        None
    }

    /// Whether the full-resolution texture of `id` is loaded.
    pub fn has_full(&self, id: i64) -> bool {
        self.caches.has_full(id)
    }

    pub fn full_error(&self, id: i64) -> Option<&str> {
        self.caches.full_error(id)
    }

    fn thumb_req(&self, row: &ImageRow) -> ThumbReq {
        ThumbReq {
            id: row.id,
            path: self.abs_path(row),
            hash: row.hash.clone(),
        }
    }
}

/// A histogram of the filter bar: ready (`None`: no values), or being computed.
#[derive(Debug, Clone, PartialEq)]
pub enum HistState {
    Ready(Option<(f64, f64, Vec<u32>)>),
    Computing,
}

/// Options of [`App::new`].
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Collection to open (else the last one, else the welcome screen).
    pub dir: Option<PathBuf>,
    pub db: Option<PathBuf>,
    /// Save a screenshot of the window here once everything has loaded, then close.
    pub screenshot: Option<PathBuf>,
    /// Ignore the last collection of the settings (tests).
    pub no_restore: bool,
    /// CLIP in the collection's scans (`assay open --models DIR`, `--no-clip`): embeddings,
    /// `aesthetic` and `clip_score` when weights are found, as `assay scan` does.
    pub clip: crate::pipeline::clip::ClipOptions,
    /// Show the catalogue without scanning the folder first (`assay bench catalog`).
    pub no_scan: bool,
}

/// The application.
pub struct App {
    pub settings: Settings,
    pub coll: Option<Collection>,
    out: Outbox,
    rx: Receiver<Event>,
    pub mode: ViewMode,
    pub show_help: bool,
    pub export_dialog: Option<panels::ExportDialog>,
    pub policy: policy_editor::PolicyState,
    pub scorers: scorers::ScorersState,
    pub monitor: monitor::MonitorState,
    /// Last message for the status bar (text, is error).
    pub message: Option<(String, bool)>,
    cmds: Vec<Cmd>,
    screenshot: Option<PathBuf>,
    idle_frames: u32,
    db_override: Option<PathBuf>,
    clip: crate::pipeline::clip::ClipOptions,
    no_scan: bool,
}

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, opts: AppOptions) -> Self {
        Self::with_context(&cc.egui_ctx, cc.storage, opts)
    }

    /// The app on a bare egui context (benchmarks drive it without a window).
    pub fn with_context(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        opts: AppOptions,
    ) -> Self {
        let settings: Settings = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let (out, rx) = Outbox::new(ctx.clone());
        let mut app = Self {
            settings,
            coll: None,
            out,
            rx,
            mode: ViewMode::Grid,
            show_help: false,
            export_dialog: None,
            policy: policy_editor::PolicyState::default(),
            scorers: scorers::ScorersState::default(),
            monitor: monitor::MonitorState::default(),
            message: None,
            cmds: Vec::new(),
            screenshot: opts.screenshot,
            idle_frames: 0,
            db_override: opts.db,
            clip: opts.clip,
            no_scan: opts.no_scan,
        };
        let start = opts.dir.or_else(|| {
            (!opts.no_restore)
                .then(|| app.settings.recent.first().cloned())
                .flatten()
                .filter(|p| p.is_dir())
        });
        if let Some(dir) = start {
            app.open(dir, ctx);
        }
        app
    }

    fn open(&mut self, dir: PathBuf, ctx: &egui::Context) {
        if !dir.is_dir() {
            self.message = Some((format!("{} is not a folder", dir.display()), true));
            return;
        }
        let dir = dir.canonicalize().unwrap_or(dir);
        self.settings.recent.retain(|p| p != &dir);
        self.settings.recent.insert(0, dir.clone());
        self.settings.recent.truncate(10);
        let db = self.db_override.take();
        self.coll = Some(Collection::open(
            dir,
            db,
            self.clip.clone(),
            !self.no_scan,
            &self.out,
            ctx,
        ));
        // The monitor's result and report path belong to the previous collection.
        self.monitor.reset();
        self.policy.evidence = Default::default();
        self.mode = ViewMode::Grid;
        self.message = None;
    }

    /// Queues a command (panels call this).
    pub fn push(&mut self, c: Cmd) {
        self.cmds.push(c);
    }

    /// Handles every event the background jobs sent since the last frame, then the
    /// collection's per-frame chores (`events.rs`).
    fn drain_events(&mut self, ctx: &egui::Context) {
        while let Ok(ev) = self.rx.try_recv() {
            let Some(c) = self.coll.as_mut() else {
                continue;
            };
            match ev {
                Event::Rows(rows, index, done) => {
                    c.catalogue.reload_in_flight = false;
                    c.set_rows(rows, index, done);
                }
                Event::View(r) => c.accept_view(*r),
                Event::Hist(rows_id, key, h) => {
                    if c.catalogue.rows_id.is_current(rows_id) {
                        c.caches.hist_cache.insert(key, h);
                    }
                }
                Event::Raw(id, r) => c.receive_raw(id, r),
                Event::Written(seq, n) => c.batch_written(seq, n),
                Event::ScanDone(r) => {
                    if let Some(e) = c.scan_done(r) {
                        self.message = Some((e, true));
                    }
                }
                Event::Full(id, r) => c.receive_full(id, r, ctx),
                Event::ExportDone(r) => self.message = Some(c.export_done(r)),
                Event::Error(e) => self.message = Some((e, true)),
                Event::Label(m) => {
                    if let Some(e) = labeling::on_msg(c, m, ctx) {
                        self.message = Some((e, true));
                    }
                }
                Event::PolicyPlan(g, r) => self.policy.editor.receive(g, r),
                Event::Monitor(g, r) => self.monitor.receive(g, r),
                Event::MonitorReport(r) => {
                    self.monitor.exporting = false;
                    self.message = Some(match r {
                        Ok(p) => (format!("wrote the monitor report {}", p.display()), false),
                        Err(e) => (e, true),
                    });
                }
                Event::PolicyCalibrated(cal) => self.policy.receive_calibration(cal),
                Event::PolicyEvidence(t, e) => self.policy.evidence.receive_evidence(t, e),
                Event::Scorers(r) => match r {
                    Ok(rows) => self.scorers.rows = Some(rows),
                    Err(e) => self.message = Some((format!("cannot read the scorers: {e}"), true)),
                },
                Event::ScorerJob(r) => {
                    self.scorers.busy = None;
                    self.scorers.finetune = None;
                    self.scorers.last = Some(r);
                    // learned_preference values changed: reload the rows (the view reloads
                    // the versions when the rows change).
                    c.reload();
                }
                Event::PolicyApplied(r) => {
                    self.message = Some(match r {
                        Ok((name, n)) => (format!("applied {name}: {n} decisions appended"), false),
                        Err(e) => (format!("the policy was NOT applied: {e}"), true),
                    });
                    c.reload();
                }
            }
        }
        if let Some(c) = self.coll.as_mut() {
            c.after_events(ctx);
        }
    }

    /// Runs one command pushed during the frame, by family (the longer ones are in
    /// `commands.rs`); without a collection only `Open` runs.
    fn apply(&mut self, cmd: Cmd, ctx: &egui::Context) {
        if let Cmd::Open(dir) = cmd {
            self.open(dir, ctx);
            return;
        }
        if self.coll.is_none() {
            return;
        }
        match cmd {
            Cmd::Open(_) => {}
            Cmd::Message(m, err) => self.message = Some((m, err)),
            Cmd::SetStatus(_) | Cmd::SetRating(_) | Cmd::Undo | Cmd::Redo => self.apply_edit(cmd),
            Cmd::Click(..) | Cmd::Step(..) | Cmd::Home(_) | Cmd::End(_) | Cmd::FocusCompare(_) => {
                self.apply_move(cmd);
            }
            Cmd::ShowGrid
            | Cmd::ShowDetail(_)
            | Cmd::ShowCompare
            | Cmd::ShowLabel
            | Cmd::ShowPareto
            | Cmd::ShowPolicy
            | Cmd::ShowScorers
            | Cmd::ShowMonitor => self.apply_show(cmd),
            Cmd::FilterDupGroup(_) | Cmd::ShowOnly(_) | Cmd::ReviewQueue => {
                self.apply_filter(cmd);
            }
            Cmd::Rescan
            | Cmd::CancelScan
            | Cmd::StartExport(..)
            | Cmd::CancelExport
            | Cmd::ApplyPolicy(..) => self.apply_job(cmd),
        }
    }

    /// Flags, ratings, undo and redo (the other commands are `apply`'s other families).
    fn apply_edit(&mut self, cmd: Cmd) {
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::SetStatus(status) => {
                let (ids, label) = targets(c, self.mode);
                let ch = model::make_change(
                    &c.catalogue.rows,
                    &c.catalogue.index,
                    &ids,
                    Some(status),
                    None,
                    &label,
                );
                apply_change(c, ch);
                // Lightroom's auto-advance is off by default; keep the cursor.
            }
            Cmd::SetRating(r) => {
                let (ids, label) = targets(c, self.mode);
                let ch = model::make_change(
                    &c.catalogue.rows,
                    &c.catalogue.index,
                    &ids,
                    None,
                    Some(r),
                    &label,
                );
                apply_change(c, ch);
            }
            Cmd::Undo => {
                if let Some(label) = c.undo_change() {
                    self.message = Some((format!("undid: {label}"), false));
                }
            }
            Cmd::Redo => {
                if let Some(label) = c.redo_change() {
                    self.message = Some((format!("redid: {label}"), false));
                }
            }
            _ => {}
        }
    }

    /// Clicks and cursor moves in the grid, the focused image of compare.
    fn apply_move(&mut self, cmd: Cmd) {
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::Click(id, mode) => {
                c.grid.sel.click(id, mode, &c.view.ids);
            }
            Cmd::Step(d, extend) => {
                c.grid.sel.step(d, &c.view.ids, extend);
                c.grid.scroll_to_cursor = true;
            }
            Cmd::Home(extend) => {
                c.grid.sel.jump(0, &c.view.ids, extend);
                c.grid.scroll_to_cursor = true;
            }
            Cmd::End(extend) => {
                c.grid.sel.jump(usize::MAX, &c.view.ids, extend);
                c.grid.scroll_to_cursor = true;
            }
            Cmd::FocusCompare(i) if i < c.grid.compare_ids.len() => c.grid.compare_focus = i,
            _ => {}
        }
    }

    /// Switching the main view.
    fn apply_show(&mut self, cmd: Cmd) {
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::ShowGrid => {
                self.mode = ViewMode::Grid;
                c.grid.scroll_to_cursor = true;
            }
            Cmd::ShowDetail(id) => {
                if let Some(id) = id.or(c.grid.sel.cursor) {
                    c.grid.sel.cursor = Some(id);
                    c.grid.zoom = ZoomPan::default();
                    self.mode = ViewMode::Detail;
                }
            }
            Cmd::ShowCompare => self.show_compare(),
            Cmd::ShowLabel => {
                labeling::enter(c);
                self.mode = ViewMode::Label;
            }
            Cmd::ShowPareto => self.mode = ViewMode::Pareto,
            Cmd::ShowPolicy => self.mode = ViewMode::Policy,
            Cmd::ShowScorers => self.mode = ViewMode::Scorers,
            Cmd::ShowMonitor => self.mode = ViewMode::Monitor,
            _ => {}
        }
    }

    /// Filters set from elsewhere than the filter bar: a duplicate group, chosen ids, the
    /// review queue (these return to the grid, but the duplicate group).
    fn apply_filter(&mut self, cmd: Cmd) {
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::FilterDupGroup(g) => {
                self.settings.filters.dup_group = Some(g);
                c.view.dirty = true;
            }
            Cmd::ShowOnly(ids) => {
                self.settings.filters.only_ids = Some(ids.into_iter().collect());
                c.view.dirty = true;
                self.mode = ViewMode::Grid;
            }
            Cmd::ReviewQueue => {
                // The whole review band: other filters would hide part of it.
                self.settings.filters = Filters {
                    statuses: [false, false, true, false],
                    ..Filters::default()
                };
                c.view.dirty = true;
                self.mode = ViewMode::Grid;
                c.grid.sel = Selection::default();
                c.grid.scroll_to_cursor = true;
            }
            _ => {}
        }
    }

    /// Starting and cancelling the background jobs: scan, export, applying a policy.
    fn apply_job(&mut self, cmd: Cmd) {
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::Rescan => c.rescan(&self.out),
            Cmd::CancelScan => {
                if let Some(s) = &c.jobs.scan {
                    s.cancel.store(true, Ordering::Relaxed);
                }
            }
            Cmd::StartExport(req, scope) => self.start_export(req, scope),
            Cmd::CancelExport => {
                if let Some(j) = &c.jobs.export_job {
                    j.cancel.store(true, Ordering::Relaxed);
                }
            }
            Cmd::ApplyPolicy(p, plan) => {
                c.catalogue.db_worker.send(DbCmd::ApplyPolicy {
                    name: p.policy.name.clone(),
                    hash: p.hash.clone(),
                    text: p.text.clone(),
                    decisions: plan.decisions.clone(),
                });
            }
            _ => {}
        }
    }

    /// The focused image of compare.
    fn compare_focus(&self) -> usize {
        self.coll.as_ref().map_or(0, |c| c.grid.compare_focus)
    }

    /// Columns of the grid at the current size (set by the grid view each frame).
    fn grid_columns(&self) -> usize {
        self.coll.as_ref().map_or(1, |c| c.grid.cols.max(1))
    }

    fn take_screenshot_when_ready(&mut self, ctx: &egui::Context) {
        let Some(path) = self.screenshot.clone() else {
            return;
        };
        let ready = match &self.coll {
            Some(c) => c.idle(),
            None => true,
        };
        self.idle_frames = if ready { self.idle_frames + 1 } else { 0 };
        if self.idle_frames == 5 {
            let ctx2 = ctx.clone();
            ctx.request_screenshot(move |img| {
                let [w, h] = img.size;
                let bytes: Vec<u8> = img.pixels.iter().flat_map(|p| p.to_array()).collect();
                let r = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
                    .ok_or_else(|| "bad screenshot size".to_string())
                    .and_then(|i| i.save(&path).map_err(|e| e.to_string()));
                match r {
                    Ok(()) => eprintln!("screenshot saved to {}", path.display()),
                    Err(e) => eprintln!("cannot save the screenshot: {e}"),
                }
                ctx2.send_viewport_cmd(egui::ViewportCommand::Close);
            });
            self.screenshot = None;
        }
        ctx.request_repaint_after(Duration::from_millis(100));
    }
}

fn targets(c: &Collection, mode: ViewMode) -> (Vec<i64>, String) {
    let ids = match mode {
        ViewMode::Compare => c
            .grid
            .compare_ids
            .get(c.grid.compare_focus)
            .copied()
            .into_iter()
            .collect(),
        ViewMode::Detail => c.grid.sel.cursor.into_iter().collect(),
        ViewMode::Grid
        | ViewMode::Pareto
        | ViewMode::Policy
        | ViewMode::Scorers
        | ViewMode::Monitor
        | ViewMode::Label => c.grid.sel.targets(),
    };
    let label = if ids.len() == 1 {
        c.row(ids[0]).map_or_else(String::new, |r| r.path.clone())
    } else {
        format!("{} images", ids.len())
    };
    (ids, label)
}

fn apply_change(c: &mut Collection, mut ch: model::Change) {
    if ch.items.is_empty() {
        return;
    }
    let flags = ch.items.iter().map(|(id, _, a)| (*id, a.clone())).collect();
    let what = match (&ch.items[0].1, &ch.items[0].2) {
        (b, a) if b.status != a.status => a.status.to_string(),
        (_, a) => format!(
            "rating {}",
            a.rating.map_or("none".into(), |r| r.to_string())
        ),
    };
    ch.label = format!("{what} {}", ch.label);
    c.write_flags(flags, None);
    c.grid.history.push(ch);
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

impl App {
    /// One frame of the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.drain_events(&ctx);
        // Drag and drop of a folder opens it.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if let Some(p) = dropped.into_iter().find(|p| p.is_dir()) {
            self.push(Cmd::Open(p));
        }
        self.keyboard(&ctx);
        if let Some(c) = self.coll.as_mut() {
            c.caches.textures.next_frame();
            c.refresh_view(&self.settings.filters, &self.settings.sort);
        }
        self.panels(ui);
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        if self.show_help {
            panels::help_overlay(&mut self.show_help, &ctx);
        }
        panels::export_dialog(
            &mut self.export_dialog,
            self.coll.as_ref(),
            &mut self.cmds,
            &ctx,
        );
        let cmds = std::mem::take(&mut self.cmds);
        let changed_view = cmds.iter().any(|c| {
            matches!(
                c,
                Cmd::SetStatus(_)
                    | Cmd::SetRating(_)
                    | Cmd::Undo
                    | Cmd::Redo
                    | Cmd::FilterDupGroup(_)
            )
        });
        for c in cmds {
            self.apply(c, &ctx);
        }
        if changed_view
            && let Some(c) = self.coll.as_mut()
            && model::depends_on_decisions(&self.settings.filters, &self.settings.sort)
        {
            // Re-filter and re-sort only when a flag can move or hide an image: never a
            // million-row pass per key press otherwise.
            c.view.dirty = true;
        }
        if let Some(c) = &self.coll
            && (!c.idle() || c.scanning())
        {
            ctx.request_repaint_after(Duration::from_millis(200));
        }
        self.take_screenshot_when_ready(&ctx);
    }
}

impl App {
    /// The menu and tool bars, the status bar, and (with a collection) the filter bar and the
    /// inspector, each given only the fields it uses.
    fn panels(&mut self, ui: &mut egui::Ui) {
        panels::top_bar(
            panels::TopBar {
                coll: self.coll.as_mut(),
                settings: &mut self.settings,
                mode: self.mode,
                show_help: &mut self.show_help,
                export_dialog: &mut self.export_dialog,
                cmds: &mut self.cmds,
            },
            ui,
        );
        panels::status_bar(
            self.coll.as_ref(),
            self.message.as_ref(),
            &mut self.cmds,
            ui,
        );
        let Some(c) = self.coll.as_mut() else { return };
        if self.settings.show_filters && matches!(self.mode, ViewMode::Grid | ViewMode::Pareto) {
            panels::filters_panel(c, &mut self.settings.filters, ui);
        }
        // Labeling is blind: no names or signals on screen. The monitor needs the width.
        if self.settings.show_inspector && !matches!(self.mode, ViewMode::Label | ViewMode::Monitor)
        {
            panels::inspector(c, self.mode, &mut self.cmds, ui);
        }
    }

    /// The central view of the mode (the welcome screen without a collection): a [`ViewCtx`]
    /// plus the view's own state.
    fn central(&mut self, ui: &mut egui::Ui) {
        let Some(coll) = self.coll.as_mut() else {
            panels::welcome(&self.settings.recent, &mut self.cmds, ui);
            return;
        };
        let cx = ViewCtx {
            coll,
            out: &self.out,
            cmds: &mut self.cmds,
        };
        let s = &mut self.settings;
        match self.mode {
            ViewMode::Grid => views::grid(cx, s.thumb_size, &mut s.filters, ui),
            ViewMode::Detail => views::detail(cx, &mut s.show_faces, ui),
            ViewMode::Compare => views::compare(cx, s.show_faces, ui),
            ViewMode::Pareto => pareto::show(cx, &mut s.pareto, ui),
            ViewMode::Policy => policy_editor::show(cx, &mut self.policy, ui),
            ViewMode::Scorers => scorers::show(cx, &mut self.scorers, ui),
            ViewMode::Label => labeling::view(cx, ui),
            ViewMode::Monitor => monitor::show(cx, &mut self.monitor, ui),
        }
    }
}

/// Opens the window. `screenshot` saves the first fully loaded frame and closes.
pub fn run(
    dir: Option<PathBuf>,
    db: Option<PathBuf>,
    screenshot: Option<PathBuf>,
    clip: crate::pipeline::clip::ClipOptions,
) -> anyhow::Result<()> {
    if let Some(d) = &dir
        && !d.is_dir()
    {
        anyhow::bail!("{} is not a folder", d.display());
    }
    // Fail early, with the reason, when a given database cannot be opened.
    if let Some(db) = &db
        && db.exists()
    {
        Store::open_for_reading(db)?;
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true)
            .with_title("Assay"),
        ..Default::default()
    };
    let opts = AppOptions {
        dir,
        db,
        screenshot,
        no_restore: false,
        clip,
        no_scan: false,
    };
    eframe::run_native(
        "Assay",
        options,
        Box::new(|cc| Ok(Box::new(App::new(cc, opts)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
