//! `assay train DIR` (fit, evaluate, version and activate a preference scorer) and
//! `assay scorers DIR` (list versions with their metrics; `--activate ID` or `--rollback`).
//! Parsing and printing only: the use-cases are `pipeline::preference`.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::label::open_catalogue;
use super::{ListFormat, UsageError};
use crate::human::attention;
use crate::learn::{HeadChoice, TrainOptions};
use crate::models::backend::BackendChoice;
use crate::pipeline::clip::ClipOptions;
use crate::pipeline::finetune::{self, FinetuneRequest};
use crate::pipeline::finetune_bench;
use crate::pipeline::preference::{self, PreferenceError, TrainRequest};

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
    let out = preference::train_and_store(&mut store, &req).map_err(cli_error)?;
    let v = json!({
        "scorer": {"id": out.id, "version": out.version, "active": out.images_scored.is_some(),
                   "images_scored": out.images_scored},
        "training": out.fitted.training,
        "metrics": out.fitted.report,
    });
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        ListFormat::Text => print_train(&v),
    }
    Ok(0)
}

fn fmt_acc(v: &Value) -> String {
    match v["accuracy"].as_f64() {
        Some(x) => {
            let iv = v["interval"]
                .as_array()
                .and_then(|i| {
                    Some(format!(
                        " [{:.3}, {:.3}]",
                        i.first()?.as_f64()?,
                        i.get(1)?.as_f64()?
                    ))
                })
                .unwrap_or_default();
            format!("{x:.3}{iv} on {} pairs", v["pairs"])
        }
        None => "n/a".to_string(),
    }
}

