//! The preference-scorer use-cases (the selection flywheel), shared by `assay train`,
//! `assay scorers`, `assay embed`, every scan (CLI and GUI) and the GUI's scorer view and
//! labeling screen: read the features and label events through the store, train with
//! [`crate::learn`], version the scorer, activate it, roll back, and rescore images with the
//! active scorer. Typed results; the front ends only print or draw them.
//!
//! - Features: the numeric quality signals (classical, faces, CLIP signals), plus each stored
//!   embedding model (which cross-validation may use through its principal components).
//! - Labels: pairwise, best-of-N and Likert events of one criterion; attention checks are left
//!   out, and so are all events of raters whose attention pass rate is below the threshold
//!   (as in the statistics; `include_unreliable` keeps them).
//! - Activating a scorer rewrites every `learned_preference` value with the producer
//!   `preference@<version>`, in the same transaction as the switch and its log entry.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::{Protocol, UnknownProtocol};
use crate::human::schedule::PairModel;
use crate::human::{Event, Payload, attention};
use crate::learn::{self, FeatureTable, LearnError, Posterior, Report, ScorerModel, TrainOptions};
use crate::models::backend::{self, BackendChoice};
use crate::signals;
use crate::store::{self, NewScorer, ScorerRow, SignalRow, Store};

/// Why a use-case failed.
#[derive(Debug, thiserror::Error)]
pub enum PreferenceError {
    /// Something the user can fix (no labels, no images, bad options, unknown scorer).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("training failed: {0}")]
    Learn(String),
    #[error("{0}")]
    Backend(String),
    #[error("a stored scorer is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<LearnError> for PreferenceError {
    fn from(e: LearnError) -> Self {
        match e {
            LearnError::NoLabels(m) | LearnError::Invalid(m) => PreferenceError::Usage(m),
            LearnError::Backend(m) => PreferenceError::Learn(m),
            LearnError::Cancelled => PreferenceError::Usage("cancelled; nothing was stored".into()),
        }
    }
}

type Result<T> = std::result::Result<T, PreferenceError>;

/// Which embedding models to load.
#[derive(Debug, Clone, Copy)]
pub enum Embeddings<'a> {
    None,
    All,
    Only(&'a [String]),
}

/// The catalogue's feature table: the numeric quality signals, then the requested embedding
/// models (a model stored with several dimensions is ambiguous and skipped).
pub fn load_features(store: &Store, embeddings: Embeddings<'_>) -> Result<FeatureTable> {
    let keys = learn::features::signal_keys();
    let mut table = FeatureTable::new(keys.iter().map(|k| (*k).to_string()).collect());
    for (path, values) in store.signal_vectors(&keys)? {
        table.items.push(path);
        table.rows.push(values);
    }
    let models = match embeddings {
        Embeddings::None => Vec::new(),
        _ => store.embedding_models()?,
    };
    for (model, dim, _) in &models {
        if let Embeddings::Only(want) = embeddings
            && !want.contains(model)
        {
            continue;
        }
        if models.iter().filter(|(m, ..)| m == model).count() > 1 {
            continue;
        }
        let mut vectors = store.embedding_vectors(model)?;
        table.add_embedding(model, *dim, |item| vectors.remove(item));
    }
    Ok(table)
}

/// The label events training uses, with their times (parallel).
#[derive(Debug, Clone, Default)]
pub struct TrainingEvents {
    pub events: Vec<Event>,
    pub times: Vec<String>,
    /// Attention-check events left out.
    pub attention_checks: usize,
    /// Raters left out (attention pass rate below the threshold), sorted.
    pub excluded_raters: Vec<String>,
    /// Events of the excluded raters.
    pub excluded_events: usize,
}

