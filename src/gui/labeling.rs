//! Human evaluation in the workbench: study setup (rater, protocol, criterion, scope,
//! comparisons per item, raters per pair, attention-check rate), the trial screens (pairwise
//! with randomised sides, Likert 1–5, best-of-N, multi-dimensional) and the results
//! (`labeling_stats.rs`).
//!
//! Every answer becomes one append-only label event (rater, session, protocol, criterion,
//! items in scheduled order and in on-screen order, answer, response time, attention-check
//! flag), sent at once to the database worker. The session itself (trial sequence, attention
//! checks, answers as events, fit bookkeeping) is `human::session` and its scheduling
//! `human::schedule`, both pure; this file lays out, paints and runs the workers. The
//! Bradley–Terry scores it uses, the degraded gold images and the statistics are computed on
//! background threads (`labeling_jobs.rs`). The screens are blind: no file names or signals.
//!
//! The flywheel: a session starts by fitting the preference scorer on the labels so far (for
//! scheduling only), and every `retrain_every` new labels (a study setting, 25 by default)
//! retrains it in the background exactly as `assay train` does — a new stored, active version,
//! so the grid's `learned_preference` follows. After coverage, pairwise trials are the pairs
//! that scorer is least sure about (`PairScheduler::set_model`). The header shows the labels
//! so far and the current cross-validated accuracy estimate.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use eframe::egui::{self, Align2, FontId, Key, Rect, RichText, Vec2};

use super::labeling_jobs::{
    GoldMaker, LabelDb, LabelMsg, ScorerFit, StatsReq, StatsWorker, Stored, scorer_job,
};
use super::latest::Latest;
use super::theme;
use super::{Cmd, Collection, ViewCtx, jobs::DbCmd, jobs::Outbox, zoom};
use crate::human::session::{self as hs, Item};
pub use crate::human::session::{Answer, Protocol, Scope, Shown, Study, Trial};
use crate::human::{self, attention, report::DIMENSIONS};
use crate::store::{NewLabelEvent, SessionSummary};

/// Criteria a study can ask about.
pub const CRITERIA: &[(&str, &str)] = &[
    ("overall", "Which image is better overall?"),
    ("fidelity", "Which image has fewer defects and artefacts?"),
    ("alignment", "Which image matches the prompt better?"),
    ("aesthetics", "Which image is more beautiful?"),
];

/// Tabs of the labeling view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Setup,
    Trial,
    Results,
}

/// A rater's session (`human::session`) with the scorer fits this screen shows.
pub type Session = hs::Session<ScorerFit>;

/// The preference scorer as the labeling session sees it.
pub type ScorerStatus = hs::ScorerStatus<ScorerFit>;

/// Labeling state of a collection.
pub struct Labeling {
    pub study: Study,
    /// Name typed or picked in the setup tab.
    pub rater: String,
    pub raters: Vec<String>,
    pub sessions: Vec<SessionSummary>,
    /// Every stored label event (loaded, then appended as answered).
    pub stored: Vec<Stored>,
    pub loaded: bool,
    load_requested: bool,
    pub session: Option<Session>,
    pub tab: Tab,
    pub report: Option<human::report::Report>,
    report_generation: Latest,
    /// Events covered by the report requested last, and by the report shown.
    report_requested_for: usize,
    report_for: usize,
    pub threshold: f64,
    pub include_unreliable: bool,
    sent_seq: u64,
    /// Event batches sent and not yet confirmed.
    pub unconfirmed: BTreeSet<u64>,
    gold_tex: HashMap<i64, egui::TextureHandle>,
    gold_requested: HashSet<i64>,
    gold_failed: HashSet<i64>,
    gold: GoldMaker,
    stats: StatsWorker,
    out: Outbox,
}

impl Labeling {
    pub fn new(out: &Outbox) -> Self {
        Self {
            study: Study::default(),
            rater: String::new(),
            raters: Vec::new(),
            sessions: Vec::new(),
            stored: Vec::new(),
            loaded: false,
            load_requested: false,
            session: None,
            tab: Tab::Setup,
            report: None,
            report_generation: Latest::default(),
            report_requested_for: usize::MAX,
            report_for: usize::MAX,
            threshold: attention::DEFAULT_THRESHOLD,
            include_unreliable: false,
            sent_seq: 0,
            unconfirmed: BTreeSet::new(),
            gold_tex: HashMap::new(),
            gold_requested: HashSet::new(),
            gold_failed: HashSet::new(),
            gold: GoldMaker::start(out.clone()),
            stats: StatsWorker::start(out.clone()),
            out: out.clone(),
        }
    }

