use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::*;

const TIME: &str = "2026-01-02T03:04:05.678Z";

/// `n` items named `g{group}/i{k}.png`, `per_group` to a group.
fn items(n: usize, per_group: usize) -> Vec<Item> {
    (0..n)
        .map(|k| Item {
            id: 100 + k as i64,
            path: format!("g{}/i{k}.png", k / per_group),
            hash: format!("h{k}"),
            group: format!("prompt:{}", k / per_group),
        })
        .collect()
}

fn study(protocol: Protocol) -> Study {
    Study {
        protocol,
        raters_per_pair: 1,
        attention_rate: 0.0,
        seed: 9,
        ..Study::default()
    }
}

fn session(protocol: Protocol, n: usize, per_group: usize) -> Session<()> {
    Session::new("ana".into(), study(protocol), &items(n, per_group), 9, TIME)
}

/// Puts the current trial's images on screen at `at`.
fn start<F>(s: &mut Session<F>, at: Instant) {
    s.trial.as_mut().unwrap().started = Some(at);
}

fn event(protocol: &str, rater: &str, items: &[&str], criterion: &str, check: bool) -> Event {
    Event {
        rater: rater.into(),
        protocol: protocol.parse().unwrap(),
        payload: Payload {
            criterion: criterion.into(),
            items: items.iter().map(|s| (*s).to_string()).collect(),
            hashes: Vec::new(),
            order: Vec::new(),
            choice: None,
            rating: None,
            ratings: None,
            response_ms: None,
            attention_check: check,
        },
    }
}

#[test]
fn protocol_keys_are_the_stored_names() {
    let keys: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(keys, ["pairwise", "likert", "best_of_n", "multi"]);
    assert_eq!(Protocol::Likert.label(), "Likert (1–5)");
}

#[test]
fn the_session_id_names_rater_time_and_seed() {
    let a = session(Protocol::Pairwise, 3, 3);
    let b = session(Protocol::Pairwise, 3, 3);
    assert!(a.id.starts_with(&format!("ana@{TIME}#")), "{}", a.id);
    assert_eq!(a.id.len(), format!("ana@{TIME}#").len() + 4);
    assert_eq!(a.id, b.id, "same seed, same id");
    let c = Session::<()>::new(
        "ana".into(),
        study(Protocol::Pairwise),
        &items(3, 3),
        10,
        TIME,
    );
    assert_ne!(a.id, c.id);
    assert_eq!(a.ids, vec![100, 101, 102]);
    assert!(a.trial.is_none() && !a.complete && a.answered == 0);
}

#[test]
fn pairwise_trials_cover_each_pair_of_a_group_once_then_complete() {
    // Two groups of three: three pairs each within a prompt group.
    let mut s = session(Protocol::Pairwise, 6, 3);
    let mut pairs = BTreeSet::new();
    let t0 = Instant::now();
    for n in 0.. {
        s.next_trial(|_| false);
        let Some(t) = s.trial.clone() else { break };
        assert!(n < 6, "the session does not end");
        assert_eq!(t.items.len(), 2);
        assert!(!t.attention);
        let mut sorted_shown = t.shown.clone();
        sorted_shown.sort_by_key(|x| x.item());
        let mut sorted_items = t.items.clone();
        sorted_items.sort_by_key(|x| x.item());
        assert_eq!(sorted_shown, sorted_items, "shown is the items shuffled");
        assert_eq!(
            s.shown_ids(),
            t.shown.iter().map(|x| s.ids[x.item()]).collect::<Vec<_>>()
        );
        let (a, b) = (t.items[0].item(), t.items[1].item());
        assert_eq!(a / 3, b / 3, "pairs stay within a prompt group");
        assert!(pairs.insert((a.min(b), a.max(b))), "a pair twice");
        start(&mut s, t0);
        let rec = s
            .answer(&Answer::Pick(1), t0 + Duration::from_millis(250), TIME)
            .unwrap();
        assert_eq!(
            rec.event.payload.choice,
            Some(s.paths[t.shown[1].item()].clone())
        );
        assert_eq!(s.answered, n + 1);
        assert_eq!(s.labels_so_far, n + 1);
    }
    assert_eq!(pairs.len(), 6);
    assert!(s.complete);
    assert!(s.trial.is_none());
    assert!(s.shown_ids().is_empty());
}

