//! The inspector: the image's decision and size, generation metadata, signals with units and
//! direction, raw metadata.

use eframe::egui::{self, RichText};

use crate::gui::model;
use crate::gui::theme;
use crate::gui::views::{status_color, truncate};
use crate::gui::{Cmd, Collection, ViewMode};
use crate::signals::{self, Direction};
use crate::store::{ImageRow, SignalValue};

/// The inspector: signals with units and direction, parsed metadata, raw metadata, of the
/// cursor image (in compare, `mode`, the focused one).
pub fn inspector(c: &mut Collection, mode: ViewMode, cmds: &mut Vec<Cmd>, ui: &mut egui::Ui) {
    egui::Panel::right("inspector")
        .resizable(true)
        .default_size(320.0)
        .show(ui, |ui| {
            let id = match mode {
                ViewMode::Compare => c.grid.compare_ids.get(c.grid.compare_focus).copied(),
                _ => c.grid.sel.cursor,
            };
            let Some(row) = id.and_then(|id| c.row_arc(id)) else {
                ui.weak("Select an image to see its signals and metadata.");
                return;
            };
            egui::ScrollArea::vertical()
                .id_salt("inspector-scroll")
                .show(ui, |ui| {
                    image_summary(ui, &row);
                    ui.separator();
                    egui::CollapsingHeader::new("Generation")
                        .default_open(true)
                        .show(ui, |ui| generation_section(ui, &row));
                    egui::CollapsingHeader::new("Signals")
                        .default_open(true)
                        .show(ui, |ui| signals_section(ui, &row, cmds));
                    egui::CollapsingHeader::new("Raw metadata")
                        .default_open(false)
                        .show(ui, |ui| raw_metadata_section(ui, c, row.id));
                });
        });
}

/// The image's path, decision (status, rating, source, reason, earlier version), error and
/// size / format.
fn image_summary(ui: &mut egui::Ui, row: &ImageRow) {
    ui.heading(truncate(&row.path, 60));
    let status = model::status_of(row);
    ui.horizontal(|ui| {
        ui.colored_label(status_color(status), status.label());
        if let Some(r) = row.decision_rating {
            ui.label(format!("rating {r}/5"));
        }
        if let Some(src) = &row.decision_source {
            ui.weak(format!("by {src}"));
        }
    });
    if let Some(reason) = row.decision_reason.as_deref() {
        ui.weak(reason);
    }
    if let Some(earlier) = &row.earlier_decision {
        ui.label(format!(
            "decided on an earlier version: {earlier} (the pixels changed since)"
        ))
        .on_hover_text(
            "The file was edited after this decision; decide again to keep a \
             status for this version.",
        );
    }
    if let Some(e) = &row.error {
        ui.colored_label(ui.visuals().error_fg_color, format!("unreadable: {e}"));
    }
    ui.label(format!(
        "{}×{} · {} · {}",
        row.width.unwrap_or(0),
        row.height.unwrap_or(0),
        row.format.as_deref().unwrap_or("?"),
        row.size
            .map_or(String::new(), |b| format!("{:.1} KB", b as f64 / 1024.0))
    ));
}

