//! The keyboard-shortcut overlay (`?` / F1).

use eframe::egui;

use crate::gui::App;

/// Every shortcut and what it does (the overlay's table).
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

/// The keyboard-shortcut window; closing it hides the help.
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
