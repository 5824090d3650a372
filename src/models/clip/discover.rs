//! Finding CLIP weights and aesthetic heads on disk. Never downloads.
//!
//! Search order (first found wins when a name repeats): `--models DIR`, `$ASSAY_MODELS`
//! (a path list), `models/` next to the executable, the user data dir
//! (`$XDG_DATA_HOME/assay/models`, default `~/.local/share/assay/models`), the Hugging Face
//! cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`; only
//! `models--*` repositories whose name contains `clip`, or names a judge: `hpsv2`, `pickscore`).
//!
//! A model is a folder with `config.json` + `model.safetensors` (or `pytorch_model.bin`) in
//! Hugging Face layout, a folder with `open_clip_config.json` + `open_clip_model.safetensors`
//! (or `open_clip_pytorch_model.bin`), an HF cache repository (`models--org--name`, the
//! snapshot named by `refs/main`, else the newest), or a loose checkpoint file
//! (`.safetensors`, `.bin`, `.pt`, `.pth`) whose configuration comes from a sibling JSON, from
//! a built-in architecture named in the file or folder name (`ViT-B-32`,
//! `clip-vit-large-patch14`, …), or from the tensor shapes (OpenAI's rules).
//!
//! Judges (`judge.rs`: HPSv2, PickScore) are models like any other, marked by their name
//! ([`ModelFiles::judge`]); a HPS file without a sidecar JSON is ViT-H-14, and a folder holding
//! several HPS files (the `xswu/HPSv2` repository) uses HPSv2.1. [`pick`] never chooses a judge
//! as the collection's CLIP model; [`judges`] lists them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ClipError;
use super::aesthetic::{HeadFiles, is_head_file};
use super::config::{Activation, ClipConfig};
use super::judge::JudgeKind;
use super::weights::{Checkpoint, Format};

/// Where a model's configuration comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ConfigSource {
    /// Hugging Face `config.json`.
    HfJson(PathBuf),
    /// open_clip `open_clip_config.json` or model-config JSON.
    OpenClipJson(PathBuf),
    /// A built-in architecture (by name).
    Builtin(String),
    /// From the tensor shapes (open_clip layout only), QuickGELU as OpenAI's weights.
    Inferred,
}

/// One model on disk.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFiles {
    /// Display name (`openai/clip-vit-large-patch14`, a folder or file name).
    pub name: String,
    /// Stable identity: name and a fingerprint of the weights file (size and its first and
    /// last 64 KiB), used in producer strings and the embeddings table.
    pub key: String,
    pub weights: PathBuf,
    pub config: ConfigSource,
    /// The reward model this checkpoint is (from its names), `None` for a plain CLIP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeKind>,
}

impl ModelFiles {
    /// The configuration (reads JSON, or inspects the checkpoint's shapes).
    pub fn config(&self, ckpt: &Checkpoint) -> Result<ClipConfig, ClipError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| ClipError::Config(format!("{}: {e}", p.display())))
        };
        match &self.config {
            ConfigSource::HfJson(p) => ClipConfig::from_hf_json(&read(p)?),
            ConfigSource::OpenClipJson(p) => ClipConfig::from_open_clip_json(&read(p)?),
            ConfigSource::Builtin(n) => ClipConfig::builtin(n)
                .ok_or_else(|| ClipError::Config(format!("unknown architecture {n}"))),
            ConfigSource::Inferred => match ckpt.format()? {
                Format::OpenClip => ckpt.infer_open_clip_config(Activation::QuickGelu),
                Format::Hf => Err(ClipError::Config(
                    "a Hugging Face checkpoint needs its config.json beside it".into(),
                )),
            },
        }
    }

    /// The built-in architecture this model matches exactly, if any.
    pub fn arch(&self, cfg: &ClipConfig) -> Option<&'static str> {
        ClipConfig::builtin_names()
            .iter()
            .copied()
            .find(|n| ClipConfig::builtin(n).as_ref() == Some(cfg))
    }
}

fn fingerprint(p: &Path) -> Result<u64, ClipError> {
    use std::io::{Read, Seek, SeekFrom};
    let err = |e: std::io::Error| ClipError::Weights(format!("{}: {e}", p.display()));
    let mut f = std::fs::File::open(p).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    let mut buf = len.to_le_bytes().to_vec();
    let mut chunk = vec![0u8; 65536];
    let n = f.read(&mut chunk).map_err(err)?;
    buf.extend_from_slice(&chunk[..n]);
    if len > 65536 {
        f.seek(SeekFrom::Start(len.saturating_sub(65536)))
            .map_err(err)?;
        let n = f.read(&mut chunk).map_err(err)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(xxhash_rust::xxh3::xxh3_64(&buf))
}

fn is_checkpoint(p: &Path) -> bool {
    p.is_file()
        && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "safetensors" | "bin" | "pt" | "pth"
            )
        })
}

