//! `assay train DIR` (fit, evaluate, version and activate a preference scorer) and
//! `assay scorers DIR` (list versions with their metrics; `--activate ID` or `--rollback`).
//! Parsing and printing only: the use-cases are `pipeline::scorers` (over `pipeline::preference`
//! and `pipeline::finetune`), whose typed reports this file prints.

use std::path::PathBuf;

use serde_json::Value;

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::human::attention;
use crate::learn::finetune::Comparison;
use crate::learn::{Accuracy, Head, HeadChoice, Report, TrainOptions};
use crate::models::backend::BackendChoice;
use crate::pipeline::clip::ClipOptions;
use crate::pipeline::finetune::{self, FinetuneRequest};
use crate::pipeline::finetune_bench;
use crate::pipeline::preference::{PreferenceError, TrainRequest, TrainingSummary};
use crate::pipeline::scorers::{self, ScorerState, ScorersAction, ScorersReport};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Heads compared by cross-validation (auto: linear and MLP).
    #[arg(long, value_enum, default_value_t = HeadChoice::Auto)]
    pub head: HeadChoice,
    /// L2 strengths tried for the linear head (λ of mean loss + λ‖w‖²), comma-separated;
    /// default 1e-4 … 1 in half-decade steps.
    #[arg(long, value_delimiter = ',')]
    pub l2: Option<Vec<f64>>,
    /// L2 strengths (weight decay) tried for the MLP head, comma-separated (default 1e-3,1e-2).
    #[arg(long, value_delimiter = ',')]
    pub mlp_l2: Option<Vec<f64>>,
    /// Cross-validation folds (by labelled event) and repeats.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Share of label events kept away from selection and refit as an independent check
    /// (0: every label trains the stored scorer).
    #[arg(long, default_value_t = 0.0)]
    pub holdout: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "overall")]
    pub criterion: String,
    /// Hidden units of the MLP head.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Adam learning rate and full-batch epochs of the MLP head.
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    #[arg(long, default_value_t = 300, alias = "max-epochs")]
    pub epochs: usize,
    /// Do not try stored embeddings (their principal components) as features.
    #[arg(long)]
    pub no_embeddings: bool,
    /// Skip the learning curve (it refits on growing subsets of every fold).
    #[arg(long)]
    pub no_curve: bool,
    /// Record the scorer without making it active.
    #[arg(long)]
    pub no_activate: bool,
    /// Keep the events of raters whose attention-check pass rate is below 80 %.
    #[arg(long)]
    pub include_unreliable: bool,
    /// Where the MLP head trains: cpu (burn flex, the default), flex, wgpu, auto.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// Fine-tune the general aesthetic head (the one `assay scan` / `assay embed` use) on the
    /// labels, from its weights (Bradley–Terry loss + L2-SP toward them, strength by
    /// cross-validation), and compare it with the head itself and a head from scratch on the
    /// same folds; activated only when it beats the general head.
    #[arg(long)]
    pub from_aesthetic: bool,
    /// With --from-aesthetic: the head file (default: discovered for the model).
    #[arg(long, requires = "from_aesthetic")]
    pub aesthetic_head: Option<PathBuf>,
    /// With --from-aesthetic: folder searched first for CLIP weights and heads.
    #[arg(long, requires = "from_aesthetic")]
    pub models: Option<PathBuf>,
    /// With --from-aesthetic: the CLIP model (path, name or architecture) whose embeddings
    /// the head reads.
    #[arg(long, requires = "from_aesthetic")]
    pub model: Option<String>,
    /// With --from-aesthetic: L2-SP strengths (λ of mean loss + λ‖w − w₀‖²), comma-separated;
    /// default 1e-6 … 100 in decades.
    #[arg(long, value_delimiter = ',', requires = "from_aesthetic")]
    pub l2_sp: Option<Vec<f64>>,
    /// With --from-aesthetic: activate even when it does not beat the general head.
    #[arg(long, requires = "from_aesthetic")]
    pub activate_anyway: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// `assay bench finetune`.