    /// Nothing in flight: events loaded and every answer committed.
    pub fn settled(&self) -> bool {
        self.loaded && self.unconfirmed.is_empty()
    }

    /// Whether the statistics report covers every stored event.
    pub fn report_current(&self) -> bool {
        self.report.is_some() && self.report_for == self.stored.len()
    }

    /// Asks the statistics thread for a fresh report when the events changed.
    pub fn request_report(&mut self) {
        if self.report_requested_for == self.stored.len() {
            return;
        }
        let generation = self.report_generation.next();
        self.report_requested_for = self.stored.len();
        let opts = human::report::ReportOptions {
            threshold: self.threshold,
            include_unreliable: self.include_unreliable,
            ..Default::default()
        };
        self.stats.send(StatsReq::Report {
            generation,
            events: self.stored.iter().map(|s| s.event.clone()).collect(),
            sessions: self.stored.iter().map(|s| s.session.clone()).collect(),
            opts,
        });
    }

    /// Forces a new report (options changed).
    pub fn invalidate_report(&mut self) {
        self.report_requested_for = usize::MAX;
        self.report_for = usize::MAX;
    }
}

/// Entering the labeling view: load events and raters once.
/// Asks the database worker for the stored label events once (other views read them too).
pub fn request_load(c: &mut Collection) {
    if !c.label.load_requested {
        c.label.load_requested = true;
        c.catalogue.db_worker.send(DbCmd::Label(LabelDb::Load));
    }
}

pub fn enter(c: &mut Collection) {
    request_load(c);
    if c.label.session.is_none() && c.label.tab == Tab::Trial {
        c.label.tab = Tab::Setup;
    }
}

/// Applies a worker message; returns an error to show.
pub fn on_msg(c: &mut Collection, m: LabelMsg, ctx: &egui::Context) -> Option<String> {
    let l = &mut c.label;
    match m {
        LabelMsg::Loaded {
            raters,
            sessions,
            events,
            unreadable,
        } => {
            l.raters = raters;
            l.sessions = sessions;
            // Answers given before the load completed are already in the store.
            l.stored = events;
            l.loaded = true;
            if unreadable > 0 {
                return Some(format!(
                    "{unreadable} stored label events could not be read"
                ));
            }
        }
        LabelMsg::Raters(r) => l.raters = r,
        LabelMsg::Appended(seq, r) => {
            l.unconfirmed.remove(&seq);
            if let Err(e) = r {
                return Some(e);
            }
            // Committed: a retraining started now sees these labels.
            maybe_retrain(c);
        }
        LabelMsg::Scorer(generation, r) => {
            let s = l.session.as_mut()?;
            if !s.scorer_finished(generation) {
                return None;
            }
            match r {
                Ok((fit, model)) => {
                    let stored = fit.version.is_some();
                    s.scorer_fitted(fit, model);
                    if stored {
                        // learned_preference values changed.
                        c.reload();
                    }
                }
                Err(e) => s.scorer_failed(e),
            }
            maybe_retrain(c);
        }
        LabelMsg::Gold(id, r) => {
            l.gold_requested.remove(&id);
            match r {
                Ok(img) => {
                    let t =
                        ctx.load_texture(format!("gold-{id}"), img, egui::TextureOptions::LINEAR);
                    l.gold_tex.insert(id, t);
                }
                Err(_) => {
                    l.gold_failed.insert(id);
                }
            }
        }
        LabelMsg::Theta(generation, theta) => {
            // Fits are skipped while answers arrive faster: any newer one replaces the old.
            if let Some(s) = l.session.as_mut() {
                s.accept_theta(generation, theta);
            }
        }
        LabelMsg::Report(generation, r) => {
            if l.report_generation.is_current(generation) {
                l.report = Some(*r);
                l.report_for = l.report_requested_for;
            }
        }
    }
    None
}

