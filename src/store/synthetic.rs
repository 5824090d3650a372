//! Synthetic million-row catalogues for benchmarks (`assay bench catalog`).
//!
//! The current images of a store are the *templates* (real files, scanned for real). Copy `c`
//! of template `t` is a new current image at `<copy_prefix><c:05>/<t's path below
//! template_prefix>` — the caller makes each copy folder a symbolic link to the template
//! folder, so every row names a real file — with the template's file facts and signals
//! (continuous signals jittered by up to ±`jitter` per copy and key, clamped to the signal's
//! range; near-duplicate groups renumbered within the copy), generated metadata (tools,
//! models, samplers; prompts shared by batches of 8 images with their own seeds, an
//! A1111-style raw carrier; one image in ten has none) and, for one image in 17, a decision.
//!
//! Everything is `INSERT … SELECT` in SQL ([`CHUNK`] copies per statement), in one transaction
//! during which the signal indexes are dropped and then rebuilt: no row crosses into Rust and
//! no index is updated row by row (`assay bench catalog` reports the time it takes).
//! Never point this at a real collection: a scan of the folder sees each linked folder once
//! and marks the copies as missing.

use rusqlite::params;

use super::Result;
use crate::signals::{self, Kind};

/// Copies per transaction.
pub const CHUNK: usize = 50_000;

/// The filter, text search and sort column that `assay bench catalog` times on a synthetic
/// collection, in the store path and in the workbench alike.
pub const BENCH_WHERE: &str = "blur_laplacian_var > 80 and colorfulness < 40";
/// See [`BENCH_WHERE`].
pub const BENCH_SEARCH: &str = "portrait";
/// See [`BENCH_WHERE`].
pub const BENCH_SORT: &str = "blur_laplacian_var";

/// What [`super::Store::synthesize`] makes.
#[derive(Debug, Clone)]
pub struct Synthesis {
    /// Current images wanted in all (templates included).
    pub rows: usize,
    /// Templates are the current, readable images whose path starts with this.
    pub template_prefix: String,
    /// Copy `c` lives under `<copy_prefix><c:05>/`.
    pub copy_prefix: String,
    /// Relative jitter of continuous signals (0.25 = ±25 %).
    pub jitter: f64,
}

/// What [`super::Store::synthesize`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synthesized {
    pub templates: usize,
    pub added: usize,
    /// Copy folders used: `0..folders`.
    pub folders: usize,
}

const SUBJECTS: &[&str] = &[
    "portrait of an old fisherman",
    "a red fox in the snow",
    "cyberpunk street at night",
    "a cup of coffee on a wooden table",
    "portrait of a young woman with freckles",
    "a lighthouse on a cliff",
    "an astronaut riding a horse",
    "a bowl of ramen",
    "a cat sleeping on a windowsill",
    "mountain lake at sunrise",
    "a medieval castle in the fog",
    "portrait of a knight in silver armour",
    "a vintage car on route 66",
    "a dragon over a burning village",
    "an owl in a pine tree",
    "a futuristic city skyline",
    "a bouquet of sunflowers",
    "a robot reading a book",
    "a waterfall in the jungle",
    "a samurai under cherry blossoms",
    "a sailing ship in a storm",
    "a cozy cabin in the woods",
    "a hummingbird and a flower",
    "portrait of a jazz musician",
];
const STYLES: &[&str] = &[
    "oil painting",
    "watercolor",
    "photorealistic, 85mm",
    "studio ghibli style",
    "digital art, trending on artstation",
    "analog film photo, kodak portra 400",
    "concept art",
    "pencil sketch",
    "isometric 3d render",
    "ukiyo-e woodblock print",
    "cinematic still",
    "low poly",
];
const LIGHTS: &[&str] = &[
    "golden hour",
    "volumetric light",
    "soft studio lighting",
    "neon glow",
    "overcast",
    "rim light",
    "candlelight",
    "blue hour",
];
const NEGATIVES: &[&str] = &[
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, cropped, worst quality, low quality, jpeg artifacts, signature, watermark, blurry",
    "blurry, deformed, ugly, disfigured",
    "(worst quality:1.4), (low quality:1.4), monochrome",
    "",
];
const MODELS: &[&str] = &[
    "sd_xl_base_1.0",
    "flux1-dev",
    "juggernautXL_v9",
    "v1-5-pruned-emaonly",
    "dreamshaper_8",
    "sd3.5_large",
];
const SAMPLERS: &[&str] = &[
    "DPM++ 2M Karras",
    "Euler a",
    "euler",
    "DPM++ SDE Karras",
    "UniPC",
];
const TOOLS: &[&str] = &[
    "a1111", "comfyui", "invokeai", "fooocus", "swarmui", "novelai",
];

