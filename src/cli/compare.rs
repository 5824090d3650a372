//! `assay compare`: distribution metrics (FD, KID, precision/recall/density/coverage) between two
//! catalogued folders, two feature files, or the groups of one folder (`--by FIELD`). The
//! statistics live in `ranking::compare`, the feature-file readers in `monitor::npy`.
//!
//! # Batch evaluation
//!
//! - `assay compare A B` reads each folder's catalogue (exit 1 with "run `assay scan DIR` first"
//!   when absent) through `Store::embedding_vectors` / `Store::signal_vectors`
//!   (`store/features.rs`). `--features auto` (default) takes CLIP image embeddings when one model
//!   has embedded at least 90 % of each side's images (`--model KEY`, else the common model with
//!   the most images): the vectors as stored (projected, not L2-normalised, not standardised —
//!   clean-fid's CLIP feature mode), images without one skipped and counted. Otherwise (or with
//!   `--features classical`) the fallback, labelled as such: the nine classical signals
//!   (`blur_laplacian_var tenengrad clip_shadows clip_highlights luminance_mean contrast_rms
//!   colorfulness noise_sigma blockiness`); images lacking one are skipped and counted; log1p on
//!   blur and Tenengrad; then z-scores with the mean and std of the pooled A∪B set — one common
//!   standardisation, so both batches live in one space and no batch's own scale decides the
//!   distances. `--features-file A B` takes `.npy` (v1–3, `<f4`/`<f8`, C order, 2-D) or `.csv`
//!   matrices as given (no standardisation). `--logits F [F2]` prints the Inception Score of
//!   classifier logits (torch-fidelity's formula, rows in file order), alone or next to a
//!   comparison.
//! - Output: FD with its warnings (always the sample size), KID mean ± population std over subsets
//!   (subset size clamped to min(n_a, n_b) with a note; the spread is the subset std, not a
//!   bootstrap), precision/recall (k = 3) and density/coverage (k = 5); FD and the four PRDC values
//!   get 95 % percentile-bootstrap intervals (rows of A and of B resampled with replacement,
//!   `--bootstrap` rounds, failed rounds dropped and counted). FD's bootstrap interval is shifted
//!   upwards (duplicated rows, small-N bias) and can miss the point estimate; the output says so.
//! - `--by FIELD` (a table column, or `folder` = first path component) compares each group with the
//!   largest group (ties: first name), standardising over each pair; a failing group is reported
//!   and exits 2.
//! - `assay fidelity REF TEST`: pairs by relative path, then by path without extension; decodes
//!   with `catalog::decode` + `rgb8_like_pil`; PSNR (identical → `null`, `"identical": true`),
//!   SSIM, MS-SSIM (null with a reason below `MS_SSIM_MIN_SIDE`); unpaired, size-mismatched or
//!   undecodable files are listed and exit 2.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::UsageError;
use crate::ranking::compare::{EvalOptions, TooFewRows, evaluate, zscore_pooled};
use crate::signals;
use crate::store::Store;

/// Keys whose values span orders of magnitude: `log1p` before standardising.
const LOG_KEYS: [&str; 2] = ["blur_laplacian_var", "tenengrad"];
const CLASSICAL_LABEL: &str =
    "classical signals (fallback: no CLIP model has embedded at least 90 % of each side)";
/// Share of each side's images a CLIP model must have embedded for `--features auto` to use it.
const AUTO_MIN_COVERAGE: f64 = 0.9;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Two scanned folders A (reference) and B, or one folder with --by.
    pub dirs: Vec<PathBuf>,
    /// Database of A (default A/.assay/assay.db).
    #[arg(long)]
    pub db_a: Option<PathBuf>,
    /// Database of B (default B/.assay/assay.db).
    #[arg(long)]
    pub db_b: Option<PathBuf>,
    /// Feature space: `clip` (stored CLIP image embeddings, from `assay embed` or a scan with
    /// weights), `classical` (the nine classical signals, standardised), or `auto` (CLIP when
    /// one model has embedded at least 90 % of the images on each side, else classical).
    #[arg(long, value_enum, default_value_t = FeatureKind::Auto)]
    pub features: FeatureKind,
    /// Embedding model key (as `assay models` / the embeddings table name it); default: the
    /// common model with the most embedded images.
    #[arg(long)]
    pub model: Option<String>,
    /// Compare two feature matrices instead (rows = images): .npy (<f4/<f8, 2-D) or .csv.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub features_file: Option<Vec<PathBuf>>,
    /// Classifier logits (rows = images, columns = classes; .npy or .csv), one file per batch:
    /// prints the Inception Score of each (torch-fidelity's formula; rows taken in file order,
    /// where torch-fidelity shuffles them first). Alone, or next to any comparison.
    #[arg(long, num_args = 1..=2, value_name = "FILE")]
    pub logits: Option<Vec<PathBuf>>,
    /// Splits for the Inception Score.
    #[arg(long, default_value_t = 10)]
    pub is_splits: usize,
    /// Group one folder by a table column (e.g. model, tool) or `folder` (first path component)
    /// and compare every group with the largest one.
    #[arg(long)]
    pub by: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub kid_subsets: usize,
    /// KID subset size, clamped to min(n_a, n_b).
    #[arg(long, default_value_t = 1000)]
    pub kid_subset_size: usize,
    /// Bootstrap rounds for the 95 % intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = super::ListFormat::Text)]
    pub format: super::ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeatureKind {
    Auto,
    Clip,
    Classical,
}

