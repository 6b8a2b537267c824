#!/usr/bin/env python3
"""Independent references for crd4j's decision code (crd4j.detect.Calibration, Decision, Thresholds).

Written from the rules stated in crd4j's code comments, on scikit-learn, SciPy and numpy:

  f1 SCORES.npy LABELS.npy        threshold of the best F1 on sklearn.metrics.precision_recall_curve
                                  (anomalib's adaptive threshold: thresholds[argmax(f1)])
  fpr NEGATIVES.npy F             lowest t with mean(negatives >= t) <= F, by brute force over candidates
  label MASK.npy MAP.npy          scipy.ndimage.label (3x3 structure) + find_objects: bbox, area, peak, mean
  validation SCORES.npy           max(scores) * 1.1

Prints JSON on stdout (floats as repr strings, so Java can compare bit for bit).
"""
import json
import sys

import numpy as np


def f1(scores, labels):
    from sklearn.metrics import precision_recall_curve
    p, r, t = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(p + r == 0, 0.0, 2 * p * r / (p + r))
    # the last (P=1, R=0) point has no threshold
    return float(t[int(np.argmax(f[: len(t)]))])


def fpr(neg, rate):
    cands = np.unique(np.concatenate([neg, np.nextafter(neg, np.inf)]))
    ok = [c for c in cands if np.mean(neg >= c) <= rate]
    return float(min(ok))


def label(mask, m):
    from scipy import ndimage
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    out = []
    for i, sl in enumerate(ndimage.find_objects(lab)):
        px = m[lab == i + 1]
        out.append({"x": sl[1].start, "y": sl[0].start, "width": sl[1].stop - sl[1].start, "height": sl[0].stop - sl[0].start,
                    "area": int(px.size), "peak": repr(float(px.max())), "mean": repr(float(px.mean()))})
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "f1":
        v = f1(np.load(sys.argv[2]).astype(np.float64).ravel(), np.load(sys.argv[3]).ravel().astype(int))
        print(json.dumps({"threshold": repr(v)}))
    elif cmd == "fpr":
        v = fpr(np.load(sys.argv[2]).astype(np.float64).ravel(), float(sys.argv[3]))
        print(json.dumps({"threshold": repr(v)}))
    elif cmd == "label":
        print(json.dumps({"regions": label(np.load(sys.argv[2]) != 0, np.load(sys.argv[3]).astype(np.float64))}))
    elif cmd == "validation":
        print(json.dumps({"threshold": repr(float(np.max(np.load(sys.argv[2]).astype(np.float64))) * 1.1)}))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
