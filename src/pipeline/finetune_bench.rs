//! `assay bench finetune`: does fine-tuning the general head on a domain's labels beat the
//! general head and a head trained from scratch? A simulated domain where the answer is known:
//!
//! 1. `images` seeded procedural 64×64 images (coloured gradients, stripes and discs) embedded
//!    by the tiny test CLIP (`tests/data/clip_tiny/hf`, 16-d, random weights: a stand-in with
//!    the right plumbing, not CLIP's semantics);
//! 2. a general head: a seeded random affine head on the normalised embeddings;
//! 3. the domain's taste: weights whose scores over the images have correlation `cos(angle)`
//!    with the general head's ([`crate::learn::finetune::sim::domain_taste`]), unit spread;
//! 4. raters: pairwise labels with `P(a ≻ b) = σ((t_a − t_b)/noise)`.
//!
//! The images are split 70 / 30: training labels are pairs of training images, the test labels
//! (`test_pairs` of them, fixed) pairs of test images, so the numbers are agreement with new
//! raters' judgements on new images of the domain. For each label count and repeat (new
//! training labels), [`crate::learn::finetune::finetune`] picks λ by cross-validation on the
//! training labels and refits the three arms; each is scored on the test labels. Accuracies are
//! pooled over repeats with a 95 % percentile-bootstrap interval over test pairs × repeats.

use serde::Serialize;

use crate::learn::finetune::{self, BaseHead, normalized, sim};
use crate::learn::{FeatureTable, LabeledPair, Labels, TrainOptions};
use crate::models::clip::Clip;
use crate::ranking::correlation;
use crate::ranking::rng::Rng;

/// Settings of the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// The CLIP checkpoint folder (the tiny test model).
    pub clip: std::path::PathBuf,
    pub images: usize,
    /// Angle between the general head's and the domain's taste, degrees.
    pub angle: f64,
    /// Rater noise (temperature of the Bradley–Terry labels; taste scores have unit spread).
    pub noise: f64,
    pub labels: Vec<usize>,
    pub repeats: usize,
    pub test_pairs: usize,
    pub folds: usize,
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            clip: std::path::PathBuf::from("tests/data/clip_tiny/hf"),
            images: 600,
            angle: 45.0,
            noise: 0.3,
            labels: vec![50, 100, 200, 500, 1000, 2000],
            repeats: 3,
            test_pairs: 4000,
            folds: 5,
            seed: 1,
        }
    }
}

/// Test agreement of one arm at one label count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmPoint {
    pub accuracy: f64,
    pub interval: (f64, f64),
    /// Mean cross-validated estimate on the training labels (what `assay train` reports).
    pub cv_accuracy: f64,
}

/// One label count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub labels: usize,
    pub general: ArmPoint,
    pub scratch: ArmPoint,
    pub finetuned: ArmPoint,
    /// Chosen L2-SP λ per repeat.
    pub l2_sp: Vec<f64>,
    /// How often the fine-tuned version would have been activated (beats the general one in
    /// cross-validation).
    pub activated: usize,
    /// Fine-tuned ≥ from scratch and ≥ general within the intervals (its upper bound reaches
    /// their lower bounds).
    pub not_worse: bool,
}

/// The benchmark's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchResult {
    pub images: usize,
    pub dim: usize,
    pub angle: f64,
    pub noise: f64,
    pub repeats: usize,
    pub test_pairs: usize,
    /// Test agreement of the domain taste itself (the ceiling that rater noise leaves).
    pub oracle: f64,
    pub rows: Vec<Row>,
    /// At every label count the fine-tuned head is not worse than the others (intervals).
    pub target_not_worse: bool,
    /// Fine-tuned − general at 1,000 labels (when measured).
    pub gain_at_1000: Option<f64>,
    pub seconds_embedding: f64,
    pub seconds_training: f64,
}

