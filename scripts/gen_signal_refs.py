#!/usr/bin/env python3
# Regenerate (from the repository root):
#   python3 -m pip install -r scripts/requirements-ref.txt
#   python3 scripts/gen_signal_refs.py --fixtures ../shared/fixtures --out tests/data/signal_refs.json
"""Reference vectors for Assay's classical no-reference signals and perceptual hashes.

Every value is computed with the peer implementation that defines the
convention (docs/metrics-reference.md sections 5 and 6):

* input pixels: ``PIL.Image.open`` -> first frame -> ``ImageOps.exif_transpose``
  -> ``convert("RGB")`` (alpha dropped, not composited; grey replicated;
  16-bit RGB/RGBA/LA PNG -> high byte; 16-bit grey ``I;16`` -> clipped at 255,
  which is what Pillow does);
* gray: ``cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)`` (checked against the exact
  integer formula ``(9798 R + 19235 G + 3735 B + 16384) >> 15``);
* ``blur_laplacian_var``: ``cv2.Laplacian(gray, cv2.CV_64F).var()``
  (ksize 1, BORDER_REFLECT_101);
* ``tenengrad``: ``mean(Gx**2 + Gy**2)`` with ``cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)``
  and ``(0, 1)``;
* ``clip_shadows`` / ``clip_highlights``: fraction of gray <= 5 / >= 250;
* ``luminance_mean``: ``gray.mean()``; ``contrast_rms``: ``(gray / 255).std()``;
* ``colorfulness``: Hasler & Suesstrunk 2003 on float RGB 0..255, population std;
* ``noise_sigma``: Immerkaer 1996 with ``scipy.signal.convolve2d(..., mode="valid")``;
* ``blockiness``: mean |diff| across the 8-px grid / mean |diff| elsewhere,
  horizontal and vertical differences pooled;
* ``blank``: ``gray.std() < 2`` or more than 98 % of gray within +-2 of ``np.median``;
* ``ahash`` / ``dhash`` / ``phash``: ImageHash ``average_hash`` / ``dhash`` /
  ``phash`` (hash_size 8) on the exif-transposed image in its ORIGINAL mode, as
  an ImageHash user would call them; the script asserts that hashing the RGB
  conversion gives the same strings (it does for L, LA, P, RGB, RGBA, I;16).

``blur_laplacian_var``, ``tenengrad``, ``noise_sigma`` and ``blockiness`` are
``null`` when the image is narrower or shorter than 3 px; ``blockiness`` is also
``null`` when there is no 8-px boundary difference or the non-boundary mean is 0.

Each entry also carries ``mode`` (the PIL mode as opened) and ``rgb_digest`` (see
``rgb_digest``) of PIL's RGB bytes, so a consumer can tell whether its own decoder
produced the same pixels (JPEG decoders differ by a few levels).

The synthetic images (constant, 2x2, 3x3, checkerboard, q10 JPEG plus Pillow's
lossless decode of it, mostly-constant, tall, 16-bit RGB/grey/LA/RGBA, palette with
tRNS, LA, fully transparent RGBA) are generated from fixed seeds and written to
``tests/data/synthetic/`` next to the output JSON; with the pinned versions two runs
give byte-identical files.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import struct
import sys
import warnings
import zlib
from pathlib import Path

import cv2
import imagehash
import numpy as np
import PIL
import scipy
import scipy.signal
import skimage  # not needed by these signals; part of the pinned stack, version recorded
from PIL import Image, ImageOps

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def rgb_digest(arr: np.ndarray) -> str:
    """``h = h * 0x100000001B3 + byte (mod 2**64)`` over the RGB bytes, row-major; hex.

    A cheap polynomial digest (vectorised here as sum(byte_i * P**(n-1-i))) that a
    consumer can recompute in one loop to check that its decoder gave PIL's pixels.
    """
    b = arr.reshape(-1).astype(np.uint64)
    n = b.size
    if n == 0:
        return f"{0:016x}"
    powers = np.full(n, 0x100000001B3, dtype=np.uint64)
    powers[0] = 1
    powers = np.cumprod(powers, dtype=np.uint64)[::-1]  # P**(n-1-i), wrapping mod 2**64
    return f"{int(np.sum(b * powers, dtype=np.uint64)):016x}"


def load(path: Path) -> tuple[Image.Image, np.ndarray]:
    """First frame, EXIF orientation applied; returns (original-mode image, RGB u8 array)."""
    im = Image.open(path)
    im.seek(0)
    im.load()
    im = ImageOps.exif_transpose(im)
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return im, rgb


def gray_bt601(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    exact = ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)
    assert np.array_equal(gray, exact), "cv2 RGB2GRAY differs from the integer BT.601 formula"
    return gray


def blockiness(gray: np.ndarray) -> float | None:
    g = gray.astype(np.int64)
    h, w = g.shape
    dh = np.abs(np.diff(g, axis=1))  # dh[:, c-1] = |g[:, c] - g[:, c-1]|, c = 1..w-1
    dv = np.abs(np.diff(g, axis=0))  # dv[r-1, :] = |g[r, :] - g[r-1, :]|, r = 1..h-1
    col_boundary = (np.arange(1, w) % 8) == 0
    row_boundary = (np.arange(1, h) % 8) == 0
    b_vals = np.concatenate([dh[:, col_boundary].ravel(), dv[row_boundary, :].ravel()])
    n_vals = np.concatenate([dh[:, ~col_boundary].ravel(), dv[~row_boundary, :].ravel()])
    if b_vals.size == 0 or n_vals.size == 0:
        return None
    nb = n_vals.astype(np.float64).mean()
    if nb == 0:
        return None
    return float(b_vals.astype(np.float64).mean() / nb)


def signals(rgb: np.ndarray) -> dict:
    h, w, _ = rgb.shape
    gray = gray_bt601(rgb)
    out: dict = {}
    tiny = w < 3 or h < 3
    if tiny:
        out["blur_laplacian_var"] = None
        out["tenengrad"] = None
    else:
        lap = cv2.Laplacian(gray, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
        out["blur_laplacian_var"] = float(lap.var())
        gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        out["tenengrad"] = float(np.mean(gx * gx + gy * gy))
    out["clip_shadows"] = float(np.mean(gray <= 5))
    out["clip_highlights"] = float(np.mean(gray >= 250))
    out["luminance_mean"] = float(gray.mean())
    out["contrast_rms"] = float((gray / 255.0).std())
    f = rgb.astype(np.float64)
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    out["colorfulness"] = float(
        np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    )
    if tiny:
        out["noise_sigma"] = None
        out["blockiness"] = None
    else:
        conv = scipy.signal.convolve2d(gray.astype(np.float64), IMMERKAER, mode="valid")
        out["noise_sigma"] = float(
            math.sqrt(math.pi / 2.0) * np.sum(np.abs(conv)) / (6.0 * (w - 2) * (h - 2))
        )
        out["blockiness"] = blockiness(gray)
    std_blank = bool(gray.std() < 2.0)
    med = np.median(gray)
    near = float(np.mean(np.abs(gray.astype(np.float64) - med) <= 2.0))
    out["blank"] = int(std_blank or near > 0.98)
    return out


def hashes(im: Image.Image, rgb: np.ndarray) -> dict:
    res = {
        "ahash": str(imagehash.average_hash(im)),
        "dhash": str(imagehash.dhash(im)),
        "phash": str(imagehash.phash(im)),
    }
    rgb_im = Image.fromarray(rgb, "RGB")
    via_rgb = {
        "ahash": str(imagehash.average_hash(rgb_im)),
        "dhash": str(imagehash.dhash(rgb_im)),
        "phash": str(imagehash.phash(rgb_im)),
    }
    assert res == via_rgb, f"mode {im.mode}: hashing the original mode differs from hashing RGB"
    return res


# ----------------------------------------------------------------------------- synthetic images


def write_png16(path: Path, arr: np.ndarray, color_type: int) -> None:
    """Minimal 16-bit PNG writer (no filtering) for layouts cv2/Pillow cannot write (LA)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def make_synthetic(dst: Path) -> list[Path]:
    """Small deterministic images covering the edge cases; returns their paths."""
    dst.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    paths: list[Path] = []

    def save(name: str, im: Image.Image, **kw) -> None:
        p = dst / name
        im.save(p, **kw)
        paths.append(p)

    # Constant grey 64x48: blank, blockiness null (non-boundary mean 0).
    save("const.png", Image.new("RGB", (64, 48), (128, 128, 128)))
    # 2x2 and 3x3: the "tiny image" rule (< 3 px -> neighbourhood signals null).
    save("tiny2x2.png", Image.fromarray(np.array(
        [[[250, 10, 10], [10, 240, 20]], [[15, 20, 235], [200, 190, 30]]], dtype=np.uint8), "RGB"))
    save("tiny3x3.png", Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8), "RGB"))
    # 40x40 checkerboard, 5-px cells.
    yy, xx = np.mgrid[0:40, 0:40]
    board = np.where(((yy // 5) + (xx // 5)) % 2 == 0, 20, 235).astype(np.uint8)
    save("checker.png", Image.fromarray(np.stack([board] * 3, axis=-1), "RGB"))
    # Blocky JPEG: a smooth gradient plus noise, saved at quality 10. The JPEG itself is kept
    # (decoders differ slightly), and so is Pillow's decode of it as a lossless PNG, which lets
    # consumers test blockiness on exactly the pixels the reference saw.
    y, x = np.mgrid[0:64, 0:96].astype(np.float64)
    base = np.stack([60 + 1.5 * x, 40 + 2.0 * y, 200 - 1.2 * x], axis=-1)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy, "RGB").save(buf, format="JPEG", quality=10)
    (dst / "blocky_q10.jpg").write_bytes(buf.getvalue())
    paths.append(dst / "blocky_q10.jpg")
    save("blocky_q10_pil.png", Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    # Mostly constant: std >= 2 but > 98 % of pixels within +-2 of the median -> blank.
    mc = np.full((64, 64), 100, dtype=np.int64) + rng.integers(-1, 2, (64, 64))
    idx = rng.choice(64 * 64, size=60, replace=False)
    mc.ravel()[idx] = rng.integers(0, 256, 60)
    save("mostly_const.png", Image.fromarray(np.stack([mc.astype(np.uint8)] * 3, axis=-1), "RGB"))
    # Tall noisy image: PIL resamples vertically first when the height shrinks more than
    # twice as much as the width; the width is upscaled for the 32x32 pHash.
    tall = np.clip(
        np.mgrid[0:300, 0:20][0][..., None] * 0.8 + rng.normal(0, 40, (300, 20, 3)), 0, 255
    ).astype(np.uint8)
    save("tall.png", Image.fromarray(tall, "RGB"))
    # 16-bit RGB PNG (Pillow keeps the high byte) and 16-bit grey (Pillow opens it as I;16 and
    # clips at 255 when converting to L/RGB). cv2.imwrite is used because Pillow cannot write
    # 16-bit RGB PNGs.
    y, x = np.mgrid[0:16, 0:24]
    rgb16 = np.stack([x * 2700 + y * 50, y * 4000 + 17, 65535 - x * 2000 - y * 900], axis=-1)
    rgb16 = np.clip(rgb16 + rng.integers(0, 300, rgb16.shape), 0, 65535).astype(np.uint16)
    cv2.imwrite(str(dst / "rgb16.png"), rgb16[..., ::-1])
    paths.append(dst / "rgb16.png")
    g16 = (x * 40 + y * 7 + rng.integers(0, 30, x.shape)).astype(np.uint16)
    cv2.imwrite(str(dst / "gray16.png"), g16)
    paths.append(dst / "gray16.png")
    # 16-bit grey+alpha and RGBA PNGs: Pillow keeps the high byte of every channel (it
    # opens 16-bit LA as RGBA).
    la16 = np.stack([x * 2500 + y * 300, 65535 - x * 1000 - y * 100], axis=-1)
    write_png16(dst / "la16.png", la16 + rng.integers(0, 500, la16.shape), 4)
    paths.append(dst / "la16.png")
    rgba16 = np.concatenate([rgb16, np.full(rgb16.shape[:2] + (1,), 30000)], axis=-1)
    write_png16(dst / "rgba16.png", rgba16[:, ::-1], 6)
    paths.append(dst / "rgba16.png")
    # Palette image with a tRNS chunk (partially transparent entries).
    pal_idx = rng.integers(0, 6, (24, 32), dtype=np.uint8)
    pim = Image.fromarray(pal_idx, "P")
    pim.putpalette([255, 0, 0, 0, 200, 0, 0, 0, 255, 240, 240, 10, 30, 30, 30, 128, 64, 200])
    save("palette.png", pim, transparency=bytes([255, 128, 0, 255, 255, 255]))
    # Grey + alpha (LA).
    la = np.stack([rng.integers(0, 256, (16, 16)), rng.integers(0, 256, (16, 16))], axis=-1)
    save("gray_alpha.png", Image.fromarray(la.astype(np.uint8), "LA"))
    # Fully transparent RGBA (colours still present under alpha 0).
    tr = np.concatenate(
        [rng.integers(0, 256, (12, 12, 3)), np.zeros((12, 12, 1), dtype=np.int64)], axis=-1
    )
    save("transparent.png", Image.fromarray(tr.astype(np.uint8), "RGBA"))
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", type=Path, required=True, help="folder with photos/ and generated/")
    ap.add_argument("--out", type=Path, required=True, help="output JSON (tests/data/signal_refs.json)")
    args = ap.parse_args()
    # palette.png carries a tRNS chunk on purpose; Pillow warns when converting it.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")

    data_dir = args.out.parent
    synth = make_synthetic(data_dir / "synthetic")

    entries: list[tuple[str, Path]] = []
    for sub in ("photos", "generated"):
        for p in sorted((args.fixtures / sub).iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                entries.append((f"{sub}/{p.name}", p))
    for p in synth:
        entries.append((f"synthetic/{p.name}", p))

    images = []
    for name, path in entries:
        try:
            im, rgb = load(path)
        except Exception as e:  # undecodable files are skipped, not referenced
            print(f"skip {name}: {e}", file=sys.stderr)
            continue
        h, w, _ = rgb.shape
        rec = {"file": name, "width": w, "height": h, "mode": im.mode,
               "rgb_digest": rgb_digest(rgb)}
        rec.update(signals(rgb))
        rec.update(hashes(im, rgb))
        images.append(rec)
        print(f"{name:55s} {im.mode:5s} {w}x{h}", file=sys.stderr)

    doc = {
        "generator": "python3 scripts/gen_signal_refs.py --fixtures ../shared/fixtures "
                     "--out tests/data/signal_refs.json",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "opencv-python-headless": cv2.__version__,
            "scikit-image": skimage.__version__,
            "ImageHash": imagehash.__version__,
            "Pillow": PIL.__version__,
            "scipy": scipy.__version__,
        },
        "images": images,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(images)} images to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
