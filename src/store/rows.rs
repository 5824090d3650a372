//! Reading the catalogue for `assay table` and the workbench: every current image with its
//! metadata, latest decision and signals, fast enough for a million rows.
//!
//! - **Signals** are read in the table's own order (by image id, then key) in ranges of
//!   [`ID_CHUNK`] ids, on a few read-only connections in parallel (WAL readers) when the
//!   database is a file, never by joining each of the ~25 signal rows of an image to
//!   `images`. (Reading one key at a time from the `(key, value)` index instead wrote every
//!   value to a random row: four cache misses per value, 25 million values.) Each row's
//!   values are allocated once, full width, and filled in place ([`Fill`]).
//! - **The signal cache** (`store/signal_cache.rs`): a read of at least a million cells
//!   writes the signals row-major beside the catalogue; later reads take them from there,
//!   while no `signals` row has changed since (a token that triggers renew on every write).
//! - **Raw metadata** (`raw_json`, `warnings_json`: kilobytes per image, up to 256 KiB per
//!   carrier) is not part of the bulk read; [`Store::load_raw`] fills it for the rows that
//!   need it (the inspector, `assay table --columns raw,warnings`, export manifests).
//! - Rows are kept compact: a row's signals are its values beside a key list shared by every
//!   row with the same keys ([`Signals`], 16 bytes a value); repeated texts (prompts, tool,
//!   model, sampler, format, decisions) are one shared `Arc<str>` per distinct value
//!   ([`Texts`]); `path_raw` is left empty when it is the UTF-8 path itself
//!   ([`ImageRow::path_bytes`]). `assay bench catalog`: a million rows hold 1.28 GB of RSS
//!   (1.86 GB before).
//! - The workbench gets its rows already in their `Arc`s ([`RowSlot`]), not copied into them.
//!
//! Timed by `assay bench catalog` (`cli/bench_catalog.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, params};

use super::{ImageRow, Result, SignalValue, signal_cache};

/// An interned signal key. Built-in signals have the ids of their registry position, so
/// the order of [`Signals::iter`] is the registry's; keys found only in a database (imported
/// signals, or the registry of another version of Assay) get the next ids (interned once per
/// process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignalKey(u16);

struct Interner {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u16>,
}

fn registry_ids() -> &'static HashMap<&'static str, u16> {
    static IDS: OnceLock<HashMap<&'static str, u16>> = OnceLock::new();
    IDS.get_or_init(|| {
        crate::signals::builtin()
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
        let base = crate::signals::builtin().len();
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
        let reg = crate::signals::builtin();
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

/// The signal values of one image, with the lookups of a map: the keys in [`SignalKey`]
/// order and the values beside them. The key list is shared (`Arc`) by every row with the
/// same keys — one list for a whole collection read in bulk, where every image has the same
/// signals — so a row holds its values (16 bytes each) and two pointers, not a key per value.
#[derive(Clone)]
pub struct Signals {
    keys: Arc<[SignalKey]>,
    vals: Box<[SignalValue]>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            keys: no_keys(),
            vals: Box::default(),
        }
    }
}

/// The empty key list (shared, so an image without signals allocates nothing).
fn no_keys() -> Arc<[SignalKey]> {
    static EMPTY: OnceLock<Arc<[SignalKey]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(Vec::new())).clone()
}

