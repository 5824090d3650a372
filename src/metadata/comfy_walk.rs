//! Graph walking for ComfyUI API graphs: link and string/number resolution
//! (through reroutes, primitive, string and concatenation nodes), conditioning
//! tracing back to text encoders, model loaders and latent sizes. Every walk is
//! bounded by a depth cap, a visit budget and visited sets, so cycles end.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::util::json_u32;

const MAX_DEPTH: usize = 64;
/// Node visits allowed per resolution query (bounds diamond-shaped blow-ups).
const BUDGET: usize = 20_000;

/// Inputs whose values are text in text-encoder-like nodes, in priority order.
const TEXT_KEYS: &[&str] = &[
    "text",
    "text_g",
    "text_l",
    "t5xxl",
    "clip_l",
    "clip_g",
    "llama",
    "prompt",
    "populated_text",
    "positive_prompt",
];
/// Inputs holding a string in primitive / string nodes.
const STRING_KEYS: &[&str] = &[
    "value",
    "text",
    "string",
    "String",
    "Text",
    "STRING",
    "prompt",
    "populated_text",
];
/// Inputs holding a number in primitive nodes.
const NUMBER_KEYS: &[&str] = &[
    "value",
    "seed",
    "noise_seed",
    "int",
    "float",
    "number",
    "Value",
    "INT",
    "FLOAT",
];
/// Links never followed when looking for conditioning.
const NOT_CONDITIONING: &[&str] = &[
    "clip",
    "model",
    "vae",
    "image",
    "images",
    "pixels",
    "mask",
    "control_net",
    "latent",
    "latent_image",
    "samples",
    "noise",
    "sampler",
    "sigmas",
    "style_model",
    "clip_vision",
    "clip_vision_output",
    "upscale_model",
    "guider",
    "stage_c",
    "hint",
    "ipadapter",
];
/// Loader inputs naming the model file.
const MODEL_KEYS: &[&str] = &[
    "ckpt_name",
    "unet_name",
    "model_name",
    "gguf_name",
    "base_ckpt_name",
    "checkpoint",
];

/// `[node_id, output_index]` link.
pub(crate) fn link(v: Option<&Value>) -> Option<(String, u64)> {
    let arr = v?.as_array()?;
    let [id, out] = arr.as_slice() else {
        return None;
    };
    let id = match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((id, out.as_u64()?))
}

