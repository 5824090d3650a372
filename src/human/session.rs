//! A rater's labeling session as a pure state machine: the study settings, the session's
//! items, the trial sequence (scheduled pairs, single items or best-of-N sets from
//! [`super::schedule`], attention checks with degraded gold copies at the study's rate, never
//! two in a row, sides shuffled), recording an answer as a label event (the scheduler learns
//! at once; checks are counted apart and never feed the scheduler or the label count), the
//! multi-dimensional digit entry, and the bookkeeping of the background work the front end
//! runs for it (Bradley–Terry fit generations, preference-scorer fits and the flywheel's
//! "retrain every N labels", which gold images to make next).
//!
//! No clock, no I/O: the caller passes the seed, the session's start time, the answer's
//! time and the instant it arrived; the GUI (`gui::labeling`) lays out, paints, sends events
//! to the store and runs the workers. `F` is the front end's summary of a scorer fit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use super::report::DIMENSIONS;
use super::schedule::{PairModel, PairScheduler, ScheduleConfig, next_set, next_single};
use super::{Criterion, Event, Payload, attention};
use crate::ranking::rng::Rng;

/// Evaluation protocols (the domain type, re-exported where the session has always named it).
pub use crate::domain::Protocol;

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

impl Study {
    /// Whether an event is a label the preference scorer of this study learns from.
    pub fn counts_for_scorer(&self, e: &Event) -> bool {
        !e.payload.attention_check
            && matches!(
                e.protocol,
                Protocol::Pairwise | Protocol::BestOfN | Protocol::Likert
            )
            && e.payload.criterion == self.criterion
    }

    /// Whether the study shows attention checks (and so needs gold images).
    pub fn has_checks(&self) -> bool {
        self.attention_rate > 0.0 && self.protocol != Protocol::BestOfN
    }
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

impl Trial {
    /// A typed digit fills the next dimension; returns the ratings once the last is typed.
    pub fn type_rating(&mut self, r: f64) -> Option<Vec<f64>> {
        if let Some(v) = self.ratings.get_mut(self.typed) {
            *v = r;
        }
        self.typed += 1;
        (self.typed >= DIMENSIONS.len()).then(|| self.ratings.clone())
    }

    /// Typing starts again at the first dimension.
    pub fn restart_typing(&mut self) {
        self.typed = 0;
    }
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

/// One item of a session (readable images, by path).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Image id.
    pub id: i64,
    pub path: String,
    /// Content hash.
    pub hash: String,
    /// Items of the same key form a group (same prompt, or same folder).
    pub group: String,
}

/// The preference scorer as the labeling session sees it (`F`: a fit's summary).
#[derive(Debug, Clone)]
pub struct ScorerStatus<F> {
    /// A fit is running in the background.
    pub running: bool,
    pub last: Option<F>,
    pub error: Option<String>,
}

impl<F> Default for ScorerStatus<F> {
    fn default() -> Self {
        Self {
            running: false,
            last: None,
            error: None,
        }
    }
}

/// An answer recorded as a label event.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The event's content id ([`super::event_uid`]).
    pub uid: String,
    pub event: Event,
}

/// An answer's `(choice, rating, ratings)` in the event's payload.
type AnswerFields = (Option<String>, Option<f64>, Option<BTreeMap<String, f64>>);

/// Gold images wanted ready or in flight at any time.
const GOLD_WANTED: usize = 3;
/// Random draws per [`Session::gold_to_make`] call.
const GOLD_TRIES: usize = 20;

/// A rater's session: its id is recorded on every event.
pub struct Session<F> {
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
    pub scorer: ScorerStatus<F>,
}

