//! A row-major copy of the `signals` table beside the catalogue (`<db>.signals-cache`), so
//! that reopening a million-row catalogue does not step through its ~25 million signal rows
//! again (`assay bench catalog` reports the read with and without it).
//!
//! - **Coherence.** Migration 11 keeps `signals_state.token`, a random 64-bit value that
//!   triggers replace on every insert, update and delete of a `signals` row, inside the
//!   writer's own transaction — whoever the writer is (scan, import, merge, repair, the sqlite3
//!   shell). The cache records the token it was built at and is read only while the
//!   catalogue's token is the same. A restored backup or another catalogue copied over this
//!   one has another token (a 2⁻⁶⁴ chance of a collision), so a cache is never read against
//!   the wrong values.
//! - **Coverage.** The cache holds the signals of the image ids of the read that built it
//!   (every id, with values or without); a read that needs an id it does not hold (a
//!   `--include-missing` read after a plain one) goes to SQLite and rebuilds it.
//! - **Built** after a read from SQLite of at least [`min_values`] cells (rows × keys), when
//!   the token did not change during the read; written to a temporary file and renamed, so a
//!   reader sees a whole file or none. On read-only media nothing is written.
//! - **Anything unexpected** (another format, a file too short or too long, a count or a
//!   length that does not add up, a text that is not UTF-8) means "no cache": the read goes to
//!   SQLite and rewrites it.
//!
//! Format (little-endian): magic `ASSAYSC1`; token i64; key count u32 and each key (u16 length,
//! UTF-8); id count u64 and the ids (i64 each, the rows' order); the values row-major (`ids ×
//! keys` f64, NaN where the image has no number for the key — SQLite stores no NaN); text
//! count u64 and each text (row u32, key u16, length u32, UTF-8).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;

use super::SignalValue;
use super::rows::{Fill, IdMap};

const MAGIC: &[u8; 8] = b"ASSAYSC1";

/// Reads smaller than this many cells (rows × keys) do not write a cache: SQLite reads them in
/// well under a second.
static MIN_VALUES: AtomicUsize = AtomicUsize::new(1 << 20);

/// The smallest read (rows × keys) that writes a cache.
pub fn min_values() -> usize {
    MIN_VALUES.load(Ordering::Relaxed)
}

/// Sets [`min_values`] for this process (tests and benchmarks; the cache is coherent whatever
/// the threshold, so this only decides when it is worth a file).
pub fn set_min_values(n: usize) {
    MIN_VALUES.store(n, Ordering::Relaxed);
}

/// The cache file of the catalogue at `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".signals-cache");
    db.with_file_name(name)
}

/// The catalogue's current signals token (none before migration 11).
pub(super) fn token(conn: &Connection) -> Option<i64> {
    conn.query_row("SELECT token FROM signals_state", [], |r| r.get(0))
        .ok()
}

fn u16_at(r: &mut impl Read) -> Option<u16> {
    let mut b = [0; 2];
    r.read_exact(&mut b).ok()?;
    Some(u16::from_le_bytes(b))
}

fn u32_at(r: &mut impl Read) -> Option<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

