//! Fine-tuning a general aesthetic predictor on the collection's own preferences, always
//! against the general predictor it starts from.
//!
//! The starting point is an affine head on L2-normalised CLIP image embeddings,
//! `s(x) = w₀·x̂ + b` ([`BaseHead`]: a LAION v1 linear head, or the v2 MLP without activations
//! collapsed to one affine map — see `models::clip::aesthetic`). Fine-tuning minimises the
//! Bradley–Terry (logistic pairwise) loss of the collection's pairwise, best-of-N and Likert
//! labels ([`super::labels`]) plus an L2-SP penalty toward the starting weights,
//!
//! `f(w) = (1/n) Σ_k −[y_k log σ(m_k) + (1 − y_k) log σ(−m_k)] + λ‖w − w₀‖²`, `m_k = w·(x̂_a − x̂_b)`,
//!
//! solved from `w₀` to convergence by [`linear::fit_toward`] (strictly convex: the minimiser is
//! unique). The bias cannot be learned from comparisons and stays `b`, so the fine-tuned scores
//! keep the general predictor's scale and offset. λ → ∞ gives back the general predictor,
//! λ → 0 a from-scratch head started at `w₀`.
//!
//! Three arms are cross-validated on the **same** folds of labelled events
//! ([`super::cv::splits`], pooled out-of-fold pairwise accuracy with a bootstrap interval over
//! events, [`super::cv::cross_validate`]):
//! - *general*: the head as it is (nothing is fitted; its out-of-fold accuracy is simply its
//!   accuracy on every fold's test pairs);
//! - *from scratch*: a linear Bradley–Terry head on the same normalised embedding, started at 0
//!   with the plain L2 penalty, λ chosen from `scratch_l2` by cross-validation;
//! - *fine-tuned*: the L2-SP fit above, λ chosen from `l2_sp` by cross-validation.
//!
//! Each chosen arm is refitted on every training label; the fine-tuned refit is the stored
//! scorer (`learned_preference` on the head's own scale). Choosing λ by the same folds that
//! report the accuracy makes both fitted arms' estimates slightly optimistic (the general
//! predictor chooses nothing); the report says so. [`Comparison::beats_general`] is true only
//! when the fine-tuned estimate is above the general predictor's; callers do not activate a
//! version that does not beat it unless asked to.
//!
//! Heads with activations (the v2 `reluMSE` MLP) are not fine-tuned here: their score is not
//! linear in a weight vector, and the caller says so.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::cv::{self, Candidate, CandidateFit, CandidateSpec, CurvePoint, CvResult};
use super::features::{FeatureTable, Standardizer};
use super::labels::{LabeledPair, Labels};
use super::model::{Head, Layer};
use super::{
    Accuracy, CandidateRow, CvSummary, Estimate, FitSummary, LearnError, Report, ScorerModel,
    SplitCounts, TrainOptions, Trained, accuracy, linear,
};

/// L2-SP strengths tried by default (λ of `mean loss + λ‖w − w₀‖²`).
pub const SP_GRID: [f64; 9] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0];
/// Plain L2 strengths of the from-scratch head on normalised embeddings (their coordinates are
/// about `1/√d`, so the useful weights are larger than on standardised signals).
pub const SCRATCH_GRID: [f64; 8] = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0];

/// An affine head on L2-normalised embeddings: `s(x) = weight·x̂ + bias`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseHead {
    /// The head's identity (file stem and size, as in the `aesthetic` producer).
    pub name: String,
    /// The embedding model (store key) the head reads.
    pub model: String,
    #[serde(skip)]
    pub weight: Vec<f64>,
    pub bias: f64,
}

impl BaseHead {
    /// The head's score of one normalised embedding.
    pub fn score(&self, x: &[f64]) -> f64 {
        self.bias + dot(&self.weight, x)
    }
}

/// numpy's `a / ‖a‖₂` with a zero norm read as 1 (the LAION heads' input; one definition,
/// the scorer's).
pub use crate::models::clip::aesthetic::normalized;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The storable scorer of an affine head on `model`'s normalised embedding (f32 weights, as
/// stored; `inputs` are `model[i]`, not standardised).
pub fn head_model(model: &str, weight: &[f64], bias: f64) -> ScorerModel {
    let names: Vec<String> = (0..weight.len()).map(|i| format!("{model}[{i}]")).collect();
    let d = names.len();
    ScorerModel {
        format: super::FORMAT_NORMALIZED.to_string(),
        head: Head::Linear,
        projections: Vec::new(),
        standardizer: Standardizer {
            names,
            log1p: vec![false; d],
            mean: vec![0.0; d],
            std: vec![1.0; d],
        },
        layers: vec![Layer {
            inputs: d,
            outputs: 1,
            weight: weight.iter().map(|&v| v as f32).collect(),
            bias: Some(vec![bias as f32]),
        }],
        normalize: vec![model.to_string()],
    }
}