/// Orders `"2" < "10" < "37:6" < "a"` (digit runs compared as numbers).
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let d = c.is_ascii_digit();
            match out.last_mut() {
                Some((kind, run)) if *kind == d => run.push(c),
                _ => out.push((d, c.to_string())),
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x, y) {
            ((true, n), (true, m)) => {
                let (n, m) = (n.trim_start_matches('0'), m.trim_start_matches('0'));
                n.len().cmp(&m.len()).then_with(|| n.cmp(m))
            }
            _ => x.1.cmp(&y.1),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// Whether `v` looks like an API graph (`{id: {class_type, inputs}}`).
pub(crate) fn is_api_graph(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.values()
            .any(|n| n.get("class_type").is_some_and(Value::is_string))
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polarity {
    Positive,
    Negative,
}

/// Resolution state over one graph.
pub(crate) struct Walker<'g> {
    nodes: &'g Map<String, Value>,
    budget: usize,
}

impl<'g> Walker<'g> {
    pub(crate) fn new(nodes: &'g Map<String, Value>) -> Self {
        Self {
            nodes,
            budget: BUDGET,
        }
    }

    pub(crate) fn class(&self, id: &str) -> &'g str {
        self.nodes
            .get(id)
            .and_then(|n| n.get("class_type"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub(crate) fn inputs(&self, id: &str) -> Option<&'g Map<String, Value>> {
        self.nodes.get(id)?.get("inputs")?.as_object()
    }

    /// Spends one unit of budget; false once exhausted or too deep.
    fn tick(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH || self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn is_reroute(&self, id: &str) -> bool {
        self.class(id).to_ascii_lowercase().contains("reroute")
    }

    /// The first link input (for reroutes).
    fn first_link(&self, id: &str) -> Option<(String, u64)> {
        self.inputs(id)?.values().find_map(|v| link(Some(v)))
    }

    /// A string input, following links to primitive/string/concat nodes.
    pub(crate) fn string(&mut self, v: &Value, depth: usize) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            _ => {
                let (id, _) = link(Some(v))?;
                self.string_node(&id, depth + 1)
            }
        }
    }

    fn string_node(&mut self, id: &str, depth: usize) -> Option<String> {
        if !self.tick(depth) {
            return None;
        }
        if self.is_reroute(id) {
            let (next, _) = self.first_link(id)?;
            return self.string_node(&next, depth + 1);
        }
        let inputs = self.inputs(id)?;
        let class = self.class(id).to_ascii_lowercase();
        if ["concat", "join", "combine"]
            .iter()
            .any(|k| class.contains(k))
            && let Some(s) = self.concat(inputs, depth)
        {
            return Some(s);
        }
        STRING_KEYS
            .iter()
            .find_map(|k| inputs.get(*k).and_then(|v| self.string(v, depth)))
    }

    /// String concatenation nodes: text-like inputs in natural key order,
    /// joined with the node's delimiter/separator.
    fn concat(&mut self, inputs: &'g Map<String, Value>, depth: usize) -> Option<String> {
        let delimiter = ["delimiter", "separator"]
            .iter()
            .find_map(|k| inputs.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned();
        let mut keys: Vec<&String> = inputs
            .keys()
            .filter(|k| {
                let k = k.to_ascii_lowercase();
                ["text", "string", "str", "input", "value"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        let parts: Vec<String> = keys
            .into_iter()
            .filter_map(|k| inputs.get(k).and_then(|v| self.string(v, depth)))
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(&delimiter))
    }

    /// A numeric input (kept as JSON to preserve 64-bit seeds), following links.
    pub(crate) fn number(&mut self, v: Option<&Value>, depth: usize) -> Option<Value> {
        match v? {
            n @ Value::Number(_) => Some(n.clone()),
            other => {
                let (mut id, _) = link(Some(other))?;
                let mut d = depth;
                loop {
                    d += 1;
                    if !self.tick(d) {
                        return None;
                    }
                    if self.is_reroute(&id) {
                        id = self.first_link(&id)?.0;
                        continue;
                    }
                    let inputs = self.inputs(&id)?;
                    return NUMBER_KEYS
                        .iter()
                        .find_map(|k| self.number(inputs.get(*k), d));
                }
            }
        }
    }

    /// Text of an encoder-like node (`None` when it has no text inputs).
    fn encoder_text(
        &mut self,
        inputs: &'g Map<String, Value>,
        pol: Polarity,
        depth: usize,
    ) -> Option<String> {
        let mut found = false;
        let mut parts: Vec<String> = Vec::new();
        let polar = match pol {
            Polarity::Positive => "positive",
            Polarity::Negative => "negative",
        };
        // Loader-style nodes with prompt strings in `positive`/`negative`.
        let polar_text = inputs.get(polar).filter(|v| v.is_string());
        for v in TEXT_KEYS
            .iter()
            .filter_map(|k| inputs.get(*k))
            .chain(polar_text)
        {
            let stringy =
                v.is_string() || link(Some(v)).is_some_and(|(id, _)| self.produces_string(&id));
            if stringy && let Some(s) = self.string(v, depth) {
                found = true;
                if !s.trim().is_empty() && !parts.contains(&s) {
                    parts.push(s);
                }
            }
        }
        found.then(|| parts.join("\n"))
    }

    /// Whether a linked node is a string source rather than a conditioning node.
    fn produces_string(&self, id: &str) -> bool {
        let Some(inputs) = self.inputs(id) else {
            return false;
        };
        !inputs
            .keys()
            .any(|k| k.contains("cond") || k == "clip" || k == "positive")
    }

    /// Texts reaching a conditioning output `(id, out)`.
    fn conditioning(
        &mut self,
        id: &str,
        out: u64,
        pol: Polarity,
        depth: usize,
        seen: &mut HashSet<(String, u64)>,
    ) -> Vec<String> {
        if !self.tick(depth) || !seen.insert((id.to_owned(), out)) {
            return Vec::new();
        }
        if self.is_reroute(id) {
            return match self.first_link(id) {
                Some((n, o)) => self.conditioning(&n, o, pol, depth + 1, seen),
                None => Vec::new(),
            };
        }
        let Some(inputs) = self.inputs(id) else {
            return Vec::new();
        };
        if let Some(text) = self.encoder_text(inputs, pol, depth) {
            return vec![text];
        }
        if let (Some(p), Some(n)) = (link(inputs.get("positive")), link(inputs.get("negative"))) {
            let pick = match (out, pol) {
                (0, _) | (2.., Polarity::Positive) => p,
                _ => n,
            };
            return self.conditioning(&pick.0, pick.1, pol, depth + 1, seen);
        }
        let mut cond_keys: Vec<&String> = inputs
            .keys()
            .filter(|k| k.contains("cond") && link(inputs.get(k.as_str())).is_some())
            .collect();
        cond_keys.sort_by(|a, b| {
            let rank = |k: &str| u8::from(k.ends_with("_from"));
            rank(a).cmp(&rank(b)).then_with(|| natural_cmp(a, b))
        });
        if !cond_keys.is_empty() {
            let mut texts: Vec<String> = Vec::new();
            for k in cond_keys {
                if let Some((n, o)) = link(inputs.get(k.as_str())) {
                    for t in self.conditioning(&n, o, pol, depth + 1, seen) {
                        if !t.trim().is_empty() && !texts.contains(&t) {
                            texts.push(t);
                        }
                    }
                }
            }
            return texts;
        }
        let mut others: Vec<(&String, (String, u64))> = inputs
            .iter()
            .filter(|(k, _)| !NOT_CONDITIONING.contains(&k.as_str()))
            .filter_map(|(k, v)| link(Some(v)).map(|l| (k, l)))
            .collect();
        others.sort_by(|a, b| natural_cmp(a.0, b.0));
        for (_, (n, o)) in others {
            let t = self.conditioning(&n, o, pol, depth + 1, seen);
            if !t.is_empty() {
                return t;
            }
        }
        Vec::new()
    }

    pub(crate) fn text_from(&mut self, l: Option<(String, u64)>, pol: Polarity) -> Option<String> {
        let (id, out) = l?;
        let texts = self.conditioning(&id, out, pol, 0, &mut HashSet::new());
        let joined = texts.join("\n");
        (!joined.trim().is_empty()).then_some(joined)
    }

    /// Model file name behind a `model` link (through LoRA loaders etc.).
    pub(crate) fn model(&mut self, v: Option<&Value>, depth: usize) -> Option<String> {
        let (id, _) = link(v)?;
        if !self.tick(depth) {
            return None;
        }
        let inputs = self.inputs(&id)?;
        if let Some(name) = MODEL_KEYS
            .iter()
            .find_map(|k| inputs.get(*k).and_then(Value::as_str))
        {
            return Some(name.to_owned());
        }
        if self.is_reroute(&id) {
            let first = inputs.values().find(|v| link(Some(v)).is_some());
            return self.model(first, depth + 1);
        }
        if let Some(m) = self.model(inputs.get("model"), depth + 1) {
            return Some(m);
        }
        let mut keys: Vec<&String> = inputs
            .keys()
            .filter(|k| k.contains("model") && *k != "model")
            .collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        keys.into_iter()
            .find_map(|k| self.model(inputs.get(k.as_str()), depth + 1))
    }

    /// Generation size from the latent chain (Empty*LatentImage, image scalers).
    pub(crate) fn size(&mut self, v: Option<&Value>, depth: usize) -> Option<(u32, u32)> {
        let (id, _) = link(v)?;
        if !self.tick(depth) {
            return None;
        }
        let inputs = self.inputs(&id)?;
        let w = self
            .number(inputs.get("width"), depth)
            .and_then(|v| json_u32(Some(&v)));
        let h = self
            .number(inputs.get("height"), depth)
            .and_then(|v| json_u32(Some(&v)));
        if let (Some(w), Some(h)) = (w, h) {
            return Some((w, h));
        }
        [
            "latent_image",
            "samples",
            "latent",
            "pixels",
            "image",
            "samples_to",
        ]
        .iter()
        .find_map(|k| self.size(inputs.get(*k), depth + 1))
        .or_else(|| {
            if self.is_reroute(&id) {
                self.size(inputs.values().next(), depth + 1)
            } else {
                None
            }
        })
    }
}
