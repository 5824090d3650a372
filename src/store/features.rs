//! Per-image feature vectors read from the `signals` table (the batch-evaluation CLI's classical
//! fallback features). Lives in `store` because only `store` has SQL.

use std::collections::HashMap;

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
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_store_has_no_vectors() {
        let s = super::super::Store::open_in_memory().unwrap();
        assert!(s.signal_vectors(&["tenengrad"]).unwrap().is_empty());
    }
}
