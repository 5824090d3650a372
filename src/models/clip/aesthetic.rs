//! LAION aesthetic predictors on L2-normalised CLIP image embeddings
//! (`../shared/docs/metrics-reference.md` §3). Never shipped: users download the `.pth` files.
//!
//! - v1 linear heads (LAION-AI/aesthetic-predictor, MIT): `sa_0_4_vit_l_14_linear.pth`
//!   (`Linear(768, 1)`, ViT-L/14) and `sa_0_4_vit_b_32_linear.pth` (`Linear(512, 1)`,
//!   ViT-B/32); keys `weight`, `bias`.
//! - "improved" v2 MLP (`sac+logos+ava1-l14-linearMSE.pth`, ViT-L/14): five Linear layers,
//!   keys `layers.{0,2,4,6,7}`, no activation — collapsed at load into one affine map, checked
//!   against the layer-by-layer result; the `*-reluMSE.pth` variant (keys
//!   `layers.{0,3,6,9,11}`) has ReLUs after the first four layers and is run layer by layer.
//!
//! Input normalisation is numpy's `a / ‖a‖₂` with a zero norm replaced by 1. Scores are not
//! clipped. Everything runs in f64 on the host (at most 1.9 M multiply-adds per image).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ClipError;
use super::weights::Checkpoint;

/// The kind of head, from its tensor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// v1: one `Linear(d, 1)`.
    Linear,
    /// v2 MLP without activations (`layers.{0,2,4,6,7}`).
    Mlp,
    /// v2 MLP with ReLUs (`layers.{0,3,6,9,11}`).
    MlpRelu,
}

/// A head file found on disk.
#[derive(Debug, Clone, Serialize)]
pub struct HeadFiles {
    pub path: PathBuf,
    pub kind: HeadKind,
    /// Input (embedding) size.
    pub dim: usize,
    /// The CLIP architecture the head was trained on (`ViT-L-14`, `ViT-B-32`).
    pub arch: &'static str,
    /// Identity for producer strings: file stem and fingerprint.
    pub key: String,
}

/// Whether a file name looks like an aesthetic head (`sa_0_4_*linear*.pth`, `*MSE.pth`,
/// `*aesthetic*.pth`).
pub fn is_head_file(p: &Path) -> bool {
    let Some(n) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let n = n.to_ascii_lowercase();
    let ext_ok = n.ends_with(".pth") || n.ends_with(".pt") || n.ends_with(".safetensors");
    ext_ok
        && (n.starts_with("sa_0_4_")
            || n.contains("linearmse")
            || n.contains("relumse")
            || n.contains("aesthetic"))
}

fn linear_keys(kind: HeadKind) -> &'static [&'static str] {
    match kind {
        HeadKind::Linear => &[""],
        HeadKind::Mlp => &[
            "layers.0.",
            "layers.2.",
            "layers.4.",
            "layers.6.",
            "layers.7.",
        ],
        HeadKind::MlpRelu => &[
            "layers.0.",
            "layers.3.",
            "layers.6.",
            "layers.9.",
            "layers.11.",
        ],
    }
}

fn kind_of(ckpt: &Checkpoint) -> Result<HeadKind, ClipError> {
    let has = |k: &str| ckpt.shapes().contains_key(k);
    let kind = if has("weight") && has("bias") {
        HeadKind::Linear
    } else if has("layers.7.weight") {
        HeadKind::Mlp
    } else if has("layers.11.weight") {
        HeadKind::MlpRelu
    } else {
        return Err(ClipError::Aesthetic(
            "not a LAION aesthetic head (expected weight/bias or layers.N.weight)".into(),
        ));
    };
    let expected: usize = linear_keys(kind).len() * 2;
    if ckpt.shapes().len() != expected {
        return Err(ClipError::Aesthetic(format!(
            "{} tensors, a {kind:?} head has {expected}",
            ckpt.shapes().len()
        )));
    }
    Ok(kind)
}

