//! The fuzz targets and their seeds. A target takes any bytes and must return without
//! panicking, whatever they are; its seeds are real inputs of its kind.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::catalog::decode::{self, DecodeConfig};
use crate::metadata::{self, Limits};
use crate::selection::{Expr, Value, plan};
use crate::store::{ImageRow, SignalValue};

/// A fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// Text input: the mutator also nests brackets and inserts dictionary tokens.
    pub text: bool,
    /// Inputs are cut to this many bytes.
    pub max_len: usize,
    /// Runs the parser on one input (must not panic).
    pub run: fn(&[u8]),
    /// The seed inputs.
    pub seeds: fn(&Seeds) -> Vec<Vec<u8>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).finish()
    }
}

/// Seed files found on disk (fixtures and metadata samples), read once.
#[derive(Debug, Default)]
pub struct Seeds {
    /// `(path, bytes)` of every image-like file, each cut to 256 KiB (metadata comes first in
    /// these containers).
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Files that were small enough to keep whole (decoding needs whole files).
    pub whole: Vec<Vec<u8>>,
}

const SEED_PREFIX: usize = 256 * 1024;

impl Seeds {
    /// Reads the image files under `dirs` (recursively).
    pub fn load(dirs: &[PathBuf]) -> Self {
        let mut s = Seeds::default();
        let mut stack: Vec<PathBuf> = dirs.to_vec();
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    stack.push(p);
                } else if crate::catalog::has_image_extension(&p)
                    && let Ok(b) = std::fs::read(&p)
                {
                    if b.len() <= SEED_PREFIX {
                        s.whole.push(b.clone());
                    }
                    let cut = b
                        .get(..SEED_PREFIX.min(b.len()))
                        .unwrap_or_default()
                        .to_vec();
                    s.files.push((p, cut));
                }
            }
        }
        s
    }

    /// The default seed folders: `$ASSAY_FIXTURES` (or `../shared/fixtures`) and the metadata
    /// samples beside it, when they exist.
    pub fn default_dirs() -> Vec<PathBuf> {
        let fixtures = std::env::var_os("ASSAY_FIXTURES")
            .map_or_else(|| PathBuf::from("../shared/fixtures"), PathBuf::from);
        let mut dirs = vec![fixtures.clone()];
        if let Some(parent) = fixtures.parent() {
            dirs.push(parent.join("metadata-samples"));
        }
        dirs.into_iter().filter(|d| d.is_dir()).collect()
    }
}

/// Small images of every decodable format, made here (seeds that exist without fixtures).
fn synthetic_images() -> Vec<Vec<u8>> {
    use image::{DynamicImage, ImageFormat};
    let rgb = image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(x * 10) as u8, (y * 15) as u8, ((x + y) * 5) as u8])
    });
    let rgba = image::RgbaImage::from_fn(16, 16, |x, y| {
        image::Rgba([x as u8 * 16, y as u8 * 16, 99, ((x * y) % 256) as u8])
    });
    let grey16 = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(8, 8, |x, y| {
        image::Luma([(x * 8000 + y * 300) as u16])
    });
    let mut out = Vec::new();
    let mut enc = |img: DynamicImage, fmt: ImageFormat| {
        let mut c = Cursor::new(Vec::new());
        if img.write_to(&mut c, fmt).is_ok() {
            out.push(c.into_inner());
        }
    };
    for fmt in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        enc(DynamicImage::ImageRgb8(rgb.clone()), fmt);
    }
    enc(DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png);
    enc(DynamicImage::ImageRgba8(rgba), ImageFormat::WebP);
    enc(DynamicImage::ImageLuma16(grey16), ImageFormat::Png);
    // A PNG with generation metadata in tEXt, zTXt and iTXt and an eXIf orientation.
    if let Some(png) = out.first().cloned() {
        out.push(with_png_chunks(&png));
    }
    out
}

/// `png` with text chunks (A1111 parameters, a ComfyUI prompt, XMP) and an eXIf block inserted
/// after IHDR.
fn with_png_chunks(png: &[u8]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let zlib = |data: &[u8]| {
        use std::io::Write as _;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    };
    let mut out = png.get(..33).unwrap_or_default().to_vec();
    chunk(
        &mut out,
        b"tEXt",
        b"parameters\0a fox in the snow\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 24x16, Model: sd15",
    );
    let mut z = b"prompt\0\0".to_vec();
    z.extend(zlib(
        br#"{"3":{"class_type":"KSampler","inputs":{"seed":5,"steps":20,"cfg":7,"positive":["6",0],"negative":["7",0],"model":["4",0]}},"6":{"class_type":"CLIPTextEncode","inputs":{"text":"a cat"}},"7":{"class_type":"CLIPTextEncode","inputs":{"text":"ugly"}},"4":{"class_type":"CheckpointLoaderSimple","inputs":{"ckpt_name":"m.safetensors"}}}"#,
    ));
    chunk(&mut out, b"zTXt", &z);
    let mut it = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    it.extend_from_slice(
        br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt><rdf:li xml:lang="x-default">a dog</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"#,
    );
    chunk(&mut out, b"iTXt", &it);
    // Little-endian TIFF with one IFD entry: Orientation = 6.
    let exif: &[u8] = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0";
    chunk(&mut out, b"eXIf", exif);
    out.extend_from_slice(png.get(33..).unwrap_or_default());
    out
}

