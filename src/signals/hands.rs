//! Hand signals from MediaPipe hand detections ([`crate::models::hands`]): how many hands, and
//! `hand_defect`, a plausibility score of the 21 landmarks for the malformed hands typical of
//! generated images.
//!
//! `hand_defect` (0 = plausible, → 1 = implausible) is the worst present hand's
//! `1 − exp(−Σ pᵢ)` over hinge penalties pᵢ (0 inside the range real hands take, growing linearly
//! outside it), computed on the model's metric 3-D world landmarks (scale- and view-invariant,
//! unlike the image landmarks). With `L` = |wrist → middle MCP| (palm length), the palm normal
//! `n = (index MCP − wrist) × (pinky MCP − wrist)` turned to the palm side by the handedness
//! score (MediaPipe's label "Right", score < 0.5, keeps it; a score within 0.3 of 0.5 decides
//! nothing and the hand is read both ways, the more plausible reading counting — a flat hand
//! with one finger bent backwards then reads as one finger flexed), and the lateral axis
//! `a = (middle MCP − wrist) × n`:
//! - bone lengths: every bone (metacarpals from the wrist, then three phalanges per finger;
//!   thumb CMC→MCP→IP→tip) over `L`, divided by its canonical ratio ([`CANON`]), outside
//!   [0.5, 1.6] (per 0.25);
//! - flexion (signed angle about `a` between consecutive bones; positive towards the palm) of
//!   the four fingers: MCP outside [−40°, 110°], PIP outside [−20°, 130°], DIP outside
//!   [−30°, 125°] (per 20°): a finger bent backwards, or folded beyond what joints allow;
//! - sideways bending (change of each bone's angle to the plane normal to `a`): MCP abduction
//!   beyond 50°, PIP beyond 45°, DIP beyond 55° (per 15°); thumb joints bending beyond 100° in
//!   either direction (per 20°);
//! - finger count: adjacent fingers whose PIP, DIP and tip all lie within 0.08 `L` of each other
//!   (two fingers on one track: a missing or fused finger; per 0.03 `L`), and knuckle spacing
//!   (adjacent MCPs) outside [0.1, 0.5] `L` (per 0.1).
//!
//! The landmark model always returns five fingers, so extra fingers show up as these
//! distortions rather than as a sixth chain. Ranges are those of the real hands in MediaPipe's
//! own expected results (fist, pointing up, victory, thumb up: the worst natural values sit
//! 10–20 % inside them). The score flags hands to review; MediaPipe's landmark regression keeps
//! to hand shapes, so a deformed hand in an image moves its landmarks less than the deformation.

use serde::Serialize;

use crate::models::hands::Hand;

/// Producer of the hand signals (models, pipeline and score version); stored with the working
/// resolution ([`producer`]).
pub const HANDS: &str = "mediapipe-hands@1";

/// The producer stored with the hand signals, e.g. `mediapipe-hands@1 max_side=1024`.
pub fn producer(max_side: usize) -> String {
    format!("{HANDS} max_side={max_side}")
}

/// Canonical bone length / palm length per finger (thumb, index, middle, ring, pinky): the
/// metacarpal (wrist → MCP; thumb: wrist → CMC) and the three phalanges (thumb: CMC→MCP,
/// MCP→IP, IP→tip). Means of MediaPipe's expected real-hand results, rounded.
pub const CANON: [[f64; 4]; 5] = [
    [0.47, 0.36, 0.38, 0.32],
    [1.06, 0.31, 0.19, 0.30],
    [1.0, 0.40, 0.30, 0.33],
    [0.96, 0.34, 0.27, 0.27],
    [0.88, 0.24, 0.21, 0.17],
];

/// Landmark indices of each finger's chain after the wrist (thumb first).
const FINGERS: [[usize; 4]; 5] = [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10, 11, 12],
    [13, 14, 15, 16],
    [17, 18, 19, 20],
];

/// Per-image hand signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HandSignals {
    /// Hands with presence ≥ the detector's threshold.
    pub hand_count: usize,
    /// Worst present hand's implausibility in [0, 1); `None` without hands.
    pub hand_defect: Option<f64>,
}

