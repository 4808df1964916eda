"""``thzface bench mtl``: train ``default`` and ``paper`` on the same data for the same wall-clock budget, and
``default`` fine-tuned from the shipped pretrained weights (``pretrained:mtl-default``) when the package has them.
Beside them (arm ``adapted``) the same start without training: its BatchNorm statistics adapted to the scanner
on the training CSV's scans, no label read (``thzface adapt``), scored on the same test rows as the trained arms —
what label-free adaptation gives against fine-tuning on the same people. Every arm runs every seed (``--seeds``);
the table shows mean ± std over seeds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from thzface.bench import arm_overrides, format_table
from thzface.bench.headline import headline_line, mtl_headline
from thzface.bench.infer import VARIANTS as MODEL_VARIANTS
from thzface.engine.checkpoint import pretrained_names
from thzface.engine.timing import throughput
from thzface.models.profile import count_parameters, flops_per_sample
from thzface.recipes import find_config, load_config, load_run, recipe_of
from thzface.recipes import train as fit


def overrides(model: dict) -> list[str]:
    """``model.KEY=VALUE`` command-line overrides of a model-config dict (tuples as YAML lists)."""
    return [f"model.{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in model.items()]


PRESETS = ("default", "paper")
PRETRAINED = "pretrained:mtl-default"  # the fine-tuned arm's initialisation (shipped weights)
FINETUNE = ["train.lr=0.0005"]  # the fine-tuned arm: mtl-default at a quarter of its learning rate
# the model variants of `bench infer` (:data:`thzface.bench.infer.VARIANTS`), as arms on request (``--arms
# lean-s2,lean-s2-pretrained``): the quality half of issue #17's quality-vs-throughput table
VARIANTS = {name: overrides(kw) for name, kw in MODEL_VARIANTS.items()}
DEFAULT_ARMS = ("default", "paper", "default-pretrained", "adapted")  # what runs without --arms
# training-recipe changes any arm takes on request as ``ARM+NAME`` (``--arms default-pretrained+mirror``)
RECIPE_VARIANTS = {
    "mirror": ["aug.mirror=0.5"],  # mirrored captures in the joint batches (posture left <-> right)
    "single-view": ["model.flip_test=false"],  # the embedding of the scan alone (no flip test)
    "pose-curriculum": ["train.pose_curriculum=3"],  # typical poses first, all from epoch 3 (data.curriculum)
    "positive-target": ["data.target=positive"],  # reconstruct the unconcealed scan (another pose), not the clean one
    "gallery-views": ["loss.gallery_views=true"],  # the unconcealed counterparts in the identity loss too
    "freeze-bn": ["train.freeze_bn=0"],  # BatchNorm kept at the start's (deployed) statistics while fine-tuning
    "no-margin": ["loss.margin_head=none"],  # SupCon alone, as the start was pretrained (no ArcFace head)
}
KEYS = [
    "parameters",
    "flops_per_sample",
    "train_samples_per_s",
    "steps",
    "exported_step",  # the step of the exported weights (best validation score): a fine-tune that peaks early shows
    "infer_img_per_s_b1",
    "infer_img_per_s_b64",
    "idd_eer",
    "idd_roc_auc",
    "idd_tar@far=0.01",
    "idd_same_posture_eer",
    "idd_cross_posture_eer",
    "idd_pixel_eer",
    "idd_deployed_far",
    "idd_deployed_frr",
    "cs_eer",
    "cs_roc_auc",
    "posture_acc",
    "posture_macro_f1",
    "ssim",
    "psnr",
    "ssim_oracle",
    "copy_ssim",
    "ssim_clean",
    "copy_ssim_clean",
    "head_ssim_clean",
    "copy_head_ssim_clean",
    "mean_face_ssim_clean",
    "mean_face_head_ssim_clean",
    "concealed_ssim",
    "silhouette_identity",
]


def flatten(metrics: dict) -> dict:
    """The headline numbers of an eval's metrics.json, keyed for the side-by-side table."""
    p = metrics["protocols"]
    out: dict = {}
    for short, name in (("idd", "identity-disjoint"), ("cs", "closed-set")):
        v = p.get(name, {}).get("verification", {})
        for k in ("eer", "roc_auc", "tar@far=0.01", "kfold_accuracy", "triplet_accuracy"):
            out[f"{short}_{k}"] = v.get(k)
        for k in ("far", "frr", "accuracy"):
            out[f"{short}_deployed_{k}"] = v.get("deployed", {}).get(k)
        for k in ("same", "cross"):
            out[f"{short}_{k}_posture_eer"] = v.get("by_posture", {}).get(k, {}).get("eer")
    out["idd_pixel_eer"] = p.get("identity-disjoint", {}).get("baselines", {}).get("pixel_verification", {}).get("eer")
    a = p["all"]
    out.update(
        posture_acc=a["posture"]["accuracy"],
        posture_macro_f1=a["posture"]["macro_f1"],
        ssim=a["reconstruction"]["predicted"]["ssim"],
        psnr=a["reconstruction"]["predicted"]["psnr"],
        ssim_oracle=a["reconstruction"]["oracle"]["ssim"],
        copy_ssim=a["reconstruction"]["copy_input"]["ssim"],
        ssim_clean=a["reconstruction"]["predicted"].get("clean_ssim"),
        copy_ssim_clean=a["reconstruction"]["copy_input"].get("clean_ssim"),
        head_ssim_clean=a["reconstruction"]["predicted"].get("clean_head_ssim"),
        copy_head_ssim_clean=a["reconstruction"]["copy_input"].get("clean_head_ssim"),
        mean_face_ssim_clean=a["reconstruction"].get("mean_face", {}).get("clean_ssim"),
        mean_face_head_ssim_clean=a["reconstruction"].get("mean_face", {}).get("clean_head_ssim"),
        concealed_ssim=a["reconstruction"]["predicted"].get("concealed_ssim"),
        silhouette_identity=a["separability"]["silhouette_identity"],
    )
    return out


