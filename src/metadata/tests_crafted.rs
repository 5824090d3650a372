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

// ---------------------------------------------------------------------------
// Writers that an earlier version missed, each modelled on a public example:
// enslo/sd-metadata@0270638 `samples/` (Civitai, HF Space, Ruined Fooocus,
// save-image-extended, Stability Matrix, TensorArt) and SeargeDP/SeargeSDXL
// (`examples/*.png`, node definitions in `modules/_legacy.py`).
// ---------------------------------------------------------------------------

/// EXIF UserComment bytes: `UNICODE\0` + UTF-16 in the given byte order.
fn unicode_comment(text: &str, big_endian: bool) -> Vec<u8> {
    let mut v = b"UNICODE\0".to_vec();
    v.extend(text.encode_utf16().flat_map(|u| {
        if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        }
    }));
    v
}

/// A WebP (VP8X header only) with one EXIF chunk.
fn webp_with_exif(tiff: &[u8]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    body.extend(b"VP8X");
    body.extend(10u32.to_le_bytes());
    body.extend([0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    body.extend(b"EXIF");
    body.extend((tiff.len() as u32).to_le_bytes());
    body.extend(tiff);
    if tiff.len() % 2 == 1 {
        body.push(0);
    }
    let mut f = b"RIFF".to_vec();
    f.extend((body.len() as u32).to_le_bytes());
    f.extend(body);
    f
}

fn png_texts(chunks: &[(&str, &str)]) -> Vec<u8> {
    let chunks: Vec<(&[u8; 4], Vec<u8>)> = chunks
        .iter()
        .map(|(k, v)| {
            let mut d = k.as_bytes().to_vec();
            d.push(0);
            d.extend(v.as_bytes());
            (b"tEXt", d)
        })
        .collect();
    png::tests::png(&chunks)
}

fn read(bytes: &[u8]) -> GenerationMetadata {
    read_metadata(bytes, None, &Limits::default())
}

#[test]
fn civitai_generated_jpeg_a1111_text() {
    let text = "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #テスト\nNegative prompt: bad quality, worst quality, worst detail, sketch, censor, \n\nSteps: 25, Sampler: Euler a, CFG scale: 5, Seed: 1311178179, Size: 1024x1024, Clip skip: 2, Created Date: 2026-01-04T01:27:21.2717070Z, Civitai resources: [{\"type\":\"checkpoint\",\"modelVersionId\":2514310,\"modelName\":\"WAI-illustrious-SDXL\",\"modelVersionName\":\"v16.0\"}], Civitai metadata: {}";
    let tiff = exif::tests::tiff(
        false,
        &[
            (
                0x0131,
                2,
                b"56c0ca36-7be1-4bce-a593-949f3ae4322e\0".to_vec(),
            ),
            (0x9286, 7, unicode_comment(text, true)),
        ],
    );
    let m = read(&jpeg_with_exif(&tiff));
    assert_eq!(m.tool.as_deref(), Some("civitai"));
    assert_eq!(m.parser.as_deref(), Some("a1111-text"));
    assert!(
        m.positive
            .as_deref()
            .is_some_and(|p| p.ends_with("hatsune miku, #テスト"))
    );
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(1311178179), Some(25), Some(5.0))
    );
    assert_eq!(m.model.as_deref(), Some("WAI-illustrious-SDXL v16.0"));
    assert!(
        m.extra
            .iter()
            .any(|(k, v)| k == "Civitai resources" && v.contains("2514310"))
    );
}

