//! Tests over the real fixture files (`ASSAY_FIXTURES`, default
//! `../shared/fixtures`) and hand-made edge cases that span several modules.

use std::path::PathBuf;

use super::*;

/// The fixtures folder, or `None` (test skipped) when it is missing, unless
/// `ASSAY_REQUIRE_FIXTURES=1`.
pub(super) fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ASSAY_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("generated/MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("ASSAY_REQUIRE_FIXTURES").as_deref() != Ok("1"),
        "fixtures required (ASSAY_REQUIRE_FIXTURES=1) but {} has no generated/MANIFEST.tsv",
        dir.display()
    );
    eprintln!(
        "skipped: fixtures not found at {} (set ASSAY_FIXTURES)",
        dir.display()
    );
    None
}

/// MANIFEST escapes: `\\` is a backslash, `\n` a newline.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

struct Row {
    file: String,
    tool: String,
    present: bool,
    prompt: String,
}

fn manifest(dir: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let col = |i: usize| cols.get(i).copied().unwrap_or("").to_owned();
            Row {
                file: col(0),
                tool: col(3),
                present: col(6) == "yes",
                prompt: unescape(&col(7)),
            }
        })
        .collect()
}

/// file -> expected prompt (first 200 characters) or `None` (no prompt).
pub(super) fn manifest_prompts(
    dir: &std::path::Path,
) -> std::collections::HashMap<String, Option<String>> {
    manifest(dir)
        .into_iter()
        .map(|r| (r.file, r.present.then_some(r.prompt)))
        .collect()
}

/// What an application would do: text carriers first, pixels only if needed.
pub(super) fn read_file(path: &std::path::Path) -> GenerationMetadata {
    let bytes = std::fs::read(path).expect("read fixture");
    let limits = Limits::default();
    let meta = read_metadata(&bytes, None, &limits);
    if meta.positive.is_some() {
        return meta;
    }
    match image::load_from_memory(&bytes) {
        Ok(img) => {
            let rgba = img.to_rgba8();
            read_metadata(
                &bytes,
                Some((rgba.width(), rgba.height(), rgba.as_raw())),
                &limits,
            )
        }
        Err(_) => meta,
    }
}

fn expected_tool(manifest_tool: &str) -> Option<&str> {
    match manifest_tool {
        t if t.starts_with("unknown") || t.starts_with("none") => None,
        "gemini (c2pa)" => Some("c2pa"),
        t => Some(t),
    }
}

