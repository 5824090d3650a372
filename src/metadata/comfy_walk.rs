//! Graph walking for ComfyUI API graphs, without a list of known node types.
//!
//! * Input names carry the meaning: a name is *text-like* when one of its
//!   `_`-separated words is text, prompt, caption, string, str, value, wildcard
//!   (or it is `clip_l`, `clip_g`, `t5xxl`, `llama`), and it has a *role* when a
//!   word starts with `pos` or `neg` (`positive`, `pos_g`, `text_negative`,
//!   `negative_main_prompt`). Whether an input holds text is decided by its
//!   value: a string literal, or a link to a node that is not a conditioning
//!   node (no `clip`/conditioning inputs, not an `*Encode*` class).
//! * Text: a string literal, or the output of the linked node: reroutes are
//!   followed, concatenation-like classes (concat, join, combine, append,
//!   merge) join their text inputs with their delimiter, switch nodes follow
//!   the selected branch, and any other node yields its text inputs in order
//!   of preference (`populated_text` before `text`, `prompt`, `value`, …,
//!   cached `text_0`, raw `wildcard_text`). Walking with a polarity
//!   (positive/negative) picks the inputs of that role when a node has both.
//! * Conditioning (from a sampler's `positive`/`negative` input): a node with
//!   text inputs is an encoder; a node with role-named conditioning links
//!   (ControlNet apply, Searge's prompt encoder outputs) is followed by
//!   output slot and polarity; combine-like nodes gather every `cond*` input;
//!   anything else is followed through its other links.
//! * Output names, when the UI workflow in the same file gives them: a node
//!   without text inputs whose output is named like a text input
//!   (`main_prompt` of SeargeSDXL's parameter bus) yields the text of the
//!   nearest upstream input of that name; a role in the output name
//!   (`negative_prompt_text_g` of a prompt styler) sets the polarity.
//! * Parts that are only punctuation or whitespace are dropped.
//!
//! Every walk is bounded by a depth cap, a visit budget and visited sets, so
//! cycles end.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::util::{is_meaningful, json_u32, parse_size};

const MAX_DEPTH: usize = 64;
/// Node visits allowed per resolution query (bounds diamond-shaped blow-ups).
const BUDGET: usize = 20_000;

/// Words that make an input name text-like.
const TEXT_WORDS: &[&str] = &[
    "text",
    "prompt",
    "prompts",
    "caption",
    "string",
    "str",
    "value",
    "wildcard",
    "populated",
];
/// Whole input names that are text despite their words (Flux / SD3 / HiDream encoders).
const TEXT_NAMES: &[&str] = &["clip_l", "clip_g", "t5xxl", "llama", "umt5xxl"];
/// Input names never read as text although they look like it.
const NOT_TEXT: &[&str] = &[
    "delimiter",
    "separator",
    "text_encoder",
    "string_field",
    "clean_whitespace",
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
pub(crate) const MODEL_KEYS: &[&str] = &[
    "ckpt_name",
    "unet_name",
    "model_name",
    "gguf_name",
    "base_ckpt_name",
    "checkpoint",
    "base_checkpoint",
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Polarity {
    Positive,
    Negative,
}

/// The role an input name announces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    Positive,
    Negative,
    Neutral,
}

/// The lower-case words of an input name, without trailing numbers
/// (`prompt1` -> `prompt`, `text_2` -> `text`).
fn words(key: &str) -> impl Iterator<Item = String> + '_ {
    key.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|w| w.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The role of an input name (`pos…` / `neg…` words).
pub(crate) fn role(key: &str) -> Role {
    let mut r = Role::Neutral;
    for w in words(key) {
        if w.starts_with("neg") {
            return Role::Negative;
        }
        if w.starts_with("pos") {
            r = Role::Positive;
        }
    }
    r
}

/// Whether an input name is text-like (see the module docs).
pub(crate) fn is_text_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if NOT_TEXT.contains(&lower.as_str()) {
        return false;
    }
    TEXT_NAMES.contains(&lower.as_str())
        || words(key).any(|w| {
            TEXT_WORDS.contains(&w.as_str()) || w.starts_with("pos") || w.starts_with("neg")
        })
}

/// Preference among text inputs of one node (lower first).
fn text_rank(key: &str) -> u8 {
    match key.to_ascii_lowercase().as_str() {
        "populated_text" => 0,
        "text" | "prompt" | "value" | "string" => 1,
        "text_0" => 8,
        "wildcard_text" => 9,
        k if k.starts_with("text_0") => 8,
        _ => 2,
    }
}

