//! `assay bench catalog-health`: what the integrity check on every open for writing and the
//! backup before every scan cost on a big catalogue. A catalogue of N images (metadata with a
//! 2 KB raw carrier, 24 signals, a D-dimensional embedding, one decision) and E label events
//! is generated once (kept at `--db`), then, in the same invocation: opening it read-only
//! (no check: the baseline), opening it for writing (`quick_check` included), `quick_check`
//! alone, one rolling backup, and (for the cost of "decided on an earlier version") the
//! earlier-decisions query next to the whole `image_rows` load it is part of. Times are the
//! median of 3 runs, with the page cache warm.

use crate::domain::{Protocol, Status};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use crate::store::{
    ImageFacts, IngestRecord, MetadataRow, NewDecision, NewLabelEvent, SignalRow, Store, Upsert,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn generate(db: &Path, images: usize, events: usize, dim: usize) -> anyhow::Result<()> {
    let mut s = Store::open(db)?;
    let raw = "x".repeat(2000);
    let batch = 2000;
    let mut ids = Vec::with_capacity(images);
    for start in (0..images).step_by(batch) {
        let records: Vec<IngestRecord> = (start..(start + batch).min(images))
            .map(|i| image_record(i, &raw))
            .collect();
        ids.extend(s.write_ingest(&records)?);
        if dim > 0 {
            let rows: Vec<(i64, String, Vec<f32>)> = ids[start..]
                .iter()
                .map(|&id| {
                    (
                        id,
                        "clip:bench".to_string(),
                        (0..dim)
                            .map(|d| ((id as usize * 13 + d) % 97) as f32)
                            .collect(),
                    )
                })
                .collect();
            s.set_embeddings(&rows)?;
        }
    }
    let decisions: Vec<NewDecision> = ids
        .iter()
        .map(|&id| NewDecision {
            image_id: id,
            status: if id % 3 == 0 {
                Status::Accepted
            } else {
                Status::Rejected
            },
            rating: Some(id % 6),
            source: "human".into(),
            reason: None,
            detail: None,
        })
        .collect();
    s.append_decisions(&decisions)?;
    // 1 % of the files were edited since (other pixels): new versions without decisions.
    let edited: Vec<IngestRecord> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 100 == 7)
        .map(|(i, &id)| IngestRecord {
            upsert: Upsert::NewVersion {
                old_id: id,
                old_version: 1,
            },
            facts: ImageFacts {
                path: format!("batch{:03}/img{i:07}.png", i / 1000),
                path_raw: format!("batch{:03}/img{i:07}.png", i / 1000).into_bytes(),
                hash: Some(format!("{:032x}", i as u128 * 31)),
                pixel_hash: Some(format!("{:032x}", i as u128 * 37)),
                ..Default::default()
            },
            metadata: None,
            signals: Vec::new(),
            signals_version: Some(2),
            embedding: None,
        })
        .collect();
    s.write_ingest(&edited)?;
    for start in (0..events).step_by(10_000) {
        let ev: Vec<NewLabelEvent> = (start..(start + 10_000).min(events))
            .map(|e| label_event(e, images))
            .collect();
        s.append_label_events(&ev)?;
    }
    Ok(())
}

/// The `i`-th generated image: a new PNG with ComfyUI metadata (`raw`: its padded JSON) and 24
/// signals.
fn image_record(i: usize, raw: &str) -> IngestRecord {
    IngestRecord {
        upsert: Upsert::New,
        facts: ImageFacts {
            path: format!("batch{:03}/img{i:07}.png", i / 1000),
            path_raw: format!("batch{:03}/img{i:07}.png", i / 1000).into_bytes(),
            size: 1_500_000,
            mtime_ns: i as i64,
            hash: Some(format!("{:032x}", i as u128 * 7919)),
            width: Some(1024),
            height: Some(1024),
            format: Some("png".into()),
            frames: Some(1),
            orientation: Some(1),
            pixel_hash: Some(format!("{:032x}", i as u128 * 104_729)),
            error: None,
        },
        metadata: Some(MetadataRow {
            tool: Some("comfyui".into()),
            positive: Some(format!("a prompt number {}", i % 5000)),
            seed: Some(i as u64),
            steps: Some(30),
            raw_json: format!("[{{\"key\":\"png:tEXt:prompt\",\"value\":\"{raw}\"}}]"),
            warnings_json: "[]".into(),
            ..Default::default()
        }),
        signals: (0..24)
            .map(|k| SignalRow {
                key: format!("signal_{k:02}"),
                value: Some((i * 31 + k) as f64 / 7.0),
                text: None,
                producer: "bench@1".into(),
            })
            .collect(),
        signals_version: Some(2),
        embedding: None,
    }
}

