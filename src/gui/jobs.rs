//! Background work of the workbench: the database worker (reads rows, appends decisions), the
//! scan job, full-resolution decoding and export. Every worker reports through one channel of
//! [`Event`]s that the UI drains once per frame; the UI thread never decodes or queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui;
use rayon::prelude::*;

use super::Rows;
use super::model::{self, Filters, Sort};
use crate::catalog::decode::{DecodeConfig, decode};
use crate::export::{self, Fate, ManifestFormat, Mode, Source};
use crate::pipeline::{self, Progress, ScanOptions, ScanSummary};
use crate::store::{ImageRow, NewDecision, Store};

/// Something a worker finished.
pub enum Event {
    /// The collection's current rows (all of them, replacing what the UI had), their id
    /// index, and the sequence number of the last decision batch committed before they were
    /// read.
    Rows(Rows, Arc<HashMap<i64, usize>>, u64),
    /// A computed view (filters and sort over a snapshot of the rows).
    View(Box<ViewResult>),
    /// A histogram of one column over the rows `rows_id`.
    Hist(u64, String, Option<(f64, f64, Vec<u32>)>),
    /// The raw metadata carriers and warnings of one image (the inspector).
    Raw(i64, Result<Option<(String, String)>, String>),
    /// Decision batch `seq` was committed with this many rows (0: it failed).
    Written(u64, usize),
    ScanDone(Result<Box<ScanSummary>, String>),
    /// A full-resolution (or texture-limited) image: id, pixels or the reason it failed,
    /// and whether it was downscaled to fit the texture limit.
    Full(i64, Result<(egui::ColorImage, bool), String>),
    ExportDone(Result<ExportReport, String>),
    Error(String),
    /// Labeling: stored events, appends, gold images, scores, reports.
    Label(super::labeling_jobs::LabelMsg),
    /// A policy plan for the editor (its text generation).
    PolicyPlan(
        u64,
        Result<std::sync::Arc<crate::selection::plan::Plan>, String>,
    ),
    /// The policy editor's calibration finished.
    PolicyCalibrated(super::policy_evidence::Calibrated),
    /// Best-of-N curves and selector efficiency for the policy editor (request token).
    PolicyEvidence(u64, Result<Arc<super::policy_evidence::Evidence>, String>),
    /// A policy was applied: its name and the decisions appended.
    PolicyApplied(Result<(String, usize), String>),
    /// The preference-scorer versions.
    Scorers(Result<Vec<crate::store::ScorerRow>, String>),
    /// A training or activation job finished (what it did, or why it failed).
    ScorerJob(Result<String, String>),
    /// A batch-monitor computation (its generation).
    Monitor(
        u64,
        Result<std::sync::Arc<super::monitor::MonitorResult>, String>,
    ),
    /// The monitor's HTML report was written (its path), or why not.
    MonitorReport(Result<PathBuf, String>),
}

/// What an export did.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    pub exported: usize,
    pub already: usize,
    pub failed: Vec<(String, String)>,
    pub cancelled: bool,
    pub to: PathBuf,
}

/// Sends events and wakes the UI.
#[derive(Clone)]
pub struct Outbox {
    tx: Sender<Event>,
    ctx: egui::Context,
}

impl Outbox {
    pub fn new(ctx: egui::Context) -> (Self, Receiver<Event>) {
        let (tx, rx) = channel();
        (Self { tx, ctx }, rx)
    }
    pub fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        self.ctx.request_repaint();
    }
}

/// Spawns a named thread (threads are named so that crash reports and profilers say which).
pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_string()).spawn(f) {
        eprintln!("assay: cannot start the {name} thread: {e}");
    }
}

/// Commands of the database worker.
pub enum DbCmd {
    Reload,
    /// The raw metadata of one image.
    Raw(i64),
    /// Rows the UI no longer shows: freed here, not on the UI thread (a million rows take
    /// tens of milliseconds to free).
    Drop(Rows),
    /// A batch of decisions with its sequence number.
    Decide(u64, Vec<NewDecision>),
    /// Labeling: load events and raters, add a rater, append label events.
    Label(super::labeling_jobs::LabelDb),
    /// Record a policy version and append its decisions.
    ApplyPolicy {
        name: String,
        hash: String,
        text: String,
        decisions: Vec<NewDecision>,
    },
}

/// The one thread that talks to SQLite for the UI. Commands run in order, so a reload after a
/// decision sees it.
pub struct DbWorker {
    tx: Sender<DbCmd>,
}

