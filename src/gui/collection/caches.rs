//! What a collection loaded on demand and keeps for the next frames: thumbnails and their
//! textures, full-resolution images, filter-bar histograms and the inspected raw metadata.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use eframe::egui;

use crate::gui::RawMetadata;
use crate::gui::jobs::{FullLoader, Outbox};
use crate::gui::thumbs::{TextureCache, ThumbService};

/// A histogram of a column: its range and bin counts (`None`: no values).
pub(in crate::gui) type Histogram = Option<(f64, f64, Vec<u32>)>;

/// The on-demand caches of a [`Collection`](crate::gui::Collection).
pub struct Caches {
    /// Thumbnails: the worker pool that makes them and the (LRU) textures of the loaded ones.
    pub(in crate::gui) thumbs: ThumbService,
    pub textures: TextureCache,
    /// Whether the background pass generating every thumbnail to disk was started.
    pub(in crate::gui) pregenerated: bool,
    /// Full-resolution images: the decoder, the textures kept (and whether downscaled), why
    /// decodes failed, and the one being decoded.
    pub(in crate::gui) full: FullLoader,
    pub(in crate::gui) full_tex: HashMap<i64, (egui::TextureHandle, bool)>,
    pub(in crate::gui) full_failed: HashMap<i64, String>,
    pub(in crate::gui) full_requested: Option<i64>,
    /// Histograms of the filter bar by column (until the rows change), and those requested.
    pub(in crate::gui) hist_cache: HashMap<String, Histogram>,
    pub(in crate::gui) hist_requested: HashSet<String>,
    /// The raw metadata of the inspected image (id, pretty JSON, warnings), when loaded, and
    /// the id asked for.
    pub(in crate::gui) raw: Option<(i64, RawMetadata)>,
    pub(in crate::gui) raw_requested: Option<i64>,
}

impl Caches {
    /// Empty caches; starts the thumbnail pool (`workers` threads writing to `thumbs_dir`)
    /// and the full-image decoder.
    pub(in crate::gui) fn start(
        thumbs_dir: PathBuf,
        workers: usize,
        ctx: &egui::Context,
        out: &Outbox,
    ) -> Self {
        Self {
            thumbs: ThumbService::start(thumbs_dir, workers, ctx.clone()),
            textures: TextureCache::default(),
            pregenerated: false,
            full: FullLoader::start(out.clone()),
            full_tex: HashMap::new(),
            full_failed: HashMap::new(),
            full_requested: None,
            hist_cache: HashMap::new(),
            hist_requested: HashSet::new(),
            raw: None,
            raw_requested: None,
        }
    }

    /// Whether every thumbnail has been generated (the background pass has run and is done).
    pub fn thumbs_settled(&self) -> bool {
        self.pregenerated && self.thumbs.backlog() == 0 && !self.thumbs.busy()
    }

    /// Forgets the histograms (the rows changed).
    pub(in crate::gui) fn clear_histograms(&mut self) {
        self.hist_cache.clear();
        self.hist_requested.clear();
    }

    /// A full image decoded (kept as a texture, a few at a time: the compared ones and the
    /// cursor's survive) or why it failed.
    pub(in crate::gui) fn receive_full(
        &mut self,
        id: i64,
        r: Result<(egui::ColorImage, bool), String>,
        ctx: &egui::Context,
        compared: &[i64],
        cursor: Option<i64>,
    ) {
        if self.full_requested == Some(id) {
            self.full_requested = None;
        }
        match r {
            Ok((img, scaled)) => {
                // Keep a few full images (compare shows up to four).
                if self.full_tex.len() >= 6 {
                    self.full_tex
                        .retain(|k, _| compared.contains(k) || Some(*k) == cursor);
                }
                let t = ctx.load_texture(format!("full-{id}"), img, egui::TextureOptions::LINEAR);
                self.full_tex.insert(id, (t, scaled));
            }
            Err(e) => {
                self.full_failed.insert(id, e);
            }
        }
    }

    /// Whether the full-resolution texture of `id` is loaded.
    pub fn has_full(&self, id: i64) -> bool {
        self.full_tex.contains_key(&id)
    }

    /// Why the full image of `id` could not be decoded, if it could not.
    pub fn full_error(&self, id: i64) -> Option<&str> {
        self.full_failed.get(&id).map(String::as_str)
    }
}
