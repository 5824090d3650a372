//! The Pareto view: a scatter of two signals over the shown images (egui_plot) with the
//! non-dominated front highlighted, coloured by status or a third signal; click or drag a box
//! to select into the grid; hover for the thumbnail. A parallel-coordinates tab shows 3+
//! signals at once.

use std::collections::BTreeSet;

use eframe::egui::{self, Color32, Pos2, Rect, Stroke, Vec2};
use egui_plot::{Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points, Polygon};
use serde::{Deserialize, Serialize};

use super::model::{ClickMode, STATUSES, status_of};
use super::theme;
use super::views::status_color;
use super::{Cmd, Collection, ViewCtx, ViewMode};
use crate::selection::Value;
use crate::selection::rules::pareto_fronts;
use crate::signals::{self, Direction};
use crate::table;

/// View state of the Pareto view (persisted with the settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParetoState {
    pub x: String,
    pub y: String,
    pub x_max: bool,
    pub y_max: bool,
    /// `None`: colour by status; else by this signal.
    pub color_by: Option<String>,
    pub parallel: bool,
    pub parallel_keys: Vec<String>,
    #[serde(skip)]
    brush_start: Option<PlotPoint>,
}

impl Default for ParetoState {
    fn default() -> Self {
        Self {
            x: "blur_laplacian_var".into(),
            y: "noise_sigma".into(),
            x_max: true,
            y_max: false,
            color_by: None,
            parallel: false,
            parallel_keys: vec![
                "blur_laplacian_var".into(),
                "noise_sigma".into(),
                "contrast_rms".into(),
                "colorfulness".into(),
                "blockiness".into(),
            ],
            brush_start: None,
        }
    }
}

fn numeric_keys() -> Vec<&'static str> {
    signals::registry()
        .iter()
        .filter(|d| matches!(d.kind, signals::Kind::Number))
        .map(|d| d.key)
        .collect()
}

fn label(key: &str) -> String {
    signals::get(key).map_or_else(|| key.to_string(), |d| d.label.to_string())
}

fn better_is_max(key: &str) -> bool {
    !matches!(
        signals::get(key).map(|d| d.direction),
        Some(Direction::LowerIsBetter)
    )
}

fn num(row: &crate::store::ImageRow, key: &str) -> Option<f64> {
    match table::value(row, key) {
        Value::Num(x) if x.is_finite() => Some(x),
        _ => None,
    }
}

/// Points of the shown images with both values: (image id, x, y).
pub fn scatter_points(c: &Collection, p: &ParetoState) -> Vec<(i64, f64, f64)> {
    c.view
        .order
        .iter()
        .filter_map(|&i| {
            let r = &c.catalogue.rows[i];
            Some((r.id, num(r, &p.x)?, num(r, &p.y)?))
        })
        .collect()
}

/// Ids on the first (non-dominated) front of `points` for the chosen directions.
pub fn front_ids(points: &[(i64, f64, f64)], x_max: bool, y_max: bool) -> Vec<i64> {
    let pts: Vec<Vec<f64>> = points.iter().map(|(_, x, y)| vec![*x, *y]).collect();
    let fronts = pareto_fronts(&pts, &[x_max, y_max]);
    points
        .iter()
        .zip(fronts)
        .filter(|(_, f)| *f == 0)
        .map(|((id, _, _), _)| *id)
        .collect()
}

fn key_combo(ui: &mut egui::Ui, id: &str, accessible: &str, value: &mut String) -> bool {
    let mut changed = false;
    egui::ComboBox::from_id_salt(id)
        .selected_text(label(value))
        .height(400.0)
        .show_ui(ui, |ui| {
            for k in numeric_keys() {
                changed |= ui
                    .selectable_value(value, k.to_string(), label(k))
                    .changed();
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, accessible));
    changed
}

/// The Pareto view: its toolbar (scatter or parallel coordinates, signals, directions,
/// colour) and the chosen plot; `p` is the view's persisted state.
pub fn show(cx: ViewCtx<'_>, p: &mut ParetoState, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    ui.horizontal_wrapped(|ui| {
        if ui.button("Back to grid").clicked() {
            cmds.push(Cmd::ShowGrid);
        }
        ui.separator();
        ui.selectable_value(&mut p.parallel, false, "Scatter");
        ui.selectable_value(&mut p.parallel, true, "Parallel coordinates");
        ui.separator();
        if !p.parallel {
            ui.label("x");
            if key_combo(ui, "pareto-x", "x signal", &mut p.x) {
                p.x_max = better_is_max(&p.x);
            }
            ui.checkbox(&mut p.x_max, "higher is better");
            ui.label("y");
            if key_combo(ui, "pareto-y", "y signal", &mut p.y) {
                p.y_max = better_is_max(&p.y);
            }
            ui.checkbox(&mut p.y_max, "higher is better");
            ui.separator();
            ui.label("colour");
            egui::ComboBox::from_id_salt("pareto-colour")
                .selected_text(p.color_by.as_deref().map_or("status".to_string(), label))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut p.color_by, None, "status");
                    for k in numeric_keys() {
                        ui.selectable_value(&mut p.color_by, Some(k.to_string()), label(k));
                    }
                });
        }
    });
    if p.parallel {
        parallel(cx.coll, p, ui);
    } else {
        scatter(cx.coll, p, ui, &mut cmds);
    }
    cx.cmds.extend(cmds);
}