/// Whether a polarity accepts an input of this role: the role itself, or
/// neutral names when the node has none of that role.
fn accepts(pol: Polarity, role: Role, has_same: bool) -> bool {
    match (pol, role) {
        (Polarity::Positive, Role::Positive) | (Polarity::Negative, Role::Negative) => true,
        (_, Role::Neutral) => !has_same,
        _ => false,
    }
}

fn same(pol: Polarity, r: Role) -> bool {
    matches!(
        (pol, r),
        (Polarity::Positive, Role::Positive) | (Polarity::Negative, Role::Negative)
    )
}

/// Output names per node id (from the UI workflow).
pub(crate) type OutputNames = HashMap<String, Vec<String>>;

/// Output names of a UI workflow's nodes, by node id.
pub(crate) fn output_names(workflow: &Value) -> OutputNames {
    let mut out = OutputNames::new();
    for n in workflow
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = match n.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(x)) => x.to_string(),
            _ => continue,
        };
        let names: Vec<String> = n
            .get("outputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|o| {
                o.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        if !names.is_empty() {
            out.insert(id, names);
        }
    }
    out
}

/// Upstream nodes searched for a bus value by name.
const BUS_SEARCH: usize = 256;

/// Resolution state over one graph.
pub(crate) struct Walker<'g> {
    nodes: &'g Map<String, Value>,
    outputs: Option<&'g OutputNames>,
    budget: usize,
}

impl<'g> Walker<'g> {
    pub(crate) fn new(nodes: &'g Map<String, Value>) -> Self {
        Self {
            nodes,
            outputs: None,
            budget: BUDGET,
        }
    }

    /// Uses the output names of the UI workflow of the same file.
    pub(crate) fn with_outputs(mut self, outputs: Option<&'g OutputNames>) -> Self {
        self.outputs = outputs;
        self
    }

    fn output_name(&self, id: &str, slot: u64) -> Option<&'g str> {
        let names = self.outputs?.get(id)?;
        names
            .get(usize::try_from(slot).ok()?)
            .map(String::as_str)
            .filter(|n| !n.is_empty())
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

    pub(crate) fn is_reroute(&self, id: &str) -> bool {
        self.class(id).to_ascii_lowercase().contains("reroute")
    }

    /// The first link input (for reroutes).
    fn first_link(&self, id: &str) -> Option<(String, u64)> {
        self.inputs(id)?.values().find_map(|v| link(Some(v)))
    }

    /// Whether a node is a conditioning node rather than a text source: an
    /// `*Encode*`/`*Conditioning*` class, or a node with CLIP, `cond*` or
    /// role-named links (unless those links lead to text).
    pub(crate) fn is_conditioning_node(&self, id: &str) -> bool {
        let Some(inputs) = self.inputs(id) else {
            return false;
        };
        let class = self.class(id).to_ascii_lowercase();
        class.contains("encode")
            || class.contains("conditioning")
            || inputs.iter().any(|(k, v)| {
                link(Some(v)).is_some()
                    && (is_clip_key(k) || k.contains("cond") || role(k) != Role::Neutral)
                    && !is_text_key_link_to_text(self, k, v)
            })
    }

    /// Whether `v` holds text: a string literal, or a link to a node (through
    /// reroutes) that is not a conditioning node.
    pub(crate) fn holds_text(&self, v: &Value) -> bool {
        match v {
            Value::String(_) => true,
            other => link(Some(other)).is_some_and(|(id, _)| self.text_source(&id, 0)),
        }
    }

    fn text_source(&self, id: &str, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        if self.is_reroute(id) {
            return self
                .first_link(id)
                .is_some_and(|(next, _)| self.text_source(&next, depth + 1));
        }
        self.nodes.contains_key(id) && !self.is_conditioning_node(id)
    }

    /// Text inputs of a node that hold text, in order of preference, with
    /// their roles.
    fn text_inputs(&self, inputs: &'g Map<String, Value>) -> Vec<(&'g String, &'g Value, Role)> {
        let mut out: Vec<(&String, &Value, Role)> = inputs
            .iter()
            .filter(|(k, v)| is_text_key(k) && self.holds_text(v))
            .map(|(k, v)| (k, v, role(k)))
            .collect();
        out.sort_by(|a, b| {
            text_rank(a.0)
                .cmp(&text_rank(b.0))
                .then_with(|| natural_cmp(a.0, b.0))
        });
        out
    }

