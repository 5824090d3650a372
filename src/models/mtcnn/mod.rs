//! MTCNN face detector (Zhang et al. 2016) in burn, with the weights of the PyPI `mtcnn` 1.0.0
//! package (MIT) embedded in the binary, reproducing that package's cascade (see
//! `../shared/docs/metrics-reference.md` §8 and `tests/data/mtcnn_refs.json`):
//!
//! 1. image pyramid: scales `0.6 · 0.709^k` (minimum face 20 px), each `floor(H·s) × floor(W·s)`
//!    resampled with TensorFlow's area resize ([`image::resize_area`]);
//! 2. P-Net on every scale (same-size images batched), cells with face probability > 0.6 become
//!    boxes, NMS per scale (IoU 0.5), across scales (IoU 0.7), boxes made square;
//! 3. R-Net on 24×24 bilinear crops ([`image::crop_and_resize_chw`], all candidates of all images
//!    in one batch): probability > 0.7, box regression, NMS 0.7, square;
//! 4. O-Net on 48×48 crops: landmarks, probability > 0.8, box regression, NMS with the "min"
//!    overlap 0.7; boxes clipped to the image.
//!
//! The NMS is the package's (not greedy: a box is dropped when any higher-scored box overlaps it,
//! even one dropped itself). Box arithmetic is f64 like numpy; networks run in f32 on the device
//! (wgpu or burn `flex`). Models never touch the store.
//!
//! # Implementation and parity
//!
//! MTCNN (`models/mtcnn/`): the PyPI `mtcnn` 1.0.0 cascade (`../shared/docs/metrics-reference.md`
//! §8) with its weights converted by `scripts/convert_mtcnn.py` to safetensors in burn layouts
//! (conv `[out, in, kh, kw]`; the first dense layer's rows reordered from Keras'
//! `Permute((2,1,3))`+`Flatten` order to NCHW flatten order) and embedded with `include_bytes!` (2
//! MB; a missing or mis-shaped tensor is an error naming it). The networks are explicit burn ops
//! (conv2d, PReLU, TF "same" max pooling as asymmetric −∞ padding, softmax); the pyramid's area
//! resize and the crops' `crop_and_resize` are TF's CPU kernels reimplemented in f32; box
//! arithmetic and the package's non-greedy NMS are f64 like numpy. P-Net runs once per scale for
//! all same-size images of a batch, R-Net/O-Net on all crops in batches of 256. Parity with the
//! package (TensorFlow 2.17, `scripts/gen_mtcnn_refs.py`): every layer within 5e-6, the resamplers
//! within 1e-8, identical candidate counts after each stage and boxes with IoU ≥ 0.99999,
//! confidences within 3e-6 and landmarks within 0.001 px on 8 fixture photos, on flex and on wgpu
//! (lavapipe). Throughput at 1024² (`assay bench faces`, release, 2 shared cores): about 3 images/s
//! on flex; see the faces issue report for wgpu (that was the burn nets, before fast mode).
//!
//! Fast mode on the CPU (`flex`; the scan's default) runs channels-last copies of the three nets
//! (`cpu.rs`: im2col + gemm, fused bias/PReLU; within 1e-4 of the burn nets) with one faces
//! worker per core; the parity mode (`--full-resolution`) and GPUs keep the burn nets.

mod cpu;
pub mod image;
pub mod nets;
pub mod weights;
mod working;

use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use image::Hwc;
use nets::{ONet, PNet, RNet};
pub use working::{WorkingCopy, WorkingResolution};

/// Cascade parameters; the defaults are the package's.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub min_face_size: f64,
    pub scale_factor: f64,
    pub threshold_pnet: f64,
    pub threshold_rnet: f64,
    pub threshold_onet: f64,
    pub nms_pnet1: f64,
    pub nms_pnet2: f64,
    pub nms_rnet: f64,
    pub nms_onet: f64,
    /// Images of the same size run through P-Net together, this many at a time.
    pub image_batch: usize,
    /// Crops per R-Net/O-Net forward pass.
    pub crop_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_face_size: 20.0,
            scale_factor: 0.709,
            threshold_pnet: 0.6,
            threshold_rnet: 0.7,
            threshold_onet: 0.8,
            nms_pnet1: 0.5,
            nms_pnet2: 0.7,
            nms_rnet: 0.7,
            nms_onet: 0.7,
            image_batch: 8,
            crop_batch: 256,
        }
    }
}

