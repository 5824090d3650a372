//! The policy editor's evidence panels: "Calibrate from labels" (accept / reject thresholds from
//! the collection's human decisions and pairwise labels, set through the same `set_bands` path
//! as the sliders, with held-out precision / recall per band) and the best-of-N plot with
//! selector efficiency.
//!
//! Labels come from the labeling state (`Collection::label.stored`, loaded by the database
//! worker); the statistics run on short-lived `assay-policy-*` threads and report through
//! `Event`s, so the UI thread neither queries nor computes in bulk.

use crate::domain::Status;
use std::sync::Arc;

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints};

use super::Collection;
use super::jobs::{Event, Outbox, spawn};
use super::labeling;
use super::latest::Latest;
use crate::human::{self, attention};
use crate::selection::calibrate::BandStat;
use crate::selection::evaluate::{self, BestOfN, CalibrateOptions, Efficiency, PolicyCalibration};
use crate::selection::plan::Prepared;

/// Best-of-N curves and selector efficiency of one policy text.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub best_of_n: BestOfN,
    pub efficiency: Efficiency,
}

/// A finished calibration: the policy version it was computed for and its result.
pub struct Calibrated {
    pub token: u64,
    pub hash: String,
    pub result: Result<Box<PolicyCalibration>, String>,
}

/// State of the evidence panels.
pub struct EvidenceState {
    pub use_target: bool,
    pub target_precision: f64,
    pub cost_false_accept: f64,
    pub cost_false_reject: f64,
    pub holdout: f64,
    /// Quality measured by the best-of-N curve (`None`: automatic, see
    /// [`evaluate::default_quality`]).
    pub quality: Option<String>,
    pub n_max: usize,
    /// Calibrate was pressed while the labels were still loading.
    calibrate_wanted: bool,
    pub calibrating: bool,
    calib_token: Latest,
    pub calibration: Option<Result<Box<PolicyCalibration>, String>>,
    /// The best-of-N evidence, or why it could not be computed.
    pub evidence: Option<Result<Arc<Evidence>, String>>,
    evidence_key: Option<EvidenceKey>,
    evidence_token: Latest,
}

impl Default for EvidenceState {
    fn default() -> Self {
        Self {
            use_target: true,
            target_precision: 0.9,
            cost_false_accept: 1.0,
            cost_false_reject: 1.0,
            holdout: 0.3,
            quality: None,
            n_max: 16,
            calibrate_wanted: false,
            calibrating: false,
            calib_token: Latest::default(),
            calibration: None,
            evidence: None,
            evidence_key: None,
            evidence_token: Latest::default(),
        }
    }
}

/// The label events statistics use (attention checks and unreliable raters left out).
fn events(c: &Collection) -> Vec<human::Event> {
    reliable(c.label.stored.iter().map(|s| s.event.clone()).collect())
}

fn reliable(all: Vec<human::Event>) -> Vec<human::Event> {
    attention::reliable_events(&all, attention::DEFAULT_THRESHOLD).0
}

/// What the best-of-N evidence depends on: the policy without its band thresholds (scores and
/// ranks do not depend on them, so dragging a threshold recomputes nothing), the rows, the
/// labels, the quality key and N.
#[derive(Debug, Clone, PartialEq)]
struct EvidenceKey {
    policy: crate::selection::policy::Policy,
    rows_generation: u64,
    labels: usize,
    quality: Option<String>,
    n_max: usize,
}

impl EvidenceState {
    /// Starts what is due: the labels' load, a wanted calibration once they are there, and the
    /// best-of-N evidence when the policy (bands aside), rows, labels or quality changed.
    pub fn tick(&mut self, c: &mut Collection, prepared: Option<&Prepared>, out: &Outbox) {
        labeling::request_load(c);
        let Some(p) = prepared else { return };
        if !c.label.loaded {
            return;
        }
        if self.calibrate_wanted {
            self.calibrate_wanted = false;
            self.start_calibration(c, p, out);
        }
        let mut policy = p.policy.clone();
        (policy.bands.accept, policy.bands.reject) = (0.0, 0.0);
        let key = EvidenceKey {
            policy,
            rows_generation: c.catalogue.rows_generation,
            labels: c.label.stored.len(),
            quality: self.quality.clone(),
            n_max: self.n_max,
        };
        if self.evidence_key.as_ref() != Some(&key) {
            self.evidence_key = Some(key);
            let token = self.evidence_token.next();
            let (p, rows) = (p.clone(), c.catalogue.rows.clone());
            let all: Vec<human::Event> = c.label.stored.iter().map(|s| s.event.clone()).collect();
            let (quality, n_max, out) = (self.quality.clone(), self.n_max, out.clone());
            spawn("assay-policy-evidence", move || {
                let rows = super::owned_rows(&rows);
                let result = evaluate::score_all(&p, &rows)
                    .map_err(|e| format!("cannot score the collection: {e}"))
                    .map(|plan| {
                        let ev = reliable(all);
                        let q = quality
                            .as_deref()
                            .or_else(|| evaluate::default_quality(&rows));
                        Arc::new(Evidence {
                            best_of_n: evaluate::best_of_n(&p, &plan, &rows, q, n_max),
                            efficiency: evaluate::selector_efficiency(
                                &p, &plan, &rows, &ev, "overall",
                            ),
                        })
                    });
                out.send(Event::PolicyEvidence(token, result));
            });
        }
    }

