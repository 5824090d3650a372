//! `assay fidelity REF_DIR TEST_DIR`: full-reference metrics (PSNR, SSIM, MS-SSIM) between images
//! paired by relative path (then by path without extension), per pair and averaged. Unpaired
//! files, size mismatches and undecodable files are listed and make the exit code 2.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::catalog::decode::{DecodeConfig, decode};
use crate::ranking::fidelity::{Image8, MS_SSIM_MIN_SIDE, ms_ssim, psnr, ssim};

#[derive(Debug, clap::Args)]
pub struct FidelityArgs {
    /// Reference folder.
    pub reference: PathBuf,
    /// Folder of test images (same relative paths, or the same paths with another extension).
    pub test: PathBuf,
    #[arg(long, value_enum, default_value_t = super::ListFormat::Text)]
    pub format: super::ListFormat,
}

/// Relative path without its extension (the fallback pairing key).
fn stem_key(rel: &str) -> String {
    match rel.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem.to_string(),
        _ => rel.to_string(),
    }
}

/// Pairs the files of two folders: exact relative path first, then path without extension.
/// Returns (pairs of (ref rel, ref abs, test rel, test abs), unpaired in ref, unpaired in test).
#[allow(clippy::type_complexity)]
fn pair(
    reference: &Path,
    test: &Path,
) -> anyhow::Result<(
    Vec<(String, PathBuf, String, PathBuf)>,
    Vec<String>,
    Vec<String>,
)> {
    for d in [reference, test] {
        if !d.is_dir() {
            return Err(super::UsageError(format!("not a folder: {}", d.display())).into());
        }
    }
    let refs = crate::catalog::discover(reference).files;
    let mut tests: BTreeMap<String, PathBuf> = crate::catalog::discover(test)
        .files
        .into_iter()
        .map(|f| (f.rel, f.abs))
        .collect();
    let mut pairs = Vec::new();
    let mut pending = Vec::new();
    for f in refs {
        match tests.remove(&f.rel) {
            Some(t) => pairs.push((f.rel.clone(), f.abs, f.rel, t)),
            None => pending.push(f),
        }
    }
    let mut by_stem: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rel in tests.keys() {
        by_stem.entry(stem_key(rel)).or_default().push(rel.clone());
    }
    let mut unpaired_ref = Vec::new();
    for f in pending {
        let candidate = by_stem.get_mut(&stem_key(&f.rel)).and_then(Vec::pop);
        match candidate.and_then(|rel| tests.remove(&rel).map(|abs| (rel, abs))) {
            Some((trel, tabs)) => pairs.push((f.rel, f.abs, trel, tabs)),
            None => unpaired_ref.push(f.rel),
        }
    }
    Ok((pairs, unpaired_ref, tests.into_keys().collect()))
}

/// RGB8 pixels (PIL conventions) of one file.
fn load(path: &Path) -> Result<(usize, usize, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let d = decode(&bytes, &DecodeConfig::default())
        .map_err(|e| format!("cannot decode {}: {e}", path.display()))?;
    let rgb = crate::signals::classical::rgb8_like_pil(&d.image);
    Ok((d.image.width() as usize, d.image.height() as usize, rgb))
}

/// Metrics of one pair, or why there are none.
fn measure(ref_abs: &Path, test_abs: &Path) -> Result<Value, String> {
    let (rw, rh, rp) = load(ref_abs)?;
    let (tw, th, tp) = load(test_abs)?;
    if (rw, rh) != (tw, th) {
        return Err(format!(
            "size mismatch: reference {rw}×{rh}, test {tw}×{th}"
        ));
    }
    let err = |e: crate::ranking::metric_error::MetricError| e.to_string();
    let a = Image8::new(rw, rh, 3, &rp).map_err(err)?;
    let b = Image8::new(tw, th, 3, &tp).map_err(err)?;
    let p = psnr(&a, &b).map_err(err)?;
    let s = ssim(&a, &b).map_err(err)?;
    let mut v = json!({
        "width": rw, "height": rh,
        "psnr": if p.is_finite() { json!(p) } else { Value::Null },
        "identical": !p.is_finite(),
        "ssim": s,
    });
    if rw.min(rh) >= MS_SSIM_MIN_SIDE {
        v["ms_ssim"] = json!(ms_ssim(&a, &b).map_err(err)?);
    } else {
        v["ms_ssim"] = Value::Null;
        v["ms_ssim_reason"] = json!(format!(
            "shorter side {} < {MS_SSIM_MIN_SIDE} px (5 scales need it)",
            rw.min(rh)
        ));
    }
    Ok(v)
}

fn mean(values: impl Iterator<Item = f64>) -> Value {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        Value::Null
    } else {
        json!(sum / n as f64)
    }
}

