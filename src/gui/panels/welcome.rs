//! The welcome screen: open a folder, recent collections, how to get a demo.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use crate::gui::Cmd;

/// The welcome screen: open a folder, the `recent` collections, how to get a demo; a chosen
/// folder becomes `Cmd::Open` in `cmds`.
pub fn welcome(recent: &[PathBuf], cmds: &mut Vec<Cmd>, ui: &mut egui::Ui) {
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
            cmds.push(Cmd::Open(dir));
        }
        ui.weak("or drop a folder onto this window");
        if !recent.is_empty() {
            ui.add_space(16.0);
            ui.label(RichText::new("Recent collections").strong());
            for p in recent {
                if ui.link(p.display().to_string()).clicked() {
                    cmds.push(Cmd::Open(p.clone()));
                }
            }
        }
        ui.add_space(16.0);
        ui.weak("Try the demo batch:  assay open assets/demo");
    });
}
