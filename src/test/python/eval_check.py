"""Recomputes crd eval's fused metrics from its saved maps: python eval_check.py OUTDIR -> JSON on stdout."""
import sys, os, glob, json
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score

d = sys.argv[1]
maps, gts = [], []
for f in sorted(glob.glob(os.path.join(d, "maps", "*", "*.npy"))):
    rel = os.path.relpath(f, os.path.join(d, "maps"))
    maps.append(np.load(f).astype(np.float64))
    gts.append((np.load(os.path.join(d, "gt", rel)) > 0.5).astype(np.int64))
m = np.stack(maps); g = np.stack(gts)
il = g.reshape(len(g), -1).max(1); isc = m.reshape(len(m), -1).max(1)
print(json.dumps({"n": len(maps), "i_auroc": roc_auc_score(il, isc), "i_ap": average_precision_score(il, isc),
                  "p_auroc": roc_auc_score(g.ravel(), m.ravel()), "p_ap": average_precision_score(g.ravel(), m.ravel())}))
