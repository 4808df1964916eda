"""Ceiling of twin separability in a twins world: raw-pixel cosine (standardised images) of every image against
every other, genuine = the same person's other captures, twin and random impostors apart; all pairs and
same-posture pairs (docs/twin.md). SUB: clean (noise-free renders) or thz (scans).

    python scripts/twin_ceiling.py WORLD [clean|thz]
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from thzface.metrics.verification import eer

root = Path(sys.argv[1])
sub = sys.argv[2] if len(sys.argv) > 2 else "clean"
twins = json.load(open(root / "meta.json"))["twins"]
files = sorted((root / sub).glob("*.png"))
X, ids, post, smp = [], [], [], []
for f in files:
    stem = f.stem  # ident_xPx_s
    ident, code, s = stem.rsplit("_", 2)
    X.append(np.asarray(Image.open(f), dtype=np.float32).ravel())
    ids.append(ident)
    post.append(code[1])
    smp.append(s + code[0])
X = np.array(X)
X = (X - X.mean(1, keepdims=True)) / (X.std(1, keepdims=True) + 1e-6)
X /= np.linalg.norm(X, axis=1, keepdims=True)
ids, post, smp = map(np.array, (ids, post, smp))
S = X @ X.T
same_post = post[:, None] == post[None, :]
gen = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
tw = np.array([[twins.get(a) == b for b in ids] for a in ids])
rnd = (ids[:, None] != ids[None, :]) & ~tw
for name, m in (("all postures", np.ones_like(S, bool)), ("same posture", same_post)):
    g, t, r = S[gen & m], S[tw & m], S[rnd & m]
    et = eer(np.r_[g, t], np.r_[np.ones(len(g)), np.zeros(len(t))])[0]
    er = eer(np.r_[g, r], np.r_[np.ones(len(g)), np.zeros(len(r))])[0]
    print(
        f"{sub} {name}: twin-impostor EER {et:.3f}  random-impostor EER {er:.3f}  (genuine {len(g)}, twin {len(t)}, random {len(r)})"
    )
