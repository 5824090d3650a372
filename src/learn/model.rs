//! The scoring heads and their training with burn autodiff.
//!
//! A head maps a standardised feature vector x to a score s(x): linear (`s = w·x`; a bias would
//! cancel in every difference) or a small MLP (`s = w₂·relu(W₁x + b₁)`). Training minimises the
//! Bradley–Terry / logistic pairwise loss on score differences,
//! `−mean[y·log σ(s_a − s_b) + (1 − y)·log σ(s_b − s_a)]` with y ∈ {1, ½, 0}, plus
//! `weight_decay · Σ w²` over the weight matrices (not the biases), full batch with Adam.
//! Early stopping keeps the parameters with the lowest validation loss and stops after
//! `patience` epochs without improvement.
//!
//! Determinism: weights are initialised from the project's seeded generator
//! ([`crate::ranking::rng::Rng`], uniform ±1/√fan_in like burn's default) rather than burn's
//! device RNG, whose seeding the docs call backend-dependent; full-batch training has no other
//! randomness. Inference needs no burn: [`Layer`]s are plain f32 arrays ([`forward`]).

use burn::module::{Module, Param};
use burn::nn::{Linear, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::LearnError;
use super::labels::LabeledPair;
use crate::ranking::rng::Rng;

/// Which head to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// `s = w·x`.
    Linear,
    /// One hidden ReLU layer.
    Mlp,
}

/// One dense layer, `y = x·W (+ b)` with `W` row-major `[inputs][outputs]` (burn's layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

/// Scores one standardised vector: every layer but the last is followed by ReLU.
pub fn forward(layers: &[Layer], x: &[f64]) -> f64 {
    let mut h: Vec<f64> = x.to_vec();
    for (k, l) in layers.iter().enumerate() {
        let mut y: Vec<f64> = l.bias.as_ref().map_or_else(
            || vec![0.0; l.outputs],
            |b| b.iter().map(|&v| f64::from(v)).collect(),
        );
        for (i, &xi) in h.iter().enumerate().take(l.inputs) {
            if xi == 0.0 {
                continue;
            }
            let row = &l.weight[i * l.outputs..(i + 1) * l.outputs];
            for (yo, &w) in y.iter_mut().zip(row) {
                *yo += xi * f64::from(w);
            }
        }
        if k + 1 < layers.len() {
            for v in &mut y {
                *v = v.max(0.0);
            }
        }
        h = y;
    }
    h.first().copied().unwrap_or(0.0)
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub head: Head,
    pub hidden: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub max_epochs: usize,
    pub patience: usize,
    pub seed: u64,
}

/// What training produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub layers: Vec<Layer>,
    /// Epochs run.
    pub epochs: usize,
    /// Epoch whose parameters were kept (the last one without a validation set).
    pub best_epoch: usize,
    /// Loss (without the penalty) on the training pairs, at the kept parameters' epoch.
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
}

#[derive(Module, Debug)]
struct Net {
    hidden: Option<Linear>,
    act: Relu,
    out: Linear,
}

impl Net {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.hidden {
            Some(h) => self.out.forward(self.act.forward(h.forward(x))),
            None => self.out.forward(x),
        }
    }

    fn weights(&self) -> Vec<Tensor<2>> {
        self.hidden
            .iter()
            .map(|h| h.weight.val())
            .chain(std::iter::once(self.out.weight.val()))
            .collect()
    }
}

fn seeded_linear(
    rng: &mut Rng,
    inputs: usize,
    outputs: usize,
    bias: bool,
    device: &Device,
) -> Linear {
    let k = 1.0 / (inputs.max(1) as f64).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| ((rng.next_f64() * 2.0 - 1.0) * k) as f32)
            .collect()
    };
    let w = draw(inputs * outputs);
    let b = bias.then(|| draw(outputs));
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [inputs, outputs]),
            device,
        )),
        bias: b
            .map(|b| Param::from_tensor(Tensor::from_data(TensorData::new(b, [outputs]), device))),
    }
}

