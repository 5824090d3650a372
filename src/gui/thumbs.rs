//! Thumbnails: generated once per content hash, cached on disk (`<db folder>/thumbs/`, i.e.
//! `.assay/thumbs/` for a writable collection), decoded by a small worker pool and uploaded as
//! textures only for what the grid shows, under an LRU budget.
//!
//! Requests are prioritised: the grid replaces the "wanted" list every frame with the visible
//! rows (plus a margin), nearest first, so scrolling fast never queues thousands of decodes.
//! When nothing is wanted the workers pre-generate the remaining thumbnails on disk (pixels are
//! not kept in memory), so later scrolling only reads small JPEGs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use eframe::egui;

use super::jobs::{spawn, to_color_image};
use crate::catalog::decode::{DecodeConfig, decode};

pub use crate::catalog::thumb::cache_file;

/// One thumbnail to make or load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbReq {
    pub id: i64,
    pub path: PathBuf,
    /// Content hash (the cache key); without one the thumbnail is made but not cached.
    pub hash: Option<String>,
}

/// Makes (or reads) the thumbnail of `req`, caching it under `dir`.
pub fn make_thumb(
    dir: &Path,
    req: &ThumbReq,
    keep_pixels: bool,
) -> Result<Option<egui::ColorImage>, String> {
    let cached = req.hash.as_deref().map(|h| cache_file(dir, h));
    if let Some(c) = &cached
        && c.exists()
    {
        if !keep_pixels {
            return Ok(None);
        }
        if let Ok(img) = image::open(c) {
            return Ok(Some(to_color_image(&img)));
        }
        // A damaged cache file is regenerated below.
    }
    let bytes = std::fs::read(&req.path).map_err(|e| format!("cannot read: {e}"))?;
    let d = decode(&bytes, &DecodeConfig::default()).map_err(|e| e.to_string())?;
    let thumb = crate::catalog::thumb::thumbnail(&d.image);
    if let Some(h) = req.hash.as_deref() {
        crate::catalog::thumb::save(dir, h, &thumb);
    }
    Ok(keep_pixels.then(|| to_color_image(&thumb)))
}

/// Every row, walked by the workers when idle to generate the thumbnails on disk. The rows
/// are held weakly: flagging never has to copy them for this walk, and rows replaced by a
/// reload end it (the grid still asks for what it shows).
struct Background {
    rows: std::sync::Weak<Vec<Arc<crate::store::ImageRow>>>,
    len: usize,
    root: PathBuf,
    next: usize,
}

impl Background {
    /// The next readable row's request (a `make_thumb` of a cached one only checks the file).
    fn next(&mut self) -> Option<ThumbReq> {
        let rows = self.rows.upgrade()?;
        while let Some(r) = rows.get(self.next) {
            self.next += 1;
            if r.error.is_none() {
                return Some(ThumbReq {
                    id: r.id,
                    path: crate::export::absolute_path(&self.root, r),
                    hash: r.hash.clone(),
                });
            }
        }
        self.next = self.len;
        None
    }

    fn left(&self) -> usize {
        if self.rows.strong_count() == 0 {
            return 0;
        }
        self.len.saturating_sub(self.next)
    }
}

#[derive(Default)]
struct Queue {
    /// Visible (or nearly) thumbnails, nearest first.
    wanted: VecDeque<ThumbReq>,
    /// Everything else, generated to disk when idle.
    background: Option<Background>,
    in_flight: HashSet<i64>,
    shutdown: bool,
}

/// Result of one request.
pub type ThumbResult = (i64, Result<egui::ColorImage, String>);

/// The worker pool.
pub struct ThumbService {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    results: Arc<Mutex<Vec<ThumbResult>>>,
}

impl ThumbService {
    pub fn start(dir: PathBuf, workers: usize, ctx: egui::Context) -> Self {
        let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let results = Arc::new(Mutex::new(Vec::new()));
        for i in 0..workers.max(1) {
            let (q, r, dir, ctx) = (queue.clone(), results.clone(), dir.clone(), ctx.clone());
            spawn(&format!("assay-thumb-{i}"), move || {
                worker(&q, &r, &dir, &ctx);
            });
        }
        Self { queue, results }
    }

    /// Replaces the wanted list (nearest first). Items already loading are not repeated.
    pub fn want(&self, reqs: Vec<ThumbReq>) {
        let (m, cv) = &*self.queue;
        if let Ok(mut q) = m.lock() {
            let fly = q.in_flight.clone();
            q.wanted = reqs.into_iter().filter(|r| !fly.contains(&r.id)).collect();
            cv.notify_all();
        }
    }

    /// Queues every row's thumbnail for generation on disk when idle (the workers take the
    /// rows one by one: nothing is built per row up front).
    pub fn pregenerate(&self, rows: &super::Rows, root: PathBuf) {
        let (m, cv) = &*self.queue;
        if let Ok(mut q) = m.lock() {
            q.background = Some(Background {
                rows: Arc::downgrade(rows),
                len: rows.len(),
                root,
                next: 0,
            });
            cv.notify_all();
        }
    }

