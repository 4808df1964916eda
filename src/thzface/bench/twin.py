"""``thzface bench twin``: what do the face parts add? Global-only vs parts-only vs fused, twin vs random impostors.

Per seed: an ``mtl`` embedder is fine-tuned from the shipped weights (``--init-from``, default
``pretrained:mtl-default``, at ``bench mtl``'s fine-tuning learning rate; config ``args.global_config``, default
``configs/mtl-default.yaml``, for ``args.global_budget_s`` or ``budget_s`` seconds; or taken from
``args.global_run``) and frozen; then the ``twin-default`` systems (``--arms``, default all of :data:`SYSTEMS`) are
trained for ``budget_s`` each on the same data — ``fused`` (global + parts, residual fusion with the part weight
fitted on validation people), ``fused-mlp`` (global + parts through one MLP, seed 003's fusion) and ``parts`` (no
global branch) — and evaluated next to the frozen embedding itself (``global``). Part-based systems are scored
with the data's part boxes (``/given``) and with their own part-box head (``/pred``, the deployable case). Numbers per
protocol:
``idd_`` identity-disjoint test identities (held-out thresholds from identity folds), ``cs_`` closed-set (seen
identities, unseen samples).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thzface.bench import arm_overrides, format_table
from thzface.bench.distill import pick_arms
from thzface.bench.headline import headline_line, twin_headline
from thzface.bench.mtl import FINETUNE, PRETRAINED
from thzface.data.csv import read_triplets
from thzface.data.twins import read_twins
from thzface.models.parts import GlobalEmbedder
from thzface.models.profile import count_parameters
from thzface.recipes import find_config, load_config, load_run
from thzface.recipes import train as fit
from thzface.recipes.twin import recipe as TE
from thzface.report.evaluation import write_metrics

SYSTEMS: dict[str, list[str]] = {
    "fused": [],
    "fused-mlp": ["model.fusion=mlp"],
    "parts": ["model.global_kind=none"],
}
VARIANTS = {"embedding": "", "boxes=given": "/given", "boxes=predicted": "/pred"}
PROTOCOLS = {"idd": "identity-disjoint", "cs": "closed-set"}
KEYS = [
    *(f"idd_{k}" for k in ("twin_eer", "random_eer", "twin_roc_auc", "random_roc_auc", "twin_tar@far=0.1",
                           "twin_heldout_hter", "random_heldout_hter", "twin_far@random_threshold",
                           "frr@random_threshold")),
    *(f"cs_{k}" for k in ("twin_eer", "random_eer", "twin_roc_auc", "random_roc_auc")),
    "fusion_weight", "box_iou", "parameters", "steps", "train_seconds",
]  # fmt: skip


def flatten(metrics: dict, variant: str) -> dict:
    """Headline numbers of one variant, prefixed by protocol (idd_, cs_)."""
    out: dict = {}
    for short, name in PROTOCOLS.items():
        v = metrics["protocols"].get(name, {}).get(variant)
        if v is not None:
            out.update({f"{short}_{k}": val for k, val in TE.headline(v).items()})
    return out


def budget(budget_s: float, seed: int) -> list[str]:
    return [f"train.max_time_s={budget_s}", "train.max_epochs=100000", "train.max_steps=-1", "train.progress=false",
            f"train.seed={seed}"]  # fmt: skip


def eval_global(g_run: Path, data: Path, config: Path, out: Path) -> dict:
    """The frozen global embedding alone, scored with the twin metrics (no training on top)."""
    cfg = load_config(config)
    gcfg, mtl, _ = load_run(g_run, ("mtl",))
    net = GlobalEmbedder(gcfg.model, "embedding")
    net.load_from(mtl)
    rows = read_triplets(data / cfg.data.test_csv, data)
    c = TE.collect(lambda x, b, h: (net(x), None), cfg, data, rows)
    seen = {r.anchor_name.identity for r in read_triplets(data / cfg.data.train_csv, data)}
    metrics = TE.compute_metrics({"embedding": c}, seen, read_twins(data), seed=cfg.train.seed)
    write_metrics(out, metrics)
    return {**flatten(metrics, "embedding"), "parameters": sum(p.numel() for p in net.parameters())}


def global_config(args, configs: Path) -> Path:
    """The mtl config of the global embedder: ``args.global_config`` (a path) or configs/mtl-default.yaml."""
    return Path(getattr(args, "global_config", None) or configs / "mtl-default.yaml")


def select_systems(only: str | None) -> dict[str, list[str]]:
    """``--arms`` (comma-separated names of :data:`SYSTEMS`; default all)."""
    return {n: SYSTEMS[n] for n in pick_arms(only, tuple(SYSTEMS), "twin systems")}


def run_seed(args, data: Path, configs: Path, out: Path, seed: int) -> dict[str, dict]:
    g_run = Path(args.global_run) if getattr(args, "global_run", None) else out / "global"
    rows: dict[str, dict] = {}
    if not getattr(args, "global_run", None):
        g_budget = getattr(args, "global_budget_s", None) or args.budget_s
        g_cfg = load_config(global_config(args, configs), [*budget(g_budget, seed), *FINETUNE, *arm_overrides(args)])
        s = fit(g_cfg, data, g_run, init_run=getattr(args, "init_from", None) or PRETRAINED, resume=False)
        rows["global"] = {"steps": s["global_step"], "train_seconds": s["seconds"]}
    rows["global"] = {**rows.get("global", {}), **eval_global(g_run, data, configs / "twin-default.yaml",
                                                              out / "global-report")}  # fmt: skip
    for name, overrides in select_systems(getattr(args, "arms", None)).items():
        system = [f"model.global_run={g_run}", *overrides, *arm_overrides(args)]
        cfg = load_config(configs / "twin-default.yaml", [*budget(args.budget_s, seed), *system])
        run = out / name
        s = fit(cfg, data, run, resume=False)
        metrics = TE.RECIPE.evaluate(run, data, run / "report")
        _, model, _ = load_run(run, ("twin",))
        common = {"parameters": count_parameters(model), "steps": s["global_step"], "train_seconds": s["seconds"],
                  "box_iou": metrics["box_head"].get("mean_iou"),
                  "fusion_weight": float(model.fusion_weight) if cfg.model.fusion == "residual" else None}  # fmt: skip
        for variant, suffix in VARIANTS.items():
            if any(variant in p for p in metrics["protocols"].values()):
                rows[f"{name}{suffix}"] = {**flatten(metrics, variant), **common}
    return rows


def mean_over_seeds(runs: list[dict]) -> dict:
    """Per key, the mean of the finite values over seeds (None where no seed has one)."""
    keys = {k for r in runs for k in r}
    vals = {k: [float(r[k]) for r in runs if r.get(k) is not None and np.isfinite(r[k])] for k in keys}
    return {k: (float(np.mean(v)) if v else None) for k, v in sorted(vals.items())}


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    data = resolve_data(args.data or "sim:twins-20", workers=args.workers)
    out = Path(args.out)
    configs = Path(getattr(args, "configs", None) or find_config("mtl-default").parent)
    per_seed = [run_seed(args, data, configs, out / f"seed{s}", s) for s in range(args.seeds)]
    systems = list(per_seed[0])
    mean = {name: mean_over_seeds([r[name] for r in per_seed]) for name in systems}
    headline = twin_headline(per_seed)
    return {
        "data": str(data),
        "twins": len(read_twins(data)) // 2,
        "budget_s": args.budget_s,
        "seeds": args.seeds,
        "global_run": getattr(args, "global_run", None)
        or f"fine-tuned per seed from {getattr(args, 'init_from', None) or PRETRAINED} "
        f"({global_config(args, configs)}, {' '.join(FINETUNE)}, "
        f"{getattr(args, 'global_budget_s', None) or args.budget_s} s)",
        "systems": {name: {"mean": mean[name], "runs": [r[name] for r in per_seed]} for name in systems},
        "headline": headline,
        "table": format_table(mean, KEYS, first="metric (mean over seeds)") + "\n" + headline_line(headline),
    }