type V3 = [f64; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn unit(a: V3) -> V3 {
    let n = norm(a).max(1e-12);
    [a[0] / n, a[1] / n, a[2] / n]
}

fn hinge(v: f64, lo: f64, hi: f64, unit: f64) -> f64 {
    if !v.is_finite() {
        return 1.0;
    }
    ((lo - v).max(0.0) + (v - hi).max(0.0)) / unit
}

/// Signed angle (degrees) from `u` to `v` about `axis`.
fn signed_angle(u: V3, v: V3, axis: V3) -> f64 {
    dot(cross(u, v), axis).atan2(dot(u, v)).to_degrees()
}

/// Angle (degrees) of `v` to the plane normal to `axis`.
fn elevation(v: V3, axis: V3) -> f64 {
    dot(unit(v), axis).clamp(-1.0, 1.0).asin().to_degrees()
}

/// The penalties of one hand's world landmarks, by name (for reports and tests).
pub fn penalties(world: &[V3], handedness: f64) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    if world.len() != 21 {
        out.push(("landmarks", 1.0));
        return out;
    }
    let w = |i: usize| world[i];
    let l = norm(sub(w(9), w(0)));
    if !l.is_finite() || l <= 1e-9 {
        out.push(("palm_length", 1.0));
        return out;
    }
    let side = if handedness < 0.5 { 1.0 } else { -1.0 };
    let n = unit(cross(sub(w(5), w(0)), sub(w(17), w(0))));
    let n = [n[0] * side, n[1] * side, n[2] * side];
    let a = unit(cross(sub(w(9), w(0)), n));
    for (f, chain) in FINGERS.iter().enumerate() {
        let pts = [w(0), w(chain[0]), w(chain[1]), w(chain[2]), w(chain[3])];
        let bones: Vec<V3> = (0..4).map(|i| sub(pts[i + 1], pts[i])).collect();
        for (b, bone) in bones.iter().enumerate() {
            let r = norm(*bone) / (CANON[f][b] * l);
            out.push(("bone_length", hinge(r, 0.5, 1.6, 0.25)));
        }
        for j in 0..3 {
            let (u, v) = (unit(bones[j]), unit(bones[j + 1]));
            let flex = signed_angle(u, v, a);
            let lateral = elevation(v, a) - elevation(u, a);
            if f == 0 {
                out.push(("thumb_bend", hinge(flex, -100.0, 100.0, 20.0)));
                continue;
            }
            let ([lo, hi], lat) = [
                ([-40.0, 110.0], 50.0),
                ([-20.0, 130.0], 45.0),
                ([-30.0, 125.0], 55.0),
            ][j];
            out.push(("flexion", hinge(flex, lo, hi, 20.0)));
            out.push(("sideways", hinge(lateral, -lat, lat, 15.0)));
        }
    }
    for pair in FINGERS[1..].windows(2) {
        let (p, q) = (pair[0], pair[1]);
        let track = (1..4)
            .map(|k| norm(sub(w(p[k]), w(q[k]))) / l)
            .fold(0.0, f64::max);
        out.push(("fused_fingers", hinge(track, 0.08, f64::INFINITY, 0.03)));
        let spacing = norm(sub(w(p[0]), w(q[0]))) / l;
        out.push(("knuckle_spacing", hinge(spacing, 0.1, 0.5, 0.1)));
    }
    out
}

/// Handedness scores within this distance of 0.5 do not decide the palm side: [`defect`] then
/// reads the hand both ways and keeps the more plausible reading.
pub const UNSURE_HANDEDNESS: f64 = 0.3;

/// One hand's `1 − exp(−Σ penalties)`; with an unsure handedness score the smaller of the two
/// palm-side readings.
pub fn defect(world: &[V3], handedness: f64) -> f64 {
    let sum = |h: f64| -> f64 { penalties(world, h).iter().map(|(_, p)| p).sum() };
    let total = if (handedness - 0.5).abs() < UNSURE_HANDEDNESS {
        sum(0.0).min(sum(1.0))
    } else {
        sum(handedness)
    };
    1.0 - (-total).exp()
}

