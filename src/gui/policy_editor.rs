//! The policy editor: edit a selection policy (TOML), move the accept / reject thresholds on a
//! histogram of the policy's scores, see the counts per band and per reason update live, save,
//! apply (decisions appended through the database worker; human decisions are kept), and step
//! through the review band with the culling keys.
//!
//! Planning runs on a background thread whenever the text changes (the newest result wins).

use crate::domain::Status;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, RichText};
use egui_plot::{Bar, BarChart, Plot, VLine};

use super::jobs::{Event, Outbox, spawn};
use super::latest::Latest;
use super::theme;
use super::{Cmd, ViewCtx};
use crate::selection::plan::{self, Plan, Prepared};

/// The example policy shipped with Assay (a starting point).
pub const EXAMPLE: &str = include_str!("../../assets/policies/example.toml");

/// Editor state.
pub struct PolicyEditor {
    pub text: String,
    pub path: Option<PathBuf>,
    /// The parsed policy or why it does not parse / validate.
    pub prepared: Result<Prepared, String>,
    /// The latest plan of the current text (None while computing or invalid).
    pub plan: Option<Arc<Plan>>,
    /// Bumped by every edit and every change of the rows; plans carry the one they answer.
    generation: Latest,
    planned_generation: u64,
    /// Generation of `plan` (older plans stay on screen, marked, until the new one arrives).
    received_generation: u64,
    pub accept: f64,
    pub reject: f64,
    pub saved: bool,
}

impl Default for PolicyEditor {
    fn default() -> Self {
        let mut e = Self {
            text: EXAMPLE.to_string(),
            path: None,
            prepared: Err(String::new()),
            plan: None,
            generation: Latest::default(),
            planned_generation: 0,
            received_generation: u64::MAX,
            accept: 0.5,
            reject: 0.2,
            saved: true,
        };
        e.reparse();
        e
    }
}

impl PolicyEditor {
    fn reparse(&mut self) {
        self.prepared = plan::prepare(&self.text).map_err(|e| e.to_string());
        if let Ok(p) = &self.prepared {
            self.accept = p.policy.bands.accept;
            self.reject = p.policy.bands.reject;
        }
        self.generation.next();
    }

    /// Whether the shown plan belongs to the current text.
    pub fn up_to_date(&self) -> bool {
        self.plan.is_some() && self.generation.is_current(self.received_generation)
    }

    /// Starts planning the current text over `rows` when needed.
    pub fn request_plan(&mut self, rows: &super::Rows, out: &Outbox) {
        let Ok(p) = &self.prepared else { return };
        let g = self.generation.current();
        if self.planned_generation == g {
            return;
        }
        self.planned_generation = g;
        let (p, rows) = (p.clone(), rows.clone());
        let out = out.clone();
        spawn("assay-policy", move || {
            let rows = super::owned_rows(&rows);
            let human: HashSet<i64> = rows
                .iter()
                .filter(|r| r.decision_source.as_deref() == Some("human"))
                .map(|r| r.id)
                .collect();
            let r = plan::plan(&p, &rows, &human).map_err(|e| e.to_string());
            out.send(Event::PolicyPlan(g, r.map(Arc::new)));
        });
    }

    /// A finished plan (ignored when the text changed since).
    pub fn receive(&mut self, generation: u64, r: Result<Arc<Plan>, String>) {
        if !self.generation.is_current(generation) {
            return;
        }
        match r {
            Ok(p) => {
                self.plan = Some(p);
                self.received_generation = generation;
            }
            Err(e) => self.prepared = Err(e),
        }
    }

    fn set_text(&mut self, text: String) {
        self.text = text;
        self.saved = false;
        self.reparse();
    }

    /// Sets the thresholds in the text (as the sliders do), which re-plans the counts.
    pub fn apply_bands(&mut self, accept: f64, reject: f64) {
        let t = plan::set_bands(&self.text, accept, reject.min(accept));
        self.set_text(t);
    }

    /// The text's generation (bumped by every edit and every change of the rows).
    pub fn generation(&self) -> u64 {
        self.generation.current()
    }
}

fn count(plan: &Plan, s: Status) -> u64 {
    plan.counts.get(&s).copied().unwrap_or(0)
}