/// Civitai's ComfyUI JPEG: the bare API graph in a UTF-16 UserComment, model
/// and embeddings as AIR URNs, the request in `extraMetadata`.
fn civitai_graph(with_sampler: bool) -> String {
    let sampler = if with_sampler {
        r#""11":{"class_type":"KSampler","inputs":{"sampler_name":"euler_ancestral","scheduler":"normal","seed":1311178179,"steps":25,"cfg":5,"denoise":1,"model":["resource-stack",0],"positive":["6",0],"negative":["7",0],"latent_image":["5",0]},"_meta":{"title":"KSampler"}},
        "5":{"class_type":"EmptyLatentImage","inputs":{"width":832,"height":1216,"batch_size":1}},
        "13":{"class_type":"VAEDecode","inputs":{"samples":["11",0],"vae":["resource-stack",2]}},
        "12":{"class_type":"SaveImage","inputs":{"filename_prefix":"ComfyUI","images":["13",0]}},"#
    } else {
        r#""17":{"class_type":"LoadImage","inputs":{"image":"https://orchestration.civitai.com/v2/consumer/blobs/X.jpeg","upload":"image"}},
        "19":{"class_type":"ImageUpscaleWithModel","inputs":{"upscale_model":["20",0],"image":["17",0]}},
        "20":{"class_type":"UpscaleModelLoader","inputs":{"model_name":"urn:air:other:upscaler:civitai:147759@164821"}},
        "12":{"class_type":"SaveImage","inputs":{"filename_prefix":"ComfyUI","images":["19",0]}},"#
    };
    format!(
        r#"{{"resource-stack":{{"class_type":"CheckpointLoaderSimple","inputs":{{"ckpt_name":"urn:air:sdxl:checkpoint:civitai:827184@2514310"}}}},
        "6":{{"class_type":"smZ CLIPTextEncode","inputs":{{"text":"embedding:urn:air:sdxl:embedding:civitai:1139034@1280107, general, masterpiece, 1girl, solo","parser":"A1111","text_g":"","text_l":"","ascore":2.5,"clip":["resource-stack",1]}},"_meta":{{"title":"Positive"}}}},
        "7":{{"class_type":"smZ CLIPTextEncode","inputs":{{"text":"embedding:urn:air:sdxl:embedding:civitai:1139034@1280107, bad quality","parser":"A1111","text_g":"","text_l":"","clip":["resource-stack",1]}},"_meta":{{"title":"Negative"}}}},
        {sampler}
        "extra":{{"airs":["urn:air:sdxl:checkpoint:civitai:827184@2514310","urn:air:sdxl:embedding:civitai:1139034@1280107"]}},
        "extraMetadata":"{{\"prompt\":\"general, masterpiece, 1girl, solo\",\"negativePrompt\":\"bad quality\",\"cfgScale\":5,\"sampler\":\"Euler a\",\"clipSkip\":2,\"steps\":25,\"seed\":1311178179,\"width\":1024,\"height\":1024,\"baseModel\":\"Illustrious\",\"transformations\":[{{\"type\":\"upscale\",\"upscaleWidth\":1536,\"upscaleHeight\":1536}}]}}"}}"#
    )
}

#[test]
fn civitai_comfy_jpeg_with_air_urns() {
    let tiff = exif::tests::tiff(
        false,
        &[(0x9286, 7, unicode_comment(&civitai_graph(true), true))],
    );
    let m = read(&jpeg_with_exif(&tiff));
    assert_eq!(m.tool.as_deref(), Some("civitai"));
    assert_eq!(m.parser.as_deref(), Some("comfyui-graph"));
    assert_eq!(
        m.positive.as_deref(),
        Some(
            "embedding:urn:air:sdxl:embedding:civitai:1139034@1280107, general, masterpiece, 1girl, solo"
        )
    );
    assert!(
        m.negative
            .as_deref()
            .is_some_and(|n| n.ends_with("bad quality"))
    );
    assert_eq!(
        (m.seed, m.steps, m.size),
        (Some(1311178179), Some(25), Some((832, 1216)))
    );
    assert_eq!(
        m.model.as_deref(),
        Some("urn:air:sdxl:checkpoint:civitai:827184@2514310")
    );
    // The upscale-only request: no sampler; the prompt comes from extraMetadata.
    let tiff = exif::tests::tiff(
        true,
        &[(0x9286, 7, unicode_comment(&civitai_graph(false), false))],
    );
    let m = read(&jpeg_with_exif(&tiff));
    assert_eq!(m.tool.as_deref(), Some("civitai"));
    assert_eq!(
        m.positive.as_deref(),
        Some("general, masterpiece, 1girl, solo")
    );
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(1311178179), Some(25), Some(5.0))
    );
    assert_eq!(m.size, Some((1024, 1024)));
}