#[derive(Debug, clap::Args)]
pub struct BenchFinetuneArgs {
    /// The tiny test CLIP (run from the repository root).
    #[arg(long, default_value = "tests/data/clip_tiny/hf")]
    pub clip: PathBuf,
    #[arg(long, default_value_t = 600)]
    pub images: usize,
    /// Angle between the general head's taste and the domain's, degrees.
    #[arg(long, default_value_t = 45.0)]
    pub angle: f64,
    /// Rater noise: temperature of the simulated Bradley–Terry labels (taste spread 1).
    #[arg(long, default_value_t = 0.3)]
    pub noise: f64,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,100,200,500,1000,2000"
    )]
    pub labels: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    #[arg(long, default_value_t = 4000)]
    pub test_pairs: usize,
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct ScorersArgs {
    pub dir: PathBuf,
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Make this scorer (by id) the active one and rescore every image with it.
    #[arg(long, conflicts_with = "rollback")]
    pub activate: Option<i64>,
    /// Go back to the scorer that was active before the current one.
    #[arg(long)]
    pub rollback: bool,
    /// Write a fine-tuned scorer (the active one, or --scorer ID) as a LAION-layout head
    /// (`.safetensors`, or `.pth` for `torch.load`; both load with `assay scan --head F`) with a JSON sidecar `F.json`.
    #[arg(long, conflicts_with_all = ["rollback", "activate"])]
    pub export: Option<PathBuf>,
    /// With --export: the scorer to write (default: the active one).
    #[arg(long, requires = "export")]
    pub scorer: Option<i64>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

impl TrainArgs {
    /// The request these arguments describe.
    pub fn request(&self) -> TrainRequest {
        let d = TrainOptions::default();
        TrainRequest {
            criterion: self.criterion.clone(),
            options: TrainOptions {
                head: self.head,
                l2: self.l2.clone().unwrap_or(d.l2),
                mlp_l2: self.mlp_l2.clone().unwrap_or(d.mlp_l2),
                hidden: self.hidden,
                lr: self.lr,
                epochs: self.epochs,
                folds: self.folds,
                repeats: self.repeats,
                holdout: self.holdout,
                seed: self.seed,
                curve: !self.no_curve,
                embeddings: !self.no_embeddings,
                ..d
            },
            include_unreliable: self.include_unreliable,
            threshold: attention::DEFAULT_THRESHOLD,
            activate: !self.no_activate,
            backend: self.backend,
        }
    }
}

/// User-fixable failures become usage errors (exit 1).
fn cli_error(e: PreferenceError) -> anyhow::Error {
    match e {
        PreferenceError::Usage(m) => UsageError(m).into(),
        e => e.into(),
    }
}

pub fn train(a: &TrainArgs) -> anyhow::Result<u8> {
    let req = a.request();
    req.options.validate().map_err(|e| {
        UsageError(format!(
            "{e} (see --holdout, --l2, --folds, --hidden, --epochs, --lr)"
        ))
    })?;
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    if a.from_aesthetic {
        return train_from_aesthetic(a, req, &mut store);
    }
    let r = scorers::train(&mut store, &req).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => print_train(&r.scorer, &r.training, &r.metrics),
    }
    Ok(0)
}

/// A number as the JSON output writes it (`null` when not finite).
fn json_number(x: f64) -> String {
    Value::from(x).to_string()
}

/// An accuracy with its interval and pairs, `n/a` when it is not finite (null in the JSON).
fn fmt_acc(accuracy: f64, interval: Option<(f64, f64)>, pairs: usize) -> String {
    if !accuracy.is_finite() {
        return "n/a".to_string();
    }
    let iv = interval
        .filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
        .map(|(lo, hi)| format!(" [{lo:.3}, {hi:.3}]"))
        .unwrap_or_default();
    format!("{accuracy:.3}{iv} on {pairs} pairs")
}

/// [`fmt_acc`] of an [`Accuracy`], `n/a` without one.
fn fmt_accuracy(a: Option<&Accuracy>) -> String {
    a.map_or_else(
        || "n/a".to_string(),
        |a| fmt_acc(a.accuracy, a.interval, a.pairs),
    )
}

/// `linear` / `mlp`.
fn head_name(h: Head) -> &'static str {
    match h {
        Head::Linear => "linear",
        Head::Mlp => "mlp",
    }
}

