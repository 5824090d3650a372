//! The batch-monitoring dashboard (View -> Batch monitor, key M): the collection split into
//! batches (sub-folder, scan day or a metadata column), each batch's N, per-signal means with
//! 95 % intervals, a ridgeline of the chosen signal, KS / PSI drift against a baseline batch
//! (drifted batches in red), the review-band share per batch and human-vs-policy agreement per
//! batch. "Export report" writes the same self-contained HTML as `assay monitor --format html`.
//!
//! The computation is `crate::monitor` (shared with the CLI): a short-lived `assay-monitor`
//! thread groups a copy of the rows (plus the human/policy status pairs read through the store
//! API on its own connection) and evaluates the drift tests; a generation counter drops stale
//! results, and the last result stays on screen while a new one is computed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Bar, BarChart, GridInput, GridMark, HLine, Line, Plot, PlotPoints, Points};

use super::jobs::{Event, Outbox, spawn};
use super::latest::Latest;
use super::{Cmd, ViewCtx};
use crate::monitor::{self, Batch, BatchReport, MonitorReport, Thresholds, finite};
use crate::store::Store;

use super::theme::{BASELINE as BASE, DRIFT, NO_DRIFT as OK};

/// One finished computation.
#[derive(Debug)]
pub struct MonitorResult {
    pub by: String,
    pub baseline: String,
    pub keys: Vec<String>,
    pub batches: BTreeMap<String, Batch>,
    /// `monitor::evaluate`'s report (what the CLI prints as JSON).
    pub report: MonitorReport,
}

impl MonitorResult {
    /// The report's entry for batch `name`.
    pub fn batch(&self, name: &str) -> Option<&BatchReport> {
        self.report.batches.iter().find(|b| b.batch == name)
    }

    /// Whether batch `name` drifted on `key` (`None` for the baseline, an unknown batch or an
    /// unknown signal).
    pub fn drifted(&self, name: &str, key: &str) -> Option<bool> {
        self.batch(name)?.signals.get(key)?.drift
    }
}

/// View state.
pub struct MonitorState {
    /// Batch field (`folder`, `scan_date` or a column).
    pub by: String,
    /// Chosen baseline batch (`None`: the first batch).
    pub baseline: Option<String>,
    /// Signal of the means plot, the ridgeline and the drift table.
    pub signal: Option<String>,
    pub thresholds: Thresholds,
    /// Where "Export report" writes (first shown: next to the database).
    pub report_path: String,
    report_path_set: bool,
    /// Last result received (kept on screen while recomputing).
    pub result: Option<Arc<MonitorResult>>,
    pub error: Option<String>,
    generation: Latest,
    received: u64,
    /// (by, baseline, thresholds, rows generation, last committed decision batch) of the
    /// last request.
    requested: Option<(String, Option<String>, Thresholds, u64, u64)>,
    pub exporting: bool,
}

impl Default for MonitorState {
    fn default() -> Self {
        Self {
            by: monitor::FOLDER.to_string(),
            baseline: None,
            signal: None,
            thresholds: Thresholds::default(),
            report_path: String::new(),
            report_path_set: false,
            result: None,
            error: None,
            generation: Latest::default(),
            received: 0,
            requested: None,
            exporting: false,
        }
    }
}

impl MonitorState {
    /// Forgets everything of the previous collection; the generation keeps counting, so a
    /// result still in flight for it is dropped.
    pub fn reset(&mut self) {
        let generation = self.generation;
        *self = Self::default();
        self.generation = generation;
        self.received = generation.current();
    }

    /// Whether the result on screen answers the latest request.
    pub fn up_to_date(&self) -> bool {
        self.requested.is_some() && self.generation.is_current(self.received)
    }

    /// A result of computation `generation` (older ones are dropped).
    pub fn receive(&mut self, generation: u64, r: Result<Arc<MonitorResult>, String>) {
        if !self.generation.is_current(generation) {
            return;
        }
        self.received = generation;
        match r {
            Ok(res) => {
                self.error = None;
                if self.signal.as_ref().is_none_or(|s| !res.keys.contains(s)) {
                    self.signal = res.keys.first().cloned();
                }
                self.result = Some(res);
            }
            Err(e) => {
                self.error = Some(e);
                self.result = None;
            }
        }
    }
}

