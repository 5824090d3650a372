#!/usr/bin/env python3
"""PyTorch baseline for `assay bench clip`: open_clip image towers with random weights.

    /tmp/clip-venv/bin/pip install -r scripts/requirements-clip.txt
    /tmp/clip-venv/bin/python scripts/bench_clip_torch.py --arch ViT-B-32,ViT-L-14 --batch 1,16 [--cuda]

Same protocol as the Rust side: a fixed normalised input perturbed per repetition, one warm-up,
the median of --reps timed forward passes (eager, no_grad; fp32 on the CPU with all cores; with
--cuda also fp32 and fp16 on the GPU, synchronised). Prints JSON on stdout.
"""
import argparse
import json
import resource
import sys
import time

import open_clip
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="ViT-B-32,ViT-L-14")
    ap.add_argument("--batch", default="1,16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    devices = [("cpu", torch.float32)]
    if a.cuda and torch.cuda.is_available():
        devices += [("cuda", torch.float32), ("cuda", torch.float16)]
    out = []
    for arch in a.arch.split(","):
        if arch == "tiny":
            print("skipping 'tiny' (the Rust test model has no open_clip config)", file=sys.stderr)
            continue
        name = {"ViT-B-32": "ViT-B-32-quickgelu", "ViT-B-16": "ViT-B-16-quickgelu",
                "ViT-L-14": "ViT-L-14-quickgelu", "ViT-L-14-336": "ViT-L-14-336-quickgelu"}.get(arch, arch)
        model = open_clip.create_model(name, pretrained=None).visual.eval()
        s = model.image_size[0] if isinstance(model.image_size, tuple) else model.image_size
        for dev, dt in devices:
            m = model.to(dev, dt)
            for b in [int(x) for x in a.batch.split(",")]:
                if "L-14" in arch:
                    b = min(b, 8)
                base = torch.linspace(-1, 1, b * 3 * s * s).reshape(b, 3, s, s).to(dev, dt)

                def run(k):
                    x = base + k * 1e-3
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    with torch.no_grad():
                        y = m(x)
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    _ = y.float().sum().item()
                    return time.perf_counter() - t

                if dev == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                warm = run(0)
                times = sorted(run(k) for k in range(1, a.reps + 1))
                med = times[len(times) // 2]
                out.append({"arch": arch, "device": dev, "dtype": str(dt).replace("torch.", ""), "batch": b,
                            "images_per_s": b / med, "median_batch_ms": med * 1e3, "warmup_s": warm,
                            "threads": torch.get_num_threads(),
                            "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if dev == "cuda" else None})
                print(f"torch {arch} {dev} {out[-1]['dtype']} batch {b}: {b / med:.2f} images/s",
                      file=sys.stderr, flush=True)
            model = model.to("cpu", torch.float32)
    gpu = torch.cuda.get_device_name(0) if a.cuda and torch.cuda.is_available() else None
    print(json.dumps({"torch": torch.__version__, "open_clip": open_clip.__version__, "gpu": gpu, "results": out,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, indent=1))


if __name__ == "__main__":
    main()
