//! A full pairwise study through the real workbench (`egui_kittest`): two raters answer every
//! trial with the keyboard (the scripted rater always prefers the sharper image and passes
//! the attention checks); assertions are on the stored events (rater, session, order shown,
//! attention flag, response time), the randomised sides, the schedule (each within-prompt
//! pair once per rater, raters per pair respected) and the resulting Bradley–Terry ranking.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use assay::gui::labeling::{Shown, Tab};
use assay::gui::{App, AppOptions, ViewMode};
use assay::human::Payload;
use assay::store::{SignalValue, Store};
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use crate::gui::wait;

fn blur(app: &App, id: i64) -> f64 {
    let c = app.coll.as_ref().unwrap();
    match c.row(id).unwrap().signals.get("blur_laplacian_var") {
        Some(SignalValue::Number(x)) => *x,
        other => panic!("no blur for {id}: {other:?}"),
    }
}

/// Trial ready (images on screen) or the study complete.
fn trial_ready_or_done(app: &App) -> bool {
    let s = app.coll.as_ref().unwrap().label.session.as_ref().unwrap();
    s.complete || s.trial.as_ref().is_some_and(|t| t.started.is_some())
}

/// Answers every trial of the open session like a careful rater; returns the trials done.
fn run_session(h: &mut Harness<'_, App>) -> usize {
    let mut n = 0;
    loop {
        wait(h, "the trial's images", trial_ready_or_done);
        let (shown, ids) = {
            let s = h
                .state()
                .coll
                .as_ref()
                .unwrap()
                .label
                .session
                .as_ref()
                .unwrap();
            if s.complete {
                return n;
            }
            let t = s.trial.as_ref().unwrap();
            assert_eq!(t.shown.len(), 2);
            (t.shown.clone(), s.ids.clone())
        };
        let left_better = match (shown[0], shown[1]) {
            (Shown::Degraded(_), _) => false,
            (_, Shown::Degraded(_)) => true,
            (Shown::Image(a), Shown::Image(b)) => blur(h.state(), ids[a]) > blur(h.state(), ids[b]),
        };
        // Both key sets: arrows on even trials, A / L on odd ones.
        let key = match (left_better, n % 2 == 0) {
            (true, true) => Key::ArrowLeft,
            (true, false) => Key::A,
            (false, true) => Key::ArrowRight,
            (false, false) => Key::L,
        };
        let before = h.state().coll.as_ref().unwrap().label.stored.len();
        h.key_press(key);
        h.run_steps(1);
        assert_eq!(
            h.state().coll.as_ref().unwrap().label.stored.len(),
            before + 1,
            "trial {n}: the answer was recorded"
        );
        n += 1;
        assert!(n < 200, "the session does not end");
    }
}

fn start_as(h: &mut Harness<'_, App>, rater: &str) {
    let field = h.get_by_label("Rater name");
    field.focus();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.get_by_label("Rater name").type_text(rater);
    h.run_steps(2);
    h.get_by_label("Start session").click();
    h.run_steps(2);
    let app = h.state();
    let c = app.coll.as_ref().unwrap();
    assert_eq!(c.label.tab, Tab::Trial);
    assert_eq!(c.label.session.as_ref().unwrap().rater, rater);
}