/// Starts a computation on the `assay-monitor` thread.
fn compute(
    rows: super::Rows,
    db: PathBuf,
    by: String,
    baseline: Option<String>,
    t: Thresholds,
    generation: u64,
    out: Outbox,
) {
    spawn("assay-monitor", move || {
        let r = (|| -> Result<MonitorResult, String> {
            let rows = super::owned_rows(&rows);
            // Human and policy decisions are in the store only (the rows hold the latest).
            let pairs = Store::open(&db)
                .and_then(|s| s.human_policy_statuses())
                .map_err(|e| format!("cannot read the decisions: {e}"))?;
            let keys = monitor::present_keys(&rows);
            let batches = monitor::group(&rows, &pairs, &by, &keys);
            let baseline = baseline
                .filter(|b| batches.contains_key(b))
                .or_else(|| batches.keys().next().cloned())
                .ok_or_else(|| "no images in the collection yet".to_string())?;
            let report = monitor::evaluate(&by, &baseline, &keys, &batches, &t);
            Ok(MonitorResult {
                by,
                baseline,
                keys,
                batches,
                report,
            })
        })();
        out.send(Event::Monitor(generation, r.map(Arc::new)));
    });
}

/// Writes the HTML report of `res` to `path` on a background thread.
fn export(res: Arc<MonitorResult>, path: PathBuf, out: Outbox) {
    spawn("assay-monitor-report", move || {
        let html = monitor::render_html(&res.report, &res.batches, &res.keys);
        let r = std::fs::write(&path, html)
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write {}: {e}", path.display()));
        out.send(Event::MonitorReport(r));
    });
}

fn default_report_path(db: &std::path::Path, by: &str) -> PathBuf {
    db.parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
        .join(format!("monitor-{by}.html"))
}

fn signal_label(key: &str) -> String {
    crate::signals::get(key).map_or_else(|| key.to_string(), |d| d.label.to_string())
}

fn combo(
    ui: &mut egui::Ui,
    id: &str,
    accessible: &str,
    selected: &str,
    items: &[(String, String)],
) -> Option<String> {
    let mut chosen = None;
    egui::ComboBox::from_id_salt(id)
        .selected_text(selected)
        .height(400.0)
        .show_ui(ui, |ui| {
            for (value, text) in items {
                if ui.selectable_label(selected == text, text).clicked() {
                    chosen = Some(value.clone());
                }
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, accessible));
    chosen
}

/// Integer grid marks (batch positions) for a categorical axis.
fn batch_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let lo = lo.ceil().max(0.0) as i64;
    let hi = hi.floor() as i64;
    (lo..=hi)
        .map(|i| GridMark {
            value: i as f64,
            step_size: 1.0,
        })
        .collect()
}

/// A fixed plot with one categorical x position per batch, named on the axis.
fn batch_axis_plot(id: &str, height: f32, names: &[String], y_label: String) -> Plot<'static> {
    let owned = names.to_vec();
    Plot::new(id)
        .height(height)
        .x_grid_spacer(batch_marks)
        .include_x(-0.5)
        .include_x(names.len() as f64 - 0.5)
        .x_axis_formatter(move |m, _| name_at(&owned, m.value))
        .y_axis_label(y_label)
        .allow_drag(false)
        .allow_scroll(false)
}

fn name_at(names: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    names.get(i as usize).cloned().unwrap_or_default()
}

