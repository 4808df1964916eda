"""Metrics of recipe ``unmask3d``: mask IoU and coefficient errors per group (numpy, one value per image)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from thzface.metrics.checks import as_float_tensor


def mask_iou(pred: Any, target: Any, threshold: float = 0.5) -> np.ndarray:
    """Per-image IoU (N,) of ``pred > threshold`` and ``target > 0.5``, masks (N, 1, H, W) or (N, H, W).

    Both masks empty gives 1 (nothing to find, nothing found).
    """
    where = "mask_iou"
    p, t = as_float_tensor(pred, where, "pred"), as_float_tensor(target, where, "target")
    if p.shape != t.shape or p.ndim not in (3, 4) or p.shape[0] < 1:
        raise ValueError(
            f"{where}: pred and target must be (N, [1,] H, W) of one shape, got {tuple(p.shape)}, {tuple(t.shape)}"
        )
    pb, tb = (p > threshold).flatten(1), (t > 0.5).flatten(1)  # (N, P)
    inter = (pb & tb).sum(dim=1).double()
    union = (pb | tb).sum(dim=1).double()
    return np.where(union.numpy() > 0, (inter / union.clamp_min(1)).numpy(), 1.0)


def coefficient_errors(pred: Any, true: Any, groups: Mapping[str, slice]) -> dict[str, np.ndarray]:
    """Mean absolute error per image (N,) of each coefficient group (name → slice of the (N, K) vectors)."""
    where = "coefficient_errors"
    p, t = as_float_tensor(pred, where, "pred"), as_float_tensor(true, where, "true")
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"{where}: pred and true must be (N, K) of one shape, got {tuple(p.shape)}, {tuple(t.shape)}")
    out = {}
    for name, sl in groups.items():
        if sl.stop > p.shape[1] or sl.start >= sl.stop:
            raise ValueError(f"{where}: group {name!r} slice {sl} does not fit K={p.shape[1]}")
        out[name] = (p[:, sl] - t[:, sl]).abs().mean(dim=1).numpy()
    return out
