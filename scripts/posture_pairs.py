"""Zero-shot check of a run's embedding on a data folder's concealed scans: EER of same-posture and cross-posture
pairs (every concealed scan against every other), for the scan's embedding alone and with the flip test
(``model.flip_test``: the scan's and its mirror image's), beside raw pixels; posture accuracy of the scan alone and
averaged with its mirror image (left and right swapped; majority class beside it); then the run's validation curve.

    python scripts/posture_pairs.py RUN DATA_DIR [IDENTITY,IDENTITY,... | SPLIT.json]

``SPLIT.json`` (a run's ``split.json``): its validation identities, e.g. the 64 people the pretraining validated on.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from thzface.data.io import load_image
from thzface.data.naming import MIRRORED_POSTURE, parse_name
from thzface.engine.checkpoint import load_run
from thzface.metrics.verification import eer, roc_auc, tar_at_far
from thzface.models.mtl_spec import MTL as MODEL

run, data = sys.argv[1], Path(sys.argv[2])
arg = sys.argv[3] if len(sys.argv) > 3 else ""
keep_ids = set(json.loads(Path(arg).read_text())["val"] if arg.endswith(".json") else arg.split(",")) if arg else None
cfg, model, _ = load_run(run, MODEL)
files = [
    f for f in sorted((data / "thz").glob("*_b*b_*.png")) if not keep_ids or parse_name(f.name).identity in keep_ids
]
names = [parse_name(f.name) for f in files]
x = torch.from_numpy(np.stack([load_image(f, cfg.model.image_size) for f in files])).float()  # (N, 1, S, S)


def embed(flip: bool) -> np.ndarray:
    model.cfg.flip_test = flip
    with torch.no_grad():
        return torch.cat([model.embed(x[i : i + 256]) for i in range(0, len(x), 256)]).numpy()  # (N, D)


def posture_probs(images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        chunks = [model.posture_head(model.encode(images[i : i + 256]).latent) for i in range(0, len(images), 256)]
    return torch.cat(chunks).softmax(1)  # (N, P)


e, ef = embed(False), embed(True)
ident = np.array([n.identity for n in names])
post = np.array([n.posture for n in names])
p_one = posture_probs(x)  # (N, P)
p_mirror = posture_probs(x.flip(-1))[:, list(MIRRORED_POSTURE)]  # (N, P) the mirror's, labels mapped back
majority = np.bincount(post).max() / len(post)
for label, p in (("scan alone", p_one), ("with mirror", p_one + p_mirror)):
    print(f"posture {label:11s} accuracy {(p.argmax(1).numpy() == post).mean():.4f} (majority class {majority:.2f})")
iu = np.triu_indices(len(e), 1)
same_id, same_p = (ident[:, None] == ident[None])[iu], (post[:, None] == post[None])[iu]
pix = x.flatten(1).numpy()
pix = pix - pix.mean(1, keepdims=True)
pix /= np.linalg.norm(pix, axis=1, keepdims=True)
for label, sims in (("model", (e @ e.T)[iu]), ("+flip", (ef @ ef.T)[iu]), ("pixels", (pix @ pix.T)[iu])):
    for group, m in (("all", np.ones_like(same_p)), ("same-posture", same_p), ("cross-posture", ~same_p)):
        y, s = same_id[m], sims[m]
        print(
            f"{label:6s} {group:13s} pairs {m.sum():7d} genuine {y.sum():6d} EER {eer(s, y)[0]:.3f} "
            f"AUC {roc_auc(s, y):.3f} TAR@FAR=1e-2 {tar_at_far(s, y, 1e-2).tar:.3f}"
        )
curve = Path(run) / "logs" / "metrics.csv"  # absent for a bare weights folder (e.g. the shipped weights)
rows = list(csv.DictReader(open(curve))) if curve.is_file() else []
last: dict = {}
for r in rows:
    last.update({k: r[k] for k in ("train/supcon",) if r.get(k)})
    if r.get("val/eer"):
        print(
            f"step {r['step']:>6} val EER {float(r['val/eer']):.3f} threshold {float(r['val/threshold']):.3f} "
            f"posture {float(r['val/posture_acc']):.3f} | train SupCon {last.get('train/supcon', '-')}"
        )
