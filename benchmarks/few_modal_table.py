#!/usr/bin/python3
"""Markdown tables for docs/FEW_MODAL.md from the outputs of benchmarks/few_modal.sh.

    /usr/bin/python3 benchmarks/few_modal_table.py OUT

Reads OUT/eval/<category>/metrics.json (CRD: complete + settings), OUT/eval-rd-{rgb,depth}/<category>/metrics.json and,
for the RD baselines' per-defect image AUROC, their saved maps (OUT/eval-rd-*/<category>/maps, gt). Means are over the
categories; for the random-missing settings each seed's metric is first averaged over the categories, then mean and
population std (ddof 0) over the seeds.
"""
import glob
import json
import os
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

out = sys.argv[1]
cats = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(out, "eval", "*", "metrics.json")))
crd = {c: json.load(open(os.path.join(out, "eval", c, "metrics.json"))) for c in cats}
KEYS = [("i_auroc", "I-AUROC"), ("p_auroc", "P-AUROC"), ("au_pro_0.3", "AU-PRO@0.3")]


def pct(v):
    return "%.1f" % (100 * v)


def mean_over_cats(get):
    return float(np.mean([get(c) for c in cats]))


print("Categories: %s (mean over them)\n" % ", ".join(cats))
print("| setting | strategy | " + " | ".join(k[1] for k in KEYS) + " |")
print("|---|---|" + "---|" * len(KEYS))
print("| CRD, both modalities | - | " + " | ".join(pct(mean_over_cats(lambda c: crd[c]["fused"][k])) for k, _ in KEYS) + " |")
names = [s["name"] for s in crd[cats[0]]["settings"]]
for i, n in enumerate(names):
    s0 = crd[cats[0]]["settings"][i]
    if s0["seeds"]:
        continue
    label = ("CRD, RGB only (3D missing)" if s0["missing"] != "rgb" else "CRD, 3D only (RGB missing)")
    print("| %s | %s | " % (label, s0["strategy"]) + " | ".join(
        pct(mean_over_cats(lambda c: crd[c]["settings"][i]["mean"]["fused"][k])) for k, _ in KEYS) + " |")
for m in ("rgb", "depth"):
    d = os.path.join(out, "eval-rd-" + m)
    if not os.path.isdir(d):
        continue
    rd = {c: json.load(open(os.path.join(d, c, "metrics.json"))) for c in cats}
    print("| single-modality RD trained and tested on %s | - | " % ("RGB" if m == "rgb" else "depth") + " | ".join(
        pct(mean_over_cats(lambda c: rd[c]["fused"][k])) for k, _ in KEYS) + " |")

print("\nRandom missing (half of the chosen parts lose RGB, half lose 3D), mean ± std over seeds:\n")
print("| missing rate | strategy | " + " | ".join(k[1] for k in KEYS) + " |")
print("|---|---|" + "---|" * len(KEYS))
for i, n in enumerate(names):
    s0 = crd[cats[0]]["settings"][i]
    if not s0["seeds"]:
        continue
    cells = []
    for k, _ in KEYS:
        per_seed = [np.mean([crd[c]["settings"][i]["per_seed"][j]["fused"][k] for c in cats]) for j in range(len(s0["seeds"]))]
        cells.append("%s ± %s" % (pct(np.mean(per_seed)), pct(np.std(per_seed))))
    print("| %d%% | %s | " % (round(100 * s0["rate"]), s0["strategy"]) + " | ".join(cells) + " |")


def rd_per_defect(m):
    d = os.path.join(out, "eval-rd-" + m)
    res = {}
    for c in cats:
        scores, defects = [], []
        for f in sorted(glob.glob(os.path.join(d, c, "maps", "*", "*.npy"))):
            scores.append(float(np.load(f).max()))
            defects.append(os.path.basename(os.path.dirname(f)))
        for df in sorted(set(defects) - {"good"}):
            y = [1 if x == df else 0 for x in defects if x in (df, "good")]
            sc = [s for s, x in zip(scores, defects) if x in (df, "good")]
            res.setdefault(df, []).append(roc_auc_score(y, sc))
    return {k: float(np.mean(v)) for k, v in res.items()}


print("\nImage AUROC per defect type (good parts vs that defect), mean over categories:\n")
defects = sorted(crd[cats[0]]["per_defect_i_auroc"]["fused"].keys())
print("| detector | " + " | ".join(defects) + " |")
print("|---|" + "---|" * len(defects))
rows = [("CRD, both modalities", lambda c, df: crd[c]["per_defect_i_auroc"]["fused"][df])]
for i, n in enumerate(names):
    s0 = crd[cats[0]]["settings"][i]
    if s0["seeds"] or s0["strategy"] not in ("filter", "drop"):
        continue
    label = ("CRD, RGB only" if s0["missing"] != "rgb" else "CRD, 3D only") + " (" + s0["strategy"] + ")"
    rows.append((label, lambda c, df, i=i: crd[c]["settings"][i]["per_defect_i_auroc"][df]))
for label, get in rows:
    print("| %s | " % label + " | ".join(pct(mean_over_cats(lambda c: get(c, df))) for df in defects) + " |")
for m in ("rgb", "depth"):
    if glob.glob(os.path.join(out, "eval-rd-" + m, "*", "maps")):
        r = rd_per_defect(m)
        print("| single-modality RD, %s | " % m + " | ".join(pct(r[df]) for df in defects) + " |")
