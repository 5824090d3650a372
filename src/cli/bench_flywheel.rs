//! `assay bench flywheel`: does the preference scorer learn, and does active labeling save
//! labels? Measured on distortion sets with a known quality order, next to a scikit-learn
//! baseline on the same labels in the same invocation.
//!
//! - **Distortion sets**: `--photos` colour photos of the fixtures (a seeded choice per set),
//!   each downscaled to ≤ 256 px and written clean and with blur, noise, JPEG and exposure at
//!   three severities ([`write_distortions`]); scanned like any folder (faces on unless
//!   `--no-faces`, no CLIP). Quality order: severity 0 < 1 < 2 < 3, equal severities equal.
//! - **Random labels**: a seeded stream of distinct pairs whose severities differ, each
//!   judged correctly and flipped with probability `--noise`; the first L of the stream for
//!   every L of `--labels`. Assay trains exactly as `assay train` does (`learn::train` with the
//!   default options, on the features `assay train` loads); the baseline is
//!   `scripts/bench_flywheel_sklearn.py` (LogisticRegression(C=1) on the nine classical
//!   signals) on the same labels. Both are scored on the same held-out pairs: every pair of the
//!   set with different severities that the run did not label.
//! - **Active labels**: the first `--retrain-every` labels are the random stream's; then the
//!   labeling screen's scheduler (`human::schedule`, collection scope, one rater) picks each
//!   pair from the scorer's posterior, retrained every `--retrain-every` labels; equal
//!   severities are answered "tie", others flipped with probability `--noise`. Every `--step`
//!   labels the labels so far are trained on as above; the report gives the labels needed to
//!   reach the random runs' 200-label accuracy (the baseline's and Assay's).
//! - **End to end**: for the first set and repeat, the 200 random labels also go through the
//!   label-import code (`human::parse_line`, occurrence ids, the store) and
//!   `pipeline::preference::train_and_store`, and the stored `learned_preference` values are
//!   scored: they must equal the in-process result.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::json;

use crate::human::schedule::{PairScheduler, ScheduleConfig};
use crate::human::{self, Criterion, Event, Payload, Protocol};
use crate::learn::{self, FeatureTable, HeadChoice, Labels, TrainOptions};
use crate::pipeline::preference::{self, Embeddings, TrainRequest};
use crate::pipeline::{self, Progress, ScanOptions};
use crate::ranking::rng::Rng;
use crate::store::{NewLabelEvent, Store};

/// Colour photos of `fixtures/photos` the sets are made from.
pub const COLOR_PHOTOS: &[&str] = &[
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "kodim01.png",
    "kodim03.png",
    "kodim05.png",
    "kodim07.png",
    "kodim15.png",
    "kodim20.png",
    "kodim23.png",
    "hubble_deep_field.jpg",
];
/// Distortion kinds, each at severities 1..=3 (0 is the clean photo).
pub const KINDS: [&str; 4] = ["blur", "noise", "jpeg", "exposure"];
const BLUR_SIGMA: [f32; 3] = [0.8, 1.6, 3.2];
const NOISE_SIGMA: [f64; 3] = [6.0, 14.0, 30.0];
const JPEG_QUALITY: [u8; 3] = [40, 20, 8];
const EXPOSURE_GAIN: [f32; 3] = [1.4, 1.9, 2.6];

/// One generated image: relative path, source photo, distortion, severity 0–3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistortedItem {
    pub path: String,
    pub photo: usize,
    pub kind: &'static str,
    pub level: usize,
}

/// A standard normal draw (Box–Muller).
pub fn gaussian(rng: &mut Rng) -> f64 {
    let u = rng.next_f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.next_f64()).cos()
}