impl HeadFiles {
    /// Reads a head's names and shapes and decides which CLIP it belongs to.
    pub fn inspect(path: &Path) -> Result<Self, ClipError> {
        let ckpt = Checkpoint::open(path)?;
        let kind = kind_of(&ckpt)?;
        let first = format!("{}weight", linear_keys(kind)[0]);
        let dim = ckpt
            .shapes()
            .get(&first)
            .and_then(|s| s.get(1).copied())
            .ok_or_else(|| ClipError::Aesthetic(format!("{first} is not a matrix")))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let arch = if name.contains("b_32") || name.contains("b-32") || name.contains("b32") {
            "ViT-B-32"
        } else if name.contains("l_14") || name.contains("l-14") || name.contains("l14") {
            "ViT-L-14"
        } else if dim == 512 {
            "ViT-B-32"
        } else {
            "ViT-L-14"
        };
        let want_dim = if arch == "ViT-B-32" { 512 } else { 768 };
        if dim != want_dim {
            return Err(ClipError::Aesthetic(format!(
                "{}: input size {dim} does not fit {arch} ({want_dim})",
                path.display()
            )));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        Ok(Self {
            path: path.to_path_buf(),
            kind,
            dim,
            arch,
            key: format!("{stem}@{bytes}"),
        })
    }
}

/// A loaded head.
#[derive(Debug, Clone)]
pub struct AestheticHead {
    pub files: HeadFiles,
    /// Layers `(w [out][in], b [out])`.
    layers: Vec<(Vec<Vec<f64>>, Vec<f64>)>,
    /// The collapsed affine map for heads without activations.
    affine: Option<(Vec<f64>, f64)>,
}

impl AestheticHead {
    /// Loads a head file.
    pub fn load(path: &Path) -> Result<Self, ClipError> {
        let files = HeadFiles::inspect(path)?;
        let ckpt = Checkpoint::open(path)?;
        let mut layers = Vec::new();
        let mut prev = files.dim;
        for p in linear_keys(files.kind) {
            let (wk, bk) = (format!("{p}weight"), format!("{p}bias"));
            let shape = ckpt.shapes().get(&wk).cloned().unwrap_or_default();
            let [out, inp] = shape.as_slice() else {
                return Err(ClipError::Aesthetic(format!("{wk} is not a matrix")));
            };
            if *inp != prev || ckpt.shapes().get(&bk) != Some(&vec![*out]) {
                return Err(ClipError::Aesthetic(format!(
                    "{wk} has shape {shape:?} after a layer of width {prev}"
                )));
            }
            let w = ckpt.read(&wk)?;
            let b = ckpt.read(&bk)?;
            layers.push((
                w.chunks_exact(*inp)
                    .map(|r| r.iter().map(|&x| f64::from(x)).collect())
                    .collect(),
                b.iter().map(|&x| f64::from(x)).collect(),
            ));
            prev = *out;
        }
        if prev != 1 {
            return Err(ClipError::Aesthetic(format!(
                "the last layer has {prev} outputs, not 1"
            )));
        }
        let mut head = Self {
            files,
            layers,
            affine: None,
        };
        if head.files.kind != HeadKind::MlpRelu {
            let affine = head.collapse();
            // Check the collapse against the layer-by-layer result on a fixed vector.
            let x: Vec<f64> = (0..head.files.dim)
                .map(|i| ((i * 7919 % 1000) as f64 / 1000.0) - 0.5)
                .collect();
            let slow = head.forward_layers(&x);
            let fast = affine.1 + affine.0.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>();
            if (slow - fast).abs() > 1e-6 * slow.abs().max(1.0) {
                return Err(ClipError::Aesthetic(format!(
                    "collapsed head disagrees with its layers ({fast} vs {slow})"
                )));
            }
            head.affine = Some(affine);
        }
        Ok(head)
    }

