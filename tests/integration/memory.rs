//! Bounded memory: a scan with default settings (faces on) of two 99.9 MP PNGs with two workers
//! stays under 600 MB peak RSS (the scan process's `VmHWM`, reported in its JSON summary). The
//! images are generated here, streamed row by row, and never committed.

use std::io::Write as _;

use crate::common::scan_json;

const W: u32 = 10_000;
const H: u32 = 9_990;

/// A 99.9 MP RGB PNG with smooth gradients, rings and grain (realistic compression).
fn write_big_png(path: &std::path::Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, W, H);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let mut row = vec![0u8; W as usize * 3];
    for y in 0..H {
        for x in 0..W {
            let (dx, dy) = (i64::from(x) - 5000, i64::from(y) - 5000);
            let ring = ((dx * dx + dy * dy) as f64).sqrt() as u32 / 40 % 2;
            let grain = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 9;
            let i = x as usize * 3;
            row[i] = ((x / 40) as u8).wrapping_add(grain as u8);
            row[i + 1] = ((y / 40) as u8).wrapping_add((ring * 60) as u8);
            row[i + 2] = (((x + y) / 80) as u8).wrapping_add(grain as u8);
        }
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
}

#[test]
fn scanning_100_megapixel_pngs_stays_under_600_mb() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    let a = dir.join("a.png");
    write_big_png(&a);
    // A second path to the same file: two workers would decode both at once without the
    // pixel budget.
    std::fs::hard_link(&a, dir.join("b.png")).unwrap();
    let db = tmp.path().join("big.db");
    let (code, s) = scan_json(&dir, &db, &["--jobs", "2"]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["new"], 2, "{s:#}");
    assert_eq!(s["faces"], true);
    #[cfg(target_os = "linux")]
    let peak = s["peak_rss_mb"]
        .as_f64()
        .unwrap_or_else(|| panic!("no peak RSS in the summary: {s:#}"));
    #[cfg(not(target_os = "linux"))]
    let Some(peak) = s["peak_rss_mb"].as_f64() else {
        eprintln!("SKIPPED: no peak RSS on this platform");
        return;
    };
    println!(
        "two {W}×{H} PNGs ({:.0} MB each): peak RSS {peak:.0} MB in {:.1} s",
        std::fs::metadata(&a).unwrap().len() as f64 / 1e6,
        s["seconds"].as_f64().unwrap_or(0.0)
    );
    assert!(peak < 600.0, "peak RSS {peak:.0} MB");
}
