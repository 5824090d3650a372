//! The status bar: scan progress with rate, ETA and cancel (and the last scan's CLIP pass),
//! export progress, pending writes, messages.

use eframe::egui;

use crate::gui::theme;
use crate::gui::{Cmd, Collection};
use crate::pipeline::progress::{format_rate, format_secs};

/// The CLIP part of the last scan in the status bar: what was embedded, or why nothing was
/// (no weights: where to put them, on hover).
fn clip_status(ui: &mut egui::Ui, s: &crate::pipeline::ScanSummary) {
    if let Some(c) = &s.clip {
        let head = c
            .head
            .as_deref()
            .map_or_else(|| "no aesthetic head".to_string(), |h| format!("head {h}"));
        ui.label(format!("· CLIP: {} embedded", c.embedded + c.already_embedded))
            .on_hover_text(format!(
                "model {} ({}), {head}\n{} embedded in this scan, {} failed\naesthetic: {} images, clip_score: {} images",
                c.model_name, c.model, c.embedded, c.failed, c.aesthetic, c.clip_score
            ));
    } else if let Some(why) = &s.clip_skipped {
        ui.weak("· CLIP off: no weights").on_hover_text(why);
    }
    if let Some(e) = &s.clip_error {
        ui.colored_label(theme::WARNING, "· CLIP pass stopped")
            .on_hover_text(e);
    }
}

/// Status bar: scan progress with rate, ETA and cancel; export progress; pending writes; the
/// last `message` (text, is error).
pub fn status_bar(
    coll: Option<&Collection>,
    message: Option<&(String, bool)>,
    cmds: &mut Vec<Cmd>,
    ui: &mut egui::Ui,
) {
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            if let Some(c) = coll {
                if let Some(scan) = &c.jobs.scan {
                    let s = scan.progress.snapshot();
                    let frac = if s.total > 0 {
                        s.done as f32 / s.total as f32
                    } else {
                        0.0
                    };
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(220.0)
                            .text(format!(
                                "{} {}/{}",
                                if s.phase.is_empty() {
                                    "scanning"
                                } else {
                                    &s.phase
                                },
                                s.done,
                                s.total
                            )),
                    );
                    ui.label(format!(
                        "{:.0} {}/s{}",
                        s.rate,
                        if s.phase.starts_with("clip") {
                            "images"
                        } else {
                            "files"
                        },
                        s.eta_s
                            .map_or(String::new(), |e| format!(" · ETA {}", format_secs(e)))
                    ));
                    if let Some((slow, rate)) = s.slowest().and_then(|x| Some((x, x.rate()?))) {
                        ui.weak(format!("· slowest: {} {}/s", slow.name, format_rate(rate)))
                            .on_hover_text(format!(
                                "files per second each stage sustains: {}",
                                s.stages_line()
                            ));
                    }
                    if ui.button("Cancel scan").clicked() {
                        cmds.push(Cmd::CancelScan);
                    }
                } else if let Some(Ok(s)) = &c.jobs.last_scan {
                    let failed = s.failed + s.failed_earlier;
                    ui.label(format!(
                        "{} images · scanned in {:.1}s{}",
                        c.catalogue.rows.len(),
                        s.seconds,
                        if failed > 0 {
                            format!(" · {failed} unreadable")
                        } else {
                            String::new()
                        }
                    ))
                    .on_hover_text(format!("database: {}", c.db.display()));
                    clip_status(ui, s);
                    if s.cancelled {
                        ui.colored_label(theme::WARNING, "scan cancelled — Rescan to finish");
                    }
                }
                if c.fallback_db {
                    ui.label("· read-only folder: database in the user data folder")
                        .on_hover_text(c.db.display().to_string());
                }
                if let Some(job) = &c.jobs.export_job {
                    let s = job.progress.snapshot();
                    let frac = if s.total > 0 {
                        s.done as f32 / s.total as f32
                    } else {
                        0.0
                    };
                    ui.separator();
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(160.0)
                            .text(format!("export {}/{}", s.done, s.total)),
                    );
                    if ui.button("Cancel export").clicked() {
                        cmds.push(Cmd::CancelExport);
                    }
                }
                let pending = c.pending_writes();
                if pending > 0 {
                    ui.label(format!("saving {pending}…"));
                }
                let backlog = c.caches.thumbs.backlog();
                if backlog > 0 {
                    ui.label(format!("· thumbnails: {backlog} to make"));
                }
            }
            if let Some((m, err)) = message {
                ui.separator();
                if *err {
                    ui.colored_label(ui.visuals().error_fg_color, m);
                } else {
                    ui.label(m);
                }
            }
        });
    });
}