/// Every stored event except attention checks and (unless `include_unreliable`) the events of
/// raters whose attention pass rate is below `threshold`.
pub fn training_events(
    store: &Store,
    include_unreliable: bool,
    threshold: f64,
) -> Result<TrainingEvents> {
    let mut all = Vec::new();
    let mut times = Vec::new();
    for row in store.label_events()? {
        let payload: Payload = serde_json::from_str(&row.payload)?;
        let protocol = row.protocol.parse().map_err(|e: UnknownProtocol| {
            PreferenceError::Usage(format!("label event {}: {e}", row.id))
        })?;
        all.push(Event {
            rater: row.rater,
            protocol,
            payload,
        });
        times.push(row.time);
    }
    let excluded = if include_unreliable {
        Vec::new()
    } else {
        attention::reliable_events(&all, threshold).1
    };
    let mut out = TrainingEvents {
        excluded_raters: excluded.clone(),
        ..TrainingEvents::default()
    };
    for (e, t) in all.into_iter().zip(times) {
        if e.payload.attention_check {
            out.attention_checks += 1;
        } else if excluded.contains(&e.rater) {
            out.excluded_events += 1;
        } else {
            out.events.push(e);
            out.times.push(t);
        }
    }
    Ok(out)
}

/// What to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRequest {
    pub criterion: String,
    pub options: TrainOptions,
    pub include_unreliable: bool,
    /// Attention pass-rate threshold below which a rater's events are left out.
    pub threshold: f64,
    /// Make the new scorer the active one (rescoring every image).
    pub activate: bool,
    pub backend: BackendChoice,
}

impl Default for TrainRequest {
    fn default() -> Self {
        Self {
            criterion: "overall".into(),
            options: TrainOptions::default(),
            include_unreliable: false,
            threshold: attention::DEFAULT_THRESHOLD,
            activate: true,
            backend: BackendChoice::Cpu,
        }
    }
}

/// The features a scorer was trained on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureSummary {
    /// Candidate inputs: signals (registered; absent ones are imputed) and embedding models.
    pub signals: Vec<String>,
    pub embeddings: Vec<String>,
    pub standardisation: String,
}

/// The training data of a scorer (stored in `scorers.training`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingSummary {
    pub criterion: String,
    /// Events that gave labels of the criterion.
    pub events: usize,
    pub by_protocol: BTreeMap<Protocol, usize>,
    pub raters: Vec<String>,
    pub time_range: (Option<String>, Option<String>),
    pub attention_checks_excluded: usize,
    /// Raters below the attention threshold whose events were left out.
    pub raters_excluded: Vec<String>,
    pub events_of_excluded_raters: usize,
    pub include_unreliable: bool,
    pub attention_threshold: f64,
    pub items_labelled: usize,
    pub features: FeatureSummary,
    pub options: OptionsSummary,
    pub device: String,
}

/// The options of a training run, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionsSummary {
    pub head: learn::HeadChoice,
    pub l2: Vec<f64>,
    pub mlp_l2: Vec<f64>,
    pub hidden: usize,
    pub lr: f64,
    pub epochs: usize,
    pub folds: usize,
    pub repeats: usize,
    pub holdout: f64,
    pub seed: u64,
    pub embeddings: bool,
    pub pca_ranks: Vec<usize>,
}

impl From<&TrainOptions> for OptionsSummary {
    fn from(o: &TrainOptions) -> Self {
        Self {
            head: o.head,
            l2: o.l2.clone(),
            mlp_l2: o.mlp_l2.clone(),
            hidden: o.hidden,
            lr: o.lr,
            epochs: o.epochs,
            folds: o.folds,
            repeats: o.repeats,
            holdout: o.holdout,
            seed: o.seed,
            embeddings: o.embeddings,
            pca_ranks: o.pca_ranks.clone(),
        }
    }
}

/// A trained scorer, not stored yet.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub training: TrainingSummary,
    pub report: Report,
    pub model: ScorerModel,
    /// The best linear candidate's posterior (active labeling).
    pub posterior: Option<Posterior>,
    /// The features it was trained on (to apply the posterior to the collection's items).
    pub table: FeatureTable,
}

/// A trained, stored scorer.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub id: i64,
    pub version: i64,
    /// Activated, with the number of images scored.
    pub images_scored: Option<usize>,
    pub fitted: Fitted,
}

