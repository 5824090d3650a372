//! The local preference scorer (the selection flywheel): learn a per-image score from the
//! collection's own labels, measure it on held-out labels, and hand back plain parameters that
//! the store versions. Pure: no SQL and no files — the CLI reads features and label events
//! through the store and writes the scorer and its `learned_preference` values back.
//!
//! - [`features`]: feature table (classical signals, embeddings), `log1p` + standardisation,
//!   mean imputation of missing values.
//! - [`labels`]: events → pairs (pairwise, best-of-N, Likert; ties as half wins), seeded splits.
//! - [`model`]: linear / MLP heads trained with burn autodiff on the Bradley–Terry loss.
//! - [`train`] ties them together: held-out split by event, validation split for early
//!   stopping, evaluation (pairwise accuracy with a bootstrap interval, Spearman against held-out
//!   Likert ratings) and a learning curve.

pub mod features;
pub mod labels;
pub mod model;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use features::{FeatureTable, Standardizer};
pub use labels::{LabeledPair, Labels, LikertRating};
pub use model::{FitOptions, Head, Layer};

use crate::ranking::correlation;

/// Key of the signal a scorer writes (registered in [`crate::signals::registry`]).
pub const SIGNAL_KEY: &str = "learned_preference";
/// `scorers.kind` of preference scorers.
pub const KIND: &str = "preference";
/// Version of the parameter format ([`ScorerModel`]).
pub const FORMAT: &str = "assay-preference/1";

/// Errors of learning.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("{0}")]
    NoLabels(String),
    #[error("{0}")]
    Invalid(String),
    #[error("training failed: {0}")]
    Backend(String),
}

/// A trained scorer: everything needed to score an image, without burn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerModel {
    pub format: String,
    pub head: Head,
    pub standardizer: Standardizer,
    pub layers: Vec<Layer>,
}

impl ScorerModel {
    /// Score of one image from its raw feature values (in [`Standardizer::names`] order).
    pub fn score(&self, raw: &[Option<f64>]) -> f64 {
        model::forward(&self.layers, &self.standardizer.apply(raw))
    }

    /// Checks that a stored scorer is well formed (format, layer shapes), so that scoring
    /// cannot index out of bounds.
    pub fn validate(&self) -> Result<(), LearnError> {
        let s = &self.standardizer;
        let d = s.names.len();
        if self.format != FORMAT {
            return Err(LearnError::Invalid(format!(
                "unknown scorer format '{}' (this build reads {FORMAT})",
                self.format
            )));
        }
        if s.log1p.len() != d || s.mean.len() != d || s.std.len() != d {
            return Err(LearnError::Invalid(
                "standardisation statistics do not match the feature list".into(),
            ));
        }
        let mut inputs = d;
        for (k, l) in self.layers.iter().enumerate() {
            let last = k + 1 == self.layers.len();
            if l.inputs != inputs
                || l.weight.len() != l.inputs * l.outputs
                || l.bias.as_ref().is_some_and(|b| b.len() != l.outputs)
                || (last && l.outputs != 1)
            {
                return Err(LearnError::Invalid(format!(
                    "layer {k} has inconsistent shapes"
                )));
            }
            inputs = l.outputs;
        }
        if self.layers.is_empty() {
            return Err(LearnError::Invalid("a scorer without layers".into()));
        }
        Ok(())
    }
}

/// Options of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub head: Head,
    /// Hidden units of the MLP head.
    pub hidden: usize,
    /// Share of label events held out for evaluation (0 = none).
    pub holdout: f64,
    /// Share of the remaining events used for early stopping (when they give ≥ 10 pairs).
    pub validation: f64,
    pub seed: u64,
    pub lr: f64,
    pub weight_decay: f64,
    pub max_epochs: usize,
    pub patience: usize,
    /// Compute the learning curve (retrains on growing subsets).
    pub curve: bool,
    /// Most pairs made from one split's Likert ratings.
    pub likert_pair_cap: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            head: Head::Linear,
            hidden: 32,
            holdout: 0.2,
            validation: 0.2,
            seed: 1,
            lr: 0.02,
            weight_decay: 1e-3,
            max_epochs: 1000,
            patience: 50,
            curve: true,
            likert_pair_cap: 20_000,
        }
    }
}

/// Pairwise accuracy of a scorer on labelled pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    /// Pairs with a winner (tie labels are not counted).
    pub pairs: usize,
    /// `mean([s(w) > s(l)] + ½[s(w) = s(l)])`.
    pub accuracy: f64,
    /// Bootstrap 95 % interval (1000 rounds over pairs).
    pub interval: Option<(f64, f64)>,
    /// Pairs the scorer did not separate.
    pub score_ties: usize,
    /// Tie labels left out.
    pub tie_labels: usize,
}

