"""Per-group tables: mean, standard deviation and count of per-sample values grouped by a key."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from thzface.metrics.checks import check_lengths


def summarize(values: Any, groups: Any) -> dict[Any, dict[str, float | int]]:
    """``{group: {"mean", "std", "count"}}`` for per-sample ``values`` (N,) and their ``groups`` (N,).

    NaN values (e.g. a masked metric of an image with an empty mask) are left out and not counted; a group
    with no value left has mean and std NaN and count 0. +inf values (PSNR of a perfect reconstruction) are
    kept. ``std`` is the population standard deviation. Keys are plain Python values (str / int / float),
    sorted.
    """
    where = "summarize"
    v = np.asarray(values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values)
    g = np.asarray(groups.detach().cpu().numpy() if isinstance(groups, torch.Tensor) else groups)
    if v.ndim != 1 or g.ndim != 1:
        raise ValueError(f"{where}: values and groups must be 1-D, got shapes {v.shape} and {g.shape}")
    if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
        raise ValueError(f"{where}: values must be numeric, got dtype {v.dtype}")
    check_lengths(v, g, where, "values and groups")
    v = v.astype(np.float64)
    table: dict[Any, dict[str, float | int]] = {}
    for key in np.unique(g):
        sel = v[(g == key) & ~np.isnan(v)]
        with np.errstate(invalid="ignore"):
            mean = float(sel.mean()) if len(sel) else float("nan")
            std = float(sel.std()) if len(sel) else float("nan")
        table[key.item() if hasattr(key, "item") else key] = {
            "mean": mean,
            "std": std,
            "count": int(len(sel)),
        }
    return table
