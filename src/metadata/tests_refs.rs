//! The metadata parser against the reference parsers, field by field, on
//! every image of `../shared/fixtures` and `../shared/metadata-samples`.
//!
//! `tests/data/metadata_refs.json` holds, per file, what sd-prompt-reader
//! 1.3.4.post2 and sd-parsers 0.6 read (written by
//! `scripts/gen_metadata_refs.py`). The reference value of a field is
//! sd-prompt-reader's when it has one, else sd-parsers'; a pair without any
//! reference value is counted, not compared. Every (file, field) pair where
//! Assay differs on purpose is listed in [`DIFFERENCES`] with the reason; an
//! unlisted difference fails the test, and so does a listed one that no
//! longer differs. At least 95 % of the compared pairs must be equal.
//!
//! Prompts: every sample that carries a prompt must yield it (prefix match
//! after whitespace normalisation), the expected text being the reference
//! parsers' or, where neither reads the file, the value in sd-metadata's own
//! tests ([`EXPECTED_PROMPTS`]). Files without generation metadata must keep
//! their raw carriers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::tests::{fixtures_dir, read_file};
use super::*;

const FIELDS: [&str; 9] = [
    "tool", "prompt", "negative", "seed", "steps", "sampler", "cfg", "model", "size",
];

/// Reasons shared by several entries of [`DIFFERENCES`].
const JSON_AS_TEXT: &str = "sd-prompt-reader reads JSON `parameters` as A1111 text (its prompt is the whole JSON); the JSON is read as JSON here, as sd-parsers and sd-metadata do";
const IMAGE_SAVER: &str = "Comfy Image Saver's A1111 text holds placeholders (prompt `unknown`, seed 0, another model); the ComfyUI graph in the same PNG is what ran and is read first (sd-metadata reads the graph too)";
const FIRST_PASS: &str = "stage C is the first pass (read, as sd-parsers does); sd-prompt-reader reports the last sampler (stage B), which is kept as the extra field `pass 2`";
const NOVELAI_SOURCE: &str = "the `Source` text is kept whole (the trailing hash names the model build); sd-parsers drops the hash";
const LATIN1: &str = "PNG tEXt holding UTF-8 is decoded as UTF-8 (`テスト`); sd-prompt-reader decodes Latin-1 and gets mojibake";

/// Deliberate differences from the reference value: (file, field, reason).
const DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "fixtures/generated/flux_depth_lora_example.png",
        "negative",
        "the sampler's negative input is output 1 of InstructPixToPixConditioning, fed by the empty encoder 7: no negative prompt; sd-parsers reports the positive text",
    ),
    (
        "fixtures/generated/fooocus1_cropped.png",
        "tool",
        JSON_AS_TEXT,
    ),
    (
        "fixtures/generated/fooocus1_cropped.png",
        "prompt",
        JSON_AS_TEXT,
    ),
    (
        "fixtures/generated/novelai-full.png",
        "model",
        NOVELAI_SOURCE,
    ),
    (
        "fixtures/generated/stable_cascade__image_to_image.png",
        "seed",
        FIRST_PASS,
    ),
    (
        "fixtures/generated/stable_cascade__image_to_image.png",
        "steps",
        FIRST_PASS,
    ),
    (
        "fixtures/generated/stable_cascade__image_to_image.png",
        "cfg",
        FIRST_PASS,
    ),
    (
        "fixtures/generated/stable_cascade__image_to_image.png",
        "model",
        FIRST_PASS,
    ),
    (
        "metadata-samples/jpg/comfyui-comfy-image-saver.jpeg",
        "tool",
        "its A1111 text says `Version: ComfyUI` (written by the Comfy Image Saver node), so the tool is ComfyUI",
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "prompt",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "negative",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "seed",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "sampler",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "model",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        "size",
        IMAGE_SAVER,
    ),
    (
        "metadata-samples/png/comfyui-saveimagewithmetadata.png",
        "sampler",
        "read from the ComfyUI graph (`euler_ancestral`, scheduler `karras` kept as an extra field); the node's A1111 text joins them (`euler_ancestral_karras`)",
    ),
    (
        "metadata-samples/png/huggingface-space-upscale.png",
        "tool",
        JSON_AS_TEXT,
    ),
    (
        "metadata-samples/png/huggingface-space-upscale.png",
        "prompt",
        JSON_AS_TEXT,
    ),
    (
        "metadata-samples/png/novelai-curated.png",
        "model",
        NOVELAI_SOURCE,
    ),
    (
        "metadata-samples/png/novelai-full-3char.png",
        "model",
        NOVELAI_SOURCE,
    ),
    (
        "metadata-samples/png/novelai-ref.png",
        "model",
        NOVELAI_SOURCE,
    ),
    (
        "metadata-samples/png/stability-matrix-hires.png",
        "prompt",
        LATIN1,
    ),
    (
        "metadata-samples/png/stability-matrix-upscale.png",
        "prompt",
        LATIN1,
    ),
];

