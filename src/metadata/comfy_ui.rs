//! ComfyUI UI `workflow` graphs (nodes with positional `widgets_values` and a
//! `links` table), converted into the API-graph shape so `comfy` can analyse
//! them when no `prompt` graph exists:
//!
//! * group nodes (`extra.groupNodes`, instances typed `workflow>Name`) and
//!   subgraphs (`definitions.subgraphs`, instances typed by the subgraph id)
//!   are expanded into their inner nodes (ids `outer:inner`, as ComfyUI's own
//!   API graph names them); the instance's widget values are handed to the
//!   inner nodes in order, its inputs and outputs are wired through;
//! * muted nodes (mode 2) are dropped; bypassed nodes (mode 4) pass each
//!   output through from the input of the same type, as ComfyUI runs them;
//! * widget values are named from a table of core nodes, else from the
//!   `widget` entries newer frontends list among a node's inputs (when they
//!   account for every value), else a text-like class's first string value is
//!   its `text`.

use std::collections::HashMap;

use serde_json::{Map, Value};

const MAX_NODES: usize = 10_000;
/// Nesting limit for group nodes / subgraphs inside subgraphs.
const MAX_NESTING: usize = 8;
/// Values ComfyUI stores after a seed widget (`control_after_generate`).
const CONTROL_VALUES: &[&str] = &["fixed", "randomize", "increment", "decrement"];

/// Widget names, in `widgets_values` order, for common core nodes.
fn widget_names(class: &str) -> &'static [&'static str] {
    match class {
        "KSampler" => &[
            "seed",
            "control_after_generate",
            "steps",
            "cfg",
            "sampler_name",
            "scheduler",
            "denoise",
        ],
        "KSamplerAdvanced" => &[
            "add_noise",
            "noise_seed",
            "control_after_generate",
            "steps",
            "cfg",
            "sampler_name",
            "scheduler",
            "start_at_step",
            "end_at_step",
            "return_with_leftover_noise",
        ],
        "SamplerCustom" => &["add_noise", "noise_seed", "control_after_generate", "cfg"],
        "RandomNoise" => &["noise_seed", "control_after_generate"],
        "KSamplerSelect" => &["sampler_name"],
        "BasicScheduler" => &["scheduler", "steps", "denoise"],
        "SDTurboScheduler" => &["steps", "denoise"],
        "KarrasScheduler" | "ExponentialScheduler" | "PolyexponentialScheduler" => &["steps"],
        "CFGGuider" => &["cfg"],
        "DualCFGGuider" => &["cfg_conds", "cfg_cond2_negative"],
        "CLIPTextEncode" => &["text"],
        "CLIPTextEncodeSDXL" => &[
            "width",
            "height",
            "crop_w",
            "crop_h",
            "target_width",
            "target_height",
            "text_g",
            "text_l",
        ],
        "CLIPTextEncodeSDXLRefiner" => &["ascore", "width", "height", "text"],
        "CLIPTextEncodeFlux" => &["clip_l", "t5xxl", "guidance"],
        "CLIPTextEncodeSD3" => &["clip_l", "clip_g", "t5xxl", "empty_padding"],
        "CheckpointLoaderSimple" | "CheckpointLoader|pysssss" => &["ckpt_name"],
        "UNETLoader" => &["unet_name", "weight_dtype"],
        "EmptyLatentImage"
        | "EmptySD3LatentImage"
        | "EmptyHunyuanLatentVideo"
        | "EmptyMochiLatentVideo" => &["width", "height", "batch_size"],
        "PrimitiveNode"
        | "PrimitiveString"
        | "PrimitiveStringMultiline"
        | "PrimitiveInt"
        | "PrimitiveFloat" => &["value"],
        "StringConcatenate" => &["string_a", "string_b", "delimiter"],
        "FluxGuidance" => &["guidance"],
        "LoraLoader" => &["lora_name", "strength_model", "strength_clip"],
        "LoraLoaderModelOnly" => &["lora_name", "strength_model"],
        _ => &[],
    }
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Where an input comes from: `(node id, output slot)`.
type Src = (String, u64);

/// One input of a flattened node.
struct Input {
    name: String,
    typ: Option<String>,
    /// A widget converted to (or shown as) an input.
    widget: Option<String>,
    src: Option<Src>,
}

/// A node after flattening groups and subgraphs.
struct Node {
    id: String,
    class: String,
    mode: u64,
    inputs: Vec<Input>,
    outputs: Vec<Option<String>>,
    widgets: Option<Value>,
}

/// link id -> (origin node, origin slot), from either links format.
fn link_table(links: Option<&Value>) -> HashMap<String, Src> {
    let mut table = HashMap::new();
    for l in links.and_then(Value::as_array).into_iter().flatten() {
        let entry = match l {
            Value::Array(a) => id_string(a.first())
                .zip(id_string(a.get(1)))
                .zip(a.get(2).and_then(Value::as_u64)),
            Value::Object(o) => id_string(o.get("id"))
                .zip(id_string(o.get("origin_id")))
                .zip(o.get("origin_slot").and_then(Value::as_u64)),
            _ => None,
        };
        if let Some(((id, from), slot)) = entry {
            table.insert(id, (from, slot));
        }
    }
    table
}

/// Reads one UI node (its inputs resolved through `links`).
fn read_node(n: &Value, id: String, links: &HashMap<String, Src>) -> Option<Node> {
    let class = n.get("type").and_then(Value::as_str)?.to_owned();
    let inputs = n
        .get("inputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|inp| Input {
            name: inp
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            typ: inp.get("type").and_then(Value::as_str).map(str::to_owned),
            widget: inp
                .get("widget")
                .and_then(|w| w.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            src: id_string(inp.get("link")).and_then(|l| links.get(&l).cloned()),
        })
        .collect();
    let outputs = n
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| o.get("type").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Some(Node {
        id,
        class,
        mode: n.get("mode").and_then(Value::as_u64).unwrap_or(0),
        inputs,
        outputs,
        widgets: n.get("widgets_values").cloned(),
    })
}

/// Flattening state: the nodes so far and where instance outputs really come from.
struct Flattener<'w> {
    groups: Option<&'w Map<String, Value>>,
    subgraphs: HashMap<String, &'w Value>,
    out: Vec<Node>,
    redirect: HashMap<Src, Src>,
}

