//! JSON-carrying formats that need no graph walking: detection of JSON text
//! (optionally behind a `label:` prefix, as ComfyUI writes into EXIF tags:
//! `prompt:{...}` from Save Animated WEBP, `Prompt: {...}` / `Workflow: {...}`
//! from save-image-extended), SwarmUI `sui_image_params` and Fooocus JSON
//! `parameters`.

use serde_json::Value;

use super::util::{json_f64, json_str, json_u32, json_u64, parse_json_object, parse_size};
use super::{Carrier, GenerationMetadata, Origin};

/// Splits `prompt:{json}` / `Workflow: {json}` (ComfyUI's EXIF tag values);
/// the label comes back in lower case.
fn split_label(text: &str) -> Option<(String, &str)> {
    let (label, rest) = text.split_once(':')?;
    let label = label.trim_start_matches('\0').to_ascii_lowercase();
    let ok = matches!(label.as_str(), "prompt" | "workflow");
    (ok && rest.trim_start().starts_with('{')).then_some((label, rest))
}

/// Parses a carrier text as a JSON object. Returns (json, label, error).
pub(crate) fn classify(text: &str) -> (Option<Value>, Option<String>, Option<String>) {
    let (label, body) = match split_label(text) {
        Some((l, b)) => (Some(l), b),
        None => (None, text),
    };
    match parse_json_object(body) {
        Ok(Some(v)) => (Some(v), label, None),
        Ok(None) => (None, None, None),
        Err(e) => (None, label, Some(e)),
    }
}

/// Carriers that may hold a generator's JSON blob.
fn json_carriers(carriers: &[Carrier]) -> impl Iterator<Item = (&Carrier, &Value)> {
    carriers
        .iter()
        .filter_map(|c| c.json.as_ref().map(|j| (c, j)))
}

/// SwarmUI: `{"sui_image_params": {...}}` in EXIF UserComment or PNG `parameters`.
pub(crate) fn parse_swarm(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let (carrier, json) = json_carriers(carriers)
        .find(|(_, j)| j.get("sui_image_params").is_some_and(Value::is_object))?;
    let p = json.get("sui_image_params")?;
    let size = match (json_u32(p.get("width")), json_u32(p.get("height"))) {
        (Some(w), Some(h)) => Some((w, h)),
        _ => None,
    };
    let mut m = GenerationMetadata {
        tool: Some("swarmui".into()),
        positive: json_str(p.get("prompt")),
        negative: json_str(p.get("negativeprompt")),
        seed: json_u64(p.get("seed")),
        steps: json_u32(p.get("steps")),
        sampler: json_str(p.get("sampler")),
        cfg: json_f64(p.get("cfgscale")),
        model: json_str(p.get("model")),
        size,
        ..GenerationMetadata::default()
    }
    .read_from(&carrier.key);
    for key in [
        "scheduler",
        "refinerupscale",
        "refinerupscalemethod",
        "refinercontrolpercentage",
        "refinermodel",
        "loras",
        "swarm_version",
    ] {
        if let Some(v) = p.get(key).filter(|v| !v.is_null()) {
            m.add_extra(key, &scalar_text(v));
        }
    }
    Some(m)
}

/// A JSON value as display text (strings without quotes).
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fooocus: JSON in PNG `parameters` (with a `fooocus_scheme` chunk, or
/// Fooocus-specific keys).
pub(crate) fn parse_fooocus(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let scheme = carriers.iter().any(|c| c.name == "fooocus_scheme");
    let (carrier, p) = json_carriers(carriers).find(|(c, j)| {
        matches!(
            c.name.as_str(),
            "parameters" | "UserComment" | "Comment" | "COM"
        ) && matches!(
            c.origin,
            Origin::PngText | Origin::Stealth | Origin::Exif | Origin::Member
        ) && j.get("prompt").is_some()
            && (scheme
                || j.get("full_prompt").is_some()
                || j.get("base_model").is_some()
                || j.get("version")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.contains("Fooocus")))
    })?;
    let size = p
        .get("resolution")
        .and_then(Value::as_str)
        .and_then(parse_size)
        .or_else(
            || match (json_u32(p.get("width")), json_u32(p.get("height"))) {
                (Some(w), Some(h)) => Some((w, h)),
                _ => None,
            },
        );
    let m = GenerationMetadata {
        tool: Some("fooocus".into()),
        positive: json_str(p.get("prompt")),
        negative: json_str(p.get("negative_prompt")),
        seed: json_u64(p.get("seed")),
        steps: json_u32(p.get("steps")),
        sampler: json_str(p.get("sampler")),
        cfg: json_f64(p.get("guidance_scale")),
        model: json_str(p.get("base_model")),
        size,
        ..GenerationMetadata::default()
    };
    Some(m.read_from(&carrier.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_errors() {
        let (j, l, e) = classify("prompt:{\"a\": 1}");
        assert!(j.is_some());
        assert_eq!(l.as_deref(), Some("prompt"));
        assert!(e.is_none());
        let (j, _, e) = classify("{\"a\": ");
        assert!(j.is_none() && e.is_some());
        let (j, l, e) = classify("cat:{red}");
        assert!(j.is_none() && l.is_none() && e.is_none());
        let (j, l, _) = classify("Workflow: {\"nodes\": []}");
        assert!(j.is_some());
        assert_eq!(l.as_deref(), Some("workflow"));
    }
}
