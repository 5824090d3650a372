//! Reading CLIP checkpoints: safetensors (parsed here: an 8-byte header length, a JSON index,
//! raw little-endian data) and PyTorch `.bin`/`.pt`/`.pth` pickles (burn's `pytorch_reader`),
//! with F32, F16, BF16 and F64 tensors converted to f32.
//!
//! Tensors are addressed by canonical names (`vision.blocks.3.q.w`), mapped to each format's
//! keys by `source_key`. The remapping table:
//!
//! | canonical | Hugging Face `CLIPModel` | open_clip / OpenAI state dict |
//! |---|---|---|
//! | `vision.patch` | `vision_model.embeddings.patch_embedding.weight` | `visual.conv1.weight` |
//! | `vision.class` | `vision_model.embeddings.class_embedding` | `visual.class_embedding` |
//! | `vision.pos` | `vision_model.embeddings.position_embedding.weight` | `visual.positional_embedding` |
//! | `vision.ln_pre` | `vision_model.pre_layrnorm` | `visual.ln_pre` |
//! | `T.blocks.i.ln1` / `ln2` | `T_model.encoder.layers.i.layer_norm1` / `layer_norm2` | `P.transformer.resblocks.i.ln_1` / `ln_2` |
//! | `T.blocks.i.q` / `k` / `v` | `….self_attn.q_proj` / `k_proj` / `v_proj` ᵀ | rows 0..W / W..2W / 2W..3W of `….attn.in_proj_weight` ᵀ (and `in_proj_bias`) |
//! | `T.blocks.i.o` | `….self_attn.out_proj` ᵀ | `….attn.out_proj` ᵀ |
//! | `T.blocks.i.fc1` / `fc2` | `….mlp.fc1` / `fc2` ᵀ | `….mlp.c_fc` / `c_proj` ᵀ |
//! | `vision.ln_post` | `vision_model.post_layernorm` | `visual.ln_post` |
//! | `vision.proj` | `visual_projection.weight` ᵀ | `visual.proj` |
//! | `text.token` | `text_model.embeddings.token_embedding.weight` | `token_embedding.weight` |
//! | `text.pos` | `text_model.embeddings.position_embedding.weight` | `positional_embedding` |
//! | `text.ln_final` | `text_model.final_layer_norm` | `ln_final` |
//! | `text.proj` | `text_projection.weight` ᵀ | `text_projection` |
//! | `logit_scale` | `logit_scale` | `logit_scale` |
//!
//! (`T` is `vision`/`text`, `P` is `visual.`/empty; `ᵀ` = PyTorch `[out, in]` transposed to
//! burn's `[in, out]`; `ln*.g`/`.b` = `weight`/`bias`.) Loading fails on any missing,
//! mis-shaped or unused tensor; the only keys ignored are buffers that carry no weights:
//! `*position_ids`, `attn_mask`, and OpenAI's `input_resolution`, `context_length`,
//! `vocab_size` scalars. A leading `state_dict.` / `module.` prefix (training checkpoints)
//! is stripped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::ClipError;
use super::config::{Activation, ClipConfig, TextConfig, TowerConfig, VisionConfig};

/// Which key family a checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Hugging Face `CLIPModel` (`vision_model.*`, `text_model.*`).
    Hf,
    /// open_clip / OpenAI (`visual.*`, `transformer.*`).
    OpenClip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    F16,
    Bf16,
    F64,
}

fn to_f32(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        DType::Bf16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    }
}

enum Store {
    /// The whole file and, per tensor, dtype and byte range.
    Safetensors {
        bytes: Vec<u8>,
        index: BTreeMap<String, (DType, std::ops::Range<usize>)>,
    },
    Pytorch(BTreeMap<String, burn::store::pytorch_reader::Tensor>),
    /// Names and shapes only ([`Checkpoint::open_header`]).
    HeaderOnly,
}

/// An opened checkpoint: names and shapes, tensors read on demand.
pub struct Checkpoint {
    store: Store,
    shapes: BTreeMap<String, Vec<usize>>,
    /// Original key for each (prefix-stripped) key.
    original: BTreeMap<String, String>,
}

fn strip_prefix(k: &str) -> &str {
    let mut k = k;
    for p in ["state_dict.", "module."] {
        if let Some(rest) = k.strip_prefix(p) {
            k = rest;
        }
    }
    k
}

