//! The local preference scorer (the selection flywheel): learn a per-image score from the
//! collection's own labels, estimate how well it orders unseen pairs, and hand back plain
//! parameters that the store versions. Pure: no SQL and no files — `pipeline::preference`
//! reads features and label events through the store and writes the scorer back.
//!
//! - [`features`]: feature table (signals, embeddings), `log1p` + standardisation, mean
//!   imputation, principal components of embeddings ([`features::Projection`]).
//! - [`labels`]: events → pairs (pairwise, best-of-N, Likert; ties as half wins).
//! - [`linear`]: the linear Bradley–Terry head, solved to convergence (Newton / L-BFGS, f64).
//! - [`model`]: the MLP head, trained with burn autodiff (full batch Adam, weight decay).
//! - [`cv`]: repeated k-fold cross-validation by event, model selection and learning curves
//!   over any [`cv::Candidate`].
//!
//! [`train`] uses every label: the candidates (linear head × L2 grid, MLP head × L2 grid, on
//! the signals and — when embeddings exist — on the signals plus an embedding's leading
//! principal components) are compared by the cross-validated pairwise accuracy on the same
//! folds, the best is refitted on **all** labels, and that refit is the stored scorer. The
//! report says exactly how each number was obtained ([`Report::method`]). An optional
//! `holdout` keeps a share of the events away from selection and refit, as an independent
//! check. The best linear candidate's Laplace posterior ([`Posterior`]) drives active labeling.
//!
//! # Design
//!
//! - Features: the registry's numeric quality signals (`learn::features::signal_keys`: classical,
//!   face and CLIP signals; never `learned_preference`), `log1p` on `blur_laplacian_var` and
//!   `tenengrad`, z-scores over every current image (no labels involved), missing → mean (0). Each
//!   stored embedding model can enter through its leading principal components
//!   (`features::Projection`, ranks 8 and 32, fitted on ≤ 2048 of the collection's vectors); the
//!   vectors stay f32 beside the signal rows. A scorer stores its input names, projections and
//!   statistics (`assay-preference/2`; `/1` scorers with `model[i]` inputs still score).
//! - Labels of one criterion: pairwise (tie / `both_bad` → ½), best-of-N, Likert (pairs within a
//!   rater); attention checks and the events of raters below the attention threshold are left out,
//!   as in the statistics (`--include-unreliable` keeps them).
//! - Candidates (`cv::Candidate`, the plug-in point for other model families): the linear head (`s
//!   = w·x`) × λ ∈ {1e-4 … 1} on `mean loss + λ‖w‖²` — convex, solved to convergence in f64 by
//!   Newton (L-BFGS above 256 features), equal to scikit-learn's `LogisticRegression` with `C =
//!   1/(2λn)` (reference vectors, `scripts/gen_flywheel_refs.py`) — and the MLP head (32 hidden,
//!   300 full-batch Adam epochs, weight decay ∈ {1e-3, 1e-2}, burn autodiff), on the signals and on
//!   signals + each embedding's components.
//! - Selection: 5-fold cross-validation by event, repeated twice, all candidates on the same folds;
//!   highest pooled out-of-fold pairwise accuracy (near-ties: lower log loss). The chosen candidate
//!   is refitted on every label and stored; its estimate (with a percentile-bootstrap interval over
//!   events), every candidate's estimate, the per-fold accuracies, the cross-validated learning
//!   curve and a sentence saying how they were obtained are the `metrics`. `--holdout F` keeps a
//!   share of events away from selection and refit as an independent check.
//! - Versioning: `assay train` stores a version and (unless `--no-activate`) activates it; `assay
//!   scorers --activate ID` / `--rollback` switch in one transaction with the log entry. Every scan
//!   (CLI and GUI: `pipeline::scan`) and `assay embed DIR` rescore the collection with the active
//!   scorer.
//! - Active labeling (GUI): a session starts from a scorer fitted on the labels so far (not
//!   stored), retrains every `retrain_every` labels (study setting, 25) as a stored, active
//!   version, and shows "labels so far" and the cross-validated estimate. After coverage and
//!   replication, pairwise trials are the pairs whose label tells the linear scorer's Laplace
//!   posterior most (information gain `½ ln(1 + p(1 − p)·dᵀΣd)`), weighted up to twice for pairs
//!   near the top of their group (`1 + 1/(1 + rank/k)`; `human::schedule` module docs).
//! - `assay bench flywheel`: see the closing note of issue 16 and `cli/bench_flywheel.rs`.
//! - Fine-tuning (`finetune.rs`): the aesthetic head fine-tuned on the labels (Bradley–Terry +
//!   L2-SP toward its weights, λ by cross-validation) next to the general head and a from-scratch
//!   head on the same folds (one step checked against PyTorch, `scripts/gen_finetune_refs.py`).
//!   The use-case and the LAION-layout export are `pipeline::finetune` (`assay train
//!   --from-aesthetic`, `assay scorers --export F`; `assay bench finetune` in
//!   `pipeline::finetune_bench`).

pub mod cv;
pub mod features;
pub mod finetune;
pub mod labels;
pub mod linear;
pub mod model;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use cv::{Candidate, CandidateFit, CandidateSpec, CurvePoint, CvResult};
pub use features::{FeatureTable, Projection, Standardizer};
pub use labels::{LabeledPair, Labels, LikertRating};
pub use model::{FitOptions, Head, Layer};

use crate::ranking::correlation;

/// Key of the signal a scorer writes (registered in [`crate::signals::registry`]).
pub const SIGNAL_KEY: &str = "learned_preference";
/// `scorers.kind` of preference scorers.
pub const KIND: &str = "preference";
/// Version of the parameter format written ([`ScorerModel`]); 2 added `projections`.
pub const FORMAT: &str = "assay-preference/2";
/// The format of scorers with L2-normalised embedding inputs (`normalize`, fine-tuned heads):
/// older builds must refuse them rather than score unnormalised vectors.
pub const FORMAT_NORMALIZED: &str = "assay-preference/3";
/// Formats this build reads.
pub const FORMATS_READ: [&str; 3] = ["assay-preference/1", FORMAT, FORMAT_NORMALIZED];