impl super::Store {
    /// Replicates the templates until the store holds `spec.rows` current images (module
    /// docs). `progress(done, total)` is called after each transaction.
    pub fn synthesize(
        &mut self,
        spec: &Synthesis,
        progress: impl FnMut(usize, usize),
    ) -> Result<Synthesized> {
        let c = &self.conn;
        let (templates, current) = stage_templates(c, spec)?;
        let extra = spec.rows.saturating_sub(current);
        if templates == 0 || extra == 0 {
            return Ok(Synthesized {
                templates,
                added: 0,
                folders: 0,
            });
        }
        stage_words_and_jitter(c)?;
        let base: i64 = c.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM images", [], |r| {
            r.get(0)
        })?;
        let sql = CopySql::new();
        // Template signals once, with the template number of each near-duplicate group's
        // lowest image (groups are renumbered within each copy).
        c.execute_batch(
            "CREATE TEMP TABLE syn_sig AS
                 SELECT t.k AS k, s.key AS key, s.value AS value, s.text AS text,
                     s.producer AS producer,
                     (SELECT t2.k FROM syn_tpl t2 WHERE s.key = 'dup_group' AND s.value != 0
                          AND t2.id = CAST(s.value AS INTEGER)) AS grp
                 FROM syn_tpl t JOIN signals s ON s.image_id = t.id ORDER BY t.k, s.key;
             CREATE INDEX temp.syn_sig_k ON syn_sig(k);",
        )?;
        let copy = CopyParams {
            base,
            templates,
            extra,
            spec,
        };
        self.insert_copies(&sql, &copy, progress)?;
        self.conn.execute_batch(
            "DROP TABLE temp.syn_tpl; DROP TABLE temp.syn_words; DROP TABLE temp.syn_jitter;
             DROP TABLE temp.syn_sig;",
        )?;
        Ok(Synthesized {
            templates,
            added: extra,
            folders: extra.div_ceil(templates),
        })
    }

    /// Runs the copy statements over `0..extra` in [`CHUNK`]s, in one transaction during which
    /// the signal indexes are dropped and rebuilt at the end.
    fn insert_copies(
        &mut self,
        sql: &CopySql,
        p: &CopyParams<'_>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<()> {
        // One transaction: the signal indexes are dropped and rebuilt at the end (sorting once
        // is far cheaper than ~25 random index inserts per image), never seen missing.
        let cache: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        self.conn.execute_batch("PRAGMA cache_size = -262144")?;
        let tx = self.conn.transaction()?;
        let indexes: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT name, sql FROM sqlite_master
                 WHERE type = 'index' AND tbl_name = 'signals' AND sql IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        for (name, _) in &indexes {
            tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        let mut done = 0;
        while done < p.extra {
            let end = (done + CHUNK).min(p.extra);
            for sql in [&sql.images, &sql.metadata, &sql.signals, &sql.decisions] {
                let mut stmt = tx.prepare(sql)?;
                let values: [rusqlite::types::Value; 6] = [
                    (done as i64).into(),
                    (end as i64).into(),
                    p.base.into(),
                    (p.templates as i64).into(),
                    p.spec.copy_prefix.clone().into(),
                    p.spec.jitter.into(),
                ];
                // Each statement binds the parameters it names (?1 to ?n).
                for (i, v) in values.iter().enumerate().take(stmt.parameter_count()) {
                    stmt.raw_bind_parameter(i + 1, v)?;
                }
                stmt.raw_execute()?;
            }
            done = end;
            progress(done, p.extra);
        }
        for (_, sql) in &indexes {
            tx.execute_batch(sql)?;
        }
        tx.commit()?;
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = {cache}"))?;
        Ok(())
    }
}

