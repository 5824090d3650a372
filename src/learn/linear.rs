//! The linear Bradley–Terry scorer, solved to convergence in plain f64.
//!
//! Model: `s(x) = w·x` on standardised features; a labelled pair (a, b) with target
//! y ∈ {1, ½, 0} has `P(a ≻ b) = σ(w·(x_a − x_b))`. The objective is the mean logistic loss plus
//! an L2 penalty,
//!
//! `f(w) = (1/n) Σ_k −[y_k log σ(m_k) + (1 − y_k) log σ(−m_k)] + λ‖w‖²`, `m_k = w·(x_a − x_b)`,
//!
//! which is strictly convex for λ > 0, so its minimiser is unique. This is scikit-learn's
//! `LogisticRegression` on pairwise differences without an intercept, with `C = 1 / (2λn)`.
//! It is solved by Newton's method (Cholesky of the d × d Hessian, backtracking Armijo line
//! search) until the gradient's largest component is below `tol` or the Newton decrement
//! `gᵀH⁻¹g / 2` (the decrease a further step would bring) is below 1e-14 of the objective —
//! the floor that rounding in the sums over pairs leaves; above [`NEWTON_MAX_DIM`] features by
//! L-BFGS (10 corrections, same line search) until the gradient is below `tol` relative to the
//! starting gradient, or the objective stops changing.
//!
//! The Hessian at the optimum, `H = (1/n) Σ p(1 − p) d dᵀ + 2λI`, also gives the Laplace
//! posterior of `w` used by active labeling: precision `n·H` (see [`precision`]).

use super::LearnError;
use super::labels::LabeledPair;

/// Above this many features the solver is L-BFGS (Newton's d³ factorisation grows too costly).
pub const NEWTON_MAX_DIM: usize = 256;

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Newton: stop when `max |∇f| < tol` (or at the rounding floor, see the module docs).
    pub tol: f64,
    /// L-BFGS: stop when `max |∇f| < lbfgs_tol · max(1, max |∇f(0)|)`.
    pub lbfgs_tol: f64,
    pub max_iter: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        Self {
            tol: 1e-9,
            lbfgs_tol: 1e-7,
            max_iter: 500,
        }
    }
}

/// A solved linear scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearFit {
    pub w: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// `max |∇f|` at the returned `w`.
    pub gradient: f64,
    /// Mean logistic loss (without the penalty).
    pub loss: f64,
    /// The penalised objective.
    pub objective: f64,
    pub solver: &'static str,
}

/// `log σ(z)`, stable for large |z|.
pub fn log_sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        -(-z).exp().ln_1p()
    } else {
        z - z.exp().ln_1p()
    }
}

/// `σ(z)`, stable for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Logistic loss of one pair with margin `m` and target `y`.
pub fn pair_loss(m: f64, y: f64) -> f64 {
    -(y * log_sigmoid(m) + (1.0 - y) * log_sigmoid(-m))
}

struct Problem<'a> {
    x: &'a [Vec<f64>],
    pairs: &'a [LabeledPair],
    l2: f64,
    d: usize,
    /// The penalty's centre `w₀` (`λ‖w − w₀‖²`, L2-SP); `None` = 0.
    center: Option<&'a [f64]>,
}