    /// Thumbnails finished since the last call.
    pub fn take_results(&self) -> Vec<ThumbResult> {
        self.results
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// Whether anything is queued or loading (tests and the screenshot wait on it).
    pub fn busy(&self) -> bool {
        self.queue
            .0
            .lock()
            .is_ok_and(|q| !q.wanted.is_empty() || !q.in_flight.is_empty())
    }

    /// How many thumbnails are still to be generated on disk.
    pub fn backlog(&self) -> usize {
        self.queue
            .0
            .lock()
            .map_or(0, |q| q.background.as_ref().map_or(0, Background::left))
    }
}

impl Drop for ThumbService {
    fn drop(&mut self) {
        let (m, cv) = &*self.queue;
        if let Ok(mut q) = m.lock() {
            q.shutdown = true;
        }
        cv.notify_all();
    }
}

fn worker(
    q: &(Mutex<Queue>, Condvar),
    results: &Mutex<Vec<ThumbResult>>,
    dir: &Path,
    ctx: &egui::Context,
) {
    let (m, cv) = q;
    loop {
        let (req, visible) = {
            let Ok(mut g) = m.lock() else { return };
            loop {
                if g.shutdown {
                    return;
                }
                if let Some(r) = g.wanted.pop_front() {
                    g.in_flight.insert(r.id);
                    break (r, true);
                }
                if let Some(r) = g.background.as_mut().and_then(Background::next) {
                    break (r, false);
                }
                g.background = None;
                g = match cv.wait(g) {
                    Ok(g) => g,
                    Err(_) => return,
                };
            }
        };
        let res = make_thumb(dir, &req, visible);
        if visible {
            let res = res.and_then(|o| o.ok_or_else(|| "no pixels".to_string()));
            if let Ok(mut r) = results.lock() {
                r.push((req.id, res));
            }
            if let Ok(mut g) = m.lock() {
                g.in_flight.remove(&req.id);
            }
            ctx.request_repaint();
        }
    }
}

/// Textures of thumbnails, evicted least-recently-used beyond a budget.
#[derive(Default)]
pub struct TextureCache {
    map: HashMap<i64, (egui::TextureHandle, u64)>,
    /// Thumbnails that could not be made, with the reason (shown as placeholders).
    pub failed: HashMap<i64, String>,
    frame: u64,
}

impl TextureCache {
    pub fn next_frame(&mut self) {
        self.frame += 1;
    }
    pub fn get(&mut self, id: i64) -> Option<egui::TextureId> {
        let f = self.frame;
        self.map.get_mut(&id).map(|(t, used)| {
            *used = f;
            t.id()
        })
    }
    /// Texture of `id` and its size, when loaded.
    pub fn get_sized(&mut self, id: i64) -> Option<(egui::TextureId, egui::Vec2)> {
        let f = self.frame;
        self.map.get_mut(&id).map(|(t, used)| {
            *used = f;
            (t.id(), t.size_vec2())
        })
    }
    pub fn contains(&self, id: i64) -> bool {
        self.map.contains_key(&id) || self.failed.contains_key(&id)
    }
    pub fn insert(&mut self, ctx: &egui::Context, id: i64, img: egui::ColorImage) {
        let t = ctx.load_texture(format!("thumb-{id}"), img, egui::TextureOptions::LINEAR);
        self.map.insert(id, (t, self.frame));
    }
    /// Drops the least recently used textures until at most `budget` remain.
    pub fn evict(&mut self, budget: usize) {
        if self.map.len() <= budget {
            return;
        }
        let mut by_age: Vec<(u64, i64)> = self.map.iter().map(|(id, (_, f))| (*f, *id)).collect();
        by_age.sort_unstable();
        for (_, id) in by_age.into_iter().take(self.map.len() - budget) {
            self.map.remove(&id);
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn clear(&mut self) {
        self.map.clear();
        self.failed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_are_cached_by_hash_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big.png");
        image::RgbaImage::from_fn(640, 320, |x, y| image::Rgba([x as u8, y as u8, 7, 255]))
            .save(&src)
            .unwrap();
        let cache = dir.path().join("thumbs");
        let req = ThumbReq {
            id: 1,
            path: src.clone(),
            hash: Some("abc".into()),
        };
        let img = make_thumb(&cache, &req, true).unwrap().unwrap();
        assert_eq!(img.size, [256, 128]);
        assert!(cache_file(&cache, "abc").exists());
        // The cache is used: removing the original no longer matters.
        std::fs::remove_file(&src).unwrap();
        let again = make_thumb(&cache, &req, true).unwrap().unwrap();
        assert_eq!(again.size, [256, 128]);
        // An unreadable source without a cache entry is a clear error.
        let missing = ThumbReq {
            id: 2,
            path: src,
            hash: Some("def".into()),
        };
        assert!(
            make_thumb(&cache, &missing, true)
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn corrupt_source_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("bad.png");
        std::fs::write(&src, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
        let req = ThumbReq {
            id: 1,
            path: src,
            hash: Some("bad".into()),
        };
        assert!(make_thumb(dir.path(), &req, true).is_err());
    }
}
