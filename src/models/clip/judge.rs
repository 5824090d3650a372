//! CLIP-based judges: human-preference reward models that are a fine-tuned CLIP plus a score
//! formula. A judge is (model, preprocessing, formula); everything else — discovery, loading,
//! the towers, the tokenizer — is the CLIP runtime's.
//!
//! | judge | checkpoint on disk | preprocessing | score |
//! |---|---|---|---|
//! | HPSv2 / HPSv2.1 ([`JudgeKind::Hps`]) | open_clip ViT-H-14 state dict: `HPS_v2.1_compressed.pt` / `HPS_v2_compressed.pt` (a torch pickle whose `state_dict` holds the weights, read directly) or a safetensors conversion; HF cache `models--xswu--HPSv2` | [`Preprocess::LongestPad`] (HPS's `resize_longest_max=True`) | `cos(image, text)` = HPS's `diag(image_features @ text_features.T)` of the L2-normalised features, no logit scale (≈ 0.2–0.35) |
//! | PickScore ([`JudgeKind::PickScore`]) | Hugging Face `CLIPModel` ViT-H-14 (`yuvalkirstain/PickScore_v1`: `config.json` + `model.safetensors`), HF cache `models--yuvalkirstain--PickScore_v1` | [`Preprocess::HfCenterCrop`] (`CLIPProcessor`: shorter side → S, crop at `⌊overhang/2⌋`) | `exp(logit_scale) · cos(image, text)` (PickScore's formula; ≈ 18–23) |
//!
//! A model is a judge when its folder, repository or file name says so: `hps_v2` / `hpsv2`
//! (case-insensitive; `-`, `_` and `.` alike) or `pickscore`. A HPS file without a sidecar JSON
//! is ViT-H-14 (the only architecture HPS ships). Converting the pickle to safetensors is not
//! needed; where wanted:
//! `python -c "import torch,safetensors.torch as s; s.save_file(torch.load('HPS_v2.1_compressed.pt',map_location='cpu')['state_dict'],'HPS_v2.1_compressed.safetensors')"`.

use serde::Serialize;

use super::cosine;
use super::preprocess::Preprocess;

/// Which reward model a CLIP checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeKind {
    /// HPSv2 / HPSv2.1 (Wu et al. 2023), open_clip layout.
    Hps,
    /// PickScore v1 (Kirstain et al. 2023), Hugging Face layout.
    #[serde(rename = "pickscore")]
    PickScore,
}

/// How a judge turns two embeddings into its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// Cosine similarity of the image and text embeddings.
    Cosine,
    /// `exp(logit_scale) · cosine` (the model's own logit scale).
    ScaledCosine,
}

impl JudgeKind {
    /// Every judge, in the order the pipeline runs them.
    pub const ALL: [JudgeKind; 2] = [JudgeKind::Hps, JudgeKind::PickScore];

    /// The judge a model name or path names, if any (see the module documentation).
    pub fn detect(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase().replace(['-', '.'], "_");
        if n.contains("hps_v2") || n.contains("hpsv2") {
            Some(Self::Hps)
        } else if n.contains("pickscore") {
            Some(Self::PickScore)
        } else {
            None
        }
    }

    /// The signal the judge writes (its rank within the prompt group is [`Self::rank_signal`]).
    pub fn signal(self) -> &'static str {
        match self {
            Self::Hps => "hps",
            Self::PickScore => "pickscore",
        }
    }

    /// The signal of the rank within the prompt group (1 = best).
    pub fn rank_signal(self) -> &'static str {
        match self {
            Self::Hps => "hps_rank",
            Self::PickScore => "pickscore_rank",
        }
    }

    /// The judge's display name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hps => "HPSv2",
            Self::PickScore => "PickScore",
        }
    }

    /// The preprocessing the judge was trained with.
    pub fn preprocess(self) -> Preprocess {
        match self {
            Self::Hps => Preprocess::LongestPad,
            Self::PickScore => Preprocess::HfCenterCrop,
        }
    }

    /// The score formula.
    pub fn formula(self) -> Formula {
        match self {
            Self::Hps => Formula::Cosine,
            Self::PickScore => Formula::ScaledCosine,
        }
    }
}

impl Formula {
    /// The score of one image / text embedding pair (projected, not normalised). `logit_scale`
    /// is the checkpoint's (log) scale, needed by [`Formula::ScaledCosine`] only.
    pub fn score(self, image: &[f32], text: &[f32], logit_scale: Option<f32>) -> Option<f64> {
        let cos = cosine(image, text);
        match self {
            Self::Cosine => Some(cos),
            Self::ScaledCosine => logit_scale.map(|s| f64::from(s).exp() * cos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mark_judges() {
        for (name, want) in [
            ("HPS_v2.1_compressed.pt", Some(JudgeKind::Hps)),
            ("/x/models--xswu--HPSv2", Some(JudgeKind::Hps)),
            ("hps-v2", Some(JudgeKind::Hps)),
            ("yuvalkirstain/PickScore_v1", Some(JudgeKind::PickScore)),
            (
                "models--yuvalkirstain--PickScore_v1",
                Some(JudgeKind::PickScore),
            ),
            ("openai/clip-vit-large-patch14", None),
            ("ViT-H-14.safetensors", None),
        ] {
            assert_eq!(JudgeKind::detect(name), want, "{name}");
        }
    }

    #[test]
    fn formulas() {
        let (a, b) = ([3.0f32, 4.0], [4.0f32, 3.0]);
        assert!((Formula::Cosine.score(&a, &b, None).unwrap() - 0.96).abs() < 1e-12);
        let s = Formula::ScaledCosine.score(&a, &b, Some(2.0)).unwrap();
        assert!((s - 2f64.exp() * 0.96).abs() < 1e-12);
        assert_eq!(Formula::ScaledCosine.score(&a, &b, None), None);
    }
}