/// Trains a scorer on the catalogue's labels and features (nothing is written).
pub fn fit(store: &Store, req: &TrainRequest) -> Result<Fitted> {
    let embeddings = if req.options.embeddings {
        Embeddings::All
    } else {
        Embeddings::None
    };
    fit_with(store, req, embeddings, |table, labels, device| {
        learn::train(table, labels, &req.options, device)
    })
}

/// [`fit`] with another learner (e.g. fine-tuning, `pipeline::finetune`): the same labels,
/// exclusions and training summary; `embeddings` are the models loaded into the table.
pub fn fit_with(
    store: &Store,
    req: &TrainRequest,
    embeddings: Embeddings<'_>,
    learner: impl FnOnce(
        &FeatureTable,
        &learn::Labels,
        &burn::tensor::Device,
    ) -> std::result::Result<learn::Trained, LearnError>,
) -> Result<Fitted> {
    req.options.validate()?;
    let te = training_events(store, req.include_unreliable, req.threshold)?;
    let labels = learn::labels::assemble(&te.events, &req.criterion);
    let used = labels.events();
    if labels.pairs.is_empty() && labels.likert.len() < 2 {
        return Err(PreferenceError::Usage(format!(
            "no pairwise, best-of-N or Likert labels for criterion '{}' yet; import some with `assay label import`{}",
            req.criterion,
            if te.excluded_raters.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} events of raters below the attention threshold were left out: {})",
                    te.excluded_events,
                    te.excluded_raters.join(", ")
                )
            }
        )));
    }
    let table = load_features(store, embeddings)?;
    if table.items.is_empty() {
        return Err(PreferenceError::Usage(
            "the catalogue has no images; run `assay scan` first".into(),
        ));
    }
    let selected =
        backend::select(req.backend).map_err(|e| PreferenceError::Backend(e.to_string()))?;
    let trained = learner(&table, &labels, &selected.device)?;

    let mut by_protocol: BTreeMap<Protocol, usize> = BTreeMap::new();
    let mut raters = BTreeSet::new();
    let mut times = BTreeSet::new();
    for &k in &used {
        *by_protocol.entry(te.events[k].protocol).or_default() += 1;
        raters.insert(te.events[k].rater.clone());
        times.insert(te.times[k].clone());
    }
    let training = TrainingSummary {
        criterion: req.criterion.clone(),
        events: used.len(),
        by_protocol,
        raters: raters.into_iter().collect(),
        time_range: (times.first().cloned(), times.last().cloned()),
        attention_checks_excluded: te.attention_checks,
        raters_excluded: te.excluded_raters.clone(),
        events_of_excluded_raters: te.excluded_events,
        include_unreliable: req.include_unreliable,
        attention_threshold: req.threshold,
        items_labelled: labels.items.len(),
        features: FeatureSummary {
            signals: table.names.clone(),
            embeddings: table.embeddings.iter().map(|e| e.model.clone()).collect(),
            standardisation: if trained.model.normalize.is_empty() {
                "log1p on blur_laplacian_var and tenengrad, then z-scores over the collection; missing values imputed with the mean; embeddings enter as their leading principal components (fitted on the collection's vectors)"
            } else {
                "the L2-normalised embedding, as the aesthetic head reads it (no standardisation)"
            }
            .into(),
        },
        options: OptionsSummary::from(&req.options),
        device: selected.describe(),
    };
    // The model as it will be read back from its stored bytes (f32 weights), so that scoring
    // now and after activating this version later give identical values.
    let model: ScorerModel = serde_json::from_slice(&serde_json::to_vec(&trained.model)?)?;
    Ok(Fitted {
        training,
        report: trained.report,
        model,
        posterior: trained.posterior,
        table,
    })
}

