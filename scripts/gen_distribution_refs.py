#!/usr/bin/env python3
# Regenerate (from the repository root):
#   python3 -m pip install -r scripts/requirements-distribution.txt
#   python3 scripts/gen_distribution_refs.py --photos ../shared/fixtures/photos --out tests/data/distribution_refs.json
"""Reference vectors for Assay's distribution and full-reference metrics
(``src/ranking/distribution.rs``, ``prdc.rs``, ``fidelity.rs``; docs/metrics-reference.md 4.1-4.6).

Peers and how each reference value is obtained (no torch is installed: the torch-based peers are
reproduced here in numpy from their source, as noted):

* FD ``sqrtm``: pytorch-fid 0.3.0 ``calculate_frechet_distance`` / clean-fid 0.1.35
  ``frechet_distance`` (identical code; both packages import torch at module level, so the
  function body is copied below) on ``mu = np.mean(x, 0)``, ``sigma = np.cov(x, rowvar=False)``.
* FD ``eigvals``: torch-fidelity 0.4.0 ``fid_statistics_to_metric`` (pure numpy body, copied).
* KID: torch-fidelity 0.4.0 ``kernel_poly`` + ``mmd2(..., "unbiased")`` (numpy bodies, copied),
  subsets drawn as torch-fidelity does (``np.random.RandomState(2020).choice(n, m, replace=False)``,
  set 1 then set 2 per iteration); the indices are stored so the Rust test needs no RNG.
* PRDC: ``prdc.compute_prdc`` 0.2 itself (numpy + scikit-learn).
* IS: torch-fidelity 0.4.0 ``isc_features_to_metric`` reproduced in numpy (f64 softmax /
  log-softmax as torch computes them), ``shuffle=False``; the ``shuffle=True`` value and the
  ``RandomState(2020).permutation`` it applies are stored too.
* PSNR: ``skimage.metrics.peak_signal_noise_ratio`` on uint8 (R = 255 from the dtype).
* SSIM: ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=-1)`` (2-D call for grey images).
* MS-SSIM: torchmetrics 1.9.0 ``multiscale_structural_similarity_index_measure`` defaults
  (gaussian 11x11 sigma 1.5, k1 0.01, k2 0.03, betas (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
  ``normalize="relu"``, torch ``reflect`` padding, 2x2 ``avg_pool2d``) reproduced in numpy float64
  from ``torchmetrics/functional/image/ssim.py``; with ``data_range=255`` and with the default
  ``data_range=None`` (max-min of both images, re-evaluated at every scale).

Feature values are quantised to ``int / 1e6`` before any reference is computed and stored as
those integers (``data_e6``), so inputs are bit-identical on both sides. PRDC values are also
stored as the integer counts behind them. Degraded images (Pillow ``GaussianBlur(1.5)``, seeded Gaussian noise sigma 8, JPEG quality 20) are
written as PNG to ``tests/data/fidelity/`` (< 300 KB in all).
"""

import argparse
import json
import os
import warnings

import numpy as np
import prdc
import scipy
import scipy.linalg
import skimage
import sklearn
from PIL import Image, ImageFilter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


