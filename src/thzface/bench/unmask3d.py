"""``thzface bench unmask3d``: does the 3D prior help? Same data, same budget, same garment masks.

Per modality (THz scans, then visible RGB photos) and seed, each arm trains for ``--budget-s`` seconds of wall
clock: ``unmask3d`` (``unmask3d-default``), ``no-prior`` (the same with ``model.use_render=false``: the
generator sees zeros instead of the render) and ``inpaint`` (``inpaint-default``, only when that recipe is
registered). All are scored on the test rows' true garment masks (``@true``); ``unmask3d`` also end to end
with its own N3D mask (``e2e``); two trivial fills (the concealed input as is, the training-mean target
pasted into the mask) frame the numbers, and ``start @true`` rows show the residual start alone (the joint eigen
prior's completion, with or without the render) so the generator's own gain is visible. ``--arms`` picks the
optional arms (``no-prior``, ``inpaint``, ``visible``: the visible modality; default all). The identity embedder
is the shipped ``pretrained:mtl-default`` (``args.embedder`` replaces it): identity similarity, Fréchet distance
when the test set has more images than feature dimensions; it is not applied to visible photos (another
modality), so those cells stay empty. Diversity (mean pairwise L1 of K completions inside the mask) and the
quality of those samples (``sample_quality``: their mean masked PSNR) are reported apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from thzface.bench import arm_overrides, format_table
from thzface.bench.headline import headline_line, unmask3d_headline
from thzface.bench.mtl import PRETRAINED
from thzface.metrics.separability import frechet_distance
from thzface.recipes import RECIPES, find_config, load_config, load_run
from thzface.recipes import train as fit
from thzface.recipes.unmask3d.recipe import RECIPE as UNMASK3D
from thzface.recipes.unmask3d.recipe import scores

MODALITIES: dict[str, dict[str, list[str]]] = {
    "thz": {"unmask3d": [], "inpaint": []},
    "visible": {
        "unmask3d": [
            "model.modality=visible",
            "model.image_channels=3",
            "model.hole_fill=noise",
            "model.residual=false",
            "model.start=input",
        ],
        "inpaint": ["model.modality=visible", "model.image_channels=3"],
    },
}
ARMS = ("no-prior", "inpaint", "visible")  # optional arms beside unmask3d (THz)
RECON = ("mask_psnr", "mask_ssim", "mask_l1", "psnr", "ssim", "clean_mask_ssim", "clean_ssim")  # clean_*: simulated
KEYS = [*RECON, "identity_sim", "frechet", "diversity", "sample_quality", "mask_iou", "coef_l1_std",
        "coef_l1_std_mean_baseline", "pose_err_deg", "steps", "train_s"]  # fmt: skip


def train(config: str, data: Path, out: Path, budget_s: float, seed: int, extra: list[str]) -> dict:
    """Fit ``configs/<config>.yaml`` for ``budget_s`` seconds; the run summary."""
    overrides = [f"train.max_time_s={budget_s}", "train.max_epochs=100000", "train.max_steps=-1",
                 "train.progress=false", f"train.seed={seed}", *extra]  # fmt: skip
    cfg = load_config(find_config(config), overrides)
    return fit(cfg, data, out, resume=False)


def identity(embedder, pred: np.ndarray, target: np.ndarray) -> dict:
    """Mean cosine similarity to the target's embedding and the Fréchet distance (None when N <= D)."""
    if embedder is None:
        return {"identity_sim": None, "frechet": None}
    with torch.no_grad():
        fp, ft = embedder(torch.from_numpy(pred)).numpy(), embedder(torch.from_numpy(target)).numpy()
    fd = frechet_distance(fp, ft) if len(fp) > fp.shape[1] else None
    return {"identity_sim": float((fp * ft).sum(1).mean()), "frechet": fd}


def arm_row(rec: dict, c: dict, pred: np.ndarray, embedder, extra: dict | None = None) -> dict:
    row = {k: rec.get(k) for k in RECON}
    row.update(identity(embedder, pred, c["target"]))
    row.update(extra or {})
    return row


def unmask3d_rows(name: str, metrics: dict, c: dict, summary: dict, embedder) -> dict:
    """Table columns of one unmask3d-family run: end to end and on the true mask."""
    coef = metrics["coefficients"]
    common = {
        "diversity": metrics["diversity"]["mean_pairwise_l1_in_mask"],
        "sample_quality": metrics["fidelity_per_sample"]["mean"],
        "steps": summary["global_step"],
        "train_s": summary["seconds"],
        "mask_iou": metrics["mask"]["iou"],
        "coef_l1_std": coef.get("model", {}).get("standardised_l1"),
        "coef_l1_std_mean_baseline": coef.get("predict_mean", {}).get("standardised_l1"),
        "pose_err_deg": coef.get("model", {}).get("pose"),
    }
    rec = metrics["reconstruction"]
    return {
        f"{name} e2e": arm_row(rec["unmask3d"], c, c["out"], embedder, common),
        f"{name} @true": arm_row(rec["unmask3d@true_mask"], c, c["out_true_mask"], embedder, common),
        f"{name} start @true": arm_row(rec["start@true_mask"], c, c["start_true_mask"], embedder),
    }