/// The feature space chosen for a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Space {
    Classical,
    /// CLIP image embeddings of this model key, used as stored (after the projection, not
    /// L2-normalised, not standardised), like clean-fid's `clip_vit_b_32` feature mode.
    Clip(String),
}

impl Space {
    fn label(&self) -> String {
        match self {
            Space::Classical => CLASSICAL_LABEL.to_string(),
            Space::Clip(m) => format!("CLIP image embeddings ({m}; as stored, not normalised)"),
        }
    }
}

fn open_store(dir: &Path, db: Option<&Path>) -> anyhow::Result<Store> {
    let (path, _) = Store::locate(dir, db, false);
    if !path.exists() {
        return Err(UsageError(format!(
            "no catalogue for {}; run `assay scan {}` first (looked at {})",
            dir.display(),
            dir.display(),
            path.display()
        ))
        .into());
    }
    Store::open_for_reading(&path).with_context(|| format!("cannot open {}", path.display()))
}

/// Picks the feature space for catalogues `stores` (one for `--by`, two otherwise): with CLIP
/// (`clip` or `auto`), `--model` if given, else the model embedded in every catalogue with the
/// most images in the first one.
fn choose_space(
    kind: FeatureKind,
    model: Option<&str>,
    stores: &[&Store],
) -> anyhow::Result<Space> {
    if kind == FeatureKind::Classical {
        return Ok(Space::Classical);
    }
    let mut lists = Vec::new();
    for st in stores {
        lists.push(st.embedding_models()?);
    }
    let common: Vec<(String, usize)> = lists
        .first()
        .into_iter()
        .flatten()
        .filter(|(key, _, _)| {
            lists
                .iter()
                .all(|l| l.iter().any(|(k, _, n)| k == key && *n > 0))
        })
        .map(|(k, _, n)| (k.clone(), *n))
        .collect();
    if let Some(m) = model {
        return if common.iter().any(|(k, _)| k == m) {
            Ok(Space::Clip(m.to_string()))
        } else {
            Err(usage(&format!(
                "no embeddings from model '{m}' on every side; embedded models: {}",
                describe_models(&lists)
            )))
        };
    }
    // `auto` takes CLIP only when it covers (nearly) every image on each side, so a partly
    // embedded collection is not silently compared on a small subset.
    let common: Vec<(String, usize)> = if kind == FeatureKind::Auto {
        let mut totals = Vec::new();
        for st in stores {
            totals.push(st.image_rows(false)?.len());
        }
        common
            .into_iter()
            .filter(|(key, _)| {
                lists.iter().zip(&totals).all(|(l, &total)| {
                    l.iter()
                        .filter(|(k, _, _)| k == key)
                        .map(|(_, _, n)| *n)
                        .sum::<usize>() as f64
                        >= AUTO_MIN_COVERAGE * total as f64
                })
            })
            .collect()
    } else {
        common
    };
    match common
        .iter()
        .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
    {
        Some((k, _)) => Ok(Space::Clip(k.clone())),
        None if kind == FeatureKind::Auto => Ok(Space::Classical),
        None => Err(usage(&format!(
            "--features clip needs CLIP embeddings from one model on every side (run `assay \
             embed DIR`, or scan with weights); embedded models: {}",
            describe_models(&lists)
        ))),
    }
}

