//! The CLIP towers as burn tensor programs on a run-time [`Device`] (wgpu or flex).
//!
//! Layout follows OpenAI's `model.py` / open_clip / HF `CLIPModel`, which compute the same
//! function: pre-LN residual attention blocks (`x + attn(ln_1(x))`, `x + mlp(ln_2(x))`), a
//! patch convolution without bias, a class token and learned positional embeddings, `ln_pre`
//! before the vision blocks, `ln_post` on the class token, and a causal text transformer
//! pooled at the end-of-text token (the argmax of the ids) after `ln_final`. Linear weights are
//! held as `[in, out]` (burn's layout), i.e. transposed from PyTorch.
//!
//! Pooling uses `select` on a flattened `[N·L, W]` tensor (an explicit gather) rather than
//! `narrow` + `reshape`: strided views mixed images up on burn-wgpu 0.22.1 for N > 1 (see
//! `signals/tensor.rs`).

use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::module::{attention, conv2d, embedding, layer_norm, linear};
use burn::tensor::ops::{AttentionModuleOptions, ConvOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::ClipError;
use super::config::{Activation, ClipConfig, TowerConfig};
use super::weights::Loader;

/// A linear layer, weight `[in, out]`.
#[derive(Debug, Clone)]
pub struct Lin {
    pub w: Tensor<2>,
    pub b: Option<Tensor<1>>,
}

impl Lin {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        linear(x, self.w.clone(), self.b.clone())
    }
}

/// A layer norm over the last axis.
#[derive(Debug, Clone)]
pub struct Ln {
    pub g: Tensor<1>,
    pub b: Tensor<1>,
    pub eps: f64,
}

impl Ln {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        layer_norm(x, self.g.clone(), Some(self.b.clone()), self.eps)
    }
}

/// One pre-LN residual attention block.
#[derive(Debug, Clone)]
pub struct Block {
    pub ln1: Ln,
    pub q: Lin,
    pub k: Lin,
    pub v: Lin,
    pub o: Lin,
    pub ln2: Ln,
    pub fc1: Lin,
    pub fc2: Lin,
}

/// A stack of blocks with its head count and activation.
#[derive(Debug, Clone)]
pub struct Transformer {
    pub blocks: Vec<Block>,
    pub heads: usize,
    pub act: Activation,
    pub causal: bool,
}

impl Transformer {
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [n, l, w] = x.dims();
        x.reshape([n, l, self.heads, w / self.heads])
            .swap_dims(1, 2)
    }

    /// `[N, L, W]` → `[N, L, W]`.
    pub fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        let opts = AttentionModuleOptions {
            scale: None, // 1/sqrt(head_dim), as CLIP
            softcap: None,
            is_causal: self.causal,
        };
        for b in &self.blocks {
            let [n, l, w] = x.dims();
            let h = b.ln1.forward(x.clone());
            let q = self.split_heads(b.q.forward(h.clone()));
            let k = self.split_heads(b.k.forward(h.clone()));
            let v = self.split_heads(b.v.forward(h));
            let a = attention(q, k, v, None, None, opts)
                .swap_dims(1, 2)
                .reshape([n, l, w]);
            x = x + b.o.forward(a);
            let h = b.fc1.forward(b.ln2.forward(x.clone()));
            let h = match self.act {
                Activation::QuickGelu => h.clone() * sigmoid(h.mul_scalar(1.702)),
                Activation::Gelu => gelu(h),
            };
            x = x + b.fc2.forward(h);
        }
        x
    }
}

/// Rows `row_of(i)` of a flattened `[N·L, W]` view of `x`: one row per batch item.
fn pool_rows(x: Tensor<3>, rows: &[usize], device: &Device) -> Tensor<2> {
    let [n, l, w] = x.dims();
    let idx: Vec<i64> = rows
        .iter()
        .enumerate()
        .map(|(i, &r)| (i * l + r.min(l - 1)) as i64)
        .collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device);
    x.reshape([n * l, w]).select(0, idx)
}

/// The image tower.
#[derive(Debug, Clone)]
pub struct Vision {
    /// `[W, 3, P, P]`.
    pub patch: Tensor<4>,
    /// `[1, 1, W]`.
    pub class: Tensor<3>,
    /// `[1, 1 + G², W]`.
    pub pos: Tensor<3>,
    pub ln_pre: Ln,
    pub transformer: Transformer,
    pub ln_post: Ln,
    /// `[W, E]`.
    pub proj: Tensor<2>,
    pub patch_size: usize,
    pub image_size: usize,
}