fn ramp(t: f64) -> Color32 {
    // Dark blue → yellow (viridis-like endpoints).
    let t = t.clamp(0.0, 1.0) as f32;
    let a = [68.0, 1.0, 84.0];
    let b = [253.0, 231.0, 37.0];
    Color32::from_rgb(
        (a[0] + (b[0] - a[0]) * t) as u8,
        (a[1] + (b[1] - a[1]) * t) as u8,
        (a[2] + (b[2] - a[2]) * t) as u8,
    )
}

/// One legend entry of the scatter plot: name, colour and points.
type Series = (String, Color32, Vec<[f64; 2]>);

/// The scatter plot of the two chosen signals with the Pareto front, box and click selection,
/// and a hover tooltip with the thumbnail.
fn scatter(c: &mut Collection, state: &mut ParetoState, ui: &mut egui::Ui, cmds: &mut Vec<Cmd>) {
    let pts = scatter_points(c, state);
    let p = state.clone();
    let front = front_ids(&pts, p.x_max, p.y_max);
    let front_set: BTreeSet<i64> = front.iter().copied().collect();
    let selected = c.grid.sel.selected.clone();
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} images with both values · front: {} · {} selected",
            pts.len(),
            front.len(),
            selected.len()
        ));
        if ui.button("Select front").clicked() {
            c.grid.sel.selected.clone_from(&front_set);
            c.grid.sel.cursor = front.first().copied();
        }
        if ui
            .add_enabled(
                !selected.is_empty(),
                egui::Button::new("Show selection in grid"),
            )
            .clicked()
        {
            cmds.push(Cmd::ShowOnly(selected.iter().copied().collect()));
        }
        ui.weak("click: select · drag: box select (Ctrl adds) · wheel: zoom");
    });
    if pts.is_empty() {
        ui.label("No shown image has both signals.");
        return;
    }
    let series = scatter_series(c, &pts, p.color_by.as_deref());
    let mut front_pts: Vec<[f64; 2]> = pts
        .iter()
        .filter(|(id, _, _)| front_set.contains(id))
        .map(|(_, x, y)| [*x, *y])
        .collect();
    front_pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let sel_pts: Vec<[f64; 2]> = pts
        .iter()
        .filter(|(id, _, _)| selected.contains(id))
        .map(|(_, x, y)| [*x, *y])
        .collect();
    let resp = Plot::new("pareto-plot")
        .x_axis_label(label(&p.x))
        .y_axis_label(label(&p.y))
        .allow_drag(false)
        .allow_boxed_zoom(false)
        .legend(egui_plot::Legend::default())
        .show(ui, |pu| {
            plot_scatter(pu, series, front_pts, sel_pts, p.brush_start);
            (pu.pointer_coordinate(), *pu.transform())
        });
    let (pointer, transform) = resp.inner;
    let r = resp.response;
    // Nearest point within 10 px of the pointer.
    let nearest = r.hover_pos().and_then(|hp| {
        pts.iter()
            .map(|(id, x, y)| {
                (
                    *id,
                    transform
                        .position_from_point(&PlotPoint::new(*x, *y))
                        .distance(hp),
                )
            })
            .filter(|(_, d)| *d <= 10.0)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id)
    });
    let brush_start = &mut state.brush_start;
    select_by_pointer(
        &r,
        pointer,
        nearest,
        &pts,
        brush_start,
        &mut c.grid.sel,
        cmds,
    );
    if let Some(id) = nearest {
        hover_tooltip(ui, c, id, &p, front_set.contains(&id));
    }
    let _ = ViewMode::Pareto;
}

