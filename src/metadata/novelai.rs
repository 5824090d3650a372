//! NovelAI: `Software` = "NovelAI…", `Description` (prompt), `Source` (model)
//! and the `Comment` JSON (prompt, uc, seed, steps, scale, sampler, size). In
//! WebP/JPEG the same texts arrive as members of a UserComment JSON object
//! (unpacked by `mod.rs`). V4 prompts: `v4_prompt.caption.base_caption` is the
//! prompt; each character's `char_caption` (and its negative from
//! `v4_negative_prompt`) is kept as an extra field `character N`.

use serde_json::Value;

use super::json_tools::scalar_text;
use super::util::{json_f64, json_str, json_u32, json_u64};
use super::{Carrier, GenerationMetadata};

fn text<'a>(carriers: &'a [Carrier], name: &str) -> Option<&'a Carrier> {
    carriers.iter().find(|c| c.name == name)
}

/// The `char_caption`s of a v4 prompt object, in order (empty ones kept as
/// `None` so positives and negatives stay aligned by index).
fn characters(v: Option<&Value>) -> Vec<Option<String>> {
    v.and_then(|p| p.pointer("/caption/char_captions"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| json_str(c.get("char_caption")).filter(|s| !s.trim().is_empty()))
                .collect()
        })
        .unwrap_or_default()
}

/// Recognises NovelAI by its `Software` text.
pub(crate) fn parse(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let software = carriers
        .iter()
        .find(|c| c.name == "Software" && c.text.trim().starts_with("NovelAI"))?;
    let comment = text(carriers, "Comment");
    let c = comment.and_then(|c| c.json.as_ref());
    if comment.is_some() && c.is_none() {
        warnings.push("novelai: Comment is not a JSON object; kept raw".into());
    }
    let c = c.unwrap_or(&Value::Null);
    let v4_positive = c.pointer("/v4_prompt/caption/base_caption");
    let v4_negative = c.pointer("/v4_negative_prompt/caption/base_caption");
    let size = json_u32(c.get("width")).zip(json_u32(c.get("height")));
    let description = text(carriers, "Description").map(|d| d.text.trim_matches('\0').to_owned());
    let mut m = GenerationMetadata {
        tool: Some("novelai".into()),
        positive: json_str(v4_positive)
            .or_else(|| json_str(c.get("prompt")))
            .or(description),
        negative: json_str(v4_negative).or_else(|| json_str(c.get("uc"))),
        seed: json_u64(c.get("seed")),
        steps: json_u32(c.get("steps")),
        sampler: json_str(c.get("sampler")),
        cfg: json_f64(c.get("scale")),
        model: text(carriers, "Source").map(|s| s.text.clone()),
        size,
        ..GenerationMetadata::default()
    }
    .read_from(comment.map_or(&software.key, |c| &c.key));
    let positives = characters(c.get("v4_prompt"));
    let negatives = characters(c.get("v4_negative_prompt"));
    for i in 0..positives.len().max(negatives.len()) {
        if let Some(Some(p)) = positives.get(i) {
            m.add_extra(format!("character {}", i + 1), p);
        }
        if let Some(Some(n)) = negatives.get(i) {
            m.add_extra(format!("character {} negative", i + 1), n);
        }
    }
    for key in ["noise_schedule", "cfg_rescale", "uncond_scale"] {
        if let Some(v) = c.get(key).filter(|v| !v.is_null()) {
            m.add_extra(key, &scalar_text(v));
        }
    }
    Some(m)
}
