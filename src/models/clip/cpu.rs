//! The CLIP towers in plain Rust on the CPU: the same function as [`super::model`] (burn
//! tensors), written for throughput on a few cores.
//!
//! Why: burn's `flex` backend parallelises matrix products but runs element-wise work (bias
//! adds, activations, residual adds, layer norms, layout copies) on one thread and allocates a
//! tensor per op, which capped one forward pass at 1.4–1.7× on 2 threads. Here every step runs
//! on all threads: matrix products through the `gemm` crate (the kernels flex itself uses, with
//! AVX-512 where present), with the residual add fused into the product (`dst += x·W`), bias and
//! activation in one parallel pass over rows, q/k/v as one `[W, 3W]` product, attention per
//! (image, head) in parallel without materialising a transposed copy (strided operands), layer
//! norms in f64 accumulation, and the work buffers allocated once per forward pass, not per op.
//!
//! Batches: up to `threads − 1` images run as one pass with every product parallel; larger
//! batches are cut into one sub-batch per thread, each run single-threaded (no synchronisation
//! inside a pass). Each image's embedding does not depend on its batch mates, so both give the
//! same rows (checked against the burn path and the open_clip / transformers reference
//! vectors in `tests.rs`).

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use super::ClipError;
use super::config::{Activation, ClipConfig, TowerConfig};
use super::model::TensorSource;

/// A layer norm over rows.
struct Ln {
    g: Vec<f32>,
    b: Vec<f32>,
    eps: f64,
}

impl Ln {
    fn row(&self, x: &mut [f32]) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x
            .iter()
            .map(|&v| {
                let d = f64::from(v) - mean;
                d * d
            })
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((v, g), b) in x.iter_mut().zip(&self.g).zip(&self.b) {
            *v = ((f64::from(*v) - mean) * inv) as f32 * g + b;
        }
    }
}

/// A linear layer: weight `[in, out]` on the CPU device, bias on the host.
struct Lin {
    w: Tensor<2>,
    b: Vec<f32>,
}

impl Lin {
    /// `x·W + b`, then `f` on each output value (in one parallel pass over rows).
    fn forward(
        &self,
        x: &[f32],
        rows: usize,
        threads: usize,
        f: impl Fn(f32) -> f32 + Sync,
    ) -> Vec<f32> {
        let mut y = matmul(x, rows, &self.w);
        each_row(&mut y, self.b.len(), threads, |_, r| {
            for (v, b) in r.iter_mut().zip(&self.b) {
                *v = f(*v + b);
            }
        });
        y
    }

    /// `x += y·W + b`.
    fn add_into(&self, y: &[f32], x: &mut [f32], rows: usize, threads: usize) {
        let z = matmul(y, rows, &self.w);
        let o = self.b.len();
        each_row(x, o, threads, |r, xr| {
            for ((v, z), b) in xr.iter_mut().zip(&z[r * o..(r + 1) * o]).zip(&self.b) {
                *v += z + b;
            }
        });
    }
}

struct Block {
    ln1: Ln,
    /// q, k and v side by side: `[W, 3W]`.
    qkv: Lin,
    o: Lin,
    ln2: Ln,
    fc1: Lin,
    fc2: Lin,
}

struct Tower {
    blocks: Vec<Block>,
    width: usize,
    heads: usize,
    act: Activation,
    causal: bool,
}

/// The image tower.
struct Vision {
    /// `[3·P·P, W]` (the convolution's weight, transposed).
    patch: Tensor<2>,
    class: Vec<f32>,
    /// `[1 + G², W]`.
    pos: Vec<f32>,
    ln_pre: Ln,
    tower: Tower,
    ln_post: Ln,
    /// `[W, E]`.
    proj: Tensor<2>,
    patch_size: usize,
    image_size: usize,
}