impl DbWorker {
    pub fn start(db: PathBuf, out: Outbox) -> Self {
        let (tx, rx) = channel::<DbCmd>();
        spawn("assay-db", move || {
            let mut store: Option<Store> = None;
            let mut done: u64 = 0;
            for cmd in rx {
                if store.is_none() {
                    // On read-only storage (or a damaged catalogue) the collection can still be
                    // browsed: the reason is shown once, and writes fail with it.
                    let opened = Store::open(&db).or_else(|e| match e {
                        crate::store::Error::ReadOnly { .. }
                        | crate::store::Error::Damaged { .. } => {
                            out.send(Event::Error(format!("{e}")));
                            Store::open_for_reading(&db)
                        }
                        e => Err(e),
                    });
                    match opened {
                        Ok(s) => store = Some(s),
                        Err(e) => {
                            out.send(Event::Error(format!(
                                "cannot open the database {}: {e}",
                                db.display()
                            )));
                            if let DbCmd::Decide(seq, _) = cmd {
                                // Keep the UI's pending count honest: nothing was written.
                                out.send(Event::Written(seq, 0));
                            }
                            if let DbCmd::Label(c) = &cmd {
                                super::labeling_jobs::db_unavailable(c, &out);
                            }
                            if let DbCmd::Raw(id) = cmd {
                                out.send(Event::Raw(id, Err("no database".into())));
                            }
                            continue;
                        }
                    }
                }
                let Some(s) = store.as_mut() else { continue };
                match cmd {
                    DbCmd::Reload => match s.image_rows_shared(false) {
                        Ok(rows) => {
                            let index = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
                            out.send(Event::Rows(Arc::new(rows), Arc::new(index), done));
                        }
                        Err(e) => out.send(Event::Error(format!("cannot read the catalogue: {e}"))),
                    },
                    DbCmd::Raw(id) => {
                        out.send(Event::Raw(
                            id,
                            s.raw_metadata(id).map_err(|e| e.to_string()),
                        ));
                    }
                    DbCmd::Drop(rows) => drop(rows),
                    DbCmd::ApplyPolicy {
                        name,
                        hash,
                        text,
                        decisions,
                    } => {
                        let r = s
                            .record_policy(&name, &hash, &text)
                            .and_then(|_| s.append_decisions(&decisions))
                            .map(|()| (name, decisions.len()))
                            .map_err(|e| e.to_string());
                        out.send(Event::PolicyApplied(r));
                    }
                    DbCmd::Decide(seq, rows) => {
                        let n = rows.len();
                        match s.append_decisions(&rows) {
                            Ok(()) => {
                                done = seq;
                                out.send(Event::Written(seq, n));
                            }
                            Err(e) => {
                                out.send(Event::Error(format!("decisions NOT saved ({n}): {e}")));
                                out.send(Event::Written(seq, 0));
                            }
                        }
                    }
                    DbCmd::Label(c) => super::labeling_jobs::run_db(s, c, &out),
                }
            }
        });
        Self { tx }
    }

    pub fn send(&self, cmd: DbCmd) {
        let _ = self.tx.send(cmd);
    }
}

/// A view to compute: filters and sort over a snapshot of the rows.
pub struct ViewReq {
    pub generation: u64,
    pub rows_id: u64,
    pub rows: Rows,
    pub filters: Filters,
    pub sort: Sort,
}

/// What the grid shows for one request: row indices in order, their ids, each row's position
/// (`u32::MAX` when hidden), the expression error, and the per-status counts and tools of
/// all rows (the filter bar).
pub struct ViewResult {
    pub generation: u64,
    pub rows_id: u64,
    pub view: Vec<usize>,
    pub view_ids: Vec<i64>,
    pub positions: Vec<u32>,
    pub error: Option<String>,
    pub counts: [usize; 4],
    pub tools: Vec<String>,
    /// Time to compute, seconds.
    pub seconds: f64,
}

