#!/usr/bin/env python3
"""Reference outputs of the PyPI `mtcnn` 1.0.0 face detector (TensorFlow) for Assay's parity tests.

Run from the repository root (environment: scripts/requirements-mtcnn.txt):

    /tmp/mtcnn-venv/bin/python scripts/gen_mtcnn_refs.py [--fixtures ../shared/fixtures]

Writes tests/data/mtcnn_refs.json with
- `layers`: every layer of P-Net, R-Net and O-Net on fixed synthetic inputs (formula below, so no
  input is stored). Per layer: its NHWC shape and the values at up to 256 evenly spaced flat NHWC
  indices (`idx`, `val`); the heads are stored in full.
- `resize_area`: tf.image.resize(method=AREA) of a synthetic image (the pyramid's resampler).
- `crop_and_resize`: tf.image.crop_and_resize (bilinear, extrapolation 0) for a few boxes, one
  reaching outside the image (the R-Net/O-Net crop sampler).
- `images`: `detect_faces` on PNG fixtures (decoded with Pillow, `convert("RGB")`, passed as a
  uint8 array), with per-stage candidate counts; boxes unrounded [x1, y1, x2, y2] after clipping,
  the JSON box [x, y, w, h], confidence and the five landmarks.

Synthetic input (NHWC, n = sample index): v = ((n*31 + y*17 + x*13 + c*7 + (x*y) % 11) % 256 - 127.5) / 128.
"""

import argparse
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from PIL import Image

import mtcnn
from mtcnn import MTCNN
from mtcnn.utils.images import load_images_batch, standarize_batch
from mtcnn.utils.bboxes import fix_bboxes_offsets, limit_bboxes

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Fixtures with faces (PNG: decoding is bit-identical in Pillow and Rust).
PHOTOS = ["astronaut.png", "camera.png", "kodim05.png", "kodim15.png", "coffee.png"]
GENERATED = ["elven_princess.png", "hypernetwork_example_output.png", "step7.png",
             "curly.942491079.outcrop.png"]


def synth(n, h, w, c=3):
    nn, yy, xx, cc = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = (nn * 31 + yy * 17 + xx * 13 + cc * 7 + (xx * yy) % 11) % 256
    return ((v - 127.5) / 128).astype(np.float32)


def sample(t, full=False, k=256):
    a = np.asarray(t, dtype=np.float32)
    flat = a.reshape(-1)
    if full or flat.size <= k:
        idx = np.arange(flat.size)
    else:
        idx = np.unique(np.linspace(0, flat.size - 1, k).round().astype(np.int64))
    return {"shape": list(a.shape), "idx": idx.tolist(), "val": [float(f"{x:.8g}") for x in flat[idx]]}


def layer_trace(model, names, x, heads):
    out = {}
    for name in names:
        x = getattr(model, name)(x)
        out[name] = sample(x)
    for name in heads:
        out[name] = sample(getattr(model, name)(x), full=True)
    return out


def layers_refs(det):
    pnet = det.get_stage(stage_id=1)._model
    rnet = det.get_stage(stage_id=2)._model
    onet = det.get_stage(stage_id=3)._model
    return {
        "pnet": {"input": [1, 17, 23, 3], **layer_trace(
            pnet, ["conv1", "prelu1", "maxpool1", "conv2", "prelu2", "conv3", "prelu3"],
            tf.constant(synth(1, 17, 23)), ["conv4_1", "conv4_2"])},
        "rnet": {"input": [3, 24, 24, 3], **layer_trace(
            rnet, ["conv1", "prelu1", "maxpool1", "conv2", "prelu2", "maxpool2", "conv3", "prelu3",
                   "permute", "flatten", "fc4", "prelu4"],
            tf.constant(synth(3, 24, 24)), ["fc5_1", "fc5_2"])},
        "onet": {"input": [3, 48, 48, 3], **layer_trace(
            onet, ["conv1", "prelu1", "maxpool1", "conv2", "prelu2", "maxpool2", "conv3", "prelu3",
                   "maxpool3", "conv4", "prelu4", "permute", "flatten", "fc5", "prelu5"],
            tf.constant(synth(3, 48, 48)), ["fc6_1", "fc6_2", "fc6_3"])},
    }


def resize_refs():
    img = synth(1, 29, 37)
    out = []
    for (h, w) in [(20, 26), (14, 9), (29, 37), (7, 30)]:
        r = tf.image.resize(img, (h, w), method=tf.image.ResizeMethod.AREA).numpy()
        out.append({"input": [1, 29, 37, 3], "size": [h, w], **sample(r, full=True)})
    return out


def crop_refs():
    img = synth(1, 40, 50)
    # [x1, y1, x2, y2] in pixels, normalised as mtcnn's extract_patches does.
    boxes = np.asarray([[0, 3.5, 7.25, 30.0, 29.75], [0, -6.0, 10.0, 20.0, 36.0], [0, 40.0, -3.3, 61.7, 18.4]])
    coords = boxes[:, [2, 1, 4, 3]] / np.asarray([[40, 50, 40, 50]])
    r = tf.image.crop_and_resize(img, coords, boxes[:, 0].astype(int), (24, 24)).numpy()
    return {"input": [1, 40, 50, 3], "boxes_xyxy": boxes[:, 1:].tolist(), "size": [24, 24], **sample(r, full=True)}


def detect(det, rgb):
    """detect_faces' own steps, keeping the per-stage counts."""
    images_raw = load_images_batch([rgb])
    images_normalized, images_oshapes, pad_param = standarize_batch(images_raw, justification="center", normalize=True)
    counts = []
    bboxes = None
    try:
        for stage in det.stages:
            bboxes = stage(bboxes_batch=bboxes, images_normalized=images_normalized, images_oshapes=images_oshapes)
            counts.append(int(bboxes.shape[0]))
    except tf.errors.InvalidArgumentError:
        bboxes = np.empty((0, 16))
    bboxes = fix_bboxes_offsets(bboxes, pad_param)
    bboxes = limit_bboxes(bboxes, images_shapes=images_oshapes, limit_landmarks=False)
    return bboxes, counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared" / "fixtures"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "mtcnn_refs.json"))
    args = ap.parse_args()
    fx = pathlib.Path(args.fixtures)
    det = MTCNN()
    images = []
    for folder, names in (("photos", PHOTOS), ("generated", GENERATED)):
        for name in names:
            path = fx / folder / name
            rgb = np.asarray(Image.open(path).convert("RGB"))
            bboxes, counts = detect(det, rgb)
            api = det.detect_faces(rgb)
            faces = []
            for row, j in zip(bboxes, api):
                faces.append({
                    "xyxy": [float(v) for v in row[1:5]],
                    "box": [int(v) for v in j["box"]],
                    "confidence": float(row[5]),
                    "landmarks": [[float(row[6 + k]), float(row[11 + k])] for k in range(5)],
                })
            images.append({"file": f"{folder}/{name}", "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                           "stage_counts": counts, "faces": faces})
            print(f"{folder}/{name}: stages {counts}, {len(faces)} face(s)")
    refs = {
        "generator": "scripts/gen_mtcnn_refs.py",
        "mtcnn": getattr(mtcnn, "__version__", "1.0.0"),
        "tensorflow": tf.__version__,
        "synthetic_input": "v = ((n*31 + y*17 + x*13 + c*7 + (x*y) % 11) % 256 - 127.5) / 128, NHWC",
        "layers": layers_refs(det),
        "resize_area": resize_refs(),
        "crop_and_resize": crop_refs(),
        "images": images,
    }
    pathlib.Path(args.out).write_text(json.dumps(refs, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({pathlib.Path(args.out).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