impl Problem<'_> {
    fn margin(&self, w: &[f64], p: &LabeledPair) -> f64 {
        let (xa, xb) = (&self.x[p.a], &self.x[p.b]);
        (0..self.d).map(|j| w[j] * (xa[j] - xb[j])).sum()
    }

    /// (objective, mean data loss).
    fn value(&self, w: &[f64]) -> (f64, f64) {
        let n = self.pairs.len() as f64;
        let loss = self
            .pairs
            .iter()
            .map(|p| pair_loss(self.margin(w, p), p.target))
            .sum::<f64>()
            / n;
        (loss + self.l2 * self.penalty(w), loss)
    }

    /// `‖w − w₀‖²`.
    fn penalty(&self, w: &[f64]) -> f64 {
        match self.center {
            Some(c) => w.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum(),
            None => w.iter().map(|v| v * v).sum(),
        }
    }

    /// The starting point of the solvers: the penalty's centre.
    fn start(&self) -> Vec<f64> {
        self.center
            .map_or_else(|| vec![0.0; self.d], <[f64]>::to_vec)
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let n = self.pairs.len() as f64;
        let mut g: Vec<f64> = match self.center {
            Some(c) => w
                .iter()
                .zip(c)
                .map(|(v, c)| 2.0 * self.l2 * (v - c))
                .collect(),
            None => w.iter().map(|v| 2.0 * self.l2 * v).collect(),
        };
        for p in self.pairs {
            let r = (sigmoid(self.margin(w, p)) - p.target) / n;
            let (xa, xb) = (&self.x[p.a], &self.x[p.b]);
            for j in 0..self.d {
                g[j] += r * (xa[j] - xb[j]);
            }
        }
        g
    }

    /// The Hessian of the objective (row-major d × d).
    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let d = self.d;
        let n = self.pairs.len() as f64;
        let mut h = vec![0.0; d * d];
        let mut diff = vec![0.0; d];
        for p in self.pairs {
            let s = sigmoid(self.margin(w, p));
            let c = s * (1.0 - s) / n;
            let (xa, xb) = (&self.x[p.a], &self.x[p.b]);
            for j in 0..d {
                diff[j] = xa[j] - xb[j];
            }
            for i in 0..d {
                let ci = c * diff[i];
                if ci == 0.0 {
                    continue;
                }
                let row = &mut h[i * d..(i + 1) * d];
                for (hj, &dj) in row.iter_mut().zip(&diff).take(i + 1) {
                    *hj += ci * dj;
                }
            }
        }
        for i in 0..d {
            h[i * d + i] += 2.0 * self.l2;
            for j in 0..i {
                h[j * d + i] = h[i * d + j];
            }
        }
        h
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cholesky factor (lower, row-major) of a symmetric positive definite matrix.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `L`.
pub fn cholesky_solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..d {
        for k in 0..i {
            y[i] -= l[i * d + k] * y[k];
        }
        y[i] /= l[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            y[i] -= l[k * d + i] * y[k];
        }
        y[i] /= l[i * d + i];
    }
    y
}

/// The inverse of a symmetric positive definite matrix (row-major), `None` when it is not.
pub fn spd_inverse(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, d)?;
    let mut inv = vec![0.0; d * d];
    let mut e = vec![0.0; d];
    for j in 0..d {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        let col = cholesky_solve(&l, d, &e);
        for i in 0..d {
            inv[i * d + j] = col[i];
        }
    }
    Some(inv)
}

/// Backtracking Armijo line search along `dir` from `w`; returns the new point and its value.
fn line_search(
    pb: &Problem<'_>,
    w: &[f64],
    f0: f64,
    g: &[f64],
    dir: &[f64],
) -> Option<(Vec<f64>, (f64, f64))> {
    let slope = dot(g, dir);
    if slope >= 0.0 {
        return None;
    }
    let mut t = 1.0;
    for _ in 0..60 {
        let cand: Vec<f64> = w.iter().zip(dir).map(|(a, b)| a + t * b).collect();
        let v = pb.value(&cand);
        if v.0 <= f0 + 1e-4 * t * slope {
            return Some((cand, v));
        }
        t *= 0.5;
    }
    None
}

/// Fits the linear scorer on standardised rows `x` (one per item) from `pairs`.
pub fn fit(
    x: &[Vec<f64>],
    pairs: &[LabeledPair],
    l2: f64,
    opts: &SolverOptions,
) -> Result<LinearFit, LearnError> {
    fit_toward(x, pairs, l2, None, opts)
}

/// [`fit`] with the penalty `λ‖w − w₀‖²` toward `center = w₀` (L2-SP: fine-tuning from a
/// starting head), solved from `w₀`; `None` is [`fit`].
pub fn fit_toward(
    x: &[Vec<f64>],
    pairs: &[LabeledPair],
    l2: f64,
    center: Option<&[f64]>,
    opts: &SolverOptions,
) -> Result<LinearFit, LearnError> {
    let d = x.first().map_or(0, Vec::len);
    if center.is_some_and(|c| c.len() != d || c.iter().any(|v| !v.is_finite())) {
        return Err(LearnError::Invalid(
            "the starting weights do not match the features".into(),
        ));
    }
    if pairs.is_empty() {
        return Err(LearnError::NoLabels("no training pairs".into()));
    }
    if d == 0 || x.iter().any(|r| r.len() != d) {
        return Err(LearnError::Invalid(
            "feature rows are empty or ragged".into(),
        ));
    }
    if !(l2 > 0.0 && l2.is_finite()) {
        return Err(LearnError::Invalid(format!(
            "the L2 strength must be positive and finite, got {l2}"
        )));
    }
    let n = x.len();
    if pairs
        .iter()
        .any(|p| p.a >= n || p.b >= n || !(0.0..=1.0).contains(&p.target))
    {
        return Err(LearnError::Invalid(
            "a pair refers to no item or has a target outside [0, 1]".into(),
        ));
    }
    let pb = Problem {
        x,
        pairs,
        l2,
        d,
        center,
    };
    if d <= NEWTON_MAX_DIM {
        newton(&pb, opts)
    } else {
        lbfgs(&pb, opts)
    }
}

