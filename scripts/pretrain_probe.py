"""Reduced-scale pretraining probe (docs/benchmarks.md, fifth session): which trunk and which privileged-geometry
terms make identity fit (training people) and transfer (unseen people), concealed probe x unconcealed gallery, own
capture excluded. A standalone loop (P x K batches across postures, AdamW one-cycle), not the recipe: it decides
what the recipe should try.

    python scripts/pretrain_probe.py WORLD ARM STEPS OUT.json

ARM joins any of: supcon, shape, pose, post (loss terms), nosup (no SupCon), flat (the reference conv trunk at the
default widths, ``arch=paper``), deep (``depths=(2,2,2,2)``), wide, avg (average pooling), aug (brightness/noise).
WORLD needs aux/ (shape coefficients, pose). The table's numbers ran at commit 2607feb (world v2.1 + the PSF fix) on
    thzface synth --preset pretrain-500 --seed 2001 --out WORLD --workers 1 identities.count=200 samples=2 \
        write_aux=true write_visible=false
with ARM in supcon, supcon+flat, supcon+shape+flat, supcon+shape+pose+post+flat, supcon+flat+deep and STEPS 250.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from thzface import losses as Ls
from thzface.data.naming import parse_name
from thzface.metrics.verification import eer
from thzface.models.multitask import MtlModelConfig, build_model

torch.set_num_threads(1)
W = Path(sys.argv[1])
arm = sys.argv[2]
steps = int(sys.argv[3])
out = Path(sys.argv[4])
names = sorted(p.name for p in (W / "thz").glob("*.png"))
imgs = np.stack([np.asarray(Image.open(W / "thz" / n), dtype=np.float32) / 255 for n in names])[:, None]
P = [parse_name(n) for n in names]
toks = sorted({p.identity for p in P})
tix = {t: i for i, t in enumerate(toks)}
ids = np.array([tix[p.identity] for p in P])
post = np.array([p.posture_code - 1 for p in P])
conc = np.array([p.concealed for p in P])
cap = np.array([f"{p.identity}|{p.posture_code}|{p.sample}" for p in P])
shape = np.zeros((len(names), 0), np.float32)
pose = np.zeros((len(names), 3), np.float32)
for i, p in enumerate(P):
    b = p if p.concealed else p.counterpart()
    f = W / "aux" / (Path(b.filename).stem + ".npz")
    if f.is_file():
        d = np.load(f)
        if shape.shape[1] == 0:
            shape = np.zeros((len(names), len(d["shape_coeffs"])), np.float32)
        shape[i] = d["shape_coeffs"]
        if p.concealed:
            pose[i] = d["pose"]
        elif "pose_u" in d:
            pose[i] = d["pose_u"]
        else:
            pose[i] = np.nan
shape_sd = shape.std(0).mean() + 1e-6
n_test = len(toks) // 5
test_ids = set(range(len(toks) - n_test, len(toks)))
tr = np.array([i not in test_ids for i in ids])

cfg_kw = dict(residual=True)
if "deep" in arm:
    cfg_kw["depths"] = (2, 2, 2, 2)
if "wide" in arm:
    cfg_kw.update(widths=(48, 96, 160, 256), stem_width=48)
if "avg" in arm:
    cfg_kw["pool"] = "avg"
if "flat" in arm:
    cfg_kw["arch"] = "paper"
torch.manual_seed(0)
rng = np.random.default_rng(0)
m = build_model(MtlModelConfig(**cfg_kw))
shape_head = nn.Linear(128, shape.shape[1])
pose_head = nn.Linear(256, 3)
params = list(m.parameters()) + list(shape_head.parameters()) + list(pose_head.parameters())
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
X = torch.from_numpy(imgs)
if imgs.shape[-1] != 64:
    X = F.interpolate(X, size=64, mode="bilinear", align_corners=False)
    imgs = X.numpy()
S = torch.from_numpy(shape / shape_sd)
PO = torch.from_numpy(np.nan_to_num(pose))
train_people = np.array(sorted(set(ids[tr])))
by = {i: np.flatnonzero(ids == i) for i in train_people}
Pn, K = 32, 4
log = []
t0 = time.time()
for step in range(steps):
    people = rng.choice(train_people, min(Pn, len(train_people)), replace=False)
    rows = np.concatenate([rng.choice(by[i], K, replace=False) for i in people])
    x = X[rows]
    if "aug" in arm:
        x = x * (0.8 + 0.4 * torch.rand(len(x), 1, 1, 1)) + 0.03 * torch.randn_like(x)
    feats = m.encode(x)
    lat = feats.latent
    emb = m.verification_head(lat)
    lab = torch.from_numpy(ids[rows])
    loss = torch.zeros(())
    terms = {}
    if "nosup" not in arm:
        terms["supcon"] = Ls.supcon(emb, lab, temperature=0.1)
    if "shape" in arm:
        terms["shape"] = Ls.shape_regression(shape_head(emb), S[rows])
    if "pose" in arm:
        terms["pose"] = Ls.pose_regression(pose_head(lat), PO[rows])
    if "post" in arm:
        terms["post"] = F.cross_entropy(m.posture_head(lat), torch.from_numpy(post[rows]))
    loss = sum(terms.values())
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()
    if step % 50 == 0 or step == steps - 1:
        log.append({"step": step, **{k: float(v) for k, v in terms.items()}, "t": time.time() - t0})
        print(arm, log[-1], flush=True)
m.eval()


def embed(rows):
    with torch.no_grad():
        return torch.cat([m.embed(X[rows[i : i + 256]]) for i in range(0, len(rows), 256)]).numpy()


def score(sel, use_pixels=False):
    pr = np.flatnonzero(sel & conc)
    ga = np.flatnonzero(sel & ~conc)
    if use_pixels:
        ep = imgs[pr].reshape(len(pr), -1)
        eg = imgs[ga].reshape(len(ga), -1)
        ep = ep - ep.mean(1, keepdims=True)
        eg = eg - eg.mean(1, keepdims=True)
    else:
        ep, eg = embed(pr), embed(ga)
    ep = ep / np.linalg.norm(ep, axis=1, keepdims=True)
    eg = eg / np.linalg.norm(eg, axis=1, keepdims=True)
    s = ep @ eg.T
    same = cap[pr][:, None] == cap[ga][None, :]
    y = ids[pr][:, None] == ids[ga][None, :]
    sp = post[pr][:, None] == post[ga][None, :]
    keep = ~same

    def e(mk):
        try:
            return eer(s[mk], y[mk])[0]
        except ValueError:
            return float("nan")

    r = {"all": e(keep), "same": e(keep & sp), "cross": e(keep & ~sp)}
    return r


test = ~tr
sub_train = np.isin(ids, train_people[:60])
res = {
    "arm": arm,
    "steps": steps,
    "seconds": time.time() - t0,
    "test": score(test),
    "train60": score(sub_train),
    "pixels_test": score(test, True),
    "log": log,
}
print(json.dumps({k: v for k, v in res.items() if k != "log"}), flush=True)
out.write_text(json.dumps(res))