/// The snapshot of an HF cache repository folder (`refs/main`, else the newest).
fn hf_snapshot(repo: &Path) -> Option<PathBuf> {
    let snaps = repo.join("snapshots");
    if let Ok(r) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let p = snaps.join(r.trim());
        if p.is_dir() {
            return Some(p);
        }
    }
    std::fs::read_dir(&snaps)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// `models--org--name` → `org/name`.
fn hf_repo_name(dir: &Path) -> Option<String> {
    let n = dir.file_name()?.to_str()?;
    let rest = n.strip_prefix("models--")?;
    Some(rest.replacen("--", "/", 1))
}

fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Resolves a user-given path (folder, HF cache repository, or checkpoint file).
pub fn resolve(path: &Path) -> Result<ModelFiles, ClipError> {
    if !path.exists() {
        return Err(ClipError::NotFound(format!(
            "{} does not exist",
            path.display()
        )));
    }
    if path.is_dir() {
        if let Some(repo) = hf_repo_name(path) {
            let snap = hf_snapshot(path).ok_or_else(|| {
                ClipError::NotFound(format!(
                    "{}: no snapshot in the HF cache folder",
                    path.display()
                ))
            })?;
            let mut f = resolve_dir(&snap)?;
            f.name.clone_from(&repo);
            f.key = format!("{repo}@{}", f.key.rsplit('@').next().unwrap_or_default());
            f.judge = f.judge.or_else(|| JudgeKind::detect(&repo));
            return Ok(f);
        }
        // A snapshot folder inside the HF cache: name it after the repository.
        let mut f = resolve_dir(path)?;
        if let Some(repo) = path.parent().and_then(Path::parent).and_then(hf_repo_name) {
            f.key = format!("{repo}@{}", f.key.rsplit('@').next().unwrap_or_default());
            f.judge = f.judge.or_else(|| JudgeKind::detect(&repo));
            f.name = repo;
        }
        return Ok(f);
    }
    resolve_file(path)
}

