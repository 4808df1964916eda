"""Seed-format datasets from the simulator for the CLI and the benchmarks: ``synth`` (simulate + split, or one
shard of it, or the finalisation of the shards) and ``resolve_data`` (a folder, or ``sim:<preset>`` simulated
once into a cache)."""

from __future__ import annotations

import os
from pathlib import Path

WORLD = "v3"  # simulator world version in the cache path (v3: populations, sites, visits, PSF fix, identities.json)


def resolve_data(spec: str | None, seed: int = 0, workers: int = 1) -> Path:
    """A dataset folder, or ``sim:<preset>`` (default ``sim:demo``): simulate once into the cache and reuse it."""
    spec = spec or "sim:demo"
    if not spec.startswith("sim:"):
        p = Path(spec)
        if not p.is_dir():
            raise FileNotFoundError(f"{p}: data folder not found")
        return p
    preset = spec[4:]
    root = Path(os.environ.get("THZFACE_CACHE", Path.home() / ".cache" / "thzface"))
    cache = root / "sim" / f"{preset}-seed{seed}-{WORLD}"
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
    shard: str | None = None,
    finalize: bool = False,
) -> dict:
    """Simulate a dataset and write its train/test split (mixed protocol: both protocols evaluable).

    ``shard="i/N"`` writes shard i of N only (no meta, no split); ``finalize=True`` turns the finished shards
    in ``out`` into meta.json, contact sheet and split, leaving the files of a one-shot run."""
    from thzface.config import apply_overrides, from_dict, to_dict
    from thzface.data.split import write_split
    from thzface.sim import world
    from thzface.sim.presets import SimConfig, get_preset, load_preset_file

    if shard is not None and finalize:
        raise ValueError("synth: give either --shard i/N or --finalize, not both")
    if finalize:
        _, seed, meta = world.finalize(Path(out))
    else:
        cfg = load_preset_file(preset_file) if preset_file else get_preset(preset or "demo")
        if overrides:
            cfg = from_dict(SimConfig, apply_overrides(to_dict(cfg), overrides), "synth overrides")
        part = parse_shard(shard) if shard is not None else None
        meta = world.synthesize(cfg, Path(out), seed=seed, workers=workers, progress=progress, shard=part)
        if part is not None:
            return meta
    split = write_split(Path(out), protocol="mixed", seed=seed)
    return {
        "out": str(out),
        "images": meta.get("num_images"),
        "split": split,
        "statistics": meta.get("statistics", {}).get("concealed", meta.get("statistics")),
        "probes": meta.get("probes", {}).get("copy_baseline"),
    }


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N) with 0 <= i < N; ValueError with one line otherwise."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard: expected i/N such as 0/8, got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard: expected 0 <= i < N, got {text!r}")
    return i, n
