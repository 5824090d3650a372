//! Fast mode's P-Net, R-Net and O-Net on the CPU, channels-last (HWC): each convolution is one
//! im2col copy (in HWC a kernel row of `k·C` values is contiguous, so a patch is `k` slice
//! copies) and one matrix product through burn `flex`'s `matmul` (the `gemm` crate's AVX2/FMA
//! kernels, chosen at run time), with the bias and PReLU applied in the same pass over the
//! output; max pooling is TensorFlow's (`same`: the padding at the bottom/right, padded cells
//! never win). The two P-Net heads share one 1×1 product, and so do R-Net's and O-Net's.
//!
//! Why not [`super::nets`]: burn's NCHW `conv2d` converts layouts, tiles and dispatches per
//! call, and its PReLU, pooling and softmax are separate passes; for MTCNN's small channel
//! counts that overhead cost more than the arithmetic (a profile of `assay faces` on 1 MP
//! images: about three quarters of the detector's time outside the matrix kernels). The
//! networks compute the same functions with the same weights; the sums run in another order,
//! so outputs differ in the last bits (unit tests hold them to the burn networks within 1e-4).
//! The package-exact cascade ([`super::Mtcnn::detect_batch`], `--full-resolution`) keeps the
//! burn networks; fast mode uses these on the `flex` device.

use burn::tensor::{Device, Tensor, TensorData};

use super::weights::{self, Tensors, WeightError};

/// A batch of `n` channels-last images, `h × w × c` each.
#[derive(Debug, Clone)]
pub(crate) struct Act {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

/// `a` (`m × k`, row-major) times the weight matrix `w` (`k × n`).
fn matmul(a: Vec<f32>, m: usize, k: usize, w: &Tensor<2>, device: &Device) -> Vec<f32> {
    if m == 0 {
        return Vec::new();
    }
    let a = Tensor::<2>::from_data(TensorData::new(a, [m, k]), device);
    a.matmul(w.clone())
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// Adds the bias and applies PReLU (when `alpha` is given) to rows of `bias.len()` values.
fn bias_prelu(out: &mut [f32], bias: &[f32], alpha: Option<&[f32]>) {
    let c = bias.len().max(1);
    for row in out.chunks_exact_mut(c) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
        if let Some(a) = alpha {
            for (v, a) in row.iter_mut().zip(a) {
                if *v < 0.0 {
                    *v *= a;
                }
            }
        }
    }
}

/// A stride-1 "valid" convolution as a `(k·k·cin) × cout` matrix, with its bias and PReLU.
struct Conv {
    k: usize,
    cin: usize,
    cout: usize,
    w: Tensor<2>,
    b: Vec<f32>,
    alpha: Option<Vec<f32>>,
}

impl Conv {
    /// Loads `name.weight` (`[cout, cin, k, k]`) and `name.bias`, and the PReLU `prelu`.
    fn load(
        t: &mut Tensors,
        names: &[(&str, usize)],
        prelu: Option<&str>,
        cin: usize,
        k: usize,
        device: &Device,
    ) -> Result<Self, WeightError> {
        // Several convolutions of the same input (the heads) become one matrix.
        let mut parts = Vec::new();
        for &(name, cout) in names {
            let b = t.take(&format!("{name}.bias"), &[cout])?;
            let w = t.take(&format!("{name}.weight"), &[cout, cin, k, k])?;
            parts.push((cout, w, b));
        }
        let cout: usize = parts.iter().map(|p| p.0).sum();
        let rows = k * k * cin;
        let mut wm = vec![0f32; rows * cout];
        let mut bias = Vec::with_capacity(cout);
        let mut col0 = 0;
        for (n, w, b) in &parts {
            for co in 0..*n {
                for ci in 0..cin {
                    for ky in 0..k {
                        for kx in 0..k {
                            let r = (ky * k + kx) * cin + ci;
                            wm[r * cout + col0 + co] = w[((co * cin + ci) * k + ky) * k + kx];
                        }
                    }
                }
            }
            bias.extend_from_slice(b);
            col0 += n;
        }
        let alpha = match prelu {
            Some(p) => Some(t.take(&format!("{p}.alpha"), &[cout])?),
            None => None,
        };
        Ok(Self {
            k,
            cin,
            cout,
            w: Tensor::from_data(TensorData::new(wm, [rows, cout]), device),
            b: bias,
            alpha,
        })
    }

