//! The real workbench driven through AccessKit with `egui_kittest`: open the demo collection
//! (the app scans it itself), sort by a signal, filter, cull with the keyboard, undo/redo, open
//! detail and compare, export with XMP sidecars. Assertions are on the store and the exported
//! files, not only on the UI.

use std::path::Path;
use std::time::{Duration, Instant};

use assay::gui::{App, AppOptions, ViewMode};
use assay::store::Store;
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

/// Steps the harness until `cond` holds (two minutes at most).
pub fn wait(h: &mut Harness<'_, App>, what: &str, cond: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !cond(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

pub fn idle(app: &App) -> bool {
    app.coll.as_ref().is_some_and(|c| c.idle())
}

/// The app on a fresh copy of the demo under `tmp`, once `what` (its scan) has settled.
pub fn open_demo(tmp: &Path, what: &str) -> (Harness<'static, App>, std::path::PathBuf) {
    let dir = tmp.join("demo");
    crate::common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo"),
        &dir,
    );
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, opts));
    wait(&mut h, what, idle);
    (h, dir)
}

/// (status, rating, source, reason) of the latest decision of `path`.
fn latest(db: &Path, path: &str) -> Option<(String, Option<i64>, String, Option<String>)> {
    let store = Store::open(db).unwrap();
    let rows = store.image_rows(false).unwrap();
    let r = rows.iter().find(|r| r.path == path)?;
    Some((
        r.status_str()?.to_string(),
        r.decision_rating,
        r.decision_source.as_deref()?.to_string(),
        r.decision_reason.as_deref().map(str::to_string),
    ))
}

fn cursor_path(app: &App) -> String {
    let c = app.coll.as_ref().unwrap();
    c.row(c.grid.sel.cursor.unwrap()).unwrap().path.clone()
}

