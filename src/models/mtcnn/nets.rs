//! P-Net, R-Net and O-Net as burn tensor ops (NCHW), exactly as the Keras models of `mtcnn`
//! 1.0.0: stride-1 "valid" convolutions, PReLU, TensorFlow max pooling ("same": output
//! `ceil(in/s)`, the extra padding at the bottom/right, padded cells never win), softmax heads.
//! Keras flattens R-Net/O-Net features after `Permute((2, 1, 3))`; the converter reordered the
//! first dense layer's rows so an NCHW activation is flattened as it is.

use burn::tensor::activation::{prelu, softmax};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

use super::weights::{Tensors, WeightError};

/// Intermediate activations recorded by a traced forward pass: layer name (Keras names), NCHW
/// (or `[N, F]`) shape, values in row-major order of that shape.
pub type Trace = Vec<(String, Vec<usize>, Vec<f32>)>;

fn record<const D: usize>(trace: &mut Option<&mut Trace>, name: &str, t: &Tensor<D>) {
    if let Some(tr) = trace.as_deref_mut() {
        let dims = t.dims().to_vec();
        let values = t
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        tr.push((name.to_string(), dims, values));
    }
}

struct Conv {
    w: Tensor<4>,
    b: Tensor<1>,
}

impl Conv {
    fn load(
        t: &mut Tensors,
        name: &str,
        shape: [usize; 4],
        device: &Device,
    ) -> Result<Self, WeightError> {
        let w = t.take(&format!("{name}.weight"), &shape)?;
        let b = t.take(&format!("{name}.bias"), &[shape[0]])?;
        Ok(Self {
            w: Tensor::from_data(TensorData::new(w, shape), device),
            b: Tensor::from_data(TensorData::new(b, [shape[0]]), device),
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(
            x,
            self.w.clone(),
            Some(self.b.clone()),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        )
    }
}

struct Dense {
    w: Tensor<2>,
    /// `[1, out]`, broadcast over the batch.
    b: Tensor<2>,
}

impl Dense {
    fn load(
        t: &mut Tensors,
        name: &str,
        shape: [usize; 2],
        device: &Device,
    ) -> Result<Self, WeightError> {
        let w = t.take(&format!("{name}.weight"), &shape)?;
        let b = t.take(&format!("{name}.bias"), &[shape[1]])?;
        Ok(Self {
            w: Tensor::from_data(TensorData::new(w, shape), device),
            b: Tensor::from_data(TensorData::new(b, [1, shape[1]]), device),
        })
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.w.clone()) + self.b.clone()
    }
}

struct Prelu {
    a: Tensor<1>,
}

impl Prelu {
    fn load(t: &mut Tensors, name: &str, c: usize, device: &Device) -> Result<Self, WeightError> {
        let a = t.take(&format!("{name}.alpha"), &[c])?;
        Ok(Self {
            a: Tensor::from_data(TensorData::new(a, [c]), device),
        })
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        prelu(x, self.a.clone())
    }
}

/// TensorFlow max pooling, `same` or `valid`, on NCHW.
fn tf_max_pool(x: Tensor<4>, k: usize, s: usize, same: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let pad = |n: usize| {
        if !same {
            return (0, 0);
        }
        let out = n.div_ceil(s);
        let total = ((out.saturating_sub(1)) * s + k).saturating_sub(n);
        (total / 2, total - total / 2)
    };
    max_pool2d(
        x,
        MaxPoolOptions::new([k, k])
            .with_stride([s, s])
            .with_padding_pairs([pad(h), pad(w)]),
    )
}

fn check_empty(t: &Tensors) -> Result<(), WeightError> {
    match t.remaining().first() {
        None => Ok(()),
        Some(name) => Err(WeightError::Format {
            file: "mtcnn".to_string(),
            reason: format!("unexpected tensor `{name}`"),
        }),
    }
}

/// Proposal network: any input size ≥ 12×12 → box regression `[N, 4, h, w]` and face
/// probability `[N, 2, h, w]` (channel 1 = face), one cell per 2 px stride.
pub struct PNet {
    conv1: Conv,
    prelu1: Prelu,
    conv2: Conv,
    prelu2: Prelu,
    conv3: Conv,
    prelu3: Prelu,
    conv4_1: Conv,
    conv4_2: Conv,
}

impl PNet {
    pub fn load(bytes: &[u8], device: &Device) -> Result<Self, WeightError> {
        let mut t = Tensors::parse("pnet.safetensors", bytes)?;
        let net = Self {
            conv1: Conv::load(&mut t, "conv1", [10, 3, 3, 3], device)?,
            prelu1: Prelu::load(&mut t, "prelu1", 10, device)?,
            conv2: Conv::load(&mut t, "conv2", [16, 10, 3, 3], device)?,
            prelu2: Prelu::load(&mut t, "prelu2", 16, device)?,
            conv3: Conv::load(&mut t, "conv3", [32, 16, 3, 3], device)?,
            prelu3: Prelu::load(&mut t, "prelu3", 32, device)?,
            conv4_1: Conv::load(&mut t, "conv4_1", [4, 32, 1, 1], device)?,
            conv4_2: Conv::load(&mut t, "conv4_2", [2, 32, 1, 1], device)?,
        };
        check_empty(&t)?;
        Ok(net)
    }