#[test]
fn pairwise_study_with_two_raters_and_attention_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("coll");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    for group in ["cat_chelsea", "coffee_cup"] {
        crate::common::copy_tree(&demo.join(group), &dir.join(group));
    }
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, opts));
    wait(&mut h, "the scan", |a| {
        a.coll.as_ref().is_some_and(|c| c.idle())
    });
    // 5 readable cat images (one broken file) and 6 coffee images.
    assert_eq!(
        h.state()
            .coll
            .as_ref()
            .unwrap()
            .catalogue
            .rows
            .iter()
            .filter(|r| r.error.is_none())
            .count(),
        11
    );

    h.key_press_modifiers(Modifiers::COMMAND, Key::L);
    h.run_steps(2);
    assert_eq!(h.state().mode, ViewMode::Label);
    wait(&mut h, "the stored labels", |a| {
        a.coll.as_ref().unwrap().label.loaded
    });
    {
        let study = &mut h.state_mut().coll.as_mut().unwrap().label.study;
        assert_eq!(study.raters_per_pair, 3, "three raters per pair by default");
        study.raters_per_pair = 2;
        study.attention_rate = 0.3;
        study.seed = 42;
    }

    start_as(&mut h, "ana");
    h.get_by_label("Which image is better overall?");
    let ana_trials = run_session(&mut h);
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().coll.as_ref().unwrap().label.tab, Tab::Setup);
    start_as(&mut h, "ben");
    let ben_trials = run_session(&mut h);
    wait(&mut h, "every answer stored", |a| {
        a.coll.as_ref().unwrap().label.settled()
    });

    eprintln!("trials: ana {ana_trials}, ben {ben_trials}");
    // The flywheel: ben's session started from a scorer fitted on ana's labels (for
    // scheduling, not stored) and retrained after 25 new labels: a stored, active version
    // whose values the grid shows, and the header says so. (Ana's 25th label may already
    // have stored v1, if its commit came back before her session ended: then ben's is v2.)
    wait(&mut h, "the retrained scorer", |a| {
        let s = a.coll.as_ref().unwrap().label.session.as_ref().unwrap();
        s.scorer.last.as_ref().is_some_and(|f| f.version.is_some()) && !s.scorer.running
    });
    let v = {
        let c = h.state().coll.as_ref().unwrap();
        let s = c.label.session.as_ref().unwrap();
        let fit = s.scorer.last.as_ref().unwrap();
        let v = fit.version.unwrap();
        assert!((1..=2).contains(&v), "{fit:?}");
        assert_eq!(
            s.labels_so_far, 50,
            "25 pairs per rater, checks not counted"
        );
        assert!(fit.events >= 50, "{fit:?}");
        let e = fit.estimate.as_ref().expect("a cross-validated estimate");
        assert_eq!(e.source, "cross-validation");
        assert!(e.accuracy > 0.7, "{e:?}");
        v
    };
    h.get_by_label_contains("labels so far: 50");
    h.get_by_label_contains(&format!("scorer v{v}: accuracy"));
    // The stored events.
    let db = dir.join(".assay/assay.db");
    let store = Store::open(&db).unwrap();
    let rows = store.label_events().unwrap();
    assert_eq!(rows.len(), ana_trials + ben_trials);
    let mut sessions: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut pairs: HashMap<String, BTreeSet<(String, String)>> = HashMap::new();
    let (mut same_side, mut swapped) = (0, 0);
    let mut checks: HashMap<String, usize> = HashMap::new();
    let paths = store.path_hashes().unwrap();
    for r in &rows {
        assert_eq!(r.protocol, "pairwise");
        sessions
            .entry(r.rater.clone())
            .or_default()
            .insert(r.session.clone());
        let p: Payload = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(p.criterion, "overall");
        assert!(p.response_ms.is_some());
        let mut sorted_items = p.items.clone();
        sorted_items.sort();
        let mut sorted_order = p.order.clone();
        sorted_order.sort();
        assert_eq!(sorted_items, sorted_order, "order is the items as shown");
        if p.order == p.items {
            same_side += 1;
        } else {
            swapped += 1;
        }
        let choice = p.choice.clone().unwrap();
        if p.attention_check {
            *checks.entry(r.rater.clone()).or_default() += 1;
            let degraded: Vec<&String> = p
                .items
                .iter()
                .filter(|i| i.ends_with("#degraded"))
                .collect();
            assert_eq!(degraded.len(), 1, "{:?}", p.items);
            assert!(!choice.ends_with("#degraded"), "the careful rater passes");
            assert_eq!(
                p.hashes.iter().filter(|h| h.ends_with("#degraded")).count(),
                1
            );
        } else {
            let (a, b) = (&p.items[0], &p.items[1]);
            assert!(paths.contains_key(a) && paths.contains_key(b));
            assert_eq!(
                a.split('/').next(),
                b.split('/').next(),
                "pairs stay within a prompt group"
            );
            let key = if a < b {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            assert!(
                pairs.entry(r.rater.clone()).or_default().insert(key),
                "a rater never sees a pair twice"
            );
        }
    }
    assert_eq!(sessions.len(), 2);
    assert!(sessions.values().all(|s| s.len() == 1), "{sessions:?}");
    assert_ne!(sessions["ana"], sessions["ben"]);
    // Every within-group pair (10 cat + 15 coffee) once per rater, so two raters per pair.
    assert_eq!(pairs["ana"].len(), 25);
    assert_eq!(pairs["ben"], pairs["ana"]);
    assert!(checks.get("ana").copied().unwrap_or(0) >= 1, "{checks:?}");
    assert!(checks.get("ben").copied().unwrap_or(0) >= 1, "{checks:?}");
    assert!(
        same_side > 5 && swapped > 5,
        "sides are randomised: {same_side} as scheduled, {swapped} swapped"
    );
    let mut raters = store.raters().unwrap();
    raters.sort();
    assert_eq!(raters, vec!["ana", "ben"]);
    let scorers = store.scorers().unwrap();
    assert_eq!(
        scorers.len() as i64,
        v,
        "one stored retraining per 25 new labels"
    );
    assert!(
        scorers.iter().all(|r| r.active == (r.version == v)),
        "the session's retraining is the active version"
    );
    assert_eq!(
        store.signal_numbers("learned_preference").unwrap().len(),
        11,
        "every readable image scored by the active scorer"
    );
    drop(store);

    // Results: the ranking agrees with sharpness within each prompt group.
    h.get_by_label("Results").click();
    wait(&mut h, "the statistics", |a| {
        a.coll.as_ref().unwrap().label.report_current()
    });
    let rep = h
        .state()
        .coll
        .as_ref()
        .unwrap()
        .label
        .report
        .clone()
        .unwrap();
    assert!(rep.excluded.is_empty());
    let ranking = rep.rankings[0].rows.as_ref().unwrap();
    assert_eq!(ranking.len(), 11);
    let id_of: HashMap<String, i64> = h
        .state()
        .coll
        .as_ref()
        .unwrap()
        .catalogue
        .rows
        .iter()
        .map(|r| (r.path.clone(), r.id))
        .collect();
    for group in ["cat_chelsea/", "coffee_cup/"] {
        let in_group: Vec<_> = ranking
            .iter()
            .filter(|r| r.item.starts_with(group))
            .collect();
        let blurs: Vec<f64> = in_group
            .iter()
            .map(|r| blur(h.state(), id_of[&r.item]))
            .collect();
        assert!(
            blurs.windows(2).all(|w| w[0] > w[1]),
            "{group}: BT order follows sharpness: {blurs:?}"
        );
        assert!(
            in_group
                .iter()
                .all(|r| r.low <= r.theta && r.theta <= r.high)
        );
    }
    let ag = &rep.agreement[0];
    assert_eq!((ag.raters, ag.units), (2, 25));
    assert_eq!(*ag.alphas[0].1.as_ref().unwrap(), 1.0, "identical raters");
    for r in &rep.raters {
        assert_eq!(r.checks.passed, r.checks.checks);
        assert_eq!(r.majority, Some((25, 25)));
    }
    h.get_by_label_contains("Krippendorff's α: ≥ 0.8 reliable");
    h.get_by_label_contains("reliable (α ≥ 0.8)");
}

