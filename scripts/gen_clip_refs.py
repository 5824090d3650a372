#!/usr/bin/env python3
"""Reference vectors for Assay's CLIP runtime (src/models/clip), no downloads.

    python3 -m venv /tmp/clip-venv && /tmp/clip-venv/bin/pip install -r scripts/requirements-clip.txt
    /tmp/clip-venv/bin/python scripts/gen_clip_refs.py --photos ../shared/fixtures/photos

Writes (from the repository root):
- tests/data/clip_tiny/hf/{config.json,model.safetensors}: a tiny random CLIPModel
  (transformers), QuickGELU, weights stored in float16;
- tests/data/clip_tiny/open_clip/{open_clip_config.json,open_clip_model.safetensors}: a tiny
  random open_clip CLIP, exact GELU, weights stored in bfloat16;
- tests/data/clip_tiny/heads/*.pth: random LAION-style aesthetic heads in the three key layouts
  (v1 linear `weight`/`bias`; v2 MLP `layers.{0,2,4,6,7}`; v2 ReLU `layers.{0,3,6,9,11}`),
  with narrow hidden layers to stay small;
- tests/data/clip/*.png: small synthetic images (odd sizes: round-half-even crops, upscaling);
- tests/data/clip_refs.json: open_clip preprocessing (sha256 of the 8-bit crop before
  normalisation, channel sums, sampled normalised values) for the synthetic images and the
  fixture photos; open_clip SimpleTokenizer ids for tricky strings; image and text embeddings
  (projected, not normalised) of both tiny models computed in float32 by torch from the
  stored (rounded) weights; aesthetic-head scores.
Weights are rounded to their storage dtype before the reference forward pass, so Rust and torch
use identical parameters.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

import open_clip
import transformers
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transform import image_transform
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")

TEXTS = [
    "a photo of a cat",
    "A PHOTO of a Cat!!!",
    "masterpiece, best quality, (detailed face:1.2), 8k uhd",
    "Don't stop: it's 12:45pm; we'll've done 3.14 things?",
    "fish &amp; chips &lt;b&gt; &#169; &#x263A; &quot;quoted&quot;",
    "\u201ccurly quotes\u201d and \u2018single\u2019",
    "emoji 🐱🚀👍🏽 and ❤️",
    "日本語のテキスト と 中文 и русский текст",
    "café naïve façade résumé",
    "e\u0301 decomposed accent",
    "tabs\tand\nnewlines   and  spaces",
    "ﬁne ligatures and ＦＵＬＬＷＩＤＴＨ",
    "<start_of_text> literal specials <end_of_text>",
    "",
    "   ",
    "a " * 80 + "end",
    " ".join(f"word{i}" for i in range(60)),
    "https://example.com/path?query=1&x=y#frag",
    "C++ / C# / F# -- ~~~ ... !!! ??? ###",
]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def synth_images():
    os.makedirs(os.path.join(DATA, "clip"), exist_ok=True)
    out = []
    specs = [("grad_299x150.png", 299, 150), ("rings_90x131.png", 90, 131), ("tiny_40x30.png", 40, 30)]
    for name, w, h in specs:
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        r = 127.5 + 127.5 * np.sin(x / 7.0 + y / 11.0)
        g = 255.0 * x / max(w - 1, 1)
        b = 127.5 + 127.5 * np.cos(np.hypot(x - w / 3, y - h / 2) / 4.0)
        img = np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8)
        p = os.path.join(DATA, "clip", name)
        Image.fromarray(img, "RGB").save(p, optimize=True)
        out.append(("synthetic", "clip/" + name, p))
    return out


def crop_u8(pil, size):
    """open_clip's eval transform up to (not including) ToTensor, as uint8 HWC."""
    t = image_transform(size, is_train=False)
    steps = t.transforms
    img = pil
    for s in steps:
        if type(s).__name__ in ("ToTensor", "MaybeToTensor", "Normalize"):
            break
        img = s(img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8), t


def preprocess_ref(kind, rel, path, size):
    pil = Image.open(path)
    pil.load()
    u8, t = crop_u8(pil.convert("RGB"), size)
    x = t(pil.convert("RGB")).numpy()  # CHW float32
    idx = [(c, yy, xx) for c in range(3) for yy in (0, size // 3, size - 1) for xx in (0, size // 2, size - 1)]
    return {
        "source": kind,
        "file": rel,
        "size": size,
        "crop_sha256": sha(u8.tobytes()),
        "crop_channel_sums": [int(u8[..., c].sum()) for c in range(3)],
        "samples": [[c, yy, xx, float(x[c, yy, xx])] for c, yy, xx in idx],
    }, x


def tokenizer_refs():
    tok = SimpleTokenizer()
    out = []
    for s in TEXTS:
        ids = tok(s)[0].tolist()
        n = len(tok.encode(s)) + 2
        while ids and ids[-1] == 0:
            ids.pop()
        out.append({"text": s, "ids": ids, "truncated": n > 77})
    return out


def round_params(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("logit_scale"):
                continue
            if "norm" in name or "ln" in name.split(".")[-2:][0]:
                # LayerNorms: weights around 1, biases around 0, both non-trivial.
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def tiny_hf(out_dir):
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=4, intermediate_size=12, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         eos_token_id=2, bos_token_id=0, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16, hidden_act="quick_gelu"),
        projection_dim=16,
    )
    torch.manual_seed(0)
    m = CLIPModel(cfg).eval()
    randomise(m, 1)
    round_params(m, torch.float16)
    os.makedirs(out_dir, exist_ok=True)
    m.config.save_pretrained(out_dir)
    sd = {k: v.detach().to(torch.float16).contiguous() for k, v in m.state_dict().items()
          if v.dtype.is_floating_point}
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})

    def img(x):
        with torch.no_grad():
            pooled = m.vision_model(pixel_values=x).pooler_output
            return m.visual_projection(pooled)

    def txt(ids):
        with torch.no_grad():
            pooled = m.text_model(input_ids=ids).pooler_output
            return m.text_projection(pooled)

    return 64, img, txt


