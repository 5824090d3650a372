//! ComfyUI API graphs (`prompt`: PNG text, `prompt:` EXIF tags, or the
//! `prompt` member of a JSON UserComment). Finds the final sampler (the one
//! nearest a Save/Preview output), then follows its `positive`/`negative`
//! links back through reroutes, conditioning nodes and string/primitive nodes
//! to the text encoders. Node titles are never used. Falls back to the UI
//! `workflow` graph (converted by `comfy_ui`) when there is no API graph.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::comfy_walk::{Polarity, Walker, is_api_graph, link, natural_cmp};
use super::util::{json_f64, json_u32, json_u64};
use super::{Carrier, GenerationMetadata, Origin, comfy_ui};

/// Finds sampler nodes, best (final) first, and says whether the best was a tie.
fn rank_samplers(nodes: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let w = Walker::new(nodes);
    let is_sampler = |id: &str| {
        let Some(inputs) = w.inputs(id) else {
            return false;
        };
        let class = w.class(id).to_ascii_lowercase();
        let pn = link(inputs.get("positive")).is_some() && link(inputs.get("negative")).is_some();
        (pn && (class.contains("sampler") || link(inputs.get("model")).is_some()))
            || link(inputs.get("guider")).is_some()
    };
    let samplers: Vec<String> = nodes.keys().filter(|id| is_sampler(id)).cloned().collect();
    let upstream = |id: &str| -> Vec<String> {
        w.inputs(id)
            .map(|i| {
                i.values()
                    .filter_map(|v| link(Some(v)).map(|l| l.0))
                    .collect()
            })
            .unwrap_or_default()
    };
    // BFS distance from output nodes: Save* first, then previews and sinks.
    let referenced: HashSet<String> = nodes.keys().flat_map(|id| upstream(id)).collect();
    let distances = |starts: Vec<&String>| {
        let mut dist: HashMap<String, usize> = HashMap::new();
        let mut q: VecDeque<(String, usize)> = starts.into_iter().map(|s| (s.clone(), 0)).collect();
        while let Some((id, d)) = q.pop_front() {
            if dist.contains_key(&id) || !nodes.contains_key(&id) {
                continue;
            }
            dist.insert(id.clone(), d);
            q.extend(upstream(&id).into_iter().map(|u| (u, d + 1)));
        }
        dist
    };
    let class_has = |id: &str, k: &str| w.class(id).to_ascii_lowercase().contains(k);
    let saves = distances(nodes.keys().filter(|id| class_has(id, "save")).collect());
    let others = distances(
        nodes
            .keys()
            .filter(|id| {
                class_has(id, "preview") || (!referenced.contains(*id) && !upstream(id).is_empty())
            })
            .collect(),
    );
    let rank = |id: &String| match (saves.get(id), others.get(id)) {
        (Some(d), _) => (0, *d),
        (None, Some(d)) => (1, *d),
        (None, None) => (2, 0),
    };
    let mut ranked = samplers;
    ranked.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| natural_cmp(a, b)));
    // Among equally ranked, a sampler feeding another one is not final.
    let top: Vec<String> = ranked
        .iter()
        .take_while(|id| ranked.first().is_some_and(|f| rank(f) == rank(id)))
        .cloned()
        .collect();
    let feeds_other = |id: &String| {
        top.iter()
            .any(|other| other != id && distances(vec![other]).contains_key(id))
    };
    let finals: Vec<String> = top.iter().filter(|id| !feeds_other(id)).cloned().collect();
    ranked.sort_by_key(|id| (rank(id), !finals.contains(id)));
    (ranked, finals)
}

