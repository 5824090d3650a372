//! The preference-scorer view (the selection flywheel): every trained version with its
//! cross-validated accuracy, which one is active, "Train now" (a background job that compares
//! the candidates by cross-validation, refits the best on every label, stores and activates
//! it), instant activation or rollback, the learning curve and how the numbers were obtained.
//!
//! Training and switching run on their own threads with their own database connection (they
//! take seconds, rewrite `learned_preference` values and log the switch); the grid is reloaded
//! when they finish. Fine-tuning from the aesthetic head shows fits done / planned with rate and
//! ETA, and can be cancelled (nothing is stored then).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use eframe::egui::{self, RichText};
use egui_plot::{Line, Plot, PlotPoints, Points};
use serde_json::Value;

use super::jobs::{Event, Outbox, spawn};
use super::theme;
use super::{Cmd, ViewCtx};
use crate::learn::finetune::Control;
use crate::learn::{HeadChoice, TrainOptions};
use crate::pipeline::clip::ClipOptions;
use crate::pipeline::finetune::{self, FinetuneRequest};
use crate::pipeline::preference::{self, TrainRequest};
use crate::store::{ScorerRow, Store};

/// View state.
#[derive(Default)]
pub struct ScorersState {
    pub rows: Option<Vec<ScorerRow>>,
    pub busy: Option<String>,
    pub head: Option<HeadChoice>,
    pub chosen: Option<i64>,
    pub last: Option<Result<String, String>>,
    /// Train by fine-tuning the general aesthetic head (`pipeline::finetune`).
    pub from_aesthetic: bool,
    /// Progress and cancel of the running fine-tune job, with its start time (rate, ETA).
    pub(super) finetune: Option<(Arc<Control>, Instant)>,
    requested_for: u64,
}

impl ScorersState {
    fn head(&self) -> HeadChoice {
        self.head.unwrap_or_default()
    }
}

/// Loads the versions (off the UI thread).
pub fn load(db: PathBuf, out: Outbox) {
    spawn("assay-scorers", move || {
        let r = Store::open_for_reading(&db)
            .and_then(|s| s.scorers())
            .map_err(|e| e.to_string());
        out.send(Event::Scorers(r));
    });
}

fn train_job(db: PathBuf, head: HeadChoice, out: Outbox) {
    spawn("assay-train", move || {
        let r = (|| -> anyhow::Result<String> {
            let mut store = Store::open(&db)?;
            let req = TrainRequest {
                options: TrainOptions {
                    head,
                    ..TrainOptions::default()
                },
                ..TrainRequest::default()
            };
            let t = preference::train_and_store(&mut store, &req)?;
            Ok(format!(
                "trained version {} ({}; accuracy {})",
                t.version,
                t.fitted.report.chosen.describe(),
                t.fitted
                    .report
                    .estimate
                    .as_ref()
                    .map_or("n/a".into(), |e| format!(
                        "{:.3} by {}",
                        e.accuracy, e.source
                    ))
            ))
        })()
        .map_err(|e| format!("{e:#}"));
        out.send(Event::ScorerJob(r));
    });
}

fn finetune_job(db: PathBuf, control: Arc<Control>, out: Outbox) {
    spawn("assay-finetune", move || {
        let r = (|| -> anyhow::Result<String> {
            let mut store = Store::open(&db)?;
            let base = finetune::discover_base(&ClipOptions::default())?;
            let t = finetune::finetune_and_store_with_control(
                &mut store,
                &FinetuneRequest::default(),
                &base,
                &control,
            )?;
            let verdict = t
                .fitted
                .report
                .comparison
                .as_ref()
                .map_or(String::new(), |c| c.verdict.clone());
            Ok(match t.not_activated {
                Some(why) => format!("fine-tuned version {}: {verdict}; {why}", t.version),
                None => format!("fine-tuned version {} (active): {verdict}", t.version),
            })
        })()
        .map_err(|e| format!("{e:#}"));
        out.send(Event::ScorerJob(r));
    });
}

