//! AUTOMATIC1111-style "parameters" text: prompt lines, an optional
//! `Negative prompt:` section (may span lines) and a settings line of
//! `Key: value, Key: "quoted, value", Key: [json], ...` pairs. Written by
//! AUTOMATIC1111, the Forge family (classic, Neo, reForge, Easy reForge),
//! SD.Next (`App: SD.Next`), Civitai (`Civitai resources: [...]`), Fooocus'
//! A1111 scheme and ComfyUI save nodes (`Version: ComfyUI`); the tool is told
//! from those markers. Settings without a column (hires, ADetailer, schedule,
//! Civitai resources, ...) are kept as extra fields.

use serde_json::Value;

use super::util::parse_size;
use super::{Carrier, GenerationMetadata, Origin};

/// Settings read into columns (not repeated as extra fields).
const COLUMNS: &[&str] = &[
    "Steps",
    "Sampler",
    "CFG scale",
    "CFG Scale",
    "Seed",
    "Size",
    "Model",
];

/// Splits a settings line into `(key, value)` pairs, honouring quoted values.
pub(crate) fn settings_pairs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        if rest.is_empty() {
            break;
        }
        let Some(colon) = rest.find(':') else { break };
        let key = rest.get(..colon).unwrap_or_default().trim();
        let valid_key = key.chars().next().is_some_and(char::is_alphanumeric)
            && key.chars().all(|c| {
                c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '/' | '.' | '(' | ')')
            });
        let after = rest.get(colon + 1..).unwrap_or_default().trim_start();
        let (value, next) = if let Some(end) = bracketed_end(after) {
            let tail = after.get(end..).unwrap_or_default();
            (
                after.get(..end).unwrap_or_default().to_owned(),
                tail.find(',')
                    .and_then(|i| tail.get(i + 1..))
                    .unwrap_or_default(),
            )
        } else if let Some(q) = after.strip_prefix('"') {
            let mut escaped = false;
            let end = q.char_indices().find_map(|(i, c)| {
                let hit = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                hit.then_some(i)
            });
            match end {
                Some(end) => {
                    let quoted = after.get(..end + 2).unwrap_or_default();
                    let value = serde_json::from_str::<String>(quoted)
                        .unwrap_or_else(|_| q.get(..end).unwrap_or_default().to_owned());
                    let tail = q.get(end + 1..).unwrap_or_default();
                    (
                        value,
                        tail.find(',')
                            .and_then(|i| tail.get(i + 1..))
                            .unwrap_or_default(),
                    )
                }
                None => (q.to_owned(), ""),
            }
        } else {
            match after.find(',') {
                Some(i) => (
                    after.get(..i).unwrap_or_default().trim().to_owned(),
                    after.get(i + 1..).unwrap_or_default(),
                ),
                None => (after.trim().to_owned(), ""),
            }
        };
        if valid_key {
            out.push((key.to_owned(), value));
        }
        rest = next;
    }
    out
}

/// For a value starting with `[` or `{`: the end of the balanced JSON-like
/// span (strings respected), when it closes on this line.
fn bracketed_end(v: &str) -> Option<usize> {
    let first = v.chars().next()?;
    if first != '[' && first != '{' {
        return None;
    }
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, c) in v.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

fn is_settings(line: &str) -> bool {
    let pairs = settings_pairs(line);
    // A1111 always starts the settings line with `Steps:`; other lines need three known pairs.
    let starts_with_steps = line.trim_start().starts_with("Steps:") && !pairs.is_empty();
    starts_with_steps
        || pairs.len() >= 3
            && pairs
                .iter()
                .any(|(k, _)| matches!(k.as_str(), "Steps" | "Sampler" | "Seed" | "CFG scale"))
}

/// Whether `text` contains an A1111 settings line.
pub(crate) fn has_settings_line(text: &str) -> bool {
    text.lines().any(is_settings)
}

/// Tool name from the settings: `Version: f2.0.1…`/`classic`/`neo` = Forge,
/// `App: SD.Next`, `Civitai resources`, `Version: Fooocus…`, `Version:
/// ComfyUI` (ComfyUI save nodes), else AUTOMATIC1111.
fn tool_for(pairs: &[(String, String)]) -> &'static str {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let version = get("Version");
    let forge_version = version.is_some_and(|v| {
        let mut c = v.chars();
        (c.next() == Some('f') && c.next().is_some_and(|d| d.is_ascii_digit()))
            || v == "classic"
            || v.starts_with("neo")
            || v.to_ascii_lowercase().contains("forge")
    });
    if get("App").is_some_and(|a| a.contains("SD.Next")) {
        "sdnext"
    } else if forge_version
        || pairs
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("forge"))
    {
        "forge"
    } else if version.is_some_and(|v| v.contains("Fooocus")) {
        "fooocus"
    } else if version == Some("ComfyUI") {
        "comfyui"
    } else if get("Civitai resources").is_some() || get("Civitai metadata").is_some() {
        "civitai"
    } else {
        "a1111"
    }
}

