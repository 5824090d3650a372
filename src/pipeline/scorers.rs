//! The typed reports of the preference-scorer use-cases of [`super::preference`] and
//! [`super::finetune`]: `assay train` (with or without `--from-aesthetic`) and `assay scorers`
//! (the versions with their stored metrics and the activation log, after an optional activate or
//! rollback). Their JSON (through `serde_json::Value`, keys sorted) is the CLI's `--format json`.

use serde::Serialize;
use serde_json::Value;

use super::clip::ClipOptions;
use super::finetune::{self, FinetuneRequest};
use super::preference::{self, PreferenceError, Switched, TrainRequest, TrainingSummary};
use crate::learn::Report;
use crate::store::{ScorerLogRow, ScorerRow, Store};

type Result<T> = std::result::Result<T, PreferenceError>;

/// A stored scorer after training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorerState {
    pub id: i64,
    pub version: i64,
    pub active: bool,
    /// Images scored when it was activated.
    pub images_scored: Option<usize>,
}

/// What `assay train` stored: the scorer, its training data and metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub scorer: ScorerState,
    pub training: TrainingSummary,
    pub metrics: Report,
}

/// Trains a scorer on the catalogue's labels, stores it and (unless asked not to) activates it.
pub fn train(store: &mut Store, req: &TrainRequest) -> Result<TrainReport> {
    let out = preference::train_and_store(store, req)?;
    Ok(TrainReport {
        scorer: ScorerState {
            id: out.id,
            version: out.version,
            active: out.images_scored.is_some(),
            images_scored: out.images_scored,
        },
        training: out.fitted.training,
        metrics: out.fitted.report,
    })
}

/// A stored fine-tuned scorer, with why it was not activated when it was not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinetunedScorer {
    #[serde(flatten)]
    pub state: ScorerState,
    pub not_activated: Option<String>,
}

/// What `assay train --from-aesthetic` stored (`metrics.comparison` compares it with the
/// general head and a head from scratch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinetuneReport {
    pub scorer: FinetunedScorer,
    pub training: TrainingSummary,
    pub metrics: Report,
}

/// Fine-tunes the general aesthetic head found through `clip` on the labels, stores it and
/// activates it when it beats the general head (or when asked to anyway).
pub fn train_from_aesthetic(
    store: &mut Store,
    req: &FinetuneRequest,
    clip: &ClipOptions,
) -> Result<FinetuneReport> {
    let base = finetune::discover_base(clip)?;
    let out = finetune::finetune_and_store(store, req, &base)?;
    Ok(FinetuneReport {
        scorer: FinetunedScorer {
            state: ScorerState {
                id: out.id,
                version: out.version,
                active: out.images_scored.is_some(),
                images_scored: out.images_scored,
            },
            not_activated: out.not_activated,
        },
        training: out.fitted.training,
        metrics: out.fitted.report,
    })
}

/// What `assay scorers` does before listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScorersAction {
    List,
    /// Make this scorer the active one (rescoring every image).
    Activate(i64),
    /// Go back to the scorer that was active before the current one.
    Rollback,
}

/// One stored scorer with the headline numbers of its stored metrics and training data (kept
/// as stored JSON: scorers of every version are listed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorerListing {
    pub id: i64,
    pub kind: String,
    pub version: i64,
    pub active: bool,
    pub created: String,
    pub head: Value,
    pub accuracy: Value,
    pub accuracy_source: Value,
    pub accuracy_pairs: Value,
    pub training_pairs: Value,
    pub events: Value,
    pub raters: Option<usize>,
    pub metrics: Value,
    pub training: Value,
}

impl ScorerListing {
    /// The listing of a stored scorer (unreadable JSON reads as null).
    pub fn of(r: ScorerRow) -> Self {
        let parse = |s: Option<&str>| {
            s.and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null)
        };
        let metrics: Value = parse(r.metrics.as_deref());
        let training: Value = parse(r.training.as_deref());
        let head = metrics["chosen"]["head"].clone();
        let head = if head.is_null() {
            metrics["head"].clone()
        } else {
            head
        };
        let h = preference::headline(&metrics);
        Self {
            id: r.id,
            kind: r.kind,
            version: r.version,
            active: r.active,
            created: r.created,
            head,
            accuracy: h["accuracy"].clone(),
            accuracy_source: h["source"].clone(),
            accuracy_pairs: h["pairs"].clone(),
            training_pairs: metrics["split"]["training_pairs"].clone(),
            events: training["events"].clone(),
            raters: training["raters"].as_array().map(Vec::len),
            metrics,
            training,
        }
    }
}

/// One entry of the activation log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub id: i64,
    pub scorer: i64,
    pub previous: Option<i64>,
    pub action: String,
    pub time: String,
}

impl From<ScorerLogRow> for LogEntry {
    fn from(l: ScorerLogRow) -> Self {
        Self {
            id: l.id,
            scorer: l.scorer_id,
            previous: l.previous,
            action: l.action,
            time: l.time,
        }
    }
}

/// The scorers after `assay scorers` (with the switch it made, if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorersReport {
    pub switched: Option<Switched>,
    pub scorers: Vec<ScorerListing>,
    pub log: Vec<LogEntry>,
}

/// Activates or rolls back as asked, then lists the scorers and the activation log.
pub fn scorers(store: &mut Store, action: ScorersAction) -> Result<ScorersReport> {
    let switched = match action {
        ScorersAction::List => None,
        ScorersAction::Activate(id) => Some(preference::activate(store, id)?),
        ScorersAction::Rollback => Some(preference::rollback(store)?),
    };
    Ok(ScorersReport {
        switched,
        scorers: store
            .scorers()?
            .into_iter()
            .map(ScorerListing::of)
            .collect(),
        log: store
            .scorer_log()?
            .into_iter()
            .map(LogEntry::from)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scorers_lists_nothing_and_refuses_unknown_ids() {
        let mut s = Store::open_in_memory().unwrap();
        let r = scorers(&mut s, ScorersAction::List).unwrap();
        assert!(r.switched.is_none() && r.scorers.is_empty() && r.log.is_empty());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["switched"], Value::Null);
        let e = scorers(&mut s, ScorersAction::Activate(7)).unwrap_err();
        assert_eq!(e.to_string(), "no scorer with id 7");
        assert!(scorers(&mut s, ScorersAction::Rollback).is_err());
    }

    #[test]
    fn listing_reads_old_and_new_metrics() {
        let row = |metrics: &str| ScorerRow {
            id: 1,
            kind: "preference".into(),
            version: 1,
            params: Vec::new(),
            training: Some(r#"{"events": 5, "raters": ["a", "b"]}"#.into()),
            metrics: Some(metrics.into()),
            active: true,
            created: "t".into(),
        };
        let new = ScorerListing::of(row(
            r#"{"chosen": {"head": "mlp"}, "estimate": {"accuracy": 0.9, "source": "cv", "pairs": 4}}"#,
        ));
        assert_eq!((new.head.as_str(), new.raters), (Some("mlp"), Some(2)));
        assert_eq!(new.accuracy, 0.9);
        let old = ScorerListing::of(row(r#"{"head": "linear", "heldout": {"accuracy": 0.8}}"#));
        assert_eq!(old.head, "linear");
        assert_eq!(old.accuracy, 0.8);
        assert_eq!(old.events, 5);
    }
}
