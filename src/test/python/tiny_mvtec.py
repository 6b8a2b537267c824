"""Writes a tiny MVTec 3D-AD-style category for crd4j tests: python tiny_mvtec.py ROOT CATEGORY.

<root>/<cat>/{train,validation}/good/{rgb,xyz} and test/{good,crack}/{rgb,xyz,gt}; 80x80 images, float32 xyz TIFFs
holding a plane z=1 with a raised block (z=0.9..0.95) and a few missing points.
"""
import sys, os
import numpy as np
from PIL import Image
import tifffile

root, cat = sys.argv[1], sys.argv[2]
H = W = 80
rng = np.random.default_rng(7)


def sample(split, defect, stem, bad):
    d = os.path.join(root, cat, split, defect)
    for sub in ("rgb", "xyz") + (("gt",) if defect != "good" else ()):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    z = np.ones((H, W), np.float32)
    block = (yy > 20) & (yy < 60) & (xx > 20) & (xx < 60)
    z[block] = 0.9 + 0.05 * (xx[block] - 20) / 40 + rng.normal(0, 0.002, block.sum()).astype(np.float32)
    rgb = np.full((H, W, 3), 60, np.uint8)
    rgb[block] = (180, 150, 90)
    rgb = np.clip(rgb.astype(int) + rng.integers(-10, 11, rgb.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((H, W), np.uint8)
    if bad:
        cy, cx = rng.integers(28, 52, 2)
        m = (np.abs(yy - cy) < 6) & (np.abs(xx - cx) < 6)
        rgb[m] = (20, 20, 200)
        z[m] -= 0.04
        mask[m] = 255
    xyz = np.stack([xx / W, yy / H, z], -1).astype(np.float32)
    xyz[5, 70] = 0  # a missing point
    Image.fromarray(rgb).save(os.path.join(d, "rgb", stem + ".png"))
    tifffile.imwrite(os.path.join(d, "xyz", stem + ".tiff"), xyz)
    if bad:
        Image.fromarray(mask).save(os.path.join(d, "gt", stem + ".png"))


for i in range(5):
    sample("train", "good", "%03d" % i, False)
for i in range(3):
    sample("validation", "good", "%03d" % i, False)
for i in range(3):
    sample("test", "good", "%03d" % i, False)
for i in range(4):
    sample("test", "crack", "%03d" % i, True)