fn fmt_p(p: Option<f64>) -> String {
    finite(p).map_or_else(|| "n/a".into(), |p| format!("{p:.2e}"))
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    finite(v).map_or_else(|| "n/a".into(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    finite(v).map_or_else(|| "n/a".into(), |x| format!("{:.1} %", 100.0 * x))
}

/// The monitor view: batch field, baseline and signal; drift thresholds and report export;
/// the batch tables and plots of the latest result.
pub fn show(cx: ViewCtx<'_>, st: &mut MonitorState, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    let c = &*cx.coll;
    request_compute(ui, st, c, cx.out);
    let busy = !st.up_to_date();
    ui.horizontal_wrapped(|ui| choices_row(ui, st, busy, &mut cmds));
    ui.horizontal_wrapped(|ui| {
        thresholds(ui, st);
        ui.separator();
        report_export(ui, st, &c.db, cx.out);
    });
    ui.separator();
    if let Some(e) = &st.error {
        ui.colored_label(DRIFT, e);
    }
    let Some(res) = st.result.clone() else {
        if st.error.is_none() {
            ui.weak("Computing the batches...");
        }
        cx.cmds.extend(cmds);
        return;
    };
    let signal = st.signal.clone();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| results(ui, &res, signal.as_deref()));
    cx.cmds.extend(cmds);
}

/// Starts a computation when the inputs or the rows changed. Agreement reads the decisions
/// from the store, so a flag made here waits until the database worker has committed it.
fn request_compute(ui: &egui::Ui, st: &mut MonitorState, c: &super::Collection, out: &Outbox) {
    let key = (
        st.by.clone(),
        st.baseline.clone(),
        st.thresholds,
        c.catalogue.rows_generation,
        c.catalogue.done_seq,
    );
    // While a threshold is being dragged (pointer held) nothing is started: one computation
    // follows the release instead of one per frame.
    let dragging = ui.ctx().input(|i| i.pointer.any_down());
    if c.catalogue.loaded
        && c.pending_writes() == 0
        && !dragging
        && st.requested.as_ref() != Some(&key)
    {
        st.requested = Some(key);
        let generation = st.generation.next();
        compute(
            c.catalogue.rows.clone(),
            c.db.clone(),
            st.by.clone(),
            st.baseline.clone(),
            st.thresholds,
            generation,
            out.clone(),
        );
    }
}

/// Back to the grid, and the choice of batch field, baseline batch and signal.
fn choices_row(ui: &mut egui::Ui, st: &mut MonitorState, busy: bool, cmds: &mut Vec<Cmd>) {
    if ui.button("Back to grid").clicked() {
        cmds.push(Cmd::ShowGrid);
    }
    ui.separator();
    ui.label(RichText::new("Batch monitor").strong());
    ui.label("batch by");
    let fields: Vec<(String, String)> = monitor::batch_fields()
        .into_iter()
        .map(|f| (f.to_string(), f.to_string()))
        .collect();
    if let Some(by) = combo(ui, "monitor-by", "Batch by", &st.by, &fields)
        && by != st.by
    {
        st.by = by;
        st.baseline = None;
    }
    ui.label("baseline");
    let names: Vec<(String, String)> = st
        .result
        .as_ref()
        .map(|r| r.batches.keys().map(|k| (k.clone(), k.clone())).collect())
        .unwrap_or_default();
    let shown = st
        .result
        .as_ref()
        .map_or_else(String::new, |r| r.baseline.clone());
    if let Some(b) = combo(ui, "monitor-baseline", "Baseline batch", &shown, &names) {
        st.baseline = Some(b);
    }
    ui.label("signal");
    let keys: Vec<(String, String)> = st
        .result
        .as_ref()
        .map(|r| {
            r.keys
                .iter()
                .map(|k| (k.clone(), signal_label(k)))
                .collect()
        })
        .unwrap_or_default();
    let shown = st.signal.as_deref().map(signal_label).unwrap_or_default();
    if let Some(k) = combo(ui, "monitor-signal", "Signal", &shown, &keys) {
        st.signal = Some(k);
    }
    if busy {
        ui.spinner();
        ui.weak("computing...");
    }
}

/// The drift rule's thresholds: KS p-value, PSI and PSI bins.
fn thresholds(ui: &mut egui::Ui, st: &mut MonitorState) {
    let l = ui.label("Drift: KS p <");
    ui.add(
        egui::DragValue::new(&mut st.thresholds.alpha)
            .range(1e-6..=0.5)
            .speed(0.001),
    )
    .labelled_by(l.id);
    let l = ui.label("or PSI >=");
    ui.add(
        egui::DragValue::new(&mut st.thresholds.psi)
            .range(0.01..=5.0)
            .speed(0.01),
    )
    .labelled_by(l.id);
    let l = ui.label("PSI bins");
    ui.add(egui::DragValue::new(&mut st.thresholds.bins).range(2..=50))
        .labelled_by(l.id);
}

/// The report file (default next to the database), Browse and Export report.
fn report_export(ui: &mut egui::Ui, st: &mut MonitorState, db: &std::path::Path, out: &Outbox) {
    if !st.report_path_set {
        st.report_path = default_report_path(db, &st.by).display().to_string();
        st.report_path_set = true;
    }
    ui.label("report");
    ui.add(egui::TextEdit::singleline(&mut st.report_path).desired_width(260.0))
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Report file"));
    if ui.button("Browse...").clicked()
        && let Some(p) = rfd::FileDialog::new()
            .add_filter("HTML", &["html"])
            .set_file_name(format!("monitor-{}.html", st.by))
            .save_file()
    {
        st.report_path = p.display().to_string();
    }
    let can = st.result.is_some() && !st.exporting && !st.report_path.trim().is_empty();
    if ui
        .add_enabled(can, egui::Button::new("Export report"))
        .on_hover_text(
            "self-contained HTML with the tables and plots (as assay monitor --format html)",
        )
        .clicked()
        && let Some(res) = st.result.clone()
    {
        st.exporting = true;
        export(res, PathBuf::from(st.report_path.trim()), out.clone());
    }
}

/// The batches table, the chosen signal's table and plots, review share and agreement.
fn results(ui: &mut egui::Ui, res: &MonitorResult, signal: Option<&str>) {
    batches_table(ui, res);
    if res.batches.len() < 2 {
        ui.weak(format!(
            "Only one batch by {}: choose another field to compare batches.",
            res.by
        ));
    }
    if res.keys.is_empty() {
        ui.weak("No numeric signal has values yet (scan the collection first).");
    }
    if let Some(key) = signal {
        ui.add_space(8.0);
        ui.label(RichText::new(format!("{} by batch", signal_label(key))).strong());
        signal_table(ui, res, key);
        ui.columns(2, |cols| {
            means_plot(&mut cols[0], res, key);
            ridgeline(&mut cols[1], res, key);
        });
    }
    ui.add_space(8.0);
    ui.columns(2, |cols| {
        review_plot(&mut cols[0], res);
        agreement_plot(&mut cols[1], res);
    });
    ui.weak(&res.report.drift_rule);
}

fn batch_names(res: &MonitorResult) -> Vec<String> {
    res.batches.keys().cloned().collect()
}

fn batches_table(ui: &mut egui::Ui, res: &MonitorResult) {
    ui.label(RichText::new(format!("Batches by {} (baseline {})", res.by, res.baseline)).strong());
    egui::Grid::new("monitor-batches")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in [
                "batch",
                "N",
                "review rate",
                "human-policy agreement",
                "drift vs baseline",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for b in &res.report.batches {
                let name = b.batch.as_str();
                let base = b.baseline;
                let drifted = &b.drifted_signals;
                let colour = if base {
                    BASE
                } else if drifted.is_empty() {
                    ui.visuals().text_color()
                } else {
                    DRIFT
                };
                let drift_text = if base {
                    "baseline".to_string()
                } else if drifted.is_empty() {
                    "no drift".to_string()
                } else {
                    format!("DRIFT on {}", drifted.join(", "))
                };
                // One accessible summary per row (screen readers and the GUI test).
                let summary = format!("batch {name}: N {}, {drift_text}", b.n);
                ui.colored_label(colour, name)
                    .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &summary));
                ui.monospace(b.n.to_string());
                ui.monospace(format!("{} ({})", pct(b.review_rate), b.review));
                let hp = &b.human_policy;
                ui.monospace(if hp.n == 0 {
                    "no pairs".to_string()
                } else {
                    format!("{} of {}", pct(hp.agreement), hp.n)
                });
                ui.colored_label(colour, drift_text);
                ui.end_row();
            }
        });
}

