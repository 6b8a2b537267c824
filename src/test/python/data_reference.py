#!/usr/bin/env python3
"""Reference outputs for the crd4j.data tests (image / GT / depth input pipelines, spec §2.2-§2.4, §10, §14).

Usage: data_reference.py --out DIR

Writes test images (PNG) and organized xyz point clouds (float32 TIFF, tifffile) made with a fixed seed, and what the
reference pipeline makes of them:
  <img>.png              inputs (odd sizes; RGB, RGBA, palette, grayscale, RGB GT, upscaling and one-axis cases)
  <img>_rgb.npy          uint8 (H,W,3)   PIL .convert('RGB') before resizing
  <img>_L.npy            uint8 (H,W)     PIL .convert('L') before resizing
  <img>_rgb256.npy       uint8 (256,256,3) PIL .convert('RGB').resize((256,256), BILINEAR)
  <img>_L256.npy         uint8 (256,256)   PIL .convert('L').resize((256,256), BILINEAR)
  <img>_input.npy        float32 (1,3,256,256) ToTensor + ImageNet Normalize (numpy, float32, subtract then divide)
  <img>_gt.npy           float32 (256,256) GT: L, resize, /255, > 0.5
  <img>_rgb_97x131.npy   uint8 resize to a non-square target (97 wide, 131 high)
  <xyz>.tiff             float32 (H,W,3) tilted plane + object + noise + missing points (tifffile.imwrite)
  <xyz>_resized.npy      float32 (256,256,3) cv2.resize INTER_NEAREST
  <xyz>_fg.npy           float64 (256,256) foreground before closing
  <xyz>_closed.npy       float64 (256,256) after cv2.morphologyEx(MORPH_CLOSE, 3x3, iterations=3)
  <xyz>_depth.npy        float64 (256,256) after min-max and 2 hole-fill iterations
  <xyz>_input.npy        float32 (1,3,256,256) depth network input
  xyz_403x398_be_tiled.tiff, xyz_403x398_deflate.tiff   the same cloud, big-endian tiled / deflate-compressed
  bad_zero.tiff, bad_nan.tiff, bad_2ch.tiff, bad_16bit.png    invalid inputs
"""
import argparse
import os

import numpy as np
from PIL import Image
import tifffile
import cv2

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZE = 256


def to_tensor_normalize(rgb8):
    x = rgb8.astype(np.float32) / np.float32(255)          # ToTensor: float32 division
    x = x.transpose(2, 0, 1)
    x = (x - MEAN[:, None, None]) / STD[:, None, None]      # Normalize: float32, subtract then divide
    return x[None].astype(np.float32)