/// Names of the five landmarks, in output order.
pub const LANDMARKS: [&str; 5] = ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"];

/// One detected face, in pixels of the input image. The box is clipped to
/// `[0, W−1] × [0, H−1]`; landmarks are not clipped (as the package).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Face {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    /// O-Net face probability.
    pub confidence: f64,
    /// `[x, y]` of left eye, right eye, nose, mouth left, mouth right (the package's names:
    /// "left" is the subject's right side, i.e. the eye on the image's left).
    pub landmarks: [[f64; 2]; 5],
}

impl Face {
    pub fn width(&self) -> f64 {
        self.x2 - self.x1
    }

    pub fn height(&self) -> f64 {
        self.y2 - self.y1
    }

    /// The package's JSON box: `[x, y, w, h]` rounded half to even.
    pub fn box_xywh(&self) -> [i64; 4] {
        [self.x1, self.y1, self.width(), self.height()].map(|v| v.round_ties_even() as i64)
    }
}

/// What the cascade found in one image, with the number of candidates after each stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Detection {
    pub faces: Vec<Face>,
    pub stage_counts: [usize; 3],
}

/// Errors of the detector.
#[derive(Debug, thiserror::Error)]
pub enum MtcnnError {
    #[error("MTCNN weights: {0}")]
    Weights(#[from] weights::WeightError),
    #[error("image buffer has {len} bytes, expected {expected} for {width}×{height} RGB8")]
    BadImage {
        len: usize,
        expected: usize,
        width: usize,
        height: usize,
    },
    #[error("the device returned no data: {0}")]
    Readback(String),
}

/// An RGB8 image (row-major, 3 bytes per pixel).
#[derive(Debug, Clone, Copy)]
pub struct RgbImage<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// A box candidate: `[x1, y1, x2, y2]`, score, and (after O-Net) landmarks.
#[derive(Debug, Clone, Copy)]
struct Cand {
    b: [f64; 4],
    score: f64,
    landmarks: [[f64; 2]; 5],
}

impl Cand {
    fn new(b: [f64; 4], score: f64) -> Self {
        Self {
            b,
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }
}

/// The detector: three networks on one device.
pub struct Mtcnn {
    device: Device,
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
    /// The channels-last CPU networks fast mode runs on the `flex` device ([`cpu`]).
    cpu: Option<cpu::Nets>,
    pub options: Options,
}

/// Which networks a cascade runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nets {
    /// The burn networks on the detector's device (the package-exact cascade).
    Burn,
    /// The channels-last CPU networks when the device is the CPU, else the burn ones.
    Fast,
}

fn read(t: Tensor<4>) -> Result<Vec<f32>, MtcnnError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| MtcnnError::Readback(format!("{e:?}")))
}

fn read2(t: Tensor<2>) -> Result<Vec<f32>, MtcnnError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| MtcnnError::Readback(format!("{e:?}")))
}

/// The pyramid scales of the package (`build_scale_pyramid`).
pub fn scales(width: usize, height: usize, opts: &Options) -> Vec<f64> {
    let min_dim = width.min(height) as f64;
    if min_dim <= 0.0 {
        return Vec::new();
    }
    let count = (-((min_dim / 12.0).ln() / opts.scale_factor.ln() + 1.0)).round_ties_even();
    let m = 12.0 / opts.min_face_size;
    (0..count.max(0.0) as i32)
        .map(|k| m * opts.scale_factor.powf(f64::from(k)))
        .collect()
}

/// Indices of `c` sorted by score descending as numpy's `argsort(scores)[::-1]` (ties: later
/// first).
fn sort_desc(c: &mut [Cand]) {
    c.sort_by(|a, b| a.score.total_cmp(&b.score));
    c.reverse();
}

