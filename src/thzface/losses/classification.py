"""Classification loss: cross-entropy with label smoothing (posture heads)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.losses.reduce import check_labels
from thzface.metrics.checks import check_float_tensor


def label_smoothing_ce(logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Mean cross-entropy against (1 - smoothing) * one_hot + smoothing / K (uniform); scalar.

    ``logits`` (N, K), ``targets`` (N,) integer class ids in [0, K), ``0 <= smoothing < 1``.
    """
    where = "label_smoothing_ce"
    check_float_tensor(logits, where, "logits", ndim=2)
    n, k = logits.shape
    if n < 1 or k < 2:
        raise ValueError(f"{where}: logits must be (N, K) with N >= 1 and K >= 2, got {tuple(logits.shape)}")
    check_labels(targets, n, where, "targets")
    if not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"{where}: smoothing must be in [0, 1), got {smoothing!r}")
    lo, hi = int(targets.min()), int(targets.max())
    if lo < 0 or hi >= k:
        raise ValueError(f"{where}: targets must be class ids in [0, {k}), got range [{lo}, {hi}]")
    return F.cross_entropy(logits, targets.to(logits.device).long(), label_smoothing=float(smoothing))
