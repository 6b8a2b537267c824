#!/usr/bin/env python3
"""Reference values for crd4j.eval (spec §8.3 and §9), written for the Java tests.

Usage: eval_reference.py --seed S --out DIR [--big]

Writes into DIR:
  <name>.f64 / <name>.i32   raw little-endian float64 / int32 arrays
  scalars.txt               one "key value" per line, value as Python repr (round-trips exactly)

Uses scikit-learn for AUROC/AP, scipy.ndimage for gaussian_filter and label, and an AU-PRO implementation
written here from the description of the official MVTec algorithm in spec §9.
"""
import argparse
import bisect
import os
import warnings

import numpy as np
import scipy.ndimage as ndi
from sklearn.metrics import average_precision_score, roc_auc_score

STRUCT = np.ones((3, 3), dtype=int)


class Writer:
    def __init__(self, out):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.lines = []

    def f64(self, name, a):
        np.ascontiguousarray(a, dtype='<f8').tofile(os.path.join(self.out, name + '.f64'))

    def i32(self, name, a):
        np.ascontiguousarray(a, dtype='<i4').tofile(os.path.join(self.out, name + '.i32'))

    def scalar(self, key, v):
        self.lines.append('%s %r' % (key, float(v) if not isinstance(v, (int, np.integer)) else int(v)))

    def close(self):
        with open(os.path.join(self.out, 'scalars.txt'), 'w') as f:
            f.write('\n'.join(self.lines) + '\n')


# ---------------------------------------------------------------- AU-PRO (spec §9), own implementation

def pro_curve(maps, gts):
    """maps: (m,h,w) float64, gts: (m,h,w) 0/1. Returns (fpr, pro) with (0,0) prepended and (1,1) appended."""
    m = maps.shape[0]
    fp_change = np.zeros(gts.shape, dtype=np.uint32)
    pro_change = np.zeros(gts.shape, dtype=np.float64)
    num_regions = 0
    for i in range(m):
        lab, n = ndi.label(gts[i], structure=STRUCT)
        num_regions += n
        fp_change[i][lab == 0] = 1
        for k in range(1, n + 1):
            region = lab == k
            pro_change[i][region] = 1.0 / region.sum()
    num_ok = int(fp_change.sum())
    scores = maps.ravel()
    order = np.argsort(scores)[::-1]          # descending
    s_sorted = scores[order]
    fp_sorted = fp_change.ravel()[order]
    pro_sorted = pro_change.ravel()[order]
    fpr = np.cumsum(fp_sorted).astype(np.float32) / np.float32(num_ok)     # float32 division
    assert fpr.dtype == np.float32
    with np.errstate(invalid='ignore', divide='ignore'):
        pro = np.cumsum(pro_sorted) / num_regions
    keep = np.append(np.diff(s_sorted) != 0, True)   # last point of each run of equal scores
    fpr = np.minimum(fpr[keep], np.float32(1.0))
    pro = np.minimum(pro[keep], 1.0)
    fpr = np.concatenate((np.array([0.0]), fpr.astype(np.float64), np.array([1.0])))
    pro = np.concatenate((np.array([0.0]), pro, np.array([1.0])))
    return fpr, pro


def trapezoid(x, y, x_max):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    x = x[finite]
    y = y[finite]
    correction = 0.0
    if x_max not in x:
        ins = bisect.bisect_right(list(x), x_max)
        assert 0 < ins < len(x)
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (x_max - x[ins - 1])
    keep = x <= x_max
    x = x[keep]
    y = y[keep]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1]))) + correction


def au_pro(maps, gts, limit):
    fpr, pro = pro_curve(maps, gts)
    return trapezoid(fpr, pro, limit) / limit


# ---------------------------------------------------------------- cases

def binary_cases(rng):
    cases = []
    n = 1000
    y = (rng.random(n) < 0.3).astype(int)
    cases.append((rng.normal(size=n) + 0.8 * y, y))
    n = 500
    y = (rng.random(n) < 0.4).astype(int)
    cases.append((np.round(rng.random(n) + 0.3 * y, 1), y))                  # many ties
    y = (rng.random(64) < 0.5).astype(int)
    y[0], y[1] = 0, 1
    cases.append((np.full(64, 0.25), y))                                     # constant scores
    n = 2000
    y = (rng.random(n) < 0.05).astype(int)
    y[:3] = 1
    cases.append((rng.integers(0, 5, n).astype(float) + y, y))               # heavy ties, imbalanced
    cases.append((np.array([0.1, 0.4, 0.35, 0.8, 0.8, -1.0, 0.4]), np.array([0, 0, 1, 1, 0, 0, 1])))
    cases.append((np.array([0.0, -0.0, 1.0, -0.0, 0.0, 2.0]), np.array([1, 0, 0, 1, 0, 1])))   # signed zeros tie
    cases.append((rng.normal(size=30), np.zeros(30, dtype=int)))            # no positive: AP only
    cases.append((rng.normal(size=20000) * 1e-3 + 5, (rng.random(20000) < 0.5).astype(int)))
    return cases