fn group_key(row: &crate::store::ImageRow) -> String {
    match row.positive.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => format!("prompt:{p}"),
        _ => format!(
            "folder:{}",
            row.path.rsplit_once('/').map_or("", |(d, _)| d)
        ),
    }
}

fn now_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The session's items: the collection's readable images, by path.
fn session_items(c: &Collection) -> Vec<Item> {
    let mut rows: Vec<&crate::store::ImageRow> = c
        .catalogue
        .rows
        .iter()
        .map(|r| &**r)
        .filter(|r| r.error.is_none() && r.hash.is_some())
        .collect();
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    rows.iter()
        .map(|r| Item {
            id: r.id,
            path: r.path.clone(),
            hash: r.hash.clone().unwrap_or_default(),
            group: group_key(r),
        })
        .collect()
}

/// Starts a session for the rater named in the setup tab.
pub fn start_session(c: &mut Collection) -> Result<(), String> {
    let rater = c.label.rater.trim().to_string();
    if rater.is_empty() {
        return Err("type or pick a rater name first".into());
    }
    if !c.label.loaded {
        return Err("the stored labels are still loading".into());
    }
    let items = session_items(c);
    if items.len() < 2 {
        return Err("labeling needs at least two readable images".into());
    }
    let study = c.label.study.clone();
    let seed = if study.seed == 0 {
        now_seed()
    } else {
        study.seed
    };
    let time = crate::store::now_utc();
    let mut s = Session::new(rater.clone(), study, &items, seed, &time);
    s.replay(c.label.stored.iter().map(|st| &st.event));
    c.catalogue
        .db_worker
        .send(DbCmd::Label(LabelDb::AddRater(rater.clone())));
    if !c.label.raters.contains(&rater) {
        c.label.raters.push(rater);
        c.label.raters.sort();
    }
    c.label.session = Some(s);
    request_fit(&mut c.label);
    // A scorer for scheduling from the labels so far (not stored: no new version yet).
    if c.label
        .session
        .as_ref()
        .is_some_and(|s| s.labels_so_far >= 2)
    {
        request_scorer_fit(c, false);
    }
    refill_gold(c);
    next_trial(c);
    c.label.tab = Tab::Trial;
    c.grid.zoom = super::ZoomPan::default();
    Ok(())
}

/// Fits the preference scorer in the background (`store`: as a new active version, else for
/// scheduling only).
fn request_scorer_fit(c: &mut Collection, store: bool) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    let Some(generation) = s.begin_scorer_fit() else {
        return;
    };
    let req = crate::pipeline::preference::TrainRequest {
        criterion: s.study.criterion.clone(),
        include_unreliable: l.include_unreliable,
        threshold: l.threshold,
        activate: true,
        options: crate::learn::TrainOptions {
            // The learning curve is for the scorer view's "Train now".
            curve: false,
            ..crate::learn::TrainOptions::default()
        },
        ..Default::default()
    };
    scorer_job(
        c.db.clone(),
        req,
        store,
        s.paths.clone(),
        generation,
        l.out.clone(),
    );
}

/// Retrains when `retrain_every` labels arrived since the last fit (and none is running).
fn maybe_retrain(c: &mut Collection) {
    let due = c.label.session.as_ref().is_some_and(Session::retrain_due);
    if due && c.label.unconfirmed.is_empty() {
        request_scorer_fit(c, true);
    }
}

/// Asks the statistics thread for Bradley–Terry scores of the session's items (scheduling).
fn request_fit(l: &mut Labeling) {
    let Some(s) = l.session.as_mut() else { return };
    let Some(generation) = s.begin_fit() else {
        return;
    };
    l.stats.send(StatsReq::Fit {
        generation,
        events: l.stored.iter().map(|st| st.event.clone()).collect(),
        criterion: s.study.criterion.clone(),
        items: s.paths.clone(),
    });
}

