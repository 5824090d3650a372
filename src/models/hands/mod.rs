//! Hand detector: MediaPipe's hands pipeline (0.10.14, static-image mode of the legacy
//! `mp.solutions.hands` graph) with its `palm_detection_full` and `hand_landmark_full` models
//! (Apache-2.0), converted to op graphs by `scripts/convert_hands.py` (`models/hands/`, float16
//! weights, 7.4 MB embedded) and run by the generic TFLite-graph interpreter
//! [`crate::models::graph`] with burn ops.
//!
//! 1. Letterbox: the image's centred `S × S` square (`S` = longer side) sampled to 192×192,
//!    zero outside the image ([`crop`]); values in [0, 1].
//! 2. Palm model → 2016 boxes × 18 values and 2016 logits. SSD anchors as MediaPipe's
//!    `SsdAnchorsCalculator` with palm_detection_full's options (strides 8, 16, 16, 16; two
//!    fixed-size anchors per layer and cell: 24²·2 + 12²·6); scores `σ(clip(logit, ±100))`, kept at
//!    ≥ 0.5; box centre/size and 7 keypoints decoded relative to the anchor (scale 192).
//! 3. Weighted NMS as MediaPipe's (IoU > 0.3 joins the top box's cluster; box and keypoints are
//!    the score-weighted means, the score the top's), at most [`Options::max_hands`]; letterbox
//!    removed.
//! 4. Hand ROI per palm: centre of the box, rotation `π/2 − atan2(−(y₂ − y₀), x₂ − x₀)` from
//!    keypoint 0 (wrist) to 2 (middle-finger base), shifted by −0.5 box heights along the rotated
//!    y axis, side = 2.6 × the longer box side (square in pixels).
//! 5. Landmark model on the rotated 224×224 crop (borders replicated): 21 landmarks (x, y, z),
//!    hand presence σ and handedness σ (MediaPipe's label "Left" is the probability given, for
//!    mirrored selfie input); landmarks mapped back through the rotation to image pixels (z in
//!    pixels, relative to the wrist's depth), and the model's metric 3-D "world" landmarks
//!    (metres) rotated the same way. Hands with presence < [`Options::min_presence`] are
//!    reported with `present: false`.
//!
//! Crops follow MediaPipe's OpenCV geometry (destination pixel `i` ↔ source `corner + i/N · side`,
//! pixel centres at integers) with float bilinear sampling — not OpenCV's 8-bit fixed-point warp,
//! a difference below the models' sensitivity that `scripts/gen_hands_refs.py` quantifies. Box
//! arithmetic is f64; the networks run in f32 on the device.
//!
//! # Parity
//!
//! `scripts/gen_hands_refs.py` (TFLite 2.14 interpreter, `tests/data/hands_refs.json`): every op
//! output of both models on a synthetic input, and the whole pipeline on the fixture PNGs with
//! palm detections (`parity_tests.rs`; numbers in the test names' asserts).

pub mod crop;
#[cfg(test)]
mod parity_tests;

use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use super::graph::{Act, Graph, GraphError};
use super::mtcnn::RgbImage;

/// Palm detector weights and graph.
pub const PALM: &[u8] = include_bytes!("../../../models/hands/palm_detection_full.safetensors");
/// Hand landmark weights and graph.
pub const LANDMARK: &[u8] = include_bytes!("../../../models/hands/hand_landmark_full.safetensors");

/// Names of the 21 landmarks, in output order (MediaPipe's).
pub const LANDMARKS: [&str; 21] = [
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
];

/// Pipeline parameters; the defaults are MediaPipe's (more hands than its default 2).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub min_palm_score: f64,
    pub nms_iou: f64,
    pub max_hands: usize,
    pub min_presence: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            min_palm_score: 0.5,
            nms_iou: 0.3,
            max_hands: 4,
            min_presence: 0.5,
        }
    }
}

/// A palm detection, normalised to the image (`[xmin, ymin, xmax, ymax]`, 7 keypoints).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Palm {
    pub score: f64,
    pub bbox: [f64; 4],
    pub keypoints: [[f64; 2]; 7],
}

/// The rotated square crop the landmark model sees, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Roi {
    pub cx: f64,
    pub cy: f64,
    pub side: f64,
    /// Radians, clockwise in image coordinates.
    pub rotation: f64,
}

