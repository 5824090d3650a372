//! Which files a sharded scan (`assay scan DIR --shard I/N`) owns: a deterministic slice of the
//! collection by content, so that N processes on N machines each score about 1/N of it and the
//! same image always lands in the same shard, whatever its path or the machine.
//!
//! Shards are written `I/N` and numbered from 1 (`1/4` … `4/4`), like the `--shard` flags of
//! Jest and Playwright. A file belongs to shard `I` when its content hash (the catalogue's
//! `images.hash`, xxh3-128 of the file bytes, read as a 128-bit number) is `I - 1` modulo `N`.
//! Files that fail before their bytes are hashed (above the size limit, unreadable) have no
//! content hash: they go by the xxh3-128 of their relative path bytes instead, so that every
//! file of the folder lands in exactly one shard.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One slice `index`/`count` of a collection (1-based: `1 ≤ index ≤ count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

/// A `--shard` value that is not `I/N` with `1 ≤ I ≤ N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard {given}: {why} (expected I/N with 1 ≤ I ≤ N, e.g. 1/4 … 4/4)")]
pub struct ShardError {
    given: String,
    why: &'static str,
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        let given = format!("{index}/{count}");
        let err = |why| ShardError {
            given: given.clone(),
            why,
        };
        if count == 0 {
            return Err(err("the number of shards must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(err(
                "the shard number is out of range (shards count from 1)",
            ));
        }
        Ok(Self { index, count })
    }

    /// The shard of a 128-bit key: `key mod count`, 0-based.
    fn slot(self, key: u128) -> u32 {
        u32::try_from(key % u128::from(self.count)).unwrap_or(0)
    }

    /// Whether the file with this content hash (hex xxh3-128, [`super::content_hash`]) belongs
    /// to this shard.
    pub fn owns_hash(self, hash: &str) -> bool {
        let key = u128::from_str_radix(hash, 16)
            .unwrap_or_else(|_| xxhash_rust::xxh3::xxh3_128(hash.as_bytes()));
        self.slot(key) == self.index - 1
    }

    /// Whether a file without a content hash (it failed before being read) belongs to this
    /// shard, by its relative path bytes.
    pub fn owns_path(self, rel_raw: &[u8]) -> bool {
        self.slot(xxhash_rust::xxh3::xxh3_128(rel_raw)) == self.index - 1
    }

    /// The default database file name of this shard: `shard-I-of-N.db`.
    pub fn file_name(self) -> String {
        format!("shard-{}-of-{}.db", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| ShardError {
            given: s.to_string(),
            why,
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let i: u32 = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let n: u32 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Self::new(i, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::content_hash;

    #[test]
    fn parses_and_validates() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "0/0", "1", "a/4", "1/b", "-1/4", ""] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
        assert!(
            "0/4"
                .parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("count from 1")
        );
        assert_eq!(Shard::new(3, 4).unwrap().file_name(), "shard-3-of-4.db");
    }

    /// Every file lands in exactly one shard, always the same one (the hash is of the content,
    /// fixed by xxh3's specification), and the shards are about equally full.
    #[test]
    fn every_hash_in_exactly_one_shard_stable_and_balanced() {
        let n = 4;
        let shards: Vec<Shard> = (1..=n).map(|i| Shard::new(i, n).unwrap()).collect();
        let mut counts = [0usize; 4];
        for k in 0..4000u32 {
            let hash = content_hash(format!("image {k}").as_bytes());
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].owns_hash(&hash)).collect();
            assert_eq!(owners.len(), 1, "{hash}");
            counts[owners[0]] += 1;
            let path = format!("dir/{k}.png");
            let by_path = (0..4).filter(|&s| shards[s].owns_path(path.as_bytes()));
            assert_eq!(by_path.count(), 1);
        }
        // 1000 expected per shard; a binomial's sd is ~27: 850..1150 is > 5 sd.
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
        // Stable: the same bytes always go to the same shard (xxh3-128 is specified), pinned
        // here so that a change of hash or rule (which would mix up existing shards) shows.
        let h = content_hash(b"assay");
        assert_eq!(h, "010c11733b2f38a3487b764007d67761");
        let owner = (1..=n).find(|&i| Shard::new(i, n).unwrap().owns_hash(&h));
        assert_eq!(owner, Some(2));
        // One shard owns everything.
        assert!(Shard::new(1, 1).unwrap().owns_hash(&h));
    }
}