ADAPTED = "adapted"  # the arm without training: the start's BatchNorm statistics of the training CSV's scans


def adapt_and_eval(data: Path, out: Path, seed: int, init: str) -> dict:
    """``init`` adapted to the scanner on the scans of ``data``'s training CSV (no labels, no optimiser step) and
    scored like a trained arm: a run folder whose split records the training CSV's people as seen, so its
    identity-disjoint protocol holds exactly the trained arms' unseen test people."""
    from thzface.data.csv import read_triplets
    from thzface.data.identity_split import IdentitySplit
    from thzface.embedder.adapt import adapt_weights, capture_scans
    from thzface.engine.checkpoint import WEIGHTS
    from thzface.engine.run import SPLIT, THRESHOLD, save_split, save_threshold

    train_csv = load_config(find_config("mtl-default")).data.train_csv  # the trained arms' training rows
    rows = read_triplets(data / train_csv, data, visible=False)
    scans = capture_scans(data, rows)
    run = out / "run"
    run.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, SPLIT, THRESHOLD):  # a rerun replaces the arm, as the trained arms' --no-resume does
        (run / name).unlink(missing_ok=True)
    start = time.perf_counter()
    done = adapt_weights(init, scans, run / WEIGHTS, seed)
    seconds = time.perf_counter() - start
    save_split(run, data, IdentitySplit(tuple(sorted({r.anchor_name.identity for r in rows})), ()))
    if done["threshold"] is not None:  # the start's deployed threshold, as `thzface adapt` carries it
        save_threshold(run, done["threshold"], f"{init} (adapted: BatchNorm statistics only)")
    row = flatten(recipe_of(run).evaluate(run, data, out / "report"))
    row.update(steps=0, exported_step=0, train_seconds=seconds, adapt_scans=len(scans))
    return row


def train_and_eval(
    config: Path, data: Path, out: Path, budget_s: float, seed: int, extra: list[str], init: str | None = None
) -> dict:
    cfg = load_config(
        config,
        [
            f"train.max_time_s={budget_s}",
            "train.max_epochs=100000",
            "train.progress=false",
            f"train.seed={seed}",
            *extra,
        ],
    )
    summary = fit(cfg, data, out / "run", init_run=init, resume=False)
    metrics = recipe_of(out / "run").evaluate(out / "run", data, out / "report")  # mtl or a distill student
    _, model, _ = load_run(out / "run")
    size = cfg.data.image_size
    row = flatten(metrics)
    row.update(
        parameters=count_parameters(model),
        flops_per_sample=flops_per_sample(model, size),
        train_samples_per_s=summary["samples_seen"] / max(summary["seconds"], 1e-9),
        steps=summary["global_step"],
        exported_step=metrics["run"]["trained"].get("step"),
        train_seconds=summary["seconds"],
        infer_img_per_s_b1=throughput(model, size, 1, min_s=1.0),
        infer_img_per_s_b64=throughput(model, size, 64, min_s=1.0),
    )
    return row


