#!/usr/bin/env python3
"""Convert the MTCNN weights of the PyPI `mtcnn` 1.0.0 wheel (MIT) to safetensors for Assay.

Run from the repository root (see scripts/requirements-mtcnn.txt for the environment):

    /tmp/mtcnn-venv/bin/python scripts/convert_mtcnn.py

What it does:
1. `pip download --no-deps --only-binary=:all: mtcnn==1.0.0` into a temporary folder (the wheel is
   fetched from the package registry at conversion time; its sha256 goes into the manifest).
2. Reads `mtcnn/assets/weights/{pnet,rnet,onet}.lz4` from the wheel: an LZ4 frame around a joblib
   pickle of the Keras `get_weights()` list (see ../shared/docs/metrics-reference.md §8), decoded
   with `joblib.load`, which is exactly what the package does.
3. Writes `models/mtcnn/{pnet,rnet,onet}.safetensors` (f32, little-endian) in burn's layouts:
   - conv `<name>.weight` [out, in, kh, kw] (Keras kernel (kh, kw, in, out) transposed), `<name>.bias` [out];
   - PReLU `<name>.alpha` [C] (Keras (1, 1, C) shared over H, W, or (C,) after a dense layer);
   - dense `<name>.weight` [in, out], `<name>.bias` [out]. The first dense layer of R-Net and O-Net
     follows Keras' `Permute((2, 1, 3))` + `Flatten()`, i.e. input index (x·H + y)·C + c; its rows
     are reordered here to the NCHW flatten order c·H·W + y·W + x, so the Rust side flattens an
     NCHW activation directly.
   Keras layer names are kept, with '-' replaced by '_' (conv4-1 -> conv4_1).
4. Writes `models/MANIFEST.toml` entries (source wheel and its sha256, licence, sha256 of each file),
   replacing earlier `mtcnn` entries and keeping the others.

The MIT licence notice of the mtcnn package is copied to models/mtcnn/LICENSE.
"""

import hashlib
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import joblib
import numpy as np
from safetensors.numpy import save_file

PACKAGE = "mtcnn"
VERSION = "1.0.0"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "models" / "mtcnn"
MANIFEST = ROOT / "models" / "MANIFEST.toml"

# Keras get_weights() order per network: (layer name, kind, extra).
# kind: conv, prelu, dense; for the first dense layer the pre-flatten NHWC shape (H, W, C).
LAYERS = {
    "pnet": [
        ("conv1", "conv"), ("prelu1", "prelu"),
        ("conv2", "conv"), ("prelu2", "prelu"),
        ("conv3", "conv"), ("prelu3", "prelu"),
        ("conv4_1", "conv"), ("conv4_2", "conv"),
    ],
    "rnet": [
        ("conv1", "conv"), ("prelu1", "prelu"),
        ("conv2", "conv"), ("prelu2", "prelu"),
        ("conv3", "conv"), ("prelu3", "prelu"),
        ("fc4", "dense", (3, 3, 64)), ("prelu4", "prelu"),
        ("fc5_1", "dense"), ("fc5_2", "dense"),
    ],
    "onet": [
        ("conv1", "conv"), ("prelu1", "prelu"),
        ("conv2", "conv"), ("prelu2", "prelu"),
        ("conv3", "conv"), ("prelu3", "prelu"),
        ("conv4", "conv"), ("prelu4", "prelu"),
        ("fc5", "dense", (3, 3, 128)), ("prelu5", "prelu"),
        ("fc6_1", "dense"), ("fc6_2", "dense"), ("fc6_3", "dense"),
    ],
}


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert(arrays, layers):
    tensors = {}
    it = iter(arrays)
    for spec in layers:
        name, kind = spec[0], spec[1]
        if kind == "conv":
            k, b = next(it), next(it)
            assert k.ndim == 4 and b.shape == (k.shape[3],), (name, k.shape, b.shape)
            tensors[f"{name}.weight"] = np.ascontiguousarray(k.transpose(3, 2, 0, 1))
            tensors[f"{name}.bias"] = b
        elif kind == "prelu":
            a = next(it)
            tensors[f"{name}.alpha"] = np.ascontiguousarray(a.reshape(-1))
        elif kind == "dense":
            w, b = next(it), next(it)
            assert w.ndim == 2 and b.shape == (w.shape[1],), (name, w.shape, b.shape)
            if len(spec) > 2:
                h, wd, c = spec[2]
                assert w.shape[0] == h * wd * c, (name, w.shape, spec[2])
                # Keras row index (x*H + y)*C + c  ->  NCHW row index c*H*W + y*W + x.
                w = w.reshape(wd, h, c, -1).transpose(2, 1, 0, 3).reshape(h * wd * c, -1)
            tensors[f"{name}.weight"] = np.ascontiguousarray(w)
            tensors[f"{name}.bias"] = b
    rest = list(it)
    assert not rest, f"{len(rest)} arrays left over"
    return {k: v.astype("<f4") for k, v in tensors.items()}


