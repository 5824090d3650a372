//! NovelAI PNG text: `Software` = "NovelAI", `Description` (prompt), `Source`
//! (model) and the `Comment` JSON (prompt, uc, seed, steps, scale, sampler).

use serde_json::Value;

use super::util::{json_f64, json_str, json_u32, json_u64};
use super::{Carrier, GenerationMetadata};

fn text<'a>(carriers: &'a [Carrier], name: &str) -> Option<&'a Carrier> {
    carriers.iter().find(|c| c.name == name)
}

/// Recognises NovelAI by its `Software` text.
pub(crate) fn parse(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let software = text(carriers, "Software")?;
    if !software.text.trim().starts_with("NovelAI") {
        return None;
    }
    let comment = text(carriers, "Comment");
    let c = comment.and_then(|c| c.json.as_ref());
    if comment.is_some() && c.is_none() {
        warnings.push("novelai: Comment is not a JSON object; kept raw".into());
    }
    let c = c.unwrap_or(&Value::Null);
    let v4_negative = c.pointer("/v4_negative_prompt/caption/base_caption");
    let size = json_u32(c.get("width")).zip(json_u32(c.get("height")));
    Some(GenerationMetadata {
        tool: Some("novelai".into()),
        positive: json_str(c.get("prompt"))
            .or_else(|| text(carriers, "Description").map(|d| d.text.clone())),
        negative: json_str(c.get("uc")).or_else(|| json_str(v4_negative)),
        seed: json_u64(c.get("seed")),
        steps: json_u32(c.get("steps")),
        sampler: json_str(c.get("sampler")),
        cfg: json_f64(c.get("scale")),
        model: text(carriers, "Source").map(|s| s.text.clone()),
        size,
        ..GenerationMetadata::default()
    })
}