/// Expected prompt prefixes for samples neither reference parser reads, from
/// enslo/sd-metadata@0270638 `packages/core/tests/samples/parsers/*.test.ts`
/// (or the fixtures' MANIFEST.tsv); `None` = the file carries no prompt.
const EXPECTED_PROMPTS: &[(&str, Option<&str>)] = &[
    ("metadata-samples/c2pa/png/gemini_unknown.png", None),
    ("metadata-samples/jpg/gimp.jpg", None),
    ("metadata-samples/png/empty.png", None),
    ("metadata-samples/png/gimp-en.png", None),
    ("metadata-samples/webp/empty.webp", None),
    ("metadata-samples/webp/gimp.webp", None),
    (
        "metadata-samples/jpg/civitai-upscale.jpg",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #テスト",
        ),
    ),
    (
        "metadata-samples/jpg/comfyui-save-image-extended.jpeg",
        Some("general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, "),
    ),
    (
        "metadata-samples/png/comfyui-anima.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, holding sign, cowboy shot, looking at viewer, smile.\nA Beautiful and high quality anime illustrations.\nShe's holding a rectangular sign out in front of her that reads \"初音ミク\".\n",
        ),
    ),
    // The reference parsers read the placeholder A1111 text (see DIFFERENCES).
    (
        "metadata-samples/png/comfyui-comfy-image-saver.png",
        Some("general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, "),
    ),
    (
        "metadata-samples/png/comfyui-comfyroll.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #テスト\n",
        ),
    ),
    (
        "metadata-samples/png/comfyui-rgthree.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, テスト, ",
        ),
    ),
    (
        "metadata-samples/png/huggingface-space-upscale.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, テスト",
        ),
    ),
    (
        "metadata-samples/png/stability-matrix-hires.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \r\n1girl, solo, hatsune miku, #テスト\r\n",
        ),
    ),
    (
        "metadata-samples/png/stability-matrix-upscale.png",
        Some(
            "general, masterpiece, best quality, amazing quality, \r\n1girl, solo, hatsune miku, #テスト\r\n",
        ),
    ),
    (
        "metadata-samples/webp/comfyui-animated-webp.webp",
        Some(
            "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, テスト, ",
        ),
    ),
    (
        "metadata-samples/webp/novelai-full-3char.webp",
        Some(
            "2girls, 1boy, dancing, #テスト\nwhite background, , very aesthetic, masterpiece, no text",
        ),
    ),
];

/// Reference tool names -> the Assay tools they cover.
fn tool_matches(reference: &str, ours: Option<&str>) -> bool {
    let Some(ours) = ours else { return false };
    let accepted: &[&str] = match reference {
        // AUTOMATIC1111-style text, whoever wrote it.
        "A1111 webUI" | "AUTOMATIC1111" => &["a1111", "forge", "sdnext", "civitai"],
        "ComfyUI" => &["comfyui", "civitai", "tensorart", "stability-matrix"],
        // sd-prompt-reader's name for a PNG with both A1111 text and a graph.
        "ComfyUI (A1111 compatible)" => &["comfyui", "stability-matrix"],
        "NovelAI" => &["novelai"],
        "InvokeAI" => &["invokeai", "invokeai-legacy"],
        "StableSwarmUI" => &["swarmui"],
        "Fooocus" => &["fooocus"],
        "Easy Diffusion" => &["easydiffusion"],
        "Draw Things" => &["drawthings"],
        _ => &[],
    };
    accepted.contains(&ours)
}

