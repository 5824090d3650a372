//! `assay faces IMAGE…`: MTCNN detections per image (box, confidence, five landmarks), as text or
//! JSON comparable with the `mtcnn` package's `detect_faces` output.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::{BackendArgs, EXIT_PARTIAL, ListFormat};
use crate::catalog::decode::{self, DecodeConfig};
use crate::models::backend;
use crate::models::mtcnn::{Face, LANDMARKS, Mtcnn, RgbImage};
use crate::signals::{classical, faces};

#[derive(Debug, clap::Args)]
pub struct FacesArgs {
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Serialize)]
struct FaceOut {
    /// `[x, y, w, h]` rounded as the package's JSON.
    #[serde(rename = "box")]
    box_xywh: [i64; 4],
    /// Unrounded `[x1, y1, x2, y2]`.
    box_xyxy: [f64; 4],
    confidence: f64,
    keypoints: serde_json::Map<String, serde_json::Value>,
    defect: f64,
}

#[derive(Debug, Serialize)]
struct ImageOut {
    path: String,
    width: usize,
    height: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    faces: Vec<FaceOut>,
}

fn face_out(f: &Face, image: (&[u8], usize, usize)) -> FaceOut {
    let keypoints = LANDMARKS
        .iter()
        .zip(f.landmarks)
        .map(|(name, p)| {
            (
                (*name).to_string(),
                serde_json::json!([
                    (p[0] * 100.0).round() / 100.0,
                    (p[1] * 100.0).round() / 100.0
                ]),
            )
        })
        .collect();
    FaceOut {
        box_xywh: f.box_xywh(),
        box_xyxy: [f.x1, f.y1, f.x2, f.y2],
        confidence: f.confidence,
        keypoints,
        defect: faces::defect(f, Some(image)),
    }
}

/// Decodes a file to RGB8 as the scanner does (EXIF orientation applied, PIL-like conversion).
pub fn load_rgb(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, usize, usize)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let d = decode::decode(&bytes, &DecodeConfig::default())
        .with_context(|| format!("cannot decode {}", path.display()))?;
    let (w, h) = (d.image.width() as usize, d.image.height() as usize);
    Ok((classical::rgb8_like_pil(&d.image), w, h))
}

pub fn run(args: &FacesArgs) -> anyhow::Result<u8> {
    let selected = backend::select(args.backend.backend)?;
    eprintln!("faces: MTCNN on {}", selected.describe());
    let detector = Mtcnn::new(&selected.device)?;
    let mut results = Vec::new();
    let mut failed = false;
    for path in &args.images {
        let mut out = ImageOut {
            path: path.display().to_string(),
            width: 0,
            height: 0,
            error: None,
            faces: Vec::new(),
        };
        match load_rgb(path).and_then(|(rgb, w, h)| {
            out.width = w;
            out.height = h;
            let d = detector.detect(RgbImage {
                data: &rgb,
                width: w,
                height: h,
            })?;
            Ok(d.faces.iter().map(|f| face_out(f, (&rgb, w, h))).collect())
        }) {
            Ok(faces) => out.faces = faces,
            Err(e) => {
                failed = true;
                eprintln!("error: {e:#}");
                out.error = Some(format!("{e:#}"));
            }
        }
        results.push(out);
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &results)?;
            std::io::Write::write_all(&mut stdout, b"\n")?;
        }
        ListFormat::Text => {
            use std::io::Write as _;
            for r in &results {
                if let Some(e) = &r.error {
                    writeln!(stdout, "{}: error: {e}", r.path)?;
                    continue;
                }
                writeln!(
                    stdout,
                    "{} ({}×{}): {} face(s)",
                    r.path,
                    r.width,
                    r.height,
                    r.faces.len()
                )?;
                for f in &r.faces {
                    let [x, y, w, h] = f.box_xywh;
                    let kp: Vec<String> = LANDMARKS
                        .iter()
                        .filter_map(|n| {
                            f.keypoints
                                .get(*n)
                                .map(|p| format!("{n} ({}, {})", p[0], p[1]))
                        })
                        .collect();
                    writeln!(
                        stdout,
                        "  box x={x} y={y} w={w} h={h}  confidence {:.4}  defect {:.3}\n    {}",
                        f.confidence,
                        f.defect,
                        kp.join(", ")
                    )?;
                }
            }
        }
    }
    Ok(if failed { EXIT_PARTIAL } else { 0 })
}
