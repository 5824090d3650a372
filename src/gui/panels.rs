//! Side and top panels: menu and toolbar, filter bar, inspector (signals and metadata), status
//! bar with job progress, the welcome screen, the shortcut overlay and the export dialog.

use std::path::PathBuf;

use eframe::egui::{self, Color32, RichText};

use super::jobs::ExportRequest;
use super::model::{self, RangeFilter, STATUSES};
use super::views::{status_badge, status_color, truncate};
use super::{App, Cmd, ExportScope, HistState, ViewMode};
use crate::export::{ManifestFormat, Mode};
use crate::pipeline::progress::{format_rate, format_secs};
use crate::signals::{self, Direction};
use crate::store::{ImageRow, SignalValue};

/// Menu bar and toolbar (sort, search, thumbnail size).
pub fn top_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    if let Some(dir) = rfd::FileDialog::new().pick_folder() {
                        app.push(Cmd::Open(dir));
                    }
                    ui.close();
                }
                ui.menu_button("Open recent", |ui| {
                    for p in app.settings.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            app.push(Cmd::Open(p));
                            ui.close();
                        }
                    }
                });
                ui.separator();
                let open = app.coll.is_some();
                if ui.add_enabled(open, egui::Button::new("Rescan")).clicked() {
                    app.push(Cmd::Rescan);
                    ui.close();
                }
                if ui.add_enabled(open, egui::Button::new("Export…")).clicked() {
                    app.export_dialog = Some(ExportDialog::default());
                    ui.close();
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let (u, r) = app.coll.as_ref().map_or((false, false), |c| {
                    (c.history.can_undo(), c.history.can_redo())
                });
                if ui
                    .add_enabled(u, egui::Button::new("Undo").shortcut_text("Ctrl+Z"))
                    .clicked()
                {
                    app.push(Cmd::Undo);
                    ui.close();
                }
                if ui
                    .add_enabled(r, egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z"))
                    .clicked()
                {
                    app.push(Cmd::Redo);
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                for (m, label, key) in [
                    (ViewMode::Grid, "Grid", "G"),
                    (ViewMode::Detail, "Detail", "Space"),
                    (ViewMode::Compare, "Compare", "C"),
                    (ViewMode::Label, "Labeling", "Ctrl+L"),
                    (ViewMode::Pareto, "Pareto", "V"),
                    (ViewMode::Policy, "Selection policy", ""),
                    (ViewMode::Scorers, "Preference scorer", ""),
                    (ViewMode::Monitor, "Batch monitor", "M"),
                ] {
                    if ui
                        .add(egui::Button::selectable(app.mode == m, label).shortcut_text(key))
                        .clicked()
                    {
                        app.push(match m {
                            ViewMode::Grid => Cmd::ShowGrid,
                            ViewMode::Detail => Cmd::ShowDetail(None),
                            ViewMode::Compare => Cmd::ShowCompare,
                            ViewMode::Label => Cmd::ShowLabel,
                            ViewMode::Pareto => Cmd::ShowPareto,
                            ViewMode::Policy => Cmd::ShowPolicy,
                            ViewMode::Scorers => Cmd::ShowScorers,
                            ViewMode::Monitor => Cmd::ShowMonitor,
                        });
                        ui.close();
                    }
                }
                ui.separator();
                ui.checkbox(&mut app.settings.show_filters, "Filters panel");
                ui.checkbox(&mut app.settings.show_inspector, "Inspector (I)");
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts (?)").clicked() {
                    app.show_help = true;
                    ui.close();
                }
            });
        });
    });
    if app.coll.is_none() || app.mode != ViewMode::Grid {
        return;
    }
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.horizontal(|ui| {
            let mut changed = false;
            ui.label("Sort");
            let current = app.settings.sort.column.clone();
            egui::ComboBox::from_id_salt("sort")
                .selected_text(column_label(&current))
                .height(400.0)
                .show_ui(ui, |ui| {
                    for col in model::sort_columns() {
                        let label = column_label(&col);
                        changed |= ui
                            .selectable_value(&mut app.settings.sort.column, col, label)
                            .changed();
                    }
                })
                .response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Sort by"));
            let dir = if app.settings.sort.descending {
                "descending"
            } else {
                "ascending"
            };
            if ui.button(dir).on_hover_text("sort direction").clicked() {
                app.settings.sort.descending = !app.settings.sort.descending;
                changed = true;
            }
            ui.separator();
            let search = ui.add(
                egui::TextEdit::singleline(&mut app.settings.filters.search)
                    .hint_text("search prompts, models, paths")
                    .desired_width(220.0),
            );
            search.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search"));
            changed |= search.changed();
            ui.separator();
            let size = ui.label("Size");
            ui.add(egui::Slider::new(&mut app.settings.thumb_size, 64.0..=320.0).show_value(false))
                .labelled_by(size.id);
            if let Some(c) = app.coll.as_mut() {
                ui.separator();
                ui.label(format!(
                    "{} shown of {} · {} selected",
                    c.view.len(),
                    c.rows.len(),
                    c.sel.selected.len()
                ));
                if changed {
                    c.view_dirty = true;
                }
            }
        });
    });
}