fn u64_at(r: &mut impl Read) -> Option<u64> {
    let mut b = [0; 8];
    r.read_exact(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

fn text_at(r: &mut impl Read, len: usize, left: &mut u64) -> Option<String> {
    *left = left.checked_sub(len as u64)?;
    let mut b = vec![0; len];
    r.read_exact(&mut b).ok()?;
    String::from_utf8(b).ok()
}

/// Whether every id of `needed` is one of `held` (the usual case: the same list).
fn covers(held: &[i64], needed: &[i64]) -> bool {
    if held == needed {
        return true;
    }
    let mut sorted = held.to_vec();
    sorted.sort_unstable();
    needed.iter().all(|id| sorted.binary_search(id).is_ok())
}

/// The cached signals of the rows whose ids are `ids` (`map` gives their positions), when
/// the cache at `path` was built at `token` and holds every one of them.
pub(super) fn read(path: &Path, token: i64, ids: &[i64], map: &IdMap) -> Option<Fill> {
    let file = File::open(path).ok()?;
    let mut left = file.metadata().ok()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0; 8];
    r.read_exact(&mut magic).ok()?;
    if &magic != MAGIC || u64_at(&mut r)? as i64 != token {
        return None;
    }
    left = left.checked_sub(16 + 4)?;
    let n_keys = u32_at(&mut r)? as usize;
    if n_keys > usize::from(u16::MAX) {
        return None;
    }
    let mut keys = Vec::with_capacity(n_keys);
    for _ in 0..n_keys {
        left = left.checked_sub(2)?;
        let len = usize::from(u16_at(&mut r)?);
        keys.push(text_at(&mut r, len, &mut left)?);
    }
    left = left.checked_sub(8)?;
    let n = usize::try_from(u64_at(&mut r)?).ok()?;
    // Ids and values must fit in what is left of the file before anything is allocated.
    let body = (n as u64).checked_mul(8 * (1 + n_keys as u64))?;
    left = left.checked_sub(body)?.checked_sub(8)?;
    let mut held = vec![0i64; n];
    let mut b = [0; 8];
    for id in &mut held {
        r.read_exact(&mut b).ok()?;
        *id = i64::from_le_bytes(b);
    }
    if !covers(&held, ids) {
        return None;
    }
    let mut fill = Fill::new(&keys, ids.len());
    let mut row = vec![0; 8 * n_keys];
    for &id in &held {
        r.read_exact(&mut row).ok()?;
        let Some(p) = map.get(id) else { continue };
        for (k, x) in row.chunks_exact(8).enumerate() {
            let x = f64::from_le_bytes(x.try_into().ok()?);
            if !x.is_nan() {
                fill.put_value(p, k, SignalValue::Number(x));
            }
        }
    }
    let n_texts = u64_at(&mut r)?;
    for _ in 0..n_texts {
        left = left.checked_sub(10)?;
        let (i, k, len) = (u32_at(&mut r)?, u16_at(&mut r)?, u32_at(&mut r)?);
        let text = text_at(&mut r, len as usize, &mut left)?;
        let (i, k) = (i as usize, usize::from(k));
        if i >= n || k >= n_keys {
            return None;
        }
        if let Some(p) = map.get(held[i]) {
            fill.put_value(p, k, SignalValue::Text(text.into_boxed_str()));
        }
    }
    // Nothing may follow.
    (left == 0 && r.read(&mut b).ok()? == 0).then_some(fill)
}

/// Writes the cache of `fill` (the rows with ids `ids`, in order) at `token`, replacing any
/// other; failures (read-only media, a full disk) leave no file and are not errors.
pub(super) fn write(path: &Path, token: i64, ids: &[i64], fill: &Fill) {
    let tmp = path.with_file_name(format!(
        "{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let written = write_file(&tmp, token, ids, fill).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn write_file(tmp: &Path, token: i64, ids: &[i64], fill: &Fill) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(tmp)?);
    w.write_all(MAGIC)?;
    w.write_all(&token.to_le_bytes())?;
    let keys = fill.key_names();
    w.write_all(&(keys.len() as u32).to_le_bytes())?;
    for k in &keys {
        let len = u16::try_from(k.len()).map_err(std::io::Error::other)?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(k.as_bytes())?;
    }
    w.write_all(&(ids.len() as u64).to_le_bytes())?;
    for id in ids {
        w.write_all(&id.to_le_bytes())?;
    }
    let mut texts = Vec::new();
    for p in 0..ids.len() {
        for k in 0..keys.len() {
            let x = match fill.value(p, k) {
                Some(SignalValue::Number(x)) => *x,
                Some(SignalValue::Text(t)) => {
                    texts.push((p as u32, k as u16, t));
                    f64::NAN
                }
                None => f64::NAN,
            };
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.write_all(&(texts.len() as u64).to_le_bytes())?;
    for (p, k, t) in texts {
        let len = u32::try_from(t.len()).map_err(std::io::Error::other)?;
        w.write_all(&p.to_le_bytes())?;
        w.write_all(&k.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(t.as_bytes())?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}