/// Spearman ρ between scores and mean held-out Likert ratings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LikertCorrelation {
    pub items: usize,
    pub rho: Option<f64>,
    /// Why ρ is missing, when it is.
    pub note: Option<String>,
}

/// One point of the learning curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub training_pairs: usize,
    pub accuracy: f64,
}

/// Counts of the data used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitCounts {
    pub events: usize,
    pub training_events: usize,
    pub validation_events: usize,
    pub heldout_events: usize,
    pub training_pairs: usize,
    pub validation_pairs: usize,
    pub heldout_pairs: usize,
    /// Labelled items that have no feature row (not in the catalogue any more): pairs with them
    /// are dropped.
    pub items_without_features: usize,
    pub dropped_pairs: usize,
}

/// Metrics of a trained scorer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub head: Head,
    pub features: usize,
    pub split: SplitCounts,
    pub epochs: usize,
    pub best_epoch: usize,
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
    pub train_accuracy: Option<Accuracy>,
    pub heldout: Option<Accuracy>,
    pub likert_spearman: Option<LikertCorrelation>,
    pub learning_curve: Vec<CurvePoint>,
    pub notes: Vec<String>,
}

/// A trained scorer and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub model: ScorerModel,
    pub report: Report,
}

/// Pairwise accuracy of `scores` on `pairs` (tie labels left out); `None` without decided pairs.
pub fn accuracy(scores: &[f64], pairs: &[LabeledPair], seed: u64) -> Option<Accuracy> {
    let decided: Vec<(f64, f64)> = pairs
        .iter()
        .filter(|p| p.target != 0.5)
        .map(|p| {
            let (w, l) = if p.target > 0.5 {
                (p.a, p.b)
            } else {
                (p.b, p.a)
            };
            (scores[w], scores[l])
        })
        .collect();
    let acc = correlation::pairwise_accuracy(&decided).ok()?;
    Some(Accuracy {
        pairs: acc.n,
        accuracy: acc.accuracy,
        interval: correlation::pairwise_accuracy_interval(&decided, 1000, seed).ok(),
        score_ties: acc.ties,
        tie_labels: pairs.len() - decided.len(),
    })
}

/// Pairs of the given events (pairwise/best-of-N as labelled, Likert ratings paired within
/// the events).
fn pairs_of(labels: &Labels, events: &[usize], cap: usize, seed: u64) -> Vec<LabeledPair> {
    let keep = |e: usize| events.binary_search(&e).is_ok();
    let mut out: Vec<LabeledPair> = labels
        .pairs
        .iter()
        .filter(|p| keep(p.event))
        .copied()
        .collect();
    let likert: Vec<&LikertRating> = labels.likert.iter().filter(|l| keep(l.event)).collect();
    out.extend(labels::likert_pairs(&likert, cap, seed));
    out
}

