#!/usr/bin/env python3
"""Reference values for Assay's CLIP-based judges (src/models/clip/judge.rs), no downloads.

    python3 -m venv /tmp/clip-venv && /tmp/clip-venv/bin/pip install -r scripts/requirements-clip.txt
    /tmp/clip-venv/bin/python scripts/gen_judge_refs.py --photos ../shared/fixtures/photos

Run after scripts/gen_clip_refs.py (it reads the tiny models that script writes). Writes:
- tests/data/judge_tiny/HPS_v2.1_tiny.pt (+ HPS_v2.1_tiny.json, its open_clip model
  config): the tiny open_clip model of tests/data/clip_tiny/open_clip saved the way HPSv2 ships
  its checkpoints, `torch.save({"state_dict": state_dict})` (bfloat16 tensors, as stored);
- tests/data/judge_refs.json:
  - preprocessing of the synthetic images in tests/data/clip and two fixture photos, at 224 px
    and at the tiny models' sizes: HPS's (`ResizeMaxSize(S, fill=0)` of HPSv2's open_clip fork,
    copied verbatim below, which open_clip 3.x spells `image_transform(S, False,
    resize_mode="longest", fill_color=0)`; the script asserts both give the same pixels) and
    PickScore's (`CLIPImageProcessor`, the PIL backend): sha256 and channel sums of the 8-bit
    input, sampled normalised values;
  - HPS scores of the tiny model: `diag(image_features @ text_features.T)` of open_clip's
    L2-normalised features (HPSv2's `img_score.py`), for every image × prompt;
  - PickScore scores of the tiny Hugging Face model (tests/data/clip_tiny/hf, a `CLIPModel` like
    yuvalkirstain/PickScore_v1): `logit_scale.exp() * text_embs @ image_embs.T` of the normalised
    `get_text_features` / `get_image_features` (PickScore's README), every image × prompt.
Prompts are tokenised with open_clip's SimpleTokenizer (Assay's tokenizer for both layouts; the
token ids are stored too).
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn
from torchvision.transforms import InterpolationMode

import open_clip
import transformers
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transform import image_transform
from safetensors.torch import load_file
from transformers import CLIPModel
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
MEAN = open_clip.OPENAI_DATASET_MEAN
STD = open_clip.OPENAI_DATASET_STD

PROMPTS = [
    "a photo of a cat",
    "masterpiece, best quality, detailed face, 8k uhd",
    "a " * 80 + "end",
]


class ResizeMaxSize(nn.Module):
    """Verbatim from HPSv2's open_clip fork (hpsv2/src/open_clip/transform.py), the transform of
    `image_transform(..., resize_longest_max=True)` that HPSv2's `img_score.py` uses."""

    def __init__(self, max_size, interpolation=InterpolationMode.BICUBIC, fn='max', fill=0):
        super().__init__()
        if not isinstance(max_size, int):
            raise TypeError(f"Size should be int. Got {type(max_size)}")
        self.max_size = max_size
        self.interpolation = interpolation
        self.fn = min if fn == 'min' else min
        self.fill = fill

    def forward(self, img):
        if isinstance(img, torch.Tensor):
            height, width = img.shape[:2]
        else:
            width, height = img.size
        scale = self.max_size / float(max(height, width))
        if scale != 1.0:
            new_size = tuple(round(dim * scale) for dim in (height, width))
            img = TF.resize(img, new_size, self.interpolation)
            pad_h = self.max_size - new_size[0]
            pad_w = self.max_size - new_size[1]
            img = TF.pad(img, padding=[pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=self.fill)
        return img


def sha(b):
    return hashlib.sha256(b).hexdigest()


def hps_u8(pil, size):
    """HPS's 8-bit input; checks that open_clip 3.x's `resize_mode="longest"` agrees."""
    a = np.asarray(ResizeMaxSize(size, fill=0)(pil).convert("RGB"), dtype=np.uint8)
    t = image_transform(size, is_train=False, resize_mode="longest", fill_color=0)
    img = pil
    for s in t.transforms:
        if type(s).__name__ in ("ToTensor", "MaybeToTensor", "Normalize"):
            break
        img = s(img)
    b = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if a.shape != b.shape or not np.array_equal(a, b):
        sys.exit(f"HPS ResizeMaxSize and open_clip resize_mode='longest' differ at {size}")
    if a.shape != (size, size, 3):
        sys.exit(f"HPS input is not square ({a.shape}): long side already {size}?")
    x = ((a.astype(np.float32) / 255.0 - np.array(MEAN, np.float32)) / np.array(STD, np.float32))
    return a, torch.from_numpy(x.transpose(2, 0, 1).copy())


def pickscore_u8(pil, size):
    """PickScore's 8-bit input (`CLIPProcessor`'s image processor) and its pixel values."""
    kw = dict(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    raw = CLIPImageProcessorPil(do_rescale=False, do_normalize=False, **kw)(images=pil, return_tensors="np")
    u8 = np.asarray(raw["pixel_values"][0]).transpose(1, 2, 0)
    assert np.array_equal(u8, u8.round()) and u8.min() >= 0 and u8.max() <= 255
    x = CLIPImageProcessorPil(**kw)(images=pil, return_tensors="pt")["pixel_values"][0]
    return u8.astype(np.uint8), x


def prep_entry(kind, rel, u8, x, size):
    idx = [(c, yy, xx) for c in range(3) for yy in (0, size // 3, size - 1) for xx in (0, size // 2, size - 1)]
    return {
        "judge": kind,
        "file": rel,
        "size": size,
        "sha256": sha(np.ascontiguousarray(u8).tobytes()),
        "channel_sums": [int(u8[..., c].astype(np.int64).sum()) for c in range(3)],
        "samples": [[c, yy, xx, float(x[c, yy, xx])] for c, yy, xx in idx],
    }


def tiny_hps(images):
    """The tiny open_clip model saved in HPS's checkpoint layout; HPS scores."""
    src = os.path.join(DATA, "clip_tiny", "open_clip")
    with open(os.path.join(src, "open_clip_config.json")) as f:
        cfg = json.load(f)["model_cfg"]
    sd = load_file(os.path.join(src, "open_clip_model.safetensors"))
    out_dir = os.path.join(DATA, "judge_tiny")
    os.makedirs(out_dir, exist_ok=True)
    torch.save({"state_dict": {k: v.contiguous() for k, v in sd.items()}},
               os.path.join(out_dir, "HPS_v2.1_tiny.pt"))
    with open(os.path.join(out_dir, "HPS_v2.1_tiny.json"), "w") as f:
        json.dump({"model_cfg": cfg}, f, indent=2)
        f.write("\n")
    m = open_clip.model.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=cfg["quick_gelu"]).eval()
    ckpt = torch.load(os.path.join(out_dir, "HPS_v2.1_tiny.pt"), map_location="cpu")
    m.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    size = cfg["vision_cfg"]["image_size"]
    x = torch.stack([hps_u8(pil, size)[1] for _, pil in images])
    ids = SimpleTokenizer()(PROMPTS)
    with torch.no_grad():
        out = m(x, ids)  # (normalised image features, normalised text features, logit scale)
        img_f, txt_f = out[0], out[1]
        scores = img_f @ txt_f.T  # HPS: diag(logits_per_image) for matching pairs
    return size, scores


def tiny_pickscore(images):
    """PickScore's formula on the tiny Hugging Face CLIPModel."""
    path = os.path.join(DATA, "clip_tiny", "hf")
    m = CLIPModel.from_pretrained(path, dtype=torch.float32).eval()
    size = m.config.vision_config.image_size
    x = torch.stack([pickscore_u8(pil, size)[1] for _, pil in images])
    ids = SimpleTokenizer()(PROMPTS)

    def feats(o):
        return o if torch.is_tensor(o) else o.pooler_output

    with torch.no_grad():
        image_embs = feats(m.get_image_features(pixel_values=x))
        image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
        text_embs = feats(m.get_text_features(input_ids=ids))
        text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
        scores = m.logit_scale.exp() * (text_embs @ image_embs.T)
    return size, float(m.logit_scale.detach()), scores.T


def full_size_hps(out_dir):
    """Optional (`--vit-h DIR`, not committed: 2 GB): a random open_clip ViT-H-14 saved as
    DIR/HPS_v2.1_compressed.pt (float16, HPS's layout, no sidecar: Assay must use its built-in
    ViT-H-14) and DIR/check.json with HPS scores of the synthetic images for the first prompt,
    for the ignored test `hps_full_size_checkpoint` (ASSAY_JUDGE_CHECK=DIR/check.json)."""
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    m = open_clip.create_model("ViT-H-14", pretrained=None).eval()
    sd = {k: v.detach().half().contiguous() for k, v in m.state_dict().items()}
    ckpt = os.path.join(out_dir, "HPS_v2.1_compressed.pt")
    torch.save({"state_dict": sd}, ckpt)
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    del sd
    names = ["grad_299x150.png", "rings_90x131.png", "tiny_40x30.png"]
    x = torch.stack([hps_u8(Image.open(os.path.join(DATA, "clip", n)).convert("RGB"), 224)[1] for n in names])
    ids = SimpleTokenizer()(PROMPTS[:1])
    with torch.no_grad():
        img_f = m.encode_image(x, normalize=True)
        txt_f = m.encode_text(ids, normalize=True)
        scores = (img_f @ txt_f.T)[:, 0]
    check = {"checkpoint": ckpt, "prompt": PROMPTS[0], "images": ["clip/" + n for n in names],
             "scores": scores.tolist()}
    with open(os.path.join(out_dir, "check.json"), "w") as f:
        json.dump(check, f, indent=1)
    print("wrote", ckpt, "and check.json:", check["scores"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "fixtures", "photos"))
    ap.add_argument("--vit-h", help="also write a full-size random HPS checkpoint here (2 GB)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.vit_h:
        full_size_hps(args.vit_h)
    files = [("clip/" + n, os.path.join(DATA, "clip", n))
             for n in ("grad_299x150.png", "rings_90x131.png", "tiny_40x30.png")]
    files += [("photos/" + n, os.path.join(args.photos, n)) for n in ("astronaut.png", "kodim01.png")]
    for rel, p in files:
        if not os.path.exists(p):
            sys.exit(f"missing {p} (run gen_clip_refs.py first; fixture photos under --photos)")
    images = []
    for rel, p in files:
        pil = Image.open(p)
        pil.load()
        images.append((rel, pil.convert("RGB")))

    hps_size, hps = tiny_hps(images)
    ps_size, logit_scale, ps = tiny_pickscore(images)
    prep = []
    for rel, pil in images:
        for size in sorted({224, hps_size}):
            prep.append(prep_entry("hps", rel, *hps_u8(pil, size), size))
        for size in sorted({224, ps_size}):
            prep.append(prep_entry("pickscore", rel, *pickscore_u8(pil, size), size))
    tok = SimpleTokenizer()
    texts = []
    for s in PROMPTS:
        ids = tok([s])[0].tolist()
        while ids and ids[-1] == 0:
            ids.pop()
        texts.append({"text": s, "ids": ids})
    refs = {
        "generator": "scripts/gen_judge_refs.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "open_clip_torch": open_clip.__version__, "pillow": Image.__version__,
                     "numpy": np.__version__},
        "images": [rel for rel, _ in images],
        "texts": texts,
        "preprocess": prep,
        "hps": {"checkpoint": "judge_tiny/HPS_v2.1_tiny.pt", "image_size": hps_size,
                "scores": hps.tolist()},
        "pickscore": {"model": "clip_tiny/hf", "image_size": ps_size, "logit_scale": logit_scale,
                      "scores": ps.tolist()},
    }
    with open(os.path.join(DATA, "judge_refs.json"), "w") as f:
        json.dump(refs, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", os.path.join(DATA, "judge_refs.json"))


if __name__ == "__main__":
    main()
