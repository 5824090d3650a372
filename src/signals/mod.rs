//! The signal registry: every per-image number Assay knows, with its label, unit, direction,
//! range, group and producer version. Tables, sorting, filtering, policies and exports read
//! signals through [`registry`] and never hard-code keys.
//!
//! Producers: [`classical`] (pure Rust, f64; the CPU path), [`tensor`] (the same signals as burn
//! tensor ops, batched, for wgpu and the `flex` CPU backend), [`phash`] (ImageHash-exact
//! perceptual hashes), [`dedup`] (near-duplicate groups), [`filters`] (hard filters),
//! [`faces`] (MTCNN face signals) and [`hands`] (MediaPipe hand signals).
//!
//! # Signals
//!
//! | key | definition (peer) |
//! |---|---|
//! | `blur_laplacian_var` | variance (ddof 0) of the 3×3 Laplacian of BT.601 grey, BORDER_REFLECT_101 (OpenCV `Laplacian(gray, CV_64F)`) |
//! | `tenengrad` | mean of Gx²+Gy², 3×3 Sobel (OpenCV `Sobel`, ksize 3) |
//! | `clip_shadows` / `clip_highlights` | fraction of grey ≤ 5 / ≥ 250 |
//! | `luminance_mean`, `contrast_rms` | mean grey; population std of grey/255 |
//! | `colorfulness` | Hasler–Süsstrunk M |
//! | `noise_sigma` | Immerkær σ over the valid interior |
//! | `blockiness` | mean \|Δ\| across 8-px boundaries / mean \|Δ\| elsewhere (null for constant images) |
//! | `blank` | grey std < 2, or > 98 % within ±2 of the median, or fully transparent alpha |
//! | `size_ok`, `aspect_ok` | hard filters: shorter side ≥ `--min-side` (256), long/short ≤ `--max-aspect` (3) |
//! | `ahash`, `dhash`, `phash` | ImageHash 4.3.2, bit-exact (PIL `convert("L")` and Lanczos resampling reimplemented) |
//! | `dup_group` | single-linkage groups of pHash distance ≤ `--dup-threshold` (5); the group's lowest image id, 0 = no near duplicate; blank images get no value |
//! | `aesthetic` | LAION aesthetic head (v1 linear or v2 MLP, found on disk) on the L2-normalised CLIP image embedding of its own CLIP (ViT-L/14 or ViT-B/32); producer `aesthetic@1:<head>+clip:<model key>`; computed by `assay scan` (when weights are found) and `assay embed` |
//! | `clip_score` | `100·max(cos, 0)` between the image embedding and the cleaned positive prompt's text embedding (torchmetrics per pair); producer `clip_score@1:<model key>`; `clip_prompt_truncated` = 1 when the prompt exceeded 77 tokens |
//! | `hps` | HPSv2(.1) human-preference score (checkpoint found on disk, `models::clip::judge`): cosine of the L2-normalised image and cleaned-prompt embeddings of HPS's fine-tuned open_clip ViT-H-14, image padded to a square after resizing its longest side (HPS's `resize_longest_max`) — HPS's `diag(logits)` without logit scale, ≈ 0.2–0.35; producer `hps@1:<model key>`; no value without a prompt |
//! | `pickscore` | PickScore v1: `exp(logit_scale) · cos` of the Hugging Face `CLIPModel`'s image (`CLIPProcessor` crop) and prompt embeddings, ≈ 18–23; producer `pickscore@1:<model key>` |
//! | `hps_rank`, `pickscore_rank` | rank within the prompt group (the stored positive prompt, as policies' `scope = "prompt"` and best-of-N), 1 = best, ties share the best rank; same producer as the score. Scores of these judges are comparable within a prompt, not across prompts |
//! | `face_count`, `face_conf_min`, `face_area_max` | MTCNN faces (`models::mtcnn`); weakest O-Net probability (null without faces); largest box area / image area |
//! | `face_defect` | worst face's `1 − exp(−Σ hinge penalties)`: landmark geometry (eye distance / box width, eye-line tilt, eyes–mouth distance, mouth vs eye line, mouth width, nose between eyes and mouth, symmetry, landmarks outside the box) and the eye-region similarity (NCC of the two eye patches, one mirrored; eyes ≥ 16 px apart); null without faces. Separates the fixture portraits from the same portraits with a warped eye region at AUC 0.91 (integration test) |
//! | `face_boxes` | JSON (kind `json`, not a default table column): every face's box, confidence, landmarks and defect, for the GUI overlay |
//! | `hand_count` | hands with presence ≥ 0.5 (MediaPipe palm detection + hand landmarks, `models::hands`, on the working copy) |
//! | `hand_defect` | worst hand's `1 − exp(−Σ hinge penalties)` over its 3-D landmarks: bone-length ratios, fingers bent backwards or over-folded, sideways bending, fused fingers, knuckle spacing (rule in `signals/hands.rs`); null without hands. Separates MediaPipe's real-hand skeletons from the same skeletons warped (finger bent back, bone stretched, finger swung/bent sideways, finger laid onto its neighbour) at AUC 0.996 (`signals::hands` test) |
//!
//! Grey is OpenCV's exact integer BT.601 (`(9798R+19235G+3735B+16384)>>15`); hashes use PIL's
//! `convert("L")` as ImageHash does. Images narrower or shorter than 3 px get no blur, Tenengrad,
//! noise or blockiness value (null). Every value is computed on the full-resolution image;
//! resolution-normalised variants would get their own keys.
//!
//! Two implementations compute the classical signals:
//! - `classical.rs`: plain Rust, f64, one pass per kernel; checked against reference vectors from
//!   `scripts/gen_signal_refs.py` (OpenCV, scikit-image, ImageHash) to 1e-9 relative.
//! - `tensor.rs`: the same definitions as burn tensor ops (conv2d with reflect padding, reductions,
//!   sort for the median), batched over same-size images; f32 on the device, so values agree with
//!   the f64 path to ~1e-4 (tests allow 1e-3), checked on `flex` and on wgpu (lavapipe in CI).
//!   Every reduction in the tensor path runs one axis at a time (`sum_dim(3).sum_dim(2)…`): a
//!   single reduction over a flattened H·W axis of an [N, H·W] tensor gave wrong sums for every row
//!   after the first on burn-wgpu 0.22.1 (lavapipe, Vulkan and GL) once rows exceed ~10⁵ elements;
//!   the parity tests batch several same-size images to catch such bugs. The scanner uses the plain
//!   path on the CPU (`--backend cpu`, and `auto` without a hardware GPU) because it is faster
//!   there (see `assay bench signals`), and the tensor path on a hardware GPU (`auto`/`wgpu`) or
//!   with `--backend flex`. Hashes always run on the CPU (9×8 and 32×32 images).
//!
//! Imported signals ([`imported`], `assay signals import`): scores from judges that run elsewhere
//! (VQAScore, HPSv3, Q-Align, an in-house model), read from CSV / JSON lines ([`score_file`]),
//! join the registry as [`Group::Imported`] number signals with the direction given on import;
//! their values carry the producer `ext:<producer>@<version>` and their provenance (judge,
//! version, file hash, time, counts) lives in the catalogue (`store::schema`, migration 9).
//! Opening a catalogue registers its imported definitions, so [`registry`] and [`get`] — which
//! every table, filter, policy, Pareto view, learned-scorer feature list and export reads —
//! return them after the built-in ones; [`builtin`] is the built-in list alone. A built-in key
//! cannot be imported.
//!
//! The registry (`signals::registry()`) records key, label, unit, direction, range, group, kind
//! (number / flag / hash / json) and producer version; `SIGNAL_SET_VERSION` forces recomputation of
//! unchanged files when the set changes. It is 4 since the hand signals (3: fast-mode faces, 2:
//! full-resolution faces); a scan with `--no-faces` / `--no-hands` stores the version of what
//! it computed (5 / 3, both off: 1), which a later scan asking for more recomputes, while files
//! stored with more stay current ([`signals_current`]).

