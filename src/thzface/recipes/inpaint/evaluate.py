"""Evaluate an inpainting method on a dataset's test images with fixed, seeded mask sets per hole-size bucket.

Every image of the test CSV (its unconcealed positives) gets one mask per bucket (10–30, 30–50, 50–70 % of the
head by default; :func:`thzface.data.masks.eval_mask`), so every method scored on the same data sees the same
holes. A ``garment`` set uses the simulator's real garment silhouettes where the data have them. Per bucket:
PSNR, windowed SSIM and L1 on the hole only (the headline) and on the whole composited image, the identity
similarity (cosine of embeddings of output and ground truth from a stated trained embedder), per mask kind, beside
copy-the-input (the masked input, hole black, copied). Unconcealing (THz models): every concealed test scan with its
own garment silhouette as the hole, scored against the unconcealed scan and the clean target rendered at the
concealed scan's pose (simulated folders), beside the concealed scan copied (:func:`unconceal`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thzface.config import Config
from thzface.data.csv import read_triplets
from thzface.data.io import load_image
from thzface.data.masks import MaskConfig, area_ratio, eval_mask
from thzface.data.naming import parse_name
from thzface.data.targets import load_clean_targets
from thzface.embedder import load_embedder
from thzface.engine.evaluate import EvalInput, Scored
from thzface.metrics import reconstruction as R
from thzface.models.inpaint import AttentionUNet
from thzface.recipes.inpaint.data import InpaintDataset, contexts, split_dataset

Method = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (image, mask) -> composited output
SPEED_MIN_S = 1.0  # seconds each inference-speed measurement runs
HEADLINE = ("hole_psnr", "hole_ssim", "hole_l1", "psnr", "ssim", "l1", "identity_cos")
COPY_KEYS = ("baseline_copy_ssim", "baseline_copy_psnr")  # per mask set: the masked input (hole black) copied


def bucket_name(lo: float, hi: float) -> str:
    return f"{round(100 * lo)}-{round(100 * hi)}"


def full_batch(ds: InpaintDataset) -> dict:
    """All items of ``ds`` collated into one batch dict (the test sets are small images)."""
    items = [ds[i] for i in range(len(ds))]
    out: dict[str, Any] = {
        k: torch.stack([it[k] for it in items]) for k in items[0] if isinstance(items[0][k], torch.Tensor)
    }
    out["name"] = [it["name"] for it in items]
    return out


def mask_sets(batch: dict, mc: MaskConfig) -> dict[str, dict]:
    """Fixed masks per bucket (and ``garment`` where available): {name: {idx, mask (n, 1, S, S), kinds, ratio}}."""
    size = batch["image"].shape[-1]
    ctxs = contexts(batch)
    sets: dict[str, dict] = {}
    for b, (lo, hi) in enumerate(mc.buckets):
        made = [eval_mask(mc, i, b, size, c) for i, c in enumerate(ctxs)]
        regions = [c.region if mc.region == "face" else None for c in ctxs]
        sets[bucket_name(lo, hi)] = {
            "idx": np.arange(len(ctxs)),
            "mask": torch.from_numpy(np.stack([m for m, _ in made])).float()[:, None],  # (n, 1, S, S)
            "kinds": [k for _, k in made],
            "ratio": np.array([area_ratio(m, r) for (m, _), r in zip(made, regions, strict=True)]),
        }
    garments = {i: c.garment for i, c in enumerate(ctxs) if c.garment is not None}
    if garments:
        have = sorted(garments)
        g = np.stack([garments[i] for i in have])  # (n, S, S)
        sets["garment"] = {
            "idx": np.array(have),
            "mask": torch.from_numpy(g).float()[:, None],
            "kinds": ["garment"] * len(have),
            "ratio": np.array([area_ratio(garments[i], ctxs[i].region) for i in have]),
        }
    return sets


@torch.no_grad()
def run_method(method: Method, images: torch.Tensor, masks: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """``method`` over (N, C, S, S) images and (N, 1, S, S) masks in chunks → outputs clamped to [0, 1]."""
    outs = [method(images[i : i + batch], masks[i : i + batch]).float() for i in range(0, len(images), batch)]
    return torch.cat(outs).clamp(0, 1)  # (N, C, S, S)


def image_scores(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, embedder=None) -> dict[str, np.ndarray]:
    """Per-image metrics (N,): hole-region and whole-image PSNR/SSIM/L1, identity cosine with an embedder."""
    out = {
        "hole_psnr": R.masked_psnr(pred, target, mask),
        "hole_ssim": R.masked_ssim(pred, target, mask),
        "hole_l1": R.masked_l1(pred, target, mask),
        "psnr": R.psnr(pred, target),
        "ssim": R.ssim(pred, target),
        "l1": R.l1(pred, target),
    }
    if embedder is not None:
        from thzface.embedder import identity_similarity

        out["identity_cos"] = identity_similarity(embedder, pred, target).numpy().astype(np.float64)
    return out


def mean_finite(values: dict[str, np.ndarray], sel: np.ndarray) -> dict[str, float]:
    """Mean of each per-image metric over the selected images, ignoring infinite (perfect-hole) PSNRs."""
    return {k: float(np.nanmean(np.where(np.isinf(v[sel]), np.nan, v[sel]))) for k, v in values.items()}


def evaluate_method(method: Method, batch: dict, mc: MaskConfig, embedder=None, keep: int = 6) -> tuple[dict, dict]:
    """Score ``method`` on every mask set. Returns (metrics per set, a few samples per set for the report).

    PSNR means skip images whose error is exactly 0 (infinite PSNR); ``n_perfect`` counts them.
    """
    images = batch["image"]  # (N, C, S, S)
    metrics: dict = {}
    samples: dict = {}
    for name, s in mask_sets(batch, mc).items():
        target, mask = images[s["idx"]], s["mask"]
        pred = run_method(method, target, mask)  # (n, C, S, S)
        known_change = float(((pred - target).abs() * (1 - mask)).amax()) if len(pred) else 0.0
        values = image_scores(pred, target, mask, embedder)
        kinds = np.array(s["kinds"])
        everything = np.ones(len(kinds), bool)
        row: dict[str, Any] = {
            "n": int(len(kinds)),
            "hole_ratio": float(s["ratio"].mean()),
            **mean_finite(values, everything),
        }
        copy = mean_finite(image_scores(target * (1 - mask), target, mask), everything)  # the masked input copied
        row.update(baseline_copy_ssim=copy["ssim"], baseline_copy_psnr=copy["psnr"])
        row["n_perfect"] = int(np.isinf(values["hole_psnr"]).sum())
        row["known_max_abs_change"] = known_change
        row["per_kind"] = {
            str(k): {"n": int((kinds == k).sum()), **mean_finite(values, kinds == k)} for k in sorted(set(s["kinds"]))
        }
        metrics[name] = row
        k = min(keep, len(pred))
        samples[name] = {"target": target[:k], "mask": mask[:k], "output": pred[:k], "names": batch["name"][:k]}
    return metrics, samples


def summary(metrics: dict) -> dict:
    """Headline per set: hole-region numbers first, whole-image numbers beside them."""
    keys = ("hole_ratio", *HEADLINE, *COPY_KEYS)
    return {name: {k: row.get(k) for k in keys if k in row} for name, row in metrics.items()}


def unconceal(method: Method, cfg: Config, root: Path, keep: int = 6, embedder=None) -> tuple[dict, dict | None]:
    """Concealed test scans inpainted inside their garment silhouette (aux ``garment_mask``): routes ``inpaint``
    and ``copy_input`` (the concealed scan as is) by :func:`thzface.metrics.reconstruction.reconstruction_scores`
    against the unconcealed scan and the clean target; ``concealed_*`` inside the garment, ``head_*`` in the head
    region; with an ``embedder`` and clean targets, ``identity_to_clean``: each route's mean identity cosine to the
    clean face. A ``note`` instead where the model or the data cannot be scored so. Also the first ``keep`` rows'
    images for the report's grid (``clean`` None in real folders), or None when nothing was scored."""
    if cfg.model.modality != "thz":
        note = "not scored: clean targets and garment silhouettes are of THz scans (model.modality: thz)"
        return {"note": note}, None
    rows = read_triplets(root / cfg.data.test_csv, root)
    anchors = sorted({r.anchor for r in rows})
    b = full_batch(InpaintDataset(root, root / "thz", anchors, cfg.data.image_size, 1))
    has = b["garment"].flatten(1).any(dim=1).numpy()  # (N,) scans with a garment silhouette
    if not has.any():
        return {"note": "not scored: no concealed test scan has a garment silhouette (aux garment_mask)"}, None
    names = [n for n, k in zip(anchors, has, strict=True) if k]
    image, hole = b["image"][has], b["garment"][has].float()  # (n, 1, S, S) each
    region = (b["region"] & b["has_region"][:, None, None, None])[has].float()  # (n, 1, S, S)
    size = cfg.data.image_size
    scan = np.stack([load_image(root / "thz" / parse_name(n).counterpart().filename, size, 1) for n in names])
    clean = load_clean_targets(root, names, size)  # (n, 1, S, S) or None (real folders)
    routes = {"inpaint": run_method(method, image, hole).numpy(), "copy_input": image.numpy()}
    rec = R.reconstruction_scores(routes, scan, clean, mask=hole, region=region)
    out: dict = {"rows": len(names), "routes": rec}
    if embedder is not None and clean is not None:
        from thzface.embedder import identity_similarity

        t = torch.from_numpy(clean)  # (n, 1, S, S)
        out["identity_to_clean"] = {
            r: float(identity_similarity(embedder, torch.from_numpy(v), t).mean()) for r, v in routes.items()
        }
    k = min(keep, len(names))
    shown = {"input": image[:k].numpy(), "mask": hole[:k].numpy(), "output": routes["inpaint"][:k], "scan": scan[:k]}
    return out, {**shown, "clean": None if clean is None else clean[:k]}