#[test]
fn an_answer_becomes_a_label_event() {
    let mut s = session(Protocol::Pairwise, 2, 2);
    s.next_trial(|_| false);
    let t = s.trial.clone().unwrap();
    let t0 = Instant::now();
    // Ignored until the images are on screen.
    assert_eq!(s.answer(&Answer::Pick(0), t0, TIME), None);
    assert_eq!(s.answered, 0);
    start(&mut s, t0);
    let rec = s
        .answer(&Answer::Pick(0), t0 + Duration::from_millis(812), TIME)
        .unwrap();
    let p = &rec.event.payload;
    assert_eq!(rec.event.rater, "ana");
    assert_eq!(rec.event.protocol, Protocol::Pairwise);
    assert_eq!(p.criterion, "overall");
    let name = |x: &Shown| format!("g0/i{}.png", x.item());
    assert_eq!(p.items, t.items.iter().map(name).collect::<Vec<_>>());
    assert_eq!(p.order, t.shown.iter().map(name).collect::<Vec<_>>());
    assert_eq!(
        p.hashes,
        t.items
            .iter()
            .map(|x| format!("h{}", x.item()))
            .collect::<Vec<_>>()
    );
    assert_eq!(p.choice, Some(name(&t.shown[0])), "the left image");
    assert_eq!(p.response_ms, Some(812));
    assert!(!p.attention_check);
    assert_eq!(
        rec.uid,
        crate::human::event_uid(Protocol::Pairwise, "ana", &s.id, Some(TIME), p)
    );
    assert_eq!((s.answered, s.checks, s.labels_so_far), (1, 0, 1));
    // The scheduler learned the pair: nothing left for this rater.
    s.next_trial(|_| false);
    assert!(s.complete);
}

#[test]
fn answers_that_do_not_fit_the_protocol_are_ignored() {
    let t0 = Instant::now();
    let mut s = session(Protocol::Pairwise, 2, 2);
    s.study.both_bad = false;
    s.next_trial(|_| false);
    start(&mut s, t0);
    for a in [
        Answer::Pick(2),
        Answer::BothBad,
        Answer::Rating(3.0),
        Answer::Ratings(vec![1.0, 2.0, 3.0]),
    ] {
        assert_eq!(s.answer(&a, t0, TIME), None, "{a:?}");
    }
    assert_eq!(s.answered, 0);
    let tie = s.answer(&Answer::Tie, t0, TIME).unwrap();
    assert_eq!(tie.event.payload.choice.as_deref(), Some("tie"));

    let mut s = session(Protocol::Pairwise, 2, 2);
    s.next_trial(|_| false);
    start(&mut s, t0);
    let bad = s.answer(&Answer::BothBad, t0, TIME).unwrap();
    assert_eq!(bad.event.payload.choice.as_deref(), Some("both_bad"));

    let mut s = session(Protocol::Multi, 2, 2);
    s.next_trial(|_| false);
    start(&mut s, t0);
    assert_eq!(s.answer(&Answer::Ratings(vec![4.0, 5.0]), t0, TIME), None);
    assert_eq!(s.answer(&Answer::Rating(4.0), t0, TIME), None);
    assert_eq!(s.answer(&Answer::Pick(0), t0, TIME), None);
    assert_eq!(s.answered, 0);
}

