#!/usr/bin/env python3
"""Reference for crd4j.data.NormalsFromDepth: surface normals computed from the xyz TIFF (spec §16.1), transcribed
from the spec on numpy + OpenCV (cv2.morphologyEx, cv2.Sobel, cv2.resize do the work the reference does with them).

Usage: normals_reference.py --out DIR

Writes synthetic organized point clouds (float32 TIFF, odd sizes, holes, missing rims, missing corner points) and:
  <xyz>.tiff                        the cloud (tifffile.imwrite)
  <xyz>_fg.npy                      float64 (H,W)   foreground after the 3x3 x 3 closing
  <xyz>_z.npy                       float64 (H,W)   [0,1] depth after 2 hole-fill iterations
  <xyz>_k<K>_dzdx.npy, _dzdy.npy    float64 (H,W)   cv2.Sobel(z, CV_64F, 1, 0 / 0, 1, ksize=K)
  <xyz>_k<K>_img.npy                float64 (H,W,3) (n + 1)/2 * fg
  <xyz>_k<K>_s<S>_resized.npy       float64 (S,S,3) cv2.resize(img, (S,S), INTER_LINEAR)
  <xyz>_k<K>_s<S>_input.npy         float32 (1,3,S,S) after the ImageNet Normalize
  kernels_k<K>.npy                  float64 (2,K') cv2.getDerivKernels(1, 0, K): the x-derivative's row and column kernels
  bad_tiny.tiff (6x5), bad_background.tiff (a plane, nothing on it), bad_zero.tiff (every point missing)
"""
import argparse
import os

import cv2
import numpy as np
import tifffile

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
KS = (1, 3, 5, 7)
SIZES = (256, 64)


def make_xyz(rng, h, w, rim=True):
    """A tilted plane with an ellipsoidal object, a shallow step, noise, holes and (optionally) missing rims."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (xx - w / 2) * 0.0004
    y = (yy - h / 2) * 0.0004
    z = 0.45 + 0.03 * xx / w + 0.02 * yy / h
    e = ((xx - w * 0.45) / (w * 0.25)) ** 2 + ((yy - h * 0.55) / (h * 0.22)) ** 2
    z = z - 0.03 * np.sqrt(np.clip(1 - e, 0, 1)) * (e < 1)
    box = (np.abs(xx - w * 0.78) < w * 0.08) & (np.abs(yy - h * 0.25) < h * 0.1)
    z = z - 0.012 * box                                                    # a flat-topped block: sharp edges
    z = z + rng.normal(0, 0.0004, (h, w))
    xyz = np.stack([x, y, z], 2)
    miss = rng.random((h, w)) < 0.02
    miss[int(h * 0.5):int(h * 0.5) + 7, int(w * 0.4):int(w * 0.4) + 11] = True   # a hole inside the object
    miss[int(h * 0.3):int(h * 0.3) + 2, :] |= rng.random(w) < 0.5                 # a broken scan line
    if rim:
        miss[5:-5, -3:] = True                                                   # missing rims (the corner
        miss[:2, 5:-5] = True                                                    # patches keep valid points)
        miss[2:4, 0:2] = True
    miss[-2:, 1:3] = True
    xyz[miss] = 0
    return xyz.astype(np.float32)


def corner(p):
    p = p.astype(np.float64)
    return p.reshape(-1, 3).sum(0) / max(np.count_nonzero(p[:, :, 2] != 0), 1e-12)


def fill(depth):
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


def foreground(xyz):
    z = xyz[:, :, 2]
    zero = (z == 0)
    p1, p2, p3 = corner(xyz[0:3, 0:3]), corner(xyz[0:3, -3:]), corner(xyz[-3:, 0:3])
    n = np.cross(p3 - p1, p2 - p1)
    d = n @ p3
    x64 = xyz.astype(np.float64)
    dist = np.abs(x64 @ n - d) / np.linalg.norm(n)
    fg = (dist > 0.005).astype(np.float64) * (1 - zero)
    return cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8), iterations=3)


def depth01(xyz, fg):
    z = xyz[:, :, 2].astype(np.float64) * fg
    zero = (z == 0)
    zmin, zmax = z[~zero].min(), z.max()
    z = (z - zmin) / (zmax - zmin)
    z = z * (1 - zero)
    for _ in range(2):
        z = fill(z)
    return z


def normals(z, fg, k):
    dzdx = cv2.Sobel(z, cv2.CV_64F, 1, 0, ksize=k)
    dzdy = cv2.Sobel(z, cv2.CV_64F, 0, 1, ksize=k)
    n = np.stack([-dzdx, -dzdy, np.ones_like(z)], 2)
    n = n / (np.linalg.norm(n, axis=2, keepdims=True) + 1e-8)
    img = (n + 1) / 2 * fg[:, :, None]
    return dzdx, dzdy, img


def to_input(img, s):
    r = cv2.resize(img, (s, s), interpolation=cv2.INTER_LINEAR)
    x = r.transpose(2, 0, 1).astype(np.float32)
    x = (x - MEAN[:, None, None]) / STD[:, None, None]
    return r, x[None].astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(916)
    # odd sizes; 128x128 is an exact 2x shrink to 64 (OpenCV switches to INTER_AREA), 61x67 is upscaled to both sizes
    clouds = {'xyz_203x197': make_xyz(rng, 197, 203), 'xyz_151x233': make_xyz(rng, 233, 151),
              'xyz_128x128': make_xyz(rng, 128, 128), 'xyz_61x67': make_xyz(rng, 67, 61, rim=False)}
    for name, xyz in clouds.items():
        path = os.path.join(out, name + '.tiff')
        tifffile.imwrite(path, xyz)
        xyz = tifffile.imread(path)
        fg = foreground(xyz)
        z = depth01(xyz, fg)
        np.save(os.path.join(out, name + '_fg.npy'), fg)
        np.save(os.path.join(out, name + '_z.npy'), z)
        for k in KS:
            dzdx, dzdy, img = normals(z, fg, k)
            np.save(os.path.join(out, f'{name}_k{k}_dzdx.npy'), dzdx)
            np.save(os.path.join(out, f'{name}_k{k}_dzdy.npy'), dzdy)
            np.save(os.path.join(out, f'{name}_k{k}_img.npy'), img)
            for s in SIZES:
                r, x = to_input(img, s)
                np.save(os.path.join(out, f'{name}_k{k}_s{s}_resized.npy'), r)
                np.save(os.path.join(out, f'{name}_k{k}_s{s}_input.npy'), x)
    for k in KS:
        kx, ky = cv2.getDerivKernels(1, 0, k, ktype=cv2.CV_64F)
        np.save(os.path.join(out, f'kernels_k{k}_x.npy'), kx.ravel())
        np.save(os.path.join(out, f'kernels_k{k}_y.npy'), ky.ravel())
    tifffile.imwrite(os.path.join(out, 'bad_tiny.tiff'), make_xyz(rng, 5, 6, rim=False))
    plane = make_xyz(rng, 90, 97, rim=False)
    yy, xx = np.mgrid[0:90, 0:97]
    plane[:, :, 2] = np.where(plane[:, :, 2] != 0, 0.45 + 0.03 * xx / 97 + 0.02 * yy / 90, 0).astype(np.float32)
    tifffile.imwrite(os.path.join(out, 'bad_background.tiff'), plane)
    tifffile.imwrite(os.path.join(out, 'bad_zero.tiff'), np.zeros((40, 50, 3), np.float32))


if __name__ == '__main__':
    main()
