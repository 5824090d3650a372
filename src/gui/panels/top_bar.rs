//! The menu bar and the toolbar (sort, search, thumbnail size).

use eframe::egui;

use super::{ExportDialog, column_label};
use crate::gui::model;
use crate::gui::shortcuts::{Command, spec};
use crate::gui::{App, Cmd, ViewMode};

/// Menu bar and toolbar (sort, search, thumbnail size).
pub fn top_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| file_menu(app, ui));
            ui.menu_button("Edit", |ui| edit_menu(app, ui));
            ui.menu_button("View", |ui| view_menu(app, ui));
            ui.menu_button("Help", |ui| {
                let help = spec(Command::Help);
                if ui
                    .button(format!("{} ({})", help.label, help.menu_key()))
                    .clicked()
                {
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
        ui.horizontal(|ui| toolbar(app, ui));
    });
}

/// File: open, open recent, rescan, export, quit.
fn file_menu(app: &mut App, ui: &mut egui::Ui) {
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
    // The File menu shows no key text.
    let export = spec(Command::Export).label;
    if ui.add_enabled(open, egui::Button::new(export)).clicked() {
        app.export_dialog = Some(ExportDialog::default());
        ui.close();
    }
    ui.separator();
    if ui.button("Quit").clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Edit: undo and redo.
fn edit_menu(app: &mut App, ui: &mut egui::Ui) {
    let (u, r) = app.coll.as_ref().map_or((false, false), |c| {
        (c.grid.history.can_undo(), c.grid.history.can_redo())
    });
    for (enabled, command, cmd) in [(u, Command::Undo, Cmd::Undo), (r, Command::Redo, Cmd::Redo)] {
        let s = spec(command);
        let button = egui::Button::new(s.label).shortcut_text(s.menu_key());
        if ui.add_enabled(enabled, button).clicked() {
            app.push(cmd);
            ui.close();
        }
    }
}

/// View: the view modes with their keys (from the shortcut table), and the side panels.
fn view_menu(app: &mut App, ui: &mut egui::Ui) {
    for m in ViewMode::ALL {
        let s = spec(Command::for_view(m));
        if ui
            .add(egui::Button::selectable(app.mode == m, s.label).shortcut_text(s.menu_key()))
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
    let inspector = spec(Command::Inspector);
    let label = format!("{} ({})", inspector.label, inspector.menu_key());
    ui.checkbox(&mut app.settings.show_inspector, label);
}

/// The grid's toolbar: sort column and direction, search, thumbnail size, counts.
fn toolbar(app: &mut App, ui: &mut egui::Ui) {
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
            c.view.order.len(),
            c.catalogue.rows.len(),
            c.grid.sel.selected.len()
        ));
        if changed {
            c.view.dirty = true;
        }
    }
}