#[test]
fn workbench_culls_the_demo_through_the_ui() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    crate::common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo"),
        &dir,
    );
    let out = tmp.path().join("export");
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, opts));
    // Opening scans in the background; the grid fills in.
    wait(&mut h, "the scan and the thumbnails", idle);
    let db = dir.join(".assay/assay.db");
    assert!(db.exists(), "the app's scan created the catalogue");
    {
        let c = h.state().coll.as_ref().unwrap();
        assert_eq!(c.catalogue.rows.len(), 31);
        assert_eq!(c.view.order.len(), 31);
        assert!(
            c.caches.textures.len() >= 9,
            "visible thumbnails were loaded"
        );
        // Unreadable files are listed, with their reason, and get no thumbnail.
        assert!(
            c.catalogue
                .rows
                .iter()
                .filter(|r| r.error.is_some())
                .count()
                >= 2
        );
    }
    assert!(
        dir.join(".assay/thumbs").read_dir().unwrap().count() > 0,
        "thumbnails are cached on disk"
    );
    // Thumbnails are AccessKit list items named after the file.
    h.get_by_label("seed_5001.png");

    // Sort by a signal (descending) from the toolbar (the inspector, which also names every
    // signal, is hidden with I first so that the label is unique).
    h.key_press(Key::I);
    h.run_steps(2);
    assert!(!h.state().settings.show_inspector);
    h.get_by_label("Sort by").click();
    h.run_steps(2);
    h.get_by_label("Sharpness (Laplacian variance)").click();
    h.run_steps(2);
    h.get_by_label("ascending").click();
    h.run_steps(2);
    h.key_press(Key::I);
    h.run_steps(2);
    {
        let app = h.state();
        assert_eq!(app.settings.sort.column, "blur_laplacian_var");
        assert!(app.settings.sort.descending);
        let c = app.coll.as_ref().unwrap();
        let vals: Vec<f64> = c
            .view
            .ids
            .iter()
            .filter_map(
                |id| match c.row(*id).unwrap().signals.get("blur_laplacian_var") {
                    Some(assay::store::SignalValue::Number(x)) => Some(*x),
                    _ => None,
                },
            )
            .collect();
        assert!(vals.len() >= 25);
        assert!(
            vals.windows(2).all(|w| w[0] >= w[1]),
            "sorted descending: {vals:?}"
        );
    }

    // Filter by prompt text.
    let search = h.get_by_label("Search");
    search.focus();
    search.type_text("cat");
    h.run_steps(3);
    {
        let c = h.state().coll.as_ref().unwrap();
        assert!(
            !c.view.order.is_empty() && c.view.order.len() < 31,
            "{} shown",
            c.view.order.len()
        );
        for id in &c.view.ids {
            let r = c.row(*id).unwrap();
            let hay = format!(
                "{} {} {}",
                r.path,
                r.positive.clone().unwrap_or_default(),
                r.model.clone().unwrap_or_default()
            );
            assert!(hay.to_lowercase().contains("cat"), "{hay}");
        }
    }
    // Clear the search (select all, delete) and leave the text field.
    h.get_by_label("Search").focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.run_steps(2);
    h.get_by_label("seed_2001.jpg").click();
    h.run_steps(2);
    assert_eq!(h.state().coll.as_ref().unwrap().view.order.len(), 31);
    assert_eq!(cursor_path(h.state()), "coffee_cup/seed_2001.jpg");

    // Cull with the keyboard: P picks, → moves, X rejects, 4 rates.
    h.key_press(Key::P);
    h.run_steps(2);
    h.key_press(Key::ArrowRight);
    h.run_steps(2);
    let second = cursor_path(h.state());
    assert_ne!(second, "coffee_cup/seed_2001.jpg");
    h.key_press(Key::X);
    h.run_steps(2);
    h.key_press(Key::Num4);
    h.run_steps(2);
    wait(&mut h, "decisions committed", idle);
    assert_eq!(
        latest(&db, "coffee_cup/seed_2001.jpg"),
        Some(("accepted".into(), None, "human".into(), None))
    );
    assert_eq!(
        latest(&db, &second),
        Some(("rejected".into(), Some(4), "human".into(), None))
    );

    // Undo the rating, then the reject; redo the reject. Each is a new row in the log.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    wait(&mut h, "undo committed", idle);
    assert_eq!(
        latest(&db, &second),
        Some(("none".into(), None, "human".into(), Some("undo".into())))
    );
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    wait(&mut h, "redo committed", idle);
    assert_eq!(
        latest(&db, &second),
        Some(("rejected".into(), None, "human".into(), Some("redo".into())))
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.count("decisions").unwrap(),
        6,
        "pick, reject, rate, undo, undo, redo: six appended rows"
    );
    drop(store);

    // Detail view: Space opens it, the full image decodes off-thread, Escape returns.
    h.key_press(Key::Space);
    h.run_steps(2);
    assert_eq!(h.state().mode, ViewMode::Detail);
    let cur = h.state().coll.as_ref().unwrap().grid.sel.cursor.unwrap();
    wait(&mut h, "the full-resolution image", |a| {
        a.coll.as_ref().unwrap().has_full(cur)
    });
    h.get_by_label("Copy prompt");
    h.get_by_label("100%").click();
    h.run_steps(2);
    assert!(h.state().coll.as_ref().unwrap().grid.zoom.zoom.is_some());
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().mode, ViewMode::Grid);

    // Compare two images chosen with ctrl-click; pick the second from the compare view.
    // (Filter to their folder first: the grid only lays out what is on screen.)
    let search = h.get_by_label("Search");
    search.focus();
    search.type_text("coffee_cup");
    h.run_steps(3);
    assert_eq!(h.state().coll.as_ref().unwrap().view.order.len(), 6);
    h.get_by_label("seed_2003.jpg").click();
    h.run_steps(1);
    h.get_by_label("seed_2004.jpg")
        .click_modifiers(Modifiers::COMMAND);
    h.run_steps(1);
    h.key_press(Key::C);
    h.run_steps(3);
    assert_eq!(h.state().mode, ViewMode::Compare);
    assert_eq!(h.state().coll.as_ref().unwrap().grid.compare_ids.len(), 2);
    h.get_all_by_label("Pick").nth(1).unwrap().click();
    h.run_steps(3);
    wait(&mut h, "the compare pick", idle);
    assert_eq!(
        latest(&db, "coffee_cup/seed_2004.jpg").unwrap().0,
        "accepted"
    );
    assert_eq!(
        latest(&db, "coffee_cup/seed_2003.jpg"),
        None,
        "only the clicked one is flagged"
    );
    h.key_press(Key::G);
    h.run_steps(2);

    // A rendered frame of the grid (wgpu; lavapipe on CI) is not blank.
    let img = h.render().expect("render the window");
    let first = img.get_pixel(0, 0).0;
    assert!(
        img.pixels().any(|p| p.0 != first),
        "the rendered window is not uniform"
    );

    // Export the picks with XMP sidecars and a manifest from the dialog (Ctrl+Shift+E).
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::E);
    h.run_steps(2);
    let field = h.get_by_label("Export folder");
    field.focus();
    field.type_text(&out.display().to_string());
    h.run_steps(2);
    h.get_by_label("Start export").click();
    h.run_steps(2);
    wait(&mut h, "the export", idle);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "manifest.csv",
            "seed_2001.jpg",
            "seed_2001.jpg.xmp",
            "seed_2004.jpg",
            "seed_2004.jpg.xmp"
        ]
    );
    let xmp = std::fs::read_to_string(out.join("seed_2001.jpg.xmp")).unwrap();
    assert!(
        xmp.contains("digiKam:PickLabel") || xmp.contains("xmp:Label"),
        "{xmp}"
    );
    assert_eq!(
        std::fs::read(out.join("seed_2004.jpg")).unwrap(),
        std::fs::read(dir.join("coffee_cup/seed_2004.jpg")).unwrap(),
        "exported copies are byte-identical"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 3);
    assert!(
        manifest
            .lines()
            .next()
            .unwrap()
            .contains("blur_laplacian_var")
    );
}