/// The `e`-th generated label event: a pairwise tie between two of the `images`.
fn label_event(e: usize, images: usize) -> NewLabelEvent {
    NewLabelEvent {
        uid: format!("{e:032x}"),
        time: Some("2026-01-02T03:04:05.000Z".into()),
        rater: format!("rater{}", e % 7),
        session: format!("rater{}@t#{:04x}", e % 7, e / 100),
        protocol: Protocol::Pairwise,
        payload: format!(
            "{{\"criterion\":\"overall\",\"items\":[\"a{}.png\",\"b{}.png\"],\"hashes\":[\"{:032x}\",\"{:032x}\"],\"order\":[],\"choice\":\"tie\",\"rating\":null,\"ratings\":null,\"response_ms\":900,\"attention_check\":false}}",
            e % images.max(1),
            (e * 7) % images.max(1),
            e,
            e + 1
        ),
    }
}

pub fn run(images: usize, events: usize, dim: usize, db: &Path) -> anyhow::Result<u8> {
    let fresh = !db.exists();
    if fresh {
        eprintln!(
            "generating {images} images, {events} label events, d = {dim} at {} …",
            db.display()
        );
        let t = Instant::now();
        generate(db, images, events, dim).context("generating the catalogue")?;
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let bytes = std::fs::metadata(db).map_or(0, |m| m.len());
    // Warm the page cache once.
    let _ = std::fs::read(db);
    let time = |f: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut v = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            f()?;
            v.push(t.elapsed().as_secs_f64());
        }
        Ok(median(v))
    };
    let read_only = time(&|| {
        Store::open_read_only(db)?.count("images")?;
        Ok(())
    })?;
    // Opening for writing after another program touched the file (no trusted stamp: the
    // check runs), and after Assay's own last writer closed it (stamp trusted: no check).
    let stamp = Store::check_stamp_path(db);
    let for_writing = time(&|| {
        let _ = std::fs::remove_file(&stamp);
        Store::open(db)?.count("images")?;
        Ok(())
    })?;
    Store::open(db)?.count("images")?; // leaves a stamp
    let for_writing_stamped = time(&|| {
        Store::open(db)?.count("images")?;
        Ok(())
    })?;
    let store = Store::open(db)?;
    let check = time(&|| {
        let bad = store.quick_check()?;
        anyhow::ensure!(
            bad.is_empty(),
            "the generated catalogue is damaged: {bad:?}"
        );
        Ok(())
    })?;
    let earlier = time(&|| {
        store.earlier_decisions()?;
        Ok(())
    })?;
    let rows = time(&|| {
        store.image_rows(false)?;
        Ok(())
    })?;
    let backup_dir = Store::backups_dir(db);
    let backup = time(&|| {
        store.rotate_backups(1)?;
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&backup_dir);
    let mb = bytes as f64 / 1e6;
    let r = json!({
        "database": db.display().to_string(),
        "megabytes": mb,
        "images": store.count("images")?,
        "label_events": store.count("label_events")?,
        "open_read_only_s": read_only,
        "open_for_writing_s": for_writing,
        "open_for_writing_unchanged_s": for_writing_stamped,
        "quick_check_s": check,
        "quick_check_mb_per_s": mb / check,
        "backup_s": backup,
        "backup_mb_per_s": mb / backup,
        "write_open_over_read_open": for_writing / read_only,
        "unchanged_write_open_over_read_open": for_writing_stamped / read_only,
        "image_rows_s": rows,
        "earlier_decisions_s": earlier,
    });
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(0)
}
