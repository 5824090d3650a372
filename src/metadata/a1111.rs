//! AUTOMATIC1111 / Forge "parameters" text: prompt lines, an optional
//! `Negative prompt:` section (may span lines) and a settings line of
//! `Key: value, Key: "quoted, value", ...` pairs.

use super::util::parse_size;
use super::{Carrier, GenerationMetadata, Origin};

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
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
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

/// Tool name from the settings (`Version: f2.0.1...`, `classic`, `neo` = Forge).
fn tool_for(pairs: &[(String, String)]) -> &'static str {
    let version = pairs
        .iter()
        .find(|(k, _)| k == "Version")
        .map(|(_, v)| v.as_str());
    let forge_version = version.is_some_and(|v| {
        let mut c = v.chars();
        (c.next() == Some('f') && c.next().is_some_and(|d| d.is_ascii_digit()))
            || matches!(v, "classic" | "neo")
            || v.to_ascii_lowercase().contains("forge")
    });
    if forge_version
        || pairs
            .iter()
            .any(|(k, _)| k.to_ascii_lowercase().starts_with("forge"))
    {
        "forge"
    } else if version.is_some_and(|v| v.contains("Fooocus")) {
        "fooocus"
    } else {
        "a1111"
    }
}

/// Parses A1111 parameters text. With `require_settings`, text without a
/// settings line is rejected (used for carriers not named `parameters`).
pub(crate) fn parse_text(text: &str, require_settings: bool) -> Option<GenerationMetadata> {
    let text = text.trim_matches('\0').replace("\r\n", "\n");
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
    Some(GenerationMetadata {
        tool: Some(tool_for(&pairs).into()),
        positive: join(positive),
        negative: join(negative),
        seed: get("Seed").and_then(|v| v.parse().ok()),
        steps: get("Steps").and_then(|v| v.parse().ok()),
        sampler: get("Sampler").map(str::to_owned),
        cfg: get("CFG scale").and_then(|v| v.parse().ok()),
        model: get("Model").map(str::to_owned),
        size: get("Size").and_then(parse_size),
        ..GenerationMetadata::default()
    })
}

/// A1111 text in PNG `parameters`, or in EXIF UserComment (or another text
/// carrier) when it has a settings line.
pub(crate) fn parse(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let usable =
        |c: &&Carrier| c.json.is_none() && (c.json_error.is_none() || has_settings_line(&c.text));
    let named = carriers
        .iter()
        .filter(usable)
        .filter(|c| c.name == "parameters" && matches!(c.origin, Origin::PngText | Origin::Stealth))
        .find_map(|c| parse_text(&c.text, false));
    named.or_else(|| {
        carriers
            .iter()
            .filter(usable)
            .filter(|c| {
                matches!(
                    c.name.as_str(),
                    "UserComment" | "ImageDescription" | "parameters" | "Comment"
                )
            })
            .find_map(|c| parse_text(&c.text, true))
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
