#!/usr/bin/env python3
# Regenerate (from the repository root):
#   python3 -m pip install -r scripts/requirements-finetune.txt
#   python3 scripts/gen_finetune_refs.py --out tests/data/finetune_refs.json
"""Reference vectors for fine-tuning an aesthetic head (src/learn/finetune.rs).

The head is LAION's v1 layout, ``torch.nn.Linear(d, 1)``, on the L2-normalised CLIP image
embedding (numpy's ``a / ||a||``). Fine-tuning minimises the Bradley-Terry loss of labelled
pairs plus an L2-SP penalty toward the starting weights ``w0``:

    f(w) = mean_k BCEWithLogits(s(x_a) - s(x_b), y_k) + l2 * ||w - w0||^2

with targets y in {1, 1/2, 0} (ties as half wins); the bias cancels in every difference.
One step of ``torch.optim.SGD(lr)`` from ``w`` (not ``w0``, so that the penalty's gradient is
not zero) on a fixed batch gives ``loss``, ``grad`` (autograd) and ``w_next``. Computed in
float64 from float32 raw embeddings (the stored dtype), so Rust and torch use identical inputs.
"""

import argparse
import json

import numpy as np
import torch


def case(name, rng, n_items, d, n_pairs, tie_rate, l2, lr, offset):
    raw = (rng.normal(size=(n_items, d)) + offset).astype(np.float32)
    w0 = rng.normal(size=d) * 3.0
    w = w0 + rng.normal(size=d) * 0.5
    bias = float(rng.normal())
    pairs = []
    for _ in range(n_pairs):
        a, b = rng.choice(n_items, size=2, replace=False)
        t = 0.5 if rng.random() < tie_rate else float(rng.integers(0, 2))
        pairs.append([int(a), int(b), t])

    head = torch.nn.Linear(d, 1).double()
    with torch.no_grad():
        head.weight.copy_(torch.tensor(w).reshape(1, d))
        head.bias.fill_(bias)
    x = torch.tensor(raw).double()
    x = x / torch.where(x.norm(dim=1, keepdim=True) == 0, 1.0, x.norm(dim=1, keepdim=True))
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    y = torch.tensor([p[2] for p in pairs], dtype=torch.float64)
    start = torch.tensor(w0).reshape(1, d)
    opt = torch.optim.SGD(head.parameters(), lr=lr)
    opt.zero_grad()
    margin = (head(x[a]) - head(x[b])).reshape(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(margin, y) + l2 * (
        (head.weight - start) ** 2
    ).sum()
    loss.backward()
    grad = head.weight.grad.reshape(-1).clone()
    assert abs(head.bias.grad.item()) < 1e-12, "the bias cancels in differences"
    opt.step()
    return {
        "name": name,
        "raw": raw.tolist(),
        "w0": w0.tolist(),
        "w": w.tolist(),
        "bias": bias,
        "pairs": pairs,
        "l2": l2,
        "lr": lr,
        "loss": loss.item(),
        "grad": grad.tolist(),
        "w_next": head.weight.detach().reshape(-1).tolist(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/finetune_refs.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20261207)
    cases = [
        case("small", rng, 12, 8, 30, 0.1, 0.05, 0.5, 0.0),
        case("clip-like offset, ties", rng, 40, 32, 120, 0.2, 1e-3, 2.0, 1.5),
        case("strong penalty", rng, 20, 16, 50, 0.0, 10.0, 0.01, 0.3),
    ]
    out = {
        "generator": "scripts/gen_finetune_refs.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "step": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
