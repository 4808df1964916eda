"""``thzface bench inpaint``: ``default`` vs ``paper`` (same wall-clock budget) vs classical fills, same masks.

Every arm is scored on the same fixed, seeded mask sets of the dataset's test images (buckets 10–30, 30–50, 50–70 %
of the head, plus the real garment silhouettes), on the THz unconcealed scans. Both presets run at the dataset's
image size (the ``paper`` preset's 512² is the seed's; its parameter count does not depend on size) and on one-
channel THz images; ``--arms`` picks arms (default: ``default``, ``paper`` and ``default-pretrained``; ``default`` or
``default-pretrained`` must be among them); ``default-pretrained`` is ``default`` fine-tuned from
``--init-from`` (the shipped ``pretrained:inpaint-default``, pretrained on the pretraining population's people and
scanners; the headline system when present). The classical fills are the masked mean, the diffusion
fill, the mean face of the predicted posture and the eigenface completion (``eigen-fill``: gappy PCA, Everson &
Sirovich 1995; also the ``default`` model's own start, so its margin is the network's own gain), the last two fitted
to the training rows; the headline is against the best of them. The identity embedder of every arm is
``args.embedder`` when given, else the shipped ``pretrained:mtl-default``: it scores the identity cosine and is the
identity term of a preset that has one. Hole-region numbers are the headline; ``buckets`` in bench.json holds, per
mask set, the system's margin over the best classical fill of that set (mean and spread over training seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from thzface.bench import arm_overrides, format_table
from thzface.bench.headline import headline_line, inpaint_headline
from thzface.bench.mtl import PRETRAINED
from thzface.data.io import open_image
from thzface.embedder import load_embedder
from thzface.engine.timing import timed_rate
from thzface.models.profile import count_parameters
from thzface.recipes import find_config, load_config, load_run
from thzface.recipes import train as fit
from thzface.recipes.inpaint.recipe import (
    BASELINES,
    HEADLINE,
    SPEED_MIN_S,
    evaluate_method,
    fitted_baselines,
    full_batch,
    split_dataset,
    summary,
)
from thzface.recipes.inpaint.recipe import RECIPE as INPAINT

PRESETS = ("default", "paper")
# inpaint-default fine-tuned from --init-from (the shipped pretrained:inpaint-default)
PRETRAINED_ARM = "default-pretrained"
# what runs without --arms: the pretrained start (ahead of training from scratch on four unseen worlds since its
# prior is refitted to the data, docs/inpaint.md) is the headline; from scratch and the seed's design beside it
DEFAULT_ARMS = (*PRESETS, PRETRAINED_ARM)
PRETRAINED_INPAINT = "pretrained:inpaint-default"


@torch.no_grad()
def ms_per_image(method, image: torch.Tensor, mask: torch.Tensor, batch: int) -> float:
    """Milliseconds per image of ``method(image, mask)`` on batches of ``batch`` (timed for >= SPEED_MIN_S)."""
    x, m = image[:1].expand(batch, -1, -1, -1).contiguous(), mask[:1].expand(batch, -1, -1, -1).contiguous()
    return 1000.0 / timed_rate(lambda: method(x, m), batch, SPEED_MIN_S, repeats=1)


def eval_masks_key(mc) -> tuple:
    """What fixes the evaluation masks (the training mix may differ between presets)."""
    return (tuple(mc.buckets), mc.region, tuple(mc.eval_kinds), mc.eval_seed)


def flatten(per_set: dict) -> dict:
    """``{metric}_{set}`` numbers of one arm for the side-by-side table."""
    return {f"{k}_{name}": row.get(k) for name, row in summary(per_set).items() for k in HEADLINE if k in row}


def table_keys(sets: list[str]) -> list[str]:
    keys = ["parameters", "steps", "exported_step", "train_s", "ms_per_image_b1", "ms_per_image_b16"]
    return keys + [f"{k}_{s}" for s in sets for k in HEADLINE]


def dataset_side(data: Path) -> int:
    first = next((p for p in sorted((data / "thz").iterdir()) if p.suffix.lower() == ".png"), None)
    if first is None:
        raise ValueError(f"{data / 'thz'}: no PNG images")
    return int(open_image(first).size[0])


def train_arm(configs: Path, preset: str, data: Path, out: Path, budget_s: float, seed: int, side: int,
              embedder: str, user: list[str] | None = None, init: str | None = None) -> dict:  # fmt: skip
    """Train ``inpaint-<preset>`` on THz images at the dataset's size for ``budget_s`` seconds (from the weights
    ``init`` when given); fit's summary. A preset with an identity term gets ``embedder`` for it; ``user``:
    :func:`thzface.bench.arm_overrides`."""
    cfg = load_config(configs / f"inpaint-{preset}.yaml")
    identity = [f"loss.identity_run={embedder}"] if cfg.loss.identity_run and cfg.loss.w_identity > 0 else []
    cfg = load_config(
        configs / f"inpaint-{preset}.yaml",
        [f"train.max_time_s={budget_s}", "train.max_epochs=100000", "train.max_steps=-1", "train.progress=false",
         f"train.seed={seed}", f"data.image_size={side}", f"model.image_size={side}", "model.modality=thz",
         "model.image_channels=1", *identity, *(user or [])],
    )  # fmt: skip
    return fit(cfg, data, out / "run", resume=False, init_run=init)


def classical_fills(cfg, data: Path) -> dict:
    """Every classical fill and the eigenface start, the data-fitted ones from ``data.train_csv``'s images."""
    train = full_batch(split_dataset(cfg, data, cfg.data.train_csv))
    m = cfg.model
    return {**BASELINES, **fitted_baselines(train["image"], train["name"], m.eigen_k, m.eigen_ridge)}


