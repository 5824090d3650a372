//! Per-image feature vectors read from the `signals` table (the batch-evaluation CLI's classical
//! fallback features). Lives in `store` because only `store` has SQL.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::Result;

impl super::Store {
    /// For every current, present image: its relative path and the numeric value of each of
    /// `keys` (in order; `None` when not computed, e.g. for an undecodable file). Sorted by path.
    pub fn signal_vectors(&self, keys: &[&str]) -> Result<Vec<(String, Vec<Option<f64>>)>> {
        let index: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut out: Vec<(String, Vec<Option<f64>>)> = Vec::new();
        let mut pos: HashMap<i64, usize> = HashMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT id, path FROM images WHERE current = 1 AND missing = 0 ORDER BY path",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, path) = row?;
            pos.insert(id, out.len());
            out.push((path, vec![None; keys.len()]));
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.image_id, s.key, s.value FROM signals s JOIN images i ON i.id = s.image_id
             WHERE i.current = 1 AND i.missing = 0 AND s.value IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, key, value) = row?;
            if let (Some(&p), Some(&k)) = (pos.get(&id), index.get(key.as_str()))
                && let Some(slot) = out.get_mut(p).and_then(|(_, v)| v.get_mut(k))
            {
                *slot = Some(value);
            }
        }
        Ok(out)
    }

    /// Embedding models with vectors for current, present images: `(model key, dimension,
    /// images)`, by key. A model stored with several dimensions is listed once per dimension.
    pub fn embedding_models(&self) -> Result<Vec<(String, usize, usize)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.model_key, e.dim, COUNT(*) FROM embeddings e JOIN images i ON i.id = e.image_id
             WHERE i.current = 1 AND i.missing = 0 GROUP BY e.model_key, e.dim ORDER BY e.model_key, e.dim",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Embeddings of one model for current, present images: relative path → vector (decoded
    /// from little-endian f32; blobs whose length is not `4·dim` are skipped).
    pub fn embedding_vectors(&self, model_key: &str) -> Result<HashMap<String, Vec<f32>>> {
        let mut stmt = self.conn.prepare(
            "SELECT i.path, e.dim, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id
             WHERE e.model_key = ?1 AND i.current = 1 AND i.missing = 0",
        )?;
        let rows = stmt.query_map(params![model_key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (path, dim, blob) = row?;
            let Some(v) = vector_of(dim, &blob) else {
                continue;
            };
            out.insert(path, v);
        }
        Ok(out)
    }

    /// Ids of the current, present images with a well-formed vector from `model_key`, without
    /// reading the vectors (the CLIP pass's "already embedded" check).
    pub fn embedded_image_ids(&self, model_key: &str) -> Result<HashSet<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT i.id FROM embeddings e JOIN images i ON i.id = e.image_id
             WHERE e.model_key = ?1 AND i.current = 1 AND i.missing = 0
               AND e.dim >= 0 AND length(e.vector) = 4 * e.dim",
        )?;
        let rows = stmt.query_map(params![model_key], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The vectors from `model_key` of the given images (ids without a well-formed one are
    /// left out).
    pub fn embedding_vectors_for(
        &self,
        model_key: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<f32>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT dim, vector FROM embeddings WHERE image_id = ?1 AND model_key = ?2")?;
        let mut out = HashMap::with_capacity(ids.len());
        for &id in ids {
            let mut rows = stmt.query(params![id, model_key])?;
            if let Some(r) = rows.next()?
                && let Some(v) = vector_of(r.get(0)?, &r.get::<_, Vec<u8>>(1)?)
            {
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// The producer of one signal for every current, present image that has it.
    pub fn signal_producers(&self, key: &str) -> Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.image_id, s.producer FROM signals s JOIN images i ON i.id = s.image_id
             WHERE s.key = ?1 AND i.current = 1 AND i.missing = 0",
        )?;
        let rows = stmt.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Stores (replaces) embeddings: `(image id, model key, vector)`, one transaction.
    pub fn set_embeddings(&mut self, rows: &[(i64, String, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO embeddings (image_id, model_key, dim, vector) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, key, v) in rows {
                let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                stmt.execute(params![id, key, i64::try_from(v.len()).unwrap_or(0), blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Inserts (replaces) one embedding inside a running transaction (the scan's ingest batch).
pub(super) fn insert_embedding(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    key: &str,
    v: &[f32],
) -> Result<()> {
    let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO embeddings (image_id, model_key, dim, vector) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, key, i64::try_from(v.len()).unwrap_or(0), blob])?;
    Ok(())
}

/// A stored f32 little-endian blob of `dim` values (`None` when the sizes disagree).
fn vector_of(dim: i64, blob: &[u8]) -> Option<Vec<f32>> {
    (usize::try_from(dim).ok().map(|d| d * 4) == Some(blob.len())).then(|| {
        blob.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn embeddings_round_trip_for_current_images() {
        let mut s = super::super::Store::open_in_memory().unwrap();
        let rec = crate::store::new_image;
        let ids = s.write_ingest(&[rec("a.png"), rec("b.png")]).unwrap();
        s.set_embeddings(&[
            (ids[0], "m".into(), vec![1.5, -2.0, 0.25]),
            (ids[1], "m".into(), vec![0.0, 1.0, 2.0]),
        ])
        .unwrap();
        assert_eq!(s.embedding_models().unwrap(), vec![("m".to_string(), 3, 2)]);
        let v = s.embedding_vectors("m").unwrap();
        assert_eq!(v["a.png"], vec![1.5, -2.0, 0.25]);
        assert_eq!(v.len(), 2);
        s.mark_missing(&[ids[1]]).unwrap();
        assert_eq!(
            s.embedding_vectors("m").unwrap().len(),
            1,
            "missing files drop out"
        );
        assert!(s.embedding_vectors("other").unwrap().is_empty());
        let embedded: Vec<i64> = s.embedded_image_ids("m").unwrap().into_iter().collect();
        let by_id = s.embedding_vectors_for("m", &embedded).unwrap();
        assert_eq!(by_id.len(), 1);
        assert_eq!(by_id[&ids[0]], vec![1.5, -2.0, 0.25]);
        assert_eq!(
            s.embedded_image_ids("m").unwrap(),
            [ids[0]].into_iter().collect()
        );
        let some = s
            .embedding_vectors_for("m", &[ids[0], ids[1], 999])
            .unwrap();
        assert_eq!(
            some.len(),
            2,
            "by id, whatever the image's state; unknown ids left out"
        );
        assert_eq!(some[&ids[1]], vec![0.0, 1.0, 2.0]);
        assert!(
            s.embedding_vectors_for("other", &[ids[0]])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn signal_producers_of_current_images() {
        let mut s = super::super::Store::open_in_memory().unwrap();
        let rec = crate::store::new_image;
        let ids = s.write_ingest(&[rec("a.png"), rec("b.png")]).unwrap();
        let row = |p: &str| crate::store::SignalRow {
            key: "clip_score".into(),
            value: Some(1.0),
            text: None,
            producer: p.into(),
        };
        s.set_signals(&[(ids[0], row("x@1")), (ids[1], row("y@2"))])
            .unwrap();
        s.mark_missing(&[ids[1]]).unwrap();
        let p = s.signal_producers("clip_score").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[&ids[0]], "x@1");
        assert!(s.signal_producers("aesthetic").unwrap().is_empty());
    }

    #[test]
    fn empty_store_has_no_vectors() {
        let s = super::super::Store::open_in_memory().unwrap();
        assert!(s.signal_vectors(&["tenengrad"]).unwrap().is_empty());
    }
}
