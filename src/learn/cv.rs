//! Cross-validation and model selection for the preference scorer, over any model family.
//!
//! A [`Candidate`] is one way of fitting a scorer from labelled pairs (a family, its feature
//! set and hyperparameters): it fits on a subset of pairs and returns the scores of every
//! labelled item plus the storable [`ScorerModel`]. Everything here works through that trait,
//! so another family (e.g. a head fine-tuned from a general aesthetic model on CLIP
//! embeddings) plugs in by implementing it and adding its candidates to the list that
//! [`select`] compares.
//!
//! - Folds are made of **events**, not pairs: the pairs of one best-of-N event and the Likert
//!   pairs of one rating stay on one side, and Likert pairs are built within each side (a
//!   held-out rating never leaks into training).
//! - [`cross_validate`]: `k`-fold cross-validation, repeated `r` times with different seeded
//!   shuffles. The estimate is the pooled out-of-fold pairwise accuracy (decided pairs; ties
//!   in the scores count ½) over all repeats; its 95 % interval is a percentile bootstrap
//!   over labelled events (1000 resamples of the events with their out-of-fold results).
//!   That interval treats the fitted models as fixed, so it leaves out the variance due to
//!   the training sets and is somewhat narrow. The out-of-fold log loss (ties included) is
//!   reported too.
//! - [`select`]: the candidate with the highest estimate; near-equal accuracies (within
//!   [`TIE_TOLERANCE`]) are decided by the lower log loss, then by list order. The chosen
//!   candidate is then refitted on every label by the caller. Choosing the best of several
//!   estimates makes the winner's estimate slightly optimistic; the report says so.
//! - [`learning_curve`]: within each split, the candidate fitted on seeded subsets of the
//!   training events of growing size and evaluated on the split's test pairs.

use serde::Serialize;

use super::labels::{self, LabeledPair, Labels, LikertRating};
use super::{LearnError, ScorerModel, model::Head};
use crate::ranking::quantile::percentile_sorted;
use crate::ranking::rng::Rng;

/// Accuracies closer than this are treated as equal by [`select`] (log loss decides).
pub const TIE_TOLERANCE: f64 = 1e-9;

/// What a candidate is, as stored in a scorer's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateSpec {
    /// Model family / head.
    pub head: Head,
    /// Feature set (`signals`, or `signals + <model> pca<r>`).
    pub features: String,
    /// L2 strength λ of `mean loss + λ‖w‖²`.
    pub l2: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
}

impl CandidateSpec {
    /// One line for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{:?} head, λ = {}, features: {}",
            self.head, self.l2, self.features
        )
        .replace("Linear head", "linear head")
        .replace("Mlp head", "MLP head");
        if let Some(h) = self.hidden {
            s.push_str(&format!(", {h} hidden units"));
        }
        if let Some(e) = self.epochs {
            s.push_str(&format!(", {e} epochs"));
        }
        s
    }
}

/// A fit of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateFit {
    /// Score of every labelled item (index into [`Labels::items`]).
    pub scores: Vec<f64>,
    /// The storable scorer.
    pub model: ScorerModel,
    pub iterations: usize,
    pub converged: bool,
    /// Mean logistic loss on the training pairs.
    pub loss: f64,
}

/// One way of fitting a scorer: the unit that cross-validation compares.
pub trait Candidate {
    fn spec(&self) -> CandidateSpec;
    /// Fits on `pairs` (indices into the labelled items).
    fn fit(&self, pairs: &[LabeledPair]) -> Result<CandidateFit, LearnError>;
}

/// The labels and which labelled items have features.
pub struct PairData<'a> {
    pub labels: &'a Labels,
    /// Per labelled item: it has a feature row (pairs with items without one are dropped).
    pub usable: Vec<bool>,
    /// Most pairs made from one side's Likert ratings.
    pub likert_pair_cap: usize,
    pub seed: u64,
}