/// The signals of one image's detections (hands below the presence threshold do not count).
pub fn compute(hands: &[Hand]) -> HandSignals {
    let present: Vec<&Hand> = hands.iter().filter(|h| h.present).collect();
    HandSignals {
        hand_count: present.len(),
        hand_defect: present
            .iter()
            .map(|h| defect(&h.world, h.handedness))
            .reduce(f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeletons() -> Vec<(String, Vec<V3>, f64)> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hand_skeletons.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["hands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let world = h["world"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        let p: Vec<f64> = serde_json::from_value(p.clone()).unwrap();
                        [p[0], p[1], p[2]]
                    })
                    .collect();
                // MediaPipe's label "Right" is a handedness score below 0.5.
                let handed = if h["label"] == "Right" { 0.02 } else { 0.98 };
                (h["file"].as_str().unwrap().to_string(), world, handed)
            })
            .collect()
    }

    /// Rotates the points `from..` of `world` by `deg` about `axis` through `pivot`.
    fn rotate_part(world: &mut [V3], idx: &[usize], pivot: V3, axis: V3, deg: f64) {
        let k = unit(axis);
        let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
        for &i in idx {
            let v = sub(world[i], pivot);
            let kxv = cross(k, v);
            let kd = dot(k, v) * (1.0 - c);
            for d in 0..3 {
                world[i][d] = pivot[d] + v[d] * c + kxv[d] * s + k[d] * kd;
            }
        }
    }

    /// The palm normal (palm side) and lateral axis of a skeleton, as [`penalties`] sees them.
    fn frame(w: &[V3], handed: f64) -> (V3, V3) {
        let side = if handed < 0.5 { 1.0 } else { -1.0 };
        let n = unit(cross(sub(w[5], w[0]), sub(w[17], w[0])));
        let n = [n[0] * side, n[1] * side, n[2] * side];
        (n, unit(cross(sub(w[9], w[0]), n)))
    }

    /// The warped set: per real hand and finger, the finger bent backwards at its PIP, its
    /// proximal bone stretched, the finger swung sideways at its MCP, bent sideways at the PIP,
    /// and the finger laid onto its neighbour (a missing / fused finger).
    fn warps(w: &[V3], handed: f64) -> Vec<(String, Vec<V3>)> {
        let (n, a) = frame(w, handed);
        let mut out = Vec::new();
        for (f, chain) in FINGERS.iter().enumerate().skip(1) {
            let [mcp, pip, dip, tip] = *chain;
            let mut x = w.to_vec();
            // Undo the current PIP flexion, then 70° backwards.
            let flex = signed_angle(unit(sub(w[pip], w[mcp])), unit(sub(w[dip], w[pip])), a);
            rotate_part(&mut x, &[dip, tip], w[pip], a, -flex - 70.0);
            out.push((format!("finger {f} bent backwards"), x));
            let mut x = w.to_vec();
            let d = sub(w[pip], w[mcp]);
            for &i in &[pip, dip, tip] {
                for k in 0..3 {
                    x[i][k] += d[k] * 1.2;
                }
            }
            out.push((format!("finger {f} proximal bone stretched"), x));
            let mut x = w.to_vec();
            rotate_part(&mut x, &[pip, dip, tip], w[mcp], n, 75.0);
            out.push((format!("finger {f} swung sideways"), x));
            let mut x = w.to_vec();
            rotate_part(&mut x, &[dip, tip], w[pip], n, 70.0);
            out.push((format!("finger {f} bent sideways"), x));
            if f < 4 {
                let next = FINGERS[f + 1];
                let mut x = w.to_vec();
                for k in 1..4 {
                    for d in 0..3 {
                        x[chain[k]][d] = w[next[k]][d] + 0.003 * a[d];
                    }
                }
                out.push((format!("finger {f} laid onto finger {}", f + 1), x));
            }
        }
        out
    }

    #[test]
    fn real_hands_are_plausible_and_named_defects_score() {
        for (file, w, handed) in skeletons() {
            let d = defect(&w, handed);
            let worst = penalties(&w, handed)
                .into_iter()
                .filter(|(_, p)| *p > 0.0)
                .collect::<Vec<_>>();
            let flipped = defect(&w, 1.0 - handed);
            println!("{file}: defect {d:.3} {worst:?} (with the handedness flipped: {flipped:.3})");
            assert!(d < 0.2, "{file}: {d} {worst:?}");
            assert!(defect(&w, 0.5) < 0.2, "{file}: unsure handedness");
        }
        assert_eq!(defect(&[[0.0; 3]; 21], 0.0), 1.0 - (-1f64).exp());
        assert_eq!(defect(&[[0.0; 3]; 3], 0.0), 1.0 - (-1f64).exp());
    }

    #[test]
    fn warped_hands_score_higher_auc() {
        let mut real = Vec::new();
        let mut warped = Vec::new();
        for (file, w, handed) in skeletons() {
            real.push(defect(&w, handed));
            for (what, x) in warps(&w, handed) {
                let d = defect(&x, handed);
                println!("{file} {what}: {d:.3}");
                warped.push(d);
            }
        }
        let mut wins = 0.0;
        for &r in &real {
            for &x in &warped {
                wins += if x > r {
                    1.0
                } else if x == r {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let auc = wins / (real.len() * warped.len()) as f64;
        // The same set when the handedness score is unsure (both palm sides read).
        let (mut unsure_wins, mut n) = (0.0, 0.0);
        for (_, w, handed) in skeletons() {
            let r = defect(&w, 0.5);
            for (_, x) in warps(&w, handed) {
                let d = defect(&x, 0.5);
                unsure_wins += if d > r {
                    1.0
                } else if d == r {
                    0.5
                } else {
                    0.0
                };
                n += 1.0;
            }
        }
        let unsure = unsure_wins / n;
        println!("hand_defect AUC with an unsure handedness: {unsure:.3}");
        assert!(unsure >= 0.85, "AUC (unsure handedness) {unsure}");
        let caught = warped.iter().filter(|&&d| d > 0.2).count();
        println!(
            "hand_defect AUC {auc:.3} ({} real, {} warped; {caught} warped above 0.2)",
            real.len(),
            warped.len()
        );
        assert!(auc >= 0.85, "AUC {auc}");
    }
}