fn finish(
    pb: &Problem<'_>,
    w: Vec<f64>,
    iterations: usize,
    solver: &'static str,
    converged: impl FnOnce(&[f64], f64, f64) -> bool,
) -> Result<LinearFit, LearnError> {
    let (objective, loss) = pb.value(&w);
    let g = pb.gradient(&w);
    let gradient = max_abs(&g);
    if !objective.is_finite() || w.iter().any(|v| !v.is_finite()) {
        return Err(LearnError::Backend(
            "the objective became non-finite".into(),
        ));
    }
    Ok(LinearFit {
        converged: converged(&g, gradient, objective),
        w,
        iterations,
        gradient,
        loss,
        objective,
        solver,
    })
}

fn newton(pb: &Problem<'_>, opts: &SolverOptions) -> Result<LinearFit, LearnError> {
    let d = pb.d;
    let mut w = pb.start();
    let mut f = pb.value(&w).0;
    let mut it = 0;
    while it < opts.max_iter {
        let g = pb.gradient(&w);
        if max_abs(&g) < opts.tol {
            break;
        }
        it += 1;
        let h = pb.hessian(&w);
        let Some(l) = cholesky(&h, d) else {
            return Err(LearnError::Backend(
                "the Hessian is not positive definite".into(),
            ));
        };
        let step: Vec<f64> = cholesky_solve(&l, d, &g).iter().map(|v| -v).collect();
        match line_search(pb, &w, f, &g, &step) {
            Some((nw, (nf, _))) => {
                let done = (f - nf).abs() <= 1e-16 * f.abs().max(1.0);
                w = nw;
                f = nf;
                if done {
                    break;
                }
            }
            // No decrease along the Newton direction: at the optimum to machine precision.
            None => break,
        }
    }
    let h = pb.hessian(&w);
    finish(pb, w, it, "newton", |g: &[f64], gmax: f64, f: f64| {
        gmax < opts.tol
            || cholesky(&h, d).is_some_and(|l| {
                let step = cholesky_solve(&l, d, g);
                dot(g, &step) / 2.0 <= 1e-14 * f.abs().max(1.0)
            })
    })
}

fn lbfgs(pb: &Problem<'_>, opts: &SolverOptions) -> Result<LinearFit, LearnError> {
    const M: usize = 10;
    let mut w = pb.start();
    let mut f = pb.value(&w).0;
    let mut g = pb.gradient(&w);
    let tol = opts.lbfgs_tol * max_abs(&g).max(1.0);
    let mut hist: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let mut it = 0;
    let mut stalled = false;
    while it < opts.max_iter && max_abs(&g) >= tol {
        it += 1;
        // Two-loop recursion.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(hist.len());
        for (s, y, rho) in hist.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = hist
            .back()
            .map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y).max(1e-300));
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let Some((nw, (nf, _))) = line_search(pb, &w, f, &g, &dir).or_else(|| {
            // Restart along the steepest descent.
            hist.clear();
            let sd: Vec<f64> = g.iter().map(|v| -v).collect();
            line_search(pb, &w, f, &g, &sd)
        }) else {
            break;
        };
        let ng = pb.gradient(&nw);
        let s: Vec<f64> = nw.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = ng.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if hist.len() == M {
                hist.pop_front();
            }
            hist.push_back((s, y, 1.0 / sy));
        }
        stalled = (f - nf).abs() <= 1e-16 * f.abs().max(1.0);
        w = nw;
        f = nf;
        g = ng;
        if stalled {
            break;
        }
    }
    finish(pb, w, it, "l-bfgs", |_, gmax, _| gmax < tol || stalled)
}