impl Vision {
    /// `[N, 3, S, S]` normalised pixels → `[N, E]` projected (not normalised) embeddings.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let device = pixels.device();
        let p = self.patch_size;
        let x = conv2d(
            pixels,
            self.patch.clone(),
            None,
            ConvOptions::new([p, p], [0, 0], [1, 1], 1),
        ); // [N, W, G, G]
        let [n, w, gh, gw] = x.dims();
        let x = x.reshape([n, w, gh * gw]).swap_dims(1, 2); // [N, G², W]
        let cls = self.class.clone().repeat_dim(0, n); // [N, 1, W]
        let x = Tensor::cat(vec![cls, x], 1) + self.pos.clone();
        let x = self.transformer.forward(self.ln_pre.forward(x));
        let pooled = pool_rows(x, &vec![0; n], &device);
        self.ln_post.forward(pooled).matmul(self.proj.clone())
    }
}

/// The text tower.
#[derive(Debug, Clone)]
pub struct Text {
    /// `[V, W]`.
    pub token: Tensor<2>,
    /// `[1, C, W]`.
    pub pos: Tensor<3>,
    pub transformer: Transformer,
    pub ln_final: Ln,
    /// `[W, E]`.
    pub proj: Tensor<2>,
    pub context_length: usize,
    pub vocab_size: usize,
}

impl Text {
    /// Token ids `[N][C]` → `[N, E]` projected (not normalised) embeddings, pooled at the
    /// first occurrence of the largest id (the end-of-text token; `argmax` as OpenAI and
    /// open_clip do).
    pub fn forward(&self, ids: &[Vec<i64>], device: &Device) -> Tensor<2> {
        let n = ids.len();
        let c = self.context_length;
        let mut flat = Vec::with_capacity(n * c);
        let mut eot = Vec::with_capacity(n);
        for row in ids {
            let mut best = (0usize, i64::MIN);
            for (j, &t) in row.iter().enumerate().take(c) {
                if t > best.1 {
                    best = (j, t);
                }
            }
            eot.push(best.0);
            flat.extend(row.iter().take(c).copied());
            flat.extend(std::iter::repeat_n(0, c.saturating_sub(row.len())));
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [n, c]), device);
        let x = embedding(self.token.clone(), ids) + self.pos.clone();
        let x = self.transformer.forward(x);
        let pooled = pool_rows(x, &eot, device);
        self.ln_final.forward(pooled).matmul(self.proj.clone())
    }
}

/// Both towers and the logit scale.
#[derive(Debug, Clone)]
pub struct ClipModel {
    pub config: ClipConfig,
    pub vision: Vision,
    pub text: Text,
    /// `exp(logit_scale)` as stored (100 for OpenAI's weights); informational.
    pub logit_scale: f32,
}

/// Where [`build`] gets each canonical tensor.
pub(crate) trait TensorSource {
    /// The tensor `name` with `shape` (`[]` = scalar), as row-major f32.
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ClipError>;
}

impl TensorSource for Loader<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ClipError> {
        Loader::take(self, name, shape)
    }
}

/// Random weights (benchmarks): N(0, 0.02²) (xorshift + Box–Muller), layer-norm gains 1,
/// biases 0, logit scale ln 100.
pub struct RandomSource(pub u64);