/// Errors of learning.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("{0}")]
    NoLabels(String),
    #[error("{0}")]
    Invalid(String),
    #[error("training failed: {0}")]
    Backend(String),
    /// Stopped by the user (`finetune::Control::cancel`); nothing was stored.
    #[error("cancelled")]
    Cancelled,
}

/// A trained scorer: everything needed to score an image, without burn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerModel {
    pub format: String,
    pub head: Head,
    /// Embedding projections whose outputs (`model:pc<k>`) are among the standardised inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projections: Vec<Projection>,
    pub standardizer: Standardizer,
    pub layers: Vec<Layer>,
    /// Embedding models whose vectors are L2-normalised (numpy's `a / ‖a‖₂`, a zero norm read
    /// as 1) before their `model[i]` inputs are read: the input of LAION aesthetic heads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub normalize: Vec<String>,
}

/// The raw inputs, in `standardizer` order, of every row of `table`: signals by key,
/// embedding dimensions `model[i]`, and projection outputs computed from the embeddings.
fn design_inputs(
    standardizer: &Standardizer,
    projections: &[Projection],
    normalize: &[String],
    table: &FeatureTable,
) -> Vec<Vec<Option<f64>>> {
    let mut rows = table.rows_for(&standardizer.names);
    for m in normalize {
        let Some(emb) = table.embedding(m) else {
            continue;
        };
        let slots: Vec<usize> = standardizer
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| features::parse_dim_name(n).is_some_and(|(model, _)| model == m))
            .map(|(k, _)| k)
            .collect();
        for (row, v) in rows.iter_mut().zip(&emb.vectors) {
            let Some(v) = v else { continue };
            let norm = crate::models::clip::aesthetic::l2_norm(v);
            for &k in &slots {
                if let Some(x) = row[k].as_mut() {
                    *x /= norm;
                }
            }
        }
    }
    for p in projections {
        let slots: Vec<Option<usize>> = p
            .names()
            .iter()
            .map(|n| standardizer.names.iter().position(|m| m == n))
            .collect();
        let emb = table.embedding(&p.model);
        for (r, row) in rows.iter_mut().enumerate() {
            let v = emb
                .and_then(|e| e.vectors.get(r))
                .and_then(Option::as_deref);
            for (slot, val) in slots.iter().zip(p.apply(v)) {
                if let Some(s) = slot {
                    row[*s] = val;
                }
            }
        }
    }
    rows
}

impl ScorerModel {
    /// Score of one image from its raw feature values (in [`Standardizer::names`] order).
    pub fn score(&self, raw: &[Option<f64>]) -> f64 {
        model::forward(&self.layers, &self.standardizer.apply(raw))
    }

    /// The raw inputs of every row of `table` (see [`ScorerModel::score`]).
    pub fn inputs(&self, table: &FeatureTable) -> Vec<Vec<Option<f64>>> {
        design_inputs(
            &self.standardizer,
            &self.projections,
            &self.normalize,
            table,
        )
    }

    /// The embedding models this scorer reads (projections, or `model[i]` inputs of format 1).
    pub fn embedding_models(&self) -> Vec<String> {
        let mut out: Vec<String> = self.projections.iter().map(|p| p.model.clone()).collect();
        for n in &self.standardizer.names {
            if let Some((m, _)) = features::parse_dim_name(n) {
                out.push(m.to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks that a stored scorer is well formed (format, layer shapes), so that scoring
    /// cannot index out of bounds.
    pub fn validate(&self) -> Result<(), LearnError> {
        let s = &self.standardizer;
        let d = s.names.len();
        if !FORMATS_READ.contains(&self.format.as_str()) {
            return Err(LearnError::Invalid(format!(
                "unknown scorer format '{}' (this build reads {})",
                self.format,
                FORMATS_READ.join(", ")
            )));
        }
        if s.log1p.len() != d || s.mean.len() != d || s.std.len() != d {
            return Err(LearnError::Invalid(
                "standardisation statistics do not match the feature list".into(),
            ));
        }
        if !self.normalize.is_empty() && self.format != FORMAT_NORMALIZED {
            return Err(LearnError::Invalid(format!(
                "normalised embedding inputs need format {FORMAT_NORMALIZED}"
            )));
        }
        if self.projections.iter().any(|p| !p.valid()) {
            return Err(LearnError::Invalid(
                "a projection has inconsistent shapes".into(),
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

/// Which heads [`train`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadChoice {
    /// Linear and MLP, chosen by cross-validation.
    #[default]
    Auto,
    Linear,
    Mlp,
}

/// The default L2 grid of the linear head (λ of `mean loss + λ‖w‖²`; scikit-learn's
/// `C = 1 / (2λn)` for n pairs).
pub const L2_GRID: [f64; 9] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0];
/// The default L2 grid of the MLP head.
pub const MLP_L2_GRID: [f64; 2] = [1e-3, 1e-2];
/// Learning-curve sizes (training events per fit).
pub const CURVE_SIZES: [usize; 8] = [25, 50, 100, 200, 400, 800, 1600, 3200];

/// Options of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub head: HeadChoice,
    /// L2 strengths tried for the linear head.
    pub l2: Vec<f64>,
    /// L2 strengths (weight decay) tried for the MLP head.
    pub mlp_l2: Vec<f64>,
    /// Hidden units of the MLP head.
    pub hidden: usize,
    /// Adam learning rate and full-batch epochs of the MLP head.
    pub lr: f64,
    pub epochs: usize,
    /// Cross-validation folds and repeats.
    pub folds: usize,
    pub repeats: usize,
    /// Share of label events kept away from selection and refit (an independent check; 0 =
    /// none, every label trains the stored scorer).
    pub holdout: f64,
    pub seed: u64,
    /// Compute the cross-validated learning curve.
    pub curve: bool,
    pub curve_sizes: Vec<usize>,
    /// Also try the signals plus each embedding model's leading principal components.
    pub embeddings: bool,
    /// Principal components tried per embedding model.
    pub pca_ranks: Vec<usize>,
    /// Most pairs made from one split's Likert ratings.
    pub likert_pair_cap: usize,
    /// Bootstrap resamples of the intervals.
    pub bootstrap: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            head: HeadChoice::Auto,
            l2: L2_GRID.to_vec(),
            mlp_l2: MLP_L2_GRID.to_vec(),
            hidden: 32,
            lr: 0.02,
            epochs: 300,
            folds: 5,
            repeats: 2,
            holdout: 0.0,
            seed: 1,
            curve: true,
            curve_sizes: CURVE_SIZES.to_vec(),
            embeddings: true,
            pca_ranks: vec![8, 32],
            likert_pair_cap: 20_000,
            bootstrap: 1000,
        }
    }
}

impl TrainOptions {
    /// Checks the options (ranges, non-empty grids).
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |m: &str| Err(LearnError::Invalid(m.to_string()));
        if !(0.0..1.0).contains(&self.holdout) {
            return bad("the holdout share must be in [0, 1)");
        }
        let positive = |v: &[f64]| v.iter().all(|x| *x > 0.0 && x.is_finite());
        if self.l2.is_empty() || !positive(&self.l2) || !positive(&self.mlp_l2) {
            return bad("L2 strengths must be positive and finite (and at least one given)");
        }
        if self.head == HeadChoice::Mlp && self.mlp_l2.is_empty() {
            return bad("the MLP head needs at least one L2 strength");
        }
        if self.folds < 2 || self.repeats == 0 {
            return bad("cross-validation needs at least 2 folds and 1 repeat");
        }
        if self.hidden == 0 || self.epochs == 0 || !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("the MLP needs hidden units, epochs and a positive learning rate");
        }
        Ok(())
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

/// The headline estimate of a scorer's pairwise accuracy on unseen labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub accuracy: f64,
    pub interval: Option<(f64, f64)>,
    /// Decided pairs it is computed from (per cross-validation repeat).
    pub pairs: usize,
    /// `cross-validation` or `holdout` (when cross-validation was impossible).
    pub source: String,
}

/// Spearman ρ between scores and mean Likert ratings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LikertCorrelation {
    pub items: usize,
    pub rho: Option<f64>,
    /// Why ρ is missing, when it is.
    pub note: Option<String>,
}

/// Counts of the data used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitCounts {
    pub events: usize,
    /// Events used for cross-validation and the final fit.
    pub training_events: usize,
    pub heldout_events: usize,
    /// Pairs of the final fit (every non-held-out usable pair).
    pub training_pairs: usize,
    pub heldout_pairs: usize,
    /// Labelled items that have no feature row (not in the catalogue any more): pairs with them
    /// are dropped.
    pub items_without_features: usize,
    pub dropped_pairs: usize,
}

/// Cross-validation settings as run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvSummary {
    pub folds: usize,
    pub repeats: usize,
    pub seed: u64,
    pub log_loss: f64,
    pub fold_accuracy: Vec<f64>,
    pub interval_method: String,
}