    pub fn forward(&self, x: Tensor<4>, mut trace: Option<&mut Trace>) -> (Tensor<4>, Tensor<4>) {
        let tr = &mut trace;
        let x = self.conv1.forward(x);
        record(tr, "conv1", &x);
        let x = self.prelu1.forward(x);
        record(tr, "prelu1", &x);
        let x = tf_max_pool(x, 2, 2, true);
        record(tr, "maxpool1", &x);
        let x = self.conv2.forward(x);
        record(tr, "conv2", &x);
        let x = self.prelu2.forward(x);
        record(tr, "prelu2", &x);
        let x = self.conv3.forward(x);
        record(tr, "conv3", &x);
        let x = self.prelu3.forward(x);
        record(tr, "prelu3", &x);
        let reg = self.conv4_1.forward(x.clone());
        record(tr, "conv4_1", &reg);
        let prob = softmax(self.conv4_2.forward(x), 1);
        record(tr, "conv4_2", &prob);
        (reg, prob)
    }
}

/// Refinement network: `[N, 3, 24, 24]` → box regression `[N, 4]`, probability `[N, 2]`.
pub struct RNet {
    conv1: Conv,
    prelu1: Prelu,
    conv2: Conv,
    prelu2: Prelu,
    conv3: Conv,
    prelu3: Prelu,
    fc4: Dense,
    prelu4: Prelu,
    fc5_1: Dense,
    fc5_2: Dense,
}

impl RNet {
    pub fn load(bytes: &[u8], device: &Device) -> Result<Self, WeightError> {
        let mut t = Tensors::parse("rnet.safetensors", bytes)?;
        let net = Self {
            conv1: Conv::load(&mut t, "conv1", [28, 3, 3, 3], device)?,
            prelu1: Prelu::load(&mut t, "prelu1", 28, device)?,
            conv2: Conv::load(&mut t, "conv2", [48, 28, 3, 3], device)?,
            prelu2: Prelu::load(&mut t, "prelu2", 48, device)?,
            conv3: Conv::load(&mut t, "conv3", [64, 48, 2, 2], device)?,
            prelu3: Prelu::load(&mut t, "prelu3", 64, device)?,
            fc4: Dense::load(&mut t, "fc4", [576, 128], device)?,
            prelu4: Prelu::load(&mut t, "prelu4", 128, device)?,
            fc5_1: Dense::load(&mut t, "fc5_1", [128, 4], device)?,
            fc5_2: Dense::load(&mut t, "fc5_2", [128, 2], device)?,
        };
        check_empty(&t)?;
        Ok(net)
    }