fn norm_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The shared folder (parent of the fixtures), when present.
fn shared_dir() -> Option<PathBuf> {
    fixtures_dir().and_then(|f| f.parent().map(Path::to_path_buf))
}

fn refs() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/metadata_refs.json");
    let text = std::fs::read_to_string(&path).expect("read metadata_refs.json");
    serde_json::from_str(&text).expect("parse metadata_refs.json")
}

/// Our value of a field, as JSON comparable with the references'.
fn ours(m: &GenerationMetadata, field: &str) -> Value {
    match field {
        "tool" => m.tool.clone().map_or(Value::Null, Value::from),
        "prompt" => m.positive.clone().map_or(Value::Null, Value::from),
        "negative" => m.negative.clone().map_or(Value::Null, Value::from),
        "seed" => m.seed.map_or(Value::Null, Value::from),
        "steps" => m.steps.map_or(Value::Null, Value::from),
        "sampler" => m.sampler.clone().map_or(Value::Null, Value::from),
        "cfg" => m.cfg.map_or(Value::Null, Value::from),
        "model" => m.model.clone().map_or(Value::Null, Value::from),
        "size" => m.size.map_or(Value::Null, |(w, h)| Value::from(vec![w, h])),
        _ => Value::Null,
    }
}

/// The reference value of a field: sd-prompt-reader's, else sd-parsers'.
fn reference(entry: &Value, field: &str) -> Option<(String, Value)> {
    ["sd-prompt-reader", "sd-parsers"].iter().find_map(|p| {
        let v = entry.get(p)?.get(field)?;
        (!v.is_null()).then(|| ((*p).to_owned(), v.clone()))
    })
}

fn equal(field: &str, ours: &Value, reference: &Value) -> bool {
    match field {
        "tool" => tool_matches(reference.as_str().unwrap_or(""), ours.as_str()),
        "prompt" | "negative" => match (ours.as_str(), reference.as_str()) {
            (Some(a), Some(b)) => norm_ws(a) == norm_ws(b),
            _ => false,
        },
        "cfg" => match (ours.as_f64(), reference.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => false,
        },
        _ => ours == reference,
    }
}

#[test]
fn reference_parsers_field_by_field() {
    let Some(shared) = shared_dir() else { return };
    let refs = refs();
    let files = refs["files"].as_object().expect("files");
    let listed: HashSet<(&str, &str)> = DIFFERENCES.iter().map(|(f, k, _)| (*f, *k)).collect();
    let (mut compared, mut same, mut deliberate, mut unreferenced) =
        (0usize, 0usize, 0usize, 0usize);
    // The same two counts for metadata-samples alone (reported).
    let (mut samples_compared, mut samples_same) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut seen_differences = HashSet::new();
    for (file, entry) in files {
        let path = shared.join(file);
        if !path.is_file() {
            failures.push(format!("{file}: missing on disk"));
            continue;
        }
        let m = read_file(&path);
        let is_sample = file.starts_with("metadata-samples/");
        for field in FIELDS {
            let Some((who, want)) = reference(entry, field) else {
                unreferenced += 1;
                continue;
            };
            compared += 1;
            samples_compared += usize::from(is_sample);
            let got = ours(&m, field);
            if equal(field, &got, &want) {
                same += 1;
                samples_same += usize::from(is_sample);
                continue;
            }
            if listed.contains(&(file.as_str(), field)) {
                deliberate += 1;
                seen_differences.insert((file.clone(), field));
                continue;
            }
            let clip = |v: &Value| util::clip(&v.to_string(), 120);
            failures.push(format!(
                "(\"{file}\", \"{field}\", \"\"), // ours {} vs {who} {}",
                clip(&got),
                clip(&want)
            ));
        }
    }
    for (file, field, _) in DIFFERENCES {
        if !seen_differences.contains(&((*file).to_owned(), *field)) {
            failures.push(format!(
                "listed difference no longer differs: {file} {field}"
            ));
        }
    }
    let rate = same as f64 / compared.max(1) as f64;
    eprintln!(
        "metadata vs reference parsers: {same} of {compared} (file, field) pairs equal ({:.1} %), {deliberate} deliberate differences, {unreferenced} pairs without a reference value; metadata-samples alone: {samples_same} of {samples_compared}",
        100.0 * rate
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rate >= 0.95, "only {:.1} % of pairs equal", 100.0 * rate);
}

