//! Zoom and pan of one image, shared by the detail view and (synchronised) by compare cells.

use eframe::egui::{self, Pos2, Rect, Sense, Vec2};

/// Zoom state: `None` fits the image to the view; `Some(s)` shows `s` screen points per image
/// pixel. `center` is the image point (in 0–1 coordinates) at the view's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoomPan {
    pub zoom: Option<f32>,
    pub center: Vec2,
}

impl Default for ZoomPan {
    fn default() -> Self {
        Self {
            zoom: None,
            center: Vec2::splat(0.5),
        }
    }
}

impl ZoomPan {
    /// Screen points per image pixel in a view of `view` size for an image of `img` pixels.
    pub fn scale(&self, view: Vec2, img: Vec2) -> f32 {
        self.zoom.unwrap_or_else(|| fit_scale(view, img))
    }

    /// Where the image lies on screen.
    pub fn image_rect(&self, view: Rect, img: Vec2) -> Rect {
        let s = self.scale(view.size(), img);
        let size = img * s;
        let mut c = self.center;
        // A dimension smaller than the view is centred.
        if size.x <= view.width() {
            c.x = 0.5;
        }
        if size.y <= view.height() {
            c.y = 0.5;
        }
        let min = view.center() - Vec2::new(c.x * size.x, c.y * size.y);
        Rect::from_min_size(min, size)
    }

    /// Zooms by `factor` keeping the image point under `pointer` fixed.
    pub fn zoom_at(&mut self, view: Rect, img: Vec2, pointer: Pos2, factor: f32) {
        let before = self.image_rect(view, img);
        let s = (self.scale(view.size(), img) * factor).clamp(0.01, 64.0);
        let p = (pointer - before.min) / before.size(); // image point under the pointer, 0–1
        self.zoom = Some(s);
        let size = img * s;
        // Choose the centre so that `p` stays under the pointer.
        let off = pointer - view.center();
        self.center = Vec2::new(p.x - off.x / size.x, p.y - off.y / size.y);
        self.clamp();
    }

    /// Pans by a screen-space drag.
    pub fn pan(&mut self, view: Rect, img: Vec2, delta: Vec2) {
        let size = img * self.scale(view.size(), img);
        if size.x > 0.0 && size.y > 0.0 {
            self.center -= Vec2::new(delta.x / size.x, delta.y / size.y);
            self.clamp();
        }
    }

    fn clamp(&mut self) {
        self.center = self.center.clamp(Vec2::ZERO, Vec2::splat(1.0));
    }

    /// Toggles between fit and 100 % (one screen pixel per image pixel).
    pub fn toggle_actual(&mut self, pixels_per_point: f32) {
        self.zoom = match self.zoom {
            None => Some(1.0 / pixels_per_point),
            Some(_) => None,
        };
    }

    /// Short label: "fit" or the percentage of actual pixels.
    pub fn label(&self, view: Vec2, img: Vec2, pixels_per_point: f32) -> String {
        let pct = self.scale(view, img) * pixels_per_point * 100.0;
        match self.zoom {
            None => format!("fit ({pct:.0}%)"),
            Some(_) => format!("{pct:.0}%"),
        }
    }
}

fn fit_scale(view: Vec2, img: Vec2) -> f32 {
    if img.x <= 0.0 || img.y <= 0.0 {
        return 1.0;
    }
    (view.x / img.x).min(view.y / img.y)
}

/// Draws `tex` (an image of `img` pixels, possibly a downscaled texture of it) into `rect` with
/// wheel zoom and drag pan applied to `zp`. Returns the response of the view area.
pub fn show(
    ui: &mut egui::Ui,
    rect: Rect,
    id: egui::Id,
    tex: Option<egui::TextureId>,
    img: Vec2,
    zp: &mut ZoomPan,
) -> egui::Response {
    let resp = ui.interact(rect, id, Sense::click_and_drag());
    if resp.dragged() {
        zp.pan(rect, img, resp.drag_delta());
    }
    if resp.hovered() {
        let scroll = ui.input(|i| i.smooth_scroll_delta.y);
        if scroll != 0.0
            && let Some(p) = resp.hover_pos()
        {
            zp.zoom_at(rect, img, p, (scroll * 0.0025).exp());
        }
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, super::theme::IMAGE_BG);
    if let Some(tex) = tex {
        let r = zp.image_rect(rect, img);
        painter.image(
            tex,
            r,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            egui::Color32::WHITE,
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_centres_and_zoom_keeps_the_point_under_the_pointer() {
        let view = Rect::from_min_size(Pos2::ZERO, Vec2::new(400.0, 300.0));
        let img = Vec2::new(800.0, 400.0);
        let mut z = ZoomPan::default();
        let r = z.image_rect(view, img);
        assert!((r.width() - 400.0).abs() < 1e-3 && (r.height() - 200.0).abs() < 1e-3);
        assert!((r.center() - view.center()).length() < 1e-3);
        let p = Pos2::new(300.0, 120.0);
        let before = (p - r.min) / r.size();
        z.zoom_at(view, img, p, 4.0);
        let r2 = z.image_rect(view, img);
        let after = (p - r2.min) / r2.size();
        assert!((before - after).length() < 1e-4, "{before:?} vs {after:?}");
        assert!((r2.width() - 1600.0).abs() < 1e-2);
        // Panning right moves the image right (the centre moves left in image space).
        let c = z.center;
        z.pan(view, img, Vec2::new(40.0, 0.0));
        assert!(z.center.x < c.x);
        z.toggle_actual(1.0);
        assert_eq!(z.zoom, None);
        z.toggle_actual(2.0);
        assert_eq!(z.zoom, Some(0.5));
    }
}
