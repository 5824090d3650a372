//! The central views: the virtualised grid, the detail (loupe) view and compare.

use crate::domain::Status;
use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use super::model::{ClickMode, Filters, status_of};
use super::theme;
use super::{Cmd, Collection, ViewCtx, ViewMode, zoom};
use crate::store::ImageRow;

/// Colour of a decision status.
pub fn status_color(status: Status) -> Color32 {
    match status {
        Status::Accepted => theme::ACCEPTED,
        Status::Rejected => theme::REJECTED,
        Status::Review => theme::REVIEW,
        Status::None => theme::UNFLAGGED,
    }
}

/// One-letter badge of a status (the key that sets it; Shift+R for review).
pub fn status_badge(status: Status) -> &'static str {
    match status {
        Status::Accepted => "P",
        Status::Rejected => "X",
        Status::Review => "R",
        Status::None => "",
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn dup_group(row: &ImageRow) -> Option<i64> {
    match row.signals.get("dup_group") {
        // 0 = not a near duplicate of anything.
        Some(crate::store::SignalValue::Number(g)) if *g != 0.0 => Some(*g as i64),
        _ => None,
    }
}

/// Draws a placeholder with a reason (unreadable file, thumbnail failure, loading).
fn placeholder(painter: &egui::Painter, rect: Rect, icon: &str, text: &str, color: Color32) {
    painter.rect_filled(rect, 4.0, theme::PLACEHOLDER_BG);
    painter.text(
        rect.center() - Vec2::new(0.0, 10.0),
        Align2::CENTER_CENTER,
        icon,
        FontId::proportional(22.0),
        color,
    );
    let galley = painter.layout(
        text.to_string(),
        FontId::proportional(10.0),
        theme::PLACEHOLDER_TEXT,
        rect.width() - 8.0,
    );
    let pos = Pos2::new(rect.left() + 4.0, rect.center().y + 6.0);
    painter
        .with_clip_rect(rect)
        .galley(pos, galley, Color32::GRAY);
}

/// The sizes of one grid cell: the square thumbnail and the file name under it.
#[derive(Clone, Copy)]
struct CellGeometry {
    size: f32,
    label_h: f32,
    cell: Vec2,
}

/// The thumbnail grid. Only visible rows are laid out (`ScrollArea::show_rows`); thumbnails are
/// requested for the visible rows plus one screen of margin, nearest first. "Clear filters"
/// (shown when nothing matches) resets `filters`.
pub fn grid(cx: ViewCtx<'_>, size: f32, filters: &mut Filters, ui: &mut egui::Ui) {
    let c = cx.coll;
    if c.view.order.is_empty() {
        if empty_grid(ui, c) {
            *filters = Default::default();
            c.view.dirty = true;
        }
        return;
    }
    let spacing = 6.0;
    let label_h = 16.0;
    let cell = Vec2::new(size, size + label_h);
    let g = CellGeometry {
        size,
        label_h,
        cell,
    };
    let avail_w = ui.available_width();
    let cols = (((avail_w + spacing) / (cell.x + spacing)).floor() as usize).max(1);
    c.grid.cols = cols;
    let n = c.view.order.len();
    let nrows = n.div_ceil(cols);
    let row_h = cell.y;
    let area = grid_area(ui, c, cols, row_h);
    let mut cmds = Vec::new();
    let cursor = c.grid.sel.cursor;
    let out = area.show_rows(ui, row_h, nrows, |ui, range| {
        let first = range.start * cols;
        let last = (range.end * cols).min(n);
        for r in range {
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = spacing;
                for k in 0..cols {
                    let p = r * cols + k;
                    let Some(&ri) = c.view.order.get(p) else {
                        break;
                    };
                    let row = &c.catalogue.rows[ri];
                    let selected = c.grid.sel.selected.contains(&row.id);
                    grid_cell(
                        ui,
                        row,
                        &mut c.caches.textures,
                        selected,
                        cursor,
                        g,
                        &mut cmds,
                    );
                }
            });
        }
        (first, last)
    });
    c.grid.scroll = (out.state.clamped_offset().y, out.inner_rect.height());
    let (first, last) = out.inner;
    request_thumbnails(c, first, last, cols);
    cx.cmds.extend(cmds);
}