/// The scatter's series: by status (4), or by colour bins (8, plus "no value") of a third signal.
fn scatter_series(c: &Collection, pts: &[(i64, f64, f64)], color_by: Option<&str>) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    match color_by {
        None => {
            for s in STATUSES {
                let v: Vec<[f64; 2]> = pts
                    .iter()
                    .filter(|(id, _, _)| c.row(*id).is_some_and(|r| status_of(r) == s))
                    .map(|(_, x, y)| [*x, *y])
                    .collect();
                series.push((s.label().to_string(), status_color(s), v));
            }
        }
        Some(key) => {
            let vals: Vec<Option<f64>> = pts
                .iter()
                .map(|(id, _, _)| c.row(*id).and_then(|r| num(r, key)))
                .collect();
            let lo = vals.iter().flatten().copied().fold(f64::INFINITY, f64::min);
            let hi = vals
                .iter()
                .flatten()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let bins = 8;
            let mut v: Vec<Vec<[f64; 2]>> = vec![Vec::new(); bins + 1];
            for ((_, x, y), val) in pts.iter().zip(&vals) {
                let b = match val {
                    Some(z) if hi > lo => {
                        (((z - lo) / (hi - lo)) * (bins as f64 - 1.0)).round() as usize
                    }
                    Some(_) => 0,
                    None => bins,
                };
                v[b].push([*x, *y]);
            }
            for (b, pts) in v.into_iter().enumerate() {
                let (name, col) = if b == bins {
                    ("no value".to_string(), Color32::GRAY)
                } else {
                    let t = b as f64 / (bins as f64 - 1.0);
                    (
                        format!("{} ≈ {:.3}", label(key), lo + t * (hi - lo)),
                        ramp(t),
                    )
                };
                series.push((name, col, pts));
            }
        }
    }
    series
}

/// Draws the series, the front (line and diamonds), the selection rings and the brush box.
fn plot_scatter(
    pu: &mut egui_plot::PlotUi,
    series: Vec<Series>,
    front_pts: Vec<[f64; 2]>,
    sel_pts: Vec<[f64; 2]>,
    brush: Option<PlotPoint>,
) {
    for (name, col, v) in series {
        if !v.is_empty() {
            pu.points(
                Points::new(name, PlotPoints::from(v))
                    .color(col)
                    .radius(3.0)
                    .filled(true),
            );
        }
    }
    pu.line(
        Line::new("Pareto front", PlotPoints::from(front_pts.clone()))
            .color(theme::PARETO_FRONT)
            .width(1.5),
    );
    pu.points(
        Points::new("front", PlotPoints::from(front_pts))
            .shape(MarkerShape::Diamond)
            .color(theme::PARETO_FRONT)
            .radius(5.0)
            .filled(false),
    );
    if !sel_pts.is_empty() {
        pu.points(
            Points::new("selected", PlotPoints::from(sel_pts))
                .color(Color32::WHITE)
                .radius(6.0)
                .filled(false),
        );
    }
    if let (Some(a), Some(b)) = (brush, pu.pointer_coordinate()) {
        let poly = vec![[a.x, a.y], [b.x, a.y], [b.x, b.y], [a.x, b.y]];
        pu.polygon(Polygon::new("brush", PlotPoints::from(poly)).fill_color(theme::BRUSH));
    }
}

/// Box selection by dragging (Ctrl adds) and click selection of the nearest point (Ctrl
/// toggles); a click on nothing clears the selection.
fn select_by_pointer(
    r: &egui::Response,
    pointer: Option<PlotPoint>,
    nearest: Option<i64>,
    pts: &[(i64, f64, f64)],
    brush_start: &mut Option<PlotPoint>,
    sel: &mut super::model::Selection,
    cmds: &mut Vec<Cmd>,
) {
    let modifiers = r.ctx.input(|i| i.modifiers);
    if r.drag_started() {
        *brush_start = pointer;
    }
    if r.drag_stopped() {
        if let (Some(a), Some(b)) = (brush_start.take(), pointer) {
            let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
            let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
            let inside: Vec<i64> = pts
                .iter()
                .filter(|(_, x, y)| *x >= x0 && *x <= x1 && *y >= y0 && *y <= y1)
                .map(|(id, _, _)| *id)
                .collect();
            if !modifiers.command {
                sel.selected.clear();
            }
            sel.selected.extend(inside.iter().copied());
            if let Some(first) = inside.first() {
                sel.cursor = Some(*first);
            }
        }
    } else if r.clicked() {
        if let Some(id) = nearest {
            let mode = if modifiers.command {
                ClickMode::Toggle
            } else {
                ClickMode::Replace
            };
            cmds.push(Cmd::Click(id, mode));
        } else if !modifiers.command {
            sel.selected.clear();
        }
    }
}

