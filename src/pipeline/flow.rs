//! The ingest part of a scan as a pipeline of stages joined by bounded channels, so that the
//! cores (and a GPU) are busy at the same time:
//!
//! ```text
//!  decode workers ×jobs ──▶ faces ×k ──▶ CLIP ──▶ writer
//!  read, hash, decode,      MTCNN,       image     reorder, one transaction
//!  metadata, CPU signals,   hands        tower     per batch, progress
//!  working copies           (fast)       batches
//! ```
//!
//! - **Decode workers** (`jobs` threads) run [`super::prepare`] per file: the one decode of the
//!   scan, the classical signals and hashes from it, and the small copies the model stages
//!   need (the detector's working copy, CLIP's crop). The full-resolution frame never leaves
//!   the worker, and the frames in flight are limited by a pixel budget ([`PixelBudget`],
//!   the decode limit: one 100 MP image at a time, or several smaller ones).
//! - **Model stages** (faces and/or hands when on — one stage, both detectors on the same
//!   working copy —, CLIP when weights are found) take whatever is waiting,
//!   up to their batch size, and run it in one call on the scan's device; on the CPU the
//!   networks' own parallelism runs on the model pool. On the CPU the faces stage has one
//!   worker per core (`face_workers`, each taking its own batches: most of the detector's work
//!   — pyramid resampling, crops, NMS — is sequential per image); on a GPU one worker feeds it
//!   batches.
//! - **The writer** (the calling thread) puts results back into discovery order, so ids,
//!   duplicate groups and the database are the same for any number of workers, and commits
//!   each batch of `batch_size` files in one transaction.
//!
//! Cancellation stops the workers from taking new files; what is in flight is finished and
//! written. An error of a stage (the detector, the store) stops the pipeline and is returned;
//! a CLIP failure stops only the CLIP stage (reported, the scan goes on).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::clip::LoadedClip;
use super::{FileError, IngestCtx, Prepared, Progress, ScanError, ScanSummary, reason_kind};
use crate::catalog::Found;
use crate::models::clip::preprocess as clip_preprocess;
use crate::models::hands::HandDetector;
use crate::models::mtcnn::{Mtcnn, WorkingCopy, WorkingResolution};
use crate::store::{KnownImage, Store, Upsert};

/// Limits the pixels of the frames decoded at the same time across workers.
pub(crate) struct PixelBudget {
    cap: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Pixels held from a [`PixelBudget`] until dropped.
pub(crate) struct Permit<'a> {
    budget: &'a PixelBudget,
    pixels: u64,
}

