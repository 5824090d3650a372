//! GIF block walker: counts image descriptors (frames) and records comment
//! extensions, following the block structure without decoding pixels.

use super::util::latin1_or_utf8;
use super::{Collector, Origin};

/// Skips a chain of data sub-blocks starting at `pos`; returns the position
/// after the terminator and the concatenated data (only when `keep`).
fn sub_blocks(b: &[u8], mut pos: usize, keep: bool) -> Option<(usize, Vec<u8>)> {
    let mut data = Vec::new();
    loop {
        let n = usize::from(*b.get(pos)?);
        pos += 1;
        if n == 0 {
            return Some((pos, data));
        }
        if keep {
            data.extend_from_slice(
                b.get(pos..pos + n)
                    .unwrap_or_else(|| b.get(pos..).unwrap_or_default()),
            );
        }
        pos = pos.checked_add(n)?;
    }
}

fn table_len(packed: u8) -> usize {
    if packed & 0x80 != 0 {
        3 << ((packed & 0x07) + 1)
    } else {
        0
    }
}

/// Walks the file; returns the frame count and records comments in `col`.
pub(crate) fn walk(b: &[u8], mut col: Option<&mut Collector>) -> u32 {
    let mut frames: u32 = 0;
    let Some(&packed) = b.get(10) else { return 1 };
    let mut pos = 13 + table_len(packed);
    while let Some(&kind) = b.get(pos) {
        match kind {
            0x2C => {
                frames = frames.saturating_add(1);
                let Some(&lp) = b.get(pos + 9) else { break };
                pos += 10 + table_len(lp) + 1; // descriptor, local table, LZW code size
                match sub_blocks(b, pos, false) {
                    Some((p, _)) => pos = p,
                    None => break,
                }
            }
            0x21 => {
                let label = b.get(pos + 1).copied();
                let keep = label == Some(0xFE) && col.is_some();
                match sub_blocks(b, pos + 2, keep) {
                    Some((p, data)) => {
                        if let (true, Some(c)) = (keep, col.as_deref_mut()) {
                            c.text(
                                "gif:Comment".into(),
                                "Comment",
                                Origin::Comment,
                                latin1_or_utf8(&data),
                                false,
                            );
                        }
                        pos = p;
                    }
                    None => break,
                }
            }
            _ => break, // 0x3B trailer or garbage
        }
    }
    frames.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames() {
        let mut g = b"GIF89a".to_vec();
        g.extend([1, 0, 1, 0, 0x80, 0, 0]); // 1x1, global table of 2 entries
        g.extend([0u8; 6]);
        g.extend([0x21, 0xFE, 2, b'h', b'i', 0]);
        for _ in 0..3 {
            g.extend([0x21, 0xF9, 4, 0, 0, 0, 0, 0]);
            g.extend([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4C, 0x01, 0]);
        }
        g.push(0x3B);
        assert_eq!(walk(&g, None), 3);
        let limits = crate::metadata::Limits::default();
        let mut col = Collector::new(&limits);
        walk(&g, Some(&mut col));
        assert_eq!(col.raw[0].value, "hi");
        for n in 0..g.len() {
            assert!(walk(&g[..n], None) >= 1);
        }
    }
}