/// Seeded procedural RGB images.
fn images(n: usize, size: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut c = [[0f64; 3]; 3];
            for v in c.iter_mut().flatten() {
                *v = rng.next_f64() * 255.0;
            }
            let freq = 1.0 + rng.next_f64() * 8.0;
            let (cx, cy, r) = (rng.next_f64(), rng.next_f64(), 0.1 + rng.next_f64() * 0.4);
            let mut out = Vec::with_capacity(size * size * 3);
            for y in 0..size {
                for x in 0..size {
                    let (u, v) = (x as f64 / size as f64, y as f64 / size as f64);
                    let stripe =
                        (0.5 + 0.5 * (freq * std::f64::consts::PI * (u + v)).sin()).round();
                    let disc = ((u - cx).powi(2) + (v - cy).powi(2)).sqrt() < r;
                    for ((left, right), inside) in c[0].iter().zip(&c[1]).zip(&c[2]) {
                        let g = left * (1.0 - u) + right * u;
                        let val = if disc {
                            *inside
                        } else {
                            g * (0.6 + 0.4 * stripe)
                        };
                        out.push(val.clamp(0.0, 255.0) as u8);
                    }
                }
            }
            out
        })
        .collect()
}

fn decided(scores: &[f64], pairs: &[LabeledPair]) -> Vec<(f64, f64)> {
    pairs
        .iter()
        .filter(|p| p.target != 0.5)
        .map(|p| {
            if p.target > 0.5 {
                (scores[p.a], scores[p.b])
            } else {
                (scores[p.b], scores[p.a])
            }
        })
        .collect()
}

fn point(pooled: &[(f64, f64)], cv: &[f64], seed: u64) -> ArmPoint {
    let acc = correlation::pairwise_accuracy(pooled).map_or(f64::NAN, |a| a.accuracy);
    let interval =
        correlation::pairwise_accuracy_interval(pooled, 1000, seed).unwrap_or((f64::NAN, f64::NAN));
    ArmPoint {
        accuracy: acc,
        interval,
        cv_accuracy: cv.iter().sum::<f64>() / cv.len().max(1) as f64,
    }
}

