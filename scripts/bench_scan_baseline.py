#!/usr/bin/env python3
"""Python baseline for `assay bench scan`: what a default `assay scan` does per file, with the
stack a Python user would reach for.

Per image file (found recursively, as scripts/bench_ingest_baseline.py does):

  read bytes -> BLAKE2b-128 content hash -> Pillow open -> text metadata -> convert("RGB")
  -> classical signals with OpenCV/numpy (variance of Laplacian, Tenengrad, clipping, mean,
     RMS contrast, colourfulness, Immerkaer noise, blockiness) -> ImageHash aHash/dHash/pHash
  -> faces: the `mtcnn` 1.0.0 package (TensorFlow) at the same detection resolution as
     Assay's fast mode (`models/mtcnn/working.rs`): the image shrunk with Pillow's bicubic filter
     so that its long side is at most --face-max-side (1024), `detect_faces` with the minimum
     face that gives the same pyramid (the package's levels of the full image for faces of
     at least 1/26 of the short side), boxes scaled back to full-resolution pixels.

Reports files/s, the seconds spent per phase (decode = read + hash + open + metadata +
convert; signals = OpenCV/numpy + ImageHash; faces = working copy + MTCNN), summed over
workers, and the peak RSS of the largest process (ru_maxrss of this process and of the pool's
workers). --no-faces skips the detector.

Usage (from the repository root; Python 3.11):

    python3 -m venv /work/venvs/scan
    /work/venvs/scan/bin/pip install -r scripts/requirements-scan.txt
    /work/venvs/scan/bin/python scripts/bench_scan_baseline.py DIR [--jobs N] [--format json]

--jobs 1 runs in this process; --jobs N > 1 uses multiprocessing.Pool(N), one detector per
worker, and TensorFlow's thread pools sized cpus / N per worker.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import resource
import sys
import time
from multiprocessing import Pool

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import imagehash
import numpy as np
import PIL
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ingest_baseline import IMMERKAER, blockiness, find_images, text_metadata  # noqa: E402

Image.MAX_IMAGE_PIXELS = 100_000_000

_DETECTOR = None
_FACES = True
_MAX_SIDE = 1024


def working_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """Assay's WorkingResolution::size: long side -> max_side, short side rounded half up."""
    long, short = max(w, h), min(w, h)
    if long <= max_side:
        return w, h
    s = max(1, (short * max_side + long // 2) // long)
    return (max_side, s) if w >= h else (s, max_side)


def working_min_face(w: int, h: int, ww: int, wh: int) -> float:
    """Assay's WorkingResolution::scales as the package's min_face_size on the working copy:
    the first of the full image's levels 0.6 * 0.709**k that serves faces of at least
    max(20, short / 26) px and at least 20 working-copy pixels."""
    r = ww / w if w >= h else wh / h
    largest = 12.0 / max(20.0, min(w, h) / 26.0) * (1 + 1e-9)
    k = 0
    while 0.6 * 0.709**k > largest or 0.6 * 0.709**k / r > 0.6 * (1 + 1e-9):
        k += 1
    return 12.0 * r / (0.6 * 0.709**k)


def init(faces: bool, max_side: int, threads: int) -> None:
    global _DETECTOR, _FACES, _MAX_SIDE
    _FACES, _MAX_SIDE = faces, max_side
    if faces:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import mtcnn.stages.stage_pnet as stage_pnet
        from mtcnn import MTCNN

        # mtcnn 1.0.0 counts its pyramid levels from the image size alone, so a min_face_size
        # above 20 px adds levels below P-Net's 12-px input and TensorFlow raises on them. Keep
        # the levels of at least 12 px (what Assay's pyramid has).
        package_pyramid = stage_pnet.build_scale_pyramid

        def pyramid(width, height, min_face_size, scale_factor, min_size=12):
            s = package_pyramid(width, height, min_face_size, scale_factor, min_size)
            return s[min(width, height) * s >= min_size]

        stage_pnet.build_scale_pyramid = pyramid
        _DETECTOR = MTCNN()


def classical(rgb: np.ndarray) -> dict:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    out = {
        "lap_var": float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        "dark": float(np.count_nonzero(gray <= 5) / gray.size),
        "bright": float(np.count_nonzero(gray >= 250) / gray.size),
        "mean": float(gray.mean()),
        "contrast": float(gray.std() / 255.0),
    }
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3)
    out["tenengrad"] = float(np.mean(gx * gx + gy * gy))
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    out["colourfulness"] = float(math.sqrt(rg.std() ** 2 + yb.std() ** 2)
                                 + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    if h >= 3 and w >= 3:
        conv = cv2.filter2D(gray.astype(np.float64), cv2.CV_64F, IMMERKAER)[1:-1, 1:-1]
        out["noise"] = float(math.sqrt(math.pi / 2) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))
    out["blockiness"] = blockiness(gray)
    return out


def faces(rgb_img: Image.Image) -> list:
    w, h = rgb_img.size
    ww, wh = working_size(w, h, _MAX_SIDE)
    small = rgb_img if (ww, wh) == (w, h) else rgb_img.resize((ww, wh), Image.BICUBIC)
    found = _DETECTOR.detect_faces(np.asarray(small), min_face_size=working_min_face(w, h, ww, wh))
    sx, sy = w / ww, h / wh
    return [[(f["box"][0] + 0.5) * sx - 0.5, (f["box"][1] + 0.5) * sy - 0.5,
             f["box"][2] * sx, f["box"][3] * sy, float(f["confidence"])] for f in found]


def process(path: str) -> tuple[bool, str, dict]:
    times = {"decode": 0.0, "signals": 0.0, "faces": 0.0}
    try:
        t = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        img = Image.open(io.BytesIO(data))
        meta = text_metadata(img)
        rgb_img = img.convert("RGB")
        del data
        rgb = np.asarray(rgb_img)
        t2 = time.perf_counter()
        times["decode"] = t2 - t
        sig = classical(rgb)
        sig["ahash"] = str(imagehash.average_hash(rgb_img))
        sig["dhash"] = str(imagehash.dhash(rgb_img))
        sig["phash"] = str(imagehash.phash(rgb_img))
        t3 = time.perf_counter()
        times["signals"] = t3 - t2
        found = faces(rgb_img) if _FACES else []
        times["faces"] = time.perf_counter() - t3
        return True, path, {"blake2b": digest, "meta_keys": len(meta), "faces": found,
                            "times": times, **sig}
    except Exception as e:  # noqa: BLE001 - every per-file failure is counted
        return False, path, {"error": f"{type(e).__name__}: {e}", "times": times}


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Python scan baseline (see module docstring).")
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--face-max-side", type=int, default=1024)
    ap.add_argument("--no-faces", action="store_true")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"not a directory: {args.dir}", file=sys.stderr)
        return 2
    jobs = max(1, args.jobs)
    cpus = os.cpu_count() or 1
    init_args = (not args.no_faces, args.face_max_side, max(1, cpus // jobs))

    t0 = time.perf_counter()
    paths = find_images(args.dir)
    if jobs == 1:
        init(*init_args)
        t_ready = time.perf_counter()
        results = [process(p) for p in paths]
    else:
        with Pool(jobs, initializer=init, initargs=init_args) as pool:
            t_ready = time.perf_counter()
            results = list(pool.imap_unordered(process, paths, chunksize=1))
    seconds = time.perf_counter() - t0

    phases = {"decode": 0.0, "signals": 0.0, "faces": 0.0}
    for _, _, d in results:
        for k, v in d["times"].items():
            phases[k] += v
    busy = sum(phases.values()) or 1.0
    ok = sum(1 for r in results if r[0])
    report = {
        "files": len(results),
        "ok": ok,
        "failed": len(results) - ok,
        "faces": not args.no_faces,
        "images_with_faces": sum(1 for good, _, d in results if good and d["faces"]),
        "seconds": round(seconds, 4),
        "startup_seconds": round(t_ready - t0, 4),
        "files_per_s": round(len(results) / seconds, 2) if seconds > 0 else None,
        "files_per_s_after_startup": (round(len(results) / (seconds - (t_ready - t0)), 2)
                                      if seconds > t_ready - t0 else None),
        "phase_seconds": {k: round(v, 4) for k, v in phases.items()},
        "phase_share": {k: round(v / busy, 4) for k, v in phases.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "jobs": jobs,
        "face_max_side": args.face_max_side,
        "python": platform.python_version(),
        "versions": {"pillow": PIL.__version__, "numpy": np.__version__,
                     "opencv": cv2.__version__,
                     "imagehash": getattr(imagehash, "__version__", "unknown")},
        "failures": sorted(({"file": p, "error": d["error"]} for good, p, d in results
                            if not good), key=lambda f: f["file"]),
    }
    if not args.no_faces:
        import mtcnn
        import tensorflow as tf

        report["versions"]["mtcnn"] = getattr(mtcnn, "__version__", "1.0.0")
        report["versions"]["tensorflow"] = tf.__version__
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['files']} files, {ok} ok in {report['seconds']:.3f} s "
              f"({report['files_per_s']} files/s, jobs={jobs}, faces={report['faces']}), "
              f"phases {report['phase_share']}, peak RSS {report['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
