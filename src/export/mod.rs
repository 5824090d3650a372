//! Export: copies or links selected images into a folder, never overwriting anything and never
//! touching the originals, with a manifest and optional XMP sidecars (rating and pick label for
//! Lightroom / digiKam).
//!
//! Names: each file keeps its base name, byte for byte (non-UTF-8 names included); when two
//! selected files share one (from different sub-folders), or the target folder already holds a
//! different file of that name, the later one (in path order) becomes `stem-2.ext`,
//! `stem-3.ext`, … A target file with identical bytes is "already exported" and left as it is,
//! so running an export twice adds nothing.
//!
//! Atomicity: nothing is ever written under a real name until it is complete. Each copy (and
//! each sidecar and manifest) is written to a hidden temporary name in the target folder,
//! `.assay-part-<pid>-<n>`, and renamed into place when complete; a failed write (a full disk)
//! removes its temporary file. A rerun removes the temporary files of an export that was killed
//! (their process is gone), and a target whose bytes are a strict prefix of the source's — a
//! truncated copy, e.g. from an older version without temporary names — is completed in place
//! (replacing it loses nothing: every byte it has is in the source).
//!
//! # Scope
//!
//! copy / hard link / symlink by latest status, deterministic names on collision (`stem-2.ext`),
//! never overwriting (identical files count as already exported), XMP sidecars (`xmp:Rating` with
//! −1 = rejected, `xmp:Label`, `digiKam:PickLabel`, prompt as `dc:description`), CSV/JSON manifest
//! with every column; `assay export`, and `assay decide` for headless human decisions; the GUI's
//! export dialog runs the same code (`export::export`, `write_manifest`) in a background job.
//! [`parquet`]: the catalogue as Parquet for engines (`assay table --format parquet`, `assay
//! export-signals`), written the same way (temporary name, renamed when complete:
//! [`write_file_atomically`]).

use crate::domain::Status;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::ImageRow;
use crate::table;

pub mod parquet;
pub mod usecase;

/// How files reach the target folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Copy,
    Hardlink,
    Symlink,
}

/// One file to export.
#[derive(Debug, Clone)]
pub struct Source {
    /// Absolute path of the original.
    pub path: PathBuf,
    /// Relative path in the collection (for messages and the manifest).
    pub rel: String,
    /// Latest decision status.
    pub status: Status,
    /// 0–5, when rated.
    pub rating: Option<i64>,
    pub prompt: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Exported,
    AlreadyExported,
    Failed(String),
}

/// Result for one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub rel: String,
    /// File name in the target folder (lossy for display when it is not UTF-8; the file itself
    /// keeps the original bytes).
    pub name: String,
    pub fate: Fate,
    pub sidecar: bool,
    /// A truncated earlier copy under this name was completed (see the module docs).
    pub completed_partial: bool,
}

/// Prefix of the temporary files an export writes before renaming them into place.
pub const PARTIAL_PREFIX: &str = ".assay-part-";

static PARTIAL_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary path in `dir` for this process.
fn partial_path(dir: &Path) -> PathBuf {
    let n = PARTIAL_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{PARTIAL_PREFIX}{}-{n}", std::process::id()))
}

/// Whether the process that wrote a temporary file is gone (so the file is a leftover).
fn writer_is_gone(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") {
        !Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // No cheap portable liveness check: a temporary file of a concurrent export on another
        // platform is removed, and that export reports the file as failed.
        true
    }
}

