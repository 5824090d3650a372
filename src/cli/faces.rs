//! `assay faces IMAGE…`: MTCNN detections per image (box, confidence, five landmarks), as text or
//! JSON comparable with the `mtcnn` package's `detect_faces` output. By default the fast mode
//! the scan uses (a working copy, `--face-max-side`); `--full-resolution` runs the package's
//! cascade on the full image (the parity mode).

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::{BackendArgs, EXIT_PARTIAL, ListFormat};
use crate::catalog::decode::{self, DecodeConfig};
use crate::models::backend;
use crate::models::mtcnn::{Face, LANDMARKS, Mtcnn, RgbImage, WorkingCopy, WorkingResolution};
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
    /// Detect on the full-resolution image exactly as the `mtcnn` package does (parity mode;
    /// slow and memory-hungry on large images). Default: the scan's fast mode.
    #[arg(long)]
    pub full_resolution: bool,
    #[command(flatten)]
    pub working: FaceResolutionArgs,
}

/// Fast-mode settings shared by `assay faces` and `assay scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct FaceResolutionArgs {
    /// Fast mode: faces are detected on a copy whose long side is at most this many pixels
    /// (smallest face: 1/26 of the image's short side, at least 20 px); boxes are reported in
    /// full-resolution pixels.
    #[arg(long, default_value_t = WorkingResolution::default().max_side as u32, value_parser = clap::value_parser!(u32).range(48..))]
    pub face_max_side: u32,
}

impl FaceResolutionArgs {
    pub fn resolution(&self) -> WorkingResolution {
        WorkingResolution {
            max_side: self.face_max_side as usize,
            ..WorkingResolution::default()
        }
    }
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
    /// Size of the fast mode's working copy (absent in `--full-resolution` mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    working_size: Option<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    faces: Vec<FaceOut>,
}

/// `f` in full-resolution pixels, with its defect score.
fn face_out(f: &Face, defect: f64) -> FaceOut {
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
        defect,
    }
}

/// Decodes a file to RGB8 as the scanner does (EXIF orientation applied, PIL-like conversion).
pub fn load_rgb(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, usize, usize)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let d = decode::decode(&bytes, &DecodeConfig::default())
        .with_context(|| format!("cannot decode {}", path.display()))?;
    drop(bytes);
    let (w, h) = (d.image.width() as usize, d.image.height() as usize);
    Ok((classical::into_rgb8_like_pil(d.image), w, h))
}

pub fn run(args: &FacesArgs) -> anyhow::Result<u8> {
    let selected = backend::select(args.backend.backend)?;
    let res = args.working.resolution();
    eprintln!(
        "faces: MTCNN on {}, {}",
        selected.describe(),
        if args.full_resolution {
            "full resolution (the package's cascade)".to_string()
        } else {
            format!("working copy of at most {} px", res.max_side)
        }
    );
    let detector = Mtcnn::new(&selected.device)?;
    let mut results = Vec::new();
    let mut failed = false;
    for path in &args.images {
        let mut out = ImageOut {
            path: path.display().to_string(),
            width: 0,
            height: 0,
            working_size: None,
            error: None,
            faces: Vec::new(),
        };
        match load_rgb(path).and_then(|(rgb, w, h)| {
            out.width = w;
            out.height = h;
            let img = RgbImage {
                data: &rgb,
                width: w,
                height: h,
            };
            if args.full_resolution {
                let d = detector.detect(img)?;
                return Ok(d
                    .faces
                    .iter()
                    .map(|f| face_out(f, faces::defect(f, Some((&rgb, w, h)))))
                    .collect());
            }
            let copy = WorkingCopy::new(img, &res);
            drop(rgb);
            out.working_size = Some([copy.width, copy.height]);
            let d = detector.detect_working(&[&copy], &res)?;
            let image = Some((copy.rgb.as_slice(), copy.width, copy.height));
            Ok(d.iter()
                .flat_map(|d| &d.faces)
                .map(|f| face_out(&copy.to_full(f), faces::defect(f, image)))
                .collect())
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
