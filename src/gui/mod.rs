//! The desktop workbench (eframe/egui). Only this module uses egui.
//!
//! Structure (rerun's and egui's conventions): [`App`] owns the open [`Collection`] and the
//! settings; panels (`panels.rs`) and views (`views.rs`) read state and push [`Cmd`]s, which
//! the app applies after the frame's UI. Background threads (`jobs.rs`, `thumbs.rs`) scan,
//! read the database, append decisions, make thumbnails, decode full images and export; they
//! report through a channel drained at the start of each frame, so the UI thread never decodes,
//! queries in bulk or scores.

pub mod bench;
mod jobs;
pub mod labeling;
mod labeling_jobs;
mod labeling_stats;
pub mod model;
pub mod monitor;
mod panels;
pub mod pareto;
pub mod policy_editor;
pub mod policy_evidence;
pub mod scorers;
mod thumbs;
mod views;
mod zoom;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::pipeline::{ScanOptions, ScanSummary};
use crate::store::{ImageRow, NewDecision, Store};
use jobs::{
    DbCmd, DbWorker, Event, ExportJob, ExportReport, ExportRequest, FullLoader, Outbox, ScanJob,
};
use model::{ClickMode, Filters, Flag, History, Selection, Sort};
use thumbs::{TextureCache, ThumbReq, ThumbService};
pub use zoom::ZoomPan;

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