impl CvSummary {
    /// The settings behind the chosen candidate's result `r` on `training_events` events.
    pub(crate) fn of(r: &CvResult, opts: &TrainOptions, training_events: usize) -> Self {
        Self {
            folds: opts.folds.min(training_events),
            repeats: opts.repeats,
            seed: opts.seed,
            log_loss: r.log_loss,
            fold_accuracy: r.fold_accuracy.clone(),
            interval_method: "percentile bootstrap over labelled events of the out-of-fold results"
                .into(),
        }
    }
}

/// One compared candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateRow {
    pub spec: CandidateSpec,
    pub accuracy: Option<f64>,
    pub interval: Option<(f64, f64)>,
    pub log_loss: Option<f64>,
}

/// The final fit on all training labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitSummary {
    pub iterations: usize,
    pub converged: bool,
    pub train_loss: f64,
}

/// Metrics of a trained scorer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// How the numbers below were obtained, in words.
    pub method: String,
    pub head: Head,
    pub chosen: CandidateSpec,
    pub features: usize,
    pub feature_names: Vec<String>,
    pub split: SplitCounts,
    /// Cross-validated accuracy of the chosen candidate (or the holdout accuracy when
    /// cross-validation was impossible).
    pub estimate: Option<Estimate>,
    pub cv: Option<CvSummary>,
    pub candidates: Vec<CandidateRow>,
    /// Accuracy on the held-out events (only with `holdout > 0`).
    pub heldout: Option<Accuracy>,
    pub fit: FitSummary,
    pub train_accuracy: Option<Accuracy>,
    pub likert_spearman: Option<LikertCorrelation>,
    pub learning_curve: Vec<CurvePoint>,
    pub notes: Vec<String>,
    /// Fine-tuned scorers: the general predictor, the from-scratch head and the fine-tuned
    /// head on the same folds ([`finetune`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<finetune::Comparison>,
}

/// The Laplace posterior of the best linear candidate refitted on all training labels: the
/// mean `w` and covariance `(n·H)⁻¹` over its standardised design (see [`linear`]). Active
/// labeling scores pairs with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    pub spec: CandidateSpec,
    pub standardizer: Standardizer,
    pub projections: Vec<Projection>,
    pub w: Vec<f64>,
    /// Row-major `d × d`.
    pub cov: Vec<f64>,
}

impl Posterior {
    /// Standardised design rows of every row of `table`.
    pub fn rows(&self, table: &FeatureTable) -> Vec<Vec<f64>> {
        design_inputs(&self.standardizer, &self.projections, &[], table)
            .iter()
            .map(|r| self.standardizer.apply(r))
            .collect()
    }
}

/// A trained scorer, its report and the posterior for active labeling.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub model: ScorerModel,
    pub report: Report,
    pub posterior: Option<Posterior>,
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

/// A feature set: standardised rows of the labelled items and the transform that makes them.
pub struct Design {
    pub label: String,
    pub standardizer: Standardizer,
    pub projections: Vec<Projection>,
    /// Standardised row of each labelled item (zeros for items without features).
    pub x: Vec<Vec<f64>>,
}