/// Stores a fitted scorer as a new version and (with `activate`) activates it, scoring every
/// image of its table. Returns `(id, version, images scored)`.
pub fn store_fitted(
    store: &mut Store,
    f: &Fitted,
    activate: bool,
) -> Result<(i64, i64, Option<usize>)> {
    let (id, version) = store.insert_scorer(&NewScorer {
        kind: learn::KIND.to_string(),
        params: serde_json::to_vec(&f.model)?,
        training: serde_json::to_string(&f.training)?,
        metrics: serde_json::to_string(&f.report)?,
    })?;
    let scored = if activate {
        let values = score_table(&f.table, version, &f.model, store)?;
        store.activate_scorer(id, "train", learn::SIGNAL_KEY, &values)?;
        Some(values.len())
    } else {
        None
    };
    Ok((id, version, scored))
}

/// Trains a scorer on the catalogue's labels and features, stores it as a new version and
/// (with `req.activate`) activates it.
pub fn train_and_store(store: &mut Store, req: &TrainRequest) -> Result<TrainOutcome> {
    let fitted = fit(store, req)?;
    let (id, version, images_scored) = store_fitted(store, &fitted, req.activate)?;
    Ok(TrainOutcome {
        id,
        version,
        images_scored,
        fitted,
    })
}

/// The posterior as the pair scheduler's model over `paths` (items without features get the
/// collection mean, i.e. a zero row).
pub fn pair_model(posterior: &Posterior, table: &FeatureTable, paths: &[String]) -> PairModel {
    let rows = posterior.rows(table);
    let index: std::collections::HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let d = posterior.w.len();
    PairModel {
        x: paths
            .iter()
            .map(|p| {
                index
                    .get(p.as_str())
                    .map_or_else(|| vec![0.0; d], |&r| rows[r].clone())
            })
            .collect(),
        w: posterior.w.clone(),
        cov: posterior.cov.clone(),
    }
}

/// `learned_preference` rows of every image of `table` that has any input of `model`.
fn score_table(
    table: &FeatureTable,
    version: i64,
    model: &ScorerModel,
    store: &Store,
) -> Result<Vec<(i64, SignalRow)>> {
    let rows = model.inputs(table);
    let ids = store.path_ids()?;
    let producer = format!("{}@{version}", signals::PREFERENCE);
    Ok(table
        .items
        .iter()
        .zip(&rows)
        .filter(|(_, r)| r.iter().any(Option::is_some))
        .filter_map(|(item, r)| {
            let score = Some(model.score(r)).filter(|s| s.is_finite())?;
            Some((
                *ids.get(item)?,
                SignalRow {
                    key: learn::SIGNAL_KEY.to_string(),
                    value: Some(score),
                    text: None,
                    producer: producer.clone(),
                },
            ))
        })
        .collect())
}

/// Scores every image with `model` (reading only the embeddings it needs).
fn score_all(store: &Store, version: i64, model: &ScorerModel) -> Result<Vec<(i64, SignalRow)>> {
    let models = model.embedding_models();
    let table = load_features(
        store,
        if models.is_empty() {
            Embeddings::None
        } else {
            Embeddings::Only(&models)
        },
    )?;
    score_table(&table, version, model, store)
}

pub fn parse_model(row: &ScorerRow) -> Result<ScorerModel> {
    let id = row.id;
    let model: ScorerModel = serde_json::from_slice(&row.params).map_err(|e| {
        PreferenceError::Usage(format!("scorer {id} has unreadable parameters: {e}"))
    })?;
    model
        .validate()
        .map_err(|e| PreferenceError::Usage(format!("scorer {id}: {e}")))?;
    Ok(model)
}

/// Makes a stored scorer the active one (`action`: activate / rollback), rescoring every
/// image; returns the number of images scored.
pub fn switch_to(store: &mut Store, row: &ScorerRow, action: &str) -> Result<usize> {
    let model = parse_model(row)?;
    let values = score_all(store, row.version, &model)?;
    store.activate_scorer(row.id, action, learn::SIGNAL_KEY, &values)?;
    Ok(values.len())
}

/// A switch of the active scorer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switched {
    pub id: i64,
    pub version: i64,
    pub action: String,
    pub images_scored: usize,
}