fn init(d: usize, opts: &FitOptions, device: &Device) -> Net {
    let mut rng = Rng::new(opts.seed);
    match opts.head {
        Head::Linear => Net {
            hidden: None,
            act: Relu::new(),
            out: seeded_linear(&mut rng, d, 1, false, device),
        },
        Head::Mlp => {
            let h = opts.hidden.max(1);
            Net {
                hidden: Some(seeded_linear(&mut rng, d, h, true, device)),
                act: Relu::new(),
                out: seeded_linear(&mut rng, h, 1, false, device),
            }
        }
    }
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>, LearnError> {
    t.into_data()
        .try_to_vec_as::<f32>()
        .map_err(|e| LearnError::Backend(format!("{e:?}")))
}

fn layer(l: &Linear) -> Result<Layer, LearnError> {
    let w = l.weight.val();
    let [inputs, outputs] = w.dims();
    let bias = match &l.bias {
        Some(b) => Some(
            b.val()
                .into_data()
                .try_to_vec_as::<f32>()
                .map_err(|e| LearnError::Backend(format!("{e:?}")))?,
        ),
        None => None,
    };
    Ok(Layer {
        inputs,
        outputs,
        weight: to_vec(w)?,
        bias,
    })
}

fn layers(net: &Net) -> Result<Vec<Layer>, LearnError> {
    let mut out = Vec::new();
    if let Some(h) = &net.hidden {
        out.push(layer(h)?);
    }
    out.push(layer(&net.out)?);
    Ok(out)
}

/// Pair indices and targets as tensors.
struct PairTensors {
    a: Tensor<1, Int>,
    b: Tensor<1, Int>,
    y: Tensor<1>,
}

fn pair_tensors(pairs: &[LabeledPair], device: &Device) -> PairTensors {
    let n = pairs.len();
    let idx = |f: fn(&LabeledPair) -> usize| -> Tensor<1, Int> {
        let v: Vec<i64> = pairs.iter().map(|p| f(p) as i64).collect();
        Tensor::from_data(TensorData::new(v, [n]), device)
    };
    let y: Vec<f32> = pairs.iter().map(|p| p.target as f32).collect();
    PairTensors {
        a: idx(|p| p.a),
        b: idx(|p| p.b),
        y: Tensor::from_data(TensorData::new(y, [n]), device),
    }
}

/// Mean Bradley–Terry loss of the pairs given item scores `s` (shape `[items]`).
fn bt_loss(s: &Tensor<1>, p: &PairTensors) -> Tensor<1> {
    let d = s.clone().select(0, p.a.clone()) - s.clone().select(0, p.b.clone());
    let y = p.y.clone();
    let ll = y.clone() * log_sigmoid(d.clone()) + (y.neg() + 1.0) * log_sigmoid(d.neg());
    ll.mean().neg()
}

fn scalar(t: Tensor<1>) -> f64 {
    // A failed read becomes NaN, which the callers treat as a failed training.
    t.try_into_scalar::<f32>().map_or(f64::NAN, f64::from)
}

/// Trains a head on `x` (standardised, one row per item) from `train` pairs, with early stopping
/// on `validation` pairs when there are any.
pub fn fit(
    x: &[Vec<f64>],
    train: &[LabeledPair],
    validation: &[LabeledPair],
    opts: &FitOptions,
    device: &Device,
) -> Result<Fitted, LearnError> {
    let n = x.len();
    let d = x.first().map_or(0, Vec::len);
    if train.is_empty() {
        return Err(LearnError::NoLabels("no training pairs".into()));
    }
    if d == 0 || x.iter().any(|r| r.len() != d) {
        return Err(LearnError::Invalid(
            "feature rows are empty or ragged".into(),
        ));
    }
    if train
        .iter()
        .chain(validation)
        .any(|p| p.a >= n || p.b >= n || !(0.0..=1.0).contains(&p.target))
    {
        return Err(LearnError::Invalid(
            "a pair refers to no item or has a target outside [0, 1]".into(),
        ));
    }
    let ad = device.clone().autodiff();
    let flat: Vec<f32> = x.iter().flatten().map(|&v| v as f32).collect();
    let xt: Tensor<2> = Tensor::from_data(TensorData::new(flat, [n, d]), &ad);
    let tp = pair_tensors(train, &ad);
    let vp = (!validation.is_empty()).then(|| pair_tensors(validation, &ad));
    let mut net = init(d, opts, &ad);
    let mut optim = AdamConfig::new().init();
    let mut best: Option<(f64, f64, usize, Net)> = None; // (val loss, train loss, epoch, params)
    let mut epochs = 0;
    for epoch in 0..opts.max_epochs {
        epochs = epoch + 1;
        let s: Tensor<1> = net.forward(xt.clone()).reshape([n]);
        let data_loss = bt_loss(&s, &tp);
        if let Some(vp) = &vp {
            let val = scalar(bt_loss(&s, vp));
            let train_now = scalar(data_loss.clone());
            if !val.is_finite() || !train_now.is_finite() {
                return Err(LearnError::Backend("the loss became non-finite".into()));
            }
            let improved = best.as_ref().is_none_or(|(b, ..)| val < b - 1e-7);
            if improved {
                best = Some((val, train_now, epoch, net.clone()));
            } else if best
                .as_ref()
                .is_some_and(|(_, _, e, _)| epoch - e >= opts.patience)
            {
                break;
            }
        }
        let penalty = net
            .weights()
            .into_iter()
            .map(|w| (w.clone() * w).sum())
            .reduce(|a, b| a + b);
        let loss = match penalty {
            Some(p) if opts.weight_decay > 0.0 => data_loss + p * opts.weight_decay,
            _ => data_loss,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(opts.lr, net, grads);
    }
    match best {
        Some((val, train_loss, epoch, net)) => Ok(Fitted {
            layers: layers(&net)?,
            epochs,
            best_epoch: epoch + 1,
            train_loss,
            validation_loss: Some(val),
        }),
        None => {
            // No validation: the parameters after the last step; report their training loss.
            let s: Tensor<1> = net.forward(xt).reshape([n]);
            let final_loss = scalar(bt_loss(&s, &tp));
            if !final_loss.is_finite() {
                return Err(LearnError::Backend("the loss became non-finite".into()));
            }
            Ok(Fitted {
                layers: layers(&net)?,
                epochs,
                best_epoch: epochs,
                train_loss: final_loss,
                validation_loss: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(head: Head) -> FitOptions {
        FitOptions {
            head,
            hidden: 8,
            lr: 0.05,
            weight_decay: 0.0,
            max_epochs: 300,
            patience: 30,
            seed: 3,
        }
    }

    /// Items on a grid of 3-d features; the true preference is `w* = (2, −1, 0)`.
    fn synthetic(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<LabeledPair>) {
        let mut rng = Rng::new(seed);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..3).map(|_| rng.next_f64() * 2.0 - 1.0).collect())
            .collect();
        let truth = |v: &[f64]| 2.0 * v[0] - v[1];
        let mut pairs = Vec::new();
        for k in 0..400 {
            let (a, b) = (rng.below(n), rng.below(n));
            if a == b {
                continue;
            }
            let p = 1.0 / (1.0 + (-(truth(&x[a]) - truth(&x[b])) * 3.0).exp());
            let target = if rng.next_f64() < p { 1.0 } else { 0.0 };
            pairs.push(LabeledPair {
                a,
                b,
                target,
                event: k,
            });
        }
        (x, pairs)
    }

    #[test]
    fn linear_head_recovers_the_true_direction() {
        let (x, pairs) = synthetic(60, 11);
        let f = fit(&x, &pairs, &[], &opts(Head::Linear), &Device::flex()).unwrap();
        let w: Vec<f64> = f.layers[0].weight.iter().map(|&v| f64::from(v)).collect();
        let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos = (2.0 * w[0] - w[1]) / (norm * 5f64.sqrt());
        assert!(cos > 0.95, "cosine to the true direction {cos}, w = {w:?}");
        assert!(
            w[2].abs() < 0.3 * norm,
            "irrelevant feature stays small: {w:?}"
        );
        assert!(f.train_loss < 0.55, "loss {}", f.train_loss);
    }

    #[test]
    fn gradient_matches_the_analytic_bt_gradient() {
        // At w = 0 every difference d is 0, so the loss is ln 2 and the analytic gradient of
        // the BT loss is g = mean[(σ(0) − y)(x_a − x_b)] = mean[(½ − y)(x_a − x_b)].
        let x = [[1.0, 0.0, -1.0], [0.0, 2.0, 0.5], [-1.0, 1.0, 3.0]];
        let pairs = vec![
            LabeledPair {
                a: 0,
                b: 1,
                target: 1.0,
                event: 0,
            },
            LabeledPair {
                a: 2,
                b: 1,
                target: 0.5,
                event: 1,
            },
            LabeledPair {
                a: 2,
                b: 0,
                target: 0.0,
                event: 2,
            },
        ];
        let mut g = [0.0f64; 3];
        for p in &pairs {
            for (j, gj) in g.iter_mut().enumerate() {
                *gj += (0.5 - p.target) * (x[p.a][j] - x[p.b][j]) / pairs.len() as f64;
            }
        }
        let ad = Device::flex().autodiff();
        let net = Net {
            hidden: None,
            act: Relu::new(),
            out: Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(vec![0.0f32; 3], [3, 1]),
                    &ad,
                )),
                bias: None,
            },
        };
        let flat: Vec<f32> = x.iter().flatten().map(|&v| v as f32).collect();
        let s: Tensor<1> = net
            .forward(Tensor::from_data(TensorData::new(flat, [3, 3]), &ad))
            .reshape([3]);
        let loss = bt_loss(&s, &pair_tensors(&pairs, &ad));
        assert!(
            (scalar(loss.clone()) - std::f64::consts::LN_2).abs() < 1e-6,
            "loss at 0 is ln 2"
        );
        let grads = loss.backward();
        let gw = net.out.weight.val().grad(&grads).unwrap();
        let got: Vec<f32> = gw.into_data().try_to_vec_as::<f32>().unwrap();
        for (a, b) in got.iter().zip(g) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-6,
                "autodiff {got:?} vs analytic {g:?}"
            );
        }
    }

    #[test]
    fn same_seed_same_parameters_and_the_mlp_learns() {
        let (x, pairs) = synthetic(40, 5);
        let (train, val) = pairs.split_at(300);
        let o = FitOptions {
            weight_decay: 1e-3,
            ..opts(Head::Mlp)
        };
        let a = fit(&x, train, val, &o, &Device::flex()).unwrap();
        let b = fit(&x, train, val, &o, &Device::flex()).unwrap();
        assert_eq!(a, b, "same seed, same data → identical parameters");
        let c = fit(
            &x,
            train,
            val,
            &FitOptions {
                seed: 4,
                ..o.clone()
            },
            &Device::flex(),
        )
        .unwrap();
        assert_ne!(a.layers, c.layers, "another seed, another initialisation");
        assert!(a.validation_loss.unwrap() < 0.6, "{a:?}");
        assert!(a.best_epoch <= a.epochs);
        // burn's forward and the plain inference agree.
        let truth = |v: &[f64]| 2.0 * v[0] - v[1];
        let right = val
            .iter()
            .filter(|p| {
                let d = forward(&a.layers, &x[p.a]) - forward(&a.layers, &x[p.b]);
                (d > 0.0) == (truth(&x[p.a]) > truth(&x[p.b]))
            })
            .count();
        assert!(
            right as f64 / val.len() as f64 > 0.85,
            "{right}/{}",
            val.len()
        );
    }

    #[test]
    fn ties_pull_scores_together() {
        // Only tie labels: the loss is minimised by equal scores, so the learned difference
        // between the two items shrinks towards 0 from its random start.
        let x = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let pairs: Vec<LabeledPair> = (0..4)
            .map(|k| LabeledPair {
                a: 0,
                b: 1,
                target: 0.5,
                event: k,
            })
            .collect();
        let start = fit(
            &x,
            &pairs,
            &[],
            &FitOptions {
                max_epochs: 1,
                lr: 1e-9,
                ..opts(Head::Linear)
            },
            &Device::flex(),
        )
        .unwrap();
        let end = fit(
            &x,
            &pairs,
            &[],
            &FitOptions {
                max_epochs: 400,
                ..opts(Head::Linear)
            },
            &Device::flex(),
        )
        .unwrap();
        let gap = |f: &Fitted| (forward(&f.layers, &x[0]) - forward(&f.layers, &x[1])).abs();
        assert!(
            gap(&start) > 0.05,
            "random start separates them: {}",
            gap(&start)
        );
        assert!(gap(&end) < 0.01, "ties pull them together: {}", gap(&end));
        assert!((end.train_loss - std::f64::consts::LN_2).abs() < 1e-3);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = vec![vec![1.0], vec![2.0]];
        let o = opts(Head::Linear);
        assert!(fit(&x, &[], &[], &o, &Device::flex()).is_err());
        let bad = [LabeledPair {
            a: 0,
            b: 5,
            target: 1.0,
            event: 0,
        }];
        assert!(fit(&x, &bad, &[], &o, &Device::flex()).is_err());
        let ragged = vec![vec![1.0], vec![]];
        let ok = [LabeledPair {
            a: 0,
            b: 1,
            target: 1.0,
            event: 0,
        }];
        assert!(fit(&ragged, &ok, &[], &o, &Device::flex()).is_err());
    }
}