#[test]
fn welcome_screen_without_a_collection_and_bad_folder_message() {
    let opts = AppOptions {
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_eframe(|cc| App::new(cc, opts));
    h.run_steps(2);
    assert!(h.state().coll.is_none());
    h.get_by_label("Open folder…");
    h.get_by_label_contains("drop a folder");
    // Opening something that is not a folder explains itself instead of failing.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-folder.png");
    std::fs::write(&file, b"x").unwrap();
    h.state_mut().push(assay::gui::Cmd::Open(file));
    h.run_steps(2);
    assert!(h.state().coll.is_none());
    let (msg, is_error) = h.state().message.clone().unwrap();
    assert!(is_error && msg.contains("is not a folder"), "{msg}");
    h.get_by_label_contains("is not a folder");
}

#[test]
fn pareto_view_selects_the_front_and_policy_editor_applies_live_thresholds() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, dir) = open_demo(tmp.path(), "the scan");
    let db = dir.join(".assay/assay.db");

    // Pareto view (V): sharpness (max) against noise (min) by default.
    h.key_press(Key::V);
    h.run_steps(3);
    assert_eq!(h.state().mode, ViewMode::Pareto);
    // The expected front, computed here from the rows with the selection module.
    let expected: std::collections::BTreeSet<i64> = {
        let c = h.state().coll.as_ref().unwrap();
        let num = |r: &assay::store::ImageRow, k: &str| match r.signals.get(k) {
            Some(assay::store::SignalValue::Number(x)) => Some(*x),
            _ => None,
        };
        let pts: Vec<(i64, Vec<f64>)> = c
            .catalogue
            .rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.id,
                    vec![num(r, "blur_laplacian_var")?, num(r, "noise_sigma")?],
                ))
            })
            .collect();
        let coords: Vec<Vec<f64>> = pts.iter().map(|p| p.1.clone()).collect();
        let fronts = assay::selection::rules::pareto_fronts(&coords, &[true, false]);
        pts.iter()
            .zip(fronts)
            .filter(|(_, f)| *f == 0)
            .map(|(p, _)| p.0)
            .collect()
    };
    assert!(!expected.is_empty() && expected.len() < 29);
    h.get_by_label("Select front").click();
    h.run_steps(2);
    assert_eq!(h.state().coll.as_ref().unwrap().grid.sel.selected, expected);
    h.get_by_label("Show selection in grid").click();
    h.run_steps(3);
    {
        let app = h.state();
        assert_eq!(app.mode, ViewMode::Grid);
        let shown: std::collections::BTreeSet<i64> = app
            .coll
            .as_ref()
            .unwrap()
            .view
            .ids
            .iter()
            .copied()
            .collect();
        assert_eq!(shown, expected, "the grid shows exactly the front");
    }
    // A human decision made now must survive the policy.
    h.key_press(Key::Home);
    h.key_press(Key::X);
    h.run_steps(2);
    let human_id = h.state().coll.as_ref().unwrap().grid.sel.cursor.unwrap();

    // Policy editor (View → Selection policy) with the shipped example.
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label_contains("Selection policy").click();
    h.run_steps(2);
    assert_eq!(h.state().mode, ViewMode::Policy);
    wait(&mut h, "the first plan", |a| a.policy.editor.up_to_date());
    let counts = |a: &App| a.policy.editor.plan.as_ref().unwrap().counts.clone();
    let before = counts(h.state());
    assert_eq!(
        before.values().sum::<u64>(),
        30,
        "31 images, one kept for its human decision"
    );
    // Raise the accept threshold to the top: nothing scores ≥ 1.0 except a scope's best, so
    // the accept count cannot grow and the text follows the slider.
    h.get_by_label("accept threshold").set_value_accesskit(1.0);
    h.run_steps(2);
    wait(&mut h, "the re-plan", |a| a.policy.editor.up_to_date());
    assert!(
        h.state().policy.editor.text.contains("accept = 1"),
        "{}",
        h.state().policy.editor.text
    );
    let after = counts(h.state());
    assert!(
        after.get(&assay::domain::Status::Accepted) <= before.get(&assay::domain::Status::Accepted)
    );
    assert_ne!(after, before, "counts follow the threshold");
    assert_eq!(after.values().sum::<u64>(), 30);
    h.get_by_label_contains("Apply to 30 images").click();
    h.run_steps(2);
    wait(&mut h, "the policy decisions", |a| {
        idle(a) && a.message.as_ref().is_some_and(|m| m.0.contains("applied"))
    });
    let store = Store::open(&db).unwrap();
    assert_eq!(store.count("policies").unwrap(), 1);
    let rows = store.image_rows(false).unwrap();
    let by_policy = rows
        .iter()
        .filter(|r| {
            r.decision_source
                .as_deref()
                .is_some_and(|s| s.starts_with("policy:portrait-v1@"))
        })
        .count();
    assert_eq!(by_policy, 30);
    let human = rows.iter().find(|r| r.id == human_id).unwrap();
    assert_eq!(
        (human.status_str(), human.decision_source.as_deref()),
        (Some("rejected"), Some("human")),
        "human decisions win"
    );
    let in_review = rows
        .iter()
        .filter(|r| r.status_str() == Some("review"))
        .count();
    assert_eq!(
        in_review as u64,
        after
            .get(&assay::domain::Status::Review)
            .copied()
            .unwrap_or(0)
    );
    drop(store);
    // The review band as a queue in the grid. Applying reloads the rows and re-plans; while
    // that settles, widgets before the button can come and go, which changes its automatic id,
    // so a click sent in between can miss. Wait for the fresh plan, then click (again if a
    // click still landed on a frame whose ids changed).
    wait(&mut h, "the plan after applying", |a| {
        idle(a) && a.policy.editor.up_to_date()
    });
    for _ in 0..5 {
        h.get_by_label("Open review queue").click();
        h.run_steps(3);
        if h.state().mode == ViewMode::Grid {
            break;
        }
    }
    let app = h.state();
    assert_eq!(app.mode, ViewMode::Grid);
    let c = app.coll.as_ref().unwrap();
    assert_eq!(c.view.order.len(), in_review);
    assert!(
        c.view
            .ids
            .iter()
            .all(|id| c.row(*id).unwrap().status_str() == Some("review"))
    );
}

