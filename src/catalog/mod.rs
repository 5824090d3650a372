//! The catalog: finds image files under a collection root and decodes them safely.
//!
//! Discovery is recursive, follows symbolic links to folders once (loops are detected by
//! canonical path), skips hidden entries (names starting with `.`, which includes Assay's own
//! `.assay/` folder) and keeps going past unreadable folders, reporting them. Decoding sniffs the
//! real format from the bytes (extensions lie), refuses images above a pixel limit *before*
//! allocating, and honours EXIF orientation. It never writes to a user's file.
//!
//! # Scope
//!
//! discovery (recursive, symlink loops detected by canonical path, hidden entries and `.assay/`
//! skipped, unreadable entries reported), xxh3-128 content hash, format sniffing from bytes,
//! header-only dimensions, pixel limit before allocation, EXIF orientation, first frame of
//! animations

pub mod decode;
pub mod shard;
pub mod thumb;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File-name extensions considered images (lower case). Anything else is ignored.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "jpe", "jfif", "webp", "gif", "bmp", "tif", "tiff", "avif", "heic",
    "heif", "hif",
];

/// A candidate image file found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub abs: PathBuf,
    /// Path relative to the root with `/` separators (lossy for non-UTF-8 names).
    pub rel: String,
    /// Exact relative path bytes (Unix: the OS bytes; elsewhere UTF-8).
    pub rel_raw: Vec<u8>,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 when unavailable).
    pub mtime_ns: i64,
}

/// What discovery found, plus what it could not read.
#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<Found>,
    /// Folders or entries that could not be read, with the reason.
    pub errors: Vec<(PathBuf, String)>,
    /// Image files that cannot be opened at all (a dangling symbolic link, no permission to
    /// look at them), with the reason; paths relative to the root.
    pub file_errors: Vec<(String, String)>,
    /// Symbolic links to folders skipped because they lead back into a visited folder.
    pub link_loops: usize,
}

/// Whether a file name has an image extension.
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn rel_bytes(rel: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        rel.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        rel.to_string_lossy().replace('\\', "/").into_bytes()
    }
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// Walks `root` and returns every image file, sorted by relative path.
pub fn discover(root: &Path) -> Discovery {
    let mut out = Discovery::default();
    let mut visited: HashSet<PathBuf> = HashSet::new();
    if let Ok(c) = root.canonicalize() {
        visited.insert(c);
    }
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.errors
                    .push((dir.clone(), format!("cannot read folder: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.errors
                        .push((dir.clone(), format!("cannot read folder entry: {e}")));
                    continue;
                }
            };
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Follow links: metadata() resolves them.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    if !has_image_extension(&path) {
                        continue;
                    }
                    let link =
                        std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
                    if link {
                        // A dangling link is a file problem, not a folder skipped.
                        let target = std::fs::read_link(&path)
                            .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
                        let rel = path.strip_prefix(root).unwrap_or(&path);
                        out.file_errors.push((
                            rel_string(rel),
                            format!(
                                "broken symbolic link: its target {target} cannot be read ({e})"
                            ),
                        ));
                    } else {
                        let rel = path.strip_prefix(root).unwrap_or(&path);
                        out.file_errors
                            .push((rel_string(rel), format!("cannot read the file: {e}")));
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                match path.canonicalize() {
                    Ok(c) => {
                        if visited.insert(c) {
                            stack.push(path);
                        } else {
                            out.link_loops += 1;
                        }
                    }
                    Err(e) => out
                        .errors
                        .push((path, format!("cannot resolve folder: {e}"))),
                }
            } else if meta.is_file() && has_image_extension(&path) {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                out.files.push(Found {
                    rel: rel_string(&rel),
                    rel_raw: rel_bytes(&rel),
                    abs: path,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
    }
    out.files.sort_by(|a, b| a.rel_raw.cmp(&b.rel_raw));
    out
}

/// Content hash used to tell versions apart: xxh3-128 of the bytes, 32 hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_hidden_and_assay_folders_and_survives_link_loops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".assay/thumbs")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for p in [
            "a/x.png",
            "a/b/y.JPG",
            ".assay/thumbs/t.png",
            ".hidden/h.png",
            "a/notes.txt",
            ".z.png",
        ] {
            std::fs::write(root.join(p), b"x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("a"), root.join("a/b/loop")).unwrap();
        let d = discover(root);
        let rels: Vec<_> = d.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["a/b/y.JPG", "a/x.png"]);
        #[cfg(unix)]
        assert_eq!(d.link_loops, 1);
    }

    /// Issue 17: a dangling file symlink was reported as "folder skipped".
    #[cfg(unix)]
    #[test]
    fn a_dangling_file_link_is_a_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(root.join("gone.png"), root.join("sub/dangling.png")).unwrap();
        std::fs::write(root.join("ok.png"), b"x").unwrap();
        let d = discover(root);
        assert!(d.errors.is_empty(), "no folder error: {:?}", d.errors);
        assert_eq!(d.file_errors.len(), 1, "{:?}", d.file_errors);
        assert_eq!(d.file_errors[0].0, "sub/dangling.png");
        assert!(
            d.file_errors[0].1.contains("broken symbolic link"),
            "{:?}",
            d.file_errors
        );
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(content_hash(b"").len(), 32);
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
    }
}
