//! Background work of the labeling screens: the database commands (run by the database
//! worker, in order with the other commands), the gold-image maker for attention checks
//! (decode + degrade off the UI thread), the statistics worker (Bradley–Terry scores for
//! the scheduler, the full report for the results view) and the preference-scorer fits of the
//! flywheel ([`scorer_job`]). All report through [`Event::Label`].

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};

use eframe::egui;

use super::jobs::{Event, Outbox, spawn, to_color_image};
use crate::catalog::decode::{DecodeConfig, decode};
use crate::human::report::{self, Report, ReportOptions};
use crate::human::schedule::PairModel;
use crate::human::{self, Payload, attention};
use crate::pipeline::preference::{self, TrainRequest};
use crate::ranking::bt::{self, BtOptions};
use crate::store::{NewLabelEvent, SessionSummary, Store};

/// A stored label event with its session and time.
#[derive(Debug, Clone)]
pub struct Stored {
    pub session: String,
    pub time: String,
    pub event: human::Event,
}

/// Commands for the database worker.
pub enum LabelDb {
    /// Read raters, sessions and every label event.
    Load,
    AddRater(String),
    /// Append events (one transaction) with the UI's sequence number.
    Append(u64, Vec<NewLabelEvent>),
}

/// What the labeling workers report.
pub enum LabelMsg {
    Loaded {
        raters: Vec<String>,
        sessions: Vec<SessionSummary>,
        events: Vec<Stored>,
        /// Stored events whose payload could not be read.
        unreadable: usize,
    },
    Raters(Vec<String>),
    /// Batch `seq` committed (events newly stored) or failed.
    Appended(u64, Result<usize, String>),
    /// The degraded copy of image `id` (or why it could not be made).
    Gold(i64, Result<egui::ColorImage, String>),
    /// Bradley–Terry scores per session item for the fit generation.
    Theta(u64, Vec<f64>),
    /// A preference-scorer fit of the generation: what it is, and its posterior over the
    /// session's items (for scheduling).
    Scorer(u64, Result<(ScorerFit, Option<PairModel>), String>),
    Report(u64, Box<Report>),
}

/// Runs one labeling command on the database worker's store.
pub fn run_db(s: &mut Store, cmd: LabelDb, out: &Outbox) {
    let send = |m: LabelMsg| out.send(Event::Label(m));
    match cmd {
        LabelDb::Load => {
            let r = (|| -> crate::store::Result<_> {
                Ok((s.raters()?, s.label_sessions()?, s.label_events()?))
            })();
            match r {
                Ok((raters, sessions, rows)) => {
                    let mut events = Vec::with_capacity(rows.len());
                    let mut unreadable = 0;
                    for e in rows {
                        match (
                            serde_json::from_str::<Payload>(&e.payload),
                            e.protocol.parse(),
                        ) {
                            (Ok(payload), Ok(protocol)) => events.push(Stored {
                                session: e.session,
                                time: e.time,
                                event: human::Event {
                                    rater: e.rater,
                                    protocol,
                                    payload,
                                },
                            }),
                            _ => unreadable += 1,
                        }
                    }
                    send(LabelMsg::Loaded {
                        raters,
                        sessions,
                        events,
                        unreadable,
                    });
                }
                Err(e) => out.send(Event::Error(format!("cannot read the labels: {e}"))),
            }
        }
        LabelDb::AddRater(name) => match s.upsert_rater(&name).and_then(|()| s.raters()) {
            Ok(r) => send(LabelMsg::Raters(r)),
            Err(e) => out.send(Event::Error(format!("cannot add the rater {name}: {e}"))),
        },
        LabelDb::Append(seq, events) => {
            let r = s
                .append_label_events(&events)
                .map(|new| new.iter().filter(|n| **n).count())
                .map_err(|e| format!("labels NOT saved ({}): {e}", events.len()));
            send(LabelMsg::Appended(seq, r));
        }
    }
}

/// The database could not be opened: say what was not done.
pub fn db_unavailable(cmd: &LabelDb, out: &Outbox) {
    if let LabelDb::Append(seq, _) = cmd {
        out.send(Event::Label(LabelMsg::Appended(
            *seq,
            Err("labels NOT saved: the database cannot be opened".into()),
        )));
    }
}

/// A preference-scorer fit as the labeling screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerFit {
    /// Stored version (`None`: fitted for scheduling only).
    pub version: Option<i64>,
    pub estimate: Option<crate::learn::Estimate>,
    /// The chosen candidate, in words.
    pub chosen: String,
    /// Labelled events it learned from.
    pub events: usize,
}

