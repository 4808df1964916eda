"""``thzface bench distill``: THz-only ``mtl`` vs distilled students, same settings, data, budget, seeds and start.

The controlled comparison the reference lacked. The distill config is built from ``configs/mtl-default.yaml``
(data, augmentation, training, the student's model and loss fields, verbatim) plus the teacher and distillation
fields of ``configs/distill-default.yaml``; :func:`confounds` proves the shared settings are identical. Every
student starts from the same weights (``--init-from``, default the shipped ``pretrained:mtl-default``) at the
fine-tuning learning rate of ``bench mtl`` (:data:`thzface.bench.mtl.FINETUNE`); every teacher's encoders, trunk
and heads start from them too (``model.teacher_init``), its fusion from scratch. The teacher sees each member's
unconcealed visible image (``data.teacher_visible: enrolment``). Arms, each under the same wall-clock budget per
seed (teacher time counts against the distilled arms):

* ``mtl`` — the THz-only model, ``budget_s``;
* ``distill-joint`` — teacher and student trained together, ``budget_s``;
* ``distill-2stage`` — teacher alone for ``budget_s / 2``, then the student with it frozen for ``budget_s / 2``;
* ``mtl-steps`` — the THz-only model for exactly as many steps as ``distill-joint`` made (equal updates and
  schedule, less time): separates what the distillation signal does from what its extra compute costs.

``--arms`` runs a subset (``mtl`` and ``distill-joint``, the headline's pair, always run). Every arm is evaluated
with the same ``mtl`` evaluation (THz only); the 2-stage teacher is also evaluated on THz + visible. The result
holds mean ± std over seeds and the per-seed difference of each distilled arm to mtl.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from thzface.bench import arm_overrides, format_table
from thzface.bench.headline import distill_headline, headline_line
from thzface.bench.mtl import FINETUNE, KEYS, PRETRAINED, train_and_eval
from thzface.config import Config, apply_overrides, read_yaml, save_config, to_dict
from thzface.models import distill_spec as distill
from thzface.models.mtl_spec import LossConfig as MtlLossConfig
from thzface.models.multitask import MtlModelConfig
from thzface.recipes import config_from_dict, find_config, get_recipe, load_config
from thzface.recipes import train as fit

ARMS = ("mtl", "distill-joint", "distill-2stage", "mtl-steps")
REQUIRED = ("mtl", "distill-joint")  # the headline's pair (bench.headline.distill_headline)
HEADLINE = ["idd_eer", "idd_roc_auc", "cs_eer", "posture_acc", "ssim", "silhouette_identity"]
COMPARE = (("distill-joint", "mtl"), ("distill-2stage", "mtl"), ("distill-joint", "mtl-steps"))
TEACHER_KEYS = ["teacher_idd_eer", "teacher_cs_eer", "teacher_posture_acc", "teacher_silhouette_identity"]


def _own_fields(child: type, parent: type) -> set[str]:
    return {f.name for f in dataclasses.fields(child)} - {f.name for f in dataclasses.fields(parent)}


TRIPLET_ROWS: dict[str, dict] = {"train": {"sampler": "pk", "batch_size": 48}, "loss": {"margin_head": "none"}}


def paired_distill_dict(mtl: dict, dist: dict) -> dict:
    """A distill config dict whose shared sections are ``mtl``'s verbatim; teacher/distillation from ``dist``."""
    own_model = _own_fields(distill.ModelConfig, MtlModelConfig)
    own_loss = _own_fields(distill.LossConfig, MtlLossConfig)
    return {
        **dist,
        "recipe": "distill",
        "data": {**mtl.get("data", {}), "use_visible": True},
        "aug": dict(mtl.get("aug", {})),
        "train": dict(mtl.get("train", {})),
        "model": {**mtl.get("model", {}), **{k: v for k, v in dist.get("model", {}).items() if k in own_model}},
        "loss": {**mtl.get("loss", {}), **{k: v for k, v in dist.get("loss", {}).items() if k in own_loss}},
    }


def confounds(a: Config, b: Config) -> list[str]:
    """Dotted names of shared settings (data except use_visible, aug, train, student model/loss) that differ."""
    out = []
    for section, names in (
        ("data", [f.name for f in dataclasses.fields(a.data) if f.name != "use_visible"]),
        ("aug", [f.name for f in dataclasses.fields(a.aug)]),
        ("train", [f.name for f in dataclasses.fields(a.train)]),
        ("model", [f.name for f in dataclasses.fields(MtlModelConfig)]),
        ("loss", [f.name for f in dataclasses.fields(MtlLossConfig)]),
    ):
        sa, sb = to_dict(getattr(a, section)), to_dict(getattr(b, section))
        out += [f"{section}.{k}" for k in names if sa.get(k) != sb.get(k)]
    return out


