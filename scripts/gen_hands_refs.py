#!/usr/bin/env python3
"""Reference values for Assay's hand detector (`src/models/hands/`), from the TFLite interpreter.

Run from the repository root (environment: scripts/requirements-hands.txt):

    ASSAY_FIXTURES=/work/shared/fixtures /tmp/hands-venv/bin/python scripts/gen_hands_refs.py

Writes `tests/data/hands_refs.json` with
- `layers`: for both models (`palm`, `landmark`), every op output of one run on a fixed synthetic
  input (`synthetic_input` below; the Rust test builds the same one), recorded by the TFLite
  interpreter with `experimental_preserve_all_tensors=True` (reference kernels, no XNNPACK): the
  tensor id, its NHWC shape and 48 values at fixed flat NHWC indices (all values of the model
  outputs of the landmark model); a tensor whose buffer a later in-place op (ADD) reuses is
  recorded as `aliased_by` that tensor instead (its preserved value is not its own);
- `images`: the whole MediaPipe hands pipeline (static image mode, legacy `mp.solutions.hands`
  graph: palm_detection_full + hand_landmark_full) re-implemented below in numpy around the same
  interpreter, on fixture images: palm detections (score, box, 7 keypoints, normalised to the
  image), the rotated hand ROIs, and per hand the 21 landmarks in image pixels, the 21 world
  landmarks (metres, rotated by the ROI), the presence and handedness scores. The crops are float bilinear samples of the RGB8 image at MediaPipe's OpenCV
  geometry (dst pixel i ↔ src = corner + i/N · side, pixel centres at integers; zero border for
  the letterbox, replicated border for the hand crop), not OpenCV's 8-bit fixed-point warp; the
  script prints how far mp.solutions.hands itself lands from this on the same images.

The pipeline constants are MediaPipe 0.10.14's (palm_detection_cpu / hand_landmark_cpu graphs).
"""

import json
import math
import os
import pathlib

import numpy as np
from PIL import Image

import tflite_runtime.interpreter as tfl
import mediapipe

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULES = pathlib.Path(mediapipe.__file__).parent / "modules"
PALM = MODULES / "palm_detection" / "palm_detection_full.tflite"
LANDMARK = MODULES / "hand_landmark" / "hand_landmark_full.tflite"
FIXTURES = pathlib.Path(os.environ.get("ASSAY_FIXTURES", "/work/shared/fixtures"))
# The PNG fixtures with palm detections (no fixture shows a hand the landmark model accepts:
# presence < 0.5 everywhere, also for mp.solutions.hands), and one without any.
IMAGES = [
    "generated/girl_in_field.png",
    "generated/hypernetwork_example_output.png",
    "generated/lcm_basic_example.png",
    "generated/novelai-full.png",
    "generated/step7.png",
    "photos/astronaut.png",
]
SAMPLES = 48
MAX_HANDS = 4