fn column_label(col: &str) -> String {
    signals::get(col).map_or_else(|| col.replace('_', " "), |d| d.label.to_string())
}

/// Status bar: scan progress with rate, ETA and cancel; export progress; pending writes; messages.
/// The CLIP part of the last scan in the status bar: what was embedded, or why nothing was
/// (no weights: where to put them, on hover).
fn clip_status(ui: &mut egui::Ui, s: &crate::pipeline::ScanSummary) {
    if let Some(c) = &s.clip {
        let head = c
            .head
            .as_deref()
            .map_or_else(|| "no aesthetic head".to_string(), |h| format!("head {h}"));
        ui.label(format!("· CLIP: {} embedded", c.embedded + c.already_embedded))
            .on_hover_text(format!(
                "model {} ({}), {head}\n{} embedded in this scan, {} failed\naesthetic: {} images, clip_score: {} images",
                c.model_name, c.model, c.embedded, c.failed, c.aesthetic, c.clip_score
            ));
    } else if let Some(why) = &s.clip_skipped {
        ui.weak("· CLIP off: no weights").on_hover_text(why);
    }
    if let Some(e) = &s.clip_error {
        ui.colored_label(Color32::YELLOW, "· CLIP pass stopped")
            .on_hover_text(e);
    }
}

pub fn status_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            let mut cmds = Vec::new();
            if let Some(c) = app.coll.as_ref() {
                if let Some(scan) = &c.scan {
                    let s = scan.progress.snapshot();
                    let frac = if s.total > 0 {
                        s.done as f32 / s.total as f32
                    } else {
                        0.0
                    };
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(220.0)
                            .text(format!(
                                "{} {}/{}",
                                if s.phase.is_empty() {
                                    "scanning"
                                } else {
                                    &s.phase
                                },
                                s.done,
                                s.total
                            )),
                    );
                    ui.label(format!(
                        "{:.0} {}/s{}",
                        s.rate,
                        if s.phase.starts_with("clip") {
                            "images"
                        } else {
                            "files"
                        },
                        s.eta_s
                            .map_or(String::new(), |e| format!(" · ETA {}", format_secs(e)))
                    ));
                    if let Some((slow, rate)) = s.slowest().and_then(|x| Some((x, x.rate()?))) {
                        ui.weak(format!("· slowest: {} {}/s", slow.name, format_rate(rate)))
                            .on_hover_text(format!(
                                "files per second each stage sustains: {}",
                                s.stages_line()
                            ));
                    }
                    if ui.button("Cancel scan").clicked() {
                        cmds.push(Cmd::CancelScan);
                    }
                } else if let Some(Ok(s)) = &c.last_scan {
                    let failed = s.failed + s.failed_earlier;
                    ui.label(format!(
                        "{} images · scanned in {:.1}s{}",
                        c.rows.len(),
                        s.seconds,
                        if failed > 0 {
                            format!(" · {failed} unreadable")
                        } else {
                            String::new()
                        }
                    ))
                    .on_hover_text(format!("database: {}", c.db.display()));
                    clip_status(ui, s);
                    if s.cancelled {
                        ui.colored_label(Color32::YELLOW, "scan cancelled — Rescan to finish");
                    }
                }
                if c.fallback_db {
                    ui.label("· read-only folder: database in the user data folder")
                        .on_hover_text(c.db.display().to_string());
                }
                if let Some(job) = &c.export_job {
                    let s = job.progress.snapshot();
                    let frac = if s.total > 0 {
                        s.done as f32 / s.total as f32
                    } else {
                        0.0
                    };
                    ui.separator();
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(160.0)
                            .text(format!("export {}/{}", s.done, s.total)),
                    );
                    if ui.button("Cancel export").clicked() {
                        cmds.push(Cmd::CancelExport);
                    }
                }
                let pending = c.pending_writes();
                if pending > 0 {
                    ui.label(format!("saving {pending}…"));
                }
                let backlog = c.thumbs.backlog();
                if backlog > 0 {
                    ui.label(format!("· thumbnails: {backlog} to make"));
                }
            }
            if let Some((m, err)) = &app.message {
                ui.separator();
                if *err {
                    ui.colored_label(ui.visuals().error_fg_color, m);
                } else {
                    ui.label(m);
                }
            }
            for c in cmds {
                app.push(c);
            }
        });
    });
}