impl Flattener<'_> {
    /// Adds `node`, expanding it when it is a group node or subgraph instance.
    fn add(&mut self, node: Node, depth: usize) {
        if self.out.len() >= MAX_NODES {
            return;
        }
        if depth < MAX_NESTING {
            let group = node
                .class
                .strip_prefix("workflow>")
                .or_else(|| node.class.strip_prefix("workflow/"))
                .and_then(|name| self.groups.and_then(|g| g.get(name)));
            if let Some(def) = group {
                self.expand_group(&node, def, depth);
                return;
            }
            if let Some(def) = self.subgraphs.get(&node.class).copied() {
                self.expand_subgraph(&node, def, depth);
                return;
            }
        }
        self.out.push(node);
    }

    /// Legacy group node: inner nodes by `index`, inner links
    /// `[from, from_slot, to, to_slot, …]` (`from` null = from outside, in
    /// the instance's input order), `external` = the instance's outputs.
    fn expand_group(&mut self, inst: &Node, def: &Value, depth: usize) {
        let inner: Vec<&Value> = def
            .get("nodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let index_of =
            |n: &Value, i: usize| n.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
        let links: Vec<&Vec<Value>> = def
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .collect();
        // Sources of inner inputs: internal links, then the instance's inputs.
        let mut sources: HashMap<(u64, u64), Src> = HashMap::new();
        let mut outside: Vec<(u64, u64)> = Vec::new();
        for l in &links {
            let (Some(to), Some(to_slot)) = (
                l.get(2).and_then(Value::as_u64),
                l.get(3).and_then(Value::as_u64),
            ) else {
                continue;
            };
            match (
                l.first().and_then(Value::as_u64),
                l.get(1).and_then(Value::as_u64),
            ) {
                (Some(from), Some(slot)) => {
                    sources.insert((to, to_slot), (format!("{}:{from}", inst.id), slot));
                }
                _ => outside.push((to, to_slot)),
            }
        }
        outside.sort_unstable();
        outside.dedup();
        let instance_inputs = inst.inputs.iter().filter(|i| i.widget.is_none());
        for (target, input) in outside.iter().zip(instance_inputs) {
            if let Some(src) = &input.src {
                sources.insert(*target, src.clone());
            }
        }
        // The instance's widget values, handed out in inner-node order.
        let mut values: Vec<Value> = match &inst.widgets {
            Some(Value::Array(v)) => v.clone(),
            _ => Vec::new(),
        };
        values.reverse();
        let empty = HashMap::new();
        for (i, n) in inner.iter().enumerate() {
            let idx = index_of(n, i);
            let Some(mut node) = read_node(n, format!("{}:{idx}", inst.id), &empty) else {
                continue;
            };
            node.mode = node.mode.max(inst.mode);
            if let Some(Value::Array(own)) = &node.widgets {
                let taken: Vec<Value> = own
                    .iter()
                    .map(|d| values.pop().unwrap_or_else(|| d.clone()))
                    .collect();
                node.widgets = Some(Value::Array(taken));
            }
            for (slot, input) in node.inputs.iter_mut().enumerate() {
                if let Some(src) = sources.get(&(idx, slot as u64)) {
                    input.src = Some(src.clone());
                }
            }
            self.add(node, depth + 1);
        }
        for (k, e) in def
            .get("external")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let inner_index = e.get(0).and_then(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::Object(o) => o.get("index").and_then(Value::as_u64),
                _ => None,
            });
            if let (Some(i), Some(slot)) = (inner_index, e.get(1).and_then(Value::as_u64)) {
                self.redirect.insert(
                    (inst.id.clone(), k as u64),
                    (format!("{}:{i}", inst.id), slot),
                );
            }
        }
    }

    /// Subgraph: inner links with `origin_id` -10 come from the instance's
    /// inputs (by `origin_slot`), links to `target_id` -20 are its outputs.
    fn expand_subgraph(&mut self, inst: &Node, def: &Value, depth: usize) {
        let prefix = |id: &str| format!("{}:{id}", inst.id);
        let mut internal: HashMap<String, Src> = HashMap::new();
        for l in def
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(from), Some(slot)) = (
                id_string(l.get("id")),
                id_string(l.get("origin_id")),
                l.get("origin_slot").and_then(Value::as_u64),
            ) else {
                continue;
            };
            let src = if from == "-10" {
                let input = inst
                    .inputs
                    .iter()
                    .filter(|i| i.widget.is_none())
                    .nth(usize::try_from(slot).unwrap_or(usize::MAX));
                match input.and_then(|i| i.src.clone()) {
                    Some(s) => s,
                    None => continue,
                }
            } else {
                (prefix(&from), slot)
            };
            if id_string(l.get("target_id")).as_deref() == Some("-20")
                && let Some(out) = l.get("target_slot").and_then(Value::as_u64)
            {
                self.redirect.insert((inst.id.clone(), out), src.clone());
            }
            internal.insert(id, src);
        }
        for n in def
            .get("nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(inner) = id_string(n.get("id")) else {
                continue;
            };
            if let Some(mut node) = read_node(n, prefix(&inner), &internal) {
                node.mode = node.mode.max(inst.mode);
                self.add(node, depth + 1);
            }
        }
    }
}