const FUZZ_LIMITS: Limits = Limits {
    max_raw_bytes: 64 * 1024,
    max_inflate_bytes: 1 << 20,
};

fn run_metadata(b: &[u8]) {
    let m = metadata::read_metadata(b, None, &FUZZ_LIMITS);
    let _ = serde_json::to_string(&m.raw);
    let _ = metadata::container_info(b);
    // The stealth reader on the same bytes as RGBA pixels of a square image.
    let side = ((b.len() / 4) as f64).sqrt() as usize;
    if side >= 2
        && let Some(px) = b.get(..side * side * 4)
    {
        let _ = metadata::read_metadata(b"", Some((side as u32, side as u32, px)), &FUZZ_LIMITS);
    }
}

fn run_decode(b: &[u8]) {
    let _ = decode::probe(b);
    let _ = decode::jpeg_complete(b);
    let _ = decode::is_heif(b);
    let cfg = DecodeConfig {
        max_pixels: 1_000_000,
        max_alloc_bytes: 64 << 20,
    };
    if let Ok(d) = decode::decode(b, &cfg) {
        let _ = decode::pixel_hash(&d.image);
        let rgb = crate::signals::classical::rgb8_like_pil(&d.image);
        let (w, h) = (d.image.width() as usize, d.image.height() as usize);
        if w > 0 && h > 0 && w * h <= 65_536 {
            let _ = crate::signals::phash::hashes(&rgb, w, h);
        }
    }
}

fn row_value(column: &str) -> Value {
    match column {
        "blur_laplacian_var" | "blur" => Value::Num(120.5),
        "tool" => Value::Text("comfyui".into()),
        "prompt" => Value::Text("a photo of a fox".into()),
        "seed" => Value::Text("18446744073709551615".into()),
        "cfg" => Value::Num(f64::NAN),
        _ => Value::Null,
    }
}

fn run_expr(b: &[u8]) {
    let s = String::from_utf8_lossy(b);
    if let Ok(e) = Expr::parse(&s) {
        let _ = e.eval(&row_value);
        let _ = e.columns();
    }
}

fn sample_rows() -> Vec<ImageRow> {
    (0..6)
        .map(|i| {
            let mut r = ImageRow {
                id: i + 1,
                path: format!("p{}/img{i}.png", i % 2),
                positive: Some(format!("prompt {}", i % 3).into()),
                seed: Some((i / 2).to_string()),
                width: Some(512),
                height: Some(512),
                ..Default::default()
            };
            for (k, v) in [
                ("blur_laplacian_var", 40.0 + 30.0 * i as f64),
                ("noise_sigma", 1.0 + i as f64),
                ("tenengrad", 100.0 * i as f64),
                ("clip_highlights", 0.01),
                ("clip_shadows", 0.02),
                ("blank", 0.0),
                ("size_ok", 1.0),
                ("aspect_ok", 1.0),
            ] {
                if !(i == 3 && k == "noise_sigma") {
                    r.signals.insert(k.to_string(), SignalValue::Number(v));
                }
            }
            r
        })
        .collect()
}

fn run_policy(b: &[u8]) {
    let s = String::from_utf8_lossy(b);
    if let Ok(p) = plan::prepare(&s) {
        let rows = sample_rows();
        let _ = plan::plan(&p, &rows, &HashSet::from([2]));
    }
}

fn label_paths() -> HashMap<String, String> {
    [("a.png", "h_a"), ("b.png", "h_b"), ("c d.png", "h_c")]
        .iter()
        .map(|(p, h)| ((*p).to_string(), (*h).to_string()))
        .collect()
}

fn run_labels(b: &[u8]) {
    let paths = label_paths();
    let aliases = HashMap::from([("h_old".to_string(), "h_a".to_string())]);
    for line in b.split(|&c| c == b'\n') {
        if let Ok(l) = std::str::from_utf8(line) {
            let _ = crate::human::parse_line_aliased(l, &paths, &aliases);
        }
    }
}

fn run_npy(b: &[u8]) {
    let _ = crate::monitor::npy::parse_npy(b);
    let _ = crate::monitor::npy::parse_csv(b);
}

fn npy_bytes(version: u8, descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(payload);
    out
}