/// Generation metadata: prompts, the parsed fields, what was not found, the extra fields.
fn generation_section(ui: &mut egui::Ui, row: &ImageRow) {
    if let Some(p) = row.positive.as_deref() {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Prompt").strong());
            if ui.small_button("Copy prompt").clicked() {
                ui.ctx().copy_text(p.to_string());
            }
        });
        ui.label(p);
    }
    if let Some(n) = row.negative.as_deref() {
        ui.label(RichText::new("Negative").strong());
        ui.label(n);
    }
    egui::Grid::new("meta")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in [
                ("tool", row.tool.as_deref().map(str::to_string)),
                ("parser", row.parser.as_deref().map(str::to_string)),
                ("model", row.model.as_deref().map(str::to_string)),
                ("seed", row.seed.clone()),
                ("steps", row.steps.map(|x| x.to_string())),
                ("sampler", row.sampler.as_deref().map(str::to_string)),
                ("cfg", row.cfg.map(|x| format!("{x}"))),
                (
                    "generation size",
                    row.gen_width
                        .zip(row.gen_height)
                        .map(|(w, h)| format!("{w}×{h}")),
                ),
            ] {
                if let Some(v) = v {
                    ui.label(k);
                    ui.label(v);
                    ui.end_row();
                }
            }
        });
    if row.tool.is_none() && row.positive.is_none() {
        ui.weak("No generation metadata found in this file.");
    } else if let Some(m) = crate::table::missing_fields(row).filter(|m| !m.is_empty()) {
        ui.weak(format!("not found: {}", m.replace(',', ", ")))
            .on_hover_text("Fields the parser could not find in this file's metadata");
    }
    let extra: Vec<(String, String)> = row
        .extra_json
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    if !extra.is_empty() {
        egui::CollapsingHeader::new(format!("More ({})", extra.len()))
            .id_salt("meta-extra")
            .default_open(false)
            .show(ui, |ui| {
                egui::Grid::new("meta-extra-grid")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for (k, v) in &extra {
                            ui.label(k);
                            ui.add(egui::Label::new(truncate(v, 400)).wrap());
                            ui.end_row();
                        }
                    });
            });
    }
}

/// Every stored value signal with its unit and direction; a near-duplicate group is a link
/// that filters to the group.
fn signals_section(ui: &mut egui::Ui, row: &ImageRow, cmds: &mut Vec<Cmd>) {
    egui::Grid::new("signals")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for d in signals::registry() {
                // JSON signals (face boxes) are overlay data, not values.
                if d.kind == signals::Kind::Json {
                    continue;
                }
                let Some(v) = row.signals.get(d.key) else {
                    continue;
                };
                let arrow = match d.direction {
                    Direction::HigherIsBetter => "↑",
                    Direction::LowerIsBetter => "↓",
                    Direction::Neutral => "·",
                };
                ui.label(d.label)
                    .on_hover_text(format!("{}\n{}", d.key, d.description));
                let text = match v {
                    SignalValue::Number(x) => format_num(*x),
                    SignalValue::Text(t) => t.to_string(),
                };
                if d.key == "dup_group" && matches!(v, SignalValue::Number(g) if *g != 0.0) {
                    if let SignalValue::Number(g) = v
                        && ui
                            .link(format!("≈{text}"))
                            .on_hover_text("show this group")
                            .clicked()
                    {
                        cmds.push(Cmd::FilterDupGroup(*g as i64));
                    }
                } else {
                    ui.monospace(text);
                }
                ui.label(
                    RichText::new(format!("{} {arrow}", d.unit))
                        .weak()
                        .monospace(),
                )
                .on_hover_text(match d.direction {
                    Direction::HigherIsBetter => "higher is better",
                    Direction::LowerIsBetter => "lower is better",
                    Direction::Neutral => "descriptive",
                });
                ui.end_row();
            }
        });
}

/// The raw metadata, read from the database when opened (not kept for every row).
fn raw_metadata_section(ui: &mut egui::Ui, c: &mut Collection, id: i64) {
    match c.raw_metadata(id) {
        None => {
            ui.spinner();
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e.as_str());
        }
        Some(Ok(None)) => {
            ui.weak("(none)");
        }
        Some(Ok(Some((pretty, warnings)))) => {
            if ui.small_button("Copy raw metadata").clicked() {
                ui.ctx().copy_text(pretty.clone());
            }
            ui.add(
                egui::Label::new(
                    RichText::new(truncate(pretty, 20_000))
                        .monospace()
                        .size(10.0),
                )
                .wrap(),
            );
            if warnings != "[]" {
                ui.colored_label(theme::WARNING, format!("warnings: {warnings}"));
            }
        }
    }
}

fn format_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}