/// Removes the temporary files that an interrupted export (killed, crashed, power loss) left in
/// `out`; returns how many. Files of exports still running are kept.
pub fn remove_leftovers(out: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PARTIAL_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if writer_is_gone(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Writes `write(tmp)` to a temporary file in `dir`, then moves it to `target` (replacing it
/// when `replace`, else refusing an existing target with `AlreadyExists`). On any error the
/// temporary file is removed.
fn write_then_publish(
    dir: &Path,
    target: &Path,
    replace: bool,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = partial_path(dir);
    let result = write(&tmp).and_then(|()| publish(&tmp, target, replace));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a file the way an export writes its files: `write` fills a temporary file in the
/// target's folder, which is renamed to `target` (replacing it) when complete and removed on
/// any error, so `target` is never seen half written.
pub fn write_file_atomically<T, E: From<std::io::Error>>(
    target: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<T, E>,
) -> Result<T, E> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = partial_path(dir);
    let result = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let value = write(&mut w)?;
        w.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
        publish(&tmp, target, true)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Moves a complete temporary file to its name. Without `replace` the move must not clobber a
/// file that appeared meanwhile: a hard link fails on an existing name; file systems without
/// hard links (FAT, exFAT) get a rename after a check.
fn publish(tmp: &Path, target: &Path, replace: bool) -> std::io::Result<()> {
    if replace {
        return std::fs::rename(tmp, target);
    }
    match std::fs::hard_link(tmp, target) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if std::fs::symlink_metadata(target).is_ok() => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the target name appeared during the export",
        )),
        Err(_) => std::fs::rename(tmp, target),
    }
}

/// `name` split into stem and extension (with its dot), as bytes-preserving `OsString`s.
fn split_name(name: &OsStr) -> (OsString, OsString) {
    let p = Path::new(name);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => {
            let mut e = OsString::from(".");
            e.push(ext);
            (stem.to_os_string(), e)
        }
        _ => (name.to_os_string(), OsString::new()),
    }
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => {
            matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

/// Whether `target` is a regular file whose bytes are a strict prefix of `src`'s (a truncated
/// copy; an empty file counts).
fn is_truncated_copy(src: &Path, target: &Path) -> bool {
    let (Ok(ms), Ok(mt)) = (std::fs::metadata(src), std::fs::symlink_metadata(target)) else {
        return false;
    };
    if !mt.is_file() || mt.len() >= ms.len() {
        return false;
    }
    let Ok(have) = std::fs::read(target) else {
        return false;
    };
    let mut head = vec![0u8; have.len()];
    std::fs::File::open(src)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == have
}

/// What is under a chosen target name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Nothing,
    Identical,
    Truncated,
}

/// Chooses the target name of `src`: its base name, or the next free `stem-N.ext`. Returns the
/// name and what is already there.
fn target_name(src: &Source, out: &Path, taken: &mut HashSet<OsString>) -> (OsString, Existing) {
    let base = src
        .path
        .file_name()
        .map_or_else(|| OsString::from("image"), OsStr::to_os_string);
    let (stem, ext) = split_name(&base);
    for n in 1.. {
        let name = if n == 1 {
            base.clone()
        } else {
            let mut s = stem.clone();
            s.push(format!("-{n}"));
            s.push(&ext);
            s
        };
        if taken.contains(&name) {
            continue;
        }
        let target = out.join(&name);
        match std::fs::symlink_metadata(&target) {
            Err(_) => {
                taken.insert(name.clone());
                return (name, Existing::Nothing);
            }
            Ok(_) if same_bytes(&src.path, &target) => {
                taken.insert(name.clone());
                return (name, Existing::Identical);
            }
            Ok(_) if is_truncated_copy(&src.path, &target) => {
                taken.insert(name.clone());
                return (name, Existing::Truncated);
            }
            Ok(_) => {}
        }
    }
    (base, Existing::Nothing)
}

/// Escapes text for XML 1.0 content and attributes. Characters XML 1.0 forbids (C0 controls
/// other than tab, line feed and carriage return; U+FFFE, U+FFFF) cannot be written even as
/// character references, so each becomes U+FFFD; a carriage return is written as `&#13;` so
/// that parsers do not normalise it away.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push('\u{FFFD}');
            }
            c => out.push(c),
        }
    }
    out
}

/// An XMP sidecar: `xmp:Rating` (Lightroom: −1 = rejected), `xmp:Label`, digiKam's
/// `digiKam:PickLabel` (1 rejected, 2 pending, 3 accepted) and the prompt as `dc:description`.
pub fn xmp_sidecar(status: Status, rating: Option<i64>, prompt: Option<&str>) -> String {
    let (pick, label) = match status {
        Status::Accepted => (3, "Accepted"),
        Status::Rejected => (1, "Rejected"),
        Status::Review => (2, "Review"),
        Status::None => (0, ""),
    };
    let xmp_rating = if status == Status::Rejected {
        -1
    } else {
        rating.unwrap_or(0).clamp(0, 5)
    };
    let description = prompt.map_or_else(String::new, |p| {
        format!(
            "\n   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description>",
            xml_escape(p)
        )
    });
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Assay">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmp:Rating="{xmp_rating}"
    xmp:Label="{label}"
    digiKam:PickLabel="{pick}">{description}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"#
    )
}