/// What an empty grid says (reading, no images, nothing matches); true when "Clear filters"
/// was clicked.
fn empty_grid(ui: &mut egui::Ui, c: &Collection) -> bool {
    let mut clear = false;
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.3);
        if !c.catalogue.loaded || (c.catalogue.rows.is_empty() && c.scanning()) {
            ui.spinner();
            ui.label("Reading the collection…");
        } else if c.catalogue.rows.is_empty() {
            ui.heading("No images in this folder");
            ui.label("Assay reads PNG, JPEG, WebP, GIF, BMP and TIFF files (sub-folders too).");
        } else {
            ui.heading("No image matches the filters");
            if ui.button("Clear filters").clicked() {
                clear = true;
            }
        }
    });
    clear
}

/// The grid's scroll area, scrolled to bring the cursor into view when asked to.
fn grid_area(ui: &egui::Ui, c: &mut Collection, cols: usize, row_h: f32) -> egui::ScrollArea {
    let mut area = egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .id_salt("grid");
    if c.grid.scroll_to_cursor {
        c.grid.scroll_to_cursor = false;
        if let Some(pos) = c
            .grid
            .sel
            .cursor
            .and_then(|id| c.view.ids.iter().position(|&x| x == id))
        {
            let y = (pos / cols) as f32 * (row_h + ui.spacing().item_spacing.y);
            let (off, vh) = c.grid.scroll;
            if y < off {
                area = area.vertical_scroll_offset(y);
            } else if vh > 0.0 && y + row_h > off + vh {
                area = area.vertical_scroll_offset(y + row_h - vh);
            }
        }
    }
    area
}

/// One grid cell: thumbnail, badges, file name; clicks become commands.
fn grid_cell(
    ui: &mut egui::Ui,
    row: &ImageRow,
    textures: &mut super::thumbs::TextureCache,
    selected: bool,
    cursor: Option<i64>,
    g: CellGeometry,
    cmds: &mut Vec<Cmd>,
) {
    let id = row.id;
    let (rect, resp) = ui.allocate_exact_size(g.cell, Sense::click());
    let name = file_name(&row.path).to_string();
    let status = status_of(row);
    resp.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::ListBoxOption, true, selected, &name)
    });
    if !ui.is_rect_visible(rect) {
        return;
    }
    let painter = ui.painter();
    let img_rect = Rect::from_min_size(rect.min, Vec2::splat(g.size));
    if selected || cursor == Some(id) {
        painter.rect_filled(
            rect.expand(2.0),
            4.0,
            ui.visuals()
                .selection
                .bg_fill
                .gamma_multiply(if selected { 0.8 } else { 0.35 }),
        );
    }
    paint_thumbnail(painter, img_rect, row, textures, g.size);
    paint_badges(painter, img_rect, row, status);
    let label_rect = Rect::from_min_size(
        Pos2::new(rect.left(), img_rect.bottom()),
        Vec2::new(g.size, g.label_h),
    );
    let galley = painter.layout_no_wrap(
        name.clone(),
        FontId::proportional(11.0),
        ui.visuals().text_color(),
    );
    painter.with_clip_rect(label_rect).galley(
        label_rect.left_top() + Vec2::new(2.0, 2.0),
        galley,
        Color32::WHITE,
    );
    if resp.double_clicked() {
        cmds.push(Cmd::ShowDetail(Some(id)));
    } else if resp.clicked() {
        let m = ui.input(|i| i.modifiers);
        let mode = if m.shift {
            ClickMode::Range
        } else if m.command {
            ClickMode::Toggle
        } else {
            ClickMode::Replace
        };
        cmds.push(Cmd::Click(id, mode));
    }
    resp.on_hover_ui_at_pointer(|ui| {
        ui.label(&row.path);
        if let Some(p) = &row.positive {
            ui.label(egui::RichText::new(truncate(p, 200)).weak());
        }
    });
}