impl<F> Session<F> {
    /// A session of `rater` over `items` (in session order), its randomness from `seed`,
    /// started at `time` (both part of its id).
    pub fn new(rater: String, study: Study, items: &[Item], seed: u64, time: &str) -> Self {
        let mut group_ids: HashMap<&str, u32> = HashMap::new();
        let groups: Vec<u32> = items
            .iter()
            .map(|it| {
                let n = group_ids.len() as u32;
                *group_ids.entry(it.group.as_str()).or_insert(n)
            })
            .collect();
        let within = study.scope == Scope::PromptGroup;
        let cfg = ScheduleConfig {
            comparisons_per_item: study.comparisons_per_item,
            raters_per_pair: study.raters_per_pair.max(1),
        };
        let id = format!(
            "{rater}@{time}#{:04x}",
            Rng::new(seed ^ 0x5e55).next_u64() & 0xffff
        );
        let n = items.len();
        Self {
            id,
            rater,
            ids: items.iter().map(|it| it.id).collect(),
            paths: items.iter().map(|it| it.path.clone()).collect(),
            hashes: items.iter().map(|it| it.hash.clone()).collect(),
            sched: PairScheduler::new(&groups, within, cfg),
            singles: vec![BTreeSet::new(); n],
            set_shown: vec![0; n],
            seen_sets: HashSet::new(),
            groups: if within { groups } else { vec![0; n] },
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
        }
    }

