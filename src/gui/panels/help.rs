//! The keyboard-shortcut overlay (`?` / F1): the lines of the shortcut table (`shortcuts.rs`).

use eframe::egui;

use crate::gui::shortcuts;

/// The keyboard-shortcut window; closing it clears `show_help`.
pub fn help_overlay(show_help: &mut bool, ctx: &egui::Context) {
    let mut open = true;
    egui::Window::new("Keyboard shortcuts")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("keys").num_columns(2).striped(true).show(ui, |ui| {
                for (k, what) in shortcuts::help_rows() {
                    ui.monospace(k);
                    ui.label(what);
                    ui.end_row();
                }
            });
            ui.weak("Every flag and rating is saved at once (append-only log); undo appends the earlier state.");
        });
    if !open {
        *show_help = false;
    }
}