pub mod classical;
pub mod dedup;
pub mod faces;
pub mod filters;
pub mod hands;
pub mod imported;
pub mod phash;
pub mod score_file;
pub mod tensor;

use serde::Serialize;

/// Whether larger values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Neither: mid-range values are best, or the signal is descriptive.
    Neutral,
}

/// What a signal is for; policies treat groups differently (hard filters must pass, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    HardFilter,
    Defect,
    Aesthetic,
    Alignment,
    Learned,
    /// Identity signals (hashes, duplicate groups): not a quality.
    Identity,
    /// Scores imported from an outside judge (`assay signals import`, [`imported`]).
    Imported,
}

/// How the value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Number,
    /// 0 or 1.
    Flag,
    /// Hex text (perceptual hashes).
    Hash,
    /// Structured per-image data as JSON text (face boxes for overlays); not a default column.
    Json,
}

/// One registered signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SignalDef {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub direction: Direction,
    /// Natural range, when bounded.
    pub range: (Option<f64>, Option<f64>),
    pub group: Group,
    pub kind: Kind,
    /// Producer key and version, stored with every value.
    pub producer: &'static str,
    pub description: &'static str,
}

/// Producer of the classical no-reference signals. Bump when a definition changes: values
/// stored under an older producer are recomputed on the next scan.
pub const CLASSICAL: &str = "classical@1";
/// Producer of the ImageHash-compatible perceptual hashes.
pub const HASHES: &str = "imagehash@1";
/// Producer of hard filters (thresholds are recorded in the producer string when stored).
pub const FILTERS: &str = "filters@1";
/// Producer of near-duplicate groups.
pub const DEDUP: &str = "dedup@1";
/// Producer of CLIP prompt alignment; stored as `clip_score@1:<CLIP model key>`.
pub const CLIP_SCORE: &str = "clip_score@1";
/// Producer of LAION aesthetic scores; stored as `aesthetic@1:<head key>+clip:<CLIP model key>`.
pub const AESTHETIC: &str = "aesthetic@1";
/// Producer of learned scores; stored values carry the scorer version (`preference@<version>`).
pub const PREFERENCE: &str = "preference";
/// Producer of HPSv2 scores and ranks; stored as `hps@1:<model key>`.
pub const HPS: &str = "hps@1";
/// Producer of PickScore scores and ranks; stored as `pickscore@1:<model key>`.
pub const PICKSCORE: &str = "pickscore@1";