/// Keeps a few gold images ready (decoded and degraded off-thread).
fn refill_gold(c: &mut Collection) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else {
        return;
    };
    let wanted = s.gold_to_make(
        |id| l.gold_tex.contains_key(&id),
        l.gold_requested.len(),
        |id| {
            l.gold_requested.contains(&id)
                || l.gold_failed.contains(&id)
                || !c.catalogue.index.contains_key(&id)
        },
    );
    for (id, seed) in wanted {
        let Some(row) = c.catalogue.row(id) else {
            continue;
        };
        let path = crate::export::absolute_path(&c.root, row);
        l.gold.request(id, path, seed);
        l.gold_requested.insert(id);
    }
}

/// Schedules the next trial (an attention check at the study's rate when a gold is ready).
fn next_trial(c: &mut Collection) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    s.next_trial(|id| l.gold_tex.contains_key(&id));
    if s.trial.is_some() {
        // Full-resolution textures of the trial's images are kept (see `Event::Full`).
        c.grid.compare_ids = s.shown_ids();
    }
}

/// Records the answer to the current trial (ignored until the images are on screen) and
/// moves on.
pub fn answer(c: &mut Collection, a: Answer) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    let time = crate::store::now_utc();
    let Some(rec) = s.answer(&a, Instant::now(), &time) else {
        return;
    };
    let new = NewLabelEvent {
        uid: rec.uid,
        time: Some(time.clone()),
        rater: rec.event.rater.clone(),
        session: s.id.clone(),
        protocol: rec.event.protocol,
        payload: serde_json::to_string(&rec.event.payload).unwrap_or_default(),
    };
    l.stored.push(Stored {
        session: s.id.clone(),
        time,
        event: rec.event,
    });
    l.sent_seq += 1;
    l.unconfirmed.insert(l.sent_seq);
    c.catalogue
        .db_worker
        .send(DbCmd::Label(LabelDb::Append(l.sent_seq, vec![new])));
    request_fit(&mut c.label);
    refill_gold(c);
    next_trial(c);
}

/// Ends the session (its events are already stored).
pub fn end_session(c: &mut Collection) {
    c.label.session = None;
    c.label.tab = Tab::Setup;
    c.catalogue.db_worker.send(DbCmd::Label(LabelDb::Load));
    c.label.load_requested = true;
}

/// Keys of the labeling view (the app's culling keys are off here).
pub fn keyboard(c: &mut Collection, cmds: &mut Vec<Cmd>, ctx: &egui::Context) {
    let tab = c.label.tab;
    let esc = ctx.input(|i| i.key_pressed(Key::Escape));
    if tab != Tab::Trial {
        if esc {
            cmds.push(Cmd::ShowGrid);
        }
        return;
    }
    if esc {
        c.label.tab = Tab::Setup;
        return;
    }
    let Some(s) = c.label.session.as_ref() else {
        return;
    };
    let protocol = s.study.protocol;
    let n_shown = s.trial.as_ref().map_or(0, |t| t.shown.len());
    let mut answers = Vec::new();
    let mut toggle_zoom = false;
    let digits = [
        Key::Num1,
        Key::Num2,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
        Key::Num8,
        Key::Num9,
    ];
    ctx.input(|i| {
        if i.modifiers.command || i.modifiers.alt {
            return;
        }
        let p = |k: Key| i.key_pressed(k);
        toggle_zoom = p(Key::Z) || p(Key::F);
        match protocol {
            Protocol::Pairwise => {
                if p(Key::ArrowLeft) || p(Key::A) {
                    answers.push(Answer::Pick(0));
                } else if p(Key::ArrowRight) || p(Key::L) {
                    answers.push(Answer::Pick(1));
                } else if p(Key::ArrowDown) {
                    answers.push(Answer::Tie);
                } else if p(Key::B) {
                    answers.push(Answer::BothBad);
                }
            }
            Protocol::BestOfN => {
                if let Some(k) = digits.iter().take(n_shown).position(|&k| p(k)) {
                    answers.push(Answer::Pick(k));
                }
            }
            Protocol::Likert | Protocol::Multi => {
                if let Some(k) = digits.iter().take(5).position(|&k| p(k)) {
                    answers.push(Answer::Rating(k as f64 + 1.0));
                }
                if p(Key::Backspace) {
                    answers.push(Answer::Ratings(Vec::new()));
                }
            }
        }
    });
    if toggle_zoom {
        let ppp = ctx.pixels_per_point();
        c.grid.zoom.toggle_actual(ppp);
    }
    for a in answers {
        match (protocol, a) {
            (Protocol::Multi, Answer::Rating(r)) => {
                // Digits fill the dimensions in order; the last one submits.
                let full = c
                    .label
                    .session
                    .as_mut()
                    .and_then(|s| s.trial.as_mut())
                    .and_then(|t| t.type_rating(r));
                if let Some(v) = full {
                    answer(c, Answer::Ratings(v));
                }
            }
            (Protocol::Multi, Answer::Ratings(_)) => {
                if let Some(t) = c.label.session.as_mut().and_then(|s| s.trial.as_mut()) {
                    t.restart_typing();
                }
            }
            (_, a) => answer(c, a),
        }
    }
}