/// The text tower.
struct Text {
    /// `[V, W]`.
    token: Vec<f32>,
    /// `[C, W]`.
    pos: Vec<f32>,
    tower: Tower,
    ln_final: Ln,
    /// `[W, E]`.
    proj: Tensor<2>,
    context_length: usize,
}

/// Both towers, ready to run on the CPU.
pub struct CpuClip {
    vision: Vision,
    text: Text,
    embed_dim: usize,
}

/// `x[rows×i] · w[i×o]` on the CPU device: the `gemm` kernels flex uses (all threads above
/// its size threshold). Only the products go through burn; everything around them is here.
fn matmul(x: &[f32], rows: usize, w: &Tensor<2>) -> Vec<f32> {
    let [i, o] = w.dims();
    let t = Tensor::<2>::from_data(
        TensorData::new(x[..rows * i].to_vec(), [rows, i]),
        &w.device(),
    );
    // `convert` makes the read-back infallible (the data is f32 after it).
    t.matmul(w.clone())
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_else(|_| vec![f32::NAN; rows * o])
}

/// Runs `f` on every row of `data` (`width` values each), on all threads when `threads > 1`.
fn each_row(data: &mut [f32], width: usize, threads: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if threads > 1 {
        data.par_chunks_mut(width)
            .enumerate()
            .for_each(|(i, r)| f(i, r));
    } else {
        data.chunks_mut(width)
            .enumerate()
            .for_each(|(i, r)| f(i, r));
    }
}

fn quick_gelu(x: f32) -> f32 {
    x / (1.0 + (-1.702 * x).exp())
}

fn gelu(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))) as f32
}

impl Tower {
    /// `x` is `[n·l, W]` (n sequences of l tokens); runs every block in place.
    fn forward(&self, x: &mut [f32], n: usize, l: usize, threads: usize) {
        let w = self.width;
        let rows = n * l;
        let mut h = vec![0f32; rows * w];
        let act = self.act;
        for b in &self.blocks {
            // x += attention(ln1(x))·Wo + bo
            h.copy_from_slice(x);
            each_row(&mut h, w, threads, |_, r| b.ln1.row(r));
            let qkv = b.qkv.forward(&h, rows, threads, |v| v);
            self.attention(&qkv, &mut h, l, threads);
            drop(qkv);
            b.o.add_into(&h, x, rows, threads);
            // x += act(ln2(x)·W1 + b1)·W2 + b2
            h.copy_from_slice(x);
            each_row(&mut h, w, threads, |_, r| b.ln2.row(r));
            let m = b.fc1.forward(&h, rows, threads, |z| match act {
                Activation::QuickGelu => quick_gelu(z),
                Activation::Gelu => gelu(z),
            });
            b.fc2.add_into(&m, x, rows, threads);
        }
    }

    /// Scaled dot-product attention (scale 1/√d, causal for text) of every sequence and head,
    /// from `qkv` (`[n·l, 3W]`: q | k | v, heads side by side) into `out` (`[n·l, W]`). One
    /// task per output row: all heads of one query token.
    fn attention(&self, qkv: &[f32], out: &mut [f32], l: usize, threads: usize) {
        let w = self.width;
        let d = w / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let causal = self.causal;
        let row = |p: &mut Vec<f32>, (r, o): (usize, &mut [f32])| {
            let (seq, i) = (r / l, r % l);
            let valid = if causal { i + 1 } else { l };
            let q = &qkv[r * 3 * w..r * 3 * w + w];
            p.resize(valid, 0.0);
            for head in 0..self.heads {
                let qh = &q[head * d..(head + 1) * d];
                let mut max = f32::NEG_INFINITY;
                for (j, pj) in p.iter_mut().enumerate() {
                    let k0 = (seq * l + j) * 3 * w + w + head * d;
                    *pj = dot(qh, &qkv[k0..k0 + d]) * scale;
                    max = max.max(*pj);
                }
                let mut sum = 0f64;
                for pj in p.iter_mut() {
                    *pj = (*pj - max).exp();
                    sum += f64::from(*pj);
                }
                let inv = (1.0 / sum) as f32;
                let oh = &mut o[head * d..(head + 1) * d];
                oh.fill(0.0);
                for (j, &pj) in p.iter().enumerate() {
                    let v0 = (seq * l + j) * 3 * w + 2 * w + head * d;
                    let pj = pj * inv;
                    for (acc, &v) in oh.iter_mut().zip(&qkv[v0..v0 + d]) {
                        *acc += pj * v;
                    }
                }
            }
        };
        if threads > 1 {
            out.par_chunks_mut(w)
                .enumerate()
                .for_each_init(Vec::new, row);
        } else {
            let mut p = Vec::new();
            out.chunks_mut(w).enumerate().for_each(|x| row(&mut p, x));
        }
    }
}

