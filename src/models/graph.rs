//! A small interpreter for op graphs exported from TFLite models (`scripts/convert_hands.py`):
//! one safetensors file holds the constants (`t<id>`, float16 or float32) and, in its metadata
//! under `graph`, the op list in execution order. The runner evaluates it with burn ops on any
//! device, batched over the first dimension.
//!
//! Conventions (fixed by the converter, so the runner never guesses):
//! - activations of rank 4 are NCHW here (TFLite's are NHWC); the converter stored conv weights
//!   `[O, I, kh, kw]`, depthwise weights `[C, 1, kh, kw]`, PReLU slopes `[C]`, and resolved TFLite's
//!   SAME padding into explicit `[top, bottom, left, right]` (TensorFlow's rule: the odd pixel at
//!   the bottom/right);
//! - axes and shapes in op options are TFLite's (NHWC): PAD, CONCATENATION, MEAN map them, RESHAPE
//!   and FULLY_CONNECTED flatten a rank-4 activation in NHWC order (as TFLite does);
//! - a target shape's batch entry is replaced by the actual batch size.
//!
//! Supported ops: CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1), ADD, PRELU, MAX_POOL_2D, PAD,
//! RESIZE_BILINEAR (half-pixel centres, as separable interpolation matrices: TFLite's weights,
//! with its clamped lower/upper taps), RESHAPE, CONCATENATION, MEAN, FULLY_CONNECTED, LOGISTIC,
//! each with its fused activation (none, RELU, RELU6). A file with any other op, a missing
//! constant or a malformed option is an error at load time, naming it. Intermediate activations
//! are dropped after their last use.

use std::collections::HashMap;

use burn::tensor::activation::{prelu, relu, sigmoid};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Deserialize;

use super::mtcnn::weights::{Tensors, WeightError};

/// Why a graph file could not be used or run.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error("{file}: {reason}")]
    Format { file: String, reason: String },
    #[error("input has shape {found:?}, the graph takes [N, {c}, {h}, {w}]")]
    Input {
        found: Vec<usize>,
        c: usize,
        h: usize,
        w: usize,
    },
}

/// An activation of any supported rank (rank 4 is NCHW).
#[derive(Clone, Debug)]
pub enum Act {
    R2(Tensor<2>),
    R3(Tensor<3>),
    R4(Tensor<4>),
}

impl Act {
    /// Dimensions (NCHW for rank 4).
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Act::R2(t) => t.dims().to_vec(),
            Act::R3(t) => t.dims().to_vec(),
            Act::R4(t) => t.dims().to_vec(),
        }
    }

    /// The values in row-major order of [`Act::dims`].
    pub fn to_vec(&self) -> Vec<f32> {
        let data = match self {
            Act::R2(t) => t.clone().into_data(),
            Act::R3(t) => t.clone().into_data(),
            Act::R4(t) => t.clone().into_data(),
        };
        data.convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default()
    }

    fn r4(self, op: &str) -> Result<Tensor<4>, String> {
        match self {
            Act::R4(t) => Ok(t),
            other => Err(format!(
                "{op}: expected a rank-4 input, got {:?}",
                other.dims()
            )),
        }
    }

    /// As `[N, F]`, flattening a rank-3/4 activation in NHWC order.
    fn flat(self) -> Tensor<2> {
        match self {
            Act::R2(t) => t,
            Act::R3(t) => {
                let [n, a, b] = t.dims();
                t.reshape([n, a * b])
            }
            Act::R4(t) => {
                let [n, c, h, w] = t.dims();
                t.permute([0, 2, 3, 1]).reshape([n, h * w * c])
            }
        }
    }
}

/// The recorded outputs of a traced run: (tensor id, dims, values); rank 4 is NCHW.
pub type Trace = Vec<(usize, Vec<usize>, Vec<f32>)>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    None,
    Relu,
    Relu6,
}