fn print_train(s: &ScorerState, t: &TrainingSummary, m: &Report) {
    println!(
        "preference scorer v{} (id {}): {}; {} features; {}",
        s.version,
        s.id,
        match m.chosen.head {
            Head::Mlp => "MLP head",
            Head::Linear => "linear head",
        },
        m.features,
        match s.images_scored {
            Some(n) if s.active => format!("active, {n} images scored"),
            _ => "not activated".to_string(),
        }
    );
    println!(
        "labels: {} events {} from {} raters, {} – {}",
        t.events,
        serde_json::to_string(&t.by_protocol).unwrap_or_default(),
        t.raters.len(),
        t.time_range.0.as_deref().unwrap_or("?"),
        t.time_range.1.as_deref().unwrap_or("?")
    );
    if !t.raters_excluded.is_empty() {
        println!(
            "left out: {} events of raters below the attention threshold ({}); --include-unreliable keeps them",
            t.events_of_excluded_raters,
            t.raters_excluded.join(", ")
        );
    }
    let c = &m.chosen;
    println!(
        "chosen: {} head, λ = {}, features: {}",
        head_name(c.head),
        json_number(c.l2),
        c.features
    );
    let est = m.estimate.as_ref();
    let source = est.map_or("estimate", |e| e.source.as_str());
    println!(
        "pairwise accuracy ({source}): {}",
        est.map_or_else(
            || "n/a".to_string(),
            |e| fmt_acc(e.accuracy, e.interval, e.pairs)
        )
    );
    if m.heldout.is_some() {
        println!(
            "held-out pairwise accuracy: {}",
            fmt_accuracy(m.heldout.as_ref())
        );
    }
    let sp = &m.split;
    println!(
        "stored scorer: refitted on {} events ({} pairs), {} held out; {} pairs dropped (items without features)",
        sp.training_events, sp.training_pairs, sp.heldout_events, sp.dropped_pairs
    );
    println!(
        "training pairwise accuracy: {}",
        fmt_accuracy(m.train_accuracy.as_ref())
    );
    print_train_tail(m);
}

/// The Likert correlation, learning curve, method and notes of a training report.
fn print_train_tail(m: &Report) {
    if let Some(l) = &m.likert_spearman {
        match l.rho.filter(|r| r.is_finite()) {
            Some(r) => println!(
                "Spearman ρ vs Likert ratings (out of fold): {r:.3} over {} items",
                l.items
            ),
            None => println!(
                "Spearman ρ vs Likert ratings: n/a ({})",
                l.note.as_deref().unwrap_or("")
            ),
        }
    }
    if !m.learning_curve.is_empty() {
        let pts: Vec<String> = m
            .learning_curve
            .iter()
            .map(|p| {
                let acc = if p.accuracy.is_finite() {
                    p.accuracy
                } else {
                    f64::NAN
                };
                format!("{} → {acc:.3}", p.training_events)
            })
            .collect();
        println!(
            "learning curve (training events → cross-validated accuracy): {}",
            pts.join(", ")
        );
    }
    println!("method: {}", m.method);
    for n in &m.notes {
        println!("note: {n}");
    }
}

pub fn scorers(a: &ScorersArgs) -> anyhow::Result<u8> {
    let mut store = open_catalogue(&a.dir, a.db.as_deref())?;
    if let Some(f) = &a.export {
        let e = finetune::export(&store, a.scorer, f).map_err(cli_error)?;
        match a.format {
            ListFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
            ListFormat::Text => println!(
                "scorer {} (v{}): {}-d head written to {} (LAION v1 layout), sidecar {}",
                e.id,
                e.version,
                e.dim,
                e.head.display(),
                e.sidecar.display()
            ),
        }
        return Ok(0);
    }
    let action = if a.rollback {
        ScorersAction::Rollback
    } else if let Some(id) = a.activate {
        ScorersAction::Activate(id)
    } else {
        ScorersAction::List
    };
    let r = scorers::scorers(&mut store, action).map_err(|e| match e {
        PreferenceError::Usage(m)
            if matches!(action, ScorersAction::Activate(_)) && m.starts_with("no scorer") =>
        {
            UsageError(format!(
                "{m}; `assay scorers {}` lists them",
                a.dir.display()
            ))
            .into()
        }
        e => cli_error(e),
    })?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => print_scorers(&r, a),
    }
    Ok(0)
}

fn print_scorers(r: &ScorersReport, a: &ScorersArgs) {
    if let Some(s) = &r.switched {
        println!(
            "{} scorer {} (v{}): {} images rescored",
            s.action, s.id, s.version, s.images_scored
        );
    }
    if r.scorers.is_empty() {
        println!(
            "no scorers yet; train one with `assay train {}`",
            a.dir.display()
        );
    }
    println!(
        "  id  version  head    active   accuracy  training  created                   events/raters"
    );
    for s in &r.scorers {
        let raters = s
            .raters
            .map_or_else(|| "null".to_string(), |n| n.to_string());
        println!(
            "{:>4}  {:>7}  {:<6}  {:>6}  {:>9}  {:>8}  {:<24}  {}/{raters}",
            s.id,
            s.version,
            s.head.as_str().unwrap_or("?"),
            if s.active { "*" } else { "" },
            s.accuracy
                .as_f64()
                .map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}")),
            s.training_pairs.to_string(),
            s.created,
            s.events,
        );
    }
    for l in &r.log {
        println!(
            "log {}: {} scorer {} (before: {}) at {}",
            l.id,
            l.action,
            l.scorer,
            l.previous
                .map_or_else(|| "none".to_string(), |v| v.to_string()),
            l.time
        );
    }
}