/// Dot product with eight partial sums (vectorises; the order differs from a plain loop by
/// rounding only).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `rows` pooled rows (`[rows, W]`) → layer norm → `· proj` → `[rows][E]`.
fn project(mut pooled: Vec<f32>, rows: usize, ln: &Ln, proj: &Tensor<2>) -> Vec<Vec<f32>> {
    let [w, e] = proj.dims();
    pooled.chunks_mut(w).for_each(|r| ln.row(r));
    let out = matmul(&pooled, rows, proj);
    out.chunks_exact(e).map(<[f32]>::to_vec).collect()
}

impl Vision {
    fn forward(&self, pixels: &[f32], n: usize, threads: usize) -> Vec<Vec<f32>> {
        let (s, p) = (self.image_size, self.patch_size);
        let g = s / p;
        let l = g * g + 1;
        let w = self.tower.width;
        let k = 3 * p * p;
        // Patches as rows (`[n·G², 3·P·P]`, channel-major like the convolution's weight).
        let mut cols = vec![0f32; n * g * g * k];
        each_row(&mut cols, k, threads, |r, row| {
            let (img, cell) = (r / (g * g), r % (g * g));
            let (gy, gx) = (cell / g, cell % g);
            for c in 0..3 {
                for ky in 0..p {
                    let src = ((img * 3 + c) * s + gy * p + ky) * s + gx * p;
                    row[(c * p + ky) * p..(c * p + ky) * p + p]
                        .copy_from_slice(&pixels[src..src + p]);
                }
            }
        });
        let emb = matmul(&cols, n * g * g, &self.patch);
        drop(cols);
        let mut x = vec![0f32; n * l * w];
        each_row(&mut x, w, threads, |r, row| {
            let (img, t) = (r / l, r % l);
            let src = if t == 0 {
                &self.class[..]
            } else {
                &emb[((img * g * g) + t - 1) * w..((img * g * g) + t) * w]
            };
            for ((v, a), b) in row.iter_mut().zip(src).zip(&self.pos[t * w..(t + 1) * w]) {
                *v = a + b;
            }
            self.ln_pre.row(row);
        });
        drop(emb);
        self.tower.forward(&mut x, n, l, threads);
        let mut pooled = Vec::with_capacity(n * w);
        for img in 0..n {
            pooled.extend_from_slice(&x[img * l * w..img * l * w + w]);
        }
        project(pooled, n, &self.ln_post, &self.proj)
    }
}