fn switch_job(db: PathBuf, row: ScorerRow, action: &'static str, out: Outbox) {
    spawn("assay-switch", move || {
        let r = (|| -> anyhow::Result<String> {
            let mut store = Store::open(&db)?;
            let n = preference::switch_to(&mut store, &row, action)?;
            Ok(format!(
                "{action}: version {} active, {n} images rescored",
                row.version
            ))
        })()
        .map_err(|e| format!("{e:#}"));
        out.send(Event::ScorerJob(r));
    });
}

fn metrics(row: &ScorerRow) -> Value {
    row.metrics
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

fn training(row: &ScorerRow) -> Value {
    row.training
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

fn acc_text(v: &Value) -> String {
    match v["accuracy"].as_f64() {
        Some(a) => match v["interval"].as_array() {
            Some(i) if i.len() == 2 => format!(
                "{a:.3} [{:.3}, {:.3}] ({} pairs)",
                i[0].as_f64().unwrap_or(f64::NAN),
                i[1].as_f64().unwrap_or(f64::NAN),
                v["pairs"]
            ),
            _ => format!("{a:.3} ({} pairs)", v["pairs"]),
        },
        None => "–".into(),
    }
}

/// The scorer view: training controls, the table of versions and the chosen one's curve; `st`
/// is the view's state kept by the app.
pub fn show(cx: ViewCtx<'_>, st: &mut ScorersState, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    let (c, out) = (&*cx.coll, cx.out);
    // (Re)load the versions when the view opens on new rows (a job also changes the rows).
    if st.requested_for != c.catalogue.rows_generation {
        st.requested_for = c.catalogue.rows_generation;
        load(c.db.clone(), out.clone());
    }
    ui.horizontal(|ui| {
        if ui.button("Back to grid").clicked() {
            cmds.push(Cmd::ShowGrid);
        }
        ui.separator();
        ui.label(RichText::new("Preference scorer").strong());
        ui.weak("learned from this collection's pairwise, best-of-N and Likert labels");
    });
    ui.separator();
    ui.horizontal(|ui| {
        head_picker(ui, st);
        train_buttons(ui, st, &c.db, out);
        if let Some(b) = &st.busy {
            ui.spinner();
            ui.label(b);
        }
        finetune_progress(ui, st);
        match &st.last {
            Some(Ok(m)) => {
                ui.label(m);
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    });
    let Some(rows) = st.rows.clone() else {
        ui.spinner();
        return;
    };
    if rows.is_empty() {
        ui.add_space(20.0);
        ui.label("No scorer yet. Label some pairs (or import labels with `assay label import`), then Train now.");
        return;
    }
    ui.add_space(6.0);
    versions_table(ui, st, &rows, &c.db, out);
    // Learning curve of the chosen (else active, else newest) version.
    let pick = st
        .chosen
        .and_then(|id| rows.iter().find(|r| r.id == id))
        .or_else(|| rows.iter().find(|r| r.active))
        .or(rows.last());
    if let Some(r) = pick {
        version_details(ui, r);
    }
    cx.cmds.extend(cmds);
}

/// The head to train: linear, MLP or either by cross-validation; or fine-tune the aesthetic head.
fn head_picker(ui: &mut egui::Ui, st: &mut ScorersState) {
    egui::ComboBox::from_id_salt("scorer-head")
        .selected_text(match st.head() {
            HeadChoice::Auto => "linear or MLP (cross-validated)",
            HeadChoice::Linear => "linear head",
            HeadChoice::Mlp => "MLP head",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(
                &mut st.head,
                Some(HeadChoice::Auto),
                "linear or MLP (cross-validated)",
            );
            ui.selectable_value(&mut st.head, Some(HeadChoice::Linear), "linear head");
            ui.selectable_value(&mut st.head, Some(HeadChoice::Mlp), "MLP head");
        });
    ui.checkbox(&mut st.from_aesthetic, "start from the aesthetic head")
        .on_hover_text(
            "fine-tune the general aesthetic head on these labels (L2-SP toward its weights) and compare it with the head itself and a head from scratch on the same folds; activated only when it beats the general head",
        );
}

/// "Train now" (training or fine-tuning job) and "Roll back" to the previous version.
fn train_buttons(ui: &mut egui::Ui, st: &mut ScorersState, db: &Path, out: &Outbox) {
    let busy = st.busy.is_some();
    if ui
        .add_enabled(!busy, egui::Button::new("Train now"))
        .on_hover_text(
            "compare heads and L2 strengths by cross-validation, refit the best on every label, store the version and make it active",
        )
        .clicked()
    {
        st.busy = Some("training…".into());
        if st.from_aesthetic {
            let control = Arc::new(Control::default());
            st.finetune = Some((control.clone(), Instant::now()));
            st.busy = Some("fine-tuning…".into());
            finetune_job(db.to_path_buf(), control, out.clone());
        } else {
            train_job(db.to_path_buf(), st.head(), out.clone());
        }
    }
    let active = st
        .rows
        .as_ref()
        .and_then(|r| r.iter().find(|x| x.active).cloned());
    let prev = st.rows.as_ref().and_then(|rows| {
        let a = active.as_ref()?;
        rows.iter()
            .filter(|r| r.version < a.version)
            .max_by_key(|r| r.version)
            .cloned()
    });
    if ui
        .add_enabled(!busy && prev.is_some(), egui::Button::new("Roll back"))
        .on_hover_text("activate the previous version")
        .clicked()
        && let Some(p) = prev
    {
        st.busy = Some("rolling back…".into());
        switch_job(db.to_path_buf(), p, "rollback", out.clone());
    }
}

/// Fits done / planned of a running fine-tune, with rate, ETA and Cancel.
fn finetune_progress(ui: &mut egui::Ui, st: &mut ScorersState) {
    let Some((control, started)) = &st.finetune else {
        return;
    };
    let (done, total) = control.progress();
    let secs = started.elapsed().as_secs_f64();
    let rate = done as f64 / secs.max(1e-3);
    let eta = if done > 0 && total > done {
        format!(", about {:.0} s left", (total - done) as f64 / rate)
    } else {
        String::new()
    };
    ui.add(
        egui::ProgressBar::new(if total > 0 {
            done as f32 / total as f32
        } else {
            0.0
        })
        .desired_width(160.0)
        .text(format!("{done} / {total} fits, {rate:.1}/s{eta}")),
    );
    if ui
        .button("Cancel")
        .on_hover_text("stop fine-tuning; nothing is stored")
        .clicked()
    {
        control.cancel();
        st.busy = Some("cancelling…".into());
    }
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(200));
}

/// One row per stored version (newest first): metrics, choose, activate.
fn versions_table(
    ui: &mut egui::Ui,
    st: &mut ScorersState,
    rows: &[ScorerRow],
    db: &Path,
    out: &Outbox,
) {
    egui::Grid::new("scorer-versions")
        .striped(true)
        .num_columns(8)
        .show(ui, |ui| {
            for h in [
                "",
                "version",
                "head",
                "accuracy (cross-validated)",
                "Spearman (Likert)",
                "events",
                "created",
                "",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for r in rows.iter().rev() {
                let m = metrics(r);
                let t = training(r);
                ui.label(if r.active {
                    RichText::new("active").color(theme::ACTIVE)
                } else {
                    RichText::new("")
                });
                if ui
                    .selectable_label(st.chosen == Some(r.id), format!("v{}", r.version))
                    .clicked()
                {
                    st.chosen = Some(r.id);
                }
                ui.label(
                    m["chosen"]["head"]
                        .as_str()
                        .or(m["head"].as_str())
                        .unwrap_or("?"),
                );
                ui.monospace(acc_text(preference::headline(&m)));
                ui.monospace(
                    m["likert_spearman"]["rho"]
                        .as_f64()
                        .map_or("–".into(), |x| format!("{x:.3}")),
                );
                ui.label(format!(
                    "{} ({} raters)",
                    t["events"],
                    t["raters"].as_array().map_or(0, Vec::len)
                ));
                ui.weak(&r.created);
                if !r.active
                    && ui
                        .add_enabled(
                            st.busy.is_none(),
                            egui::Button::new(format!("Activate v{}", r.version)),
                        )
                        .clicked()
                {
                    st.busy = Some("activating…".into());
                    switch_job(db.to_path_buf(), r.clone(), "activate", out.clone());
                }
                ui.end_row();
            }
        });
}

/// A version's learning curve (or its fine-tune comparison), method and notes.
fn version_details(ui: &mut egui::Ui, r: &ScorerRow) {
    let m = metrics(r);
    // Cross-validated curves are by training events; older versions stored pairs.
    let x_key = if m["learning_curve"][0]["training_events"].is_null() {
        "training_pairs"
    } else {
        "training_events"
    };
    let pts: Vec<[f64; 2]> = m["learning_curve"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some([p[x_key].as_f64()?, p["accuracy"].as_f64()?]))
                .collect()
        })
        .unwrap_or_default();
    ui.add_space(8.0);
    ui.label(
        RichText::new(format!(
            "Learning curve of v{} (accuracy on unseen labels vs {})",
            r.version,
            x_key.replace('_', " ")
        ))
        .strong(),
    );
    let cmp = &m["comparison"];
    if cmp.is_object() {
        comparison_plot(ui, cmp);
    } else if pts.is_empty() {
        ui.weak("no learning curve stored for this version");
    } else {
        Plot::new("learning-curve")
            .height(220.0)
            .x_axis_label(x_key.replace('_', " "))
            .y_axis_label("pairwise accuracy on unseen labels")
            .include_y(0.5)
            .include_y(1.0)
            .show(ui, |pu| {
                pu.line(Line::new("accuracy", PlotPoints::from(pts.clone())).color(theme::ACCENT));
                pu.points(
                    Points::new("points", PlotPoints::from(pts))
                        .radius(3.0)
                        .color(theme::ACCENT),
                );
            });
    }
    if let Some(method) = m["method"].as_str() {
        ui.add(egui::Label::new(RichText::new(method).weak()).wrap());
    }
    if let Some(notes) = m["notes"].as_array().filter(|n| !n.is_empty()) {
        for n in notes {
            ui.weak(n.as_str().unwrap_or_default());
        }
    }
}

/// The general head, the from-scratch head and the fine-tuned head of a fine-tuned version:
/// their cross-validated agreement with 95 % intervals on the same folds, and learning curves.
fn comparison_plot(ui: &mut egui::Ui, cmp: &Value) {
    let arms = [
        ("general", "general head", theme::GENERAL_HEAD),
        ("scratch", "from scratch", theme::SCRATCH_HEAD),
        ("finetuned", "fine-tuned", theme::FINETUNED_HEAD),
    ];
    for (k, name, color) in arms {
        ui.horizontal(|ui| {
            ui.colored_label(color, format!("{name}:"));
            ui.monospace(acc_text(&cmp[k]));
        });
    }
    ui.label(cmp["verdict"].as_str().unwrap_or_default());
    Plot::new("finetune-comparison")
        .height(220.0)
        .legend(egui_plot::Legend::default())
        .x_axis_label("training events")
        .y_axis_label("pairwise agreement on unseen labels")
        .include_y(0.5)
        .include_y(1.0)
        .show(ui, |pu| {
            for (k, name, color) in arms {
                let pts: Vec<[f64; 2]> = cmp[k]["learning_curve"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| {
                                Some([p["training_events"].as_f64()?, p["accuracy"].as_f64()?])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                // The estimate at the full size with its interval as a vertical bar.
                if let (Some(x), Some(iv)) = (
                    pts.last().map(|p| p[0]),
                    cmp[k]["interval"].as_array().filter(|i| i.len() == 2),
                ) {
                    let (lo, hi) = (iv[0].as_f64().unwrap_or(0.5), iv[1].as_f64().unwrap_or(0.5));
                    pu.line(
                        Line::new(
                            format!("{name} 95 %"),
                            PlotPoints::from(vec![[x, lo], [x, hi]]),
                        )
                        .color(color)
                        .width(3.0),
                    );
                }
                pu.line(Line::new(name, PlotPoints::from(pts.clone())).color(color));
                pu.points(
                    Points::new(name, PlotPoints::from(pts))
                        .radius(3.0)
                        .color(color),
                );
            }
        });
}