impl Design {
    /// The design of `table`'s signals plus the outputs of `projections`, standardised over
    /// the collection; `rows[i]` is labelled item i's table row.
    pub fn build(
        table: &FeatureTable,
        rows: &[Option<usize>],
        projections: Vec<Projection>,
        label: String,
    ) -> Self {
        let mut names = table.names.clone();
        let mut log1p = table.log1p.clone();
        for p in &projections {
            names.extend(p.names());
            log1p.extend(std::iter::repeat_n(false, p.rank));
        }
        let unfitted = Standardizer {
            names: names.clone(),
            log1p: log1p.clone(),
            mean: vec![0.0; names.len()],
            std: vec![1.0; names.len()],
        };
        let raw = design_inputs(&unfitted, &projections, &[], table);
        let standardizer = Standardizer::fit_rows(&names, &log1p, &raw);
        let x = rows
            .iter()
            .map(|r| match r {
                Some(r) => standardizer.apply(&raw[*r]),
                None => vec![0.0; names.len()],
            })
            .collect();
        Self {
            label,
            standardizer,
            projections,
            x,
        }
    }

    fn model(&self, head: Head, layers: Vec<Layer>) -> ScorerModel {
        ScorerModel {
            format: FORMAT.to_string(),
            head,
            projections: self.projections.clone(),
            standardizer: self.standardizer.clone(),
            layers,
            normalize: Vec::new(),
        }
    }
}

/// The linear head on a design with one L2 strength.
pub struct LinearCandidate<'a> {
    pub design: &'a Design,
    pub l2: f64,
}

impl LinearCandidate<'_> {
    /// The solved weights.
    pub fn solve(&self, pairs: &[LabeledPair]) -> Result<linear::LinearFit, LearnError> {
        linear::fit(
            &self.design.x,
            pairs,
            self.l2,
            &linear::SolverOptions::default(),
        )
    }
}

impl Candidate for LinearCandidate<'_> {
    fn spec(&self) -> CandidateSpec {
        CandidateSpec {
            head: Head::Linear,
            features: self.design.label.clone(),
            l2: self.l2,
            hidden: None,
            epochs: None,
        }
    }

    fn fit(&self, pairs: &[LabeledPair]) -> Result<CandidateFit, LearnError> {
        let f = self.solve(pairs)?;
        let scores = self
            .design
            .x
            .iter()
            .map(|r| r.iter().zip(&f.w).map(|(a, b)| a * b).sum())
            .collect();
        let layer = Layer {
            inputs: f.w.len(),
            outputs: 1,
            weight: f.w.iter().map(|&v| v as f32).collect(),
            bias: None,
        };
        Ok(CandidateFit {
            scores,
            model: self.design.model(Head::Linear, vec![layer]),
            iterations: f.iterations,
            converged: f.converged,
            loss: f.loss,
        })
    }
}

/// The MLP head (burn autodiff) on a design with one weight decay.
pub struct MlpCandidate<'a> {
    pub design: &'a Design,
    pub l2: f64,
    pub hidden: usize,
    pub lr: f64,
    pub epochs: usize,
    pub seed: u64,
    pub device: &'a Device,
}

impl Candidate for MlpCandidate<'_> {
    fn spec(&self) -> CandidateSpec {
        CandidateSpec {
            head: Head::Mlp,
            features: self.design.label.clone(),
            l2: self.l2,
            hidden: Some(self.hidden),
            epochs: Some(self.epochs),
        }
    }

    fn fit(&self, pairs: &[LabeledPair]) -> Result<CandidateFit, LearnError> {
        let opts = FitOptions {
            head: Head::Mlp,
            hidden: self.hidden,
            lr: self.lr,
            weight_decay: self.l2,
            max_epochs: self.epochs,
            patience: self.epochs,
            seed: self.seed,
        };
        let f = model::fit(&self.design.x, pairs, &[], &opts, self.device)?;
        let scores = self
            .design
            .x
            .iter()
            .map(|r| model::forward(&f.layers, r))
            .collect();
        Ok(CandidateFit {
            scores,
            model: self.design.model(Head::Mlp, f.layers),
            iterations: f.epochs,
            converged: false,
            loss: f.train_loss,
        })
    }
}