const SIMPLE_GRAPH: &str = r#"{"CheckpointLoader_Base": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "waiIllustriousSDXL_v160.safetensors"}},
    "EmptyLatentImage": {"class_type": "EmptyLatentImage", "inputs": {"batch_size": 1, "height": 1024, "width": 1024}},
    "PositiveCLIP_Base": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["CheckpointLoader_Base", 1], "text": "general, masterpiece, 1girl, solo, hatsune miku"}},
    "NegativeCLIP_Base": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["CheckpointLoader_Base", 1], "text": "bad quality, worst quality"}},
    "Sampler": {"class_type": "KSampler", "inputs": {"cfg": 5, "denoise": 1, "latent_image": ["EmptyLatentImage", 0], "model": ["CheckpointLoader_Base", 0], "negative": ["NegativeCLIP_Base", 0], "positive": ["PositiveCLIP_Base", 0], "sampler_name": "euler_ancestral", "scheduler": "karras", "seed": 602057552457611, "steps": 20}},
    "VAEDecode": {"class_type": "VAEDecode", "inputs": {"samples": ["Sampler", 0], "vae": ["CheckpointLoader_Base", 2]}},
    "14": {"class_type": "SaveImageExtended", "inputs": {"filename_prefix": "ComfyUI", "filename_keys": "sampler_name, cfg, steps, %F %H-%M-%S", "delimiter": "-", "save_metadata": true, "images": ["VAEDecode", 0]}}}"#;

#[test]
fn save_image_extended_webp_and_jpeg() {
    let workflow = r#"Workflow: {"id": "0", "nodes": [{"id": "Sampler", "type": "KSampler", "outputs": [{"name": "LATENT", "type": "LATENT"}]}], "links": []}"#;
    let mut make = format!("Prompt: {SIMPLE_GRAPH}").into_bytes();
    make.push(0);
    let mut desc = workflow.as_bytes().to_vec();
    desc.push(0);
    let tiff = exif::tests::tiff(false, &[(0x010E, 2, desc), (0x010F, 2, make)]);
    for file in [webp_with_exif(&tiff), jpeg_with_exif(&tiff)] {
        let m = read(&file);
        assert_eq!(m.tool.as_deref(), Some("comfyui"));
        assert_eq!(m.parser.as_deref(), Some("comfyui-graph"));
        assert_eq!(
            m.positive.as_deref(),
            Some("general, masterpiece, 1girl, solo, hatsune miku")
        );
        assert_eq!(m.seed, Some(602057552457611));
        assert_eq!(m.extra.first().map(|e| e.1.as_str()), Some("exif:Make"));
        let keys: Vec<&str> = m.raw.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["exif:ImageDescription", "exif:Make"]);
    }
}

#[test]
fn hf_space_and_ruined_fooocus_png() {
    let hf = r#"{"prompt": "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, \u30c6\u30b9\u30c8", "negative_prompt": "bad quality, worst quality, worst detail, sketch, censor, \n", "resolution": "1024 x 1024", "guidance_scale": 5.5, "num_inference_steps": 24, "seed": 443800072, "sampler": "DPM++ 2M Karras", "Model": "WAI NSFW illustrious SDXL v16", "Model hash": "BDB59BAC77D94AE7A55FF893170F9554C3F349E48A1B73C0C17C0B7C6F4D41A2", "use_upscaler": null}"#;
    let m = read(&png_text("parameters", hf));
    assert_eq!(
        (m.tool.as_deref(), m.parser.as_deref()),
        (Some("hf-space"), Some("hf-space"))
    );
    assert!(
        m.positive
            .as_deref()
            .is_some_and(|p| p.ends_with("hatsune miku, テスト"))
    );
    assert_eq!(
        (m.seed, m.steps, m.cfg, m.size),
        (Some(443800072), Some(24), Some(5.5), Some((1024, 1024)))
    );
    assert_eq!(m.sampler.as_deref(), Some("DPM++ 2M Karras"));
    assert_eq!(m.model.as_deref(), Some("WAI NSFW illustrious SDXL v16"));
    let ruined = r#"{"Prompt": "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #\u30c6\u30b9\u30c8", "Negative": "bad quality, worst quality, worst detail, sketch, censor, ", "steps": 30, "cfg": 8, "width": 1024, "height": 1024, "seed": 2020047614, "sampler_name": "dpmpp_2m_sde_gpu", "scheduler": "karras", "base_model_name": "waiNSFWIllustrious_v150.safetensors", "base_model_hash": "BEFC694A", "loras": [], "start_step": 0, "denoise": null, "clip_skip": 1, "software": "RuinedFooocus"}"#;
    let m = read(&png_text("parameters", ruined));
    assert_eq!(m.tool.as_deref(), Some("ruined-fooocus"));
    assert_eq!(
        m.positive.as_deref(),
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #テスト"
        )
    );
    assert_eq!(
        m.negative.as_deref(),
        Some("bad quality, worst quality, worst detail, sketch, censor,")
    );
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(2020047614), Some(30), Some(8.0))
    );
    assert_eq!(
        m.model.as_deref(),
        Some("waiNSFWIllustrious_v150.safetensors")
    );
    assert_eq!(m.sampler.as_deref(), Some("dpmpp_2m_sde_gpu"));
}

