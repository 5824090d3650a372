//! The parts of a [`Collection`](super::Collection), one job each: the rows and the database
//! worker's bookkeeping (`catalogue.rs`), the computed view
//! (`view.rs`), what the user does with it (`grid.rs`: selection, history, zoom, compare,
//! scroll), what was loaded on demand and is kept for the next frames (`caches.rs`) and the
//! scan and export jobs (`jobs.rs`).

mod caches;
mod catalogue;
mod grid;
mod jobs;
mod view;

pub use caches::Caches;
pub use catalogue::Catalogue;
pub use grid::Grid;
pub use jobs::Jobs;
pub use view::ViewState;