/// The checkpoint named in a `Civitai resources` list (`modelName` plus the
/// version name), used when the text has no `Model`.
fn civitai_checkpoint(resources: &str) -> Option<String> {
    let list: Value = serde_json::from_str(resources).ok()?;
    let ckpt = list
        .as_array()?
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some("checkpoint"))?;
    let name = ckpt.get("modelName").and_then(Value::as_str)?;
    Some(match ckpt.get("modelVersionName").and_then(Value::as_str) {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    })
}

/// Parses A1111 parameters text. With `require_settings`, text without a
/// settings line is rejected (used for carriers not named `parameters`).
pub(crate) fn parse_text(text: &str, require_settings: bool) -> Option<GenerationMetadata> {
    let text = text.trim_matches('\0').replace("\r\n", "\n");
    if text.trim().is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let settings_at = lines.iter().rposition(|l| is_settings(l));
    // An empty (or blank) `parameters` text says nothing, not even which tool wrote it.
    if settings_at.is_none() && (require_settings || text.trim().is_empty()) {
        return None;
    }
    let body = lines
        .get(..settings_at.unwrap_or(lines.len()))
        .unwrap_or_default();
    let (mut positive, mut negative): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut in_negative = false;
    for line in body {
        if let Some(rest) = line.strip_prefix("Negative prompt:") {
            in_negative = true;
            negative.push(rest.trim_start());
        } else if in_negative {
            negative.push(line);
        } else {
            positive.push(line);
        }
    }
    let join = |v: Vec<&str>| {
        let s = v.join("\n");
        let s = s.trim_end();
        (!s.trim().is_empty()).then(|| s.to_owned())
    };
    let pairs = settings_at
        .and_then(|i| lines.get(i))
        .map(|l| settings_pairs(l))
        .unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let mut m = GenerationMetadata {
        tool: Some(tool_for(&pairs).into()),
        positive: join(positive),
        negative: join(negative),
        seed: get("Seed").and_then(|v| v.parse().ok()),
        steps: get("Steps").and_then(|v| v.parse().ok()),
        sampler: get("Sampler").map(str::to_owned),
        cfg: get("CFG scale")
            .or_else(|| get("CFG Scale"))
            .and_then(|v| v.parse().ok()),
        model: get("Model")
            .map(str::to_owned)
            .or_else(|| get("Civitai resources").and_then(civitai_checkpoint)),
        size: get("Size").and_then(parse_size),
        ..GenerationMetadata::default()
    };
    for (k, v) in &pairs {
        if !COLUMNS.contains(&k.as_str()) {
            m.add_extra(k.clone(), v);
        }
    }
    Some(m)
}

