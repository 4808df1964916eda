"""How much identity the head's roll and placement hide: nearest-neighbour rank-1 of concealed probes against the
unconcealed gallery (same posture, another capture, every person of a simulated folder) on raw pixels and on an
embedder's deployed embedding, for the scans as they are, warped by their true in-plane pose (the simulator's
poses.npz and field of view: the oracle) and warped by the source's own aligner (when it has one).

    python scripts/inplane_probe.py WORLD [SOURCE]      # SOURCE: pretrained:NAME | weights file | run

Raw pixels are standardised per image and compared by squared distance; embeddings by cosine. Chance is
1 / people. docs/benchmarks.md (ninth session) has the numbers this printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from thzface.data.geometry import folder_inplane
from thzface.data.io import load_image
from thzface.data.naming import parse_name
from thzface.embedder.predictor import open_embedder
from thzface.models.align import warp_inplane


def rank1(feats: np.ndarray, names: list, cosine: bool) -> float:
    """Share of concealed probes whose nearest unconcealed capture of the same posture (own sample excluded) is
    the same person."""
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True) if cosine else feats
    hits = total = 0
    for posture in {n.posture for n in names}:
        probes = [i for i, n in enumerate(names) if n.concealed and n.posture == posture]
        gallery = [i for i, n in enumerate(names) if not n.concealed and n.posture == posture]
        a, b = f[probes], f[gallery]  # (P, D), (G, D)
        score = a @ b.T if cosine else -((a[:, None] - b[None]) ** 2).sum(-1)  # (P, G)
        for r, i in enumerate(probes):
            for c, j in enumerate(gallery):
                if (names[j].identity, names[j].sample) == (names[i].identity, names[i].sample):
                    score[r, c] = -np.inf
            hits += names[gallery[int(np.argmax(score[r]))]].identity == names[i].identity
            total += 1
    return hits / total


def main(world: Path, source: str | None) -> None:
    files = sorted(p.name for p in (world / "thz").glob("*.png"))
    names = [parse_name(f) for f in files]
    x = torch.from_numpy(np.stack([load_image(world / "thz" / f, 64) for f in files]))  # (N, 1, 64, 64)
    x = x.float().view(len(files), 1, 64, 64)
    read = folder_inplane(world)
    if read is None:
        sys.exit(f"{world}: no poses.npz / sites in meta.json (a simulated world is needed)")
    truth = torch.from_numpy(np.stack([read(f) for f in files]))  # (N, 3)
    views = {"as scanned": x, "true in-plane pose undone": warp_inplane(x, truth)}
    model = None
    if source:
        _, _, model = open_embedder(source)
        if model.aligner is not None:
            with torch.no_grad():
                pred = torch.cat([model.aligner(x[i : i + 256]) for i in range(0, len(x), 256)])  # (N, 3)
            err = (pred - truth).abs()
            print(f"aligner error: roll {err[:, 0].mean():.2f} deg, placement {err[:, 1:].mean() * 32:.2f} px")
            views["the model's aligner undone"] = warp_inplane(x, pred)
    print(f"{world.name}: {len({n.identity for n in names})} people, rank-1 concealed -> unconcealed, same posture")
    for label, v in views.items():
        px = v.view(len(v), -1).numpy()
        px = (px - px.mean(1, keepdims=True)) / (px.std(1, keepdims=True) + 1e-6)
        row = f"  {label:28s} raw pixels {rank1(px, names, cosine=False):.3f}"
        if model is not None:
            with torch.no_grad():  # the deployed embedding (the model aligns by itself when it can)
                e = torch.cat([model.embed(v[i : i + 256]) for i in range(0, len(v), 256)]).numpy()
            row += f"   embedder {rank1(e, names, cosine=True):.3f}"
        print(row)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) == 3 else None)
