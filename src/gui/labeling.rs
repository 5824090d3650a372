//! Human evaluation in the workbench: study setup (rater, protocol, criterion, scope,
//! comparisons per item, raters per pair, attention-check rate), the trial screens (pairwise
//! with randomised sides, Likert 1–5, best-of-N, multi-dimensional) and the results
//! (`labeling_stats.rs`).
//!
//! Every answer becomes one append-only label event (rater, session, protocol, criterion,
//! items in scheduled order and in on-screen order, answer, response time, attention-check
//! flag), sent at once to the database worker. Scheduling is `human::schedule` (pure); the
//! Bradley–Terry scores it uses, the degraded gold images and the statistics are computed on
//! background threads (`labeling_jobs.rs`). The screens are blind: no file names or signals.
//!
//! The flywheel: a session starts by fitting the preference scorer on the labels so far (for
//! scheduling only), and every `retrain_every` new labels (a study setting, 25 by default)
//! retrains it in the background exactly as `assay train` does — a new stored, active version,
//! so the grid's `learned_preference` follows. After coverage, pairwise trials are the pairs
//! that scorer is least sure about (`PairScheduler::set_model`). The header shows the labels
//! so far and the current cross-validated accuracy estimate.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use eframe::egui::{self, Align2, Color32, FontId, Key, Rect, RichText, Vec2};

use super::labeling_jobs::{
    GoldMaker, LabelDb, LabelMsg, ScorerFit, StatsReq, StatsWorker, Stored, scorer_job,
};
use super::{App, Collection, ViewMode, jobs::DbCmd, jobs::Outbox, zoom};
use crate::human::schedule::{PairScheduler, ScheduleConfig, next_set, next_single};
use crate::human::{self, Payload, attention, report::DIMENSIONS};
use crate::ranking::rng::Rng;
use crate::store::{NewLabelEvent, SessionSummary};

/// Evaluation protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Pairwise,
    Likert,
    BestOfN,
    Multi,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [
        Protocol::Pairwise,
        Protocol::Likert,
        Protocol::BestOfN,
        Protocol::Multi,
    ];
    /// The name stored in `label_events.protocol`.
    pub fn key(self) -> &'static str {
        match self {
            Protocol::Pairwise => "pairwise",
            Protocol::Likert => "likert",
            Protocol::BestOfN => "best_of_n",
            Protocol::Multi => "multi",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Pairwise => "Pairwise (A vs B)",
            Protocol::Likert => "Likert (1–5)",
            Protocol::BestOfN => "Best of N",
            Protocol::Multi => "Multi-dimensional",
        }
    }
}

/// Criteria a study can ask about.
pub const CRITERIA: &[(&str, &str)] = &[
    ("overall", "Which image is better overall?"),
    ("fidelity", "Which image has fewer defects and artefacts?"),
    ("alignment", "Which image matches the prompt better?"),
    ("aesthetics", "Which image is more beautiful?"),
];

/// Which items may meet in a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Same prompt (or, without metadata, same folder).
    PromptGroup,
    Collection,
}

/// A study's settings (chosen in the setup tab).
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    pub protocol: Protocol,
    pub criterion: String,
    pub scope: Scope,
    pub comparisons_per_item: usize,
    /// Distinct raters per pair (per item for Likert / multi, per set for best-of-N).
    pub raters_per_pair: usize,
    /// Share of trials that are attention checks (0–0.5).
    pub attention_rate: f64,
    /// Offer "both bad" in pairwise trials.
    pub both_bad: bool,
    /// N of best-of-N (2–9).
    pub best_of: usize,
    pub seed: u64,
    /// Retrain (and store, and activate) the preference scorer every this many new labels
    /// (0 = never).
    pub retrain_every: usize,
}

impl Default for Study {
    fn default() -> Self {
        Self {
            protocol: Protocol::Pairwise,
            criterion: "overall".into(),
            scope: Scope::PromptGroup,
            comparisons_per_item: 4,
            raters_per_pair: 3,
            attention_rate: 0.1,
            both_bad: true,
            best_of: 4,
            seed: 0,
            retrain_every: 25,
        }
    }
}