def teacher_row(metrics: dict) -> dict:
    s = metrics["summary"]
    return {
        "teacher_idd_eer": s.get("identity-disjoint", {}).get("eer"),
        "teacher_cs_eer": s.get("closed-set", {}).get("eer"),
        "teacher_posture_acc": s["all"]["posture_acc"],
        "teacher_silhouette_identity": s["all"]["silhouette_identity"],
    }


def run_arm(
    arm: str,
    configs: dict[str, Path],
    data: Path,
    out: Path,
    budget_s: float,
    seed: int,
    steps: int = 0,
    init: str | None = None,
) -> dict:
    """Train + evaluate one arm for one seed; the row has every ``bench mtl`` key. ``steps``: for mtl-steps;
    ``init``: the weights every student starts from (the teachers' start is the config's ``model.teacher_init``).

    Every arm keeps the config's own ``train.max_epochs`` (``bench mtl``'s training helper sets 100000, which
    would stretch the step-based warmup over ~3 % of 100000 epochs, so a time-limited run never left warmup);
    the run stops at that epoch count or the wall-clock budget, whichever comes first.
    """
    keep = [f"train.max_epochs={load_config(configs['mtl']).train.max_epochs}"]
    if arm == "mtl":
        return train_and_eval(configs["mtl"], data, out, budget_s, seed, keep, init)
    if arm == "mtl-steps":
        if steps <= 0:
            raise ValueError("bench distill: mtl-steps needs the step count of the distill-joint run")
        return train_and_eval(configs["mtl"], data, out, budget_s, seed, [*keep, f"train.max_steps={steps}"], init)
    if arm == "distill-joint":
        return train_and_eval(configs["distill"], data, out, budget_s, seed, keep, init)
    if arm != "distill-2stage":
        raise ValueError(f"bench distill: unknown arm {arm!r}; known: {list(ARMS)}")
    half = budget_s / 2
    common = [f"train.max_time_s={half}", "train.progress=false", f"train.seed={seed}", *keep]
    tcfg = load_config(configs["distill"], [*common, "model.stage=teacher"])
    t_summary = fit(tcfg, data, out / "teacher", resume=False)
    t_metrics = get_recipe("distill").evaluate(out / "teacher", data, out / "teacher_report")
    student = ["model.stage=student", f"model.teacher_run={out / 'teacher'}", "model.freeze_teacher=true",
               "model.teacher_init="]  # fmt: skip
    row = train_and_eval(configs["distill"], data, out / "student", half, seed, [*keep, *student], init)
    row.update(teacher_row(t_metrics), teacher_seconds=t_summary["seconds"], teacher_steps=t_summary["global_step"])
    return row


def stats(runs: list[dict]) -> tuple[dict, dict]:
    """Mean and std (ddof 0) over seeds of every numeric key present in some run."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    keys += [k for r in runs for k in r if k not in keys and isinstance(r[k], (int, float))]
    vals = {k: [float(r[k]) for r in runs if isinstance(r.get(k), (int, float))] for k in keys}
    return {k: float(np.nanmean(v)) for k, v in vals.items()}, {k: float(np.nanstd(v)) for k, v in vals.items()}


def cell(mean: float | None, std: float | None) -> str | None:
    return None if mean is None else f"{mean:.3g} ± {std:.2g}"


def run(args) -> dict:
    from thzface.sim.dataset import resolve_data

    data = resolve_data(args.data or "sim:bench-20")
    mtl, dist = find_config("mtl-default"), find_config("distill-default")
    arms = select_arms(getattr(args, "arms", None))
    init = getattr(args, "init_from", None) or PRETRAINED
    return compare(
        mtl, dist, data, Path(args.out), args.budget_s, list(range(args.seeds)), arms, init, arm_overrides(args)
    )


def pick_arms(
    only: str | None, available: tuple[str, ...], what: str, required: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """``--arms`` (comma-separated; None: all of ``available``) in ``available`` order, ``required`` always in;
    a name not available is a one-line error naming the ``what`` (``bench twin`` uses it for its systems)."""
    names = set(only.split(",")) if only else set(available)
    unknown = sorted(names - set(available))
    if unknown:
        raise ValueError(f"--arms: unknown {what} {unknown}; available: {', '.join(available)}")
    return tuple(a for a in available if a in names or a in required)


def select_arms(only: str | None) -> tuple[str, ...]:
    """The distill arms of ``--arms``, with the headline's pair :data:`REQUIRED` always in."""
    return pick_arms(only, ARMS, "distill arms", REQUIRED)