/// The producer (name and version) of a CLIP-based judge's signals.
pub fn judge_producer(kind: crate::models::clip::judge::JudgeKind) -> &'static str {
    use crate::models::clip::judge::JudgeKind;
    match kind {
        JudgeKind::Hps => HPS,
        JudgeKind::PickScore => PICKSCORE,
    }
}

/// Version of the whole per-image signal set the scanner computes. An image whose stored
/// `signals_version` differs is recomputed even when its file is unchanged.
/// 4 = classical signals + hashes + fast-mode face signals + hand signals
/// (`mediapipe-hands@1`, on the same working copy); 3 = the same without hands (`mtcnn@2`, what
/// a scan with `--no-hands` stores); 2 = faces detected at full resolution (`mtcnn@1`, before
/// the fast mode); 1 = without face signals (`--no-faces --no-hands`); 5 = hands without faces
/// (`--no-faces`). See [`signals_current`].
pub const SIGNAL_SET_VERSION: i64 = 4;
/// The signal set without the face and hand signals.
pub const SIGNAL_SET_VERSION_NO_FACES: i64 = 1;
/// Faces without hands (version 3, before the hand signals).
pub const SIGNAL_SET_VERSION_NO_HANDS: i64 = 3;
/// Hands without faces.
pub const SIGNAL_SET_VERSION_HANDS_ONLY: i64 = 5;