#[test]
fn stability_matrix_and_tensorart_png() {
    let graph = SIMPLE_GRAPH.replace("602057552457611", "395309383");
    let params = r#"{"PositivePrompt":"general, masterpiece, 1girl, solo, hatsune miku, #\u30C6\u30B9\u30C8\r\n","NegativePrompt":"bad quality, worst quality\r\n","Steps":20,"Sampler":"Euler Ancestral Karras","CfgScale":5,"Seed":395309383,"Height":1024,"Width":1024,"ModelHash":"A5F58EB1","ModelName":"waiIllustriousSDXL_v160.safetensors"}"#;
    let m = read(&png_texts(&[
        ("prompt", &graph),
        (
            "parameters",
            "general, masterpiece\nSteps: 20, Seed: 395309383",
        ),
        ("parameters-json", params),
        ("smproj", r#"{"Version":2,"ProjectType":"TextToImage"}"#),
    ]));
    assert_eq!(m.tool.as_deref(), Some("stability-matrix"));
    assert_eq!(m.parser.as_deref(), Some("stability-matrix"));
    assert_eq!(
        m.positive.as_deref(),
        Some("general, masterpiece, 1girl, solo, hatsune miku, #テスト")
    );
    assert_eq!(m.sampler.as_deref(), Some("Euler Ancestral Karras"));
    assert_eq!(
        (m.seed, m.steps, m.size),
        (Some(395309383), Some(20), Some((1024, 1024)))
    );
    let data = r#"{"prompt":"general, masterpiece, 1girl, solo, hatsune miku","negativePrompt":"bad quality, worst quality","width":1024,"height":1024,"steps":25,"cfgScale":7,"seed":"-1","clipSkip":2,"baseModel":{"modelFileName":"WAI-Nsfw-Illustrious-16","hash":"A5F58EB1"}}"#;
    let graph = SIMPLE_GRAPH.replace("CheckpointLoaderSimple", "ECHOCheckpointLoaderSimple");
    let m = read(&png_texts(&[("generation_data", data), ("prompt", &graph)]));
    assert_eq!(m.tool.as_deref(), Some("tensorart"));
    assert_eq!(
        m.positive.as_deref(),
        Some("general, masterpiece, 1girl, solo, hatsune miku")
    );
    assert_eq!(m.model.as_deref(), Some("WAI-Nsfw-Illustrious-16"));
    // The graph's seed, not the request's "-1".
    assert_eq!(m.seed, Some(602057552457611));
}

/// SeargeSDXL 4.x "magic box" workflow (examples/example-1-quick-iteration.png):
/// no sampler node at all; the prompts are text inputs of a prompt adapter
/// that feeds an opaque data stream.
#[test]
fn searge_data_stream_workflow_without_sampler() {
    let graph = r#"{
      "3": {"class_type": "SeargeTextInputV2", "inputs": {"prompt": "gordon freeman from half life, glasses, shaved head, beard"}},
      "5": {"class_type": "SeargeTextInputV2", "inputs": {"prompt": "gordon freeman from half life, glasses"}},
      "6": {"class_type": "SeargeTextInputV2", "inputs": {"prompt": "cinematic photo <prompt>, 35mm photograph, film, bokeh"}},
      "7": {"class_type": "SeargeTextInputV2", "inputs": {"prompt": "helmet"}},
      "8": {"class_type": "SeargeTextInputV2", "inputs": {"prompt": "drawing, painting, crayon, sketch"}},
      "19": {"class_type": "SeargePreviewImage", "inputs": {"enabled": true, "images": ["554", 0]}},
      "506": {"class_type": "SeargeMagicBox", "inputs": {"stage": "load checkpoints", "input_from": "data stream", "output_to": "data stream", "data": ["537", 0]}},
      "533": {"class_type": "SeargeMagicBox", "inputs": {"stage": "sampling", "input_from": "data stream", "output_to": "data stream", "data": ["506", 0]}},
      "534": {"class_type": "SeargeMagicBox", "inputs": {"stage": "vae decode sampled", "input_from": "data stream", "output_to": "custom stage & data stream", "data": ["533", 0]}},
      "537": {"class_type": "SeargeMagicBox", "inputs": {"stage": "pre-process data", "input_from": "data stream", "output_to": "data stream", "data": ["628", 0]}},
      "554": {"class_type": "SeargeCustomAfterVaeDecode", "inputs": {"custom_output": ["534", 1]}},
      "609": {"class_type": "SeargeModelSelector", "inputs": {"base_checkpoint": "sd_xl_base_1.0_0.9vae.safetensors", "refiner_checkpoint": "sd_xl_refiner_1.0_0.9vae.safetensors", "vae_checkpoint": "sdxl_vae.safetensors", "data": ["622", 0]}},
      "610": {"class_type": "SeargeGenerationParameters", "inputs": {"seed": 56421668217, "image_size_preset": "1344x768 (16:9)", "image_width": 1024, "image_height": 1024, "steps": 30, "cfg": 5, "sampler_preset": "1 - DPM++ 2M Karras", "sampler_name": "dpmpp_2m", "scheduler": "karras", "base_vs_refiner_ratio": 0.8, "data": ["609", 0]}},
      "612": {"class_type": "SeargeImageSaving", "inputs": {"save_folder": "output/Searge-SDXL-%date%", "generated_image_name": "generated-%seed%", "data": ["610", 0]}},
      "622": {"class_type": "SeargePromptAdapterV2", "inputs": {"main_prompt": ["3", 0], "secondary_prompt": ["5", 0], "style_prompt": ["6", 0], "negative_main_prompt": ["7", 0], "negative_secondary_prompt": ["8", 0], "negative_style_prompt": ["8", 0]}},
      "628": {"class_type": "SeargePipelineStart", "inputs": {"wf_version": "4.3", "data": ["612", 0]}}
    }"#;
    let m = read(&png_text("prompt", graph));
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
    assert_eq!(
        m.positive.as_deref(),
        Some("gordon freeman from half life, glasses, shaved head, beard")
    );
    assert_eq!(m.negative.as_deref(), Some("helmet"));
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(56421668217), Some(30), Some(5.0))
    );
    assert_eq!(
        m.model.as_deref(),
        Some("sd_xl_base_1.0_0.9vae.safetensors")
    );
    assert!(
        m.warnings.iter().any(|w| w.contains("by input name")),
        "{:?}",
        m.warnings
    );
}