/// The labeling view: tabs, then the setup, the trial or the results.
pub fn view(cx: ViewCtx<'_>, ui: &mut egui::Ui) {
    let c = cx.coll;
    let mut back = false;
    ui.horizontal(|ui| {
        if ui.button("Back to grid").on_hover_text("Esc").clicked() {
            back = true;
        }
        ui.separator();
        let has_session = c.label.session.is_some();
        for (tab, name) in [
            (Tab::Setup, "Study setup"),
            (Tab::Trial, "Trials"),
            (Tab::Results, "Results"),
        ] {
            let enabled = tab != Tab::Trial || has_session;
            if ui
                .add_enabled(enabled, egui::Button::selectable(c.label.tab == tab, name))
                .clicked()
            {
                c.label.tab = tab;
            }
        }
        if let Some(s) = &c.label.session {
            ui.separator();
            ui.label(format!(
                "rater {} · {} answered · {} checks",
                s.rater, s.answered, s.checks
            ));
            if s.study.protocol != Protocol::Multi {
                ui.separator();
                ui.label(format!("labels so far: {}", s.labels_so_far));
                scorer_status_ui(ui, s);
            }
        }
        if !c.label.unconfirmed.is_empty() {
            ui.separator();
            ui.weak(format!("saving {}…", c.label.unconfirmed.len()));
        }
    });
    ui.separator();
    if back {
        cx.cmds.push(Cmd::ShowGrid);
        return;
    }
    match c.label.tab {
        Tab::Setup => {
            if let Err(e) = setup_ui(c, ui) {
                cx.cmds.push(Cmd::Message(e, true));
            }
        }
        Tab::Trial => trial_ui(c, ui),
        Tab::Results => super::labeling_stats::results_ui(c, ui),
    }
}

/// The scorer's state in the header: its accuracy estimate, or what it is doing.
fn scorer_status_ui(ui: &mut egui::Ui, s: &Session) {
    let st = &s.scorer;
    if let Some(f) = &st.last {
        let version = f
            .version
            .map_or_else(|| "scorer".to_string(), |v| format!("scorer v{v}"));
        let text = match &f.estimate {
            Some(e) => match e.interval {
                Some((lo, hi)) => format!(
                    "{version}: accuracy {:.3} [{lo:.3}, {hi:.3}] ({}, {} labels)",
                    e.accuracy, e.source, f.events
                ),
                None => format!(
                    "{version}: accuracy {:.3} ({}, {} labels)",
                    e.accuracy, e.source, f.events
                ),
            },
            None => format!("{version}: no estimate yet ({} labels)", f.events),
        };
        ui.label(text).on_hover_text(&f.chosen);
    }
    if st.running {
        ui.spinner();
        ui.weak("training the scorer…");
    } else if let Some(e) = &st.error {
        ui.weak("scorer: not trained").on_hover_text(e);
    } else if s.study.retrain_every > 0 {
        ui.weak(format!("retrains in {} labels", s.labels_until_retrain()));
    }
}

