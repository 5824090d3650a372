//! Issue 17 in the workbench: a file edited after it was decided (other pixels) shows the
//! earlier decision in the inspector ("decided on an earlier version"); an edit that keeps the
//! pixels keeps the decision.

use std::path::Path;

use assay::gui::{App, AppOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::common::{png_with_text, run, stderr};
use crate::gui::{idle, wait};

#[test]
fn the_inspector_shows_a_decision_made_on_an_earlier_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("col");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("edited.png"), png_with_text(64, 64, 1, &[])).unwrap();
    std::fs::write(dir.join("kept.png"), png_with_text(64, 64, 2, &[])).unwrap();
    let d = dir.to_str().unwrap();
    let scan = |dir: &Path| {
        let o = run(&[
            "scan",
            dir.to_str().unwrap(),
            "--backend",
            "cpu",
            "--no-faces",
            "--no-clip",
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    scan(&dir);
    let o = run(&[
        "decide",
        d,
        "--status",
        "accepted",
        "edited.png",
        "kept.png",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.join("edited.png"), png_with_text(64, 64, 9, &[])).unwrap();
    std::fs::write(
        dir.join("kept.png"),
        png_with_text(64, 64, 2, &[("Software", "an editor")]),
    )
    .unwrap();
    scan(&dir);

    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_eframe(|cc| App::new(cc, opts));
    wait(&mut h, "the collection", idle);
    h.get_by_role_and_label(egui::accesskit::Role::ListBoxOption, "edited.png")
        .click();
    h.run_steps(3);
    h.get_by_label_contains("decided on an earlier version: accepted on version 1");
    h.get_by_role_and_label(egui::accesskit::Role::ListBoxOption, "kept.png")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("decided on an earlier version")
            .is_none(),
        "same pixels: the decision itself carried over"
    );
    let c = h.state().coll.as_ref().unwrap();
    let kept = c
        .catalogue
        .rows
        .iter()
        .find(|r| r.path == "kept.png")
        .unwrap();
    assert_eq!(kept.status_str(), Some("accepted"));
}
