//! ComfyUI UI `workflow` graphs (nodes with positional `widgets_values` and a
//! `links` table): converted into the API-graph shape so `comfy` can analyse
//! them when no `prompt` graph exists. Widget names are known only for common
//! core nodes; others keep their links but unnamed widgets.

use std::collections::HashMap;

use serde_json::{Map, Value};

const MAX_NODES: usize = 10_000;

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

/// link id -> (origin node, origin slot), from either links format.
fn link_table(wf: &Value) -> HashMap<String, (String, u64)> {
    let mut table = HashMap::new();
    for l in wf
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
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

/// Converts a UI workflow into an API-shaped graph (`None` if it is not one).
pub(crate) fn to_api(wf: &Value) -> Option<Value> {
    let nodes = wf.get("nodes")?.as_array()?;
    let links = link_table(wf);
    let mut api = Map::new();
    for n in nodes.iter().take(MAX_NODES) {
        let (Some(id), Some(class)) = (
            id_string(n.get("id")),
            n.get("type").and_then(Value::as_str),
        ) else {
            continue;
        };
        if n.get("mode").and_then(Value::as_u64) == Some(2) {
            continue; // muted: did not run
        }
        let mut inputs = Map::new();
        for inp in n
            .get("inputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = inp.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some((from, slot)) = id_string(inp.get("link")).and_then(|l| links.get(&l)) {
                inputs.insert(
                    name.to_owned(),
                    Value::Array(vec![Value::String(from.clone()), Value::from(*slot)]),
                );
            }
        }
        match n.get("widgets_values") {
            Some(Value::Array(values)) => {
                let names = widget_names(class);
                if names.is_empty() {
                    let lc = class.to_ascii_lowercase();
                    let texty = ["text", "string", "prompt"].iter().any(|k| lc.contains(k));
                    if let (true, Some(s)) = (texty, values.iter().find(|v| v.is_string())) {
                        inputs.entry("text").or_insert_with(|| s.clone());
                    }
                }
                for (name, v) in names.iter().zip(values) {
                    inputs.entry(*name).or_insert_with(|| v.clone());
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
        node.insert("class_type".into(), Value::String(class.to_owned()));
        node.insert("inputs".into(), Value::Object(inputs));
        api.insert(id, Value::Object(node));
    }
    (!api.is_empty()).then_some(Value::Object(api))
}
