//! The export dialog: destination, scope, copy / link, XMP sidecars, manifest.

use std::path::PathBuf;

use eframe::egui;

use crate::export::{ManifestFormat, Mode};
use crate::gui::jobs::ExportRequest;
use crate::gui::model;
use crate::gui::{Cmd, Collection, ExportScope};

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

/// The export dialog window, while one is open (`dialog`) on an open collection; "Start
/// export" pushes `Cmd::StartExport`, closing the window clears `dialog`.
pub fn export_dialog(
    dialog: &mut Option<ExportDialog>,
    coll: Option<&Collection>,
    cmds: &mut Vec<Cmd>,
    ctx: &egui::Context,
) {
    let Some(d) = dialog.as_mut() else {
        return;
    };
    let Some(c) = coll else { return };
    let counts = [
        c.catalogue
            .rows
            .iter()
            .filter(|r| model::status_of(r) == crate::domain::Status::Accepted && r.error.is_none())
            .count(),
        c.grid.sel.targets().len(),
        c.view.order.len(),
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
        cmds.push(Cmd::StartExport(req, scope));
    }
    if !open {
        *dialog = None;
    }
}
