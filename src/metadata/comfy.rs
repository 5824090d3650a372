//! ComfyUI API graphs (`prompt`: PNG text, `prompt:`/`Prompt:` EXIF tags, the
//! `prompt` member of a JSON UserComment, or a bare graph as Civitai writes
//! it) and the UI `workflow` (converted by `comfy_ui`) when there is no API
//! graph. Also the hosts that wrap a ComfyUI graph: Civitai (`extraMetadata`,
//! `urn:air:` resources), TensorArt (`generation_data`) and Stability Matrix
//! (`parameters-json`, `smproj`).
//!
//! Samplers are found by their inputs, not their class: a node with a
//! role-named conditioning link (`positive`, `base_positive`) plus a latent
//! link, a seed or a sampler/detailer class (so a CFG guider is not one), or
//! a node with a `guider` link. The output chain ends at the sampler nearest
//! a Save node (previews and sinks second); the *first pass* is the earliest
//! sampler feeding it (hires, refiner, detailer and upscale passes come
//! later) and gives every field. The other passes are kept as extra fields
//! (`pass N: <class> <id>`, with their prompt when it differs), samplers off
//! that chain (preview branches) as `other sampler`. When the first pass has
//! no prompt with a letter or digit, the next pass that has one gives it;
//! then a scan of every text-like input (role from the input name:
//! `main_prompt`, `negative_main_prompt`), which also serves graphs without a
//! sampler node (SeargeSDXL's data-stream workflows). Each
//! fallback leaves a warning. Node titles are never used.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::comfy_walk::{
    MODEL_KEYS, OutputNames, Polarity, Role, Walker, is_api_graph, is_text_key, link, natural_cmp,
    output_names, role,
};
use super::json_tools::scalar_text;
use super::util::{is_meaningful, json_f64, json_str, json_u32, json_u64};
use super::{Carrier, GenerationMetadata, Origin, comfy_ui};

/// At most this many further passes are listed as extra fields.
const MAX_PASSES: usize = 8;

/// Whether node `id` is a sampler (see the module docs).
fn is_sampler(w: &Walker, id: &str) -> bool {
    let Some(inputs) = w.inputs(id) else {
        return false;
    };
    if link(inputs.get("guider")).is_some() {
        return true;
    }
    let class = w.class(id).to_ascii_lowercase();
    let links: Vec<&String> = inputs
        .iter()
        .filter(|(_, v)| link(Some(v)).is_some())
        .map(|(k, _)| k)
        .collect();
    let positive = links
        .iter()
        .any(|k| role(k) == Role::Positive && !w.holds_text(&inputs[k.as_str()]));
    let latent = links.iter().any(|k| {
        matches!(
            k.as_str(),
            "latent_image" | "latent" | "samples" | "latent_samples"
        )
    });
    // A guider (CFGGuider: model + positive + negative) is not a sampler.
    let seeded = inputs.contains_key("seed") || inputs.contains_key("noise_seed");
    positive && (class.contains("sampler") || class.contains("detailer") || latent || seeded)
}

fn upstream(w: &Walker, id: &str) -> Vec<String> {
    w.inputs(id)
        .map(|i| {
            i.values()
                .filter_map(|v| link(Some(v)).map(|l| l.0))
                .collect()
        })
        .unwrap_or_default()
}

/// BFS distances upstream from `starts`.
fn distances(
    w: &Walker,
    nodes: &Map<String, Value>,
    starts: Vec<&String>,
) -> HashMap<String, usize> {
    let mut dist: HashMap<String, usize> = HashMap::new();
    let mut q: VecDeque<(String, usize)> = starts.into_iter().map(|s| (s.clone(), 0)).collect();
    while let Some((id, d)) = q.pop_front() {
        if dist.contains_key(&id) || !nodes.contains_key(&id) {
            continue;
        }
        dist.insert(id.clone(), d);
        q.extend(upstream(w, &id).into_iter().map(|u| (u, d + 1)));
    }
    dist
}