/// Answers the open session's trials of a single-image or best-of-N protocol by keys.
fn run_keys(
    h: &mut Harness<'_, App>,
    keys_for: impl Fn(&App, &[Shown], &[i64]) -> Vec<Key>,
) -> usize {
    let mut n = 0;
    loop {
        wait(h, "the trial's images", trial_ready_or_done);
        let (shown, ids) = {
            let s = h
                .state()
                .coll
                .as_ref()
                .unwrap()
                .label
                .session
                .as_ref()
                .unwrap();
            if s.complete {
                return n;
            }
            (s.trial.as_ref().unwrap().shown.clone(), s.ids.clone())
        };
        let before = h.state().coll.as_ref().unwrap().label.stored.len();
        for k in keys_for(h.state(), &shown, &ids) {
            h.key_press(k);
            h.run_steps(1);
        }
        assert_eq!(
            h.state().coll.as_ref().unwrap().label.stored.len(),
            before + 1
        );
        n += 1;
        assert!(n < 100, "the session does not end");
    }
}

#[test]
fn likert_multi_and_best_of_n_screens_store_the_same_event_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("coll");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    crate::common::copy_tree(&demo.join("coffee_cup"), &dir.join("coffee_cup"));
    let opts = AppOptions {
        dir: Some(dir.clone()),
        no_restore: true,
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, opts));
    wait(&mut h, "the scan", |a| {
        a.coll.as_ref().is_some_and(|c| c.idle())
    });
    h.get_by_label("View").click();
    h.run_steps(3);
    h.get_by_label_contains("Labeling").click();
    h.run_steps(2);
    assert_eq!(h.state().mode, ViewMode::Label);
    wait(&mut h, "the stored labels", |a| {
        a.coll.as_ref().unwrap().label.loaded
    });
    {
        let study = &mut h.state_mut().coll.as_mut().unwrap().label.study;
        study.raters_per_pair = 1;
        study.attention_rate = 0.4;
        study.seed = 7;
    }
    let digit = |r: usize| [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5][r - 1];
    // Likert: a degraded gold image gets 1, real ones 4.
    h.get_by_label("Likert (1–5)").click();
    h.run_steps(1);
    start_as(&mut h, "cleo");
    let likert = run_keys(&mut h, |_, shown, _| match shown[0] {
        Shown::Degraded(_) => vec![digit(1)],
        Shown::Image(_) => vec![digit(4)],
    });
    assert!(likert >= 6, "six images, each once");
    h.key_press(Key::Escape);
    h.run_steps(1);
    // Multi-dimensional: three digits per image.
    h.get_by_label("Multi-dimensional").click();
    h.run_steps(1);
    start_as(&mut h, "cleo");
    let multi = run_keys(&mut h, |_, shown, _| match shown[0] {
        Shown::Degraded(_) => vec![digit(1), digit(2), digit(2)],
        Shown::Image(_) => vec![digit(5), digit(3), digit(4)],
    });
    assert!(multi >= 6);
    h.key_press(Key::Escape);
    h.run_steps(1);
    // Best of 3 within the prompt group: pick the sharpest.
    h.get_by_label("Best of N").click();
    h.run_steps(1);
    h.state_mut().coll.as_mut().unwrap().label.study.best_of = 3;
    start_as(&mut h, "cleo");
    let best = run_keys(&mut h, |app, shown, ids| {
        assert_eq!(shown.len(), 3);
        let k = (0..3)
            .max_by(|&a, &b| {
                blur(app, ids[shown[a].item()]).total_cmp(&blur(app, ids[shown[b].item()]))
            })
            .unwrap();
        vec![[Key::Num1, Key::Num2, Key::Num3][k]]
    });
    assert!(best >= 2);
    wait(&mut h, "every answer stored", |a| {
        a.coll.as_ref().unwrap().label.settled()
    });

    let store = Store::open(&dir.join(".assay/assay.db")).unwrap();
    let rows = store.label_events().unwrap();
    assert_eq!(rows.len(), likert + multi + best);
    let sessions: BTreeSet<&str> = rows.iter().map(|r| r.session.as_str()).collect();
    assert_eq!(sessions.len(), 3, "one session per study run");
    let mut checks = 0;
    for r in &rows {
        let p: Payload = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(r.rater, "cleo");
        assert!(p.response_ms.is_some());
        match r.protocol.as_str() {
            "likert" => {
                assert_eq!(p.items.len(), 1);
                let want = if p.attention_check { 1.0 } else { 4.0 };
                assert_eq!(p.rating, Some(want));
            }
            "multi" => {
                let m = p.ratings.clone().unwrap();
                let want = if p.attention_check {
                    [1.0, 2.0, 2.0]
                } else {
                    [5.0, 3.0, 4.0]
                };
                assert_eq!(
                    [m["fidelity"], m["alignment"], m["aesthetics"]],
                    want,
                    "digits fill fidelity, alignment, aesthetics in order"
                );
            }
            "best_of_n" => {
                assert_eq!(p.items.len(), 3);
                assert!(p.items.contains(p.choice.as_ref().unwrap()));
                assert!(!p.attention_check);
            }
            other => panic!("unexpected protocol {other}"),
        }
        if p.attention_check {
            checks += 1;
            assert!(p.items[0].ends_with("#degraded"));
        }
    }
    assert!(
        checks >= 1,
        "attention checks in the single-image protocols"
    );
}
