//! The README's main command on the shipped demo (`assets/demo/`): every feature shows up.

use crate::common::{copy_tree, row, scan_json, table_json};

#[test]
fn demo_scan_shows_every_feature() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    copy_tree(&demo, &dir);
    let db = tmp.path().join("demo.db");
    let (code, s) = scan_json(&dir, &db, &[]);
    assert_eq!(
        code, 2,
        "the demo includes a truncated and an empty file: {s}"
    );
    assert_eq!(s["failed"].as_u64(), Some(2), "{s}");
    assert!(s["near_duplicate_groups"].as_u64().unwrap() >= 3, "{s}");

    let rows = table_json(&dir, &db, &[]);
    assert_eq!(rows.len(), 31);
    // Metadata carriers: A1111 PNG text, A1111 JPEG UserComment (UTF-16), ComfyUI graph, none.
    let a1111 = row(&rows, "portrait_astronaut/seed_1001.png");
    assert_eq!(a1111["tool"], "a1111");
    assert_eq!(a1111["seed"], 1001);
    assert!(a1111["prompt"].as_str().unwrap().contains("astronaut"));
    let jpeg = row(&rows, "coffee_cup/seed_2001.jpg");
    assert_eq!(jpeg["seed"], 2001);
    assert!(jpeg["prompt"].as_str().unwrap().contains("cappuccino"));
    let comfy = row(&rows, "cat_chelsea/seed_3001.png");
    assert_eq!(comfy["tool"], "comfyui");
    assert_eq!(comfy["seed"], 3001);
    assert!(row(&rows, "rocket_launch/seed_4001.png")["prompt"].is_null());
    // Defects are visible in the signals.
    let sharp = row(&rows, "portrait_astronaut/seed_1001.png")["blur_laplacian_var"]
        .as_f64()
        .unwrap();
    let blurred = row(&rows, "portrait_astronaut/seed_1003.png")["blur_laplacian_var"]
        .as_f64()
        .unwrap();
    assert!(blurred < sharp / 5.0, "blur: {blurred} vs {sharp}");
    let blocky = row(&rows, "coffee_cup/seed_2005.jpg")["blockiness"]
        .as_f64()
        .unwrap();
    let clean = row(&rows, "coffee_cup/seed_2001.jpg")["blockiness"]
        .as_f64()
        .unwrap();
    assert!(blocky > clean + 0.5, "blockiness: {blocky} vs {clean}");
    assert!(
        row(&rows, "coffee_cup/seed_2002.jpg")["clip_highlights"]
            .as_f64()
            .unwrap()
            > 0.1
    );
    assert!(
        row(&rows, "coffee_cup/seed_2003.jpg")["clip_shadows"]
            .as_f64()
            .unwrap()
            > 0.1
    );
    let noisy = row(&rows, "portrait_astronaut/seed_1004.png")["noise_sigma"]
        .as_f64()
        .unwrap();
    let quiet = row(&rows, "portrait_astronaut/seed_1001.png")["noise_sigma"]
        .as_f64()
        .unwrap();
    assert!(noisy > quiet * 1.5, "noise: {noisy} vs {quiet}");
    assert_eq!(row(&rows, "portrait_astronaut/seed_1007.png")["blank"], 1);
    assert_eq!(row(&rows, "cat_chelsea/seed_3005.png")["size_ok"], 0);
    assert_eq!(
        row(&rows, "rocket_launch/seed_4006_wide.jpg")["aspect_ok"],
        0
    );
    // Near duplicates share a group.
    let g1 = &row(&rows, "portrait_astronaut/seed_1001.png")["dup_group"];
    assert_ne!(g1, 0);
    assert_eq!(
        g1,
        &row(&rows, "portrait_astronaut/seed_1006.png")["dup_group"]
    );
    // Errors are reported in the table.
    assert!(
        row(&rows, "cat_chelsea/seed_3006_broken.png")["error"]
            .as_str()
            .unwrap()
            .contains("truncated")
    );
    assert!(
        row(&rows, "rocket_launch/seed_4007_empty.jpg")["error"]
            .as_str()
            .unwrap()
            .contains("empty")
    );
}
