//! Versions of a path and what carries over between them.
//!
//! A file whose bytes change gets a new version (a new `images` row). When its *decoded pixels*
//! did not change (`images.pixel_hash`, recorded at ingest: a metadata chunk added, the file
//! re-saved losslessly), the decisions of the previous version are copied to the new one in the
//! same transaction (append-only: the old rows stay; the copies keep status, rating, source,
//! time and detail, and say where they came from in `reason`), and label files that name the
//! previous version's content hash still import. When the pixels changed, nothing carries over;
//! the new version shows the earlier decision as "decided on an earlier version" (`table`'s
//! `earlier_decision` column, the GUI's inspector) until someone decides again.

use std::collections::HashMap;

use rusqlite::{Transaction, params};

use super::{Result, RowSlot, Store};

/// Copies the decisions of `old_id` to `new_id` when both versions have the same (known) pixel
/// hash. Returns how many rows were copied.
pub(super) fn carry_decisions(
    tx: &Transaction<'_>,
    old_id: i64,
    new_id: i64,
    old_version: i64,
    new_pixel_hash: Option<&str>,
) -> Result<usize> {
    let Some(new_pixels) = new_pixel_hash else {
        return Ok(0);
    };
    let note = format!("carried over from version {old_version} (same pixels)");
    Ok(tx.execute(
        "INSERT INTO decisions (image_id, status, rating, source, reason, time, detail)
         SELECT ?1, d.status, d.rating, d.source,
                CASE WHEN d.reason IS NULL OR d.reason = '' THEN ?4 ELSE d.reason || ' · ' || ?4 END,
                d.time, d.detail
         FROM decisions d JOIN images o ON o.id = d.image_id
         WHERE d.image_id = ?2 AND o.pixel_hash = ?3
         ORDER BY d.id",
        params![new_id, old_id, new_pixels, note],
    )?)
}

impl Store {
    /// For current versions without a decision of their own: the latest decision (other than
    /// `none`) of the newest earlier version of the same path that has one, as
    /// `<status> on version <n>`, by current image id. Driven from the non-current rows (the
    /// `current = 0` range of `images_current`), so its cost follows the number of earlier
    /// versions, not the size of the catalogue.
    pub fn earlier_decisions(&self) -> Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT cur.id, d.status, old.version
             FROM images old
             CROSS JOIN decisions d
             CROSS JOIN images cur
             WHERE old.current = 0
               AND d.id = (SELECT MAX(id) FROM decisions WHERE image_id = old.id)
               AND d.status != 'none'
               AND cur.path_raw = old.path_raw AND cur.current = 1
               AND cur.version > old.version
               AND NOT EXISTS (SELECT 1 FROM decisions WHERE image_id = cur.id)
             ORDER BY cur.id, old.version DESC",
        )?;
        let mut found: HashMap<i64, String> = HashMap::new();
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let id: i64 = r.get(0)?;
            if let std::collections::hash_map::Entry::Vacant(e) = found.entry(id) {
                let status: String = r.get(1)?;
                let version: i64 = r.get(2)?;
                e.insert(format!("{status} on version {version}"));
            }
        }
        Ok(found)
    }

    /// Fills [`super::ImageRow::earlier_decision`] (see [`Self::earlier_decisions`]).
    pub(super) fn fill_earlier_decisions<R: RowSlot>(&self, rows: &mut [R]) -> Result<()> {
        let mut found = self.earlier_decisions()?;
        if found.is_empty() {
            return Ok(());
        }
        for row in rows.iter_mut() {
            let Some(d) = found.remove(&row.get().id) else {
                continue;
            };
            row.get_mut().earlier_decision = Some(d);
        }
        Ok(())
    }

    /// Content hashes of earlier versions whose pixels equal their path's current version:
    /// old content hash → current content hash (a label file that names the old file still
    /// applies to the current one).
    pub fn hash_aliases(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT old.hash, cur.hash FROM images cur
             JOIN images old ON old.path_raw = cur.path_raw AND old.id != cur.id
             WHERE cur.current = 1 AND cur.missing = 0 AND cur.pixel_hash IS NOT NULL
               AND old.pixel_hash = cur.pixel_hash
               AND old.hash IS NOT NULL AND cur.hash IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Status;
    use crate::store::{ImageFacts, IngestRecord, Store, Upsert};

    fn version(path: &str, upsert: Upsert, hash: &str, pixels: &str) -> IngestRecord {
        IngestRecord {
            upsert,
            facts: ImageFacts {
                path: path.into(),
                path_raw: path.as_bytes().to_vec(),
                hash: Some(hash.into()),
                pixel_hash: Some(pixels.into()),
                ..Default::default()
            },
            metadata: None,
            signals: vec![],
            signals_version: None,
            embedding: None,
        }
    }

    /// Issue 17: re-saving a file with one more text chunk (same pixels) made a new version
    /// and its decision disappeared from `table`, the grid and `export`.
    #[test]
    fn decisions_follow_a_new_version_with_the_same_pixels_only() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = s
            .write_ingest(&[
                version("same.png", Upsert::New, "h1", "p1"),
                version("edited.png", Upsert::New, "h2", "p2"),
            ])
            .unwrap();
        s.append_decision(ids[0], Status::Accepted, Some(4), "human", None)
            .unwrap();
        s.append_decision(ids[1], Status::Rejected, None, "human", Some("blurry"))
            .unwrap();
        let new = s
            .write_ingest(&[
                version(
                    "same.png",
                    Upsert::NewVersion {
                        old_id: ids[0],
                        old_version: 1,
                    },
                    "h1b",
                    "p1",
                ),
                version(
                    "edited.png",
                    Upsert::NewVersion {
                        old_id: ids[1],
                        old_version: 1,
                    },
                    "h2b",
                    "p2-changed",
                ),
            ])
            .unwrap();
        let rows = s.image_rows(false).unwrap();
        let same = rows.iter().find(|r| r.path == "same.png").unwrap();
        assert_eq!(same.id, new[0]);
        assert_eq!(same.status, Some(Status::Accepted));
        assert_eq!(same.decision_rating, Some(4));
        assert_eq!(same.decision_source.as_deref(), Some("human"));
        assert!(
            same.decision_reason
                .as_deref()
                .is_some_and(|r| r.contains("carried over from version 1")),
            "{:?}",
            same.decision_reason
        );
        assert_eq!(same.earlier_decision, None);
        let edited = rows.iter().find(|r| r.path == "edited.png").unwrap();
        assert_eq!(edited.status, None, "changed pixels: no decision carried");
        assert_eq!(
            edited.earlier_decision.as_deref(),
            Some("rejected on version 1")
        );
        // The old rows stay as they were (append-only).
        assert_eq!(s.count("decisions").unwrap(), 3);
        let aliases = s.hash_aliases().unwrap();
        assert_eq!(aliases.get("h1").map(String::as_str), Some("h1b"));
        assert!(!aliases.contains_key("h2"));
    }
}