pub fn run(args: &FidelityArgs) -> anyhow::Result<u8> {
    let (pairs, unpaired_ref, unpaired_test) = pair(&args.reference, &args.test)?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (rrel, rabs, trel, tabs) in &pairs {
        match measure(rabs, tabs) {
            Ok(mut v) => {
                v["reference"] = json!(rrel);
                v["test"] = json!(trel);
                rows.push(v);
            }
            Err(reason) => {
                failures.push(json!({ "reference": rrel, "test": trel, "reason": reason }));
            }
        }
    }
    let num = |k: &'static str| rows.iter().filter_map(move |r| r[k].as_f64());
    let identical = rows.iter().filter(|r| r["identical"] == true).count();
    let result = json!({
        "reference": args.reference.display().to_string(),
        "test": args.test.display().to_string(),
        "pairs": rows,
        "mean": {
            "psnr": mean(num("psnr")),
            "psnr_note": format!("over the {} non-identical pairs; {identical} identical pair(s) have infinite PSNR (null)", rows.len() - identical),
            "ssim": mean(num("ssim")),
            "ms_ssim": mean(num("ms_ssim")),
        },
        "failed": failures,
        "unpaired_reference": unpaired_ref,
        "unpaired_test": unpaired_test,
    });
    match args.format {
        super::ListFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        super::ListFormat::Text => print_text(&result),
    }
    let bad = !failures.is_empty() || !unpaired_ref.is_empty() || !unpaired_test.is_empty();
    Ok(if bad { super::EXIT_PARTIAL } else { 0 })
}

fn print_text(r: &Value) {
    let f = |v: &Value, d: usize| {
        v.as_f64()
            .map_or_else(|| "-".to_string(), |x| format!("{x:.d$}"))
    };
    println!(
        "{:<40} {:>9} {:>7} {:>7}",
        "pair", "PSNR dB", "SSIM", "MS-SSIM"
    );
    for p in r["pairs"].as_array().into_iter().flatten() {
        let psnr = if p["identical"] == true {
            "inf".to_string()
        } else {
            f(&p["psnr"], 2)
        };
        println!(
            "{:<40} {:>9} {:>7} {:>7}",
            super::term::escape(p["reference"].as_str().unwrap_or("")),
            psnr,
            f(&p["ssim"], 4),
            f(&p["ms_ssim"], 4)
        );
    }
    let m = &r["mean"];
    println!(
        "{:<40} {:>9} {:>7} {:>7}",
        "mean",
        f(&m["psnr"], 2),
        f(&m["ssim"], 4),
        f(&m["ms_ssim"], 4)
    );
    println!("({})", m["psnr_note"].as_str().unwrap_or(""));
    for x in r["failed"].as_array().into_iter().flatten() {
        println!(
            "failed: {} — {}",
            super::term::escape(x["reference"].as_str().unwrap_or("")),
            super::term::escape(x["reason"].as_str().unwrap_or(""))
        );
    }
    for (k, label) in [
        ("unpaired_reference", "only in reference"),
        ("unpaired_test", "only in test"),
    ] {
        for x in r[k].as_array().into_iter().flatten() {
            println!("{label}: {}", super::term::escape(x.as_str().unwrap_or("")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(path: &Path, w: u32, h: u32, shift: u8) {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8 ^ shift, (y * 5) as u8, ((x + y) * 3) as u8])
        })
        .save(path)
        .unwrap();
    }

    #[test]
    fn pairs_by_path_then_stem_and_reports_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (r, t) = (tmp.path().join("r"), tmp.path().join("t"));
        std::fs::create_dir_all(r.join("sub")).unwrap();
        std::fs::create_dir_all(t.join("sub")).unwrap();
        save(&r.join("same.png"), 32, 32, 0);
        save(&t.join("same.png"), 32, 32, 0);
        save(&r.join("sub/x.png"), 32, 24, 0);
        save(&t.join("sub/x.bmp"), 32, 24, 1);
        save(&r.join("small.png"), 32, 32, 0);
        save(&t.join("small.png"), 30, 32, 0);
        save(&r.join("only_ref.png"), 8, 8, 0);
        save(&t.join("only_test.png"), 8, 8, 0);
        let (pairs, ur, ut) = pair(&r, &t).unwrap();
        let names: Vec<_> = pairs.iter().map(|p| (p.0.as_str(), p.2.as_str())).collect();
        assert_eq!(
            names,
            vec![
                ("same.png", "same.png"),
                ("small.png", "small.png"),
                ("sub/x.png", "sub/x.bmp")
            ]
        );
        assert_eq!(
            (ur, ut),
            (
                vec!["only_ref.png".to_string()],
                vec!["only_test.png".to_string()]
            )
        );

        let same = measure(&pairs[0].1, &pairs[0].3).unwrap();
        assert!(same["psnr"].is_null() && same["identical"] == true);
        assert!(same["ms_ssim"].is_null());
        assert!(same["ms_ssim_reason"].as_str().unwrap().contains("176"));
        let e = measure(&pairs[1].1, &pairs[1].3).unwrap_err();
        assert!(e.contains("size mismatch"), "{e}");
        let x = measure(&pairs[2].1, &pairs[2].3).unwrap();
        assert!(x["psnr"].as_f64().unwrap().is_finite() && x["ssim"].as_f64().unwrap() < 1.0);
    }
}