def synthetic_input(h, w):
    """Deterministic NHWC values in [0, 1] (the Rust parity test builds the same)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = (y * 17 + x * 13 + c * 7 + (x * y) % 11) % 256
    return (v.astype(np.float32) / np.float32(255.0))[None]


def interpreter(path, keep=False):
    # The reference kernels without the default XNNPACK delegate: a delegated subgraph leaves its
    # intermediate tensors unwritten even with experimental_preserve_all_tensors.
    it = tfl.Interpreter(
        model_path=str(path), experimental_preserve_all_tensors=keep,
        experimental_op_resolver_type=tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def layer_refs(path, size):
    it = interpreter(path, keep=True)
    x = synthetic_input(size, size)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    rng = np.random.default_rng(0)
    out_ids = {d["index"] for d in it.get_output_details()}
    layers = []
    ops = [op for op in it._get_ops_details() if op["op_name"] != "DEQUANTIZE"]
    # TFLite runs some ops (ADD) in place: their input's buffer is the output's, so the input's
    # preserved value is overwritten. Such tensors are recorded as aliases of the later tensor.
    addr = {int(op["outputs"][0]): it.tensor(int(op["outputs"][0]))().ctypes.data for op in ops}
    for k, op in enumerate(ops):
        tid = int(op["outputs"][0])
        later = [int(o["outputs"][0]) for o in ops[k + 1:] if addr[int(o["outputs"][0])] == addr[tid]]
        if later:
            layers.append({"id": tid, "op": op["op_name"], "aliased_by": later[0]})
            continue
        t = it.get_tensor(tid)
        flat = t.reshape(-1)
        if tid in out_ids and flat.size <= 128:
            idx = np.arange(flat.size)
        else:
            idx = np.sort(rng.choice(flat.size, size=min(SAMPLES, flat.size), replace=False))
        layers.append({
            "id": tid, "op": op["op_name"], "shape": list(t.shape),
            "idx": idx.tolist(), "val": [float(v) for v in flat[idx]],
        })
    return layers


# --- pipeline -------------------------------------------------------------------------------------

def anchors():
    """SsdAnchorsCalculator, palm_detection_full options (fixed anchor size: w = h = 1)."""
    strides = [8, 16, 16, 16]
    out = []
    layer = 0
    while layer < len(strides):
        last = layer
        n = 0
        while last < len(strides) and strides[last] == strides[layer]:
            n += 2  # aspect ratio 1.0 + the interpolated scale
            last += 1
        fs = math.ceil(192 / strides[layer])
        for y in range(fs):
            for x in range(fs):
                for _ in range(n):
                    out.append(((x + 0.5) / fs, (y + 0.5) / fs))
        layer = last
    return np.array(out, dtype=np.float64)


def sample(img, m, out, zero_border):
    """Bilinear samples of img (H, W, 3 uint8) at src = m @ [x, y, 1] for dst pixels x, y < out."""
    h, w = img.shape[:2]
    ys, xs = np.meshgrid(np.arange(out, dtype=np.float64), np.arange(out, dtype=np.float64), indexing="ij")
    sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    x0 = np.floor(sx)
    y0 = np.floor(sy)
    fx = sx - x0
    fy = sy - y0
    src = img.astype(np.float64)
    acc = np.zeros((out, out, 3))
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi = (x0 + dx).astype(np.int64)
            yi = (y0 + dy).astype(np.int64)
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            v = src[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
            if zero_border:
                v = v * inside[..., None]
            acc += v * (wx * wy)[..., None]
    return (acc / 255.0).astype(np.float32)


def roi_matrix(cx, cy, side, rotation, out):
    """dst pixel (x, y) -> src point: centre + R · ((x/out − 0.5)·side, (y/out − 0.5)·side)."""
    c, s = math.cos(rotation), math.sin(rotation)
    k = side / out
    return np.array([
        [c * k, -s * k, cx - c * side / 2 + s * side / 2],
        [s * k, c * k, cy - s * side / 2 - c * side / 2],
    ])


def iou(a, b):
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def weighted_nms(dets, threshold=0.3, max_out=MAX_HANDS):
    """MediaPipe's WEIGHTED non-max suppression (IoU); dets: list of (score, box[4], kps[14])."""
    remained = sorted(dets, key=lambda d: -d[0])
    out = []
    while remained and len(out) < max_out:
        top = remained[0]
        cand = [d for d in remained if iou(top[1], d[1]) > threshold]
        rest = [d for d in remained if iou(top[1], d[1]) <= threshold]
        wsum = sum(d[0] for d in cand)
        box = sum(d[0] * d[1] for d in cand) / wsum
        kps = sum(d[0] * d[2] for d in cand) / wsum
        out.append((top[0], box, kps))
        remained = rest
    return out


def detect_palms(palm, img):
    h, w = img.shape[:2]
    side = max(w, h)
    m = roi_matrix(w / 2, h / 2, side, 0.0, 192)
    x = sample(img, m, 192, zero_border=True)[None]
    palm.set_tensor(palm.get_input_details()[0]["index"], x)
    palm.invoke()
    outs = {d["name"]: palm.get_tensor(d["index"]) for d in palm.get_output_details()}
    raw = outs["Identity"][0].astype(np.float64)
    logits = outs["Identity_1"][0, :, 0].astype(np.float64)
    scores = 1 / (1 + np.exp(-np.clip(logits, -100, 100)))
    anc = anchors()
    dets = []
    for i in np.nonzero(scores >= 0.5)[0]:
        r = raw[i] / 192.0
        xc, yc = r[0] + anc[i, 0], r[1] + anc[i, 1]
        bw, bh = r[2], r[3]
        box = np.array([xc - bw / 2, yc - bh / 2, xc + bw / 2, yc + bh / 2])
        kps = r[4:18].copy()
        kps[0::2] += anc[i, 0]
        kps[1::2] += anc[i, 1]
        dets.append((float(scores[i]), box, kps))
    # Letterbox removal: normalised to the image.
    pl, pt = (1 - w / side) / 2, (1 - h / side) / 2
    sx, sy = side / w, side / h
    res = []
    for score, box, kps in weighted_nms(dets):
        box = np.array([(box[0] - pl) * sx, (box[1] - pt) * sy, (box[2] - pl) * sx, (box[3] - pt) * sy])
        kps = kps.copy()
        kps[0::2] = (kps[0::2] - pl) * sx
        kps[1::2] = (kps[1::2] - pt) * sy
        res.append((score, box, kps))
    return res, len(dets)