/// SeargeSDXL 3.x: prompts typed into `SeargeInput1`, carried on a parameter
/// bus and taken out by name (`SeargeOutput1`), combined, encoded by
/// `SeargeSDXLPromptEncoder` (pos_g/pos_l/pos_r, neg_*), selected by a
/// conditioning muxer and sampled by `SeargeSDXLSampler2` (base_/refiner_
/// inputs). The output names come from the UI workflow in the same file.
#[test]
fn searge_parameter_bus_through_custom_nodes() {
    let graph = r#"{
      "1": {"class_type": "SeargeInput1", "inputs": {"main_prompt": "a fox in the snow, golden hour", "secondary_prompt": "fox, snow", "style_prompt": "photograph, 35mm", "negative_prompt": "blurry, lowres", "negative_style": "drawing"}},
      "2": {"class_type": "SeargeInput2", "inputs": {"seed": 771, "image_width": 1024, "image_height": 1024, "steps": 30, "cfg": 7, "sampler_name": "dpmpp_2m", "scheduler": "karras", "inputs": ["1", 0]}},
      "3": {"class_type": "SeargeParameterProcessor", "inputs": {"inputs": ["2", 0]}},
      "4": {"class_type": "SeargeOutput1", "inputs": {"parameters": ["3", 0]}},
      "5": {"class_type": "SeargeOutput2", "inputs": {"parameters": ["3", 0]}},
      "10": {"class_type": "SeargePromptCombiner", "inputs": {"prompt1": ["4", 1], "separator": ", ", "prompt2": ["4", 3]}},
      "11": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
      "12": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"}},
      "13": {"class_type": "SeargeSDXLPromptEncoder", "inputs": {"base_clip": ["11", 1], "refiner_clip": ["12", 1], "pos_g": ["10", 0], "pos_l": ["4", 2], "pos_r": ["10", 0], "neg_g": ["4", 4], "neg_l": ["4", 4], "neg_r": ["4", 4], "base_width": 4096, "base_height": 4096, "crop_w": 0, "crop_h": 0, "target_width": 4096, "target_height": 4096, "pos_ascore": 6, "neg_ascore": 2.5, "refiner_width": 2048, "refiner_height": 2048}},
      "14": {"class_type": "SeargeConditioningMuxer5", "inputs": {"input0": ["13", 0], "input1": ["13", 0], "input2": ["13", 0], "input3": ["13", 0], "input4": ["13", 0], "input_selector": 0}},
      "15": {"class_type": "SeargeConditioningMuxer5", "inputs": {"input0": ["13", 1], "input1": ["13", 1], "input2": ["13", 1], "input3": ["13", 1], "input4": ["13", 1], "input_selector": 0}},
      "16": {"class_type": "EmptyLatentImage", "inputs": {"width": ["5", 2], "height": ["5", 3], "batch_size": 1}},
      "17": {"class_type": "SeargeSDXLSampler2", "inputs": {"base_model": ["11", 0], "base_positive": ["14", 0], "base_negative": ["15", 0], "refiner_model": ["12", 0], "refiner_positive": ["13", 2], "refiner_negative": ["13", 3], "latent_image": ["16", 0], "noise_seed": ["5", 1], "steps": ["5", 4], "cfg": ["5", 5], "sampler_name": ["5", 6], "scheduler": ["5", 7], "base_ratio": 0.8, "denoise": 1}},
      "18": {"class_type": "VAEDecode", "inputs": {"samples": ["17", 0], "vae": ["11", 2]}},
      "19": {"class_type": "SeargeImageSave", "inputs": {"images": ["18", 0], "filename_prefix": "SeargeSDXL-%date%/Image"}}
    }"#;
    let outputs = |id: u32, names: &[&str]| {
        let outs: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"name": "{n}", "type": "STRING"}}"#))
            .collect();
        format!(
            r#"{{"id": {id}, "type": "x", "outputs": [{}]}}"#,
            outs.join(",")
        )
    };
    let workflow = format!(
        r#"{{"nodes": [{}, {}], "links": []}}"#,
        outputs(
            4,
            &[
                "parameters",
                "main_prompt",
                "secondary_prompt",
                "style_prompt",
                "negative_prompt",
                "negative_style"
            ]
        ),
        outputs(
            5,
            &[
                "parameters",
                "seed",
                "image_width",
                "image_height",
                "steps",
                "cfg",
                "sampler_name",
                "scheduler"
            ]
        ),
    );
    let m = read(&png_texts(&[("prompt", graph), ("workflow", &workflow)]));
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
    let p = m.positive.unwrap_or_default();
    assert!(
        p.starts_with("a fox in the snow, golden hour, photograph, 35mm"),
        "{p:?} {:?}",
        m.warnings
    );
    assert_eq!(m.negative.as_deref(), Some("blurry, lowres"));
    assert_eq!(m.model.as_deref(), Some("sd_xl_base_1.0.safetensors"));
}