/// The policy editor view: toolbar, the policy text and its effect side by side; `st` is the
/// editor's state kept by the app.
pub fn show(cx: ViewCtx<'_>, st: &mut PolicyState, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    let c = cx.coll;
    let rows_changed = c.catalogue.rows_generation != st.rows_generation;
    if rows_changed {
        st.rows_generation = c.catalogue.rows_generation;
        st.editor.generation.next();
    }
    let prepared = st.editor.prepared.as_ref().ok();
    st.evidence.tick(c, prepared, cx.out);
    let labels_loaded = c.label.loaded;
    let quality_keys: Vec<&'static str> = crate::signals::registry()
        .iter()
        .filter(|d| crate::selection::evaluate::is_quality_key(d.key))
        .map(|d| d.key)
        .collect();
    let ev = &mut st.evidence;
    let ed = &mut st.editor;
    ed.request_plan(&c.catalogue.rows, cx.out);
    ui.horizontal(|ui| toolbar(ui, ed, &mut cmds));
    ui.separator();
    let avail = ui.available_width();
    ui.horizontal_top(|ui| {
        // The text.
        ui.vertical(|ui| text_column(ui, ed, avail));
        ui.separator();
        // Thresholds, counts, histogram, apply, calibration, best of N.
        egui::ScrollArea::vertical()
            .id_salt("policy-side")
            .show(ui, |ui| {
                ui.vertical(|ui| {
                    let Some((prep, plan, fresh)) = effect(ui, ed) else {
                        return;
                    };
                    ui.add_space(6.0);
                    band_counts(ui, &plan);
                    histogram(ui, &plan, ed.accept, ed.reject);
                    reasons(ui, &plan);
                    ui.add_space(8.0);
                    ui.horizontal(|ui| apply_row(ui, &prep, &plan, fresh, &mut cmds));
                    ui.separator();
                    ev.calibrate_ui(ui, labels_loaded);
                    ui.separator();
                    ev.best_of_n_ui(ui, &quality_keys);
                });
            });
    });
    cx.cmds.extend(cmds);
}

/// The top row: back to the grid, the policy's name and file, example / open / save.
fn toolbar(ui: &mut egui::Ui, ed: &mut PolicyEditor, cmds: &mut Vec<Cmd>) {
    if ui.button("Back to grid").clicked() {
        cmds.push(Cmd::ShowGrid);
    }
    ui.separator();
    ui.label(RichText::new("Selection policy").strong());
    if let Some(p) = &ed.path {
        ui.weak(p.display().to_string());
    }
    if !ed.saved {
        ui.weak("(unsaved)");
    }
    if ui
        .button("Example")
        .on_hover_text("start from assets/policies/example.toml")
        .clicked()
    {
        ed.set_text(EXAMPLE.to_string());
        ed.path = None;
    }
    if ui.button("Open…").clicked()
        && let Some(p) = rfd::FileDialog::new()
            .add_filter("policy", &["toml"])
            .pick_file()
    {
        match std::fs::read_to_string(&p) {
            Ok(t) => {
                ed.set_text(t);
                ed.path = Some(p);
                ed.saved = true;
            }
            Err(e) => cmds.push(Cmd::Message(
                format!("cannot read {}: {e}", p.display()),
                true,
            )),
        }
    }
    let save_as = ui.button("Save as…").clicked();
    let save = ui
        .add_enabled(ed.path.is_some(), egui::Button::new("Save"))
        .clicked();
    let target = if save_as {
        rfd::FileDialog::new()
            .add_filter("policy", &["toml"])
            .set_file_name("policy.toml")
            .save_file()
    } else if save {
        ed.path.clone()
    } else {
        None
    };
    if let Some(p) = target {
        match std::fs::write(&p, &ed.text) {
            Ok(()) => {
                ed.path = Some(p);
                ed.saved = true;
            }
            Err(e) => cmds.push(Cmd::Message(
                format!("cannot save {}: {e}", p.display()),
                true,
            )),
        }
    }
}

/// The left column: the editable policy text and its parse / validation error.
fn text_column(ui: &mut egui::Ui, ed: &mut PolicyEditor, avail: f32) {
    ui.set_width(avail * 0.45);
    egui::ScrollArea::vertical()
        .id_salt("policy-text")
        .max_height(ui.available_height() - 40.0)
        .show(ui, |ui| {
            let r = ui.add(
                egui::TextEdit::multiline(&mut ed.text)
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(30),
            );
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::MultilineTextInput, true, "Policy text")
            });
            if r.changed() {
                ed.saved = false;
                ed.reparse();
            }
        });
    if let Err(e) = &ed.prepared {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
}