impl PairData<'_> {
    /// Usable pairs of the given events (sorted): pairwise / best-of-N pairs as labelled,
    /// Likert ratings paired within these events.
    pub fn pairs(&self, events: &[usize]) -> Vec<LabeledPair> {
        let keep = |e: usize| events.binary_search(&e).is_ok();
        let mut out: Vec<LabeledPair> = self
            .labels
            .pairs
            .iter()
            .filter(|p| keep(p.event))
            .copied()
            .collect();
        let likert: Vec<&LikertRating> = self
            .labels
            .likert
            .iter()
            .filter(|l| keep(l.event))
            .collect();
        out.extend(labels::likert_pairs(
            &likert,
            self.likert_pair_cap,
            self.seed,
        ));
        out.retain(|p| self.usable[p.a] && self.usable[p.b]);
        out
    }

    /// Pairs the data would have with every item present (for the dropped-pairs count).
    pub fn all_pairs_count(&self, events: &[usize]) -> usize {
        let keep = |e: usize| events.binary_search(&e).is_ok();
        let likert: Vec<&LikertRating> = self
            .labels
            .likert
            .iter()
            .filter(|l| keep(l.event))
            .collect();
        self.labels.pairs.iter().filter(|p| keep(p.event)).count()
            + labels::likert_pairs(&likert, self.likert_pair_cap, self.seed).len()
    }
}

/// One train / test split of events (sorted).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// `repeats` seeded k-fold partitions of `events`: every event is tested once per repeat.
/// `folds` is capped at the number of events; fewer than 2 events give no split.
pub fn splits(events: &[usize], folds: usize, repeats: usize, seed: u64) -> Vec<Vec<Split>> {
    let k = folds.min(events.len());
    if k < 2 {
        return Vec::new();
    }
    (0..repeats.max(1))
        .map(|r| {
            let mut order = events.to_vec();
            let mut rng = Rng::new(seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(r as u64 + 1)));
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            (0..k)
                .map(|f| {
                    let mut test: Vec<usize> = order.iter().skip(f).step_by(k).copied().collect();
                    test.sort_unstable();
                    let mut train: Vec<usize> = order
                        .iter()
                        .copied()
                        .filter(|e| test.binary_search(e).is_err())
                        .collect();
                    train.sort_unstable();
                    Split { train, test }
                })
                .collect()
        })
        .collect()
}

/// Options of cross-validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvOptions {
    pub bootstrap: usize,
    pub seed: u64,
}

impl Default for CvOptions {
    fn default() -> Self {
        Self {
            bootstrap: 1000,
            seed: 1,
        }
    }
}

/// The cross-validated estimate of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvResult {
    pub spec: CandidateSpec,
    /// Pooled out-of-fold pairwise accuracy over decided pairs.
    pub accuracy: f64,
    /// 95 % percentile-bootstrap interval over events.
    pub interval: Option<(f64, f64)>,
    /// Pooled out-of-fold log loss (every pair, ties included).
    pub log_loss: f64,
    /// Out-of-fold decided pairs per repeat.
    pub pairs: usize,
    /// Accuracy of each fold (repeat-major).
    pub fold_accuracy: Vec<f64>,
    /// Folds without training pairs or whose fit failed (left out of the estimate).
    pub failed_folds: usize,
    /// Mean out-of-fold score of each labelled item that was tested (None: never tested).
    #[serde(skip)]
    pub oof_scores: Vec<Option<f64>>,
}

/// Out-of-fold results of one event: (Σ correct over decided pairs, decided pairs).
#[derive(Debug, Clone, Copy, Default)]
struct EventTally {
    correct: f64,
    decided: f64,
}

fn correct(scores: &[f64], p: &LabeledPair) -> Option<f64> {
    if p.target == 0.5 {
        return None;
    }
    let (w, l) = if p.target > 0.5 {
        (p.a, p.b)
    } else {
        (p.b, p.a)
    };
    let (sw, sl) = (scores[w], scores[l]);
    Some(if sw > sl {
        1.0
    } else if sw == sl {
        0.5
    } else {
        0.0
    })
}

