#!/usr/bin/env python3
"""PyTorch side of the GPU comparison (issue 4): the same CRD architecture as crd4j (src/test/python/crd_reference.py,
written from the spec), timed on the same GPU in the same run as crd4j's JMH GPU benchmarks, so figures are ratios.

  inference: batch 1, eval mode, float32, TF32 off (torch.backends.{cudnn,cuda.matmul}.allow_tf32 = False) unless
             --tf32: two teacher passes, both branches, both raw maps (spec 8.1) on the GPU, normalisation + fusion,
             then the map to the host and scipy's gaussian_filter(sigma=4) as the reference does (spec 8.3);
             timed with torch.cuda.synchronize() per call; p50 / p99 over --runs calls after --warmup calls.
             Variants: cudnn.benchmark off (the reference's setting, spec 7) and on.
  training:  one iteration of spec 7 (teachers under no_grad, per branch forward, 4-term loss, backward, Adam with
             betas (0.5, 0.999)), batch --train-batch, samples/s over --train-iters iterations after 2 warm-ups.
Prints one JSON object; --out FILE also writes it.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-dir", required=True, help="folder holding crd_reference.py")
    ap.add_argument("--base", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-iters", type=int, default=10)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    sys.path.insert(0, a.ref_dir)
    import crd_reference as ref
    from scipy.ndimage import gaussian_filter

    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    dev = torch.device("cuda")
    torch.manual_seed(0)
    teacher = ref.WideResNet50_2(a.base)
    teacher.init_weights()
    rgb_b, depth_b = ref.CRDBranch(a.base), ref.CRDBranch(a.base)
    rgb_b.init_weights()
    depth_b.init_weights()
    teacher, rgb_b, depth_b = teacher.to(dev).eval(), rgb_b.to(dev).eval(), depth_b.to(dev).eval()
    x_rgb, x_depth = ref.make_inputs(1, a.size, 0)
    x_rgb, x_depth = x_rgb.to(dev), x_depth.to(dev)
    mu_r, sd_r, mu_d, sd_d = 1.5, 0.1, 1.5, 0.1

    def raw_map(fused, t):
        acc = torch.zeros((fused[0].shape[0], a.size, a.size), dtype=torch.float64, device=dev)
        for g, tt in zip(fused, t):
            m = 1 - F.cosine_similarity(g, tt, dim=1, eps=1e-8)
            m = F.interpolate(m.unsqueeze(1), size=(a.size, a.size), mode="bilinear", align_corners=True)
            acc += m[:, 0].double()
        return acc

    def score():
        with torch.no_grad():
            t_rgb, t_depth = teacher.features(x_rgb), teacher.features(x_depth)
            o_rgb = rgb_b.forward_all(t_rgb, t_depth)
            o_depth = depth_b.forward_all(t_depth, t_rgb)
            fused = (raw_map(o_rgb["fused"], t_rgb) - mu_r) / sd_r + (raw_map(o_depth["fused"], t_depth) - mu_d) / sd_d
            m = gaussian_filter(fused[0].cpu().numpy(), sigma=4)
            return float(m.max())

    res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "tf32": a.tf32,
           "preset": {"base": a.base, "size": a.size}}
    for bench in (False, True):
        torch.backends.cudnn.benchmark = bench
        for _ in range(a.warmup):
            score()
        times = []
        for _ in range(a.runs):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            score()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)
        res["inference_cudnn_benchmark_" + str(bench).lower()] = {
            "what": "Detector-equivalent score, batch 1, eager float32", "runs": a.runs,
            "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "mean_ms": float(np.mean(times))}

    if not a.skip_train:
        torch.backends.cudnn.benchmark = False
        x_rgb, x_depth = ref.make_inputs(a.train_batch, a.size, 1)
        x_rgb, x_depth = x_rgb.to(dev), x_depth.to(dev)
        branches = {"rgb": rgb_b, "depth": depth_b}
        opts = {k: torch.optim.Adam(b.parameters(), lr=0.005, betas=(0.5, 0.999), eps=1e-8) for k, b in branches.items()}

        def step():
            with torch.no_grad():
                t_rgb, t_depth = teacher.features(x_rgb), teacher.features(x_depth)
            feats = {"rgb": (t_rgb, t_depth), "depth": (t_depth, t_rgb)}
            for name, br in branches.items():
                ta, tb = feats[name]
                br.train()
                total, _ = ref.branch_losses(br(ta, tb, "detached"), ta)
                opts[name].zero_grad()
                total.backward()
                opts[name].step()
            return float(total.item())

        for _ in range(2):
            step()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.train_iters):
            step()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        res["training"] = {"what": "spec 7 iteration (both branches), float32", "batch": a.train_batch,
                           "iters": a.train_iters, "samples_per_s": a.train_batch * a.train_iters / dt,
                           "peak_mem_gb": torch.cuda.max_memory_allocated() / 1e9}
    print(json.dumps(res, indent=1))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