def model_method(model: AttentionUNet) -> Method:
    return lambda image, mask: model.inpaint(image, mask).output


def gate_maps(model: AttentionUNet, image: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Attention maps of every gate, upsampled (nearest) to the image size: list of (n, 1, S, S)."""
    with torch.no_grad():
        gates = model.inpaint(image, mask).gates
    size = image.shape[-2:]
    return [torch.nn.functional.interpolate(g.float(), size=size, mode="nearest") for g in gates]


def speed(model: torch.nn.Module, cfg: Config, batches: tuple[int, ...] = (1, 16)) -> dict:
    """Inference time in ms per image at each batch size (image + mask input), on this machine's CPU."""
    from thzface.engine.timing import throughput

    size, ch = cfg.data.image_size, cfg.model.in_channels
    return {f"ms_per_image_b{b}": 1000.0 / throughput(model, size, b, channels=ch, min_s=SPEED_MIN_S) for b in batches}


def score(ev: EvalInput) -> Scored:
    """Score an inpainting run on the test images of ``ev.data``: fixed seeded masks per bucket, unconcealing.

    The identity embedder is ``ev.embedder`` or else the run's ``loss.identity_run``; without one the identity
    similarity is not computed (and the report says so).
    """
    from thzface.recipes.inpaint.report import inpaint_report

    cfg, model, root = ev.cfg, ev.model, ev.data
    emb_path = ev.embedder or (Path(cfg.loss.identity_run) if cfg.loss.identity_run else None)
    emb = load_embedder(emb_path) if emb_path else None
    batch = full_batch(split_dataset(cfg, root, cfg.data.test_csv))
    per_set, samples = evaluate_method(model_method(model), batch, cfg.loss.masks, emb)
    mid = list(per_set)[min(1, len(per_set) - 1)]
    s = samples[mid]
    rec, unconcealed = unconceal(model_method(model), cfg, root, embedder=emb)
    head = {"unconceal": R.headline(rec["routes"], "inpaint")} if "routes" in rec else {}
    metrics = {
        "summary": {**summary(per_set), **head},
        "sets": per_set,
        "unconceal": rec,
        "identity_embedder": emb.source if emb is not None else "none (pass an mtl run as loss.identity_run)",
        "speed": speed(model, cfg),
    }
    images = len(batch["name"])
    gates = gate_maps(model, s["target"], s["mask"])
    report = inpaint_report(metrics, samples, gates, cfg.model.modality, images, unconcealed)
    return Scored(metrics, report, {"modality": cfg.model.modality, "images": images}, collected=(per_set, samples))