impl Checkpoint {
    /// Opens a `.safetensors` file, or a PyTorch pickle (`.bin`, `.pt`, `.pth`).
    pub fn open(path: &Path) -> Result<Self, ClipError> {
        let is_st = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
        if is_st {
            Self::open_safetensors(path, true)
        } else {
            Self::open_pytorch(path)
        }
    }

    /// Opens names and shapes only (a safetensors header; a pickle's metadata): for
    /// discovery. [`read`](Self::read) fails on the result for safetensors.
    pub fn open_header(path: &Path) -> Result<Self, ClipError> {
        let is_st = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
        if is_st {
            Self::open_safetensors(path, false)
        } else {
            Self::open_pytorch(path)
        }
    }

    fn open_safetensors(path: &Path, full: bool) -> Result<Self, ClipError> {
        use std::io::Read;
        let bad = |m: String| ClipError::Weights(format!("{}: {m}", path.display()));
        let bytes = if full {
            std::fs::read(path).map_err(|e| bad(e.to_string()))?
        } else {
            let mut f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
            let file_len = f.metadata().map_err(|e| bad(e.to_string()))?.len();
            let mut head = [0u8; 8];
            f.read_exact(&mut head)
                .map_err(|_| bad("not a safetensors file (shorter than 8 bytes)".into()))?;
            let n = u64::from_le_bytes(head);
            if n > 100_000_000 || n + 8 > file_len {
                return Err(bad(
                    "not a safetensors file (header length out of range)".into()
                ));
            }
            let mut buf = head.to_vec();
            buf.resize(8 + n as usize, 0);
            f.read_exact(&mut buf[8..])
                .map_err(|e| bad(e.to_string()))?;
            // Pretend the data is there for the offset checks below.
            let data_len = (file_len - 8 - n) as usize;
            return Self::parse_safetensors(path, buf, Some(data_len));
        };
        Self::parse_safetensors(path, bytes, None)
    }