/// The affine map of a scorer made by [`head_model`] (for export): `(model, weight, bias)`.
pub fn affine_of(m: &ScorerModel) -> Option<(String, Vec<f32>, f32)> {
    let [model] = m.normalize.as_slice() else {
        return None;
    };
    let [layer] = m.layers.as_slice() else {
        return None;
    };
    let plain = m.projections.is_empty()
        && m.standardizer.log1p.iter().all(|l| !l)
        && m.standardizer.mean.iter().all(|v| *v == 0.0)
        && m.standardizer.std.iter().all(|v| *v == 1.0)
        && m.standardizer
            .names
            .iter()
            .enumerate()
            .all(|(i, n)| *n == format!("{model}[{i}]"));
    (plain && layer.outputs == 1 && layer.inputs == m.standardizer.names.len()).then(|| {
        (
            model.clone(),
            layer.weight.clone(),
            layer
                .bias
                .as_ref()
                .and_then(|b| b.first().copied())
                .unwrap_or(0.0),
        )
    })
}

/// Which arm a candidate belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmKind {
    General,
    Scratch,
    Finetuned,
}

/// One arm as a cross-validation candidate on the normalised embeddings of the labelled items.
struct ArmCandidate<'a> {
    kind: ArmKind,
    x: &'a [Vec<f64>],
    base: &'a BaseHead,
    l2: f64,
    control: &'a Control,
}

impl ArmCandidate<'_> {
    fn solve(
        &self,
        pairs: &[LabeledPair],
    ) -> Result<(Vec<f64>, f64, linear::LinearFit), LearnError> {
        let center = (self.kind == ArmKind::Finetuned).then_some(self.base.weight.as_slice());
        let f = linear::fit_toward(
            self.x,
            pairs,
            self.l2,
            center,
            &linear::SolverOptions::default(),
        )?;
        let bias = if self.kind == ArmKind::Finetuned {
            self.base.bias
        } else {
            0.0
        };
        Ok((f.w.clone(), bias, f))
    }
}

impl Candidate for ArmCandidate<'_> {
    fn spec(&self) -> CandidateSpec {
        let (features, l2) = match self.kind {
            ArmKind::General => (
                format!("general {} on {}", self.base.name, self.base.model),
                0.0,
            ),
            ArmKind::Scratch => (
                format!("from scratch on {} (normalised)", self.base.model),
                self.l2,
            ),
            ArmKind::Finetuned => (
                format!(
                    "fine-tuned from {} on {} (L2-SP)",
                    self.base.name, self.base.model
                ),
                self.l2,
            ),
        };
        CandidateSpec {
            head: Head::Linear,
            features,
            l2,
            hidden: None,
            epochs: None,
        }
    }

    fn fit(&self, pairs: &[LabeledPair]) -> Result<CandidateFit, LearnError> {
        self.control.step()?;
        let (w, bias, iterations, converged, loss) = if self.kind == ArmKind::General {
            let w = self.base.weight.clone();
            let loss = pairs
                .iter()
                .map(|p| linear::pair_loss(dot(&w, &self.x[p.a]) - dot(&w, &self.x[p.b]), p.target))
                .sum::<f64>()
                / pairs.len().max(1) as f64;
            (w, self.base.bias, 0, true, loss)
        } else {
            let (w, b, f) = self.solve(pairs)?;
            (w, b, f.iterations, f.converged, f.loss)
        };
        let model = head_model(&self.base.model, &w, bias);
        // Scores exactly as the stored (f32) scorer gives them.
        let layer = &model.layers[0];
        let wf: Vec<f64> = layer.weight.iter().map(|&v| f64::from(v)).collect();
        let bf = layer.bias.as_ref().map_or(0.0, |b| f64::from(b[0]));
        let scores = self.x.iter().map(|r| bf + dot(&wf, r)).collect();
        Ok(CandidateFit {
            scores,
            model,
            iterations,
            converged,
            loss,
        })
    }
}

fn refs<'a>(v: &'a [ArmCandidate<'a>]) -> Vec<&'a dyn Candidate> {
    v.iter().map(|c| c as &dyn Candidate).collect()
}

/// One arm of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm {
    pub kind: ArmKind,
    pub spec: CandidateSpec,
    /// Pooled out-of-fold pairwise accuracy (decided pairs) on the shared folds.
    pub accuracy: f64,
    /// 95 % percentile-bootstrap interval over events.
    pub interval: Option<(f64, f64)>,
    pub log_loss: f64,
    /// Out-of-fold decided pairs per repeat.
    pub pairs: usize,
    /// Every λ tried (fitted arms).
    pub candidates: Vec<CandidateRow>,
    /// Cross-validated learning curve of the chosen λ on the same folds.
    pub learning_curve: Vec<CurvePoint>,
    /// Accuracy of the refit on the held-out events (with `holdout > 0`).
    pub heldout: Option<Accuracy>,
    /// The refit on every training label.
    #[serde(skip)]
    pub model: ScorerModel,
}