fn signal_table(ui: &mut egui::Ui, res: &MonitorResult, key: &str) {
    egui::Grid::new("monitor-signal")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in [
                "batch",
                "n",
                "mean [95% CI]",
                "KS D",
                "KS p",
                "PSI",
                "drift",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for b in &res.report.batches {
                // Every batch has every monitored signal (`key` is one of them).
                let Some(s) = b.signals.get(key) else {
                    continue;
                };
                let (text, colour) = match s.drift {
                    Some(true) => ("DRIFT", DRIFT),
                    Some(false) => ("ok", OK),
                    None => ("baseline", BASE),
                };
                let name = b.batch.as_str();
                let summary = format!("{name} on {key}: {text}");
                ui.colored_label(colour, name)
                    .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &summary));
                ui.monospace(s.n.to_string());
                let [lo, hi] = monitor::ends(s.ci95);
                ui.monospace(format!(
                    "{} [{}, {}]",
                    fmt(s.mean, 4),
                    fmt(lo, 4),
                    fmt(hi, 4)
                ));
                ui.monospace(fmt(s.ks.map(|k| k.statistic), 3));
                ui.monospace(fmt_p(s.ks.map(|k| k.p_value)));
                ui.monospace(fmt(s.psi, 3));
                ui.colored_label(colour, text);
                ui.end_row();
            }
        });
}

