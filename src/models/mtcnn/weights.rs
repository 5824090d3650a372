//! The shipped MTCNN weights: three safetensors files embedded in the binary, converted from the
//! PyPI `mtcnn` 1.0.0 wheel (MIT) by `scripts/convert_mtcnn.py` (provenance and sha256 in
//! `models/MANIFEST.toml`). Layouts: conv `[out, in, kh, kw]`, dense `[in, out]` (rows of the
//! first dense layer already in NCHW flatten order), PReLU `[C]`, biases `[out]`.
//!
//! The safetensors format is small enough to read here: an 8-byte little-endian header length,
//! a JSON header `{name: {dtype, shape, data_offsets}}`, then the raw data. F16 tensors (the hand
//! models' weights, [`crate::models::graph`]) are widened to f32 exactly; the string metadata
//! (`__metadata__`) is kept.

use std::collections::HashMap;

/// P-Net weights (6,632 parameters).
pub const PNET: &[u8] = include_bytes!("../../../models/mtcnn/pnet.safetensors");
/// R-Net weights (100,178 parameters).
pub const RNET: &[u8] = include_bytes!("../../../models/mtcnn/rnet.safetensors");
/// O-Net weights (389,040 parameters).
pub const ONET: &[u8] = include_bytes!("../../../models/mtcnn/onet.safetensors");

/// Why a weight file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error("{file}: not a safetensors file ({reason})")]
    Format { file: String, reason: String },
    #[error("{file}: tensor `{name}` is missing")]
    Missing { file: String, name: String },
    #[error("{file}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        file: String,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{file}: tensor `{name}` has dtype {dtype}, expected F32 or F16")]
    Dtype {
        file: String,
        name: String,
        dtype: String,
    },
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// The tensors of one safetensors file, as f32 vectors with their shapes, and its metadata.
pub struct Tensors {
    file: String,
    map: HashMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
}

impl Tensors {
    /// Parses a safetensors buffer (F32 tensors only; other dtypes are an error when asked for).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, WeightError> {
        let fmt = |reason: &str| WeightError::Format {
            file: file.to_string(),
            reason: reason.to_string(),
        };
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| fmt("shorter than 8 bytes"))?;
        let header_len = usize::try_from(u64::from_le_bytes(len_bytes))
            .map_err(|_| fmt("header length overflows"))?;
        let header_end = 8usize
            .checked_add(header_len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| fmt("header length beyond the end of the file"))?;
        let header: HashMap<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..header_end]).map_err(|e| fmt(&e.to_string()))?;
        let data = &bytes[header_end..];
        let mut map = HashMap::new();
        let mut metadata = HashMap::new();
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = serde_json::from_value(value).map_err(|e| fmt(&e.to_string()))?;
                continue;
            }
            let entry: Entry =
                serde_json::from_value(value).map_err(|e| fmt(&format!("entry {name}: {e}")))?;
            let width = match entry.dtype.as_str() {
                "F32" => 4,
                "F16" => 2,
                _ => {
                    return Err(WeightError::Dtype {
                        file: file.to_string(),
                        name,
                        dtype: entry.dtype,
                    });
                }
            };
            let [start, end] = entry.data_offsets;
            let n: usize = entry.shape.iter().product();
            let raw = data
                .get(start..end)
                .filter(|r| r.len() == n * width)
                .ok_or_else(|| {
                    fmt(&format!(
                        "entry {name}: data offsets do not match its shape"
                    ))
                })?;
            let values = if width == 4 {
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                raw.chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect()
            };
            map.insert(name, (entry.shape, values));
        }
        Ok(Self {
            file: file.to_string(),
            map,
            metadata,
        })
    }

    /// A metadata string of the file.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The shape and values of `name`, without taking it.
    pub fn get(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.map
            .get(name)
            .map(|(s, v)| (s.as_slice(), v.as_slice()))
    }

    /// The values of `name`, which must have exactly `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightError> {
        let (found, values) = self.map.remove(name).ok_or_else(|| WeightError::Missing {
            file: self.file.clone(),
            name: name.to_string(),
        })?;
        if found != shape {
            return Err(WeightError::Shape {
                file: self.file.clone(),
                name: name.to_string(),
                found,
                expected: shape.to_vec(),
            });
        }
        Ok(values)
    }

    /// Names not taken yet (a loader lists them as unexpected).
    pub fn remaining(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.map.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_mis_shaped_files_fail_loudly() {
        assert!(matches!(
            Tensors::parse("x", b"abc"),
            Err(WeightError::Format { .. })
        ));
        assert!(matches!(
            Tensors::parse("x", &PNET[..PNET.len() - 10]),
            Err(WeightError::Format { .. })
        ));
        let mut t = Tensors::parse("pnet", PNET).unwrap();
        assert!(matches!(
            t.take("conv1.weight", &[10, 3, 3, 4]),
            Err(WeightError::Shape { .. })
        ));
        assert!(matches!(
            t.take("nope", &[1]),
            Err(WeightError::Missing { .. })
        ));
        assert_eq!(t.take("conv1.bias", &[10]).unwrap().len(), 10);
    }
}