/// Tabs of the labeling view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Setup,
    Trial,
    Results,
}

/// Something shown in a trial: a session item, or the degraded copy of one (gold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Image(usize),
    Degraded(usize),
}

impl Shown {
    pub fn item(self) -> usize {
        match self {
            Shown::Image(k) | Shown::Degraded(k) => k,
        }
    }
}

/// One trial on screen.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Scheduled order (stored as `items`).
    pub items: Vec<Shown>,
    /// On-screen order, left to right (stored as `order`).
    pub shown: Vec<Shown>,
    pub attention: bool,
    pub why: &'static str,
    /// When every image was on screen at full resolution (response time starts).
    pub started: Option<Instant>,
    /// Multi-dimensional ratings (sliders start in the middle) and how many were typed.
    pub ratings: Vec<f64>,
    pub typed: usize,
}

/// A rater's session: its id is recorded on every event.
pub struct Session {
    pub id: String,
    pub rater: String,
    pub study: Study,
    /// Image ids of the session's items (readable images, by path).
    pub ids: Vec<i64>,
    pub paths: Vec<String>,
    hashes: Vec<String>,
    groups: Vec<u32>,
    sched: PairScheduler,
    singles: Vec<BTreeSet<String>>,
    set_shown: Vec<usize>,
    seen_sets: HashSet<Vec<usize>>,
    rng: Rng,
    theta: Option<Vec<f64>>,
    fit_generation: u64,
    theta_generation: u64,
    pub trial: Option<Trial>,
    /// Answers given in this session (checks included) and checks among them.
    pub answered: usize,
    pub checks: usize,
    pub complete: bool,
    last_was_check: bool,
    /// Labels of the study's criterion in the collection (every rater; checks excluded).
    pub labels_so_far: usize,
    /// `labels_so_far` when the scorer was last fitted.
    labels_at_fit: usize,
    scorer_generation: u64,
    pub scorer: ScorerStatus,
}