fn describe_models(lists: &[Vec<(String, usize, usize)>]) -> String {
    let parts: Vec<String> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let names: Vec<String> = l
                .iter()
                .map(|(k, d, n)| format!("{k} (d={d}, {n} images)"))
                .collect();
            format!(
                "{}: {}",
                if lists.len() == 1 {
                    "catalogue".to_string()
                } else {
                    ["A", "B"].get(i).unwrap_or(&"?").to_string()
                },
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
        .collect();
    parts.join("; ")
}

/// The vectors of `space` for a catalogue, by relative path (sorted), and how many current
/// images were skipped for lacking them.
fn load_space(store: &Store, space: &Space) -> anyhow::Result<(Vectors, usize)> {
    match space {
        Space::Classical => load_classical(store),
        Space::Clip(model) => {
            let vectors = store.embedding_vectors(model)?;
            let total = store.image_rows(false)?.len();
            let mut out: Vectors = vectors
                .into_iter()
                .map(|(p, v)| (p, v.into_iter().map(f64::from).collect()))
                .collect();
            out.sort_by(|x, y| x.0.cmp(&y.0));
            let skipped = total.saturating_sub(out.len());
            Ok((out, skipped))
        }
    }
}

/// [`evaluate`] as the JSON `assay compare` prints; too few rows on a side is a usage error.
fn evaluate_json(a: &[Vec<f64>], b: &[Vec<f64>], opt: &EvalOptions) -> anyhow::Result<Value> {
    match evaluate(a, b, opt) {
        Ok(r) => Ok(serde_json::to_value(r)?),
        Err(e) => match e.downcast::<TooFewRows>() {
            Ok(t) => Err(UsageError(t.to_string()).into()),
            Err(e) => Err(e),
        },
    }
}

/// Evaluates two row sets in `space`: classical vectors are z-scored over A∪B first.
fn evaluate_pair(
    space: &Space,
    a: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
    opt: &EvalOptions,
) -> anyhow::Result<Value> {
    match space {
        Space::Classical => classical_pair(a, b, opt),
        Space::Clip(model) => {
            let mut r = evaluate_json(&a, &b, opt)?;
            r["features"] = json!(space.label());
            r["model"] = json!(model);
            r["standardisation"] =
                json!("none (embeddings as stored, like clean-fid's CLIP features)");
            Ok(r)
        }
    }
}

pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let opt = EvalOptions {
        kid_subsets: args.kid_subsets,
        kid_subset_size: args.kid_subset_size,
        bootstrap: args.bootstrap,
        seed: args.seed,
    };
    let inception = match &args.logits {
        Some(files) => Some(inception_scores(files, args.is_splits)?),
        None => None,
    };
    let (mut result, code) =
        if let (Some(is), true, None) = (&inception, args.dirs.is_empty(), &args.features_file) {
            if args.by.is_some() {
                return Err(usage("--by needs a folder"));
            }
            (json!({ "inception_score": is }), 0)
        } else if let Some(files) = &args.features_file {
            if !args.dirs.is_empty() || args.by.is_some() {
                return Err(usage("--features-file takes no folders and no --by"));
            }
            let [fa, fb] = files.as_slice() else {
                return Err(usage("--features-file needs two files"));
            };
            let a = crate::monitor::npy::read_matrix(fa)?;
            let b = crate::monitor::npy::read_matrix(fb)?;
            let mut r = evaluate_json(&a, &b, &opt)?;
            r["features"] = json!("feature files (used as given, not standardised)");
            r["a"] = json!(fa.display().to_string());
            r["b"] = json!(fb.display().to_string());
            (r, 0)
        } else if let Some(field) = &args.by {
            let [dir] = args.dirs.as_slice() else {
                return Err(usage("--by takes exactly one folder"));
            };
            by_group(dir, args.db_a.as_deref(), field, args, &opt)?
        } else {
            let [da, db] = args.dirs.as_slice() else {
                return Err(usage(
                    "compare needs two folders (or one folder with --by, or --features-file A B)",
                ));
            };
            let sa = open_store(da, args.db_a.as_deref())?;
            let sb = open_store(db, args.db_b.as_deref())?;
            let space = choose_space(args.features, args.model.as_deref(), &[&sa, &sb])?;
            let (a, skipped_a) = load_space(&sa, &space)?;
            let (b, skipped_b) = load_space(&sb, &space)?;
            let rows_a: Vec<Vec<f64>> = a.into_iter().map(|(_, v)| v).collect();
            let rows_b: Vec<Vec<f64>> = b.into_iter().map(|(_, v)| v).collect();
            for (dir, rows, skipped) in [(da, &rows_a, skipped_a), (db, &rows_b, skipped_b)] {
                if rows.is_empty() {
                    return Err(usage(&format!(
                        "no images with {} in {} ({skipped} catalogued images lack them, e.g. \
                         unreadable files); nothing to compare",
                        space.label(),
                        dir.display()
                    )));
                }
            }
            let mut r = evaluate_pair(&space, rows_a, rows_b, &opt)?;
            r["a"] = json!(da.display().to_string());
            r["b"] = json!(db.display().to_string());
            r["skipped_a"] = json!(skipped_a);
            r["skipped_b"] = json!(skipped_b);
            (r, 0)
        };
    if let Some(is) = inception {
        result["inception_score"] = is;
    }
    match args.format {
        super::ListFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        super::ListFormat::Text => print_text(&result),
    }
    Ok(code)
}