#[test]
fn generated_manifest_table() {
    let Some(dir) = fixtures_dir() else { return };
    let dir = dir.join("generated");
    let rows = manifest(&dir);
    assert!(rows.len() >= 25, "manifest too short");
    let mut failures = Vec::new();
    for row in &rows {
        let meta = read_file(&dir.join(&row.file));
        eprintln!(
            "{:<36} tool={:<16} seed={:<20} steps={:<4} model={:?} prompt={:?}",
            row.file,
            meta.tool.as_deref().unwrap_or("-"),
            meta.seed.map(|s| s.to_string()).unwrap_or_default(),
            meta.steps.map(|s| s.to_string()).unwrap_or_default(),
            meta.model,
            meta.positive
                .as_deref()
                .map(|p| p.chars().take(40).collect::<String>()),
        );
        if meta.tool.as_deref() != expected_tool(&row.tool) {
            failures.push(format!(
                "{}: tool {:?}, expected {}",
                row.file, meta.tool, row.tool
            ));
        }
        match (row.present, &meta.positive) {
            (true, Some(p)) => {
                if row.prompt.chars().count() < 200 && *p != row.prompt {
                    eprintln!(
                        "  note: {} full prompt differs from the (untruncated) MANIFEST value: {p:?}",
                        row.file
                    );
                }
                let n = row.prompt.chars().count().min(200);
                let want: String = row.prompt.chars().take(n).collect();
                let got: String = p.chars().take(n).collect();
                if got != want {
                    failures.push(format!(
                        "{}: prompt {got:?}, expected prefix {want:?}",
                        row.file
                    ));
                }
            }
            (true, None) => failures.push(format!("{}: no prompt", row.file)),
            (false, Some(p)) => failures.push(format!("{}: unexpected prompt {p:?}", row.file)),
            (false, None) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A generated fixture's expected settings: file, seed, steps, model.
type SettingsCase = (&'static str, Option<u64>, Option<u32>, Option<&'static str>);

/// The expected settings of the generated fixtures (`generated/`).
const GENERATED_SETTINGS: &[SettingsCase] = &[
    ("000012.1476370516.png", Some(1476370516), Some(50), None),
    (
        "automatic1111_stealth.png",
        Some(2015833630),
        Some(20),
        Some("realisticVisionV51_v51VAE"),
    ),
    (
        "blue-sphere-red-cube-hybrid.png",
        Some(754100013),
        Some(15),
        Some("stable-diffusion-v1-5"),
    ),
    (
        "comfyui-saveimage-plus.jpg",
        Some(577723948579568),
        Some(20),
        Some("waiIllustriousSDXL_v160.safetensors"),
    ),
    (
        "curly.942491079.outcrop.png",
        Some(942491079),
        Some(50),
        Some("stable-diffusion-1.4"),
    ),
    (
        "elven_princess.png",
        Some(3101263317),
        Some(50),
        Some("stable-diffusion-1.4"),
    ),
    (
        "flux_depth_lora_example.png",
        Some(91050358797301),
        Some(20),
        Some("flux1-dev.safetensors"),
    ),
    (
        "fooocus1_cropped.png",
        Some(6952411511246973023),
        Some(30),
        Some("juggernautXL_v8Rundiffusion"),
    ),
    (
        "forge-classic.jpeg",
        Some(2547514258),
        Some(20),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "girl_in_field.png",
        Some(219670278747233),
        Some(20),
        Some("flux1-dev.safetensors"),
    ),
    (
        "hidream_e1_example.png",
        Some(850933585641497),
        Some(20),
        Some("hidream_e1_full_bf16.safetensors"),
    ),
    (
        "hypernetwork_example_output.png",
        Some(572636856966402),
        Some(20),
        Some("v1-5-pruned-emaonly.ckpt"),
    ),
    (
        "inpain_model_cat.png",
        Some(1040111309094545),
        Some(20),
        Some("512-inpainting-ema.safetensors"),
    ),
    (
        "invokeai.png",
        Some(3951921344),
        Some(24),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "lcm_basic_example.png",
        Some(167055194337639),
        Some(5),
        Some("sd_xl_1.0.safetensors"),
    ),
    (
        "lora.png",
        Some(851616030078638),
        Some(20),
        Some("v1-5-pruned-emaonly.ckpt"),
    ),
    (
        "novelai-full.png",
        Some(2043807047),
        Some(28),
        Some("NovelAI Diffusion V4.5 4BDE2A90"),
    ),
    (
        "sd-webui.jpg",
        Some(3623174757),
        Some(20),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "sd-webui.png",
        Some(3782896554),
        Some(20),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "sd-webui.webp",
        Some(1028435836),
        Some(20),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "sd3_simple_example.png",
        Some(125338548270506),
        Some(30),
        Some("sd3_medium_incl_clips_t5xxlfp8.safetensors"),
    ),
    (
        "sdxlturbo_example.png",
        Some(0),
        Some(1),
        Some("sd_xl_turbo_1.0_fp16.safetensors"),
    ),
    // The first pass (stage C) gives the settings; stage B (seed
    // 980291192346449, 10 steps) is kept as the extra field `pass 2`.
    (
        "stable_cascade__image_to_image.png",
        Some(321653652654528),
        Some(20),
        Some("stable_cascade_stage_c.safetensors"),
    ),
    ("step7.png", Some(2439087110), Some(50), None),
    (
        "swarmui.jpg",
        Some(697543491),
        Some(20),
        Some("waiIllustriousSDXL_v160"),
    ),
    (
        "text_to_video_wan.webp",
        Some(82628696717253),
        Some(30),
        Some("wan2.1_t2v_1.3B_fp16.safetensors"),
    ),
];

/// The cases of `cases` whose file in `dir/generated` reads other settings, described.
fn settings_mismatches(dir: &std::path::Path, cases: &[SettingsCase]) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, seed, steps, model) in cases {
        let m = read_file(&dir.join("generated").join(file));
        if (m.seed, m.steps, m.model.as_deref()) != (*seed, *steps, *model) {
            failures.push(format!(
                "{file}: got seed {:?} steps {:?} model {:?}",
                m.seed, m.steps, m.model
            ));
        }
    }
    failures
}

#[test]
fn generated_settings() {
    let Some(dir) = fixtures_dir() else { return };
    let failures = settings_mismatches(&dir, GENERATED_SETTINGS);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn photos_have_no_prompt_but_keep_raw() {
    let Some(dir) = fixtures_dir() else { return };
    let dir = dir.join("photos");
    for row in manifest(&dir) {
        let meta = read_file(&dir.join(&row.file));
        assert_eq!(meta.positive, None, "{}", row.file);
        assert_eq!(meta.tool, None, "{}", row.file);
        let keys: Vec<&str> = meta.raw.iter().map(|r| r.key.as_str()).collect();
        let want: &[&str] = match row.file.as_str() {
            "chelsea.png" => &["png:iTXt:XML:com.adobe.xmp"],
            "hubble_deep_field.jpg" => &["exif:Software", "xmp"],
            "astronaut.png" => &["png:tEXt:Comment"],
            "rocket.jpg" => &["jpeg:COM"],
            _ => &[],
        };
        for k in want {
            assert!(keys.contains(k), "{}: raw keys {keys:?} lack {k}", row.file);
        }
    }
}

#[test]
fn container_facts() {
    let Some(dir) = fixtures_dir() else { return };
    let read = |p: &str| std::fs::read(dir.join(p)).expect("read fixture");
    assert_eq!(
        container_info(&read("generated/text_to_video_wan.webp")).frames,
        33
    );
    assert_eq!(container_info(&read("generated/sd-webui.png")).frames, 1);
    assert_eq!(container_info(&read("generated/sd-webui.webp")).frames, 1);
    let hubble = container_info(&read("photos/hubble_deep_field.jpg"));
    assert_eq!((hubble.frames, hubble.exif_orientation), (1, Some(1)));
    assert_eq!(container_info(b"nonsense").frames, 1);
}

#[test]
fn comfy_workflow_fallback_matches_api_graph() {
    let Some(dir) = fixtures_dir() else { return };
    let dir = dir.join("generated");
    for row in manifest(&dir)
        .iter()
        .filter(|r| r.tool == "comfyui" && r.file.ends_with(".png"))
    {
        let bytes = std::fs::read(dir.join(&row.file)).expect("read fixture");
        let limits = Limits::default();
        let mut col = Collector::new(&limits);
        png::walk(&bytes, &mut col);
        let without_prompt: Vec<Carrier> = col
            .carriers
            .into_iter()
            .filter(|c| c.name != "prompt")
            .collect();
        let mut w = Vec::new();
        let m = comfy::parse_workflow(&without_prompt, &mut w).unwrap_or_default();
        // hidream's workflow holds a group node (expanded by comfy_ui).
        let want: String = row.prompt.chars().take(200).collect();
        let got: String = m
            .positive
            .unwrap_or_default()
            .chars()
            .take(want.chars().count())
            .collect();
        assert_eq!(got, want, "{}: {w:?}", row.file);
    }
}

/// Every prefix (or a dense sample) of real files must parse without panicking.
#[test]
fn truncated_and_corrupted_files_never_panic() {
    let Some(dir) = fixtures_dir() else { return };
    let limits = Limits::default();
    for f in [
        "generated/sd-webui.jpg",
        "generated/sd-webui.webp",
        "generated/fooocus1_cropped.png",
        "generated/novelai-full.png",
        "generated/text_to_video_wan.webp",
        "generated/comfyui-saveimage-plus.jpg",
        "generated/hidream_e1_example.png",
        "photos/hubble_deep_field.jpg",
        "photos/chelsea.png",
    ] {
        let bytes = std::fs::read(dir.join(f)).expect("read fixture");
        // Every prefix of the first 4 KiB, a dense sample through the
        // metadata area, then a sparse sample of the rest.
        let (dense, medium) = (bytes.len().min(4096), bytes.len().min(40_000));
        let lengths = (0..dense)
            .chain((dense..medium).step_by(61))
            .chain((medium..bytes.len()).step_by(9973));
        for n in lengths {
            let prefix = &bytes[..n];
            let _ = read_metadata(prefix, None, &limits);
            let _ = container_info(prefix);
        }
        // Deterministic byte corruption in the header area.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..300 {
            let mut copy = bytes[..bytes.len().min(40_000)].to_vec();
            for _ in 0..8 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (state >> 33) as usize % copy.len().max(1);
                if let Some(b) = copy.get_mut(i) {
                    *b = (state >> 13) as u8;
                }
            }
            let _ = read_metadata(&copy, None, &limits);
            let _ = container_info(&copy);
        }
    }
}

#[test]
fn stealth_fixture_needs_pixels() {
    let Some(dir) = fixtures_dir() else { return };
    let bytes =
        std::fs::read(dir.join("generated/automatic1111_stealth.png")).expect("read fixture");
    let limits = Limits::default();
    let without = read_metadata(&bytes, None, &limits);
    assert_eq!(without.positive, None);
    let img = image::load_from_memory(&bytes).expect("decode").to_rgba8();
    let with = read_metadata(
        &bytes,
        Some((img.width(), img.height(), img.as_raw())),
        &limits,
    );
    assert_eq!(with.tool.as_deref(), Some("a1111"));
    assert_eq!(with.positive.as_deref(), Some("a circle"));
    assert_eq!(
        with.raw.last().map(|r| r.key.as_str()),
        Some("stealth:alpha")
    );
}
