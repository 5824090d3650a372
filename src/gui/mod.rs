//! The desktop workbench (eframe/egui). This is the placeholder window of the foundation: it
//! shows what the catalogue holds and how to scan. The grid, detail, compare and culling views
//! are the GUI issue's work. Only this module uses egui.

use std::path::PathBuf;

use eframe::egui;

use crate::store::Store;

/// What the window shows, read once at start-up (never SQL in `ui`).
struct Overview {
    dir: Option<PathBuf>,
    images: Option<i64>,
    signals: Option<i64>,
    error: Option<String>,
}

struct App {
    overview: Overview,
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("Assay");
            ui.label("Cull, score and evaluate text-to-image candidates, locally.");
            ui.separator();
            match &self.overview.dir {
                None => {
                    ui.label("No collection open.");
                    ui.label("Catalogue a folder with:  assay scan DIR   then open it with:  assay open DIR");
                }
                Some(dir) => {
                    ui.label(format!("Collection: {}", dir.display()));
                    if let Some(e) = &self.overview.error {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    } else {
                        ui.label(format!(
                            "{} images catalogued, {} signal values",
                            self.overview.images.unwrap_or(0),
                            self.overview.signals.unwrap_or(0)
                        ));
                    }
                }
            }
            ui.separator();
            ui.label("The workbench views (grid, detail, compare, culling) are not built yet.");
        });
    }
}

/// Opens the window.
pub fn run(dir: Option<PathBuf>, db: Option<PathBuf>) -> anyhow::Result<()> {
    let mut overview = Overview {
        dir: dir.clone(),
        images: None,
        signals: None,
        error: None,
    };
    if let Some(dir) = &dir {
        let (db, _) = Store::locate(dir, db.as_deref(), false);
        if db.exists() {
            match Store::open(&db) {
                Ok(s) => {
                    overview.images = s.count("images").ok();
                    overview.signals = s.count("signals").ok();
                }
                Err(e) => overview.error = Some(format!("{e:#}")),
            }
        } else {
            overview.error = Some(format!(
                "not catalogued yet: run `assay scan {}`",
                dir.display()
            ));
        }
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([720.0, 420.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Assay",
        options,
        Box::new(|_cc| Ok(Box::new(App { overview }))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