/// The hovered point's thumbnail (requested when missing), path, both values and whether it is
/// on the front.
fn hover_tooltip(ui: &egui::Ui, c: &mut Collection, id: i64, p: &ParetoState, on_front: bool) {
    let Some(row) = c.row(id).cloned() else {
        return;
    };
    let tex = c.caches.textures.get_sized(id);
    if tex.is_none() && row.error.is_none() {
        let req = c.thumb_req(&row);
        c.caches.thumbs.want(vec![req]);
    }
    egui::Tooltip::always_open(
        ui.ctx().clone(),
        ui.layer_id(),
        egui::Id::unique("pareto-hover"),
        egui::PopupAnchor::Pointer,
    )
    .show(|ui| {
        if let Some((t, size)) = tex {
            let s = 160.0 / size.x.max(size.y);
            ui.image((t, size * s));
        }
        ui.label(&row.path);
        ui.label(format!(
            "{}: {}  ·  {}: {}",
            label(&p.x),
            num(&row, &p.x).map_or("–".into(), |v| format!("{v:.4}")),
            label(&p.y),
            num(&row, &p.y).map_or("–".into(), |v| format!("{v:.4}"))
        ));
        if on_front {
            ui.colored_label(theme::PARETO_FRONT, "on the Pareto front");
        }
    });
}

/// Parallel coordinates over the chosen keys: one polyline per shown image (subsampled above
/// 3,000), each axis scaled to its range with the better end at the top.
fn parallel(c: &Collection, p: &mut ParetoState, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        ui.label("axes:");
        for k in numeric_keys() {
            let mut on = p.parallel_keys.iter().any(|x| x == k);
            if ui.checkbox(&mut on, label(k)).changed() {
                let keys = &mut p.parallel_keys;
                if on {
                    keys.push(k.to_string());
                } else {
                    keys.retain(|x| x != k);
                }
            }
        }
    });
    let keys = p.parallel_keys.clone();
    if keys.len() < 2 {
        ui.label("Choose at least two signals.");
        return;
    }
    let rows: Vec<(i64, crate::domain::Status, Vec<Option<f64>>)> = c
        .view
        .order
        .iter()
        .map(|&i| {
            let r = &c.catalogue.rows[i];
            (r.id, status_of(r), keys.iter().map(|k| num(r, k)).collect())
        })
        .collect();
    let ranges: Vec<(f64, f64)> = (0..keys.len())
        .map(|j| {
            let it = rows.iter().filter_map(|r| r.2[j]);
            let lo = it.clone().fold(f64::INFINITY, f64::min);
            let hi = it.fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        })
        .collect();
    let step = (rows.len() / 3000).max(1);
    let (rect, _) = ui.allocate_exact_size(ui.available_size(), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::PARALLEL_BG);
    let inner = rect.shrink2(Vec2::new(60.0, 30.0));
    let ax_x = |j: usize| inner.left() + inner.width() * j as f32 / (keys.len() - 1) as f32;
    let to_y = |j: usize, v: f64| {
        let (lo, hi) = ranges[j];
        let mut t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        if !better_is_max(&keys[j]) {
            t = 1.0 - t;
        }
        inner.bottom() - inner.height() * t as f32
    };
    let mut drawn = 0;
    for (k, (id, status, vals)) in rows.iter().enumerate() {
        let sel = c.grid.sel.selected.contains(id);
        if k % step != 0 && !sel {
            continue;
        }
        let pts: Vec<Pos2> = vals
            .iter()
            .enumerate()
            .filter_map(|(j, v)| v.map(|v| Pos2::new(ax_x(j), to_y(j, v))))
            .collect();
        if pts.len() < 2 {
            continue;
        }
        let (col, w) = if sel {
            (Color32::WHITE, 1.8)
        } else {
            (status_color(*status).gamma_multiply(0.45), 1.0)
        };
        painter.add(egui::Shape::line(pts, Stroke::new(w, col)));
        drawn += 1;
    }
    for (j, k) in keys.iter().enumerate() {
        let x = ax_x(j);
        painter.line_segment(
            [Pos2::new(x, inner.top()), Pos2::new(x, inner.bottom())],
            Stroke::new(1.0, Color32::GRAY),
        );
        painter.text(
            Pos2::new(x, rect.top() + 4.0),
            egui::Align2::CENTER_TOP,
            label(k),
            egui::FontId::proportional(11.0),
            Color32::LIGHT_GRAY,
        );
        let (lo, hi) = ranges[j];
        let (top, bottom) = if better_is_max(k) { (hi, lo) } else { (lo, hi) };
        for (v, y, a) in [
            (top, inner.top(), egui::Align2::RIGHT_CENTER),
            (bottom, inner.bottom(), egui::Align2::RIGHT_CENTER),
        ] {
            if v.is_finite() {
                painter.text(
                    Pos2::new(x - 4.0, y),
                    a,
                    format!("{v:.3}"),
                    egui::FontId::monospace(10.0),
                    Color32::GRAY,
                );
            }
        }
    }
    painter.text(
        Rect::from_min_size(rect.left_bottom() - Vec2::new(0.0, 16.0), Vec2::ZERO).min
            + Vec2::new(6.0, 0.0),
        egui::Align2::LEFT_TOP,
        format!(
            "{drawn} of {} images drawn · better values at the top · selection in white",
            rows.len()
        ),
        egui::FontId::proportional(11.0),
        Color32::GRAY,
    );
}