/// The preference scorer as the labeling session sees it.
#[derive(Debug, Clone, Default)]
pub struct ScorerStatus {
    /// A fit is running in the background.
    pub running: bool,
    pub last: Option<ScorerFit>,
    pub error: Option<String>,
}

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
    report_generation: u64,
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
            report_generation: 0,
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
        self.report_generation += 1;
        self.report_requested_for = self.stored.len();
        let opts = human::report::ReportOptions {
            threshold: self.threshold,
            include_unreliable: self.include_unreliable,
            ..Default::default()
        };
        self.stats.send(StatsReq::Report {
            generation: self.report_generation,
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
        c.db_worker.send(DbCmd::Label(LabelDb::Load));
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
            if generation != s.scorer_generation {
                return None;
            }
            s.scorer.running = false;
            match r {
                Ok((fit, model)) => {
                    if s.study.protocol == Protocol::Pairwise {
                        s.sched.set_model(model);
                    }
                    let stored = fit.version.is_some();
                    s.scorer.last = Some(fit);
                    s.scorer.error = None;
                    if stored {
                        // learned_preference values changed.
                        c.reload();
                    }
                }
                Err(e) => s.scorer.error = Some(e),
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
            if let Some(s) = l.session.as_mut()
                && generation > s.theta_generation
                && generation <= s.fit_generation
            {
                s.theta = Some(theta);
                s.theta_generation = generation;
            }
        }
        LabelMsg::Report(generation, r) => {
            if generation == l.report_generation {
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

/// Starts a session for the rater named in the setup tab.
pub fn start_session(c: &mut Collection) -> Result<(), String> {
    let rater = c.label.rater.trim().to_string();
    if rater.is_empty() {
        return Err("type or pick a rater name first".into());
    }
    if !c.label.loaded {
        return Err("the stored labels are still loading".into());
    }
    let mut rows: Vec<&crate::store::ImageRow> = c
        .rows
        .iter()
        .map(|r| &**r)
        .filter(|r| r.error.is_none() && r.hash.is_some())
        .collect();
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    if rows.len() < 2 {
        return Err("labeling needs at least two readable images".into());
    }
    let study = c.label.study.clone();
    let mut group_ids: HashMap<String, u32> = HashMap::new();
    let groups: Vec<u32> = rows
        .iter()
        .map(|r| {
            let n = group_ids.len() as u32;
            *group_ids.entry(group_key(r)).or_insert(n)
        })
        .collect();
    let within = study.scope == Scope::PromptGroup;
    let cfg = ScheduleConfig {
        comparisons_per_item: study.comparisons_per_item,
        raters_per_pair: study.raters_per_pair.max(1),
    };
    let seed = if study.seed == 0 {
        now_seed()
    } else {
        study.seed
    };
    let time = crate::store::now_utc();
    let id = format!(
        "{rater}@{time}#{:04x}",
        Rng::new(seed ^ 0x5e55).next_u64() & 0xffff
    );
    let mut s = Session {
        id,
        rater: rater.clone(),
        ids: rows.iter().map(|r| r.id).collect(),
        paths: rows.iter().map(|r| r.path.clone()).collect(),
        hashes: rows
            .iter()
            .map(|r| r.hash.clone().unwrap_or_default())
            .collect(),
        sched: PairScheduler::new(&groups, within, cfg),
        singles: vec![BTreeSet::new(); rows.len()],
        set_shown: vec![0; rows.len()],
        seen_sets: HashSet::new(),
        groups: if within { groups } else { vec![0; rows.len()] },
        rng: Rng::new(seed),
        theta: None,
        fit_generation: 0,
        theta_generation: 0,
        trial: None,
        answered: 0,
        checks: 0,
        complete: false,
        last_was_check: false,
        labels_so_far: 0,
        labels_at_fit: 0,
        scorer_generation: 0,
        scorer: ScorerStatus::default(),
        study,
    };
    replay_history(&mut s, &c.label.stored);
    s.labels_so_far = c
        .label
        .stored
        .iter()
        .filter(|st| counts_for_scorer(&s.study, &st.event))
        .count();
    c.db_worker
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
    c.zoom = super::ZoomPan::default();
    Ok(())
}

/// Feeds the stored events of the study's protocol and criterion into the scheduler.
fn replay_history(s: &mut Session, stored: &[Stored]) {
    let index: HashMap<&str, usize> = s
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let protocol = s.study.protocol.key();
    for st in stored {
        let e = &st.event;
        if e.protocol != protocol
            || e.payload.attention_check
            || (protocol != "multi" && e.payload.criterion != s.study.criterion)
        {
            continue;
        }
        let ix: Vec<usize> = e
            .payload
            .items
            .iter()
            .filter_map(|p| index.get(p.as_str()).copied())
            .collect();
        match (protocol, ix.as_slice()) {
            ("pairwise", [a, b]) => s.sched.record(*a, *b, &e.rater),
            ("likert" | "multi", [a]) => {
                s.singles[*a].insert(e.rater.clone());
            }
            ("best_of_n", set) if !set.is_empty() => {
                for &i in set {
                    s.set_shown[i] += 1;
                }
                if e.rater == s.rater {
                    let mut v = set.to_vec();
                    v.sort_unstable();
                    s.seen_sets.insert(v);
                }
            }
            _ => {}
        }
    }
}

/// Whether an event is a label the preference scorer of this study learns from.
fn counts_for_scorer(study: &Study, e: &human::Event) -> bool {
    !e.payload.attention_check
        && matches!(e.protocol.as_str(), "pairwise" | "best_of_n" | "likert")
        && e.payload.criterion == study.criterion
}

/// Fits the preference scorer in the background (`store`: as a new active version, else for
/// scheduling only).
fn request_scorer_fit(c: &mut Collection, store: bool) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    if s.scorer.running || s.study.protocol == Protocol::Multi {
        return;
    }
    s.scorer.running = true;
    s.scorer_generation += 1;
    s.labels_at_fit = s.labels_so_far;
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
        s.scorer_generation,
        l.out.clone(),
    );
}

/// Retrains when `retrain_every` labels arrived since the last fit (and none is running).
fn maybe_retrain(c: &mut Collection) {
    let due = c.label.session.as_ref().is_some_and(|s| {
        s.study.retrain_every > 0
            && !s.scorer.running
            && s.labels_so_far >= s.labels_at_fit + s.study.retrain_every
    });
    if due && c.label.unconfirmed.is_empty() {
        request_scorer_fit(c, true);
    }
}

fn request_fit(l: &mut Labeling) {
    let Some(s) = l.session.as_mut() else { return };
    if !matches!(s.study.protocol, Protocol::Pairwise | Protocol::BestOfN) {
        return;
    }
    s.fit_generation += 1;
    l.stats.send(StatsReq::Fit {
        generation: s.fit_generation,
        events: l.stored.iter().map(|st| st.event.clone()).collect(),
        criterion: s.study.criterion.clone(),
        items: s.paths.clone(),
    });
}

/// Keeps a few gold images ready (decoded and degraded off-thread).
fn refill_gold(c: &mut Collection) {
    let Some(s) = c.label.session.as_mut() else {
        return;
    };
    if s.study.attention_rate <= 0.0 || s.study.protocol == Protocol::BestOfN {
        return;
    }
    let ready = s
        .ids
        .iter()
        .filter(|id| c.label.gold_tex.contains_key(id))
        .count();
    let mut want = 3usize.saturating_sub(ready + c.label.gold_requested.len());
    let mut tries = 0;
    while want > 0 && tries < 20 {
        tries += 1;
        let k = s.rng.below(s.ids.len());
        let id = s.ids[k];
        if c.label.gold_tex.contains_key(&id)
            || c.label.gold_requested.contains(&id)
            || c.label.gold_failed.contains(&id)
        {
            continue;
        }
        let Some(row) = c.index.get(&id).map(|&i| &c.rows[i]) else {
            continue;
        };
        let path = crate::export::absolute_path(&c.root, row);
        c.label.gold.request(id, path, s.rng.next_u64());
        c.label.gold_requested.insert(id);
        want -= 1;
    }
}

fn shuffle(v: &mut [Shown], rng: &mut Rng) {
    for k in (1..v.len()).rev() {
        v.swap(k, rng.below(k + 1));
    }
}

/// Schedules the next trial (an attention check at the study's rate when a gold is ready).
fn next_trial(c: &mut Collection) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    s.trial = None;
    let check_due = s.study.attention_rate > 0.0
        && !s.last_was_check
        && s.study.protocol != Protocol::BestOfN
        && s.rng.next_f64() < s.study.attention_rate;
    let gold: Vec<usize> = (0..s.ids.len())
        .filter(|&k| l.gold_tex.contains_key(&s.ids[k]))
        .collect();
    let (items, attention, why) = if check_due && !gold.is_empty() {
        let k = gold[s.rng.below(gold.len())];
        let items = match s.study.protocol {
            Protocol::Pairwise => vec![Shown::Image(k), Shown::Degraded(k)],
            _ => vec![Shown::Degraded(k)],
        };
        (items, true, "attention check")
    } else {
        let rater = s.rater.clone();
        let picked = match s.study.protocol {
            Protocol::Pairwise => s
                .sched
                .next(&rater, s.theta.as_deref(), &mut s.rng)
                .map(|p| (vec![p.a, p.b], p.why.label())),
            Protocol::Likert | Protocol::Multi => next_single(
                &s.singles,
                &rater,
                s.study.raters_per_pair.max(1),
                &mut s.rng,
            )
            .map(|i| (vec![i], "fewest ratings")),
            Protocol::BestOfN => next_set(
                &s.groups,
                &s.set_shown,
                &s.seen_sets,
                s.study.best_of.clamp(2, 9),
                &mut s.rng,
            )
            .map(|v| (v, "fewest appearances")),
        };
        let Some((ix, why)) = picked else {
            s.complete = true;
            return;
        };
        (ix.into_iter().map(Shown::Image).collect(), false, why)
    };
    let mut shown = items.clone();
    shuffle(&mut shown, &mut s.rng);
    s.last_was_check = attention;
    // Full-resolution textures of the trial's images are kept (see `Event::Full`).
    c.compare_ids = shown.iter().map(|x| s.ids[x.item()]).collect();
    s.trial = Some(Trial {
        items,
        shown,
        attention,
        why,
        started: None,
        ratings: vec![3.0; DIMENSIONS.len()],
        typed: 0,
    });
}

/// A rater's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The image at this on-screen position.
    Pick(usize),
    Tie,
    BothBad,
    Rating(f64),
    Ratings(Vec<f64>),
}

