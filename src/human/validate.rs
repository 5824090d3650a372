//! Field checks for imported label lines, beyond what JSON and the protocol rules catch: names
//! that are bounded and printable, ratings on the scale, times in RFC 3339, and an on-screen
//! order that is a permutation of the items. Each failure is a sentence for `line N: …`.

use super::LabelLine;

/// Longest rater, session, criterion or rating-dimension name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// Whether `c` is a control character (C0, DEL, C1) or a bidirectional override / isolate.
fn is_control(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// A name field: non-empty after trimming, at most [`MAX_NAME_BYTES`], no control characters.
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("empty {what}"));
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} is {} bytes long (at most {MAX_NAME_BYTES})",
            s.len()
        ));
    }
    if let Some(c) = s.chars().find(|&c| is_control(c)) {
        return Err(format!(
            "{what} contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(())
}

fn digits(s: &str, at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Whether `s` is an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (`T`/`Z` in
/// either case), with real calendar dates (leap years) and seconds up to 60 (leap second).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        digits(s, 0, 4),
        digits(s, 5, 2),
        digits(s, 8, 2),
        digits(s, 11, 2),
        digits(s, 14, 2),
        digits(s, 17, 2),
    ) else {
        return false;
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if d == 0 || d > days || h > 23 || mi > 59 || sec > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let (Some(oh), Some(om)) = (digits(s, i + 1, 2), digits(s, i + 4, 2)) else {
                return false;
            };
            b.get(i + 3) == Some(&b':') && oh <= 23 && om <= 59 && i + 6 == b.len()
        }
        _ => false,
    }
}

/// Checks the fields of a parsed line that the protocol rules do not: see the module docs.
/// `order` is checked by the caller after items are resolved ([`check_order`]).
pub fn check_fields(l: &LabelLine) -> Result<(), String> {
    check_name("rater name", &l.rater)?;
    check_name("criterion", l.criterion.as_str())?;
    if let Some(s) = &l.session {
        check_name("session", s)?;
    }
    if let Some(t) = &l.time
        && !is_rfc3339(t)
    {
        let shown: String = t.chars().take(40).collect();
        return Err(format!(
            "time '{}' is not an RFC 3339 date-time (e.g. 2026-01-02T03:04:05Z)",
            shown.escape_default()
        ));
    }
    if let Some(r) = l.rating
        && !r.is_finite()
    {
        return Err(format!("rating {r} is not a number"));
    }
    if let Some(ratings) = &l.ratings {
        for (dim, v) in ratings {
            check_name("rating dimension", dim)?;
            if !v.is_finite() || !(1.0..=5.0).contains(v) || v.fract() != 0.0 {
                return Err(format!(
                    "rating '{dim}' must be a whole number 1–5 (the multi-dimensional scale), got {v}"
                ));
            }
        }
    }
    if let Some(order) = &l.order
        && order.len() != l.items.len()
    {
        return Err(format!(
            "'order' lists {} items but 'items' has {}",
            order.len(),
            l.items.len()
        ));
    }
    Ok(())
}

/// `order` (resolved to paths) must be a permutation of `items`: the same items, each once.
pub fn check_order(items: &[String], order: &[String]) -> Result<(), String> {
    let mut a: Vec<&String> = items.iter().collect();
    let mut b: Vec<&String> = order.iter().collect();
    a.sort();
    b.sort();
    if a != b {
        return Err(
            "'order' is not a permutation of 'items' (the items as shown on screen)".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        for ok in [
            "2026-01-02T03:04:05Z",
            "2026-01-02t03:04:05.678z",
            "2024-02-29T23:59:60+05:30",
            "1999-12-31T00:00:00.1-08:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "",
            "yesterday",
            "2026-01-02",
            "2026-01-02 03:04:05Z",
            "2026-13-02T03:04:05Z",
            "2025-02-29T03:04:05Z",
            "2026-01-02T24:00:00Z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05+0530",
            "2026-01-02T03:04:05Zjunk",
            "٢٠٢٦-01-02T03:04:05Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("rater name", "ana").is_ok());
        assert!(check_name("rater name", "  ").is_err());
        assert!(check_name("rater name", "a\u{1b}[2J").is_err());
        assert!(check_name("rater name", &"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        assert!(check_name("rater name", "Zoë 李").is_ok());
    }
}
