//! `assay models`: the CLIP weights, aesthetic heads and judges (HPSv2, PickScore: CLIP
//! checkpoints marked by their names, `models::clip::judge`) found on disk (nothing is
//! downloaded) and the signals they enable.

use std::path::PathBuf;

use serde::Serialize;

use super::ListFormat;
use crate::models::clip::aesthetic::HeadFiles;
use crate::models::clip::discover::{self, FoundModel};

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Folder searched first (before $ASSAY_MODELS, models/ next to the binary, the user data
    /// dir and the Hugging Face cache).
    #[arg(long)]
    pub models: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Serialize)]
struct ModelOut<'a> {
    #[serde(flatten)]
    model: &'a FoundModel,
    root: String,
    /// Signals this model enables (with a fitting head for `aesthetic`).
    signals: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Out<'a> {
    searched: Vec<(String, PathBuf)>,
    models: Vec<ModelOut<'a>>,
    heads: Vec<&'a HeadFiles>,
    skipped: Vec<(PathBuf, String)>,
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<u8> {
    let found = discover::discover(args.models.as_deref());
    let heads: Vec<&HeadFiles> = found.iter().flat_map(|(_, f)| f.heads.iter()).collect();
    let models: Vec<ModelOut> = found
        .iter()
        .flat_map(|(_, f)| f.models.iter().map(move |m| (f.root.clone(), m)))
        .map(|(root, m)| {
            if let Some(k) = m.files.judge {
                let signals = vec![k.signal().to_string(), k.rank_signal().to_string()];
                return ModelOut {
                    model: m,
                    root,
                    signals,
                };
            }
            let mut signals = vec!["embeddings".to_string(), "clip_score".to_string()];
            for h in &heads {
                if Some(h.arch) == m.arch && h.dim == m.embed_dim {
                    signals.push(format!(
                        "aesthetic ({})",
                        h.path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    ));
                }
            }
            ModelOut {
                model: m,
                root,
                signals,
            }
        })
        .collect();
    let out = Out {
        searched: discover::search_roots(args.models.as_deref()),
        skipped: found
            .iter()
            .flat_map(|(_, f)| f.skipped.iter().cloned())
            .collect(),
        models,
        heads,
    };
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&out)?),
        ListFormat::Text => {
            if out.models.iter().all(|m| m.model.files.judge.is_some()) {
                println!(
                    "{}",
                    super::embed::no_weights_message(args.models.as_deref())
                );
            }
            for m in &out.models {
                let f = &m.model.files;
                println!(
                    "{}  [{}; {:?}; {}-d; {}px]  ({})",
                    f.name,
                    m.model.arch.unwrap_or("custom"),
                    m.model.format,
                    m.model.embed_dim,
                    m.model.image_size,
                    m.root
                );
                println!("  weights  {}", f.weights.display());
                println!("  key      {}", f.key);
                if let Some(k) = f.judge {
                    println!(
                        "  role     judge {} (preprocessing {:?}, score {:?})",
                        k.label(),
                        k.preprocess(),
                        k.formula()
                    );
                }
                println!("  enables  {}", m.signals.join(", "));
            }
            for h in &out.heads {
                println!(
                    "head {}  [{:?}, for {} {}-d]",
                    h.path.display(),
                    h.kind,
                    h.arch,
                    h.dim
                );
            }
            for (p, why) in &out.skipped {
                println!("skipped {}: {why}", p.display());
            }
        }
    }
    Ok(0)
}