/// Records the answer to the current trial (ignored until the images are on screen) and
/// moves on.
pub fn answer(c: &mut Collection, a: Answer) {
    let l = &mut c.label;
    let Some(s) = l.session.as_mut() else { return };
    let Some(t) = s.trial.as_ref() else { return };
    let Some(started) = t.started else { return };
    let name = |x: &Shown| match *x {
        Shown::Image(k) => s.paths[k].clone(),
        Shown::Degraded(k) => attention::degraded_name(&s.paths[k]),
    };
    let hash = |x: &Shown| match *x {
        Shown::Image(k) => s.hashes[k].clone(),
        Shown::Degraded(k) => attention::degraded_name(&s.hashes[k]),
    };
    let protocol = s.study.protocol;
    let (choice, rating, ratings) = match (&a, protocol) {
        (Answer::Pick(i), Protocol::Pairwise | Protocol::BestOfN) => {
            let Some(x) = t.shown.get(*i) else { return };
            (Some(name(x)), None, None)
        }
        (Answer::Tie, Protocol::Pairwise) => (Some("tie".to_string()), None, None),
        (Answer::BothBad, Protocol::Pairwise) if s.study.both_bad => {
            (Some("both_bad".to_string()), None, None)
        }
        (Answer::Rating(r), Protocol::Likert) => (None, Some(*r), None),
        (Answer::Ratings(v), Protocol::Multi) if v.len() == DIMENSIONS.len() => {
            let m: BTreeMap<String, f64> = DIMENSIONS
                .iter()
                .map(|d| (*d).to_string())
                .zip(v.iter().copied())
                .collect();
            (None, None, Some(m))
        }
        _ => return,
    };
    let payload = Payload {
        criterion: if protocol == Protocol::Multi {
            "multi".to_string()
        } else {
            s.study.criterion.clone()
        },
        items: t.items.iter().map(name).collect(),
        hashes: t.items.iter().map(hash).collect(),
        order: t.shown.iter().map(name).collect(),
        choice,
        rating,
        ratings,
        response_ms: Some(started.elapsed().as_millis() as u64),
        attention_check: t.attention,
    };
    let time = crate::store::now_utc();
    let uid = human::event_uid(protocol.key(), &s.rater, &s.id, Some(&time), &payload);
    let new = NewLabelEvent {
        uid,
        time: Some(time.clone()),
        rater: s.rater.clone(),
        session: s.id.clone(),
        protocol: protocol.key().to_string(),
        payload: serde_json::to_string(&payload).unwrap_or_default(),
    };
    // The scheduler learns at once (the store confirms later).
    if !t.attention {
        let ix: Vec<usize> = t.items.iter().map(|x| x.item()).collect();
        match (protocol, ix.as_slice()) {
            (Protocol::Pairwise, [a, b]) => s.sched.record(*a, *b, &s.rater),
            (Protocol::Likert | Protocol::Multi, [a]) => {
                s.singles[*a].insert(s.rater.clone());
            }
            (Protocol::BestOfN, set) => {
                for &i in set {
                    s.set_shown[i] += 1;
                }
                let mut v = set.to_vec();
                v.sort_unstable();
                s.seen_sets.insert(v);
            }
            _ => {}
        }
        if protocol != Protocol::Multi && payload.criterion == s.study.criterion {
            s.labels_so_far += 1;
        }
    } else {
        s.checks += 1;
    }
    s.answered += 1;
    l.stored.push(Stored {
        session: s.id.clone(),
        time,
        event: human::Event {
            rater: s.rater.clone(),
            protocol: protocol.key().to_string(),
            payload,
        },
    });
    l.sent_seq += 1;
    l.unconfirmed.insert(l.sent_seq);
    c.db_worker
        .send(DbCmd::Label(LabelDb::Append(l.sent_seq, vec![new])));
    request_fit(&mut c.label);
    refill_gold(c);
    next_trial(c);
}

