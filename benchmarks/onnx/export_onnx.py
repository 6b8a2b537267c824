"""Exports the PyTorch reference CRD inference (src/test/python/crd_reference.py: both teacher passes, both branches,
both raw anomaly maps, eval mode, random weights as `crd_reference.py bench` builds them) to ONNX for
benchmarks/onnx_cpu.sh. Usage: export_onnx.py --base 64 --size 256 --out DIR  (writes DIR/crd.onnx plus its external
weight files: the paper network is larger than ONNX's 2 GB single-file limit). Needs ~9 GB of memory at the paper size."""
import argparse, os, sys, time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "src", "test", "python"))
import torch
import torch.nn.functional as F
import crd_reference as ref


class CrdInference(torch.nn.Module):
    def __init__(self, teacher, rgb_b, depth_b, size):
        super().__init__()
        self.teacher, self.rgb_b, self.depth_b, self.size = teacher, rgb_b, depth_b, size

    def raw_map(self, fused, t):
        acc = None
        for g, tt in zip(fused, t):
            m = 1 - F.cosine_similarity(g, tt, dim=1, eps=1e-8)
            m = F.interpolate(m.unsqueeze(1), size=(self.size, self.size), mode="bilinear", align_corners=True)
            acc = m if acc is None else acc + m
        return acc

    def forward(self, x_rgb, x_depth):
        t_rgb, t_depth = self.teacher.features(x_rgb), self.teacher.features(x_depth)
        o_rgb = self.rgb_b.forward_all(t_rgb, t_depth)
        o_depth = self.depth_b.forward_all(t_depth, t_rgb)
        return self.raw_map(o_rgb["fused"], t_rgb), self.raw_map(o_depth["fused"], t_depth)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    teacher = ref.WideResNet50_2(a.base)
    teacher.init_weights()
    rgb_b, depth_b = ref.CRDBranch(a.base), ref.CRDBranch(a.base)
    rgb_b.init_weights()
    depth_b.init_weights()
    net = CrdInference(teacher, rgb_b, depth_b, a.size).eval()
    x = torch.randn(1, 3, a.size, a.size)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "crd.onnx")
    t0 = time.time()
    with torch.no_grad():
        torch.onnx.export(net, (x, x.clone()), path, input_names=["rgb", "depth"], output_names=["map_rgb", "map_depth"],
                          opset_version=13, do_constant_folding=True)
    print("exported %s in %.1f s (torch %s)" % (path, time.time() - t0, torch.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
