//! The domain-specific scorer use-case (`assay train --from-aesthetic`, the GUI's Train with
//! "start from the aesthetic head"): fine-tune the general aesthetic head on the collection's
//! labels ([`crate::learn::finetune`]), store it as a preference-scorer version whose report
//! compares it with the general predictor and a from-scratch head on the same folds, and
//! activate it only when it beats the general predictor (unless asked to anyway). Stored
//! embeddings are reused, never recomputed; the CLIP weights are not loaded (only the head).

use serde::Serialize;

use super::clip::{self, ClipOptions};
use super::preference::{self, Embeddings, Fitted, PreferenceError, TrainRequest};
use crate::learn::finetune::{self, BaseHead, Control};
use crate::models::clip::aesthetic::AestheticHead;
use crate::store::Store;

type Result<T> = std::result::Result<T, PreferenceError>;

/// What to fine-tune.
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneRequest {
    /// Labels, exclusions, folds, repeats, seed, holdout, curve, `activate`.
    pub train: TrainRequest,
    /// λ grid of the L2-SP penalty toward the head's weights.
    pub l2_sp: Vec<f64>,
    /// λ grid of the from-scratch head.
    pub scratch_l2: Vec<f64>,
    /// Activate even when the fine-tuned head does not beat the general predictor.
    pub activate_anyway: bool,
}

impl Default for FinetuneRequest {
    fn default() -> Self {
        Self {
            train: TrainRequest::default(),
            l2_sp: finetune::SP_GRID.to_vec(),
            scratch_l2: finetune::SCRATCH_GRID.to_vec(),
            activate_anyway: false,
        }
    }
}

/// A stored fine-tuned version.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneOutcome {
    pub id: i64,
    pub version: i64,
    /// Activated, with the number of images scored.
    pub images_scored: Option<usize>,
    /// Why it was not activated, when it was not.
    pub not_activated: Option<String>,
    #[serde(skip)]
    pub fitted: Fitted,
}

/// The general head as an affine map on `model_key`'s normalised embeddings. The ReLU MLP
/// head cannot be fine-tuned this way (its score is not linear in one weight vector).
pub fn base_head(head: &AestheticHead, model_key: &str) -> Result<BaseHead> {
    let Some((w, b)) = head.affine() else {
        return Err(PreferenceError::Usage(format!(
            "{} is a ReLU MLP head: fine-tuning starts from linear heads (sa_0_4_*_linear.pth) or the v2 MLP without activations (*linearMSE.pth)",
            head.files.path.display()
        )));
    };
    Ok(BaseHead {
        name: head.files.key.clone(),
        model: model_key.to_string(),
        weight: w.to_vec(),
        bias: b,
    })
}

/// The head chosen as `assay scan` / `assay embed` would (`--models`, `--model`, `--head`),
/// reading only headers and the head file.
pub fn discover_base(opts: &ClipOptions) -> Result<BaseHead> {
    let loaded = clip::load(opts, &burn::tensor::Device::flex())
        .map_err(|e| PreferenceError::Usage(e.to_string()))?;
    let Some(head) = &loaded.head else {
        return Err(PreferenceError::Usage(format!(
            "no aesthetic head fits the CLIP model {}: pass --aesthetic-head FILE ({})",
            loaded.model.files.name,
            loaded.notes.join("; ")
        )));
    };
    base_head(head, loaded.key())
}

/// Fine-tunes `base` on the catalogue's labels (nothing is written).
pub fn fit(store: &Store, req: &FinetuneRequest, base: &BaseHead) -> Result<Fitted> {
    fit_with_control(store, req, base, &Control::default())
}

/// [`fit`] with progress and cancellation (`control`).
pub fn fit_with_control(
    store: &Store,
    req: &FinetuneRequest,
    base: &BaseHead,
    control: &Control,
) -> Result<Fitted> {
    let only = [base.model.clone()];
    preference::fit_with(
        store,
        &req.train,
        Embeddings::Only(&only),
        |table, labels, _| {
            finetune::finetune(
                table,
                labels,
                base,
                &req.train.options,
                &req.l2_sp,
                &req.scratch_l2,
                control,
            )
        },
    )
}

/// Fine-tunes, stores the version and activates it when it beats the general predictor (or
/// `activate_anyway`), and `req.train.activate` is set.
pub fn finetune_and_store(
    store: &mut Store,
    req: &FinetuneRequest,
    base: &BaseHead,
) -> Result<FinetuneOutcome> {
    finetune_and_store_with_control(store, req, base, &Control::default())
}

