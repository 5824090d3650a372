//! The filter bar: status, tool, duplicates, errors, signal ranges with histograms, expression.

use eframe::egui::{self, RichText};

use super::column_label;
use crate::gui::model::{Filters, RangeFilter, STATUSES};
use crate::gui::theme;
use crate::gui::views::status_color;
use crate::gui::{Collection, HistState};
use crate::signals;

/// The filter bar: status, tool, duplicates, errors, signal ranges with histograms, expression;
/// edits `f` and marks the collection's view dirty when it changed.
pub fn filters_panel(c: &mut Collection, f: &mut Filters, ui: &mut egui::Ui) {
    egui::Panel::left("filters").resizable(true).default_size(250.0).show(ui, |ui| {
        egui::ScrollArea::vertical().id_salt("filters-scroll").show(ui, |ui| {
            let mut changed = false;
            ui.heading("Filters");
            if f.is_active() && ui.button("Clear all").clicked() {
                *f = Default::default();
                changed = true;
            }
            changed |= choice_filters(ui, c, f);
            ui.separator();
            changed |= signal_ranges(ui, c, f);
            ui.separator();
            ui.label(RichText::new("Expression").strong())
                .on_hover_text("The `assay table --where` language, e.g.\nblur_laplacian_var >= 50 and tool = \"ComfyUI\"");
            let e = ui.add(egui::TextEdit::singleline(&mut f.expr).hint_text("e.g. colorfulness > 20"));
            e.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Expression"));
            changed |= e.changed();
            if let Some(err) = &c.view.error {
                ui.colored_label(ui.visuals().error_fg_color, err);
            }
            if changed {
                c.view.dirty = true;
            }
        });
    });
}

/// Status (with counts), tool, near duplicates, duplicate group, unreadable files, chosen ids;
/// true when one changed.
fn choice_filters(ui: &mut egui::Ui, c: &Collection, f: &mut Filters) -> bool {
    let mut changed = false;
    ui.label(RichText::new("Status").strong());
    ui.horizontal_wrapped(|ui| {
        for (k, s) in STATUSES.iter().enumerate() {
            let n = c.view.status_counts[k];
            let label = s.label();
            changed |= ui
                .checkbox(
                    &mut f.statuses[k],
                    RichText::new(format!("{label} ({n})")).color(status_color(*s)),
                )
                .changed();
        }
    });
    ui.label(RichText::new("Tool").strong());
    egui::ComboBox::from_id_salt("tool")
        .selected_text(f.tool.clone().unwrap_or_else(|| "any".into()))
        .show_ui(ui, |ui| {
            changed |= ui.selectable_value(&mut f.tool, None, "any").changed();
            for t in &c.view.tools {
                changed |= ui
                    .selectable_value(&mut f.tool, Some(t.clone()), t.as_str())
                    .changed();
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Tool filter"));
    changed |= ui
        .checkbox(&mut f.duplicates_only, "near-duplicates only")
        .changed();
    if let Some(g) = f.dup_group {
        ui.horizontal(|ui| {
            ui.label(format!("duplicate group ≈{g}"));
            if ui.small_button("x").clicked() {
                f.dup_group = None;
                changed = true;
            }
        });
    }
    changed |= ui
        .checkbox(&mut f.errors_only, "unreadable files only")
        .changed();
    if let Some(ids) = &f.only_ids {
        let n = ids.len();
        let mut clear = false;
        ui.horizontal(|ui| {
            ui.label(format!("only {n} chosen images"));
            clear = ui
                .small_button("x")
                .on_hover_text("show all again")
                .clicked();
        });
        if clear {
            f.only_ids = None;
            changed = true;
        }
    }
    changed
}

/// The signal ranges, each with its histogram, bounds and "keep missing", and "+ add a signal
/// range"; true when one changed.
fn signal_ranges(ui: &mut egui::Ui, c: &mut Collection, f: &mut Filters) -> bool {
    let mut changed = false;
    ui.label(RichText::new("Signal ranges").strong());
    let mut remove = None;
    for (k, r) in f.ranges.iter_mut().enumerate() {
        let hist = c.histogram(&r.key);
        ui.horizontal(|ui| {
            ui.label(column_label(&r.key));
            if ui
                .small_button("x")
                .on_hover_text("remove this filter")
                .clicked()
            {
                remove = Some(k);
            }
        });
        if let HistState::Ready(Some((lo, hi, counts))) = hist {
            histogram_widget(ui, &counts, lo, hi, r.lo, r.hi);
            let speed = ((hi - lo) / 200.0).max(1e-6);
            ui.horizontal(|ui| {
                let a = ui.add(
                    egui::DragValue::new(&mut r.lo)
                        .speed(speed)
                        .range(lo..=hi)
                        .prefix("min "),
                );
                a.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::SpinButton,
                        true,
                        format!("min {}", r.key),
                    )
                });
                let b = ui.add(
                    egui::DragValue::new(&mut r.hi)
                        .speed(speed)
                        .range(lo..=hi)
                        .prefix("max "),
                );
                b.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::SpinButton,
                        true,
                        format!("max {}", r.key),
                    )
                });
                changed |= a.changed() || b.changed();
            });
            changed |= ui
                .checkbox(&mut r.keep_missing, "keep images without a value")
                .changed();
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
                if matches!(d.kind, signals::Kind::Hash | signals::Kind::Json)
                    || f.ranges.iter().any(|r| r.key == d.key)
                {
                    continue;
                }
                if ui.selectable_label(false, d.label).clicked() {
                    add = Some(d.key.to_string());
                }
            }
        })
        .response
        .widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Add a signal range")
        });
    if let Some(key) = add {
        // Until the histogram is known the range keeps everything.
        let (lo, hi) = match c.histogram(&key) {
            HistState::Ready(h) => h.map_or((0.0, 1.0), |(lo, hi, _)| (lo, hi)),
            HistState::Computing => (f64::NEG_INFINITY, f64::INFINITY),
        };
        f.ranges.push(RangeFilter {
            key,
            lo,
            hi,
            keep_missing: true,
        });
        changed = true;
    }
    changed
}

/// A histogram with the kept range highlighted and the cut-off parts dimmed.
fn histogram_widget(ui: &mut egui::Ui, counts: &[u32], lo: f64, hi: f64, a: f64, b: f64) {
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width().min(230.0), 40.0),
        egui::Sense::hover(),
    );
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, theme::HISTOGRAM_BG);
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f32;
    let w = rect.width() / counts.len().max(1) as f32;
    let span = (hi - lo).max(1e-12);
    for (k, &n) in counts.iter().enumerate() {
        let x0 = rect.left() + k as f32 * w;
        let h = rect.height() * n as f32 / max;
        let centre = lo + (k as f64 + 0.5) / counts.len() as f64 * span;
        let kept = centre >= a && centre <= b;
        let col = if kept {
            theme::ACCENT
        } else {
            theme::OUT_OF_RANGE
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
            egui::Stroke::new(1.5, theme::RANGE_MARK),
        );
    }
}