def bucket_margins(system_runs: list[dict], fills: dict[str, dict], sets: list[str], key: str = "hole_ssim") -> dict:
    """Per mask set: the system's mean and the best classical fill of that set, the margin's mean and spread
    (std over training seeds; the fills are deterministic)."""
    out = {}
    for s in sets:
        k = f"{key}_{s}"
        best = max((n for n in fills if fills[n].get(k) is not None), key=lambda n: fills[n][k])
        sys_vals = np.array([r[k] for r in system_runs], dtype=float)
        diff = sys_vals - fills[best][k]
        out[s] = {"metric": key, "system": float(sys_vals.mean()), "best_fill": best,
                  "best_fill_value": float(fills[best][k]), "margin": float(diff.mean()),
                  "spread": float(diff.std()), "per_seed": diff.tolist()}  # fmt: skip
    return out


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    data = resolve_data(args.data, workers=getattr(args, "workers", 1))
    out = Path(args.out)
    configs = Path(getattr(args, "configs", None) or find_config("mtl-default").parent)
    side = dataset_side(data)
    emb_run = str(getattr(args, "embedder", None) or PRETRAINED)
    embedder = load_embedder(emb_run)
    presets = [a.strip() for a in (getattr(args, "arms", None) or ",".join(DEFAULT_ARMS)).split(",") if a.strip()]
    if not {"default", PRETRAINED_ARM} & set(presets) or set(presets) - set(DEFAULT_ARMS):
        raise ValueError(
            f"bench inpaint: --arms {presets} must include 'default' or '{PRETRAINED_ARM}' and name only "
            f"{list(DEFAULT_ARMS)}"
        )
    init = str(getattr(args, "init_from", None) or PRETRAINED_INPAINT)
    arms: dict = {}
    mask_cfg = None
    for arm in presets:
        preset, start = ("default", init) if arm == PRETRAINED_ARM else (arm, None)
        rows = []
        for s in range(args.seeds):
            arm_out = out / arm / f"seed{s}"
            trained = train_arm(configs, preset, data, arm_out, args.budget_s, s, side, emb_run, arm_overrides(args),
                                start)  # fmt: skip
            run_dir = Path(trained["run"])
            metrics = INPAINT.evaluate(run_dir, data, arm_out / "report", embedder=emb_run)
            cfg, model, extra = load_run(run_dir)
            if mask_cfg is not None and eval_masks_key(cfg.loss.masks) != eval_masks_key(mask_cfg):
                raise ValueError(f"bench inpaint: inpaint-{preset}.yaml evaluates other masks than the first preset")
            mask_cfg = cfg.loss.masks
            row = flatten(metrics["sets"])
            row.update(parameters=count_parameters(model), steps=int(trained["global_step"]),
                       exported_step=int(extra.get("step", 0)), **metrics["speed"])  # fmt: skip
            row["train_s"] = float(trained["seconds"])
            if "init_from" in trained:  # tensors copied from the start's weights (all of them for the same preset)
                row["init_copied"] = float(trained["init_from"]["copied"])
            rows.append(row)
        arms[arm] = {"mean": _mean_rows(rows), "runs": rows}
    dcfg = load_config(configs / "inpaint-default.yaml", [f"data.image_size={side}", f"model.image_size={side}"])
    test = full_batch(split_dataset(dcfg, data, dcfg.data.test_csv))
    assert mask_cfg is not None  # set by the first trained arm (seeds >= 1)
    fills = classical_fills(dcfg, data)
    for name, method in fills.items():
        per_set, _ = evaluate_method(method, test, mask_cfg, embedder)
        image, mask = test["image"], torch.ones_like(test["image"][:, :1])
        row = flatten(per_set)
        row.update(parameters=0, ms_per_image_b1=ms_per_image(method, image, mask, 1),
                   ms_per_image_b16=ms_per_image(method, image, mask, 16))  # fmt: skip
        arms[name] = {"mean": row, "runs": [row], "sets": per_set}
    sets = list(arms["mean-fill"]["sets"])
    classical = {n: arms[n]["mean"] for n in fills}  # eigen-fill too: a gappy-PCA completion is a classical fill
    system = PRETRAINED_ARM if PRETRAINED_ARM in arms else "default"  # the headline: the best start a user has
    headline = inpaint_headline(arms[system]["runs"], classical, sets, system)
    table = format_table({a: v["mean"] for a, v in arms.items()}, table_keys(sets), first="metric (set)")
    table += "\n" + headline_line(headline)
    return {
        "data": str(data),
        "image_size": side,
        "modality": "thz",
        "budget_s": args.budget_s,
        "seeds": args.seeds,
        "identity_embedder": embedder.source,
        "arms": arms,
        "headline": headline,
        "init_from": init if PRETRAINED_ARM in arms else None,
        "buckets": {
            "hole_ssim": bucket_margins(arms[system]["runs"], classical, sets),
            "hole_psnr": bucket_margins(arms[system]["runs"], classical, sets, "hole_psnr"),
        },
        "eigen_fill_margin": bucket_margins(arms[system]["runs"], {"eigen-fill": arms["eigen-fill"]["mean"]}, sets),
        "table": table,
    }


def _mean_rows(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if any(r.get(k) is not None for r in rows)]
    return {k: float(np.nanmean([r[k] for r in rows if r.get(k) is not None])) for k in keys}
