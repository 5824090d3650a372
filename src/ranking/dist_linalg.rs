//! Dense f64 linear algebra for the distribution metrics: a Gram product (`A·Bᵀ` on row-major
//! matrices) and a symmetric eigen-solver (Householder tridiagonalisation + implicit QL, a port
//! of the public-domain JAMA `EigenvalueDecomposition.tred2` / `tql2`, which follow EISPACK).
//! Safe Rust.
//!
//! Gram products of at least [`GEMM_MIN_MACS`] multiply-adds go to burn's `flex` CPU backend
//! as an f64 matmul: the `gemm` crate underneath picks AVX2/FMA or AVX-512 at run time and
//! splits the output over rayon's current pool (so a one-thread pool keeps it on one core). A
//! binary built for the x86-64 baseline cannot use those instructions in our own loops without
//! `unsafe`, which the crate forbids; on 10,000 × 768 features this made KID 1.8× and PRDC 1.9×
//! faster (`assay bench dist`, release, one thread).
//! Smaller products, and the rare case where flex cannot return the data, use the portable
//! kernel below: 4 rows of `A` and 4 rows of `B` packed into k-major panels, a 4×4 tile
//! accumulated (SSE2, roughly 12–17 GFLOP/s on one core). Either way the summation order
//! differs from BLAS, so results agree with numpy to rounding (~1e-15 relative), not bit for
//! bit.

use burn::tensor::{DType, Device, Tensor, TensorData};

use super::metric_error::MetricError;

/// Products of at least this many multiply-adds use the flex matmul (below it the copy in and
/// out costs more than it saves).
const GEMM_MIN_MACS: usize = 1 << 21;

