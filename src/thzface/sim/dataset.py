"""Seed-format datasets from the simulator for the CLI and the benchmarks: ``synth`` (simulate + split) and
``resolve_data`` (a folder, or ``sim:<preset>`` simulated once into a cache)."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_data(spec: str | None, seed: int = 0, workers: int = 1) -> Path:
    """A dataset folder, or ``sim:<preset>`` (default ``sim:demo``): simulate once into the cache and reuse it."""
    spec = spec or "sim:demo"
    if not spec.startswith("sim:"):
        p = Path(spec)
        if not p.is_dir():
            raise FileNotFoundError(f"{p}: data folder not found")
        return p
    preset = spec[4:]
    cache = Path(os.environ.get("THZFACE_CACHE", Path.home() / ".cache" / "thzface")) / "sim" / f"{preset}-seed{seed}"
    if not (cache / "test.csv").is_file():
        synth(preset, cache, seed=seed, workers=workers, overrides=[])
    return cache


def synth(
    preset: str | None,
    out: Path,
    seed: int,
    workers: int,
    overrides: list[str],
    preset_file: str | None = None,
    progress: bool = True,
) -> dict:
    """Simulate a dataset and write its train/test split (mixed protocol: both protocols evaluable)."""
    from thzface.config import apply_overrides, from_dict, to_dict
    from thzface.data.split import write_split
    from thzface.sim.presets import SimConfig, get_preset, load_preset_file
    from thzface.sim.world import synthesize

    cfg = load_preset_file(preset_file) if preset_file else get_preset(preset or "demo")
    if overrides:
        cfg = from_dict(SimConfig, apply_overrides(to_dict(cfg), overrides), "synth overrides")
    meta = synthesize(cfg, Path(out), seed=seed, workers=workers, progress=progress)
    split = write_split(Path(out), protocol="mixed", seed=seed)
    return {
        "out": str(out),
        "images": meta.get("num_images"),
        "split": split,
        "statistics": meta.get("statistics", {}).get("concealed", meta.get("statistics")),
    }