    /// `w_eff = W_k ⋯ W_0`, `b_eff` accordingly (only for heads without activations).
    fn collapse(&self) -> (Vec<f64>, f64) {
        // Push each basis vector through? Cheaper: propagate the row vector backwards.
        // r = W_last (1×n); r ← r·W_{k-1}; b accumulates r·b_{k-1}.
        let mut rows: Vec<f64> = self
            .layers
            .last()
            .map(|l| l.0[0].clone())
            .unwrap_or_default();
        let mut bias = self.layers.last().map_or(0.0, |l| l.1[0]);
        for (w, b) in self.layers.iter().rev().skip(1) {
            bias += rows.iter().zip(b).map(|(r, b)| r * b).sum::<f64>();
            let inp = w.first().map_or(0, Vec::len);
            let mut next = vec![0.0; inp];
            for (r, wrow) in rows.iter().zip(w) {
                for (n, x) in next.iter_mut().zip(wrow) {
                    *n += r * x;
                }
            }
            rows = next;
        }
        (rows, bias)
    }

    fn forward_layers(&self, x: &[f64]) -> f64 {
        let relu = self.files.kind == HeadKind::MlpRelu;
        let n = self.layers.len();
        let mut h = x.to_vec();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = w
                .iter()
                .zip(b)
                .map(|(row, b)| {
                    let v = b + row.iter().zip(&h).map(|(a, x)| a * x).sum::<f64>();
                    if relu && i + 1 < n { v.max(0.0) } else { v }
                })
                .collect();
        }
        h.first().copied().unwrap_or(f64::NAN)
    }

    /// The score of one (unnormalised) image embedding.
    pub fn score(&self, embedding: &[f32]) -> Result<f64, ClipError> {
        if embedding.len() != self.files.dim {
            return Err(ClipError::Aesthetic(format!(
                "embedding size {} but the head expects {}",
                embedding.len(),
                self.files.dim
            )));
        }
        let x = normalized(embedding);
        Ok(match &self.affine {
            Some((w, b)) => b + w.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>(),
            None => self.forward_layers(&x),
        })
    }

    /// The head as one affine map on the normalised embedding, `(w, b)`: v1 linear heads and
    /// v2 MLPs without activations (collapsed); `None` for the ReLU MLP.
    pub fn affine(&self) -> Option<(&[f64], f64)> {
        self.affine.as_ref().map(|(w, b)| (w.as_slice(), *b))
    }

    /// Refuses a CLIP model that is not the one the head was trained on.
    pub fn check_model(&self, arch: Option<&str>, dim: usize, name: &str) -> Result<(), ClipError> {
        if dim != self.files.dim || arch != Some(self.files.arch) {
            return Err(ClipError::Aesthetic(format!(
                "{} was trained on CLIP {} embeddings ({}); the model {name} is {} with {dim}-d embeddings",
                self.files.path.display(),
                self.files.arch,
                self.files.dim,
                arch.unwrap_or("not a built-in architecture"),
            )));
        }
        Ok(())
    }

    /// The rule for a head named explicitly (`--head F`): a head whose input width is the
    /// model's embedding width is used even when the model is not the architecture the head was
    /// trained on (its file name and width suggest), with a warning to show the user (`Some`);
    /// a head of another width is refused with [`Self::check_model`]'s message. Discovery
    /// keeps [`Self::check_model`].
    pub fn check_explicit(
        &self,
        arch: Option<&str>,
        dim: usize,
        name: &str,
    ) -> Result<Option<String>, ClipError> {
        match self.check_model(arch, dim, name) {
            Ok(()) => Ok(None),
            Err(_) if dim == self.files.dim => Ok(Some(format!(
                "aesthetic head {} was trained on CLIP {} embeddings, not on {name} ({});                  applied because --head named it (same {dim}-d width), but its scores may not                  mean what they do on {}",
                self.files.path.display(),
                self.files.arch,
                arch.unwrap_or("not a built-in architecture"),
                self.files.arch,
            ))),
            Err(e) => Err(e),
        }
    }

    /// Identity of a score: head key and the CLIP model key (`<head>@<bytes>+clip:<model>`).
    pub fn producer(&self, clip_key: &str) -> String {
        format!("{}+clip:{clip_key}", self.files.key)
    }
}

/// numpy's `a / ‖a‖₂` in f64 with a zero norm read as 1: every head's input (also what
/// fine-tuning in `learn::finetune` trains on).
pub fn normalized(v: &[f32]) -> Vec<f64> {
    let norm = l2_norm(v);
    v.iter().map(|&x| f64::from(x) / norm).collect()
}