/// A1111 text in PNG `parameters`, or in EXIF UserComment (or another text
/// carrier) when it has a settings line.
pub(crate) fn parse(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let usable =
        |c: &&Carrier| c.json.is_none() && (c.json_error.is_none() || has_settings_line(&c.text));
    let named = carriers
        .iter()
        .filter(usable)
        .filter(|c| {
            c.name == "parameters"
                && matches!(c.origin, Origin::PngText | Origin::Stealth | Origin::Member)
        })
        .find_map(|c| parse_text(&c.text, false).map(|m| m.read_from(&c.key)));
    named.or_else(|| {
        carriers
            .iter()
            .filter(usable)
            .filter(|c| {
                matches!(
                    c.name.as_str(),
                    "UserComment" | "ImageDescription" | "parameters" | "Comment" | "COM"
                )
            })
            .find_map(|c| parse_text(&c.text, true).map(|m| m.read_from(&c.key)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_negative_and_quoted_values() {
        let text = "a cat,\nsitting on a mat\nNegative prompt: ugly,\nblurry\n\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, Model hash: abc, Model: sd15, Lora hashes: \"a: 1, b: \\\"2\\\"\", Version: v1.6.0";
        let m = parse_text(text, true).unwrap_or_default();
        assert_eq!(m.tool.as_deref(), Some("a1111"));
        assert_eq!(m.positive.as_deref(), Some("a cat,\nsitting on a mat"));
        assert_eq!(m.negative.as_deref(), Some("ugly,\nblurry"));
        assert_eq!(m.steps, Some(30));
        assert_eq!(m.sampler.as_deref(), Some("DPM++ 2M Karras"));
        assert_eq!(m.cfg, Some(7.5));
        assert_eq!(m.seed, Some(1234));
        assert_eq!(m.size, Some((512, 768)));
        assert_eq!(m.model.as_deref(), Some("sd15"));
        let pairs = settings_pairs("Lora hashes: \"a: 1, b: \\\"2\\\"\", Version: f2.0.1v1.10.1");
        assert_eq!(
            pairs[0],
            ("Lora hashes".to_owned(), "a: 1, b: \"2\"".to_owned())
        );
        assert_eq!(tool_for(&pairs), "forge");
    }

    /// Issue 17: an empty `parameters` chunk yielded tool = a1111.
    #[test]
    fn empty_parameters_say_nothing() {
        for t in ["", "   ", "\n\n", "\0\0", " \r\n "] {
            assert!(parse_text(t, false).is_none(), "{t:?}");
        }
        let c = |text: &str| crate::metadata::Carrier {
            key: "png:tEXt:parameters".into(),
            name: "parameters".into(),
            origin: Origin::PngText,
            text: text.into(),
            json: None,
            json_label: None,
            json_error: None,
        };
        assert!(parse(&[c("")]).is_none());
        assert_eq!(
            parse(&[c("a fox")]).and_then(|m| m.positive),
            Some("a fox".to_string())
        );
    }

    #[test]
    fn tools_and_extras() {
        let civitai = "a cat\nNegative prompt: dog\nSteps: 25, Sampler: Euler a, CFG scale: 5, Seed: 13, Size: 1024x1024, Clip skip: 2, Civitai resources: [{\"type\":\"checkpoint\",\"modelVersionId\":2514310,\"modelName\":\"WAI-illustrious-SDXL\",\"modelVersionName\":\"v16.0\"}], Civitai metadata: {}";
        let m = parse_text(civitai, true).unwrap_or_default();
        assert_eq!(m.tool.as_deref(), Some("civitai"));
        assert_eq!(m.model.as_deref(), Some("WAI-illustrious-SDXL v16.0"));
        assert_eq!(m.seed, Some(13));
        let resources = m.extra.iter().find(|(k, _)| k == "Civitai resources");
        assert!(
            resources.is_some_and(|(_, v)| v.starts_with('[') && v.ends_with(']')),
            "{:?}",
            m.extra
        );
        assert!(
            m.extra
                .iter()
                .any(|(k, v)| k == "Civitai metadata" && v == "{}")
        );
        let next =
            "p\nSteps: 20, Size: 1024x1024, Seed: 1, CFG Scale: 6, App: SD.Next, Version: 56a8aea";
        let m = parse_text(next, true).unwrap_or_default();
        assert_eq!((m.tool.as_deref(), m.cfg), (Some("sdnext"), Some(6.0)));
        let neo = parse_text("p\nSteps: 2, Version: neo", true).unwrap_or_default();
        assert_eq!(neo.tool.as_deref(), Some("forge"));
        let comfy = parse_text("p\nSteps: 2, Seed: 3, Version: ComfyUI", true).unwrap_or_default();
        assert_eq!(comfy.tool.as_deref(), Some("comfyui"));
        // An empty parameters text is not A1111 metadata.
        assert!(parse_text("", false).is_none());
        assert!(parse_text("\0\n ", false).is_none());
    }

    #[test]
    fn odd_inputs() {
        assert!(parse_text("just a prompt", true).is_none());
        let m = parse_text("just a prompt", false).unwrap_or_default();
        assert_eq!(m.positive.as_deref(), Some("just a prompt"));
        for s in [
            "Steps: \"unterminated",
            ":::",
            "a: \"b\" c, d: e, Steps: 1",
            "\"",
            "Steps: 1, Seed: x, Sampler: \"\\",
        ] {
            let _ = settings_pairs(s);
            let _ = parse_text(s, false);
        }
        let m = parse_text(
            "Negative prompt: only neg\nSteps: 5, Seed: 1, Sampler: Euler",
            true,
        )
        .unwrap_or_default();
        assert_eq!(m.positive, None);
        assert_eq!(m.negative.as_deref(), Some("only neg"));
    }
}