/// Creates `dst` as a copy of or a link to `src`.
fn link_or_copy(src: &Path, dst: &Path, mode: Mode) -> std::io::Result<()> {
    match mode {
        Mode::Copy => std::fs::copy(src, dst).map(|_| ()),
        Mode::Hardlink => std::fs::hard_link(src, dst),
        Mode::Symlink => {
            #[cfg(unix)]
            {
                let abs = src.canonicalize()?;
                std::os::unix::fs::symlink(abs, dst)
            }
            #[cfg(not(unix))]
            {
                std::fs::copy(src, dst).map(|_| ())
            }
        }
    }
}

/// Places one file: through a temporary name (see the module docs), under the next free name
/// if another export took this one meanwhile.
fn place(
    src: &Source,
    out: &Path,
    mode: Mode,
    taken: &mut HashSet<OsString>,
) -> (OsString, Fate, bool) {
    for _ in 0..8 {
        let (name, existing) = target_name(src, out, taken);
        let target = out.join(&name);
        let r = match existing {
            Existing::Identical => return (name, Fate::AlreadyExported, false),
            Existing::Truncated => {
                write_then_publish(out, &target, true, |tmp| link_or_copy(&src.path, tmp, mode))
            }
            Existing::Nothing => write_then_publish(out, &target, false, |tmp| {
                link_or_copy(&src.path, tmp, mode)
            }),
        };
        match r {
            Ok(()) => return (name, Fate::Exported, existing == Existing::Truncated),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let why = format!("{e} ({})", src.path.display());
                return (name, Fate::Failed(why), false);
            }
        }
    }
    let why = "the target names kept being taken by another process".to_string();
    (OsString::new(), Fate::Failed(why), false)
}

