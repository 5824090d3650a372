//! CLIP-based judges in the pipeline: HPSv2(.1) → `hps`, PickScore → `pickscore`, and each
//! one's rank within the prompt group (`hps_rank`, `pickscore_rank`). A judge is a CLIP model
//! with its own preprocessing and score formula (`models::clip::judge`); this module runs any
//! judge the same way, through the CLIP pass's batch decoding (`clip::decode_batch`)
//! and the lazily loaded model ([`LoadedClip`]).
//!
//! - Setup (`load`): the judges among the discovered models (`models::clip::discover`: names
//!   with `HPS_v2`/`hpsv2` or `PickScore`, also in the Hugging Face cache), the first of each
//!   kind, restricted to `ClipOptions::judges` (`assay scan --no-hps`, `--no-pickscore`;
//!   `--no-clip` turns them off with the rest of the CLIP pass). None found: nothing runs and
//!   nothing is reported, so a scan without the checkpoints is the scan it was.
//! - Pass (`run`, after the CLIP pass): every readable, present image with a positive prompt
//!   whose stored value has another producer (or none) is decoded again, preprocessed the
//!   judge's way and embedded in batches; one text embedding per distinct cleaned prompt (the
//!   same cleaning and tokenizer as `clip_score`). Values are written per batch, producer
//!   `hps@1:<model key>` / `pickscore@1:<model key>`; a second scan computes nothing. No value
//!   without a prompt. Cancel is checked between batches; files that fail to decode are listed.
//! - Ranks: after the pass, over every current image with a value from this producer, grouped as
//!   policies' `scope = "prompt"` and best-of-N group (`selection::plan::scope_key`: the stored
//!   positive prompt), 1 = highest score, ties share the best rank (1, 1, 3). Only ranks that
//!   changed are written (same producer as the score).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::clip::{Batch, ClipJobError, ClipOptions, LoadedClip, decode_batch, number};
use super::{FileError, Progress};
use crate::catalog::decode::DecodeConfig;
use crate::models::clip::discover::{self, Found};
use crate::models::clip::judge::JudgeKind;
use crate::models::clip::prompt;
use crate::models::clip::tokenizer::Tokenizer;
use crate::selection::plan::scope_key;
use crate::selection::policy::Scope;
use crate::signals;
use crate::store::{ImageRow, SignalRow, Store};

/// A judge found on disk, its weights loaded on first use.
pub struct LoadedJudge {
    pub kind: JudgeKind,
    pub model: LoadedClip,
}

impl LoadedJudge {
    /// The producer stored with the judge's values: `hps@1:<model key>`.
    pub fn producer(&self) -> String {
        format!(
            "{}:{}",
            signals::judge_producer(self.kind),
            self.model.key()
        )
    }
}

/// The judges among the discovered models that `opts` allows (headers only; nothing found is
/// no error). Off with the CLIP pass (`opts.enabled`).
pub fn load(opts: &ClipOptions, device: &burn::tensor::Device) -> Vec<LoadedJudge> {
    if !opts.enabled || opts.judges.is_empty() {
        return Vec::new();
    }
    let found: Vec<(PathBuf, Found)> = discover::discover(opts.models.as_deref());
    discover::judges(&found)
        .into_iter()
        .filter(|(k, _)| opts.judges.contains(k))
        .map(|(kind, model)| LoadedJudge {
            kind,
            model: LoadedClip::lazy(model, device),
        })
        .collect()
}

/// What one judge's pass did.
#[derive(Debug, Clone, Serialize)]
pub struct JudgeSummary {
    /// The signal (`hps`, `pickscore`).
    pub signal: &'static str,
    /// The model's key (in the producer) and display name.
    pub model: String,
    pub model_name: String,
    /// Readable, present images.
    pub images: usize,
    /// Scored in this pass.
    pub scored: usize,
    /// Images with a value from this model after the pass.
    pub with_value: usize,
    /// Images without a positive prompt (no value).
    pub no_prompt: usize,
    /// Images with a rank within their prompt group after the pass.
    pub ranked: usize,
    /// Images that could not be scored in this pass (decoding failed).
    pub failed: usize,
    pub cancelled: bool,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FileError>,
    /// The pass stopped with this error (what it finished is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JudgeSummary {
    /// A pass of `judge` that stopped before it counted anything.
    pub fn failed(judge: &LoadedJudge, error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::empty(judge)
        }
    }

    fn empty(judge: &LoadedJudge) -> Self {
        Self {
            signal: judge.kind.signal(),
            model: judge.model.key().to_string(),
            model_name: judge.model.model.files.name.clone(),
            images: 0,
            scored: 0,
            with_value: 0,
            no_prompt: 0,
            ranked: 0,
            failed: 0,
            cancelled: false,
            seconds: 0.0,
            failures: Vec::new(),
            error: None,
        }
    }
}