/// Extracts everything from one sampler node.
fn from_sampler(w: &mut Walker, id: &str) -> GenerationMetadata {
    let Some(inputs) = w.inputs(id) else {
        return GenerationMetadata::default();
    };
    let guider = link(inputs.get("guider")).and_then(|(g, _)| w.inputs(&g));
    let (pos, neg) = if link(inputs.get("positive")).is_some() {
        (link(inputs.get("positive")), link(inputs.get("negative")))
    } else if let Some(g) = guider {
        let pos = ["positive", "cond1", "conditioning"]
            .iter()
            .find_map(|k| link(g.get(*k)));
        (pos, link(g.get("negative")))
    } else {
        (None, None)
    };
    let via = |key: &str| link(inputs.get(key)).and_then(|(n, _)| w.inputs(&n));
    let (noise, sigmas, sampler) = (via("noise"), via("sigmas"), via("sampler"));
    let seed = ["seed", "noise_seed"]
        .iter()
        .find_map(|k| w.number(inputs.get(*k), 0))
        .or_else(|| {
            noise.and_then(|n| {
                ["noise_seed", "seed"]
                    .iter()
                    .find_map(|k| w.number(n.get(*k), 0))
            })
        });
    let steps = w
        .number(inputs.get("steps"), 0)
        .or_else(|| sigmas.and_then(|s| w.number(s.get("steps"), 0)));
    let cfg = w.number(inputs.get("cfg"), 0).or_else(|| {
        guider.and_then(|g| {
            ["cfg", "cfg_conds"]
                .iter()
                .find_map(|k| w.number(g.get(*k), 0))
        })
    });
    let sampler_name = inputs
        .get("sampler_name")
        .or_else(|| sampler.and_then(|s| s.get("sampler_name")))
        .and_then(|v| w.string(v, 0));
    let model = w
        .model(inputs.get("model"), 0)
        .or_else(|| guider.and_then(|g| w.model(g.get("model"), 0)))
        .or_else(|| sigmas.and_then(|s| w.model(s.get("model"), 0)));
    GenerationMetadata {
        tool: Some("comfyui".into()),
        positive: w.text_from(pos, Polarity::Positive),
        negative: w.text_from(neg, Polarity::Negative),
        seed: seed.and_then(|v| json_u64(Some(&v))),
        steps: steps.and_then(|v| json_u32(Some(&v))),
        sampler: sampler_name,
        cfg: cfg.and_then(|v| json_f64(Some(&v))),
        model,
        size: w.size(
            inputs.get("latent_image").or_else(|| inputs.get("latent")),
            0,
        ),
        ..GenerationMetadata::default()
    }
}

/// Analyses one API graph.
pub(crate) fn analyse(graph: &Value, warnings: &mut Vec<String>) -> GenerationMetadata {
    let Some(nodes) = graph.as_object() else {
        return GenerationMetadata::default();
    };
    let (ranked, finals) = rank_samplers(nodes);
    if let (true, Some(used)) = (finals.len() > 1, finals.first()) {
        warnings.push(format!(
            "comfyui: {} equally final samplers ({}); used {used}",
            finals.len(),
            finals.join(", ")
        ));
    }
    let mut first: Option<GenerationMetadata> = None;
    for id in &ranked {
        let m = from_sampler(&mut Walker::new(nodes), id);
        if m.positive.is_some() {
            if let Some(f) = ranked.first().filter(|f| *f != id) {
                warnings.push(format!(
                    "comfyui: sampler {f} has no traceable prompt; used sampler {id}"
                ));
            }
            return m;
        }
        first.get_or_insert(m);
    }
    if ranked.is_empty() {
        warnings.push("comfyui: no sampler node found in the graph".into());
    }
    first.unwrap_or_else(|| GenerationMetadata {
        tool: Some("comfyui".into()),
        ..GenerationMetadata::default()
    })
}

/// ComfyUI API graphs and UI workflows among the carriers.
fn graphs(carriers: &[Carrier], member: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for c in carriers {
        let Some(j) = &c.json else { continue };
        let named = (c.name == member && matches!(c.origin, Origin::PngText | Origin::Stealth))
            || c.json_label.as_deref() == Some(member);
        if named {
            out.push(j.clone());
        } else if let Some(inner) = j.get(member) {
            match inner {
                Value::String(s) => out.extend(serde_json::from_str::<Value>(s).ok()),
                v => out.push(v.clone()),
            }
        }
    }
    out
}

/// ComfyUI metadata from the carriers (API graph first, UI workflow second).
pub(crate) fn parse(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let mut fallback = None;
    for g in graphs(carriers, "prompt")
        .iter()
        .filter(|g| is_api_graph(g))
    {
        let m = analyse(g, warnings);
        if m.positive.is_some() {
            return Some(m);
        }
        fallback.get_or_insert(m);
    }
    for wf in graphs(carriers, "workflow") {
        let Some(api) = comfy_ui::to_api(&wf) else {
            continue;
        };
        let mut w = Vec::new();
        let m = analyse(&api, &mut w);
        if m.positive.is_some() {
            warnings.extend(w);
            warnings.push("comfyui: no usable API graph; prompt read from the UI workflow".into());
            return Some(m);
        }
        fallback.get_or_insert(m);
    }
    fallback
}