fn resolve_dir(dir: &Path) -> Result<ModelFiles, ClipError> {
    let hf_cfg = dir.join("config.json");
    let oc_cfg = dir.join("open_clip_config.json");
    let pick = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    let (weights, config) = if let (true, Some(w)) = (
        hf_cfg.is_file(),
        pick(&["model.safetensors", "pytorch_model.bin"]),
    ) {
        (w, ConfigSource::HfJson(hf_cfg))
    } else if let (true, Some(w)) = (
        oc_cfg.is_file(),
        pick(&["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]),
    ) {
        (w, ConfigSource::OpenClipJson(oc_cfg))
    } else {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| ClipError::NotFound(format!("{}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_checkpoint(p) && !is_head_file(p))
            .collect();
        files.sort();
        if let Some(hps) = newest_hps(&files) {
            return resolve_file(&hps);
        }
        match files.as_slice() {
            [one] => return resolve_file(one),
            [] => {
                return Err(ClipError::NotFound(format!(
                    "{}: no CLIP checkpoint (expected config.json + model.safetensors, open_clip_config.json + open_clip_model.safetensors, or one .safetensors/.bin/.pt file)",
                    dir.display()
                )));
            }
            _ => {
                return Err(ClipError::NotFound(format!(
                    "{}: several checkpoints; name one file",
                    dir.display()
                )));
            }
        }
    };
    let name = name_of(dir);
    let fp = fingerprint(&weights)?;
    Ok(ModelFiles {
        key: format!("{name}@{fp:016x}"),
        judge: JudgeKind::detect(&name),
        name,
        weights,
        config,
    })
}

/// The HPS checkpoint to use among several files that are all HPS checkpoints (`xswu/HPSv2`
/// holds `HPS_v2_compressed.pt` and `HPS_v2.1_compressed.pt`): HPSv2.1 when present.
fn newest_hps(files: &[PathBuf]) -> Option<PathBuf> {
    let all_hps = files.len() > 1
        && files
            .iter()
            .all(|f| JudgeKind::detect(&name_of(f)) == Some(JudgeKind::Hps));
    if !all_hps {
        return None;
    }
    let v21 = |f: &&PathBuf| {
        let n = name_of(f).to_ascii_lowercase().replace(['-', '_'], ".");
        n.contains("v2.1")
    };
    files.iter().find(v21).or(files.first()).cloned()
}

fn resolve_file(file: &Path) -> Result<ModelFiles, ClipError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let generic = matches!(
        stem.as_str(),
        "model" | "pytorch_model" | "open_clip_model" | "open_clip_pytorch_model"
    );
    let name = if generic { name_of(dir) } else { stem.clone() };
    let sidecar_oc = [
        dir.join(format!("{stem}.json")),
        dir.join("open_clip_config.json"),
    ]
    .into_iter()
    .find(|p| p.is_file() && looks_open_clip(p));
    let judge = JudgeKind::detect(&name_of(file)).or_else(|| JudgeKind::detect(&name));
    let config = if let Some(p) = sidecar_oc {
        ConfigSource::OpenClipJson(p)
    } else if dir.join("config.json").is_file() && looks_hf(&dir.join("config.json")) {
        ConfigSource::HfJson(dir.join("config.json"))
    } else if judge == Some(JudgeKind::Hps) {
        // HPS ships one architecture only.
        ConfigSource::Builtin("ViT-H-14".into())
    } else if let Some(b) = builtin_from_name(&format!("{} {}", name_of(dir), stem)) {
        ConfigSource::Builtin(b.to_string())
    } else {
        ConfigSource::Inferred
    };
    let fp = fingerprint(file)?;
    Ok(ModelFiles {
        key: format!("{name}@{fp:016x}"),
        name,
        weights: file.to_path_buf(),
        config,
        judge,
    })
}

fn json_has(p: &Path, keys: &[&str]) -> bool {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| {
            let m = v.get("model_cfg").unwrap_or(&v);
            keys.iter().all(|k| m.get(*k).is_some())
        })
}

fn looks_open_clip(p: &Path) -> bool {
    json_has(p, &["vision_cfg", "text_cfg"])
}

fn looks_hf(p: &Path) -> bool {
    json_has(p, &["vision_config", "text_config"])
}

/// A built-in architecture named in `s` (longest names first: `-336` before plain L/14).
fn builtin_from_name(s: &str) -> Option<&'static str> {
    let n = s.to_ascii_lowercase().replace(['/', '_'], "-");
    if n.contains("vit-l-14-336") || n.contains("large-patch14-336") {
        Some("ViT-L-14-336")
    } else if n.contains("vit-l-14") || n.contains("large-patch14") {
        Some("ViT-L-14")
    } else if n.contains("vit-b-16") || n.contains("base-patch16") {
        Some("ViT-B-16")
    } else if n.contains("vit-b-32") || n.contains("base-patch32") {
        Some("ViT-B-32")
    } else {
        None
    }
}

/// The roots searched, in order, with a label for each.
pub fn search_roots(explicit: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut roots = Vec::new();
    if let Some(p) = explicit {
        roots.push(("--models".to_string(), p.to_path_buf()));
    }
    if let Some(v) = std::env::var_os("ASSAY_MODELS") {
        for p in std::env::split_paths(&v) {
            roots.push(("$ASSAY_MODELS".into(), p));
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        roots.push(("next to the binary".into(), dir.join("models")));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".local/share")));
    if let Some(d) = data {
        roots.push(("user data dir".into(), d.join("assay").join("models")));
    }
    let hf = std::env::var_os("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| home.map(|h| h.join(".cache/huggingface/hub")));
    if let Some(h) = hf {
        roots.push(("Hugging Face cache".into(), h));
    }
    roots
}

/// A model or head candidate found by [`discover`], or why a candidate was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub root: String,
    pub models: Vec<FoundModel>,
    pub heads: Vec<HeadFiles>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// A model found on disk with its configuration.
#[derive(Debug, Clone, Serialize)]
pub struct FoundModel {
    pub files: ModelFiles,
    pub format: Format,
    pub arch: Option<&'static str>,
    pub embed_dim: usize,
    pub image_size: usize,
}

/// Inspects one model candidate (headers only; no tensor data is read for safetensors).
pub fn inspect(files: ModelFiles) -> Result<FoundModel, ClipError> {
    let ckpt = Checkpoint::open_header(&files.weights)?;
    let format = ckpt.format()?;
    let cfg = files.config(&ckpt)?;
    Ok(FoundModel {
        arch: files.arch(&cfg),
        embed_dim: cfg.embed_dim,
        image_size: cfg.vision.image_size,
        format,
        files,
    })
}

/// Searches every root (see the module documentation); never fails, reports problems per
/// candidate in `skipped`.
pub fn discover(explicit: Option<&Path>) -> Vec<(PathBuf, Found)> {
    let mut out = Vec::new();
    for (label, root) in search_roots(explicit) {
        if !root.is_dir() {
            continue;
        }
        let mut found = Found {
            root: label.clone(),
            models: Vec::new(),
            heads: Vec::new(),
            skipped: Vec::new(),
        };
        let hf_cache = label == "Hugging Face cache";
        let mut candidates: Vec<PathBuf> = Vec::new();
        let mut heads: Vec<PathBuf> = Vec::new();
        collect(&root, 0, hf_cache, &mut candidates, &mut heads);
        for c in candidates {
            match resolve(&c).and_then(inspect) {
                Ok(m) => found.models.push(m),
                Err(e) => found.skipped.push((c, e.to_string())),
            }
        }
        for h in heads {
            match HeadFiles::inspect(&h) {
                Ok(hf) => found.heads.push(hf),
                Err(e) => found.skipped.push((h, e.to_string())),
            }
        }
        if !found.models.is_empty() || !found.heads.is_empty() || !found.skipped.is_empty() {
            out.push((root, found));
        }
    }
    out
}

/// Walks `dir` (depth ≤ 2): model folders, HF cache repositories, loose checkpoints, heads.
fn collect(
    dir: &Path,
    depth: usize,
    hf_cache: bool,
    models: &mut Vec<PathBuf>,
    heads: &mut Vec<PathBuf>,
) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = name_of(&p);
        if name.starts_with('.') {
            continue;
        }
        if hf_cache {
            if p.is_dir()
                && name.starts_with("models--")
                && (name.to_ascii_lowercase().contains("clip")
                    || JudgeKind::detect(&name).is_some())
            {
                models.push(p);
            }
            continue;
        }
        if p.is_dir() {
            if hf_repo_name(&p).is_some()
                || p.join("config.json").is_file()
                || p.join("open_clip_config.json").is_file()
            {
                models.push(p);
            } else if depth < 2 {
                collect(&p, depth + 1, false, models, heads);
            }
        } else if is_head_file(&p) {
            heads.push(p);
        } else if is_checkpoint(&p) {
            models.push(p);
        }
    }
}