impl TensorSource for RandomSource {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ClipError> {
        let n: usize = shape.iter().product();
        if name == "logit_scale" {
            return Ok(vec![100f32.ln()]);
        }
        if name.ends_with(".g") {
            return Ok(vec![1.0; n]);
        }
        if name.ends_with(".b") {
            return Ok(vec![0.0; n]);
        }
        let mut next = || {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        Ok((0..n)
            .map(|_| {
                let (u, v) = (next(), next());
                (0.02 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect())
    }
}

/// Builds tensors on `device` from a [`TensorSource`] (canonical names, see [`super::weights`]).
struct Builder<'l> {
    l: &'l mut dyn TensorSource,
    device: &'l Device,
    eps: f64,
}

impl Builder<'_> {
    fn t1(&mut self, name: &str, d: usize) -> Result<Tensor<1>, ClipError> {
        Ok(Tensor::from_data(
            TensorData::new(self.l.take(name, &[d])?, [d]),
            self.device,
        ))
    }
    fn t2(&mut self, name: &str, a: usize, b: usize) -> Result<Tensor<2>, ClipError> {
        Ok(Tensor::from_data(
            TensorData::new(self.l.take(name, &[a, b])?, [a, b]),
            self.device,
        ))
    }
    fn ln(&mut self, name: &str, d: usize) -> Result<Ln, ClipError> {
        Ok(Ln {
            g: self.t1(&format!("{name}.g"), d)?,
            b: self.t1(&format!("{name}.b"), d)?,
            eps: self.eps,
        })
    }
    fn lin(&mut self, name: &str, i: usize, o: usize) -> Result<Lin, ClipError> {
        Ok(Lin {
            w: self.t2(&format!("{name}.w"), i, o)?,
            b: Some(self.t1(&format!("{name}.b"), o)?),
        })
    }
    fn tower(
        &mut self,
        prefix: &str,
        t: &TowerConfig,
        act: Activation,
        causal: bool,
    ) -> Result<Transformer, ClipError> {
        let w = t.width;
        // Grown as the layers' tensors are found: never sized by the config alone.
        let mut blocks = Vec::with_capacity(t.layers.min(64));
        for i in 0..t.layers {
            let p = format!("{prefix}.blocks.{i}");
            blocks.push(Block {
                ln1: self.ln(&format!("{p}.ln1"), w)?,
                q: self.lin(&format!("{p}.q"), w, w)?,
                k: self.lin(&format!("{p}.k"), w, w)?,
                v: self.lin(&format!("{p}.v"), w, w)?,
                o: self.lin(&format!("{p}.o"), w, w)?,
                ln2: self.ln(&format!("{p}.ln2"), w)?,
                fc1: self.lin(&format!("{p}.fc1"), w, t.mlp)?,
                fc2: self.lin(&format!("{p}.fc2"), t.mlp, w)?,
            });
        }
        Ok(Transformer {
            blocks,
            heads: t.heads,
            act,
            causal,
        })
    }
}

/// Builds the model for `cfg` from `loader`; every tensor of the configuration must be there
/// with its shape (unused tensors are checked by the caller with `Loader::finish`).
pub(crate) fn build(
    cfg: &ClipConfig,
    device: &Device,
    loader: &mut dyn TensorSource,
) -> Result<ClipModel, ClipError> {
    let mut b = Builder {
        l: loader,
        device,
        eps: cfg.layer_norm_eps,
    };
    let vc = &cfg.vision;
    let vw = vc.tower.width;
    let p = vc.patch_size;
    let n_pos = vc.grid() * vc.grid() + 1;
    let patch = Tensor::from_data(
        TensorData::new(b.l.take("vision.patch", &[vw, 3, p, p])?, [vw, 3, p, p]),
        device,
    );
    let vision = Vision {
        patch,
        class: b.t1("vision.class", vw)?.reshape([1, 1, vw]),
        pos: b.t2("vision.pos", n_pos, vw)?.reshape([1, n_pos, vw]),
        ln_pre: b.ln("vision.ln_pre", vw)?,
        transformer: b.tower("vision", &vc.tower, cfg.activation, false)?,
        ln_post: b.ln("vision.ln_post", vw)?,
        proj: b.t2("vision.proj", vw, cfg.embed_dim)?,
        patch_size: p,
        image_size: vc.image_size,
    };
    let tc = &cfg.text;
    let tw = tc.tower.width;
    let c = tc.context_length;
    let text = Text {
        token: b.t2("text.token", tc.vocab_size, tw)?,
        pos: b.t2("text.pos", c, tw)?.reshape([1, c, tw]),
        transformer: b.tower("text", &tc.tower, cfg.activation, true)?,
        ln_final: b.ln("text.ln_final", tw)?,
        proj: b.t2("text.proj", tw, cfg.embed_dim)?,
        context_length: c,
        vocab_size: tc.vocab_size,
    };
    let logit_scale =
        b.l.take("logit_scale", &[])?
            .first()
            .copied()
            .unwrap_or(0.0)
            .exp();
    Ok(ClipModel {
        config: cfg.clone(),
        vision,
        text,
        logit_scale,
    })
}