/// [`finetune_and_store`] with progress and cancellation (`control`): a cancelled run stores
/// nothing.
pub fn finetune_and_store_with_control(
    store: &mut Store,
    req: &FinetuneRequest,
    base: &BaseHead,
    control: &Control,
) -> Result<FinetuneOutcome> {
    let fitted = fit_with_control(store, req, base, control)?;
    let beats = fitted
        .report
        .comparison
        .as_ref()
        .is_some_and(|c| c.beats_general);
    let not_activated = if !req.train.activate {
        Some("not activated (as asked)".to_string())
    } else if !beats && !req.activate_anyway {
        Some(format!(
            "not activated: it does not beat the general predictor {} on the same held-out labels (activate it with `assay scorers DIR --activate ID` if you want it anyway)",
            base.name
        ))
    } else {
        None
    };
    let (id, version, images_scored) =
        preference::store_fitted(store, &fitted, not_activated.is_none())?;
    Ok(FinetuneOutcome {
        id,
        version,
        images_scored,
        not_activated,
        fitted,
    })
}

/// A written export.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub id: i64,
    pub version: i64,
    pub head: std::path::PathBuf,
    pub sidecar: std::path::PathBuf,
    pub dim: usize,
}

/// The JSON sidecar of an export: `F.json` beside `F`.
pub fn sidecar_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    s.into()
}