#[test]
fn likert_and_multi_rate_each_item_once_per_rater() {
    let t0 = Instant::now();
    let mut s = session(Protocol::Likert, 3, 3);
    let mut seen = BTreeSet::new();
    loop {
        s.next_trial(|_| false);
        let Some(t) = s.trial.clone() else { break };
        assert_eq!(t.items.len(), 1);
        assert_eq!(t.why, "fewest ratings");
        assert!(seen.insert(t.items[0].item()));
        start(&mut s, t0);
        let rec = s.answer(&Answer::Rating(4.0), t0, TIME).unwrap();
        assert_eq!(rec.event.payload.rating, Some(4.0));
        assert_eq!(rec.event.protocol, Protocol::Likert);
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(s.labels_so_far, 3);

    let mut s = session(Protocol::Multi, 2, 2);
    s.next_trial(|_| false);
    start(&mut s, t0);
    let rec = s
        .answer(&Answer::Ratings(vec![5.0, 3.0, 4.0]), t0, TIME)
        .unwrap();
    let p = &rec.event.payload;
    assert_eq!(p.criterion, "multi");
    let m = p.ratings.clone().unwrap();
    assert_eq!(
        [m["fidelity"], m["alignment"], m["aesthetics"]],
        [5.0, 3.0, 4.0]
    );
    assert_eq!(s.labels_so_far, 0, "multi labels do not feed the scorer");
    assert_eq!(s.answered, 1);
}

#[test]
fn best_of_n_shows_unseen_sets_of_one_group() {
    let t0 = Instant::now();
    let mut st = study(Protocol::BestOfN);
    st.best_of = 3;
    st.attention_rate = 0.5;
    let mut s = Session::<()>::new("ana".into(), st, &items(8, 4), 3, TIME);
    let mut sets = BTreeSet::new();
    for _ in 0..6 {
        s.next_trial(|_| true);
        let Some(t) = s.trial.clone() else { break };
        assert!(!t.attention, "best-of-N has no attention checks");
        assert_eq!(t.items.len(), 3);
        assert_eq!(t.why, "fewest appearances");
        let mut v: Vec<usize> = t.items.iter().map(|x| x.item()).collect();
        assert!(v.iter().all(|&i| i / 4 == v[0] / 4), "one group: {v:?}");
        v.sort_unstable();
        assert!(sets.insert(v), "a set twice");
        start(&mut s, t0);
        let rec = s.answer(&Answer::Pick(2), t0, TIME).unwrap();
        assert_eq!(
            rec.event.payload.choice,
            Some(s.paths[t.shown[2].item()].clone())
        );
    }
    assert!(sets.len() >= 2);
    assert!(
        s.gold_to_make(|_| false, 0, |_| false).is_empty(),
        "no gold without checks"
    );
}

#[test]
fn attention_checks_use_gold_never_twice_in_a_row_and_are_counted_apart() {
    let t0 = Instant::now();
    let mut st = study(Protocol::Pairwise);
    st.attention_rate = 0.5;
    st.comparisons_per_item = 50;
    st.raters_per_pair = 5;
    let mut s = Session::<()>::new("ana".into(), st, &items(12, 12), 4, TIME);
    // Gold is ready for item 3 only.
    let gold_id = s.ids[3];
    let mut last_check = false;
    let mut checks = 0;
    let mut labels = 0;
    for _ in 0..40 {
        s.next_trial(|id| id == gold_id);
        let t = s.trial.clone().unwrap();
        if t.attention {
            assert!(!last_check, "two checks in a row");
            assert_eq!(t.why, "attention check");
            assert_eq!(t.items, vec![Shown::Image(3), Shown::Degraded(3)]);
            checks += 1;
        } else {
            labels += 1;
        }
        last_check = t.attention;
        start(&mut s, t0);
        let gold_pos = t.shown.iter().position(|x| matches!(x, Shown::Degraded(_)));
        let pick = gold_pos.map_or(0, |g| 1 - g);
        let rec = s.answer(&Answer::Pick(pick), t0, TIME).unwrap();
        let p = &rec.event.payload;
        assert_eq!(p.attention_check, t.attention);
        if t.attention {
            assert_eq!(p.items, vec!["g0/i3.png", "g0/i3.png#degraded"]);
            assert_eq!(p.hashes, vec!["h3", "h3#degraded"]);
            assert_eq!(p.choice.as_deref(), Some("g0/i3.png"), "the careful rater");
            assert_eq!(attention::passed(&rec.event), Some(true));
        }
    }
    assert!(
        checks >= 5 && labels >= 20,
        "{checks} checks, {labels} labels"
    );
    assert_eq!(s.answered, 40);
    assert_eq!(s.checks, checks);
    assert_eq!(s.labels_so_far, labels, "checks are not labels");

    // Without gold ready, a due check is a normal trial.
    let mut st = study(Protocol::Likert);
    st.attention_rate = 0.5;
    let mut s = Session::<()>::new("ana".into(), st.clone(), &items(6, 6), 4, TIME);
    for _ in 0..6 {
        s.next_trial(|_| false);
        assert!(!s.trial.as_ref().unwrap().attention);
        start(&mut s, t0);
        s.answer(&Answer::Rating(3.0), t0, TIME).unwrap();
    }
    // A single-image check shows the degraded copy alone.
    let mut s = Session::<()>::new("ana".into(), st, &items(6, 6), 4, TIME);
    let mut saw_check = false;
    for _ in 0..6 {
        s.next_trial(|_| true);
        let t = s.trial.clone().unwrap();
        if t.attention {
            saw_check = true;
            assert_eq!(t.items.len(), 1);
            assert!(matches!(t.items[0], Shown::Degraded(_)));
        }
        start(&mut s, t0);
        s.answer(&Answer::Rating(1.0), t0, TIME).unwrap();
    }
    assert!(saw_check);
}

#[test]
fn multi_digits_fill_the_dimensions_in_order() {
    let mut s = session(Protocol::Multi, 2, 2);
    s.next_trial(|_| false);
    let t = s.trial.as_mut().unwrap();
    assert_eq!(t.ratings, vec![3.0; 3], "sliders start in the middle");
    assert_eq!(t.type_rating(5.0), None);
    t.restart_typing();
    assert_eq!(t.type_rating(2.0), None);
    assert_eq!(t.type_rating(4.0), None);
    assert_eq!(t.type_rating(1.0), Some(vec![2.0, 4.0, 1.0]));
    assert_eq!(t.typed, 3);
}

#[test]
fn replay_feeds_the_scheduler_and_counts_scorer_labels() {
    let mut s = session(Protocol::Pairwise, 3, 3);
    let events = vec![
        // Two of the three pairs judged by others (raters_per_pair is 1).
        event(
            "pairwise",
            "ben",
            &["g0/i0.png", "g0/i1.png"],
            "overall",
            false,
        ),
        event(
            "pairwise",
            "cleo",
            &["g0/i1.png", "g0/i2.png"],
            "overall",
            false,
        ),
        // Not this study's: another criterion, a check, another protocol, an unknown item.
        event(
            "pairwise",
            "ben",
            &["g0/i0.png", "g0/i2.png"],
            "fidelity",
            false,
        ),
        event(
            "pairwise",
            "ben",
            &["g0/i0.png", "g0/i2.png"],
            "overall",
            true,
        ),
        event("likert", "ben", &["g0/i0.png"], "overall", false),
        event(
            "pairwise",
            "ben",
            &["g0/i0.png", "gone.png"],
            "overall",
            false,
        ),
    ];
    s.replay(&events);
    assert_eq!(
        s.labels_so_far, 4,
        "pairwise and Likert labels of the criterion, checks excluded"
    );
    s.next_trial(|_| false);
    let t = s.trial.clone().unwrap();
    let mut ix: Vec<usize> = t.items.iter().map(|x| x.item()).collect();
    ix.sort_unstable();
    assert_eq!(ix, vec![0, 2], "the one pair nobody judged");
    start(&mut s, Instant::now());
    s.answer(&Answer::Tie, Instant::now(), TIME).unwrap();
    s.next_trial(|_| false);
    assert!(s.complete);

    // Likert: items others rated are full; best-of-N: this rater's sets are not repeated.
    let mut s = session(Protocol::Likert, 2, 2);
    s.replay(&[event("likert", "ben", &["g0/i1.png"], "overall", false)]);
    s.next_trial(|_| false);
    assert_eq!(s.trial.as_ref().unwrap().items, vec![Shown::Image(0)]);
    let mut st = study(Protocol::BestOfN);
    st.best_of = 2;
    st.raters_per_pair = 1;
    let mut s = Session::<()>::new("ana".into(), st, &items(2, 2), 1, TIME);
    s.replay(&[event(
        "best_of_n",
        "ana",
        &["g0/i1.png", "g0/i0.png"],
        "overall",
        false,
    )]);
    s.next_trial(|_| false);
    assert!(s.complete, "the only set was seen");
}

#[test]
fn bt_fit_generations_keep_the_newest_scores() {
    let mut s = session(Protocol::Pairwise, 3, 3);
    assert_eq!(s.begin_fit(), Some(1));
    assert_eq!(s.begin_fit(), Some(2));
    assert!(!s.accept_theta(3, vec![0.0; 3]), "not requested yet");
    assert!(s.accept_theta(2, vec![1.0, 0.0, -1.0]));
    assert!(!s.accept_theta(1, vec![0.0; 3]), "older than the one taken");
    assert!(!s.accept_theta(2, vec![0.0; 3]));
    let mut likert = session(Protocol::Likert, 3, 3);
    assert_eq!(likert.begin_fit(), None, "single items need no fit");
    let mut best = session(Protocol::BestOfN, 3, 3);
    assert_eq!(best.begin_fit(), Some(1));
}

#[test]
fn scorer_fits_and_the_retraining_schedule() {
    let t0 = Instant::now();
    let mut st = study(Protocol::Likert);
    st.retrain_every = 2;
    let mut s = Session::<&str>::new("ana".into(), st, &items(6, 6), 2, TIME);
    assert!(!s.retrain_due());
    assert_eq!(s.labels_until_retrain(), 2);
    assert_eq!(s.begin_scorer_fit(), Some(1));
    assert!(s.scorer.running);
    assert_eq!(s.begin_scorer_fit(), None, "one fit at a time");
    for _ in 0..2 {
        s.next_trial(|_| false);
        start(&mut s, t0);
        s.answer(&Answer::Rating(2.0), t0, TIME).unwrap();
    }
    assert!(!s.retrain_due(), "a fit is running");
    assert!(!s.scorer_finished(7), "a stale fit is ignored");
    assert!(s.scorer.running);
    assert!(s.scorer_finished(1));
    s.scorer_fitted("v1", None);
    assert_eq!(s.scorer.last, Some("v1"));
    assert!(s.retrain_due(), "two labels since the fit");
    assert_eq!(s.labels_until_retrain(), 0);
    assert_eq!(s.begin_scorer_fit(), Some(2));
    assert_eq!(s.labels_until_retrain(), 2, "counted from this fit");
    assert!(s.scorer_finished(2));
    s.scorer_failed("too few labels".into());
    assert_eq!(s.scorer.error.as_deref(), Some("too few labels"));
    assert_eq!(s.scorer.last, Some("v1"), "the last good fit stays");
    assert!(!s.retrain_due());
    s.scorer_fitted("v2", None);
    assert_eq!(s.scorer.error, None);

    let mut never =
        Session::<()>::new("ana".into(), study(Protocol::Likert), &items(2, 2), 2, TIME);
    never.study.retrain_every = 0;
    never.labels_so_far = 100;
    assert!(!never.retrain_due(), "0 = never");
    let mut multi = session(Protocol::Multi, 2, 2);
    assert_eq!(multi.begin_scorer_fit(), None, "multi has no scorer");
}

#[test]
fn gold_keeps_three_distinct_usable_images_coming() {
    let mut st = study(Protocol::Pairwise);
    st.attention_rate = 0.2;
    let mut s = Session::<()>::new("ana".into(), st.clone(), &items(10, 10), 5, TIME);
    let picked = s.gold_to_make(|_| false, 0, |id| id == 100 || id == 101);
    assert_eq!(picked.len(), 3);
    let ids: BTreeSet<i64> = picked.iter().map(|p| p.0).collect();
    assert_eq!(ids.len(), 3, "distinct");
    assert!(ids.iter().all(|id| (102..110).contains(id)), "{ids:?}");
    // Ready and in-flight images count towards the three.
    assert_eq!(s.gold_to_make(|id| id == 105, 1, |_| false).len(), 1);
    assert!(s.gold_to_make(|_| false, 3, |_| false).is_empty());
    assert!(
        s.gold_to_make(|_| false, 0, |_| true).is_empty(),
        "nothing usable"
    );
    // Same seed, same draws.
    let mut again = Session::<()>::new("ana".into(), st.clone(), &items(10, 10), 5, TIME);
    assert_eq!(
        again.gold_to_make(|_| false, 0, |id| id == 100 || id == 101),
        picked
    );
    st.attention_rate = 0.0;
    let mut none = Session::<()>::new("ana".into(), st, &items(10, 10), 5, TIME);
    assert!(none.gold_to_make(|_| false, 0, |_| false).is_empty());
}

#[test]
fn whole_collection_scope_pairs_across_groups() {
    let mut st = study(Protocol::Pairwise);
    st.scope = Scope::Collection;
    let mut s = Session::<()>::new("ana".into(), st, &items(4, 1), 6, TIME);
    let t0 = Instant::now();
    let mut n = 0;
    loop {
        s.next_trial(|_| false);
        if s.trial.is_none() {
            break;
        }
        start(&mut s, t0);
        s.answer(&Answer::Pick(0), t0, TIME).unwrap();
        n += 1;
        assert!(n <= 6);
    }
    assert_eq!(n, 6, "every pair of four singleton groups");
    let mut within = session(Protocol::Pairwise, 4, 1);
    within.next_trial(|_| false);
    assert!(within.complete, "no pair within singleton groups");
}

#[test]
fn the_study_knows_its_scorer_labels_and_checks() {
    let st = Study::default();
    assert!(st.counts_for_scorer(&event("best_of_n", "r", &["a"], "overall", false)));
    assert!(!st.counts_for_scorer(&event("multi", "r", &["a"], "overall", false)));
    assert!(!st.counts_for_scorer(&event("pairwise", "r", &["a"], "overall", true)));
    assert!(!st.counts_for_scorer(&event("likert", "r", &["a"], "fidelity", false)));
    assert!(st.has_checks());
    let best = Study {
        protocol: Protocol::BestOfN,
        ..Study::default()
    };
    assert!(!best.has_checks());
}
