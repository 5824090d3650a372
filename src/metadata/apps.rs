//! Generators that write one JSON object and need no graph walking: Hugging
//! Face Spaces (Gradio + diffusers: `prompt`, `resolution`, `Model`), Ruined
//! Fooocus (`"software": "RuinedFooocus"`), Easy Diffusion (one PNG text chunk
//! per setting, or the same keys as JSON in a UserComment; old versions use
//! capitalised names) and Draw Things (JSON `c`/`uc`/… inside XMP
//! `exif:UserComment`, `xmp:CreatorTool` "Draw Things"). The formats follow
//! the readers of sd-metadata (MIT) and sd-prompt-reader.

use serde_json::{Map, Value};

use super::json_tools::scalar_text;
use super::util::{json_f64, json_str, json_u32, json_u64, parse_size};
use super::{Carrier, GenerationMetadata, Origin, xmp};

/// JSON object carriers that stand for a generator's `parameters` text.
fn parameter_objects(carriers: &[Carrier]) -> impl Iterator<Item = (&Carrier, &Value)> {
    carriers.iter().filter_map(|c| {
        let named = matches!(
            c.name.as_str(),
            "parameters" | "UserComment" | "Comment" | "COM"
        );
        let origin = !matches!(c.origin, Origin::Xmp);
        match (&c.json, named && origin && c.json_label.is_none()) {
            (Some(j @ Value::Object(_)), true) => Some((c, j)),
            _ => None,
        }
    })
}

/// The file name of a model path (`C:\models\x.safetensors` -> `x.safetensors`).
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// Keeps the listed members of `p` (when present and not null) as extras.
fn extras(m: &mut GenerationMetadata, p: &Value, keys: &[&str]) {
    for key in keys {
        if let Some(v) = p.get(*key).filter(|v| !v.is_null()) {
            m.add_extra(*key, &scalar_text(v));
        }
    }
}

/// Hugging Face Space (Gradio + diffusers) JSON `parameters`.
pub(crate) fn parse_hf_space(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let (c, p) = parameter_objects(carriers).find(|(_, j)| {
        j.get("Model").is_some()
            && j.get("resolution").is_some_and(Value::is_string)
            && j.get("prompt").is_some()
    })?;
    let mut m = GenerationMetadata {
        tool: Some("hf-space".into()),
        positive: json_str(p.get("prompt")),
        negative: json_str(p.get("negative_prompt")),
        seed: json_u64(p.get("seed")),
        steps: json_u32(p.get("num_inference_steps")),
        sampler: json_str(p.get("sampler")),
        cfg: json_f64(p.get("guidance_scale")),
        model: json_str(p.get("Model")),
        size: p
            .get("resolution")
            .and_then(Value::as_str)
            .and_then(parse_size),
        ..GenerationMetadata::default()
    }
    .read_from(&c.key);
    extras(&mut m, p, &["Model hash", "style_preset", "use_upscaler"]);
    Some(m)
}

/// Ruined Fooocus JSON `parameters` (`"software": "RuinedFooocus"`).
pub(crate) fn parse_ruined_fooocus(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let (c, p) = parameter_objects(carriers).find(|(_, j)| {
        j.get("software")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("RuinedFooocus"))
    })?;
    let size = json_u32(p.get("width")).zip(json_u32(p.get("height")));
    let mut m = GenerationMetadata {
        tool: Some("ruined-fooocus".into()),
        positive: json_str(p.get("Prompt")).map(|s| s.trim().to_owned()),
        negative: json_str(p.get("Negative")).map(|s| s.trim().to_owned()),
        seed: json_u64(p.get("seed")),
        steps: json_u32(p.get("steps")),
        sampler: json_str(p.get("sampler_name")),
        cfg: json_f64(p.get("cfg")),
        model: json_str(p.get("base_model_name")),
        size,
        ..GenerationMetadata::default()
    }
    .read_from(&c.key);
    extras(
        &mut m,
        p,
        &[
            "scheduler",
            "base_model_hash",
            "loras",
            "clip_skip",
            "denoise",
        ],
    );
    Some(m)
}

/// Easy Diffusion key names: current (snake case) and old (capitalised).
const ED_KEYS: [[&str; 10]; 2] = [
    [
        "prompt",
        "negative_prompt",
        "seed",
        "num_inference_steps",
        "sampler_name",
        "guidance_scale",
        "use_stable_diffusion_model",
        "width",
        "height",
        "use_vae_model",
    ],
    [
        "Prompt",
        "Negative Prompt",
        "Seed",
        "Steps",
        "Sampler",
        "Guidance Scale",
        "Stable Diffusion model",
        "Width",
        "Height",
        "VAE model",
    ],
];