impl PixelBudget {
    pub(crate) fn new(cap: u64) -> Self {
        Self {
            cap: cap.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits until `pixels` (at most the cap) fit next to what is held; an image alone may
    /// always proceed.
    pub(crate) fn acquire(&self, pixels: u64) -> Permit<'_> {
        let pixels = pixels.min(self.cap);
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used > 0 && *used + pixels > self.cap {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += pixels;
        Permit {
            budget: self,
            pixels,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(self.pixels);
        self.budget.freed.notify_all();
    }
}

/// Everything the pipeline runs with.
pub(crate) struct Flow<'a> {
    pub(crate) todo: &'a [(&'a Found, Option<&'a KnownImage>)],
    pub(crate) ctx: IngestCtx<'a>,
    pub(crate) jobs: usize,
    pub(crate) batch_size: usize,
    /// Detector and the producer string of its signals (faces on).
    pub(crate) faces: Option<(&'a Mtcnn, WorkingResolution, String)>,
    /// Hand detector and the producer string of its signals (hands on); runs in the faces stage
    /// on the same working copies.
    pub(crate) hands: Option<(&'a HandDetector, String)>,
    /// Images per detector call.
    pub(crate) face_batch: usize,
    /// Threads of the faces stage.
    pub(crate) face_workers: usize,
    pub(crate) clip: Option<&'a LoadedClip>,
    pub(crate) clip_batch: usize,
    /// Threads for the networks' CPU parallelism.
    pub(crate) model_pool: &'a rayon::ThreadPool,
    pub(crate) progress: &'a Progress,
    pub(crate) cancel: &'a AtomicBool,
}

/// What the pipeline did besides the summary's counters.
#[derive(Default)]
pub(crate) struct Outcome {
    /// Ids written with an embedding from the CLIP stage.
    pub(crate) embedded: Vec<i64>,
    /// Images CLIP could not take (id, path and reason).
    pub(crate) clip_failures: Vec<(i64, FileError)>,
    /// The CLIP stage stopped with this error.
    pub(crate) clip_error: Option<String>,
    /// Seconds the CLIP stage worked.
    pub(crate) clip_seconds: f64,
    /// Files taken by the workers (fewer than the to-do list when cancelled).
    pub(crate) taken: usize,
}

/// Shared state of the workers and the writer.
struct Shared<'a> {
    next: AtomicUsize,
    /// Index of the next record the writer needs; workers stay within a window of it.
    written: Mutex<usize>,
    advanced: Condvar,
    window: usize,
    abort: AtomicBool,
    flow: &'a Flow<'a>,
}

impl Shared<'_> {
    fn stop(&self) {
        self.abort.store(true, Ordering::SeqCst);
        let _guard = self.written.lock();
        self.advanced.notify_all();
    }

    /// The next file for a worker, waiting while it is too far ahead of the writer; `None`
    /// when there is none, or the scan is cancelled or stopping.
    fn claim(&self) -> Option<usize> {
        if self.abort.load(Ordering::SeqCst) || self.flow.cancel.load(Ordering::Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        if i >= self.flow.todo.len() {
            return None;
        }
        let mut w = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while i >= *w + self.window && !self.abort.load(Ordering::SeqCst) {
            w = self
                .advanced
                .wait(w)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        // A claimed file is always processed (the writer waits for every index up to the
        // last claimed one), even when the scan is cancelled meanwhile.
        Some(i)
    }
}

/// Stage indices in [`Progress::set_stages`].
const DECODE: usize = 0;
const SIGNALS: usize = 1;

/// Runs the pipeline over `flow.todo`, writing into `store` and counting into `summary`.
pub(crate) fn run(
    flow: &Flow<'_>,
    store: &mut Store,
    summary: &mut ScanSummary,
    missing_ids: &mut Vec<i64>,
) -> Result<Outcome, ScanError> {
    let jobs = flow.jobs.max(1);
    let mut stages: Vec<(&str, usize)> = vec![("decode", jobs), ("signals", jobs)];
    let face_stage = (flow.faces.is_some() || flow.hands.is_some()).then(|| {
        let name = if flow.faces.is_some() {
            "faces"
        } else {
            "hands"
        };
        stages.push((name, flow.face_workers.max(1)));
        stages.len() - 1
    });
    let clip_stage = flow.clip.is_some().then(|| {
        stages.push(("clip", 1));
        stages.len() - 1
    });
    stages.push(("write", 1));
    let write_stage = stages.len() - 1;
    flow.progress.set_stages(&stages);

    let batch = flow.batch_size.max(1);
    let shared = Shared {
        next: AtomicUsize::new(0),
        written: Mutex::new(0),
        advanced: Condvar::new(),
        window: 4 * batch + 4 * jobs,
        abort: AtomicBool::new(false),
        flow,
    };
    let error: Mutex<Option<ScanError>> = Mutex::new(None);
    let clip_error: Mutex<Option<String>> = Mutex::new(None);
    let clip_busy: Mutex<Duration> = Mutex::new(Duration::ZERO);
    let mut outcome = Outcome::default();
    // The model stages' inputs, shared by their workers.
    let faces_input: OnceLock<StageInput> = OnceLock::new();
    let clip_input: OnceLock<StageInput> = OnceLock::new();

    std::thread::scope(|scope| {
        // Decode workers → first model stage (or the writer).
        let (tx, mut rx) = sync_channel::<Prepared>(2 * jobs);
        for w in 0..jobs {
            let tx = tx.clone();
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("assay-decode-{w}"))
                .spawn_scoped(scope, move || decode_worker(shared, &tx));
            if spawned.is_err() {
                shared.stop();
            }
        }
        drop(tx);
        if let Some(stage) = face_stage {
            let workers = flow.face_workers.max(1);
            let (next_tx, next_rx) = sync_channel::<Prepared>(2 * workers * flow.face_batch.max(1));
            let input = scope_input(&faces_input, std::mem::replace(&mut rx, next_rx));
            for w in 0..workers {
                let (shared, error, next_tx) = (&shared, &error, next_tx.clone());
                let run = move || {
                    let r = model_stage(input, &next_tx, flow.face_batch, |items| {
                        let t = Instant::now();
                        let r = flow.model_pool.install(|| detector_batch(flow, items));
                        flow.progress
                            .stage_done(stage, items.len() as u64, t.elapsed());
                        r
                    });
                    if let Err(e) = r {
                        set_error(error, e);
                        shared.stop();
                    }
                };
                if std::thread::Builder::new()
                    .name(format!("assay-faces-{w}"))
                    .spawn_scoped(scope, run)
                    .is_err()
                {
                    shared.stop();
                }
            }
        }
        if let (Some(stage), Some(clip)) = (clip_stage, flow.clip) {
            let (next_tx, next_rx) = sync_channel::<Prepared>(2 * flow.clip_batch.max(1));
            let input = scope_input(&clip_input, std::mem::replace(&mut rx, next_rx));
            let (clip_error, clip_busy) = (&clip_error, &clip_busy);
            let run = move || {
                let mut failed = false;
                let _ = model_stage::<()>(input, &next_tx, flow.clip_batch, |items| {
                    if failed {
                        return Ok(());
                    }
                    let t = Instant::now();
                    if let Err(e) = flow.model_pool.install(|| clip_batch(clip, items)) {
                        failed = true;
                        if let Ok(mut c) = clip_error.lock() {
                            *c = Some(e);
                        }
                    }
                    let dt = t.elapsed();
                    if let Ok(mut b) = clip_busy.lock() {
                        *b += dt;
                    }
                    flow.progress.stage_done(stage, items.len() as u64, dt);
                    Ok(())
                });
            };
            if std::thread::Builder::new()
                .name("assay-clip".into())
                .spawn_scoped(scope, run)
                .is_err()
            {
                shared.stop();
            }
        }
        // The writer, here.
        let r = writer(
            &shared,
            rx,
            store,
            summary,
            missing_ids,
            &mut outcome,
            write_stage,
        );
        if let Err(e) = r {
            set_error(&error, e);
            shared.stop();
        }
    });
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    outcome.clip_error = clip_error.into_inner().ok().flatten();
    outcome.clip_seconds = clip_busy.into_inner().map_or(0.0, |d| d.as_secs_f64());
    outcome.taken = shared.next.load(Ordering::SeqCst).min(flow.todo.len());
    Ok(outcome)
}

fn set_error(slot: &Mutex<Option<ScanError>>, e: ScanError) {
    if let Ok(mut s) = slot.lock()
        && s.is_none()
    {
        *s = Some(e);
    }
}

fn decode_worker(shared: &Shared<'_>, tx: &SyncSender<Prepared>) {
    let flow = shared.flow;
    while let Some(i) = shared.claim() {
        let (found, old) = flow.todo[i];
        let p = super::prepare(i, found, old, &flow.ctx);
        flow.progress.stage_done(DECODE, 1, p.decode_time);
        flow.progress.stage_done(SIGNALS, 1, p.signals_time);
        if tx.send(p).is_err() {
            break;
        }
    }
}

/// A model stage's input, shared by its workers; the first worker to stop early (an error, or
/// the next stage gone) drops it, so the stage before sees the channel close and stops too.
type StageInput = Mutex<Option<Receiver<Prepared>>>;

/// Puts a stage's input where its workers can share it.
fn scope_input(slot: &OnceLock<StageInput>, rx: Receiver<Prepared>) -> &StageInput {
    slot.get_or_init(|| Mutex::new(Some(rx)))
}

/// Drops a stage's input (see [`StageInput`]).
fn close(input: &StageInput) {
    if let Ok(mut rx) = input.lock() {
        rx.take();
    }
}

/// Runs `work` on batches of what `input` holds (blocking for the first item, then taking
/// what is waiting, up to `max`), passing every item on to `output` in order. Several workers
/// may share `input`: each takes its own batches.
fn model_stage<E>(
    input: &StageInput,
    output: &SyncSender<Prepared>,
    max: usize,
    mut work: impl FnMut(&mut [Prepared]) -> Result<(), E>,
) -> Result<(), E> {
    let max = max.max(1);
    loop {
        let mut items = {
            let Ok(guard) = input.lock() else {
                return Ok(());
            };
            let Some(input) = guard.as_ref() else {
                return Ok(());
            };
            let Ok(first) = input.recv() else {
                return Ok(());
            };
            let mut items = vec![first];
            while items.len() < max {
                match input.try_recv() {
                    Ok(p) => items.push(p),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            items
        };
        if let Err(e) = work(&mut items) {
            close(input);
            return Err(e);
        }
        for p in items {
            if output.send(p).is_err() {
                close(input);
                return Ok(());
            }
        }
    }
}

/// The faces stage: faces (when on), then hands (when on) on the batch's working copies; their
/// rows are appended to each record and the copies dropped.
fn detector_batch(flow: &Flow<'_>, items: &mut [Prepared]) -> Result<(), ScanError> {
    if let Some((detector, res, producer)) = &flow.faces {
        face_batch(detector, res, producer, items)?;
    }
    if let Some((detector, producer)) = &flow.hands {
        for p in items.iter_mut() {
            let Some(copy) = p.faces.as_ref() else {
                continue;
            };
            let found = detector.detect(copy.view())?;
            let (rows, any) = super::hand_rows(&found, producer);
            p.record.signals.extend(rows);
            p.has_hand = any;
        }
    }
    for p in items.iter_mut() {
        p.faces = None;
    }
    Ok(())
}

/// Fast-mode face detection on the batch's working copies; face rows appended to each record.
fn face_batch(
    detector: &Mtcnn,
    res: &WorkingResolution,
    producer: &str,
    items: &mut [Prepared],
) -> Result<(), crate::models::mtcnn::MtcnnError> {
    let idx: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].faces.is_some())
        .collect();
    if idx.is_empty() {
        return Ok(());
    }
    let detections = {
        let copies: Vec<&WorkingCopy> = idx
            .iter()
            .filter_map(|&i| items[i].faces.as_ref())
            .collect();
        detector.detect_working(&copies, res)?
    };
    for (&i, d) in idx.iter().zip(detections) {
        let p = &mut items[i];
        let Some(copy) = p.faces.as_ref() else {
            continue;
        };
        let (rows, any) = super::face_rows(&d, copy, producer);
        p.record.signals.extend(rows);
        p.has_face = any;
    }
    Ok(())
}

/// CLIP image embeddings of the batch's crops, attached to the records.
fn clip_batch(clip: &LoadedClip, items: &mut [Prepared]) -> Result<(), String> {
    let idx: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i].clip, Some(Ok(_))))
        .collect();
    if idx.is_empty() {
        return Ok(());
    }
    let model = clip.clip().map_err(|e| e.to_string())?;
    let s = model.image_size();
    let mut px = Vec::with_capacity(idx.len() * 3 * s * s);
    for &i in &idx {
        if let Some(Ok(crop)) = &items[i].clip {
            clip_preprocess::normalize_into(crop, &mut px);
        }
    }
    let emb = model
        .embed_pixels(px, idx.len())
        .map_err(|e| e.to_string())?;
    let key = clip.key().to_string();
    for (&i, e) in idx.iter().zip(emb) {
        items[i].clip = None;
        items[i].record.embedding = Some((key.clone(), e));
    }
    Ok(())
}