    fn start_calibration(&mut self, c: &Collection, p: &Prepared, out: &Outbox) {
        let token = self.calib_token.next();
        self.calibrating = true;
        let opts = CalibrateOptions {
            cost_false_accept: self.cost_false_accept,
            cost_false_reject: self.cost_false_reject,
            target_precision: self.use_target.then_some(self.target_precision),
            holdout: self.holdout,
            ..CalibrateOptions::default()
        };
        let (p, rows, ev) = (p.clone(), c.catalogue.rows.clone(), events(c));
        let out = out.clone();
        spawn("assay-policy-calibrate", move || {
            let rows = super::owned_rows(&rows);
            let result = evaluate::calibrate_policy(&p, &rows, &ev, &opts)
                .map(Box::new)
                .map_err(|e| e.to_string());
            out.send(Event::PolicyCalibrated(Calibrated {
                token,
                hash: p.hash.clone(),
                result,
            }));
        });
    }

    /// A finished calibration; returns the thresholds to set when it is the latest one and
    /// still belongs to the policy on screen (`hash`).
    pub fn receive_calibration(&mut self, c: Calibrated, hash: Option<&str>) -> Option<(f64, f64)> {
        if !self.calib_token.is_current(c.token) {
            return None;
        }
        self.calibrating = false;
        let bands = match (&c.result, hash) {
            (Ok(r), Some(h)) if h == c.hash => Some((r.accept, r.reject)),
            (Ok(_), _) => {
                self.calibration = Some(Err(
                    "the policy changed while calibrating; press Calibrate again".into(),
                ));
                return None;
            }
            (Err(_), _) => None,
        };
        self.calibration = Some(c.result);
        bands
    }

    pub fn receive_evidence(&mut self, token: u64, e: Result<Arc<Evidence>, String>) {
        if self.evidence_token.is_current(token) {
            self.evidence = Some(e);
        }
    }

