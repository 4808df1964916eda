"""Zero-shot check of a run's embedding on a data folder's concealed scans: EER of same-posture and cross-posture
pairs (every concealed scan against every other), beside raw pixels; then the run's validation curve.

    python scripts/posture_pairs.py RUN DATA_DIR [IDENTITY,IDENTITY,...]
"""

import csv
import sys
from pathlib import Path

import numpy as np
import torch

from thzface.data.io import load_image
from thzface.data.naming import parse_name
from thzface.engine.checkpoint import load_run
from thzface.metrics.verification import eer, roc_auc, tar_at_far
from thzface.recipes.mtl.task import MODEL

run, data = sys.argv[1], Path(sys.argv[2])
keep_ids = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None
cfg, model, _ = load_run(run, MODEL)
files = [
    f for f in sorted((data / "thz").glob("*_b*b_*.png")) if not keep_ids or parse_name(f.name).identity in keep_ids
]
names = [parse_name(f.name) for f in files]
x = torch.from_numpy(np.stack([load_image(f, cfg.model.image_size) for f in files])).float()  # (N, 1, S, S)
with torch.no_grad():
    e = torch.cat([model.embed(x[i : i + 256]) for i in range(0, len(x), 256)]).numpy()  # (N, D)
ident = np.array([n.identity for n in names])
post = np.array([n.posture for n in names])
iu = np.triu_indices(len(e), 1)
same_id, same_p = (ident[:, None] == ident[None])[iu], (post[:, None] == post[None])[iu]
pix = x.flatten(1).numpy()
pix = pix - pix.mean(1, keepdims=True)
pix /= np.linalg.norm(pix, axis=1, keepdims=True)
for label, sims in (("model", (e @ e.T)[iu]), ("pixels", (pix @ pix.T)[iu])):
    for group, m in (("all", np.ones_like(same_p)), ("same-posture", same_p), ("cross-posture", ~same_p)):
        y, s = same_id[m], sims[m]
        print(
            f"{label:6s} {group:13s} pairs {m.sum():7d} genuine {y.sum():6d} EER {eer(s, y)[0]:.3f} "
            f"AUC {roc_auc(s, y):.3f} TAR@FAR=1e-2 {tar_at_far(s, y, 1e-2).tar:.3f}"
        )
rows = list(csv.DictReader(open(Path(run) / "logs" / "metrics.csv")))
last: dict = {}
for r in rows:
    last.update({k: r[k] for k in ("train/supcon",) if r.get(k)})
    if r.get("val/eer"):
        print(
            f"step {r['step']:>6} val EER {float(r['val/eer']):.3f} threshold {float(r['val/threshold']):.3f} "
            f"posture {float(r['val/posture_acc']):.3f} | train SupCon {last.get('train/supcon', '-')}"
        )
