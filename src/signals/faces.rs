//! Face signals from MTCNN detections ([`crate::models::mtcnn`]): how many faces, the weakest
//! detection, the largest face's share of the image, and `face_defect`, a landmark-plausibility
//! score for the distorted faces typical of generated portraits.
//!
//! `face_defect` (0 = plausible, → 1 = implausible) is the worst face's `1 − exp(−Σ pᵢ)` over
//! hinge penalties pᵢ, each 0 inside the range natural faces take and growing linearly outside
//! it. With `d` the eye distance, the eye line as the face's x axis and its normal as y:
//! - eye distance / box width outside [0.25, 0.65] (per 0.1);
//! - eye-line tilt beyond 25° (per 15°);
//! - eyes-to-mouth distance (between the midpoints) / d outside [0.7, 1.7] (per 0.25);
//! - mouth line vs eye line angle beyond 12° (per 10°);
//! - mouth width / d outside [0.45, 1.15] (per 0.2);
//! - nose between the eye line and the mouth line: its y fraction outside [0.15, 0.9] (per 0.15);
//! - symmetry: |eye–mouth-corner distance left − right| / d beyond 0.3 (per 0.2), and the mouth
//!   midpoint's x offset from the eye midpoint / d beyond 0.4 (per 0.2);
//! - landmarks outside the box by more than 10 % of its width (per 10 %);
//! - with the image: the similarity of the two eye regions ([`eye_similarity`], the right one
//!   mirrored) below 0.6 (per 0.2). MTCNN's landmark regression keeps to a mean face shape, so
//!   a warped or mismatched eye moves the landmarks little; the image evidence at the eyes
//!   changes much more.
//!
//! Ranges come from the landmark statistics of frontal to three-quarter faces (MTCNN landmarks
//! on the fixture portraits sit well inside them); strong yaw (profiles) can trip the symmetry
//! terms, so the score flags faces to review rather than proving a defect.

use serde::Serialize;

use crate::models::mtcnn::{Face, LANDMARKS, WorkingCopy, WorkingResolution};

/// Producer of the face signals (detector and score version): version 2 detects on a working
/// copy (fast mode, [`crate::models::mtcnn::WorkingResolution`]); stored values carry its
/// settings ([`producer`]).
pub const FACES: &str = "mtcnn@2";

/// The producer stored with fast-mode face signals, e.g. `mtcnn@2 max_side=1024
/// min_face=0.0385`.
pub fn producer(res: &WorkingResolution) -> String {
    format!(
        "{FACES} max_side={} min_face={:.4}",
        res.max_side, res.min_face_rel
    )
}

/// Per-image face signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaceSignals {
    pub face_count: usize,
    /// Lowest detection confidence; `None` without faces.
    pub face_conf_min: Option<f64>,
    /// Largest face box area / image area (0 without faces).
    pub face_area_max: f64,
    /// Worst face's landmark implausibility in [0, 1); `None` without faces.
    pub face_defect: Option<f64>,
    /// Every face with its own defect score, for overlays (`face_boxes`).
    pub faces: Vec<FaceRecord>,
}

/// One face as stored in `face_boxes` (JSON): box in pixels, confidence, landmarks, defect.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FaceRecord {
    /// `[x, y, w, h]`, pixels (floats, two decimals).
    pub box_xywh: [f64; 4],
    pub confidence: f64,
    /// `[x, y]` per landmark, in the order of [`LANDMARKS`].
    pub landmarks: [[f64; 2]; 5],
    pub defect: f64,
}

fn hinge(v: f64, lo: f64, hi: f64, unit: f64) -> f64 {
    if !v.is_finite() {
        return 1.0;
    }
    ((lo - v).max(0.0) + (v - hi).max(0.0)) / unit
}

fn angle_diff_deg(a: f64, b: f64) -> f64 {
    let mut d = (a - b).to_degrees().abs() % 360.0;
    if d > 180.0 {
        d = 360.0 - d;
    }
    d
}

