//! `assay scan` + `assay table` on the shared fixtures: every file is catalogued or reported, and
//! the positive prompt matches the fixture MANIFEST file by file.

use crate::common::{fixtures_dir, row, scan_json, table_json};

/// MANIFEST escapes: `\\` is a backslash and `\n` a newline.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Entry {
    file: String,
    has_prompt: bool,
    prompt_prefix: String,
}

fn manifest(dir: &std::path::Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (f, p, pp) = (
        col("file"),
        col("positive_prompt_present"),
        col("positive_prompt"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Entry {
                file: cells[f].to_string(),
                has_prompt: cells[p] == "yes",
                prompt_prefix: unescape(cells.get(pp).copied().unwrap_or("")),
            }
        })
        .collect()
}

#[test]
fn every_fixture_is_catalogued_and_prompts_match_the_manifest() {
    let Some(fixtures) = fixtures_dir("every_fixture_is_catalogued_and_prompts_match_the_manifest")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("fixtures.db");
    let (code, summary) = scan_json(&fixtures, &db, &[]);
    let found = summary["found"].as_u64().unwrap();
    let failed = summary["failed"].as_u64().unwrap();
    assert_eq!(code, if failed > 0 { 2 } else { 0 }, "{summary}");
    assert_eq!(summary["new"].as_u64().unwrap(), found, "{summary}");

    let rows = table_json(
        &fixtures,
        &db,
        &[
            "--columns",
            "path,tool,parser,missing_fields,extra,prompt,seed,raw,error,width,height,format,frames",
        ],
    );
    assert_eq!(rows.len() as u64, found);
    // Every file on disk with an image extension is in the table.
    let mut checked = 0;
    for sub in ["generated", "photos"] {
        for e in manifest(&fixtures.join(sub)) {
            let path = format!("{sub}/{}", e.file);
            let r = row(&rows, &path);
            assert!(r["error"].is_null(), "{path}: {}", r["error"]);
            if e.has_prompt {
                let prompt = r["prompt"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: no prompt; raw = {}", r["raw"]));
                let want: String = e.prompt_prefix.chars().take(200).collect();
                let got: String = prompt.chars().take(want.chars().count()).collect();
                assert_eq!(got, want, "{path}: prompt mismatch");
            } else {
                assert!(
                    r["prompt"].is_null(),
                    "{path}: unexpected prompt {}",
                    r["prompt"]
                );
                assert!(
                    r["raw"].is_array(),
                    "{path}: raw metadata must always be kept: {}",
                    r["raw"]
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked as u64, found,
        "every catalogued fixture is in a MANIFEST"
    );
    // Spot checks of container facts.
    let wan = row(&rows, "generated/text_to_video_wan.webp");
    assert_eq!(wan["frames"], 33);
    assert_eq!(
        (wan["width"].as_u64(), wan["height"].as_u64()),
        (Some(832), Some(480))
    );
    let stealth = row(&rows, "generated/automatic1111_stealth.png");
    assert_eq!(stealth["tool"], "a1111");
    assert_eq!(stealth["parser"], "a1111-text");
    // Which parser read each file and what it could not find.
    let novelai = row(&rows, "generated/novelai-full.png");
    assert_eq!(novelai["parser"], "novelai");
    assert_eq!(novelai["missing_fields"], "");
    let invoke = row(&rows, "generated/step7.png");
    assert_eq!(invoke["parser"], "invokeai-legacy");
    assert_eq!(invoke["missing_fields"], "negative_prompt,model");
    let photo = row(&rows, "photos/rocket.jpg");
    assert!(photo["parser"].is_null(), "{}", photo["parser"]);
    assert_eq!(
        photo["missing_fields"],
        "prompt,negative_prompt,seed,steps,sampler,cfg,model,gen_size"
    );
    // Further sampler passes are kept: stage B of the Stable Cascade example.
    let cascade = row(&rows, "generated/stable_cascade__image_to_image.png");
    assert!(
        cascade["extra"].as_array().is_some_and(|e| e
            .iter()
            .any(|kv| kv[0].as_str().is_some_and(|k| k.starts_with("pass 2")))),
        "{}",
        cascade["extra"]
    );
    let raw_kept = row(&rows, "photos/astronaut.png");
    assert!(
        raw_kept["raw"].as_array().is_some_and(|a| !a.is_empty()),
        "astronaut.png has a Comment chunk that must be kept raw"
    );
}