fn batch_colour(res: &MonitorResult, name: &str, key: Option<&str>) -> Color32 {
    if name == res.baseline {
        return BASE;
    }
    let drifted = match key {
        Some(k) => res.drifted(name, k) == Some(true),
        None => res
            .batch(name)
            .is_some_and(|b| !b.drifted_signals.is_empty()),
    };
    if drifted { DRIFT } else { OK }
}

/// Means with 95 % interval bars per batch, the baseline's interval as a band.
fn means_plot(ui: &mut egui::Ui, res: &MonitorResult, key: &str) {
    ui.label("Mean with 95 % interval per batch");
    let names = batch_names(res);
    batch_axis_plot("monitor-means", 220.0, &names, signal_label(key)).show(ui, |pu| {
        if let Some(s) = res.batch(&res.baseline).and_then(|b| b.signals.get(key)) {
            for v in monitor::ends(s.ci95).into_iter().flatten() {
                pu.hline(
                    HLine::new("baseline interval", v)
                        .color(BASE.gamma_multiply(0.6))
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
        }
        for (i, name) in names.iter().enumerate() {
            let Some(s) = res.batch(name).and_then(|b| b.signals.get(key)) else {
                continue;
            };
            let col = batch_colour(res, name, Some(key));
            let x = i as f64;
            if let [Some(lo), Some(hi)] = monitor::ends(s.ci95) {
                pu.line(
                    Line::new(name.clone(), PlotPoints::from(vec![[x, lo], [x, hi]]))
                        .color(col)
                        .width(2.0),
                );
                for y in [lo, hi] {
                    pu.line(
                        Line::new(
                            name.clone(),
                            PlotPoints::from(vec![[x - 0.1, y], [x + 0.1, y]]),
                        )
                        .color(col)
                        .width(2.0),
                    );
                }
            }
            if let Some(m) = finite(s.mean) {
                pu.points(
                    Points::new(name.clone(), PlotPoints::from(vec![[x, m]]))
                        .color(col)
                        .radius(4.0)
                        .filled(true),
                );
            }
        }
    });
}

/// One filled density outline per batch, stacked (a ridgeline), on common bins.
fn ridgeline(ui: &mut egui::Ui, res: &MonitorResult, key: &str) {
    ui.label("Distribution per batch (share per bin, common bins)");
    let Some(h) = monitor::histograms(key, &res.batches, 30) else {
        ui.weak("No values of this signal.");
        return;
    };
    let names = batch_names(res);
    let n2 = names.clone();
    let top = h.top();
    let bins = h.batches.first().map_or(1, |b| b.2.len());
    let width = if h.hi > h.lo { h.hi - h.lo } else { 1.0 };
    Plot::new("monitor-ridgeline")
        .height(220.0)
        .y_grid_spacer(batch_marks)
        .include_y(-0.1)
        .include_y(names.len() as f64)
        .y_axis_formatter(move |m, _| name_at(&n2, m.value))
        .x_axis_label(signal_label(key))
        .allow_drag(false)
        .allow_scroll(false)
        .show(ui, |pu| {
            for (i, name, shares) in &h.batches {
                let y0 = *i as f64;
                let col = batch_colour(res, name, Some(key));
                let step = width / bins as f64;
                let centre = |k: usize| h.lo + (k as f64 + 0.5) * step;
                // Bars standing on the batch's own baseline, and their outline.
                let bars = shares
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(k, v)| {
                        Bar::new(centre(k), 0.9 * v / top)
                            .base_offset(y0)
                            .width(step)
                            .fill(col.gamma_multiply(0.35))
                            .stroke(egui::Stroke::NONE)
                    })
                    .collect();
                pu.bar_chart(BarChart::new(name.clone(), bars).color(col));
                let outline: Vec<[f64; 2]> = shares
                    .iter()
                    .enumerate()
                    .map(|(k, v)| [centre(k), y0 + 0.9 * v / top])
                    .collect();
                pu.line(
                    Line::new(name.clone(), PlotPoints::from(outline))
                        .color(col)
                        .width(1.5),
                );
            }
        });
}

/// Share of each batch in the review band, with Wilson intervals.
fn review_plot(ui: &mut egui::Ui, res: &MonitorResult) {
    ui.label("Review-band share per batch (escalation rate)");
    let names = batch_names(res);
    batch_axis_plot("monitor-review", 200.0, &names, "% in review".into())
        .include_y(0.0)
        .show(ui, |pu| {
            let mut bars = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let Some(b) = res.batch(name) else { continue };
                let Some(v) = finite(b.review_rate) else {
                    continue;
                };
                let x = i as f64;
                bars.push(
                    Bar::new(x, 100.0 * v)
                        .width(0.6)
                        .name(name)
                        .fill(super::views::status_color(crate::domain::Status::Review)),
                );
                percent_interval(pu, x, b.review_rate_ci95);
            }
            pu.bar_chart(BarChart::new("review rate", bars));
        });
}

