//! Side and top panels, one file each: menu and toolbar (`top_bar`), filter bar (`filters`),
//! inspector (signals and metadata), status bar with job progress (`status_bar`), the welcome
//! screen, the shortcut overlay (`help`) and the export dialog.

mod export_dialog;
mod filters;
mod help;
mod inspector;
mod status_bar;
mod top_bar;
mod welcome;

pub use export_dialog::{ExportDialog, export_dialog};
pub use filters::filters_panel;
pub use help::help_overlay;
pub use inspector::inspector;
pub use status_bar::status_bar;
pub use top_bar::{TopBar, top_bar};
pub use welcome::welcome;

use crate::signals;

/// The name of a column (a signal's label, else the key with spaces).
fn column_label(col: &str) -> String {
    signals::get(col).map_or_else(|| col.replace('_', " "), |d| d.label.to_string())
}