/// Every target, in a fixed order.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "metadata",
            text: false,
            max_len: 1 << 20,
            run: run_metadata,
            seeds: |s| {
                let mut v: Vec<Vec<u8>> = s.files.iter().map(|(_, b)| b.clone()).collect();
                v.extend(synthetic_images());
                v
            },
        },
        Target {
            name: "decode",
            text: false,
            max_len: 512 * 1024,
            run: run_decode,
            seeds: |s| {
                let mut v: Vec<Vec<u8>> = s
                    .whole
                    .iter()
                    .filter(|b| b.len() <= 64 * 1024)
                    .cloned()
                    .collect();
                v.extend(synthetic_images());
                v
            },
        },
        Target {
            name: "expr",
            text: true,
            max_len: 256 * 1024,
            run: run_expr,
            seeds: |_| {
                [
                    "blur_laplacian_var < 100 and tool = 'comfyui'",
                    "prompt ~ 'fox' or not (seed >= 1e3)",
                    "(a is null) and (b is not null or c != \"x\\\"y\")",
                    "status = accepted and rating >= 4",
                    "width*height > 1",
                    "not not not x = -1.5e-3",
                ]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
            },
        },
        Target {
            name: "policy",
            text: true,
            max_len: 256 * 1024,
            run: run_policy,
            seeds: |_| {
                vec![
                    include_bytes!("../../assets/policies/example.toml").to_vec(),
                    b"name = \"lex\"\n[[gates]]\nwhen = \"blank = 0\"\nreason = \"blank\"\n[rank]\nrule = \"lexicographic\"\nkeys = [{ key = \"tenengrad\", tolerance = 100.0 }, { key = \"noise_sigma\", direction = \"min\" }]\n[bands]\naccept = 0.6\nreject = 0.1\n".to_vec(),
                    b"name = \"c\"\nscope = \"seed_batch\"\n[rank]\nrule = \"constrained\"\nconstraints = [\"noise_sigma < 3\"]\nmaximise = \"tenengrad\"\n[bands]\naccept = 0.5\nreject = 0.2\ntop_k = 1\n".to_vec(),
                    b"name = \"p\"\nscope = \"collection\"\n[rank]\nrule = \"pareto\"\nkeys = [{ key = \"blur_laplacian_var\", direction = \"max\" }, { key = \"noise_sigma\", direction = \"min\" }]\n[bands]\naccept = 0.9\nreject = 0.3\n".to_vec(),
                ]
            },
        },
        Target {
            name: "labels",
            text: true,
            max_len: 256 * 1024,
            run: run_labels,
            seeds: |_| {
                vec![
                    br#"{"protocol":"pairwise","rater":"r1","criterion":"overall","items":["a.png","b.png"],"choice":"a.png","time":"2026-01-02T03:04:05.678Z","session":"r1@t#0001","order":["b.png","a.png"],"response_ms":812,"hashes":["h_a","h_b"]}"#.to_vec(),
                    br#"{"protocol":"likert","rater":"r2","items":["h_c"],"rating":4}"#.to_vec(),
                    br#"{"protocol":"best_of_n","rater":"r1","items":["a.png","b.png","c d.png"],"choice":"c d.png"}
{"protocol":"pairwise","rater":"r3","items":["a.png","b.png"],"choice":"tie","attention_check":true}"#.to_vec(),
                    br#"{"protocol":"multi","rater":"r1","items":["a.png"],"ratings":{"fidelity":4,"alignment":3,"aesthetics":5},"hashes":["h_old"]}"#.to_vec(),
                    br#"{"protocol":"pairwise","rater":"r1","items":["a.png","a.png#degraded"],"choice":"a.png","attention_check":true}"#.to_vec(),
                ]
            },
        },
        Target {
            name: "npy",
            text: false,
            max_len: 64 * 1024,
            run: run_npy,
            seeds: |_| {
                let f8: Vec<u8> = [1.0f64, 2.0, -3.5, 4.25, 0.0, 1e10]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
                let f4: Vec<u8> = [1.0f32, 2.0, -3.5, 4.25, 0.0, 1e10]
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
                vec![
                    npy_bytes(1, "<f8", "(3, 2)", &f8),
                    npy_bytes(2, "<f4", "(2, 3)", &f4),
                    npy_bytes(3, "<f8", "(6, 1)", &f8),
                    b"a,b,c\n1,2,3\n4.5,-6,7e3\n".to_vec(),
                ]
            },
        },
    ]
}

/// Where `assay bench fuzz` keeps the inputs of its findings by default.
pub fn default_out() -> PathBuf {
    Path::new("target").join("fuzz-findings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_accepts_its_own_seeds() {
        let seeds = Seeds::default();
        for t in targets() {
            let s = (t.seeds)(&seeds);
            assert!(!s.is_empty(), "{} has seeds", t.name);
            for input in &s {
                (t.run)(input);
            }
        }
        // The seeds are meaningful inputs, not noise: they parse.
        let label = (targets()[4].seeds)(&seeds);
        let line = std::str::from_utf8(&label[0]).unwrap();
        assert!(crate::human::parse_line(line, &label_paths()).is_ok());
        assert!(
            plan::prepare(std::str::from_utf8(&(targets()[3].seeds)(&seeds)[1]).unwrap()).is_ok()
        );
        let imgs = synthetic_images();
        assert!(imgs.len() >= 9);
        let m = metadata::read_metadata(imgs.last().unwrap(), None, &Limits::default());
        // The ComfyUI graph wins over the A1111 text (the interpreters' priority).
        assert_eq!(m.positive.as_deref(), Some("a cat"));
        assert_eq!(m.tool.as_deref(), Some("comfyui"));
    }
}
