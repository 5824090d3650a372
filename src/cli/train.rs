//! `assay train DIR` (fit, evaluate, version and activate a preference scorer) and
//! `assay scorers DIR` (list versions with their metrics; `--activate ID` or `--rollback`).
//!
//! Features: the numeric quality signals (classical, faces), plus each embedding model stored in
//! the catalogue.
//! Labels: pairwise, best-of-N and Likert events of one criterion; attention checks are left
//! out. Activating a scorer rewrites every `learned_preference` value with the producer
//! `preference@<version>`, in the same transaction as the switch and its log entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::human::{Event, Payload};
use crate::learn::{self, FeatureTable, Head, ScorerModel, TrainOptions};
use crate::models::backend::{self, BackendChoice};
use crate::signals;
use crate::store::{NewScorer, SignalRow, Store};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Head::Linear)]
    pub head: Head,
    /// Share of label events held out for evaluation (0 = none).
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Share of the remaining events used for early stopping.
    #[arg(long, default_value_t = 0.2)]
    pub validation: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "overall")]
    pub criterion: String,
    /// Hidden units of the MLP head.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// L2 penalty on the weights.
    #[arg(long, default_value_t = 1e-3)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    #[arg(long, default_value_t = 1000)]
    pub max_epochs: usize,
    /// Skip the learning curve (it retrains on growing subsets).
    #[arg(long)]
    pub no_curve: bool,
    /// Record the scorer without making it active.
    #[arg(long)]
    pub no_activate: bool,
    /// Where to train: cpu (burn flex, the default), flex, wgpu, auto.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct ScorersArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Make this scorer (by id) the active one and rescore every image with it.
    #[arg(long, conflicts_with = "rollback")]
    pub activate: Option<i64>,
    /// Go back to the scorer that was active before the current one.
    #[arg(long)]
    pub rollback: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// The catalogue's feature table: the numeric quality signals (classical, faces), then every
/// embedding model with a single dimension (`model[i]` features).
fn load_features(store: &Store) -> anyhow::Result<(FeatureTable, Vec<String>)> {
    let keys = learn::features::signal_keys();
    let mut table = FeatureTable::new(keys.iter().map(|k| (*k).to_string()).collect());
    for (path, values) in store.signal_vectors(&keys)? {
        table.items.push(path);
        table.rows.push(values);
    }
    let models = store.embedding_models()?;
    let mut used = Vec::new();
    for (model, dim, _) in &models {
        if models.iter().filter(|(m, ..)| m == model).count() > 1 {
            continue; // stored with several dimensions: ambiguous, skipped
        }
        let vectors = store.embedding_vectors(model)?;
        let names = (0..*dim).map(|i| format!("{model}[{i}]")).collect();
        table.extend(names, |item| {
            vectors
                .get(item)
                .map(|v| v.iter().map(|&x| f64::from(x)).collect())
        });
        used.push(model.clone());
    }
    Ok((table, used))
}

/// `learned_preference` values of every image that has any feature value.
fn score_all(
    store: &Store,
    version: i64,
    model: &ScorerModel,
) -> anyhow::Result<Vec<(i64, SignalRow)>> {
    let (table, _) = load_features(store)?;
    let rows = table.rows_for(&model.standardizer.names);
    let ids = store.path_ids()?;
    let producer = format!("{}@{version}", signals::PREFERENCE);
    let values: Vec<(i64, SignalRow)> = table
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
        .collect();
    Ok(values)
}

/// Scores every image with scorer `id` and makes it the active one (logged as `action`).
fn activate(
    store: &mut Store,
    id: i64,
    version: i64,
    model: &ScorerModel,
    action: &str,
) -> anyhow::Result<usize> {
    let values = score_all(store, version, model)?;
    store.activate_scorer(id, action, learn::SIGNAL_KEY, &values)?;
    Ok(values.len())
}