/// Inception Score (mean, population std over `splits`) of each logits file.
fn inception_scores(files: &[PathBuf], splits: usize) -> anyhow::Result<Value> {
    let mut out = Vec::new();
    for f in files {
        let rows = crate::monitor::npy::read_matrix(f)?;
        if rows.is_empty() {
            return Err(usage(&format!(
                "{} has no rows: the Inception Score needs logits",
                f.display()
            )));
        }
        let feats = crate::ranking::distribution::Features::from_rows(&rows)
            .with_context(|| f.display().to_string())?;
        let (mean, std) = crate::ranking::distribution::inception_score(&feats, splits)
            .with_context(|| f.display().to_string())?;
        out.push(json!({
            "file": f.display().to_string(), "n": feats.n, "classes": feats.d, "splits": splits,
            "mean": mean, "std": std,
        }));
    }
    Ok(json!(out))
}

fn usage(msg: &str) -> anyhow::Error {
    UsageError(msg.to_string()).into()
}

/// Z-scores with the pooled moments and evaluates; labels the result.
fn classical_pair(
    mut a: Vec<Vec<f64>>,
    mut b: Vec<Vec<f64>>,
    opt: &EvalOptions,
) -> anyhow::Result<Value> {
    let constant = zscore_pooled(&mut a, &mut b);
    let mut r = evaluate_json(&a, &b, opt)?;
    r["features"] = json!(CLASSICAL_LABEL);
    r["feature_keys"] = json!(signals::classical_feature_keys());
    r["standardisation"] = json!(
        "log1p on blur_laplacian_var and tenengrad, then z-scores with the mean and std of the \
         pooled A∪B set (one common space for both batches)"
    );
    if !constant.is_empty() {
        let names: Vec<&str> = constant
            .iter()
            .filter_map(|&j| signals::classical_feature_keys().get(j).copied())
            .collect();
        if let Some(notes) = r["notes"].as_array_mut() {
            notes.push(json!(format!(
                "constant over A∪B (set to 0): {}",
                names.join(", ")
            )));
        }
    }
    Ok(r)
}

/// Relative path and feature vector of each image.
type Vectors = Vec<(String, Vec<f64>)>;

/// The complete classical vectors (log1p applied) of a catalogue, keyed by relative path, and
/// the number of images skipped because a signal was missing.
fn load_classical(store: &Store) -> anyhow::Result<(Vectors, usize)> {
    let keys = signals::classical_feature_keys();
    let rows = store.signal_vectors(&keys)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut skipped = 0;
    for (p, values) in rows {
        let Some(mut v) = values.into_iter().collect::<Option<Vec<f64>>>() else {
            skipped += 1;
            continue;
        };
        for (x, key) in v.iter_mut().zip(keys.iter().copied()) {
            if LOG_KEYS.contains(&key) {
                *x = x.max(0.0).ln_1p();
            }
        }
        out.push((p, v));
    }
    Ok((out, skipped))
}