/// Exports `sources` (already sorted by path) into `out`. `progress(done)` is called after each
/// file; returning false cancels the rest.
pub fn export(
    sources: &[Source],
    out: &Path,
    mode: Mode,
    xmp: bool,
    mut progress: impl FnMut(usize) -> bool,
) -> std::io::Result<Vec<Exported>> {
    std::fs::create_dir_all(out)?;
    remove_leftovers(out)?;
    let mut taken = HashSet::new();
    let mut results = Vec::with_capacity(sources.len());
    for (i, src) in sources.iter().enumerate() {
        let (name, fate, completed_partial) = place(src, out, mode, &mut taken);
        let mut sidecar = false;
        if xmp && !matches!(fate, Fate::Failed(_)) {
            let mut side_name = name.clone();
            side_name.push(".xmp");
            let side = out.join(side_name);
            let text = xmp_sidecar(src.status, src.rating, src.prompt.as_deref());
            // A sidecar is ours to (re)write only if it is absent or was written by Assay.
            let ours =
                std::fs::read_to_string(&side).map_or(true, |t| t.contains("x:xmptk=\"Assay\""));
            if ours {
                sidecar = write_then_publish(out, &side, true, |tmp| {
                    std::fs::write(tmp, text.as_bytes())
                })
                .is_ok();
            }
        }
        results.push(Exported {
            rel: src.rel.clone(),
            name: name.to_string_lossy().into_owned(),
            fate,
            sidecar,
            completed_partial,
        });
        if !progress(i + 1) {
            break;
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(dir: &Path, rel: &str, bytes: &[u8]) -> Source {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        Source {
            path: p,
            rel: rel.into(),
            status: Status::Accepted,
            rating: Some(4),
            prompt: Some("a <cat> & dog".into()),
        }
    }

    #[test]
    fn collisions_are_deterministic_and_nothing_is_overwritten() {
        let t = tempfile::tempdir().unwrap();
        let col = t.path().join("col");
        let out = t.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("x.png"), b"someone else's file").unwrap();
        let s = vec![
            src(&col, "a/x.png", b"one"),
            src(&col, "b/x.png", b"two"),
            src(&col, "y", b"three"),
        ];
        let r = export(&s, &out, Mode::Copy, true, |_| true).unwrap();
        let names: Vec<_> = r.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["x-2.png", "x-3.png", "y"]);
        assert_eq!(
            std::fs::read(out.join("x.png")).unwrap(),
            b"someone else's file"
        );
        assert_eq!(std::fs::read(out.join("x-3.png")).unwrap(), b"two");
        let side = std::fs::read_to_string(out.join("x-2.png.xmp")).unwrap();
        assert!(side.contains("xmp:Rating=\"4\"") && side.contains("digiKam:PickLabel=\"3\""));
        assert!(side.contains("a &lt;cat&gt; &amp; dog"));
        // Twice: nothing new.
        let r = export(&s, &out, Mode::Copy, true, |_| true).unwrap();
        assert!(r.iter().all(|e| e.fate == Fate::AlreadyExported), "{r:?}");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1 + 3 + 3);
    }

    #[test]
    fn rejected_rating_is_minus_one_and_links_work() {
        assert!(xmp_sidecar(Status::Rejected, Some(3), None).contains("xmp:Rating=\"-1\""));
        assert!(xmp_sidecar(Status::Review, None, None).contains("digiKam:PickLabel=\"2\""));
        let t = tempfile::tempdir().unwrap();
        let s = vec![src(&t.path().join("c"), "z.png", b"zz")];
        for (mode, dir) in [(Mode::Hardlink, "h"), (Mode::Symlink, "s")] {
            let out = t.path().join(dir);
            let r = export(&s, &out, mode, false, |_| true).unwrap();
            assert_eq!(r[0].fate, Fate::Exported);
            assert_eq!(std::fs::read(out.join("z.png")).unwrap(), b"zz");
        }
        #[cfg(unix)]
        assert!(
            std::fs::symlink_metadata(t.path().join("s/z.png"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

/// Manifest file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestFormat {
    Csv,
    Json,
}

/// Absolute path of a catalogued row's file (exact bytes for non-UTF-8 names).
pub fn absolute_path(root: &Path, row: &ImageRow) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        root.join(std::ffi::OsStr::from_bytes(row.path_bytes()))
    }
    #[cfg(not(unix))]
    {
        root.join(&row.path)
    }
}

/// Writes `manifest.csv` / `manifest.json` into `out`: one record per exported (or already
/// exported) file with its exported name and every column of its row.
pub fn write_manifest(
    out: &Path,
    fmt: ManifestFormat,
    results: &[Exported],
    rows: &[ImageRow],
) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    let cols = table::all_columns();
    let path = out.join(match fmt {
        ManifestFormat::Csv => "manifest.csv",
        ManifestFormat::Json => "manifest.json",
    });
    // Built in memory, then written through a temporary name: never a half manifest.
    let mut f: Vec<u8> = Vec::new();
    let exported = results
        .iter()
        .filter(|e| !matches!(e.fate, Fate::Failed(_)));
    let by_path: HashMap<&str, &ImageRow> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    match fmt {
        ManifestFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut f);
            let mut header = vec!["exported_as".to_string()];
            header.extend(cols.iter().cloned());
            w.write_record(&header)?;
            for e in exported {
                let Some(r) = by_path.get(e.rel.as_str()) else {
                    continue;
                };
                let mut rec = vec![e.name.clone()];
                rec.extend(cols.iter().map(|c| table::to_csv(&table::value(r, c))));
                w.write_record(&rec)?;
            }
            w.flush()?;
        }
        ManifestFormat::Json => {
            let objs: Vec<_> = exported
                .filter_map(|e| {
                    let r = by_path.get(e.rel.as_str())?;
                    let mut m = serde_json::Map::new();
                    m.insert("exported_as".into(), serde_json::json!(e.name));
                    for c in &cols {
                        m.insert(c.clone(), table::to_json(c, &table::value(r, c)));
                    }
                    Some(serde_json::Value::Object(m))
                })
                .collect();
            serde_json::to_writer_pretty(&mut f, &objs)?;
            writeln!(f)?;
        }
    }
    write_then_publish(out, &path, true, |tmp| std::fs::write(tmp, &f))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `path` with its longest existing ancestor canonicalised (the rest need not exist yet).
fn resolved(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return Some(
                rest.iter()
                    .rev()
                    .fold(c, |acc: PathBuf, part| acc.join(part)),
            );
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

/// Whether `out` is (or would be) inside the collection `root`: exporting there would feed the
/// copies back into the collection.
pub fn is_inside(out: &Path, root: &Path) -> bool {
    matches!((resolved(out), root.canonicalize()), (Some(o), Ok(r)) if o.starts_with(&r))
}
