#!/usr/bin/env python3
"""Build the demo candidate collection in ``assets/demo/``.

The README's first command (``assay scan assets/demo``) scans this folder, so
it is built to show every feature on a first run: several "prompt groups",
each a simulated seed batch of one prompt, with candidates that carry typical
defects (blur, noise, JPEG blocking, clipped highlights, crushed shadows,
near-duplicates, a blank frame, a tiny frame, a too-wide frame) and files that
cannot be read (a truncated PNG, a zero-byte JPEG).

Generation metadata is written *into* the files the way real tools do it:

* A1111 / Forge style: PNG ``tEXt`` chunk ``parameters``;
* ComfyUI style: PNG ``tEXt`` chunks ``prompt`` (API graph JSON) and
  ``workflow`` (UI graph JSON);
* A1111 JPEG style: EXIF ``UserComment`` (tag 0x9286) holding
  ``b"UNICODE\\0"`` + UTF-16 big-endian text, as A1111 writes via piexif;
* one group with no metadata at all.

Only public-domain / CC0 pictures are used, all taken from the scikit-image
wheel's ``skimage.data`` (no download happens: these files ship inside the
wheel). The licence of each is quoted in the generated ``README.md``.

The output is deterministic: fixed RNG seeds, no timestamps, so two runs with
the pinned package versions give byte-identical files.

Rebuild (from the repository root):

    python3 -m pip install -r scripts/requirements-demo.txt && python3 scripts/build_demo.py --out assets/demo
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin
from skimage import data as skdata
from skimage import filters

REBUILD_CMD = (
    "python3 -m pip install -r scripts/requirements-demo.txt && "
    "python3 scripts/build_demo.py --out assets/demo"
)

LONG_SIDE = 384
MASTER_SEED = 20240611  # fixed: every random draw below derives from it

NEGATIVE = "blurry, lowres, jpeg artifacts, watermark, text, deformed"

# --------------------------------------------------------------------------
# Sources (all from skimage.data; licence text from their docstrings)
# --------------------------------------------------------------------------

SOURCES = {
    "astronaut": (
        "skimage.data.astronaut() - Eileen Collins, NASA Great Images database",
        "Public domain (\"No known copyright restrictions, released into the public domain.\")",
    ),
    "coffee": (
        "skimage.data.coffee() - courtesy of Pikolo Espresso Bar, photo by Rachel Michetti",
        "CC0 (\"No copyright restrictions. CC0 by the photographer (Rachel Michetti).\")",
    ),
    "chelsea": (
        "skimage.data.chelsea() - Chelsea the cat, photo by Stefan van der Walt",
        "CC0 (\"No copyright restrictions. CC0 by the photographer (Stefan van der Walt).\")",
    ),
    "rocket": (
        "skimage.data.rocket() - DSCOVR launch on Falcon 9, SpaceX",
        "Public domain (released into the public domain by SpaceX)",
    ),
    "camera": (
        "skimage.data.camera() - gray-level camera image, photo by Lav Varshney",
        "CC0 (\"No copyright restrictions. CC0 by the photographer (Lav Varshney).\")",
    ),
}


def load_source(name: str) -> np.ndarray:
    img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def resize_long_side(arr: np.ndarray, long_side: int = LONG_SIDE) -> np.ndarray:
    h, w = arr.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))


# --------------------------------------------------------------------------
# Defects
# --------------------------------------------------------------------------


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    out = filters.gaussian(
        arr.astype(np.float64), sigma=sigma, channel_axis=-1, preserve_range=True
    )
    return to_u8(out)


def noise(arr: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng([MASTER_SEED, seed])
    return to_u8(arr.astype(np.float64) + rng.normal(0.0, sigma, arr.shape))


def overexpose(arr: np.ndarray) -> np.ndarray:
    # +1.3 EV-ish gain and a lift: a large share of pixels clips at 255.
    return to_u8(arr.astype(np.float64) * 1.9 + 45.0)


def underexpose(arr: np.ndarray) -> np.ndarray:
    # Strong gain cut and an offset: shadows crush to 0.
    return to_u8(arr.astype(np.float64) * 0.33 - 12.0)


def brighten(arr: np.ndarray, factor: float = 1.02) -> np.ndarray:
    return to_u8(arr.astype(np.float64) * factor)


def crop_resize(arr: np.ndarray, frac: float = 0.02) -> np.ndarray:
    h, w = arr.shape[:2]
    dy, dx = max(1, round(h * frac / 2)), max(1, round(w * frac / 2))
    crop = arr[dy : h - dy, dx : w - dx]
    return np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.LANCZOS))


def blank(shape: tuple[int, int], seed: int, level: int = 118) -> np.ndarray:
    """A near-constant frame (what a NaN VAE / failed sampler step looks like)."""
    rng = np.random.default_rng([MASTER_SEED, seed])
    h, w = shape
    jitter = rng.integers(-1, 2, size=(h, w, 1))
    return to_u8(np.full((h, w, 3), level, dtype=np.int64) + jitter)


def tiny(arr: np.ndarray, side: int = 48) -> np.ndarray:
    h, w = arr.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = arr[y0 : y0 + s, x0 : x0 + s]
    return np.asarray(Image.fromarray(sq).resize((side, side), Image.Resampling.LANCZOS))


def wide(src: np.ndarray, size: tuple[int, int] = (1200, 200)) -> np.ndarray:
    """A panorama strip: scale to the target width, keep a centred band."""
    w_out, h_out = size
    h, w = src.shape[:2]
    h_scaled = round(h * w_out / w)
    big = np.asarray(Image.fromarray(src).resize((w_out, h_scaled), Image.Resampling.LANCZOS))
    y0 = (h_scaled - h_out) // 2
    return np.ascontiguousarray(big[y0 : y0 + h_out])


# --------------------------------------------------------------------------
# Metadata carriers
# --------------------------------------------------------------------------


def a1111_parameters(positive: str, negative: str, seed: int, w: int, h: int) -> str:
    return (
        f"{positive}\nNegative prompt: {negative}\n"
        f"Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: {seed}, "
        f"Size: {w}x{h}, Model hash: 0123abcd, Model: demo_model_v1"
    )


def comfy_prompt_graph(positive: str, negative: str, seed: int, w: int, h: int) -> dict:
    """ComfyUI API-format graph (what ComfyUI writes to tEXt 'prompt')."""
    return {
        "3": {
            "inputs": {
                "seed": seed,
                "steps": 25,
                "cfg": 6.5,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
            "class_type": "KSampler",
            "_meta": {"title": "KSampler"},
        },
        "4": {
            "inputs": {"ckpt_name": "demo_model_v1.safetensors"},
            "class_type": "CheckpointLoaderSimple",
            "_meta": {"title": "Load Checkpoint"},
        },
        "5": {
            "inputs": {"width": w, "height": h, "batch_size": 1},
            "class_type": "EmptyLatentImage",
            "_meta": {"title": "Empty Latent Image"},
        },
        "6": {
            "inputs": {"text": positive, "clip": ["4", 1]},
            "class_type": "CLIPTextEncode",
            "_meta": {"title": "CLIP Text Encode (Prompt)"},
        },
        "7": {
            "inputs": {"text": negative, "clip": ["4", 1]},
            "class_type": "CLIPTextEncode",
            "_meta": {"title": "CLIP Text Encode (Prompt)"},
        },
        "8": {
            "inputs": {"samples": ["3", 0], "vae": ["4", 2]},
            "class_type": "VAEDecode",
            "_meta": {"title": "VAE Decode"},
        },
        "9": {
            "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
            "class_type": "SaveImage",
            "_meta": {"title": "Save Image"},
        },
    }


def comfy_workflow_graph(positive: str, negative: str, seed: int, w: int, h: int) -> dict:
    """A minimal ComfyUI UI graph (what ComfyUI writes to tEXt 'workflow')."""

    def node(nid, ntype, pos, order, inputs, outputs, widgets):
        return {
            "id": nid,
            "type": ntype,
            "pos": pos,
            "size": [315, 100],
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": inputs,
            "outputs": outputs,
            "properties": {"Node name for S&R": ntype},
            "widgets_values": widgets,
        }

    def inp(name, typ, link):
        return {"name": name, "type": typ, "link": link}

    def out(name, typ, links, slot):
        return {"name": name, "type": typ, "links": links, "slot_index": slot}

    nodes = [
        node(4, "CheckpointLoaderSimple", [30, 470], 0, [],
             [out("MODEL", "MODEL", [1], 0), out("CLIP", "CLIP", [3, 5], 1),
              out("VAE", "VAE", [8], 2)],
             ["demo_model_v1.safetensors"]),
        node(5, "EmptyLatentImage", [470, 610], 1, [],
             [out("LATENT", "LATENT", [2], 0)], [w, h, 1]),
        node(6, "CLIPTextEncode", [415, 190], 2, [inp("clip", "CLIP", 3)],
             [out("CONDITIONING", "CONDITIONING", [4], 0)], [positive]),
        node(7, "CLIPTextEncode", [415, 390], 3, [inp("clip", "CLIP", 5)],
             [out("CONDITIONING", "CONDITIONING", [6], 0)], [negative]),
        node(3, "KSampler", [865, 190], 4,
             [inp("model", "MODEL", 1), inp("positive", "CONDITIONING", 4),
              inp("negative", "CONDITIONING", 6), inp("latent_image", "LATENT", 2)],
             [out("LATENT", "LATENT", [7], 0)],
             [seed, "fixed", 25, 6.5, "dpmpp_2m", "karras", 1.0]),
        node(8, "VAEDecode", [1210, 190], 5,
             [inp("samples", "LATENT", 7), inp("vae", "VAE", 8)],
             [out("IMAGE", "IMAGE", [9], 0)], []),
        node(9, "SaveImage", [1450, 190], 6, [inp("images", "IMAGE", 9)], [], ["ComfyUI"]),
    ]
    links = [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [3, 4, 1, 6, 0, "CLIP"],
        [4, 6, 0, 3, 1, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
        [7, 3, 0, 8, 0, "LATENT"],
        [8, 4, 2, 8, 1, "VAE"],
        [9, 8, 0, 9, 0, "IMAGE"],
    ]
    return {
        "last_node_id": 9,
        "last_link_id": 9,
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def exif_user_comment(text: str) -> bytes:
    """EXIF APP1 payload with only UserComment, in piexif.dump's layout.

    Big-endian TIFF ("MM"), IFD0 holding one ExifIFD pointer (0x8769), the Exif
    IFD holding UserComment (0x9286, type 7 UNDEFINED) whose value is the
    8-byte character-code prefix ``UNICODE\\0`` followed by UTF-16BE text.
    One deliberate difference from piexif: the Exif IFD ends with its 4-byte
    next-IFD offset (0), as TIFF requires; piexif omits it and puts the value
    data right after the entries. Readers find the value by its offset either way.
    """
    payload = b"UNICODE\x00" + text.encode("utf-16-be")
    header = b"MM" + struct.pack(">HI", 42, 8)
    # IFD0 at offset 8: count(2) + 1 entry(12) + next(4) = 18 bytes -> ends at 26
    exif_ifd_off = 8 + 2 + 12 + 4
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, exif_ifd_off) + struct.pack(">I", 0)
    # Exif IFD at 26: 18 bytes -> value data at 44
    data_off = exif_ifd_off + 2 + 12 + 4
    exif_ifd = (
        struct.pack(">H", 1)
        + struct.pack(">HHII", 0x9286, 7, len(payload), data_off)
        + struct.pack(">I", 0)
    )
    tiff = header + ifd0 + exif_ifd + payload
    assert len(header + ifd0) == exif_ifd_off and len(header + ifd0 + exif_ifd) == data_off
    return b"Exif\x00\x00" + tiff


# --------------------------------------------------------------------------
# Encoders (deterministic: no timestamps, fixed settings)
# --------------------------------------------------------------------------


def encode_png(arr: np.ndarray, text: list[tuple[str, str]] | None = None, mode: str = "RGB") -> bytes:
    im = Image.fromarray(arr).convert(mode)
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for k, v in text:
            info.add_text(k, v)  # ASCII/Latin-1 text -> tEXt chunk
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info, compress_level=9)
    return buf.getvalue()


def encode_jpeg(arr: np.ndarray, quality: int, exif: bytes | None = None) -> bytes:
    im = Image.fromarray(arr).convert("RGB")
    buf = io.BytesIO()
    kwargs = {"quality": quality, "subsampling": "4:2:0", "optimize": False}
    if exif:
        kwargs["exif"] = exif
    im.save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


# --------------------------------------------------------------------------
# Collection definition
# --------------------------------------------------------------------------


@dataclass
class Group:
    folder: str
    source: str
    carrier: str  # "a1111-png", "a1111-jpeg", "comfyui", "none"
    positive: str
    negative: str = NEGATIVE
    description: str = ""


@dataclass
class Entry:
    rel: str
    group: Group
    seed: int
    defect: str
    carrier: str
    expect: str
    data: bytes
    size: tuple[int, int] | None = None
    source: str | None = None  # overrides group.source (synthetic frames)


GROUPS = {
    "portrait_astronaut": Group(
        "portrait_astronaut", "astronaut", "a1111-png",
        "portrait photo of a smiling astronaut in an orange flight suit, american flag "
        "and space shuttle model in the background, studio lighting, 85mm, sharp focus",
        description="A1111/Forge-style batch: PNG tEXt `parameters` (the q=8 JPEG uses EXIF UserComment, as A1111 does for .jpg)",
    ),
    "coffee_cup": Group(
        "coffee_cup", "coffee", "a1111-jpeg",
        "overhead photo of a cappuccino with latte art in a white porcelain cup "
        "on a wooden table, natural window light, shallow depth of field",
        negative="blurry, lowres, jpeg artifacts, oversaturated, cartoon",
        description="A1111 batch saved as JPEG: EXIF UserComment, `UNICODE\\0` + UTF-16BE",
    ),
    "cat_chelsea": Group(
        "cat_chelsea", "chelsea", "comfyui",
        "close-up photo of a ginger tabby cat's face with yellow-green eyes, "
        "soft daylight, detailed fur, bokeh background",
        negative="blurry, lowres, jpeg artifacts, extra legs, deformed paws",
        description="ComfyUI batch: PNG tEXt `prompt` (API graph) + `workflow` (UI graph)",
    ),
    "rocket_launch": Group(
        "rocket_launch", "rocket", "none",
        "photo of a rocket standing on a coastal launch pad at dusk, lit service "
        "towers, wide angle, deep blue sky",
        description="Stripped batch: no generation metadata at all (raw / none case)",
    ),
    "camera_operator": Group(
        "camera_operator", "camera", "a1111-png",
        "black and white photo of a man with a vintage film camera on a tripod "
        "in a park, high contrast, 35mm film grain",
        negative="color, blurry, lowres, jpeg artifacts",
        description="A1111 batch, grayscale (8-bit L) PNGs with tEXt `parameters`",
    ),
}


def build_entries() -> list[Entry]:
    entries: list[Entry] = []

    def add(group: Group, seed: int, suffix: str, ext: str, arr: np.ndarray | None,
            defect: str, expect: str, carrier: str | None = None, quality: int = 90,
            mode: str = "RGB", raw: bytes | None = None,
            size: tuple[int, int] | None = None, source: str | None = None) -> bytes:
        carrier = carrier or group.carrier
        name = f"seed_{seed}{suffix}.{ext}"
        rel = f"{group.folder}/{name}"
        if raw is not None:
            blob = raw
        else:
            h, w = arr.shape[:2]
            size = (w, h)
            params = a1111_parameters(group.positive, group.negative, seed, w, h)
            if ext == "png":
                if carrier == "a1111-png":
                    text = [("parameters", params)]
                elif carrier == "comfyui":
                    text = [
                        ("prompt", json.dumps(comfy_prompt_graph(group.positive, group.negative, seed, w, h))),
                        ("workflow", json.dumps(comfy_workflow_graph(group.positive, group.negative, seed, w, h))),
                    ]
                else:
                    text = None
                blob = encode_png(arr, text, mode=mode)
            else:
                exif = exif_user_comment(params) if carrier == "a1111-jpeg" else None
                blob = encode_jpeg(arr, quality, exif)
        entries.append(Entry(rel, group, seed, defect, carrier, expect, blob, size, source))
        return blob

    # ---- portrait_astronaut: A1111 PNG parameters --------------------------
    g = GROUPS["portrait_astronaut"]
    base = resize_long_side(load_source("astronaut"))
    add(g, 1001, "", "png", base, "none (clean reference)", "keep: best of group")
    add(g, 1002, "", "png", blur(base, 1.2), "gaussian blur, light (sigma 1.2 px)", "lower sharpness than 1001")
    add(g, 1003, "", "png", blur(base, 3.5), "gaussian blur, strong (sigma 3.5 px)", "flag: blurry")
    add(g, 1004, "", "png", noise(base, 12.0, 1004), "additive gaussian noise, sigma 12", "flag: noisy")
    add(g, 1005, "", "jpg", base, "heavy JPEG compression (quality 8, 4:2:0)", "flag: JPEG blocking",
        carrier="a1111-jpeg", quality=8)
    add(g, 1006, "", "png", brighten(base, 1.02), "near-duplicate of seed_1001 (brightness +2%)",
        "flag: near-duplicate of seed_1001")
    add(g, 1007, "", "png", blank(base.shape[:2], 1007), "blank frame (near-constant gray 118 +/-1)",
        "flag: blank / no content", source="none (synthetic flat frame)")

    # ---- coffee_cup: A1111 JPEG, EXIF UserComment ---------------------------
    g = GROUPS["coffee_cup"]
    base = resize_long_side(load_source("coffee"))
    add(g, 2001, "", "jpg", base, "none (clean reference, JPEG q90)", "keep: best of group")
    add(g, 2002, "", "jpg", overexpose(base), "over-exposure (gain 1.9 + 45, highlights clipped)",
        "flag: clipped highlights")
    add(g, 2003, "", "jpg", underexpose(base), "under-exposure (gain 0.33 - 12, shadows crushed)",
        "flag: crushed shadows")
    add(g, 2004, "", "jpg", blur(base, 3.5), "gaussian blur, strong (sigma 3.5 px)", "flag: blurry")
    add(g, 2005, "", "jpg", base, "heavy JPEG compression (quality 8, 4:2:0)", "flag: JPEG blocking", quality=8)
    add(g, 2006, "", "jpg", crop_resize(base, 0.02),
        "near-duplicate of seed_2001 (2% centre crop, resized back)", "flag: near-duplicate of seed_2001")

    # ---- cat_chelsea: ComfyUI prompt + workflow -----------------------------
    g = GROUPS["cat_chelsea"]
    base = resize_long_side(load_source("chelsea"))
    add(g, 3001, "", "png", base, "none (clean reference)", "keep: best of group")
    add(g, 3002, "", "png", noise(base, 12.0, 3002), "additive gaussian noise, sigma 12", "flag: noisy")
    add(g, 3003, "", "png", blur(base, 1.2), "gaussian blur, light (sigma 1.2 px)", "lower sharpness than 3001")
    add(g, 3004, "", "png", overexpose(base), "over-exposure (gain 1.9 + 45, highlights clipped)",
        "flag: clipped highlights")
    add(g, 3005, "", "png", tiny(base, 48), "tiny image, 48x48 (centre square, downscaled)",
        "filtered: below minimum size")
    whole = encode_png(base, [
        ("prompt", json.dumps(comfy_prompt_graph(g.positive, g.negative, 3006, *base.shape[1::-1]))),
        ("workflow", json.dumps(comfy_workflow_graph(g.positive, g.negative, 3006, *base.shape[1::-1]))),
    ])
    add(g, 3006, "_broken", "png", None,
        f"truncated PNG: first 40% ({len(whole) * 4 // 10} of {len(whole)} bytes) of a valid file; "
        "text chunks intact, IDAT cut",
        "error: cannot decode (metadata may still be readable)", raw=whole[: len(whole) * 4 // 10],
        size=(base.shape[1], base.shape[0]))

    # ---- rocket_launch: no metadata ----------------------------------------
    g = GROUPS["rocket_launch"]
    src = load_source("rocket")
    base = resize_long_side(src)
    add(g, 4001, "", "png", base, "none (clean reference)", "keep: best of group")
    add(g, 4002, "", "jpg", underexpose(base), "under-exposure (gain 0.33 - 12, shadows crushed), JPEG q90",
        "flag: crushed shadows")
    add(g, 4003, "", "jpg", noise(base, 12.0, 4003), "additive gaussian noise, sigma 12, JPEG q90", "flag: noisy")
    add(g, 4004, "", "png", brighten(base, 1.02), "near-duplicate of seed_4001 (brightness +2%)",
        "flag: near-duplicate of seed_4001")
    add(g, 4005, "", "jpg", base, "heavy JPEG compression (quality 8, 4:2:0)", "flag: JPEG blocking", quality=8)
    add(g, 4006, "_wide", "jpg", wide(src, (1200, 200)), "very wide image, 1200x200 (6:1 panorama strip), JPEG q90",
        "filtered: aspect ratio")
    add(g, 4007, "_empty", "jpg", None, "zero-byte file", "error: empty file", raw=b"", source="none (empty)")

    # ---- camera_operator: grayscale, A1111 PNG ------------------------------
    g = GROUPS["camera_operator"]
    base = resize_long_side(load_source("camera"))
    add(g, 5001, "", "png", base, "none (clean reference; grayscale L mode)", "keep: best of group", mode="L")
    add(g, 5002, "", "png", blur(base, 2.0), "gaussian blur, medium (sigma 2.0 px)", "flag: blurry", mode="L")
    add(g, 5003, "", "png", overexpose(base), "over-exposure (gain 1.9 + 45, highlights clipped)",
        "flag: clipped highlights", mode="L")
    add(g, 5004, "", "png", underexpose(base), "under-exposure (gain 0.33 - 12, shadows crushed)",
        "flag: crushed shadows", mode="L")
    add(g, 5005, "", "png", crop_resize(base, 0.02),
        "near-duplicate of seed_5001 (2% centre crop, resized back)", "flag: near-duplicate of seed_5001",
        mode="L")
    return entries


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------

CARRIER_TEXT = {
    "a1111-png": "PNG tEXt `parameters` (A1111)",
    "a1111-jpeg": "EXIF UserComment, UNICODE + UTF-16BE (A1111 JPEG)",
    "comfyui": "PNG tEXt `prompt` + `workflow` (ComfyUI)",
    "none": "none (stripped)",
}


def render_readme(entries: list[Entry]) -> str:
    lines = [
        "# Demo candidate collection",
        "",
        "Generated by `scripts/build_demo.py`; do not edit by hand. Rebuild from the",
        "repository root with:",
        "",
        "```sh",
        REBUILD_CMD,
        "```",
        "",
        "Each sub-folder simulates one prompt's seed batch (one \"prompt group\").",
        "Every candidate is derived from one public-domain or CC0 picture shipped in",
        "the scikit-image wheel (`skimage.data`), resized so its long side is",
        f"{LONG_SIDE} px, then given one defect. The generation metadata is synthetic",
        "(prompts, seeds and the model name `demo_model_v1` are made up) but is",
        "written in the exact carriers real tools use. Output is deterministic:",
        "rebuilding with the pinned versions gives byte-identical files.",
        "",
        "## Groups",
        "",
        "| group | source | carrier | prompt |",
        "| --- | --- | --- | --- |",
    ]
    for g in GROUPS.values():
        lines.append(f"| `{g.folder}/` | `{g.source}` | {g.description} | {g.positive} |")
    lines += [
        "",
        "## Files",
        "",
        "| file | group | defect simulated | expected outcome | carrier | pixels | bytes | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries:
        px = f"{e.size[0]}x{e.size[1]}" if e.size else "-"
        if e.size and e.defect.startswith("truncated"):
            px += " (IHDR)"
        lines.append(
            f"| `{e.rel}` | {e.group.folder} | {e.defect} | {e.expect} | "
            f"{CARRIER_TEXT[e.carrier]} | {px} | {len(e.data)} | "
            f"{e.source or '`' + e.group.source + '`'} |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "- `cat_chelsea/seed_3006_broken.png` carries valid ComfyUI text chunks (they",
        "  come before the pixel data) but its IDAT stream is cut, so decoding fails.",
        "- `rocket_launch/seed_4007_empty.jpg` is zero bytes.",
        "- JPEG files with EXIF carry only the UserComment tag, laid out as",
        "  `piexif.dump` does (big-endian TIFF, IFD0 with an ExifIFD pointer), except",
        "  that the Exif IFD keeps its 4-byte next-IFD offset, which piexif omits.",
        "",
        "## Sources and licences",
        "",
        "Quoted from the `skimage.data` docstrings (scikit-image 0.26.0):",
        "",
        "| source | origin | licence |",
        "| --- | --- | --- |",
    ]
    for name, (origin, lic) in SOURCES.items():
        lines.append(f"| `{name}` | {origin} | {lic} |")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    default_out = Path(__file__).resolve().parent.parent / "assets" / "demo"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_out,
                    help="output folder (default: assets/demo next to this script's repo)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    entries = build_entries()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = set()
    for e in entries:
        p = out / e.rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(e.data)
        written.add(p.resolve())
    readme = out / "README.md"
    readme.write_text(render_readme(entries), encoding="utf-8", newline="\n")
    written.add(readme.resolve())

    stray = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                   if p.is_file() and p.resolve() not in written)
    total = sum(len(e.data) for e in entries) + readme.stat().st_size
    if not args.quiet:
        for e in entries:
            digest = hashlib.sha256(e.data).hexdigest()[:16]
            print(f"{len(e.data):>8}  {digest}  {e.rel}")
        print(f"{len(entries)} candidates + README.md, {total} bytes in {out}")
    if stray:
        print("warning: files not produced by this script are present:", file=sys.stderr)
        for s in stray:
            print(f"  {s}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