    /// Feeds the stored events of the study's protocol and criterion into the scheduler and
    /// counts the labels the scorer learns from.
    pub fn replay<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        let index: HashMap<String, usize> = self
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        let protocol = self.study.protocol;
        let mut labels = 0;
        for e in events {
            if self.study.counts_for_scorer(e) {
                labels += 1;
            }
            if e.protocol != protocol
                || e.payload.attention_check
                || (protocol != Protocol::Multi && e.payload.criterion != self.study.criterion)
            {
                continue;
            }
            let ix: Vec<usize> = e
                .payload
                .items
                .iter()
                .filter_map(|p| index.get(p.as_str()).copied())
                .collect();
            self.replay_one(protocol, &ix, &e.rater);
        }
        self.labels_so_far = labels;
    }

    /// One stored judgement of `rater` over session items `ix`.
    fn replay_one(&mut self, protocol: Protocol, ix: &[usize], rater: &str) {
        match (protocol, ix) {
            (Protocol::Pairwise, [a, b]) => self.sched.record(*a, *b, rater),
            (Protocol::Likert | Protocol::Multi, [a]) => {
                self.singles[*a].insert(rater.to_string());
            }
            (Protocol::BestOfN, set) if !set.is_empty() => {
                for &i in set {
                    self.set_shown[i] += 1;
                }
                if rater == self.rater {
                    let mut v = set.to_vec();
                    v.sort_unstable();
                    self.seen_sets.insert(v);
                }
            }
            _ => {}
        }
    }

    /// Schedules the next trial: an attention check at the study's rate when a gold image is
    /// ready (`has_gold(image id)`), never two in a row; else the scheduler's next trial, or
    /// the session is complete (no trial).
    pub fn next_trial(&mut self, has_gold: impl Fn(i64) -> bool) {
        self.trial = None;
        let check_due = self.study.attention_rate > 0.0
            && !self.last_was_check
            && self.study.protocol != Protocol::BestOfN
            && self.rng.next_f64() < self.study.attention_rate;
        let gold: Vec<usize> = (0..self.ids.len())
            .filter(|&k| has_gold(self.ids[k]))
            .collect();
        let (items, attention, why) = if check_due && !gold.is_empty() {
            let k = gold[self.rng.below(gold.len())];
            let items = match self.study.protocol {
                Protocol::Pairwise => vec![Shown::Image(k), Shown::Degraded(k)],
                _ => vec![Shown::Degraded(k)],
            };
            (items, true, "attention check")
        } else {
            let Some((ix, why)) = self.scheduled() else {
                self.complete = true;
                return;
            };
            (ix.into_iter().map(Shown::Image).collect(), false, why)
        };
        let mut shown = items.clone();
        shuffle(&mut shown, &mut self.rng);
        self.last_was_check = attention;
        self.trial = Some(Trial {
            items,
            shown,
            attention,
            why,
            started: None,
            ratings: vec![3.0; DIMENSIONS.len()],
            typed: 0,
        });
    }

    /// The scheduler's next items for this rater and why, or none left.
    fn scheduled(&mut self) -> Option<(Vec<usize>, &'static str)> {
        let rater = self.rater.as_str();
        match self.study.protocol {
            Protocol::Pairwise => self
                .sched
                .next(rater, self.theta.as_deref(), &mut self.rng)
                .map(|p| (vec![p.a, p.b], p.why.label())),
            Protocol::Likert | Protocol::Multi => next_single(
                &self.singles,
                rater,
                self.study.raters_per_pair.max(1),
                &mut self.rng,
            )
            .map(|i| (vec![i], "fewest ratings")),
            Protocol::BestOfN => next_set(
                &self.groups,
                &self.set_shown,
                &self.seen_sets,
                self.study.best_of.clamp(2, 9),
                &mut self.rng,
            )
            .map(|v| (v, "fewest appearances")),
        }
    }

    /// Image ids of the current trial, in on-screen order (empty without a trial).
    pub fn shown_ids(&self) -> Vec<i64> {
        self.trial.as_ref().map_or_else(Vec::new, |t| {
            t.shown.iter().map(|x| self.ids[x.item()]).collect()
        })
    }

    /// Records the answer to the current trial as a label event answered at `now` (stored
    /// at `time`); ignored (`None`) until the images are on screen, and when the answer does
    /// not fit the protocol. The scheduler learns at once (the store confirms later); the
    /// caller schedules the next trial.
    pub fn answer(&mut self, a: &Answer, now: Instant, time: &str) -> Option<Recorded> {
        let t = self.trial.as_ref()?;
        let started = t.started?;
        let protocol = self.study.protocol;
        let (choice, rating, ratings) = self.answer_fields(a, t)?;
        let payload = Payload {
            criterion: if protocol == Protocol::Multi {
                Criterion::new(Protocol::Multi.as_str())
            } else {
                Criterion::new(self.study.criterion.as_str())
            },
            items: t.items.iter().map(|x| self.name(x)).collect(),
            hashes: t.items.iter().map(|x| self.hash(x)).collect(),
            order: t.shown.iter().map(|x| self.name(x)).collect(),
            choice,
            rating,
            ratings,
            response_ms: Some(now.saturating_duration_since(started).as_millis() as u64),
            attention_check: t.attention,
        };
        let uid = super::event_uid(protocol, &self.rater, &self.id, Some(time), &payload);
        let ix: Vec<usize> = t.items.iter().map(|x| x.item()).collect();
        if payload.attention_check {
            self.checks += 1;
        } else {
            self.learn(&ix);
            if protocol != Protocol::Multi && payload.criterion == self.study.criterion {
                self.labels_so_far += 1;
            }
        }
        self.answered += 1;
        Some(Recorded {
            uid,
            event: Event {
                rater: self.rater.clone(),
                protocol,
                payload,
            },
        })
    }

    /// The stored name of a shown item (a gold item's is its degraded name).
    fn name(&self, x: &Shown) -> String {
        match *x {
            Shown::Image(k) => self.paths[k].clone(),
            Shown::Degraded(k) => attention::degraded_name(&self.paths[k]),
        }
    }

    /// The stored content hash of a shown item.
    fn hash(&self, x: &Shown) -> String {
        match *x {
            Shown::Image(k) => self.hashes[k].clone(),
            Shown::Degraded(k) => attention::degraded_name(&self.hashes[k]),
        }
    }

    /// The answer as the event's `(choice, rating, ratings)`, or `None` when it does not fit
    /// the protocol (or the study).
    fn answer_fields(&self, a: &Answer, t: &Trial) -> Option<AnswerFields> {
        Some(match (a, self.study.protocol) {
            (Answer::Pick(i), Protocol::Pairwise | Protocol::BestOfN) => {
                (Some(self.name(t.shown.get(*i)?)), None, None)
            }
            (Answer::Tie, Protocol::Pairwise) => (Some("tie".to_string()), None, None),
            (Answer::BothBad, Protocol::Pairwise) if self.study.both_bad => {
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
            _ => return None,
        })
    }

    /// The scheduler learns this rater's judgement of items `ix` (not an attention check).
    fn learn(&mut self, ix: &[usize]) {
        match (self.study.protocol, ix) {
            (Protocol::Pairwise, [a, b]) => self.sched.record(*a, *b, &self.rater),
            (Protocol::Likert | Protocol::Multi, [a]) => {
                self.singles[*a].insert(self.rater.clone());
            }
            (Protocol::BestOfN, set) => {
                for &i in set {
                    self.set_shown[i] += 1;
                }
                let mut v = set.to_vec();
                v.sort_unstable();
                self.seen_sets.insert(v);
            }
            _ => {}
        }
    }

    /// The generation of a new Bradley–Terry fit for scheduling, or `None` when the protocol
    /// uses none (Likert, multi).
    pub fn begin_fit(&mut self) -> Option<u64> {
        if !matches!(self.study.protocol, Protocol::Pairwise | Protocol::BestOfN) {
            return None;
        }
        self.fit_generation += 1;
        Some(self.fit_generation)
    }

    /// Takes the scores of fit `generation` unless a newer one arrived (fits are skipped
    /// while answers arrive faster: any newer one replaces the old); returns whether taken.
    pub fn accept_theta(&mut self, generation: u64, theta: Vec<f64>) -> bool {
        if generation > self.theta_generation && generation <= self.fit_generation {
            self.theta = Some(theta);
            self.theta_generation = generation;
            return true;
        }
        false
    }

    /// Starts a preference-scorer fit: its generation, or `None` while one runs or for the
    /// multi-dimensional protocol (which has no scorer).
    pub fn begin_scorer_fit(&mut self) -> Option<u64> {
        if self.scorer.running || self.study.protocol == Protocol::Multi {
            return None;
        }
        self.scorer.running = true;
        self.scorer_generation += 1;
        self.labels_at_fit = self.labels_so_far;
        Some(self.scorer_generation)
    }

    /// A scorer fit of `generation` ended: whether it is the current one (then it no longer
    /// runs; a stale one is ignored).
    pub fn scorer_finished(&mut self, generation: u64) -> bool {
        if generation != self.scorer_generation {
            return false;
        }
        self.scorer.running = false;
        true
    }

    /// The current fit succeeded: pairwise trials now follow its posterior (`model`).
    pub fn scorer_fitted(&mut self, fit: F, model: Option<PairModel>) {
        if self.study.protocol == Protocol::Pairwise {
            self.sched.set_model(model);
        }
        self.scorer.last = Some(fit);
        self.scorer.error = None;
    }

    /// The current fit failed.
    pub fn scorer_failed(&mut self, error: String) {
        self.scorer.error = Some(error);
    }

    /// `retrain_every` labels arrived since the last fit and none is running.
    pub fn retrain_due(&self) -> bool {
        self.study.retrain_every > 0
            && !self.scorer.running
            && self.labels_so_far >= self.labels_at_fit + self.study.retrain_every
    }

    /// Labels still to come before the next retraining.
    pub fn labels_until_retrain(&self) -> usize {
        (self.labels_at_fit + self.study.retrain_every).saturating_sub(self.labels_so_far)
    }

    /// Image ids to make gold (degraded) copies of next, each with its degradation seed:
    /// enough to keep a few ready (`ready(id)`) or in flight (`in_flight`), drawn at random
    /// among ids not ready and not `unusable(id)` (requested, failed, unknown). None when the
    /// study has no attention checks.
    pub fn gold_to_make(
        &mut self,
        ready: impl Fn(i64) -> bool,
        in_flight: usize,
        unusable: impl Fn(i64) -> bool,
    ) -> Vec<(i64, u64)> {
        let mut picked = Vec::new();
        if !self.study.has_checks() {
            return picked;
        }
        let have = self.ids.iter().filter(|&&id| ready(id)).count();
        let mut want = GOLD_WANTED.saturating_sub(have + in_flight);
        let mut tries = 0;
        while want > 0 && tries < GOLD_TRIES {
            tries += 1;
            let id = self.ids[self.rng.below(self.ids.len())];
            if ready(id) || unusable(id) || picked.iter().any(|&(p, _)| p == id) {
                continue;
            }
            picked.push((id, self.rng.next_u64()));
            want -= 1;
        }
        picked
    }
}

/// Fisher–Yates with the session's generator.
fn shuffle(v: &mut [Shown], rng: &mut Rng) {
    for k in (1..v.len()).rev() {
        v.swap(k, rng.below(k + 1));
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