#[test]
fn scorer_view_trains_activates_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, dir) = open_demo(tmp.path(), "the scan");
    let db = dir.join(".assay/assay.db");
    // A rater who always prefers the sharper image: 60 pairwise events over the readable images.
    {
        let mut store = Store::open(&db).unwrap();
        let rows: Vec<_> = store
            .image_rows(false)
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.signals.get("blur_laplacian_var") {
                Some(assay::store::SignalValue::Number(x)) => {
                    Some((r.path.clone(), r.hash.clone().unwrap(), *x))
                }
                _ => None,
            })
            .collect();
        let n = rows.len();
        let events: Vec<assay::store::NewLabelEvent> = (0..60)
            .map(|k| {
                let (a, b) = (&rows[k % n], &rows[(k * 7 + 3) % n]);
                let a = if a.0 == b.0 { &rows[(k + 1) % n] } else { a };
                let choice = if a.2 >= b.2 { &a.0 } else { &b.0 };
                let payload = serde_json::json!({
                    "criterion": "overall", "items": [a.0, b.0], "hashes": [a.1, b.1],
                    "order": [a.0, b.0], "choice": choice, "rating": null, "ratings": null,
                    "response_ms": 900, "attention_check": false,
                });
                assay::store::NewLabelEvent {
                    uid: format!("test-{k}"),
                    time: None,
                    rater: "r1".into(),
                    session: "s1".into(),
                    protocol: assay::domain::Protocol::Pairwise,
                    payload: payload.to_string(),
                }
            })
            .collect();
        store.append_label_events(&events).unwrap();
    }
    h.state_mut().push(assay::gui::Cmd::ShowScorers);
    h.run_steps(3);
    assert_eq!(h.state().mode, ViewMode::Scorers);
    wait(&mut h, "the versions", |a| a.scorers.rows.is_some());
    h.get_by_label_contains("No scorer yet");
    for _ in 0..2 {
        h.get_by_label("Train now").click();
        h.run_steps(2);
        wait(&mut h, "training", |a| a.scorers.busy.is_none() && idle(a));
    }
    assert!(
        matches!(&h.state().scorers.last, Some(Ok(m)) if m.contains("trained version 2")),
        "{:?}",
        h.state().scorers.last
    );
    wait(&mut h, "the versions again", |a| {
        a.scorers.rows.as_ref().is_some_and(|r| r.len() == 2)
    });
    let store = Store::open(&db).unwrap();
    assert_eq!(store.active_scorer().unwrap().unwrap().version, 2);
    drop(store);
    // The grid's rows carry the learned signal of the active version.
    assert!(
        h.state()
            .coll
            .as_ref()
            .unwrap()
            .catalogue
            .rows
            .iter()
            .any(|r| r.signals.contains_key("learned_preference"))
    );
    h.get_by_label("Roll back").click();
    h.run_steps(2);
    wait(&mut h, "the rollback", |a| {
        a.scorers.busy.is_none() && idle(a)
    });
    let store = Store::open(&db).unwrap();
    assert_eq!(store.active_scorer().unwrap().unwrap().version, 1);
    let log: Vec<String> = store
        .scorer_log()
        .unwrap()
        .into_iter()
        .map(|l| l.action)
        .collect();
    assert_eq!(log, vec!["train", "train", "rollback"]);
    // The learning curve of the active version is plotted (its metrics load in the
    // background: under load that takes more than a few frames).
    let start = Instant::now();
    while h.query_by_label_contains("Learning curve of v1").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for the learning curve of v1"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.get_by_label_contains("Learning curve of v1");
}

