//! CLIP architecture configuration: the built-in OpenAI shapes (ViT-B/32, ViT-B/16, ViT-L/14,
//! ViT-L/14-336) and open_clip's ViT-H-14 (LAION; the tower of HPSv2 and PickScore), Hugging Face `config.json`, and open_clip's `open_clip_config.json` /
//! model-config JSON.

use serde::Serialize;
use serde_json::Value;

use super::ClipError;

/// The MLP activation of the residual blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(1.702 x)` (OpenAI's weights, HF `hidden_act = "quick_gelu"`).
    QuickGelu,
    /// Exact (erf) GELU (open_clip models trained without `-quickgelu`, HF `"gelu"`).
    Gelu,
}

impl Activation {
    fn from_hf(name: &str) -> Result<Self, ClipError> {
        match name {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" => Ok(Self::Gelu),
            other => Err(ClipError::Config(format!(
                "unsupported hidden_act {other:?} (quick_gelu or gelu)"
            ))),
        }
    }
}

/// One transformer tower's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TowerConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Hidden size of the MLP (4 × width for OpenAI models).
    pub mlp: usize,
}

/// The vision tower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisionConfig {
    pub image_size: usize,
    pub patch_size: usize,
    #[serde(flatten)]
    pub tower: TowerConfig,
}

impl VisionConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
}

/// The text tower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub context_length: usize,
    #[serde(flatten)]
    pub tower: TowerConfig,
}

/// A whole CLIP model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipConfig {
    /// Joint embedding size (projection output).
    pub embed_dim: usize,
    pub vision: VisionConfig,
    pub text: TextConfig,
    pub activation: Activation,
    pub layer_norm_eps: f64,
}

const fn tower(width: usize, layers: usize, heads: usize) -> TowerConfig {
    TowerConfig {
        width,
        layers,
        heads,
        mlp: width * 4,
    }
}

/// Plausibility bounds of [`ClipConfig::validate`] (the largest CLIPs, ViT-bigG/14 and
/// EVA02-E, have 48–64 layers, width 1,792, MLP 15,360, 448-px inputs and a 49,408-token
/// vocabulary; the bounds leave a wide margin).
const MAX_LAYERS: usize = 1024;
const MAX_WIDTH: usize = 1 << 16;
const MAX_IMAGE_SIZE: usize = 1 << 13;
const MAX_VOCAB: usize = 1 << 22;