def tiny_open_clip(out_dir):
    model_cfg = {
        "embed_dim": 12,
        "quick_gelu": False,
        "vision_cfg": {"image_size": 48, "layers": 3, "width": 32, "head_width": 8, "patch_size": 16, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 4, "heads": 2, "layers": 1},
    }
    torch.manual_seed(0)
    m = open_clip.model.CLIP(model_cfg["embed_dim"], model_cfg["vision_cfg"], model_cfg["text_cfg"],
                             quick_gelu=False).eval()
    randomise(m, 2)
    round_params(m, torch.bfloat16)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": model_cfg, "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN),
                                                             "std": list(open_clip.OPENAI_DATASET_STD)}}, f, indent=2)
    sd = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in m.state_dict().items()}
    save_file(sd, os.path.join(out_dir, "open_clip_model.safetensors"))

    def img(x):
        with torch.no_grad():
            return m.encode_image(x)

    def txt(ids):
        with torch.no_grad():
            return m.encode_text(ids)

    return 48, img, txt


def heads(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    res = []
    emb768 = torch.randn(3, 768, generator=g)
    emb768[2] = 0.0  # zero norm: numpy replaces it with 1
    emb512 = torch.randn(2, 512, generator=g)

    def norm(e):
        n = e.norm(dim=-1, keepdim=True)
        n[n == 0] = 1
        return e / n

    def save(name, layers, relu, emb):
        sd = {}
        seq = []
        for key, (i, o) in layers:
            lin = torch.nn.Linear(i, o)
            with torch.no_grad():
                lin.weight.copy_(torch.randn(o, i, generator=g) / i ** 0.5)
                lin.bias.copy_(torch.randn(o, generator=g) * 0.1)
            sd[f"{key}weight"] = lin.weight.detach().clone()
            sd[f"{key}bias"] = lin.bias.detach().clone()
            seq.append(lin)
        torch.save(sd, os.path.join(out_dir, name))
        x = norm(emb.double())
        for j, lin in enumerate(seq):
            x = x @ lin.weight.double().T + lin.bias.double()
            if relu and j + 1 < len(seq):
                x = torch.relu(x)
        res.append({"file": name, "inputs": emb.tolist(), "scores": x[:, 0].tolist()})

    save("sa_0_4_vit_l_14_linear.pth", [("", (768, 1))], False, emb768)
    save("sa_0_4_vit_b_32_linear.pth", [("", (512, 1))], False, emb512)
    widths = [768, 8, 6, 4, 2, 1]
    save("tiny-l14-linearMSE.pth",
         [(f"layers.{k}.", (widths[j], widths[j + 1])) for j, k in enumerate([0, 2, 4, 6, 7])], False, emb768)
    save("tiny-l14-reluMSE.pth",
         [(f"layers.{k}.", (widths[j], widths[j + 1])) for j, k in enumerate([0, 3, 6, 9, 11])], True, emb768)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "fixtures", "photos"))
    args = ap.parse_args()
    torch.set_num_threads(2)

    images = synth_images()
    photos = ["astronaut.png", "camera.png", "chelsea.png", "coins.png", "kodim01.png"]
    fixture_imgs = [("fixtures", "photos/" + n, os.path.join(args.photos, n)) for n in photos
                    if os.path.exists(os.path.join(args.photos, n))]
    if len(fixture_imgs) != len(photos):
        sys.exit(f"fixture photos missing under {args.photos}")

    prep = []
    for kind, rel, p in images + fixture_imgs:
        for size in (224, 336):
            prep.append(preprocess_ref(kind, rel, p, size)[0])

    tok = SimpleTokenizer()
    model_refs = {}
    for name, build in (("hf", tiny_hf), ("open_clip", tiny_open_clip)):
        size, img, txt = build(os.path.join(DATA, "clip_tiny", name))
        entries = []
        xs = []
        for kind, rel, p in images + fixture_imgs:
            ref, x = preprocess_ref(kind, rel, p, size)
            xs.append(torch.from_numpy(x))
            entries.append({"source": kind, "file": rel, "crop_sha256": ref["crop_sha256"]})
        e = img(torch.stack(xs)).float()
        for ent, v in zip(entries, e):
            ent["embedding"] = v.tolist()
        texts = TEXTS[:6] + TEXTS[13:16]
        ids = tok(texts)
        t = txt(ids).float()
        model_refs[name] = {
            "image_size": size,
            "images": entries,
            "texts": [{"text": s, "embedding": v.tolist()} for s, v in zip(texts, t)],
        }

    refs = {
        "generator": "scripts/gen_clip_refs.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "open_clip_torch": open_clip.__version__, "pillow": Image.__version__,
                     "numpy": np.__version__},
        "preprocess": prep,
        "tokens": tokenizer_refs(),
        "models": model_refs,
        "heads": heads(os.path.join(DATA, "clip_tiny", "heads")),
    }
    with open(os.path.join(DATA, "clip_refs.json"), "w") as f:
        json.dump(refs, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", os.path.join(DATA, "clip_refs.json"))


if __name__ == "__main__":
    main()
