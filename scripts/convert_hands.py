#!/usr/bin/env python3
"""Convert MediaPipe's hand models (PyPI `mediapipe` 0.10.14 wheel, Apache-2.0) to op graphs for Assay.

Run from the repository root (see scripts/requirements-hands.txt for the environment):

    /tmp/hands-venv/bin/python scripts/convert_hands.py

What it does:
1. `pip download --no-deps --only-binary=:all: mediapipe==0.10.14` (the cp311 manylinux wheel) into a
   temporary folder; its sha256 goes into the manifest.
2. Reads `mediapipe/modules/palm_detection/palm_detection_full.tflite` and
   `mediapipe/modules/hand_landmark/hand_landmark_full.tflite` from the wheel and parses the TFLite
   flatbuffer (the schema module that ships in the same wheel, `mediapipe/tasks/metadata/
   schema_py_generated.py`, read from the installed package).
3. Writes `models/hands/{palm_detection_full,hand_landmark_full}.safetensors`: the constant tensors
   (`t<id>`; float16 where the model stores float16 behind a DEQUANTIZE op, which is exact, else
   float32) and, in the safetensors metadata under `graph`, the op list the Rust interpreter
   (`src/models/graph.rs`) runs. Layout: activations of rank 4 are NCHW on the Rust side, so:
   - CONV_2D weight [O, kh, kw, I] -> [O, I, kh, kw]; DEPTHWISE_CONV_2D [1, kh, kw, C] -> [C, 1, kh, kw];
   - PRELU alpha [1, 1, C] -> [C]; FULLY_CONNECTED weight [out, in] as stored;
   - SAME padding is resolved here into explicit [top, bottom, left, right] with TensorFlow's rule
     (total = max((out − 1)·s + k − in, 0), top = total // 2, the extra row/column at the bottom/right);
   - PAD paddings, RESHAPE target shapes, RESIZE_BILINEAR sizes and MEAN axes (int32 constants)
     become op options, axes given in the model's NHWC terms (the runner maps them);
   - DEQUANTIZE ops disappear: their float16 input is the constant, their output its id.
   Fused activations (NONE, RELU, RELU6) are kept per op.
4. Writes `models/MANIFEST.toml` entries (wheel, file inside it, its sha256, licence, sha256 of
   each output), replacing earlier `mediapipe` entries and keeping the others, and copies the
   wheel's licence to models/hands/LICENSE.
"""

import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from safetensors.numpy import save_file

PACKAGE = "mediapipe"
VERSION = "0.10.14"
WHEEL_TAG = "cp311"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "models" / "hands"
MANIFEST = ROOT / "models" / "MANIFEST.toml"
MODELS = {
    "palm_detection_full": "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "hand_landmark_full": "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
}
LICENCE = "Apache-2.0 (Copyright The MediaPipe Authors; see hands/LICENSE)"
ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def schema():
    from mediapipe.tasks.metadata import schema_py_generated as S
    return S