/// The `signals_version` a scan stores.
pub fn signal_set_version(faces: bool, hands: bool) -> i64 {
    match (faces, hands) {
        (true, true) => SIGNAL_SET_VERSION,
        (true, false) => SIGNAL_SET_VERSION_NO_HANDS,
        (false, true) => SIGNAL_SET_VERSION_HANDS_ONLY,
        (false, false) => SIGNAL_SET_VERSION_NO_FACES,
    }
}

/// Whether an unchanged file's stored signals are current for a scan with or without faces and
/// hands: every version carries the classical signals; a scan with faces needs fast-mode faces
/// (3 or 4; version 2's full-resolution faces are recomputed), one with hands needs hands (4
/// or 5). A file scanned with more than the scan asks for stays current.
pub fn signals_current(stored: Option<i64>, faces: bool, hands: bool) -> bool {
    let Some(v) = stored.filter(|v| (1..=5).contains(v)) else {
        return false;
    };
    (!faces || v == 3 || v == 4) && (!hands || v == 4 || v == 5)
}

#[allow(clippy::too_many_arguments)] // one positional row per signal in the table below
const fn def(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    direction: Direction,
    range: (Option<f64>, Option<f64>),
    group: Group,
    kind: Kind,
    producer: &'static str,
    description: &'static str,
) -> SignalDef {
    SignalDef {
        key,
        label,
        unit,
        direction,
        range,
        group,
        kind,
        producer,
        description,
    }
}

