//! The menu bar and the toolbar (sort, search, thumbnail size).

use std::path::PathBuf;

use eframe::egui;

use super::{ExportDialog, column_label};
use crate::gui::model;
use crate::gui::shortcuts::{Command, spec};
use crate::gui::{Cmd, Collection, Settings, ViewMode};

/// What the menu bar and the toolbar read and change (borrowed from `App`'s fields).
pub struct TopBar<'a> {
    /// The open collection, if any (undo state, counts; the toolbar marks its view dirty).
    pub coll: Option<&'a mut Collection>,
    /// Recent folders, sort, search, thumbnail size, the side panels' switches.
    pub settings: &'a mut Settings,
    pub mode: ViewMode,
    /// Help → Keyboard shortcuts sets it.
    pub show_help: &'a mut bool,
    /// File → Export opens it.
    pub export_dialog: &'a mut Option<ExportDialog>,
    pub cmds: &'a mut Vec<Cmd>,
}

/// Menu bar and toolbar (sort, search, thumbnail size).
pub fn top_bar(t: TopBar<'_>, ui: &mut egui::Ui) {
    let TopBar {
        coll,
        settings,
        mode,
        show_help,
        export_dialog,
        cmds,
    } = t;
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            let open = coll.is_some();
            ui.menu_button("File", |ui| {
                file_menu(&settings.recent, open, export_dialog, cmds, ui);
            });
            ui.menu_button("Edit", |ui| edit_menu(coll.as_deref(), cmds, ui));
            ui.menu_button("View", |ui| view_menu(mode, settings, cmds, ui));
            ui.menu_button("Help", |ui| {
                let help = spec(Command::Help);
                if ui
                    .button(format!("{} ({})", help.label, help.menu_key()))
                    .clicked()
                {
                    *show_help = true;
                    ui.close();
                }
            });
        });
    });
    let Some(c) = coll else { return };
    if mode != ViewMode::Grid {
        return;
    }
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.horizontal(|ui| toolbar(settings, c, ui));
    });
}

/// File: open, open recent, rescan, export, quit (`open`: a collection is open).
fn file_menu(
    recent: &[PathBuf],
    open: bool,
    export_dialog: &mut Option<ExportDialog>,
    cmds: &mut Vec<Cmd>,
    ui: &mut egui::Ui,
) {
    if ui.button("Open folder…").clicked() {
        if let Some(dir) = rfd::FileDialog::new().pick_folder() {
            cmds.push(Cmd::Open(dir));
        }
        ui.close();
    }
    ui.menu_button("Open recent", |ui| {
        for p in recent {
            if ui.button(p.display().to_string()).clicked() {
                cmds.push(Cmd::Open(p.clone()));
                ui.close();
            }
        }
    });
    ui.separator();
    if ui.add_enabled(open, egui::Button::new("Rescan")).clicked() {
        cmds.push(Cmd::Rescan);
        ui.close();
    }
    // The File menu shows no key text.
    let export = spec(Command::Export).label;
    if ui.add_enabled(open, egui::Button::new(export)).clicked() {
        *export_dialog = Some(ExportDialog::default());
        ui.close();
    }
    ui.separator();
    if ui.button("Quit").clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Edit: undo and redo.
fn edit_menu(coll: Option<&Collection>, cmds: &mut Vec<Cmd>, ui: &mut egui::Ui) {
    let (u, r) = coll.map_or((false, false), |c| {
        (c.grid.history.can_undo(), c.grid.history.can_redo())
    });
    for (enabled, command, cmd) in [(u, Command::Undo, Cmd::Undo), (r, Command::Redo, Cmd::Redo)] {
        let s = spec(command);
        let button = egui::Button::new(s.label).shortcut_text(s.menu_key());
        if ui.add_enabled(enabled, button).clicked() {
            cmds.push(cmd);
            ui.close();
        }
    }
}

/// View: the view modes with their keys (from the shortcut table), and the side panels.
fn view_menu(mode: ViewMode, settings: &mut Settings, cmds: &mut Vec<Cmd>, ui: &mut egui::Ui) {
    for m in ViewMode::ALL {
        let s = spec(Command::for_view(m));
        if ui
            .add(egui::Button::selectable(mode == m, s.label).shortcut_text(s.menu_key()))
            .clicked()
        {
            cmds.push(match m {
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
    ui.checkbox(&mut settings.show_filters, "Filters panel");
    let inspector = spec(Command::Inspector);
    let label = format!("{} ({})", inspector.label, inspector.menu_key());
    ui.checkbox(&mut settings.show_inspector, label);
}

/// The grid's toolbar: sort column and direction, search, thumbnail size, counts; marks the
/// collection's view dirty when the sort or the search changed.
fn toolbar(settings: &mut Settings, c: &mut Collection, ui: &mut egui::Ui) {
    let mut changed = false;
    ui.label("Sort");
    let current = settings.sort.column.clone();
    egui::ComboBox::from_id_salt("sort")
        .selected_text(column_label(&current))
        .height(400.0)
        .show_ui(ui, |ui| {
            for col in model::sort_columns() {
                let label = column_label(&col);
                changed |= ui
                    .selectable_value(&mut settings.sort.column, col, label)
                    .changed();
            }
        })
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Sort by"));
    let dir = if settings.sort.descending {
        "descending"
    } else {
        "ascending"
    };
    if ui.button(dir).on_hover_text("sort direction").clicked() {
        settings.sort.descending = !settings.sort.descending;
        changed = true;
    }
    ui.separator();
    let search = ui.add(
        egui::TextEdit::singleline(&mut settings.filters.search)
            .hint_text("search prompts, models, paths")
            .desired_width(220.0),
    );
    search.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search"));
    changed |= search.changed();
    ui.separator();
    let size = ui.label("Size");
    ui.add(egui::Slider::new(&mut settings.thumb_size, 64.0..=320.0).show_value(false))
        .labelled_by(size.id);
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