/// SeargeSDXL 2.x style: `SeargePromptText` nodes straight into the prompt
/// encoder's pos_g/neg_g inputs, sampled by `SeargeSDXLSampler`; no workflow.
#[test]
fn searge_prompt_encoder_without_workflow() {
    let graph = r#"{
      "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
      "12": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"}},
      "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
      "30": {"class_type": "SeargePromptText", "inputs": {"prompt": "a castle on a cliff, dramatic sky"}},
      "31": {"class_type": "SeargePromptText", "inputs": {"prompt": "castle, cliff"}},
      "32": {"class_type": "SeargePromptText", "inputs": {"prompt": "text, watermark"}},
      "33": {"class_type": "SeargeSDXLPromptEncoder", "inputs": {"base_clip": ["4", 1], "refiner_clip": ["12", 1], "pos_g": ["30", 0], "pos_l": ["31", 0], "pos_r": ["30", 0], "neg_g": ["32", 0], "neg_l": ["32", 0], "neg_r": ["32", 0], "base_width": 4096, "base_height": 4096}},
      "34": {"class_type": "SeargeSDXLSampler", "inputs": {"base_model": ["4", 0], "base_positive": ["33", 0], "base_negative": ["33", 1], "refiner_model": ["12", 0], "refiner_positive": ["33", 2], "refiner_negative": ["33", 3], "latent_image": ["5", 0], "noise_seed": 8, "steps": 30, "cfg": 7, "sampler_name": "dpmpp_2m", "scheduler": "karras", "base_ratio": 0.8, "denoise": 1}},
      "8": {"class_type": "VAEDecode", "inputs": {"samples": ["34", 0], "vae": ["4", 2]}},
      "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}}
    }"#;
    let m = read(&png_text("prompt", graph));
    assert_eq!(
        m.positive.as_deref(),
        Some("a castle on a cliff, dramatic sky\ncastle, cliff")
    );
    assert_eq!(m.negative.as_deref(), Some("text, watermark"));
    assert_eq!(
        (m.seed, m.steps, m.size),
        (Some(8), Some(30), Some((1024, 1024)))
    );
    assert_eq!(m.sampler.as_deref(), Some("dpmpp_2m"));
    assert_eq!(m.model.as_deref(), Some("sd_xl_base_1.0.safetensors"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

/// A graph whose extracted prompt was a lone comma: the first-pass encoder
/// holds "," (its real text came from a node whose output is not stored);
/// the hires pass has the prompt. Punctuation is not a prompt: the next
/// candidate is used, with a warning.
#[test]
fn lone_comma_prompt_falls_back_with_warning() {
    let graph = r#"{
      "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}},
      "2": {"class_type": "CLIPTextEncode", "inputs": {"text": ",", "clip": ["1", 1]}},
      "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["1", 1]}},
      "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
      "5": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal", "denoise": 1, "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0]}},
      "6": {"class_type": "LatentUpscaleBy", "inputs": {"upscale_method": "nearest-exact", "scale_by": 1.5, "samples": ["5", 0]}},
      "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk, , ,", "clip": ["1", 1]}},
      "8": {"class_type": "KSampler", "inputs": {"seed": 2, "steps": 10, "cfg": 7, "sampler_name": "euler", "scheduler": "normal", "denoise": 0.5, "model": ["1", 0], "positive": ["7", 0], "negative": ["3", 0], "latent_image": ["6", 0]}},
      "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
      "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0]}}
    }"#;
    let m = read(&png_text("prompt", graph));
    assert_eq!(m.positive.as_deref(), Some("a lighthouse at dusk, , ,"));
    // Everything else is the first pass's.
    assert_eq!(
        (m.seed, m.steps, m.size),
        (Some(1), Some(20), Some((512, 768)))
    );
    assert!(
        m.warnings.iter().any(|w| w.contains("first pass 5")),
        "{:?}",
        m.warnings
    );
    assert!(
        m.extra
            .iter()
            .any(|(k, v)| k == "pass 2: KSampler 8" && v.contains("steps 10"))
    );
    // A comma alone in the whole file: no prompt at all, and the A1111 text
    // next to it is used instead.
    let lone = graph.replace("a lighthouse at dusk, , ,", " , ");
    let m = read(&png_texts(&[
        ("prompt", &lone),
        ("parameters", ",\nSteps: 20, Sampler: Euler, Seed: 1"),
    ]));
    assert_eq!(m.positive, None);
    assert_eq!(m.tool.as_deref(), Some("comfyui"));
    assert!(
        m.warnings.iter().any(|w| w.contains("no letter or digit")),
        "{:?}",
        m.warnings
    );
    let m = read(&png_texts(&[
        ("prompt", &lone),
        (
            "parameters",
            "a red boat\nSteps: 20, Sampler: Euler, Seed: 1",
        ),
    ]));
    assert_eq!(
        (m.positive.as_deref(), m.parser.as_deref()),
        (Some("a red boat"), Some("a1111-text"))
    );
}

