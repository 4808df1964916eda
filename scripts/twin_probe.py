"""Probe: which zero-shot features carry twin signal on a twins world (shipped weights, no training) — the probe
behind docs/twin.md's "Why the parts add nothing" (run on 2026-12-06 with the world-v2 weights then shipped).

    python scripts/twin_probe.py TWINS_WORLD        # e.g. thzface synth --preset twins-20 --seed 42 --out W
"""

import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.data.csv import read_triplets
from thzface.data.datasets import identity_list
from thzface.data.twins import read_twins
from thzface.metrics import twin as TM
from thzface.models.parts import crop_parts
from thzface.recipes import load_config, load_run
from thzface.recipes.twin.data import twin_dataset

root = Path(sys.argv[1])
cfg = load_config("twin-default", ["model.global_kind=none"])
rows = read_triplets(root / "test.csv", root, visible=False) + read_triplets(
    root / "train_val.csv", root, visible=False
)
seen = {}
rows = [seen.setdefault(r.anchor, r) for r in rows if r.anchor not in seen]
twins = read_twins(root)
_, m, _ = load_run("pretrained:mtl-default")
m.eval()
ds = twin_dataset(cfg, root, rows, identity_list(rows), train=False)
feats = {k: [] for k in ["emb_a", "emb_p", "lat_a", "lat_p", "pix_a", "pix_p", "s1_a", "s1_p", "s2_a", "s2_p"]}
with torch.no_grad():
    for b in DataLoader(ds, batch_size=64):
        for side, x, bx in (("a", b["anchor"], b["anchor_boxes"]), ("p", b["positive"], b["positive_boxes"])):
            feats[f"emb_{side}"].append(m.embed(x))
            fs = m.encoder(x)
            feats[f"lat_{side}"].append(m.trunk(fs[-1]))
            feats[f"pix_{side}"].append(crop_parts(x, bx, 12, 0.5).flatten(2))  # (B,5,144)
            for i, st in ((1, 0), (2, 1)):
                f = fs[st]
                scale = f.shape[-1] / x.shape[-1]
                feats[f"s{i}_{side}"].append(crop_parts(f, bx * scale, 4, 0.5).flatten(2))
c = {k: torch.cat(v).numpy() for k, v in feats.items()}
ids = np.array([r.anchor_name.identity for r in rows])
post = np.array([r.anchor_name.posture for r in rows])
smp = np.array([r.anchor_name.sample for r in rows])
same = (ids[:, None] == ids[None]) & (post[:, None] == post[None]) & (smp[:, None] == smp[None])


def unit(x):
    x = x.reshape(len(x), -1)
    x = x - x.mean(0, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-9)


def report(name, sa, sp, parts=None):
    S = unit(sa) @ unit(sp).T
    r = TM.twin_verification(S, ids, ids, twins, exclude=same, k=5)
    samep = post[:, None] == post[None]
    r2 = TM.twin_verification(S, ids, ids, twins, exclude=same | ~samep, k=5)
    print(
        f"{name:28s} twin {r['twin']['eer']:.3f} random {r['random']['eer']:.3f} | same-posture twin {r2['twin']['eer']:.3f} random {r2['random']['eer']:.3f}"
    )
    return S


Sg = report("global embedding", c["emb_a"], c["emb_p"])
report("global latent", c["lat_a"], c["lat_p"])
for k, name in ((0, "left_eye"), (1, "right_eye"), (2, "nose"), (3, "mouth"), (4, "chin")):
    report(f"pixels {name}", c["pix_a"][:, k], c["pix_p"][:, k])
report("pixels all parts", c["pix_a"], c["pix_p"])
report("stage1 all parts", c["s1_a"], c["s1_p"])
report("stage2 all parts", c["s2_a"], c["s2_p"])
