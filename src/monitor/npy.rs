//! Feature matrices from files for `assay compare --features-file` (and the fuzz harness): a minimal `.npy` reader
//! (format versions 1–3, dtype `<f4`/`<f8`, C order, 2-D) and comma-separated text (`.csv`, an
//! optional header row of non-numbers is skipped). Rows are samples, columns are dimensions.

use std::path::Path;

use anyhow::{Context as _, bail};

/// Reads a feature matrix from `path`, choosing the parser by extension (`.npy`, else CSV).
pub fn read_matrix(path: &Path) -> anyhow::Result<Vec<Vec<f64>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let parsed = if is_npy {
        parse_npy(&bytes)
    } else {
        parse_csv(&bytes)
    };
    parsed.with_context(|| format!("invalid feature file {}", path.display()))
}

/// Parses `.npy` bytes into rows.
pub fn parse_npy(bytes: &[u8]) -> anyhow::Result<Vec<Vec<f64>>> {
    let Some(rest) = bytes.strip_prefix(b"\x93NUMPY") else {
        bail!("not an .npy file (magic \\x93NUMPY missing)");
    };
    let (major, rest) = match rest {
        [major, _minor, rest @ ..] => (*major, rest),
        _ => bail!("truncated .npy header"),
    };
    let (header_len, rest) = match (major, rest) {
        (1, [a, b, rest @ ..]) => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        (2 | 3, [a, b, c, d, rest @ ..]) => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        (1..=3, _) => bail!("truncated .npy header"),
        (v, _) => bail!("unsupported .npy format version {v} (1, 2 and 3 are supported)"),
    };
    let Some(header) = rest.get(..header_len) else {
        bail!("truncated .npy header (declares {header_len} bytes)");
    };
    let data = rest.get(header_len..).unwrap_or_default();
    let header = std::str::from_utf8(header).context(".npy header is not text")?;
    let descr = dict_value(header, "descr").context(".npy header has no 'descr'")?;
    let descr = quoted(descr).context(".npy 'descr' is not a string")?;
    let width = match descr {
        "<f8" => 8,
        "<f4" => 4,
        other => bail!("unsupported .npy dtype {other} (expected <f4 or <f8)"),
    };
    let fortran =
        dict_value(header, "fortran_order").context(".npy header has no 'fortran_order'")?;
    if fortran.starts_with("True") {
        bail!("Fortran-ordered .npy arrays are not supported (save with C order)");
    }
    let shape = dict_value(header, "shape").context(".npy header has no 'shape'")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .context(".npy shape is not a tuple")?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .with_context(|| format!("bad .npy shape entry '{s}'"))
        })
        .collect::<anyhow::Result<_>>()?;
    let [n, d] = dims[..] else {
        bail!("expected a 2-D array (samples × dimensions), got shape ({inner})");
    };
    let expected = n
        .checked_mul(d)
        .and_then(|v| v.checked_mul(width))
        .context(".npy shape overflows")?;
    if data.len() < expected {
        bail!(
            "truncated .npy data: shape ({n}, {d}) needs {expected} bytes, found {}",
            data.len()
        );
    }
    let values: Vec<f64> = data[..expected]
        .chunks_exact(width)
        .map(|c| match *c {
            [a, b, c, d] => f64::from(f32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => f64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => f64::NAN,
        })
        .collect();
    Ok(values
        .chunks(d.max(1))
        .take(n)
        .map(<[f64]>::to_vec)
        .collect())
}

/// The text after `'key':` in a Python dict literal, up to the end of the header.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let after = &header[at + key.len() + 2..];
    Some(after.trim_start().strip_prefix(':')?.trim_start())
}

/// The contents of the quoted string at the start of `s`.
fn quoted(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    s[1..].split(q).next()
}

/// Parses comma-separated floats; a first row that is not all numbers is a header and skipped.
pub fn parse_csv(bytes: &[u8]) -> anyhow::Result<Vec<Vec<f64>>> {
    let text = std::str::from_utf8(bytes).context("CSV feature file is not UTF-8")?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<Vec<f64>, _> =
            line.split(',').map(|s| s.trim().parse::<f64>()).collect();
        match parsed {
            Ok(r) => rows.push(r),
            Err(_) if rows.is_empty() && i == 0 => {} // header row
            Err(e) => bail!("line {}: {e}", i + 1),
        }
    }
    if let Some(first) = rows.first() {
        let d = first.len();
        if let Some(bad) = rows.iter().position(|r| r.len() != d) {
            bail!(
                "row {} has {} values, the first row has {d}",
                bad + 1,
                rows[bad].len()
            );
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let prefix = if version == 1 { 10 } else { 12 };
        while (prefix + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn f8(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_f8_v1_and_f4_v2_v3() {
        let m = parse_npy(&npy(1, "<f8", "(2, 3)", &f8(&[1., 2., 3., 4., 5., 6.]))).unwrap();
        assert_eq!(m, vec![vec![1., 2., 3.], vec![4., 5., 6.]]);
        let f4: Vec<u8> = [0.5f32, -1.0, 2.0, 8.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        for v in [2, 3] {
            let m = parse_npy(&npy(v, "<f4", "(2, 2)", &f4)).unwrap();
            assert_eq!(m, vec![vec![0.5, -1.0], vec![2.0, 8.0]]);
        }
    }

    #[test]
    fn wrong_dtype_is_a_clear_error() {
        let e = parse_npy(&npy(1, "<i8", "(1, 1)", &[0; 8])).unwrap_err();
        assert!(e.to_string().contains("unsupported .npy dtype <i8"), "{e}");
        let e = parse_npy(&npy(1, ">f8", "(1, 1)", &[0; 8])).unwrap_err();
        assert!(e.to_string().contains("dtype >f8"), "{e}");
    }

    #[test]
    fn truncated_data_and_header_are_errors() {
        let e = parse_npy(&npy(1, "<f8", "(2, 2)", &f8(&[1., 2., 3.]))).unwrap_err();
        assert!(e.to_string().contains("truncated .npy data"), "{e}");
        let full = npy(1, "<f8", "(1, 1)", &f8(&[1.]));
        let e = parse_npy(&full[..20]).unwrap_err();
        assert!(e.to_string().contains("truncated .npy header"), "{e}");
        assert!(parse_npy(b"\x93NUM").is_err());
        assert!(
            parse_npy(b"PK\x03\x04")
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }

    #[test]
    fn rejects_1d_3d_and_fortran() {
        let e = parse_npy(&npy(1, "<f8", "(3,)", &f8(&[1., 2., 3.]))).unwrap_err();
        assert!(e.to_string().contains("2-D"), "{e}");
        let mut b = npy(1, "<f8", "(1, 1)", &f8(&[1.]));
        let at = b.windows(5).position(|w| w == b"False").unwrap();
        b[at..at + 5].copy_from_slice(b"True ");
        assert!(parse_npy(&b).unwrap_err().to_string().contains("Fortran"));
    }

    #[test]
    fn csv_with_and_without_header() {
        let m = parse_csv(b"a,b\n1,2\n3.5,-4\n").unwrap();
        assert_eq!(m, vec![vec![1., 2.], vec![3.5, -4.]]);
        assert_eq!(parse_csv(b"1,2\n").unwrap(), vec![vec![1., 2.]]);
        assert!(parse_csv(b"1,2\n3\n").is_err());
        assert!(parse_csv(b"1,2\nx,y\n").is_err());
    }
}
