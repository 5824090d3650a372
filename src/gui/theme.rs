//! The workbench's named colours: decision statuses, warnings, plots and the painted image
//! backgrounds and captions. Views use these names, never colour literals; colours that
//! follow egui's light / dark visuals (`error_fg_color`, `warn_fg_color`) stay with the visuals,
//! and colour ramps computed from a value stay where they are computed.

use eframe::egui::Color32;

// Decision statuses (badges, filter bar, policy bands and plots).

/// An accepted image (also the policy's accept threshold).
pub const ACCEPTED: Color32 = Color32::from_rgb(70, 170, 90);
/// A rejected image (also the policy's reject threshold).
pub const REJECTED: Color32 = Color32::from_rgb(200, 70, 60);
/// An image in the review band.
pub const REVIEW: Color32 = Color32::from_rgb(220, 170, 40);
/// An image without a decision.
pub const UNFLAGGED: Color32 = Color32::from_gray(110);
/// The active scorer version.
pub const ACTIVE: Color32 = ACCEPTED;

// Text that warns.

/// A warning that is not an error (scan cancelled, CLIP stopped, metadata warnings).
pub const WARNING: Color32 = Color32::YELLOW;
/// Raters or data left out of the statistics (below the attention threshold).
pub const LEFT_OUT: Color32 = Color32::from_rgb(220, 170, 40);
/// An unreadable file or a failed decode (the placeholder's mark).
pub const UNREADABLE: Color32 = Color32::from_rgb(220, 120, 60);

// Plots.

/// The main series of a plot, and the part of a histogram inside the filter's range.
pub const ACCENT: Color32 = Color32::from_rgb(90, 150, 230);
/// A histogram's bins outside the filter's range.
pub const OUT_OF_RANGE: Color32 = Color32::from_gray(70);
/// A histogram's background.
pub const HISTOGRAM_BG: Color32 = Color32::from_gray(28);
/// The filter's range marks on a histogram.
pub const RANGE_MARK: Color32 = Color32::YELLOW;
/// The Pareto front (line, markers, legend).
pub const PARETO_FRONT: Color32 = Color32::from_rgb(255, 200, 60);
/// The box being dragged to select points.
pub const BRUSH: Color32 = Color32::from_rgba_unmultiplied_const(120, 160, 255, 40);
/// The parallel-coordinates background.
pub const PARALLEL_BG: Color32 = Color32::from_gray(20);
/// The general (pre-trained) aesthetic head in the learning curve.
pub const GENERAL_HEAD: Color32 = Color32::from_rgb(150, 150, 150);
/// The head trained from scratch in the learning curve.
pub const SCRATCH_HEAD: Color32 = Color32::from_rgb(230, 160, 60);
/// The fine-tuned head in the learning curve.
pub const FINETUNED_HEAD: Color32 = ACCENT;
/// A Bradley–Terry interval bar and its axis line.
pub const INTERVAL: Color32 = Color32::from_rgb(90, 140, 220);
pub const INTERVAL_AXIS: Color32 = Color32::from_gray(60);
/// Batch monitor: a drifted batch (and its errors).
pub const DRIFT: Color32 = Color32::from_rgb(220, 80, 70);
/// Batch monitor: the baseline batch.
pub const BASELINE: Color32 = Color32::from_rgb(110, 160, 230);
/// Batch monitor: a batch without drift.
pub const NO_DRIFT: Color32 = Color32::from_rgb(120, 190, 120);

// Painted images: backgrounds and captions.

/// Behind a zoomed image (detail, compare, labeling).
pub const IMAGE_BG: Color32 = Color32::from_gray(18);
/// A thumbnail not loaded yet.
pub const THUMB_BG: Color32 = Color32::from_gray(30);
/// A placeholder's background (unreadable file, failed thumbnail).
pub const PLACEHOLDER_BG: Color32 = Color32::from_gray(35);
/// A placeholder's reason text.
pub const PLACEHOLDER_TEXT: Color32 = Color32::from_gray(170);
/// A note drawn on an image ("loading full resolution…", "shown downscaled").
pub const IMAGE_NOTE: Color32 = Color32::from_gray(200);
/// The zoom level drawn on an image.
pub const ZOOM_LABEL: Color32 = Color32::from_gray(220);
/// A labeling trial's tag on an image.
pub const TRIAL_TAG: Color32 = Color32::from_gray(230);
/// The rating stars on a thumbnail.
pub const STARS: Color32 = Color32::from_rgb(250, 210, 80);
/// The near-duplicate group badge on a thumbnail.
pub const DUP_BADGE: Color32 = Color32::from_rgba_unmultiplied_const(60, 90, 200, 200);