@torch.no_grad()
def inpaint_row(run: Path, c: dict, embedder, summary: dict) -> dict:
    """The inpaint run on the same images and true garment masks as unmask3d's evaluation."""
    _, model, _ = load_run(run, ("inpaint",))
    image, mask = torch.from_numpy(c["image"]), torch.from_numpy(c["mask"])
    pred = torch.cat([model.inpaint(image[i : i + 32], mask[i : i + 32]).output for i in range(0, len(image), 32)])
    pred_np = pred.float().numpy()
    return arm_row(
        scores(pred_np, c), c, pred_np, embedder, {"steps": summary["global_step"], "train_s": summary["seconds"]}
    )


def run_modality(
    modality: str,
    data: Path,
    out: Path,
    budget_s: float,
    seed: int,
    embedder_run,
    arms: set[str],
    user: list[str] | None = None,
) -> tuple[dict, Path]:
    """One seed of one modality's arms; ``user``: :func:`thzface.bench.arm_overrides`, taken by every arm."""
    over = {name: [*extra, *(user or [])] for name, extra in MODALITIES[modality].items()}
    emb_run = embedder_run if modality == "thz" else None
    embedder = None
    if emb_run is not None:
        from thzface.embedder import load_embedder

        embedder = load_embedder(emb_run)
    rows: dict = {}
    base = out / modality / f"seed{seed}"
    s = train("unmask3d-default", data, base / "unmask3d", budget_s, seed, over["unmask3d"])
    metrics, c = UNMASK3D.evaluate_collected(base / "unmask3d", data, base / "unmask3d-report", emb_run)
    rows.update(unmask3d_rows("unmask3d", metrics, c, s, embedder))
    if "no-prior" in arms:
        no_prior = [*over["unmask3d"], "model.use_render=false"]
        s2 = train("unmask3d-default", data, base / "no-prior", budget_s, seed, no_prior)
        m2, c2 = UNMASK3D.evaluate_collected(base / "no-prior", data, base / "no-prior-report", emb_run)
        rows.update(unmask3d_rows("no-prior", m2, c2, s2, embedder))
    if "inpaint" in RECIPES and "inpaint" in arms:
        s3 = train("inpaint-default", data, base / "inpaint", budget_s, seed, over["inpaint"])
        rows["inpaint @true"] = inpaint_row(base / "inpaint", c, embedder, s3)
    rec = metrics["reconstruction"]
    rows["input as is"] = arm_row(rec["input_as_is"], c, c["image"], embedder)
    mean_fill = rec["mean_fill@true_mask"]
    rows["mean fill @true"] = {k: mean_fill.get(k) for k in RECON}
    return rows, base / "unmask3d-report" / "samples.png"


def prior_margin(thz_runs: list[dict], metric: str) -> dict | None:
    """Under-the-garment SSIM of unmask3d (true mask) minus the same generator without the render, per seed
    (the key the headline uses), with its mean and spread (std over seeds); None without the no-prior arm."""
    key = "clean_mask_ssim" if "clean target" in metric else "mask_ssim"
    if any("no-prior @true" not in r for r in thz_runs):
        return None
    diff = np.array([r["unmask3d @true"][key] - r["no-prior @true"][key] for r in thz_runs], dtype=float)
    return {"metric": key, "margin": float(diff.mean()), "spread": float(diff.std()), "per_seed": diff.tolist()}


def mean_rows(runs: list[dict]) -> dict:
    out = {}
    for name in runs[0]:
        vals = {k: [r[name].get(k) for r in runs if r[name].get(k) is not None] for k in runs[0][name]}
        out[name] = {k: float(np.mean(v)) if v else None for k, v in vals.items()}
    return out


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    data = resolve_data(args.data)
    out = Path(args.out)
    arms = {a.strip() for a in (getattr(args, "arms", None) or ",".join(ARMS)).split(",") if a.strip()}
    if arms - set(ARMS):
        raise ValueError(f"bench unmask3d: --arms {sorted(arms)} may name only {list(ARMS)}")
    emb = str(getattr(args, "embedder", None) or PRETRAINED)
    result: dict = {
        "data": str(data),
        "budget_s": args.budget_s,
        "seeds": args.seeds,
        "embedder": emb,
        "modalities": {},
    }
    tables = []
    for modality in [m for m in MODALITIES if m == "thz" or m in arms]:
        runs, grids = [], []
        for seed in range(args.seeds):
            rows, grid = run_modality(modality, data, out, args.budget_s, seed, emb, arms, arm_overrides(args))
            runs.append(rows)
            grids.append(str(grid))
        mean = mean_rows(runs)
        result["modalities"][modality] = {"mean": mean, "runs": runs, "sample_grids": grids}
        tables.append(f"[{modality}]\n" + format_table(mean, KEYS))
        if modality == "thz":
            result["headline"] = unmask3d_headline(runs)
            result["prior_margin"] = prior_margin(runs, result["headline"]["metric"])
            tables[-1] += "\n" + headline_line(result["headline"])
    result["inpaint_compared"] = "inpaint" in RECIPES
    result["table"] = "\n\n".join(tables)
    return result
