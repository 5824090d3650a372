//! `assay hands IMAGE…`: MediaPipe hand detections per image (palm box and score, the rotated
//! crop, 21 landmarks in image pixels, presence, handedness, `hand_defect`), as text or JSON, on
//! the working copy the scan uses (`--face-max-side`), reported in full-resolution pixels.

use std::path::PathBuf;

use serde::Serialize;

use super::faces::{FaceResolutionArgs, load_rgb};
use super::{BackendArgs, EXIT_PARTIAL, ListFormat};
use crate::models::backend;
use crate::models::hands::{Hand, HandDetector, LANDMARKS};
use crate::models::mtcnn::{RgbImage, WorkingCopy};
use crate::signals::hands;

#[derive(Debug, clap::Args)]
pub struct HandsArgs {
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub working: FaceResolutionArgs,
}

#[derive(Debug, Serialize)]
struct HandOut {
    /// Palm box `[x1, y1, x2, y2]`, full-resolution pixels.
    palm_box: [f64; 4],
    palm_score: f64,
    presence: f64,
    /// MediaPipe's handedness score (probability of its label "Left", which assumes mirrored
    /// input: for a photograph, the subject's right hand).
    handedness: f64,
    /// Counted in `hand_count` (presence ≥ 0.5).
    present: bool,
    defect: f64,
    /// `[x, y, z]` per landmark in full-resolution pixels (z relative to the wrist), in the order
    /// of `landmark_names`.
    landmarks: Vec<[f64; 3]>,
}

#[derive(Debug, Serialize)]
struct ImageOut {
    path: String,
    width: usize,
    height: usize,
    working_size: [usize; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    hand_count: usize,
    landmark_names: [&'static str; 21],
    hands: Vec<HandOut>,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// One hand found on the working copy, in full-resolution pixels.
fn hand_out(h: &Hand, copy: &WorkingCopy) -> HandOut {
    let sx = copy.full_width as f64 / copy.width.max(1) as f64;
    let sy = copy.full_height as f64 / copy.height.max(1) as f64;
    let b = h.palm.bbox;
    let (w, hh) = (copy.full_width as f64, copy.full_height as f64);
    let landmarks = h
        .landmarks
        .iter()
        .map(|p| [round2(p[0] * sx), round2(p[1] * sy), round2(p[2] * sx)])
        .collect();
    HandOut {
        palm_box: [b[0] * w, b[1] * hh, b[2] * w, b[3] * hh].map(round2),
        palm_score: h.palm.score,
        presence: h.presence,
        handedness: h.handedness,
        present: h.present,
        defect: hands::defect(&h.world, h.handedness),
        landmarks,
    }
}

pub fn run(args: &HandsArgs) -> anyhow::Result<u8> {
    let selected = backend::select(args.backend.backend)?;
    let res = args.working.resolution();
    eprintln!(
        "hands: MediaPipe palm detection + hand landmarks on {}, working copy of at most {} px",
        selected.describe(),
        res.max_side
    );
    let detector = HandDetector::new(&selected.device)?;
    let mut results = Vec::new();
    let mut failed = false;
    for path in &args.images {
        let mut out = ImageOut {
            path: path.display().to_string(),
            width: 0,
            height: 0,
            working_size: [0, 0],
            error: None,
            hand_count: 0,
            landmark_names: LANDMARKS,
            hands: Vec::new(),
        };
        match load_rgb(path) {
            Err(e) => {
                out.error = Some(format!("{e:#}"));
                failed = true;
            }
            Ok((rgb, w, h)) => {
                let copy = WorkingCopy::new(
                    RgbImage {
                        data: &rgb,
                        width: w,
                        height: h,
                    },
                    &res,
                );
                drop(rgb);
                (out.width, out.height) = (w, h);
                out.working_size = [copy.width, copy.height];
                let found = detector.detect(copy.view())?;
                out.hand_count = hands::compute(&found).hand_count;
                out.hands = found.iter().map(|h| hand_out(h, &copy)).collect();
            }
        }
        results.push(out);
    }
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        ListFormat::Text => {
            for r in &results {
                if let Some(e) = &r.error {
                    println!("{}: error: {e}", r.path);
                    continue;
                }
                println!(
                    "{}: {}x{}, {} hand(s)",
                    r.path, r.width, r.height, r.hand_count
                );
                for h in &r.hands {
                    println!(
                        "  palm {:?} score {:.3}  presence {:.3}{}  handedness {:.3}  defect {:.3}",
                        h.palm_box,
                        h.palm_score,
                        h.presence,
                        if h.present { "" } else { " (not counted)" },
                        h.handedness,
                        h.defect
                    );
                }
            }
        }
    }
    Ok(if failed { EXIT_PARTIAL } else { 0 })
}