/// Spearman ρ between `scores` (per labelled item, `None` = no score) and the mean Likert
/// rating of the items rated in `events`.
fn likert_correlation(
    labels: &Labels,
    events: &[usize],
    scores: &[Option<f64>],
) -> Option<LikertCorrelation> {
    let mut by_item: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for l in labels
        .likert
        .iter()
        .filter(|l| events.binary_search(&l.event).is_ok())
    {
        if scores.get(l.item).copied().flatten().is_some() {
            let e = by_item.entry(l.item).or_default();
            e.0 += l.rating;
            e.1 += 1;
        }
    }
    (!by_item.is_empty()).then(|| {
        let s: Vec<f64> = by_item.keys().filter_map(|&i| scores[i]).collect();
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
}

/// The feature sets to compare: the signals, and (with `opts.embeddings`) the signals plus
/// each embedding model's leading principal components.
fn designs(table: &FeatureTable, rows: &[Option<usize>], opts: &TrainOptions) -> Vec<Design> {
    let mut out = vec![Design::build(table, rows, Vec::new(), "signals".into())];
    if opts.embeddings {
        for e in &table.embeddings {
            for &r in &opts.pca_ranks {
                if let Some(p) = Projection::fit(e, r, opts.seed) {
                    let label = format!("signals + {} pca{}", e.model, p.rank);
                    if out.iter().any(|d| d.label == label) {
                        continue;
                    }
                    out.push(Design::build(table, rows, vec![p], label));
                }
            }
        }
    }
    out
}

/// The labelled events split into training and held-out events (`opts.holdout`), with their
/// usable pairs (shared by [`train`] and [`finetune::finetune`]).
pub(crate) struct EventSplit<'a> {
    pub data: cv::PairData<'a>,
    pub events: Vec<usize>,
    pub kept: Vec<usize>,
    pub heldout: Vec<usize>,
    pub train_pairs: Vec<LabeledPair>,
    pub test_pairs: Vec<LabeledPair>,
    /// Pairs dropped for items without features.
    pub dropped: usize,
}

impl<'a> EventSplit<'a> {
    pub(crate) fn new(labels: &'a Labels, usable: Vec<bool>, opts: &TrainOptions) -> Self {
        let data = cv::PairData {
            labels,
            usable,
            likert_pair_cap: opts.likert_pair_cap,
            seed: opts.seed,
        };
        let events = labels.events();
        let (kept, heldout) = labels::split_events(&events, opts.holdout, opts.seed);
        let train_pairs = data.pairs(&kept);
        let test_pairs = data.pairs(&heldout);
        let dropped = data.all_pairs_count(&kept) + data.all_pairs_count(&heldout)
            - train_pairs.len()
            - test_pairs.len();
        Self {
            data,
            events,
            kept,
            heldout,
            train_pairs,
            test_pairs,
            dropped,
        }
    }
}

/// Trains a scorer from `labels` on the features of `table` (labels name items by the same
/// relative paths as `table.items`); the MLP head runs on `device` (burn `flex` is the CPU
/// default). See the module docs for the procedure.
pub fn train(
    table: &FeatureTable,
    labels: &Labels,
    opts: &TrainOptions,
    device: &Device,
) -> Result<Trained, LearnError> {
    opts.validate()?;
    if table.names.is_empty() && table.embeddings.is_empty() {
        return Err(LearnError::Invalid("no features to learn from".into()));
    }
    let rows = label_rows(table, labels);
    let split = EventSplit::new(labels, rows.iter().map(Option::is_some).collect(), opts);
    if split.train_pairs.is_empty() {
        return Err(LearnError::NoLabels(format!(
            "no training pairs: {} labelled events ({} held out), {} pairs dropped for items without features",
            split.events.len(),
            split.heldout.len(),
            split.dropped
        )));
    }

    let designs = designs(table, &rows, opts);
    let linear = linear_candidates(&designs, opts);
    let mlp = mlp_candidates(&designs, opts, device);
    let candidates = candidate_refs(&linear, &mlp, opts);

    let splits = cv::splits(&split.kept, opts.folds, opts.repeats, opts.seed);
    let cv_opts = cv::CvOptions {
        bootstrap: opts.bootstrap,
        seed: opts.seed,
    };
    let mut notes = vec![
        "missing feature values are imputed with the collection mean (0 after standardisation)"
            .to_string(),
    ];
    let selection = if splits.is_empty() {
        None
    } else {
        cv::select(&candidates, &split.data, &splits, &cv_opts).ok()
    };
    let chosen = chosen_candidate(selection.as_ref(), &candidates, opts, &mut notes);
    let cand = candidates[chosen];
    let final_fit = cand.fit(&split.train_pairs)?;
    let heldout = accuracy(&final_fit.scores, &split.test_pairs, opts.seed);
    let chosen_cv = selection.as_ref().and_then(|s| s.results[chosen].clone());
    let estimate = headline_estimate(chosen_cv.as_ref(), heldout.as_ref());
    let candidate_rows = candidate_rows(&candidates, selection.as_ref());
    let learning_curve = match (&selection, opts.curve) {
        (Some(_), true) => {
            chosen_learning_curve(cand, &split.data, &splits, opts, chosen_cv.as_ref())
        }
        _ => Vec::new(),
    };
    let likert_spearman = match &chosen_cv {
        Some(r) => likert_correlation(labels, &split.kept, &r.oof_scores),
        None => {
            let s: Vec<Option<f64>> = final_fit.scores.iter().copied().map(Some).collect();
            likert_correlation(labels, &split.heldout, &s)
        }
    };
    let posterior = best_linear(selection.as_ref(), chosen, linear.len(), opts)
        .and_then(|i| linear_posterior(&linear[i], &split.train_pairs));

    let spec = cand.spec();
    let method = method_text(
        &split,
        opts,
        &spec,
        candidates.len(),
        designs.len(),
        selection.is_some(),
    );
    if !final_fit.converged && spec.head == Head::Linear {
        notes.push(format!(
            "the final linear fit stopped after {} iterations before its gradient reached the tolerance",
            final_fit.iterations
        ));
    }
    let design = designs
        .iter()
        .find(|d| d.label == spec.features)
        .unwrap_or(&designs[0]);
    let report = Report {
        method,
        head: spec.head,
        chosen: spec.clone(),
        features: design.standardizer.names.len(),
        feature_names: design.standardizer.names.clone(),
        split: SplitCounts {
            events: split.events.len(),
            training_events: split.kept.len(),
            heldout_events: split.heldout.len(),
            training_pairs: split.train_pairs.len(),
            heldout_pairs: split.test_pairs.len(),
            items_without_features: rows.iter().filter(|r| r.is_none()).count(),
            dropped_pairs: split.dropped,
        },
        estimate,
        cv: chosen_cv
            .as_ref()
            .map(|r| CvSummary::of(r, opts, split.kept.len())),
        candidates: candidate_rows,
        heldout,
        fit: FitSummary {
            iterations: final_fit.iterations,
            converged: final_fit.converged,
            train_loss: final_fit.loss,
        },
        train_accuracy: accuracy(&final_fit.scores, &split.train_pairs, opts.seed),
        likert_spearman,
        learning_curve,
        notes,
        comparison: None,
    };
    Ok(Trained {
        model: final_fit.model,
        report,
        posterior,
    })
}

/// The feature-table row of every labelled item (`None`: the item has no features).
fn label_rows(table: &FeatureTable, labels: &Labels) -> Vec<Option<usize>> {
    let row_of: std::collections::HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    labels
        .items
        .iter()
        .map(|i| row_of.get(i.as_str()).copied())
        .collect()
}

/// The linear head × every `opts.l2` on every design.
fn linear_candidates<'a>(designs: &'a [Design], opts: &TrainOptions) -> Vec<LinearCandidate<'a>> {
    designs
        .iter()
        .flat_map(|d| {
            opts.l2
                .iter()
                .map(move |&l2| LinearCandidate { design: d, l2 })
        })
        .collect()
}