def write_manifest(wheel_name, wheel_sha, files):
    header = (
        "# Models shipped with Assay: where each file comes from, its licence and sha256.\n"
        "# Written by the conversion scripts in scripts/ (one [[model]] table per file); the Rust\n"
        "# side embeds these files and checks nothing here at run time.\n"
    )
    kept = []
    if MANIFEST.exists():
        text = MANIFEST.read_text()
        blocks = text.split("[[model]]")
        for b in blocks[1:]:
            if f'package = "{PACKAGE}"' not in b:
                kept.append("[[model]]" + b.rstrip() + "\n")
    out = [header]
    out += ["\n" + b for b in kept]
    for name, path in files:
        out.append(
            "\n[[model]]\n"
            f'file = "{path.relative_to(ROOT / "models").as_posix()}"\n'
            f'network = "{name}"\n'
            f'package = "{PACKAGE}"\n'
            f'version = "{VERSION}"\n'
            f'source = "PyPI {wheel_name}:mtcnn/assets/weights/{name}.lz4"\n'
            f'source_sha256 = "{wheel_sha}"\n'
            'licence = "MIT (Copyright (c) 2019-2024 Iván de Paz Centeno; see mtcnn/LICENSE)"\n'
            'converter = "scripts/convert_mtcnn.py"\n'
            f'sha256 = "{sha256(path)}"\n'
        )
    MANIFEST.write_text("".join(out))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             f"{PACKAGE}=={VERSION}", "-d", tmp, "-q"],
            check=True,
        )
        wheels = list(pathlib.Path(tmp).glob("mtcnn-*.whl"))
        assert len(wheels) == 1, wheels
        wheel = wheels[0]
        wheel_sha = sha256(wheel)
        files = []
        with zipfile.ZipFile(wheel) as z:
            z.extractall(pathlib.Path(tmp) / "x")
            lic = [n for n in z.namelist() if n.endswith("dist-info/LICENSE")]
            if lic:
                (OUT / "LICENSE").write_bytes(z.read(lic[0]))
        for name in ("pnet", "rnet", "onet"):
            src = pathlib.Path(tmp) / "x" / "mtcnn" / "assets" / "weights" / f"{name}.lz4"
            arrays = joblib.load(src)
            tensors = convert(arrays, LAYERS[name])
            path = OUT / f"{name}.safetensors"
            save_file(tensors, str(path), metadata={
                "source": f"{wheel.name}:mtcnn/assets/weights/{name}.lz4",
                "licence": "MIT",
                "layout": "conv [out,in,kh,kw]; dense [in,out], first dense rows in NCHW flatten order; prelu [C]",
            })
            n = sum(int(np.prod(v.shape)) for v in tensors.values())
            print(f"{path.relative_to(ROOT)}: {len(tensors)} tensors, {n} parameters")
            files.append((name, path))
        write_manifest(wheel.name, wheel_sha, files)
        print(f"{MANIFEST.relative_to(ROOT)} updated (wheel sha256 {wheel_sha})")


if __name__ == "__main__":
    main()
