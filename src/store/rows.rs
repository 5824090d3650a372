//! Reading the catalogue for `assay table` and the workbench: every current image with its
//! metadata, latest decision and signals, fast enough for a million rows.
//!
//! - **Signals** are read one key at a time from covering indexes (`signals_key_value` for
//!   numbers, `signals_key_text` for text values, migration 8), never by joining each of the
//!   ~25 signal rows of an image to `images`; the ~25 per-key scans run on a few read-only
//!   connections in parallel (WAL readers) when the database is a file.
//! - **Raw metadata** (`raw_json`, `warnings_json`: kilobytes per image, up to 256 KiB per
//!   carrier) is not part of the bulk read; [`Store::load_raw`] fills it for the rows that
//!   need it (the inspector, `assay table --columns raw,warnings`, export manifests).
//! - Rows are kept compact: a row's signals are one small vector keyed by interned ids
//!   ([`SignalKey`]), not a map of owned strings, and `path_raw` is left empty when it is the
//!   UTF-8 path itself ([`ImageRow::path_bytes`]).
//!
//! Timed by `assay bench catalog` (`cli/bench_catalog.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{OnceLock, RwLock};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, params};

use super::{ImageRow, Result, SignalValue};

/// An interned signal key. Registered signals have the ids of their registry position, so
/// the order of [`Signals::iter`] is the registry's; keys found only in a database get the
/// next ids (interned once per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignalKey(u16);

struct Interner {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u16>,
}

fn registry_ids() -> &'static HashMap<&'static str, u16> {
    static IDS: OnceLock<HashMap<&'static str, u16>> = OnceLock::new();
    IDS.get_or_init(|| {
        crate::signals::registry()
            .iter()
            .enumerate()
            .map(|(i, d)| (d.key, u16::try_from(i).unwrap_or(u16::MAX)))
            .collect()
    })
}

fn extra_keys() -> &'static RwLock<Interner> {
    static EXTRA: OnceLock<RwLock<Interner>> = OnceLock::new();
    EXTRA.get_or_init(|| {
        RwLock::new(Interner {
            names: Vec::new(),
            ids: HashMap::new(),
        })
    })
}

impl SignalKey {
    /// The id of `key` if it was ever seen (registered, or read from a database).
    pub fn lookup(key: &str) -> Option<Self> {
        if let Some(&i) = registry_ids().get(key) {
            return Some(Self(i));
        }
        let t = extra_keys().read().ok()?;
        t.ids.get(key).map(|&i| Self(i))
    }

    /// The id of `key`, interning it when new (unknown keys are few: the registry of another
    /// version of Assay; each is kept for the life of the process).
    pub fn intern(key: &str) -> Self {
        if let Some(k) = Self::lookup(key) {
            return k;
        }
        let base = crate::signals::registry().len();
        let Ok(mut t) = extra_keys().write() else {
            return Self(u16::MAX);
        };
        if let Some(&i) = t.ids.get(key) {
            return Self(i);
        }
        let id = u16::try_from(base + t.names.len()).unwrap_or(u16::MAX);
        let name: &'static str = Box::leak(key.to_string().into_boxed_str());
        t.names.push(name);
        t.ids.insert(name, id);
        Self(id)
    }

    /// The key's name.
    pub fn name(self) -> &'static str {
        let reg = crate::signals::registry();
        let i = usize::from(self.0);
        if let Some(d) = reg.get(i) {
            return d.key;
        }
        extra_keys()
            .read()
            .ok()
            .and_then(|t| t.names.get(i - reg.len()).copied())
            .unwrap_or("")
    }
}