const REGISTRY: &[SignalDef] = &[
    def(
        "blur_laplacian_var",
        "Sharpness (Laplacian variance)",
        "grey levels²",
        Direction::HigherIsBetter,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Variance of the 3×3 Laplacian of BT.601 grey (OpenCV Laplacian, CV_64F, BORDER_REFLECT_101), full resolution. Blurred images score low (< 20); depends on resolution.",
    ),
    def(
        "tenengrad",
        "Sharpness (Tenengrad)",
        "grey levels²",
        Direction::HigherIsBetter,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Mean of Gx² + Gy² with 3×3 Sobel kernels (OpenCV Sobel ksize=3), full resolution.",
    ),
    def(
        "clip_shadows",
        "Clipped shadows",
        "fraction",
        Direction::LowerIsBetter,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Fraction of grey pixels ≤ 5.",
    ),
    def(
        "clip_highlights",
        "Clipped highlights",
        "fraction",
        Direction::LowerIsBetter,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Fraction of grey pixels ≥ 250.",
    ),
    def(
        "luminance_mean",
        "Mean luminance",
        "grey level",
        Direction::Neutral,
        (Some(0.0), Some(255.0)),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Mean BT.601 grey level (0–255).",
    ),
    def(
        "contrast_rms",
        "RMS contrast",
        "fraction",
        Direction::HigherIsBetter,
        (Some(0.0), Some(0.5)),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Population standard deviation of grey/255 (Peli 1990).",
    ),
    def(
        "colorfulness",
        "Colourfulness",
        "M",
        Direction::Neutral,
        (Some(0.0), None),
        Group::Aesthetic,
        Kind::Number,
        CLASSICAL,
        "Hasler–Süsstrunk M: < 15 nearly grey, > 80 very colourful.",
    ),
    def(
        "noise_sigma",
        "Noise σ (Immerkær)",
        "grey levels",
        Direction::LowerIsBetter,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Immerkær (1996) fast noise estimate over the valid interior; edges inflate it, use it as a relative signal.",
    ),
    def(
        "blockiness",
        "JPEG blockiness",
        "ratio",
        Direction::LowerIsBetter,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        CLASSICAL,
        "Mean |Δ| across 8-px grid boundaries / mean |Δ| elsewhere: ≈1.0 natural, 1.7–2.1 for q≈20 JPEG. Null for constant images.",
    ),
    def(
        "blank",
        "Blank / near-constant",
        "flag",
        Direction::LowerIsBetter,
        (Some(0.0), Some(1.0)),
        Group::HardFilter,
        Kind::Flag,
        CLASSICAL,
        "1 when grey std < 2, > 98 % of pixels lie within ±2 of the median, or the alpha channel is fully transparent.",
    ),
    def(
        "size_ok",
        "Minimum size",
        "flag",
        Direction::HigherIsBetter,
        (Some(0.0), Some(1.0)),
        Group::HardFilter,
        Kind::Flag,
        FILTERS,
        "1 when the shorter side is at least the configured minimum (default 256 px).",
    ),
    def(
        "aspect_ok",
        "Aspect ratio",
        "flag",
        Direction::HigherIsBetter,
        (Some(0.0), Some(1.0)),
        Group::HardFilter,
        Kind::Flag,
        FILTERS,
        "1 when long side / short side is at most the configured maximum (default 3.0).",
    ),
    def(
        "ahash",
        "Average hash",
        "hex",
        Direction::Neutral,
        (None, None),
        Group::Identity,
        Kind::Hash,
        HASHES,
        "ImageHash average_hash (8×8, 64 bits).",
    ),
    def(
        "dhash",
        "Difference hash",
        "hex",
        Direction::Neutral,
        (None, None),
        Group::Identity,
        Kind::Hash,
        HASHES,
        "ImageHash dhash (9×8, 64 bits).",
    ),
    def(
        "phash",
        "Perceptual hash",
        "hex",
        Direction::Neutral,
        (None, None),
        Group::Identity,
        Kind::Hash,
        HASHES,
        "ImageHash phash (32×32 DCT, top-left 8×8, 64 bits).",
    ),
    def(
        "dup_group",
        "Near-duplicate group",
        "id",
        Direction::Neutral,
        (Some(0.0), None),
        Group::Identity,
        Kind::Number,
        DEDUP,
        "Images whose pHash differ by ≤ the threshold (default 5 bits) share a group, named by its lowest image id; 0 = no near duplicate. Blank images are excluded.",
    ),
    def(
        "face_count",
        "Faces",
        "count",
        Direction::Neutral,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        faces::FACES,
        "Faces found by MTCNN (mtcnn 1.0.0 weights and cascade; minimum face 20 px, thresholds 0.6/0.7/0.8).",
    ),
    def(
        "face_conf_min",
        "Weakest face confidence",
        "probability",
        Direction::HigherIsBetter,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        faces::FACES,
        "Lowest O-Net face probability among the detected faces (> 0.8 by construction); null without faces.",
    ),
    def(
        "face_area_max",
        "Largest face share",
        "fraction",
        Direction::Neutral,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        faces::FACES,
        "Area of the largest face box / image area; 0 without faces.",
    ),
    def(
        "face_defect",
        "Face geometry defect",
        "score",
        Direction::LowerIsBetter,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        faces::FACES,
        "Worst face's landmark implausibility, 1 − exp(−Σ hinge penalties) over eye distance / box width, eye-line tilt, eyes–mouth distance, mouth–eye-line angle, mouth width, nose position, symmetry (see signals/faces.rs); 0 = plausible. Null without faces.",
    ),
    def(
        "face_boxes",
        "Face boxes and landmarks",
        "json",
        Direction::Neutral,
        (None, None),
        Group::Identity,
        Kind::Json,
        faces::FACES,
        "JSON {landmarks: [names], faces: [{box_xywh, confidence, landmarks, defect}]} for overlays; not a quality.",
    ),
    def(
        "aesthetic",
        "Aesthetic (LAION)",
        "score 1–10",
        Direction::HigherIsBetter,
        (None, None),
        Group::Aesthetic,
        Kind::Number,
        AESTHETIC,
        "LAION aesthetic predictor (v1 linear or improved v2 MLP head, found on disk) on the L2-normalised CLIP image embedding of the model it was trained on (ViT-L/14 or ViT-B/32, OpenAI weights). Unclipped regression of mean ratings on a 1–10 scale; the stored producer names the head and the CLIP model.",
    ),
    def(
        "clip_score",
        "Prompt alignment (CLIP score)",
        "100·cos",
        Direction::HigherIsBetter,
        (Some(0.0), Some(100.0)),
        Group::Alignment,
        Kind::Number,
        CLIP_SCORE,
        "100 · max(cos, 0) between the CLIP image embedding and the embedding of the positive prompt (weighting and extra-network syntax removed, OpenAI truncation to 77 tokens); torchmetrics' per-pair convention. No value without a prompt. The stored producer names the CLIP model.",
    ),
    def(
        "clip_prompt_truncated",
        "Prompt truncated for CLIP",
        "flag",
        Direction::Neutral,
        (Some(0.0), Some(1.0)),
        Group::Alignment,
        Kind::Flag,
        CLIP_SCORE,
        "1 when the cleaned prompt exceeded CLIP's 77 tokens and was cut (the end token kept), so clip_score saw only its beginning.",
    ),
    def(
        "learned_preference",
        "Learned preference",
        "score",
        Direction::HigherIsBetter,
        (None, None),
        Group::Learned,
        Kind::Number,
        PREFERENCE,
        "Score of the active preference scorer (`assay train`), trained on this collection's pairwise, best-of-N and Likert labels; the producer names the scorer version. Differences matter, not the scale: σ(a − b) estimates P(a preferred to b).",
    ),
    def(
        "hps",
        "Human preference (HPSv2)",
        "cos",
        Direction::HigherIsBetter,
        (Some(-1.0), Some(1.0)),
        Group::Aesthetic,
        Kind::Number,
        HPS,
        "HPSv2/HPSv2.1 (checkpoint found on disk): cosine between the image and prompt embeddings of HPS's fine-tuned ViT-H-14, HPS's own preprocessing (longest side to 224, zero padding). Typically 0.2–0.35; comparable within a prompt (see hps_rank), not across prompts. No value without a prompt; the stored producer names the checkpoint.",
    ),
    def(
        "hps_rank",
        "HPSv2 rank in prompt group",
        "rank",
        Direction::LowerIsBetter,
        (Some(1.0), None),
        Group::Aesthetic,
        Kind::Number,
        HPS,
        "Rank of hps among the images with the same positive prompt (the prompt group of policies and best-of-N): 1 = best, ties share the best rank.",
    ),
    def(
        "pickscore",
        "Human preference (PickScore)",
        "logit",
        Direction::HigherIsBetter,
        (None, None),
        Group::Aesthetic,
        Kind::Number,
        PICKSCORE,
        "PickScore v1 (checkpoint found on disk): exp(logit_scale) · cosine between the image and prompt embeddings of its fine-tuned ViT-H-14 (CLIPProcessor preprocessing). Typically 18–23; comparable within a prompt (see pickscore_rank), softmax over a prompt's images gives preference probabilities. No value without a prompt; the stored producer names the checkpoint.",
    ),
    def(
        "pickscore_rank",
        "PickScore rank in prompt group",
        "rank",
        Direction::LowerIsBetter,
        (Some(1.0), None),
        Group::Aesthetic,
        Kind::Number,
        PICKSCORE,
        "Rank of pickscore among the images with the same positive prompt (the prompt group of policies and best-of-N): 1 = best, ties share the best rank.",
    ),
    def(
        "hand_count",
        "Hands",
        "count",
        Direction::Neutral,
        (Some(0.0), None),
        Group::Defect,
        Kind::Number,
        hands::HANDS,
        "Hands found by MediaPipe's palm detector + hand landmark model (palm_detection_full, hand_landmark_full, mediapipe 0.10.14) with hand presence ≥ 0.5, on the scan's working copy.",
    ),
    def(
        "hand_defect",
        "Hand anatomy defect",
        "score",
        Direction::LowerIsBetter,
        (Some(0.0), Some(1.0)),
        Group::Defect,
        Kind::Number,
        hands::HANDS,
        "Worst hand's landmark implausibility, 1 − exp(−Σ hinge penalties) over bone-length ratios, finger flexion (bent backwards / over-folded), sideways bending, fused fingers and knuckle spacing of the model's 3-D landmarks (see signals/hands.rs); 0 = plausible. Null without hands.",
    ),
];