/// Sampler nodes, best final first, and the equally final ones.
fn rank_samplers(nodes: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let w = Walker::new(nodes);
    let samplers: Vec<String> = nodes
        .keys()
        .filter(|id| is_sampler(&w, id))
        .cloned()
        .collect();
    if samplers.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // BFS distance from output nodes: Save* first, then previews and sinks.
    let referenced: HashSet<String> = nodes.keys().flat_map(|id| upstream(&w, id)).collect();
    let class_has = |id: &str, k: &str| w.class(id).to_ascii_lowercase().contains(k);
    let saves = distances(
        &w,
        nodes,
        nodes.keys().filter(|id| class_has(id, "save")).collect(),
    );
    let others = distances(
        &w,
        nodes,
        nodes
            .keys()
            .filter(|id| {
                class_has(id, "preview")
                    || (!referenced.contains(*id) && !upstream(&w, id).is_empty())
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
            .any(|other| other != id && distances(&w, nodes, vec![other]).contains_key(id))
    };
    let finals: Vec<String> = top.iter().filter(|id| !feeds_other(id)).cloned().collect();
    ranked.sort_by_key(|id| (rank(id), !finals.contains(id)));
    (ranked, finals)
}

/// The passes that end in `last`: samplers upstream of it (through any
/// link), earliest first, then `last`.
fn pass_chain(nodes: &Map<String, Value>, samplers: &[String], last: &String) -> Vec<String> {
    let w = Walker::new(nodes);
    let dist = distances(&w, nodes, vec![last]);
    let mut chain: Vec<(usize, String)> = samplers
        .iter()
        .filter_map(|s| dist.get(s).map(|d| (*d, s.clone())))
        .collect();
    chain.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| natural_cmp(&a.1, &b.1)));
    chain.into_iter().map(|(_, s)| s).collect()
}

/// The first link input whose name has the role, in natural order.
fn role_link(inputs: &Map<String, Value>, r: Role) -> Option<(String, u64)> {
    let mut keys: Vec<&String> = inputs
        .keys()
        .filter(|k| role(k) == r && link(inputs.get(k.as_str())).is_some())
        .collect();
    keys.sort_by(|a, b| natural_cmp(a, b));
    keys.first().and_then(|k| link(inputs.get(k.as_str())))
}