    pub fn forward(&self, x: Tensor<4>, mut trace: Option<&mut Trace>) -> (Tensor<2>, Tensor<2>) {
        let tr = &mut trace;
        let x = self.conv1.forward(x);
        record(tr, "conv1", &x);
        let x = self.prelu1.forward(x);
        record(tr, "prelu1", &x);
        let x = tf_max_pool(x, 3, 2, true);
        record(tr, "maxpool1", &x);
        let x = self.conv2.forward(x);
        record(tr, "conv2", &x);
        let x = self.prelu2.forward(x);
        record(tr, "prelu2", &x);
        let x = tf_max_pool(x, 3, 2, false);
        record(tr, "maxpool2", &x);
        let x = self.conv3.forward(x);
        record(tr, "conv3", &x);
        let x = self.prelu3.forward(x);
        record(tr, "prelu3", &x);
        let [n, c, h, w] = x.dims();
        let x = self.fc4.forward(x.reshape([n, c * h * w]));
        record(tr, "fc4", &x);
        let x = self.prelu4.forward(x);
        record(tr, "prelu4", &x);
        let reg = self.fc5_1.forward(x.clone());
        record(tr, "fc5_1", &reg);
        let prob = softmax(self.fc5_2.forward(x), 1);
        record(tr, "fc5_2", &prob);
        (reg, prob)
    }
}

/// Output network: `[N, 3, 48, 48]` → box regression `[N, 4]`, landmarks `[N, 10]`
/// (x1..x5, y1..y5 relative to the box), probability `[N, 2]`.
pub struct ONet {
    conv1: Conv,
    prelu1: Prelu,
    conv2: Conv,
    prelu2: Prelu,
    conv3: Conv,
    prelu3: Prelu,
    conv4: Conv,
    prelu4: Prelu,
    fc5: Dense,
    prelu5: Prelu,
    fc6_1: Dense,
    fc6_2: Dense,
    fc6_3: Dense,
}

impl ONet {
    pub fn load(bytes: &[u8], device: &Device) -> Result<Self, WeightError> {
        let mut t = Tensors::parse("onet.safetensors", bytes)?;
        let net = Self {
            conv1: Conv::load(&mut t, "conv1", [32, 3, 3, 3], device)?,
            prelu1: Prelu::load(&mut t, "prelu1", 32, device)?,
            conv2: Conv::load(&mut t, "conv2", [64, 32, 3, 3], device)?,
            prelu2: Prelu::load(&mut t, "prelu2", 64, device)?,
            conv3: Conv::load(&mut t, "conv3", [64, 64, 3, 3], device)?,
            prelu3: Prelu::load(&mut t, "prelu3", 64, device)?,
            conv4: Conv::load(&mut t, "conv4", [128, 64, 2, 2], device)?,
            prelu4: Prelu::load(&mut t, "prelu4", 128, device)?,
            fc5: Dense::load(&mut t, "fc5", [1152, 256], device)?,
            prelu5: Prelu::load(&mut t, "prelu5", 256, device)?,
            fc6_1: Dense::load(&mut t, "fc6_1", [256, 4], device)?,
            fc6_2: Dense::load(&mut t, "fc6_2", [256, 10], device)?,
            fc6_3: Dense::load(&mut t, "fc6_3", [256, 2], device)?,
        };
        check_empty(&t)?;
        Ok(net)
    }

    pub fn forward(
        &self,
        x: Tensor<4>,
        mut trace: Option<&mut Trace>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let tr = &mut trace;
        let x = self.conv1.forward(x);
        record(tr, "conv1", &x);
        let x = self.prelu1.forward(x);
        record(tr, "prelu1", &x);
        let x = tf_max_pool(x, 3, 2, true);
        record(tr, "maxpool1", &x);
        let x = self.conv2.forward(x);
        record(tr, "conv2", &x);
        let x = self.prelu2.forward(x);
        record(tr, "prelu2", &x);
        let x = tf_max_pool(x, 3, 2, false);
        record(tr, "maxpool2", &x);
        let x = self.conv3.forward(x);
        record(tr, "conv3", &x);
        let x = self.prelu3.forward(x);
        record(tr, "prelu3", &x);
        let x = tf_max_pool(x, 2, 2, true);
        record(tr, "maxpool3", &x);
        let x = self.conv4.forward(x);
        record(tr, "conv4", &x);
        let x = self.prelu4.forward(x);
        record(tr, "prelu4", &x);
        let [n, c, h, w] = x.dims();
        let x = self.fc5.forward(x.reshape([n, c * h * w]));
        record(tr, "fc5", &x);
        let x = self.prelu5.forward(x);
        record(tr, "prelu5", &x);
        let reg = self.fc6_1.forward(x.clone());
        record(tr, "fc6_1", &reg);
        let landmarks = self.fc6_2.forward(x.clone());
        record(tr, "fc6_2", &landmarks);
        let prob = softmax(self.fc6_3.forward(x), 1);
        record(tr, "fc6_3", &prob);
        (reg, landmarks, prob)
    }
}