fn print_train(o: &Value) {
    let (s, t, m) = (&o["scorer"], &o["training"], &o["metrics"]);
    println!(
        "preference scorer v{} (id {}): {}; {} features; {}",
        s["version"],
        s["id"],
        m["chosen"]["head"].as_str().map_or("?", |h| if h == "mlp" {
            "MLP head"
        } else {
            "linear head"
        }),
        m["features"],
        if s["active"].as_bool() == Some(true) {
            format!("active, {} images scored", s["images_scored"])
        } else {
            "not activated".to_string()
        }
    );
    println!(
        "labels: {} events {} from {} raters, {} – {}",
        t["events"],
        t["by_protocol"],
        t["raters"].as_array().map_or(0, Vec::len),
        t["time_range"][0].as_str().unwrap_or("?"),
        t["time_range"][1].as_str().unwrap_or("?")
    );
    if let Some(ex) = t["raters_excluded"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<&str> = ex.iter().filter_map(Value::as_str).collect();
        println!(
            "left out: {} events of raters below the attention threshold ({}); --include-unreliable keeps them",
            t["events_of_excluded_raters"],
            names.join(", ")
        );
    }
    let c = &m["chosen"];
    println!(
        "chosen: {} head, λ = {}, features: {}",
        c["head"].as_str().unwrap_or("?"),
        c["l2"],
        c["features"].as_str().unwrap_or("?")
    );
    let est = &m["estimate"];
    let source = est["source"].as_str().unwrap_or("estimate");
    println!("pairwise accuracy ({source}): {}", fmt_acc(est));
    if !m["heldout"].is_null() {
        println!("held-out pairwise accuracy: {}", fmt_acc(&m["heldout"]));
    }
    let sp = &m["split"];
    println!(
        "stored scorer: refitted on {} events ({} pairs), {} held out; {} pairs dropped (items without features)",
        sp["training_events"], sp["training_pairs"], sp["heldout_events"], sp["dropped_pairs"]
    );
    println!(
        "training pairwise accuracy: {}",
        fmt_acc(&m["train_accuracy"])
    );
    if let Some(l) = m["likert_spearman"].as_object() {
        match l.get("rho").and_then(Value::as_f64) {
            Some(r) => println!(
                "Spearman ρ vs Likert ratings (out of fold): {r:.3} over {} items",
                l["items"]
            ),
            None => println!(
                "Spearman ρ vs Likert ratings: n/a ({})",
                l.get("note").and_then(Value::as_str).unwrap_or("")
            ),
        }
    }
    if let Some(c) = m["learning_curve"].as_array().filter(|c| !c.is_empty()) {
        let pts: Vec<String> = c
            .iter()
            .map(|p| {
                format!(
                    "{} → {:.3}",
                    p["training_events"],
                    p["accuracy"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!(
            "learning curve (training events → cross-validated accuracy): {}",
            pts.join(", ")
        );
    }
    println!("method: {}", m["method"].as_str().unwrap_or(""));
    for n in m["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or(""));
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
    let switched = if a.rollback {
        Some(preference::rollback(&mut store).map_err(cli_error)?)
    } else if let Some(id) = a.activate {
        Some(preference::activate(&mut store, id).map_err(|e| {
            match e {
                PreferenceError::Usage(m) if m.starts_with("no scorer") => UsageError(format!(
                    "{m}; `assay scorers {}` lists them",
                    a.dir.display()
                ))
                .into(),
                e => cli_error(e),
            }
        })?)
    } else {
        None
    };
    let list: Vec<Value> = store
        .scorers()?
        .into_iter()
        .map(|r| {
            let metrics: Value = r.metrics.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
            let training: Value = r.training.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null);
            let head = metrics["chosen"]["head"].clone();
            let head = if head.is_null() { metrics["head"].clone() } else { head };
            let h = preference::headline(&metrics);
            json!({
                "id": r.id, "kind": r.kind, "version": r.version, "active": r.active, "created": r.created,
                "head": head, "accuracy": h["accuracy"], "accuracy_source": h["source"],
                "accuracy_pairs": h["pairs"], "training_pairs": metrics["split"]["training_pairs"],
                "events": training["events"], "raters": training["raters"].as_array().map(Vec::len),
                "metrics": metrics, "training": training,
            })
        })
        .collect();
    let log: Vec<Value> = store
        .scorer_log()?
        .into_iter()
        .map(|l| json!({"id": l.id, "scorer": l.scorer_id, "previous": l.previous, "action": l.action, "time": l.time}))
        .collect();
    match a.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"switched": switched, "scorers": list, "log": log})
            )?
        ),
        ListFormat::Text => {
            if let Some(s) = &switched {
                println!(
                    "{} scorer {} (v{}): {} images rescored",
                    s.action, s.id, s.version, s.images_scored
                );
            }
            if list.is_empty() {
                println!(
                    "no scorers yet; train one with `assay train {}`",
                    a.dir.display()
                );
            }
            println!(
                "  id  version  head    active   accuracy  training  created                   events/raters"
            );
            for s in &list {
                println!(
                    "{:>4}  {:>7}  {:<6}  {:>6}  {:>9}  {:>8}  {:<24}  {}/{}",
                    s["id"].to_string(),
                    s["version"].to_string(),
                    s["head"].as_str().unwrap_or("?"),
                    if s["active"].as_bool() == Some(true) {
                        "*"
                    } else {
                        ""
                    },
                    s["accuracy"]
                        .as_f64()
                        .map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}")),
                    s["training_pairs"].to_string(),
                    s["created"].as_str().unwrap_or(""),
                    s["events"],
                    s["raters"]
                );
            }
            for l in &log {
                println!(
                    "log {}: {} scorer {} (before: {}) at {}",
                    l["id"],
                    l["action"].as_str().unwrap_or(""),
                    l["scorer"],
                    l["previous"]
                        .as_i64()
                        .map_or_else(|| "none".to_string(), |v| v.to_string()),
                    l["time"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(0)
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
    let base = finetune::discover_base(&clip).map_err(cli_error)?;
    let d = FinetuneRequest::default();
    let req = FinetuneRequest {
        train,
        l2_sp: a.l2_sp.clone().unwrap_or(d.l2_sp),
        activate_anyway: a.activate_anyway,
        ..d
    };
    let out = finetune::finetune_and_store(store, &req, &base).map_err(cli_error)?;
    let v = json!({
        "scorer": {"id": out.id, "version": out.version, "active": out.images_scored.is_some(),
                   "images_scored": out.images_scored, "not_activated": out.not_activated},
        "training": out.fitted.training,
        "metrics": out.fitted.report,
    });
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        ListFormat::Text => {
            print_train(&v);
            print_comparison(&v["metrics"]["comparison"]);
            if let Some(n) = out.not_activated {
                println!("{n}");
            }
        }
    }
    Ok(0)
}

fn print_comparison(c: &Value) {
    println!("held-out agreement on the same folds (cross-validated, 95 % intervals):");
    for (k, name) in [
        ("general", "general head"),
        ("scratch", "from scratch"),
        ("finetuned", "fine-tuned"),
    ] {
        println!(
            "  {name:<13} {}  (λ = {})",
            fmt_acc(&c[k]),
            c[k]["spec"]["l2"]
        );
    }
    println!("{}", c["verdict"].as_str().unwrap_or(""));
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