/// The images a judge still has to score, grouped by cleaned prompt.
struct Todo<'a> {
    /// Distinct cleaned prompts.
    prompts: Vec<String>,
    /// Image and its prompt's index.
    images: Vec<(&'a ImageRow, usize)>,
}

/// Scores every readable, present image with a prompt whose stored value has another producer,
/// then refreshes the ranks (see the module documentation). Progress phase: the signal's name.
pub fn run(
    store: &mut Store,
    root: &Path,
    judge: &LoadedJudge,
    batch: usize,
    decode_cfg: &DecodeConfig,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<JudgeSummary, ClipJobError> {
    let t0 = Instant::now();
    let kind = judge.kind;
    let producer = judge.producer();
    let rows: Vec<ImageRow> = store
        .image_rows(false)?
        .into_iter()
        .filter(|r| r.error.is_none() && !r.missing)
        .collect();
    let mut sum = JudgeSummary {
        images: rows.len(),
        ..JudgeSummary::empty(judge)
    };
    let stored = store.signal_producers(kind.signal())?;
    let todo = todo(&rows, &stored, &producer, &mut sum);
    progress.start_phase(kind.signal(), todo.images.len() as u64);
    if !todo.images.is_empty() {
        score(
            store, root, judge, &todo, batch, decode_cfg, progress, cancel, &mut sum,
        )?;
    }
    progress.set_phase(kind.rank_signal());
    sum.ranked = write_ranks(store, kind, &producer, &rows)?;
    sum.seconds = t0.elapsed().as_secs_f64();
    Ok(sum)
}

/// The images to score (a prompt, and no value from `producer`); counts the others in `sum`.
fn todo<'a>(
    rows: &'a [ImageRow],
    stored: &HashMap<i64, String>,
    producer: &str,
    sum: &mut JudgeSummary,
) -> Todo<'a> {
    let mut t = Todo {
        prompts: Vec::new(),
        images: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in rows {
        let cleaned = r
            .positive
            .as_deref()
            .map(prompt::clean_prompt)
            .unwrap_or_default();
        if cleaned.is_empty() {
            sum.no_prompt += 1;
        } else if stored.get(&r.id).map(String::as_str) == Some(producer) {
            sum.with_value += 1;
        } else {
            let n = t.prompts.len();
            let i = *index.entry(cleaned.clone()).or_insert_with(|| {
                t.prompts.push(cleaned);
                n
            });
            t.images.push((r, i));
        }
    }
    t
}