/// `A·Bᵀ` through burn flex's f64 matmul, row-major `na × nb`; `None` if flex fails. Copies
/// both inputs in and the product out once (callers pass blocks: PRDC's are `BLOCK × n`).
fn gram_flex(a: &[f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let (na, nb) = (a.len() / d, b.len() / d);
    let dev = Device::flex();
    let ta = Tensor::<2>::from_data(
        TensorData::new(a[..na * d].to_vec(), [na, d]),
        (&dev, DType::F64),
    );
    let tb = Tensor::<2>::from_data(
        TensorData::new(b[..nb * d].to_vec(), [nb, d]),
        (&dev, DType::F64),
    );
    let v = ta.matmul(tb.transpose()).try_into_data().ok()?;
    let v = v.try_into_vec::<f64>().ok()?;
    (v.len() == na * nb).then_some(v)
}

/// Rows of `A` per micro-tile.
const MR: usize = 4;
/// Rows of `B` per micro-tile (panel width).
const NR: usize = 4;
/// Rows of `B` packed per outer block (`JB × KC` f64 stay in L2).
const JB: usize = 128;
/// Inner-dimension block length (keeps an `MR` and an `NR` panel in L1).
const KC: usize = 256;

/// 4×4 tile `acc[r][s] = Σ_k apack[k·MR + r] · bpack[k·NR + s]`.
#[inline(always)]
fn micro(apack: &[f64], bpack: &[f64]) -> [[f64; NR]; MR] {
    let mut acc = [[0.0; NR]; MR];
    for (av, bv) in apack.chunks_exact(MR).zip(bpack.chunks_exact(NR)) {
        for (accr, &x) in acc.iter_mut().zip(av) {
            for (acc_rs, &y) in accr.iter_mut().zip(bv) {
                *acc_rs += x * y;
            }
        }
    }
    acc
}

/// Packs columns `k0..k1` of up to `w` rows (row length `d`) k-major: `out[(k-k0)·w + r]`;
/// missing rows are zero.
fn pack(rows: &[f64], d: usize, k0: usize, k1: usize, w: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize((k1 - k0) * w, 0.0);
    for (r, row) in rows.chunks_exact(d).take(w).enumerate() {
        if let Some(seg) = row.get(k0..k1) {
            for (dst, &x) in out.iter_mut().skip(r).step_by(w).zip(seg) {
                *dst = x;
            }
        }
    }
}

/// `out = A·Bᵀ` where `A` is `na × d` and `B` is `nb × d`, both row-major (`na = a.len()/d`,
/// `nb = b.len()/d`); `out` is `na × nb` row-major. When `upper_only`, only entries with
/// column ≥ row are guaranteed (used for `A·Aᵀ`, see [`gram_sym`]).
fn gram_impl(a: &[f64], b: &[f64], d: usize, out: &mut [f64], upper_only: bool) {
    out.fill(0.0);
    if d == 0 {
        return;
    }
    let nb = b.len() / d;
    let na = a.len() / d;
    if na * nb * d >= GEMM_MIN_MACS
        && let Some(v) = gram_flex(a, b, d)
        && let Some(o) = out.get_mut(..v.len())
    {
        o.copy_from_slice(&v);
        return;
    }
    gram_blocked(a, b, d, out, upper_only);
}

/// The portable kernel of [`gram_impl`] (see the module documentation).
fn gram_blocked(a: &[f64], b: &[f64], d: usize, out: &mut [f64], upper_only: bool) {
    let nb = b.len() / d;
    let mut apack = Vec::new();
    let mut bpacks: Vec<Vec<f64>> = Vec::new();
    let mut k0 = 0;
    while k0 < d {
        let k1 = (k0 + KC).min(d);
        for (jbi, bblock) in b.chunks(JB * d).enumerate() {
            let panels: Vec<&[f64]> = bblock.chunks(NR * d).collect();
            bpacks.resize_with(panels.len(), Vec::new);
            for (p, bp) in panels.iter().zip(bpacks.iter_mut()) {
                pack(p, d, k0, k1, NR, bp);
            }
            let jblock0 = jbi * JB;
            for (ib, ablock) in a.chunks(MR * d).enumerate() {
                let i0 = ib * MR;
                if upper_only && jblock0 + bblock.len() / d <= i0 {
                    continue;
                }
                pack(ablock, d, k0, k1, MR, &mut apack);
                let nrows = ablock.len() / d;
                for (pi, (p, bp)) in panels.iter().zip(bpacks.iter()).enumerate() {
                    let j0 = jblock0 + pi * NR;
                    if upper_only && j0 + NR <= i0 {
                        continue;
                    }
                    let acc = micro(&apack, bp);
                    let ncols = p.len() / d;
                    for (r, accr) in acc.iter().enumerate().take(nrows) {
                        let start = (i0 + r) * nb + j0;
                        if let Some(o) = out.get_mut(start..start + ncols) {
                            for (dst, &v) in o.iter_mut().zip(accr) {
                                *dst += v;
                            }
                        }
                    }
                }
            }
        }
        k0 = k1;
    }
}

/// `out = A·Bᵀ` (row-major; `A` is `a.len()/d` rows, `B` is `b.len()/d` rows of length `d`).
/// `out` must hold `(a.len()/d)·(b.len()/d)` values; extra space is left zeroed.
pub(super) fn gram(a: &[f64], b: &[f64], d: usize, out: &mut [f64]) {
    gram_impl(a, b, d, out, false);
}

/// `out = A·Aᵀ`, computing the upper triangle and mirroring it (exactly symmetric result).
pub(super) fn gram_sym(a: &[f64], d: usize, out: &mut [f64]) {
    gram_impl(a, a, d, out, true);
    if d == 0 {
        return;
    }
    let n = a.len() / d;
    mirror_upper(out, n);
}

/// Copies the upper triangle of the `n × n` row-major matrix onto the lower one.
pub(super) fn mirror_upper(m: &mut [f64], n: usize) {
    if m.len() < n * n {
        return;
    }
    for r in 1..n {
        for c in 0..r {
            m[r * n + c] = m[c * n + r];
        }
    }
}

/// Row-major transpose of a `rows × cols` matrix.
pub(super) fn transpose(src: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut dst = vec![0.0; rows * cols];
    for (r, row) in src.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            dst[c * rows + r] = x;
        }
    }
    dst
}

/// Eigen-decomposition of a real symmetric matrix.
pub(super) struct SymEigen {
    /// Eigenvalues in ascending order.
    pub values: Vec<f64>,
    /// Eigenvectors as **rows** (`vectors[j·n..(j+1)·n]` belongs to `values[j]`); empty when
    /// they were not requested.
    pub vectors: Vec<f64>,
}

