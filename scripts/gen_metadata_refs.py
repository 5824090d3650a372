#!/usr/bin/env python3
"""Reference vectors for generation-metadata parsing (tests/data/metadata_refs.json).

Runs two published reference parsers over every image in ../shared/fixtures/generated,
../shared/fixtures/photos and ../shared/metadata-samples and records, per file and per
parser, the fields Assay compares: tool, prompt, negative, seed, steps, sampler, cfg,
model and size. Nothing is interpreted beyond putting each parser's output into one
shape (see `norm_*` below); the Rust test `metadata::tests_refs` decides what counts as
the reference value and lists every deliberate difference with its reason.

    python3 -m venv /work/venvs/metadata
    /work/venvs/metadata/bin/pip install -r scripts/requirements-metadata.txt
    /work/venvs/metadata/bin/python scripts/gen_metadata_refs.py \
        --root .. --out tests/data/metadata_refs.json

Reference parsers (pinned in scripts/requirements-metadata.txt):
- sd-prompt-reader (receyuki): `ImageDataReader`; its ComfyUI and NovelAI readers report
  the picture's pixel size as "size", so that value is recorded as `pixel_size`, not `size`
  (Assay's size is the generation size).
- sd-parsers (d3x-at): `ParserManager().parse`; the first sampler is the first pass.
Either may raise on a file; the error text is recorded instead of values. Each file is
read in a fresh interpreter (`--one PATH`): sd-parsers 0.6 keeps state between calls in one
process (forge-neo.jpeg came back with the seed of a file read earlier).
"""

import argparse
import contextlib
import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

FIELDS = ["tool", "prompt", "negative", "seed", "steps", "sampler", "cfg", "model", "size"]
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp", ".gif"}


def clean(v):
    """None for the parsers' placeholders ('', 'None', None)."""
    if v is None:
        return None
    if isinstance(v, str):
        s = v
        if s.strip() in ("", "None"):
            return None
        return s
    return v


def first_of_tuple(v):
    """sd-prompt-reader prints several ComfyUI samplers as '(a, b)': keep the first."""
    if isinstance(v, str):
        m = re.fullmatch(r"\((.*)\)", v.strip(), re.S)
        if m and "," in m.group(1):
            return m.group(1).split(",")[0].strip().strip("'\""), True
    return v, False


def norm_int(v):
    v = clean(v)
    if v is None:
        return None
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    try:
        i = int(str(v).strip())  # exact for 64-bit seeds
        return i if i >= 0 else None
    except ValueError:
        pass
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if f != int(f) or f < 0:
        return None
    return int(f)


def norm_float(v):
    v = clean(v)
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def norm_size(v):
    v = clean(v)
    if v is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", str(v))
    if not m:
        return None
    w, h = int(m.group(1)), int(m.group(2))
    return None if w == 0 or h == 0 else [w, h]


def norm_text(v):
    v = clean(v)
    return v if isinstance(v, str) else None


def run_prompt_reader(path):
    from sd_prompt_reader.image_data_reader import ImageDataReader

    with contextlib.redirect_stdout(io.StringIO()):
        r = ImageDataReader(str(path))
        tool = r.tool
        if not tool:
            return {"error": "not recognised"}
        p = r.parameter
        positive, negative = r.positive, r.negative
    multi = False
    out = {"tool": tool.replace("\n", " ")}
    out["prompt"] = norm_text(positive)
    out["negative"] = norm_text(negative)
    for key, field, conv in [
        ("seed", "seed", norm_int),
        ("steps", "steps", norm_int),
        ("cfg", "cfg", norm_float),
        ("sampler", "sampler", norm_text),
        ("model", "model", norm_text),
    ]:
        value, was_tuple = first_of_tuple(p.get(key))
        multi |= was_tuple
        out[field] = conv(value)
    size = norm_size(p.get("size"))
    pixels = tool == "NovelAI" or (tool.startswith("ComfyUI") and "A1111" not in tool)
    out["pixel_size" if pixels else "size"] = size
    if pixels:
        out["size"] = None
    if multi:
        out["several_samplers"] = True
    return out


def run_sd_parsers(path):
    import sd_parsers

    with contextlib.redirect_stdout(io.StringIO()):
        info = sd_parsers.ParserManager().parse(str(path))
    if info is None:
        return {"error": "not recognised"}
    out = {"tool": info.generator.value}
    prompts = [p.value for p in info.prompts]
    negatives = [p.value for p in info.negative_prompts]
    sampler = info.samplers[0] if info.samplers else None
    if sampler is not None:
        prompts = prompts or [p.value for p in sampler.prompts]
        negatives = negatives or [p.value for p in sampler.negative_prompts]
    out["prompt"] = norm_text(prompts[0]) if prompts else None
    out["negative"] = norm_text(negatives[0]) if negatives else None
    params = sampler.parameters if sampler else {}
    out["seed"] = norm_int(params.get("seed"))
    out["steps"] = norm_int(params.get("steps"))
    out["cfg"] = norm_float(params.get("cfg_scale", params.get("cfg")))
    out["sampler"] = norm_text(sampler.name) if sampler else None
    model = sampler.model if sampler else None
    if model is None and info.models:
        model = next(iter(info.models))
    out["model"] = norm_text(model.name) if model else None
    meta = info.metadata or {}
    size = meta.get("Size") or meta.get("resolution")
    if size is None and "width" in params and "height" in params:
        size = f"{params['width']}x{params['height']}"
    out["size"] = norm_size(size)
    if len(info.samplers) > 1:
        out["several_samplers"] = True
    return out


def guarded(fn, path):
    try:
        return fn(path)
    except Exception as e:  # the reference failing on a file is a result too
        return {"error": f"{type(e).__name__}: {e}"[:200]}


def read_one(path):
    """Both references on one file, in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="..", help="folder holding shared/ (default: ..)")
    ap.add_argument("--out", default="tests/data/metadata_refs.json")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if args.one:
        p = Path(args.one)
        doc = {
            "sd-prompt-reader": guarded(run_prompt_reader, p),
            "sd-parsers": guarded(run_sd_parsers, p),
        }
        print(json.dumps(doc, ensure_ascii=False))
        return
    import importlib.metadata as md

    shared = Path(args.root) / "shared"
    folders = [
        shared / "fixtures" / "generated",
        shared / "fixtures" / "photos",
        shared / "metadata-samples",
    ]
    files = {}
    for folder in folders:
        if not folder.is_dir():
            sys.exit(f"missing {folder}")
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() not in IMAGE_EXT or not p.is_file():
                continue
            key = p.relative_to(shared).as_posix()
            files[key] = read_one(p)
            print(key, file=sys.stderr)
    doc = {
        "generator": "scripts/gen_metadata_refs.py",
        "fields": FIELDS,
        "references": {
            "sd-prompt-reader": md.version("sd-prompt-reader"),
            "sd-parsers": md.version("sd-parsers"),
        },
        "files": files,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