/// Extracts everything from one sampler node.
fn from_sampler(w: &mut Walker, id: &str) -> GenerationMetadata {
    let Some(inputs) = w.inputs(id) else {
        return GenerationMetadata::default();
    };
    let guider = link(inputs.get("guider")).and_then(|(g, _)| w.inputs(&g));
    let (pos, neg) = if let Some(p) = role_link(inputs, Role::Positive) {
        (Some(p), role_link(inputs, Role::Negative))
    } else if let Some(g) = guider {
        let pos = role_link(g, Role::Positive).or_else(|| {
            ["cond1", "conditioning"]
                .iter()
                .find_map(|k| link(g.get(*k)))
        });
        (pos, role_link(g, Role::Negative))
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
        .and_then(|v| w.string(v, Polarity::Positive, 0));
    let model_input = inputs.get("model").or_else(|| {
        let mut keys: Vec<&String> = inputs
            .keys()
            .filter(|k| {
                k.split('_').any(|p| p == "model") && link(inputs.get(k.as_str())).is_some()
            })
            .collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        keys.first().and_then(|k| inputs.get(k.as_str()))
    });
    let model = w
        .model(model_input, 0)
        .or_else(|| guider.and_then(|g| w.model(g.get("model"), 0)))
        .or_else(|| sigmas.and_then(|s| w.model(s.get("model"), 0)));
    let mut m = GenerationMetadata {
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
    };
    let scheduler = inputs
        .get("scheduler")
        .or_else(|| sigmas.and_then(|s| s.get("scheduler")))
        .and_then(|v| w.string(v, Polarity::Positive, 0));
    if let Some(s) = scheduler {
        m.add_extra("scheduler", &s);
    }
    let denoise = w
        .number(inputs.get("denoise"), 0)
        .or_else(|| sigmas.and_then(|s| w.number(s.get("denoise"), 0)))
        .and_then(|v| json_f64(Some(&v)))
        .filter(|d| *d < 1.0);
    if let Some(d) = denoise {
        m.add_extra("denoise", &format!("{d}"));
    }
    m
}

/// One line describing a pass: its settings that are known.
fn describe(m: &GenerationMetadata) -> String {
    let mut parts = Vec::new();
    if let Some(s) = m.seed {
        parts.push(format!("seed {s}"));
    }
    if let Some(s) = m.steps {
        parts.push(format!("steps {s}"));
    }
    if let Some(c) = m.cfg {
        parts.push(format!("cfg {c}"));
    }
    if let Some(s) = &m.sampler {
        parts.push(format!("sampler {s}"));
    }
    for (k, v) in &m.extra {
        parts.push(format!("{k} {v}"));
    }
    if let Some(model) = &m.model {
        parts.push(format!("model {model}"));
    }
    if parts.is_empty() {
        "no settings".into()
    } else {
        parts.join(", ")
    }
}

/// Prompt texts found by input names alone, for graphs where no sampler
/// reaches a prompt: (positive, negative, where the positive came from).
fn scan_texts(
    nodes: &Map<String, Value>,
    outputs: Option<&OutputNames>,
    known_negatives: &[String],
) -> (Option<String>, Option<String>, Option<String>) {
    let mut w = Walker::new(nodes).with_outputs(outputs);
    let mut ids: Vec<&String> = nodes.keys().collect();
    ids.sort_by(|a, b| natural_cmp(a, b));
    // (priority, id, key, text); lower priority first.
    let mut positives: Vec<(u8, String, String, String)> = Vec::new();
    let mut negatives: Vec<String> = Vec::new();
    for id in ids {
        let Some(inputs) = w.inputs(id) else { continue };
        let class_negative = role(w.class(id)) == Role::Negative;
        let mut keys: Vec<&String> = inputs.keys().filter(|k| is_text_key(k)).collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        for k in keys {
            let v = &inputs[k.as_str()];
            if !w.holds_text(v) {
                continue;
            }
            let r = if class_negative {
                Role::Negative
            } else {
                role(k)
            };
            let pol = if r == Role::Negative {
                Polarity::Negative
            } else {
                Polarity::Positive
            };
            let Some(text) = w.string(v, pol, 0).filter(|t| is_meaningful(t)) else {
                continue;
            };
            if r == Role::Negative {
                negatives.push(text);
                continue;
            }
            let lower = k.to_ascii_lowercase();
            let priority = if lower.split('_').any(|p| p == "main") || r == Role::Positive {
                0
            } else if link(Some(v)).is_some() {
                1
            } else {
                2
            };
            positives.push((priority, id.clone(), k.clone(), text));
        }
    }
    positives.retain(|(_, _, _, t)| !negatives.contains(t) && !known_negatives.contains(t));
    positives.sort_by_key(|a| a.0);
    let negative = negatives.into_iter().next();
    match positives.into_iter().next() {
        Some((_, id, key, text)) => (Some(text), negative, Some(format!("node {id} input {key}"))),
        None => (None, negative, None),
    }
}

/// Settings found by input names alone (no sampler node): the first node
/// with a literal seed and steps, the first model file, the first latent size.
fn scan_settings(nodes: &Map<String, Value>, m: &mut GenerationMetadata) {
    let mut ids: Vec<&String> = nodes.keys().collect();
    ids.sort_by(|a, b| natural_cmp(a, b));
    let w = Walker::new(nodes);
    for id in ids {
        let Some(i) = w.inputs(id) else { continue };
        let seed = ["seed", "noise_seed"]
            .iter()
            .find_map(|k| json_u64(i.get(*k)));
        if m.seed.is_none() && seed.is_some() && i.get("steps").is_some_and(Value::is_number) {
            m.seed = seed;
            m.steps = json_u32(i.get("steps"));
            m.cfg = json_f64(i.get("cfg"));
            m.sampler = i
                .get("sampler_name")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        if m.model.is_none() {
            m.model = MODEL_KEYS
                .iter()
                .find_map(|k| i.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
        }
        if m.size.is_none() && w.class(id).to_ascii_lowercase().contains("latent") {
            m.size = json_u32(i.get("width")).zip(json_u32(i.get("height")));
        }
    }
}

/// Analyses one API graph (`outputs`: the output names of the UI workflow
/// stored with it, when there is one).
pub(crate) fn analyse(
    graph: &Value,
    outputs: Option<&OutputNames>,
    warnings: &mut Vec<String>,
) -> GenerationMetadata {
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
    let Some(last) = ranked.first() else {
        let mut m = GenerationMetadata {
            tool: Some("comfyui".into()),
            ..GenerationMetadata::default()
        };
        let (pos, neg, from) = scan_texts(nodes, outputs, &[]);
        if let Some(from) = &from {
            warnings.push(format!(
                "comfyui: no sampler node found; prompt taken by input name from {from}"
            ));
        } else {
            warnings.push("comfyui: no sampler node found in the graph".into());
        }
        m.positive = pos;
        m.negative = neg;
        scan_settings(nodes, &mut m);
        return m;
    };
    // The passes to the output, first pass first, then every other sampler.
    let mut order = pass_chain(nodes, &ranked, last);
    let chain_len = order.len();
    let rest: Vec<String> = ranked
        .iter()
        .filter(|s| !order.contains(s))
        .cloned()
        .collect();
    order.extend(rest);
    // Bounded work: the first pass and at most MAX_PASSES others are read.
    let passes: Vec<(String, GenerationMetadata)> = order
        .iter()
        .take(MAX_PASSES + 1)
        .map(|id| {
            let mut w = Walker::new(nodes).with_outputs(outputs);
            (id.clone(), from_sampler(&mut w, id))
        })
        .collect();
    let Some((first_id, first)) = passes.first() else {
        return GenerationMetadata::default();
    };
    let mut m = first.clone();
    if m.positive.is_none() {
        let donor = passes.iter().skip(1).find(|(_, p)| p.positive.is_some());
        match donor {
            Some((id, p)) => {
                warnings.push(format!(
                    "comfyui: first pass {first_id} has no prompt with a letter or digit; prompt from sampler {id}"
                ));
                m.positive.clone_from(&p.positive);
                if m.negative.is_none() {
                    m.negative.clone_from(&p.negative);
                }
            }
            None => {
                let negatives: Vec<String> = passes
                    .iter()
                    .filter_map(|(_, p)| p.negative.clone())
                    .collect();
                let (pos, neg, from) = scan_texts(nodes, outputs, &negatives);
                if let (Some(p), Some(from)) = (pos, from) {
                    warnings.push(format!(
                        "comfyui: no sampler reaches a prompt with a letter or digit; prompt taken by input name from {from}"
                    ));
                    m.positive = Some(p);
                    m.negative = m.negative.or(neg);
                }
            }
        }
    }
    for (n, (id, p)) in passes.iter().enumerate().skip(1) {
        let class = Walker::new(nodes).class(id);
        let name = if n < chain_len {
            format!("pass {}: {class} {id}", n + 1)
        } else {
            format!("other sampler: {class} {id}")
        };
        m.add_extra(name.clone(), &describe(p));
        if let Some(t) = p
            .positive
            .as_ref()
            .filter(|t| m.positive.as_ref() != Some(*t))
        {
            m.add_extra(format!("{name} prompt"), t);
        }
        if let Some(t) = p
            .negative
            .as_ref()
            .filter(|t| m.negative.as_ref() != Some(*t))
        {
            m.add_extra(format!("{name} negative"), t);
        }
    }
    m
}

/// Graphs of one kind (`prompt` = API, `workflow` = UI) among the carriers,
/// with the key of the carrier each came from (borrowed unless a member held
/// the graph as JSON text).
fn graphs<'a>(carriers: &'a [Carrier], member: &str) -> Vec<(String, Cow<'a, Value>)> {
    let mut out = Vec::new();
    for c in carriers {
        let Some(j) = &c.json else { continue };
        let named = (c.name == member
            && matches!(c.origin, Origin::PngText | Origin::Stealth | Origin::Member))
            || c.json_label.as_deref() == Some(member);
        if named {
            out.push((c.key.clone(), Cow::Borrowed(j)));
        } else if let Some(inner) = j.get(member) {
            match inner {
                Value::String(s) => out.extend(
                    serde_json::from_str::<Value>(s)
                        .ok()
                        .map(|v| (format!("{}#{member}", c.key), Cow::Owned(v))),
                ),
                v if v.is_object() => out.push((format!("{}#{member}", c.key), Cow::Borrowed(v))),
                _ => {}
            }
        } else if member == "prompt" && c.name != "workflow" && is_api_graph(j) {
            // Civitai writes the bare API graph into the UserComment.
            out.push((c.key.clone(), Cow::Borrowed(j)));
        }
    }
    out
}

/// Civitai's `extraMetadata` (the generation request) in the graph or a carrier.
fn civitai_extra(graph: &Value, carriers: &[Carrier]) -> Option<Value> {
    let text = graph
        .get("extraMetadata")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            carriers
                .iter()
                .find(|c| c.name == "extraMetadata")
                .map(|c| c.text.clone())
        })?;
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
}