def hand_roi(box, kps, w, h):
    """DetectionsToRects (rotation from keypoint 0 to 2, target 90°) + RectTransformation."""
    xc, yc = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = kps[0] * w, kps[1] * h
    x1, y1 = kps[4] * w, kps[5] * h
    rot = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    rot = rot - 2 * math.pi * math.floor((rot + math.pi) / (2 * math.pi))
    shift_y = -0.5
    xc += (-(h * bh * shift_y * math.sin(rot))) / w
    yc += (h * bh * shift_y * math.cos(rot)) / h
    long_side = max(bw * w, bh * h)
    side = long_side * 2.6
    return xc * w, yc * h, side, rot


def landmarks(lm, img, roi):
    cx, cy, side, rot = roi
    m = roi_matrix(cx, cy, side, rot, 224)
    x = sample(img, m, 224, zero_border=False)[None]
    lm.set_tensor(lm.get_input_details()[0]["index"], x)
    lm.invoke()
    outs = {d["name"]: lm.get_tensor(d["index"]) for d in lm.get_output_details()}
    pts = outs["Identity"][0].astype(np.float64).reshape(21, 3)
    c, s = math.cos(rot), math.sin(rot)
    u, v = pts[:, 0] / 224 - 0.5, pts[:, 1] / 224 - 0.5
    px = (c * u - s * v) * side + cx
    py = (s * u + c * v) * side + cy
    pz = pts[:, 2] / 224 * side
    # World landmarks (metres, hand-centred), rotated like WorldLandmarkProjectionCalculator.
    wl = outs["Identity_3"][0].astype(np.float64).reshape(21, 3)
    world = np.stack([c * wl[:, 0] - s * wl[:, 1], s * wl[:, 0] + c * wl[:, 1], wl[:, 2]], 1)
    return (np.stack([px, py, pz], 1), float(outs["Identity_1"][0, 0]),
            float(outs["Identity_2"][0, 0]), world)


def run_image(palm, lm, path):
    img = np.asarray(Image.open(path).convert("RGB"))
    h, w = img.shape[:2]
    palms, candidates = detect_palms(palm, img)
    hands = []
    for score, box, kps in palms:
        roi = hand_roi(box, kps, w, h)
        pts, presence, handed, world = landmarks(lm, img, roi)
        hands.append({
            "palm_score": score, "palm_box": box.tolist(), "palm_keypoints": kps.tolist(),
            "roi": list(roi), "landmarks": pts.tolist(), "world": world.tolist(),
            "presence": presence, "handedness": handed,
        })
    return {"width": w, "height": h, "candidates": candidates, "hands": hands}, img


def compare_with_mediapipe(img, hands):
    """Largest landmark distance (px) to mp.solutions.hands on the same image (printed only)."""
    import mediapipe as mp
    with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=MAX_HANDS,
                                  model_complexity=1, min_detection_confidence=0.5) as det:
        r = det.process(img)
    h, w = img.shape[:2]
    theirs = []
    for lms in r.multi_hand_landmarks or []:
        theirs.append(np.array([[p.x * w, p.y * h] for p in lms.landmark]))
    ours = [np.array(hd["landmarks"])[:, :2] for hd in hands if hd["presence"] >= 0.5]
    dists = []
    for o in ours:
        if theirs:
            dists.append(min(float(np.abs(o - t).max()) for t in theirs))
    return len(theirs), len(ours), dists


def main():
    refs = {"layers": {
        "palm": layer_refs(PALM, 192),
        "landmark": layer_refs(LANDMARK, 224),
    }, "images": {}}
    palm, lm = interpreter(PALM), interpreter(LANDMARK)
    for rel in IMAGES:
        res, img = run_image(palm, lm, FIXTURES / rel)
        refs["images"][rel] = res
        n_mp, n_ours, d = compare_with_mediapipe(img, res["hands"])
        print(f"{rel}: {res['width']}x{res['height']}, {res['candidates']} candidates, "
              f"{len(res['hands'])} palms, presence {[round(hd['presence'], 3) for hd in res['hands']]}; "
              f"mp.solutions.hands {n_mp} hands, ours {n_ours}, max landmark distance {[round(x, 2) for x in d]} px")
    out = ROOT / "tests" / "data" / "hands_refs.json"
    out.write_text(json.dumps(refs, separators=(",", ":")))
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
