"""Score a twin run (or any embedder) on a test CSV: genuine vs twin and vs random impostors.

Probes are the concealed anchors, the gallery their unconcealed positives (a probe's own counterpart is left
out). Each protocol subset present (closed-set, identity-disjoint, all) is scored with
:func:`thzface.metrics.twin.twin_verification`, once with the data's part boxes (``boxes=given``, where the
test set has aux part boxes) and once with the model's own part-box head (``boxes=predicted``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.config import Config
from thzface.data.csv import TripletRow
from thzface.data.datasets import identity_list
from thzface.data.identity_split import identity_protocols
from thzface.data.twins import read_twins
from thzface.engine.evaluate import EvalInput, Scored
from thzface.engine.infer import collect as run_collect
from thzface.metrics import twin as TM
from thzface.recipes.twin.data import twin_dataset

Embed = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
FOLDS = 5  # identity folds for held-out thresholds


def model_embedder(model: torch.nn.Module, boxes: str) -> Embed:
    """A twin model as ``embed(x, boxes, has) -> (embedding, predicted boxes)``; ``boxes``: given | predicted."""

    def embed(x: torch.Tensor, b: torch.Tensor, has: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = model(x, b, has if boxes == "given" else torch.zeros_like(has))
        return out.embedding, out.boxes_pred

    return embed


def collect(embed: Embed, cfg: Config, root: Path, rows: list[TripletRow], batch_size: int = 64) -> dict:
    """Embeddings of every test anchor (probe) and positive (gallery), part boxes and labels, as numpy."""
    ds = twin_dataset(cfg, root, rows, identity_list(rows), train=False)

    def step(b: dict) -> dict[str, torch.Tensor]:
        has = b["has_boxes"][:, 0]  # (n,)
        ea, pred = embed(b["anchor"], b["anchor_boxes"], has)
        ep, _ = embed(b["positive"], b["positive_boxes"], b["has_boxes"][:, 3])  # its own pose
        no_boxes = torch.full_like(b["anchor_boxes"], float("nan"))
        return {"emb_a": ea, "emb_p": ep, "boxes_gt": b["anchor_boxes"], "has_boxes": has, "anchor": b["anchor"],
                "boxes_pred": pred if pred is not None else no_boxes}  # fmt: skip

    res: dict[str, Any] = run_collect(step, DataLoader(ds, batch_size=batch_size, shuffle=False))
    res["has_boxes"] = res["has_boxes"].astype(bool)
    res["identity"] = np.array([r.anchor_name.identity for r in rows])
    res["posture"] = np.array([r.anchor_name.posture for r in rows])
    res["sample"] = np.array([r.anchor_name.sample for r in rows])
    res["names"] = [r.anchor for r in rows]
    return res


def box_quality(c: dict) -> dict:
    """Part-box head vs the data's boxes on test anchors: mean absolute corner error (px) and mean IoU."""
    m = c["has_boxes"] & np.isfinite(c["boxes_pred"]).all(axis=(1, 2))
    if not m.any():
        return {"error": "needs test anchors with aux part boxes and a model with a box head"}
    p, g = c["boxes_pred"][m], c["boxes_gt"][m]  # (n, 5, 4)
    iw = np.clip(np.minimum(p[..., 2], g[..., 2]) - np.maximum(p[..., 0], g[..., 0]), 0, None)
    ih = np.clip(np.minimum(p[..., 3], g[..., 3]) - np.maximum(p[..., 1], g[..., 1]), 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    iou = iw * ih / np.maximum(area(p) + area(g) - iw * ih, 1e-9)  # (n, 5)
    return {"anchors": int(m.sum()), "mean_abs_px": float(np.abs(p - g).mean()), "mean_iou": float(iou.mean())}


def subset_metrics(cs: dict[str, dict], twins: dict[str, str], idx: np.ndarray, seed: int) -> dict:
    """twin_verification of every collected variant (e.g. boxes=given / boxes=predicted) on rows ``idx``."""
    out: dict = {}
    for variant, c in cs.items():
        ea, ep = c["emb_a"][idx], c["emb_p"][idx]
        ea = ea / np.linalg.norm(ea, axis=1, keepdims=True).clip(1e-12)
        ep = ep / np.linalg.norm(ep, axis=1, keepdims=True).clip(1e-12)
        ids, post, smp = c["identity"][idx], c["posture"][idx], c["sample"][idx]
        same = (ids[:, None] == ids[None, :]) & (post[:, None] == post[None, :]) & (smp[:, None] == smp[None, :])
        out[variant] = TM.twin_verification(ea @ ep.T, ids, ids, twins, exclude=same, k=FOLDS, seed=seed)
    return out


def compute_metrics(
    cs: dict[str, dict], seen: set[str], twins: dict[str, str], seed: int = 0, val: set[str] | None = None
) -> dict:
    """Per protocol subset (closed-set, identity-disjoint, validation-seen, all): counts and every variant's twin
    metrics; ``seen``/``val``: the run's training / validation identities."""
    ids = next(iter(cs.values()))["identity"]
    subsets = identity_protocols(ids, seen, val or ())
    out: dict = {"protocols": {}}
    for name, m in subsets.items():
        idx = np.flatnonzero(m)
        present = set(ids[idx].tolist())
        if len(present) < 2:
            continue
        out["protocols"][name] = {
            "rows": int(len(idx)),
            "identities": len(present),
            "twin_pairs": sum(1 for a, b in twins.items() if a < b and a in present and b in present),
            **subset_metrics(cs, twins, idx, seed),
        }
    return out


def headline(v: dict) -> dict:
    """The flat numbers of one twin_verification result (used by the summary and the bench table)."""
    out: dict = {}
    for kind in ("twin", "random"):
        r = v.get(kind, {})
        out[f"{kind}_eer"] = r.get("eer")
        out[f"{kind}_roc_auc"] = r.get("roc_auc")
        out[f"{kind}_tar@far=0.1"] = r.get("tar@far=0.1")
        out[f"{kind}_heldout_hter"] = r.get("heldout", {}).get("hter")
    out["twin_far@random_threshold"] = v.get("random", {}).get("heldout", {}).get("far_twin")
    out["frr@random_threshold"] = v.get("random", {}).get("heldout", {}).get("frr")
    return out


def summary(metrics: dict) -> dict:
    return {f"{p}/{var}": headline(m[var]) for p, m in metrics["protocols"].items()
            for var in m if var.startswith("boxes=") or var == "embedding"}  # fmt: skip


def oracle_threshold(metrics: dict) -> float | None:
    """The test pairs' own threshold (reported as ``oracle_threshold``; the deployed one comes from training): the
    held-out EER threshold (genuine vs random impostors) of the deployable
    variant (part boxes from the box head) on identity-disjoint rows, else on all rows."""
    for prot in ("identity-disjoint", "all"):  # too few identities for held-out folds → all test rows
        for variant in ("boxes=predicted", "embedding", "boxes=given"):
            v = metrics["protocols"].get(prot, {}).get(variant, {})
            thr = v.get("random", {}).get("heldout", {}).get("threshold_mean")
            if thr is not None and np.isfinite(thr):
                return float(thr)
    return None


def score(ev: EvalInput) -> Scored:
    """Score a twin run on ``ev.data``'s test CSV: every protocol, with the data's and the predicted part boxes."""
    from thzface.recipes.twin.report import twin_report

    cfg, root, model = ev.cfg, ev.data, ev.model
    test_rows = ev.rows(visible=False)
    twins = read_twins(root)
    cs: dict[str, dict] = {}
    if not cfg.model.parts:  # global-only: no boxes involved
        cs["embedding"] = collect(model_embedder(model, "given"), cfg, root, test_rows)
    else:
        c_pred = (
            collect(model_embedder(model, "predicted"), cfg, root, test_rows) if model.box_net is not None else None
        )
        if c_pred is None or c_pred["has_boxes"].any():
            cs["boxes=given"] = collect(model_embedder(model, "given"), cfg, root, test_rows)
        if c_pred is not None:
            cs["boxes=predicted"] = c_pred
    metrics = compute_metrics(cs, ev.seen, twins, seed=cfg.train.seed, val=ev.val)
    c_pred = cs.get("boxes=predicted")
    metrics["box_head"] = box_quality(c_pred) if c_pred is not None else {"error": "model has no box head"}
    metrics["summary"] = summary(metrics)
    run_info = {
        "twins_in_meta": len(twins) // 2,
        "global_run": cfg.model.global_run,
        "parts": list(cfg.model.parts),
        "oracle_threshold": oracle_threshold(metrics),  # fit on these test pairs: reported, not deployed
    }
    report = twin_report(metrics, cs, (cfg.model.crop_size, cfg.model.crop_margin), twins, ev.seen)
    return Scored(metrics, report, run_info, collected=cs)