/// The setup tab: the study's settings, "Start session" and the earlier sessions.
fn setup_ui(c: &mut Collection, ui: &mut egui::Ui) -> Result<(), String> {
    let mut start = false;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Human evaluation");
        if !c.label.loaded {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the stored labels…");
            });
        }
        let l = &mut c.label;
        study_grid(ui, l);
        if l.study.protocol == Protocol::BestOfN {
            ui.weak("Best-of-N studies have no attention checks yet.");
        }
        ui.add_space(8.0);
        let can = l.loaded && !l.rater.trim().is_empty();
        if ui
            .add_enabled(
                can,
                egui::Button::new(RichText::new("Start session").size(16.0)),
            )
            .clicked()
        {
            start = true;
        }
        if let Some(s) = &l.session {
            ui.label(format!(
                "Session {} is open ({} answered).",
                s.id, s.answered
            ));
        }
        earlier_sessions(ui, &l.sessions);
    });
    if start {
        start_session(c)?;
    }
    Ok(())
}

/// The study's settings: rater, protocol and the protocol's parameters.
fn study_grid(ui: &mut egui::Ui, l: &mut Labeling) {
    egui::Grid::new("study")
        .num_columns(2)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.label("Rater");
            ui.horizontal(|ui| {
                let field = ui.add(
                    egui::TextEdit::singleline(&mut l.rater)
                        .hint_text("your name")
                        .desired_width(160.0),
                );
                field.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Rater name")
                });
                for r in l.raters.clone() {
                    if ui.selectable_label(l.rater == r, &r).clicked() {
                        l.rater = r;
                    }
                }
            });
            ui.end_row();
            ui.label("Protocol");
            ui.horizontal(|ui| {
                for p in Protocol::ALL {
                    ui.selectable_value(&mut l.study.protocol, p, p.label());
                }
            });
            ui.end_row();
            if l.study.protocol != Protocol::Multi {
                ui.label("Criterion");
                ui.horizontal(|ui| {
                    for (k, _) in CRITERIA {
                        ui.selectable_value(&mut l.study.criterion, (*k).to_string(), *k);
                    }
                });
                ui.end_row();
            }
            ui.label("Scope");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut l.study.scope, Scope::PromptGroup, "same prompt")
                    .on_hover_text("items meet only images of the same prompt (or folder)");
                ui.selectable_value(&mut l.study.scope, Scope::Collection, "whole collection");
            });
            ui.end_row();
            if l.study.protocol == Protocol::Pairwise {
                ui.label("Comparisons per item");
                ui.add(egui::DragValue::new(&mut l.study.comparisons_per_item).range(1..=50));
                ui.end_row();
                ui.label("\"Both bad\" answer");
                ui.checkbox(&mut l.study.both_bad, "offer it (B)");
                ui.end_row();
            }
            if l.study.protocol == Protocol::BestOfN {
                ui.label("N");
                ui.add(egui::DragValue::new(&mut l.study.best_of).range(2..=9));
                ui.end_row();
            }
            ui.label(match l.study.protocol {
                Protocol::Pairwise => "Raters per pair",
                Protocol::BestOfN => "Raters per set",
                _ => "Raters per item",
            });
            ui.add(egui::DragValue::new(&mut l.study.raters_per_pair).range(1..=20))
                .on_hover_text("at least 3 for agreement statistics");
            ui.end_row();
            ui.label("Attention checks");
            ui.add(
                egui::Slider::new(&mut l.study.attention_rate, 0.0..=0.5)
                    .custom_formatter(|v, _| format!("{:.0} %", v * 100.0)),
            )
            .on_hover_text(
                "share of trials showing an image against a heavily degraded copy of itself",
            );
            ui.end_row();
            if l.study.protocol != Protocol::Multi {
                ui.label("Retrain the scorer every");
                ui.horizontal(|ui| {
                    ui.add(egui::DragValue::new(&mut l.study.retrain_every).range(0..=10_000));
                    ui.label("labels (0 = never)");
                })
                .response
                .on_hover_text(
                    "in the background, as `assay train` does: a new active version of the preference scorer; pairwise trials then ask about the pairs it is least sure of",
                );
                ui.end_row();
            }
        });
}

/// The latest earlier sessions (rater, protocol, events, start).
fn earlier_sessions(ui: &mut egui::Ui, sessions: &[SessionSummary]) {
    if !sessions.is_empty() {
        ui.add_space(12.0);
        ui.label(RichText::new("Earlier sessions").strong());
        egui::Grid::new("sessions").striped(true).show(ui, |ui| {
            for s in sessions.iter().rev().take(20) {
                ui.label(&s.rater);
                ui.label(s.protocol.as_str());
                ui.label(format!("{} events", s.events));
                ui.weak(&s.first);
                ui.end_row();
            }
        });
    }
}