    /// A string input, following links.
    pub(crate) fn string(&mut self, v: &Value, pol: Polarity, depth: usize) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            _ => {
                let (id, slot) = link(Some(v))?;
                self.string_node(&id, slot, pol, depth + 1)
            }
        }
    }

    fn string_node(&mut self, id: &str, slot: u64, pol: Polarity, depth: usize) -> Option<String> {
        if !self.tick(depth) {
            return None;
        }
        if self.is_reroute(id) {
            let (next, next_slot) = self.first_link(id)?;
            return self.string_node(&next, next_slot, pol, depth + 1);
        }
        let inputs = self.inputs(id)?;
        let output = self.output_name(id, slot);
        let pol = match output.map(role) {
            Some(Role::Positive) => Polarity::Positive,
            Some(Role::Negative) => Polarity::Negative,
            _ => pol,
        };
        let class = self.class(id).to_ascii_lowercase();
        if class.contains("switch")
            && let Some(s) = self.switch(inputs, pol, depth)
        {
            return Some(s);
        }
        if ["concat", "join", "combine", "append", "merge"]
            .iter()
            .any(|k| class.contains(k))
            && let Some(s) = self.concat(inputs, pol, depth)
        {
            return Some(s);
        }
        let texts = self.text_inputs(inputs);
        let has_same = texts.iter().any(|(_, _, r)| same(pol, *r));
        let own = texts
            .into_iter()
            .filter(|(_, _, r)| accepts(pol, *r, has_same))
            .find_map(|(_, v, _)| self.string(v, pol, depth).filter(|s| !s.is_empty()));
        own.or_else(|| {
            let name = output.filter(|n| is_text_key(n))?;
            self.bus_value(id, name, pol, depth)
        })
    }

    /// The text of the nearest upstream input named `name` (a parameter bus:
    /// the value entered upstream travels inside an opaque object and comes
    /// out of a node output of the same name).
    fn bus_value(&mut self, from: &str, name: &str, pol: Polarity, depth: usize) -> Option<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<String> = VecDeque::from([from.to_owned()]);
        while let Some(id) = queue.pop_front() {
            if seen.len() >= BUS_SEARCH || !seen.insert(id.clone()) {
                continue;
            }
            let Some(inputs) = self.inputs(&id) else {
                continue;
            };
            if id != from
                && let Some(v) = inputs.get(name).filter(|v| self.holds_text(v))
                && let Some(s) = self.string(v, pol, depth + 1)
            {
                return Some(s);
            }
            let mut next: Vec<(&String, String)> = inputs
                .iter()
                .filter_map(|(k, v)| link(Some(v)).map(|(n, _)| (k, n)))
                .collect();
            next.sort_by(|a, b| natural_cmp(a.0, b.0));
            queue.extend(next.into_iter().map(|(_, n)| n));
        }
        None
    }

    /// Switch nodes: `on_true`/`on_false` by a boolean `switch`, or numbered
    /// inputs by an integer `select`/`index`; else the first branch with text.
    fn switch(
        &mut self,
        inputs: &'g Map<String, Value>,
        pol: Polarity,
        depth: usize,
    ) -> Option<String> {
        let flag = ["switch", "boolean", "condition"]
            .iter()
            .find_map(|k| inputs.get(*k).and_then(Value::as_bool));
        let mut branches: Vec<&Value> = Vec::new();
        if let (Some(t), Some(f)) = (inputs.get("on_true"), inputs.get("on_false")) {
            branches = if flag == Some(false) {
                vec![f, t]
            } else {
                vec![t, f]
            };
        } else {
            let index = ["select", "index", "input"]
                .iter()
                .find_map(|k| inputs.get(*k).and_then(Value::as_u64));
            let mut keyed: Vec<(&String, &Value)> = inputs
                .iter()
                .filter(|(k, v)| {
                    k.chars().last().is_some_and(|c| c.is_ascii_digit()) && self.holds_text(v)
                })
                .collect();
            keyed.sort_by(|a, b| natural_cmp(a.0, b.0));
            if let Some(i) = index {
                let wanted = i.to_string();
                keyed.sort_by_key(|(k, _)| !k.ends_with(&wanted));
            }
            branches.extend(keyed.into_iter().map(|(_, v)| v));
        }
        branches
            .into_iter()
            .find_map(|v| self.string(v, pol, depth).filter(|s| is_meaningful(s)))
    }

    /// Concatenation nodes: text-like inputs in natural key order, joined with
    /// the node's delimiter/separator; parts without a letter or digit dropped.
    fn concat(
        &mut self,
        inputs: &'g Map<String, Value>,
        pol: Polarity,
        depth: usize,
    ) -> Option<String> {
        let delimiter = ["delimiter", "separator"]
            .iter()
            .find_map(|k| inputs.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned();
        let mut keys: Vec<&String> = inputs
            .keys()
            .filter(|k| {
                let k = k.to_ascii_lowercase();
                is_text_key(&k) || k.starts_with("input")
            })
            .collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        let parts: Vec<String> = keys
            .into_iter()
            .filter_map(|k| inputs.get(k).and_then(|v| self.string(v, pol, depth)))
            .filter(|s| is_meaningful(s))
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

    /// Text of an encoder-like node (`None` when it has no text inputs):
    /// the distinct meaningful texts of the inputs of the walked polarity.
    fn encoder_text(
        &mut self,
        inputs: &'g Map<String, Value>,
        pol: Polarity,
        depth: usize,
    ) -> Option<String> {
        let texts = self.text_inputs(inputs);
        if texts.is_empty() {
            return None;
        }
        let has_same = texts.iter().any(|(_, _, r)| same(pol, *r));
        let mut found = false;
        let mut parts: Vec<String> = Vec::new();
        for (k, v, r) in texts {
            if !accepts(pol, r, has_same) || text_rank(k) >= 8 && !parts.is_empty() {
                continue;
            }
            if let Some(s) = self.string(v, pol, depth) {
                found = true;
                if is_meaningful(&s) && !parts.contains(&s) {
                    parts.push(s);
                }
            }
        }
        found.then(|| parts.join("\n"))
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
        // Role-named conditioning links (ControlNet apply: positive/negative
        // in, the same out; Searge-style base_/refiner_ pairs).
        let polar: Vec<(&String, (String, u64), Role)> = {
            let mut v: Vec<(&String, (String, u64), Role)> = inputs
                .iter()
                .filter_map(|(k, v)| link(Some(v)).map(|l| (k, l, role(k))))
                .filter(|(_, _, r)| *r != Role::Neutral)
                .collect();
            v.sort_by(|a, b| natural_cmp(a.0, b.0));
            v
        };
        let first_of = |r: Role| polar.iter().find(|(_, _, x)| *x == r).map(|p| p.1.clone());
        if let (Some(p), Some(n)) = (first_of(Role::Positive), first_of(Role::Negative)) {
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
                        if is_meaningful(&t) && !texts.contains(&t) {
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

    /// The prompt text behind a conditioning link, `None` when it has no
    /// letter or digit.
    pub(crate) fn text_from(&mut self, l: Option<(String, u64)>, pol: Polarity) -> Option<String> {
        let (id, out) = l?;
        let texts = self.conditioning(&id, out, pol, 0, &mut HashSet::new());
        let joined = texts
            .into_iter()
            .filter(|t| is_meaningful(t))
            .collect::<Vec<_>>()
            .join("\n");
        is_meaningful(&joined).then_some(joined)
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

    /// Generation size from the latent chain (Empty*LatentImage, rgthree's
    /// `dimensions` text, image scalers).
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
        if let Some(d) = inputs
            .get("dimensions")
            .and_then(Value::as_str)
            .and_then(parse_size)
        {
            return Some(d);
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

/// A CLIP model input (`clip`, `opt_clip`, `base_clip`), not the `clip_l`/
/// `clip_g` text of Flux/SD3 encoders.
fn is_clip_key(key: &str) -> bool {
    !TEXT_NAMES.contains(&key.to_ascii_lowercase().as_str()) && words(key).any(|w| w == "clip")
}

/// A role-named or cond link that points at a text source is a text input,
/// not conditioning (e.g. `positive` of a loader fed by a string node).
fn is_text_key_link_to_text(w: &Walker, key: &str, v: &Value) -> bool {
    if !is_text_key(key) || is_clip_key(key) || key.contains("cond") {
        return false;
    }
    let Some((id, _)) = link(Some(v)) else {
        return false;
    };
    // One level only (no recursion into is_conditioning_node): a node that
    // holds literal text-like strings and no clip/cond links is a text source.
    w.inputs(&id).is_some_and(|i| {
        let class = w.class(&id).to_ascii_lowercase();
        !class.contains("encode")
            && !class.contains("conditioning")
            && !i
                .iter()
                .any(|(k, v)| link(Some(v)).is_some() && (is_clip_key(k) || k.contains("cond")))
            && i.iter().any(|(k, v)| is_text_key(k) && v.is_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_text_keys() {
        for (k, r) in [
            ("positive", Role::Positive),
            ("pos_g", Role::Positive),
            ("text_negative", Role::Negative),
            ("negative_main_prompt", Role::Negative),
            ("base_positive", Role::Positive),
            ("text", Role::Neutral),
            ("compose", Role::Neutral),
        ] {
            assert_eq!(role(k), r, "{k}");
        }
        for k in [
            "text",
            "text_g",
            "clip_l",
            "t5xxl",
            "Text",
            "prompt",
            "main_prompt",
            "string_a",
            "populated_text",
            "pos_l",
            "value",
            "prompt1",
            "text_2",
        ] {
            assert!(is_text_key(k), "{k}");
        }
        for k in [
            "clip",
            "seed",
            "delimiter",
            "ckpt_name",
            "width",
            "text_encoder",
        ] {
            assert!(!is_text_key(k), "{k}");
        }
    }
}