/// Symmetric eigen-decomposition of the `n × n` row-major matrix `a` (only symmetry is assumed;
/// the lower triangle is what the algorithm reads). Port of JAMA `tred2` + `tql2`, with the
/// orthogonal matrix stored transposed so that every hot loop walks contiguous memory.
pub(super) fn sym_eigen(a: &[f64], n: usize, want_vectors: bool) -> Result<SymEigen, MetricError> {
    if a.len() != n * n {
        return Err(MetricError::ShapeMismatch {
            what: "symmetric matrix",
            expected: n.checked_mul(n),
            actual: a.len(),
        });
    }
    if n == 0 {
        return Ok(SymEigen {
            values: Vec::new(),
            vectors: Vec::new(),
        });
    }
    // t[c*n + r] holds JAMA's V[r][c]; for a symmetric input, t starts equal to a.
    let mut t = a.to_vec();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tred2(&mut t, &mut d, &mut e, n, want_vectors);
    tql2(&mut t, &mut d, &mut e, n, want_vectors)?;
    // Sort ascending (tql2 leaves them nearly sorted).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    let values: Vec<f64> = order.iter().map(|&i| d[i]).collect();
    let vectors = if want_vectors {
        let mut v = Vec::with_capacity(n * n);
        for &i in &order {
            v.extend_from_slice(&t[i * n..(i + 1) * n]);
        }
        v
    } else {
        Vec::new()
    };
    Ok(SymEigen { values, vectors })
}

/// Householder reduction to tridiagonal form (JAMA `tred2`). `t` is JAMA's `V` transposed.
fn tred2(t: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, accumulate: bool) {
    // V[r][c] == t[c*n + r]
    for j in 0..n {
        d[j] = t[j * n + (n - 1)];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for dk in d.iter().take(i) {
            scale += dk.abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = t[j * n + (i - 1)];
                t[j * n + i] = 0.0; // V[i][j]
                t[i * n + j] = 0.0; // V[j][i]
            }
        } else {
            for dk in d.iter_mut().take(i) {
                *dk /= scale;
                h += *dk * *dk;
            }
            let f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            for j in 0..i {
                let f = d[j];
                t[i * n + j] = f; // V[j][i]
                let col = &t[j * n..j * n + i]; // V[0..i][j]
                let mut g = e[j] + col[j] * f;
                for k in (j + 1)..i {
                    g += col[k] * d[k];
                    e[k] += col[k] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let f = d[j];
                let g = e[j];
                let col = &mut t[j * n..j * n + i];
                for k in j..i {
                    col[k] -= f * e[k] + g * d[k];
                }
                d[j] = col[i - 1];
                t[j * n + i] = 0.0; // V[i][j]
            }
        }
        d[i] = h;
    }
    if accumulate {
        for i in 0..n.saturating_sub(1) {
            t[i * n + (n - 1)] = t[i * n + i]; // V[n-1][i] = V[i][i]
            t[i * n + i] = 1.0;
            let h = d[i + 1];
            if h != 0.0 {
                for k in 0..=i {
                    d[k] = t[(i + 1) * n + k] / h;
                }
                for j in 0..=i {
                    let mut g = 0.0;
                    for k in 0..=i {
                        g += t[(i + 1) * n + k] * t[j * n + k];
                    }
                    for k in 0..=i {
                        t[j * n + k] -= g * d[k];
                    }
                }
            }
            for k in 0..=i {
                t[(i + 1) * n + k] = 0.0;
            }
        }
        for j in 0..n {
            d[j] = t[j * n + (n - 1)];
            t[j * n + (n - 1)] = 0.0;
        }
        t[(n - 1) * n + (n - 1)] = 1.0;
    } else {
        // Without accumulation the diagonal is still in place (JAMA copies V[i][i] to row n-1
        // only so that the accumulation can overwrite it).
        for j in 0..n {
            d[j] = t[j * n + j];
        }
    }
    e[0] = 0.0;
}