/// The package's NMS: keeps box j when no earlier box (in the given order) overlaps it by more
/// than `threshold` (IoU, or intersection over the smaller area with `min`).
fn nms(c: &[Cand], threshold: f64, min: bool) -> Vec<Cand> {
    let area = |b: &[f64; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    let areas: Vec<f64> = c.iter().map(|x| area(&x.b)).collect();
    let mut keep = Vec::new();
    'outer: for (j, cj) in c.iter().enumerate() {
        for (i, ci) in c.iter().enumerate().take(j) {
            let (a, b) = (&ci.b, &cj.b);
            let ih = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
            let iw = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
            let inter = ih * iw;
            let denom = if min {
                areas[i].min(areas[j])
            } else {
                areas[i] + areas[j] - inter
            };
            if inter / denom > threshold {
                continue 'outer;
            }
        }
        keep.push(*cj);
    }
    keep
}

/// `resize_to_square`: side `max(w, h)` around the centre (no +1).
fn square(c: &mut [Cand]) {
    for x in c {
        let w = x.b[2] - x.b[0];
        let h = x.b[3] - x.b[1];
        let l = w.max(h);
        x.b[0] = x.b[0] + w * 0.5 - l * 0.5;
        x.b[1] = x.b[1] + h * 0.5 - l * 0.5;
        x.b[2] = x.b[0] + l;
        x.b[3] = x.b[1] + l;
    }
}

/// `adjust_bboxes`: shift by `reg · (w+1, h+1)`; the product is f32 as in TensorFlow.
fn refine(c: &mut Cand, reg: &[f32]) {
    let w = (c.b[2] - c.b[0] + 1.0) as f32;
    let h = (c.b[3] - c.b[1] + 1.0) as f32;
    let sizes = [w, h, w, h];
    for k in 0..4 {
        c.b[k] += f64::from(reg[k] * sizes[k]);
    }
}

impl Mtcnn {
    /// Loads the embedded weights onto `device`.
    pub fn new(device: &Device) -> Result<Self, MtcnnError> {
        Ok(Self {
            device: device.clone(),
            pnet: PNet::load(weights::PNET, device)?,
            rnet: RNet::load(weights::RNET, device)?,
            onet: ONet::load(weights::ONET, device)?,
            cpu: if *device == Device::flex() {
                Some(cpu::Nets::new()?)
            } else {
                None
            },
            options: Options::default(),
        })
    }

    pub fn pnet(&self) -> &PNet {
        &self.pnet
    }

    pub fn rnet(&self) -> &RNet {
        &self.rnet
    }