#[test]
fn novelai_v4_characters_are_kept() {
    let comment = r#"{"prompt": "2girls, 1boy, dancing", "steps": 28, "height": 1024, "width": 1024, "scale": 5.0, "seed": 447042893, "sampler": "k_euler_ancestral", "noise_schedule": "karras", "v4_prompt": {"caption": {"base_caption": "2girls, 1boy, dancing", "char_captions": [{"char_caption": "girl, hatsune miku, spread arms", "centers": [{"x": 0.5, "y": 0.3}]}, {"char_caption": "boy, kagamine len", "centers": [{"x": 0.3, "y": 0.7}]}]}}, "v4_negative_prompt": {"caption": {"base_caption": "lowres", "char_captions": [{"char_caption": "", "centers": []}, {"char_caption": "frown", "centers": []}]}}, "uc": "lowres"}"#;
    let bundle = serde_json::json!({
        "Comment": comment,
        "Software": "NovelAI",
        "Source": "NovelAI Diffusion V4.5 4BDE2A90",
        "Description": "\u{0}\u{0}\u{0}\u{0}2girls, 1boy, dancing",
    })
    .to_string();
    let mut uc = b"ASCII\0\0\0".to_vec();
    uc.extend(bundle.as_bytes());
    let tiff = exif::tests::tiff(
        false,
        &[
            (0x0131, 2, b"NovelAI Diffusion V4.5 4BDE2A90\0".to_vec()),
            (0x9286, 7, uc),
        ],
    );
    let m = read(&webp_with_exif(&tiff));
    assert_eq!(m.tool.as_deref(), Some("novelai"));
    assert_eq!(m.positive.as_deref(), Some("2girls, 1boy, dancing"));
    assert_eq!(m.negative.as_deref(), Some("lowres"));
    assert_eq!(
        (m.seed, m.steps, m.cfg),
        (Some(447042893), Some(28), Some(5.0))
    );
    assert_eq!(m.model.as_deref(), Some("NovelAI Diffusion V4.5 4BDE2A90"));
    let chars: Vec<(&str, &str)> = m
        .extra
        .iter()
        .filter(|(k, _)| k.starts_with("character"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        chars,
        [
            ("character 1", "girl, hatsune miku, spread arms"),
            ("character 2", "boy, kagamine len"),
            ("character 2 negative", "frown"),
        ]
    );
}

/// Parser names and missing fields are reported for every recognised file.
#[test]
fn parser_and_missing_fields() {
    let m = read(&png_text("parameters", "a cat\nSteps: 20, Seed: 5"));
    assert_eq!(m.parser.as_deref(), Some("a1111-text"));
    assert_eq!(
        m.missing_fields(),
        ["negative_prompt", "sampler", "cfg", "model", "gen_size"]
    );
    let m = read(&png_text("Comment", "just a comment"));
    assert_eq!((m.parser.as_deref(), m.tool.as_deref()), (None, None));
    assert_eq!(m.missing_fields().len(), FIELDS.len());
    for p in ["novelai", "comfyui-graph", "a1111-text", "c2pa"] {
        assert!(PARSERS.contains(&p));
    }
}
