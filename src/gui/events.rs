//! What the UI thread does with the events its background jobs send (`App::drain_events`):
//! the collection's share of them (raw metadata, committed batches, finished scans, full
//! images, exports) and the per-frame collection chores after the channel is drained
//! (thumbnail results, live reloads while scanning, thumbnail pregeneration).

use std::time::Duration;

use eframe::egui;

use super::Collection;
use super::jobs::ExportReport;
use crate::pipeline::ScanSummary;

impl Collection {
    /// The raw metadata of `id`, pretty-printed, if it is still the one asked for.
    pub(super) fn receive_raw(&mut self, id: i64, r: Result<Option<(String, String)>, String>) {
        if self.caches.raw_requested == Some(id) {
            let r = r.map(|o| {
                o.map(|(raw, warnings)| {
                    let pretty = serde_json::from_str::<serde_json::Value>(&raw)
                        .ok()
                        .and_then(|v| serde_json::to_string_pretty(&v).ok())
                        .unwrap_or(raw);
                    (pretty, warnings)
                })
            });
            self.caches.raw = Some((id, r));
        }
    }

    /// Decision batch `seq` committed with `n` rows (0: it failed, so reload what the store
    /// holds).
    pub(super) fn batch_written(&mut self, seq: u64, n: usize) {
        self.catalogue.batch_written(seq, n);
    }

    /// A scan finished: keep its summary and reload; returns the message when it failed.
    pub(super) fn scan_done(&mut self, r: Result<Box<ScanSummary>, String>) -> Option<String> {
        self.jobs.scan = None;
        let message = r.as_ref().err().map(|e| format!("scan failed: {e}"));
        self.jobs.last_scan = Some(r.map(|s| *s));
        self.catalogue.reload_in_flight = false;
        self.reload();
        self.caches.pregenerated = false;
        message
    }

    /// A full image decoded (kept as a texture, a few at a time) or why it failed.
    pub(super) fn receive_full(
        &mut self,
        id: i64,
        r: Result<(egui::ColorImage, bool), String>,
        ctx: &egui::Context,
    ) {
        let g = &self.grid;
        self.caches
            .receive_full(id, r, ctx, &g.compare_ids, g.sel.cursor);
    }

    /// An export finished: keep its report; returns the status-bar message (and whether it is
    /// an error).
    pub(super) fn export_done(&mut self, r: Result<ExportReport, String>) -> (String, bool) {
        self.jobs.export_job = None;
        let message = match &r {
            Ok(rep) => (
                format!(
                    "exported {} files to {} ({} already there, {} failed{})",
                    rep.exported,
                    rep.to.display(),
                    rep.already,
                    rep.failed.len(),
                    if rep.cancelled { ", cancelled" } else { "" }
                ),
                !rep.failed.is_empty(),
            ),
            Err(e) => (format!("export failed: {e}"), true),
        };
        self.jobs.last_export = Some(r);
        message
    }

    /// After the events: install finished thumbnails, reload while scanning (new rows as they
    /// are committed), and pregenerate thumbnails once the collection is loaded and idle.
    pub(super) fn after_events(&mut self, ctx: &egui::Context) {
        for (id, r) in self.caches.thumbs.take_results() {
            match r {
                Ok(img) => self.caches.textures.insert(ctx, id, img),
                Err(e) => {
                    self.caches.textures.failed.insert(id, e);
                }
            }
        }
        // While scanning, show new rows as they are committed.
        if self.jobs.scan.is_some()
            && self.catalogue.last_reload.elapsed() > Duration::from_millis(1500)
        {
            self.reload();
        }
        if self.jobs.scan.is_none()
            && self.catalogue.loaded
            && !self.caches.pregenerated
            && !self.catalogue.reload_in_flight
        {
            // The thumbnail workers walk the rows themselves (no list of a million paths).
            self.caches
                .thumbs
                .pregenerate(&self.catalogue.rows, self.root.clone());
            self.caches.pregenerated = true;
        }
    }
}