/// Whether a graph was made by Civitai's generator (`extraMetadata`, AIR URNs).
fn is_civitai(graph: &Value) -> bool {
    let Some(map) = graph.as_object() else {
        return false;
    };
    map.contains_key("extraMetadata")
        || map.get("extra").and_then(|e| e.get("airs")).is_some()
        || map.values().any(|n| {
            n.get("inputs").and_then(Value::as_object).is_some_and(|i| {
                i.values()
                    .any(|v| v.as_str().is_some_and(|s| s.starts_with("urn:air:")))
            })
        })
}

/// Fills what the graph lacked from Civitai's `extraMetadata` (the original
/// request). Without a sampler in the graph (an upscale-only job) the
/// request's prompts win over texts found by input name.
fn apply_civitai(m: &mut GenerationMetadata, extra: &Value, samplerless: bool) {
    let prompt = json_str(extra.get("prompt")).filter(|p| is_meaningful(p));
    if samplerless || m.positive.as_deref().is_none_or(|p| !is_meaningful(p)) {
        m.positive = prompt.or(m.positive.take());
    }
    let negative = json_str(extra.get("negativePrompt"));
    m.negative = if samplerless {
        negative.or(m.negative.take())
    } else {
        m.negative.take().or(negative)
    };
    m.seed = m.seed.or_else(|| json_u64(extra.get("seed")));
    m.steps = m.steps.or_else(|| json_u32(extra.get("steps")));
    m.cfg = m.cfg.or_else(|| json_f64(extra.get("cfgScale")));
    m.sampler = m.sampler.take().or_else(|| json_str(extra.get("sampler")));
    m.size = m
        .size
        .or_else(|| json_u32(extra.get("width")).zip(json_u32(extra.get("height"))));
    if let Some(b) = json_str(extra.get("baseModel")) {
        m.add_extra("base model", &b);
    }
    if let Some(t) = extra.get("transformations").filter(|t| !t.is_null()) {
        m.add_extra("transformations", &scalar_text(t));
    }
}