/// Rescores every image with the active scorer, if there is one (after a scan: new and changed
/// files get their `learned_preference`). Returns the version and the number of images scored.
pub fn refresh_active(store: &mut Store) -> anyhow::Result<Option<(i64, usize)>> {
    let Some(row) = store.active_scorer()? else {
        return Ok(None);
    };
    let model: ScorerModel = serde_json::from_slice(&row.params)?;
    model.validate()?;
    let values = score_all(store, row.version, &model)?;
    store.replace_signal_values(learn::SIGNAL_KEY, &values)?;
    Ok(Some((row.version, values.len())))
}

pub fn train(a: &TrainArgs) -> anyhow::Result<u8> {
    if !(0.0..1.0).contains(&a.holdout) || !(0.0..1.0).contains(&a.validation) {
        return Err(UsageError("--holdout and --validation must be in [0, 1)".into()).into());
    }
    if a.max_epochs == 0
        || a.hidden == 0
        || !(a.lr > 0.0 && a.lr.is_finite())
        || a.weight_decay.is_nan()
        || a.weight_decay < 0.0
    {
        return Err(UsageError(
            "--max-epochs and --hidden must be positive, --lr > 0, --weight-decay ≥ 0".into(),
        )
        .into());
    }
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let mut events = Vec::new();
    let mut meta = Vec::new();
    let mut attention = 0usize;
    for row in store.label_events()? {
        let payload: Payload = serde_json::from_str(&row.payload)?;
        if payload.attention_check {
            attention += 1;
            continue;
        }
        meta.push((row.time, row.rater.clone(), row.protocol.clone()));
        events.push(Event {
            rater: row.rater,
            protocol: row.protocol,
            payload,
        });
    }
    let labels = learn::labels::assemble(&events, &a.criterion);
    let used = labels.events();
    if labels.pairs.is_empty() && labels.likert.len() < 2 {
        return Err(UsageError(format!(
            "no pairwise, best-of-N or Likert labels for criterion '{}' yet; import some with `assay label import`",
            a.criterion
        ))
        .into());
    }
    let (table, embeddings) = load_features(&store)?;
    if table.items.is_empty() {
        return Err(UsageError(format!(
            "the catalogue of {} has no images; run `assay scan` first",
            a.dir.display()
        ))
        .into());
    }
    let selected = backend::select(a.backend)?;
    let opts = TrainOptions {
        head: a.head,
        hidden: a.hidden,
        holdout: a.holdout,
        validation: a.validation,
        seed: a.seed,
        lr: a.lr,
        weight_decay: a.weight_decay,
        max_epochs: a.max_epochs,
        curve: !a.no_curve,
        ..TrainOptions::default()
    };
    let trained = match learn::train(&table, &labels, &opts, &selected.device) {
        Ok(t) => t,
        Err(e @ (learn::LearnError::NoLabels(_) | learn::LearnError::Invalid(_))) => {
            return Err(UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };

    // Training-data summary.
    let mut by_protocol: BTreeMap<&str, usize> = BTreeMap::new();
    let mut raters = BTreeSet::new();
    let mut times = BTreeSet::new();
    for &k in &used {
        let (time, rater, protocol) = &meta[k];
        *by_protocol.entry(protocol.as_str()).or_default() += 1;
        raters.insert(rater.as_str());
        times.insert(time.as_str());
    }
    let training = json!({
        "criterion": a.criterion,
        "events": used.len(),
        "by_protocol": by_protocol,
        "raters": raters,
        "time_range": [times.first(), times.last()],
        "attention_checks_excluded": attention,
        "items_labelled": labels.items.len(),
        "features": {
            "count": table.names.len(),
            "signals": learn::features::signal_keys(),
            "embeddings": embeddings,
            "standardisation": "log1p on blur_laplacian_var and tenengrad, then z-scores over the collection; missing values imputed with the mean",
        },
        "options": {
            "head": a.head, "hidden": a.hidden, "holdout": a.holdout, "validation": a.validation,
            "seed": a.seed, "lr": a.lr, "weight_decay": a.weight_decay, "max_epochs": a.max_epochs,
        },
        "device": selected.describe(),
    });
    let metrics = serde_json::to_value(&trained.report)?;
    // Score from the stored bytes, so that activating this version later gives identical values.
    let params = serde_json::to_vec(&trained.model)?;
    let model: ScorerModel = serde_json::from_slice(&params)?;
    let (id, version) = store.insert_scorer(&NewScorer {
        kind: learn::KIND.to_string(),
        params,
        training: training.to_string(),
        metrics: metrics.to_string(),
    })?;
    let scored = if a.no_activate {
        None
    } else {
        Some(activate(&mut store, id, version, &model, "train")?)
    };
    let out = json!({
        "scorer": {"id": id, "version": version, "active": scored.is_some(), "images_scored": scored},
        "training": training,
        "metrics": metrics,
    });
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Text => print_train(&out),
    }
    Ok(0)
}

fn fmt_acc(v: &Value) -> String {
    match v["accuracy"].as_f64() {
        Some(x) => {
            let iv = v["interval"]
                .as_array()
                .and_then(|i| {
                    Some(format!(
                        " [{:.3}, {:.3}]",
                        i.first()?.as_f64()?,
                        i.get(1)?.as_f64()?
                    ))
                })
                .unwrap_or_default();
            format!("{x:.3}{iv} on {} pairs", v["pairs"])
        }
        None => "n/a".to_string(),
    }
}

fn print_train(o: &Value) {
    let (s, t, m) = (&o["scorer"], &o["training"], &o["metrics"]);
    println!(
        "preference scorer v{} (id {}): {} head, {} features, {}; {}",
        s["version"],
        s["id"],
        m["head"].as_str().unwrap_or(""),
        m["features"],
        t["device"].as_str().unwrap_or(""),
        if s["active"].as_bool() == Some(true) {
            format!("active, {} images scored", s["images_scored"])
        } else {
            "not activated".to_string()
        }
    );
    println!(
        "labels: {} events {} from {} raters, {} – {}",
        t["events"],
        t["by_protocol"],
        t["raters"].as_array().map_or(0, Vec::len),
        t["time_range"][0].as_str().unwrap_or("?"),
        t["time_range"][1].as_str().unwrap_or("?")
    );
    let sp = &m["split"];
    println!(
        "pairs: {} training, {} validation, {} held out ({} dropped: items without features)",
        sp["training_pairs"], sp["validation_pairs"], sp["heldout_pairs"], sp["dropped_pairs"]
    );
    println!("held-out pairwise accuracy: {}", fmt_acc(&m["heldout"]));
    println!(
        "training pairwise accuracy: {}",
        fmt_acc(&m["train_accuracy"])
    );
    if let Some(l) = m["likert_spearman"].as_object() {
        match l.get("rho").and_then(Value::as_f64) {
            Some(r) => println!(
                "Spearman ρ vs held-out Likert ratings: {r:.3} over {} items",
                l["items"]
            ),
            None => println!(
                "Spearman ρ vs held-out Likert ratings: n/a ({})",
                l.get("note").and_then(Value::as_str).unwrap_or("")
            ),
        }
    }
    if let Some(c) = m["learning_curve"].as_array().filter(|c| !c.is_empty()) {
        let pts: Vec<String> = c
            .iter()
            .map(|p| {
                format!(
                    "{} → {:.3}",
                    p["training_pairs"],
                    p["accuracy"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!(
            "learning curve (training pairs → held-out accuracy): {}",
            pts.join(", ")
        );
    }
    println!(
        "epochs: {} (kept epoch {}), training loss {:.4}{}",
        m["epochs"],
        m["best_epoch"],
        m["train_loss"].as_f64().unwrap_or(f64::NAN),
        m["validation_loss"]
            .as_f64()
            .map_or_else(String::new, |v| format!(", validation loss {v:.4}"))
    );
    for n in m["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or(""));
    }
}

pub fn scorers(a: &ScorersArgs) -> anyhow::Result<u8> {
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    let target = if a.rollback {
        let log = store.scorer_log()?;
        let active = store.active_scorer()?.map(|s| s.id);
        let prev = log
            .iter()
            .rev()
            .find(|l| Some(l.scorer_id) == active)
            .and_then(|l| l.previous);
        match prev {
            Some(p) => Some((p, "rollback")),
            None => {
                return Err(UsageError(
                    "nothing to roll back to: no scorer was active before the current one".into(),
                )
                .into());
            }
        }
    } else {
        a.activate.map(|id| (id, "activate"))
    };
    let mut switched = None;
    if let Some((id, action)) = target {
        let Some(row) = store.scorer(id)? else {
            return Err(UsageError(format!(
                "no scorer with id {id}; `assay scorers {}` lists them",
                a.dir.display()
            ))
            .into());
        };
        let model: ScorerModel = serde_json::from_slice(&row.params)
            .map_err(|e| UsageError(format!("scorer {id} has unreadable parameters: {e}")))?;
        model
            .validate()
            .map_err(|e| UsageError(format!("scorer {id}: {e}")))?;
        let n = activate(&mut store, id, row.version, &model, action)?;
        switched =
            Some(json!({"id": id, "version": row.version, "action": action, "images_scored": n}));
    }
    let list: Vec<Value> = store
        .scorers()?
        .into_iter()
        .map(|r| {
            let metrics: Value = r.metrics.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
            let training: Value = r.training.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
            json!({
                "id": r.id, "kind": r.kind, "version": r.version, "active": r.active, "created": r.created,
                "head": metrics["head"], "heldout_accuracy": metrics["heldout"]["accuracy"],
                "heldout_pairs": metrics["heldout"]["pairs"], "training_pairs": metrics["split"]["training_pairs"],
                "events": training["events"], "raters": training["raters"].as_array().map(Vec::len),
                "metrics": metrics, "training": training,
            })
        })
        .collect();
    let log: Vec<Value> = store
        .scorer_log()?
        .into_iter()
        .map(|l| json!({"id": l.id, "scorer": l.scorer_id, "previous": l.previous, "action": l.action, "time": l.time}))
        .collect();
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"switched": switched, "scorers": list, "log": log})
            )?
        ),
        ListFormat::Text => {
            if let Some(s) = &switched {
                println!(
                    "{} scorer {} (v{}): {} images rescored",
                    s["action"].as_str().unwrap_or(""),
                    s["id"],
                    s["version"],
                    s["images_scored"]
                );
            }
            if list.is_empty() {
                println!(
                    "no scorers yet; train one with `assay train {}`",
                    a.dir.display()
                );
            }
            println!(
                "  id  version  head    active   held-out  training  created                   events/raters"
            );
            for s in &list {
                println!(
                    "{:>4}  {:>7}  {:<6}  {:>6}  {:>9}  {:>8}  {:<24}  {}/{}",
                    s["id"].to_string(),
                    s["version"].to_string(),
                    s["head"].as_str().unwrap_or("?"),
                    if s["active"].as_bool() == Some(true) {
                        "*"
                    } else {
                        ""
                    },
                    s["heldout_accuracy"]
                        .as_f64()
                        .map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}")),
                    s["training_pairs"].to_string(),
                    s["created"].as_str().unwrap_or(""),
                    s["events"],
                    s["raters"]
                );
            }
            for l in &log {
                println!(
                    "log {}: {} scorer {} (before: {}) at {}",
                    l["id"],
                    l["action"].as_str().unwrap_or(""),
                    l["scorer"],
                    l["previous"]
                        .as_i64()
                        .map_or_else(|| "none".to_string(), |v| v.to_string()),
                    l["time"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(0)
}