/// The objective at `w` and its gradient (with the L2-SP centre when given).
pub fn objective_gradient(
    x: &[Vec<f64>],
    pairs: &[LabeledPair],
    l2: f64,
    center: Option<&[f64]>,
    w: &[f64],
) -> (f64, Vec<f64>) {
    let pb = Problem {
        x,
        pairs,
        l2,
        d: w.len(),
        center,
    };
    (pb.value(w).0, pb.gradient(w))
}

/// The Hessian of the objective at `w` (row-major d × d).
pub fn hessian(x: &[Vec<f64>], pairs: &[LabeledPair], l2: f64, w: &[f64]) -> Vec<f64> {
    let d = w.len();
    if pairs.is_empty() {
        let mut h = vec![0.0; d * d];
        for i in 0..d {
            h[i * d + i] = 2.0 * l2;
        }
        return h;
    }
    Problem {
        x,
        pairs,
        l2,
        d,
        center: None,
    }
    .hessian(w)
}

/// Posterior precision of `w` (Laplace approximation): the Hessian of the *summed* loss plus
/// the prior `2nλI` implied by the penalty, i.e. `n·H`.
pub fn precision(x: &[Vec<f64>], pairs: &[LabeledPair], l2: f64, w: &[f64]) -> Vec<f64> {
    let n = pairs.len().max(1) as f64;
    hessian(x, pairs, l2, w)
        .into_iter()
        .map(|v| v * n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::rng::Rng;

    fn synthetic(n: usize, pairs: usize, d: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<LabeledPair>) {
        let mut rng = Rng::new(seed);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..d).map(|_| rng.next_f64() * 2.0 - 1.0).collect())
            .collect();
        let truth: Vec<f64> = x.iter().map(|r| 2.0 * r[0] - r[1]).collect();
        let mut out = Vec::new();
        for k in 0..pairs {
            let (a, b) = (rng.below(n), rng.below(n));
            if a == b {
                continue;
            }
            let p = sigmoid(3.0 * (truth[a] - truth[b]));
            let target = if k % 17 == 0 {
                0.5
            } else if rng.next_f64() < p {
                1.0
            } else {
                0.0
            };
            out.push(LabeledPair {
                a,
                b,
                target,
                event: k,
            });
        }
        (x, out)
    }

    #[test]
    fn newton_reaches_a_zero_gradient_and_recovers_the_direction() {
        let (x, pairs) = synthetic(60, 400, 3, 11);
        let f = fit(&x, &pairs, 1e-3, &SolverOptions::default()).unwrap();
        assert!(f.converged, "{f:?}");
        assert!(f.gradient < 1e-8);
        assert!(
            f.iterations < 20,
            "Newton converges quickly: {}",
            f.iterations
        );
        let norm = f.w.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos = (2.0 * f.w[0] - f.w[1]) / (norm * 5f64.sqrt());
        assert!(cos > 0.97, "cosine {cos}, w = {:?}", f.w);
        // Optimality: any perturbation increases the objective.
        let pb = Problem {
            x: &x,
            pairs: &pairs,
            l2: 1e-3,
            d: 3,
            center: None,
        };
        for j in 0..3 {
            for s in [-1e-4, 1e-4] {
                let mut w = f.w.clone();
                w[j] += s;
                assert!(pb.value(&w).0 > f.objective);
            }
        }
    }

    /// scikit-learn's `LogisticRegression` on pairwise differences (no intercept, C = 1/(2λn),
    /// ties as two half-weighted samples) has the same minimiser
    /// (`scripts/gen_flywheel_refs.py` → `tests/data/flywheel_refs.json`).
    #[test]
    fn matches_scikit_learn_reference_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flywheel_refs.json");
        let refs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = refs["linear"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let x: Vec<Vec<f64>> = c["x"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect()
                })
                .collect();
            let pairs: Vec<LabeledPair> = c["pairs"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(k, p)| LabeledPair {
                    a: p[0].as_u64().unwrap() as usize,
                    b: p[1].as_u64().unwrap() as usize,
                    target: p[2].as_f64().unwrap(),
                    event: k,
                })
                .collect();
            let want: Vec<f64> = c["w"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let l2 = c["l2"].as_f64().unwrap();
            let f = fit(&x, &pairs, l2, &SolverOptions::default()).unwrap();
            assert!(f.converged, "{}: {f:?}", c["name"]);
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (got, want) in f.w.iter().zip(&want) {
                assert!(
                    (got - want).abs() < 1e-6 * scale,
                    "{}: {:?} vs scikit-learn {want:?}",
                    c["name"],
                    f.w
                );
            }
            // The L-BFGS path reaches the same minimiser.
            let pb = Problem {
                x: &x,
                pairs: &pairs,
                l2,
                d: x[0].len(),
                center: None,
            };
            let b = lbfgs(&pb, &SolverOptions::default()).unwrap();
            for (got, want) in b.w.iter().zip(&want) {
                assert!(
                    (got - want).abs() < 1e-4 * scale,
                    "{}: l-bfgs {:?}",
                    c["name"],
                    b.w
                );
            }
        }
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let (x, pairs) = synthetic(20, 80, 4, 3);
        let pb = Problem {
            x: &x,
            pairs: &pairs,
            l2: 0.05,
            d: 4,
            center: None,
        };
        let w = vec![0.3, -0.7, 0.1, 1.2];
        let g = pb.gradient(&w);
        let h = pb.hessian(&w);
        let e = 1e-6;
        for j in 0..4 {
            let mut wp = w.clone();
            let mut wm = w.clone();
            wp[j] += e;
            wm[j] -= e;
            let fd = (pb.value(&wp).0 - pb.value(&wm).0) / (2.0 * e);
            assert!((fd - g[j]).abs() < 1e-7, "grad {j}: {fd} vs {}", g[j]);
            let gp = pb.gradient(&wp);
            let gm = pb.gradient(&wm);
            for i in 0..4 {
                let fd = (gp[i] - gm[i]) / (2.0 * e);
                assert!((fd - h[i * 4 + j]).abs() < 1e-6, "hess {i},{j}");
            }
        }
    }

    #[test]
    fn lbfgs_and_newton_agree() {
        let (x, pairs) = synthetic(50, 300, 6, 7);
        let pb = Problem {
            x: &x,
            pairs: &pairs,
            l2: 0.01,
            d: 6,
            center: None,
        };
        let opts = SolverOptions::default();
        let a = newton(&pb, &opts).unwrap();
        let b = lbfgs(&pb, &opts).unwrap();
        assert!(a.converged && b.converged, "{a:?} {b:?}");
        for (u, v) in a.w.iter().zip(&b.w) {
            assert!((u - v).abs() < 1e-5, "{:?} vs {:?}", a.w, b.w);
        }
    }

    #[test]
    fn separable_data_stays_finite_and_ties_pull_together() {
        // Perfectly separable: without a penalty the MLE does not exist; with one it does.
        let x = vec![vec![1.0], vec![0.0], vec![-1.0]];
        let pairs: Vec<LabeledPair> = [(0, 1), (1, 2), (0, 2)]
            .iter()
            .enumerate()
            .map(|(k, &(a, b))| LabeledPair {
                a,
                b,
                target: 1.0,
                event: k,
            })
            .collect();
        let f = fit(&x, &pairs, 1e-4, &SolverOptions::default()).unwrap();
        assert!(f.converged && f.w[0] > 1.0 && f.w[0].is_finite(), "{f:?}");
        // Only ties: the optimum is w = 0 exactly.
        let ties: Vec<LabeledPair> = pairs
            .iter()
            .map(|p| LabeledPair { target: 0.5, ..*p })
            .collect();
        let f = fit(&x, &ties, 1e-4, &SolverOptions::default()).unwrap();
        assert!(f.w[0].abs() < 1e-12 && (f.loss - std::f64::consts::LN_2).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = vec![vec![1.0], vec![2.0]];
        let ok = [LabeledPair {
            a: 0,
            b: 1,
            target: 1.0,
            event: 0,
        }];
        let o = SolverOptions::default();
        assert!(fit(&x, &[], 1.0, &o).is_err());
        assert!(fit(&x, &ok, 0.0, &o).is_err());
        assert!(fit(&x, &ok, f64::NAN, &o).is_err());
        let bad = [LabeledPair { b: 5, ..ok[0] }];
        assert!(fit(&x, &bad, 1.0, &o).is_err());
        assert!(fit(&[vec![1.0], vec![]], &ok, 1.0, &o).is_err());
    }

    #[test]
    fn spd_inverse_inverts() {
        let a = vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = spd_inverse(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(spd_inverse(&[-1.0], 1).is_none());
    }
}