    fn forward(&self, x: &Act, device: &Device) -> Act {
        let k = self.k;
        let (oh, ow) = ((x.h + 1).saturating_sub(k), (x.w + 1).saturating_sub(k));
        let kk = k * k * self.cin;
        let m = x.n * oh * ow;
        let mut col = Vec::with_capacity(m * kk);
        let row = k * self.cin;
        for b in 0..x.n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ky in 0..k {
                        let s = ((b * x.h + oy + ky) * x.w + ox) * self.cin;
                        col.extend_from_slice(&x.data[s..s + row]);
                    }
                }
            }
        }
        let mut out = matmul(col, m, kk, &self.w, device);
        bias_prelu(&mut out, &self.b, self.alpha.as_deref());
        Act {
            n: x.n,
            h: oh,
            w: ow,
            c: self.cout,
            data: out,
        }
    }
}

/// A dense layer `[in, out]` (optionally several, concatenated) with bias and PReLU.
struct Dense {
    inputs: usize,
    w: Tensor<2>,
    b: Vec<f32>,
    alpha: Option<Vec<f32>>,
}

impl Dense {
    /// `names` share the input; `hwc` gives the `(h, w, c)` of an input flattened channels
    /// first by the converter, whose rows are then reordered for a channels-last input.
    fn load(
        t: &mut Tensors,
        names: &[(&str, usize)],
        prelu: Option<&str>,
        inputs: usize,
        hwc: Option<(usize, usize, usize)>,
        device: &Device,
    ) -> Result<Self, WeightError> {
        let mut parts = Vec::new();
        for &(name, outs) in names {
            let b = t.take(&format!("{name}.bias"), &[outs])?;
            let w = t.take(&format!("{name}.weight"), &[inputs, outs])?;
            parts.push((w, b));
        }
        let outs: usize = parts.iter().map(|p| p.1.len()).sum();
        let mut wm = vec![0f32; inputs * outs];
        let mut bias = Vec::with_capacity(outs);
        let mut col0 = 0;
        for (w, b) in &parts {
            let n = b.len();
            for i in 0..inputs {
                // Row `i` of the converter's matrix takes input (c, y, x) = i in CHW order.
                let r = match hwc {
                    Some((h, wd, c)) => {
                        let (ci, rest) = (i / (h * wd), i % (h * wd));
                        rest * c + ci
                    }
                    None => i,
                };
                for o in 0..n {
                    wm[r * outs + col0 + o] = w[i * n + o];
                }
            }
            bias.extend_from_slice(b);
            col0 += n;
        }
        let alpha = match prelu {
            Some(p) => Some(t.take(&format!("{p}.alpha"), &[outs])?),
            None => None,
        };
        Ok(Self {
            inputs,
            w: Tensor::from_data(TensorData::new(wm, [inputs, outs]), device),
            b: bias,
            alpha,
        })
    }

    fn forward(&self, x: Vec<f32>, n: usize, device: &Device) -> Vec<f32> {
        let mut out = matmul(x, n, self.inputs, &self.w, device);
        bias_prelu(&mut out, &self.b, self.alpha.as_deref());
        out
    }
}

/// TensorFlow max pooling (`same` or `valid`) on channels-last images.
fn max_pool(x: &Act, k: usize, s: usize, same: bool) -> Act {
    let dims = |n: usize| -> (usize, usize) {
        if same {
            let out = n.div_ceil(s);
            let total = ((out.saturating_sub(1)) * s + k).saturating_sub(n);
            (out, total / 2)
        } else {
            (n.saturating_sub(k) / s + 1, 0)
        }
    };
    let ((oh, pt), (ow, pl)) = (dims(x.h), dims(x.w));
    let c = x.c;
    let mut data = vec![f32::NEG_INFINITY; x.n * oh * ow * c];
    for b in 0..x.n {
        for oy in 0..oh {
            let y0 = (oy * s).saturating_sub(pt);
            let y1 = (oy * s + k).saturating_sub(pt).min(x.h);
            for ox in 0..ow {
                let x0 = (ox * s).saturating_sub(pl);
                let x1 = (ox * s + k).saturating_sub(pl).min(x.w);
                let o = ((b * oh + oy) * ow + ox) * c;
                let out = &mut data[o..o + c];
                for y in y0..y1 {
                    for xx in x0..x1 {
                        let i = ((b * x.h + y) * x.w + xx) * c;
                        for (m, v) in out.iter_mut().zip(&x.data[i..i + c]) {
                            *m = m.max(*v);
                        }
                    }
                }
            }
        }
    }
    Act {
        n: x.n,
        h: oh,
        w: ow,
        c,
        data,
    }
}

/// Softmax of two logits (as burn's: shifted by the maximum); the second class's probability.
fn softmax2(a: f32, b: f32) -> [f32; 2] {
    let m = a.max(b);
    let (ea, eb) = ((a - m).exp(), (b - m).exp());
    let s = ea + eb;
    [ea / s, eb / s]
}

