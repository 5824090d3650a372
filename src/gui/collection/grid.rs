//! What the user does with the shown images: selection and cursor, undo history, the zoom
//! of detail and compare, the compared images, and the grid's scroll and layout.

use crate::gui::ZoomPan;
use crate::gui::model::{History, Selection};

/// The interaction state of a [`Collection`](crate::gui::Collection)'s grid, detail and
/// compare views.
#[derive(Default)]
pub struct Grid {
    /// Selected images and the cursor.
    pub sel: Selection,
    /// Undo / redo stacks of culling changes.
    pub history: History,
    /// Zoom and pan of the detail and compare views (shared by the compared images).
    pub zoom: ZoomPan,
    /// The images compared (2–4) and the focused one.
    pub compare_ids: Vec<i64>,
    pub compare_focus: usize,
    /// Grid scroll offset and viewport height of the last frame, and whether the next frame
    /// scrolls the cursor into view.
    pub(in crate::gui) scroll: (f32, f32),
    pub(in crate::gui) scroll_to_cursor: bool,
    /// Columns of the grid in the last frame (arrow up/down move by a row).
    pub(in crate::gui) cols: usize,
}

impl Grid {
    /// Nothing selected, one column.
    pub(in crate::gui) fn new() -> Self {
        Self {
            cols: 1,
            ..Self::default()
        }
    }
}
