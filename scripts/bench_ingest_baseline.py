#!/usr/bin/env python3
"""Python baseline for Assay's ingest benchmark.

Does, per image file, what Assay's ingest step does, with the stack a Python
user would reach for (Pillow, numpy, OpenCV, ImageHash/scipy):

  read bytes -> BLAKE2b-128 content hash -> open with Pillow -> text metadata
  (img.info, EXIF incl. the Exif sub-IFD) -> convert to RGB -> gray
  (cv2.cvtColor) -> variance of Laplacian, Tenengrad, fraction of pixels <= 5
  and >= 250, mean, std/255, Hasler-Suesstrunk colourfulness, Immerkaer noise
  sigma, JPEG 8x8 blockiness -> ImageHash average_hash, dhash, phash.

Files are found recursively (png jpg jpeg webp gif bmp tif tiff, any case);
folders whose name starts with "." are skipped. A file that fails at any step
is counted as failed. Nothing is cached between runs. The timer covers the
whole job: the directory walk, the process pool's start-up and shut-down, and
every file. Animated files are measured on their first frame.

Usage (from the repository root):

    python3 -m pip install -r scripts/requirements-bench.txt
    python3 scripts/bench_ingest_baseline.py DIR [--jobs N] [--format json]

--jobs 1 (the default) runs in this process; --jobs N > 1 uses
multiprocessing.Pool(N).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import sys
import time
from multiprocessing import Pool

import cv2
import imagehash
import numpy as np
import PIL
import scipy
from PIL import Image

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
EXIF_IFD = 0x8769
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def find_images(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in EXTENSIONS:
                out.append(os.path.join(dirpath, name))
    return out


def text_metadata(img: Image.Image) -> dict:
    meta = {}
    for k, v in img.info.items():
        if isinstance(v, str):
            meta[k] = v
        elif isinstance(v, bytes) and k in ("exif", "xmp", "XML:com.adobe.xmp"):
            meta[k] = len(v)
    exif = img.getexif()
    for tag, v in exif.items():
        if isinstance(v, (str, bytes)):
            meta[f"exif:{tag}"] = v if isinstance(v, str) else len(v)
    if EXIF_IFD in exif:
        for tag, v in exif.get_ifd(EXIF_IFD).items():
            if tag == 0x9286 and isinstance(v, bytes):  # UserComment
                code, body = v[:8], v[8:]
                if code.startswith(b"UNICODE"):
                    # A1111 (piexif) writes UTF-16BE; some tools write LE. Guess from
                    # where the zero byte of the first ASCII character sits.
                    enc = "utf-16-le" if body[1:2] == b"\x00" and body[:1] != b"\x00" else "utf-16-be"
                    meta["exif:UserComment"] = body.decode(enc, errors="replace")
                else:
                    meta["exif:UserComment"] = body.decode("latin-1", errors="replace")
            elif isinstance(v, str):
                meta[f"exif:{tag}"] = v
    return meta


def blockiness(gray: np.ndarray) -> float:
    """Mean |difference| across 8-px grid boundaries / mean |difference| elsewhere."""
    g = gray.astype(np.float64)
    dh = np.abs(np.diff(g, axis=1))  # dh[:, j] is between columns j and j+1
    dv = np.abs(np.diff(g, axis=0))
    bh = (np.arange(dh.shape[1]) + 1) % 8 == 0
    bv = (np.arange(dv.shape[0]) + 1) % 8 == 0
    b_sum = dh[:, bh].sum() + dv[bv, :].sum()
    b_n = dh[:, bh].size + dv[bv, :].size
    o_sum = dh[:, ~bh].sum() + dv[~bv, :].sum()
    o_n = dh[:, ~bh].size + dv[~bv, :].size
    if b_n == 0 or o_n == 0:
        return float("nan")
    other = o_sum / o_n
    return float((b_sum / b_n) / other) if other > 0 else float("nan")


def process(path: str) -> tuple[bool, str, dict]:
    try:
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        img = Image.open(io.BytesIO(data))
        meta = text_metadata(img)
        rgb_img = img.convert("RGB")
        rgb = np.asarray(rgb_img)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape

        lap_var = float(cv2.Laplacian(gray, cv2.CV_64F).var())
        gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)
        gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3)
        tenengrad = float(np.mean(gx * gx + gy * gy))

        n = gray.size
        frac_dark = float(np.count_nonzero(gray <= 5) / n)
        frac_bright = float(np.count_nonzero(gray >= 250) / n)
        mean = float(gray.mean())
        contrast = float(gray.std() / 255.0)

        r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
        rg = r - g
        yb = 0.5 * (r + g) - b
        colourfulness = float(
            math.sqrt(rg.std() ** 2 + yb.std() ** 2)
            + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
        )

        if h >= 3 and w >= 3:
            conv = cv2.filter2D(gray.astype(np.float64), cv2.CV_64F, IMMERKAER)[1:-1, 1:-1]
            noise = float(math.sqrt(math.pi / 2) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))
        else:
            noise = float("nan")

        block = blockiness(gray)

        ahash = imagehash.average_hash(rgb_img)
        dhash = imagehash.dhash(rgb_img)
        phash = imagehash.phash(rgb_img)

        return True, path, {
            "blake2b": digest,
            "w": w,
            "h": h,
            "meta_keys": len(meta),
            "lap_var": lap_var,
            "tenengrad": tenengrad,
            "dark": frac_dark,
            "bright": frac_bright,
            "mean": mean,
            "contrast": contrast,
            "colourfulness": colourfulness,
            "noise": noise,
            "blockiness": block,
            "ahash": str(ahash),
            "dhash": str(dhash),
            "phash": str(phash),
        }
    except Exception as e:  # noqa: BLE001 - every per-file failure is counted
        return False, path, {"error": f"{type(e).__name__}: {e}"}


def run(root: str, jobs: int) -> tuple[list, float]:
    t0 = time.perf_counter()
    paths = find_images(root)
    if jobs <= 1:
        results = [process(p) for p in paths]
    else:
        with Pool(jobs) as pool:
            results = list(pool.imap_unordered(process, paths, chunksize=1))
    seconds = time.perf_counter() - t0
    return results, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Python ingest baseline (see module docstring).")
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--format", choices=["text", "json"], default="text")
    ap.add_argument("--per-file", action="store_true",
                    help="also print each file's measures (JSON lines on stderr)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"not a directory: {args.dir}", file=sys.stderr)
        return 2

    results, seconds = run(args.dir, max(1, args.jobs))
    ok = sum(1 for r in results if r[0])
    failures = sorted((p, d["error"]) for good, p, d in results if not good)
    if args.per_file:
        for good, p, d in sorted(results, key=lambda r: r[1]):
            print(json.dumps({"file": p, "ok": good, **d}), file=sys.stderr)

    report = {
        "files": len(results),
        "ok": ok,
        "failed": len(results) - ok,
        "seconds": round(seconds, 4),
        "files_per_s": round(len(results) / seconds, 2) if seconds > 0 else None,
        "jobs": max(1, args.jobs),
        "python": platform.python_version(),
        "versions": {
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "imagehash": getattr(imagehash, "__version__", "unknown"),
            "scipy": scipy.__version__,
        },
        "cv2_threads": cv2.getNumThreads(),
        "cpus": os.cpu_count(),
        "failures": [{"file": p, "error": e} for p, e in failures],
    }
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['files']} files, {ok} ok, {report['failed']} failed in "
              f"{report['seconds']:.3f} s ({report['files_per_s']} files/s, jobs={report['jobs']})")
        for p, e in failures:
            print(f"  failed: {p}: {e}")
        print("python " + report["python"] + ", " +
              ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