def arms(init: str | None = None, only: str | None = None) -> dict[str, tuple[str, str | None, list[str]]]:
    """Arm name → (config preset, initialisation, overrides): the presets and the :data:`VARIANTS` from scratch,
    and ``default-pretrained`` / ``<variant>-pretrained`` fine-tuned from ``init`` (default: the shipped weights,
    ``pretrained:mtl-<variant>`` for a variant that has its own), each also as ``ARM+NAME`` with the overrides of
    :data:`RECIPE_VARIANTS`; ``only``: comma-separated arm names (default: :data:`DEFAULT_ARMS`)."""
    out: dict[str, tuple[str, str | None, list[str]]] = {p: (f"mtl-{p}", None, []) for p in PRESETS}
    out.update({v: ("mtl-default", None, o) for v, o in VARIANTS.items()})
    if init or pretrained_names():
        out["default-pretrained"] = ("mtl-default", init or PRETRAINED, FINETUNE)
        out[ADAPTED] = ("", init or PRETRAINED, [])  # no preset: no training (adapt_and_eval)
        shipped = set(pretrained_names())
        for v, o in VARIANTS.items():  # a variant's own shipped weights (pretrained:mtl-<variant>) when there are some
            own = f"pretrained:mtl-{v}" if f"mtl-{v}" in shipped else PRETRAINED
            out[f"{v}-pretrained"] = ("mtl-default", init or own, FINETUNE + o)
    names = only.split(",") if only else [a for a in DEFAULT_ARMS if a in out]
    for name in names:  # ARM+VARIANT: an arm with a training-recipe change of RECIPE_VARIANTS
        base, _, variant = name.partition("+")
        if variant and base in out and variant in RECIPE_VARIANTS:
            preset, start, extra = out[base]
            out[name] = (preset, start, extra + RECIPE_VARIANTS[variant])
    unknown = sorted(set(names) - set(out))
    if unknown:
        more = ", ".join(f"ARM+{v}" for v in RECIPE_VARIANTS)
        raise ValueError(f"--arms: unknown arms {unknown}; available: {', '.join(out)}, {more}")
    return {k: out[k] for k in names}


def spread(runs: list[dict]) -> tuple[dict, dict]:
    """Mean and std over seeds of every numeric key (NaN and missing values skipped)."""
    keys = [k for k in runs[0] if any(isinstance(r.get(k), (int, float)) for r in runs)]
    vals = {k: [float(r[k]) for r in runs if isinstance(r.get(k), (int, float))] for k in keys}
    return {k: float(np.nanmean(v)) for k, v in vals.items()}, {k: float(np.nanstd(v)) for k, v in vals.items()}


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    data = resolve_data(args.data)
    out = Path(args.out)
    results: dict = {}
    user = arm_overrides(args)
    for name, (preset, init, extra) in arms(getattr(args, "init_from", None), getattr(args, "arms", None)).items():
        runs = [
            adapt_and_eval(data, out / name / f"seed{s}", s, init or PRETRAINED)
            if name == ADAPTED
            else train_and_eval(
                find_config(preset), data, out / name / f"seed{s}", args.budget_s, s, [*extra, *user], init
            )
            for s in range(args.seeds)
        ]
        mean, std = spread(runs)
        results[name] = {"mean": mean, "std": std, "init": init, "runs": runs}
    rows = {n: {k: f"{r['mean'][k]:.3g}±{r['std'][k]:.1g}" for k in KEYS if k in r["mean"]} for n, r in results.items()}
    table = (
        format_table(rows, KEYS) if args.seeds > 1 else format_table({n: r["mean"] for n, r in results.items()}, KEYS)
    )
    headline = mtl_headline({n: r["runs"] for n, r in results.items()})
    table += "\n" + headline_line(headline)
    speeds = ("train_samples_per_s", "infer_img_per_s_b1", "infer_img_per_s_b64")
    paper = results.get("paper", {}).get("mean", {})
    ratio = {n: {k: r["mean"][k] / paper[k] for k in speeds if paper.get(k)} for n, r in results.items()}
    return {
        "data": str(data),
        "budget_s": args.budget_s,
        "seeds": args.seeds,
        "presets": results,
        **{n: r["mean"] for n, r in results.items()},  # one key per arm (issue #17's interface)
        "ratio_vs_paper": ratio if paper else {},
        "headline": headline,
        "table": table,
    }
