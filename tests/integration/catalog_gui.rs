//! The workbench's large-collection path on the demo: every view (filters and sort) computed
//! on the view thread as for a million rows (`inline_view_rows = 0`), reloaded rows installed
//! together with their view, flags made meanwhile kept, the filter bar's counts following.

use assay::gui::App;
use assay::gui::model::{self, RangeFilter, Sort};
use eframe::egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::gui::{idle, open_demo, wait};

fn settled(app: &App) -> bool {
    app.coll.as_ref().is_some_and(|c| c.view_settled())
}

/// The view the grid should show, computed here from the rows.
fn expected(app: &App) -> Vec<i64> {
    let c = app.coll.as_ref().unwrap();
    let (view, err) = model::compute_view(
        &c.catalogue.rows[..],
        &app.settings.filters,
        &app.settings.sort,
    );
    assert!(err.is_none());
    view.iter().map(|&i| c.catalogue.rows[i].id).collect()
}

fn async_views(h: &mut Harness<'static, App>) {
    h.state_mut().coll.as_mut().unwrap().view.inline_rows = 0;
}

#[test]
fn views_of_large_collections_are_computed_off_the_ui_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, _dir) = open_demo(tmp.path(), "the demo scan");
    async_views(&mut h);
    let n = h.state().coll.as_ref().unwrap().catalogue.rows.len();
    assert!(n >= 30);

    // Sort from the toolbar: the new order arrives from the view thread.
    h.key_press(Key::I);
    h.run_steps(2);
    h.get_by_label("Sort by").click();
    h.run_steps(2);
    h.get_by_label("Sharpness (Laplacian variance)").click();
    h.run_steps(1);
    wait(&mut h, "the sorted view", settled);
    assert_eq!(
        h.state().settings.sort,
        Sort {
            column: "blur_laplacian_var".into(),
            descending: false
        }
    );
    let want = expected(h.state());
    assert_eq!(h.state().coll.as_ref().unwrap().view.ids, want);
    assert_eq!(want.len(), n);

    // Search: typed one letter per frame; only the newest request counts.
    let search = h.get_by_label("Search");
    search.focus();
    search.type_text("cat");
    h.run_steps(1);
    wait(&mut h, "the searched view", settled);
    let shown = h.state().coll.as_ref().unwrap().view.ids.clone();
    assert_eq!(shown, expected(h.state()));
    assert!(
        !shown.is_empty() && shown.len() < n,
        "{} shown",
        shown.len()
    );
    let c = h.state().coll.as_ref().unwrap();
    for id in &shown {
        let r = c.row(*id).unwrap();
        let hay = format!(
            "{} {} {}",
            r.path,
            r.positive.clone().unwrap_or_default(),
            r.model.clone().unwrap_or_default()
        );
        assert!(hay.to_lowercase().contains("cat"), "{hay}");
    }

    // Hide rejected images, then reject the cursor image: it leaves the view once the view
    // thread has recomputed it, and the filter bar's counts follow at once.
    h.get_by_label_contains("rejected (").click();
    h.run_steps(1);
    wait(&mut h, "the status-filtered view", settled);
    assert!(!h.state().settings.filters.statuses[1]);
    // Click the first thumbnail (this also takes the keyboard focus from the search field).
    let name = {
        let c = h.state().coll.as_ref().unwrap();
        let p = &c.row(c.view.ids[0]).unwrap().path;
        p.rsplit('/').next().unwrap().to_string()
    };
    h.get_all_by_label(&name).next().unwrap().click();
    h.run_steps(2);
    let before = h.state().coll.as_ref().unwrap().view.status_counts;
    let cursor = h.state().coll.as_ref().unwrap().grid.sel.cursor.unwrap();
    assert_eq!(
        h.state()
            .coll
            .as_ref()
            .unwrap()
            .row(cursor)
            .unwrap()
            .status_str()
            .unwrap_or("none"),
        "none"
    );
    h.key_press(Key::X);
    h.run_steps(1);
    let after = h.state().coll.as_ref().unwrap().view.status_counts;
    assert_eq!(after[1], before[1] + 1, "{before:?} -> {after:?}");
    assert_eq!(after.iter().sum::<usize>(), n);
    wait(&mut h, "the flag committed and the view recomputed", |a| {
        idle(a) && settled(a)
    });
    let c = h.state().coll.as_ref().unwrap();
    assert!(
        !c.view.ids.contains(&cursor),
        "the rejected image is hidden"
    );
    assert_eq!(c.view.ids, expected(h.state()));
    assert_ne!(
        c.grid.sel.cursor,
        Some(cursor),
        "the cursor moved to a shown image"
    );

    // A reload (rescan) installs new rows with their view; the flag is still there.
    h.state_mut().push(assay::gui::Cmd::Rescan);
    h.run_steps(1);
    wait(&mut h, "the rescan and reload", |a| idle(a) && settled(a));
    let c = h.state().coll.as_ref().unwrap();
    assert_eq!(c.row(cursor).unwrap().status_str(), Some("rejected"));
    assert_eq!(c.view.ids, expected(h.state()));
    assert_eq!(
        c.view.status_counts,
        model::status_counts(&c.catalogue.rows[..]),
        "counts recomputed with the reloaded rows"
    );

    // A range filter's histogram is computed off the UI thread too; its bounds appear.
    h.state_mut().settings.filters.ranges.push(RangeFilter {
        key: "blur_laplacian_var".into(),
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
        keep_missing: true,
    });
    let start = std::time::Instant::now();
    while h.query_by_label("min blur_laplacian_var").is_none() {
        assert!(start.elapsed().as_secs() < 60, "no histogram");
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