/// The MLP head × every `opts.mlp_l2` on every design (none with `--head linear`).
fn mlp_candidates<'a>(
    designs: &'a [Design],
    opts: &TrainOptions,
    device: &'a Device,
) -> Vec<MlpCandidate<'a>> {
    if opts.head == HeadChoice::Linear {
        return Vec::new();
    }
    designs
        .iter()
        .flat_map(|d| {
            opts.mlp_l2.iter().map(move |&l2| MlpCandidate {
                design: d,
                l2,
                hidden: opts.hidden,
                lr: opts.lr,
                epochs: opts.epochs,
                seed: opts.seed,
                device,
            })
        })
        .collect()
}

/// The candidates compared: the linear ones (unless `--head mlp`), then the MLP ones.
fn candidate_refs<'a>(
    linear: &'a [LinearCandidate<'a>],
    mlp: &'a [MlpCandidate<'a>],
    opts: &TrainOptions,
) -> Vec<&'a dyn Candidate> {
    let mut candidates: Vec<&dyn Candidate> = Vec::new();
    if opts.head != HeadChoice::Mlp {
        candidates.extend(linear.iter().map(|c| c as &dyn Candidate));
    }
    candidates.extend(mlp.iter().map(|c| c as &dyn Candidate));
    candidates
}

/// Index of the candidate to refit: the selected one, or without cross-validation the middle
/// of the linear grid on the signals (or the first candidate), noted in `notes`.
fn chosen_candidate(
    selection: Option<&cv::Selection>,
    candidates: &[&dyn Candidate],
    opts: &TrainOptions,
    notes: &mut Vec<String>,
) -> usize {
    if let Some(s) = selection {
        return s.chosen;
    }
    let k = if opts.head == HeadChoice::Mlp {
        0
    } else {
        opts.l2.len() / 2
    };
    notes.push(format!(
        "too few labels for cross-validation: no estimate; {} was fitted without selection",
        candidates[k].spec().describe()
    ));
    k
}

/// The headline estimate: the chosen candidate's cross-validation, else the holdout accuracy.
fn headline_estimate(chosen_cv: Option<&CvResult>, heldout: Option<&Accuracy>) -> Option<Estimate> {
    match (chosen_cv, heldout) {
        (Some(r), _) => Some(Estimate {
            accuracy: r.accuracy,
            interval: r.interval,
            pairs: r.pairs,
            source: "cross-validation".into(),
        }),
        (None, Some(h)) => Some(Estimate {
            accuracy: h.accuracy,
            interval: h.interval,
            pairs: h.pairs,
            source: "holdout".into(),
        }),
        (None, None) => None,
    }
}

/// Every candidate's cross-validated estimate, in candidate order.
fn candidate_rows(
    candidates: &[&dyn Candidate],
    selection: Option<&cv::Selection>,
) -> Vec<CandidateRow> {
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = selection.and_then(|s| s.results[i].as_ref());
            CandidateRow {
                spec: c.spec(),
                accuracy: r.map(|r| r.accuracy),
                interval: r.and_then(|r| r.interval),
                log_loss: r.map(|r| r.log_loss),
            }
        })
        .collect()
}

/// The cross-validated learning curve of the chosen candidate at `opts.curve_sizes` below the
/// full training size, and the full size (whose accuracy is the estimate itself).
fn chosen_learning_curve(
    cand: &dyn Candidate,
    data: &cv::PairData<'_>,
    splits: &[Vec<cv::Split>],
    opts: &TrainOptions,
    chosen_cv: Option<&CvResult>,
) -> Vec<CurvePoint> {
    let full = splits
        .first()
        .and_then(|r| r.first())
        .map_or(0, |s| s.train.len());
    let sizes = curve_sizes(opts, full);
    let mut curve = cv::learning_curve(cand, data, splits, &sizes, opts.seed);
    // The full-size point is the estimate itself (same fits); keep its exact value.
    if let (Some(last), Some(r)) = (curve.last_mut(), chosen_cv)
        && last.training_events == full
    {
        last.accuracy = r.accuracy;
    }
    curve
}

/// The learning-curve sizes: `opts.curve_sizes` below `full` training events, then `full`.
pub(crate) fn curve_sizes(opts: &TrainOptions, full: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = opts
        .curve_sizes
        .iter()
        .copied()
        .filter(|&s| s < full)
        .collect();
    sizes.push(full);
    sizes
}

/// Index (among the linear candidates) of the best linear candidate, whose posterior drives
/// active labeling: the best cross-validated one, or the chosen one without selection.
fn best_linear(
    selection: Option<&cv::Selection>,
    chosen: usize,
    linear: usize,
    opts: &TrainOptions,
) -> Option<usize> {
    match selection {
        Some(s) => {
            let lin: Vec<Option<CvResult>> = s.results[..if opts.head == HeadChoice::Mlp {
                0
            } else {
                linear
            }]
                .to_vec();
            cv::best(&lin)
        }
        None if opts.head != HeadChoice::Mlp => Some(chosen),
        None => None,
    }
}

/// The Laplace posterior of the linear candidate `c` refitted on `pairs`.
fn linear_posterior(c: &LinearCandidate<'_>, pairs: &[LabeledPair]) -> Option<Posterior> {
    let f = c.solve(pairs).ok()?;
    let prec = linear::precision(&c.design.x, pairs, c.l2, &f.w);
    let cov = linear::spd_inverse(&prec, f.w.len())?;
    Some(Posterior {
        spec: c.spec(),
        standardizer: c.design.standardizer.clone(),
        projections: c.design.projections.clone(),
        w: f.w,
        cov,
    })
}