/// The thumbnail fitted into its square, or a placeholder (file error, thumbnail failure,
/// loading).
fn paint_thumbnail(
    painter: &egui::Painter,
    img_rect: Rect,
    row: &ImageRow,
    textures: &mut super::thumbs::TextureCache,
    size: f32,
) {
    let id = row.id;
    let error = row.error.clone();
    let tex = if error.is_none() {
        textures.get(id)
    } else {
        None
    };
    match (&error, tex, textures.failed.get(&id)) {
        (Some(e), _, _) => placeholder(painter, img_rect, "!", e, theme::UNREADABLE),
        (None, Some(t), _) => {
            let tsize = textures.get_sized(id).map_or(Vec2::splat(1.0), |(_, s)| s);
            let s = (size / tsize.x).min(size / tsize.y);
            let r = Rect::from_center_size(img_rect.center(), tsize * s);
            painter.image(
                t,
                r,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        (None, None, Some(e)) => placeholder(painter, img_rect, "!", e, theme::UNREADABLE),
        (None, None, None) => {
            painter.rect_filled(img_rect, 4.0, theme::THUMB_BG);
        }
    }
}

/// Badges: status (top-left; hollow for a decision on an earlier version), rating
/// (bottom-left), near-duplicate group (top-right).
fn paint_badges(painter: &egui::Painter, img_rect: Rect, row: &ImageRow, status: Status) {
    if !status_badge(status).is_empty() {
        let b = Rect::from_min_size(img_rect.min + Vec2::new(3.0, 3.0), Vec2::new(18.0, 18.0));
        painter.rect_filled(b, 9.0, status_color(status));
        painter.text(
            b.center(),
            Align2::CENTER_CENTER,
            status_badge(status),
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    } else if let Some(earlier) = &row.earlier_decision {
        // Decided on an earlier version whose pixels differ: a hollow badge.
        let st = Status::parse(earlier.split(' ').next().unwrap_or("")).unwrap_or(Status::None);
        if !status_badge(st).is_empty() {
            let center = img_rect.min + Vec2::new(12.0, 12.0);
            painter.circle_stroke(center, 8.0, egui::Stroke::new(1.5, status_color(st)));
            painter.text(
                center,
                Align2::CENTER_CENTER,
                status_badge(st),
                FontId::proportional(11.0),
                status_color(st),
            );
        }
    }
    if let Some(stars) = row.decision_rating.filter(|r| *r > 0) {
        painter.text(
            img_rect.left_bottom() + Vec2::new(4.0, -4.0),
            Align2::LEFT_BOTTOM,
            "*".repeat(stars as usize),
            FontId::monospace(14.0),
            theme::STARS,
        );
    }
    if let Some(g) = dup_group(row) {
        let t = format!("≈{g}");
        let pos = img_rect.right_top() + Vec2::new(-4.0, 4.0);
        let bg = painter.text(
            pos,
            Align2::RIGHT_TOP,
            &t,
            FontId::proportional(11.0),
            Color32::WHITE,
        );
        painter.rect_filled(bg.expand(2.0), 3.0, theme::DUP_BADGE);
        painter.text(
            pos,
            Align2::RIGHT_TOP,
            &t,
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    }
}

/// Thumbnails: the visible range `first..last` first, then one screen of margin on either
/// side; then the texture budget (what the screen holds plus its margins, at least 256).
fn request_thumbnails(c: &mut Collection, first: usize, last: usize, cols: usize) {
    let n = c.view.order.len();
    let margin = (last - first).max(cols);
    let lo = first.saturating_sub(margin);
    let hi = (last + margin).min(n);
    let mut order: Vec<usize> = (first..last).collect();
    order.extend((last..hi).chain((lo..first).rev()));
    let reqs: Vec<_> = order
        .into_iter()
        .filter_map(|p| c.view.order.get(p).map(|&i| &c.catalogue.rows[i]))
        .filter(|r| r.error.is_none() && !c.caches.textures.contains(r.id))
        .map(|r| c.thumb_req(r))
        .collect();
    c.caches.thumbs.want(reqs);
    // Texture budget: what the screen holds plus its margins, at least 256.
    c.caches
        .textures
        .evict((3 * (last - first + 2 * cols)).max(256));
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn max_texture_side(ui: &egui::Ui) -> usize {
    ui.ctx().input(|i| i.max_texture_side).min(8192)
}

/// Draws image `id` into `rect` with zoom/pan: the full-resolution texture when decoded,
/// the thumbnail scaled up meanwhile (the "downscaled preview first"); the face boxes over it
/// with `faces`.
fn zoomable(
    c: &mut Collection,
    faces: bool,
    ui: &mut egui::Ui,
    rect: Rect,
    id: i64,
    salt: usize,
) -> egui::Response {
    let max_side = max_texture_side(ui);
    let Some(row) = c.row_arc(id) else {
        return ui.allocate_rect(rect, Sense::hover());
    };
    let full = c.full(id, max_side);
    let img_size = Vec2::new(
        row.width.unwrap_or(1).max(1) as f32,
        row.height.unwrap_or(1).max(1) as f32,
    );
    let tex = full.map(|(t, _)| t).or_else(|| c.caches.textures.get(id));
    let resp = zoom::show(
        ui,
        rect,
        egui::Id::unique(("zoom", salt)),
        tex,
        img_size,
        &mut c.grid.zoom,
    );
    let painter = ui.painter_at(rect);
    if faces {
        face_overlay(
            &painter,
            c.grid.zoom.image_rect(rect, img_size),
            img_size,
            &row,
        );
    }
    if let Some(e) = row.error.as_deref().or(c.full_error(id)) {
        placeholder(
            &painter,
            rect.shrink(rect.width() * 0.3),
            "!",
            e,
            theme::UNREADABLE,
        );
    } else if full.is_none() {
        painter.text(
            rect.left_top() + Vec2::new(8.0, 8.0),
            Align2::LEFT_TOP,
            "loading full resolution…",
            FontId::proportional(12.0),
            theme::IMAGE_NOTE,
        );
    } else if full.is_some_and(|(_, scaled)| scaled) {
        painter.text(
            rect.left_top() + Vec2::new(8.0, 8.0),
            Align2::LEFT_TOP,
            format!("shown downscaled to {max_side}px (texture limit)"),
            FontId::proportional(12.0),
            theme::IMAGE_NOTE,
        );
    }
    let ppp = ui.ctx().pixels_per_point();
    let zl = c.grid.zoom.label(rect.size(), img_size, ppp);
    painter.text(
        rect.right_bottom() - Vec2::new(8.0, 8.0),
        Align2::RIGHT_BOTTOM,
        zl,
        FontId::proportional(12.0),
        theme::ZOOM_LABEL,
    );
    resp
}

/// The faces MTCNN found (`face_boxes`): box coloured from green (plausible) to red (defect
/// score), the five landmarks, and the confidence.
fn face_overlay(painter: &egui::Painter, img_rect: Rect, img: Vec2, row: &ImageRow) {
    #[derive(serde::Deserialize)]
    struct Boxes {
        faces: Vec<crate::signals::faces::FaceRecord>,
    }
    let Some(crate::store::SignalValue::Text(t)) = row.signals.get("face_boxes") else {
        return;
    };
    let Ok(b) = serde_json::from_str::<Boxes>(t) else {
        return;
    };
    let to_screen = |x: f64, y: f64| {
        img_rect.min
            + Vec2::new(
                x as f32 / img.x * img_rect.width(),
                y as f32 / img.y * img_rect.height(),
            )
    };
    for f in &b.faces {
        let [x, y, w, h] = f.box_xywh;
        let r = Rect::from_min_max(to_screen(x, y), to_screen(x + w, y + h));
        let d = f.defect.clamp(0.0, 1.0) as f32;
        let col = Color32::from_rgb((60.0 + 195.0 * d) as u8, (200.0 - 140.0 * d) as u8, 80);
        painter.rect_stroke(r, 2.0, Stroke::new(2.0, col), egui::StrokeKind::Outside);
        for [lx, ly] in f.landmarks {
            painter.circle_filled(to_screen(lx, ly), 3.0, col);
        }
        painter.text(
            r.left_top() - Vec2::new(0.0, 2.0),
            Align2::LEFT_BOTTOM,
            format!("face {:.3} · defect {:.2}", f.confidence, f.defect),
            FontId::proportional(11.0),
            col,
        );
    }
}

/// Loupe view of the cursor image; its "Faces" box toggles `show_faces`.
pub fn detail(cx: ViewCtx<'_>, show_faces: &mut bool, ui: &mut egui::Ui) {
    let c = cx.coll;
    let Some(id) = c.grid.sel.cursor else {
        cx.cmds.push(Cmd::ShowGrid);
        return;
    };
    let (pos, total) = (
        c.view
            .ids
            .iter()
            .position(|&x| x == id)
            .map_or(0, |p| p + 1),
        c.view.ids.len(),
    );
    let name = c.row(id).map(|r| r.path.clone()).unwrap_or_default();
    let mut cmds = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("Back to grid").on_hover_text("G / Esc").clicked() {
            cmds.push(Cmd::ShowGrid);
        }
        ui.label(format!("{pos}/{total}  {name}"));
        ui.separator();
        let zoom_fit = ui.button("Fit").on_hover_text("Z toggles fit / 100 %");
        let zoom_100 = ui.button("100%");
        if zoom_fit.clicked() {
            c.grid.zoom.zoom = None;
        }
        if zoom_100.clicked() {
            c.grid.zoom.zoom = Some(1.0 / ui.ctx().pixels_per_point());
        }
        ui.separator();
        culling_buttons(ui, &mut cmds);
        ui.separator();
        ui.checkbox(show_faces, "Faces (F)")
            .on_hover_text("overlay the faces MTCNN found, coloured by their defect score");
    });
    let rect = ui.available_rect_before_wrap();
    zoomable(c, *show_faces, ui, rect, id, 0);
    cx.cmds.extend(cmds);
}

/// Pick / reject / unflag buttons (the same commands as P / X / U).
fn culling_buttons(ui: &mut egui::Ui, cmds: &mut Vec<Cmd>) {
    if ui.button("Pick").on_hover_text("P").clicked() {
        cmds.push(Cmd::SetStatus(Status::Accepted));
    }
    if ui.button("Reject").on_hover_text("X").clicked() {
        cmds.push(Cmd::SetStatus(Status::Rejected));
    }
    if ui.button("Unflag").on_hover_text("U").clicked() {
        cmds.push(Cmd::SetStatus(Status::None));
    }
}

/// Compare (Lightroom's Compare/Survey): 2–4 images with one shared zoom/pan (face boxes over
/// them with `show_faces`).
pub fn compare(cx: ViewCtx<'_>, show_faces: bool, ui: &mut egui::Ui) {
    let c = cx.coll;
    let ids = c.grid.compare_ids.clone();
    let focus = c.grid.compare_focus;
    if ids.len() < 2 {
        cx.cmds.push(Cmd::ShowGrid);
        return;
    }
    let mut cmds = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("Back to grid").on_hover_text("G / Esc").clicked() {
            cmds.push(Cmd::ShowGrid);
        }
        ui.label(format!("Comparing {} images — Left/Right choose the active one, P/X/U flag it; zoom and pan are synchronised", ids.len()));
    });
    let area = ui.available_rect_before_wrap();
    let n = ids.len();
    let (cols, rows) = if n <= 3 { (n, 1) } else { (2, 2) };
    let w = area.width() / cols as f32;
    let h = area.height() / rows as f32;
    for (k, id) in ids.iter().enumerate() {
        let cell = Rect::from_min_size(
            area.min + Vec2::new((k % cols) as f32 * w, (k / cols) as f32 * h),
            Vec2::new(w, h),
        )
        .shrink(3.0);
        let head = Rect::from_min_size(cell.min, Vec2::new(cell.width(), 26.0));
        let body = Rect::from_min_max(Pos2::new(cell.left(), head.bottom()), cell.max);
        let (name, status) = c
            .row(*id)
            .map(|r| (file_name(&r.path).to_string(), status_of(r)))
            .unwrap_or_default();
        let resp = zoomable(c, show_faces, ui, body, *id, k);
        if resp.clicked() {
            cmds.push(Cmd::FocusCompare(k));
        }
        let mut head_ui = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(head)
                .layout(egui::Layout::left_to_right(egui::Align::Center)),
        );
        if head_ui
            .selectable_label(k == focus, format!("{name} {}", status_badge(status)))
            .clicked()
        {
            cmds.push(Cmd::FocusCompare(k));
        }
        if head_ui
            .small_button("Pick")
            .on_hover_text(format!("pick {name}"))
            .clicked()
        {
            cmds.push(Cmd::FocusCompare(k));
            cmds.push(Cmd::SetStatus(Status::Accepted));
        }
        if head_ui
            .small_button("Reject")
            .on_hover_text(format!("reject {name}"))
            .clicked()
        {
            cmds.push(Cmd::FocusCompare(k));
            cmds.push(Cmd::SetStatus(Status::Rejected));
        }
        let stroke = if k == focus {
            Stroke::new(2.0, ui.visuals().selection.stroke.color)
        } else {
            Stroke::new(1.0, status_color(status))
        };
        ui.painter()
            .rect_stroke(cell, 2.0, stroke, egui::StrokeKind::Inside);
    }
    ui.allocate_rect(area, Sense::hover());
    let _ = ViewMode::Compare;
    cx.cmds.extend(cmds);
}