def gaussian_cases(rng):
    cases = [(256, 256, 4.0, 4.0), (7, 5, 4.0, 4.0), (1, 1, 4.0, 4.0), (3, 40, 4.0, 4.0),
             (31, 17, 1.5, 3.0), (50, 50, 2.3, 4.0), (2, 2, 4.0, 4.0)]
    out = []
    for (h, w, s, t) in cases:
        yy, xx = np.mgrid[0:h, 0:w]
        a = rng.normal(size=(h, w)) + 3.0 * np.sin(yy / 7.0) * np.cos(xx / 5.0)
        out.append((a, s, t))
    return out


def label_cases(rng):
    out = [(rng.random((64, 64)) < 0.3), (rng.random((64, 64)) < 0.55), (rng.random((1, 50)) < 0.5),
           (rng.random((50, 1)) < 0.5), np.ones((9, 9), bool), np.zeros((5, 6), bool),
           ndi.gaussian_filter(rng.normal(size=(256, 256)), 3) > 0.08]
    return [a.astype(int) for a in out]


def blob_gt(rng, h, w, kind):
    if kind == 0:
        return np.zeros((h, w), dtype=int)
    g = ndi.gaussian_filter(rng.normal(size=(h, w)), h / 24.0)
    thr = np.quantile(g, 1.0 - rng.uniform(0.01, 0.12))
    gt = (g > thr).astype(int)
    if kind == 2:   # add isolated single pixels (regions of size 1)
        idx = rng.integers(0, h * w, 5)
        gt.ravel()[idx] = 1
    return gt


def eval_case(rng, m, h, w, quantise):
    gts = np.stack([blob_gt(rng, h, w, i % 3) for i in range(m)])
    maps = np.stack([ndi.gaussian_filter(rng.normal(size=(h, w)), 2.0) for _ in range(m)]) + 0.15 * gts
    if quantise is not None:
        maps = np.round(maps, quantise)
    return maps, gts


def write_eval(wr, name, maps, gts, curve):
    m, h, w = maps.shape
    wr.f64(name + '_maps', maps)
    wr.i32(name + '_gts', gts)
    wr.scalar(name + '_m', m)
    wr.scalar(name + '_h', h)
    wr.scalar(name + '_w', w)
    img_scores = maps.reshape(m, -1).max(axis=1)
    img_labels = gts.reshape(m, -1).max(axis=1)
    wr.scalar(name + '_iauroc', roc_auc_score(img_labels, img_scores))
    wr.scalar(name + '_iap', average_precision_score(img_labels, img_scores))
    wr.scalar(name + '_pauroc', roc_auc_score(gts.ravel(), maps.ravel()))
    wr.scalar(name + '_pap', average_precision_score(gts.ravel(), maps.ravel()))
    fpr, pro = pro_curve(maps, gts)
    wr.scalar(name + '_aupro30', trapezoid(fpr, pro, 0.3) / 0.3)
    wr.scalar(name + '_aupro01', trapezoid(fpr, pro, 0.01) / 0.01)
    if curve:
        wr.f64(name + '_fpr', fpr)
        wr.f64(name + '_pro', pro)
        wr.scalar(name + '_curve_len', len(fpr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--big', action='store_true', help='also a 100 x 256 x 256 evaluation case')
    args = ap.parse_args()
    warnings.simplefilter('ignore')
    rng = np.random.default_rng(args.seed)
    wr = Writer(args.out)

    bc = binary_cases(rng)
    wr.scalar('binary_count', len(bc))
    for i, (s, y) in enumerate(bc):
        wr.f64('bin%d_scores' % i, s)
        wr.i32('bin%d_labels' % i, y)
        auc = roc_auc_score(y, s) if len(np.unique(y)) == 2 else float('nan')
        wr.scalar('bin%d_auroc' % i, auc)
        wr.scalar('bin%d_ap' % i, average_precision_score(y, s))

    gc = gaussian_cases(rng)
    wr.scalar('gauss_count', len(gc))
    for i, (a, s, t) in enumerate(gc):
        wr.f64('gauss%d_in' % i, a)
        wr.f64('gauss%d_out' % i, ndi.gaussian_filter(a, sigma=s, mode='reflect', truncate=t))
        wr.scalar('gauss%d_h' % i, a.shape[0])
        wr.scalar('gauss%d_w' % i, a.shape[1])
        wr.scalar('gauss%d_sigma' % i, s)
        wr.scalar('gauss%d_truncate' % i, t)

    lc = label_cases(rng)
    wr.scalar('label_count', len(lc))
    for i, a in enumerate(lc):
        lab, n = ndi.label(a, structure=STRUCT)
        wr.i32('label%d_in' % i, a)
        wr.i32('label%d_out' % i, lab)
        wr.scalar('label%d_n' % i, n)
        wr.scalar('label%d_h' % i, a.shape[0])
        wr.scalar('label%d_w' % i, a.shape[1])

    maps, gts = eval_case(rng, 12, 64, 64, None)
    write_eval(wr, 'eval0', maps, gts, True)
    maps, gts = eval_case(rng, 15, 48, 40, 1)      # coarse quantisation: ties across ok and region pixels
    write_eval(wr, 'eval1', maps, gts, True)
    maps, gts = eval_case(rng, 24, 256, 256, 4)
    write_eval(wr, 'eval2', maps, gts, False)
    if args.big:
        maps, gts = eval_case(rng, 100, 256, 256, None)
        write_eval(wr, 'big', maps, gts, False)
    wr.close()


if __name__ == '__main__':
    main()