/// One hand: its palm, crop, landmarks (image pixels; z relative) and scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hand {
    pub palm: Palm,
    pub roi: Roi,
    pub landmarks: Vec<[f64; 3]>,
    /// The model's metric 3-D landmarks (metres, origin near the hand's centre), rotated into the
    /// image's orientation as MediaPipe's WorldLandmarkProjection does.
    pub world: Vec<[f64; 3]>,
    pub presence: f64,
    /// MediaPipe's handedness score (probability of its label "Left", for mirrored input).
    pub handedness: f64,
    /// `presence ≥ min_presence`.
    pub present: bool,
}

/// Errors of the detector.
#[derive(Debug, thiserror::Error)]
pub enum HandsError {
    #[error("hand models: {0}")]
    Graph(#[from] GraphError),
    #[error("image buffer has {len} bytes, expected {expected} for {width}×{height} RGB8")]
    BadImage {
        len: usize,
        expected: usize,
        width: usize,
        height: usize,
    },
    #[error("unexpected model output: {0}")]
    Output(String),
}

/// The two models on one device.
pub struct HandDetector {
    device: Device,
    palm: Graph,
    landmark: Graph,
    pub options: Options,
}

/// The palm model's anchor centres (normalised), in output order.
pub fn anchors() -> Vec<[f64; 2]> {
    let strides = [8usize, 16, 16, 16];
    let mut out = Vec::with_capacity(2016);
    let mut layer = 0;
    while layer < strides.len() {
        let mut last = layer;
        let mut per_cell = 0;
        while last < strides.len() && strides[last] == strides[layer] {
            per_cell += 2;
            last += 1;
        }
        let fs = 192usize.div_ceil(strides[layer]);
        for y in 0..fs {
            for x in 0..fs {
                for _ in 0..per_cell {
                    out.push([(x as f64 + 0.5) / fs as f64, (y as f64 + 0.5) / fs as f64]);
                }
            }
        }
        layer = last;
    }
    out
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let ix = a[2].min(b[2]) - a[0].max(b[0]);
    let iy = a[3].min(b[3]) - a[1].max(b[1]);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

/// MediaPipe's weighted NMS (score order; cluster = IoU above `threshold` with the top box).
pub fn weighted_nms(mut dets: Vec<Palm>, threshold: f64, max_out: usize) -> Vec<Palm> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(top) = dets.first().copied() {
        if out.len() >= max_out {
            break;
        }
        let (cluster, rest): (Vec<Palm>, Vec<Palm>) = dets
            .into_iter()
            .partition(|d| iou(&top.bbox, &d.bbox) > threshold);
        let total: f64 = cluster.iter().map(|d| d.score).sum();
        let mut merged = top;
        merged.bbox = [0.0; 4];
        merged.keypoints = [[0.0; 2]; 7];
        for d in &cluster {
            let w = d.score / total;
            for k in 0..4 {
                merged.bbox[k] += d.bbox[k] * w;
            }
            for k in 0..7 {
                merged.keypoints[k][0] += d.keypoints[k][0] * w;
                merged.keypoints[k][1] += d.keypoints[k][1] * w;
            }
        }
        out.push(merged);
        dets = rest;
    }
    out
}

/// Decodes the palm model's outputs (`raw` 2016×18, `logits` 2016) into candidates with score
/// ≥ `min_score`, in letterboxed normalised coordinates.
pub fn decode_palms(raw: &[f32], logits: &[f32], min_score: f64) -> Vec<Palm> {
    let anchors = anchors();
    let mut out = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let Some(&logit) = logits.get(i) else { break };
        let score = 1.0 / (1.0 + (-f64::from(logit).clamp(-100.0, 100.0)).exp());
        if score < min_score {
            continue;
        }
        let Some(r) = raw.get(i * 18..i * 18 + 18) else {
            break;
        };
        let r: Vec<f64> = r.iter().map(|&v| f64::from(v) / 192.0).collect();
        let (xc, yc) = (r[0] + a[0], r[1] + a[1]);
        let (w, h) = (r[2], r[3]);
        let mut keypoints = [[0.0; 2]; 7];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [r[4 + 2 * k] + a[0], r[5 + 2 * k] + a[1]];
        }
        out.push(Palm {
            score,
            bbox: [xc - w / 2.0, yc - h / 2.0, xc + w / 2.0, yc + h / 2.0],
            keypoints,
        });
    }
    out
}

