"""The physically based THz face simulator: face model -> geometry -> THz / visible images -> dataset on disk.

Public entry points (imported lazily, so ``import thzface.sim`` stays cheap):

- :func:`synthesize` (world): write a dataset in the seed layout and return its meta.
- :class:`SimConfig`, :func:`sim_config_from_dict` (config); :func:`get_preset`, :func:`preset_names`,
  :func:`load_preset_file`, :func:`save_preset_file` (presets).
- :func:`dataset_statistics`, :func:`image_statistics`, :func:`format_statistics` (stats).
- :func:`bench_sim` (bench); :func:`build_face_model`, :func:`make_identities` (face_model).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "synthesize": "world",
    "SimConfig": "config",
    "sim_config_from_dict": "config",
    "sim_config_to_dict": "config",
    "get_preset": "presets",
    "preset_names": "presets",
    "load_preset_file": "presets",
    "save_preset_file": "presets",
    "dataset_statistics": "stats",
    "image_statistics": "stats",
    "format_statistics": "stats",
    "bench_sim": "bench",
    "build_face_model": "face_model",
    "make_identities": "face_model",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"thzface.sim.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'thzface.sim' has no attribute {name!r}")