/// The filter bar: status, tool, duplicates, errors, signal ranges with histograms, expression.
pub fn filters_panel(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::left("filters").resizable(true).default_size(250.0).show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt("filters-scroll").show(ui, |ui| {
            let Some(c) = app.coll.as_mut() else { return };
            let f = &mut app.settings.filters;
            let mut changed = false;
            ui.heading("Filters");
            if f.is_active() && ui.button("Clear all").clicked() {
                *f = Default::default();
                changed = true;
            }
            ui.label(RichText::new("Status").strong());
            ui.horizontal_wrapped(|ui| {
                for (k, s) in STATUSES.iter().enumerate() {
                    let n = c.status_counts[k];
                    let label = if *s == "none" { "unflagged" } else { s };
                    changed |= ui
                        .checkbox(&mut f.statuses[k], RichText::new(format!("{label} ({n})")).color(status_color(s)))
                        .changed();
                }
            });
            ui.label(RichText::new("Tool").strong());
            egui::ComboBox::from_id_salt("tool")
                .selected_text(f.tool.clone().unwrap_or_else(|| "any".into()))
                .show_ui(ui, |ui| {
                    changed |= ui.selectable_value(&mut f.tool, None, "any").changed();
                    for t in &c.tools {
                        changed |= ui.selectable_value(&mut f.tool, Some(t.clone()), t.as_str()).changed();
                    }
                })
                .response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Tool filter"));
            changed |= ui.checkbox(&mut f.duplicates_only, "near-duplicates only").changed();
            if let Some(g) = f.dup_group {
                ui.horizontal(|ui| {
                    ui.label(format!("duplicate group ≈{g}"));
                    if ui.small_button("x").clicked() {
                        f.dup_group = None;
                        changed = true;
                    }
                });
            }
            changed |= ui.checkbox(&mut f.errors_only, "unreadable files only").changed();
            if let Some(ids) = &f.only_ids {
                let n = ids.len();
                let mut clear = false;
                ui.horizontal(|ui| {
                    ui.label(format!("only {n} chosen images"));
                    clear = ui.small_button("x").on_hover_text("show all again").clicked();
                });
                if clear {
                    f.only_ids = None;
                    changed = true;
                }
            }
            ui.separator();
            ui.label(RichText::new("Signal ranges").strong());
            let mut remove = None;
            for (k, r) in f.ranges.iter_mut().enumerate() {
                let hist = c.histogram(&r.key);
                ui.horizontal(|ui| {
                    ui.label(column_label(&r.key));
                    if ui.small_button("x").on_hover_text("remove this filter").clicked() {
                        remove = Some(k);
                    }
                });
                if let HistState::Ready(Some((lo, hi, counts))) = hist {
                    histogram_widget(ui, &counts, lo, hi, r.lo, r.hi);
                    let speed = ((hi - lo) / 200.0).max(1e-6);
                    ui.horizontal(|ui| {
                        let a = ui.add(egui::DragValue::new(&mut r.lo).speed(speed).range(lo..=hi).prefix("min "));
                        a.widget_info(|| egui::WidgetInfo::labeled(egui::Role::SpinButton, true, format!("min {}", r.key)));
                        let b = ui.add(egui::DragValue::new(&mut r.hi).speed(speed).range(lo..=hi).prefix("max "));
                        b.widget_info(|| egui::WidgetInfo::labeled(egui::Role::SpinButton, true, format!("max {}", r.key)));
                        changed |= a.changed() || b.changed();
                    });
                    changed |= ui.checkbox(&mut r.keep_missing, "keep images without a value").changed();
                } else if hist == HistState::Computing {
                    ui.weak("computing the histogram…");
                } else {
                    ui.weak("no values yet");
                }
                ui.add_space(4.0);
            }
            if let Some(k) = remove {
                f.ranges.remove(k);
                changed = true;
            }
            let mut add = None;
            egui::ComboBox::from_id_salt("add-range")
                .selected_text("+ add a signal range")
                .show_ui(ui, |ui| {
                    for d in signals::registry() {
                        if matches!(d.kind, signals::Kind::Hash | signals::Kind::Json) || f.ranges.iter().any(|r| r.key == d.key) {
                            continue;
                        }
                        if ui.selectable_label(false, d.label).clicked() {
                            add = Some(d.key.to_string());
                        }
                    }
                })
                .response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Add a signal range"));
            if let Some(key) = add {
                // Until the histogram is known the range keeps everything.
                let (lo, hi) = match c.histogram(&key) {
                    HistState::Ready(h) => h.map_or((0.0, 1.0), |(lo, hi, _)| (lo, hi)),
                    HistState::Computing => (f64::NEG_INFINITY, f64::INFINITY),
                };
                f.ranges.push(RangeFilter { key, lo, hi, keep_missing: true });
                changed = true;
            }
            ui.separator();
            ui.label(RichText::new("Expression").strong())
                .on_hover_text("The `assay table --where` language, e.g.\nblur_laplacian_var >= 50 and tool = \"ComfyUI\"");
            let e = ui.add(egui::TextEdit::singleline(&mut f.expr).hint_text("e.g. colorfulness > 20"));
            e.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Expression"));
            changed |= e.changed();
            if let Some(err) = &c.view_error {
                ui.colored_label(ui.visuals().error_fg_color, err);
            }
            if changed {
                c.view_dirty = true;
            }
        });
    });
}