/// P-Net, R-Net and O-Net on the CPU.
pub(crate) struct Nets {
    device: Device,
    p: [Conv; 4],
    r_conv: [Conv; 3],
    r_fc: Dense,
    r_head: Dense,
    o_conv: [Conv; 4],
    o_fc: Dense,
    o_head: Dense,
}

/// P-Net's output for one image: box regression and face probability per cell.
pub(crate) struct PnetOut {
    pub h: usize,
    pub w: usize,
    /// `[4, h, w]`.
    pub reg: Vec<f32>,
    /// `[h, w]`: the face class's probability.
    pub prob: Vec<f32>,
}

/// R-Net/O-Net output per crop: box regression, landmarks (O-Net; zeros for R-Net), face
/// probability.
pub(crate) type CropOut = ([f32; 4], [f32; 10], f32);

impl Nets {
    pub(crate) fn new() -> Result<Self, WeightError> {
        let device = Device::flex();
        let d = &device;
        let mut t = Tensors::parse("pnet.safetensors", weights::PNET)?;
        let p = [
            Conv::load(&mut t, &[("conv1", 10)], Some("prelu1"), 3, 3, d)?,
            Conv::load(&mut t, &[("conv2", 16)], Some("prelu2"), 10, 3, d)?,
            Conv::load(&mut t, &[("conv3", 32)], Some("prelu3"), 16, 3, d)?,
            Conv::load(&mut t, &[("conv4_1", 4), ("conv4_2", 2)], None, 32, 1, d)?,
        ];
        let mut t = Tensors::parse("rnet.safetensors", weights::RNET)?;
        let r_conv = [
            Conv::load(&mut t, &[("conv1", 28)], Some("prelu1"), 3, 3, d)?,
            Conv::load(&mut t, &[("conv2", 48)], Some("prelu2"), 28, 3, d)?,
            Conv::load(&mut t, &[("conv3", 64)], Some("prelu3"), 48, 2, d)?,
        ];
        let r_fc = Dense::load(
            &mut t,
            &[("fc4", 128)],
            Some("prelu4"),
            576,
            Some((3, 3, 64)),
            d,
        )?;
        let r_head = Dense::load(&mut t, &[("fc5_1", 4), ("fc5_2", 2)], None, 128, None, d)?;
        let mut t = Tensors::parse("onet.safetensors", weights::ONET)?;
        let o_conv = [
            Conv::load(&mut t, &[("conv1", 32)], Some("prelu1"), 3, 3, d)?,
            Conv::load(&mut t, &[("conv2", 64)], Some("prelu2"), 32, 3, d)?,
            Conv::load(&mut t, &[("conv3", 64)], Some("prelu3"), 64, 3, d)?,
            Conv::load(&mut t, &[("conv4", 128)], Some("prelu4"), 64, 2, d)?,
        ];
        let o_fc = Dense::load(
            &mut t,
            &[("fc5", 256)],
            Some("prelu5"),
            1152,
            Some((3, 3, 128)),
            d,
        )?;
        let o_head = Dense::load(
            &mut t,
            &[("fc6_1", 4), ("fc6_2", 10), ("fc6_3", 2)],
            None,
            256,
            None,
            d,
        )?;
        Ok(Self {
            device,
            p,
            r_conv,
            r_fc,
            r_head,
            o_conv,
            o_fc,
            o_head,
        })
    }

    /// P-Net on one channels-last image of at least 12×12.
    pub(crate) fn pnet(&self, img: &[f32], h: usize, w: usize) -> PnetOut {
        let d = &self.device;
        let x = Act {
            n: 1,
            h,
            w,
            c: 3,
            data: img.to_vec(),
        };
        let x = self.p[0].forward(&x, d);
        let x = max_pool(&x, 2, 2, true);
        let x = self.p[1].forward(&x, d);
        let x = self.p[2].forward(&x, d);
        let y = self.p[3].forward(&x, d);
        let plane = y.h * y.w;
        let mut reg = vec![0f32; 4 * plane];
        let mut prob = vec![0f32; plane];
        for (i, o) in y.data.chunks_exact(6).enumerate() {
            for k in 0..4 {
                reg[k * plane + i] = o[k];
            }
            prob[i] = softmax2(o[4], o[5])[1];
        }
        PnetOut {
            h: y.h,
            w: y.w,
            reg,
            prob,
        }
    }

    /// R-Net on `n` channels-last 24×24 crops.
    pub(crate) fn rnet(&self, crops: Vec<f32>, n: usize) -> Vec<CropOut> {
        let d = &self.device;
        let x = Act {
            n,
            h: 24,
            w: 24,
            c: 3,
            data: crops,
        };
        let x = self.r_conv[0].forward(&x, d);
        let x = max_pool(&x, 3, 2, true);
        let x = self.r_conv[1].forward(&x, d);
        let x = max_pool(&x, 3, 2, false);
        let x = self.r_conv[2].forward(&x, d);
        let x = self.r_fc.forward(x.data, n, d);
        let y = self.r_head.forward(x, n, d);
        y.chunks_exact(6)
            .map(|o| {
                (
                    [o[0], o[1], o[2], o[3]],
                    [0f32; 10],
                    softmax2(o[4], o[5])[1],
                )
            })
            .collect()
    }