/// Ends the session (its events are already stored).
pub fn end_session(c: &mut Collection) {
    c.label.session = None;
    c.label.tab = Tab::Setup;
    c.db_worker.send(DbCmd::Label(LabelDb::Load));
    c.label.load_requested = true;
}

/// Keys of the labeling view (the app's culling keys are off here).
pub fn keyboard(app: &mut App, ctx: &egui::Context) {
    let Some(c) = app.coll.as_mut() else { return };
    let tab = c.label.tab;
    let esc = ctx.input(|i| i.key_pressed(Key::Escape));
    if tab != Tab::Trial {
        if esc {
            app.mode = ViewMode::Grid;
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
        c.zoom.toggle_actual(ppp);
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
                    .map(|t| {
                        if let Some(v) = t.ratings.get_mut(t.typed) {
                            *v = r;
                        }
                        t.typed += 1;
                        (t.typed >= DIMENSIONS.len()).then(|| t.ratings.clone())
                    });
                if let Some(Some(v)) = full {
                    answer(c, Answer::Ratings(v));
                }
            }
            (Protocol::Multi, Answer::Ratings(_)) => {
                if let Some(t) = c.label.session.as_mut().and_then(|s| s.trial.as_mut()) {
                    t.typed = 0;
                }
            }
            (_, a) => answer(c, a),
        }
    }
}