/// The policy editor's "Calibrate from labels" sets the thresholds through the text (so the
/// live counts follow), shows band metrics, and the best-of-N panel reports selector
/// efficiency from the humans' decisions. Nothing is written to the database.
#[test]
fn policy_editor_calibrates_from_labels_and_plots_best_of_n() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut h, dir) = open_demo(tmp.path(), "the scan");
    let db = dir.join(".assay/assay.db");
    // Labels: the coffee group decided by hand (one accepted, the rest rejected: the humans'
    // best of that group), and a rater who prefers the sharper image among the others.
    let coffee = ["2001", "2002", "2003", "2004", "2005", "2006"];
    {
        let mut store = Store::open(&db).unwrap();
        for c in coffee {
            let id = store
                .image_id(&format!("coffee_cup/seed_{c}.jpg"))
                .unwrap()
                .unwrap();
            let status = if c == "2001" {
                assay::domain::Status::Accepted
            } else {
                assay::domain::Status::Rejected
            };
            store
                .append_decision(id, status, None, "human", None)
                .unwrap();
        }
        let rows: Vec<_> = store
            .image_rows(false)
            .unwrap()
            .into_iter()
            .filter(|r| !r.path.starts_with("coffee_cup/"))
            .filter_map(|r| match r.signals.get("blur_laplacian_var") {
                Some(assay::store::SignalValue::Number(x)) => {
                    Some((r.path.clone(), r.hash.clone().unwrap(), *x))
                }
                _ => None,
            })
            .collect();
        let n = rows.len();
        let events: Vec<assay::store::NewLabelEvent> = (0..80)
            .filter_map(|k| {
                let (a, b) = (&rows[k % n], &rows[(k * 7 + 3) % n]);
                if a.0 == b.0 {
                    return None;
                }
                let choice = if a.2 >= b.2 { &a.0 } else { &b.0 };
                let payload = serde_json::json!({
                    "criterion": "overall", "items": [a.0, b.0], "hashes": [a.1, b.1],
                    "order": [a.0, b.0], "choice": choice, "rating": null, "ratings": null,
                    "response_ms": 900, "attention_check": false,
                });
                Some(assay::store::NewLabelEvent {
                    uid: format!("test-{k}"),
                    time: None,
                    rater: "r1".into(),
                    session: "s1".into(),
                    protocol: assay::domain::Protocol::Pairwise,
                    payload: payload.to_string(),
                })
            })
            .collect();
        store.append_label_events(&events).unwrap();
    }
    // The rows reload after a rescan, decisions included.
    h.state_mut().push(assay::gui::Cmd::Rescan);
    h.run_steps(2);
    wait(&mut h, "the rescan", |a| {
        idle(a)
            && a.coll.as_ref().is_some_and(|c| {
                c.catalogue
                    .rows
                    .iter()
                    .filter(|r| r.decision_source.is_some())
                    .count()
                    == 6
            })
    });
    h.state_mut().push(assay::gui::Cmd::ShowPolicy);
    h.run_steps(2);
    wait(&mut h, "the first plan and the labels", |a| {
        a.policy.editor.up_to_date() && a.coll.as_ref().is_some_and(|c| c.label.loaded)
    });
    let counts = |a: &App| a.policy.editor.plan.as_ref().unwrap().counts.clone();
    let before = counts(h.state());
    let text_before = h.state().policy.editor.text.clone();

    // Minimum cost only (the checkbox off), evaluated on the training labels.
    h.state_mut().policy.evidence.holdout = 0.0;
    h.get_by_label("target precision").click();
    h.run_steps(1);
    assert!(!h.state().policy.evidence.use_target);
    h.get_by_label("Calibrate from labels").click();
    h.run_steps(2);
    wait(&mut h, "the calibration and its re-plan", |a| {
        a.policy.evidence.calibration.is_some() && a.policy.editor.up_to_date()
    });
    // What the library says for the same rows and labels.
    let (want, want_counts) = {
        let app = h.state();
        let c = app.coll.as_ref().unwrap();
        let events: Vec<assay::human::Event> =
            c.label.stored.iter().map(|s| s.event.clone()).collect();
        let p = assay::selection::plan::prepare(&text_before).unwrap();
        let o = assay::selection::evaluate::CalibrateOptions {
            holdout: 0.0,
            ..Default::default()
        };
        // The workbench shares its rows with background jobs; the library takes plain rows.
        let rows = assay::gui::owned_rows(&c.catalogue.rows);
        let want = assay::selection::evaluate::calibrate_policy(&p, &rows, &events, &o).unwrap();
        let moved = assay::selection::plan::set_bands(&text_before, want.accept, want.reject);
        let human: std::collections::HashSet<i64> = c
            .catalogue
            .rows
            .iter()
            .filter(|r| r.decision_source.as_deref() == Some("human"))
            .map(|r| r.id)
            .collect();
        let planned = assay::selection::plan::plan(
            &assay::selection::plan::prepare(&moved).unwrap(),
            &rows,
            &human,
        )
        .unwrap();
        (want, planned.counts)
    };
    assert!(
        want.labels.pairwise_good > 0 && want.labels.decision_bad == 5,
        "{want:?}"
    );
    let app = h.state();
    assert!(
        matches!(&app.policy.evidence.calibration, Some(Ok(c)) if c.accept == want.accept),
        "{:?}",
        app.policy.evidence.calibration
    );
    let ed = &app.policy.editor;
    assert_eq!((ed.accept, ed.reject), (want.accept, want.reject));
    assert_ne!((ed.accept, ed.reject), (0.5, 0.2), "the thresholds moved");
    assert!(
        ed.text.contains(&format!("accept = {}", want.accept)) && ed.text.contains("# score"),
        "{}",
        ed.text
    );
    let after = counts(app);
    assert_eq!(
        after, want_counts,
        "the live counts are the new thresholds' plan"
    );
    assert_ne!(
        after, before,
        "the live counts follow the calibrated thresholds"
    );
    let shown = format!("on the {} training labels", want.eval_n);
    h.get_by_label_contains("share good");
    h.get_by_label_contains(&shown);

    // Best of N: the coffee group's humans named its best; the curve is plotted.
    wait(&mut h, "the best-of-N evidence with the labels", |a| {
        a.policy.evidence.evidence.as_ref().is_some_and(|e| {
            e.as_ref().is_ok_and(|e| {
                e.efficiency
                    .groups
                    .iter()
                    .any(|g| g.key.contains("cappuccino"))
            })
        })
    });
    let e = h.state().policy.evidence.evidence.clone().unwrap().unwrap();
    assert!(!e.best_of_n.pooled.is_empty());
    h.get_by_label_contains("Best-of-N curve of");
    h.get_by_label_contains("humans' best in");
    // Calibrating wrote nothing: the six human decisions are all there is.
    assert_eq!(Store::open(&db).unwrap().count("decisions").unwrap(), 6);
}