/// Creates the temporary tables and numbers the templates (`syn_tpl`); returns the number of
/// templates and of current images.
fn stage_templates(c: &rusqlite::Connection, spec: &Synthesis) -> Result<(usize, usize)> {
    c.execute_batch(
        "DROP TABLE IF EXISTS temp.syn_tpl; DROP TABLE IF EXISTS temp.syn_words;
         DROP TABLE IF EXISTS temp.syn_jitter; DROP TABLE IF EXISTS temp.syn_sig;
         CREATE TEMP TABLE syn_tpl (k INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, sub TEXT NOT NULL);
         CREATE TEMP TABLE syn_words (list INTEGER, k INTEGER, w TEXT NOT NULL, PRIMARY KEY (list, k));
         CREATE TEMP TABLE syn_jitter (key TEXT PRIMARY KEY, salt INTEGER, lo REAL, hi REAL);",
    )?;
    let plen = spec.template_prefix.len();
    c.execute(
        "INSERT INTO syn_tpl (k, id, sub)
         SELECT row_number() OVER (ORDER BY id) - 1, id, substr(path, ?1 + 1) FROM images
         WHERE current = 1 AND missing = 0 AND error IS NULL AND substr(path, 1, ?1) = ?2",
        params![plen as i64, spec.template_prefix],
    )?;
    let templates: usize =
        c.query_row("SELECT COUNT(*) FROM syn_tpl", [], |r| r.get::<_, i64>(0))? as usize;
    let current: usize = c.query_row(
        "SELECT COUNT(*) FROM images WHERE current = 1 AND missing = 0",
        [],
        |r| r.get::<_, i64>(0),
    )? as usize;
    Ok((templates, current))
}

/// Fills the word lists of the generated metadata (`syn_words`) and the jitter of each
/// continuous signal (`syn_jitter`).
fn stage_words_and_jitter(c: &rusqlite::Connection) -> Result<()> {
    for (list, words) in WORD_LISTS.iter().enumerate() {
        for (k, w) in words.iter().enumerate() {
            c.execute(
                "INSERT INTO syn_words (list, k, w) VALUES (?1, ?2, ?3)",
                params![list as i64, k as i64, w],
            )?;
        }
    }
    // Continuous signals get jitter; flags, counts, groups, hashes and JSON do not.
    for (i, d) in signals::builtin().iter().enumerate() {
        let continuous = d.kind == Kind::Number && !matches!(d.key, "dup_group" | "face_count");
        if continuous {
            c.execute(
                "INSERT INTO syn_jitter (key, salt, lo, hi) VALUES (?1, ?2, ?3, ?4)",
                params![
                    d.key,
                    (i as i64 + 1) * 7_919_003,
                    d.range.0.unwrap_or(f64::MIN),
                    d.range.1.unwrap_or(f64::MAX)
                ],
            )?;
        }
    }
    Ok(())
}

/// The word lists of the generated metadata, numbered as `syn_words.list`.
const WORD_LISTS: [&[&str]; 7] = [SUBJECTS, STYLES, LIGHTS, NEGATIVES, MODELS, SAMPLERS, TOOLS];

/// The parameters the copy statements bind: `?1`/`?2` the chunk (set per chunk), `?3` the
/// first new id, `?4` the templates, `?5` the copy prefix, `?6` the jitter.
struct CopyParams<'a> {
    base: i64,
    templates: usize,
    /// Copies to add.
    extra: usize,
    spec: &'a Synthesis,
}

/// The `INSERT … SELECT` statements that make copies `?1..?2` (see [`CopyParams`]).
struct CopySql {
    images: String,
    metadata: String,
    signals: String,
    decisions: String,
}