    pub fn onet(&self) -> &ONet {
        &self.onet
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Detects faces in one image.
    pub fn detect(&self, img: RgbImage<'_>) -> Result<Detection, MtcnnError> {
        let mut v = self.detect_batch(&[img])?;
        Ok(v.pop().unwrap_or_default())
    }

    /// Detects faces in several images: same-size images share P-Net batches, and the R-Net and
    /// O-Net crops of all images run in shared batches. The package's cascade on the images as
    /// given (minimum face [`Options::min_face_size`]); see [`Mtcnn::detect_working`] for the
    /// fast mode on downscaled working copies.
    pub fn detect_batch(&self, images: &[RgbImage<'_>]) -> Result<Vec<Detection>, MtcnnError> {
        let pyramids: Vec<Vec<f64>> = images
            .iter()
            .map(|i| scales(i.width, i.height, &self.options))
            .collect();
        self.detect_batch_scales(images, &pyramids, Nets::Burn)
    }

    /// [`Mtcnn::detect_batch`] with the pyramid's scales given per image.
    pub(crate) fn detect_batch_scales(
        &self,
        images: &[RgbImage<'_>],
        pyramids: &[Vec<f64>],
        nets: Nets,
    ) -> Result<Vec<Detection>, MtcnnError> {
        let cpu = match nets {
            Nets::Burn => None,
            Nets::Fast => self.cpu.as_ref(),
        };
        for img in images {
            let expected = img.width * img.height * 3;
            if img.data.len() != expected {
                return Err(MtcnnError::BadImage {
                    len: img.data.len(),
                    expected,
                    width: img.width,
                    height: img.height,
                });
            }
        }
        if cpu.is_some() && images.len() > 1 {
            // One image at a time: a CPU product's last bits depend on the rows computed beside
            // it, and an image's faces must not depend on which images a scan happened to
            // batch with it (a sharded scan equals a single one). P-Net's products are large
            // for one image already, so CPU batches gained nothing.
            return images
                .iter()
                .enumerate()
                .map(|(i, img)| {
                    let p = pyramids.get(i).cloned().unwrap_or_default();
                    let mut d = self.detect_batch_scales(std::slice::from_ref(img), &[p], nets)?;
                    Ok(d.pop().unwrap_or_default())
                })
                .collect();
        }
        let normalized: Vec<Hwc> = images
            .iter()
            .map(|i| Hwc::normalized(i.data, i.width, i.height))
            .collect();
        let mut out = vec![Detection::default(); images.len()];
        // P-Net, grouped by size and pyramid.
        let mut cands: Vec<Vec<Cand>> = vec![Vec::new(); images.len()];
        let no_scales = Vec::new();
        let pyramid = |i: usize| pyramids.get(i).unwrap_or(&no_scales);
        let key = |i: usize| {
            (
                normalized[i].width,
                normalized[i].height,
                pyramid(i).iter().map(|s| s.to_bits()).collect::<Vec<u64>>(),
            )
        };
        let mut order: Vec<usize> = (0..images.len()).collect();
        order.sort_by_key(|&i| key(i));
        let mut start = 0;
        while start < order.len() {
            let first = key(order[start]);
            let mut end = start;
            while end < order.len()
                && key(order[end]) == first
                && end - start < self.options.image_batch.max(1)
            {
                end += 1;
            }
            let group: Vec<usize> = order[start..end].to_vec();
            let imgs: Vec<&Hwc> = group.iter().map(|&i| &normalized[i]).collect();
            let found = self.stage_pnet(&imgs, pyramid(order[start]), cpu)?;
            for (&i, c) in group.iter().zip(found) {
                cands[i] = c;
            }
            start = end;
        }
        for (d, c) in out.iter_mut().zip(&cands) {
            d.stage_counts[0] = c.len();
        }
        let o = self.options;
        // R-Net.
        let regs = self.run_crops(&normalized, &cands, 24, cpu)?;
        for (i, (c, r)) in cands.iter_mut().zip(regs).enumerate() {
            let mut next = Vec::new();
            for (mut x, (reg, _, p)) in c.drain(..).zip(r) {
                x.score = f64::from(p);
                refine(&mut x, &reg);
                if x.score > o.threshold_rnet {
                    next.push(x);
                }
            }
            sort_desc(&mut next);
            let mut next = nms(&next, o.nms_rnet, false);
            square(&mut next);
            out[i].stage_counts[1] = next.len();
            *c = next;
        }
        // O-Net.
        let regs = self.run_crops(&normalized, &cands, 48, cpu)?;
        for (i, (c, r)) in cands.iter_mut().zip(regs).enumerate() {
            let mut next = Vec::new();
            for (mut x, (reg, lm, p)) in c.drain(..).zip(r) {
                let w = x.b[2] - x.b[0] + 1.0;
                let h = x.b[3] - x.b[1] + 1.0;
                for k in 0..5 {
                    // Computed in f64, stored in the f32 landmark array (as numpy does).
                    let lx = (w * f64::from(lm[k]) + x.b[0] - 1.0) as f32;
                    let ly = (h * f64::from(lm[5 + k]) + x.b[1] - 1.0) as f32;
                    x.landmarks[k] = [f64::from(lx), f64::from(ly)];
                }
                x.score = f64::from(p);
                refine(&mut x, &reg);
                if x.score > o.threshold_onet {
                    next.push(x);
                }
            }
            sort_desc(&mut next);
            let next = nms(&next, o.nms_onet, true);
            out[i].stage_counts[2] = next.len();
            let (wm1, hm1) = (
                normalized[i].width as f64 - 1.0,
                normalized[i].height as f64 - 1.0,
            );
            out[i].faces = next
                .iter()
                .map(|x| Face {
                    x1: x.b[0].max(0.0).min(wm1),
                    y1: x.b[1].max(0.0).min(hm1),
                    x2: x.b[2].max(0.0).min(wm1),
                    y2: x.b[3].max(0.0).min(hm1),
                    confidence: x.score,
                    landmarks: x.landmarks,
                })
                .collect();
        }
        Ok(out)
    }

    /// P-Net over the pyramid of same-size images; the candidates of each image after both
    /// NMS rounds, squared.
    fn stage_pnet(
        &self,
        imgs: &[&Hwc],
        scales: &[f64],
        cpu: Option<&cpu::Nets>,
    ) -> Result<Vec<Vec<Cand>>, MtcnnError> {
        let o = self.options;
        let n = imgs.len();
        let Some(first) = imgs.first() else {
            return Ok(Vec::new());
        };
        let (w, h) = (first.width, first.height);
        let mut per_image: Vec<Vec<Cand>> = vec![Vec::new(); n];
        for &s in scales {
            let hs = (h as f64 * s).floor() as usize;
            let ws = (w as f64 * s).floor() as usize;
            if hs < 12 || ws < 12 {
                continue;
            }
            // Per image: box regression [4, oh, ow] and face probability [oh, ow].
            let outputs: Vec<(usize, usize, Vec<f32>, Vec<f32>)> = match cpu {
                Some(nets) => imgs
                    .iter()
                    .map(|img| {
                        let level = image::resize_area(img, ws, hs);
                        let out = nets.pnet(&level.data, hs, ws);
                        (out.h, out.w, out.reg, out.prob)
                    })
                    .collect(),
                None => {
                    let mut data = Vec::with_capacity(n * 3 * hs * ws);
                    for img in imgs {
                        data.extend(image::resize_area(img, ws, hs).to_chw());
                    }
                    let x =
                        Tensor::<4>::from_data(TensorData::new(data, [n, 3, hs, ws]), &self.device);
                    let (reg, prob) = self.pnet.forward(x, None);
                    let [_, _, oh, ow] = prob.dims();
                    let reg = read(reg)?;
                    let prob = read(prob)?;
                    let plane = oh * ow;
                    (0..n)
                        .map(|b| {
                            (
                                oh,
                                ow,
                                reg[b * 4 * plane..(b + 1) * 4 * plane].to_vec(),
                                prob[(b * 2 + 1) * plane..(b * 2 + 2) * plane].to_vec(),
                            )
                        })
                        .collect()
                }
            };
            for (found, (oh, ow, reg, prob)) in per_image.iter_mut().zip(outputs) {
                let plane = oh * ow;
                let mut c = Vec::new();
                for y in 0..oh {
                    for x in 0..ow {
                        let p = prob[y * ow + x];
                        if f64::from(p) > o.threshold_pnet {
                            let r = |k: usize| f64::from(reg[k * plane + y * ow + x]);
                            let (x0, y0) = ((2 * x + 1) as f64, (2 * y + 1) as f64);
                            let (x1, y1) = ((2 * x + 12) as f64, (2 * y + 12) as f64);
                            c.push(Cand::new(
                                [
                                    x0 + r(0) * 11.0,
                                    y0 + r(1) * 11.0,
                                    x1 + r(2) * 11.0,
                                    y1 + r(3) * 11.0,
                                ],
                                f64::from(p),
                            ));
                        }
                    }
                }
                sort_desc(&mut c);
                for x in &mut c {
                    for v in &mut x.b {
                        *v /= s;
                    }
                }
                found.extend(nms(&c, o.nms_pnet1, false));
            }
        }
        Ok(per_image
            .into_iter()
            .map(|mut c| {
                sort_desc(&mut c);
                let mut c = nms(&c, o.nms_pnet2, false);
                square(&mut c);
                c
            })
            .collect())
    }

    /// Crops every candidate of every image to `size`² and runs R-Net (24) or O-Net (48) in
    /// batches. Per image, per candidate: (box regression, landmarks (O-Net), face probability).
    #[allow(clippy::type_complexity)]
    fn run_crops(
        &self,
        imgs: &[Hwc],
        cands: &[Vec<Cand>],
        size: usize,
        cpu: Option<&cpu::Nets>,
    ) -> Result<Vec<Vec<cpu::CropOut>>, MtcnnError> {
        let all: Vec<(usize, [f64; 4])> = cands
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.iter().map(move |x| (i, x.b)))
            .collect();
        let mut results = Vec::with_capacity(all.len());
        let per = 3 * size * size;
        if let Some(nets) = cpu {
            // Channels-last crops; O-Net's in smaller batches (its activations are large).
            let batch = if size == 24 { 128 } else { 32 };
            for chunk in all.chunks(batch) {
                let mut data = vec![0f32; chunk.len() * per];
                for ((i, b), out) in chunk.iter().zip(data.chunks_exact_mut(per)) {
                    image::crop_and_resize(&imgs[*i], *b, size, out, false);
                }
                results.extend(if size == 24 {
                    nets.rnet(data, chunk.len())
                } else {
                    nets.onet(data, chunk.len())
                });
            }
        }
        for chunk in all
            .chunks(self.options.crop_batch.max(1))
            .filter(|_| cpu.is_none())
        {
            let mut data = vec![0f32; chunk.len() * per];
            for ((i, b), out) in chunk.iter().zip(data.chunks_exact_mut(per)) {
                image::crop_and_resize_chw(&imgs[*i], *b, size, out);
            }
            let x = Tensor::<4>::from_data(
                TensorData::new(data, [chunk.len(), 3, size, size]),
                &self.device,
            );
            let (reg, lm, prob) = if size == 24 {
                let (reg, prob) = self.rnet.forward(x, None);
                (read2(reg)?, None, read2(prob)?)
            } else {
                let (reg, lm, prob) = self.onet.forward(x, None);
                (read2(reg)?, Some(read2(lm)?), read2(prob)?)
            };
            for k in 0..chunk.len() {
                let mut r = [0f32; 4];
                r.copy_from_slice(&reg[k * 4..k * 4 + 4]);
                let mut l = [0f32; 10];
                if let Some(lm) = &lm {
                    l.copy_from_slice(&lm[k * 10..k * 10 + 10]);
                }
                results.push((r, l, prob[k * 2 + 1]));
            }
        }
        let mut it = results.into_iter();
        Ok(cands
            .iter()
            .map(|c| it.by_ref().take(c.len()).collect())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_matches_the_package() {
        // build_scale_pyramid(768, 512): 0.6 · 0.709^k, k < round(-(ln(512/12)/ln .709 + 1)) = 10.
        let s = scales(768, 512, &Options::default());
        assert_eq!(s.len(), 10);
        assert!((s[0] - 0.6).abs() < 1e-12);
        assert!((s[9] - 0.6 * 0.709f64.powi(9)).abs() < 1e-12);
        assert!(scales(10, 10, &Options::default()).is_empty());
    }

    #[test]
    fn nms_is_not_greedy() {
        // B overlaps A, C overlaps B but not A: the package drops C too.
        let a = Cand::new([0.0, 0.0, 10.0, 10.0], 0.9);
        let b = Cand::new([3.0, 0.0, 13.0, 10.0], 0.8);
        let c = Cand::new([6.0, 0.0, 16.0, 10.0], 0.7);
        let kept = nms(&[a, b, c], 0.3, false);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn bad_buffers_are_errors() {
        let m = Mtcnn::new(&Device::flex()).unwrap();
        let e = m.detect(RgbImage {
            data: &[0; 10],
            width: 4,
            height: 4,
        });
        assert!(matches!(e, Err(MtcnnError::BadImage { .. })));
        // Tiny and blank images give no faces, not errors.
        let d = m
            .detect(RgbImage {
                data: &[0; 3 * 8 * 8],
                width: 8,
                height: 8,
            })
            .unwrap();
        assert!(d.faces.is_empty());
        let d = m
            .detect(RgbImage {
                data: &[128; 3 * 64 * 48],
                width: 64,
                height: 48,
            })
            .unwrap();
        assert!(d.faces.is_empty());
    }
}

#[cfg(test)]
mod parity_tests;