/// Cross-validates one candidate over `splits` (from [`splits`]).
pub fn cross_validate(
    c: &dyn Candidate,
    data: &PairData<'_>,
    splits: &[Vec<Split>],
    opts: &CvOptions,
) -> Result<CvResult, LearnError> {
    let n_items = data.labels.items.len();
    let mut tally: std::collections::BTreeMap<usize, EventTally> = Default::default();
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    let mut fold_accuracy = Vec::new();
    let mut failed = 0usize;
    let mut decided_total = 0usize;
    let mut oof_sum = vec![0.0; n_items];
    let mut oof_n = vec![0usize; n_items];
    for split in splits.iter().flatten() {
        let train = data.pairs(&split.train);
        let test = data.pairs(&split.test);
        if test.is_empty() {
            continue;
        }
        let fit = if train.is_empty() {
            None
        } else {
            c.fit(&train).ok()
        };
        let Some(fit) = fit else {
            failed += 1;
            continue;
        };
        let (mut right, mut n) = (0.0, 0usize);
        for p in &test {
            let m = fit.scores[p.a] - fit.scores[p.b];
            loss_sum += super::linear::pair_loss(m, p.target);
            loss_n += 1;
            if let Some(v) = correct(&fit.scores, p) {
                let t = tally.entry(p.event).or_default();
                t.correct += v;
                t.decided += 1.0;
                right += v;
                n += 1;
            }
        }
        decided_total += n;
        if n > 0 {
            fold_accuracy.push(right / n as f64);
        }
        let mut tested = vec![false; n_items];
        for p in &test {
            tested[p.a] = true;
            tested[p.b] = true;
        }
        for (i, t) in tested.iter().enumerate() {
            if *t {
                oof_sum[i] += fit.scores[i];
                oof_n[i] += 1;
            }
        }
    }
    let (correct_sum, decided): (f64, f64) = tally
        .values()
        .fold((0.0, 0.0), |(a, b), t| (a + t.correct, b + t.decided));
    if decided == 0.0 {
        return Err(LearnError::NoLabels(format!(
            "cross-validation of {} produced no decided out-of-fold pairs",
            c.spec().describe()
        )));
    }
    let interval = bootstrap_interval(&tally, opts.bootstrap, opts.seed);
    let repeats = splits.len().max(1);
    Ok(CvResult {
        spec: c.spec(),
        accuracy: correct_sum / decided,
        interval,
        log_loss: loss_sum / loss_n.max(1) as f64,
        pairs: decided_total / repeats,
        fold_accuracy,
        failed_folds: failed,
        oof_scores: oof_sum
            .iter()
            .zip(&oof_n)
            .map(|(s, &n)| (n > 0).then(|| s / n as f64))
            .collect(),
    })
}

fn bootstrap_interval(
    tally: &std::collections::BTreeMap<usize, EventTally>,
    rounds: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let ev: Vec<EventTally> = tally
        .values()
        .copied()
        .filter(|t| t.decided > 0.0)
        .collect();
    if ev.is_empty() || rounds == 0 {
        return None;
    }
    let mut rng = Rng::new(seed ^ 0xb007);
    let mut acc: Vec<f64> = (0..rounds)
        .map(|_| {
            let (mut c, mut d) = (0.0, 0.0);
            for _ in 0..ev.len() {
                let t = ev[rng.below(ev.len())];
                c += t.correct;
                d += t.decided;
            }
            c / d
        })
        .collect();
    acc.sort_unstable_by(f64::total_cmp);
    Some((
        percentile_sorted(&acc, 0.025)?,
        percentile_sorted(&acc, 0.975)?,
    ))
}

/// The outcome of model selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Index of the chosen candidate.
    pub chosen: usize,
    /// Every candidate's estimate (`None`: it could not be cross-validated), in input order.
    pub results: Vec<Option<CvResult>>,
}

/// Cross-validates every candidate on the same splits and picks the best (see the module
/// docs). Errors when none could be estimated.
pub fn select(
    candidates: &[&dyn Candidate],
    data: &PairData<'_>,
    splits: &[Vec<Split>],
    opts: &CvOptions,
) -> Result<Selection, LearnError> {
    let results: Vec<Option<CvResult>> = candidates
        .iter()
        .map(|c| cross_validate(*c, data, splits, opts).ok())
        .collect();
    let chosen = best(&results).ok_or_else(|| {
        LearnError::NoLabels(
            "no candidate could be cross-validated (too few decided pairs in the folds)".into(),
        )
    })?;
    Ok(Selection { chosen, results })
}