/// Writes photo `src` (downscaled so its longer side is ≤ 256 px) clean and with its 12
/// distortions under `out/<stem>/`; returns the items (photo index `photo`).
pub fn write_distortions(
    src: &Path,
    out: &Path,
    photo: usize,
    rng: &mut Rng,
) -> anyhow::Result<Vec<DistortedItem>> {
    let img = image::open(src)
        .with_context(|| format!("cannot read {}", src.display()))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let scale = 256.0 / w.max(h) as f32;
    let (nw, nh) = (
        ((w as f32 * scale).round() as u32).max(8),
        ((h as f32 * scale).round() as u32).max(8),
    );
    let base = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
    let stem = src.file_stem().map_or_else(
        || format!("photo{photo}"),
        |s| s.to_string_lossy().to_string(),
    );
    let dir = out.join(&stem);
    std::fs::create_dir_all(&dir)?;
    let mut items = Vec::new();
    let mut save = |name: String,
                    kind: &'static str,
                    level: usize,
                    img: &image::RgbImage|
     -> anyhow::Result<()> {
        let path = dir.join(&name);
        if name.ends_with(".jpg") {
            let q = JPEG_QUALITY[level - 1];
            let mut f = std::fs::File::create(&path)?;
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, q).encode_image(img)?;
        } else {
            img.save(&path)?;
        }
        items.push(DistortedItem {
            path: format!("{stem}/{name}"),
            photo,
            kind,
            level,
        });
        Ok(())
    };
    save("clean.png".into(), "clean", 0, &base)?;
    for level in 1..=3 {
        let blurred = image::imageops::blur(&base, BLUR_SIGMA[level - 1]);
        save(format!("blur{level}.png"), "blur", level, &blurred)?;
        let mut noisy = base.clone();
        for p in noisy.pixels_mut() {
            for c in &mut p.0 {
                let v = f64::from(*c) + NOISE_SIGMA[level - 1] * gaussian(rng);
                *c = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        save(format!("noise{level}.png"), "noise", level, &noisy)?;
        save(format!("jpeg{level}.jpg"), "jpeg", level, &base)?;
        let mut bright = base.clone();
        for p in bright.pixels_mut() {
            for c in &mut p.0 {
                *c = (f32::from(*c) * EXPOSURE_GAIN[level - 1])
                    .round()
                    .min(255.0) as u8;
            }
        }
        save(format!("exposure{level}.png"), "exposure", level, &bright)?;
    }
    Ok(items)
}

/// A simulated judgement of items a and b: the less distorted one, flipped with probability
/// `noise`; `None` (a tie) when both are equally distorted.
pub fn judge(
    items: &[DistortedItem],
    a: usize,
    b: usize,
    noise: f64,
    rng: &mut Rng,
) -> Option<usize> {
    let (la, lb) = (items[a].level, items[b].level);
    if la == lb {
        return None;
    }
    let (better, worse) = if la < lb { (a, b) } else { (b, a) };
    Some(if rng.next_f64() < noise {
        worse
    } else {
        better
    })
}

/// Pairwise accuracy of `scores` (per item) against the quality order on every pair with
/// different severities outside `seen` (unordered item pairs).
pub fn order_accuracy(
    items: &[DistortedItem],
    scores: &[f64],
    seen: &HashSet<(usize, usize)>,
) -> (f64, usize) {
    let (mut right, mut n) = (0.0, 0usize);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            if items[i].level == items[j].level || seen.contains(&(i, j)) {
                continue;
            }
            let (b, w) = if items[i].level < items[j].level {
                (i, j)
            } else {
                (j, i)
            };
            right += if scores[b] > scores[w] {
                1.0
            } else if scores[b] == scores[w] {
                0.5
            } else {
                0.0
            };
            n += 1;
        }
    }
    (right / n.max(1) as f64, n)
}