/// A histogram with the kept range highlighted and the cut-off parts dimmed.
fn histogram_widget(ui: &mut egui::Ui, counts: &[u32], lo: f64, hi: f64, a: f64, b: f64) {
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width().min(230.0), 40.0),
        egui::Sense::hover(),
    );
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, Color32::from_gray(28));
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f32;
    let w = rect.width() / counts.len().max(1) as f32;
    let span = (hi - lo).max(1e-12);
    for (k, &n) in counts.iter().enumerate() {
        let x0 = rect.left() + k as f32 * w;
        let h = rect.height() * n as f32 / max;
        let centre = lo + (k as f64 + 0.5) / counts.len() as f64 * span;
        let kept = centre >= a && centre <= b;
        let col = if kept {
            Color32::from_rgb(90, 150, 230)
        } else {
            Color32::from_gray(70)
        };
        p.rect_filled(
            egui::Rect::from_min_max(
                egui::pos2(x0 + 0.5, rect.bottom() - h),
                egui::pos2(x0 + w - 0.5, rect.bottom()),
            ),
            0.0,
            col,
        );
    }
    for v in [a, b] {
        let x = rect.left() + ((v - lo) / span) as f32 * rect.width();
        p.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            egui::Stroke::new(1.5, Color32::YELLOW),
        );
    }
}