/// ComfyUI API graphs among the carriers (Civitai's included).
pub(crate) fn parse(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let mut fallback = None;
    let outputs = graphs(carriers, "workflow")
        .first()
        .map(|(_, wf)| output_names(wf));
    for (key, g) in graphs(carriers, "prompt")
        .into_iter()
        .filter(|(_, g)| is_api_graph(g))
    {
        let mut m = analyse(&g, outputs.as_ref(), warnings).read_from(&key);
        if is_civitai(&g) {
            m.tool = Some("civitai".into());
            if let Some(extra) = civitai_extra(&g, carriers) {
                let samplerless = g.as_object().is_none_or(|n| rank_samplers(n).0.is_empty());
                apply_civitai(&mut m, &extra, samplerless);
            }
        }
        if m.positive.as_deref().is_some_and(is_meaningful) {
            return Some(m);
        }
        fallback.get_or_insert(m);
    }
    fallback
}

/// The UI workflow, when no API graph gave a prompt.
pub(crate) fn parse_workflow(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let mut fallback = None;
    for (key, wf) in graphs(carriers, "workflow") {
        let Some(api) = comfy_ui::to_api(&wf) else {
            continue;
        };
        let mut w = Vec::new();
        let outputs = output_names(&wf);
        let m = analyse(&api, Some(&outputs), &mut w).read_from(&key);
        if m.positive.is_some() {
            warnings.extend(w);
            warnings.push("comfyui: no usable API graph; prompt read from the UI workflow".into());
            return Some(m);
        }
        fallback.get_or_insert(m);
    }
    fallback
}