/// The policy's header and threshold sliders; returns the prepared policy, the shown plan and
/// whether it belongs to the current text (None while invalid or before the first plan).
fn effect(ui: &mut egui::Ui, ed: &mut PolicyEditor) -> Option<(Prepared, Arc<Plan>, bool)> {
    let Ok(prep) = ed.prepared.clone() else {
        ui.label("Fix the policy to see its effect.");
        return None;
    };
    let source = prep.source.clone();
    ui.label(format!(
        "{}  ·  scope {:?}  ·  source {source}",
        prep.policy.name, prep.policy.scope
    ));
    let (mut a, mut r) = (ed.accept, ed.reject);
    let sa = ui.add(egui::Slider::new(&mut a, 0.0..=1.0).text("accept ≥"));
    sa.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, "accept threshold"));
    let sr = ui.add(egui::Slider::new(&mut r, 0.0..=1.0).text("reject <"));
    sr.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, "reject threshold"));
    if (a - ed.accept).abs() > 1e-12 || (r - ed.reject).abs() > 1e-12 {
        // Dragging writes three decimals; calibrated thresholds keep theirs.
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        ed.apply_bands(round(a), round(r));
    }
    let Some(plan) = ed.plan.clone() else {
        ui.spinner();
        return None;
    };
    let fresh = ed.up_to_date();
    if !fresh {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak("updating…");
        });
    }
    Some((prep, plan, fresh))
}

/// The counts per band and the number of human decisions kept.
fn band_counts(ui: &mut egui::Ui, plan: &Plan) {
    ui.horizontal(|ui| {
        for (s, lab) in [
            (Status::Accepted, "accept"),
            (Status::Review, "review"),
            (Status::Rejected, "reject"),
        ] {
            ui.label(
                RichText::new(format!("{lab}: {}", count(plan, s)))
                    .color(super::views::status_color(s))
                    .strong(),
            );
        }
        ui.weak(format!("· {} human decisions kept", plan.kept_human));
    });
}

/// Histogram of the plan's scores, coloured by band, with the two thresholds.
fn histogram(ui: &mut egui::Ui, plan: &Plan, accept: f64, reject: f64) {
    let scores: Vec<f64> = plan.outcomes.iter().filter_map(|o| o.score).collect();
    let bins = 20;
    let mut counts = vec![0u32; bins];
    for s in &scores {
        counts[((s * bins as f64) as usize).min(bins - 1)] += 1;
    }
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let mid = (k as f64 + 0.5) / bins as f64;
            let col = if mid >= accept {
                super::views::status_color(Status::Accepted)
            } else if mid < reject {
                super::views::status_color(Status::Rejected)
            } else {
                super::views::status_color(Status::Review)
            };
            Bar::new(mid, f64::from(*n))
                .width(1.0 / bins as f64)
                .fill(col)
        })
        .collect();
    Plot::new("policy-hist")
        .height(160.0)
        .x_axis_label("policy score (scored images)")
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |pu| {
            pu.bar_chart(BarChart::new("scores", bars));
            pu.vline(VLine::new("accept", accept).color(theme::ACCEPTED));
            pu.vline(VLine::new("reject", reject).color(theme::REJECTED));
        });
}

/// The counts per (band, reason).
fn reasons(ui: &mut egui::Ui, plan: &Plan) {
    ui.label(RichText::new("Reasons").strong());
    egui::Grid::new("policy-reasons")
        .striped(true)
        .show(ui, |ui| {
            for ((s, reason), n) in &plan.reasons {
                ui.colored_label(super::views::status_color(*s), s.as_str());
                ui.monospace(n.to_string());
                ui.label(reason);
                ui.end_row();
            }
        });
}

/// Apply the plan (only when it is up to date) and open the review queue.
fn apply_row(
    ui: &mut egui::Ui,
    prep: &Prepared,
    plan: &Arc<Plan>,
    fresh: bool,
    cmds: &mut Vec<Cmd>,
) {
    if ui
        .add_enabled(
            fresh,
            egui::Button::new(format!("Apply to {} images", plan.decisions.len())),
        )
        .on_hover_text("append one decision per image (human decisions are kept)")
        .clicked()
    {
        cmds.push(Cmd::ApplyPolicy(Box::new(prep.clone()), plan.clone()));
    }
    if ui
        .button("Open review queue")
        .on_hover_text("the grid, showing only images in review")
        .clicked()
    {
        cmds.push(Cmd::ReviewQueue);
    }
}

/// Policy editor state kept by the app.
#[derive(Default)]
pub struct PolicyState {
    pub editor: PolicyEditor,
    /// Calibration from labels and the best-of-N evidence.
    pub evidence: super::policy_evidence::EvidenceState,
    rows_generation: u64,
}

impl PolicyState {
    /// A finished calibration from labels: its thresholds are applied to the text (as the
    /// sliders do) only when the policy still has the hash it was calibrated for.
    pub fn receive_calibration(&mut self, cal: super::policy_evidence::Calibrated) {
        let hash = self.editor.prepared.as_ref().ok().map(|p| p.hash.clone());
        if let Some((a, r)) = self.evidence.receive_calibration(cal, hash.as_deref()) {
            self.editor.apply_bands(a, r);
        }
    }
}
