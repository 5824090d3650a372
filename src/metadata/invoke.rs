//! InvokeAI: current `invokeai_metadata` JSON (3.x and later; `invokeai_graph`
//! is only kept raw) and legacy 2.x `sd-metadata` JSON plus the `Dream`
//! command string (`"prompt" -s 50 -S 1234 -W 512 -H 512 -C 7.5 -A k_lms`).

use serde_json::Value;

use super::util::{json_f64, json_str, json_u32, json_u64};
use super::{Carrier, GenerationMetadata};

fn named<'a>(carriers: &'a [Carrier], name: &str) -> Option<&'a Carrier> {
    carriers.iter().find(|c| c.name == name)
}

fn size_of(v: &Value) -> Option<(u32, u32)> {
    Some((json_u32(v.get("width"))?, json_u32(v.get("height"))?))
}

/// InvokeAI 3+ `invokeai_metadata`.
pub(crate) fn parse_current(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let m = named(carriers, "invokeai_metadata")?.json.as_ref()?;
    let model = m.get("model").and_then(|model| match model {
        Value::String(s) => Some(s.clone()),
        _ => json_str(model.get("name")).or_else(|| json_str(model.get("model_name"))),
    });
    Some(GenerationMetadata {
        tool: Some("invokeai".into()),
        positive: json_str(m.get("positive_prompt")),
        negative: json_str(m.get("negative_prompt")),
        seed: json_u64(m.get("seed")),
        steps: json_u32(m.get("steps")),
        sampler: json_str(m.get("scheduler")),
        cfg: json_f64(m.get("cfg_scale")),
        model,
        size: size_of(m),
        ..GenerationMetadata::default()
    })
}

/// `image.prompt`: a string or a list of `{prompt, weight}`.
fn legacy_prompt(p: &Value) -> Option<String> {
    match p {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<(String, Option<f64>)> = items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some((s.clone(), None)),
                    _ => Some((json_str(i.get("prompt"))?, json_f64(i.get("weight")))),
                })
                .collect();
            match parts.as_slice() {
                [] => None,
                [(only, _)] => Some(only.clone()),
                many => Some(
                    many.iter()
                        .map(|(p, w)| match w {
                            Some(w) => format!("{p}:{w}"),
                            None => p.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            }
        }
        _ => None,
    }
}

/// Parses a `Dream` command string: the quoted (or leading) prompt and options.
pub(crate) fn parse_dream(s: &str) -> GenerationMetadata {
    let s = s.trim();
    let (prompt, opts) = if let Some(q) = s.strip_prefix('"') {
        let mut escaped = false;
        let end = q.char_indices().find_map(|(i, c)| {
            let hit = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            hit.then_some(i)
        });
        match end {
            Some(e) => (
                q.get(..e).unwrap_or_default().replace("\\\"", "\""),
                q.get(e + 1..).unwrap_or_default(),
            ),
            None => (q.to_owned(), ""),
        }
    } else {
        // Unquoted: the prompt runs up to the first ` -X` option.
        let bytes = s.as_bytes();
        let cut = (0..bytes.len()).find(|&i| {
            bytes.get(i) == Some(&b' ')
                && bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic)
                && bytes
                    .get(i + 3)
                    .is_none_or(|c| !c.is_ascii_lowercase() || bytes.get(i + 2) == Some(&b'A'))
        });
        match cut {
            Some(i) => (
                s.get(..i).unwrap_or_default().to_owned(),
                s.get(i..).unwrap_or_default(),
            ),
            None => (s.to_owned(), ""),
        }
    };
    let mut m = GenerationMetadata {
        tool: Some("invokeai-legacy".into()),
        positive: Some(prompt.trim().to_owned()).filter(|p| !p.is_empty()),
        ..GenerationMetadata::default()
    };
    let tokens: Vec<&str> = opts.split_whitespace().collect();
    let (mut w, mut h) = (None, None);
    let mut i = 0;
    while let Some(tok) = tokens.get(i) {
        i += 1;
        let Some(flag) = tok.strip_prefix('-') else {
            continue;
        };
        let mut chars = flag.chars();
        let Some(letter) = chars.next() else { continue };
        let attached = chars.as_str();
        let value = if attached.is_empty() {
            let v = tokens
                .get(i)
                .copied()
                .filter(|v| !v.starts_with('-') || v.parse::<f64>().is_ok());
            if v.is_some() {
                i += 1;
            }
            v.unwrap_or_default()
        } else {
            attached
        };
        match letter {
            's' => m.steps = value.parse().ok(),
            'S' => m.seed = value.parse().ok(),
            'W' => w = value.parse().ok(),
            'H' => h = value.parse().ok(),
            'C' => m.cfg = value.parse().ok(),
            'A' => m.sampler = Some(value.to_owned()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    m.size = w.zip(h);
    m
}

/// Legacy InvokeAI 2.x: `sd-metadata` JSON and/or the `Dream` string.
pub(crate) fn parse_legacy(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let sd = named(carriers, "sd-metadata").and_then(|c| c.json.as_ref());
    let dream = named(carriers, "Dream").map(|c| parse_dream(&c.text));
    if sd.is_none() && dream.is_none() {
        return None;
    }
    let mut m = GenerationMetadata {
        tool: Some("invokeai-legacy".into()),
        ..GenerationMetadata::default()
    };
    if let Some(sd) = sd {
        let img = sd.get("image").unwrap_or(&Value::Null);
        m.positive = img.get("prompt").and_then(legacy_prompt);
        m.seed = json_u64(img.get("seed"));
        m.steps = json_u32(img.get("steps"));
        m.cfg = json_f64(img.get("cfg_scale"));
        m.sampler = json_str(img.get("sampler"));
        m.size = size_of(img);
        m.model = json_str(sd.get("model_weights")).or_else(|| json_str(sd.get("model_id")));
    }
    if let Some(d) = dream {
        m.positive = m.positive.or(d.positive);
        m.seed = m.seed.or(d.seed);
        m.steps = m.steps.or(d.steps);
        m.cfg = m.cfg.or(d.cfg);
        m.sampler = m.sampler.or(d.sampler);
        m.size = m.size.or(d.size);
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dream_strings() {
        let d = parse_dream("\"a \\\"b\\\" c\" -s50 -W512 -H 640 -C7.5 -Ak_lms -S 42");
        assert_eq!(d.positive.as_deref(), Some("a \"b\" c"));
        assert_eq!(
            (d.steps, d.seed, d.size, d.cfg),
            (Some(50), Some(42), Some((512, 640)), Some(7.5))
        );
        assert_eq!(d.sampler.as_deref(), Some("k_lms"));
        let d = parse_dream("pond with water-lilies -s 50 -S 1476370516 -A k_lms");
        assert_eq!(d.positive.as_deref(), Some("pond with water-lilies"));
        assert_eq!(d.seed, Some(1476370516));
        for s in ["\"", "-", "\"x\" -", "x -S", "é -é"] {
            let _ = parse_dream(s);
        }
    }
}