impl Text {
    fn forward(&self, ids: &[Vec<i64>], threads: usize) -> Vec<Vec<f32>> {
        let n = ids.len();
        let c = self.context_length;
        let w = self.tower.width;
        let mut x = vec![0f32; n * c * w];
        let mut eot = Vec::with_capacity(n);
        for row in ids {
            let mut best = (0usize, i64::MIN);
            for (j, &t) in row.iter().enumerate().take(c) {
                if t > best.1 {
                    best = (j, t);
                }
            }
            eot.push(best.0);
        }
        each_row(&mut x, w, threads, |r, out| {
            let (seq, t) = (r / c, r % c);
            let id = ids[seq].get(t).copied().unwrap_or(0).max(0) as usize;
            let tok = &self.token[id * w..(id + 1) * w];
            for ((v, a), b) in out.iter_mut().zip(tok).zip(&self.pos[t * w..(t + 1) * w]) {
                *v = a + b;
            }
        });
        self.tower.forward(&mut x, n, c, threads);
        let mut pooled = Vec::with_capacity(n * w);
        for (seq, &e) in eot.iter().enumerate() {
            let r = seq * c + e.min(c - 1);
            pooled.extend_from_slice(&x[r * w..(r + 1) * w]);
        }
        project(pooled, n, &self.ln_final, &self.proj)
    }
}

/// Splits `n` items over the rayon pool: one pass with every product parallel for small
/// batches, one single-threaded sub-batch per thread for large ones.
fn run_split<T: Sync>(
    items: &[T],
    item: usize,
    forward: impl Fn(&[T], usize) -> Vec<Vec<f32>> + Sync + Send,
) -> Vec<Vec<f32>> {
    let n = items.len() / item.max(1);
    let threads = rayon::current_num_threads().max(1);
    if n < threads || threads == 1 {
        return forward(items, threads);
    }
    let chunks: Vec<Vec<Vec<f32>>> = items
        .par_chunks(n.div_ceil(threads) * item)
        .map(|c| forward(c, 1))
        .collect();
    chunks.into_iter().flatten().collect()
}

impl CpuClip {
    /// Image embeddings for `n` preprocessed images (`n × 3 × S × S`, checked by the caller).
    pub fn embed_pixels(&self, pixels: &[f32], n: usize) -> Vec<Vec<f32>> {
        let s = self.vision.image_size;
        let item = 3 * s * s;
        assert_eq!(pixels.len(), n * item);
        run_split(pixels, item, |chunk, threads| {
            self.vision.forward(chunk, chunk.len() / item, threads)
        })
    }

    /// The same with a fixed thread count and no batch split (tests, benchmarks).
    pub fn embed_pixels_with(&self, pixels: &[f32], n: usize, threads: usize) -> Vec<Vec<f32>> {
        self.vision.forward(pixels, n, threads)
    }

    /// Text embeddings for token rows (validated by the caller).
    pub fn embed_tokens(&self, ids: &[Vec<i64>]) -> Vec<Vec<f32>> {
        run_split(ids, 1, |chunk, threads| self.text.forward(chunk, threads))
    }

    /// Embedding size.
    pub fn dim(&self) -> usize {
        self.embed_dim
    }
}

/// Reads tensors by canonical name (see [`super::weights`]): products' weights onto the CPU
/// device, everything else into plain buffers.
struct Reader<'l> {
    l: &'l mut dyn TensorSource,
    eps: f64,
    device: Device,
}