/// The inspector: signals with units and direction, parsed metadata, raw metadata.
pub fn inspector(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::right("inspector")
        .resizable(true)
        .default_size(320.0)
        .show(ui, |ui| {
            let Some(c) = app.coll.as_mut() else { return };
            let id = match app.mode {
                ViewMode::Compare => c.compare_ids.get(c.compare_focus).copied(),
                _ => c.sel.cursor,
            };
            let Some(row) = id.and_then(|id| c.row_arc(id)) else {
                ui.weak("Select an image to see its signals and metadata.");
                return;
            };
            let mut cmds = Vec::new();
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
                        .show(ui, |ui| signals_section(ui, &row, &mut cmds));
                    egui::CollapsingHeader::new("Raw metadata")
                        .default_open(false)
                        .show(ui, |ui| raw_metadata_section(ui, c, row.id));
                });
            for c in cmds {
                app.push(c);
            }
        });
}

/// The image's path, decision (status, rating, source, reason, earlier version), error and
/// size / format.
fn image_summary(ui: &mut egui::Ui, row: &ImageRow) {
    ui.heading(truncate(&row.path, 60));
    let status = model::status_of(row).to_string();
    ui.horizontal(|ui| {
        ui.colored_label(
            status_color(&status),
            if status == "none" {
                "unflagged".into()
            } else {
                status.clone()
            },
        );
        if let Some(r) = row.decision_rating {
            ui.label(format!("rating {r}/5"));
        }
        if let Some(src) = &row.decision_source {
            ui.weak(format!("by {src}"));
        }
        let _ = status_badge(&status);
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
fn raw_metadata_section(ui: &mut egui::Ui, c: &mut super::Collection, id: i64) {
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
                ui.colored_label(Color32::YELLOW, format!("warnings: {warnings}"));
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

/// The welcome screen: open a folder, recent collections, how to get a demo.
pub fn welcome(app: &mut App, ui: &mut egui::Ui) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.2);
        ui.heading(RichText::new("Assay").size(32.0));
        ui.label("Cull, score and evaluate text-to-image candidates — locally.");
        ui.add_space(16.0);
        if ui
            .button(RichText::new("Open folder…").size(18.0))
            .clicked()
            && let Some(dir) = rfd::FileDialog::new().pick_folder()
        {
            app.push(Cmd::Open(dir));
        }
        ui.weak("or drop a folder onto this window");
        if !app.settings.recent.is_empty() {
            ui.add_space(16.0);
            ui.label(RichText::new("Recent collections").strong());
            for p in app.settings.recent.clone() {
                if ui.link(p.display().to_string()).clicked() {
                    app.push(Cmd::Open(p));
                }
            }
        }
        ui.add_space(16.0);
        ui.weak("Try the demo batch:  assay open assets/demo");
    });
}

const SHORTCUTS: &[(&str, &str)] = &[
    ("P", "pick (accept)"),
    ("X", "reject"),
    ("U", "unflag"),
    ("Shift+R", "send to review"),
    ("0–5", "rating (0 clears)"),
    ("arrows", "move (Shift extends the selection)"),
    ("Home / End", "first / last"),
    ("Ctrl+A", "select all shown"),
    ("Space / Enter / E", "detail view (Space again: back)"),
    ("C", "compare the selection (2–4)"),
    (
        "V",
        "Pareto view: scatter of two signals, front, box select",
    ),
    (
        "M",
        "batch monitor: drift, review rate and agreement per batch",
    ),
    ("G / Esc", "back to the grid"),
    ("Z", "toggle fit / 100 % (detail, compare)"),
    ("wheel, drag", "zoom, pan (detail, compare)"),
    ("I", "show / hide the inspector"),
    ("F", "face boxes and landmarks (detail, compare)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
    ("Ctrl+Shift+E", "export…"),
    ("? / F1", "this help"),
    ("Ctrl+L", "labeling: study setup, trials, results"),
    (
        "Left / A, Right / L",
        "labeling: prefer the left / right image",
    ),
    ("Down, B", "labeling: tie or can't tell, both bad"),
    (
        "1–9",
        "labeling: Likert rating, best-of-N choice, dimension ratings",
    ),
];

pub fn help_overlay(app: &mut App, ctx: &egui::Context) {
    let mut open = true;
    egui::Window::new("Keyboard shortcuts")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("keys").num_columns(2).striped(true).show(ui, |ui| {
                for (k, what) in SHORTCUTS {
                    ui.monospace(*k);
                    ui.label(*what);
                    ui.end_row();
                }
            });
            ui.weak("Every flag and rating is saved at once (append-only log); undo appends the earlier state.");
        });
    if !open {
        app.show_help = false;
    }
}