/// Embeds the prompts, then the images batch by batch, and writes each batch's scores.
#[allow(clippy::too_many_arguments)]
fn score(
    store: &mut Store,
    root: &Path,
    judge: &LoadedJudge,
    todo: &Todo<'_>,
    batch: usize,
    decode_cfg: &DecodeConfig,
    progress: &Progress,
    cancel: &AtomicBool,
    sum: &mut JudgeSummary,
) -> Result<(), ClipJobError> {
    let clip = judge.model.clip()?;
    let (kind, producer) = (judge.kind, judge.producer());
    let tok = Tokenizer::shared()?;
    let ctx = clip.model.text.context_length;
    let mut temb: Vec<Vec<f32>> = Vec::with_capacity(todo.prompts.len());
    for chunk in todo.prompts.chunks(64) {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|p| tok.tokenize(p, ctx).ids).collect();
        temb.extend(clip.embed_tokens(&ids)?);
    }
    let prompt_of: HashMap<i64, usize> = todo.images.iter().map(|(r, i)| (r.id, *i)).collect();
    let size = clip.image_size();
    let rows: Vec<&ImageRow> = todo.images.iter().map(|(r, _)| *r).collect();
    for chunk in rows.chunks(batch.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            sum.cancelled = true;
            break;
        }
        let Batch {
            pixels,
            ids,
            failures,
        } = decode_batch(chunk, root, decode_cfg, kind.preprocess(), size);
        let n_failed = failures.len();
        sum.failed += n_failed;
        sum.failures.extend(failures);
        let emb = if ids.is_empty() {
            Vec::new()
        } else {
            clip.embed_pixels(pixels, ids.len())?
        };
        let mut write: Vec<(i64, SignalRow)> = Vec::new();
        for (id, e) in ids.iter().zip(&emb) {
            let text = prompt_of.get(id).and_then(|&i| temb.get(i));
            if let Some(v) = text.and_then(|t| kind.formula().score(e, t, clip.logit_scale())) {
                write.push((*id, number(kind.signal(), v, &producer)));
            }
        }
        store.set_signals(&write)?;
        sum.scored += write.len();
        sum.with_value += write.len();
        progress.advance(chunk.len() as u64, n_failed as u64);
    }
    Ok(())
}

/// Writes the rank of every image with a value from `producer` within its prompt group where
/// it changed; returns the number of ranked images.
fn write_ranks(
    store: &mut Store,
    kind: JudgeKind,
    producer: &str,
    rows: &[ImageRow],
) -> Result<usize, ClipJobError> {
    let producers = store.signal_producers(kind.signal())?;
    let values: HashMap<i64, f64> = store
        .signal_numbers(kind.signal())?
        .into_iter()
        .filter(|(id, v)| v.is_finite() && producers.get(id).map(String::as_str) == Some(producer))
        .collect();
    let ranks = ranks_within_prompt(rows, &values);
    let old_values: HashMap<i64, f64> = store
        .signal_numbers(kind.rank_signal())?
        .into_iter()
        .collect();
    let old_producers = store.signal_producers(kind.rank_signal())?;
    let write: Vec<(i64, SignalRow)> = ranks
        .iter()
        .filter(|(id, rank)| {
            old_values.get(id) != Some(rank)
                || old_producers.get(id).map(String::as_str) != Some(producer)
        })
        .map(|(id, rank)| (*id, number(kind.rank_signal(), *rank, producer)))
        .collect();
    store.set_signals(&write)?;
    Ok(ranks.len())
}

/// 1-based rank (highest value first, ties share the best rank) of each image with a value,
/// within its prompt group (`selection::plan::scope_key` with `Scope::Prompt`).
pub fn ranks_within_prompt(rows: &[ImageRow], values: &HashMap<i64, f64>) -> Vec<(i64, f64)> {
    let mut groups: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for r in rows {
        if let Some(&v) = values.get(&r.id) {
            let key = scope_key(Scope::Prompt, &r.path, r.positive.as_deref());
            groups.entry(key).or_default().push((r.id, v));
        }
    }
    let mut out = Vec::new();
    for members in groups.values_mut() {
        members.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut rank = 1;
        for (i, &(id, v)) in members.iter().enumerate() {
            if i > 0 && v < members[i - 1].1 {
                rank = i + 1;
            }
            out.push((id, rank as f64));
        }
    }
    out.sort_by_key(|(id, _)| *id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_per_prompt_group_best_first_ties_shared() {
        let row = |id: i64, prompt: Option<&str>| ImageRow {
            id,
            path: format!("{id}.png"),
            positive: prompt.map(Into::into),
            ..ImageRow::default()
        };
        let rows = [
            row(1, Some("a cat")),
            row(2, Some("a cat")),
            row(3, Some("a cat")),
            row(4, Some("a cat")),
            row(5, Some("a dog")),
            row(6, Some("a cat")),
        ];
        // 6 has no value: not ranked and not counted.
        let values: HashMap<i64, f64> = [(1, 0.2), (2, 0.3), (3, 0.2), (4, 0.1), (5, -1.0)].into();
        assert_eq!(
            ranks_within_prompt(&rows, &values),
            [(1, 2.0), (2, 1.0), (3, 2.0), (4, 4.0), (5, 1.0)]
        );
    }
}