/// Puts items back in order and writes them in batches of `flow.batch_size`.
fn writer(
    shared: &Shared<'_>,
    input: Receiver<Prepared>,
    store: &mut Store,
    summary: &mut ScanSummary,
    missing_ids: &mut Vec<i64>,
    outcome: &mut Outcome,
    stage: usize,
) -> Result<(), ScanError> {
    let flow = shared.flow;
    let batch = flow.batch_size.max(1);
    let mut waiting: BTreeMap<usize, Prepared> = BTreeMap::new();
    let mut next = 0usize;
    let mut pending: Vec<Prepared> = Vec::with_capacity(batch);
    let mut received_all = false;
    loop {
        // Receive until the next index in order is there (or the input ends).
        while !received_all && !waiting.contains_key(&next) {
            match input.recv() {
                Ok(p) => {
                    waiting.insert(p.index, p);
                }
                Err(_) => received_all = true,
            }
        }
        let mut moved = false;
        while let Some(p) = waiting.remove(&next) {
            next += 1;
            moved = true;
            pending.push(p);
            if pending.len() >= batch {
                write_batch(
                    flow,
                    store,
                    &mut pending,
                    summary,
                    missing_ids,
                    outcome,
                    stage,
                )?;
            }
        }
        if moved {
            if let Ok(mut w) = shared.written.lock() {
                *w = next;
            }
            shared.advanced.notify_all();
        }
        if received_all {
            // Items after a gap cannot come any more (the workers stopped): none are lost,
            // since a worker only stops between files.
            pending.extend(std::mem::take(&mut waiting).into_values());
            break;
        }
    }
    write_batch(
        flow,
        store,
        &mut pending,
        summary,
        missing_ids,
        outcome,
        stage,
    )
}