/// Runs the benchmark; `progress(done, total)` after each fit.
pub fn run(
    o: &BenchOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<BenchResult, String> {
    if o.images < 20 || o.labels.is_empty() || o.repeats == 0 || o.test_pairs == 0 {
        return Err("need at least 20 images, one label count, one repeat and test pairs".into());
    }
    if !(o.noise > 0.0 && o.noise.is_finite()) {
        return Err("the rater noise must be positive".into());
    }
    let t0 = std::time::Instant::now();
    let (emb, d) = embed_images(o)?;
    let seconds_embedding = t0.elapsed().as_secs_f64();

    let t1 = std::time::Instant::now();
    let domain = Domain::simulate(o, &emb, d);
    let opts = TrainOptions {
        folds: o.folds,
        repeats: 1,
        bootstrap: 200,
        curve: false,
        seed: o.seed,
        ..TrainOptions::default()
    };
    let total = o.labels.len() * o.repeats;
    let mut done = 0;
    let mut tick = || {
        done += 1;
        progress(done, total);
    };
    let mut rows = Vec::new();
    for &n in &o.labels {
        rows.push(domain.row(o, &opts, n, &mut tick)?);
    }
    let gain_at_1000 = rows
        .iter()
        .find(|r| r.labels == 1000)
        .map(|r| r.finetuned.accuracy - r.general.accuracy);
    Ok(BenchResult {
        images: o.images,
        dim: d,
        angle: o.angle,
        noise: o.noise,
        repeats: o.repeats,
        test_pairs: domain.test_pairs.len(),
        oracle: domain.oracle,
        target_not_worse: rows.iter().all(|r| r.not_worse),
        gain_at_1000,
        rows,
        seconds_embedding,
        seconds_training: t1.elapsed().as_secs_f64(),
    })
}

/// The procedural images embedded by the tiny CLIP (`o.clip`), and the embedding width.
fn embed_images(o: &BenchOptions) -> Result<(Vec<Vec<f32>>, usize), String> {
    let device = burn::tensor::Device::flex();
    let clip = Clip::load_path(&o.clip, &device).map_err(|e| {
        format!(
            "cannot load the tiny CLIP from {} ({e}); run from the repository root or pass --clip",
            o.clip.display()
        )
    })?;
    let size = clip.image_size();
    let imgs = images(o.images, size, o.seed);
    let mut emb: Vec<Vec<f32>> = Vec::with_capacity(o.images);
    for chunk in imgs.chunks(64) {
        let batch: Vec<(&[u8], usize, usize)> =
            chunk.iter().map(|v| (v.as_slice(), size, size)).collect();
        emb.extend(clip.embed_rgb(&batch).map_err(|e| e.to_string())?);
    }
    Ok((emb, clip.dim()))
}

/// The simulated domain: the general head, the training images with their taste scores, and
/// the test images with their fixed test labels.
struct Domain {
    base: BaseHead,
    train_table: FeatureTable,
    train_truth: Vec<f64>,
    test_table: FeatureTable,
    test_pairs: Vec<LabeledPair>,
    /// Normalised test embeddings (a consistency check of the arms' scores).
    test_x: Vec<Vec<f64>>,
    /// Test agreement of the taste itself.
    oracle: f64,
}

impl Domain {
    /// The general head, the domain's taste and the 70 / 30 split of the embedded images.
    fn simulate(o: &BenchOptions, emb: &[Vec<f32>], d: usize) -> Self {
        let x: Vec<Vec<f64>> = emb.iter().map(|v| normalized(v)).collect();
        let mut rng = Rng::new(o.seed ^ 0x4ead);
        let raw_w0: Vec<f64> = (0..d).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        // Scale the general head so that its scores spread like the taste's (unit std), offset 5.
        let w0 = sim::domain_taste(&x, &raw_w0, 0.0, 0);
        let taste = sim::domain_taste(&x, &w0, o.angle.to_radians(), o.seed ^ 0x7a57e);
        let truth: Vec<f64> = x
            .iter()
            .map(|r| r.iter().zip(&taste).map(|(a, b)| a * b).sum())
            .collect();
        let model = "clip:tiny-test".to_string();
        let base = BaseHead {
            name: "simulated-general-head".into(),
            model: model.clone(),
            weight: w0,
            bias: 5.0,
        };

        // Split the images: training images first (seeded order), then test images.
        let mut order: Vec<usize> = (0..o.images).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let n_train = o.images * 7 / 10;
        let (train_ids, test_ids) = order.split_at(n_train);
        let sub = |ids: &[usize]| -> (FeatureTable, Vec<f64>) {
            let mut t = FeatureTable::new(vec![]);
            for &i in ids {
                t.items.push(format!("img{i:05}"));
                t.rows.push(vec![]);
            }
            let vecs: Vec<Vec<f32>> = ids.iter().map(|&i| emb[i].clone()).collect();
            let mut k = 0;
            t.add_embedding(&model, d, |_| {
                k += 1;
                Some(vecs[k - 1].clone())
            });
            (t, ids.iter().map(|&i| truth[i]).collect())
        };
        let (train_table, train_truth) = sub(train_ids);
        let (test_table, test_truth) = sub(test_ids);
        let test_pairs = sim::pairs(&test_truth, o.test_pairs, o.noise, o.seed ^ 0x7e57, 0);
        let test_x: Vec<Vec<f64>> = test_table.embeddings[0]
            .vectors
            .iter()
            .map(|v| normalized(v.as_deref().unwrap_or(&[])))
            .collect();
        let oracle = correlation::pairwise_accuracy(&decided(&test_truth, &test_pairs))
            .map_or(f64::NAN, |a| a.accuracy);
        Self {
            base,
            train_table,
            train_truth,
            test_table,
            test_pairs,
            test_x,
            oracle,
        }
    }

    /// The row of `n` training labels: every repeat fine-tuned on new labels and its three arms
    /// scored on the test labels; `tick` after each repeat.
    fn row(
        &self,
        o: &BenchOptions,
        opts: &TrainOptions,
        n: usize,
        tick: &mut impl FnMut(),
    ) -> Result<Row, String> {
        let mut pooled: [Vec<(f64, f64)>; 3] = Default::default();
        let mut cv: [Vec<f64>; 3] = Default::default();
        let mut l2_sp = Vec::new();
        let mut activated = 0;
        for r in 0..o.repeats {
            let pairs = sim::pairs(
                &self.train_truth,
                n,
                o.noise,
                o.seed ^ ((r as u64 + 1) << 32) ^ n as u64,
                0,
            );
            let labels = Labels {
                items: self.train_table.items.clone(),
                pairs,
                likert: vec![],
            };
            let t = finetune::finetune(
                &self.train_table,
                &labels,
                &self.base,
                opts,
                &finetune::SP_GRID,
                &finetune::SCRATCH_GRID,
                &finetune::Control::default(),
            )
            .map_err(|e| format!("{n} labels, repeat {r}: {e}"))?;
            let c = t.report.comparison.ok_or("no comparison")?;
            for (k, arm) in [&c.general, &c.scratch, &c.finetuned]
                .into_iter()
                .enumerate()
            {
                let rows = arm.model.inputs(&self.test_table);
                let scores: Vec<f64> = rows.iter().map(|row| arm.model.score(row)).collect();
                debug_assert_eq!(scores.len(), self.test_x.len());
                pooled[k].extend(decided(&scores, &self.test_pairs));
                cv[k].push(arm.accuracy);
            }
            l2_sp.push(c.finetuned.spec.l2);
            activated += usize::from(c.beats_general);
            tick();
        }
        let [g, s, f] = [0, 1, 2].map(|k| point(&pooled[k], &cv[k], o.seed ^ k as u64));
        let not_worse = f.interval.1 >= g.interval.0 && f.interval.1 >= s.interval.0;
        Ok(Row {
            labels: n,
            general: g,
            scratch: s,
            finetuned: f,
            l2_sp,
            activated,
            not_worse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_seeded_and_varied() {
        let a = images(5, 16, 3);
        assert_eq!(a, images(5, 16, 3));
        assert_ne!(a[0], a[1]);
        assert_eq!(a[0].len(), 16 * 16 * 3);
    }

    /// The full default benchmark (`assay bench finetune` with its defaults) through the test
    /// harness: `cargo test --lib finetune_bench -- --ignored --nocapture`.
    #[test]
    #[ignore = "the benchmark itself (a minute or more); run on demand"]
    fn default_benchmark() {
        let o = BenchOptions {
            clip: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clip_tiny/hf").into(),
            ..BenchOptions::default()
        };
        let r = run(&o, |_, _| {}).unwrap();
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
        for row in &r.rows {
            println!(
                "{:>5} general {:.3} [{:.3}, {:.3}]  scratch {:.3} [{:.3}, {:.3}]  fine-tuned {:.3} [{:.3}, {:.3}]  activated {}/{}  not worse {}",
                row.labels,
                row.general.accuracy,
                row.general.interval.0,
                row.general.interval.1,
                row.scratch.accuracy,
                row.scratch.interval.0,
                row.scratch.interval.1,
                row.finetuned.accuracy,
                row.finetuned.interval.0,
                row.finetuned.interval.1,
                row.activated,
                r.repeats,
                row.not_worse
            );
        }
        println!(
            "oracle {:.3}; target not worse: {}; gain at 1000: {:?}",
            r.oracle, r.target_not_worse, r.gain_at_1000
        );
    }

    #[test]
    fn a_small_run_finds_the_shift() {
        let o = BenchOptions {
            clip: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clip_tiny/hf").into(),
            images: 120,
            labels: vec![400],
            repeats: 1,
            test_pairs: 1000,
            folds: 3,
            angle: 60.0,
            ..BenchOptions::default()
        };
        let mut calls = 0;
        let r = run(&o, |_, _| calls += 1).unwrap();
        assert_eq!(calls, 1);
        let row = &r.rows[0];
        assert!(
            row.finetuned.accuracy > row.general.accuracy + 0.05,
            "{row:?}"
        );
        assert!(r.oracle >= row.finetuned.accuracy - 0.02, "{r:?}");
    }
}
