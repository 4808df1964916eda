"""Score an ``unmask3d`` run on a dataset's test CSV for the engine's evaluation path.

Scored per test row: the N3D (mask IoU; coefficient error per group against the truth and against the
predict-the-mean baseline, i.e. the training-set mean stored in the model); completions (PSNR/SSIM on the whole
image and inside the true garment mask) for four variants — end to end (predicted mask + predicted render), the
true mask with the predicted render (the comparison with other inpainters on the same masks), the oracle (true
mask + render of the true coefficients), and the generator's residual start alone on the true mask
(``start@true_mask``: the input, or the joint eigen prior's completion); two trivial baselines on the true mask
(the concealed input as is, i.e. copy-the-input, and the training-mean target pasted in), all against the
unconcealed scan and, on simulated THz folders, the clean target at the concealed scan's pose (``clean_*``;
``head_*`` in the head); K completions per image (diversity inside the mask and fidelity per sample); an
expression edit (mean change inside the mask); identity similarity and Fréchet distance on a thzface embedder's
features when an embedder run is given (``loss.identity_run`` or ``embedder_run``), the Fréchet distance only
when the test set holds more images than feature dimensions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.config import Config
from thzface.data.captures import aux_region
from thzface.data.csv import read_triplets
from thzface.data.datasets import identity_list
from thzface.data.io import load_image
from thzface.data.targets import load_clean_targets
from thzface.engine.evaluate import EvalInput, Scored
from thzface.engine.infer import collect as run_collect
from thzface.metrics import reconstruction as R
from thzface.metrics.separability import diversity, frechet_distance
from thzface.metrics.unmask3d import coefficient_errors, mask_iou
from thzface.models.unmask3d import Unmask3D
from thzface.recipes.unmask3d.data import Unmask3DDataset, usable_rows
from thzface.recipes.unmask3d.pipeline import analyse, complete, sample_seeds, samples
from thzface.recipes.unmask3d.render import Renderer

EVAL_SAMPLES = 4  # completions per image for diversity / per-sample fidelity
EVAL_SEED = 0  # noise seed of the scored completions
EDIT_VALUE = 1.0  # the edit shown: first expression coefficient set to this (builtin: jaw_open)


def build_renderer(cfg: Config) -> Renderer:
    m = cfg.model
    return Renderer(m.face_model, m.face_model_path, m.render_grid_deg, cfg.data.image_size)


def collect(model: Unmask3D, cfg: Config, renderer: Renderer, ds: Unmask3DDataset, batch_size: int = 32) -> dict:
    """Numpy arrays over the dataset: inputs, truths, N3D outputs, renders and every completion variant."""
    edit = [(renderer.layout.groups()["expression"].start, EDIT_VALUE)]
    model.eval()

    def step(b: dict) -> dict[str, torch.Tensor]:
        image, n = b["image"], b["image"].shape[0]
        seeds = sample_seeds(EVAL_SEED, 0, n)
        a = analyse(model, renderer, image)
        a_mask = dataclasses.replace(a, mask=b["mask"])  # the true mask with the predicted render
        a_oracle = analyse(model, renderer, image, mask=b["mask"], coeffs=b["coeffs"])
        a_edit = analyse(model, renderer, image, edits=edit)
        return {
            **{k: b[k] for k in ("image", "target", "mask", "has_mask", "coeffs", "has_coeffs")},
            "mask_prob": a.mask_prob,
            "pred_coeffs": a.coeffs,
            "render": a.render,
            "render_true": a_oracle.render,
            "out": complete(model, image, a, seeds),
            "out_true_mask": complete(model, image, a_mask, seeds),
            "start_true_mask": model.start(image, b["mask"], a.render),  # the residual start alone
            "out_oracle": complete(model, image, a_oracle, seeds),
            "out_edit": complete(model, image, a_edit, seeds),
            "samples": samples(model, image, a_mask, EVAL_SAMPLES, EVAL_SEED),
        }

    c: dict = run_collect(step, DataLoader(ds, batch_size=batch_size, shuffle=False))
    c["has_mask"], c["has_coeffs"] = c["has_mask"].astype(bool), c["has_coeffs"].astype(bool)
    c["names"] = [r.anchor for r in ds.rows]
    c["identity"] = np.array([r.anchor_name.identity for r in ds.rows])
    thz = ds.modality == "thz"
    c["scan"] = (  # the unconcealed scan, also where the training target is the clean one
        np.stack([load_image(ds.root / "thz" / r.positive, ds.size, 1) for r in ds.rows]) if ds.use_clean and thz
        else c["target"]
    )  # fmt: skip
    c["clean"] = load_clean_targets(ds.root, c["names"], ds.size) if thz else None  # (N, 1, S, S) or None
    region = aux_region(ds.root)
    found = [region(n, ds.size) for n in c["names"]]
    c["region"] = np.stack([np.zeros((1, ds.size, ds.size), np.float32) if m is None else m.numpy() for m in found])
    return c


def reconstruction(routes: dict[str, np.ndarray], c: dict) -> dict:
    """:func:`thzface.metrics.reconstruction.reconstruction_scores` of completions (N, C, H, W): against the
    unconcealed scan and the clean target; ``mask_*`` inside the true garment mask, ``head_*`` in the head."""
    return R.reconstruction_scores(routes, c["scan"], c["clean"], c["mask"], c["region"], mask_name="mask")


def scores(pred: np.ndarray, c: dict) -> dict:
    """:func:`reconstruction` of one set of completions."""
    return reconstruction({"pred": pred}, c)["pred"]


def coefficient_metrics(c: dict, model: Unmask3D, renderer: Renderer) -> dict:
    hc = c["has_coeffs"]
    if not hc.any():
        return {"error": "no test row has aux coefficients"}
    groups = renderer.layout.groups()
    true, pred = c["coeffs"][hc], c["pred_coeffs"][hc]
    mean = np.broadcast_to(model.coef_mean.cpu().numpy(), true.shape)
    std = model.coef_std.cpu().numpy()
    out: dict = {"rows": int(hc.sum())}
    for name, (p, ref) in {"model": (pred, true), "predict_mean": (mean, true)}.items():
        errs = coefficient_errors(p, ref, groups)
        out[name] = {k: float(v.mean()) for k, v in errs.items()}
        out[name]["standardised_l1"] = float(np.mean(np.abs(p - ref) / std))
    out["units"] = {"shape": "population SD", "expression": "coefficient", "pose": "degrees", "placement": "px/mm, px"}
    return out


def identity_metrics(c: dict, embedder_run: str | Path | None) -> dict:
    if not embedder_run:
        return {"note": "not computed: no embedder (set loss.identity_run or pass an embedder run)"}
    from thzface.embedder import identity_similarity, load_embedder

    emb = load_embedder(embedder_run)
    t = torch.from_numpy(c["target"])
    out: dict = {"embedder": emb.source}
    for name in ("out", "out_true_mask", "image"):
        out[f"similarity_{name}"] = float(identity_similarity(emb, torch.from_numpy(c[name]), t).mean())
    with torch.no_grad():
        f_out, f_t = emb(torch.from_numpy(c["out"])).numpy(), emb(t).numpy()
    n, d = f_out.shape
    if n > d:
        out["frechet_distance"] = frechet_distance(f_out, f_t)
    else:
        out["frechet_distance"] = None
        out["frechet_note"] = f"test set too small: {n} images <= {d} feature dimensions"
    return out


def compute_metrics(c: dict, model: Unmask3D, renderer: Renderer, mean_target: np.ndarray, embedder_run) -> dict:
    hm = c["has_mask"]
    iou = mask_iou(c["mask_prob"][hm], c["mask"][hm]) if hm.any() else np.array([np.nan])
    mask = c["mask"]
    fill = R.composite(np.broadcast_to(mean_target, c["image"].shape).copy(), c["image"], mask)
    variants = {
        "unmask3d": c["out"],
        "unmask3d@true_mask": c["out_true_mask"],
        "unmask3d@oracle_render": c["out_oracle"],
        "start@true_mask": c["start_true_mask"],
        "input_as_is": c["image"],
        "mean_fill@true_mask": fill,
    }
    per_sample = [scores(c["samples"][:, k], c) for k in range(c["samples"].shape[1])]
    key = "mask_psnr" if hm.any() else "psnr"
    fid = [s[key] for s in per_sample]
    div = diversity(c["samples"][hm], mask[hm]) if hm.any() else diversity(c["samples"])
    edit = np.abs(c["out_edit"] - c["out"])  # (N, C, H, W)
    edit_in = float((edit * mask).sum() / max(1.0, float(mask.sum()) * edit.shape[1]))
    return {
        "rows": int(len(c["names"])),
        "mask": {"iou": float(np.nanmean(iou)), "rows_with_mask": int(hm.sum())},
        "coefficients": coefficient_metrics(c, model, renderer),
        "reconstruction": reconstruction(variants, c),
        "diversity": {"samples": len(fid), "mean_pairwise_l1_in_mask": float(np.nanmean(div))},
        "fidelity_per_sample": {"metric": key, "values": fid, "mean": float(np.mean(fid)), "std": float(np.std(fid))},
        "edit": {"edit": f"{renderer.layout.expr_names[0]}={EDIT_VALUE}", "mean_change_in_mask": edit_in},
        "identity": identity_metrics(c, embedder_run),
    }


def summary(m: dict) -> dict:
    rec = m["reconstruction"]
    coef = m["coefficients"]
    return {
        "mask_iou": m["mask"]["iou"],
        "coef_l1_std": coef.get("model", {}).get("standardised_l1"),
        "coef_l1_std_mean_baseline": coef.get("predict_mean", {}).get("standardised_l1"),
        "psnr": rec["unmask3d"]["psnr"],
        "ssim": rec["unmask3d"]["ssim"],
        "mask_psnr": rec["unmask3d"].get("mask_psnr"),
        "mask_ssim": rec["unmask3d"].get("mask_ssim"),
        "mask_psnr_oracle": rec["unmask3d@oracle_render"].get("mask_psnr"),
        "diversity": m["diversity"]["mean_pairwise_l1_in_mask"],
        "identity_similarity": m["identity"].get("similarity_out"),
        **R.headline(rec, "unmask3d", copy="input_as_is"),
    }


def score(ev: EvalInput) -> Scored:
    """Score an unmask3d run on ``ev.data``'s test CSV; identity metrics with ``ev.embedder`` (else the run's
    ``loss.identity_run``)."""
    from thzface.recipes.unmask3d.report import unmask3d_report

    cfg, model, root = ev.cfg, ev.model, ev.data
    renderer = build_renderer(cfg)
    test_csv = root / cfg.data.test_csv
    rows = usable_rows(read_triplets(test_csv, root), cfg.model.modality, str(test_csv))
    ds = Unmask3DDataset(root, rows, cfg, renderer, identity_list(rows))
    train_csv = root / cfg.data.train_csv
    train_rows = usable_rows(read_triplets(train_csv, root), cfg.model.modality, str(train_csv))
    train_ds = Unmask3DDataset(root, train_rows, cfg, renderer, identity_list(train_rows))
    mean_target = np.mean([train_ds[i]["target"].numpy() for i in range(len(train_ds))], axis=0)  # (C, H, W)
    c = collect(model, cfg, renderer, ds)
    metrics = compute_metrics(c, model, renderer, mean_target, ev.embedder or cfg.loss.identity_run or None)
    metrics["summary"] = summary(metrics)
    return Scored(metrics, unmask3d_report(metrics, c), collected=c)