/// Every sample image under the metadata-samples folder and fixtures/generated.
fn sample_files(shared: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![
        shared.join("metadata-samples"),
        shared.join("fixtures/generated"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["png", "jpg", "jpeg", "webp", "gif"].contains(&x))
                && let Ok(rel) = p.strip_prefix(shared)
            {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn files_without_metadata_keep_their_raw_carriers() {
    let Some(shared) = shared_dir() else { return };
    // (file, a text one of its raw entries must hold; "" = none expected)
    let cases = [
        ("metadata-samples/png/gimp-en.png", "Created with GIMP"),
        ("metadata-samples/png/gimp.png", "GIMPで再保存しただけ"),
        ("metadata-samples/jpg/gimp.jpg", "GIMPで再保存しただけ"),
        ("metadata-samples/webp/gimp.webp", "GIMPで再保存しただけ"),
        (
            "metadata-samples/c2pa/png/gemini_unknown.png",
            "C2PA manifest",
        ),
        ("metadata-samples/png/empty.png", ""),
        ("metadata-samples/webp/empty.webp", ""),
        ("fixtures/generated/empty.jpg", ""),
    ];
    let mut checked = 0;
    for (file, text) in cases {
        let path = shared.join(file);
        if !path.is_file() {
            // gimp.png is in sd-metadata but not among the shared samples.
            continue;
        }
        let m = read_file(&path);
        assert_eq!(m.positive, None, "{file}");
        assert!(
            m.tool.is_none() || m.tool.as_deref() == Some("c2pa"),
            "{file}: {:?}",
            m.tool
        );
        if !text.is_empty() {
            assert!(
                m.raw.iter().any(|r| r.value.contains(text)),
                "{file}: raw entries {:?} lack {text:?}",
                m.raw
            );
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} files checked");
}

#[test]
fn every_sample_with_a_prompt_yields_it() {
    let Some(shared) = shared_dir() else { return };
    let refs = refs();
    let manifest = super::tests::manifest_prompts(&shared.join("fixtures/generated"));
    let mut failures = Vec::new();
    let (mut with_prompt, mut yielded) = (0, 0);
    // The same two counts for metadata-samples alone (reported).
    let (mut samples_with_prompt, mut samples_yielded) = (0, 0);
    for file in sample_files(&shared) {
        let is_sample = file.starts_with("metadata-samples/");
        let expected: Option<String> =
            if let Some(p) = manifest.get(file.strip_prefix("fixtures/generated/").unwrap_or("")) {
                p.clone()
            } else if let Some((_, p)) = EXPECTED_PROMPTS.iter().find(|(f, _)| *f == file) {
                p.map(str::to_owned)
            } else if let Some((_, Value::String(p))) = reference(&refs["files"][&file], "prompt") {
                Some(p)
            } else {
                failures.push(format!(
                    "{file}: no expected prompt (add it to EXPECTED_PROMPTS)"
                ));
                continue;
            };
        let m = read_file(&shared.join(&file));
        match (expected, &m.positive) {
            (Some(want), Some(got)) => {
                with_prompt += 1;
                samples_with_prompt += usize::from(is_sample);
                let (want, got) = (norm_ws(&want), norm_ws(got));
                if got.starts_with(&want) {
                    yielded += 1;
                    samples_yielded += usize::from(is_sample);
                } else {
                    failures.push(format!("{file}: prompt {got:?}, expected prefix {want:?}"));
                }
            }
            (Some(want), None) => {
                with_prompt += 1;
                samples_with_prompt += usize::from(is_sample);
                failures.push(format!("{file}: no prompt, expected {want:?}"));
            }
            (None, Some(got)) => failures.push(format!("{file}: unexpected prompt {got:?}")),
            (None, None) => {}
        }
    }
    eprintln!(
        "{yielded} of {with_prompt} files that carry a prompt yield it \
         ({samples_yielded} of {samples_with_prompt} in metadata-samples)"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