/// The signal values of one image: a small vector sorted by [`SignalKey`] (no per-entry key
/// string), with the lookups of a map.
#[derive(Clone, Default, PartialEq)]
pub struct Signals(Vec<(SignalKey, SignalValue)>);

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Signals {
    fn position(&self, key: SignalKey) -> std::result::Result<usize, usize> {
        self.0.binary_search_by_key(&key, |e| e.0)
    }

    /// The value of `key`, if the image has one.
    pub fn get(&self, key: &str) -> Option<&SignalValue> {
        self.get_key(SignalKey::lookup(key)?)
    }

    /// The value of an interned key (the fast path of sorting and filtering).
    pub fn get_key(&self, key: SignalKey) -> Option<&SignalValue> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The number of `key`, when it is a number.
    pub fn number(&self, key: SignalKey) -> Option<f64> {
        match self.get_key(key) {
            Some(SignalValue::Number(x)) => Some(*x),
            _ => None,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, returning the previous value.
    pub fn insert(&mut self, key: String, value: SignalValue) -> Option<SignalValue> {
        self.insert_key(SignalKey::intern(&key), value)
    }

    pub fn insert_key(&mut self, key: SignalKey, value: SignalValue) -> Option<SignalValue> {
        match self.position(key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<SignalValue> {
        let i = self.position(SignalKey::lookup(key)?).ok()?;
        Some(self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(key, value)` in key order (the registry's for registered signals).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &SignalValue)> {
        self.0.iter().map(|(k, v)| (k.name(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.0.iter().map(|(k, _)| k.name())
    }

    fn shrink(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl ImageRow {
    /// Exact bytes of the relative path (`path_raw`, or the path itself when they agree).
    pub fn path_bytes(&self) -> &[u8] {
        if self.path_raw.is_empty() {
            self.path.as_bytes()
        } else {
            &self.path_raw
        }
    }
}

/// Where each image id's row is: a dense table when ids are compact (the usual case), a map
/// otherwise.
enum IdMap {
    Dense { min: i64, pos: Vec<u32> },
    Sparse(HashMap<i64, u32>),
}

impl IdMap {
    fn new(ids: impl Iterator<Item = i64> + Clone, n: usize) -> Self {
        let (lo, hi) = ids
            .clone()
            .fold((i64::MAX, i64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let span = hi.saturating_sub(lo).saturating_add(1);
        if n > 0 && span > 0 && span <= (4 * n as i64).max(1024) {
            let mut pos = vec![u32::MAX; usize::try_from(span).unwrap_or(0)];
            for (i, id) in ids.enumerate() {
                pos[(id - lo) as usize] = i as u32;
            }
            Self::Dense { min: lo, pos }
        } else {
            Self::Sparse(ids.enumerate().map(|(i, id)| (id, i as u32)).collect())
        }
    }

    fn get(&self, id: i64) -> Option<usize> {
        match self {
            Self::Dense { min, pos } => {
                let i = usize::try_from(id.checked_sub(*min)?).ok()?;
                pos.get(i).filter(|&&p| p != u32::MAX).map(|&p| p as usize)
            }
            Self::Sparse(m) => m.get(&id).map(|&p| p as usize),
        }
    }
}

/// One key's values: `(row position, value)`.
type Column = Vec<(u32, SignalValue)>;

/// Reads every value of one signal key (numbers and texts) from the covering indexes.
fn read_key(conn: &Connection, key: &str, map: &IdMap) -> Result<Column> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT image_id, value FROM signals INDEXED BY signals_key_value
         WHERE key = ?1 AND value IS NOT NULL",
    )?;
    let mut q = stmt.query(params![key])?;
    while let Some(r) = q.next()? {
        if let Some(p) = map.get(r.get(0)?) {
            out.push((p as u32, SignalValue::Number(r.get(1)?)));
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT image_id, text FROM signals INDEXED BY signals_key_text
         WHERE key = ?1 AND text IS NOT NULL AND value IS NULL",
    )?;
    let mut q = stmt.query(params![key])?;
    while let Some(r) = q.next()? {
        if let Some(p) = map.get(r.get(0)?) {
            out.push((p as u32, SignalValue::Text(r.get(1)?)));
        }
    }
    // In row order, so that filling the rows walks memory forward.
    out.sort_unstable_by_key(|e| e.0);
    Ok(out)
}

/// The distinct signal keys, by seeking through the `(key, value)` index (one seek per key,
/// not a scan of every value).
fn signal_keys(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT key FROM signals INDEXED BY signals_key_value WHERE key > ?1 ORDER BY key LIMIT 1",
    )?;
    let mut keys: Vec<String> = Vec::new();
    let mut last = String::new();
    loop {
        let mut q = stmt.query(params![last])?;
        let Some(r) = q.next()? else { break };
        let k: String = r.get(0)?;
        keys.push(k.clone());
        last = k;
    }
    Ok(keys)
}

impl super::Store {
    /// Every current image (and missing ones with `include_missing`), in path order, with
    /// metadata (without the raw carriers: see [`Self::load_raw`]), the latest decision and
    /// the signals.
    pub(super) fn read_rows(&self, include_missing: bool) -> Result<Vec<ImageRow>> {
        let mut rows = self.read_images(include_missing)?;
        let map = IdMap::new(rows.iter().map(|r| r.id), rows.len());
        self.read_metadata(&mut rows, &map)?;
        self.read_decisions(&mut rows, &map)?;
        let keys = signal_keys(&self.conn)?;
        for r in &mut rows {
            r.signals.0.reserve_exact(keys.len());
        }
        let mut put = |col: Column, key: SignalKey| {
            for (p, v) in col {
                rows[p as usize].signals.0.push((key, v));
            }
        };
        let file = Some(self.path.as_path()).filter(|p| p.as_os_str() != ":memory:");
        match file {
            // Extra readers need what a plain read-only open needs (a `-shm` file for WAL):
            // on read-only media the store's own (immutable) connection reads alone.
            Some(path) if keys.len() > 1 && reader_opens(path) => {
                read_keys_parallel(path, &keys, &map, &mut put)?;
            }
            _ => {
                for k in &keys {
                    put(read_key(&self.conn, k, &map)?, SignalKey::intern(k));
                }
            }
        }
        for r in &mut rows {
            // Keys arrive in name order; ids are in registry order.
            r.signals.0.sort_unstable_by_key(|e| e.0);
            r.signals.shrink();
        }
        Ok(rows)
    }

    fn read_images(&self, include_missing: bool) -> Result<Vec<ImageRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path, size, hash, width, height, format, frames, error, missing,
                    version, path_raw, first_seen
             FROM images WHERE current = 1 AND (?1 OR missing = 0) ORDER BY path",
        )?;
        let mut q = stmt.query(params![include_missing])?;
        let mut rows = Vec::new();
        while let Some(r) = q.next()? {
            let path: String = r.get(1)?;
            let raw = match r.get_ref(11)? {
                ValueRef::Blob(b) | ValueRef::Text(b) => b,
                _ => &[],
            };
            let path_raw = if raw == path.as_bytes() {
                Vec::new()
            } else {
                raw.to_vec()
            };
            rows.push(ImageRow {
                id: r.get(0)?,
                path,
                size: r.get(2)?,
                hash: r.get(3)?,
                width: r.get(4)?,
                height: r.get(5)?,
                format: r.get(6)?,
                frames: r.get(7)?,
                error: r.get(8)?,
                missing: r.get::<_, i64>(9)? != 0,
                version: r.get(10)?,
                path_raw,
                first_seen: r.get(12)?,
                ..Default::default()
            });
        }
        Ok(rows)
    }

    fn read_metadata(&self, rows: &mut [ImageRow], map: &IdMap) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT image_id, tool, positive, negative, CAST(seed AS TEXT), steps, sampler, cfg,
                    model, gen_width, gen_height, parser, extra_json
             FROM metadata",
        )?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let Some(p) = map.get(r.get(0)?) else {
                continue;
            };
            let row = &mut rows[p];
            row.tool = r.get(1)?;
            row.positive = r.get(2)?;
            row.negative = r.get(3)?;
            row.seed = r.get(4)?;
            row.steps = r.get(5)?;
            row.sampler = r.get(6)?;
            row.cfg = r.get(7)?;
            row.model = r.get(8)?;
            row.gen_width = r.get(9)?;
            row.gen_height = r.get(10)?;
            row.parser = r.get(11)?;
            // Most files have no extra fields: keep no string for them.
            let extra: Option<String> = r.get(12)?;
            row.extra_json = extra.filter(|e| e != "[]");
            row.has_metadata = true;
        }
        Ok(())
    }

    fn read_decisions(&self, rows: &mut [ImageRow], map: &IdMap) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT image_id, status, source, reason, rating FROM decisions
             WHERE id IN (SELECT MAX(id) FROM decisions GROUP BY image_id)",
        )?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let Some(p) = map.get(r.get(0)?) else {
                continue;
            };
            let row = &mut rows[p];
            row.status = r.get(1)?;
            row.decision_source = r.get(2)?;
            row.decision_reason = r.get(3)?;
            row.decision_rating = r.get(4)?;
        }
        Ok(())
    }

    /// Fills `raw_json` and `warnings_json` of `rows` (left out of [`Self::image_rows`]):
    /// one lookup per row for a few rows, one pass over the table for many.
    pub fn load_raw(&self, rows: &mut [ImageRow]) -> Result<()> {
        if rows.len() > 20_000 {
            let map = IdMap::new(rows.iter().map(|r| r.id), rows.len());
            let mut stmt = self
                .conn
                .prepare("SELECT image_id, raw_json, warnings_json FROM metadata")?;
            let mut q = stmt.query([])?;
            while let Some(r) = q.next()? {
                if let Some(p) = map.get(r.get(0)?) {
                    rows[p].raw_json = r.get(1)?;
                    rows[p].warnings_json = r.get(2)?;
                }
            }
            return Ok(());
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_unstable_by_key(|&i| rows[i].id);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT raw_json, warnings_json FROM metadata WHERE image_id = ?1")?;
        for i in order {
            let mut q = stmt.query(params![rows[i].id])?;
            if let Some(r) = q.next()? {
                rows[i].raw_json = r.get(0)?;
                rows[i].warnings_json = r.get(1)?;
            }
        }
        Ok(())
    }

    /// Number of current images present on disk (what [`Self::image_rows`] returns).
    pub fn image_rows_count(&self) -> Result<usize> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM images WHERE current = 1 AND missing = 0",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// `(raw_json, warnings_json)` of one image (the inspector's raw metadata).
    pub fn raw_metadata(&self, image_id: i64) -> Result<Option<(String, String)>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn
            .query_row(
                "SELECT raw_json, warnings_json FROM metadata WHERE image_id = ?1",
                params![image_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// Whether another read-only connection to `path` can open and read.
fn reader_opens(path: &Path) -> bool {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| {
        c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
    })
    .is_ok()
}

/// Reads the keys on up to `available_parallelism` (at most 4) read-only connections; each
/// finished column is handed to `put` on this thread.
fn read_keys_parallel(
    path: &Path,
    keys: &[String],
    map: &IdMap,
    put: &mut dyn FnMut(Column, SignalKey),
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
        .min(keys.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, Column)>>(threads);
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..threads {
            let (tx, next) = (tx.clone(), &next);
            s.spawn(move || {
                let conn = match Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = conn.busy_timeout(std::time::Duration::from_secs(10));
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(k) = keys.get(i) else { break };
                    let r = read_key(&conn, k, map).map(|c| (i, c));
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut first_err = None;
        for r in rx {
            match r {
                Ok((i, col)) => put(col, SignalKey::intern(&keys[i])),
                Err(e) => {
                    first_err.get_or_insert(e);
                    // Stop handing out keys; the workers finish what they hold.
                    next.store(keys.len(), std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        ImageFacts, IngestRecord, MetadataRow, NewDecision, SignalRow, Store, Upsert,
    };

    /// The catalogue read the straightforward way (the implementation this module replaced):
    /// one join per image, every signal joined to its image.
    fn reference(s: &Store, include_missing: bool) -> Vec<ImageRow> {
        let mut stmt = s
            .conn
            .prepare(
                "SELECT i.id, i.path, i.size, i.hash, i.width, i.height, i.format, i.frames, i.error,
                    i.missing, i.version, m.tool, m.positive, m.negative, CAST(m.seed AS TEXT),
                    m.steps, m.sampler, m.cfg, m.model, m.raw_json, m.warnings_json,
                    m.gen_width, m.gen_height,
                    d.status, d.source, d.reason, d.rating, i.path_raw, i.first_seen,
                    m.parser, NULLIF(m.extra_json, '[]'), m.image_id IS NOT NULL
             FROM images i LEFT JOIN metadata m ON m.image_id = i.id
             LEFT JOIN decisions d
                    ON d.id = (SELECT MAX(id) FROM decisions WHERE image_id = i.id)
             WHERE i.current = 1 AND (?1 OR i.missing = 0)
             ORDER BY i.path",
            )
            .unwrap();
        let mut rows: Vec<ImageRow> = stmt
            .query_map(params![include_missing], |r| {
                Ok(ImageRow {
                    id: r.get(0)?,
                    path: r.get(1)?,
                    size: r.get(2)?,
                    hash: r.get(3)?,
                    width: r.get(4)?,
                    height: r.get(5)?,
                    format: r.get(6)?,
                    frames: r.get(7)?,
                    error: r.get(8)?,
                    missing: r.get::<_, i64>(9)? != 0,
                    version: r.get(10)?,
                    tool: r.get(11)?,
                    positive: r.get(12)?,
                    negative: r.get(13)?,
                    seed: r.get(14)?,
                    steps: r.get(15)?,
                    sampler: r.get(16)?,
                    cfg: r.get(17)?,
                    model: r.get(18)?,
                    raw_json: r.get(19)?,
                    warnings_json: r.get(20)?,
                    gen_width: r.get(21)?,
                    gen_height: r.get(22)?,
                    status: r.get(23)?,
                    decision_source: r.get(24)?,
                    decision_reason: r.get(25)?,
                    decision_rating: r.get(26)?,
                    path_raw: r.get(27)?,
                    first_seen: r.get(28)?,
                    parser: r.get(29)?,
                    extra_json: r.get(30)?,
                    has_metadata: r.get(31)?,
                    earlier_decision: None,
                    signals: Signals::default(),
                })
            })
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let mut stmt = s
            .conn
            .prepare(
                "SELECT s.image_id, s.key, s.value, s.text FROM signals s
             JOIN images i ON i.id = s.image_id WHERE i.current = 1",
            )
            .unwrap();
        let mut q = stmt.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let Some(&pos) = index.get(&r.get::<_, i64>(0).unwrap()) else {
                continue;
            };
            let value = match (
                r.get::<_, Option<f64>>(2).unwrap(),
                r.get::<_, Option<String>>(3).unwrap(),
            ) {
                (Some(v), _) => SignalValue::Number(v),
                (None, Some(t)) => SignalValue::Text(t),
                (None, None) => continue,
            };
            rows[pos].signals.insert(r.get(1).unwrap(), value);
        }
        rows
    }

    fn image(path: &[u8], hash: &str, meta: Option<u64>, signals: &[(&str, f64)]) -> IngestRecord {
        IngestRecord {
            upsert: Upsert::New,
            facts: ImageFacts {
                path: String::from_utf8_lossy(path).into_owned(),
                path_raw: path.to_vec(),
                size: 10,
                hash: Some(hash.into()),
                width: Some(64),
                height: Some(48),
                format: Some("png".into()),
                ..Default::default()
            },
            metadata: meta.map(|seed| MetadataRow {
                tool: Some("comfyui".into()),
                positive: Some(format!("prompt {seed}")),
                seed: Some(seed),
                raw_json: format!("[{{\"key\":\"prompt\",\"value\":\"{seed}\"}}]"),
                warnings_json: "[\"odd\"]".into(),
                ..Default::default()
            }),
            signals: signals
                .iter()
                .map(|(k, v)| SignalRow {
                    key: (*k).into(),
                    value: Some(*v),
                    text: None,
                    producer: "t@1".into(),
                })
                .chain(std::iter::once(SignalRow {
                    key: "phash".into(),
                    value: None,
                    text: Some(format!("ph-{hash}")),
                    producer: "hash@1".into(),
                }))
                .collect(),
            signals_version: Some(1),
            embedding: None,
        }
    }

    fn fill(s: &mut Store) {
        let ids = s
            .write_ingest(&[
                image(
                    b"b.png",
                    "h1",
                    Some(u64::MAX),
                    &[("blur_laplacian_var", 1.5)],
                ),
                image(
                    b"a/c.png",
                    "h2",
                    Some(7),
                    &[("tenengrad", 2.0), ("not_registered", 3.0)],
                ),
                image(b"odd\xff.png", "h3", None, &[]),
                image(b"gone.png", "h4", Some(1), &[("tenengrad", 9.0)]),
            ])
            .unwrap();
        // A new version of b.png: the old row's signals stay with it.
        let mut v2 = image(b"b.png", "h5", Some(3), &[("blur_laplacian_var", 4.5)]);
        v2.upsert = Upsert::NewVersion {
            old_id: ids[0],
            old_version: 1,
        };
        s.write_ingest(&[v2]).unwrap();
        s.mark_missing(&[ids[3]]).unwrap();
        let d = |id, status: &str, source: &str| NewDecision {
            image_id: id,
            status: status.into(),
            rating: Some(2),
            source: source.into(),
            reason: Some("r".into()),
            detail: None,
        };
        s.append_decisions(&[
            d(ids[1], "accepted", "human"),
            d(ids[1], "rejected", "policy:p@1"),
        ])
        .unwrap();
        s.append_decisions(&[d(ids[3], "review", "human")]).unwrap();
        // A text value and a number for the same key: the number wins (as before).
        s.set_signals(&[(
            ids[2],
            SignalRow {
                key: "dhash".into(),
                value: Some(5.0),
                text: Some("t".into()),
                producer: "x@1".into(),
            },
        )])
        .unwrap();
    }

    fn normalised(mut rows: Vec<ImageRow>) -> Vec<ImageRow> {
        for r in &mut rows {
            r.path_raw = r.path_bytes().to_vec();
        }
        rows
    }

    #[test]
    fn fast_read_equals_the_reference_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = Store::open(&dir.path().join("a.db")).unwrap();
        let mut mem = Store::open_in_memory().unwrap();
        fill(&mut file);
        fill(&mut mem);
        for s in [&file, &mem] {
            for missing in [false, true] {
                let mut fast = s.image_rows(missing).unwrap();
                assert!(
                    fast.iter()
                        .all(|r| r.raw_json.is_none() && r.warnings_json.is_none())
                );
                s.load_raw(&mut fast).unwrap();
                let want = reference(s, missing);
                assert_eq!(want.len(), if missing { 4 } else { 3 });
                assert_eq!(normalised(fast), normalised(want));
            }
        }
        let rows = file.image_rows(false).unwrap();
        let odd = rows.iter().find(|r| r.path.starts_with("odd")).unwrap();
        assert_eq!(odd.path_bytes(), b"odd\xff.png", "non-UTF-8 bytes kept");
        assert!(
            rows.iter()
                .find(|r| r.path == "b.png")
                .unwrap()
                .path_raw
                .is_empty()
        );
        let c = rows.iter().find(|r| r.path == "a/c.png").unwrap();
        assert_eq!(
            c.signals.get("not_registered"),
            Some(&SignalValue::Number(3.0))
        );
        assert_eq!(
            c.signals.keys().collect::<Vec<_>>(),
            vec!["tenengrad", "phash", "not_registered"],
            "registry order, then other keys"
        );
        assert_eq!(c.status.as_deref(), Some("rejected"), "the latest decision");
        let (raw, warnings) = file.raw_metadata(c.id).unwrap().unwrap();
        assert!(raw.contains("\"7\""));
        assert_eq!(warnings, "[\"odd\"]");
        assert_eq!(file.raw_metadata(odd.id).unwrap(), None);
        // Many rows: one pass over the table instead of a lookup each.
        let mut many: Vec<ImageRow> = (0..20_001)
            .map(|i| ImageRow {
                id: if i == 0 { c.id } else { 1_000_000 + i },
                ..Default::default()
            })
            .collect();
        file.load_raw(&mut many).unwrap();
        assert_eq!(many[0].raw_json.as_deref(), Some(raw.as_str()));
        assert!(many[1].raw_json.is_none());
    }

    #[test]
    fn signals_behave_like_a_map() {
        let mut s = Signals::default();
        assert!(s.is_empty());
        assert_eq!(s.insert("tenengrad".into(), SignalValue::Number(1.0)), None);
        s.insert("blur_laplacian_var".into(), SignalValue::Number(2.0));
        s.insert("zz_unknown_key".into(), SignalValue::Text("x".into()));
        assert_eq!(
            s.insert("tenengrad".into(), SignalValue::Number(3.0)),
            Some(SignalValue::Number(1.0))
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s.get("tenengrad"), Some(&SignalValue::Number(3.0)));
        assert!(s.contains_key("zz_unknown_key"));
        assert!(s.get("never_seen_anywhere").is_none());
        assert_eq!(
            s.keys().collect::<Vec<_>>(),
            vec!["blur_laplacian_var", "tenengrad", "zz_unknown_key"]
        );
        assert_eq!(
            s.remove("blur_laplacian_var"),
            Some(SignalValue::Number(2.0))
        );
        assert_eq!(s.len(), 2);
        assert_eq!(
            format!("{s:?}"),
            "{\"tenengrad\": Number(3.0), \"zz_unknown_key\": Text(\"x\")}"
        );
        let k = SignalKey::intern("zz_unknown_key");
        assert_eq!(k.name(), "zz_unknown_key");
        assert_eq!(SignalKey::intern("zz_unknown_key"), k);
    }
}