def smooth_noise(rng, h, w, c):
    """Smooth gradients plus texture plus noise, so every resize tap matters."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, c))
    for k in range(c):
        out[:, :, k] = (127 + 80 * np.sin(xx / (7.0 + 3 * k)) * np.cos(yy / (11.0 + k))
                        + 40 * np.sin((xx + yy) / 3.1) + rng.normal(0, 25, (h, w)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def blob_mask(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), dtype=np.uint8)
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(3, max(4, min(h, w) // 6))
        m[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
    m[h // 2, :: 7] = 255          # thin lines: some vanish after resizing
    return m


def make_images(rng, out):
    imgs = {}
    imgs['rgb_403x398'] = Image.fromarray(smooth_noise(rng, 398, 403, 3), 'RGB')
    rgba = np.concatenate([smooth_noise(rng, 600, 800, 3), rng.integers(0, 256, (600, 800, 1), dtype=np.uint8)], 2)
    imgs['rgba_800x600'] = Image.fromarray(rgba, 'RGBA')
    imgs['pal_317x251'] = Image.fromarray(smooth_noise(rng, 251, 317, 3), 'RGB').quantize(colors=200)
    imgs['gray_221x173'] = Image.fromarray(smooth_noise(rng, 173, 221, 1)[:, :, 0], 'L')
    imgs['up_100x77'] = Image.fromarray(smooth_noise(rng, 77, 100, 3), 'RGB')           # upscaling
    imgs['onex_256x300'] = Image.fromarray(smooth_noise(rng, 300, 256, 3), 'RGB')       # only a vertical pass
    imgs['same_256x256'] = Image.fromarray(smooth_noise(rng, 256, 256, 3), 'RGB')       # no pass at all
    la = np.concatenate([smooth_noise(rng, 130, 150, 1), rng.integers(0, 256, (130, 150, 1), dtype=np.uint8)], 2)
    imgs['la_150x130'] = Image.fromarray(la, 'LA')
    imgs['bw_130x120'] = Image.fromarray(blob_mask(rng, 120, 130) > 0)                  # mode '1' (1-bit PNG)
    imgs['pal16_201x199'] = Image.fromarray(smooth_noise(rng, 199, 201, 3), 'RGB').quantize(colors=12)  # 4-bit
    imgs['gt_403x398'] = Image.fromarray(blob_mask(rng, 398, 403), 'L')
    g = blob_mask(rng, 600, 800)
    gt_rgb = np.stack([g, (g // 2 + 60) * (g > 0), rng.integers(0, 256, g.shape) * (g > 0)], 2).astype(np.uint8)
    imgs['gtrgb_800x600'] = Image.fromarray(gt_rgb, 'RGB')
    for name, im in imgs.items():
        path = os.path.join(out, name + '.png')
        im.save(path)
        im = Image.open(path)                      # what the pipeline sees is the file
        rgb = im.convert('RGB')
        lum = im.convert('L')
        np.save(os.path.join(out, name + '_rgb.npy'), np.asarray(rgb))
        np.save(os.path.join(out, name + '_L.npy'), np.asarray(lum))
        rgb256 = np.asarray(rgb.resize((SIZE, SIZE), Image.BILINEAR))
        l256 = np.asarray(lum.resize((SIZE, SIZE), Image.BILINEAR))
        np.save(os.path.join(out, name + '_rgb256.npy'), rgb256)
        np.save(os.path.join(out, name + '_L256.npy'), l256)
        np.save(os.path.join(out, name + '_rgb_97x131.npy'), np.asarray(rgb.resize((97, 131), Image.BILINEAR)))
        inp = to_tensor_normalize(rgb256)
        np.save(os.path.join(out, name + '_input.npy'), inp)
        gt = (l256.astype(np.float32) / np.float32(255) > 0.5).astype(np.float32)
        np.save(os.path.join(out, name + '_gt.npy'), gt)
        check_torchvision(im, inp, gt)


def check_torchvision(im, inp, gt):
    """If torchvision is importable, the numpy transform must equal it exactly."""
    try:
        import torch
        from torchvision import transforms
    except Exception:
        return
    t = transforms.Compose([transforms.Resize((SIZE, SIZE)), transforms.ToTensor(),
                            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    ref = t(im.convert('RGB')).numpy()[None]
    assert np.array_equal(ref, inp), 'numpy transform != torchvision'
    g = transforms.Compose([transforms.Resize((SIZE, SIZE)), transforms.ToTensor()])(im.convert('L')).numpy()[0]
    g = np.where(g > 0.5, 1.0, 0.0).astype(np.float32)
    assert np.array_equal(g, gt), 'numpy GT != torchvision'


# ----------------------------------------------------------------------------------------------------- depth

def make_xyz(rng, h, w, missing_frac=0.03):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (xx - w / 2) * 0.0004
    y = (yy - h / 2) * 0.0004
    z = 0.45 + 0.03 * x / (w * 0.0004) + 0.02 * y / (h * 0.0004)          # tilted background plane
    obj = ((xx - w * 0.45) / (w * 0.22)) ** 2 + ((yy - h * 0.55) / (h * 0.2)) ** 2 < 1
    bump = np.sqrt(np.clip(1 - ((xx - w * 0.45) / (w * 0.22)) ** 2 - ((yy - h * 0.55) / (h * 0.2)) ** 2, 0, 1))
    z = z - 0.02 * bump * obj                                              # object closer to the camera
    small = ((xx - w * 0.8) ** 2 + (yy - h * 0.2) ** 2) < (min(h, w) * 0.04) ** 2
    z = z - 0.004 * small                                                  # below the 0.005 threshold (mostly)
    z = z + rng.normal(0, 0.0008, (h, w))
    xyz = np.stack([x, y, z], 2)
    miss = rng.random((h, w)) < missing_frac
    miss[int(h * 0.5):int(h * 0.5) + 9, int(w * 0.4):int(w * 0.4) + 15] = True   # a hole inside the object
    miss[:h // 3, w // 2:w // 2 + 5] = True                                # a missing strip from the border
    miss[0:4, 0:3] = True                                                  # corner patches with missing points
    miss[-2:, 1:2] = True
    xyz[miss] = 0
    return xyz.astype(np.float32)


def corner(p):
    """Mean over valid points of a 3x3 patch, computed as the spec says (float64)."""
    p = p.astype(np.float64)
    s = np.zeros(3)
    for i in range(3):
        for j in range(3):
            s = s + p[i, j]
    n = np.count_nonzero(p[:, :, 2] != 0)
    return s / max(n, 1e-12)


def fill(depth):
    """One hole-fill iteration in float64: zero pixels get the 3x3 sum / (count of > 0 + 1e-12), zero padding."""
    h, w = depth.shape
    pad = np.zeros((h + 2, w + 2))
    pad[1:-1, 1:-1] = depth
    s = np.zeros((h, w))
    c = np.zeros((h, w))
    for dy in range(3):
        for dx in range(3):
            win = pad[dy:dy + h, dx:dx + w]
            s = s + win
            c = c + (win > 0)
    return np.where(depth == 0, s / (c + 1e-12), depth)


def depth_pipeline(xyz):
    xyz = cv2.resize(xyz, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    z = xyz[:, :, 2]
    zero_mask = (z == 0)
    p1, p2, p3 = corner(xyz[0:3, 0:3]), corner(xyz[0:3, -3:]), corner(xyz[-3:, 0:3])
    n = np.cross(p3 - p1, p2 - p1)
    d = n[0] * p3[0] + n[1] * p3[1] + n[2] * p3[2]
    x64 = xyz.astype(np.float64)
    dist = np.abs(n[0] * x64[:, :, 0] + n[1] * x64[:, :, 1] + n[2] * x64[:, :, 2] - d) / np.sqrt(
        n[0] * n[0] + n[1] * n[1] + n[2] * n[2])
    fg = (dist > 0.005).astype(np.float64) * (1 - zero_mask.astype(np.float64))
    closed = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8), iterations=3)
    zz = z.astype(np.float64) * closed
    zero_mask = (zz == 0)
    zmin = zz[~zero_mask].min()
    zmax = zz.max()
    zz = (zz - zmin) / (zmax - zmin) * 0.8 + 0.1
    zz = zz * (1 - zero_mask)
    for _ in range(2):
        zz = fill(zz)
    d32 = zz.astype(np.float32)
    inp = (np.repeat(d32[None], 3, 0) - MEAN[:, None, None]) / STD[:, None, None]
    return xyz, fg, closed, zz, inp[None].astype(np.float32)


def make_depth(rng, out):
    for name, (w, h) in {'xyz_403x398': (403, 398), 'xyz_800x600': (800, 600), 'xyz_442x422': (442, 422)}.items():
        xyz = make_xyz(rng, h, w)
        path = os.path.join(out, name + '.tiff')
        tifffile.imwrite(path, xyz)
        xyz = tifffile.imread(path)
        r, fg, closed, depth, inp = depth_pipeline(xyz)
        np.save(os.path.join(out, name + '_resized.npy'), r)
        np.save(os.path.join(out, name + '_fg.npy'), fg)
        np.save(os.path.join(out, name + '_closed.npy'), closed)
        np.save(os.path.join(out, name + '_depth.npy'), depth)
        np.save(os.path.join(out, name + '_input.npy'), inp)
    # a tiled, big-endian variant of the first cloud must read the same
    xyz = tifffile.imread(os.path.join(out, 'xyz_403x398.tiff'))
    tifffile.imwrite(os.path.join(out, 'xyz_403x398_be_tiled.tiff'), xyz.astype('>f4'), tile=(64, 64))
    tifffile.imwrite(os.path.join(out, 'xyz_403x398_deflate.tiff'), xyz, compression='zlib')
    Image.fromarray((rng.random((40, 50)) * 65535).astype(np.uint16)).save(os.path.join(out, 'bad_16bit.png'))
    tifffile.imwrite(os.path.join(out, 'bad_zero.tiff'), np.zeros((300, 310, 3), np.float32))
    nan = make_xyz(rng, 300, 310)
    nan[100:120, 100:120, 2] = np.nan
    tifffile.imwrite(os.path.join(out, 'bad_nan.tiff'), nan)
    tifffile.imwrite(os.path.join(out, 'bad_2ch.tiff'), make_xyz(rng, 40, 50)[:, :, :2], photometric='minisblack',
                     planarconfig='contig')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(1234)
    make_images(rng, a.out)
    make_depth(rng, a.out)


if __name__ == '__main__':
    main()