/// Draws one shown item into `rect`: the full-resolution texture (the thumbnail meanwhile),
/// or the gold image. Returns whether the full-resolution image was on screen.
fn shown_ui(
    c: &mut Collection,
    ui: &mut egui::Ui,
    rect: Rect,
    x: Shown,
    salt: usize,
    max_side: usize,
) -> bool {
    let Some(s) = c.label.session.as_ref() else {
        return false;
    };
    let id = s.ids[x.item()];
    let Some(row) = c.row(id) else { return false };
    let img = Vec2::new(
        row.width.unwrap_or(1).max(1) as f32,
        row.height.unwrap_or(1).max(1) as f32,
    );
    let (tex, ready) = match x {
        Shown::Image(_) => match c.full(id, max_side) {
            Some((t, _)) => (Some(t), true),
            None => (c.caches.textures.get(id), c.full_error(id).is_some()),
        },
        Shown::Degraded(_) => (c.label.gold_tex.get(&id).map(egui::TextureHandle::id), true),
    };
    zoom::show(
        ui,
        rect,
        egui::Id::unique(("label-zoom", salt)),
        tex,
        img,
        &mut c.grid.zoom,
    );
    ready
}

/// The trials tab: the question, the trial's images and the answer buttons (or the end).
fn trial_ui(c: &mut Collection, ui: &mut egui::Ui) {
    let Some(s) = c.label.session.as_ref() else {
        c.label.tab = Tab::Setup;
        return;
    };
    if s.complete || s.trial.is_none() {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.3);
            ui.heading("Study complete for this rater");
            ui.label(format!(
                "{} answers in this session. Every eligible comparison has its raters.",
                s.answered
            ));
        });
        if ui.button("End session").clicked() {
            end_session(c);
        }
        return;
    }
    let protocol = s.study.protocol;
    trial_header(ui, c, s);
    let Some(t) = s.trial.clone() else { return };
    let area = ui.available_rect_before_wrap();
    let foot = 40.0;
    let body = Rect::from_min_max(area.min, egui::pos2(area.max.x, area.max.y - foot));
    let ready = trial_images(c, ui, body, &t.shown, protocol);
    if ready
        && let Some(tr) = c.label.session.as_mut().and_then(|s| s.trial.as_mut())
        && tr.started.is_none()
    {
        tr.started = Some(Instant::now());
    }
    if !ready {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(50));
    }
    let foot_rect = Rect::from_min_max(egui::pos2(area.min.x, body.max.y), area.max);
    let mut foot_ui = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(foot_rect)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    foot_buttons(c, &mut foot_ui, protocol, &t, ready);
    ui.allocate_rect(area, egui::Sense::hover());
}

/// The trial's question, the prompt (when there is one) and the keys.
fn trial_header(ui: &mut egui::Ui, c: &Collection, s: &Session) {
    let protocol = s.study.protocol;
    let question = match protocol {
        Protocol::Multi => "Rate fidelity, prompt alignment and aesthetics separately".to_string(),
        _ => CRITERIA
            .iter()
            .find(|(k, _)| *k == s.study.criterion)
            .map_or_else(|| s.study.criterion.clone(), |(_, q)| (*q).to_string()),
    };
    let prompt = s
        .trial
        .as_ref()
        .and_then(|t| t.shown.first())
        .and_then(|x| c.row(s.ids[x.item()]))
        .and_then(|r| r.positive.clone());
    let keys = match protocol {
        Protocol::Pairwise if s.study.both_bad => {
            "Left / A: left · Right / L: right · Down: tie, can't tell · B: both bad · Z: full size"
        }
        Protocol::Pairwise => {
            "Left / A: left · Right / L: right · Down: tie, can't tell · Z: full size"
        }
        Protocol::Likert => "1 (very poor) – 5 (excellent) · Z: full size",
        Protocol::BestOfN => "1–N: the best image · Z: full size",
        Protocol::Multi => {
            "type three digits 1–5: fidelity, alignment, aesthetics · Backspace: restart"
        }
    };
    ui.vertical_centered(|ui| {
        ui.label(RichText::new(&question).size(20.0).strong());
        if let Some(p) = &prompt {
            ui.label(RichText::new(super::views::truncate(p, 240)).weak());
        }
        ui.weak(keys);
    });
}