/// Symmetric tridiagonal QL with implicit shifts (JAMA `tql2`). `t` holds the eigenvectors as
/// rows on return when `vectors` is set.
fn tql2(
    t: &mut [f64],
    d: &mut [f64],
    e: &mut [f64],
    n: usize,
    vectors: bool,
) -> Result<(), MetricError> {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1: f64 = 0.0;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                if iter > 100 {
                    return Err(MetricError::Numerical(format!(
                        "symmetric eigen-solver did not converge (eigenvalue {l} of {n})"
                    )));
                }
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let h = g - d[l];
                for di in d.iter_mut().skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    let h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    if vectors {
                        let (lo, hi) = t.split_at_mut((i + 1) * n);
                        let vi = &mut lo[i * n..];
                        let vi1 = &mut hi[..n];
                        for (a, b) in vi.iter_mut().zip(vi1.iter_mut()) {
                            let hk = *b;
                            *b = s * *a + c * hk;
                            *a = c * *a - s * hk;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    }

    #[test]
    fn gram_matches_naive() {
        let mut s = 7;
        // The last shape is above GEMM_MIN_MACS, so it takes the flex path.
        for &(na, nb, d) in &[
            (1, 1, 1),
            (5, 3, 7),
            (9, 13, 300),
            (17, 17, 5),
            (130, 141, 120),
        ] {
            let a: Vec<f64> = (0..na * d).map(|_| lcg(&mut s)).collect();
            let b: Vec<f64> = (0..nb * d).map(|_| lcg(&mut s)).collect();
            let mut out = vec![0.0; na * nb];
            gram(&a, &b, d, &mut out);
            let mut sym = vec![0.0; na * na];
            gram_sym(&a, d, &mut sym);
            for i in 0..na {
                for j in 0..nb {
                    let naive: f64 = (0..d).map(|k| a[i * d + k] * b[j * d + k]).sum();
                    assert!(
                        (out[i * nb + j] - naive).abs() < 1e-12,
                        "{na}x{nb}x{d} ({i},{j})"
                    );
                }
                for j in 0..na {
                    let naive: f64 = (0..d).map(|k| a[i * d + k] * a[j * d + k]).sum();
                    assert!((sym[i * na + j] - naive).abs() < 1e-12);
                    assert_eq!(
                        sym[i * na + j],
                        sym[j * na + i],
                        "gram_sym is exactly symmetric"
                    );
                }
            }
        }
    }

    #[test]
    fn flex_and_portable_kernels_agree() {
        let (na, nb, d) = (150, 130, 140);
        assert!(na * nb * d >= GEMM_MIN_MACS);
        let mut s = 11;
        let a: Vec<f64> = (0..na * d).map(|_| lcg(&mut s)).collect();
        let b: Vec<f64> = (0..nb * d).map(|_| lcg(&mut s)).collect();
        let fast = gram_flex(&a, &b, d).expect("flex matmul");
        let mut slow = vec![0.0; na * nb];
        gram_blocked(&a, &b, d, &mut slow, false);
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "max |flex - portable| = {worst}");
    }

    #[test]
    fn eigen_reconstructs() {
        let mut s = 3;
        for &n in &[1usize, 2, 3, 10, 57] {
            let x: Vec<f64> = (0..n * n).map(|_| lcg(&mut s)).collect();
            let mut a = vec![0.0; n * n];
            gram_sym(&x, n, &mut a);
            let eig = sym_eigen(&a, n, true).unwrap();
            assert!(eig.values.windows(2).all(|w| w[0] <= w[1]));
            for r in 0..n {
                for c in 0..n {
                    let rec: f64 = (0..n)
                        .map(|j| eig.values[j] * eig.vectors[j * n + r] * eig.vectors[j * n + c])
                        .sum();
                    assert!((rec - a[r * n + c]).abs() < 1e-10, "n={n} ({r},{c})");
                }
            }
            let vals_only = sym_eigen(&a, n, false).unwrap();
            for (p, q) in vals_only.values.iter().zip(&eig.values) {
                assert!((p - q).abs() < 1e-10);
            }
        }
        assert!(sym_eigen(&[1.0, 2.0], 2, false).is_err());
    }
}