    fn parse_safetensors(
        path: &Path,
        bytes: Vec<u8>,
        header_only_data_len: Option<usize>,
    ) -> Result<Self, ClipError> {
        let bad = |m: String| ClipError::Weights(format!("{}: {m}", path.display()));
        let n = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .ok_or_else(|| bad("not a safetensors file (shorter than 8 bytes)".into()))?;
        let header_end = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_add(8))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("not a safetensors file (header length out of range)".into()))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..header_end])
                .map_err(|e| bad(format!("safetensors header is not JSON: {e}")))?;
        let data_len = header_only_data_len.unwrap_or(bytes.len() - header_end);
        let mut index = BTreeMap::new();
        let mut shapes = BTreeMap::new();
        let mut original = BTreeMap::new();
        for (name, v) in &header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = match v.get("dtype").and_then(|d| d.as_str()) {
                Some("F32") => DType::F32,
                Some("F16") => DType::F16,
                Some("BF16") => DType::Bf16,
                Some("F64") => DType::F64,
                Some(other) => {
                    // Integer buffers (position_ids) are fine to skip if ignorable.
                    if is_ignorable(strip_prefix(name)) {
                        original.insert(strip_prefix(name).to_string(), name.clone());
                        shapes.insert(strip_prefix(name).to_string(), Vec::new());
                        continue;
                    }
                    return Err(bad(format!("tensor {name} has unsupported dtype {other}")));
                }
                None => return Err(bad(format!("tensor {name} has no dtype"))),
            };
            let shape: Vec<usize> = v
                .get("shape")
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_u64().map(|x| x as usize))
                        .collect()
                })
                .ok_or_else(|| bad(format!("tensor {name} has no shape")))?;
            let offs: Vec<usize> = v
                .get("data_offsets")
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_u64().map(|x| x as usize))
                        .collect()
                })
                .unwrap_or_default();
            let (start, end) = match offs.as_slice() {
                [s, e] if s <= e && *e <= data_len => (*s, *e),
                _ => return Err(bad(format!("tensor {name} has bad data_offsets"))),
            };
            let elem = match dtype {
                DType::F32 => 4,
                DType::F16 | DType::Bf16 => 2,
                DType::F64 => 8,
            };
            let bytes = shape
                .iter()
                .try_fold(elem, |acc: usize, &d| acc.checked_mul(d));
            if bytes != Some(end - start) {
                return Err(bad(format!(
                    "tensor {name}: shape {shape:?} does not match its {} bytes",
                    end - start
                )));
            }
            let key = strip_prefix(name).to_string();
            original.insert(key.clone(), name.clone());
            shapes.insert(key.clone(), shape);
            index.insert(key, (dtype, header_end + start..header_end + end));
        }
        let store = if header_only_data_len.is_some() {
            Store::HeaderOnly
        } else {
            Store::Safetensors { bytes, index }
        };
        Ok(Self {
            store,
            shapes,
            original,
        })
    }

    fn open_pytorch(path: &Path) -> Result<Self, ClipError> {
        use burn::store::pytorch_reader::PytorchReader;
        let reader = PytorchReader::new(path)
            .map_err(|e| ClipError::Weights(format!("{}: {e}", path.display())))?;
        let mut tensors = BTreeMap::new();
        let mut shapes = BTreeMap::new();
        let mut original = BTreeMap::new();
        for (name, t) in reader.into_tensors() {
            let key = strip_prefix(&name).to_string();
            shapes.insert(key.clone(), t.shape().to_vec());
            original.insert(key.clone(), name);
            tensors.insert(key, t);
        }
        Ok(Self {
            store: Store::Pytorch(tensors),
            shapes,
            original,
        })
    }

    /// Tensor names (prefix-stripped) and shapes.
    pub fn shapes(&self) -> &BTreeMap<String, Vec<usize>> {
        &self.shapes
    }

    /// Reads one tensor as f32.
    pub fn read(&self, key: &str) -> Result<Vec<f32>, ClipError> {
        match &self.store {
            Store::HeaderOnly => Err(ClipError::Weights(format!(
                "{key}: checkpoint opened for its header only"
            ))),
            Store::Safetensors { bytes, index } => {
                let (dtype, range) = index
                    .get(key)
                    .ok_or_else(|| ClipError::Weights(format!("no tensor {key}")))?;
                Ok(to_f32(*dtype, bytes.get(range.clone()).unwrap_or_default()))
            }
            Store::Pytorch(tensors) => {
                use burn::store::pytorch_reader::DType as P;
                let t = tensors
                    .get(key)
                    .ok_or_else(|| ClipError::Weights(format!("no tensor {key}")))?;
                let dtype = match t.dtype() {
                    P::F32 => DType::F32,
                    P::F16 => DType::F16,
                    P::BF16 => DType::Bf16,
                    P::F64 => DType::F64,
                    other => {
                        return Err(ClipError::Weights(format!(
                            "tensor {key} has unsupported dtype {other:?}"
                        )));
                    }
                };
                let raw = t
                    .read()
                    .map_err(|e| ClipError::Weights(format!("reading {key}: {e}")))?;
                // pytorch_reader returns native-endian bytes; every supported target is
                // little-endian, as the conversion assumes.
                Ok(to_f32(dtype, &raw))
            }
        }
    }

    /// The key family, from the names present.
    pub fn format(&self) -> Result<Format, ClipError> {
        let has = |p: &str| self.shapes.keys().any(|k| k.starts_with(p));
        if has("vision_model.") || has("text_model.") {
            Ok(Format::Hf)
        } else if has("visual.") {
            Ok(Format::OpenClip)
        } else {
            Err(ClipError::Weights(
                "not a CLIP checkpoint (no vision_model.* or visual.* tensors)".into(),
            ))
        }
    }

    /// Infers an OpenAI-style configuration from an open_clip state dict's shapes, as OpenAI's
    /// `build_model` does (heads = width / 64). The activation cannot be seen in the weights:
    /// `activation` says which one to assume.
    pub fn infer_open_clip_config(&self, activation: Activation) -> Result<ClipConfig, ClipError> {
        let shape = |k: &str| {
            self.shapes
                .get(k)
                .cloned()
                .ok_or_else(|| ClipError::Weights(format!("missing tensor {k}")))
        };
        let layers = |prefix: &str| {
            let set: BTreeSet<usize> = self
                .shapes
                .keys()
                .filter_map(|k| k.strip_prefix(prefix))
                .filter_map(|r| r.split('.').next()?.parse().ok())
                .collect();
            set.len()
        };
        let conv = shape("visual.conv1.weight")?;
        let vpos = shape("visual.positional_embedding")?;
        let fc = shape("visual.transformer.resblocks.0.mlp.c_fc.weight")?;
        let tok = shape("token_embedding.weight")?;
        let tpos = shape("positional_embedding")?;
        let tfc = shape("transformer.resblocks.0.mlp.c_fc.weight")?;
        let tproj = shape("text_projection")?;
        let (Some(&vw), Some(&patch), Some(&npos), Some(&vmlp)) =
            (conv.first(), conv.get(2), vpos.first(), fc.first())
        else {
            return Err(ClipError::Weights(
                "vision tensors have unexpected ranks".into(),
            ));
        };
        let (Some(&vocab), Some(&tw), Some(&ctx), Some(&tmlp), Some(&embed)) = (
            tok.first(),
            tok.get(1),
            tpos.first(),
            tfc.first(),
            tproj.get(1),
        ) else {
            return Err(ClipError::Weights(
                "text tensors have unexpected ranks".into(),
            ));
        };
        let grid = ((npos.saturating_sub(1)) as f64).sqrt().round() as usize;
        let cfg = ClipConfig {
            embed_dim: embed,
            vision: VisionConfig {
                image_size: grid * patch,
                patch_size: patch,
                tower: TowerConfig {
                    width: vw,
                    layers: layers("visual.transformer.resblocks."),
                    heads: (vw / 64).max(1),
                    mlp: vmlp,
                },
            },
            text: TextConfig {
                vocab_size: vocab,
                context_length: ctx,
                tower: TowerConfig {
                    width: tw,
                    layers: layers("transformer.resblocks."),
                    heads: (tw / 64).max(1),
                    mlp: tmlp,
                },
            },
            activation,
            layer_norm_eps: 1e-5,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Keys that carry no weights and are ignored.
fn is_ignorable(k: &str) -> bool {
    k.ends_with("position_ids")
        || k == "attn_mask"
        || k.ends_with(".attn_mask")
        || matches!(k, "input_resolution" | "context_length" | "vocab_size")
}

/// How a source tensor becomes the canonical one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Xform {
    AsIs,
    /// `[out, in]` → `[in, out]`.
    Transpose,
    /// Part `k` of 3 along axis 0 (packed q/k/v), then transposed when 2-D.
    Part3(usize),
}

/// The source key and transform for a canonical name.
fn source_key(format: Format, canon: &str) -> Option<(String, Xform)> {
    let parts: Vec<&str> = canon.split('.').collect();
    let wb = |s: &str| match s {
        "w" | "g" => Some("weight"),
        "b" => Some("bias"),
        _ => None,
    };
    match format {
        Format::Hf => {
            let tower = |t: &str| {
                if t == "vision" {
                    "vision_model"
                } else {
                    "text_model"
                }
            };
            let k = match parts.as_slice() {
                ["vision", "patch"] => (
                    "vision_model.embeddings.patch_embedding.weight".into(),
                    Xform::AsIs,
                ),
                ["vision", "class"] => (
                    "vision_model.embeddings.class_embedding".into(),
                    Xform::AsIs,
                ),
                ["vision", "pos"] => (
                    "vision_model.embeddings.position_embedding.weight".into(),
                    Xform::AsIs,
                ),
                ["vision", "ln_pre", x] => {
                    (format!("vision_model.pre_layrnorm.{}", wb(x)?), Xform::AsIs)
                }
                ["vision", "ln_post", x] => (
                    format!("vision_model.post_layernorm.{}", wb(x)?),
                    Xform::AsIs,
                ),
                ["vision", "proj"] => ("visual_projection.weight".into(), Xform::Transpose),
                ["text", "token"] => (
                    "text_model.embeddings.token_embedding.weight".into(),
                    Xform::AsIs,
                ),
                ["text", "pos"] => (
                    "text_model.embeddings.position_embedding.weight".into(),
                    Xform::AsIs,
                ),
                ["text", "ln_final", x] => (
                    format!("text_model.final_layer_norm.{}", wb(x)?),
                    Xform::AsIs,
                ),
                ["text", "proj"] => ("text_projection.weight".into(), Xform::Transpose),
                ["logit_scale"] => ("logit_scale".into(), Xform::AsIs),
                [t, "blocks", i, layer, x] => {
                    let (name, lin) = match *layer {
                        "ln1" => ("layer_norm1", false),
                        "ln2" => ("layer_norm2", false),
                        "q" => ("self_attn.q_proj", true),
                        "k" => ("self_attn.k_proj", true),
                        "v" => ("self_attn.v_proj", true),
                        "o" => ("self_attn.out_proj", true),
                        "fc1" => ("mlp.fc1", true),
                        "fc2" => ("mlp.fc2", true),
                        _ => return None,
                    };
                    let xf = if lin && *x == "w" {
                        Xform::Transpose
                    } else {
                        Xform::AsIs
                    };
                    (
                        format!("{}.encoder.layers.{i}.{name}.{}", tower(t), wb(x)?),
                        xf,
                    )
                }
                _ => return None,
            };
            Some(k)
        }
        Format::OpenClip => {
            let tower = |t: &str| if t == "vision" { "visual." } else { "" };
            let k = match parts.as_slice() {
                ["vision", "patch"] => ("visual.conv1.weight".into(), Xform::AsIs),
                ["vision", "class"] => ("visual.class_embedding".into(), Xform::AsIs),
                ["vision", "pos"] => ("visual.positional_embedding".into(), Xform::AsIs),
                ["vision", "ln_pre", x] => (format!("visual.ln_pre.{}", wb(x)?), Xform::AsIs),
                ["vision", "ln_post", x] => (format!("visual.ln_post.{}", wb(x)?), Xform::AsIs),
                ["vision", "proj"] => ("visual.proj".into(), Xform::AsIs),
                ["text", "token"] => ("token_embedding.weight".into(), Xform::AsIs),
                ["text", "pos"] => ("positional_embedding".into(), Xform::AsIs),
                ["text", "ln_final", x] => (format!("ln_final.{}", wb(x)?), Xform::AsIs),
                ["text", "proj"] => ("text_projection".into(), Xform::AsIs),
                ["logit_scale"] => ("logit_scale".into(), Xform::AsIs),
                [t, "blocks", i, layer, x] => {
                    let p = format!("{}transformer.resblocks.{i}", tower(t));
                    let w = wb(x)?;
                    let lin = |n: &str| {
                        (
                            format!("{p}.{n}.{w}"),
                            if *x == "w" {
                                Xform::Transpose
                            } else {
                                Xform::AsIs
                            },
                        )
                    };
                    match *layer {
                        "ln1" => (format!("{p}.ln_1.{w}"), Xform::AsIs),
                        "ln2" => (format!("{p}.ln_2.{w}"), Xform::AsIs),
                        "q" | "k" | "v" => {
                            let part = match *layer {
                                "q" => 0,
                                "k" => 1,
                                _ => 2,
                            };
                            (format!("{p}.attn.in_proj_{w}"), Xform::Part3(part))
                        }
                        "o" => lin("attn.out_proj"),
                        "fc1" => lin("mlp.c_fc"),
                        "fc2" => lin("mlp.c_proj"),
                        _ => return None,
                    }
                }
                _ => return None,
            };
            Some(k)
        }
    }
}

/// Hands out canonical tensors from a checkpoint, checking shapes and recording which source
/// keys were used.
pub(crate) struct Loader<'a> {
    ckpt: &'a Checkpoint,
    format: Format,
    used: BTreeSet<String>,
    /// The last packed q/k/v tensor read (it is needed three times).
    cache: Option<(String, Vec<f32>)>,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(ckpt: &'a Checkpoint, format: Format) -> Self {
        Self {
            ckpt,
            format,
            used: BTreeSet::new(),
            cache: None,
        }
    }

    /// The canonical tensor `canon`, which must have `shape` (`[]` accepts a scalar or `[1]`).
    pub(crate) fn take(&mut self, canon: &str, shape: &[usize]) -> Result<Vec<f32>, ClipError> {
        let (key, xf) = source_key(self.format, canon)
            .ok_or_else(|| ClipError::Weights(format!("no source key for {canon}")))?;
        let found = self.ckpt.shapes.get(&key).ok_or_else(|| {
            ClipError::Weights(format!("missing tensor {key} (expected shape {shape:?})"))
        })?;
        let want: Vec<usize> = match xf {
            Xform::AsIs => shape.to_vec(),
            Xform::Transpose => shape.iter().rev().copied().collect(),
            Xform::Part3(_) => {
                let mut s: Vec<usize> = shape.iter().rev().copied().collect();
                if let Some(first) = s.first_mut() {
                    *first *= 3;
                }
                s
            }
        };
        let scalar_ok = shape.is_empty() && (found.is_empty() || found == &[1]);
        if found != &want && !scalar_ok {
            return Err(ClipError::Weights(format!(
                "tensor {key} has shape {found:?}, expected {want:?} for this configuration"
            )));
        }
        self.used.insert(key.clone());
        let data = match xf {
            Xform::Part3(_) => match &self.cache {
                Some((k, d)) if *k == key => d.clone(),
                _ => {
                    let d = self.ckpt.read(&key)?;
                    self.cache = Some((key.clone(), d.clone()));
                    d
                }
            },
            _ => self.ckpt.read(&key)?,
        };
        Ok(match xf {
            Xform::AsIs => data,
            Xform::Transpose => transpose(&data, want[0], want.get(1).copied().unwrap_or(1)),
            Xform::Part3(p) => {
                let rows = want[0] / 3;
                let cols = want.get(1).copied().unwrap_or(1);
                let part = &data[p * rows * cols..(p + 1) * rows * cols];
                if want.len() == 2 {
                    transpose(part, rows, cols)
                } else {
                    part.to_vec()
                }
            }
        })
    }

    /// Fails when the checkpoint holds tensors that were not used (other than ignorable
    /// buffers).
    pub(crate) fn finish(self) -> Result<(), ClipError> {
        let unused: Vec<&String> = self
            .ckpt
            .shapes
            .keys()
            .filter(|k| !self.used.contains(*k) && !is_ignorable(k))
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = unused
            .iter()
            .take(8)
            .map(|k| {
                self.ckpt
                    .original
                    .get(*k)
                    .cloned()
                    .unwrap_or_else(|| (*k).clone())
            })
            .collect();
        Err(ClipError::Weights(format!(
            "{} unused tensor(s) in the checkpoint (wrong configuration or not a plain CLIP): {}{}",
            unused.len(),
            shown.join(", "),
            if unused.len() > 8 { ", …" } else { "" }
        )))
    }
}