/// The general predictor, the from-scratch head and the fine-tuned head on the same labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub base: BaseHead,
    pub general: Arm,
    pub scratch: Arm,
    pub finetuned: Arm,
    /// The fine-tuned estimate is above the general predictor's.
    pub beats_general: bool,
    /// The verdict in words.
    pub verdict: String,
    /// How the numbers were obtained.
    pub method: String,
}

/// The normalised embedding of every labelled item (`None`: no feature row or no vector).
fn design(
    table: &FeatureTable,
    labels: &Labels,
    base: &BaseHead,
) -> Result<Vec<Option<Vec<f64>>>, LearnError> {
    let emb = table.embedding(&base.model).ok_or_else(|| {
        LearnError::Invalid(format!(
            "no {} embeddings in the catalogue: run `assay embed` with that model first",
            base.model
        ))
    })?;
    if emb.dim != base.weight.len() {
        return Err(LearnError::Invalid(format!(
            "the head {} reads {}-d embeddings but {} has {}",
            base.name,
            base.weight.len(),
            base.model,
            emb.dim
        )));
    }
    let row_of: std::collections::HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    Ok(labels
        .items
        .iter()
        .map(|i| {
            row_of
                .get(i.as_str())
                .and_then(|&r| emb.vectors[r].as_deref())
                .map(normalized)
        })
        .collect())
}