    /// The calibration controls and result.
    pub fn calibrate_ui(&mut self, ui: &mut egui::Ui, labels_loaded: bool) {
        ui.label(RichText::new("Calibration").strong());
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.use_target, "target precision");
            let r = ui.add_enabled(
                self.use_target,
                egui::DragValue::new(&mut self.target_precision)
                    .range(0.5..=1.0)
                    .speed(0.01),
            );
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::SpinButton, true, "target precision value")
            });
            ui.label("cost FA : FR");
            let r = ui.add(
                egui::DragValue::new(&mut self.cost_false_accept)
                    .range(0.0..=100.0)
                    .speed(0.1),
            );
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::SpinButton, true, "false-accept cost")
            });
            ui.label(":");
            let r = ui.add(
                egui::DragValue::new(&mut self.cost_false_reject)
                    .range(0.0..=100.0)
                    .speed(0.1),
            );
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::SpinButton, true, "false-reject cost")
            });
            ui.label("hold-out");
            ui.add(
                egui::DragValue::new(&mut self.holdout)
                    .range(0.0..=0.8)
                    .speed(0.01),
            );
        });
        ui.horizontal(|ui| {
            let busy = self.calibrating || self.calibrate_wanted;
            if ui
                .add_enabled(!busy, egui::Button::new("Calibrate from labels"))
                .on_hover_text(
                    "set accept / reject from human decisions and pairwise labels (as assay calibrate --policy)",
                )
                .clicked()
            {
                self.calibrate_wanted = true;
                self.calibration = None;
            }
            if busy {
                ui.spinner();
                ui.weak(if labels_loaded {
                    "calibrating..."
                } else {
                    "loading labels..."
                });
            }
        });
        match &self.calibration {
            None => {}
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            Some(Ok(c)) => calibration_result_ui(ui, c),
        }
    }

    /// The best-of-N plot and selector efficiency.
    pub fn best_of_n_ui(&mut self, ui: &mut egui::Ui, quality_keys: &[&'static str]) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Best of N").strong());
            let shown = self.quality.clone().unwrap_or_else(|| "automatic".into());
            egui::ComboBox::from_id_salt("best-of-n-quality")
                .selected_text(format!("quality: {shown}"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.quality, None, "automatic");
                    for k in quality_keys {
                        ui.selectable_value(&mut self.quality, Some((*k).to_string()), *k);
                    }
                });
        });
        let e = match self.evidence.clone() {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.weak("computing the best-of-N curves...");
                });
                return;
            }
            Some(Err(msg)) => {
                ui.colored_label(ui.visuals().error_fg_color, msg);
                return;
            }
            Some(Ok(e)) => e,
        };
        let b = &e.best_of_n;
        if b.pooled.is_empty() {
            ui.weak("no scored images to draw from");
        } else {
            let pts = |f: &dyn Fn(&(f64, f64, usize)) -> f64| -> Vec<[f64; 2]> {
                b.pooled
                    .iter()
                    .enumerate()
                    .map(|(i, x)| [(i + 1) as f64, f(x)])
                    .collect()
            };
            let (policy, oracle) = (pts(&|x| x.0), pts(&|x| x.1));
            let groups = b.groups.iter().filter(|g| !g.policy.is_empty()).count();
            let r = Plot::new("best-of-n")
                .height(150.0)
                .x_axis_label("N (images generated per prompt)")
                .y_axis_label(b.quality.clone())
                .legend(Legend::default())
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .show(ui, |pu| {
                    pu.line(Line::new("policy pick", PlotPoints::from(policy)).width(2.0));
                    pu.line(
                        Line::new("oracle (best by quality)", PlotPoints::from(oracle))
                            .style(LineStyle::dashed_loose()),
                    );
                });
            r.response.widget_info(|| {
                egui::WidgetInfo::labeled(
                    egui::Role::Image,
                    true,
                    format!("Best-of-N curve of {}", b.quality),
                )
            });
            ui.weak(format!(
                "expected {} of the pick among N drawn without replacement, mean over {groups} groups with at least N scored images",
                b.quality
            ));
        }
        let eff = &e.efficiency;
        match (eff.rate, eff.interval, eff.chance) {
            (Some(r), Some(i), Some(ch)) => {
                ui.label(format!(
                    "Selector efficiency: top-1 = humans' best in {}/{} groups ({:.0} %, 95 % CI {:.0}-{:.0} %); chance {:.0} %",
                    eff.hits,
                    eff.groups.len(),
                    100.0 * r,
                    100.0 * i.lo,
                    100.0 * i.hi,
                    100.0 * ch
                ));
            }
            _ => {
                ui.weak(format!(
                    "Selector efficiency: no group has human evidence of its best image yet ({} groups checked: one accepted and the rest rejected, every image compared, or every image rated)",
                    eff.groups_without_evidence
                ));
            }
        }
    }
}

fn calibration_result_ui(ui: &mut egui::Ui, c: &PolicyCalibration) {
    let l = &c.labels;
    ui.label(format!(
        "Set accept >= {} and reject < {} from {} labelled images with a score (labels: {} decisions, {} from pairwise comparisons)",
        c.accept,
        c.reject,
        c.train_n,
        l.decision_good + l.decision_bad,
        l.pairwise_good + l.pairwise_bad
    ));
    if let Some(n) = c.accept_nothing_note() {
        ui.colored_label(ui.visuals().warn_fg_color, format!("Note: {n}"));
    }
    ui.weak(if c.held_out {
        format!("on {} held-out labels:", c.eval_n)
    } else {
        format!("on the {} training labels (no hold-out):", c.eval_n)
    });
    egui::Grid::new("policy-calibration")
        .striped(true)
        .show(ui, |ui| {
            ui.strong("band");
            ui.strong("n");
            ui.strong("share good (95 % CI)");
            ui.strong("recall of good");
            ui.end_row();
            for (name, s) in [
                ("accept", &c.metrics.accept),
                ("review", &c.metrics.review),
                ("reject", &c.metrics.reject),
            ] {
                band_row(ui, name, s);
            }
        });
    for e in &c.excluded {
        ui.weak(format!(
            "not scored ({}): {} good, {} bad",
            e.reason, e.good, e.bad
        ));
    }
}

fn band_row(ui: &mut egui::Ui, name: &str, s: &BandStat) {
    let status = match name {
        "accept" => Status::Accepted,
        "reject" => Status::Rejected,
        _ => Status::Review,
    };
    ui.colored_label(super::views::status_color(status), name);
    ui.monospace(s.n.to_string());
    ui.monospace(match (s.precision, s.interval) {
        (Some(p), Some(i)) => format!("{p:.2} ({:.2}-{:.2})", i.lo, i.hi),
        _ => "-".into(),
    });
    ui.monospace(s.recall.map_or_else(|| "-".into(), |r| format!("{r:.2}")));
    ui.end_row();
}