/// The first CLIP model (not a judge) found whose name, key, path or architecture matches
/// `want` (case-insensitive substring), or the first one at all when `want` is `None`.
pub fn pick(found: &[(PathBuf, Found)], want: Option<&str>) -> Option<FoundModel> {
    let mut all = found
        .iter()
        .flat_map(|(_, f)| f.models.iter())
        .filter(|m| m.files.judge.is_none());
    match want {
        None => all.next().cloned(),
        Some(w) => {
            let w = w.to_ascii_lowercase();
            all.find(|m| {
                m.files.name.to_ascii_lowercase().contains(&w)
                    || m.files.key.to_ascii_lowercase().contains(&w)
                    || m.arch.is_some_and(|a| a.to_ascii_lowercase() == w)
                    || m.files
                        .weights
                        .to_string_lossy()
                        .to_ascii_lowercase()
                        .contains(&w)
            })
            .cloned()
        }
    }
}

/// The first model found for each judge (search order), with its kind.
pub fn judges(found: &[(PathBuf, Found)]) -> Vec<(JudgeKind, FoundModel)> {
    let mut out: Vec<(JudgeKind, FoundModel)> = Vec::new();
    for m in found.iter().flat_map(|(_, f)| f.models.iter()) {
        if let Some(k) = m.files.judge
            && !out.iter().any(|(have, _)| *have == k)
        {
            out.push((k, m.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_builtins() {
        assert_eq!(
            hf_repo_name(Path::new("/x/models--openai--clip-vit-large-patch14")).as_deref(),
            Some("openai/clip-vit-large-patch14")
        );
        assert_eq!(builtin_from_name("ViT-L-14-336.pt"), Some("ViT-L-14-336"));
        assert_eq!(builtin_from_name("clip-vit-base-patch32"), Some("ViT-B-32"));
        assert_eq!(builtin_from_name("my_model"), None);
    }

    #[test]
    fn missing_and_empty_paths_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            resolve(&dir.path().join("nope")),
            Err(ClipError::NotFound(_))
        ));
        assert!(matches!(resolve(dir.path()), Err(ClipError::NotFound(_))));
        let found = discover(Some(dir.path()));
        assert!(
            found
                .iter()
                .all(|(_, f)| f.models.is_empty() || f.root != "--models")
        );
    }
}