/// Activates the scorer with this id.
pub fn activate(store: &mut Store, id: i64) -> Result<Switched> {
    let Some(row) = store.scorer(id)? else {
        return Err(PreferenceError::Usage(format!("no scorer with id {id}")));
    };
    let n = switch_to(store, &row, "activate")?;
    Ok(Switched {
        id,
        version: row.version,
        action: "activate".into(),
        images_scored: n,
    })
}

/// Goes back to the scorer that was active before the current one.
pub fn rollback(store: &mut Store) -> Result<Switched> {
    let log = store.scorer_log()?;
    let active = store.active_scorer()?.map(|s| s.id);
    let prev = log
        .iter()
        .rev()
        .find(|l| Some(l.scorer_id) == active)
        .and_then(|l| l.previous);
    let Some(id) = prev else {
        return Err(PreferenceError::Usage(
            "nothing to roll back to: no scorer was active before the current one".into(),
        ));
    };
    let Some(row) = store.scorer(id)? else {
        return Err(PreferenceError::Usage(format!("no scorer with id {id}")));
    };
    let n = switch_to(store, &row, "rollback")?;
    Ok(Switched {
        id,
        version: row.version,
        action: "rollback".into(),
        images_scored: n,
    })
}

/// The active scorer's rescoring after new or changed images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refreshed {
    pub version: i64,
    pub images_scored: usize,
}

/// Rescores every image with the active scorer, if there is one (after a scan or `assay
/// embed`: new and changed files get their `learned_preference`, and features that appeared
/// since — e.g. embeddings — are used).
pub fn refresh_active(store: &mut Store) -> Result<Option<Refreshed>> {
    let Some(row) = store.active_scorer()? else {
        return Ok(None);
    };
    let model = parse_model(&row)?;
    let values = score_all(store, row.version, &model)?;
    store.replace_signal_values(learn::SIGNAL_KEY, &values)?;
    Ok(Some(Refreshed {
        version: row.version,
        images_scored: values.len(),
    }))
}