/// The raw landmark geometry of one face: (name, value), in the order of [`RANGES`].
pub fn geometry(f: &Face) -> [(&'static str, f64); 9] {
    let [le, re, nose, ml, mr] = f.landmarks;
    let sub = |a: [f64; 2], b: [f64; 2]| [a[0] - b[0], a[1] - b[1]];
    let norm = |v: [f64; 2]| v[0].hypot(v[1]);
    let mid = |a: [f64; 2], b: [f64; 2]| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let eye_v = sub(re, le);
    let d = norm(eye_v).max(1e-9);
    let bw = f.width().max(1e-9);
    let eye_angle = eye_v[1].atan2(eye_v[0]);
    let mouth_v = sub(mr, ml);
    let mouth_angle = mouth_v[1].atan2(mouth_v[0]);
    // Face frame: x along the eye line, y perpendicular (downwards for an upright face).
    let (c, s) = (eye_angle.cos(), eye_angle.sin());
    let eye_mid = mid(le, re);
    let mouth_mid = mid(ml, mr);
    let local = |p: [f64; 2]| {
        let v = sub(p, eye_mid);
        [(v[0] * c + v[1] * s) / d, (-v[0] * s + v[1] * c) / d]
    };
    let m = local(mouth_mid);
    let n = local(nose);
    let nose_frac = if m[1].abs() > 1e-9 {
        n[1] / m[1]
    } else {
        f64::NAN
    };
    let outside = f
        .landmarks
        .iter()
        .map(|p| {
            let dx = (f.x1 - p[0]).max(0.0) + (p[0] - f.x2).max(0.0);
            let dy = (f.y1 - p[1]).max(0.0) + (p[1] - f.y2).max(0.0);
            dx.max(dy) / bw
        })
        .fold(0.0, f64::max);
    [
        ("eye_distance", d / bw),
        ("eye_tilt", angle_diff_deg(eye_angle, 0.0)),
        ("mouth_eyes_distance", m[1]),
        ("mouth_eye_parallel", angle_diff_deg(mouth_angle, eye_angle)),
        ("mouth_width", norm(mouth_v) / d),
        ("nose_between", nose_frac),
        (
            "symmetry_corners",
            (norm(sub(ml, le)) - norm(sub(mr, re))).abs() / d,
        ),
        ("symmetry_mouth_offset", m[0].abs()),
        ("landmarks_outside_box", outside),
    ]
}

/// Natural range `[lo, hi]` and penalty unit of each [`geometry`] value.
pub const RANGES: [(f64, f64, f64); 9] = [
    (0.25, 0.65, 0.1),
    (0.0, 25.0, 15.0),
    (0.7, 1.7, 0.25),
    (0.0, 12.0, 10.0),
    (0.45, 1.15, 0.2),
    (0.15, 0.9, 0.15),
    (0.0, 0.3, 0.2),
    (0.0, 0.4, 0.2),
    (0.0, 0.1, 0.1),
];

/// The individual penalties of one face (names for diagnostics), before combination.
pub fn penalties(f: &Face) -> Vec<(&'static str, f64)> {
    geometry(f)
        .iter()
        .zip(RANGES)
        .map(|((name, v), (lo, hi, unit))| (*name, hinge(*v, lo, hi, unit)))
        .collect()
}

/// Similarity of the two eye regions: the normalised cross-correlation of BT.601 grey patches
/// around both eyes (radius 0.3·d, 15×15 bilinear samples in the face's frame), the right eye's
/// mirrored. Natural frontal faces look alike on both sides (0.6–0.85 on the fixture
/// portraits); a warped, missing or mismatched eye does not. `None` for eyes closer than 16 px
/// (too few pixels), flat patches or patches outside the image.
pub fn eye_similarity(f: &Face, rgb: &[u8], width: usize, height: usize) -> Option<f64> {
    const N: usize = 15;
    let [le, re, ..] = f.landmarks;
    let (dx, dy) = (re[0] - le[0], re[1] - le[1]);
    let d = dx.hypot(dy);
    if d.is_nan() || d < 16.0 || rgb.len() < width * height * 3 || width < 2 || height < 2 {
        return None;
    }
    let (ex, ey) = (dx / d, dy / d);
    let r = 0.3 * d;
    let grey = |x: f64, y: f64| -> Option<f64> {
        if !(0.0..=(width - 1) as f64).contains(&x) || !(0.0..=(height - 1) as f64).contains(&y) {
            return None;
        }
        let (ix, iy) = (x.floor() as usize, y.floor() as usize);
        let (jx, jy) = ((ix + 1).min(width - 1), (iy + 1).min(height - 1));
        let (fx, fy) = (x - ix as f64, y - iy as f64);
        let g = |xx: usize, yy: usize| {
            let o = (yy * width + xx) * 3;
            0.299 * f64::from(rgb[o])
                + 0.587 * f64::from(rgb[o + 1])
                + 0.114 * f64::from(rgb[o + 2])
        };
        Some(
            g(ix, iy) * (1.0 - fx) * (1.0 - fy)
                + g(jx, iy) * fx * (1.0 - fy)
                + g(ix, jy) * (1.0 - fx) * fy
                + g(jx, jy) * fx * fy,
        )
    };
    let patch = |c: [f64; 2], mirror: bool| -> Option<Vec<f64>> {
        let mut v = Vec::with_capacity(N * N);
        for j in 0..N {
            for i in 0..N {
                let mut u = (i as f64 / (N - 1) as f64) * 2.0 - 1.0;
                let w = (j as f64 / (N - 1) as f64) * 2.0 - 1.0;
                if mirror {
                    u = -u;
                }
                let (x, y) = (c[0] + r * (u * ex - w * ey), c[1] + r * (u * ey + w * ex));
                v.push(grey(x, y)?);
            }
        }
        Some(v)
    };
    let a = patch(le, false)?;
    let b = patch(re, true)?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(&a), mean(&b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    let denom = (saa * sbb).sqrt();
    (denom > 1e-6 * (N * N) as f64).then(|| sab / denom)
}

/// Natural range of [`eye_similarity`] and its penalty unit.
pub const EYE_SIMILARITY_RANGE: (f64, f64, f64) = (0.6, 1.0, 0.2);

/// `1 − exp(−Σ penalties)` over the landmark geometry and, with the image, the eye-region
/// similarity: 0 for a plausible face.
pub fn defect(f: &Face, image: Option<(&[u8], usize, usize)>) -> f64 {
    let mut total: f64 = penalties(f).iter().map(|(_, p)| p).sum();
    if let Some((rgb, w, h)) = image
        && let Some(sim) = eye_similarity(f, rgb, w, h)
    {
        let (lo, hi, unit) = EYE_SIMILARITY_RANGE;
        total += hinge(sim, lo, hi, unit);
    }
    1.0 - (-total).exp()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The face signals of an RGB8 image of `width`×`height` pixels.
pub fn compute(faces: &[Face], rgb: &[u8], width: usize, height: usize) -> FaceSignals {
    compute_mapped(faces, rgb, width, height, |f| *f)
}

/// The face signals of faces found on a detector's working copy (fast mode): scores from the
/// copy's pixels (the landmark geometry is scale-free; the eye patches are sampled on the
/// copy), boxes and landmarks in full-resolution pixels.
pub fn compute_working(faces: &[Face], copy: &WorkingCopy) -> FaceSignals {
    compute_mapped(faces, &copy.rgb, copy.width, copy.height, |f| {
        copy.to_full(f)
    })
}

/// [`compute`] on an image of `width`×`height`, with the stored boxes and landmarks mapped by
/// `to_full` (identity, or working copy → full resolution).
fn compute_mapped(
    faces: &[Face],
    rgb: &[u8],
    width: usize,
    height: usize,
    to_full: impl Fn(&Face) -> Face,
) -> FaceSignals {
    let area = (width * height).max(1) as f64;
    let records: Vec<FaceRecord> = faces
        .iter()
        .map(|f| {
            let full = to_full(f);
            FaceRecord {
                box_xywh: [full.x1, full.y1, full.width(), full.height()].map(round2),
                confidence: (f.confidence * 1e6).round() / 1e6,
                landmarks: full.landmarks.map(|p| p.map(round2)),
                defect: defect(f, Some((rgb, width, height))),
            }
        })
        .collect();
    FaceSignals {
        face_count: faces.len(),
        face_conf_min: faces.iter().map(|f| f.confidence).reduce(f64::min),
        face_area_max: faces
            .iter()
            .map(|f| f.width() * f.height() / area)
            .fold(0.0, f64::max),
        face_defect: records.iter().map(|r| r.defect).reduce(f64::max),
        faces: records,
    }
}

/// The JSON stored under `face_boxes`: `{"landmarks": [names], "faces": [FaceRecord]}`.
pub fn boxes_json(s: &FaceSignals) -> String {
    serde_json::json!({ "landmarks": LANDMARKS, "faces": s.faces }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(landmarks: [[f64; 2]; 5]) -> Face {
        Face {
            x1: 100.0,
            y1: 100.0,
            x2: 200.0,
            y2: 230.0,
            confidence: 0.99,
            landmarks,
        }
    }

    const NATURAL: [[f64; 2]; 5] = [
        [130.0, 150.0],
        [170.0, 150.0],
        [150.0, 172.0],
        [135.0, 195.0],
        [165.0, 195.0],
    ];

    #[test]
    fn a_natural_face_scores_zero_and_distortions_score_high() {
        assert_eq!(
            defect(&face(NATURAL), None),
            0.0,
            "{:?}",
            penalties(&face(NATURAL))
        );
        // One eye displaced upwards: tilt and asymmetry.
        let mut lm = NATURAL;
        lm[1] = [172.0, 125.0];
        assert!(defect(&face(lm), None) > 0.5, "{:?}", penalties(&face(lm)));
        // Eyes almost on top of each other.
        let mut lm = NATURAL;
        lm[1] = [137.0, 150.0];
        assert!(defect(&face(lm), None) > 0.5);
        // Mouth above the nose.
        let mut lm = NATURAL;
        lm[3] = [135.0, 160.0];
        lm[4] = [165.0, 160.0];
        assert!(defect(&face(lm), None) > 0.5);
    }

    #[test]
    fn signals_of_an_image() {
        let s = compute(&[face(NATURAL)], &[], 400, 300);
        assert_eq!(s.face_count, 1);
        assert_eq!(s.face_conf_min, Some(0.99));
        assert!((s.face_area_max - 100.0 * 130.0 / 120_000.0).abs() < 1e-12);
        assert_eq!(s.face_defect, Some(0.0));
        let none = compute(&[], &[], 400, 300);
        assert_eq!(none.face_count, 0);
        assert_eq!(none.face_conf_min, None);
        assert_eq!(none.face_defect, None);
        let j: serde_json::Value = serde_json::from_str(&boxes_json(&s)).unwrap();
        assert_eq!(j["faces"][0]["box_xywh"][2], 100.0);
        assert_eq!(j["landmarks"][0], "left_eye");
    }
}