impl PartialEq for Signals {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys && self.vals == other.vals
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Signals {
    fn position(&self, key: SignalKey) -> std::result::Result<usize, usize> {
        self.keys.binary_search(&key)
    }

    /// The value of `key`, if the image has one.
    pub fn get(&self, key: &str) -> Option<&SignalValue> {
        self.get_key(SignalKey::lookup(key)?)
    }

    /// The value of an interned key (the fast path of sorting and filtering).
    pub fn get_key(&self, key: SignalKey) -> Option<&SignalValue> {
        self.position(key).ok().map(|i| &self.vals[i])
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

    /// Sets `key`, returning the previous value (a new key copies the key list).
    pub fn insert_key(&mut self, key: SignalKey, value: SignalValue) -> Option<SignalValue> {
        match self.position(key) {
            Ok(i) => Some(std::mem::replace(&mut self.vals[i], value)),
            Err(i) => {
                let mut keys = self.keys.to_vec();
                keys.insert(i, key);
                let mut vals = std::mem::take(&mut self.vals).into_vec();
                vals.insert(i, value);
                self.keys = Arc::from(keys);
                self.vals = vals.into_boxed_slice();
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<SignalValue> {
        let i = self.position(SignalKey::lookup(key)?).ok()?;
        let mut keys = self.keys.to_vec();
        keys.remove(i);
        let mut vals = std::mem::take(&mut self.vals).into_vec();
        let v = vals.remove(i);
        self.keys = Arc::from(keys);
        self.vals = vals.into_boxed_slice();
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.vals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vals.is_empty()
    }

    /// `(key, value)` in key order (the registry's for registered signals).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &SignalValue)> {
        self.keys.iter().map(|k| k.name()).zip(self.vals.iter())
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.keys.iter().map(|k| k.name())
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

/// A row being read: owned (`assay table`) or already in its `Arc` (the workbench shares rows
/// between threads; building them in place spares a copy of every row).
pub trait RowSlot: Sized {
    fn new(row: ImageRow) -> Self;
    fn get(&self) -> &ImageRow;
    fn get_mut(&mut self) -> &mut ImageRow;
}

impl RowSlot for ImageRow {
    fn new(row: ImageRow) -> Self {
        row
    }
    fn get(&self) -> &ImageRow {
        self
    }
    fn get_mut(&mut self) -> &mut ImageRow {
        self
    }
}

impl RowSlot for Arc<ImageRow> {
    fn new(row: ImageRow) -> Self {
        Arc::new(row)
    }
    fn get(&self) -> &ImageRow {
        self
    }
    /// Never clones while reading: the store holds the only reference.
    fn get_mut(&mut self) -> &mut ImageRow {
        Arc::make_mut(self)
    }
}

/// Seconds spent in each part of one bulk read (`assay bench catalog` prints them).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ReadTimes {
    pub images_s: f64,
    pub metadata_s: f64,
    pub decisions_s: f64,
    pub signals_s: f64,
    pub earlier_decisions_s: f64,
    /// The metadata read on its own connection, beside the images read (included in
    /// `images_s`; `metadata_s` is then only putting it into the rows).
    pub metadata_parallel_s: f64,
    /// The signals came from the catalogue's signal cache (`store/signal_cache.rs`).
    pub signals_cached: bool,
}

/// Where each image id's row is: a dense table when ids are compact (the usual case), a map
/// otherwise.
pub(super) enum IdMap {
    Dense { min: i64, pos: Vec<u32> },
    Sparse(HashMap<i64, u32>),
}

impl IdMap {
    pub(super) fn new(ids: impl Iterator<Item = i64> + Clone, n: usize) -> Self {
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

    /// The ids of the rows cut into ranges `lo..hi` of `chunk` ids (none without rows).
    fn chunks(&self, chunk: i64) -> Vec<(i64, i64)> {
        let (lo, hi) = match self {
            Self::Dense { min, pos } => (*min, *min + pos.len() as i64),
            Self::Sparse(m) => {
                // Ranges of `chunk` rows each, whatever the gaps between ids.
                let mut ids: Vec<i64> = m.keys().copied().collect();
                ids.sort_unstable();
                return ids
                    .chunks(chunk.max(1) as usize)
                    .map(|c| (c[0], c[c.len() - 1].saturating_add(1)))
                    .collect();
            }
        };
        (0..)
            .map(|c| lo.saturating_add(c * chunk))
            .take_while(|&a| a < hi)
            .map(|a| (a, a.saturating_add(chunk).min(hi)))
            .collect()
    }

    pub(super) fn get(&self, id: i64) -> Option<usize> {
        match self {
            Self::Dense { min, pos } => {
                let i = usize::try_from(id.checked_sub(*min)?).ok()?;
                pos.get(i).filter(|&&p| p != u32::MAX).map(|&p| p as usize)
            }
            Self::Sparse(m) => m.get(&id).map(|&p| p as usize),
        }
    }
}

/// Signal values read for a range of images: `(row position, key index, value)`.
type Batch = Vec<(u32, u16, SignalValue)>;

/// Image ids per batch of the signal read.
const ID_CHUNK: i64 = 16_384;

/// Reads the signals of images with ids in `lo..hi` in the table's own order (by image,
/// then key): every stored value is visited once, where it lies, and lands in a row that
/// is mostly next to the previous one (ids follow the scan order, as paths do). `keys`
/// are the database's keys in name order (the order of the table within an image).
fn read_signal_range(
    conn: &Connection,
    (lo, hi): (i64, i64),
    keys: &[String],
    map: &IdMap,
) -> Result<Batch> {
    let mut stmt = conn.prepare_cached(
        "SELECT image_id, key, value, text FROM signals WHERE image_id >= ?1 AND image_id < ?2",
    )?;
    let mut q = stmt.query(params![lo, hi])?;
    let mut out = Vec::new();
    let mut k = 0usize;
    while let Some(r) = q.next()? {
        let Some(p) = map.get(r.get(0)?) else {
            continue;
        };
        let ValueRef::Text(key) = r.get_ref(1)? else {
            continue;
        };
        // The next key of the same image is usually the next one of the list.
        if keys.get(k).is_none_or(|n| n.as_bytes() != key) {
            match keys.binary_search_by(|n| n.as_bytes().cmp(key)) {
                Ok(i) => k = i,
                Err(_) => continue,
            }
        }
        // A number wins over a text stored beside it.
        let value = match r.get::<_, Option<f64>>(2)? {
            Some(x) => Some(SignalValue::Number(x)),
            None => r
                .get::<_, Option<String>>(3)?
                .map(|t| SignalValue::Text(t.into_boxed_str())),
        };
        if let Some(v) = value {
            out.push((p as u32, k as u16, v));
        }
        k += 1;
    }
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

/// One shared copy of each distinct text of a column (prompts repeat across a batch; tools,
/// models, samplers, formats and decisions take a handful of values in a million rows).
#[derive(Default)]
struct Texts(std::collections::HashSet<Arc<str>>);

impl Texts {
    fn get(&mut self, r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Arc<str>>> {
        if let ValueRef::Text(b) = r.get_ref(i)?
            && let Ok(t) = std::str::from_utf8(b)
        {
            if let Some(a) = self.0.get(t) {
                return Ok(Some(a.clone()));
            }
            let a: Arc<str> = Arc::from(t);
            self.0.insert(a.clone());
            return Ok(Some(a));
        }
        r.get(i)
    }
}

/// Signal columns poured into rows: each row's values are allocated once, full width (one
/// slot per key of the database, in [`SignalKey`] order) and filled in place as the columns
/// arrive; [`Fill::finish`] gives every row the shared key list, or, for the few rows
/// without some keys, their values packed under a key list shared by rows like them.
pub(super) struct Fill {
    /// Slot of each key (index into the `keys` read) in the sorted key list.
    slot: Vec<usize>,
    sorted: Arc<[SignalKey]>,
    vals: Vec<Box<[SignalValue]>>,
    /// Row-major `rows × keys` presence.
    present: Vec<bool>,
}

impl Fill {
    pub(super) fn new(keys: &[String], rows: usize) -> Self {
        let ids: Vec<SignalKey> = keys.iter().map(|k| SignalKey::intern(k)).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let slot = ids
            .iter()
            .map(|k| sorted.binary_search(k).unwrap_or(0))
            .collect();
        let w = sorted.len();
        let vals = if w == 0 {
            Vec::new()
        } else {
            (0..rows)
                .map(|_| vec![SignalValue::Number(0.0); w].into_boxed_slice())
                .collect()
        };
        Self {
            slot,
            sorted: Arc::from(sorted),
            vals,
            present: vec![false; rows * w],
        }
    }

    fn put(&mut self, batch: Batch) {
        let w = self.sorted.len();
        for (p, k, v) in batch {
            let s = self.slot[usize::from(k)];
            self.vals[p as usize][s] = v;
            self.present[p as usize * w + s] = true;
        }
    }

    /// Puts one value: row position `p`, `k` an index into the keys given to [`Fill::new`].
    pub(super) fn put_value(&mut self, p: usize, k: usize, v: SignalValue) {
        let w = self.sorted.len();
        let s = self.slot[k];
        self.vals[p][s] = v;
        self.present[p * w + s] = true;
    }

    /// The key names in slot order (the order of [`Fill::value`]'s `s`).
    pub(super) fn key_names(&self) -> Vec<&'static str> {
        self.sorted.iter().map(|k| k.name()).collect()
    }

    /// The value of row position `p` at slot `s`, if the row has one.
    pub(super) fn value(&self, p: usize, s: usize) -> Option<&SignalValue> {
        let w = self.sorted.len();
        self.present[p * w + s].then(|| &self.vals[p][s])
    }

    /// Cells (rows × keys) held.
    fn cells(&self) -> usize {
        self.present.len()
    }

    pub(super) fn finish<R: RowSlot>(self, rows: &mut [R]) {
        let w = self.sorted.len();
        if w == 0 {
            return;
        }
        let mut subsets: HashMap<Vec<SignalKey>, Arc<[SignalKey]>> = HashMap::new();
        for ((row, vals), present) in rows
            .iter_mut()
            .zip(self.vals)
            .zip(self.present.chunks_exact(w))
        {
            let row = row.get_mut();
            if present.iter().all(|&p| p) {
                row.signals = Signals {
                    keys: self.sorted.clone(),
                    vals,
                };
                continue;
            }
            let (keys, vals): (Vec<SignalKey>, Vec<SignalValue>) = self
                .sorted
                .iter()
                .zip(vals.into_vec())
                .zip(present)
                .filter(|(_, p)| **p)
                .map(|(kv, _)| (*kv.0, kv.1))
                .unzip();
            if keys.is_empty() {
                row.signals = Signals::default();
                continue;
            }
            let keys = subsets
                .entry(keys)
                .or_insert_with_key(|k| Arc::from(k.as_slice()))
                .clone();
            row.signals = Signals {
                keys,
                vals: vals.into_boxed_slice(),
            };
        }
    }
}

impl super::Store {
    /// Every current image (and missing ones with `include_missing`), in path order, with
    /// metadata (without the raw carriers: see [`Self::load_raw`]), the latest decision and
    /// the signals.
    pub(super) fn read_rows<R: RowSlot>(
        &self,
        include_missing: bool,
        times: &mut ReadTimes,
    ) -> Result<Vec<R>> {
        let t = std::time::Instant::now();
        let file = Some(self.path.as_path()).filter(|p| p.as_os_str() != ":memory:");
        // The metadata on a second connection while this one reads the images.
        let (rows, meta) = std::thread::scope(|s| {
            let meta = file.and_then(|path| {
                std::thread::Builder::new()
                    .name("catalogue-metadata".into())
                    .spawn_scoped(s, move || -> Result<(Vec<MetaRow>, f64)> {
                        let t = std::time::Instant::now();
                        let meta = read_metadata(&read_only(path)?)?;
                        Ok((meta, t.elapsed().as_secs_f64()))
                    })
                    .ok()
            });
            let rows = self.read_images::<R>(include_missing);
            (rows, meta.and_then(|h| h.join().ok()))
        });
        let mut rows = rows?;
        let map = IdMap::new(rows.iter().map(|r| r.get().id), rows.len());
        times.images_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let meta = match meta {
            Some(Ok((meta, s))) => {
                times.metadata_parallel_s = s;
                meta
            }
            // No second reader (memory, read-only media) or it failed: this connection.
            _ => read_metadata(&self.conn)?,
        };
        apply_metadata(meta, &mut rows, &map);
        times.metadata_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        self.read_decisions(&mut rows, &map)?;
        times.decisions_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let token = file.and(signal_cache::token(&self.conn));
        let ids: Vec<i64> = rows.iter().map(|r| r.get().id).collect();
        if let (Some(path), Some(token)) = (file, token)
            && let Some(fill) = signal_cache::read(&signal_cache::path_for(path), token, &ids, &map)
        {
            fill.finish(&mut rows);
            times.signals_s = t.elapsed().as_secs_f64();
            times.signals_cached = true;
            return Ok(rows);
        }
        let fill = self.read_signals(file, &map, rows.len())?;
        if let (Some(path), Some(token)) = (file, token)
            && fill.cells() >= signal_cache::min_values().max(1)
            && signal_cache::token(&self.conn) == Some(token)
        {
            signal_cache::write(&signal_cache::path_for(path), token, &ids, &fill);
        }
        fill.finish(&mut rows);
        times.signals_s = t.elapsed().as_secs_f64();
        Ok(rows)
    }

    /// The signals of the rows (`map`) from SQLite, on several connections for a file.
    fn read_signals(&self, file: Option<&Path>, map: &IdMap, rows: usize) -> Result<Fill> {
        let keys = signal_keys(&self.conn)?;
        let mut fill = Fill::new(&keys, rows);
        let ranges = map.chunks(ID_CHUNK);
        match file {
            // Extra readers need what a plain read-only open needs (a `-shm` file for WAL):
            // on read-only media the store's own (immutable) connection reads alone.
            Some(path) if ranges.len() > 1 && reader_opens(path) => {
                read_signals_parallel(path, &ranges, &keys, map, &mut |b| fill.put(b))?;
            }
            _ => {
                for &range in &ranges {
                    fill.put(read_signal_range(&self.conn, range, &keys, map)?);
                }
            }
        }
        Ok(fill)
    }

    fn read_images<R: RowSlot>(&self, include_missing: bool) -> Result<Vec<R>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path, size, hash, width, height, format, frames, error, missing,
                    version, path_raw, first_seen
             FROM images WHERE current = 1 AND (?1 OR missing = 0) ORDER BY path",
        )?;
        let mut q = stmt.query(params![include_missing])?;
        let mut rows = Vec::new();
        let mut formats = Texts::default();
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
            rows.push(R::new(ImageRow {
                id: r.get(0)?,
                path,
                size: r.get(2)?,
                hash: r.get(3)?,
                width: r.get(4)?,
                height: r.get(5)?,
                format: formats.get(r, 6)?,
                frames: r.get(7)?,
                error: r.get(8)?,
                missing: r.get::<_, i64>(9)? != 0,
                version: r.get(10)?,
                path_raw,
                first_seen: r.get(12)?,
                ..Default::default()
            }));
        }
        Ok(rows)
    }
}

/// One `metadata` row of the bulk read (the fields of [`ImageRow`] it fills).
struct MetaRow {
    image_id: i64,
    tool: Option<Arc<str>>,
    positive: Option<Arc<str>>,
    negative: Option<Arc<str>>,
    seed: Option<String>,
    steps: Option<i64>,
    sampler: Option<Arc<str>>,
    cfg: Option<f64>,
    model: Option<Arc<str>>,
    gen_width: Option<i64>,
    gen_height: Option<i64>,
    parser: Option<Arc<str>>,
    extra_json: Option<String>,
}

/// Every `metadata` row (without the raw carriers), repeated texts shared.
fn read_metadata(conn: &Connection) -> Result<Vec<MetaRow>> {
    let mut stmt = conn.prepare(
        "SELECT image_id, tool, positive, negative, CAST(seed AS TEXT), steps, sampler, cfg,
                model, gen_width, gen_height, parser, extra_json
         FROM metadata",
    )?;
    let mut q = stmt.query([])?;
    let [
        mut tools,
        mut positives,
        mut negatives,
        mut samplers,
        mut models,
        mut parsers,
    ] = std::array::from_fn(|_| Texts::default());
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        // Most files have no extra fields: keep no string for them.
        let extra: Option<String> = r.get(12)?;
        out.push(MetaRow {
            image_id: r.get(0)?,
            tool: tools.get(r, 1)?,
            positive: positives.get(r, 2)?,
            negative: negatives.get(r, 3)?,
            seed: r.get(4)?,
            steps: r.get(5)?,
            sampler: samplers.get(r, 6)?,
            cfg: r.get(7)?,
            model: models.get(r, 8)?,
            gen_width: r.get(9)?,
            gen_height: r.get(10)?,
            parser: parsers.get(r, 11)?,
            extra_json: extra.filter(|e| e != "[]"),
        });
    }
    Ok(out)
}

/// Puts the metadata rows into the rows they belong to (`map`); others are dropped.
fn apply_metadata<R: RowSlot>(meta: Vec<MetaRow>, rows: &mut [R], map: &IdMap) {
    for m in meta {
        let Some(p) = map.get(m.image_id) else {
            continue;
        };
        let row = rows[p].get_mut();
        row.tool = m.tool;
        row.positive = m.positive;
        row.negative = m.negative;
        row.seed = m.seed;
        row.steps = m.steps;
        row.sampler = m.sampler;
        row.cfg = m.cfg;
        row.model = m.model;
        row.gen_width = m.gen_width;
        row.gen_height = m.gen_height;
        row.parser = m.parser;
        row.extra_json = m.extra_json;
        row.has_metadata = true;
    }
}

impl super::Store {
    fn read_decisions<R: RowSlot>(&self, rows: &mut [R], map: &IdMap) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT image_id, status, source, reason, rating FROM decisions
             WHERE id IN (SELECT MAX(id) FROM decisions GROUP BY image_id)",
        )?;
        let mut q = stmt.query([])?;
        let [mut sources, mut reasons] = std::array::from_fn(|_| Texts::default());
        while let Some(r) = q.next()? {
            let Some(p) = map.get(r.get(0)?) else {
                continue;
            };
            let row = rows[p].get_mut();
            row.status = r.get(1)?;
            row.decision_source = sources.get(r, 2)?;
            row.decision_reason = reasons.get(r, 3)?;
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
/// A read-only connection to `path` that waits for writers' locks like the store's own.
fn read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

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

/// Reads the id ranges on up to `available_parallelism` (at most 4) read-only connections;
/// each finished batch is handed to `put` on this thread.
fn read_signals_parallel(
    path: &Path,
    ranges: &[(i64, i64)],
    keys: &[String],
    map: &IdMap,
    put: &mut dyn FnMut(Batch),
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
        .min(ranges.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch>>(threads);
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
                    let Some(&range) = ranges.get(i) else { break };
                    let r = read_signal_range(&conn, range, keys, map);
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
                Ok(batch) => put(batch),
                Err(e) => {
                    first_err.get_or_insert(e);
                    // Stop handing out ranges; the workers finish what they hold.
                    next.store(ranges.len(), std::sync::atomic::Ordering::Relaxed);
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
                (None, Some(t)) => SignalValue::Text(t.into_boxed_str()),
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
            status: status.parse().unwrap(),
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
        assert_eq!(
            c.status.map(|s| s.as_str()),
            Some("rejected"),
            "the latest decision"
        );
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

    /// One read, and whether its signals came from the cache.
    fn read(s: &Store, missing: bool) -> (Vec<ImageRow>, bool) {
        let (rows, times) = s.image_rows_timed::<ImageRow>(missing).unwrap();
        (normalised(rows), times.signals_cached)
    }

    fn with_raw(s: &Store, missing: bool) -> Vec<ImageRow> {
        let mut rows = reference(s, missing);
        for r in &mut rows {
            r.raw_json = None;
            r.warnings_json = None;
        }
        normalised(rows)
    }

    #[test]
    fn the_signal_cache_is_read_only_while_it_holds_the_stored_values() {
        signal_cache::set_min_values(0);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let cache = signal_cache::path_for(&db);
        let mut s = Store::open(&db).unwrap();
        fill(&mut s);
        assert!(!cache.exists());
        let (cold, cached) = read(&s, false);
        assert!(!cached, "nothing to read yet");
        assert_eq!(cold, with_raw(&s, false));
        assert!(cache.exists(), "the read wrote the cache");
        let (warm, cached) = read(&s, false);
        assert!(cached, "the second read uses it");
        assert_eq!(warm, cold);
        // Missing rows are not in it: SQLite, then a cache holding them too.
        let (all, cached) = read(&s, true);
        assert!(!cached);
        assert_eq!(all, with_raw(&s, true));
        assert_eq!(read(&s, true), (all, true));
        assert_eq!(read(&s, false), (cold.clone(), true), "a subset is covered");
        // Every kind of write of `signals` makes it stale, whoever writes.
        let token = || signal_cache::token(&s.conn).unwrap();
        for sql in [
            "INSERT INTO signals (image_id, key, value, text, producer) VALUES (2, 'zz_new', 1.0, NULL, 'x')",
            "UPDATE signals SET value = 8.0 WHERE key = 'zz_new'",
            "DELETE FROM signals WHERE key = 'zz_new'",
        ] {
            let before = token();
            s.conn.execute(sql, []).unwrap();
            assert_ne!(token(), before, "{sql}");
            let (rows, cached) = read(&s, false);
            assert!(!cached, "{sql}");
            assert_eq!(rows, with_raw(&s, false), "{sql}");
        }
        let c = cold.iter().find(|r| r.path == "a/c.png").unwrap();
        s.set_signals(&[(
            c.id,
            SignalRow {
                key: "tenengrad".into(),
                value: Some(42.0),
                text: None,
                producer: "t@2".into(),
            },
        )])
        .unwrap();
        let (rows, cached) = read(&s, false);
        assert!(!cached);
        let c = rows.iter().find(|r| r.path == "a/c.png").unwrap();
        assert_eq!(c.signals.get("tenengrad"), Some(&SignalValue::Number(42.0)));
        assert_eq!(read(&s, false), (rows.clone(), true));
        // Damaged files are not read (and the next read from SQLite replaces them).
        let good = std::fs::read(&cache).unwrap();
        let mut damaged = vec![
            good[..good.len() - 1].to_vec(),
            [good.clone(), vec![0]].concat(),
        ];
        let mut bad_magic = good.clone();
        bad_magic[0] ^= 1;
        damaged.push(bad_magic);
        let mut huge_count = good.clone();
        huge_count[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        damaged.push(huge_count);
        damaged.push(Vec::new());
        for bytes in damaged {
            std::fs::write(&cache, &bytes).unwrap();
            assert_eq!(
                read(&s, false),
                (rows.clone(), false),
                "{} bytes",
                bytes.len()
            );
        }
        assert_eq!(std::fs::read(&cache).unwrap(), good, "rewritten");
        // Another catalogue's cache (same rows, another token) is not read.
        let mut other = Store::open(&dir.path().join("b.db")).unwrap();
        fill(&mut other);
        std::fs::copy(&cache, signal_cache::path_for(&dir.path().join("b.db"))).unwrap();
        let (b, cached) = read(&other, false);
        assert!(!cached);
        assert_eq!(b, with_raw(&other, false));
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