/// Everything a panel can ask for.
#[derive(Debug, Clone)]
pub enum Cmd {
    Open(PathBuf),
    Rescan,
    CancelScan,
    /// Set the status of the targets (selection, or cursor; in compare: the focused image).
    SetStatus(&'static str),
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

/// An open collection and all its view state.
pub struct Collection {
    pub root: PathBuf,
    pub db: PathBuf,
    /// CLIP options of this collection's scans.
    clip: crate::pipeline::clip::ClipOptions,
    pub fallback_db: bool,
    pub rows: Vec<ImageRow>,
    pub index: HashMap<i64, usize>,
    /// Row indices shown, in order.
    pub view: Vec<usize>,
    pub view_ids: Vec<i64>,
    pub view_error: Option<String>,
    view_dirty: bool,
    /// Rows received at least once.
    pub loaded: bool,
    /// Bumped whenever rows or their decisions change (live views recompute).
    pub rows_generation: u64,
    pub sel: Selection,
    pub history: History,
    db_worker: DbWorker,
    /// Decision batches sent and confirmed (their flags are re-applied over stale reloads).
    sent_seq: u64,
    done_seq: u64,
    unconfirmed: Vec<(u64, Vec<(i64, Flag)>)>,
    reload_in_flight: bool,
    last_reload: Instant,
    pub scan: Option<ScanJob>,
    pub last_scan: Option<Result<ScanSummary, String>>,
    thumbs: ThumbService,
    pub textures: TextureCache,
    full: FullLoader,
    full_tex: HashMap<i64, (egui::TextureHandle, bool)>,
    full_failed: HashMap<i64, String>,
    full_requested: Option<i64>,
    pub zoom: ZoomPan,
    pub compare_ids: Vec<i64>,
    pub compare_focus: usize,
    hist_cache: HashMap<String, Option<(f64, f64, Vec<u32>)>>,
    pub export_job: Option<ExportJob>,
    pub last_export: Option<Result<ExportReport, String>>,
    /// Grid scroll offset and viewport height of the last frame.
    grid_scroll: (f32, f32),
    scroll_to_cursor: bool,
    pregenerated: bool,
    /// Columns of the grid in the last frame (arrow up/down move by a row).
    grid_cols: usize,
    /// Human-evaluation state: study, session, trial, statistics.
    pub label: labeling::Labeling,
}

impl Collection {
    fn open(
        root: PathBuf,
        db: Option<PathBuf>,
        clip: crate::pipeline::clip::ClipOptions,
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
        let db_worker = DbWorker::start(db_path.clone(), out.clone());
        // Show what is already catalogued at once, then bring it up to date.
        if db_path.exists() {
            db_worker.send(DbCmd::Reload);
        }
        let clip = opts.clip.clone();
        let scan = Some(ScanJob::start(opts, out.clone()));
        Self {
            root,
            clip,
            db: db_path,
            fallback_db: fallback,
            rows: Vec::new(),
            index: HashMap::new(),
            view: Vec::new(),
            view_ids: Vec::new(),
            view_error: None,
            view_dirty: true,
            loaded: false,
            rows_generation: 0,
            sel: Selection::default(),
            history: History::default(),
            db_worker,
            sent_seq: 0,
            done_seq: 0,
            unconfirmed: Vec::new(),
            reload_in_flight: true,
            last_reload: Instant::now(),
            scan,
            last_scan: None,
            thumbs: ThumbService::start(thumbs_dir, workers, ctx.clone()),
            textures: TextureCache::default(),
            full: FullLoader::start(out.clone()),
            full_tex: HashMap::new(),
            full_failed: HashMap::new(),
            full_requested: None,
            zoom: ZoomPan::default(),
            compare_ids: Vec::new(),
            compare_focus: 0,
            hist_cache: HashMap::new(),
            export_job: None,
            last_export: None,
            grid_scroll: (0.0, 0.0),
            scroll_to_cursor: false,
            pregenerated: false,
            grid_cols: 1,
            label: labeling::Labeling::new(out),
        }
    }

    pub fn row(&self, id: i64) -> Option<&ImageRow> {
        self.index.get(&id).map(|&i| &self.rows[i])
    }

    pub fn abs_path(&self, row: &ImageRow) -> PathBuf {
        crate::export::absolute_path(&self.root, row)
    }

    /// Decision batches not yet confirmed by the database worker.
    pub fn pending_writes(&self) -> usize {
        self.unconfirmed.len()
    }

    /// Vertical scroll offset of the grid (points) in the last frame.
    pub fn grid_offset(&self) -> f32 {
        self.grid_scroll.0
    }

    /// Whether every thumbnail has been generated (the background pass has run and is done).
    pub fn thumbs_settled(&self) -> bool {
        self.pregenerated && self.thumbs.backlog() == 0 && !self.thumbs.busy()
    }

    pub fn scanning(&self) -> bool {
        self.scan.is_some()
    }

    /// Nothing in flight: rows loaded, scan finished, decisions committed, visible
    /// thumbnails loaded, no export running.
    pub fn idle(&self) -> bool {
        self.loaded
            && self.scan.is_none()
            && self.unconfirmed.is_empty()
            && !self.reload_in_flight
            && !self.thumbs.busy()
            && self.export_job.is_none()
    }

    fn set_rows(&mut self, mut rows: Vec<ImageRow>, done_seq: u64) {
        let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        // Decisions sent after this read started are re-applied so the grid never flickers back.
        for (seq, flags) in &self.unconfirmed {
            if *seq > done_seq {
                model::apply_flags(&mut rows, &index, flags);
            }
        }
        self.rows = rows;
        self.index = index;
        self.loaded = true;
        self.rows_generation += 1;
        self.view_dirty = true;
        self.hist_cache.clear();
    }

    fn refresh_view(&mut self, filters: &Filters, sort: &Sort) {
        if !self.view_dirty {
            return;
        }
        let (view, err) = model::compute_view(&self.rows, filters, sort);
        self.view_ids = view.iter().map(|&i| self.rows[i].id).collect();
        self.view = view;
        self.view_error = err;
        self.sel.retain(&self.view_ids);
        if self.sel.cursor.is_none() {
            self.sel.cursor = self.view_ids.first().copied();
        }
        self.view_dirty = false;
    }

    /// Histogram of a column over all rows (cached until the rows change).
    pub fn histogram(&mut self, key: &str) -> Option<(f64, f64, Vec<u32>)> {
        if !self.hist_cache.contains_key(key) {
            let h = model::histogram(&self.rows, key, 40);
            self.hist_cache.insert(key.to_string(), h);
        }
        self.hist_cache.get(key).cloned().flatten()
    }

    /// Appends `flags` as human decisions (one batch, committed by the database worker) and
    /// shows them at once.
    fn write_flags(&mut self, flags: Vec<(i64, Flag)>, reason: Option<&str>) {
        if flags.is_empty() {
            return;
        }
        model::apply_flags(&mut self.rows, &self.index, &flags);
        self.rows_generation += 1;
        let rows = flags
            .iter()
            .map(|(id, f)| NewDecision {
                image_id: *id,
                status: f.status.clone(),
                rating: f.rating,
                source: "human".to_string(),
                reason: reason.map(str::to_string),
                detail: None,
            })
            .collect();
        self.sent_seq += 1;
        self.unconfirmed.push((self.sent_seq, flags));
        self.db_worker.send(DbCmd::Decide(self.sent_seq, rows));
        self.view_dirty = true;
    }

    fn reload(&mut self) {
        if !self.reload_in_flight {
            self.reload_in_flight = true;
            self.last_reload = Instant::now();
            self.db_worker.send(DbCmd::Reload);
        }
    }

    /// Full-resolution texture of `id` (and whether it was downscaled), requesting the decode.
    pub fn full(&mut self, id: i64, max_side: usize) -> Option<(egui::TextureId, bool)> {
        if let Some((t, scaled)) = self.full_tex.get(&id) {
            return Some((t.id(), *scaled));
        }
        if !self.full_failed.contains_key(&id)
            && self.full_requested != Some(id)
            && let Some(row) = self.row(id)
            && row.error.is_none()
        {
            let p = self.abs_path(row);
            self.full.request(id, p, max_side);
            self.full_requested = Some(id);
        }
        None
    }

    /// Whether the full-resolution texture of `id` is loaded.
    pub fn has_full(&self, id: i64) -> bool {
        self.full_tex.contains_key(&id)
    }

    pub fn full_error(&self, id: i64) -> Option<&str> {
        self.full_failed.get(&id).map(String::as_str)
    }

    fn thumb_req(&self, row: &ImageRow) -> ThumbReq {
        ThumbReq {
            id: row.id,
            path: self.abs_path(row),
            hash: row.hash.clone(),
        }
    }
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
        self.coll = Some(Collection::open(dir, db, self.clip.clone(), &self.out, ctx));
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

    fn drain_events(&mut self, ctx: &egui::Context) {
        while let Ok(ev) = self.rx.try_recv() {
            let Some(c) = self.coll.as_mut() else {
                continue;
            };
            match ev {
                Event::Rows(rows, done) => {
                    c.reload_in_flight = false;
                    c.set_rows(rows, done);
                }
                Event::Written(seq, n) => {
                    c.done_seq = c.done_seq.max(seq);
                    c.unconfirmed.retain(|(s, _)| *s > seq);
                    if n == 0 {
                        // Show what the store really holds.
                        c.reload();
                    }
                }
                Event::ScanDone(r) => {
                    c.scan = None;
                    if let Err(e) = &r {
                        self.message = Some((format!("scan failed: {e}"), true));
                    }
                    c.last_scan = Some(r.map(|s| *s));
                    c.reload_in_flight = false;
                    c.reload();
                    c.pregenerated = false;
                }
                Event::Full(id, r) => {
                    if c.full_requested == Some(id) {
                        c.full_requested = None;
                    }
                    match r {
                        Ok((img, scaled)) => {
                            // Keep a few full images (compare shows up to four).
                            if c.full_tex.len() >= 6 {
                                let keep: Vec<i64> = c.compare_ids.clone();
                                let cursor = c.sel.cursor;
                                c.full_tex
                                    .retain(|k, _| keep.contains(k) || Some(*k) == cursor);
                            }
                            let t = ctx.load_texture(
                                format!("full-{id}"),
                                img,
                                egui::TextureOptions::LINEAR,
                            );
                            c.full_tex.insert(id, (t, scaled));
                        }
                        Err(e) => {
                            c.full_failed.insert(id, e);
                        }
                    }
                }
                Event::ExportDone(r) => {
                    c.export_job = None;
                    self.message = Some(match &r {
                        Ok(rep) => (
                            format!(
                                "exported {} files to {} ({} already there, {} failed{})",
                                rep.exported,
                                rep.to.display(),
                                rep.already,
                                rep.failed.len(),
                                if rep.cancelled { ", cancelled" } else { "" }
                            ),
                            !rep.failed.is_empty(),
                        ),
                        Err(e) => (format!("export failed: {e}"), true),
                    });
                    c.last_export = Some(r);
                }
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
                Event::PolicyCalibrated(cal) => {
                    let hash = self
                        .policy
                        .editor
                        .prepared
                        .as_ref()
                        .ok()
                        .map(|p| p.hash.clone());
                    if let Some((a, r)) = self
                        .policy
                        .evidence
                        .receive_calibration(cal, hash.as_deref())
                    {
                        self.policy.editor.apply_bands(a, r);
                    }
                }
                Event::PolicyEvidence(t, e) => self.policy.evidence.receive_evidence(t, e),
                Event::Scorers(r) => match r {
                    Ok(rows) => self.scorers.rows = Some(rows),
                    Err(e) => self.message = Some((format!("cannot read the scorers: {e}"), true)),
                },
                Event::ScorerJob(r) => {
                    self.scorers.busy = None;
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
            for (id, r) in c.thumbs.take_results() {
                match r {
                    Ok(img) => c.textures.insert(ctx, id, img),
                    Err(e) => {
                        c.textures.failed.insert(id, e);
                    }
                }
            }
            // While scanning, show new rows as they are committed.
            if c.scan.is_some() && c.last_reload.elapsed() > Duration::from_millis(1500) {
                c.reload();
            }
            if c.scan.is_none() && c.loaded && !c.pregenerated && !c.reload_in_flight {
                let reqs = c
                    .rows
                    .iter()
                    .filter(|r| r.error.is_none())
                    .map(|r| c.thumb_req(r))
                    .collect();
                c.thumbs.pregenerate(reqs);
                c.pregenerated = true;
            }
        }
    }

    fn apply(&mut self, cmd: Cmd, ctx: &egui::Context) {
        if let Cmd::Open(dir) = cmd {
            self.open(dir, ctx);
            return;
        }
        let Some(c) = self.coll.as_mut() else { return };
        match cmd {
            Cmd::Open(_) => {}
            Cmd::Rescan => {
                if c.scan.is_none() {
                    let mut opts = ScanOptions::new(&c.root);
                    opts.db = Some(c.db.clone());
                    opts.clip = c.clip.clone();
                    opts.thumbnails = c.db.parent().map(|d| d.join("thumbs"));
                    c.scan = Some(ScanJob::start(opts, self.out.clone()));
                }
            }
            Cmd::CancelScan => {
                if let Some(s) = &c.scan {
                    s.cancel.store(true, Ordering::Relaxed);
                }
            }
            Cmd::SetStatus(status) => {
                let (ids, label) = targets(c, self.mode);
                let ch = model::make_change(&c.rows, &c.index, &ids, Some(status), None, &label);
                apply_change(c, ch);
                // Lightroom's auto-advance is off by default; keep the cursor.
            }
            Cmd::SetRating(r) => {
                let (ids, label) = targets(c, self.mode);
                let ch = model::make_change(&c.rows, &c.index, &ids, None, Some(r), &label);
                apply_change(c, ch);
            }
            Cmd::Undo => {
                if let Some(ch) = c.history.undo() {
                    let flags = ch.items.iter().map(|(id, b, _)| (*id, b.clone())).collect();
                    c.write_flags(flags, Some("undo"));
                    self.message = Some((format!("undid: {}", ch.label), false));
                }
            }
            Cmd::Redo => {
                if let Some(ch) = c.history.redo() {
                    let flags = ch.items.iter().map(|(id, _, a)| (*id, a.clone())).collect();
                    c.write_flags(flags, Some("redo"));
                    self.message = Some((format!("redid: {}", ch.label), false));
                }
            }
            Cmd::Click(id, mode) => {
                c.sel.click(id, mode, &c.view_ids);
            }
            Cmd::Step(d, extend) => {
                c.sel.step(d, &c.view_ids, extend);
                c.scroll_to_cursor = true;
            }
            Cmd::Home(extend) => {
                c.sel.jump(0, &c.view_ids, extend);
                c.scroll_to_cursor = true;
            }
            Cmd::End(extend) => {
                c.sel.jump(usize::MAX, &c.view_ids, extend);
                c.scroll_to_cursor = true;
            }
            Cmd::ShowGrid => {
                self.mode = ViewMode::Grid;
                c.scroll_to_cursor = true;
            }
            Cmd::ShowDetail(id) => {
                if let Some(id) = id.or(c.sel.cursor) {
                    c.sel.cursor = Some(id);
                    c.zoom = ZoomPan::default();
                    self.mode = ViewMode::Detail;
                }
            }
            Cmd::ShowCompare => {
                let mut ids: Vec<i64> = c
                    .view_ids
                    .iter()
                    .copied()
                    .filter(|id| c.sel.selected.contains(id))
                    .take(4)
                    .collect();
                if ids.len() < 2 {
                    // Lightroom: with one image, compare it with the next one.
                    ids.clear();
                    if let Some(p) = c
                        .sel
                        .cursor
                        .and_then(|x| c.view_ids.iter().position(|&v| v == x))
                    {
                        ids.extend(c.view_ids.iter().skip(p).take(2));
                        if ids.len() < 2 && p > 0 {
                            ids.insert(0, c.view_ids[p - 1]);
                        }
                    }
                }
                if ids.len() >= 2 {
                    c.compare_ids = ids;
                    c.compare_focus = 0;
                    c.zoom = ZoomPan::default();
                    self.mode = ViewMode::Compare;
                } else {
                    self.message = Some(("select 2–4 images to compare".into(), false));
                }
            }
            Cmd::FocusCompare(i) => {
                if i < c.compare_ids.len() {
                    c.compare_focus = i;
                }
            }
            Cmd::FilterDupGroup(g) => {
                self.settings.filters.dup_group = Some(g);
                c.view_dirty = true;
            }
            Cmd::StartExport(req, scope) => {
                if crate::export::is_inside(&req.to, &c.root) {
                    self.message = Some((
                        format!(
                            "the export folder {} is inside the collection; choose one outside it",
                            req.to.display()
                        ),
                        true,
                    ));
                    return;
                }
                let rows: Vec<ImageRow> = match scope {
                    ExportScope::Accepted => c
                        .rows
                        .iter()
                        .filter(|r| model::status_of(r) == "accepted")
                        .cloned()
                        .collect(),
                    ExportScope::Selected => c
                        .sel
                        .targets()
                        .iter()
                        .filter_map(|id| c.row(*id).cloned())
                        .collect(),
                    ExportScope::Shown => c.view.iter().map(|&i| c.rows[i].clone()).collect(),
                };
                let mut rows: Vec<ImageRow> =
                    rows.into_iter().filter(|r| r.error.is_none()).collect();
                rows.sort_by(|a, b| a.path.cmp(&b.path));
                if rows.is_empty() {
                    self.message = Some(("nothing to export".into(), true));
                    return;
                }
                c.export_job = Some(ExportJob::start(
                    c.root.clone(),
                    rows,
                    req,
                    self.out.clone(),
                ));
                self.export_dialog = None;
            }
            Cmd::ShowPareto => self.mode = ViewMode::Pareto,
            Cmd::ShowPolicy => self.mode = ViewMode::Policy,
            Cmd::ShowScorers => self.mode = ViewMode::Scorers,
            Cmd::ShowMonitor => self.mode = ViewMode::Monitor,
            Cmd::ShowOnly(ids) => {
                self.settings.filters.only_ids = Some(ids.into_iter().collect());
                c.view_dirty = true;
                self.mode = ViewMode::Grid;
            }
            Cmd::Message(m, err) => self.message = Some((m, err)),
            Cmd::ApplyPolicy(p, plan) => {
                c.db_worker.send(DbCmd::ApplyPolicy {
                    name: p.policy.name.clone(),
                    hash: p.hash.clone(),
                    text: p.text.clone(),
                    decisions: plan.decisions.clone(),
                });
            }
            Cmd::ReviewQueue => {
                // The whole review band: other filters would hide part of it.
                self.settings.filters = Filters {
                    statuses: [false, false, true, false],
                    ..Filters::default()
                };
                c.view_dirty = true;
                self.mode = ViewMode::Grid;
                c.sel = Selection::default();
                c.scroll_to_cursor = true;
            }
            Cmd::CancelExport => {
                if let Some(j) = &c.export_job {
                    j.cancel.store(true, Ordering::Relaxed);
                }
            }
            Cmd::ShowLabel => {
                labeling::enter(c);
                self.mode = ViewMode::Label;
            }
        }
    }

    /// Keyboard shortcuts (Lightroom habits), unless a text field has focus.
    fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || self.coll.is_none() {
            return;
        }
        use egui::{Key, Modifiers};
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::L)) {
            self.push(Cmd::ShowLabel);
        }
        if self.mode == ViewMode::Label {
            labeling::keyboard(self, ctx);
            return;
        }
        let mut cmds = Vec::new();
        ctx.input_mut(|i| {
            let shift = i.modifiers.shift;
            if i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z)
                || i.consume_key(Modifiers::COMMAND, Key::Y)
            {
                cmds.push(Cmd::Redo);
            } else if i.consume_key(Modifiers::COMMAND, Key::Z) {
                cmds.push(Cmd::Undo);
            }
            if i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::E) {
                self.export_dialog = Some(panels::ExportDialog::default());
            }
            let plain = !i.modifiers.command && !i.modifiers.alt;
            if !plain {
                return;
            }
            let pressed = |i: &egui::InputState, k: Key| i.key_pressed(k);
            if pressed(i, Key::P) {
                cmds.push(Cmd::SetStatus("accepted"));
            }
            if pressed(i, Key::X) {
                cmds.push(Cmd::SetStatus("rejected"));
            }
            if pressed(i, Key::U) {
                cmds.push(Cmd::SetStatus("none"));
            }
            if pressed(i, Key::R) && shift {
                cmds.push(Cmd::SetStatus("review"));
            }
            for (k, n) in [
                (Key::Num0, 0),
                (Key::Num1, 1),
                (Key::Num2, 2),
                (Key::Num3, 3),
                (Key::Num4, 4),
                (Key::Num5, 5),
            ] {
                if pressed(i, k) {
                    cmds.push(Cmd::SetRating(if n == 0 { None } else { Some(n) }));
                }
            }
            if pressed(i, Key::Questionmark) || pressed(i, Key::F1) {
                self.show_help = !self.show_help;
            }
            if pressed(i, Key::Escape) {
                if self.show_help {
                    self.show_help = false;
                } else {
                    cmds.push(Cmd::ShowGrid);
                }
            }
            if pressed(i, Key::G) {
                cmds.push(Cmd::ShowGrid);
            }
            if pressed(i, Key::Space) || pressed(i, Key::Enter) || pressed(i, Key::E) {
                cmds.push(if self.mode == ViewMode::Detail && pressed(i, Key::Space) {
                    Cmd::ShowGrid
                } else {
                    Cmd::ShowDetail(None)
                });
            }
            if pressed(i, Key::C) {
                cmds.push(Cmd::ShowCompare);
            }
            if pressed(i, Key::V) {
                cmds.push(Cmd::ShowPareto);
            }
            if pressed(i, Key::M) {
                cmds.push(Cmd::ShowMonitor);
            }
            if pressed(i, Key::Z) && !shift && self.mode != ViewMode::Grid {
                let ppp = i.pixels_per_point;
                if let Some(c) = self.coll.as_mut() {
                    c.zoom.toggle_actual(ppp);
                }
            }
            if pressed(i, Key::F) {
                self.settings.show_faces = !self.settings.show_faces;
            }
            if pressed(i, Key::I) {
                self.settings.show_inspector = !self.settings.show_inspector;
            }
            let cols = self.grid_columns();
            if self.mode == ViewMode::Compare {
                if pressed(i, Key::ArrowLeft) {
                    cmds.push(Cmd::FocusCompare(self.compare_focus().saturating_sub(1)));
                }
                if pressed(i, Key::ArrowRight) {
                    cmds.push(Cmd::FocusCompare(self.compare_focus() + 1));
                }
                return;
            }
            if pressed(i, Key::ArrowRight) {
                cmds.push(Cmd::Step(1, shift));
            }
            if pressed(i, Key::ArrowLeft) {
                cmds.push(Cmd::Step(-1, shift));
            }
            if self.mode == ViewMode::Grid {
                if pressed(i, Key::ArrowDown) {
                    cmds.push(Cmd::Step(cols as isize, shift));
                }
                if pressed(i, Key::ArrowUp) {
                    cmds.push(Cmd::Step(-(cols as isize), shift));
                }
            }
            if pressed(i, Key::Home) {
                cmds.push(Cmd::Home(shift));
            }
            if pressed(i, Key::End) {
                cmds.push(Cmd::End(shift));
            }
        });
        ctx.input_mut(|i| {
            if i.consume_key(Modifiers::COMMAND, Key::A)
                && let Some(c) = self.coll.as_mut()
            {
                c.sel.selected = c.view_ids.iter().copied().collect();
            }
        });
        self.cmds.extend(cmds);
    }

    fn compare_focus(&self) -> usize {
        self.coll.as_ref().map_or(0, |c| c.compare_focus)
    }

    /// Columns of the grid at the current size (set by the grid view each frame).
    fn grid_columns(&self) -> usize {
        self.coll.as_ref().map_or(1, |c| c.grid_cols.max(1))
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
            .compare_ids
            .get(c.compare_focus)
            .copied()
            .into_iter()
            .collect(),
        ViewMode::Detail => c.sel.cursor.into_iter().collect(),
        ViewMode::Grid
        | ViewMode::Pareto
        | ViewMode::Policy
        | ViewMode::Scorers
        | ViewMode::Monitor
        | ViewMode::Label => c.sel.targets(),
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
        (b, a) if b.status != a.status => a.status.clone(),
        (_, a) => format!(
            "rating {}",
            a.rating.map_or("none".into(), |r| r.to_string())
        ),
    };
    ch.label = format!("{what} {}", ch.label);
    c.write_flags(flags, None);
    c.history.push(ch);
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
            c.textures.next_frame();
            c.refresh_view(&self.settings.filters, &self.settings.sort);
        }
        panels::top_bar(self, ui);
        panels::status_bar(self, ui);
        if self.coll.is_some() {
            if self.settings.show_filters && matches!(self.mode, ViewMode::Grid | ViewMode::Pareto)
            {
                panels::filters_panel(self, ui);
            }
            // Labeling is blind: no names or signals on screen. The monitor needs the width.
            if self.settings.show_inspector
                && !matches!(self.mode, ViewMode::Label | ViewMode::Monitor)
            {
                panels::inspector(self, ui);
            }
        }
        egui::CentralPanel::default().show(ui, |ui| match self.coll.is_some() {
            false => panels::welcome(self, ui),
            true => match self.mode {
                ViewMode::Grid => views::grid(self, ui),
                ViewMode::Detail => views::detail(self, ui),
                ViewMode::Compare => views::compare(self, ui),
                ViewMode::Label => labeling::view(self, ui),
                ViewMode::Pareto => pareto::show(self, ui),
                ViewMode::Policy => policy_editor::show(self, ui),
                ViewMode::Scorers => scorers::show(self, ui),
                ViewMode::Monitor => monitor::show(self, ui),
            },
        });
        if self.show_help {
            panels::help_overlay(self, &ctx);
        }
        panels::export_dialog(self, &ctx);
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
        if changed_view && let Some(c) = self.coll.as_mut() {
            // Re-filter only when a status filter could hide the image just flagged.
            if self.settings.filters.statuses.iter().any(|s| !s)
                || self.settings.filters.dup_group.is_some()
            {
                c.view_dirty = true;
            }
        }
        if let Some(c) = &self.coll
            && (!c.idle() || c.scanning())
        {
            ctx.request_repaint_after(Duration::from_millis(200));
        }
        self.take_screenshot_when_ready(&ctx);
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
    };
    eframe::run_native(
        "Assay",
        options,
        Box::new(|cc| Ok(Box::new(App::new(cc, opts)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