/// Lays the shown items out in a grid over `body`, each with its position tag; returns
/// whether every full-resolution image was on screen.
fn trial_images(
    c: &mut Collection,
    ui: &mut egui::Ui,
    body: Rect,
    shown: &[Shown],
    protocol: Protocol,
) -> bool {
    let n = shown.len();
    let (cols, rows) = match n {
        0..=3 => (n.max(1), 1),
        4 => (2, 2),
        5..=6 => (3, 2),
        _ => (3, 3),
    };
    let w = body.width() / cols as f32;
    let h = body.height() / rows as f32;
    let max_side = ui.ctx().input(|i| i.max_texture_side).min(8192);
    let mut ready = true;
    for (k, x) in shown.iter().enumerate() {
        let cell = Rect::from_min_size(
            body.min + Vec2::new((k % cols) as f32 * w, (k / cols) as f32 * h),
            Vec2::new(w, h),
        )
        .shrink(4.0);
        ready &= shown_ui(c, ui, cell, *x, k, max_side);
        let tag = match (protocol, k) {
            (Protocol::Pairwise, 0) => "Left".to_string(),
            (Protocol::Pairwise, _) => "Right".to_string(),
            (Protocol::BestOfN, _) => format!("{}", k + 1),
            _ => String::new(),
        };
        if !tag.is_empty() {
            ui.painter().text(
                cell.left_top() + Vec2::new(8.0, 6.0),
                Align2::LEFT_TOP,
                tag,
                FontId::proportional(16.0),
                theme::TRIAL_TAG,
            );
        }
    }
    ready
}

/// The answer buttons of the protocol, the trial's reason and "End session".
fn foot_buttons(c: &mut Collection, ui: &mut egui::Ui, protocol: Protocol, t: &Trial, ready: bool) {
    let mut chosen = None;
    ui.add_enabled_ui(ready, |ui| match protocol {
        Protocol::Pairwise => {
            if ui.button("Left is better").clicked() {
                chosen = Some(Answer::Pick(0));
            }
            if ui.button("Tie / can't tell").clicked() {
                chosen = Some(Answer::Tie);
            }
            if c.label.session.as_ref().is_some_and(|s| s.study.both_bad)
                && ui.button("Both bad").clicked()
            {
                chosen = Some(Answer::BothBad);
            }
            if ui.button("Right is better").clicked() {
                chosen = Some(Answer::Pick(1));
            }
        }
        Protocol::BestOfN => {
            for k in 0..t.shown.len() {
                if ui.button(format!("Best: {}", k + 1)).clicked() {
                    chosen = Some(Answer::Pick(k));
                }
            }
        }
        Protocol::Likert => {
            for (r, what) in [
                (1, "very poor"),
                (2, "poor"),
                (3, "fair"),
                (4, "good"),
                (5, "excellent"),
            ] {
                if ui.button(format!("{r} {what}")).clicked() {
                    chosen = Some(Answer::Rating(f64::from(r)));
                }
            }
        }
        Protocol::Multi => {
            let Some(tr) = c.label.session.as_mut().and_then(|s| s.trial.as_mut()) else {
                return;
            };
            for (d, v) in DIMENSIONS.iter().zip(tr.ratings.iter_mut()) {
                ui.label(*d);
                ui.add(egui::Slider::new(v, 1.0..=5.0).step_by(1.0));
            }
            if ui.button("Submit").clicked() {
                chosen = Some(Answer::Ratings(tr.ratings.clone()));
            }
        }
    });
    ui.separator();
    if let Some(s) = &c.label.session {
        ui.weak(format!("{} · {}", t.why, s.study.protocol.label()));
    }
    if ui.button("End session").clicked() {
        end_session(c);
        return;
    }
    if let Some(a) = chosen {
        answer(c, a);
    }
}