/// Every registered signal, in display order: the built-in ones, then the signals imported into
/// a catalogue this process has opened ([`imported`]).
pub fn registry() -> &'static [SignalDef] {
    imported::current().unwrap_or(REGISTRY)
}

/// The built-in signals only (their positions are the interned ids of `store::SignalKey`).
pub fn builtin() -> &'static [SignalDef] {
    REGISTRY
}

/// Whether `key` names a built-in signal (an import may not take it).
pub fn is_builtin(key: &str) -> bool {
    REGISTRY.iter().any(|d| d.key == key)
}

/// The numeric classical signals, in registry order: the fallback feature vector of batch
/// comparisons when no embeddings exist.
pub fn classical_feature_keys() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|d| d.producer == CLASSICAL && d.kind == Kind::Number)
        .map(|d| d.key)
        .collect()
}

/// Looks up a signal definition by key (built-in or imported).
pub fn get(key: &str) -> Option<&'static SignalDef> {
    registry().iter().find(|d| d.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_face_signals_are_recomputed_by_scans_with_faces() {
        // Scans without hands (`--no-hands`): the rules before the hand signals.
        assert!(signals_current(Some(SIGNAL_SET_VERSION), true, false));
        assert!(signals_current(Some(SIGNAL_SET_VERSION), false, false));
        assert!(signals_current(Some(3), true, false));
        assert!(signals_current(Some(3), false, false));
        // Version 2: faces detected at full resolution, before the fast mode.
        assert!(!signals_current(Some(2), true, false));
        assert!(signals_current(Some(2), false, false));
        assert!(!signals_current(
            Some(SIGNAL_SET_VERSION_NO_FACES),
            true,
            false
        ));
        assert!(signals_current(
            Some(SIGNAL_SET_VERSION_NO_FACES),
            false,
            false
        ));
        assert!(!signals_current(None, false, false));
        assert_eq!(signal_set_version(true, false), 3);
        assert_eq!(signal_set_version(false, false), 1);
    }

    #[test]
    fn catalogues_without_hand_signals_are_recomputed_by_scans_with_hands() {
        assert_eq!(signal_set_version(true, true), 4);
        assert_eq!(signal_set_version(false, true), 5);
        assert!(signals_current(Some(4), true, true));
        assert!(signals_current(Some(4), false, true));
        assert!(signals_current(Some(5), false, true));
        assert!(!signals_current(Some(5), true, true));
        assert!(!signals_current(Some(5), true, false));
        assert!(signals_current(Some(5), false, false));
        for old in [1, 2, 3] {
            assert!(!signals_current(Some(old), true, true), "{old}");
            assert!(!signals_current(Some(old), false, true), "{old}");
        }
        assert!(!signals_current(Some(6), false, false));
    }

    #[test]
    fn classical_features_are_the_nine_numeric_classical_signals() {
        assert_eq!(
            classical_feature_keys(),
            vec![
                "blur_laplacian_var",
                "tenengrad",
                "clip_shadows",
                "clip_highlights",
                "luminance_mean",
                "contrast_rms",
                "colorfulness",
                "noise_sigma",
                "blockiness",
            ]
        );
    }

    #[test]
    fn keys_are_unique_and_stable() {
        let mut keys: Vec<_> = registry().iter().map(|d| d.key).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate signal keys");
        for k in [
            "blur_laplacian_var",
            "tenengrad",
            "clip_shadows",
            "clip_highlights",
            "luminance_mean",
            "contrast_rms",
            "colorfulness",
            "noise_sigma",
            "blockiness",
            "blank",
            "ahash",
            "dhash",
            "phash",
            "dup_group",
            "face_count",
            "face_conf_min",
            "face_area_max",
            "face_defect",
            "face_boxes",
            "hand_count",
            "hand_defect",
        ] {
            assert!(get(k).is_some(), "missing {k}");
        }
    }
}