def same_pads(in_hw, out_hw, k_hw, s_hw):
    pads = []
    for i, o, k, s in zip(in_hw, out_hw, k_hw, s_hw):
        total = max((o - 1) * s + k - i, 0)
        pads += [total // 2, total - total // 2]
    return pads  # [top, bottom, left, right]


class Reader:
    """The TFLite flatbuffer of one model: tensors, buffers, operators."""

    def __init__(self, buf: bytes):
        self.S = schema()
        self.m = self.S.Model.GetRootAsModel(buf, 0)
        self.g = self.m.Subgraphs(0)
        self.codes = {v: k for k, v in self.S.BuiltinOperator.__dict__.items() if not k.startswith("_")}

    def shape(self, i):
        t = self.g.Tensors(i)
        return [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else []

    def name(self, i):
        return self.g.Tensors(i).Name().decode()

    def data(self, i):
        """The constant data of tensor i (None for activations)."""
        t = self.g.Tensors(i)
        b = self.m.Buffers(t.Buffer())
        if b.DataLength() == 0:
            return None
        dtype = {0: np.float32, 1: np.float16, 2: np.int32}[t.Type()]
        return np.frombuffer(b.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(i))

    def op_name(self, op):
        oc = self.m.OperatorCodes(op.OpcodeIndex())
        return self.codes[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]

    def options(self, op, cls):
        o = getattr(self.S, cls)()
        t = op.BuiltinOptions()
        o.Init(t.Bytes, t.Pos)
        return o


def convert(buf: bytes):
    r = Reader(buf)
    consts = {}  # id -> array in Rust layout
    deq = {}  # DEQUANTIZE output id -> float16 input id
    ops = []
    for k in range(r.g.OperatorsLength()):
        op = r.g.Operators(k)
        name = r.op_name(op)
        ins = [int(i) for i in op.InputsAsNumpy()]
        outs = [int(i) for i in op.OutputsAsNumpy()]
        if name == "DEQUANTIZE":
            deq[outs[0]] = ins[0]
            continue

        def const(i, layout=None):
            src = deq.get(i, i)
            a = r.data(src)
            assert a is not None, (name, i)
            if layout == "conv":
                a = a.transpose(0, 3, 1, 2)
            elif layout == "depthwise":
                a = a.transpose(3, 0, 1, 2)
            elif layout == "vector":
                a = a.reshape(-1)
            a = np.ascontiguousarray(a)
            if i in consts:
                assert consts[i].shape == a.shape, (i, consts[i].shape, a.shape)
            consts[i] = a
            return i

        entry = {"op": name, "inputs": [], "outputs": outs, "name": r.name(outs[0])}
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            cls = "Conv2DOptions" if name == "CONV_2D" else "DepthwiseConv2DOptions"
            o = r.options(op, cls)
            assert o.DilationHFactor() == 1 and o.DilationWFactor() == 1
            if name == "DEPTHWISE_CONV_2D":
                assert o.DepthMultiplier() == 1, "depth multiplier"
            wshape = r.shape(ins[1])
            k_hw = wshape[1:3]
            s_hw = [o.StrideH(), o.StrideW()]
            in_shape, out_shape = r.shape(ins[0]), r.shape(outs[0])
            pads = [0, 0, 0, 0] if o.Padding() == 1 else same_pads(in_shape[1:3], out_shape[1:3], k_hw, s_hw)
            entry["inputs"] = [ins[0], const(ins[1], "conv" if name == "CONV_2D" else "depthwise"), const(ins[2])]
            entry.update(stride=s_hw, pads=pads, activation=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "FULLY_CONNECTED":
            o = r.options(op, "FullyConnectedOptions")
            assert o.WeightsFormat() == 0 and not o.KeepNumDims()
            entry["inputs"] = [ins[0], const(ins[1]), const(ins[2])]
            entry["activation"] = ACTIVATIONS[o.FusedActivationFunction()]
        elif name == "PRELU":
            entry["inputs"] = [ins[0], const(ins[1], "vector")]
        elif name == "ADD":
            o = r.options(op, "AddOptions")
            assert all(r.data(deq.get(i, i)) is None for i in ins), "ADD of a constant"
            entry["inputs"] = ins
            entry["activation"] = ACTIVATIONS[o.FusedActivationFunction()]
        elif name == "MAX_POOL_2D":
            o = r.options(op, "Pool2DOptions")
            k_hw, s_hw = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
            in_shape, out_shape = r.shape(ins[0]), r.shape(outs[0])
            pads = [0, 0, 0, 0] if o.Padding() == 1 else same_pads(in_shape[1:3], out_shape[1:3], k_hw, s_hw)
            entry["inputs"] = ins
            entry.update(kernel=k_hw, stride=s_hw, pads=pads, activation=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "PAD":
            entry["inputs"] = [ins[0]]
            entry["paddings"] = r.data(ins[1]).tolist()
        elif name == "RESHAPE":
            entry["inputs"] = [ins[0]]
            entry["shape"] = r.shape(outs[0])
        elif name == "RESIZE_BILINEAR":
            o = r.options(op, "ResizeBilinearOptions")
            assert not o.AlignCorners() and o.HalfPixelCenters(), "only half-pixel centres"
            entry["inputs"] = [ins[0]]
            entry["size"] = r.data(ins[1]).tolist()
        elif name == "CONCATENATION":
            o = r.options(op, "ConcatenationOptions")
            assert o.FusedActivationFunction() == 0
            entry["inputs"] = ins
            entry["axis"] = o.Axis()
        elif name == "MEAN":
            o = r.options(op, "ReducerOptions")
            entry["inputs"] = [ins[0]]
            entry.update(axes=r.data(ins[1]).tolist(), keep_dims=bool(o.KeepDims()))
        elif name == "LOGISTIC":
            entry["inputs"] = ins
        else:
            raise SystemExit(f"unsupported op {name}")
        ops.append(entry)
    inputs = [int(i) for i in r.g.InputsAsNumpy()]
    outputs = [int(i) for i in r.g.OutputsAsNumpy()]
    shapes = {}
    for e in ops:
        for i in e["outputs"]:
            shapes[str(i)] = r.shape(i)
    for i in inputs:
        shapes[str(i)] = r.shape(i)
    graph = {
        "inputs": inputs,
        "outputs": outputs,
        "output_names": [r.name(i) for i in outputs],
        "shapes": shapes,
        "ops": ops,
    }
    tensors = {f"t{i}": (a if a.dtype == np.float16 else a.astype("<f4")) for i, a in consts.items()}
    return graph, tensors


def write_manifest(wheel_name, wheel_sha, files):
    header = (
        "# Models shipped with Assay: where each file comes from, its licence and sha256.\n"
        "# Written by the conversion scripts in scripts/ (one [[model]] table per file); the Rust\n"
        "# side embeds these files and checks nothing here at run time.\n"
    )
    kept = []
    if MANIFEST.exists():
        for b in MANIFEST.read_text().split("[[model]]")[1:]:
            if f'package = "{PACKAGE}"' not in b:
                kept.append("[[model]]" + b.rstrip() + "\n")
    out = [header] + ["\n" + b for b in kept]
    for name, path, inner, inner_sha in files:
        out.append(
            "\n[[model]]\n"
            f'file = "{path.relative_to(ROOT / "models").as_posix()}"\n'
            f'network = "{name}"\n'
            f'package = "{PACKAGE}"\n'
            f'version = "{VERSION}"\n'
            f'source = "PyPI {wheel_name}:{inner}"\n'
            f'source_sha256 = "{inner_sha}"\n'
            f'wheel_sha256 = "{wheel_sha}"\n'
            f'licence = "{LICENCE}"\n'
            'converter = "scripts/convert_hands.py"\n'
            f'sha256 = "{sha256_bytes(path.read_bytes())}"\n'
        )
    MANIFEST.write_text("".join(out))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
             f"{PACKAGE}=={VERSION}", "-d", tmp, "-q"],
            check=True,
        )
        wheels = list(pathlib.Path(tmp).glob(f"mediapipe-{VERSION}-{WHEEL_TAG}-*.whl"))
        assert len(wheels) == 1, wheels
        wheel = wheels[0]
        files = []
        with zipfile.ZipFile(wheel) as z:
            lic = [n for n in z.namelist() if n.endswith("dist-info/LICENSE")]
            (OUT / "LICENSE").write_bytes(z.read(lic[0]))
            for name, inner in MODELS.items():
                buf = z.read(inner)
                graph, tensors = convert(buf)
                path = OUT / f"{name}.safetensors"
                save_file(tensors, str(path), metadata={
                    "source": f"{wheel.name}:{inner}",
                    "source_sha256": sha256_bytes(buf),
                    "licence": "Apache-2.0",
                    "graph": json.dumps(graph, separators=(",", ":")),
                })
                n = sum(int(np.prod(v.shape)) for v in tensors.values())
                kinds = sorted({o["op"] for o in graph["ops"]})
                print(f"{path.relative_to(ROOT)}: {len(graph['ops'])} ops {kinds}, {len(tensors)} constants, {n} values")
                files.append((name, path, inner, sha256_bytes(buf)))
        wheel_sha = sha256_bytes(wheel.read_bytes())
        write_manifest(wheel.name, wheel_sha, files)
        print(f"{MANIFEST.relative_to(ROOT)} updated (wheel sha256 {wheel_sha})")


if __name__ == "__main__":
    main()