/// The hand ROI of a palm (normalised to a `w × h` image): MediaPipe's DetectionsToRects
/// (rotation from keypoint 0 to 2, target 90°) and RectTransformation (shift −0.5 along y,
/// square on the long side, scale 2.6).
pub fn hand_roi(p: &Palm, w: f64, h: f64) -> Roi {
    let b = p.bbox;
    let (mut xc, mut yc) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (bw, bh) = (b[2] - b[0], b[3] - b[1]);
    let [x0, y0] = [p.keypoints[0][0] * w, p.keypoints[0][1] * h];
    let [x1, y1] = [p.keypoints[2][0] * w, p.keypoints[2][1] * h];
    let tau = std::f64::consts::TAU;
    let mut rot = std::f64::consts::FRAC_PI_2 - (-(y1 - y0)).atan2(x1 - x0);
    rot -= tau * ((rot + std::f64::consts::PI) / tau).floor();
    let shift_y = -0.5;
    xc += -(h * bh * shift_y * rot.sin()) / w;
    yc += (h * bh * shift_y * rot.cos()) / h;
    let side = (bw * w).max(bh * h) * 2.6;
    Roi {
        cx: xc * w,
        cy: yc * h,
        side,
        rotation: rot,
    }
}

fn output(acts: &[Act], k: usize, len: usize) -> Result<Vec<f32>, HandsError> {
    let v = acts
        .get(k)
        .map(Act::to_vec)
        .ok_or_else(|| HandsError::Output(format!("output {k} missing")))?;
    if v.len() != len {
        return Err(HandsError::Output(format!(
            "output {k} has {} values, expected {len}",
            v.len()
        )));
    }
    Ok(v)
}

impl HandDetector {
    /// Loads the embedded models onto `device`.
    pub fn new(device: &Device) -> Result<Self, HandsError> {
        Ok(Self {
            device: device.clone(),
            palm: Graph::load("palm_detection_full.safetensors", PALM, device)?,
            landmark: Graph::load("hand_landmark_full.safetensors", LANDMARK, device)?,
            options: Options::default(),
        })
    }

    pub fn palm_graph(&self) -> &Graph {
        &self.palm
    }