/// A vertical grey 95 % interval at `x` from a `[lo, hi]` proportion pair, in percent
/// (nothing when either end is missing).
fn percent_interval(pu: &mut egui_plot::PlotUi<'_>, x: f64, ci: Option<[f64; 2]>) {
    if let [Some(lo), Some(hi)] = monitor::ends(ci) {
        pu.line(
            Line::new(
                "95 % interval",
                PlotPoints::from(vec![[x, 100.0 * lo], [x, 100.0 * hi]]),
            )
            .color(Color32::GRAY)
            .width(1.5),
        );
    }
}

/// Human-vs-policy agreement per batch over batches (time order for scan_date).
fn agreement_plot(ui: &mut egui::Ui, res: &MonitorResult) {
    ui.label("Human-policy agreement per batch");
    let names = batch_names(res);
    let any = res.report.batches.iter().any(|b| b.human_policy.n > 0);
    if !any {
        ui.weak(
            "No image has both a human decision and a policy decision yet. Apply a selection \
             policy (View > Selection policy), then flag some of the same images (P / X / \
             Shift+R) to see how often people agree with the policy, batch by batch.",
        );
        return;
    }
    batch_axis_plot("monitor-agreement", 200.0, &names, "% agreeing".into())
        .include_y(0.0)
        .include_y(100.0)
        .show(ui, |pu| {
            let mut pts = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let Some(b) = res.batch(name) else { continue };
                let hp = &b.human_policy;
                let Some(v) = finite(hp.agreement) else {
                    continue;
                };
                let x = i as f64;
                pts.push([x, 100.0 * v]);
                percent_interval(pu, x, hp.ci95);
            }
            pu.line(
                Line::new("agreement", PlotPoints::from(pts.clone()))
                    .color(BASE)
                    .width(1.5),
            );
            pu.points(
                Points::new("agreement", PlotPoints::from(pts))
                    .color(BASE)
                    .radius(4.0)
                    .filled(true),
            );
        });
}