/// The first API graph's analysis (for the hosts that wrap one).
fn host_graph(carriers: &[Carrier], warnings: &mut Vec<String>) -> GenerationMetadata {
    let outputs = graphs(carriers, "workflow")
        .first()
        .map(|(_, wf)| output_names(wf));
    graphs(carriers, "prompt")
        .into_iter()
        .find(|(_, g)| is_api_graph(g))
        .map(|(_, g)| analyse(&g, outputs.as_ref(), warnings))
        .unwrap_or_default()
}

/// The JSON of the carrier named `name` (a PNG chunk, or a member of a
/// UserComment bundle).
fn named_json<'a>(carriers: &'a [Carrier], name: &str) -> Option<(&'a Carrier, &'a Value)> {
    carriers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.json.as_ref().map(|j| (c, j)))
}

/// TensorArt: `generation_data` JSON (prompt, negative, base model) plus the
/// ComfyUI graph for the settings.
pub(crate) fn parse_tensorart(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let (c, data) = named_json(carriers, "generation_data")?;
    let mut m = host_graph(carriers, warnings).read_from(&c.key);
    m.tool = Some("tensorart".into());
    if let Some(p) = json_str(data.get("prompt")) {
        m.positive = Some(p);
    }
    if let Some(n) = json_str(data.get("negativePrompt")) {
        m.negative = Some(n);
    }
    if let Some(model) = json_str(data.pointer("/baseModel/modelFileName")) {
        m.model = Some(model);
    }
    m.seed = m.seed.or_else(|| json_u64(data.get("seed")));
    m.steps = m.steps.or_else(|| json_u32(data.get("steps")));
    m.cfg = m.cfg.or_else(|| json_f64(data.get("cfgScale")));
    m.size = m
        .size
        .or_else(|| json_u32(data.get("width")).zip(json_u32(data.get("height"))));
    Some(m)
}

/// Stability Matrix: `parameters-json` (its own summary of the generation)
/// over the ComfyUI graph it ran; `smproj` marks it when the JSON is absent.
pub(crate) fn parse_stability_matrix(
    carriers: &[Carrier],
    warnings: &mut Vec<String>,
) -> Option<GenerationMetadata> {
    let params = named_json(carriers, "parameters-json");
    let project = carriers.iter().find(|c| c.name == "smproj");
    let key = params.map(|(c, _)| &c.key).or(project.map(|c| &c.key))?;
    let mut m = host_graph(carriers, warnings).read_from(key);
    m.tool = Some("stability-matrix".into());
    if let Some((_, p)) = params {
        let text = |k: &str| json_str(p.get(k)).map(|s| s.trim_end().to_owned());
        m.positive = text("PositivePrompt").or(m.positive.take());
        m.negative = text("NegativePrompt").or(m.negative.take());
        m.model = json_str(p.get("ModelName")).or(m.model.take());
        m.seed = json_u64(p.get("Seed")).or(m.seed);
        m.steps = json_u32(p.get("Steps")).filter(|s| *s > 0).or(m.steps);
        m.cfg = json_f64(p.get("CfgScale")).filter(|c| *c > 0.0).or(m.cfg);
        m.sampler = json_str(p.get("Sampler")).or(m.sampler.take());
        m.size = json_u32(p.get("Width"))
            .zip(json_u32(p.get("Height")))
            .filter(|(w, h)| *w > 0 && *h > 0)
            .or(m.size);
    }
    Some(m)
}