/// Row-major `[r, c]` → `[c, r]`.
fn transpose(data: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0f32; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = data[i * c + j];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_and_keys() {
        assert_eq!(
            transpose(&[1., 2., 3., 4., 5., 6.], 2, 3),
            vec![1., 4., 2., 5., 3., 6.]
        );
        assert_eq!(
            source_key(Format::Hf, "text.blocks.3.fc1.w"),
            Some((
                "text_model.encoder.layers.3.mlp.fc1.weight".into(),
                Xform::Transpose
            ))
        );
        assert_eq!(
            source_key(Format::OpenClip, "vision.blocks.0.k.b"),
            Some((
                "visual.transformer.resblocks.0.attn.in_proj_bias".into(),
                Xform::Part3(1)
            ))
        );
        assert_eq!(source_key(Format::Hf, "vision.blocks.0.zz.w"), None);
        assert!(is_ignorable("text_model.embeddings.position_ids"));
        assert!(!is_ignorable("visual.proj"));
        assert_eq!(strip_prefix("module.visual.proj"), "visual.proj");
    }

    #[test]
    fn half_precision_conversion() {
        let one_f16 = half::f16::from_f32(1.5).to_le_bytes();
        assert_eq!(to_f32(DType::F16, &one_f16), vec![1.5]);
        let bf = half::bf16::from_f32(-2.0).to_le_bytes();
        assert_eq!(to_f32(DType::Bf16, &bf), vec![-2.0]);
    }

    #[test]
    fn bad_safetensors_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.safetensors");
        std::fs::write(&p, b"abc").expect("write");
        assert!(Checkpoint::open(&p).is_err());
        let mut b = 1000u64.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        std::fs::write(&p, &b).expect("write");
        assert!(Checkpoint::open(&p).is_err());
        // A shape that does not match its 4 bytes; one whose element count overflows (an
        // error, not a panic).
        for hdr in [
            &br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#[..],
            br#"{"a":{"dtype":"F32","shape":[1099511627776,1073741824,64],"data_offsets":[0,4]}}"#,
        ] {
            let mut b = (hdr.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(hdr);
            b.extend_from_slice(&[0; 4]);
            std::fs::write(&p, &b).expect("write");
            let e = Checkpoint::open(&p)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("does not match"), "{e}");
        }
    }
}