/// Follows group/subgraph outputs and bypassed nodes back to a real source.
fn resolve(
    src: &Src,
    redirect: &HashMap<Src, Src>,
    bypass: &HashMap<Src, Option<Src>>,
) -> Option<Src> {
    let mut cur = src.clone();
    for _ in 0..64 {
        if let Some(next) = redirect.get(&cur) {
            cur = next.clone();
            continue;
        }
        match bypass.get(&cur) {
            Some(Some(next)) => cur = next.clone(),
            Some(None) => return None,
            None => return Some(cur),
        }
    }
    None
}

/// Names for a node's widget values: the core-node table, else the inputs'
/// `widget` entries when they account for every value.
fn names_for(node: &Node, values: &[Value]) -> Vec<Option<String>> {
    let table = widget_names(&node.class);
    if !table.is_empty() {
        return table.iter().map(|s| Some((*s).to_owned())).collect();
    }
    let listed: Vec<&String> = node
        .inputs
        .iter()
        .filter_map(|i| i.widget.as_ref())
        .collect();
    if listed.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut vi = 0;
    for name in listed {
        out.push(Some(name.clone()));
        vi += 1;
        let control = values
            .get(vi)
            .and_then(Value::as_str)
            .is_some_and(|s| CONTROL_VALUES.contains(&s));
        if control && name.to_ascii_lowercase().contains("seed") {
            out.push(None);
            vi += 1;
        }
    }
    if vi == values.len() { out } else { Vec::new() }
}