/// [`Report::method`]: how the estimate and the stored scorer were obtained, in words.
fn method_text(
    split: &EventSplit<'_>,
    opts: &TrainOptions,
    spec: &CandidateSpec,
    candidates: usize,
    designs: usize,
    cross_validated: bool,
) -> String {
    let heldout_events = &split.heldout;
    if cross_validated {
        format!(
            "{} candidates ({}) compared by {}-fold cross-validation over labelled events, repeated {} times (seed {}), on the same folds; the estimate is the chosen candidate's pooled out-of-fold pairwise accuracy on decided pairs, with a 95 % percentile-bootstrap interval over events ({} resamples; it ignores training-set variance and is slightly optimistic after choosing the best of {}). The stored scorer is the chosen candidate ({}) refitted on all {} training events ({} pairs){}.",
            candidates,
            candidate_summary(opts, designs),
            opts.folds.min(split.kept.len()),
            opts.repeats,
            opts.seed,
            opts.bootstrap,
            candidates,
            spec.describe(),
            split.kept.len(),
            split.train_pairs.len(),
            if heldout_events.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} events ({} pairs) were held out from selection and refit and give the `heldout` accuracy",
                    heldout_events.len(),
                    split.test_pairs.len()
                )
            }
        )
    } else {
        format!(
            "no cross-validation (too few labelled events with decided pairs); {} fitted on all {} training events{}.",
            spec.describe(),
            split.kept.len(),
            if heldout_events.is_empty() {
                String::new()
            } else {
                format!(
                    "; the estimate is the accuracy on {} held-out events",
                    heldout_events.len()
                )
            }
        )
    }
}