/// Writes scorer `id` (default: the active one) in the LAION v1 layout (`weight` `[1, d]`,
/// `bias` `[1]`, `.safetensors`) with a JSON sidecar (base head and CLIP model, labels used,
/// held-out agreement of the three arms, date). Only fine-tuned heads
/// (`--from-aesthetic`) have that form; `assay scan --head F` loads the file back and its
/// `aesthetic` values equal the `learned_preference` this version stored. Never overwrites.
pub fn export(store: &Store, id: Option<i64>, path: &std::path::Path) -> Result<Exported> {
    let row = match id {
        Some(id) => store.scorer(id)?,
        None => store.active_scorer()?,
    }
    .ok_or_else(|| {
        PreferenceError::Usage(match id {
            Some(id) => format!("no scorer with id {id}"),
            None => "no active scorer to export: pass --id".into(),
        })
    })?;
    let model = preference::parse_model(&row)?;
    let Some((emb_model, weight, bias)) = finetune::affine_of(&model) else {
        return Err(PreferenceError::Usage(format!(
            "scorer {} (v{}) is not a fine-tuned aesthetic head; only scorers trained with `assay train --from-aesthetic` can be written in the LAION layout",
            row.id, row.version
        )));
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let pth = match ext.as_deref() {
        Some("safetensors") => false,
        Some("pth") => true,
        _ => {
            return Err(PreferenceError::Usage(format!(
                "{}: the export is a .safetensors or a .pth file",
                path.display()
            )));
        }
    };
    let sidecar = sidecar_path(path);
    for p in [path, sidecar.as_path()] {
        if p.exists() {
            return Err(PreferenceError::Usage(format!(
                "{} exists; choose another name (exports never overwrite)",
                p.display()
            )));
        }
    }
    let metrics: serde_json::Value = row
        .metrics
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let training: serde_json::Value = row
        .training
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let cmp = &metrics["comparison"];
    let arm = |k: &str| {
        serde_json::json!({
            "accuracy": cmp[k]["accuracy"], "interval": cmp[k]["interval"],
            "pairs": cmp[k]["pairs"], "spec": cmp[k]["spec"],
        })
    };
    let side = serde_json::json!({
        "format": "assay-aesthetic-head/1",
        "layout": "LAION aesthetic-predictor v1: Linear(d, 1), keys weight [1, d] and bias [1], on the L2-normalised CLIP image embedding",
        "scorer": {"id": row.id, "version": row.version, "created": row.created},
        "base_head": cmp["base"]["name"],
        "base_model": emb_model,
        "labels": {
            "criterion": training["criterion"], "events": training["events"],
            "by_protocol": training["by_protocol"], "raters": training["raters"],
            "time_range": training["time_range"],
        },
        "held_out_agreement": {
            "method": cmp["method"],
            "general": arm("general"), "from_scratch": arm("scratch"), "fine_tuned": arm("finetuned"),
            "beats_general": cmp["beats_general"],
        },
        "exported": crate::store::format_unix_ms(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        ),
    });
    let meta: std::collections::BTreeMap<String, String> = [
        ("format".to_string(), "assay-aesthetic-head/1".to_string()),
        ("base_model".to_string(), emb_model.clone()),
        (
            "base_head".to_string(),
            cmp["base"]["name"].as_str().unwrap_or("").to_string(),
        ),
        ("assay_scorer_version".to_string(), row.version.to_string()),
    ]
    .into();
    let bytes = if pth {
        crate::models::clip::aesthetic::linear_head_pth(&weight, bias)
    } else {
        crate::models::clip::aesthetic::linear_head_safetensors(&weight, bias, &meta)
    };
    let io = |p: &std::path::Path, e: std::io::Error| {
        PreferenceError::Usage(format!("cannot write {}: {e}", p.display()))
    };
    std::fs::write(&sidecar, serde_json::to_vec_pretty(&side)?).map_err(|e| io(&sidecar, e))?;
    std::fs::write(path, bytes).map_err(|e| io(path, e))?;
    Ok(Exported {
        id: row.id,
        version: row.version,
        head: path.to_path_buf(),
        sidecar,
        dim: weight.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::human::Payload;
    use crate::learn::finetune::{normalized, sim};
    use crate::learn::{HeadChoice, TrainOptions};
    use crate::ranking::rng::Rng;
    use crate::store::NewLabelEvent;

    const KEY: &str = "clip:ViT-L-14@test";

    fn head() -> AestheticHead {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/clip_tiny/heads/tiny-l14-linearMSE.pth"
        );
        AestheticHead::load(std::path::Path::new(p)).unwrap()
    }

    /// 80 images with 768-d embeddings; pairwise labels from a taste `angle` degrees away
    /// from `head`'s.
    fn collection(head: &AestheticHead, angle: f64, n_labels: usize) -> Store {
        let n = 80;
        let mut s = Store::open_in_memory().unwrap();
        let recs: Vec<_> = (0..n)
            .map(|i| crate::store::new_image(&format!("i{i:02}.png")))
            .collect();
        let ids = s.write_ingest(&recs).unwrap();
        let mut rng = Rng::new(3);
        let vecs: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                (0..768)
                    .map(|j| (if j % 5 == 0 { 0.5 } else { 0.0 }) + (rng.next_f64() - 0.5) as f32)
                    .collect()
            })
            .collect();
        s.set_embeddings(
            &ids.iter()
                .zip(&vecs)
                .map(|(&id, v)| (id, KEY.to_string(), v.clone()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let x: Vec<Vec<f64>> = vecs.iter().map(|v| normalized(v)).collect();
        let (w0, _) = head.affine().unwrap();
        let taste = sim::domain_taste(&x, w0, angle.to_radians(), 9);
        let truth: Vec<f64> = x
            .iter()
            .map(|r| taste.iter().zip(r).map(|(a, b)| a * b).sum())
            .collect();
        let events: Vec<NewLabelEvent> = sim::pairs(&truth, n_labels, 0.2, 4, 0)
            .iter()
            .map(|p| {
                let (a, b) = (format!("i{:02}.png", p.a), format!("i{:02}.png", p.b));
                let payload = Payload {
                    criterion: "overall".into(),
                    items: vec![a.clone(), b.clone()],
                    hashes: vec![],
                    order: vec![a.clone(), b.clone()],
                    choice: Some(if p.target > 0.5 { a } else { b }),
                    rating: None,
                    ratings: None,
                    response_ms: None,
                    attention_check: false,
                };
                NewLabelEvent {
                    uid: format!("e{}", p.event),
                    time: None,
                    rater: "r".into(),
                    session: "s".into(),
                    protocol: crate::domain::Protocol::Pairwise,
                    payload: serde_json::to_string(&payload).unwrap(),
                }
            })
            .collect();
        s.append_label_events(&events).unwrap();
        s
    }

    fn request() -> FinetuneRequest {
        FinetuneRequest {
            train: TrainRequest {
                options: TrainOptions {
                    head: HeadChoice::Linear,
                    folds: 4,
                    repeats: 1,
                    bootstrap: 200,
                    curve: false,
                    ..TrainOptions::default()
                },
                ..TrainRequest::default()
            },
            ..FinetuneRequest::default()
        }
    }

    #[test]
    fn a_fine_tuned_head_is_activated_exported_and_reproduced_by_the_head_loader() {
        let h = head();
        let mut s = collection(&h, 60.0, 400);
        let base = base_head(&h, KEY).unwrap();
        let out = finetune_and_store(&mut s, &request(), &base).unwrap();
        let c = out.fitted.report.comparison.as_ref().unwrap();
        assert!(c.beats_general, "{}", c.verdict);
        assert_eq!(out.images_scored, Some(80), "{:?}", out.not_activated);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("domain-aesthetic.safetensors");
        let e = export(&s, None, &f).unwrap();
        assert_eq!((e.id, e.dim), (out.id, 768));
        let side: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&e.sidecar).unwrap()).unwrap();
        assert_eq!(side["base_model"], KEY);
        assert_eq!(side["labels"]["events"], 400);
        assert!(
            side["held_out_agreement"]["fine_tuned"]["accuracy"]
                .as_f64()
                .unwrap()
                > 0.5
        );
        // Exports never overwrite.
        assert!(export(&s, None, &f).is_err());
        // The file loads through the same loader as `assay scan --head F`, and scores every
        // stored vector as the stored `learned_preference`.
        let loaded = AestheticHead::load(&f).unwrap();
        let vectors = s.embedding_vectors(KEY).unwrap();
        let stored = s.signal_vectors(&["learned_preference"]).unwrap();
        let mut worst = 0f64;
        for (path, v) in &stored {
            let want = v[0].unwrap();
            let got = loaded.score(&vectors[path]).unwrap();
            worst = worst.max((got - want).abs());
        }
        assert_eq!(stored.len(), 80);
        assert!(worst < 1e-5, "worst difference {worst}");
        // The same head as a PyTorch .pth (LAION's / ComfyUI's `torch.load`) reproduces them too.
        let f = dir.path().join("domain-aesthetic.pth");
        let e = export(&s, None, &f).unwrap();
        assert!(e.sidecar.exists());
        let loaded = AestheticHead::load(&f).unwrap();
        let mut worst = 0f64;
        for (path, v) in &stored {
            worst = worst.max((loaded.score(&vectors[path]).unwrap() - v[0].unwrap()).abs());
        }
        assert!(worst < 1e-5, "worst difference (.pth) {worst}");
    }

    #[test]
    fn a_head_that_does_not_beat_the_general_one_is_not_activated() {
        let h = head();
        // The raters follow the general head itself; the penalty keeps the fine-tuned head on
        // it, so it cannot be better.
        let mut s = collection(&h, 0.0, 120);
        let base = base_head(&h, KEY).unwrap();
        let req = FinetuneRequest {
            l2_sp: vec![1e9],
            ..request()
        };
        let out = finetune_and_store(&mut s, &req, &base).unwrap();
        let c = out.fitted.report.comparison.as_ref().unwrap();
        assert!(!c.beats_general, "{}", c.verdict);
        assert_eq!(out.images_scored, None);
        assert!(out.not_activated.unwrap().contains("does not beat"));
        assert!(s.active_scorer().unwrap().is_none());
        // Stored all the same, and exportable by id; a from-scratch scorer is not.
        let dir = tempfile::tempdir().unwrap();
        assert!(export(&s, Some(out.id), &dir.path().join("a.safetensors")).is_ok());
        assert!(export(&s, Some(out.id), &dir.path().join("a.bin")).is_err());
        let anyway = finetune_and_store(
            &mut s,
            &FinetuneRequest {
                activate_anyway: true,
                ..req
            },
            &base,
        )
        .unwrap();
        assert_eq!(anyway.images_scored, Some(80));
    }

    #[test]
    fn relu_heads_and_missing_embeddings_are_usage_errors() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/clip_tiny/heads/tiny-l14-reluMSE.pth"
        );
        let relu = AestheticHead::load(std::path::Path::new(p)).unwrap();
        assert!(matches!(
            base_head(&relu, KEY),
            Err(PreferenceError::Usage(_))
        ));
        let h = head();
        let s = collection(&h, 30.0, 50);
        let other = base_head(&h, "clip:other").unwrap();
        let e = fit(&s, &request(), &other).unwrap_err();
        assert!(e.to_string().contains("assay embed"), "{e}");
    }
}
