#!/usr/bin/env python3
"""PyTorch side of benchmarks/CpuForwardTime.java: the reference's eval-mode CRD inference (crd_reference.py bench:
two teacher passes, both branches, both raw maps; batch 1, float32, random weights) on ONE thread, timed by the
thread's CPU time as well as wall time, so that it stays comparable while other jobs load the machine.
Usage: python3 benchmarks/torch_cpu_time.py [paper|small|tiny] [runs]"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "python"))
import crd_reference as ref  # noqa: E402  (sets 2 threads on import; overridden below)
import torch  # noqa: E402

preset = sys.argv[1] if len(sys.argv) > 1 else "paper"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
base, size = {"paper": (64, 256), "small": (16, 128), "tiny": (4, 64)}[preset]
torch.set_num_threads(1)
torch.manual_seed(0)
teacher = ref.WideResNet50_2(base)
teacher.init_weights()
rgb_b, depth_b = ref.CRDBranch(base), ref.CRDBranch(base)
rgb_b.init_weights()
depth_b.init_weights()
for m in (teacher, rgb_b, depth_b):
    m.eval()
x_rgb, x_depth = ref.make_inputs(1, size, 0)
cpu, wall = [], []
with torch.no_grad():
    for i in range(runs + 1):
        c0, w0 = time.thread_time(), time.perf_counter()
        t_rgb, t_depth = teacher.features(x_rgb), teacher.features(x_depth)
        o_rgb = rgb_b.forward_all(t_rgb, t_depth)
        o_depth = depth_b.forward_all(t_depth, t_rgb)
        ref.anomaly_map(o_rgb["fused"], t_rgb, size)
        ref.anomaly_map(o_depth["fused"], t_depth, size)
        if i > 0:  # the first run is warm-up
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
print(json.dumps({"preset": preset, "threads": torch.get_num_threads(), "torch": torch.__version__,
                  "forward_cpu_s": cpu, "median_cpu_s": sorted(cpu)[len(cpu) // 2], "forward_wall_s": wall}))