/// `‖v‖₂` in f64, with a zero norm read as 1 (the divisor of [`normalized`]).
pub fn l2_norm(v: &[f32]) -> f64 {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 { 1.0 } else { norm }
}

/// The bytes of a v1-layout head (`Linear(d, 1)`: `weight` `[1, d]` and `bias` `[1]`, f32) as
/// a `.safetensors` file, with string `metadata` in its `__metadata__`; LAION's and ComfyUI's
/// loaders take the same keys from `torch.load` / `safetensors.torch.load_file`.
pub fn linear_head_safetensors(
    weight: &[f32],
    bias: f32,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Vec<u8> {
    let d = weight.len();
    let header = serde_json::json!({
        "weight": {"dtype": "F32", "shape": [1, d], "data_offsets": [0, 4 * d]},
        "bias": {"dtype": "F32", "shape": [1], "data_offsets": [4 * d, 4 * d + 4]},
        "__metadata__": metadata,
    });
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + 4 * d + 4);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for v in weight.iter().chain(std::iter::once(&bias)) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The same v1-layout head as a PyTorch `.pth`: the zip container `torch.save` writes (one
/// `archive/` folder with `data.pkl`, `data/0`, `data/1`, `version`, `byteorder`; entries
/// stored, not compressed), whose `data.pkl` is a protocol-2 pickle of an `OrderedDict`
/// `{"weight": [1, d], "bias": [1]}` of float32 tensors rebuilt by
/// `torch._utils._rebuild_tensor_v2` — only the globals `torch.load(weights_only=True)`
/// allows, so LAION's and ComfyUI's `torch.load` + `load_state_dict` read it.
pub fn linear_head_pth(weight: &[f32], bias: f32) -> Vec<u8> {
    fn unicode(p: &mut Vec<u8>, s: &str) {
        p.push(b'X');
        p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
    }
    fn int(p: &mut Vec<u8>, v: usize) {
        p.push(b'J');
        p.extend_from_slice(&(v as i32).to_le_bytes());
    }
    fn ordered_dict(p: &mut Vec<u8>) {
        p.extend_from_slice(b"ccollections\nOrderedDict\n)R");
    }
    let d = weight.len();
    let mut pkl = vec![0x80, 2];
    ordered_dict(&mut pkl);
    pkl.push(b'(');
    for (key, storage, shape, stride) in [
        ("weight", "0", vec![1, d], vec![d, 1]),
        ("bias", "1", vec![1], vec![1]),
    ] {
        unicode(&mut pkl, key);
        pkl.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        // persistent id: ("storage", FloatStorage, key, "cpu", numel)
        pkl.push(b'(');
        unicode(&mut pkl, "storage");
        pkl.extend_from_slice(b"ctorch\nFloatStorage\n");
        unicode(&mut pkl, storage);
        unicode(&mut pkl, "cpu");
        int(&mut pkl, shape.iter().product());
        pkl.extend_from_slice(b"tQ");
        int(&mut pkl, 0); // storage offset
        for dims in [&shape, &stride] {
            pkl.push(b'(');
            for &v in dims {
                int(&mut pkl, v);
            }
            pkl.push(b't');
        }
        pkl.push(0x89); // requires_grad = False
        ordered_dict(&mut pkl); // backward hooks
        pkl.extend_from_slice(b"tR");
    }
    pkl.extend_from_slice(b"u.");
    let floats = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let entries: [(&str, Vec<u8>); 5] = [
        ("archive/data.pkl", pkl),
        ("archive/byteorder", b"little".to_vec()),
        ("archive/data/0", floats(weight)),
        ("archive/data/1", floats(&[bias])),
        ("archive/version", b"3\n".to_vec()),
    ];
    stored_zip(&entries)
}

/// A zip archive of `entries` stored without compression (what PyTorch's reader expects of
/// `torch.save` files: it never needs inflating).
fn stored_zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (crc, len, offset) = (crc.sum(), data.len() as u32, out.len() as u32);
        // version 2.0, no flags, stored, time 00:00, date 1980-01-01
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, 0, 0, 0x21] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            for x in [crc, len, len] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        for x in [0u16, 0, 0] {
            central.extend_from_slice(&x.to_le_bytes()); // comment, disk, internal attributes
        }
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_len, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for x in [0u16, 0, n, n] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_linear_head_loads_back_and_scores_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let w: Vec<f32> = (0..768)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let meta = [("format".to_string(), "test".to_string())].into();
        let p = dir.path().join("my-aesthetic.safetensors");
        std::fs::write(&p, linear_head_safetensors(&w, 4.5, &meta)).unwrap();
        assert!(is_head_file(&p));
        let h = AestheticHead::load(&p).unwrap();
        assert_eq!(
            (h.files.kind, h.files.dim, h.files.arch),
            (HeadKind::Linear, 768, "ViT-L-14")
        );
        let e: Vec<f32> = (0..768).map(|i| (i as f32).sin()).collect();
        let x = normalized(&e);
        let want = 4.5
            + w.iter()
                .zip(&x)
                .map(|(a, b)| f64::from(*a) * b)
                .sum::<f64>();
        assert!((h.score(&e).unwrap() - want).abs() < 1e-9);
        let (aw, ab) = h.affine().unwrap();
        assert_eq!((aw.len(), ab), (768, 4.5));
    }

    #[test]
    fn a_written_pth_head_loads_back_and_scores_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let w: Vec<f32> = (0..512)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 9.0)
            .collect();
        let p = dir.path().join("my-aesthetic.pth");
        std::fs::write(&p, linear_head_pth(&w, -1.25)).unwrap();
        assert!(is_head_file(&p));
        let h = AestheticHead::load(&p).unwrap();
        assert_eq!(
            (h.files.kind, h.files.dim, h.files.arch),
            (HeadKind::Linear, 512, "ViT-B-32")
        );
        let (aw, ab) = h.affine().unwrap();
        assert_eq!(ab, -1.25);
        assert!(aw.iter().zip(&w).all(|(a, b)| *a == f64::from(*b)));
        let e: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).cos()).collect();
        let want = -1.25
            + w.iter()
                .zip(normalized(&e))
                .map(|(a, b)| f64::from(*a) * b)
                .sum::<f64>();
        assert!((h.score(&e).unwrap() - want).abs() < 1e-9);
    }

    #[test]
    fn an_explicit_head_of_the_models_width_is_used_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let w: Vec<f32> = (0..512).map(|i| (i as f32 * 0.01).sin()).collect();
        let p = dir.path().join("sa_0_4_vit_b_32_linear.pth");
        std::fs::write(&p, linear_head_pth(&w, 0.5)).unwrap();
        let h = AestheticHead::load(&p).unwrap();
        assert_eq!((h.files.dim, h.files.arch), (512, "ViT-B-32"));
        // The architecture it was trained on: no warning, as discovery.
        assert_eq!(
            h.check_explicit(Some("ViT-B-32"), 512, "b32").unwrap(),
            None
        );
        // Same width, another (or an unknown) architecture: discovery refuses, --head warns.
        for arch in [Some("ViT-B-16"), None] {
            assert!(h.check_model(arch, 512, "b16").is_err());
            let warning = h.check_explicit(arch, 512, "b16").unwrap().unwrap();
            assert!(warning.contains("trained on CLIP ViT-B-32"), "{warning}");
            assert!(
                warning.contains("applied because --head named it"),
                "{warning}"
            );
        }
        // Another width: refused with discovery's message.
        let refused = h.check_explicit(Some("ViT-L-14"), 768, "l14").unwrap_err();
        let discovery = h.check_model(Some("ViT-L-14"), 768, "l14").unwrap_err();
        assert_eq!(refused.to_string(), discovery.to_string());
        assert!(
            refused.to_string().contains("768-d embeddings"),
            "{refused}"
        );
    }

    #[test]
    fn head_file_names() {
        assert!(is_head_file(Path::new("sa_0_4_vit_l_14_linear.pth")));
        assert!(is_head_file(Path::new("sac+logos+ava1-l14-linearMSE.pth")));
        assert!(!is_head_file(Path::new("ViT-L-14.pt")));
    }
}