/// Computes a view (on the view thread, or inline for small collections).
pub fn compute_view(req: &ViewReq) -> ViewResult {
    let t = std::time::Instant::now();
    let rows = &req.rows[..];
    let (view, error) = model::compute_view(rows, &req.filters, &req.sort);
    let view_ids: Vec<i64> = view.par_iter().map(|&i| rows[i].id).collect();
    let mut positions = vec![u32::MAX; rows.len()];
    for (p, &i) in view.iter().enumerate() {
        positions[i] = p as u32;
    }
    ViewResult {
        generation: req.generation,
        rows_id: req.rows_id,
        view,
        view_ids,
        positions,
        error,
        counts: model::status_counts(rows),
        tools: model::tools(rows),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// The view thread: computes the newest request only (older ones waiting are skipped), so
/// typing in the search field never queues work; the UI keeps the previous view meanwhile.
pub struct ViewWorker {
    tx: Sender<ViewReq>,
}

impl ViewWorker {
    pub fn start(out: Outbox) -> Self {
        let (tx, rx) = channel::<ViewReq>();
        spawn("assay-view", move || {
            while let Ok(mut req) = rx.recv() {
                while let Ok(newer) = rx.try_recv() {
                    req = newer;
                }
                let r = compute_view(&req);
                // The snapshot may be the last reference to replaced rows: free them here.
                drop(req);
                out.send(Event::View(Box::new(r)));
            }
        });
        Self { tx }
    }

    pub fn send(&self, req: ViewReq) {
        let _ = self.tx.send(req);
    }
}

/// Computes a histogram of `key` over `rows` on a short-lived thread.
pub fn histogram(rows: Rows, rows_id: u64, key: String, bins: usize, out: Outbox) {
    spawn("assay-hist", move || {
        let h = model::histogram(&rows[..], &key, bins);
        drop(rows);
        out.send(Event::Hist(rows_id, key, h));
    });
}

/// A running scan: its progress and cancel flag.
pub struct ScanJob {
    pub progress: Arc<Progress>,
    pub cancel: Arc<AtomicBool>,
}

impl ScanJob {
    pub fn start(opts: ScanOptions, out: Outbox) -> Self {
        let progress = Arc::new(Progress::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let (p, c) = (progress.clone(), cancel.clone());
        spawn("assay-scan", move || {
            let r = pipeline::scan(&opts, &p, &c)
                .map(Box::new)
                .map_err(|e| e.to_string());
            p.finish();
            out.send(Event::ScanDone(r));
        });
        Self { progress, cancel }
    }
}

/// Decodes full images off the UI thread, one at a time, newest request first.
pub struct FullLoader {
    tx: Sender<(i64, PathBuf, usize)>,
}

impl FullLoader {
    pub fn start(out: Outbox) -> Self {
        let (tx, rx) = channel::<(i64, PathBuf, usize)>();
        spawn("assay-full", move || {
            while let Ok(mut req) = rx.recv() {
                // Skip to the newest request: arrowing through images must not queue decodes.
                while let Ok(newer) = rx.try_recv() {
                    req = newer;
                }
                let (id, path, max_side) = req;
                out.send(Event::Full(id, load_full(&path, max_side)));
            }
        });
        Self { tx }
    }
    pub fn request(&self, id: i64, path: PathBuf, max_side: usize) {
        let _ = self.tx.send((id, path, max_side));
    }
}

/// Decodes `path` (pixel limit, orientation) and downscales it to `max_side` when larger.
pub fn load_full(path: &Path, max_side: usize) -> Result<(egui::ColorImage, bool), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let d = decode(&bytes, &DecodeConfig::default()).map_err(|e| e.to_string())?;
    let mut img = d.image;
    let max_side = max_side.max(64) as u32;
    let scaled = img.width() > max_side || img.height() > max_side;
    if scaled {
        img = img.resize(max_side, max_side, image::imageops::FilterType::Triangle);
    }
    Ok((to_color_image(&img), scaled))
}

/// RGBA pixels for egui.
pub fn to_color_image(img: &image::DynamicImage) -> egui::ColorImage {
    let rgba = img.to_rgba8();
    let size = [rgba.width() as usize, rgba.height() as usize];
    egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw())
}

/// Settings of one export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub to: PathBuf,
    pub mode: Mode,
    pub xmp: bool,
    pub manifest: Option<ManifestFormat>,
}

/// A running export.
pub struct ExportJob {
    pub progress: Arc<Progress>,
    pub cancel: Arc<AtomicBool>,
}

impl ExportJob {
    /// Exports `rows` (their files under `root`) as `req` says; the manifest's raw metadata
    /// is read from the database `db`.
    pub fn start(
        root: PathBuf,
        db: PathBuf,
        mut rows: Vec<ImageRow>,
        req: ExportRequest,
        out: Outbox,
    ) -> Self {
        let progress = Arc::new(Progress::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let (p, c) = (progress.clone(), cancel.clone());
        spawn("assay-export", move || {
            p.set_phase("export");
            p.set_total(rows.len() as u64);
            let sources: Vec<Source> = rows
                .iter()
                .map(|r| Source {
                    path: export::absolute_path(&root, r),
                    rel: r.path.clone(),
                    status: r.status.unwrap_or(crate::domain::Status::None),
                    rating: r.decision_rating,
                    prompt: r.positive.as_deref().map(str::to_string),
                })
                .collect();
            let mut last = 0;
            let res = export::export(&sources, &req.to, req.mode, req.xmp, |done| {
                p.advance((done - last) as u64, 0);
                last = done;
                !c.load(Ordering::Relaxed)
            });
            let report = res.map_err(|e| e.to_string()).and_then(|results| {
                if let Some(fmt) = req.manifest {
                    // The grid's rows carry no raw metadata; the manifest has every column.
                    Store::open(&db)
                        .and_then(|s| s.load_raw(&mut rows))
                        .map_err(|e| format!("manifest: {e}"))?;
                    export::write_manifest(&req.to, fmt, &results, &rows)
                        .map_err(|e| format!("manifest: {e:#}"))?;
                }
                Ok(ExportReport {
                    exported: results.iter().filter(|e| e.fate == Fate::Exported).count(),
                    already: results
                        .iter()
                        .filter(|e| e.fate == Fate::AlreadyExported)
                        .count(),
                    failed: results
                        .iter()
                        .filter_map(|e| match &e.fate {
                            Fate::Failed(w) => Some((e.rel.clone(), w.clone())),
                            _ => None,
                        })
                        .collect(),
                    cancelled: results.len() < sources.len(),
                    to: req.to.clone(),
                })
            });
            p.finish();
            out.send(Event::ExportDone(report));
        });
        Self { progress, cancel }
    }
}