/// The labeling view: tabs, then the setup, the trial or the results.
pub fn view(app: &mut App, ui: &mut egui::Ui) {
    let Some(c) = app.coll.as_mut() else { return };
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
        app.mode = ViewMode::Grid;
        return;
    }
    match c.label.tab {
        Tab::Setup => {
            if let Err(e) = setup_ui(c, ui) {
                app.message = Some((e, true));
            }
        }
        Tab::Trial => trial_ui(app, ui),
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
        let next = (s.labels_at_fit + s.study.retrain_every).saturating_sub(s.labels_so_far);
        ui.weak(format!("retrains in {next} labels"));
    }
}

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
        if !l.sessions.is_empty() {
            ui.add_space(12.0);
            ui.label(RichText::new("Earlier sessions").strong());
            egui::Grid::new("sessions").striped(true).show(ui, |ui| {
                for s in l.sessions.iter().rev().take(20) {
                    ui.label(&s.rater);
                    ui.label(&s.protocol);
                    ui.label(format!("{} events", s.events));
                    ui.weak(&s.first);
                    ui.end_row();
                }
            });
        }
    });
    if start {
        start_session(c)?;
    }
    Ok(())
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
            None => (c.textures.get(id), c.full_error(id).is_some()),
        },
        Shown::Degraded(_) => (c.label.gold_tex.get(&id).map(egui::TextureHandle::id), true),
    };
    zoom::show(
        ui,
        rect,
        egui::Id::unique(("label-zoom", salt)),
        tex,
        img,
        &mut c.zoom,
    );
    ready
}

fn trial_ui(app: &mut App, ui: &mut egui::Ui) {
    let Some(c) = app.coll.as_mut() else { return };
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
    let Some(t) = s.trial.clone() else { return };
    let area = ui.available_rect_before_wrap();
    let foot = 40.0;
    let body = Rect::from_min_max(area.min, egui::pos2(area.max.x, area.max.y - foot));
    let n = t.shown.len();
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
    for (k, x) in t.shown.iter().enumerate() {
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
                Color32::from_gray(230),
            );
        }
    }
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