impl CopySql {
    fn new() -> Self {
        let n = |list: usize| WORD_LISTS[list].len() as i64;
        let (ns, nst, nl, nn, nm, nsa, nt) = (n(0), n(1), n(2), n(3), n(4), n(5), n(6));
        // seq(i): copy number i / K of template i % K; the new id is base + i.
        let seq =
            "WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2)";
        let images = format!(
            "{seq}
             INSERT INTO images (id, path, path_raw, version, current, size, mtime_ns, hash, width,
                 height, format, frames, orientation, error, missing, signals_version, first_seen,
                 last_seen)
             SELECT ?3 + seq.i, ?5 || printf('%05d/', seq.i / ?4) || t.sub,
                 CAST(?5 || printf('%05d/', seq.i / ?4) || t.sub AS BLOB), 1, 1, im.size,
                 im.mtime_ns, im.hash, im.width, im.height, im.format, im.frames, im.orientation,
                 NULL, 0, im.signals_version,
                 strftime('%Y-%m-%dT%H:%M:%fZ', im.first_seen, printf('-%d days', (seq.i / ?4) % 30)),
                 im.last_seen
             FROM seq CROSS JOIN syn_tpl t CROSS JOIN images im
             WHERE t.k = seq.i % ?4 AND im.id = t.id"
        );
        // Batches of 8 share a prompt (best-of-N); each image has its own seed.
        let metadata = format!(
            "{seq}
             INSERT INTO metadata (image_id, tool, positive, negative, seed, steps, sampler, cfg,
                 model, gen_width, gen_height, raw_json, warnings_json)
             SELECT id, tool, pos, neg, seed, steps, sampler, cfg, model, gw, gh,
                 json_array(json_object('key', 'parameters', 'value',
                     pos || char(10) || 'Negative prompt: ' || neg || char(10) || 'Steps: ' || steps
                     || ', Sampler: ' || sampler || ', CFG scale: ' || cfg || ', Seed: ' || seed
                     || ', Size: ' || gw || 'x' || gh || ', Model: ' || model,
                     'truncated', json('false'))),
                 '[]'
             FROM (SELECT ?3 + seq.i AS id, tl.w AS tool,
                       su.w || ', ' || st.w || ', ' || li.w
                           || printf(', detailed, variation %d', (seq.i / 8) / ({ns} * {nst} * {nl})) AS pos,
                       ne.w AS neg, 1000000 + seq.i * 7919 AS seed, 20 + (seq.i / 8) % 4 * 5 AS steps,
                       sa.w AS sampler, 4.0 + ((seq.i / 8) % 7) * 0.5 AS cfg, mo.w AS model,
                       1024 - ((seq.i / 8) % 3) * 256 AS gw, 1024 AS gh
                   FROM seq
                   CROSS JOIN syn_words su ON su.list = 0 AND su.k = (seq.i / 8) % {ns}
                   CROSS JOIN syn_words st ON st.list = 1 AND st.k = ((seq.i / 8) / {ns}) % {nst}
                   CROSS JOIN syn_words li ON li.list = 2 AND li.k = ((seq.i / 8) / ({ns} * {nst})) % {nl}
                   CROSS JOIN syn_words ne ON ne.list = 3 AND ne.k = (seq.i / 8) % {nn}
                   CROSS JOIN syn_words mo ON mo.list = 4 AND mo.k = (seq.i / 24) % {nm}
                   CROSS JOIN syn_words sa ON sa.list = 5 AND sa.k = (seq.i / 8) % {nsa}
                   CROSS JOIN syn_words tl ON tl.list = 6 AND tl.k = (seq.i / 40) % {nt}
                   WHERE seq.i % 10 != 9)"
        );
        let signals = format!(
            "{seq}
             INSERT INTO signals (image_id, key, value, text, producer)
             SELECT ?3 + seq.i, s.key,
                 CASE
                     WHEN s.value IS NULL THEN NULL
                     WHEN j.key IS NOT NULL THEN min(max(s.value * (1.0 + ?6 * (
                         (((seq.i + 1) * 2654435761 + j.salt) % 2000003) / 1000001.0 - 1.0)),
                         j.lo), j.hi)
                     WHEN s.grp IS NOT NULL THEN ?3 + seq.i - s.k + s.grp
                     WHEN s.key = 'dup_group' AND s.value != 0 THEN NULL
                     ELSE s.value
                 END,
                 s.text, s.producer
             FROM seq CROSS JOIN syn_sig s LEFT JOIN syn_jitter j ON j.key = s.key
             WHERE s.k = seq.i % ?4"
        );
        let decisions = format!(
            "{seq}
             INSERT INTO decisions (image_id, status, rating, source, reason, time)
             SELECT ?3 + seq.i,
                 CASE (seq.i / 17) % 3 WHEN 0 THEN 'accepted' WHEN 1 THEN 'rejected' ELSE 'review' END,
                 CASE WHEN (seq.i / 17) % 3 = 0 THEN 1 + seq.i % 5 END,
                 CASE WHEN seq.i % 2 = 0 THEN 'human' ELSE 'policy:synthetic@0' END,
                 CASE WHEN seq.i % 2 = 1 THEN 'synthetic decision' END,
                 '2026-01-01T00:00:00.000Z'
             FROM seq WHERE seq.i % 17 = 0"
        );
        Self {
            images,
            metadata,
            signals,
            decisions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IngestRecord, SignalRow, SignalValue, Store, Upsert};

    fn template(path: &str, blur: f64, group: f64) -> IngestRecord {
        let mut r = crate::store::new_image(path);
        r.upsert = Upsert::New;
        r.facts.hash = Some(format!("h-{path}"));
        r.facts.width = Some(64);
        r.facts.height = Some(48);
        r.signals = vec![
            SignalRow {
                key: "blur_laplacian_var".into(),
                value: Some(blur),
                text: None,
                producer: "classical@1".into(),
            },
            SignalRow {
                key: "phash".into(),
                value: None,
                text: Some("abcd".into()),
                producer: "hash@1".into(),
            },
            SignalRow {
                key: "dup_group".into(),
                value: Some(group),
                text: None,
                producer: "dedup@1".into(),
            },
        ];
        r
    }

    #[test]
    fn copies_templates_with_jitter_metadata_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("a.db")).unwrap();
        let ids = s
            .write_ingest(&[
                template("real/a.jpg", 100.0, 0.0),
                template("real/b.jpg", 10.0, 0.0),
                template("real/c.jpg", 20.0, 0.0),
                template("other/x.jpg", 5.0, 0.0),
            ])
            .unwrap();
        // b and c are near duplicates (group = the lowest id).
        let g = |id: i64| SignalRow {
            key: "dup_group".into(),
            value: Some(id as f64),
            text: None,
            producer: "dedup@1".into(),
        };
        s.set_signals(&[(ids[1], g(ids[1])), (ids[2], g(ids[1]))])
            .unwrap();
        let schema = |s: &Store| -> Vec<String> {
            let mut st = s
                .conn
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let before = schema(&s);
        let spec = Synthesis {
            rows: 11,
            template_prefix: "real/".into(),
            copy_prefix: "copies/c".into(),
            jitter: 0.25,
        };
        let mut calls = 0;
        let r = s.synthesize(&spec, |_, _| calls += 1).unwrap();
        assert_eq!(
            r,
            Synthesized {
                templates: 3,
                added: 7,
                folders: 3
            }
        );
        assert_eq!(calls, 1);
        assert_eq!(schema(&s), before, "the signal indexes are back");
        let rows = s.image_rows(false).unwrap();
        assert_eq!(rows.len(), 11);
        let by_path = |p: &str| rows.iter().find(|r| r.path == p).unwrap();
        let c0a = by_path("copies/c00000/a.jpg");
        let c2a = by_path("copies/c00002/a.jpg");
        assert!(
            rows.iter().all(|r| r.path != "copies/c00002/b.jpg"),
            "7 copies, not 9"
        );
        assert_eq!(c0a.hash.as_deref(), Some("h-real/a.jpg"));
        assert_eq!(c0a.path_bytes(), b"copies/c00000/a.jpg");
        let blur = |r: &crate::store::ImageRow| {
            r.signals
                .number(SignalKey::lookup("blur_laplacian_var").unwrap())
                .unwrap()
        };
        use crate::store::SignalKey;
        for r in [c0a, c2a] {
            let b = blur(r);
            assert!((75.0..=125.0).contains(&b) && b != 100.0, "{b}");
            assert_eq!(
                r.signals.get("phash"),
                Some(&SignalValue::Text("abcd".into()))
            );
        }
        assert_ne!(blur(c0a), blur(c2a), "each copy has its own jitter");
        // Groups are renumbered within each copy: copies of b and c share the copy of b's id.
        let c1b = by_path("copies/c00001/b.jpg");
        let c1c = by_path("copies/c00001/c.jpg");
        let group =
            |r: &crate::store::ImageRow| r.signals.number(SignalKey::lookup("dup_group").unwrap());
        assert_eq!(group(c1b), Some(c1b.id as f64));
        assert_eq!(group(c1c), Some(c1b.id as f64));
        assert_eq!(group(c0a), Some(0.0));
        // Generated metadata with a raw carrier; one in ten without.
        let with_meta = rows
            .iter()
            .filter(|r| r.path.starts_with("copies/") && r.tool.is_some())
            .count();
        assert_eq!(with_meta, 7, "copy indices 0..7: none has i % 10 == 9");
        let mut one = vec![c0a.clone()];
        s.load_raw(&mut one).unwrap();
        let raw: serde_json::Value =
            serde_json::from_str(one[0].raw_json.as_deref().unwrap()).unwrap();
        let text = raw[0]["value"].as_str().unwrap();
        assert!(
            text.starts_with(one[0].positive.as_deref().unwrap()),
            "{text}"
        );
        assert!(text.contains("Negative prompt: "));
        assert_eq!(raw[0]["truncated"], serde_json::Value::Bool(false));
        // Decisions for one image in 17 (copy index 0 here).
        assert_eq!(c0a.status, Some(crate::domain::Status::Accepted));
        assert_eq!(s.integrity_check().unwrap(), "ok");
        // Already big enough: nothing added.
        assert_eq!(s.synthesize(&spec, |_, _| ()).unwrap().added, 0);
    }
}
