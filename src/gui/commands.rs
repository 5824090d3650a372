//! The longer commands of `App::apply`: rescan, undo / redo, compare, export.

use super::jobs::{ExportJob, ExportRequest, Outbox, ScanJob};
use super::{App, Collection, ExportScope, ViewMode, ZoomPan, model};
use crate::pipeline::ScanOptions;
use crate::store::ImageRow;

impl Collection {
    /// Starts a scan of the collection's folder into its database, unless one runs.
    pub(super) fn rescan(&mut self, out: &Outbox) {
        if self.jobs.scan.is_none() {
            let mut opts = ScanOptions::new(&self.root);
            opts.db = Some(self.db.clone());
            opts.clip = self.jobs.clip.clone();
            opts.thumbnails = self.db.parent().map(|d| d.join("thumbs"));
            self.jobs.scan = Some(ScanJob::start(opts, out.clone()));
        }
    }

    /// Undoes the last change (appending the earlier state); returns its label.
    pub(super) fn undo_change(&mut self) -> Option<String> {
        let ch = self.grid.history.undo()?;
        let flags = ch.items.iter().map(|(id, b, _)| (*id, b.clone())).collect();
        self.write_flags(flags, Some("undo"));
        Some(ch.label)
    }

    /// Redoes the last undone change (appending the later state); returns its label.
    pub(super) fn redo_change(&mut self) -> Option<String> {
        let ch = self.grid.history.redo()?;
        let flags = ch.items.iter().map(|(id, _, a)| (*id, a.clone())).collect();
        self.write_flags(flags, Some("redo"));
        Some(ch.label)
    }

    /// The images to compare: up to four selected ones in view order; with fewer than two,
    /// the cursor and the next one (or the previous one at the end), as Lightroom does.
    fn compare_candidates(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .view
            .ids
            .iter()
            .copied()
            .filter(|id| self.grid.sel.selected.contains(id))
            .take(4)
            .collect();
        if ids.len() < 2 {
            // Lightroom: with one image, compare it with the next one.
            ids.clear();
            if let Some(p) = self
                .grid
                .sel
                .cursor
                .and_then(|x| self.view.ids.iter().position(|&v| v == x))
            {
                ids.extend(self.view.ids.iter().skip(p).take(2));
                if ids.len() < 2 && p > 0 {
                    ids.insert(0, self.view.ids[p - 1]);
                }
            }
        }
        ids
    }

    /// The readable rows of an export scope, in path order.
    fn export_rows(&self, scope: ExportScope) -> Vec<ImageRow> {
        let rows: Vec<ImageRow> = match scope {
            ExportScope::Accepted => self
                .catalogue
                .rows
                .iter()
                .filter(|r| model::status_of(r) == crate::domain::Status::Accepted)
                .map(|r| ImageRow::clone(r))
                .collect(),
            ExportScope::Selected => self
                .grid
                .sel
                .targets()
                .iter()
                .filter_map(|id| self.row(*id).cloned())
                .collect(),
            ExportScope::Shown => self
                .view
                .order
                .iter()
                .map(|&i| ImageRow::clone(&self.catalogue.rows[i]))
                .collect(),
        };
        let mut rows: Vec<ImageRow> = rows.into_iter().filter(|r| r.error.is_none()).collect();
        rows.sort_by(|a, b| a.path.cmp(&b.path));
        rows
    }
}

impl App {
    /// Opens compare on the candidates, or says to select 2–4 images.
    pub(super) fn show_compare(&mut self) {
        let Some(c) = self.coll.as_mut() else { return };
        let ids = c.compare_candidates();
        if ids.len() >= 2 {
            c.grid.compare_ids = ids;
            c.grid.compare_focus = 0;
            c.grid.zoom = ZoomPan::default();
            self.mode = ViewMode::Compare;
        } else {
            self.message = Some(("select 2–4 images to compare".into(), false));
        }
    }

    /// Starts exporting a scope (never into the collection itself, never nothing) and closes
    /// the dialog.
    pub(super) fn start_export(&mut self, req: ExportRequest, scope: ExportScope) {
        let Some(c) = self.coll.as_mut() else { return };
        if crate::export::is_inside(&req.to, &c.root) {
            self.message = Some((
                format!(
                    "the export folder {} is inside the collection; choose one outside it",
                    req.to.display()
                ),
                true,
            ));
            return;
        }
        let rows = c.export_rows(scope);
        if rows.is_empty() {
            self.message = Some(("nothing to export".into(), true));
            return;
        }
        c.jobs.export_job = Some(ExportJob::start(
            c.root.clone(),
            c.db.clone(),
            rows,
            req,
            self.out.clone(),
        ));
        self.export_dialog = None;
    }
}