/// Trains a scorer from `labels` on the features of `table` (labels name items by the same
/// relative paths as `table.items`), on `device` (burn `flex` is the CPU default).
pub fn train(
    table: &FeatureTable,
    labels: &Labels,
    opts: &TrainOptions,
    device: &Device,
) -> Result<Trained, LearnError> {
    if !(0.0..1.0).contains(&opts.holdout) || !(0.0..1.0).contains(&opts.validation) {
        return Err(LearnError::Invalid(
            "holdout and validation shares must be in [0, 1)".into(),
        ));
    }
    if table.names.is_empty() {
        return Err(LearnError::Invalid("no features to learn from".into()));
    }
    let standardizer = Standardizer::fit(table);
    // Standardised rows of the labelled items, by label index; items without a row are
    // dropped with their pairs.
    let row_of: std::collections::HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut x = Vec::with_capacity(labels.items.len());
    let mut present = Vec::with_capacity(labels.items.len());
    for item in &labels.items {
        match row_of.get(item.as_str()) {
            Some(&r) => {
                x.push(standardizer.apply(&table.rows[r]));
                present.push(true);
            }
            None => {
                x.push(vec![0.0; table.names.len()]);
                present.push(false);
            }
        }
    }
    let usable = |p: &LabeledPair| present[p.a] && present[p.b];
    let events = labels.events();
    let (kept, heldout_events) = labels::split_events(&events, opts.holdout, opts.seed);
    let (fit_events, val_events) = labels::split_events(&kept, opts.validation, opts.seed ^ 0x5eed);
    let cap = opts.likert_pair_cap;
    let all_fit = pairs_of(labels, &fit_events, cap, opts.seed);
    let all_val = pairs_of(labels, &val_events, cap, opts.seed);
    let all_test = pairs_of(labels, &heldout_events, cap, opts.seed);
    let dropped = [&all_fit, &all_val, &all_test]
        .iter()
        .map(|v| v.iter().filter(|p| !usable(p)).count())
        .sum();
    let filter =
        |v: Vec<LabeledPair>| -> Vec<LabeledPair> { v.into_iter().filter(|p| usable(p)).collect() };
    let (mut fit_pairs, mut val_pairs, test_pairs) =
        (filter(all_fit), filter(all_val), filter(all_test));
    let mut notes = vec![
        "missing feature values are imputed with the collection mean (0 after standardisation)"
            .to_string(),
        "the stored parameters are the model evaluated here (trained without the held-out events)"
            .to_string(),
    ];
    let mut val_events_used = val_events.len();
    if val_pairs.len() < 10 {
        if !val_pairs.is_empty() || opts.validation > 0.0 {
            notes.push(format!(
                "too few validation pairs ({}) for early stopping: trained for {} epochs on all non-held-out pairs",
                val_pairs.len(),
                opts.max_epochs
            ));
        }
        fit_pairs.append(&mut val_pairs);
        val_events_used = 0;
    }
    if fit_pairs.is_empty() {
        return Err(LearnError::NoLabels(format!(
            "no training pairs: {} labelled events ({} held out), {} pairs dropped for items without features",
            events.len(),
            heldout_events.len(),
            dropped
        )));
    }
    let fit_opts = FitOptions {
        head: opts.head,
        hidden: opts.hidden,
        lr: opts.lr,
        weight_decay: opts.weight_decay,
        max_epochs: opts.max_epochs,
        patience: opts.patience,
        seed: opts.seed,
    };
    let fitted = model::fit(&x, &fit_pairs, &val_pairs, &fit_opts, device)?;
    let scores: Vec<f64> = x
        .iter()
        .map(|r| model::forward(&fitted.layers, r))
        .collect();
    let heldout = accuracy(&scores, &test_pairs, opts.seed);
    if test_pairs.is_empty() {
        notes.push("no held-out pairs: raise --holdout or add labels".to_string());
    }

    // Spearman against held-out Likert ratings (mean per item).
    let likert_spearman = {
        let mut by_item: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
        for l in labels
            .likert
            .iter()
            .filter(|l| heldout_events.binary_search(&l.event).is_ok() && present[l.item])
        {
            let e = by_item.entry(l.item).or_default();
            e.0 += l.rating;
            e.1 += 1;
        }
        (!by_item.is_empty()).then(|| {
            let s: Vec<f64> = by_item.keys().map(|&i| scores[i]).collect();
            let r: Vec<f64> = by_item.values().map(|(t, c)| t / *c as f64).collect();
            match correlation::spearman(&s, &r) {
                Ok(rho) => LikertCorrelation {
                    items: s.len(),
                    rho: Some(rho),
                    note: None,
                },
                Err(e) => LikertCorrelation {
                    items: s.len(),
                    rho: None,
                    note: Some(e.to_string()),
                },
            }
        })
    };

    // Learning curve: the same training on the first k pairs of a seeded shuffle.
    let mut learning_curve = Vec::new();
    if opts.curve && !test_pairs.is_empty() {
        let mut order = fit_pairs.clone();
        let mut rng = crate::ranking::rng::Rng::new(opts.seed ^ 0xc0ffee);
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut sizes: Vec<usize> = [10usize, 20, 50, 100, 200, 500, 1000, 2000, 5000]
            .into_iter()
            .filter(|&k| k < order.len())
            .collect();
        sizes.push(order.len());
        for k in sizes {
            let acc = if k == order.len() {
                heldout.as_ref().map(|a| a.accuracy)
            } else {
                let f = model::fit(&x, &order[..k], &val_pairs, &fit_opts, device)?;
                let s: Vec<f64> = x.iter().map(|r| model::forward(&f.layers, r)).collect();
                accuracy(&s, &test_pairs, opts.seed).map(|a| a.accuracy)
            };
            if let Some(accuracy) = acc {
                learning_curve.push(CurvePoint {
                    training_pairs: k,
                    accuracy,
                });
            }
        }
    }

    let report = Report {
        head: opts.head,
        features: table.names.len(),
        split: SplitCounts {
            events: events.len(),
            training_events: fit_events.len() + val_events.len() - val_events_used,
            validation_events: val_events_used,
            heldout_events: heldout_events.len(),
            training_pairs: fit_pairs.len(),
            validation_pairs: val_pairs.len(),
            heldout_pairs: test_pairs.len(),
            items_without_features: present.iter().filter(|p| !**p).count(),
            dropped_pairs: dropped,
        },
        epochs: fitted.epochs,
        best_epoch: fitted.best_epoch,
        train_loss: fitted.train_loss,
        validation_loss: fitted.validation_loss,
        train_accuracy: accuracy(&scores, &fit_pairs, opts.seed),
        heldout,
        likert_spearman,
        learning_curve,
        notes,
    };
    Ok(Trained {
        model: ScorerModel {
            format: FORMAT.to_string(),
            head: opts.head,
            standardizer,
            layers: fitted.layers,
        },
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rng::Rng;

    /// 40 items with 3 features; the truth prefers feature 0 and dislikes feature 1. One
    /// labelled item ("ghost") has no feature row.
    fn data() -> (FeatureTable, Labels) {
        let mut rng = Rng::new(9);
        let mut table = FeatureTable::new(vec!["f0".into(), "f1".into(), "f2".into()]);
        let mut truth = Vec::new();
        for i in 0..40 {
            let row: Vec<f64> = (0..3).map(|_| rng.next_f64() * 10.0).collect();
            truth.push(row[0] - row[1]);
            table.items.push(format!("i{i:02}"));
            table.rows.push(row.into_iter().map(Some).collect());
        }
        table.rows[3][2] = None; // a missing value: imputed
        let mut items = table.items.clone();
        items.push("ghost".into());
        let mut pairs = Vec::new();
        for k in 0..300 {
            let (a, b) = (rng.below(41), rng.below(41));
            if a == b {
                continue;
            }
            let ta = truth.get(a).copied().unwrap_or(0.0);
            let tb = truth.get(b).copied().unwrap_or(0.0);
            let target = if ta > tb { 1.0 } else { 0.0 };
            pairs.push(LabeledPair {
                a,
                b,
                target,
                event: k,
            });
        }
        let likert = (0..40)
            .map(|i| LikertRating {
                item: i,
                rating: (truth[i] / 4.0).round().clamp(-2.0, 2.0) + 3.0,
                rater: "r".into(),
                event: 1000 + i,
            })
            .collect();
        (
            table,
            Labels {
                items,
                pairs,
                likert,
            },
        )
    }

    #[test]
    fn trains_evaluates_and_reports_the_split() {
        let (table, labels) = data();
        let opts = TrainOptions {
            holdout: 0.25,
            ..TrainOptions::default()
        };
        let t = train(&table, &labels, &opts, &Device::flex()).unwrap();
        let r = &t.report;
        assert_eq!(r.split.items_without_features, 1);
        assert!(
            r.split.dropped_pairs > 0,
            "pairs with the ghost item are dropped"
        );
        assert_eq!(
            r.split.training_events + r.split.validation_events + r.split.heldout_events,
            r.split.events
        );
        assert_eq!(
            r.split.heldout_events,
            (r.split.events as f64 * 0.25).round() as usize
        );
        let held = r.heldout.as_ref().unwrap();
        assert!(held.accuracy > 0.9, "{held:?}");
        let (lo, hi) = held.interval.unwrap();
        assert!(lo <= held.accuracy && held.accuracy <= hi);
        let rho = r.likert_spearman.as_ref().unwrap().rho.unwrap();
        assert!(rho > 0.7, "Spearman vs held-out Likert {rho}");
        assert!(r.learning_curve.len() >= 3);
        assert!(r.validation_loss.is_some() && r.best_epoch <= r.epochs);
        // The stored form scores like the trained one and survives JSON.
        t.model.validate().unwrap();
        let json = serde_json::to_vec(&t.model).unwrap();
        let back: ScorerModel = serde_json::from_slice(&json).unwrap();
        assert!((back.score(&table.rows[0]) - t.model.score(&table.rows[0])).abs() < 1e-9);
        let best = (0..40)
            .max_by(|&i, &j| {
                t.model
                    .score(&table.rows[i])
                    .total_cmp(&t.model.score(&table.rows[j]))
            })
            .unwrap();
        let v = &table.rows[best];
        assert!(
            v[0].unwrap() - v[1].unwrap() > 3.0,
            "top item is a good one: {v:?}"
        );
    }

    #[test]
    fn bad_inputs_and_broken_models_are_errors() {
        let (table, labels) = data();
        let opts = TrainOptions::default();
        assert!(matches!(
            train(&table, &Labels::default(), &opts, &Device::flex()),
            Err(LearnError::NoLabels(_))
        ));
        let bad = TrainOptions {
            holdout: 1.0,
            ..TrainOptions::default()
        };
        assert!(matches!(
            train(&table, &labels, &bad, &Device::flex()),
            Err(LearnError::Invalid(_))
        ));
        assert!(train(&FeatureTable::default(), &labels, &opts, &Device::flex()).is_err());

        let t = train(
            &table,
            &labels,
            &TrainOptions {
                curve: false,
                ..opts
            },
            &Device::flex(),
        )
        .unwrap();
        let mut broken = t.model.clone();
        broken.layers[0].weight.pop();
        assert!(broken.validate().is_err());
        let mut other = t.model.clone();
        other.format = "something/9".into();
        assert!(other.validate().is_err());
    }
}