fn candidate_summary(opts: &TrainOptions, designs: usize) -> String {
    let mut parts = Vec::new();
    if opts.head != HeadChoice::Mlp {
        parts.push(format!("linear head × λ in {:?}", opts.l2));
    }
    if opts.head != HeadChoice::Linear {
        parts.push(format!(
            "MLP head ({} hidden, {} epochs) × λ in {:?}",
            opts.hidden, opts.epochs, opts.mlp_l2
        ));
    }
    format!("{} on {designs} feature set(s)", parts.join(", "))
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

    fn linear_only() -> TrainOptions {
        TrainOptions {
            head: HeadChoice::Linear,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn cross_validates_selects_and_refits_on_every_label() {
        let (table, labels) = data();
        let t = train(&table, &labels, &linear_only(), &Device::flex()).unwrap();
        let r = &t.report;
        assert_eq!(r.split.items_without_features, 1);
        assert!(
            r.split.dropped_pairs > 0,
            "pairs with the ghost item are dropped"
        );
        assert_eq!(
            r.split.training_events, r.split.events,
            "no holdout: every event trains"
        );
        assert_eq!(r.split.heldout_events, 0);
        assert!(r.heldout.is_none());
        let usable = labels.pairs.iter().filter(|p| p.a < 40 && p.b < 40).count();
        assert!(
            r.split.training_pairs >= usable,
            "the stored scorer saw every usable pair (plus Likert pairs)"
        );
        let est = r.estimate.as_ref().unwrap();
        assert_eq!(est.source, "cross-validation");
        assert!(est.accuracy > 0.9, "{est:?}");
        let (lo, hi) = est.interval.unwrap();
        assert!(lo <= est.accuracy && est.accuracy <= hi);
        assert_eq!(r.candidates.len(), L2_GRID.len());
        assert!(r.candidates.iter().all(|c| c.accuracy.is_some()));
        let best = r
            .candidates
            .iter()
            .map(|c| c.accuracy.unwrap())
            .fold(0.0, f64::max);
        assert_eq!(
            est.accuracy, best,
            "the chosen candidate has the best estimate"
        );
        assert!(r.fit.converged, "{:?} {:?}", r.fit, r.chosen);
        assert!(
            r.method.contains("5-fold cross-validation") && r.method.contains("refitted on all")
        );
        let cv = r.cv.as_ref().unwrap();
        assert_eq!(cv.fold_accuracy.len(), 10);
        let rho = r.likert_spearman.as_ref().unwrap().rho.unwrap();
        assert!(rho > 0.7, "Spearman vs Likert {rho}");
        let curve = &r.learning_curve;
        assert!(curve.len() >= 3, "{curve:?}");
        assert_eq!(curve.last().unwrap().accuracy, est.accuracy);
        assert!(
            curve
                .windows(2)
                .all(|w| w[0].training_events < w[1].training_events)
        );
        // The stored form scores like the trained one and survives JSON.
        t.model.validate().unwrap();
        assert_eq!(t.model.format, FORMAT);
        let json = serde_json::to_vec(&t.model).unwrap();
        let back: ScorerModel = serde_json::from_slice(&json).unwrap();
        let inputs = back.inputs(&table);
        assert!((back.score(&inputs[0]) - t.model.score(&table.rows[0])).abs() < 1e-9);
        let best = (0..40)
            .max_by(|&i, &j| {
                t.model
                    .score(&inputs[i])
                    .total_cmp(&t.model.score(&inputs[j]))
            })
            .unwrap();
        let v = &table.rows[best];
        assert!(
            v[0].unwrap() - v[1].unwrap() > 3.0,
            "top item is a good one: {v:?}"
        );
        // The refit is the exact optimum for the chosen λ on all pairs.
        let p = t.posterior.as_ref().unwrap();
        assert_eq!(p.spec, r.chosen);
        let w: Vec<f64> = t.model.layers[0]
            .weight
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        for (a, b) in w.iter().zip(&p.w) {
            assert!((a - b).abs() < 1e-6 * b.abs().max(1.0));
        }
        let d = p.w.len();
        assert_eq!(p.cov.len(), d * d);
        assert!((0..d).all(|i| p.cov[i * d + i] > 0.0));
        assert_eq!(p.rows(&table).len(), 40);
    }

    #[test]
    fn holdout_events_stay_out_of_the_refit() {
        let (table, labels) = data();
        let opts = TrainOptions {
            holdout: 0.25,
            curve: false,
            ..linear_only()
        };
        let t = train(&table, &labels, &opts, &Device::flex()).unwrap();
        let s = &t.report.split;
        assert_eq!(s.heldout_events, (s.events as f64 * 0.25).round() as usize);
        assert_eq!(s.training_events + s.heldout_events, s.events);
        let h = t.report.heldout.as_ref().unwrap();
        assert!(h.accuracy > 0.85, "{h:?}");
        assert!(t.report.learning_curve.is_empty());
        assert!(
            t.report
                .method
                .contains("held out from selection and refit")
        );
    }

    #[test]
    fn auto_compares_linear_and_mlp_heads() {
        let (table, labels) = data();
        let opts = TrainOptions {
            l2: vec![1e-3, 1e-1],
            mlp_l2: vec![1e-2],
            epochs: 60,
            curve: false,
            repeats: 1,
            folds: 3,
            ..TrainOptions::default()
        };
        let t = train(&table, &labels, &opts, &Device::flex()).unwrap();
        let heads: Vec<Head> = t.report.candidates.iter().map(|c| c.spec.head).collect();
        assert_eq!(heads, vec![Head::Linear, Head::Linear, Head::Mlp]);
        assert!(t.report.candidates.iter().all(|c| c.accuracy.is_some()));
        assert_eq!(t.model.head, t.report.chosen.head);
        assert!(
            t.posterior.is_some(),
            "the best linear candidate still gives a posterior"
        );
        t.model.validate().unwrap();
    }

    #[test]
    fn embeddings_enter_through_principal_components_when_they_help() {
        // Signals are noise; the truth lives in a 6-d embedding along one direction.
        let mut rng = Rng::new(3);
        let n = 80;
        let mut table = FeatureTable::new(vec!["noise".into()]);
        table.items = (0..n).map(|i| format!("i{i:02}")).collect();
        table.rows = (0..n).map(|_| vec![Some(rng.next_f64())]).collect();
        let emb: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..6).map(|_| (rng.next_f64() - 0.5) as f32).collect())
            .collect();
        let truth: Vec<f64> = emb.iter().map(|v| f64::from(v[0] + v[1])).collect();
        let mut k = 0;
        table.add_embedding("clip", 6, |_| {
            k += 1;
            Some(emb[k - 1].clone())
        });
        let mut pairs = Vec::new();
        for e in 0..240 {
            let (a, b) = (rng.below(n), rng.below(n));
            if a != b {
                pairs.push(LabeledPair {
                    a,
                    b,
                    target: if truth[a] > truth[b] { 1.0 } else { 0.0 },
                    event: e,
                });
            }
        }
        let labels = Labels {
            items: table.items.clone(),
            pairs,
            likert: vec![],
        };
        let opts = TrainOptions {
            pca_ranks: vec![6],
            curve: false,
            ..linear_only()
        };
        let t = train(&table, &labels, &opts, &Device::flex()).unwrap();
        assert_eq!(t.report.chosen.features, "signals + clip pca6");
        assert!(t.report.estimate.as_ref().unwrap().accuracy > 0.85);
        assert_eq!(t.model.projections.len(), 1);
        assert_eq!(t.model.embedding_models(), vec!["clip".to_string()]);
        // The stored model scores from the raw embedding.
        let inputs = t.model.inputs(&table);
        let s: Vec<f64> = inputs.iter().map(|r| t.model.score(r)).collect();
        let right = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|&(i, j)| truth[i] > truth[j] + 0.05)
            .filter(|&(i, j)| s[i] > s[j])
            .count();
        let all = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|&(i, j)| truth[i] > truth[j] + 0.05)
            .count();
        assert!(right as f64 / all as f64 > 0.9, "{right}/{all}");
        // Without embeddings allowed, only the signals are tried.
        let off = TrainOptions {
            embeddings: false,
            ..opts
        };
        let t = train(&table, &labels, &off, &Device::flex()).unwrap();
        assert!(
            t.report
                .candidates
                .iter()
                .all(|c| c.spec.features == "signals")
        );
    }

    #[test]
    fn format_1_scorers_still_score_from_embedding_dimensions() {
        let mut table = FeatureTable::new(vec!["a".into()]);
        table.items = vec!["x".into(), "y".into()];
        table.rows = vec![vec![Some(1.0)], vec![Some(2.0)]];
        table.add_embedding("m", 2, |i| {
            Some(if i == "x" {
                vec![1.0, 0.0]
            } else {
                vec![0.0, 3.0]
            })
        });
        let json = r#"{"format":"assay-preference/1","head":"linear",
            "standardizer":{"names":["a","m[1]"],"log1p":[false,false],"mean":[0,0],"std":[1,1]},
            "layers":[{"inputs":2,"outputs":1,"weight":[1.0,10.0],"bias":null}]}"#;
        let m: ScorerModel = serde_json::from_str(json).unwrap();
        m.validate().unwrap();
        assert_eq!(m.embedding_models(), vec!["m".to_string()]);
        let s: Vec<f64> = m.inputs(&table).iter().map(|r| m.score(r)).collect();
        assert_eq!(s, vec![1.0, 32.0]);
    }

    #[test]
    fn bad_inputs_and_broken_models_are_errors() {
        let (table, labels) = data();
        let opts = linear_only();
        assert!(matches!(
            train(&table, &Labels::default(), &opts, &Device::flex()),
            Err(LearnError::NoLabels(_))
        ));
        for bad in [
            TrainOptions {
                holdout: 1.0,
                ..linear_only()
            },
            TrainOptions {
                l2: vec![],
                ..linear_only()
            },
            TrainOptions {
                l2: vec![0.0],
                ..linear_only()
            },
            TrainOptions {
                folds: 1,
                ..linear_only()
            },
        ] {
            assert!(matches!(
                train(&table, &labels, &bad, &Device::flex()),
                Err(LearnError::Invalid(_))
            ));
        }
        assert!(train(&FeatureTable::default(), &labels, &opts, &Device::flex()).is_err());
        // One event only: no cross-validation, a fit without selection and a note.
        let few = Labels {
            pairs: labels.pairs[..1].to_vec(),
            likert: vec![],
            ..labels.clone()
        };
        let t = train(&table, &few, &opts, &Device::flex()).unwrap();
        assert!(t.report.estimate.is_none() && t.report.cv.is_none());
        assert!(
            t.report.notes.iter().any(|n| n.contains("too few labels")),
            "{:?}",
            t.report.notes
        );
        assert_eq!(t.report.chosen.l2, L2_GRID[L2_GRID.len() / 2]);

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