/// Converts a UI workflow into an API-shaped graph (`None` if it is not one).
pub(crate) fn to_api(wf: &Value) -> Option<Value> {
    let nodes = wf.get("nodes")?.as_array()?;
    let links = link_table(wf.get("links"));
    let subgraphs: HashMap<String, &Value> = wf
        .pointer("/definitions/subgraphs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| id_string(s.get("id")).map(|id| (id, s)))
        .collect();
    let mut flat = Flattener {
        groups: wf.pointer("/extra/groupNodes").and_then(Value::as_object),
        subgraphs,
        out: Vec::new(),
        redirect: HashMap::new(),
    };
    for n in nodes.iter().take(MAX_NODES) {
        let Some(id) = id_string(n.get("id")) else {
            continue;
        };
        if let Some(node) = read_node(n, id, &links) {
            flat.add(node, 0);
        }
    }
    // Bypassed nodes pass an output through from the input of its type.
    let mut bypass: HashMap<Src, Option<Src>> = HashMap::new();
    for n in flat.out.iter().filter(|n| n.mode == 4) {
        for (slot, typ) in n.outputs.iter().enumerate() {
            let same_type = |i: &&Input| i.src.is_some() && i.typ.is_some() && i.typ == *typ;
            let through = n
                .inputs
                .get(slot)
                .filter(|i| same_type(i))
                .or_else(|| n.inputs.iter().find(|i| same_type(i)))
                .and_then(|i| i.src.clone());
            bypass.insert((n.id.clone(), slot as u64), through);
        }
    }
    let mut api = Map::new();
    for n in flat.out.iter().filter(|n| n.mode != 2 && n.mode != 4) {
        let mut inputs = Map::new();
        for inp in &n.inputs {
            let Some(src) = inp
                .src
                .as_ref()
                .and_then(|s| resolve(s, &flat.redirect, &bypass))
            else {
                continue;
            };
            let name = inp.widget.clone().unwrap_or_else(|| inp.name.clone());
            inputs.insert(
                name,
                Value::Array(vec![Value::String(src.0), Value::from(src.1)]),
            );
        }
        match &n.widgets {
            Some(Value::Array(values)) => {
                let names = names_for(n, values);
                if names.is_empty() {
                    let lc = n.class.to_ascii_lowercase();
                    let texty = ["text", "string", "prompt"].iter().any(|k| lc.contains(k));
                    if let (true, Some(s)) = (texty, values.iter().find(|v| v.is_string())) {
                        inputs.entry("text").or_insert_with(|| s.clone());
                    }
                }
                for (name, v) in names.iter().zip(values) {
                    if let Some(name) = name {
                        inputs.entry(name.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            Some(Value::Object(values)) => {
                for (k, v) in values {
                    inputs.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {}
        }
        let mut node = Map::new();
        node.insert("class_type".into(), Value::String(n.class.clone()));
        node.insert("inputs".into(), Value::Object(inputs));
        api.insert(n.id.clone(), Value::Object(node));
    }
    (!api.is_empty()).then_some(Value::Object(api))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(api: &Value, id: &str) -> Value {
        api.get(id).cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn bypassed_nodes_pass_through_and_muted_are_dropped() {
        let wf = serde_json::json!({
            "nodes": [
                {"id": 1, "type": "PrimitiveString", "mode": 0, "outputs": [{"type": "STRING"}], "widgets_values": ["a fox"]},
                {"id": 2, "type": "Some Text Filter", "mode": 4,
                 "inputs": [{"name": "text", "type": "STRING", "link": 10}],
                 "outputs": [{"type": "STRING"}], "widgets_values": ["ignored"]},
                {"id": 3, "type": "CLIPTextEncode", "mode": 0,
                 "inputs": [{"name": "text", "type": "STRING", "link": 11, "widget": {"name": "text"}}],
                 "outputs": [{"type": "CONDITIONING"}], "widgets_values": ["stale"]},
                {"id": 4, "type": "CLIPTextEncode", "mode": 2, "widgets_values": ["muted"]}
            ],
            "links": [[10, 1, 0, 2, 0, "STRING"], [11, 2, 0, 3, 0, "STRING"]]
        });
        let api = to_api(&wf).unwrap_or_default();
        assert_eq!(
            node(&api, "3")["inputs"]["text"],
            serde_json::json!(["1", 0])
        );
        assert!(api.get("2").is_none() && api.get("4").is_none());
    }

    #[test]
    fn widget_entries_name_unknown_nodes() {
        let wf = serde_json::json!({"nodes": [
            {"id": 7, "type": "Fancy Sampler", "inputs": [
                {"name": "seed", "type": "INT", "widget": {"name": "seed"}, "link": null},
                {"name": "steps", "type": "INT", "widget": {"name": "steps"}, "link": null},
                {"name": "prompt", "type": "STRING", "widget": {"name": "prompt"}, "link": null}],
             "widgets_values": [5, "randomize", 30, "a boat"]},
            {"id": 8, "type": "Odd Node", "inputs": [
                {"name": "x", "type": "INT", "widget": {"name": "x"}, "link": null}],
             "widgets_values": [1, 2, 3]}
        ], "links": []});
        let api = to_api(&wf).unwrap_or_default();
        let i = &node(&api, "7")["inputs"];
        assert_eq!(
            (i["seed"].clone(), i["steps"].clone(), i["prompt"].clone()),
            (
                serde_json::json!(5),
                serde_json::json!(30),
                serde_json::json!("a boat")
            )
        );
        // Entries that do not account for every value are not trusted.
        assert!(node(&api, "8")["inputs"].get("x").is_none());
    }
}
