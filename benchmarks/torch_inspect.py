"""What `crd inspect` does, done by the PyTorch reference (src/test/python/crd_reference.py): load a teacher state
dict and a CRD checkpoint {"student_rgb", "student_depth"} from .pth, the two inputs from .npy, run both teacher passes
and both branches in eval mode, write every intermediate and both anomaly maps as .npy. For timing the whole process
side by side with `crd inspect` (issue 11: whole-process inspect <= 1.5x the reference):

  /usr/bin/time -f %e /usr/bin/python3 benchmarks/torch_inspect.py --teacher T.pth --checkpoint C.pth \
      --rgb rgb.npy --depth depth.npy --out DIR [--base 64 --size 256 --threads 2]
"""
import argparse
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "python"))
import crd_reference as ref  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for k in ("--teacher", "--checkpoint", "--rgb", "--depth", "--out"):
        ap.add_argument(k, required=True)
    ap.add_argument("--base", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    teacher = ref.WideResNet50_2(a.base)
    teacher.load_state_dict(torch.load(a.teacher))
    ck = torch.load(a.checkpoint)
    rgb_b, depth_b = ref.CRDBranch(a.base), ref.CRDBranch(a.base)
    rgb_b.load_state_dict(ck["student_rgb"])
    depth_b.load_state_dict(ck["student_depth"])
    x_rgb = torch.from_numpy(np.load(a.rgb))
    x_depth = torch.from_numpy(np.load(a.depth))
    os.makedirs(a.out, exist_ok=True)
    ref.write_reference(a.out, types.SimpleNamespace(size=a.size, batch=x_rgb.shape[0]), teacher, rgb_b, depth_b,
                        x_rgb, x_depth)


if __name__ == "__main__":
    main()