# ---------------------------------------------------------------- FD (copied peer bodies)
def fd_sqrtm(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid 0.3.0 calculate_frechet_distance == clean-fid 0.1.35 frechet_distance."""
    from scipy import linalg

    mu1 = np.atleast_1d(mu1)
    mu2 = np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `disp` deprecated in SciPy 1.16
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    retried = False
    if not np.isfinite(covmean).all():
        retried = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise ValueError("Imaginary component {}".format(m))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean), retried


def fd_eigvals(mu1, sigma1, mu2, sigma2):
    """torch-fidelity 0.4.0 fid_statistics_to_metric."""
    diff = mu1 - mu2
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvals(sigma1.dot(sigma2)).astype("complex128")).real)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def stats(x):
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


# ---------------------------------------------------------------- KID (torch-fidelity bodies)
def mmd2(K_XX, K_XY, K_YY):
    m = K_XX.shape[0]
    diag_X = np.diagonal(K_XX)
    diag_Y = np.diagonal(K_YY)
    Kt_XX_sums = K_XX.sum(axis=1) - diag_X
    Kt_YY_sums = K_YY.sum(axis=1) - diag_Y
    K_XY_sums_0 = K_XY.sum(axis=0)
    Kt_XX_sum = Kt_XX_sums.sum()
    Kt_YY_sum = Kt_YY_sums.sum()
    K_XY_sum = K_XY_sums_0.sum()
    return (Kt_XX_sum + Kt_YY_sum) / (m * (m - 1)) - 2 * K_XY_sum / (m * m)


def kernel_poly(X, Y, degree=3, gamma=None, coef0=1):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (np.matmul(X, Y.T) * gamma + coef0) ** degree


def kid_ref(f1, f2, n_subsets, subset_size, seed=2020):
    rng = np.random.RandomState(seed)
    subsets, mmds = [], []
    for _ in range(n_subsets):
        i1 = rng.choice(len(f1), subset_size, replace=False)
        i2 = rng.choice(len(f2), subset_size, replace=False)
        f1s, f2s = f1[i1], f2[i2]
        mmds.append(float(mmd2(kernel_poly(f1s, f1s), kernel_poly(f1s, f2s), kernel_poly(f2s, f2s))))
        subsets.append([i1.tolist(), i2.tolist()])
    return {"subsets": subsets, "per_subset": mmds, "mean": float(np.mean(mmds)), "std": float(np.std(mmds))}


# ---------------------------------------------------------------- IS (torch-fidelity in numpy)
def isc_ref(logits, splits=10, shuffle=False, rng_seed=2020):
    N = logits.shape[0]
    if shuffle:
        logits = logits[np.random.RandomState(rng_seed).permutation(N), :]
    x = logits - logits.max(axis=1, keepdims=True)  # torch softmax / log_softmax (f64)
    ex = np.exp(x)
    s = ex.sum(axis=1, keepdims=True)
    p = ex / s
    log_p = x - np.log(s)
    scores = []
    for i in range(splits):
        p_chunk = p[(i * N // splits):((i + 1) * N // splits), :]
        log_p_chunk = log_p[(i * N // splits):((i + 1) * N // splits), :]
        q_chunk = p_chunk.mean(axis=0, keepdims=True)
        kl = p_chunk * (log_p_chunk - np.log(q_chunk))
        scores.append(float(np.exp(kl.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------------------- MS-SSIM (torchmetrics in numpy)
TM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def tm_gaussian(kernel_size, sigma):
    dist = np.arange((1 - kernel_size) / 2, (1 + kernel_size) / 2, 1.0)
    gauss = np.exp(-np.power(dist / sigma, 2) / 2)
    return gauss / gauss.sum()


def conv2d_valid(img, kernel):
    """F.conv2d (cross-correlation, no padding) of one (H, W) plane."""
    kh, kw = kernel.shape
    h, w = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    out = np.zeros((h, w))
    for u in range(kh):
        for v in range(kw):
            out += kernel[u, v] * img[u:u + h, v:v + w]
    return out


def tm_ssim_and_cs(p, t, data_range, sigma=1.5, k1=0.01, k2=0.03):
    """torchmetrics _ssim_update(return_contrast_sensitivity=True) for one image (C, H, W)."""
    if data_range is None:
        data_range = max(p.max() - p.min(), t.max() - t.min())
    c1 = pow(k1 * data_range, 2)
    c2 = pow(k2 * data_range, 2)
    ks = int(3.5 * sigma + 0.5) * 2 + 1
    pad = (ks - 1) // 2
    g = tm_gaussian(ks, sigma)
    kernel = np.outer(g, g)
    sims, css = [], []
    for ch in range(p.shape[0]):
        pp = np.pad(p[ch], pad, mode="reflect")  # == torch F.pad(mode="reflect")
        tt = np.pad(t[ch], pad, mode="reflect")
        mu_p = conv2d_valid(pp, kernel)
        mu_t = conv2d_valid(tt, kernel)
        e_pp = conv2d_valid(pp * pp, kernel)
        e_tt = conv2d_valid(tt * tt, kernel)
        e_pt = conv2d_valid(pp * tt, kernel)
        mu_p_sq, mu_t_sq, mu_pt = mu_p**2, mu_t**2, mu_p * mu_t
        s_p = np.maximum(e_pp - mu_p_sq, 0.0)
        s_t = np.maximum(e_tt - mu_t_sq, 0.0)
        s_pt = e_pt - mu_pt
        upper = 2 * s_pt + c2
        lower = (s_p + s_t) + c2
        sims.append(((2 * mu_pt + c1) * upper) / ((mu_p_sq + mu_t_sq + c1) * lower))
        css.append((upper / lower)[pad:-pad, pad:-pad])
    return float(np.mean(np.stack(sims))), float(np.mean(np.stack(css)))


def avg_pool2(x):
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    x = x[:, :h, :w]
    return (((x[:, 0::2, 0::2] + x[:, 0::2, 1::2]) + x[:, 1::2, 0::2]) + x[:, 1::2, 1::2]) / 4


def tm_ms_ssim(p, t, data_range, betas=TM_BETAS):
    """torchmetrics multiscale_structural_similarity_index_measure defaults (normalize='relu')."""
    _, h, w = p.shape
    if h < 2 ** len(betas) or w < 2 ** len(betas):
        raise ValueError("too small")
    div = max(1, len(betas) - 1) ** 2
    if h // div <= 10 or w // div <= 10:
        raise ValueError("too small")
    mcs = []
    sim = None
    for _ in range(len(betas)):
        sim, cs = tm_ssim_and_cs(p, t, data_range)
        sim, cs = max(sim, 0.0), max(cs, 0.0)  # normalize="relu"
        mcs.append(cs)
        p, t = avg_pool2(p), avg_pool2(t)
    mcs[-1] = sim
    return float(np.prod(np.array(mcs) ** np.array(betas)))


# ---------------------------------------------------------------- data
def rounded(x):
    """Quantise to multiples of 1e-6: the value is exactly ``int / 1e6`` (one correctly rounded
    division, done identically by numpy and Rust), so the JSON stores integers and no decimal
    parser (serde_json's default one is not correctly rounded) can perturb the inputs."""
    return np.round(np.asarray(x, dtype=np.float64) * 1e6).astype(np.int64) / 1e6


def feat_json(x):
    ints = np.round(x * 1e6).astype(np.int64)
    assert np.array_equal(ints / 1e6, x)
    return {"n": int(x.shape[0]), "d": int(x.shape[1]), "data_e6": [int(v) for v in ints.ravel()]}


def make_features(rng):
    d16 = 16
    l16 = rng.normal(size=(d16, d16)) / np.sqrt(d16)
    a200 = rounded(rng.normal(size=(200, d16)) @ l16 + rng.normal(size=d16))
    m16 = rng.normal(size=(d16, d16)) / np.sqrt(d16) + 0.5 * np.eye(d16)
    b180 = rounded(rng.normal(size=(180, d16)) @ m16 + 0.3 * rng.normal(size=d16))
    shift = np.zeros(d16)
    shift[:4] = [0.5, -0.25, 0.75, 1.0]
    a200_shift = rounded(a200 + shift)
    # non-Gaussian, full rank, d = 32
    c120 = rounded(rng.exponential(size=(120, 32)) @ (rng.normal(size=(32, 32)) / 6))
    e150 = rounded(rng.standard_t(5, size=(150, 32)) @ (rng.normal(size=(32, 32)) / 6) + 0.2)
    # rank-deficient: N = 40 < d = 64
    r40 = rounded(rng.normal(size=(40, 64)))
    s40 = rounded(rng.normal(size=(40, 64)) * 1.3 + 0.1)
    return {
        "a200": a200, "b180": b180, "a200_shift": a200_shift,
        "c120": c120, "e150": e150, "r40": r40, "s40": s40,
    }


def load_rgb(path):
    img = Image.open(path)
    img.load()
    return img


def save_png(arr, path):
    Image.fromarray(arr).save(path, optimize=True)


def make_fidelity(photos, outdir, rng):
    os.makedirs(outdir, exist_ok=True)
    camera = np.asarray(load_rgb(os.path.join(photos, "camera.png")).convert("L"))
    astro = np.asarray(load_rgb(os.path.join(photos, "astronaut.png")).convert("RGB"))
    crops = {
        "camera_128x96": camera[150:246, 200:328],
        "astronaut_128x96": astro[40:136, 170:298],
        "camera_256": camera[100:356, 150:406],
        "astronaut_181x177": astro[20:197, 150:331],
    }
    files = {}
    for name, arr in crops.items():
        arr = np.ascontiguousarray(arr)
        ref = f"{name}_ref.png"
        save_png(arr, os.path.join(outdir, ref))
        pil = Image.fromarray(arr)
        blur = np.asarray(pil.filter(ImageFilter.GaussianBlur(radius=1.5)))
        noise = np.clip(np.round(arr.astype(np.float64) + rng.normal(0, 8, size=arr.shape)), 0, 255)
        noise = noise.astype(np.uint8)
        jpeg_path = os.path.join(outdir, "_tmp.jpg")
        pil.save(jpeg_path, quality=20)
        jpeg = np.asarray(Image.open(jpeg_path).convert(pil.mode))
        os.remove(jpeg_path)
        variants = {"blur": blur, "noise": noise, "jpeg": jpeg}
        if name.startswith("astronaut_181"):
            variants = {"jpeg": jpeg}  # keep the fixture set small
        if name.startswith("camera_256"):
            variants = {"jpeg": jpeg}
        for kind, deg in variants.items():
            fname = f"{name}_{kind}.png"
            save_png(np.ascontiguousarray(deg), os.path.join(outdir, fname))
            files.setdefault(name, []).append((ref, fname))
    return files


def fidelity_refs(outdir, files):
    out = []
    for _, pairs in files.items():
        for ref, test in pairs:
            a = np.asarray(Image.open(os.path.join(outdir, ref)))
            b = np.asarray(Image.open(os.path.join(outdir, test)))
            rgb = a.ndim == 3
            entry = {
                "ref": ref,
                "test": test,
                "width": int(a.shape[1]),
                "height": int(a.shape[0]),
                "channels": int(a.shape[2]) if rgb else 1,
                "psnr": float(peak_signal_noise_ratio(a, b)),
                "ssim": float(
                    structural_similarity(
                        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                        data_range=255, channel_axis=-1 if rgb else None,
                    )
                ),
            }
            chw_a = (a.transpose(2, 0, 1) if rgb else a[None]).astype(np.float64)
            chw_b = (b.transpose(2, 0, 1) if rgb else b[None]).astype(np.float64)
            if min(a.shape[0], a.shape[1]) >= 176:
                entry["ms_ssim_range255"] = tm_ms_ssim(chw_a, chw_b, 255.0)
                entry["ms_ssim_range_none"] = tm_ms_ssim(chw_a, chw_b, None)
            out.append(entry)
    # identical images: PSNR is +inf (reported as null), SSIM 1
    a = np.asarray(Image.open(os.path.join(outdir, "astronaut_128x96_ref.png")))
    with np.errstate(divide="ignore"):
        same = peak_signal_noise_ratio(a, a)
    assert np.isinf(same)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default="../shared/fixtures/photos")
    ap.add_argument("--out", default="tests/data/distribution_refs.json")
    ap.add_argument("--fidelity-dir", default="tests/data/fidelity")
    args = ap.parse_args()
    rng = np.random.default_rng(20260601)
    feats = make_features(rng)

    fd = []
    for a, b in [("a200", "b180"), ("a200", "a200_shift"), ("c120", "e150"), ("r40", "s40"), ("b180", "b180")]:
        mu1, s1 = stats(feats[a])
        mu2, s2 = stats(feats[b])
        v_sqrtm, retried = fd_sqrtm(mu1, s1, mu2, s2)
        fd.append({
            "a": a, "b": b, "full_rank": bool(feats[a].shape[0] > feats[a].shape[1]),
            "sqrtm": v_sqrtm, "sqrtm_eps_retry": retried, "eigvals": fd_eigvals(mu1, s1, mu2, s2),
        })

    kid = []
    for a, b, n_sub, size in [("a200", "b180", 5, 50), ("a200", "a200_shift", 3, 100), ("r40", "s40", 2, 40)]:
        entry = kid_ref(feats[a], feats[b], n_sub, size)
        entry.update({"a": a, "b": b, "subset_size": size})
        kid.append(entry)

    prdc_refs = []
    for real, fake, k in [("a200", "b180", 3), ("a200", "b180", 5), ("a200", "a200_shift", 5),
                          ("c120", "e150", 3), ("r40", "s40", 5), ("b180", "b180", 5)]:
        r = prdc.compute_prdc(feats[real], feats[fake], k)
        nr, nf = feats[real].shape[0], feats[fake].shape[0]
        counts = {
            "precision_count": round(r["precision"] * nf), "recall_count": round(r["recall"] * nr),
            "density_count": round(r["density"] * k * nf), "coverage_count": round(r["coverage"] * nr),
        }
        prdc_refs.append({"real": real, "fake": fake, "k": k, **{key: float(v) for key, v in r.items()}, **counts})

    logits = {
        "logits250x12": rounded(rng.normal(size=(250, 12)) * 3 + rng.normal(size=12)),
        "logits103x7": rounded(rng.normal(size=(103, 7)) * 5),
    }
    isc = []
    for name, x in logits.items():
        mean, std = isc_ref(x, 10, shuffle=False)
        smean, sstd = isc_ref(x, 10, shuffle=True)
        isc.append({
            "logits": name, "splits": 10, "mean": mean, "std": std,
            "shuffled_mean": smean, "shuffled_std": sstd,
            "permutation_2020": np.random.RandomState(2020).permutation(x.shape[0]).tolist(),
        })

    files = make_fidelity(args.photos, args.fidelity_dir, np.random.default_rng(7))
    fidelity = fidelity_refs(args.fidelity_dir, files)

    doc = {
        "generator": "scripts/gen_distribution_refs.py",
        "versions": {
            "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "scikit-image": skimage.__version__, "prdc": "0.2", "Pillow": Image.__version__,
        },
        "features": {k: feat_json(v) for k, v in {**feats, **logits}.items()},
        "fd": fd,
        "kid": kid,
        "prdc": prdc_refs,
        "inception_score": isc,
        "fidelity": fidelity,
    }
    with open(args.out, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