/// `--by FIELD`: every group against the largest group (the baseline).
fn by_group(
    dir: &Path,
    db: Option<&Path>,
    field: &str,
    args: &CompareArgs,
    opt: &EvalOptions,
) -> anyhow::Result<(Value, u8)> {
    if field != crate::monitor::FOLDER && !crate::table::is_column(field) {
        return Err(usage(&format!(
            "unknown --by field '{field}'; use `folder` or a column of `assay table --list-columns`"
        )));
    }
    let store = open_store(dir, db)?;
    let space = choose_space(args.features, args.model.as_deref(), &[&store])?;
    let (vectors, skipped) = load_space(&store, &space)?;
    let mut key_of: BTreeMap<String, String> = BTreeMap::new();
    for r in store.image_rows(false)? {
        // The batch monitor's key: `folder` = first path component, else the column's value.
        key_of.insert(r.path.clone(), crate::monitor::batch_key(&r, field));
    }
    let mut groups: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for (p, v) in vectors {
        let g = key_of
            .get(&p)
            .cloned()
            .unwrap_or_else(|| crate::monitor::NONE.to_string());
        groups.entry(g).or_default().push(v);
    }
    let Some(baseline) = groups
        .iter()
        .max_by(|x, y| x.1.len().cmp(&y.1.len()).then(y.0.cmp(x.0)))
        .map(|(k, _)| k.clone())
    else {
        return Err(usage(&format!(
            "no images with complete signals in {}",
            dir.display()
        )));
    };
    let base_rows = groups.get(&baseline).cloned().unwrap_or_default();
    let mut results = Vec::new();
    let mut code = 0;
    for (g, rows) in &groups {
        if *g == baseline {
            continue;
        }
        let r = match evaluate_pair(&space, base_rows.clone(), rows.clone(), opt) {
            Ok(mut r) => {
                r["group"] = json!(g);
                r
            }
            Err(e) => {
                code = super::EXIT_PARTIAL;
                json!({ "group": g, "n_b": rows.len(), "error": format!("{e:#}") })
            }
        };
        results.push(r);
    }
    let sizes: BTreeMap<&String, usize> = groups.iter().map(|(k, v)| (k, v.len())).collect();
    Ok((
        json!({
            "features": space.label(),
            "by": field,
            "baseline": baseline,
            "group_sizes": sizes,
            "skipped": skipped,
            "groups": results,
        }),
        code,
    ))
}

fn print_text(r: &Value) {
    for is in r["inception_score"].as_array().into_iter().flatten() {
        println!(
            "Inception Score {}: {:.4} ± {:.4} (n = {}, {} classes, {} splits; rows in file order)",
            is["file"].as_str().unwrap_or(""),
            is["mean"].as_f64().unwrap_or(f64::NAN),
            is["std"].as_f64().unwrap_or(f64::NAN),
            is["n"],
            is["classes"],
            is["splits"]
        );
    }
    if r.get("fd").is_none() && r.get("groups").is_none() {
        return;
    }
    if let Some(groups) = r["groups"].as_array() {
        println!("features: {}", r["features"].as_str().unwrap_or(""));
        println!(
            "by {}; baseline {} (n = {})",
            r["by"],
            r["baseline"],
            r["group_sizes"][r["baseline"].as_str().unwrap_or("")]
        );
        for g in groups {
            println!("\n== group {} ==", g["group"]);
            if let Some(e) = g["error"].as_str() {
                println!("error: {e}");
            } else {
                print_one(g);
            }
        }
        return;
    }
    println!("features: {}", r["features"].as_str().unwrap_or(""));
    print_one(r);
}

fn print_one(r: &Value) {
    let f = |v: &Value| {
        v.as_f64()
            .map_or_else(|| "n/a".to_string(), |x| format!("{x:.4}"))
    };
    let iv = |v: &Value| format!("[{}, {}]", f(&v[0]), f(&v[1]));
    println!("n_a = {}, n_b = {}, d = {}", r["n_a"], r["n_b"], r["d"]);
    println!(
        "FD        {}  95% {}",
        f(&r["fd"]["value"]),
        iv(&r["fd"]["interval"])
    );
    for w in r["fd"]["warnings"].as_array().into_iter().flatten() {
        println!("  warning: {}", w.as_str().unwrap_or(""));
    }
    println!(
        "KID       {} ± {}  ({} subsets of {}; ± is the subset std, not a bootstrap)",
        f(&r["kid"]["mean"]),
        f(&r["kid"]["std"]),
        r["kid"]["subsets"],
        r["kid"]["subset_size"]
    );
    for (key, label) in [
        ("precision", "precision"),
        ("recall", "recall"),
        ("density", "density"),
        ("coverage", "coverage"),
    ] {
        println!(
            "{label:<9} {}  95% {}  (k = {})",
            f(&r[key]["value"]),
            iv(&r[key]["interval"]),
            r[key]["k"]
        );
    }
    println!(
        "bootstrap: {} rounds, percentile intervals",
        r["bootstrap"]["rounds"]
    );
    for n in r["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or(""));
    }
}
