"""How readable is each person's shape from a scan? Ridge regression from raw pixels (2x downsampled) to the person's
shape coefficients (identities.json) and the skull / carriage traits, one posture and capture kind at a time, visit 1,
person-disjoint 5-fold cross-validation; prints R^2 per target (docs/benchmarks.md, seventh session).

    python scripts/shape_ridge_probe.py WORLD    # a simulated folder with identities.json (pretrain-2k, 800 people)
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from thzface.data.naming import parse_name

W = Path(sys.argv[1])
ids = json.loads((W / "identities.json").read_text())
names = sorted(p.name for p in (W / "thz").glob("*.png"))
P = [parse_name(n) for n in names]
keys = sorted(ids)
shape = np.array([ids[k]["shape"] for k in keys])
traits = ["skull_width", "skull_height", "skull_length", "carriage_yaw", "carriage_pitch"]
T = np.array([[ids[k]["traits"][t] for t in traits] for k in keys])
Y = np.concatenate([shape, (T - T.mean(0)) / T.std(0)], 1)
kix = {k: i for i, k in enumerate(keys)}
rng = np.random.default_rng(0)
fold = rng.integers(0, 5, len(keys))


def ridge_r2(X, y_idx, lam):
    Yi = Y[y_idx]
    f = fold[y_idx]
    pred = np.zeros_like(Yi)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    for k in range(5):
        tr, te = f != k, f == k
        A = X[tr]
        b = Yi[tr] - Yi[tr].mean(0)
        w = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)
        pred[te] = X[te] @ w + Yi[tr].mean(0)
    return 1 - ((pred - Yi) ** 2).mean(0) / Yi.var(0)


def load(sel):
    return np.stack([np.asarray(Image.open(W / "thz" / names[i]), dtype=np.float32).reshape(-1) / 255 for i in sel])


for post in range(5):
    for conc in (True, False):
        sel = [i for i, p in enumerate(P) if p.posture == post and p.concealed == conc and p.sample == "1"]
        yi = np.array([kix[P[i].identity] for i in sel])
        X = load(sel)
        n = int(np.sqrt(X.shape[1]))  # downsample 2x to keep the ridge well posed
        X = X.reshape(len(X), n // 2, 2, n // 2, 2).mean((2, 4)).reshape(len(X), -1)
        r2 = ridge_r2(X.astype(np.float64), yi, lam=X.shape[1] * 1.0)
        s = shape.shape[1]
        top = np.round(np.sort(r2[:s])[::-1][:6], 2)
        print(
            f"posture {post} concealed {conc}: shape R2 mean {r2[:s].mean():.3f}, top {top},",
            f"traits {np.round(r2[s:], 2)}",
        )