/// State of the export dialog.
#[derive(Debug, Clone)]
pub struct ExportDialog {
    pub to: String,
    pub scope: ExportScope,
    pub mode: Mode,
    pub xmp: bool,
    pub manifest: Option<ManifestFormat>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            to: String::new(),
            scope: ExportScope::Accepted,
            mode: Mode::Copy,
            xmp: true,
            manifest: Some(ManifestFormat::Csv),
        }
    }
}

pub fn export_dialog(app: &mut App, ctx: &egui::Context) {
    let Some(d) = app.export_dialog.as_mut() else {
        return;
    };
    let Some(c) = app.coll.as_ref() else { return };
    let counts = [
        c.rows
            .iter()
            .filter(|r| model::status_of(r) == "accepted" && r.error.is_none())
            .count(),
        c.sel.targets().len(),
        c.view.len(),
    ];
    let mut open = true;
    let mut start = None;
    egui::Window::new("Export")
        .open(&mut open)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.label("Copies or links files into a folder; originals are never modified.");
            ui.horizontal(|ui| {
                ui.label("To folder");
                let t = ui.add(egui::TextEdit::singleline(&mut d.to).desired_width(280.0));
                t.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Export folder")
                });
                if ui.button("Browse…").clicked()
                    && let Some(p) = rfd::FileDialog::new().pick_folder()
                {
                    d.to = p.display().to_string();
                }
            });
            ui.label("Which images");
            for (s, label, n) in [
                (ExportScope::Accepted, "accepted (picks)", counts[0]),
                (ExportScope::Selected, "selected", counts[1]),
                (ExportScope::Shown, "shown by the filters", counts[2]),
            ] {
                ui.radio_value(&mut d.scope, s, format!("{label} ({n})"));
            }
            ui.horizontal(|ui| {
                ui.label("As");
                ui.radio_value(&mut d.mode, Mode::Copy, "copies");
                ui.radio_value(&mut d.mode, Mode::Hardlink, "hard links");
                ui.radio_value(&mut d.mode, Mode::Symlink, "symbolic links");
            });
            ui.checkbox(
                &mut d.xmp,
                "XMP sidecars (rating, pick/reject label; Lightroom, digiKam)",
            );
            ui.horizontal(|ui| {
                ui.label("Manifest");
                ui.radio_value(&mut d.manifest, None, "none");
                ui.radio_value(&mut d.manifest, Some(ManifestFormat::Csv), "CSV");
                ui.radio_value(&mut d.manifest, Some(ManifestFormat::Json), "JSON");
            });
            ui.separator();
            let ok = !d.to.trim().is_empty();
            if ui
                .add_enabled(ok, egui::Button::new("Start export"))
                .clicked()
            {
                start = Some((
                    ExportRequest {
                        to: PathBuf::from(d.to.trim()),
                        mode: d.mode,
                        xmp: d.xmp,
                        manifest: d.manifest,
                    },
                    d.scope,
                ));
            }
        });
    if let Some((req, scope)) = start {
        app.push(Cmd::StartExport(req, scope));
    }
    if !open {
        app.export_dialog = None;
    }
}