impl Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::None => x,
            Activation::Relu => relu(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

/// One op as the converter wrote it (options absent where they do not apply).
#[derive(Deserialize)]
struct OpSpec {
    op: String,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    #[serde(default)]
    stride: Vec<usize>,
    #[serde(default)]
    pads: Vec<usize>,
    #[serde(default)]
    kernel: Vec<usize>,
    #[serde(default)]
    activation: Option<String>,
    #[serde(default)]
    paddings: Vec<Vec<usize>>,
    #[serde(default)]
    shape: Vec<usize>,
    #[serde(default)]
    size: Vec<usize>,
    #[serde(default)]
    axis: i64,
    #[serde(default)]
    axes: Vec<i64>,
    #[serde(default)]
    keep_dims: bool,
}

#[derive(Deserialize)]
struct GraphSpec {
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    output_names: Vec<String>,
    shapes: HashMap<String, Vec<usize>>,
    ops: Vec<OpSpec>,
}

enum Kind {
    Conv {
        w: Tensor<4>,
        b: Tensor<1>,
        opts: ConvOptions<2>,
    },
    Add,
    Prelu(Tensor<1>),
    MaxPool(MaxPoolOptions<2>),
    /// NCHW padding pairs.
    Pad([(usize, usize); 4]),
    /// Interpolation matrices `ryᵀ` `[H, OH]` and `rxᵀ` `[W, OW]`.
    Resize {
        ry_t: Tensor<2>,
        rx_t: Tensor<2>,
    },
    /// Target NHWC shape without its batch entry.
    Reshape(Vec<usize>),
    /// Axis in the activation's own layout.
    Concat(usize),
    /// Mean over H and W (rank-4 input), to `[N, C]`.
    MeanHw,
    Dense {
        w_t: Tensor<2>,
        b: Tensor<2>,
    },
    Logistic,
}

struct Op {
    kind: Kind,
    act: Activation,
    inputs: Vec<usize>,
    output: usize,
}

/// A loaded op graph.
pub struct Graph {
    ops: Vec<Op>,
    input: usize,
    /// NHWC shape of the input, batch 1.
    input_shape: [usize; 4],
    outputs: Vec<usize>,
    output_names: Vec<String>,
    /// Index of the last op reading each tensor (activations are dropped after it).
    last_use: HashMap<usize, usize>,
}

/// Interpolation matrix `[out, in]` of TFLite's half-pixel bilinear resize along one axis.
fn resize_matrix(input: usize, output: usize) -> Vec<f32> {
    let scale = input as f32 / output as f32;
    let mut m = vec![0f32; output * input];
    for o in 0..output {
        let v = (o as f32 + 0.5) * scale - 0.5;
        let lo = (v.floor() as i64).max(0) as usize;
        let hi = (v.ceil() as i64).min(input as i64 - 1).max(0) as usize;
        let frac = v - lo as f32;
        m[o * input + lo] += 1.0 - frac;
        m[o * input + hi] += frac;
    }
    m
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// NHWC axis → NCHW axis.
fn nchw_axis(axis: usize) -> usize {
    [0, 2, 3, 1][axis.min(3)]
}

struct Loader<'a> {
    file: &'a str,
    tensors: Tensors,
    shapes: &'a HashMap<String, Vec<usize>>,
    device: &'a Device,
}

impl Loader<'_> {
    fn err(&self, reason: String) -> GraphError {
        GraphError::Format {
            file: self.file.to_string(),
            reason,
        }
    }

    fn constant(&self, id: usize) -> Result<(Vec<usize>, Vec<f32>), GraphError> {
        self.tensors
            .get(&format!("t{id}"))
            .map(|(s, v)| (s.to_vec(), v.to_vec()))
            .ok_or_else(|| self.err(format!("constant t{id} is missing")))
    }

    fn shape(&self, id: usize) -> Result<&Vec<usize>, GraphError> {
        self.shapes
            .get(&id.to_string())
            .ok_or_else(|| self.err(format!("tensor {id} has no shape")))
    }

    fn tensor<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), self.device)
    }

    fn four(&self, v: &[usize], what: &str) -> Result<[usize; 4], GraphError> {
        v.try_into()
            .map_err(|_| self.err(format!("{what}: expected 4 values, got {v:?}")))
    }

    fn conv(&self, s: &OpSpec, depthwise: bool) -> Result<Kind, GraphError> {
        let (ws, w) = self.constant(s.inputs[1])?;
        let (bs, b) = self.constant(s.inputs[2])?;
        let ws = self.four(&ws, &s.op)?;
        if bs != [ws[0]] || s.stride.len() != 2 {
            return Err(self.err(format!("{}: bias {bs:?} / stride {:?}", s.op, s.stride)));
        }
        let [t, bo, l, r] = self.four(&s.pads, "pads")?;
        let groups = if depthwise { ws[0] } else { 1 };
        let opts = ConvOptions {
            stride: [s.stride[0], s.stride[1]],
            padding: [(t, bo), (l, r)],
            dilation: [1, 1],
            groups,
        };
        Ok(Kind::Conv {
            w: self.tensor(w, ws),
            b: self.tensor(b, [ws[0]]),
            opts,
        })
    }

    fn kind(&self, s: &OpSpec) -> Result<Kind, GraphError> {
        let needed = match s.op.as_str() {
            "CONV_2D" | "DEPTHWISE_CONV_2D" | "FULLY_CONNECTED" => 3,
            "PRELU" | "ADD" => 2,
            _ => 1,
        };
        if s.inputs.len() < needed || s.outputs.is_empty() {
            return Err(self.err(format!(
                "{}: {} inputs, {} outputs",
                s.op,
                s.inputs.len(),
                s.outputs.len()
            )));
        }
        let input_shape = || self.shape(s.inputs[0]);
        Ok(match s.op.as_str() {
            "CONV_2D" => self.conv(s, false)?,
            "DEPTHWISE_CONV_2D" => self.conv(s, true)?,
            "ADD" => Kind::Add,
            "LOGISTIC" => Kind::Logistic,
            "PRELU" => {
                let (shape, a) = self.constant(s.inputs[1])?;
                Kind::Prelu(self.tensor(a, [shape.iter().product()]))
            }
            "MAX_POOL_2D" => {
                let [t, b, l, r] = self.four(&s.pads, "pads")?;
                if s.kernel.len() != 2 || s.stride.len() != 2 {
                    return Err(self.err("MAX_POOL_2D: kernel/stride".into()));
                }
                Kind::MaxPool(
                    MaxPoolOptions::new([s.kernel[0], s.kernel[1]])
                        .with_stride([s.stride[0], s.stride[1]])
                        .with_padding_pairs([(t, b), (l, r)]),
                )
            }
            "PAD" => {
                let p: Vec<(usize, usize)> = s
                    .paddings
                    .iter()
                    .map(|v| {
                        (
                            v.first().copied().unwrap_or(0),
                            v.get(1).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                if p.len() != 4 {
                    return Err(self.err(format!("PAD: paddings {:?}", s.paddings)));
                }
                Kind::Pad([p[0], p[3], p[1], p[2]])
            }
            "RESIZE_BILINEAR" => {
                let inp = input_shape()?;
                if inp.len() != 4 || s.size.len() != 2 {
                    return Err(self.err("RESIZE_BILINEAR: shapes".into()));
                }
                let (h, w, oh, ow) = (inp[1], inp[2], s.size[0], s.size[1]);
                if [h, w, oh, ow].contains(&0) {
                    return Err(self.err("RESIZE_BILINEAR: empty size".into()));
                }
                Kind::Resize {
                    ry_t: self.tensor(transpose(&resize_matrix(h, oh), oh, h), [h, oh]),
                    rx_t: self.tensor(transpose(&resize_matrix(w, ow), ow, w), [w, ow]),
                }
            }
            "RESHAPE" => {
                if !(2..=4).contains(&s.shape.len()) {
                    return Err(self.err(format!("RESHAPE: target {:?}", s.shape)));
                }
                Kind::Reshape(s.shape[1..].to_vec())
            }
            "CONCATENATION" => {
                let rank = input_shape()?.len() as i64;
                let axis = if s.axis < 0 { s.axis + rank } else { s.axis };
                if !(0..rank).contains(&axis) {
                    return Err(self.err(format!("CONCATENATION: axis {}", s.axis)));
                }
                let axis = axis as usize;
                Kind::Concat(if rank == 4 { nchw_axis(axis) } else { axis })
            }
            "MEAN" => {
                let mut axes = s.axes.clone();
                axes.sort_unstable();
                if axes != [1, 2] || s.keep_dims || input_shape()?.len() != 4 {
                    return Err(self.err(format!("MEAN: only over H, W: axes {:?}", s.axes)));
                }
                Kind::MeanHw
            }
            "FULLY_CONNECTED" => {
                let (ws, w) = self.constant(s.inputs[1])?;
                let (_, b) = self.constant(s.inputs[2])?;
                let [out, inp]: [usize; 2] = ws
                    .as_slice()
                    .try_into()
                    .map_err(|_| self.err(format!("FULLY_CONNECTED: weight {ws:?}")))?;
                Kind::Dense {
                    w_t: self.tensor(transpose(&w, out, inp), [inp, out]),
                    b: self.tensor(b, [1, out]),
                }
            }
            other => return Err(self.err(format!("unsupported op {other}"))),
        })
    }
}

impl Graph {
    /// Loads a graph file (safetensors with a `graph` metadata entry) onto `device`.
    pub fn load(file: &str, bytes: &[u8], device: &Device) -> Result<Self, GraphError> {
        let tensors = Tensors::parse(file, bytes)?;
        let fmt = |reason: String| GraphError::Format {
            file: file.to_string(),
            reason,
        };
        let spec: GraphSpec = serde_json::from_str(
            tensors
                .metadata("graph")
                .ok_or_else(|| fmt("no `graph` metadata".into()))?,
        )
        .map_err(|e| fmt(format!("graph: {e}")))?;
        let input = *spec.inputs.first().ok_or_else(|| fmt("no input".into()))?;
        let loader = Loader {
            file,
            tensors,
            shapes: &spec.shapes,
            device,
        };
        let input_shape = loader.four(loader.shape(input)?, "input shape")?;
        let mut ops = Vec::with_capacity(spec.ops.len());
        let mut last_use = HashMap::new();
        for (k, s) in spec.ops.iter().enumerate() {
            let kind = loader.kind(s)?;
            let act = match s.activation.as_deref() {
                None | Some("none") => Activation::None,
                Some("relu") => Activation::Relu,
                Some("relu6") => Activation::Relu6,
                Some(a) => return Err(fmt(format!("{}: activation {a}", s.op))),
            };
            // Activations only: constants were resolved into the op.
            let inputs: Vec<usize> = match kind {
                Kind::Add | Kind::Concat(_) => s.inputs.clone(),
                _ => s.inputs[..1].to_vec(),
            };
            for &i in &inputs {
                last_use.insert(i, k);
            }
            let output = *s
                .outputs
                .first()
                .ok_or_else(|| fmt("op without output".into()))?;
            ops.push(Op {
                kind,
                act,
                inputs,
                output,
            });
        }
        Ok(Self {
            ops,
            input,
            input_shape,
            outputs: spec.outputs,
            output_names: spec.output_names,
            last_use,
        })
    }

    /// Input height and width (the model's fixed size).
    pub fn input_size(&self) -> (usize, usize) {
        (self.input_shape[1], self.input_shape[2])
    }

    /// The model's output names (TFLite's), in the order [`Graph::run`] returns them.
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }

    /// Runs the graph on an NCHW batch; `trace` records every op output.
    pub fn run(&self, x: Tensor<4>, mut trace: Option<&mut Trace>) -> Result<Vec<Act>, GraphError> {
        let [_, c, h, w] = x.dims();
        let [_, ih, iw, ic] = self.input_shape;
        if (c, h, w) != (ic, ih, iw) {
            return Err(GraphError::Input {
                found: x.dims().to_vec(),
                c: ic,
                h: ih,
                w: iw,
            });
        }
        let mut slots: HashMap<usize, Act> = HashMap::new();
        slots.insert(self.input, Act::R4(x));
        for (k, op) in self.ops.iter().enumerate() {
            let mut args = Vec::with_capacity(op.inputs.len());
            for &i in &op.inputs {
                let keep = self.outputs.contains(&i) || self.last_use.get(&i) != Some(&k);
                let v = if keep {
                    slots.get(&i).cloned()
                } else {
                    slots.remove(&i)
                };
                args.push(v.ok_or_else(|| GraphError::Format {
                    file: "graph".into(),
                    reason: format!("tensor {i} used before it is computed"),
                })?);
            }
            let out = eval(op, args).map_err(|reason| GraphError::Format {
                file: "graph".into(),
                reason,
            })?;
            if let Some(tr) = trace.as_deref_mut() {
                tr.push((op.output, out.dims(), out.to_vec()));
            }
            slots.insert(op.output, out);
        }
        self.outputs
            .iter()
            .map(|o| {
                slots.remove(o).ok_or_else(|| GraphError::Format {
                    file: "graph".into(),
                    reason: format!("output {o} never computed"),
                })
            })
            .collect()
    }
}

fn eval(op: &Op, mut args: Vec<Act>) -> Result<Act, String> {
    let first = args.remove(0);
    let a = op.act;
    Ok(match &op.kind {
        Kind::Conv { w, b, opts } => Act::R4(a.apply(conv2d(
            first.r4("conv")?,
            w.clone(),
            Some(b.clone()),
            opts.clone(),
        ))),
        Kind::Add => {
            let second = args.pop().ok_or("ADD: one input")?;
            match (first, second) {
                (Act::R4(x), Act::R4(y)) => Act::R4(a.apply(x + y)),
                (Act::R3(x), Act::R3(y)) => Act::R3(a.apply(x + y)),
                (Act::R2(x), Act::R2(y)) => Act::R2(a.apply(x + y)),
                _ => return Err("ADD: ranks differ".into()),
            }
        }
        Kind::Prelu(alpha) => Act::R4(prelu(first.r4("prelu")?, alpha.clone())),
        Kind::MaxPool(opts) => Act::R4(a.apply(max_pool2d(first.r4("max_pool")?, opts.clone()))),
        Kind::Pad(pairs) => Act::R4(first.r4("pad")?.pad(*pairs, PadMode::Constant(0.0))),
        Kind::Resize { ry_t, rx_t } => {
            let x = first.r4("resize")?;
            let [n, c, h, w] = x.dims();
            let [_, ow] = rx_t.dims();
            let [_, oh] = ry_t.dims();
            let x = x.reshape([n * c * h, w]).matmul(rx_t.clone());
            let x = x
                .reshape([n, c, h, ow])
                .swap_dims(2, 3)
                .reshape([n * c * ow, h]);
            let x = x
                .matmul(ry_t.clone())
                .reshape([n, c, ow, oh])
                .swap_dims(2, 3);
            Act::R4(x)
        }
        Kind::Reshape(target) => {
            let n = first.dims()[0];
            let flat = first.flat();
            match target.as_slice() {
                [f] => Act::R2(flat.reshape([n, *f])),
                [p, q] => Act::R3(flat.reshape([n, *p, *q])),
                [h, w, c] => Act::R4(flat.reshape([n, *h, *w, *c]).permute([0, 3, 1, 2])),
                _ => return Err(format!("RESHAPE: target {target:?}")),
            }
        }
        Kind::Concat(axis) => {
            args.insert(0, first);
            match args[0] {
                Act::R4(_) => Act::R4(Tensor::cat(
                    args.into_iter()
                        .map(|t| t.r4("concat"))
                        .collect::<Result<_, _>>()?,
                    *axis,
                )),
                Act::R3(_) => Act::R3(Tensor::cat(
                    args.into_iter()
                        .map(|t| match t {
                            Act::R3(t) => Ok(t),
                            _ => Err("CONCATENATION: ranks differ".to_string()),
                        })
                        .collect::<Result<_, _>>()?,
                    *axis,
                )),
                Act::R2(_) => Act::R2(Tensor::cat(
                    args.into_iter().map(Act::flat).collect(),
                    *axis,
                )),
            }
        }
        Kind::MeanHw => {
            let x = first.r4("mean")?;
            let [n, c, _, _] = x.dims();
            Act::R2(x.mean_dim(3).mean_dim(2).reshape([n, c]))
        }
        Kind::Dense { w_t, b } => Act::R2(a.apply(first.flat().matmul(w_t.clone()) + b.clone())),
        Kind::Logistic => match first {
            Act::R2(t) => Act::R2(sigmoid(t)),
            Act::R3(t) => Act::R3(sigmoid(t)),
            Act::R4(t) => Act::R4(sigmoid(t)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_a_graph_and_wrong_inputs_are_errors() {
        let device = Device::flex();
        let pnet = crate::models::mtcnn::weights::PNET;
        assert!(matches!(
            Graph::load("pnet", pnet, &device),
            Err(GraphError::Format { .. })
        ));
        assert!(Graph::load("x", b"garbage", &device).is_err());
        let g = Graph::load("palm", crate::models::hands::PALM, &device).unwrap();
        assert_eq!(g.input_size(), (192, 192));
        let x: Tensor<4> = Tensor::zeros([1, 3, 64, 64], &device);
        assert!(matches!(g.run(x, None), Err(GraphError::Input { .. })));
    }

    #[test]
    fn half_pixel_resize_matrix_is_tflites() {
        // 2× upsampling of 3 samples: TFLite's taps (clamped at the borders).
        let m = resize_matrix(3, 6);
        let rows: Vec<&[f32]> = m.chunks(3).collect();
        assert_eq!(rows[0], [1.0, 0.0, 0.0]);
        assert_eq!(rows[1], [0.75, 0.25, 0.0]);
        assert_eq!(rows[2], [0.25, 0.75, 0.0]);
        assert_eq!(rows[5], [0.0, 0.0, 1.0]);
    }
}