/// Easy Diffusion: one PNG text chunk per setting, or a JSON UserComment.
pub(crate) fn parse_easydiffusion(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    // PNG: a chunk per key, gathered into one object.
    let chunked = ED_KEYS.iter().find_map(|names| {
        let model = carriers
            .iter()
            .find(|c| c.name == names[6] && c.origin == Origin::PngText)?;
        let mut obj = Map::new();
        for c in carriers.iter().filter(|c| c.origin == Origin::PngText) {
            if names.contains(&c.name.as_str()) {
                obj.insert(c.name.clone(), Value::String(c.text.clone()));
            }
        }
        Some((model.key.clone(), names, Value::Object(obj)))
    });
    let (key, names, p) = match chunked {
        Some(found) => found,
        None => {
            let (c, p, names) = parameter_objects(carriers).find_map(|(c, j)| {
                let names = ED_KEYS.iter().find(|n| j.get(n[6]).is_some())?;
                Some((c, j, names))
            })?;
            (c.key.clone(), names, p.clone())
        }
    };
    let get = |i: usize| p.get(names[i]);
    let size = json_u32(get(7)).zip(json_u32(get(8)));
    let mut m = GenerationMetadata {
        tool: Some("easydiffusion".into()),
        positive: json_str(get(0)).map(|s| s.trim().to_owned()),
        negative: json_str(get(1)).map(|s| s.trim().to_owned()),
        seed: json_u64(get(2)),
        steps: json_u32(get(3)),
        sampler: json_str(get(4)),
        cfg: json_f64(get(5)),
        model: json_str(get(6)).map(|s| file_name(&s)),
        size,
        ..GenerationMetadata::default()
    }
    .read_from(&key);
    if let Some(v) = json_str(get(9)) {
        m.add_extra("vae", &v);
    }
    Some(m)
}

/// Draw Things: XMP `CreatorTool` "Draw Things" and the settings JSON in the
/// XMP `exif:UserComment` (or a JSON UserComment with `c` and `uc`).
pub(crate) fn parse_drawthings(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let from_xmp = carriers
        .iter()
        .filter(|c| c.origin == Origin::Xmp && c.text.contains("Draw Things"))
        .find_map(|c| {
            let body = xmp::alt_text(&c.text, "exif:UserComment")?;
            let v: Value = serde_json::from_str(body.trim()).ok()?;
            v.is_object().then_some((c.key.clone(), v))
        });
    let (key, p) = match from_xmp {
        Some(found) => found,
        None => {
            let (c, p) = parameter_objects(carriers)
                .find(|(_, j)| j.get("c").is_some_and(Value::is_string) && j.get("uc").is_some())?;
            (c.key.clone(), p.clone())
        }
    };
    let nonzero = |v: Option<f64>| v.filter(|x| *x != 0.0);
    let mut m = GenerationMetadata {
        tool: Some("drawthings".into()),
        positive: json_str(p.get("c")).map(|s| s.trim().to_owned()),
        negative: json_str(p.get("uc")).map(|s| s.trim().to_owned()),
        seed: json_u64(p.get("seed")),
        steps: json_u32(p.get("steps")).filter(|s| *s != 0),
        sampler: json_str(p.get("sampler")),
        cfg: nonzero(json_f64(p.get("scale"))),
        model: json_str(p.get("model")),
        size: p.get("size").and_then(Value::as_str).and_then(parse_size),
        ..GenerationMetadata::default()
    }
    .read_from(&key);
    extras(&mut m, &p, &["strength", "lora", "shift"]);
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::json_tools::classify;

    fn carrier(name: &str, origin: Origin, text: &str) -> Carrier {
        let (json, json_label, json_error) = classify(text);
        Carrier {
            key: format!("test:{name}"),
            name: name.into(),
            origin,
            text: text.into(),
            json,
            json_label,
            json_error,
        }
    }

    #[test]
    fn easydiffusion_chunks_and_json() {
        let cs: Vec<Carrier> = [
            ("prompt", "a lighthouse"),
            ("negative_prompt", "fog"),
            ("seed", "42"),
            (
                "use_stable_diffusion_model",
                "D:\\models\\sd-v1-5.safetensors",
            ),
            ("num_inference_steps", "25"),
            ("guidance_scale", "7.5"),
            ("width", "512"),
            ("height", "768"),
            ("sampler_name", "euler_a"),
        ]
        .iter()
        .map(|(k, v)| carrier(k, Origin::PngText, v))
        .collect();
        let m = parse_easydiffusion(&cs).unwrap_or_default();
        assert_eq!(m.positive.as_deref(), Some("a lighthouse"));
        assert_eq!(m.model.as_deref(), Some("sd-v1-5.safetensors"));
        assert_eq!(
            (m.seed, m.steps, m.cfg, m.size),
            (Some(42), Some(25), Some(7.5), Some((512, 768)))
        );
        let old = carrier(
            "UserComment",
            Origin::Exif,
            r#"{"Prompt": "a cat", "Negative Prompt": "", "Seed": 7, "Stable Diffusion model": "m.ckpt", "Steps": 20}"#,
        );
        let m = parse_easydiffusion(&[old]).unwrap_or_default();
        assert_eq!(
            (m.positive.as_deref(), m.seed, m.steps),
            (Some("a cat"), Some(7), Some(20))
        );
        assert!(parse_easydiffusion(&[carrier("prompt", Origin::PngText, "x")]).is_none());
    }

    #[test]
    fn drawthings_xmp() {
        let xml = r#"<x:xmpmeta><rdf:RDF><rdf:Description xmp:CreatorTool="Draw Things"><exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">{"c":"a red fox &amp; snow","uc":"blurry","seed":12,"steps":30,"scale":4.5,"size":"768x512","model":"flux_1_dev_q8p.ckpt","sampler":"DPM++ 2M Trailing","strength":1}</rdf:li></rdf:Alt></exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let m = parse_drawthings(&[carrier("xmp", Origin::Xmp, xml)]).unwrap_or_default();
        assert_eq!(m.positive.as_deref(), Some("a red fox & snow"));
        assert_eq!(m.negative.as_deref(), Some("blurry"));
        assert_eq!(
            (m.seed, m.steps, m.cfg, m.size),
            (Some(12), Some(30), Some(4.5), Some((768, 512)))
        );
        assert_eq!(m.model.as_deref(), Some("flux_1_dev_q8p.ckpt"));
    }
}