/// The headline accuracy in a stored scorer's metrics JSON: `estimate` (cross-validated), or
/// `heldout` for scorers trained before cross-validation existed.
pub fn headline(metrics: &serde_json::Value) -> &serde_json::Value {
    if metrics["estimate"].is_null() {
        &metrics["heldout"]
    } else {
        &metrics["estimate"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewLabelEvent;

    #[test]
    fn headline_reads_new_and_old_metrics() {
        let new = serde_json::json!({"estimate": {"accuracy": 0.9}, "heldout": null});
        assert_eq!(headline(&new)["accuracy"], 0.9);
        let old = serde_json::json!({"heldout": {"accuracy": 0.8}});
        assert_eq!(headline(&old)["accuracy"], 0.8);
    }

    fn store_with_images(n: usize) -> Store {
        let mut s = Store::open_in_memory().unwrap();
        let recs: Vec<_> = (0..n)
            .map(|i| crate::store::new_image(&format!("i{i:02}.png")))
            .collect();
        let ids = s.write_ingest(&recs).unwrap();
        let rows: Vec<(i64, SignalRow)> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, &id)| {
                [
                    (id, "blur_laplacian_var", (i * i) as f64 + 1.0),
                    (id, "noise_sigma", ((i * 7) % 5) as f64),
                ]
                .map(|(id, k, v)| {
                    (
                        id,
                        SignalRow {
                            key: k.into(),
                            value: Some(v),
                            text: None,
                            producer: "test".into(),
                        },
                    )
                })
            })
            .collect();
        s.set_signals(&rows).unwrap();
        s
    }

    fn pair(uid: &str, rater: &str, a: usize, b: usize, check: bool) -> NewLabelEvent {
        let (x, y) = (format!("i{a:02}.png"), format!("i{b:02}.png"));
        // The sharper (higher index) image wins; an attention check names the pristine one.
        let payload = Payload {
            criterion: "overall".into(),
            items: vec![x.clone(), y.clone()],
            hashes: vec![],
            order: vec![x.clone(), y.clone()],
            choice: Some(if check || a > b { x } else { y }),
            rating: None,
            ratings: None,
            response_ms: None,
            attention_check: check,
        };
        NewLabelEvent {
            uid: uid.into(),
            time: None,
            rater: rater.into(),
            session: "s".into(),
            protocol: crate::domain::Protocol::Pairwise,
            payload: serde_json::to_string(&payload).unwrap(),
        }
    }

    #[test]
    fn unreliable_raters_are_left_out_of_training_unless_included() {
        let mut s = store_with_images(12);
        let mut ev = Vec::new();
        for k in 0..30 {
            let (a, b) = (k % 12, (k * 5 + 1) % 12);
            if a != b {
                ev.push(pair(&format!("g{k}"), "good", a, b, false));
            }
        }
        // "lazy" fails both checks (a failed check picks the degraded copy) and labels too.
        for k in 0..2 {
            let mut e = pair(&format!("c{k}"), "lazy", 1, 2, true);
            let mut p: Payload = serde_json::from_str(&e.payload).unwrap();
            p.items[1] = attention::degraded_name(&p.items[0]);
            p.choice = Some(p.items[1].clone());
            e.payload = serde_json::to_string(&p).unwrap();
            ev.push(e);
        }
        for k in 0..20 {
            let (a, b) = (k % 12, (k * 3 + 2) % 12);
            if a != b {
                ev.push(pair(&format!("l{k}"), "lazy", b, a, false));
            }
        }
        s.append_label_events(&ev).unwrap();
        let te = training_events(&s, false, 0.8).unwrap();
        assert_eq!(te.excluded_raters, vec!["lazy".to_string()]);
        assert_eq!(te.attention_checks, 2);
        assert!(te.events.iter().all(|e| e.rater == "good"));
        let all = training_events(&s, true, 0.8).unwrap();
        assert!(all.events.iter().any(|e| e.rater == "lazy"));
        assert!(all.excluded_raters.is_empty());

        let req = TrainRequest {
            options: TrainOptions {
                head: learn::HeadChoice::Linear,
                curve: false,
                ..TrainOptions::default()
            },
            ..TrainRequest::default()
        };
        let out = train_and_store(&mut s, &req).unwrap();
        assert_eq!(out.fitted.training.raters, vec!["good".to_string()]);
        assert_eq!(
            out.fitted.training.raters_excluded,
            vec!["lazy".to_string()]
        );
        assert_eq!(out.images_scored, Some(12));
        assert_eq!(out.version, 1);
        let inc = train_and_store(
            &mut s,
            &TrainRequest {
                include_unreliable: true,
                activate: false,
                ..req.clone()
            },
        )
        .unwrap();
        assert_eq!(inc.fitted.training.raters.len(), 2);
        assert!(inc.fitted.training.events > out.fitted.training.events);
        assert_eq!(inc.images_scored, None);
        // The active (first) scorer is still the one whose values are stored; a refresh keeps
        // them; rollback has nothing to go back to; activating v2 and rolling back works.
        let r = refresh_active(&mut s).unwrap().unwrap();
        assert_eq!(
            r,
            Refreshed {
                version: 1,
                images_scored: 12
            }
        );
        assert!(matches!(rollback(&mut s), Err(PreferenceError::Usage(_))));
        let sw = activate(&mut s, inc.id).unwrap();
        assert_eq!((sw.version, sw.images_scored), (2, 12));
        let back = rollback(&mut s).unwrap();
        assert_eq!((back.id, back.action.as_str()), (out.id, "rollback"));
        assert!(matches!(
            activate(&mut s, 999),
            Err(PreferenceError::Usage(_))
        ));
    }

    #[test]
    fn no_labels_is_a_usage_error() {
        let mut s = store_with_images(3);
        let e = train_and_store(&mut s, &TrainRequest::default()).unwrap_err();
        assert!(matches!(e, PreferenceError::Usage(m) if m.contains("no pairwise")));
        assert_eq!(refresh_active(&mut s).unwrap(), None);
    }
}
