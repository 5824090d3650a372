//! The batch-monitor dashboard driven through AccessKit: a collection with `clean/` fixture
//! photos and `degraded/` blurred, noisy copies (made here, as in `monitor.rs`), scanned and
//! run through the example policy by the CLI, then opened in the app. The dashboard (key M)
//! batches by scan day (one batch) and by folder (two), flags the degraded batch as drifted on
//! sharpness against the clean baseline (and the clean batch when the baseline is swapped),
//! shows agreement once a human flags an image the policy decided, and exports the HTML report.

use std::path::Path;

use assay::gui::{App, AppOptions, ViewMode};
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::common::{fixtures_dir, run, scan_json, stderr};
use crate::compare::{degrade, derive};
use crate::gui::{idle, wait};

fn monitor_ready(a: &App) -> bool {
    a.mode == ViewMode::Monitor && a.monitor.up_to_date() && a.monitor.result.is_some()
}

/// Clicks the combo box `combo`, then its entry `item`.
fn choose(h: &mut Harness<'_, App>, combo: &str, item: &str) {
    h.get_by_label(combo).click();
    h.run_steps(2);
    h.get_by_label(item).click();
    h.run_steps(2);
}

#[test]
fn monitor_dashboard_flags_the_degraded_batch() {
    let Some(fixtures) = fixtures_dir("monitor_dashboard_flags_the_degraded_batch") else {
        return;
    };
    let photos = fixtures.join("photos");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("coll");
    derive(&photos, &root.join("clean"), |img, _| img);
    derive(&photos, &root.join("degraded"), degrade);
    let per_batch = std::fs::read_dir(root.join("clean")).unwrap().count();
    assert!(per_batch >= 5, "enough photos for a drift test");
    let db = tmp.path().join("m.db");
    let (code, _) = scan_json(&root, &db, &[]);
    assert_eq!(code, 0);
    let (r, d) = (root.to_str().unwrap(), db.to_str().unwrap());
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/policies/example.toml");
    let o = run(&["select", r, "--db", d, "--policy", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "select: {}", stderr(&o));

    let opts = AppOptions {
        dir: Some(root.clone()),
        db: Some(db.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .build_eframe(|cc| App::new(cc, opts));
    wait(&mut h, "the rescan", idle);
    assert_eq!(
        h.state().coll.as_ref().unwrap().catalogue.rows.len(),
        2 * per_batch
    );

    // M opens the dashboard; by folder (the default) before any human decision.
    h.key_press(Key::M);
    wait(&mut h, "the first computation", monitor_ready);
    {
        let res = h.state().monitor.result.clone().unwrap();
        assert_eq!(res.by, "folder");
        assert_eq!(res.batches.len(), 2);
    }
    h.get_by_label_contains("No image has both a human decision and a policy decision");

    // One scan day: one batch, and the dashboard says so.
    choose(&mut h, "Batch by", "scan_date");
    wait(&mut h, "the scan-date batches", |a| {
        monitor_ready(a) && a.monitor.result.as_ref().unwrap().by == "scan_date"
    });
    {
        let res = h.state().monitor.result.clone().unwrap();
        assert_eq!(res.batches.len(), 1, "{:?}", res.batches.keys());
        let day = res.batches.keys().next().unwrap();
        // `today()` is read after the scan; a scan that crossed midnight UTC was yesterday.
        let now = assay::monitor::scan_day(Some(&today()));
        assert!(day <= &now, "{day} vs {now}");
        assert_eq!(res.batches[day].n, 2 * per_batch);
    }
    h.get_by_label_contains("Only one batch by scan_date");

    // Back to folders, with the degraded batch as the baseline first: then `clean` drifts.
    choose(&mut h, "Batch by", "folder");
    wait(&mut h, "the folder batches", |a| {
        monitor_ready(a) && a.monitor.result.as_ref().unwrap().by == "folder"
    });
    choose(&mut h, "Baseline batch", "degraded");
    wait(&mut h, "baseline degraded", |a| {
        monitor_ready(a) && a.monitor.result.as_ref().unwrap().baseline == "degraded"
    });
    assert_eq!(
        h.state()
            .monitor
            .result
            .as_ref()
            .unwrap()
            .drifted("clean", "blur_laplacian_var"),
        Some(true)
    );
    choose(&mut h, "Baseline batch", "clean");
    wait(&mut h, "baseline clean", |a| {
        monitor_ready(a) && a.monitor.result.as_ref().unwrap().baseline == "clean"
    });
    {
        let res = h.state().monitor.result.clone().unwrap();
        assert_eq!(res.drifted("degraded", "blur_laplacian_var"), Some(true));
        assert_eq!(
            res.drifted("clean", "blur_laplacian_var"),
            None,
            "the baseline"
        );
        let sharp = &res.batch("degraded").unwrap().signals["blur_laplacian_var"];
        assert!(sharp.ks.unwrap().p_value < 0.01, "{sharp:?}");
        assert_eq!(sharp.n, per_batch);
    }
    // What the screen says, row by row (the rows' accessible summaries).
    h.get_by_label(&format!("batch clean: N {per_batch}, baseline"));
    h.get_by_label_contains(&format!("batch degraded: N {per_batch}, DRIFT on"));
    choose(&mut h, "Signal", "Sharpness (Laplacian variance)");
    assert_eq!(
        h.state().monitor.signal.as_deref(),
        Some("blur_laplacian_var")
    );
    h.get_by_label("degraded on blur_laplacian_var: DRIFT");
    h.get_by_label("clean on blur_laplacian_var: baseline");

    // A human flag on an image the policy decided (a different status: the same one would be
    // no change): the review count follows and agreement appears for its batch (0 of 1).
    h.key_press(Key::G);
    h.run_steps(2);
    let (path, policy_status) = {
        let c = h.state().coll.as_ref().unwrap();
        let row = c.row(c.grid.sel.cursor.unwrap()).unwrap();
        assert!(
            row.decision_source
                .as_deref()
                .is_some_and(|s| s.starts_with("policy:")),
            "every image has a policy decision"
        );
        (row.path.clone(), row.status_str().unwrap().to_string())
    };
    let batch = path.split('/').next().unwrap().to_string();
    let review_before = {
        let res = h.state().monitor.result.clone().unwrap();
        i64::try_from(res.batch(&batch).unwrap().review).unwrap()
    };
    let review_after = if policy_status == "review" {
        h.key_press(Key::P);
        review_before - 1
    } else {
        h.key_press_modifiers(Modifiers::SHIFT, Key::R);
        review_before + 1
    };
    h.run_steps(2);
    {
        let c = h.state().coll.as_ref().unwrap();
        let row = c.catalogue.rows.iter().find(|r| r.path == path).unwrap();
        assert_ne!(row.status_str(), Some(policy_status.as_str()));
    }
    h.key_press(Key::M);
    wait(&mut h, "agreement for the flagged batch", |a| {
        monitor_ready(a)
            && a.monitor
                .result
                .as_ref()
                .unwrap()
                .batch(&batch)
                .is_some_and(|b| b.human_policy.n == 1)
    });
    {
        let res = h.state().monitor.result.clone().unwrap();
        let b = res.batch(&batch).unwrap();
        assert_eq!(b.human_policy.agreement, Some(0.0), "{b:?}");
        assert_eq!(i64::try_from(b.review).ok(), Some(review_after), "{b:?}");
    }
    assert!(
        h.query_by_label_contains("No image has both").is_none(),
        "the empty state is gone once there is a pair"
    );

    // Export the report (same renderer as `assay monitor --format html`).
    let report = tmp.path().join("report.html");
    h.get_by_label("Report file").focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.run_steps(2);
    h.get_by_label("Report file")
        .type_text(report.to_str().unwrap());
    h.run_steps(2);
    assert_eq!(h.state().monitor.report_path, report.to_str().unwrap());
    h.get_by_label("Export report").click();
    wait(&mut h, "the report", |a| {
        !a.monitor.exporting && report.exists()
    });
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("degraded") && html.contains("DRIFT"));
    assert!(html.contains("Review rate and agreement over batches"));
    assert!(!html.contains("src=\"http"), "self-contained");
}

fn today() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assay::store::format_unix_ms(ms)
}
