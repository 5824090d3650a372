//! Imported signals (`external_signals`, migration 9): the definition and provenance of every
//! signal imported by `assay signals import`, and the replacement of its values.
//!
//! Opening a catalogue registers its imported definitions in the signal registry
//! (`signals::imported::register`), so every consumer of `signals::registry()` sees them.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, Store};
use crate::signals::imported::{self, ImportedDef};
use crate::signals::score_file::KeyKind;

/// One imported signal with its provenance (a row of `external_signals`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalSignal {
    pub key: String,
    pub label: String,
    /// `higher` or `lower` (is better).
    pub direction: String,
    /// The judge's name (`--producer`).
    pub producer: String,
    /// The judge's version (`--version`).
    pub version: String,
    /// The score file as it was named.
    pub file: String,
    /// xxh3-128 of the score file's bytes, hex.
    pub file_hash: String,
    pub imported_at: String,
    /// Data rows read from the file.
    pub rows: i64,
    /// Rows that named a current image.
    pub matched: i64,
    /// Rows whose path or hash named no current image.
    pub unmatched: i64,
    /// Rows skipped as unreadable, not a finite number, or a duplicate key.
    pub invalid: i64,
    /// Images that received a value.
    pub images: i64,
}

impl ExternalSignal {
    /// The producer stored with each value: `ext:<producer>@<version>`.
    pub fn stored_producer(&self) -> String {
        imported::producer(&self.producer, &self.version)
    }

    /// The registry definition.
    pub fn def(&self) -> ImportedDef {
        ImportedDef {
            key: self.key.clone(),
            label: self.label.clone(),
            direction: imported::parse_direction(&self.direction)
                .unwrap_or(crate::signals::Direction::Neutral),
            producer: self.stored_producer(),
            description: format!(
                "Imported score ({} version {}) from {} (xxh3 {}) at {}: {} of {} rows matched, \
                 {} images.",
                self.producer,
                self.version,
                self.file,
                self.file_hash,
                self.imported_at,
                self.matched,
                self.rows,
                self.images
            ),
        }
    }
}

impl Store {
    /// Every imported signal, by key.
    pub fn external_signals(&self) -> Result<Vec<ExternalSignal>> {
        let mut stmt = self.conn.prepare(
            "SELECT key, label, direction, producer, version, file, file_hash, imported_at,
                    rows, matched, unmatched, invalid, images
             FROM external_signals ORDER BY key",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ExternalSignal {
                key: r.get(0)?,
                label: r.get(1)?,
                direction: r.get(2)?,
                producer: r.get(3)?,
                version: r.get(4)?,
                file: r.get(5)?,
                file_hash: r.get(6)?,
                imported_at: r.get(7)?,
                rows: r.get(8)?,
                matched: r.get(9)?,
                unmatched: r.get(10)?,
                invalid: r.get(11)?,
                images: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Registers this catalogue's imported signals in the signal registry (called on open;
    /// a catalogue that cannot be read registers nothing, and its open reports why).
    pub(super) fn register_external_signals(&self) {
        if let Ok(list) = self.external_signals() {
            let defs: Vec<ImportedDef> = list.iter().map(ExternalSignal::def).collect();
            imported::register(&defs);
        }
    }

    /// A producer other than an import that stored values under `key`, if any (such a key
    /// belongs to a built-in signal, perhaps of another version of Assay).
    pub fn native_producer_of(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT producer FROM signals WHERE key = ?1 AND producer NOT LIKE 'ext:%' LIMIT 1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Current images by catalogue path or by lower-case content hash (several images may
    /// share a hash).
    pub fn current_images_by(&self, key: KeyKind) -> Result<HashMap<String, Vec<i64>>> {
        let sql = match key {
            KeyKind::Path => "SELECT path, id FROM images WHERE current = 1",
            KeyKind::Hash => {
                "SELECT lower(hash), id FROM images WHERE current = 1 AND hash IS NOT NULL"
            }
        };
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        while let Some(r) = rows.next()? {
            out.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
        Ok(out)
    }

    /// Records an imported signal and replaces its values in one transaction: the key's
    /// earlier imported values (any producer `ext:…`) are removed, `values` are stored under
    /// [`ExternalSignal::stored_producer`], and the definition is registered. Returns how
    /// many earlier values were removed.
    pub fn replace_external_signal(
        &mut self,
        sig: &ExternalSignal,
        values: &[(i64, f64)],
    ) -> Result<usize> {
        let producer = sig.stored_producer();
        let tx = self.conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM signals WHERE key = ?1 AND producer LIKE 'ext:%'",
            params![sig.key],
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO signals (image_id, key, value, text, producer)
                 VALUES (?1, ?2, ?3, NULL, ?4)",
            )?;
            for (id, v) in values {
                stmt.execute(params![id, sig.key, v, producer])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO external_signals (key, label, direction, producer, version,
                 file, file_hash, imported_at, rows, matched, unmatched, invalid, images)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                sig.key,
                sig.label,
                sig.direction,
                sig.producer,
                sig.version,
                sig.file,
                sig.file_hash,
                sig.imported_at,
                sig.rows,
                sig.matched,
                sig.unmatched,
                sig.invalid,
                sig.images
            ],
        )?;
        tx.commit()?;
        imported::register(&[sig.def()]);
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(version: &str) -> ExternalSignal {
        ExternalSignal {
            key: "store_test_judge".into(),
            label: "Judge".into(),
            direction: "higher".into(),
            producer: "judge".into(),
            version: version.into(),
            file: "s.csv".into(),
            file_hash: "00".into(),
            imported_at: "2026-01-01T00:00:00.000Z".into(),
            rows: 2,
            matched: 2,
            unmatched: 0,
            invalid: 0,
            images: 2,
        }
    }

    #[test]
    fn reimport_replaces_only_the_keys_imported_values() {
        let mut s = Store::open_in_memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO images (id, path, path_raw, hash, first_seen, last_seen)
                 VALUES (1, 'a.png', CAST('a.png' AS BLOB), 'AB', 't', 't'),
                        (2, 'b.png', CAST('b.png' AS BLOB), 'cd', 't', 't');
                 INSERT INTO signals VALUES (1, 'tenengrad', 5.0, NULL, 'classical@1');",
            )
            .unwrap();
        assert_eq!(s.current_images_by(KeyKind::Hash).unwrap()["ab"], vec![1]);
        assert_eq!(
            s.current_images_by(KeyKind::Path).unwrap()["b.png"],
            vec![2]
        );
        assert_eq!(
            s.replace_external_signal(&sig("1"), &[(1, 0.5), (2, 0.7)])
                .unwrap(),
            0
        );
        assert_eq!(
            s.replace_external_signal(&sig("2"), &[(2, 0.9)]).unwrap(),
            2
        );
        let producers: Vec<(i64, f64, String)> = s
            .conn
            .prepare("SELECT image_id, value, producer FROM signals ORDER BY key, image_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            producers,
            vec![
                (2, 0.9, "ext:judge@2".to_string()),
                (1, 5.0, "classical@1".to_string())
            ]
        );
        let list = s.external_signals().unwrap();
        assert_eq!(list, vec![sig("2")]);
        assert_eq!(
            s.native_producer_of("tenengrad").unwrap().unwrap(),
            "classical@1"
        );
        assert_eq!(s.native_producer_of("store_test_judge").unwrap(), None);
        let d = crate::signals::get("store_test_judge").unwrap();
        assert_eq!(d.producer, "ext:judge@2");
    }
}