def start_dicts(
    mtl_yaml: Path, distill_yaml: Path, init: str | None, user: list[str] | None = None
) -> tuple[dict, dict]:
    """The mtl and distill config dicts of the comparison: triplet rows for both (:data:`TRIPLET_ROWS`); with
    ``init``, the fine-tuning learning rate for both and the teacher started from ``init``."""
    mtl_dict = apply_overrides(read_yaml(mtl_yaml), FINETUNE if init else [])
    for section, values in TRIPLET_ROWS.items():
        mtl_dict[section] = {**mtl_dict.get(section, {}), **values}
    dist_dict = paired_distill_dict(mtl_dict, read_yaml(distill_yaml))
    dist_dict = apply_overrides(dist_dict, [f"model.teacher_init={init}"] if init else [])
    return apply_overrides(mtl_dict, user or []), apply_overrides(dist_dict, user or [])


def compare(
    mtl_yaml: Path,
    distill_yaml: Path,
    data: Path,
    out: Path,
    budget_s: float,
    seeds: list[int],
    arms: tuple[str, ...] = ARMS,
    init: str | None = PRETRAINED,
    user: list[str] | None = None,
) -> dict:
    """Run ``arms`` for every seed (interleaved) on ``data``, every student from ``init`` (None: from scratch);
    mean ± std per arm and paired differences. The mtl arms read triplet rows as distillation does
    (:data:`TRIPLET_ROWS`), so only the objective differs; ``user``: :func:`thzface.bench.arm_overrides` (both
    configs)."""
    mtl_dict, dist_dict = start_dicts(mtl_yaml, distill_yaml, init, user)
    mtl_cfg, dist_cfg = config_from_dict(mtl_dict), config_from_dict(dist_dict)
    differing = confounds(mtl_cfg, dist_cfg)
    if differing:
        raise ValueError(f"bench distill: mtl and distill configs differ in shared settings {differing}")
    configs = {"mtl": out / "configs" / "mtl.yaml", "distill": out / "configs" / "distill.yaml"}
    for name, cfg in (("mtl", mtl_cfg), ("distill", dist_cfg)):
        save_config(cfg, configs[name])
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for s in seeds:  # arms interleaved per seed, so a change of machine load hits every arm alike
        for arm in arms:
            steps = int(runs["distill-joint"][-1]["steps"]) if arm == "mtl-steps" else 0
            runs[arm].append(run_arm(arm, configs, data, out / arm / f"seed{s}", budget_s, s, steps, init))
    results: dict[str, dict] = {}
    for arm in arms:
        mean, std = stats(runs[arm])
        results[arm] = {"mean": mean, "std": std, "runs": runs[arm]}
    differences = {
        f"{x[8:] if x.startswith('distill-') else x}-{y}": paired_difference(runs[x], runs[y])
        for x, y in COMPARE
        if x in runs and y in runs
    }
    rows = {
        a: {k: cell(results[a]["mean"].get(k), results[a]["std"].get(k)) for k in KEYS + TEACHER_KEYS} for a in arms
    }
    deltas = {name: {k: cell(v["mean"], v["std"]) for k, v in d.items()} for name, d in differences.items()}
    headline = distill_headline(runs)
    table = format_table(rows, KEYS + TEACHER_KEYS) + "\n\n" + format_table(deltas, HEADLINE, first="difference")
    table += "\n" + headline_line(headline)
    return {
        "data": str(data),
        "budget_s": budget_s,
        "init": init,
        "configs": {"mtl": str(mtl_yaml), "distill": str(distill_yaml)},
        "seeds": seeds,
        "arms": results,
        "differences": differences,
        "identical_settings": {"checked": ["data", "aug", "train", "model (student)", "loss (student)"]},
        "headline": headline,
        "table": table,
    }


def paired_difference(xs: list[dict], ys: list[dict]) -> dict[str, dict[str, float]]:
    """Per-seed difference x - y of each headline metric: mean and std (ddof 0) over the seeds where both exist."""
    out = {}
    for k in HEADLINE:
        d = [x[k] - y[k] for x, y in zip(xs, ys, strict=True) if _num(x, k) and _num(y, k)]
        if d:
            out[k] = {"mean": float(np.mean(d)), "std": float(np.std(d)), "seeds": len(d)}
    return out


def _num(row: dict, k: str) -> bool:
    return isinstance(row.get(k), (int, float)) and bool(np.isfinite(row[k]))