/// Index of the best estimate: highest accuracy, near-ties by lower log loss, then order.
pub fn best(results: &[Option<CvResult>]) -> Option<usize> {
    let mut best: Option<(usize, &CvResult)> = None;
    for (i, r) in results.iter().enumerate() {
        let Some(r) = r else { continue };
        best = match best {
            None => Some((i, r)),
            Some((_, b))
                if r.accuracy > b.accuracy + TIE_TOLERANCE
                    || ((r.accuracy - b.accuracy).abs() <= TIE_TOLERANCE
                        && r.log_loss < b.log_loss) =>
            {
                Some((i, r))
            }
            keep => keep,
        };
    }
    best.map(|(i, _)| i)
}

/// One point of a cross-validated learning curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Training events per fit.
    pub training_events: usize,
    /// Mean training pairs per fit.
    pub training_pairs: usize,
    /// Pooled accuracy on the splits' test pairs.
    pub accuracy: f64,
    pub fits: usize,
}

/// Accuracy of `c` fitted on seeded subsets of `sizes` training events of each split (sizes
/// at or above a split's training events use all of them), on the split's test pairs.
pub fn learning_curve(
    c: &dyn Candidate,
    data: &PairData<'_>,
    splits: &[Vec<Split>],
    sizes: &[usize],
    seed: u64,
) -> Vec<CurvePoint> {
    let mut out = Vec::new();
    for &size in sizes {
        let (mut right, mut n, mut pairs, mut fits) = (0.0, 0usize, 0usize, 0usize);
        for (s, split) in splits.iter().flatten().enumerate() {
            let mut train = split.train.clone();
            if size < train.len() {
                let mut rng = Rng::new(seed ^ (size as u64) << 20 ^ s as u64);
                for i in 0..size {
                    let j = i + rng.below(train.len() - i);
                    train.swap(i, j);
                }
                train.truncate(size);
                train.sort_unstable();
            }
            let tp = data.pairs(&train);
            let test = data.pairs(&split.test);
            if tp.is_empty() || test.is_empty() {
                continue;
            }
            let Ok(fit) = c.fit(&tp) else { continue };
            fits += 1;
            pairs += tp.len();
            for p in &test {
                if let Some(v) = correct(&fit.scores, p) {
                    right += v;
                    n += 1;
                }
            }
        }
        if n > 0 {
            out.push(CurvePoint {
                training_events: size,
                training_pairs: pairs / fits.max(1),
                accuracy: right / n as f64,
                fits,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::features::Standardizer;
    use crate::learn::model::Layer;

    /// A toy family: the score of item i is `w·i` with `w = ±1` fitted by majority; `l2` is only
    /// a label. Lets the CV plumbing be checked exactly.
    struct Sign {
        l2: f64,
        n: usize,
    }

    impl Candidate for Sign {
        fn spec(&self) -> CandidateSpec {
            CandidateSpec {
                head: Head::Linear,
                features: "index".into(),
                l2: self.l2,
                hidden: None,
                epochs: None,
            }
        }
        fn fit(&self, pairs: &[LabeledPair]) -> Result<CandidateFit, LearnError> {
            let up: f64 = pairs
                .iter()
                .map(|p| (p.target - 0.5) * (p.a as f64 - p.b as f64).signum())
                .sum();
            let w = if up >= 0.0 { 1.0 } else { -1.0 } * self.l2;
            Ok(CandidateFit {
                scores: (0..self.n).map(|i| w * i as f64).collect(),
                model: ScorerModel {
                    format: crate::learn::FORMAT.into(),
                    head: Head::Linear,
                    projections: vec![],
                    standardizer: Standardizer::fit_rows(&[], &[], &[]),
                    layers: vec![Layer {
                        inputs: 0,
                        outputs: 1,
                        weight: vec![],
                        bias: None,
                    }],
                    normalize: vec![],
                },
                iterations: 1,
                converged: true,
                loss: 0.0,
            })
        }
    }

    fn labels(n: usize, events: usize, flip_every: usize) -> Labels {
        let mut rng = Rng::new(4);
        let pairs = (0..events)
            .map(|e| {
                let (a, b) = loop {
                    let (a, b) = (rng.below(n), rng.below(n));
                    if a != b {
                        break (a, b);
                    }
                };
                let truth = if a > b { 1.0 } else { 0.0 };
                let target = if flip_every > 0 && e % flip_every == 0 {
                    1.0 - truth
                } else {
                    truth
                };
                LabeledPair {
                    a,
                    b,
                    target,
                    event: e,
                }
            })
            .collect();
        Labels {
            items: (0..n).map(|i| format!("i{i}")).collect(),
            pairs,
            likert: vec![],
        }
    }

    #[test]
    fn folds_partition_the_events_in_every_repeat() {
        let events: Vec<usize> = (0..23).collect();
        let s = splits(&events, 5, 3, 9);
        assert_eq!(s.len(), 3);
        for rep in &s {
            assert_eq!(rep.len(), 5);
            let mut tested: Vec<usize> = rep.iter().flat_map(|f| f.test.clone()).collect();
            tested.sort_unstable();
            assert_eq!(tested, events, "every event tested exactly once");
            for f in rep {
                assert_eq!(f.train.len() + f.test.len(), 23);
                assert!(f.test.len() == 4 || f.test.len() == 5);
            }
        }
        assert_ne!(s[0][0].test, s[1][0].test, "repeats reshuffle");
        assert_eq!(splits(&events, 5, 3, 9), s, "seeded");
        assert!(splits(&[1], 5, 1, 1).is_empty());
        assert_eq!(splits(&[1, 2, 3], 5, 1, 1)[0].len(), 3, "k capped at n");
    }

    #[test]
    fn estimate_counts_every_out_of_fold_pair_and_selection_prefers_the_better() {
        // Every 10th label flipped: a perfect scorer is right on 90 % of the labels.
        let l = labels(30, 200, 10);
        let data = PairData {
            labels: &l,
            usable: vec![true; 30],
            likert_pair_cap: 100,
            seed: 1,
        };
        let events = l.events();
        let sp = splits(&events, 5, 2, 3);
        let good = Sign { l2: 1.0, n: 30 };
        let r = cross_validate(&good, &data, &sp, &CvOptions::default()).unwrap();
        assert!((r.accuracy - 0.9).abs() < 1e-12, "{}", r.accuracy);
        assert_eq!(r.pairs, 200);
        assert_eq!(r.fold_accuracy.len(), 10);
        let (lo, hi) = r.interval.unwrap();
        assert!(lo < 0.9 && 0.9 < hi && hi - lo < 0.15, "{lo} {hi}");
        assert!(r.oof_scores.iter().any(Option::is_some));
        // A scaled copy has the same accuracy but a different log loss: the tie rule decides.
        let sharp = Sign { l2: 3.0, n: 30 };
        let sel = select(&[&good, &sharp], &data, &sp, &CvOptions::default()).unwrap();
        let (a, b) = (
            sel.results[0].as_ref().unwrap(),
            sel.results[1].as_ref().unwrap(),
        );
        assert_eq!(a.accuracy, b.accuracy);
        assert_eq!(sel.chosen, usize::from(b.log_loss < a.log_loss));
        // The curve reaches the estimate at full size and is defined at small sizes.
        let curve = learning_curve(&good, &data, &sp, &[5, 1000], 1);
        assert_eq!(curve.len(), 2);
        assert!((curve[1].accuracy - r.accuracy).abs() < 1e-12);
        assert_eq!(curve[1].training_events, 1000);
        assert_eq!(curve[0].training_pairs, 5);
    }

    #[test]
    fn unusable_items_drop_their_pairs() {
        let l = labels(10, 50, 0);
        let mut usable = vec![true; 10];
        usable[3] = false;
        let data = PairData {
            labels: &l,
            usable,
            likert_pair_cap: 100,
            seed: 1,
        };
        let all: Vec<usize> = (0..50).collect();
        let p = data.pairs(&all);
        assert!(p.iter().all(|p| p.a != 3 && p.b != 3));
        assert!(p.len() < data.all_pairs_count(&all));
    }
}
