"""Named simulator presets, YAML preset files and dotted overrides.

Every preset names its face model. ``sfm-20`` needs the Surrey Face Model: ``face_model.path=...`` or the
environment variable THZFACE_SFM_PATH; a missing file is an error naming it, never a silent fallback.
"""

from __future__ import annotations

import copy
from pathlib import Path

from thzface.config import ConfigError, apply_overrides, atomic_write_text, dump_yaml, read_yaml
from thzface.sim.config import SimConfig, sim_config_from_dict

_BENCH = {
    "identities": {"count": 20, "twin_pairs": 2},
    "samples": 7,
    "image_size": 64,
    "face_model": {"kind": "builtin"},
    "instrument": "per_dataset",  # one scanner per dataset, as a real lab's data (the real set: one 340 GHz system)
}

PRESETS: dict[str, dict] = {
    # tests / CI: 8 people + 1 twin x 5 postures x 2 samples, 32 px: the mixed split holds out 2-3 test people and
    # leaves >= 6, enough for 2 validation people and a training batch of 4 at every seed (tests/sim/test_tiny.py)
    "tiny": {
        "identities": {"count": 9, "twin_pairs": 1},
        "samples": 2,
        "image_size": 32,
        "face_model": {"kind": "builtin"},
    },
    # quick look: 16 ids x 5 x 5 at 64 px (400 samples)
    "demo": {
        "identities": {"count": 16, "twin_pairs": 2},
        "samples": 5,
        "image_size": 64,
        "face_model": {"kind": "builtin"},
        "instrument": "per_dataset",
    },
    # the size of the real dataset: 20 ids x 5 postures x 7 samples, 64 px (2 twin pairs for the twin metrics)
    "bench-20": _BENCH,
    # twin verification: 8 of 12 base ids have a twin at 10 % of the mean identity distance
    "twins-20": {
        "identities": {"count": 20, "twin_pairs": 8, "twin_distance": 0.1},
        "samples": 7,
        "image_size": 64,
        "face_model": {"kind": "builtin"},
        "instrument": "per_dataset",
    },
    # evaluation at scale (issue #24): 100 people x 5 postures x 2 samples, THz only, one scanner
    "eval-100": {
        "identities": {"count": 100, "twin_pairs": 0},
        "samples": 2,
        "image_size": 64,
        "face_model": {"kind": "builtin"},
        "write_visible": False,
        "write_aux": False,
        "instrument": "per_dataset",
    },
    # pre-training: 500 ids x 5 x 4 at 64 px from the pretraining population, 5 sites (see pretrain-2k)
    "pretrain-500": {
        "population": "pretrain",
        "sites": 5,
        "identities": {"count": 500, "twin_pairs": 0},
        "samples": 4,
        "image_size": 64,
        "face_model": {"kind": "builtin"},
        "instrument": "per_dataset",
    },
    # pre-training at scale: 2,000 ids x 5 x 3 at 64 px from the pretraining population (nobody of an evaluation
    # preset), THz only (no visible renders, no aux files), the bench presets' geometry (render_scale 2, 1.5 deg
    # grid), 20 sites of 100 people, one scanner each (instrument per dataset, as 20 labs' data): with the scanner
    # drawn per sample the concealed scans carry almost no identity and the embedding collapsed (docs/benchmarks.md)
    "pretrain-2k": {
        "population": "pretrain",
        "sites": 20,
        "identities": {"count": 2000, "twin_pairs": 0},
        "samples": 3,
        "image_size": 64,
        "face_model": {"kind": "builtin"},
        "write_visible": False,
        "write_aux": False,
        "contact_sheet": True,
        "instrument": "per_dataset",
    },
    # bench-20 geometry from the Surrey 3DMM (path from face_model.path or $THZFACE_SFM_PATH)
    "sfm-20": {**_BENCH, "face_model": {"kind": "sfm", "path": ""}},
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str, overrides: list[str] | None = None) -> SimConfig:
    """Preset ``name`` with dotted ``key=value`` overrides applied, validated."""
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r}: unknown; known: {preset_names()}")
    data = copy.deepcopy(PRESETS[name])
    data["preset"] = name
    return sim_config_from_dict(apply_overrides(data, list(overrides or [])), where=f"preset {name}")


def load_preset_file(path: str | Path, overrides: list[str] | None = None) -> SimConfig:
    """A YAML file holding a (partial) SimConfig, plus overrides; unknown keys raise ConfigError."""
    data = apply_overrides(read_yaml(path), list(overrides or []))
    return sim_config_from_dict(data, where=str(path))


def save_preset_file(cfg: SimConfig, path: str | Path) -> None:
    """Write the full config as YAML (temp file + rename); load_preset_file reads it back equal."""
    atomic_write_text(path, dump_yaml(cfg))