fn train_from_aesthetic(
    a: &TrainArgs,
    train: TrainRequest,
    store: &mut crate::store::Store,
) -> anyhow::Result<u8> {
    let clip = ClipOptions {
        models: a.models.clone(),
        model: a.model.clone(),
        head: a.aesthetic_head.clone(),
        ..ClipOptions::default()
    };
    let d = FinetuneRequest::default();
    let req = FinetuneRequest {
        train,
        l2_sp: a.l2_sp.clone().unwrap_or(d.l2_sp),
        activate_anyway: a.activate_anyway,
        ..d
    };
    let r = scorers::train_from_aesthetic(store, &req, &clip).map_err(cli_error)?;
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&r)?)?
        ),
        ListFormat::Text => {
            print_train(&r.scorer.state, &r.training, &r.metrics);
            print_comparison(r.metrics.comparison.as_ref());
            if let Some(n) = &r.scorer.not_activated {
                println!("{n}");
            }
        }
    }
    Ok(0)
}

fn print_comparison(c: Option<&Comparison>) {
    println!("held-out agreement on the same folds (cross-validated, 95 % intervals):");
    let arms = c.map(|c| [&c.general, &c.scratch, &c.finetuned]);
    for (i, name) in ["general head", "from scratch", "fine-tuned"]
        .into_iter()
        .enumerate()
    {
        let arm = arms.map(|a| a[i]);
        println!(
            "  {name:<13} {}  (λ = {})",
            arm.map_or_else(
                || "n/a".to_string(),
                |a| fmt_acc(a.accuracy, a.interval, a.pairs)
            ),
            arm.map_or_else(|| "null".to_string(), |a| json_number(a.spec.l2))
        );
    }
    println!("{}", c.map_or("", |c| c.verdict.as_str()));
}

pub fn bench_finetune(a: &BenchFinetuneArgs) -> anyhow::Result<u8> {
    let o = finetune_bench::BenchOptions {
        clip: a.clip.clone(),
        images: a.images,
        angle: a.angle,
        noise: a.noise,
        labels: a.labels.clone(),
        repeats: a.repeats,
        test_pairs: a.test_pairs,
        folds: a.folds,
        seed: a.seed,
    };
    let r = finetune_bench::run(&o, |done, total| eprint!("\rfits {done}/{total}"))
        .map_err(UsageError)?;
    eprintln!();
    if let ListFormat::Json = a.format {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(0);
    }
    println!(
        "simulated domain: {} images ({}-d tiny CLIP), taste {}° from the general head, rater noise {}; {} test pairs of unseen images; {} repeat(s); oracle (the taste itself) {:.3}",
        r.images, r.dim, r.angle, r.noise, r.test_pairs, r.repeats, r.oracle
    );
    println!(
        "{:>6}  {:>22}  {:>22}  {:>22}  {:>9}  {:>9}",
        "labels", "general", "from scratch", "fine-tuned", "activated", "not worse"
    );
    let cell = |p: &finetune_bench::ArmPoint| {
        format!(
            "{:.3} [{:.3}, {:.3}]",
            p.accuracy, p.interval.0, p.interval.1
        )
    };
    for row in &r.rows {
        println!(
            "{:>6}  {:>22}  {:>22}  {:>22}  {:>9}  {:>9}",
            row.labels,
            cell(&row.general),
            cell(&row.scratch),
            cell(&row.finetuned),
            format!("{}/{}", row.activated, r.repeats),
            if row.not_worse { "yes" } else { "NO" }
        );
    }
    println!(
        "targets: fine-tuned not worse than general and from scratch at every count: {}; at 1,000 labels fine-tuned − general = {}",
        if r.target_not_worse { "met" } else { "NOT met" },
        r.gain_at_1000.map_or_else(
            || "not measured".to_string(),
            |g| format!("{:+.1} points (target +10)", 100.0 * g)
        )
    );
    println!(
        "time: embedding {:.1} s, fitting {:.1} s",
        r.seconds_embedding, r.seconds_training
    );
    Ok(0)
}