/// One transaction for the pending records; counts into the summary and the progress.
fn write_batch(
    flow: &Flow<'_>,
    store: &mut Store,
    pending: &mut Vec<Prepared>,
    summary: &mut ScanSummary,
    missing_ids: &mut Vec<i64>,
    outcome: &mut Outcome,
    stage: usize,
) -> Result<(), ScanError> {
    if pending.is_empty() {
        return Ok(());
    }
    let t = Instant::now();
    let n = pending.len() as u64;
    let mut records = Vec::with_capacity(pending.len());
    let mut clip_notes: Vec<(bool, Option<FileError>)> = Vec::with_capacity(pending.len());
    let mut n_failed = 0;
    for p in pending.drain(..) {
        if p.other_shard {
            *summary.other_shards.get_or_insert(0) += 1;
            // The path's stored row (its content was in this shard before) leaves the shard.
            match p.record.upsert {
                Upsert::Same { id } | Upsert::NewVersion { old_id: id, .. } => missing_ids.push(id),
                Upsert::New => {}
            }
            continue;
        }
        if let Some(reason) = &p.record.facts.error {
            n_failed += 1;
            summary.failed += 1;
            *summary
                .failures_by_reason
                .entry(reason_kind(reason))
                .or_default() += 1;
            summary.errors.push(FileError {
                path: p.record.facts.path.clone(),
                reason: reason.clone(),
            });
        }
        if p.vanished {
            if let Upsert::Same { id } = p.record.upsert {
                missing_ids.push(id);
            }
            continue;
        }
        match p.record.upsert {
            Upsert::New => summary.new += 1,
            Upsert::NewVersion { .. } => summary.changed += 1,
            Upsert::Same { .. } => summary.refreshed += 1,
        }
        summary.images_with_faces += u64::from(p.has_face);
        summary.images_with_hands += u64::from(p.has_hand);
        let clip_failure = match p.clip {
            Some(Err(reason)) if flow.clip.is_some() => Some(FileError {
                path: p.record.facts.path.clone(),
                reason,
            }),
            _ => None,
        };
        clip_notes.push((p.record.embedding.is_some(), clip_failure));
        records.push(p.record);
    }
    let ids = store.write_ingest(&records)?;
    for (id, (embedded, failure)) in ids.into_iter().zip(clip_notes) {
        if embedded {
            outcome.embedded.push(id);
        }
        if let Some(f) = failure {
            outcome.clip_failures.push((id, f));
        }
    }
    flow.progress.advance(n, n_failed);
    flow.progress.stage_done(stage, n, t.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixel_budget_lets_one_large_frame_through_at_a_time() {
        let budget = PixelBudget::new(100);
        let a = budget.acquire(60);
        let b = budget.acquire(30);
        assert_eq!(*budget.used.lock().unwrap(), 90);
        drop(b);
        // An image above the cap alone takes the whole budget, and waits for the rest.
        let waiter = std::thread::scope(|s| {
            let h = s.spawn(|| {
                let p = budget.acquire(500);
                let used = *budget.used.lock().unwrap();
                drop(p);
                used
            });
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(*budget.used.lock().unwrap(), 60, "still waiting");
            drop(a);
            h.join().unwrap()
        });
        assert_eq!(waiter, 100);
        assert_eq!(*budget.used.lock().unwrap(), 0);
    }
}