    /// O-Net on `n` channels-last 48×48 crops.
    pub(crate) fn onet(&self, crops: Vec<f32>, n: usize) -> Vec<CropOut> {
        let d = &self.device;
        let x = Act {
            n,
            h: 48,
            w: 48,
            c: 3,
            data: crops,
        };
        let x = self.o_conv[0].forward(&x, d);
        let x = max_pool(&x, 3, 2, true);
        let x = self.o_conv[1].forward(&x, d);
        let x = max_pool(&x, 3, 2, false);
        let x = self.o_conv[2].forward(&x, d);
        let x = max_pool(&x, 2, 2, true);
        let x = self.o_conv[3].forward(&x, d);
        let x = self.o_fc.forward(x.data, n, d);
        let y = self.o_head.forward(x, n, d);
        y.chunks_exact(16)
            .map(|o| {
                let mut lm = [0f32; 10];
                lm.copy_from_slice(&o[4..14]);
                ([o[0], o[1], o[2], o[3]], lm, softmax2(o[14], o[15])[1])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::nets::{ONet, PNet, RNet};
    use super::*;

    fn noise(len: usize, mut seed: u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// NCHW copy of `n` channels-last images.
    fn to_nchw(hwc: &[f32], n: usize, h: usize, w: usize, c: usize) -> Vec<f32> {
        let mut out = vec![0f32; hwc.len()];
        for b in 0..n {
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        out[((b * c + ch) * h + y) * w + x] = hwc[((b * h + y) * w + x) * c + ch];
                    }
                }
            }
        }
        out
    }

    fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn the_cpu_pnet_computes_the_burn_pnet() {
        let d = Device::flex();
        let nets = Nets::new().unwrap();
        let burn = PNet::load(weights::PNET, &d).unwrap();
        // Odd and even sizes (TensorFlow's "same" pooling pads odd ones).
        for (h, w, seed) in [(31, 46, 1u64), (12, 12, 2), (57, 40, 3)] {
            let img = noise(h * w * 3, seed);
            let out = nets.pnet(&img, h, w);
            let x = Tensor::<4>::from_data(
                TensorData::new(to_nchw(&img, 1, h, w, 3), [1, 3, h, w]),
                &d,
            );
            let (reg, prob) = burn.forward(x, None);
            let [_, _, oh, ow] = prob.dims();
            assert_eq!((out.h, out.w), (oh, ow));
            let prob = read(prob);
            assert!(max_diff(&out.reg, &read(reg)) < 1e-4);
            assert!(max_diff(&out.prob, &prob[oh * ow..]) < 1e-4);
        }
    }

    #[test]
    fn the_cpu_rnet_and_onet_compute_the_burn_networks() {
        let d = Device::flex();
        let nets = Nets::new().unwrap();
        let n = 5;
        let crops = noise(n * 24 * 24 * 3, 7);
        let got = nets.rnet(crops.clone(), n);
        let x = Tensor::<4>::from_data(
            TensorData::new(to_nchw(&crops, n, 24, 24, 3), [n, 3, 24, 24]),
            &d,
        );
        let (reg, prob) = RNet::load(weights::RNET, &d).unwrap().forward(x, None);
        let (reg, prob) = (read(reg), read(prob));
        for (k, (r, _, p)) in got.iter().enumerate() {
            assert!(max_diff(r, &reg[k * 4..k * 4 + 4]) < 1e-4);
            assert!((p - prob[k * 2 + 1]).abs() < 1e-4);
        }
        let crops = noise(n * 48 * 48 * 3, 11);
        let got = nets.onet(crops.clone(), n);
        let x = Tensor::<4>::from_data(
            TensorData::new(to_nchw(&crops, n, 48, 48, 3), [n, 3, 48, 48]),
            &d,
        );
        let (reg, lm, prob) = ONet::load(weights::ONET, &d).unwrap().forward(x, None);
        let (reg, lm, prob) = (read(reg), read(lm), read(prob));
        for (k, (r, l, p)) in got.iter().enumerate() {
            assert!(max_diff(r, &reg[k * 4..k * 4 + 4]) < 1e-4);
            assert!(max_diff(l, &lm[k * 10..k * 10 + 10]) < 1e-4);
            assert!((p - prob[k * 2 + 1]).abs() < 1e-4);
        }
    }
}