#[derive(Debug, clap::Args)]
pub struct FlywheelArgs {
    /// Photos per distortion set (13 images each).
    #[arg(long, default_value_t = 8)]
    pub photos: usize,
    /// Distortion sets (each a seeded choice of photos and noise).
    #[arg(long, default_value_t = 3)]
    pub sets: usize,
    /// Label simulations per set (seeded pair streams and flips).
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Probability that a simulated label is flipped.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f64,
    /// Label counts of the random-label learning curves.
    #[arg(long, value_delimiter = ',', default_value = "25,50,100,200,400")]
    pub labels: Vec<usize>,
    /// The label count whose accuracy active labeling must reach.
    #[arg(long, default_value_t = 200)]
    pub target_labels: usize,
    /// Labels between retrainings in the active simulation (the labeling screen's default).
    #[arg(long, default_value_t = 25)]
    pub retrain_every: usize,
    /// Evaluate the active runs every this many labels.
    #[arg(long, default_value_t = 10)]
    pub step: usize,
    /// Most labels of an active run (0: no active simulation).
    #[arg(long, default_value_t = 200)]
    pub active_max: usize,
    /// Coverage before the active step (distinct opponents per item; the screen's default is 4).
    #[arg(long, default_value_t = 0)]
    pub coverage: usize,
    /// Heads `assay train` compares.
    #[arg(long, value_enum, default_value_t = HeadChoice::Auto)]
    pub head: HeadChoice,
    /// Scan without face detection (the nine classical signals only).
    #[arg(long)]
    pub no_faces: bool,
    /// Interpreter for scripts/bench_flywheel_sklearn.py (pinned in
    /// scripts/requirements-flywheel.txt); without it the baseline is skipped.
    #[arg(long)]
    pub python: Option<String>,
    /// Fixture folder (default: $ASSAY_FIXTURES or ../shared/fixtures).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Write every number as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Keep the generated sets and databases in this folder (default: a temporary folder).
    #[arg(long)]
    pub keep: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One distortion set, scanned.
struct Set {
    items: Vec<DistortedItem>,
    /// Table row of each item.
    row: Vec<usize>,
    table: FeatureTable,
    dir: PathBuf,
    db: PathBuf,
    photos: Vec<String>,
}

fn build_set(fixtures: &Path, root: &Path, k: usize, a: &FlywheelArgs) -> anyhow::Result<Set> {
    let mut rng = Rng::new(a.seed.wrapping_mul(1000) + k as u64);
    let mut pool: Vec<&str> = COLOR_PHOTOS.to_vec();
    for i in 0..pool.len().min(a.photos) {
        let j = i + rng.below(pool.len() - i);
        pool.swap(i, j);
    }
    let photos: Vec<String> = pool
        .iter()
        .take(a.photos)
        .map(|s| (*s).to_string())
        .collect();
    let dir = root.join(format!("set{k}"));
    let db = root.join(format!("set{k}.db"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&db);
    let mut items = Vec::new();
    for (p, name) in photos.iter().enumerate() {
        items.extend(write_distortions(
            &fixtures.join("photos").join(name),
            &dir,
            p,
            &mut rng,
        )?);
    }
    let mut opts = ScanOptions::new(&dir);
    opts.db = Some(db.clone());
    opts.faces = !a.no_faces;
    opts.clip.enabled = false;
    let s = pipeline::scan(&opts, &Progress::default(), &AtomicBool::new(false))?;
    if s.failed > 0 {
        bail!("{} generated images failed to scan", s.failed);
    }
    let store = Store::open(&db)?;
    let table = preference::load_features(&store, Embeddings::All)?;
    let index: HashMap<&str, usize> = table
        .items
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let row = items
        .iter()
        .map(|it| index.get(it.path.as_str()).copied())
        .collect::<Option<Vec<usize>>>()
        .context("a generated image has no features")?;
    Ok(Set {
        items,
        row,
        table,
        dir,
        db,
        photos,
    })
}

/// A label: items (in the order the event names them) and the winner (`None`: tie).
#[derive(Debug, Clone, Copy)]
struct Label {
    a: usize,
    b: usize,
    winner: Option<usize>,
}

fn event(set: &Set, l: &Label) -> Event {
    let (pa, pb) = (set.items[l.a].path.clone(), set.items[l.b].path.clone());
    Event {
        rater: "sim".into(),
        protocol: Protocol::Pairwise,
        payload: Payload {
            criterion: Criterion::overall(),
            items: vec![pa.clone(), pb.clone()],
            hashes: vec![],
            order: vec![pa, pb],
            choice: Some(match l.winner {
                Some(w) => set.items[w].path.clone(),
                None => "tie".into(),
            }),
            rating: None,
            ratings: None,
            response_ms: None,
            attention_check: false,
        },
    }
}

/// The random stream of a repeat: distinct-severity pairs in seeded order, random sides.
fn random_stream(set: &Set, n: usize, noise: f64, seed: u64) -> Vec<Label> {
    let items = &set.items;
    let mut pairs: Vec<(usize, usize)> = (0..items.len())
        .flat_map(|i| (i + 1..items.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| items[i].level != items[j].level)
        .collect();
    let mut rng = Rng::new(seed);
    let n = n.min(pairs.len());
    for i in 0..n {
        let j = i + rng.below(pairs.len() - i);
        pairs.swap(i, j);
    }
    pairs
        .into_iter()
        .take(n)
        .map(|(i, j)| {
            let (a, b) = if rng.next_f64() < 0.5 { (i, j) } else { (j, i) };
            Label {
                a,
                b,
                winner: judge(items, a, b, noise, &mut rng),
            }
        })
        .collect()
}

fn seen(labels: &[Label]) -> HashSet<(usize, usize)> {
    labels
        .iter()
        .map(|l| (l.a.min(l.b), l.a.max(l.b)))
        .collect()
}

/// `assay train`'s computation on `labels`: the trained scorer's scores per item.
fn train_scores(
    set: &Set,
    labels: &[Label],
    opts: &TrainOptions,
    device: &burn::tensor::Device,
) -> anyhow::Result<(Vec<f64>, learn::Trained)> {
    let events: Vec<Event> = labels.iter().map(|l| event(set, l)).collect();
    let l: Labels = learn::labels::assemble(&events, "overall");
    let t = learn::train(&set.table, &l, opts, device)?;
    let inputs = t.model.inputs(&set.table);
    let scores = set.row.iter().map(|&r| t.model.score(&inputs[r])).collect();
    Ok((scores, t))
}

#[derive(Debug, Clone, Serialize)]
struct RandomPoint {
    labels: usize,
    assay: f64,
    sklearn: Option<f64>,
    heldout_pairs: usize,
    chosen: String,
    cv_estimate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct ActivePoint {
    labels: usize,
    accuracy: f64,
    ties: usize,
}

#[derive(Debug, Clone, Serialize)]
struct Run {
    set: usize,
    repeat: usize,
    random: Vec<RandomPoint>,
    active: Vec<ActivePoint>,
    /// Labels the active run needed to reach the baseline's / Assay's target accuracy.
    active_to_sklearn: Option<usize>,
    active_to_assay: Option<usize>,
}

fn first_reaching(curve: &[ActivePoint], target: f64) -> Option<usize> {
    curve
        .iter()
        .find(|p| p.accuracy >= target)
        .map(|p| p.labels)
}

fn features_csv(set: &Set, path: &Path) -> anyhow::Result<()> {
    let keys = crate::signals::classical_feature_keys();
    let cols: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
    let rows = set.table.rows_for(&cols);
    let mut w = csv::Writer::from_path(path)?;
    let mut head = vec!["item".to_string()];
    head.extend(cols.iter().cloned());
    w.write_record(&head)?;
    for (item, r) in set.table.items.iter().zip(&rows) {
        let mut rec = vec![item.clone()];
        rec.extend(
            r.iter()
                .map(|v| v.map_or_else(String::new, |x| format!("{x:.17e}"))),
        );
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// Runs the baseline on every (run, labels) of a set; scores per item by run id.
fn sklearn_scores(
    python: &str,
    set: &Set,
    runs: &[(String, Vec<Label>)],
    work: &Path,
) -> anyhow::Result<HashMap<String, Vec<f64>>> {
    let feats = work.join("features.csv");
    let labels = work.join("labels.csv");
    let out = work.join("sklearn.json");
    features_csv(set, &feats)?;
    let mut w = csv::Writer::from_path(&labels)?;
    w.write_record(["run", "a", "b", "target"])?;
    for (id, ls) in runs {
        for l in ls {
            let target = match l.winner {
                Some(x) if x == l.a => "1",
                Some(_) => "0",
                None => "0.5",
            };
            let (ra, rb) = (set.row[l.a].to_string(), set.row[l.b].to_string());
            w.write_record([id.as_str(), ra.as_str(), rb.as_str(), target])?;
        }
    }
    w.flush()?;
    let script = super::bench::baseline_script("bench_flywheel_sklearn.py");
    let o = std::process::Command::new(python)
        .arg(&script)
        .arg("--features")
        .arg(&feats)
        .arg("--labels")
        .arg(&labels)
        .arg("--out")
        .arg(&out)
        .output()
        .with_context(|| format!("cannot run {python} {}", script.display()))?;
    if !o.status.success() {
        bail!(
            "the scikit-learn baseline failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    let mut res = HashMap::new();
    for (id, scores) in v["runs"].as_object().into_iter().flatten() {
        let by_row: Vec<f64> = scores
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        if by_row.len() != set.table.items.len() {
            bail!(
                "the baseline returned {} scores for {} images",
                by_row.len(),
                set.table.items.len()
            );
        }
        res.insert(id.clone(), set.row.iter().map(|&r| by_row[r]).collect());
    }
    Ok(res)
}

/// The active simulation of one repeat: the labels so far and the accuracy curve.
fn active_run(
    set: &Set,
    start: &[Label],
    a: &FlywheelArgs,
    opts: &TrainOptions,
    device: &burn::tensor::Device,
    seed: u64,
) -> anyhow::Result<Vec<ActivePoint>> {
    let n = set.items.len();
    let cfg = ScheduleConfig {
        comparisons_per_item: a.coverage,
        raters_per_pair: 1,
    };
    let mut sched = PairScheduler::new(&vec![0; n], false, cfg);
    let mut labels: Vec<Label> = start.iter().take(a.retrain_every).copied().collect();
    for l in &labels {
        sched.record(l.a, l.b, "sim");
    }
    let mut rng = Rng::new(seed ^ 0xac71);
    let paths: Vec<String> = set.items.iter().map(|i| i.path.clone()).collect();
    let mut curve = Vec::new();
    let evaluate_at =
        |k: usize| k.is_multiple_of(a.step.max(1)) || k.is_multiple_of(a.retrain_every.max(1));
    loop {
        let k = labels.len();
        if evaluate_at(k) {
            let (scores, t) = train_scores(set, &labels, opts, device)?;
            if k.is_multiple_of(a.step.max(1)) {
                curve.push(ActivePoint {
                    labels: k,
                    accuracy: order_accuracy(&set.items, &scores, &seen(&labels)).0,
                    ties: labels.iter().filter(|l| l.winner.is_none()).count(),
                });
            }
            if k.is_multiple_of(a.retrain_every.max(1)) {
                let model = t
                    .posterior
                    .as_ref()
                    .map(|p| preference::pair_model(p, &set.table, &paths));
                sched.set_model(model);
            }
        }
        if k >= a.active_max {
            break;
        }
        let Some(p) = sched.next("sim", None, &mut rng) else {
            break;
        };
        let (x, y) = if rng.next_f64() < 0.5 {
            (p.a, p.b)
        } else {
            (p.b, p.a)
        };
        labels.push(Label {
            a: x,
            b: y,
            winner: judge(&set.items, x, y, a.noise, &mut rng),
        });
        sched.record(p.a, p.b, "sim");
    }
    Ok(curve)
}

/// Imports the labels through the label-import code and trains with `assay train`'s
/// use-case; returns the accuracy of the stored `learned_preference` values.
fn end_to_end(set: &Set, labels: &[Label], opts: &TrainOptions) -> anyhow::Result<f64> {
    let mut store = Store::open(&set.db)?;
    let paths = store.path_hashes()?;
    let mut occ = human::Occurrences::default();
    let mut events = Vec::new();
    for l in labels {
        let e = event(set, l);
        let line = json!({
            "protocol": Protocol::Pairwise, "rater": e.rater, "criterion": Criterion::overall(),
            "items": e.payload.items, "choice": e.payload.choice,
        })
        .to_string();
        let mut v = human::parse_line(&line, &paths).map_err(anyhow::Error::msg)?;
        occ.identify(&mut v);
        events.push(NewLabelEvent {
            uid: v.uid,
            time: v.time,
            rater: v.rater,
            session: v.session,
            protocol: v.protocol,
            payload: serde_json::to_string(&v.payload)?,
        });
    }
    let added = store.append_label_events(&events)?;
    if added.iter().filter(|x| **x).count() != labels.len() {
        bail!(
            "the import kept {} of {} labels",
            added.iter().filter(|x| **x).count(),
            labels.len()
        );
    }
    let req = TrainRequest {
        options: opts.clone(),
        ..TrainRequest::default()
    };
    preference::train_and_store(&mut store, &req)?;
    let ids = store.path_ids()?;
    let values: HashMap<i64, f64> = store
        .signal_numbers(learn::SIGNAL_KEY)?
        .into_iter()
        .collect();
    let scores: Vec<f64> = set
        .items
        .iter()
        .map(|it| ids.get(&it.path).and_then(|id| values.get(id)).copied())
        .collect::<Option<Vec<f64>>>()
        .context("an image has no stored learned_preference")?;
    Ok(order_accuracy(&set.items, &scores, &seen(labels)).0)
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Runs `assay bench flywheel` (see the module docs): prints the summary and writes it as
/// JSON with `--json`.
pub fn run(a: &FlywheelArgs) -> anyhow::Result<u8> {
    let fixtures = checked_fixtures(a)?;
    let root = match &a.keep {
        Some(k) => {
            std::fs::create_dir_all(k)?;
            k.clone()
        }
        None => tempfile_root()?,
    };
    let device = crate::models::backend::select(crate::models::backend::BackendChoice::Cpu)?.device;
    let opts = TrainOptions {
        head: a.head,
        curve: false,
        ..TrainOptions::default()
    };
    let max_labels = a
        .labels
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(a.target_labels);
    let mut bench = Bench {
        a,
        root,
        device,
        opts,
        max_labels,
        runs: Vec::new(),
        end_to_end_check: None,
        assay_s: 0.0,
        sklearn_s: 0.0,
    };
    let started = Instant::now();
    for s in 0..a.sets {
        bench.run_set(&fixtures, s)?;
    }
    let summary = bench.summary(started);
    print_summary(&summary, a);
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&summary)?)?;
    }
    if a.keep.is_none() {
        let _ = std::fs::remove_dir_all(&bench.root);
    }
    Ok(0)
}

/// The fixtures folder (`--fixtures`, `ASSAY_FIXTURES`, `../shared/fixtures`), after checking
/// that it has photos and that `--photos` and `--labels` are usable.
fn checked_fixtures(a: &FlywheelArgs) -> anyhow::Result<PathBuf> {
    let fixtures = a
        .fixtures
        .clone()
        .or_else(|| std::env::var_os("ASSAY_FIXTURES").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/fixtures"));
    if !fixtures.join("photos").is_dir() {
        return Err(super::UsageError(format!(
            "no fixture photos under {} (set --fixtures or ASSAY_FIXTURES)",
            fixtures.display()
        ))
        .into());
    }
    if a.photos == 0 || a.photos > COLOR_PHOTOS.len() || a.labels.is_empty() {
        return Err(super::UsageError(format!(
            "--photos must be 1–{} and --labels non-empty",
            COLOR_PHOTOS.len()
        ))
        .into());
    }
    Ok(fixtures)
}

/// One repeat's label stream and its random-label points (baseline accuracies filled in later).
type Repeat = (usize, Vec<Label>, Vec<RandomPoint>);

/// One invocation of the bench: its settings and what the sets add up.
struct Bench<'a> {
    a: &'a FlywheelArgs,
    /// Where the sets are written (`--keep` or a temporary folder).
    root: PathBuf,
    device: burn::tensor::Device,
    opts: TrainOptions,
    /// Length of every label stream (the largest `--labels` or the target).
    max_labels: usize,
    runs: Vec<Run>,
    /// Stored-score and in-process accuracy of the end-to-end check.
    end_to_end_check: Option<(f64, Option<f64>)>,
    assay_s: f64,
    sklearn_s: f64,
}

impl Bench<'_> {
    /// Builds set `s`, runs its repeats (random labels, the baseline, the active simulation)
    /// and removes it unless `--keep`.
    fn run_set(&mut self, fixtures: &Path, s: usize) -> anyhow::Result<()> {
        let a = self.a;
        let set = build_set(fixtures, &self.root, s, a)?;
        eprintln!(
            "set {s}: {} images from {} ({} scanned features)",
            set.items.len(),
            set.photos.join(", "),
            set.table.names.len()
        );
        let mut sk_runs = Vec::new();
        let mut per_repeat = Vec::new();
        for r in 0..a.repeats {
            per_repeat.push(self.random_repeat(&set, s, r, &mut sk_runs)?);
        }
        let sk = match &a.python {
            Some(py) => {
                let t = Instant::now();
                let v = sklearn_scores(py, &set, &sk_runs, &self.root)?;
                self.sklearn_s += t.elapsed().as_secs_f64();
                Some(v)
            }
            None => None,
        };
        for repeat in per_repeat {
            let run = self.finish_repeat(&set, s, repeat, sk.as_ref())?;
            self.runs.push(run);
        }
        if a.keep.is_none() {
            let _ = std::fs::remove_dir_all(&set.dir);
        }
        Ok(())
    }

    /// Repeat `r` of set `s` with random labels: Assay trained on the first n labels of the
    /// seeded stream for every n of `--labels` (and the target); the baseline's runs are
    /// added to `sk_runs`.
    fn random_repeat(
        &mut self,
        set: &Set,
        s: usize,
        r: usize,
        sk_runs: &mut Vec<(String, Vec<Label>)>,
    ) -> anyhow::Result<Repeat> {
        let a = self.a;
        let seed = a.seed.wrapping_mul(7919) ^ ((s as u64) << 32 | r as u64);
        let stream = random_stream(set, self.max_labels, a.noise, seed);
        let mut counts: Vec<usize> = a.labels.clone();
        if !counts.contains(&a.target_labels) {
            counts.push(a.target_labels);
        }
        counts.sort_unstable();
        let mut random = Vec::new();
        for &n in counts.iter().filter(|&&n| n <= stream.len()) {
            let t = Instant::now();
            let (scores, t_) = train_scores(set, &stream[..n], &self.opts, &self.device)?;
            self.assay_s += t.elapsed().as_secs_f64();
            let (acc, pairs) = order_accuracy(&set.items, &scores, &seen(&stream[..n]));
            random.push(RandomPoint {
                labels: n,
                assay: acc,
                sklearn: None,
                heldout_pairs: pairs,
                chosen: t_.report.chosen.describe(),
                cv_estimate: t_.report.estimate.as_ref().map(|e| e.accuracy),
            });
            sk_runs.push((format!("r{r}n{n}"), stream[..n].to_vec()));
        }
        Ok((r, stream, random))
    }

    /// Completes a repeat: the baseline's accuracies, the end-to-end check (first set and
    /// repeat) and the active simulation; prints the repeat's line.
    fn finish_repeat(
        &mut self,
        set: &Set,
        s: usize,
        (r, stream, mut random): Repeat,
        sk: Option<&HashMap<String, Vec<f64>>>,
    ) -> anyhow::Result<Run> {
        let a = self.a;
        for p in &mut random {
            let id = format!("r{r}n{}", p.labels);
            p.sklearn = sk
                .and_then(|m| m.get(&id))
                .map(|scores| order_accuracy(&set.items, scores, &seen(&stream[..p.labels])).0);
        }
        let at_target = random.iter().find(|p| p.labels == a.target_labels);
        let targets = (
            at_target.and_then(|p| p.sklearn),
            at_target.map(|p| p.assay),
        );
        if s == 0 && r == 0 && stream.len() >= a.target_labels {
            let e2e = end_to_end(set, &stream[..a.target_labels], &self.opts)?;
            self.end_to_end_check = Some((e2e, targets.1));
        }
        let active = if a.active_max > 0 {
            active_run(
                set,
                &stream,
                a,
                &self.opts,
                &self.device,
                a.seed ^ (s as u64) << 16 ^ r as u64,
            )?
        } else {
            Vec::new()
        };
        let run = Run {
            set: s,
            repeat: r,
            active_to_sklearn: targets.0.and_then(|t| first_reaching(&active, t)),
            active_to_assay: targets.1.and_then(|t| first_reaching(&active, t)),
            random,
            active,
        };
        eprintln!(
            "  repeat {r}: {}",
            run.random
                .iter()
                .map(|p| format!(
                    "{} labels: assay {:.4}{}",
                    p.labels,
                    p.assay,
                    p.sklearn
                        .map_or(String::new(), |x| format!(" / sklearn {x:.4}"))
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(run)
    }

    /// The JSON summary: settings, times, mean curves over sets × repeats and every run.
    fn summary(&self, started: Instant) -> serde_json::Value {
        let a = self.a;
        let mean_random = mean_random(&self.runs);
        let mean_active = mean_active(&self.runs);
        let target_of = |key: &str| {
            mean_random
                .iter()
                .find(|p| p["labels"] == a.target_labels)
                .and_then(|p| p[key].as_f64())
        };
        let (t_sk, t_assay) = (target_of("sklearn"), target_of("assay"));
        json!({
            "bench": "flywheel", "photos": a.photos, "sets": a.sets, "repeats": a.repeats,
            "noise": a.noise, "images_per_set": a.photos * 13, "faces": !a.no_faces, "head": a.head,
            "retrain_every": a.retrain_every, "coverage": a.coverage,
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "seconds": started.elapsed().as_secs_f64(), "assay_train_s": self.assay_s, "sklearn_s": self.sklearn_s,
            "mean_random": mean_random, "mean_active": mean_active,
            "target_labels": a.target_labels,
            "active_labels_to_sklearn_target": t_sk.and_then(|t| first_reaching(&mean_active, t)),
            "active_labels_to_assay_target": t_assay.and_then(|t| first_reaching(&mean_active, t)),
            "end_to_end": self.end_to_end_check.map(|(e, i)| json!({"stored_scores": e, "in_process": i})),
            "runs": self.runs,
        })
    }
}

/// Mean random-label accuracies (Assay's and the baseline's) at each label count, over every
/// run that has the count.
fn mean_random(runs: &[Run]) -> Vec<serde_json::Value> {
    let mut counts: Vec<usize> = runs
        .iter()
        .flat_map(|r| r.random.iter().map(|p| p.labels))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
        .iter()
        .map(|&n| {
            let pts: Vec<&RandomPoint> = runs
                .iter()
                .flat_map(|r| r.random.iter().filter(move |p| p.labels == n))
                .collect();
            json!({
                "labels": n,
                "assay": mean(pts.iter().map(|p| p.assay)),
                "sklearn": mean(pts.iter().filter_map(|p| p.sklearn)),
                "runs": pts.len(),
            })
        })
        .collect()
}

/// The mean active curve: the steps every run reached, with their mean accuracy and ties.
fn mean_active(runs: &[Run]) -> Vec<ActivePoint> {
    let mut steps: Vec<usize> = runs
        .iter()
        .flat_map(|r| r.active.iter().map(|p| p.labels))
        .collect();
    steps.sort_unstable();
    steps.dedup();
    steps
        .iter()
        .filter_map(|&n| {
            let pts: Vec<&ActivePoint> = runs
                .iter()
                .filter_map(|r| r.active.iter().find(|p| p.labels == n))
                .collect();
            (pts.len() == runs.len()).then(|| ActivePoint {
                labels: n,
                accuracy: mean(pts.iter().map(|p| p.accuracy)).unwrap_or(0.0),
                ties: pts.iter().map(|p| p.ties).sum::<usize>() / pts.len().max(1),
            })
        })
        .collect()
}

fn tempfile_root() -> anyhow::Result<PathBuf> {
    let p = std::env::temp_dir().join(format!("assay-flywheel-{}", std::process::id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

fn print_summary(v: &serde_json::Value, a: &FlywheelArgs) {
    let f = |x: &serde_json::Value| x.as_f64().map_or("  n/a ".into(), |x| format!("{x:.4}"));
    println!(
        "assay bench flywheel: {} sets × {} repeats, {} images per set, {} % flipped labels, faces {}, {} build",
        a.sets,
        a.repeats,
        a.photos * 13,
        a.noise * 100.0,
        if a.no_faces { "off" } else { "on" },
        v["build"].as_str().unwrap_or("?")
    );
    println!("random pairs (mean held-out pairwise accuracy against the quality order)");
    println!("  labels   assay    sklearn  assay − sklearn");
    for p in v["mean_random"].as_array().into_iter().flatten() {
        let d = match (p["assay"].as_f64(), p["sklearn"].as_f64()) {
            (Some(x), Some(y)) => format!("{:+.4}", x - y),
            _ => "n/a".into(),
        };
        println!(
            "  {:>6}   {}   {}   {d}",
            p["labels"],
            f(&p["assay"]),
            f(&p["sklearn"])
        );
    }
    if let Some(act) = v["mean_active"].as_array().filter(|x| !x.is_empty()) {
        let pts: Vec<String> = act
            .iter()
            .map(|p| format!("{} → {}", p["labels"], f(&p["accuracy"])))
            .collect();
        println!(
            "active scheduling (retrained every {} labels): {}",
            a.retrain_every,
            pts.join(", ")
        );
        let show = |x: &serde_json::Value| {
            x.as_u64()
                .map_or_else(|| format!("not within {}", a.active_max), |n| n.to_string())
        };
        println!(
            "labels for the {}-random-label accuracy: baseline's {} → {} labels; assay's {} → {} labels",
            a.target_labels,
            f(&v["mean_random"]
                .as_array()
                .and_then(|m| m.iter().find(|p| p["labels"] == a.target_labels))
                .map_or(serde_json::Value::Null, |p| p["sklearn"].clone())),
            show(&v["active_labels_to_sklearn_target"]),
            f(&v["mean_random"]
                .as_array()
                .and_then(|m| m.iter().find(|p| p["labels"] == a.target_labels))
                .map_or(serde_json::Value::Null, |p| p["assay"].clone())),
            show(&v["active_labels_to_assay_target"]),
        );
        let per: Vec<String> = v["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "set {} repeat {}: {} / {}",
                    r["set"],
                    r["repeat"],
                    show(&r["active_to_sklearn"]),
                    show(&r["active_to_assay"])
                )
            })
            .collect();
        println!(
            "  per run (to the run's own baseline / assay target): {}",
            per.join("; ")
        );
    }
    if let Some(e) = v["end_to_end"].as_object() {
        println!(
            "end to end (label import → train_and_store → stored learned_preference): {} (in process {})",
            f(&e["stored_scores"]),
            f(&e["in_process"])
        );
    }
    println!(
        "time: {:.1} s in all; assay training {:.1} s, scikit-learn {:.1} s (machine may be shared)",
        v["seconds"].as_f64().unwrap_or(0.0),
        v["assay_train_s"].as_f64().unwrap_or(0.0),
        v["sklearn_s"].as_f64().unwrap_or(0.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(levels: &[usize]) -> Vec<DistortedItem> {
        levels
            .iter()
            .enumerate()
            .map(|(i, &level)| DistortedItem {
                path: format!("p{i}"),
                photo: 0,
                kind: "blur",
                level,
            })
            .collect()
    }

    #[test]
    fn accuracy_counts_distinct_severities_outside_the_labels() {
        let it = items(&[0, 1, 2, 2]);
        // Perfect order except items 2 and 3 tied (same severity: not counted).
        let (acc, n) = order_accuracy(&it, &[3.0, 2.0, 1.0, 1.0], &HashSet::new());
        assert_eq!((acc, n), (1.0, 5));
        let (acc, n) = order_accuracy(&it, &[3.0, 2.0, 2.0, 1.0], &HashSet::new());
        assert_eq!(n, 5);
        assert!((acc - 0.9).abs() < 1e-12, "one score tie counts ½: {acc}");
        let seen: HashSet<(usize, usize)> = [(0, 1)].into();
        assert_eq!(order_accuracy(&it, &[0.0, 1.0, 0.0, 0.0], &seen).1, 4);
    }

    #[test]
    fn judge_prefers_the_less_distorted_and_flips_at_the_rate() {
        let it = items(&[0, 2, 2]);
        let mut rng = Rng::new(1);
        assert_eq!(judge(&it, 1, 2, 0.1, &mut rng), None, "same severity: tie");
        let flips = (0..10_000)
            .filter(|_| judge(&it, 0, 1, 0.1, &mut rng) == Some(1))
            .count();
        assert!((800..1200).contains(&flips), "{flips}");
        assert_eq!(judge(&it, 1, 0, 0.0, &mut rng), Some(0));
    }
}