impl ClipConfig {
    /// Checks that the shapes are usable (divisible widths, non-zero sizes) and plausible: a
    /// config that does not match its checkpoint (1,000,000,000 layers, a 10¹⁰-token context)
    /// is refused here, with the number, instead of sizing allocations by it.
    pub fn validate(&self) -> Result<(), ClipError> {
        let bad = |m: String| Err(ClipError::Config(m));
        let v = &self.vision;
        for (what, value, max) in [
            ("vision layers", v.tower.layers, MAX_LAYERS),
            ("text layers", self.text.tower.layers, MAX_LAYERS),
            ("vision width", v.tower.width, MAX_WIDTH),
            ("text width", self.text.tower.width, MAX_WIDTH),
            ("vision MLP width", v.tower.mlp, MAX_WIDTH),
            ("text MLP width", self.text.tower.mlp, MAX_WIDTH),
            ("image size", v.image_size, MAX_IMAGE_SIZE),
            ("context length", self.text.context_length, MAX_WIDTH),
            ("vocabulary size", self.text.vocab_size, MAX_VOCAB),
            ("embedding size", self.embed_dim, MAX_WIDTH),
        ] {
            if value > max {
                return bad(format!(
                    "{what} {value} is not a plausible CLIP (at most {max}); the config does not \
                     describe these weights"
                ));
            }
        }
        if v.patch_size == 0 || v.image_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return bad(format!(
                "image_size {} is not a positive multiple of patch_size {}",
                v.image_size, v.patch_size
            ));
        }
        for (name, t) in [("vision", &v.tower), ("text", &self.text.tower)] {
            if t.heads == 0 || t.width == 0 || t.width % t.heads != 0 || t.layers == 0 {
                return bad(format!(
                    "{name} tower: width {} must be a positive multiple of heads {} (layers {})",
                    t.width, t.heads, t.layers
                ));
            }
        }
        if self.text.context_length == 0 || self.text.vocab_size == 0 || self.embed_dim == 0 {
            return bad("text context, vocabulary and embedding size must be positive".into());
        }
        Ok(())
    }

    /// A built-in OpenAI architecture by name (`ViT-B-32`, `ViT-B/32`, `vit-base-patch32`,
    /// `clip-vit-large-patch14-336`, …; case-insensitive), or open_clip's `ViT-H-14`
    /// (`vit-huge-patch14`: exact GELU, 16 vision heads of width 80, 1024-d embeddings).
    pub fn builtin(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase().replace(['/', '_'], "-");
        if n.contains("vit-h-14") || n.contains("huge-patch14") {
            return Some(Self::vit_h_14());
        }
        let text_b = TextConfig {
            vocab_size: 49408,
            context_length: 77,
            tower: tower(512, 12, 8),
        };
        let text_l = TextConfig {
            vocab_size: 49408,
            context_length: 77,
            tower: tower(768, 12, 12),
        };
        let make = |embed_dim, image_size, patch_size, vt, text| ClipConfig {
            embed_dim,
            vision: VisionConfig {
                image_size,
                patch_size,
                tower: vt,
            },
            text,
            activation: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        };
        let has = |s: &str| n.contains(s);
        if has("vit-l-14-336") || has("large-patch14-336") {
            Some(make(768, 336, 14, tower(1024, 24, 16), text_l))
        } else if has("vit-l-14") || has("large-patch14") {
            Some(make(768, 224, 14, tower(1024, 24, 16), text_l))
        } else if has("vit-b-16") || has("base-patch16") {
            Some(make(512, 224, 16, tower(768, 12, 12), text_b))
        } else if has("vit-b-32") || has("base-patch32") {
            Some(make(512, 224, 32, tower(768, 12, 12), text_b))
        } else {
            None
        }
    }

    /// Names of the built-in architectures.
    pub fn builtin_names() -> &'static [&'static str] {
        &[
            "ViT-B-32",
            "ViT-B-16",
            "ViT-L-14",
            "ViT-L-14-336",
            "ViT-H-14",
        ]
    }

    /// open_clip's `ViT-H-14.json` (`model_configs/`): vision 32 layers × 1280 (head width 80),
    /// patch 14 at 224 px; text 24 layers × 1024, 16 heads; 1024-d embeddings; exact GELU.
    fn vit_h_14() -> Self {
        ClipConfig {
            embed_dim: 1024,
            vision: VisionConfig {
                image_size: 224,
                patch_size: 14,
                tower: tower(1280, 32, 16),
            },
            text: TextConfig {
                vocab_size: 49408,
                context_length: 77,
                tower: tower(1024, 24, 16),
            },
            activation: Activation::Gelu,
            layer_norm_eps: 1e-5,
        }
    }

    /// Parses a Hugging Face `CLIPModel` `config.json`.
    pub fn from_hf_json(text: &str) -> Result<Self, ClipError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ClipError::Config(format!("config.json is not JSON: {e}")))?;
        let vc = v
            .get("vision_config")
            .ok_or_else(|| ClipError::Config("config.json has no vision_config".into()))?;
        let tc = v
            .get("text_config")
            .ok_or_else(|| ClipError::Config("config.json has no text_config".into()))?;
        // transformers' defaults for keys a saved config may omit (CLIP{Vision,Text}Config).
        let int = |o: &Value, k: &str, d: usize| -> Result<usize, ClipError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(d),
                Some(x) => x.as_u64().map(|x| x as usize).ok_or_else(|| {
                    ClipError::Config(format!("config.json: {k} is not an integer"))
                }),
            }
        };
        let act = |o: &Value| {
            Activation::from_hf(
                o.get("hidden_act")
                    .and_then(Value::as_str)
                    .unwrap_or("quick_gelu"),
            )
        };
        let va = act(vc)?;
        let ta = act(tc)?;
        if va != ta {
            return Err(ClipError::Config(
                "vision and text towers use different activations (unsupported)".into(),
            ));
        }
        let eps = vc
            .get("layer_norm_eps")
            .and_then(Value::as_f64)
            .unwrap_or(1e-5);
        if let Some(c) = vc.get("num_channels").and_then(Value::as_u64)
            && c != 3
        {
            return Err(ClipError::Config(format!(
                "num_channels {c} (only RGB is supported)"
            )));
        }
        let vw = int(vc, "hidden_size", 768)?;
        let tw = int(tc, "hidden_size", 512)?;
        let cfg = ClipConfig {
            embed_dim: int(&v, "projection_dim", 512)?,
            vision: VisionConfig {
                image_size: int(vc, "image_size", 224)?,
                patch_size: int(vc, "patch_size", 32)?,
                tower: TowerConfig {
                    width: vw,
                    layers: int(vc, "num_hidden_layers", 12)?,
                    heads: int(vc, "num_attention_heads", 12)?,
                    mlp: int(vc, "intermediate_size", 3072)?,
                },
            },
            text: TextConfig {
                vocab_size: int(tc, "vocab_size", 49408)?,
                context_length: int(tc, "max_position_embeddings", 77)?,
                tower: TowerConfig {
                    width: tw,
                    layers: int(tc, "num_hidden_layers", 12)?,
                    heads: int(tc, "num_attention_heads", 8)?,
                    mlp: int(tc, "intermediate_size", 2048)?,
                },
            },
            activation: va,
            layer_norm_eps: eps,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses open_clip's model configuration: either `open_clip_config.json` (hub layout,
    /// `{"model_cfg": {...}}`) or a bare model config (`{"embed_dim", "vision_cfg",
    /// "text_cfg", "quick_gelu"}`). Only the plain ViT + causal-text-transformer family is
    /// accepted; timm towers, attentional pooling and the like are refused.
    pub fn from_open_clip_json(text: &str) -> Result<Self, ClipError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ClipError::Config(format!("open_clip config is not JSON: {e}")))?;
        let m = v.get("model_cfg").unwrap_or(&v);
        let vc = m
            .get("vision_cfg")
            .ok_or_else(|| ClipError::Config("open_clip config has no vision_cfg".into()))?;
        let tc = m
            .get("text_cfg")
            .ok_or_else(|| ClipError::Config("open_clip config has no text_cfg".into()))?;
        for (cfg, keys) in [
            (
                vc,
                &[
                    "timm_model_name",
                    "attentional_pool",
                    "global_average_pool",
                    "hf_model_name",
                    "ls_init_value",
                    "no_ln_pre",
                    "final_ln_after_pool",
                ][..],
            ),
            (
                tc,
                &[
                    "hf_model_name",
                    "embed_cls",
                    "no_causal_mask",
                    "ls_init_value",
                    "proj_bias",
                    "pool_type",
                ][..],
            ),
        ] {
            for k in keys {
                match cfg.get(*k) {
                    None | Some(Value::Null | Value::Bool(false)) => {}
                    Some(Value::String(s)) if *k == "pool_type" && s == "argmax" => {}
                    Some(x) => {
                        return Err(ClipError::Config(format!(
                            "open_clip option {k} = {x} is not supported (plain OpenAI-style CLIP only)"
                        )));
                    }
                }
            }
        }
        let int = |o: &Value, k: &str, d: usize| -> Result<usize, ClipError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(d),
                Some(x) => x.as_u64().map(|x| x as usize).ok_or_else(|| {
                    ClipError::Config(format!("open_clip config: {k} is not an integer"))
                }),
            }
        };
        let embed_dim = int(m, "embed_dim", 512)?;
        let vw = int(vc, "width", 768)?;
        let head_width = int(vc, "head_width", 64)?.max(1);
        let mlp_ratio = vc.get("mlp_ratio").and_then(Value::as_f64).unwrap_or(4.0);
        let tw = int(tc, "width", 512)?;
        let t_mlp_ratio = tc.get("mlp_ratio").and_then(Value::as_f64).unwrap_or(4.0);
        let quick = m
            .get("quick_gelu")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let cfg = ClipConfig {
            embed_dim,
            vision: VisionConfig {
                image_size: int(vc, "image_size", 224)?,
                patch_size: int(vc, "patch_size", 16)?,
                tower: TowerConfig {
                    width: vw,
                    layers: int(vc, "layers", 12)?,
                    heads: vw / head_width,
                    mlp: (vw as f64 * mlp_ratio) as usize,
                },
            },
            text: TextConfig {
                vocab_size: int(tc, "vocab_size", 49408)?,
                context_length: int(tc, "context_length", 77)?,
                tower: TowerConfig {
                    width: tw,
                    layers: int(tc, "layers", 12)?,
                    heads: int(tc, "heads", 8)?,
                    mlp: (tw as f64 * t_mlp_ratio) as usize,
                },
            },
            activation: if quick {
                Activation::QuickGelu
            } else {
                Activation::Gelu
            },
            layer_norm_eps: 1e-5,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve_by_common_names() {
        let b32 = ClipConfig::builtin("openai/clip-vit-base-patch32").expect("b32");
        assert_eq!((b32.vision.patch_size, b32.embed_dim), (32, 512));
        assert_eq!(
            ClipConfig::builtin("ViT-B/16").map(|c| c.vision.patch_size),
            Some(16)
        );
        let l14 = ClipConfig::builtin("models--openai--clip-vit-large-patch14").expect("l14");
        assert_eq!(
            (l14.vision.image_size, l14.vision.tower.width, l14.embed_dim),
            (224, 1024, 768)
        );
        let l336 = ClipConfig::builtin("ViT-L-14-336").expect("l14-336");
        assert_eq!(l336.vision.image_size, 336);
        assert!(ClipConfig::builtin("resnet50").is_none());
        for n in ClipConfig::builtin_names() {
            ClipConfig::builtin(n)
                .expect("builtin")
                .validate()
                .expect("valid");
        }
    }

    #[test]
    fn hf_config_defaults_and_errors() {
        let c = ClipConfig::from_hf_json(
            r#"{"projection_dim": 16, "vision_config": {"hidden_size": 32, "image_size": 64,
            "patch_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "hidden_act": "gelu"},
            "text_config": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "hidden_act": "gelu"}}"#,
        )
        .expect("parse");
        assert_eq!(c.activation, Activation::Gelu);
        assert_eq!(c.text.vocab_size, 49408);
        assert_eq!(c.vision.grid(), 4);
        assert!(ClipConfig::from_hf_json("{}").is_err());
        assert!(ClipConfig::from_hf_json("not json").is_err());
        let bad = r#"{"vision_config": {"hidden_act": "relu"}, "text_config": {}}"#;
        assert!(ClipConfig::from_hf_json(bad).is_err());
        let odd = r#"{"vision_config": {"image_size": 65, "patch_size": 16}, "text_config": {}}"#;
        assert!(ClipConfig::from_hf_json(odd).is_err());
    }

    #[test]
    fn open_clip_config_and_unsupported_options() {
        let c = ClipConfig::from_open_clip_json(
            r#"{"model_cfg": {"embed_dim": 768, "quick_gelu": true,
            "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12}}}"#,
        )
        .expect("parse");
        assert_eq!(Some(c.clone()), ClipConfig::builtin("ViT-L-14"));
        let timm =
            r#"{"embed_dim": 512, "vision_cfg": {"timm_model_name": "convnext"}, "text_cfg": {}}"#;
        assert!(ClipConfig::from_open_clip_json(timm).is_err());
    }
}
