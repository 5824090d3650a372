//! Hand-made inputs that exercise several modules at once: EXIF UserComment
//! in both UTF-16 byte orders, ComfyUI graphs (reroutes, combines, primitives,
//! cycles), invalid JSON, and random bytes behind every container signature.

use super::*;

/// A JPEG holding one APP1 Exif segment with the given TIFF block.
fn jpeg_with_exif(tiff: &[u8]) -> Vec<u8> {
    let mut f = vec![0xFF, 0xD8, 0xFF, 0xE1];
    f.extend(
        u16::try_from(tiff.len() + 8)
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    f.extend(b"Exif\0\0");
    f.extend(tiff);
    f.extend([0xFF, 0xD9]);
    f
}

#[test]
fn user_comment_utf16_both_endians_in_jpeg() {
    let text = "a fox, テスト\nNegative prompt: blurry\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 99, Size: 640x480";
    for (tiff_be, utf16_be) in [(true, true), (false, false), (true, false), (false, true)] {
        let mut comment = b"UNICODE\0".to_vec();
        comment.extend(text.encode_utf16().flat_map(|u| {
            if utf16_be {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        }));
        let tiff = exif::tests::tiff(tiff_be, &[(0x9286, 7, comment)]);
        let m = read_metadata(&jpeg_with_exif(&tiff), None, &Limits::default());
        assert_eq!(m.tool.as_deref(), Some("a1111"));
        assert_eq!(m.positive.as_deref(), Some("a fox, テスト"));
        assert_eq!(m.negative.as_deref(), Some("blurry"));
        assert_eq!(
            (m.seed, m.steps, m.size),
            (Some(99), Some(12), Some((640, 480)))
        );
        assert_eq!(
            m.raw.first().map(|r| r.key.as_str()),
            Some("exif:UserComment")
        );
    }
}

fn png_text(key: &str, value: &str) -> Vec<u8> {
    let mut data = key.as_bytes().to_vec();
    data.push(0);
    data.extend(value.as_bytes());
    png::tests::png(&[(b"tEXt", data)])
}

#[test]
fn comfy_reroute_combine_and_primitive_text() {
    let graph = r#"{
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
        "2": {"class_type": "LoraLoader", "inputs": {"lora_name": "x", "model": ["1", 0], "clip": ["1", 1]}},
        "3": {"class_type": "PrimitiveString", "inputs": {"value": "a red fox"}},
        "4": {"class_type": "StringConcatenate", "inputs": {"string_a": ["3", 0], "string_b": "in snow", "delimiter": ", "}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": ["4", 0], "clip": ["2", 1]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "golden hour", "clip": ["2", 1]}},
        "7": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["10", 0], "conditioning_2": ["6", 0]}},
        "10": {"class_type": "Reroute", "inputs": {"": ["5", 0]}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["2", 1]}},
        "9": {"class_type": "PrimitiveInt", "inputs": {"value": 424242}},
        "11": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "12": {"class_type": "KSampler", "inputs": {"seed": ["9", 0], "steps": 25, "cfg": 6.5, "sampler_name": "euler",
               "model": ["2", 0], "positive": ["7", 0], "negative": ["8", 0], "latent_image": ["11", 0]}},
        "13": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": ["1", 2]}},
        "14": {"class_type": "SaveImage", "inputs": {"images": ["13", 0]}},
        "20": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 1, "model": ["1", 0], "positive": ["8", 0], "negative": ["8", 0], "latent_image": ["11", 0]}}
    }"#;
    let m = read_metadata(&png_text("prompt", graph), None, &Limits::default());
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
    assert_eq!(
        m.positive.as_deref(),
        Some("a red fox, in snow\ngolden hour")
    );
    assert_eq!(m.negative.as_deref(), Some("ugly"));
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(424242), Some(25), Some(6.5))
    );
    assert_eq!(m.sampler.as_deref(), Some("euler"));
    assert_eq!(m.model.as_deref(), Some("base.safetensors"));
    assert_eq!(m.size, Some((832, 1216)));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn comfy_cycles_terminate() {
    let graph = r#"{
        "1": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0], "conditioning_2": ["1", 0]}},
        "2": {"class_type": "ConditioningSetArea", "inputs": {"conditioning": ["1", 0]}},
        "3": {"class_type": "PrimitiveNode", "inputs": {"value": ["4", 0]}},
        "4": {"class_type": "PrimitiveNode", "inputs": {"value": ["3", 0]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": ["3", 0]}},
        "6": {"class_type": "Reroute", "inputs": {"": ["6", 0]}},
        "7": {"class_type": "KSampler", "inputs": {"seed": ["3", 0], "model": ["7", 0], "positive": ["1", 0], "negative": ["6", 0], "latent_image": ["7", 0]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0]}}
    }"#;
    let m = read_metadata(&png_text("prompt", graph), None, &Limits::default());
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
    assert_eq!(m.positive, None);
    assert_eq!(m.seed, None);
    // A wide diamond lattice must be bounded by the visit budget too.
    let mut nodes =
        vec![r#""0": {"class_type": "CLIPTextEncode", "inputs": {"text": "deep"}}"#.to_owned()];
    for i in 1..200 {
        nodes.push(format!(
            r#""{i}": {{"class_type": "ConditioningCombine", "inputs": {{"conditioning_1": ["{p}", 0], "conditioning_2": ["{p}", 0]}}}}"#,
            p = i - 1
        ));
    }
    nodes.push(r#""s": {"class_type": "KSampler", "inputs": {"model": ["x", 0], "positive": ["199", 0], "negative": ["0", 0]}}"#.into());
    let m = read_metadata(
        &png_text("prompt", &format!("{{{}}}", nodes.join(","))),
        None,
        &Limits::default(),
    );
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
}

#[test]
fn invalid_json_is_kept_raw_with_warning() {
    let m = read_metadata(
        &png_text("prompt", "{\"3\": {\"class_type\": "),
        None,
        &Limits::default(),
    );
    assert_eq!(m.positive, None);
    assert_eq!(m.raw.len(), 1);
    assert_eq!(m.raw[0].key, "png:tEXt:prompt");
    assert!(
        m.warnings.iter().any(|w| w.contains("invalid JSON")),
        "{:?}",
        m.warnings
    );
    let m = read_metadata(
        &png_text("invokeai_metadata", "{oops}"),
        None,
        &Limits::default(),
    );
    assert!(
        m.warnings.iter().any(|w| w.contains("invalid JSON")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn format_specific_handcrafted() {
    let swarm = r#"{"sui_image_params": {"prompt": "p", "negativeprompt": "n", "seed": 3, "steps": 4, "cfgscale": 5.5, "width": 64, "height": 32}}"#;
    let m = read_metadata(&png_text("parameters", swarm), None, &Limits::default());
    assert_eq!(m.tool.as_deref(), Some("swarmui"));
    assert_eq!(
        (m.positive.as_deref(), m.cfg, m.size),
        (Some("p"), Some(5.5), Some((64, 32)))
    );
    let xmp = png::tests::png(&[(
        b"iTXt",
        b"XML:com.adobe.xmp\0\0\0\0\0<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">a boat</rdf:li></rdf:Alt></dc:description>".to_vec(),
    )]);
    let m = read_metadata(&xmp, None, &Limits::default());
    assert_eq!(
        (m.tool.as_deref(), m.positive.as_deref()),
        (Some("xmp"), Some("a boat"))
    );
    let c2pa = png::tests::png(&[(b"caBX", vec![0; 64])]);
    let m = read_metadata(&c2pa, None, &Limits::default());
    assert_eq!(m.tool.as_deref(), Some("c2pa"));
    assert_eq!(m.raw[0].value, "C2PA manifest, 64 bytes");
    assert_eq!(
        read_metadata(&[], None, &Limits::default()),
        GenerationMetadata::default()
    );
}

/// Tiny deterministic PRNG (no extra crates).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_bytes_behind_signatures_never_panic() {
    let mut rng = Lcg(7);
    let magics: [&[u8]; 5] = [
        b"\x89PNG\r\n\x1a\n",
        &[0xFF, 0xD8],
        b"RIFF\0\0\0\0WEBP",
        b"GIF89a",
        b"",
    ];
    for magic in magics {
        for _ in 0..400 {
            let mut b = magic.to_vec();
            let n = rng.below(600);
            // Mostly small values so lengths and counts stay plausible.
            b.extend((0..n).map(|_| {
                if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    rng.below(4) as u8
                }
            }));
            let _ = read_metadata(&b, None, &Limits::default());
            let _ = container_info(&b);
        }
    }
    // Random pixels, including an embedded signature with a bogus length.
    for _ in 0..50 {
        let (w, h) = (rng.below(40) as u32 + 1, rng.below(40) as u32 + 1);
        let px: Vec<u8> = (0..w * h * 4).map(|_| rng.next() as u8).collect();
        let _ = read_metadata(b"", Some((w, h, &px)), &Limits::default());
        let _ = read_metadata(b"", Some((w + 1, h, &px)), &Limits::default());
    }
}

#[test]
fn random_comfy_graphs_terminate() {
    let mut rng = Lcg(11);
    let classes = [
        "KSampler",
        "CLIPTextEncode",
        "ConditioningCombine",
        "Reroute",
        "PrimitiveNode",
        "StringConcatenate",
        "SaveImage",
        "SamplerCustomAdvanced",
        "CFGGuider",
        "LoraLoader",
    ];
    let keys = [
        "positive",
        "negative",
        "text",
        "value",
        "conditioning_1",
        "conditioning",
        "model",
        "seed",
        "guider",
        "string_a",
        "latent_image",
        "images",
        "noise",
        "sigmas",
        "",
    ];
    for _ in 0..300 {
        let n = rng.below(30) + 1;
        let mut graph = serde_json::Map::new();
        for id in 0..n {
            let mut inputs = serde_json::Map::new();
            for _ in 0..rng.below(6) {
                let key = keys[rng.below(keys.len())];
                let v = match rng.below(4) {
                    0 => serde_json::json!("text"),
                    1 => serde_json::json!(rng.below(1000)),
                    _ => serde_json::json!([rng.below(n).to_string(), rng.below(3)]),
                };
                inputs.insert(key.to_owned(), v);
            }
            let class = classes[rng.below(classes.len())];
            graph.insert(
                id.to_string(),
                serde_json::json!({"class_type": class, "inputs": inputs}),
            );
        }
        let text = serde_json::Value::Object(graph).to_string();
        let m = read_metadata(&png_text("prompt", &text), None, &Limits::default());
        assert_eq!(m.tool.as_deref(), Some("comfyui"));
    }
}