fn arm(
    kind: ArmKind,
    sel: &cv::Selection,
    cands: &[ArmCandidate<'_>],
    fitted: bool,
) -> Result<(usize, CvResult, Vec<CandidateRow>), LearnError> {
    let r = sel.results[sel.chosen]
        .clone()
        .ok_or_else(|| LearnError::NoLabels(format!("{kind:?}: no estimate")))?;
    let rows = if fitted {
        cands
            .iter()
            .zip(&sel.results)
            .map(|(c, r)| CandidateRow {
                spec: c.spec(),
                accuracy: r.as_ref().map(|r| r.accuracy),
                interval: r.as_ref().and_then(|r| r.interval),
                log_loss: r.as_ref().map(|r| r.log_loss),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok((sel.chosen, r, rows))
}

/// Progress and cancellation of one fine-tuning run, shared with whoever shows it (the GUI's
/// job): every fit of every arm, fold and learning-curve point counts one step; a cancelled
/// run stops at its next fit with [`LearnError::Cancelled`] and stores nothing.
#[derive(Debug, Default)]
pub struct Control {
    cancel: AtomicBool,
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Control {
    /// Asks the run to stop at its next fit.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Fits done and planned (0 planned until the folds are known).
    pub fn progress(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    fn step(&self) -> Result<(), LearnError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(LearnError::Cancelled);
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Fine-tunes `base` on `labels` (items named as in `table.items`) and compares it with the
/// general predictor and a from-scratch head on the same folds (see the module docs). `opts`
/// gives the folds, repeats, seed, bootstrap, holdout, learning-curve sizes and the Likert
/// pair cap; `l2_sp` and `scratch_l2` the λ grids. The returned scorer is the fine-tuned refit;
/// [`Report::comparison`] holds all three arms.
pub fn finetune(
    table: &FeatureTable,
    labels: &Labels,
    base: &BaseHead,
    opts: &TrainOptions,
    l2_sp: &[f64],
    scratch_l2: &[f64],
    control: &Control,
) -> Result<Trained, LearnError> {
    opts.validate()?;
    check_inputs(base, l2_sp, scratch_l2)?;
    let xs = design(table, labels, base)?;
    let d = base.weight.len();
    let usable: Vec<bool> = xs.iter().map(Option::is_some).collect();
    let x: Vec<Vec<f64>> = xs
        .into_iter()
        .map(|v| v.unwrap_or_else(|| vec![0.0; d]))
        .collect();
    let split = super::EventSplit::new(labels, usable.clone(), opts);
    let splits = cv::splits(&split.kept, opts.folds, opts.repeats, opts.seed);
    if split.train_pairs.is_empty() || splits.is_empty() {
        return Err(LearnError::NoLabels(format!(
            "too few labels to fine-tune and compare: {} events ({} held out), {} usable training pairs; the comparison with the general predictor needs cross-validation",
            split.events.len(),
            split.heldout.len(),
            split.train_pairs.len()
        )));
    }
    let cvo = cv::CvOptions {
        bootstrap: opts.bootstrap,
        seed: opts.seed,
    };
    let make = |kind: ArmKind, grid: &[f64]| -> Vec<ArmCandidate<'_>> {
        grid.iter()
            .map(|&l2| ArmCandidate {
                kind,
                x: &x,
                base,
                l2,
                control,
            })
            .collect()
    };
    let general = make(ArmKind::General, &[0.0]);
    let scratch = make(ArmKind::Scratch, scratch_l2);
    let tuned = make(ArmKind::Finetuned, l2_sp);
    let full = splits[0][0].train.len();
    let sizes = super::curve_sizes(opts, full);
    // Steps: every candidate on every split, each arm's curve, the three refits and the stored one.
    let per_split: usize = splits.iter().map(Vec::len).sum();
    let curves = if opts.curve {
        3 * sizes.len() * per_split
    } else {
        0
    };
    control.total.store(
        (general.len() + scratch.len() + tuned.len()) * per_split + curves + 4,
        Ordering::Relaxed,
    );
    // A cancelled run's fits fail fast; whatever the selection makes of that, say "cancelled".
    let checked = |r: Result<cv::Selection, LearnError>| {
        if control.cancel.load(Ordering::Relaxed) {
            return Err(LearnError::Cancelled);
        }
        r
    };
    let sel_general = checked(cv::select(&refs(&general), &split.data, &splits, &cvo))?;
    let sel_scratch = checked(cv::select(&refs(&scratch), &split.data, &splits, &cvo))?;
    let sel_tuned = checked(cv::select(&refs(&tuned), &split.data, &splits, &cvo))?;
    let folds = Folds {
        split: &split,
        splits: &splits,
        sizes: &sizes,
        full,
        opts,
    };
    let general = folds.arm(ArmKind::General, &sel_general, &general)?;
    let scratch = folds.arm(ArmKind::Scratch, &sel_scratch, &scratch)?;
    let finetuned = folds.arm(ArmKind::Finetuned, &sel_tuned, &tuned)?;
    let tuned_fit = tuned[sel_tuned.chosen].fit(&split.train_pairs)?;
    if control.cancel.load(Ordering::Relaxed) {
        return Err(LearnError::Cancelled);
    }
    let chosen_cv = sel_tuned.results[sel_tuned.chosen].clone();

    let beats_general = finetuned.accuracy > general.accuracy;
    let comparison = Comparison {
        base: base.clone(),
        verdict: verdict(&general, &scratch, &finetuned, beats_general),
        method: method_text(opts, base, &split, l2_sp, scratch_l2),
        general,
        scratch,
        finetuned,
        beats_general,
    };
    let report = report(
        &split,
        opts,
        &usable,
        &tuned_fit,
        chosen_cv.as_ref(),
        comparison,
    );
    Ok(Trained {
        model: tuned_fit.model,
        report,
        posterior: None,
    })
}

/// Refuses empty or non-positive λ grids and a base head with non-finite weights.
fn check_inputs(base: &BaseHead, l2_sp: &[f64], scratch_l2: &[f64]) -> Result<(), LearnError> {
    let positive = |v: &[f64]| !v.is_empty() && v.iter().all(|x| *x > 0.0 && x.is_finite());
    if !positive(l2_sp) || !positive(scratch_l2) {
        return Err(LearnError::Invalid(
            "L2-SP and from-scratch strengths must be positive and finite (at least one each)"
                .into(),
        ));
    }
    if base.weight.iter().any(|v| !v.is_finite()) || !base.bias.is_finite() {
        return Err(LearnError::Invalid(format!(
            "the head {} has non-finite weights",
            base.name
        )));
    }
    Ok(())
}

/// The folds and learning-curve sizes all three arms share.
struct Folds<'a> {
    split: &'a super::EventSplit<'a>,
    splits: &'a [Vec<cv::Split>],
    sizes: &'a [usize],
    /// Training events of a full split (the learning curve's last point).
    full: usize,
    opts: &'a TrainOptions,
}

impl Folds<'_> {
    /// One arm: its chosen candidate's estimate, refit on every training label (accuracy on
    /// the held-out events) and learning curve.
    fn arm(
        &self,
        kind: ArmKind,
        sel: &cv::Selection,
        cands: &[ArmCandidate<'_>],
    ) -> Result<Arm, LearnError> {
        let opts = self.opts;
        let (k, r, rows) = arm(kind, sel, cands, kind != ArmKind::General)?;
        let c = &cands[k];
        let fit = c.fit(&self.split.train_pairs)?;
        let mut curve = if opts.curve {
            cv::learning_curve(c, &self.split.data, self.splits, self.sizes, opts.seed)
        } else {
            Vec::new()
        };
        if let Some(last) = curve.last_mut()
            && last.training_events == self.full
        {
            last.accuracy = r.accuracy;
        }
        Ok(Arm {
            kind,
            spec: c.spec(),
            accuracy: r.accuracy,
            interval: r.interval,
            log_loss: r.log_loss,
            pairs: r.pairs,
            candidates: rows,
            learning_curve: curve,
            heldout: accuracy(&fit.scores, &self.split.test_pairs, opts.seed),
            model: fit.model,
        })
    }
}

/// [`Comparison::verdict`]: whether the fine-tuned head beats the general predictor, in words.
fn verdict(general: &Arm, scratch: &Arm, finetuned: &Arm, beats_general: bool) -> String {
    let pct = |a: f64| format!("{:.1} %", 100.0 * a);
    if beats_general {
        format!(
            "the fine-tuned head agrees with held-out labels more often than the general predictor ({} vs {}, from scratch {})",
            pct(finetuned.accuracy),
            pct(general.accuracy),
            pct(scratch.accuracy)
        )
    } else {
        format!(
            "the fine-tuned head does not beat the general predictor ({} vs {}, from scratch {}): keep using `aesthetic`; this version is not activated unless asked",
            pct(finetuned.accuracy),
            pct(general.accuracy),
            pct(scratch.accuracy)
        )
    }
}

/// [`Comparison::method`]: how the three arms were compared, in words.
fn method_text(
    opts: &TrainOptions,
    base: &BaseHead,
    split: &super::EventSplit<'_>,
    l2_sp: &[f64],
    scratch_l2: &[f64],
) -> String {
    format!(
        "{}-fold cross-validation over labelled events, repeated {} times (seed {}), the same folds for all three arms: the general predictor {} as it is; a linear Bradley–Terry head from scratch on the L2-normalised {} embedding (λ in {:?}); the head fine-tuned from its weights with the Bradley–Terry loss plus λ‖w − w₀‖² (L2-SP, λ in {:?}). Each estimate is the pooled out-of-fold pairwise accuracy on decided pairs with a 95 % percentile-bootstrap interval over events ({} resamples); choosing λ on the same folds makes the two fitted arms slightly optimistic. The stored scorer is the fine-tuned head with the chosen λ refitted on all {} training events ({} pairs); its bias is the general head's, so `learned_preference` stays on the `aesthetic` scale.",
        opts.folds.min(split.kept.len()),
        opts.repeats,
        opts.seed,
        base.name,
        base.model,
        scratch_l2,
        l2_sp,
        opts.bootstrap,
        split.kept.len(),
        split.train_pairs.len()
    )
}

/// The fine-tuned scorer's [`Report`]: the fine-tuned arm's numbers, the stored refit
/// `tuned_fit`, and the whole `comparison`.
fn report(
    split: &super::EventSplit<'_>,
    opts: &TrainOptions,
    usable: &[bool],
    tuned_fit: &CandidateFit,
    chosen_cv: Option<&CvResult>,
    comparison: Comparison,
) -> Report {
    let finetuned = &comparison.finetuned;
    let d = comparison.base.weight.len();
    let mut notes = vec![comparison.verdict.clone()];
    if !tuned_fit.converged {
        notes.push(format!(
            "the final fit stopped after {} iterations before its gradient reached the tolerance",
            tuned_fit.iterations
        ));
    }
    Report {
        method: comparison.method.clone(),
        head: Head::Linear,
        chosen: finetuned.spec.clone(),
        features: d,
        feature_names: vec![format!("{}[0..{d}] (L2-normalised)", comparison.base.model)],
        split: SplitCounts {
            events: split.events.len(),
            training_events: split.kept.len(),
            heldout_events: split.heldout.len(),
            training_pairs: split.train_pairs.len(),
            heldout_pairs: split.test_pairs.len(),
            items_without_features: usable.iter().filter(|u| !**u).count(),
            dropped_pairs: split.dropped,
        },
        estimate: Some(Estimate {
            accuracy: finetuned.accuracy,
            interval: finetuned.interval,
            pairs: finetuned.pairs,
            source: "cross-validation".into(),
        }),
        cv: chosen_cv.map(|r| CvSummary::of(r, opts, split.kept.len())),
        candidates: finetuned.candidates.clone(),
        heldout: finetuned.heldout.clone(),
        fit: FitSummary {
            iterations: tuned_fit.iterations,
            converged: tuned_fit.converged,
            train_loss: tuned_fit.loss,
        },
        train_accuracy: accuracy(&tuned_fit.scores, &split.train_pairs, opts.seed),
        likert_spearman: None,
        learning_curve: finetuned.learning_curve.clone(),
        notes,
        comparison: Some(comparison),
    }
}

/// One plain gradient-descent step on the fine-tuning objective for a fixed batch (the unit
/// checked against PyTorch's autograd, `scripts/gen_finetune_refs.py`): returns the objective
/// at `w`, its gradient and `w − lr·∇f(w)`.
pub fn gradient_step(
    x: &[Vec<f64>],
    pairs: &[LabeledPair],
    l2: f64,
    center: &[f64],
    w: &[f64],
    lr: f64,
) -> (f64, Vec<f64>, Vec<f64>) {
    let (f, g) = linear::objective_gradient(x, pairs, l2, Some(center), w);
    let next = w.iter().zip(&g).map(|(w, g)| w - lr * g).collect();
    (f, g, next)
}

/// A simulated domain for benchmarks and tests: a "domain taste" whose scores over `x` (the
/// items' normalised embeddings) have correlation exactly `cos(angle)` with the general head's,
/// and raters who follow it with Bradley–Terry noise.
pub mod sim {
    use super::{LabeledPair, dot};
    use crate::ranking::rng::Rng;

    fn centred_scores(x: &[Vec<f64>], w: &[f64]) -> Vec<f64> {
        let s: Vec<f64> = x.iter().map(|r| dot(w, r)).collect();
        let m = s.iter().sum::<f64>() / s.len().max(1) as f64;
        s.into_iter().map(|v| v - m).collect()
    }

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|a| a * a).sum::<f64>().sqrt()
    }

    /// Weights `w*` whose centred scores over `x` have unit standard deviation and correlation
    /// `cos(angle)` (radians) with those of `w0`: `w* = cos θ·ŵ₀ + sin θ·û`, `u` a seeded
    /// random direction made orthogonal to `w0`'s scores over `x`.
    pub fn domain_taste(x: &[Vec<f64>], w0: &[f64], angle: f64, seed: u64) -> Vec<f64> {
        let n = x.len().max(1) as f64;
        let g = centred_scores(x, w0);
        let gs = norm(&g) / n.sqrt();
        let mut rng = Rng::new(seed);
        let u: Vec<f64> = w0.iter().map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        let r = centred_scores(x, &u);
        let k = dot(&g, &r) / dot(&g, &g).max(1e-300);
        let u: Vec<f64> = u.iter().zip(w0).map(|(u, w)| u - k * w).collect();
        let us = norm(&centred_scores(x, &u)) / n.sqrt();
        w0.iter()
            .zip(&u)
            .map(|(w, u)| angle.cos() * w / gs + angle.sin() * u / us)
            .collect()
    }

    /// `n` pairwise labels between seeded random items: item a wins with probability
    /// `σ((t_a − t_b)/noise)` for taste scores `t` (each pair its own event, numbered from
    /// `first_event`).
    pub fn pairs(
        truth: &[f64],
        n: usize,
        noise: f64,
        seed: u64,
        first_event: usize,
    ) -> Vec<LabeledPair> {
        let mut rng = Rng::new(seed);
        let items = truth.len();
        let mut out = Vec::with_capacity(n);
        while out.len() < n && items > 1 {
            let (a, b) = (rng.below(items), rng.below(items));
            if a == b {
                continue;
            }
            let p = crate::learn::linear::sigmoid((truth[a] - truth[b]) / noise);
            let target = if rng.next_f64() < p { 1.0 } else { 0.0 };
            out.push(LabeledPair {
                a,
                b,
                target,
                event: first_event + out.len(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::features::FeatureTable;
    use crate::ranking::rng::Rng;

    /// `n` items with `d`-d embeddings (a shared offset, like CLIP's), a general head, and
    /// labels from a domain taste 45° away.
    fn domain(
        n: usize,
        d: usize,
        labels_n: usize,
        angle_deg: f64,
    ) -> (FeatureTable, Labels, BaseHead, Vec<f64>) {
        let mut rng = Rng::new(5);
        let mut table = FeatureTable::new(vec![]);
        let mut vecs = Vec::new();
        for i in 0..n {
            let v: Vec<f32> = (0..d)
                .map(|j| (if j == 0 { 3.0 } else { 0.0 }) + (rng.next_f64() * 2.0 - 1.0) as f32)
                .collect();
            table.items.push(format!("img{i:04}.png"));
            table.rows.push(vec![]);
            vecs.push(v);
        }
        let vv = vecs.clone();
        table.add_embedding("clip:tiny", d, |item| {
            let i: usize = item[3..7].parse().ok()?;
            Some(vv[i].clone())
        });
        let w0: Vec<f64> = (0..d).map(|_| (rng.next_f64() * 2.0 - 1.0) * 5.0).collect();
        let x: Vec<Vec<f64>> = vecs.iter().map(|v| normalized(v)).collect();
        let taste = sim::domain_taste(&x, &w0, angle_deg.to_radians(), 7);
        let truth: Vec<f64> = x.iter().map(|r| dot(&taste, r)).collect();
        let pairs = sim::pairs(&truth, labels_n, 0.3, 11, 0);
        let labels = Labels {
            items: table.items.clone(),
            pairs,
            likert: vec![],
        };
        let base = BaseHead {
            name: "head@1".into(),
            model: "clip:tiny".into(),
            weight: w0,
            bias: 5.0,
        };
        (table, labels, base, truth)
    }

    fn quick() -> TrainOptions {
        TrainOptions {
            folds: 4,
            repeats: 1,
            bootstrap: 200,
            curve: false,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn domain_taste_has_the_requested_angle() {
        let (table, _, base, truth) = domain(300, 16, 10, 45.0);
        let emb = table.embedding("clip:tiny").unwrap();
        let g: Vec<f64> = emb
            .vectors
            .iter()
            .map(|v| base.score(&normalized(v.as_deref().unwrap())))
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mg, mt) = (mean(&g), mean(&truth));
        let cov: f64 = g.iter().zip(&truth).map(|(a, b)| (a - mg) * (b - mt)).sum();
        let var = |v: &[f64], m: f64| v.iter().map(|a| (a - m).powi(2)).sum::<f64>();
        let rho = cov / (var(&g, mg) * var(&truth, mt)).sqrt();
        assert!((rho - 45f64.to_radians().cos()).abs() < 1e-9, "{rho}");
    }

    #[test]
    fn progress_counts_every_fit_and_cancel_stops_the_run() {
        let (table, labels, base, _) = domain(120, 16, 200, 45.0);
        let control = Control::default();
        assert_eq!(control.progress(), (0, 0));
        finetune(
            &table,
            &labels,
            &base,
            &quick(),
            &SP_GRID,
            &SCRATCH_GRID,
            &control,
        )
        .unwrap();
        let (done, total) = control.progress();
        assert!(total > 0 && done > 0, "{done} / {total}");
        // Learning-curve points with too few pairs are skipped, so done ≤ total.
        assert!(done <= total, "{done} / {total}");
        let cancelled = Control::default();
        cancelled.cancel();
        let e = finetune(
            &table,
            &labels,
            &base,
            &quick(),
            &SP_GRID,
            &SCRATCH_GRID,
            &cancelled,
        );
        assert!(matches!(e, Err(LearnError::Cancelled)), "{e:?}");
        assert_eq!(cancelled.progress().0, 0);
    }

    #[test]
    fn fine_tuning_beats_the_general_head_on_a_shifted_domain() {
        let (table, labels, base, _) = domain(300, 16, 600, 45.0);
        let t = finetune(
            &table,
            &labels,
            &base,
            &quick(),
            &SP_GRID,
            &SCRATCH_GRID,
            &Control::default(),
        )
        .unwrap();
        let c = t.report.comparison.as_ref().unwrap();
        assert!(c.beats_general, "{}", c.verdict);
        assert!(
            c.finetuned.accuracy > c.general.accuracy + 0.05,
            "fine-tuned {} vs general {}",
            c.finetuned.accuracy,
            c.general.accuracy
        );
        assert!(c.finetuned.accuracy + 0.02 >= c.scratch.accuracy);
        // The same folds: the same number of out-of-fold pairs for all arms.
        assert_eq!(c.general.pairs, c.finetuned.pairs);
        assert_eq!(c.general.pairs, c.scratch.pairs);
        assert_eq!(c.finetuned.candidates.len(), SP_GRID.len());
        // The stored scorer keeps the head's bias and reads normalised embeddings.
        let rows = t.model.inputs(&table);
        let emb = table.embedding("clip:tiny").unwrap();
        let (_, w, b) = affine_of(&t.model).unwrap();
        assert_eq!(b, 5.0);
        for (r, v) in rows.iter().zip(&emb.vectors).take(20) {
            let x = normalized(v.as_deref().unwrap());
            let want = f64::from(b)
                + w.iter()
                    .zip(&x)
                    .map(|(a, b)| f64::from(*a) * b)
                    .sum::<f64>();
            assert!((t.model.score(r) - want).abs() < 1e-9);
        }
        t.model.validate().unwrap();
    }

    #[test]
    fn without_a_shift_the_general_head_is_hard_to_beat_and_says_so() {
        // The taste equals the head and labels are few and noisy: the verdict is honest
        // either way, and a strong L2-SP keeps the fine-tuned head close to the general one.
        let (table, labels, base, _) = domain(200, 16, 60, 0.0);
        let t = finetune(
            &table,
            &labels,
            &base,
            &quick(),
            &[1e3],
            &SCRATCH_GRID,
            &Control::default(),
        )
        .unwrap();
        let c = t.report.comparison.unwrap();
        assert!(
            (c.finetuned.accuracy - c.general.accuracy).abs() < 0.02,
            "{c:?}"
        );
        assert_eq!(c.beats_general, c.finetuned.accuracy > c.general.accuracy);
        if !c.beats_general {
            assert!(c.verdict.contains("does not beat"));
        }
    }

    #[test]
    fn l2_sp_interpolates_between_the_head_and_the_data() {
        let (table, labels, base, _) = domain(100, 8, 200, 60.0);
        let x: Vec<Vec<f64>> = table
            .embedding("clip:tiny")
            .unwrap()
            .vectors
            .iter()
            .map(|v| normalized(v.as_deref().unwrap()))
            .collect();
        let o = linear::SolverOptions::default();
        let strong = linear::fit_toward(&x, &labels.pairs, 1e6, Some(&base.weight), &o).unwrap();
        let weak = linear::fit_toward(&x, &labels.pairs, 1e-3, Some(&base.weight), &o).unwrap();
        let dist = |w: &[f64]| {
            w.iter()
                .zip(&base.weight)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        assert!(
            dist(&strong.w) < 1e-3 * dist(&weak.w),
            "{} vs {}",
            dist(&strong.w),
            dist(&weak.w)
        );
        assert!(weak.loss < strong.loss);
        // The optimum: the gradient of the L2-SP objective vanishes.
        let (_, g) =
            linear::objective_gradient(&x, &labels.pairs, 1e-3, Some(&base.weight), &weak.w);
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
    }

    #[test]
    fn gradient_step_matches_finite_differences() {
        let (table, labels, base, _) = domain(30, 6, 40, 30.0);
        let x: Vec<Vec<f64>> = table
            .embedding("clip:tiny")
            .unwrap()
            .vectors
            .iter()
            .map(|v| normalized(v.as_deref().unwrap()))
            .collect();
        let w: Vec<f64> = base.weight.iter().map(|v| v * 1.1 + 0.2).collect();
        let (f, g, next) = gradient_step(&x, &labels.pairs, 0.05, &base.weight, &w, 0.5);
        for j in 0..w.len() {
            let e = 1e-6;
            let mut a = w.clone();
            let mut b = w.clone();
            a[j] += e;
            b[j] -= e;
            let fa = linear::objective_gradient(&x, &labels.pairs, 0.05, Some(&base.weight), &a).0;
            let fb = linear::objective_gradient(&x, &labels.pairs, 0.05, Some(&base.weight), &b).0;
            assert!(((fa - fb) / (2.0 * e) - g[j]).abs() < 1e-6);
            assert!((next[j] - (w[j] - 0.5 * g[j])).abs() < 1e-15);
        }
        assert!(f.is_finite());
    }

    /// One step of `torch.optim.SGD` on the same objective, from PyTorch's autograd
    /// (`scripts/gen_finetune_refs.py` → `tests/data/finetune_refs.json`).
    #[test]
    fn one_gradient_step_matches_pytorch() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/finetune_refs.json");
        let refs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let f64s = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let cases = refs["step"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        let mut worst = 0f64;
        for c in cases {
            let x: Vec<Vec<f64>> = c["raw"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| normalized(&f64s(r).iter().map(|&v| v as f32).collect::<Vec<f32>>()))
                .collect();
            let pairs: Vec<LabeledPair> = c["pairs"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(k, p)| LabeledPair {
                    a: p[0].as_u64().unwrap() as usize,
                    b: p[1].as_u64().unwrap() as usize,
                    target: p[2].as_f64().unwrap(),
                    event: k,
                })
                .collect();
            let (w0, w) = (f64s(&c["w0"]), f64s(&c["w"]));
            let (l2, lr) = (c["l2"].as_f64().unwrap(), c["lr"].as_f64().unwrap());
            let (loss, grad, next) = gradient_step(&x, &pairs, l2, &w0, &w, lr);
            let name = c["name"].as_str().unwrap();
            let want_loss = c["loss"].as_f64().unwrap();
            assert!(
                (loss - want_loss).abs() < 1e-5,
                "{name}: loss {loss} vs {want_loss}"
            );
            for (what, got, want) in [
                ("grad", &grad, f64s(&c["grad"])),
                ("w_next", &next, f64s(&c["w_next"])),
            ] {
                for (g, t) in got.iter().zip(&want) {
                    worst = worst.max((g - t).abs());
                    assert!((g - t).abs() < 1e-5, "{name}: {what} {g} vs torch {t}");
                }
            }
        }
        eprintln!("fine-tuning step vs PyTorch: worst absolute difference {worst:.1e}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let (table, labels, mut base, _) = domain(30, 6, 40, 30.0);
        assert!(
            finetune(
                &table,
                &labels,
                &base,
                &quick(),
                &[],
                &SCRATCH_GRID,
                &Control::default()
            )
            .is_err()
        );
        let mut other = base.clone();
        other.model = "clip:other".into();
        let e = finetune(
            &table,
            &labels,
            &other,
            &quick(),
            &SP_GRID,
            &SCRATCH_GRID,
            &Control::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("assay embed"), "{e}");
        base.weight.pop();
        assert!(
            finetune(
                &table,
                &labels,
                &base,
                &quick(),
                &SP_GRID,
                &SCRATCH_GRID,
                &Control::default()
            )
            .is_err()
        );
        let none = Labels {
            items: labels.items.clone(),
            pairs: vec![],
            likert: vec![],
        };
        let mut b2 = base.clone();
        b2.weight.push(0.0);
        assert!(
            finetune(
                &table,
                &none,
                &b2,
                &quick(),
                &SP_GRID,
                &SCRATCH_GRID,
                &Control::default()
            )
            .is_err()
        );
    }
}
