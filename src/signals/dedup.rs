//! Near-duplicate groups from perceptual hashes: images whose hashes differ by at most
//! `threshold` bits are linked, and linked components form a group (single linkage).
//!
//! Candidate pairs come from exact matches of one of the eight hash bytes: two 64-bit hashes
//! within `threshold < 8` bits agree on at least one byte (pigeonhole), so no pair is missed.
//! Larger thresholds fall back to comparing every pair.

use std::collections::HashMap;

/// Union–find with path halving.
struct Dsu {
    parent: Vec<usize>,
}

impl Dsu {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while let Some(&p) = self.parent.get(x) {
            if p == x {
                break;
            }
            let gp = self.parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(x) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if let Some(slot) = self.parent.get_mut(hi) {
                *slot = lo;
            }
        }
    }
}

/// Groups `(image id, hash)` items. Returns, for each input in order, its group id: the lowest
/// image id of its group, or 0 when it has no near duplicate.
pub fn groups(items: &[(i64, u64)], threshold: u32) -> Vec<i64> {
    let n = items.len();
    let mut dsu = Dsu::new(n);
    let close = |i: usize, j: usize| match (items.get(i), items.get(j)) {
        (Some(a), Some(b)) => (a.1 ^ b.1).count_ones() <= threshold,
        _ => false,
    };
    if threshold < 8 {
        let mut buckets: HashMap<(u8, u8), Vec<usize>> = HashMap::new();
        for (i, (_, h)) in items.iter().enumerate() {
            for (pos, byte) in h.to_be_bytes().iter().enumerate() {
                buckets.entry((pos as u8, *byte)).or_default().push(i);
            }
        }
        for members in buckets.values() {
            for (a, &i) in members.iter().enumerate() {
                for &j in members.iter().skip(a + 1) {
                    if close(i, j) {
                        dsu.union(i, j);
                    }
                }
            }
        }
    } else {
        for i in 0..n {
            for j in (i + 1)..n {
                if close(i, j) {
                    dsu.union(i, j);
                }
            }
        }
    }
    let mut size: HashMap<usize, usize> = HashMap::new();
    let mut min_id: HashMap<usize, i64> = HashMap::new();
    let roots: Vec<usize> = (0..n).map(|i| dsu.find(i)).collect();
    for (i, r) in roots.iter().enumerate() {
        *size.entry(*r).or_default() += 1;
        let id = items.get(i).map_or(i64::MAX, |x| x.0);
        min_id
            .entry(*r)
            .and_modify(|m| *m = (*m).min(id))
            .or_insert(id);
    }
    roots
        .iter()
        .map(|r| {
            if size.get(r).copied().unwrap_or(0) > 1 {
                min_id.get(r).copied().unwrap_or(0)
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(items: &[(i64, u64)], t: u32) -> Vec<i64> {
        let mut dsu = Dsu::new(items.len());
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                if (items[i].1 ^ items[j].1).count_ones() <= t {
                    dsu.union(i, j);
                }
            }
        }
        let roots: Vec<_> = (0..items.len()).map(|i| dsu.find(i)).collect();
        roots
            .iter()
            .map(|r| {
                let members: Vec<_> = (0..items.len()).filter(|&i| roots[i] == *r).collect();
                if members.len() > 1 {
                    members.iter().map(|&i| items[i].0).min().unwrap()
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn chains_link_and_strangers_stay_apart() {
        let a = 0xF0F0_F0F0_F0F0_F0F0u64;
        let items = vec![
            (10, a),
            (11, a ^ 0b111),
            (12, a ^ 0b111 ^ 0b111000),
            (13, !a),
            (14, 0),
        ];
        assert_eq!(groups(&items, 3), vec![10, 10, 10, 0, 0]);
        assert_eq!(groups(&items, 2), vec![0, 0, 0, 0, 0]);
    }

    #[test]
    fn bucketed_equals_brute_force() {
        // Deterministic pseudo-random hashes with planted near duplicates.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut items = Vec::new();
        for i in 0..300 {
            let base = next();
            items.push((i * 3, base));
            let flips = next() % 7;
            let mut h = base;
            for _ in 0..flips {
                h ^= 1 << (next() % 64);
            }
            items.push((i * 3 + 1, h));
        }
        for t in [0, 3, 5, 7, 9] {
            assert_eq!(groups(&items, t), brute(&items, t), "threshold {t}");
        }
    }
}
