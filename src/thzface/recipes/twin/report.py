"""report.html of a twin evaluation: summary, ROC/DET twin vs random impostors, tables, part crops, box head."""

from __future__ import annotations

import html

import numpy as np
import torch

from thzface.metrics import twin as TM
from thzface.metrics import verification as V
from thzface.models.parts import crop_parts
from thzface.models.twin_config import PART_NAMES
from thzface.report import figures as F
from thzface.report.evaluation import Report, headline_row
from thzface.report.html import img_tag, table

COLORS = np.array([[1, 0.2, 0.2], [0.2, 1, 0.2], [0.3, 0.5, 1], [1, 1, 0.2], [1, 0.3, 1]], np.float32)  # per part


def draw_boxes(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Gray (1, H, W) image + pixel boxes (K, 4) → RGB (3, H, W) with one-pixel box outlines."""
    rgb = np.repeat(image[:1], 3, axis=0).copy()  # (3, H, W)
    _, h, w = rgb.shape
    for k, box in enumerate(np.round(boxes).astype(int)):
        x0, x1 = np.clip([box[0], box[2] - 1], 0, w - 1)
        y0, y1 = np.clip([box[1], box[3] - 1], 0, h - 1)
        col = COLORS[k % len(COLORS)][:, None]  # (3, 1)
        rgb[:, y0 : y1 + 1, x0] = rgb[:, y0 : y1 + 1, x1] = col
        rgb[:, y0, x0 : x1 + 1] = rgb[:, y1, x0 : x1 + 1] = col
    return rgb


def roc_figure(cs: dict[str, dict], twins: dict[str, str], idx: np.ndarray) -> bytes | None:
    """ROC/DET of genuine vs twin and genuine vs random impostors for every variant, on rows ``idx``."""
    curves = {}
    for variant, c in cs.items():
        ea, ep = c["emb_a"][idx], c["emb_p"][idx]
        s = (ea / np.linalg.norm(ea, axis=1, keepdims=True)) @ (ep / np.linalg.norm(ep, axis=1, keepdims=True)).T
        ids = c["identity"][idx]
        kinds = TM.pair_kinds(ids, ids, twins)
        keep = ~np.eye(len(ids), dtype=bool)
        for code, name in TM.KIND_NAMES.items():
            sel = keep & ((kinds == TM.GENUINE) | (kinds == code))
            y = kinds[sel] == TM.GENUINE
            if 0 < y.sum() < len(y):
                fpr, tpr, _ = V.roc_curve(s[sel], y)
                curves[f"{variant} · {name}"] = (fpr, tpr)
    return F.roc_det(curves) if curves else None


def crops_figure(c: dict, crop: tuple[int, float], n: int = 6) -> bytes:
    """A few test anchors with their part boxes drawn, and the crops the part encoders see."""
    pick = np.linspace(0, len(c["names"]) - 1, min(n, len(c["names"]))).round().astype(int)
    use_gt = c["has_boxes"][pick][:, None, None]
    boxes = np.where(use_gt, c["boxes_gt"][pick], c["boxes_pred"][pick])  # (n, 5, 4)
    images = c["anchor"][pick]  # (n, 1, S, S)
    crops = crop_parts(torch.from_numpy(images), torch.from_numpy(boxes), crop[0], crop[1]).numpy()  # (n, 5, 1, s, s)
    cols = {"anchor + boxes": np.stack([draw_boxes(im, b) for im, b in zip(images, boxes, strict=True)])}
    cols.update({p: crops[:, k] for k, p in enumerate(PART_NAMES)})
    return F.image_grid(cols, [c["names"][i] for i in pick])


def twin_report(metrics: dict, cs: dict[str, dict], crop: tuple[int, float], twins: dict[str, str] | None = None,
                seen: set[str] | None = None) -> Report:  # fmt: skip
    """The report of a twin run: summary, ROC/DET, per-protocol tables, the part-box head, part crops."""
    sec = [
        "<p class=note>Thresholds of the held-out numbers are chosen on other identity folds (twin pairs kept "
        "together).</p>",
        "<h2>Summary</h2>" + table(metrics["summary"], "protocol / part boxes"),
    ]
    ids = next(iter(cs.values()))["identity"]
    unseen = np.array([i not in (seen or set()) for i in ids])
    idx = np.flatnonzero(unseen) if unseen.any() and seen else np.arange(len(ids))
    fig = roc_figure(cs, twins or {}, idx)
    if fig is not None:
        label = "identity-disjoint" if unseen.any() and seen else "all"
        sec.append(f"<h2>ROC and DET ({label} test rows)</h2>" + img_tag(fig, "ROC and DET"))
    for name, p in metrics["protocols"].items():
        sec.append(f"<h2>{html.escape(name)} ({p['rows']} rows, {p['identities']} identities, "
                   f"{p['twin_pairs']} twin pairs)</h2>")  # fmt: skip
        for variant, v in p.items():
            if not isinstance(v, dict) or "pairs" not in v:
                continue
            rows = {k: {kk: vv for kk, vv in v[k].items() if not isinstance(vv, dict)} for k in TM.KIND_NAMES.values()}
            held = {k: v[k]["heldout"] for k in TM.KIND_NAMES.values() if "heldout" in v[k]}
            sec.append(f"<h3>{html.escape(variant)} — pairs {v['pairs']}</h3>" + table(rows, "impostors"))
            if held:
                sec.append("<p class=note>held-out folds (threshold = EER threshold of the other folds)</p>"
                           + table(held, "calibrated on"))  # fmt: skip
    sec.append("<h2>Part-box head</h2>" + table({"test anchors": metrics.get("box_head", {})}, ""))
    c = cs.get("boxes=given") or cs.get("boxes=predicted")
    figures = {}
    if c is not None:
        figures["parts.png"] = crops_figure(c, crop)
        sec.append("<h2>Part crops</h2>" + img_tag(figures["parts.png"], "part crops"))
    return Report("thzface twin evaluation report", sec, headline(metrics), figures=figures)


def headline(metrics: dict) -> dict[str, dict]:
    """First-screen rows: EER against twin impostors and against random impostors of the deployable variant
    (predicted part boxes) on the identity-disjoint rows (else all rows); the random-impostor EER is the baseline
    difficulty a twin must not fall below."""
    name = "identity-disjoint" if "identity-disjoint" in metrics["protocols"] else "all"
    p = metrics["protocols"].get(name, {})
    variant = next((v for v in ("boxes=predicted", "embedding", "boxes=given") if v in p), None)
    v = p.get(variant, {}) if variant else {}
    people = "unseen people" if name == "identity-disjoint" else "people"
    who = f"{p.get('identities', 0)} {people}, {p.get('twin_pairs', 0)} twin pairs"
    return {
        f"EER vs twins, {variant} (lower: better)": headline_row(
            v.get("twin", {}).get("eer"), v.get("random", {}).get("eer"), "random impostors", who, False
        ),
    }
