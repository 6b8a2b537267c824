#!/usr/bin/env python3
"""Reference values for the 2025 reference's (TRD's) metrics in crd4j.eval (spec §16.2), written for the Java tests.

Usage: trd_metrics_reference.py --seed S --out DIR [--big]

Same output format as eval_reference.py (<name>.f64 / <name>.i32 raw little-endian arrays, scalars.txt "key repr").
F1-max uses scikit-learn's precision_recall_curve; the threshold-sampled AU-PRO is a transcription of spec §16.2
written here (per-component sorted scores, 100 threshold positions into the sorted ok-pixel scores, MVTec trapezoid).
"""
import argparse
import bisect
import os
import warnings

import numpy as np
import scipy.ndimage as ndi
from sklearn.metrics import precision_recall_curve

STRUCT = np.ones((3, 3), dtype=int)
LIMITS = (0.3, 0.1, 0.05, 0.01)


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


def f1_max(y, s):
    precision, recall, _ = precision_recall_curve(y, s)
    f1 = 2 * precision * recall / (precision + recall + 1e-7)
    return float(np.max(f1[:-1]))


class Component:
    """One GT region's scores, sorted; overlap(t) = fraction of them > t, for non-decreasing t."""

    def __init__(self, scores):
        self.scores = np.sort(scores)
        self.index = 0
        self.last = None

    def overlap(self, t):
        assert self.last is None or self.last <= t
        self.last = t
        while self.index < len(self.scores) and self.scores[self.index] <= t:
            self.index += 1
        return 1.0 - self.index / len(self.scores)


def sampled_pro_curve(maps, gts, num_thresholds=100):
    components = []
    ok = []
    for m, g in zip(maps, gts):
        lab, n = ndi.label(g, structure=STRUCT)
        ok.append(m[lab == 0].copy())
        for k in range(1, n + 1):
            components.append(Component(m[lab == k]))
    ok = np.sort(np.concatenate(ok))
    positions = np.linspace(0, len(ok) - 1, num=num_thresholds, dtype=int)
    fprs, pros = [1.0], [1.0]
    for pos in positions:
        t = ok[pos]
        fprs.append(1.0 - (pos + 1) / len(ok))
        pro = 0.0
        for c in components:
            pro += c.overlap(t)
        pros.append(pro / len(components))
    return fprs[::-1], pros[::-1]


def trapezoid(x, y, x_max):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    correction = 0.0
    if x_max not in x:
        ins = bisect.bisect_right(list(x), x_max)
        assert 0 < ins < len(x)
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (x_max - x[ins - 1])
    keep = x <= x_max
    x, y = x[keep], y[keep]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1]))) + correction


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
    cases.append((np.full(64, 0.25), y))                                     # constant scores: one threshold
    cases.append((np.array([0.1, 0.4, 0.35, 0.8, 0.8, -1.0, 0.4]), np.array([0, 0, 1, 1, 0, 0, 1])))
    cases.append((np.array([0.0, -0.0, 1.0, -0.0, 0.0, 2.0]), np.array([1, 0, 0, 1, 0, 1])))   # signed zeros tie
    cases.append((rng.normal(size=30), np.zeros(30, dtype=int)))            # no positive: recall set to 1, F1 0
    cases.append((rng.normal(size=30), np.ones(30, dtype=int)))             # positives only
    return cases


def multi_blob_gt(rng, h, w, kind):
    """kind 0: good; 1: several smooth blobs; 2: blobs plus isolated single pixels and a diagonal (8-connected) chain."""
    if kind == 0:
        return np.zeros((h, w), dtype=int)
    g = ndi.gaussian_filter(rng.normal(size=(h, w)), max(h, w) / 20.0)
    gt = (g > np.quantile(g, 1.0 - rng.uniform(0.03, 0.12))).astype(int)
    if kind == 2:
        gt.ravel()[rng.integers(0, h * w, 6)] = 1
        for d in range(min(h, w) // 4):
            gt[d, d] = 1
    return gt


def eval_case(rng, m, h, w, quantise):
    gts = np.stack([multi_blob_gt(rng, h, w, i % 3) for i in range(m)])
    maps = np.stack([ndi.gaussian_filter(rng.normal(size=(h, w)), 2.0) for _ in range(m)]) + 0.2 * gts
    if quantise is not None:
        maps = np.round(maps, quantise)       # ties within and across ok and region pixels
    return maps, gts


def write_eval(wr, name, maps, gts):
    m, h, w = maps.shape
    wr.f64(name + '_maps', maps)
    wr.i32(name + '_gts', gts)
    wr.scalar(name + '_m', m)
    wr.scalar(name + '_h', h)
    wr.scalar(name + '_w', w)
    n_regions = sum(ndi.label(g, structure=STRUCT)[1] for g in gts)
    wr.scalar(name + '_regions', n_regions)
    img_scores = maps.reshape(m, -1).max(axis=1)
    img_labels = gts.reshape(m, -1).max(axis=1)
    wr.scalar(name + '_if1', f1_max(img_labels, img_scores))
    wr.scalar(name + '_pf1', f1_max(gts.ravel(), maps.ravel()))
    fpr, pro = sampled_pro_curve(maps, gts)
    wr.f64(name + '_sfpr', fpr)
    wr.f64(name + '_spro', pro)
    for lim in LIMITS:
        wr.scalar('%s_saupro_%s' % (name, lim), trapezoid(fpr, pro, lim) / lim)


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
        wr.scalar('bin%d_f1' % i, f1_max(y, s))
    cases = [('eval0', 12, 64, 64, None), ('eval1', 15, 48, 40, 1), ('eval2', 9, 96, 80, 2),
             ('tiny', 3, 5, 6, 1)]            # tiny: fewer ok pixels than thresholds (repeated positions)
    for name, m, h, w, q in cases:
        maps, gts = eval_case(rng, m, h, w, q)
        if name == 'tiny':
            gts[1, 1:3, 1:3] = 1
            gts[2, 0, 0] = 1
            gts[2, 4, 5] = 1
        write_eval(wr, name, maps, gts)
    if args.big:
        maps, gts = eval_case(rng, 100, 256, 256, None)
        write_eval(wr, 'big', maps, gts)
    wr.close()


if __name__ == '__main__':
    main()