    pub fn landmark_graph(&self) -> &Graph {
        &self.landmark
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn nchw(&self, hwc: Vec<f32>, n: usize, size: usize) -> Tensor<4> {
        let t: Tensor<4> =
            Tensor::from_data(TensorData::new(hwc, [n, size, size, 3]), &self.device);
        t.permute([0, 3, 1, 2])
    }

    /// Palm detections in one image, normalised to it.
    pub fn palms(&self, img: RgbImage<'_>) -> Result<Vec<Palm>, HandsError> {
        let (w, h) = (img.width as f64, img.height as f64);
        let s = w.max(h);
        let roi = Roi {
            cx: w / 2.0,
            cy: h / 2.0,
            side: s,
            rotation: 0.0,
        };
        let x = self.nchw(crop::sample(img, &roi, 192, true), 1, 192);
        let outs = self.palm.run(x, None)?;
        let raw = output(&outs, 0, 2016 * 18)?;
        let logits = output(&outs, 1, 2016)?;
        let o = self.options;
        let dets = decode_palms(&raw, &logits, o.min_palm_score);
        let (pl, pt) = ((1.0 - w / s) / 2.0, (1.0 - h / s) / 2.0);
        let (sx, sy) = (s / w, s / h);
        let unbox = |x: f64, y: f64| [(x - pl) * sx, (y - pt) * sy];
        Ok(weighted_nms(dets, o.nms_iou, o.max_hands)
            .into_iter()
            .map(|mut p| {
                let [a, b] = unbox(p.bbox[0], p.bbox[1]);
                let [c, d] = unbox(p.bbox[2], p.bbox[3]);
                p.bbox = [a, b, c, d];
                for k in &mut p.keypoints {
                    *k = unbox(k[0], k[1]);
                }
                p
            })
            .collect())
    }

    /// Detects hands in one image: palms, then landmarks on all their crops in one batch.
    pub fn detect(&self, img: RgbImage<'_>) -> Result<Vec<Hand>, HandsError> {
        let expected = img.width * img.height * 3;
        if img.data.len() != expected {
            return Err(HandsError::BadImage {
                len: img.data.len(),
                expected,
                width: img.width,
                height: img.height,
            });
        }
        if img.width == 0 || img.height == 0 {
            return Ok(Vec::new());
        }
        let palms = self.palms(img)?;
        if palms.is_empty() {
            return Ok(Vec::new());
        }
        let (w, h) = (img.width as f64, img.height as f64);
        let rois: Vec<Roi> = palms.iter().map(|p| hand_roi(p, w, h)).collect();
        let mut batch = Vec::with_capacity(rois.len() * 224 * 224 * 3);
        for r in &rois {
            batch.extend(crop::sample(img, r, 224, false));
        }
        let n = rois.len();
        let outs = self.landmark.run(self.nchw(batch, n, 224), None)?;
        let pts = output(&outs, 0, n * 63)?;
        let presence = output(&outs, 1, n)?;
        let handed = output(&outs, 2, n)?;
        let world = output(&outs, 3, n * 63)?;
        Ok(palms
            .into_iter()
            .zip(rois)
            .enumerate()
            .map(|(i, (palm, roi))| {
                let landmarks = project(&pts[i * 63..(i + 1) * 63], &roi);
                let world = rotate(&world[i * 63..(i + 1) * 63], roi.rotation);
                let presence = f64::from(presence[i]);
                Hand {
                    palm,
                    roi,
                    landmarks,
                    world,
                    presence,
                    handedness: f64::from(handed[i]),
                    present: presence >= self.options.min_presence,
                }
            })
            .collect())
    }
}

/// Crop landmarks (224-px units) → image pixels through the ROI's rotation.
fn project(v: &[f32], roi: &Roi) -> Vec<[f64; 3]> {
    let (c, s) = (roi.rotation.cos(), roi.rotation.sin());
    v.chunks_exact(3)
        .map(|p| {
            let u = f64::from(p[0]) / 224.0 - 0.5;
            let w = f64::from(p[1]) / 224.0 - 0.5;
            [
                (c * u - s * w) * roi.side + roi.cx,
                (s * u + c * w) * roi.side + roi.cy,
                f64::from(p[2]) / 224.0 * roi.side,
            ]
        })
        .collect()
}

/// World landmarks rotated by `angle` about z (MediaPipe's WorldLandmarkProjection).
fn rotate(v: &[f32], angle: f64) -> Vec<[f64; 3]> {
    let (c, s) = (angle.cos(), angle.sin());
    v.chunks_exact(3)
        .map(|p| {
            let (x, y) = (f64::from(p[0]), f64::from(p[1]));
            [c * x - s * y, s * x + c * y, f64::from(p[2])]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_mediapipes_2016() {
        let a = anchors();
        assert_eq!(a.len(), 2016);
        assert_eq!(a[0], [0.5 / 24.0, 0.5 / 24.0]);
        assert_eq!(a[1], a[0]);
        assert_eq!(a[1152], [0.5 / 12.0, 0.5 / 12.0]);
        assert_eq!(a[1157], a[1152]);
        assert_eq!(a[2015], [11.5 / 12.0, 11.5 / 12.0]);
    }

    #[test]
    fn weighted_nms_merges_a_cluster_and_keeps_the_top_score() {
        let p = |s: f64, x: f64| Palm {
            score: s,
            bbox: [x, 0.0, x + 1.0, 1.0],
            keypoints: [[x, 0.0]; 7],
        };
        let out = weighted_nms(vec![p(0.6, 0.2), p(0.9, 0.0), p(0.7, 5.0)], 0.3, 4);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!((out[0].bbox[0] - 0.6 * 0.2 / 1.5).abs() < 1e-12);
        assert_eq!(out[1].bbox[0], 5.0);
        assert_eq!(
            weighted_nms(vec![p(0.6, 0.0), p(0.7, 5.0)], 0.3, 1).len(),
            1
        );
    }
}