/// Fits the preference scorer on its own thread and connection (`store`: as a new, active
/// version — the grid's `learned_preference` follows — else for scheduling only) and reports
/// the fit with its posterior over `paths`.
pub fn scorer_job(
    db: PathBuf,
    req: TrainRequest,
    store: bool,
    paths: Vec<String>,
    generation: u64,
    out: Outbox,
) {
    spawn("assay-label-scorer", move || {
        let r = (|| -> Result<_, String> {
            let mut s = Store::open(&db).map_err(|e| e.to_string())?;
            let fitted = preference::fit(&s, &req).map_err(|e| e.to_string())?;
            let version = if store {
                Some(
                    preference::store_fitted(&mut s, &fitted, req.activate)
                        .map_err(|e| e.to_string())?
                        .1,
                )
            } else {
                None
            };
            let model = fitted
                .posterior
                .as_ref()
                .map(|p| preference::pair_model(p, &fitted.table, &paths));
            let fit = ScorerFit {
                version,
                estimate: fitted.report.estimate.clone(),
                chosen: fitted.report.chosen.describe(),
                events: fitted.training.events,
            };
            Ok((fit, model))
        })();
        out.send(Event::Label(LabelMsg::Scorer(generation, r)));
    });
}

/// Longest side of a gold image (the degraded copy is shown at the pristine image's size).
const GOLD_MAX_SIDE: u32 = 1024;

/// Decodes `path`, downscales it to [`GOLD_MAX_SIDE`] and degrades it (attention checks).
pub fn make_gold(path: &Path, seed: u64) -> Result<egui::ColorImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let d = decode(&bytes, &DecodeConfig::default()).map_err(|e| e.to_string())?;
    let mut img = d.image;
    if img.width() > GOLD_MAX_SIDE || img.height() > GOLD_MAX_SIDE {
        img = img.resize(
            GOLD_MAX_SIDE,
            GOLD_MAX_SIDE,
            image::imageops::FilterType::Triangle,
        );
    }
    let degraded = attention::degrade(&img.to_rgba8(), seed);
    Ok(to_color_image(&image::DynamicImage::ImageRgba8(degraded)))
}

/// Makes gold images one at a time, in request order.
pub struct GoldMaker {
    tx: Sender<(i64, PathBuf, u64)>,
}

impl GoldMaker {
    pub fn start(out: Outbox) -> Self {
        let (tx, rx) = channel::<(i64, PathBuf, u64)>();
        spawn("assay-gold", move || {
            for (id, path, seed) in rx {
                out.send(Event::Label(LabelMsg::Gold(id, make_gold(&path, seed))));
            }
        });
        Self { tx }
    }

    pub fn request(&self, id: i64, path: PathBuf, seed: u64) {
        let _ = self.tx.send((id, path, seed));
    }
}

/// Work for the statistics thread.
pub enum StatsReq {
    /// Bradley–Terry scores of `items` (paths) from the events of `criterion`.
    Fit {
        generation: u64,
        events: Vec<human::Event>,
        criterion: String,
        items: Vec<String>,
    },
    Report {
        generation: u64,
        events: Vec<human::Event>,
        sessions: Vec<String>,
        opts: ReportOptions,
    },
}

/// Fits and reports off the UI thread; only the newest request of each kind runs.
pub struct StatsWorker {
    tx: Sender<StatsReq>,
}

impl StatsWorker {
    pub fn start(out: Outbox) -> Self {
        let (tx, rx) = channel::<StatsReq>();
        spawn("assay-label-stats", move || {
            while let Ok(first) = rx.recv() {
                let (mut fit, mut rep) = (None, None);
                for req in std::iter::once(first).chain(rx.try_iter()) {
                    match req {
                        r @ StatsReq::Fit { .. } => fit = Some(r),
                        r @ StatsReq::Report { .. } => rep = Some(r),
                    }
                }
                if let Some(StatsReq::Fit {
                    generation,
                    events,
                    criterion,
                    items,
                }) = fit
                {
                    let theta = session_theta(&events, &criterion, &items);
                    out.send(Event::Label(LabelMsg::Theta(generation, theta)));
                }
                if let Some(StatsReq::Report {
                    generation,
                    events,
                    sessions,
                    opts,
                }) = rep
                {
                    let r = report::build(&events, &sessions, &opts);
                    out.send(Event::Label(LabelMsg::Report(generation, Box::new(r))));
                }
            }
        });
        Self { tx }
    }

    pub fn send(&self, r: StatsReq) {
        let _ = self.tx.send(r);
    }
}

/// Bradley–Terry θ (small prior, so it always exists) for each of `items`; 0 for items never
/// compared. Attention checks and unreliable raters are left out.
pub fn session_theta(events: &[human::Event], criterion: &str, items: &[String]) -> Vec<f64> {
    let (kept, _) = attention::reliable_events(events, attention::DEFAULT_THRESHOLD);
    let (names, comps) = human::comparisons(&kept, criterion);
    let opts = BtOptions {
        alpha: 0.01,
        max_iter: 2000,
        ..BtOptions::default()
    };
    let mut theta = vec![0.0; items.len()];
    if let Ok(fit) = bt::fit(names.len(), &comps, &opts) {
        let by: std::collections::HashMap<&str, f64> = names
            .iter()
            .map(String::as_str)
            .zip(fit.theta.iter().copied())
            .collect();
        for (t, item) in theta.iter_mut().zip(items) {
            *t = by.get(item.as_str()).copied().unwrap_or(0.0);
        }
    }
    theta
}