impl Reader<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ClipError> {
        self.l.take(name, shape)
    }
    fn tensor(&self, data: Vec<f32>, i: usize, o: usize) -> Tensor<2> {
        Tensor::from_data(TensorData::new(data, [i, o]), &self.device)
    }
    fn matrix(&mut self, name: &str, i: usize, o: usize) -> Result<Tensor<2>, ClipError> {
        let data = self.take(name, &[i, o])?;
        Ok(self.tensor(data, i, o))
    }
    fn ln(&mut self, name: &str, d: usize) -> Result<Ln, ClipError> {
        Ok(Ln {
            g: self.take(&format!("{name}.g"), &[d])?,
            b: self.take(&format!("{name}.b"), &[d])?,
            eps: self.eps,
        })
    }
    fn lin(&mut self, name: &str, i: usize, o: usize) -> Result<Lin, ClipError> {
        Ok(Lin {
            w: self.matrix(&format!("{name}.w"), i, o)?,
            b: self.take(&format!("{name}.b"), &[o])?,
        })
    }
    fn tower(
        &mut self,
        prefix: &str,
        t: &TowerConfig,
        act: Activation,
        causal: bool,
    ) -> Result<Tower, ClipError> {
        let w = t.width;
        let mut blocks = Vec::with_capacity(t.layers.min(64));
        for i in 0..t.layers {
            let p = format!("{prefix}.blocks.{i}");
            let ln1 = self.ln(&format!("{p}.ln1"), w)?;
            // q, k, v read in the burn builder's order (random weights draw the same values).
            let mut parts = Vec::with_capacity(3);
            for m in ["q", "k", "v"] {
                let wm = self.take(&format!("{p}.{m}.w"), &[w, w])?;
                let bm = self.take(&format!("{p}.{m}.b"), &[w])?;
                parts.push((wm, bm));
            }
            let mut qkv = Vec::with_capacity(w * 3 * w);
            for r in 0..w {
                for (wm, _) in &parts {
                    qkv.extend_from_slice(&wm[r * w..(r + 1) * w]);
                }
            }
            let bias: Vec<f32> = parts.iter().flat_map(|(_, b)| b.iter().copied()).collect();
            let qkv = Lin {
                w: self.tensor(qkv, w, 3 * w),
                b: bias,
            };
            blocks.push(Block {
                ln1,
                qkv,
                o: self.lin(&format!("{p}.o"), w, w)?,
                ln2: self.ln(&format!("{p}.ln2"), w)?,
                fc1: self.lin(&format!("{p}.fc1"), w, t.mlp)?,
                fc2: self.lin(&format!("{p}.fc2"), t.mlp, w)?,
            });
        }
        Ok(Tower {
            blocks,
            width: w,
            heads: t.heads,
            act,
            causal,
        })
    }
}

/// Builds both towers for `cfg` from `source` onto the CPU `device` (the same names and shapes
/// as [`super::model::build`], so the same checkpoints load and the same checks apply).
pub(crate) fn build(
    cfg: &ClipConfig,
    device: &Device,
    source: &mut dyn TensorSource,
) -> Result<CpuClip, ClipError> {
    let mut r = Reader {
        l: source,
        eps: cfg.layer_norm_eps,
        device: device.clone(),
    };
    let vc = &cfg.vision;
    let vw = vc.tower.width;
    let p = vc.patch_size;
    let k = 3 * p * p;
    let n_pos = vc.grid() * vc.grid() + 1;
    // `[W, 3·P·P]` as stored → `[3·P·P, W]`.
    let stored = r.take("vision.patch", &[vw, 3, p, p])?;
    let mut patch = vec![0f32; k * vw];
    for (o, row) in stored.chunks_exact(k).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            patch[j * vw + o] = v;
        }
    }
    let vision = Vision {
        patch: r.tensor(patch, k, vw),
        class: r.take("vision.class", &[vw])?,
        pos: r.take("vision.pos", &[n_pos, vw])?,
        ln_pre: r.ln("vision.ln_pre", vw)?,
        tower: r.tower("vision", &vc.tower, cfg.activation, false)?,
        ln_post: r.ln("vision.ln_post", vw)?,
        proj: r.matrix("vision.proj", vw, cfg.embed_dim)?,
        patch_size: p,
        image_size: vc.image_size,
    };
    let tc = &cfg.text;
    let tw = tc.tower.width;
    let c = tc.context_length;
    let text = Text {
        token: r.take("text.token", &[tc.vocab_size, tw])?,
        pos: r.take("text.pos", &[c, tw])?,
        tower: r.tower("text", &tc.tower, cfg.activation, true)?,
        ln_final: r.ln("text.ln_final", tw)?,
        proj: r.matrix("text.proj", tw, cfg.embed_dim)?,
        context_length: c,
    };
    // Read like the burn builder so that `Loader::finish` sees every tensor used.
    r.take("logit_scale", &[])?;
    Ok(CpuClip {
        vision,
        text,
        embed_dim: cfg.embed_dim,
    })
}
