"""Run verbs: ``thzface train``, ``configs``, ``import-reference`` (make a run), ``eval`` and ``bench`` (score)."""

from __future__ import annotations

import argparse
from pathlib import Path

from thzface.report import dumps
from thzface.sim.dataset import resolve_data


def cmd_train(a: argparse.Namespace) -> int:
    from thzface.recipes import load_config
    from thzface.recipes import train as fit

    cfg = load_config(a.config, a.overrides)
    data = resolve_data(a.data, seed=cfg.train.seed)
    summary = fit(cfg, data, Path(a.out), init_run=a.init_from, resume=a.resume)
    print(dumps(summary))
    print(f"run written to {a.out} (weights: {Path(a.out) / 'model.safetensors'})")
    return 0


def cmd_configs(a: argparse.Namespace) -> int:
    from thzface.engine.checkpoint import PRETRAINED, PRETRAINED_DIR, pretrained_names
    from thzface.recipes import find_config, preset_names

    for name in preset_names():
        print(f"{name:18s} {find_config(name)}")
    for name in pretrained_names():  # shipped weights, for --init-from
        print(f"{PRETRAINED + name:18s} {PRETRAINED_DIR / (name + '.safetensors')}")
    return 0


def cmd_import_reference(a: argparse.Namespace) -> int:
    from thzface.export.importer import import_reference_run
    from thzface.recipes import MTL, find_config

    print(dumps(import_reference_run(Path(a.ckpt), Path(a.out), MTL.model, find_config("mtl-paper"))))
    return 0


def eval_data(run: Path, spec: str | None) -> Path:
    """``--data`` of ``eval``, or the folder the run trained on (its test.csv holds the unseen people)."""
    from thzface.engine.run import SPLIT, Run

    if spec is not None:
        return resolve_data(spec)
    recorded = Run(run).data
    if recorded is None:
        raise ValueError(f"{run}: no {SPLIT} recording the training data; pass --data DIR")
    if not recorded.is_dir():
        raise FileNotFoundError(f"{recorded}: the data folder {run} trained on is gone; pass --data DIR")
    return recorded


def cmd_eval(a: argparse.Namespace) -> int:
    from thzface.recipes import recipe_of

    metrics = recipe_of(a.run).evaluate(Path(a.run), eval_data(Path(a.run), a.data), Path(a.out), adapt=a.adapt)
    print(dumps(metrics.get("summary", {})))
    print(f"report written to {Path(a.out) / 'report.html'}")
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    from thzface.bench import run_bench

    res = run_bench(a.what, a)
    print(res.get("table") or dumps(res))
    print(f"bench written to {Path(a.out) / 'bench.json'}")
    return 0
