"""The weight of the part embedding in the residual fusion (models/parts.py), fitted on validation people.

A fused score is ``(cos_global + w² cos_parts) / (1 + w²)``. :func:`fit_fusion_weight` scores every ``w`` of a grid
on the validation pairs (concealed probes × unconcealed gallery, each probe's own counterpart left out) and keeps
the one with the lowest mean EER over the impostor kinds present (twin, random) — the quantity the twin task
monitors (``val/score`` = 1 − that mean) — the smallest ``w`` on ties, so parts earn weight only where the
validation people show they help. It never sees the test people.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from thzface.metrics import twin as TM

GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # candidate part weights w


def fused_scores(s_global: np.ndarray, s_parts: np.ndarray, w: float) -> np.ndarray:
    """Cosines of the fused unit embedding from those of its two unit halves: (cos_g + w² cos_p) / (1 + w²)."""
    return (s_global + w * w * s_parts) / (1.0 + w * w)


def kind_eers(scores: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    """EER of genuine vs each impostor kind (twin, random) of flat pair arrays; NaN where a kind is absent."""
    out = {}
    for code, name in TM.KIND_NAMES.items():
        out[name] = float(TM.comparison(scores, kinds, code, fars=()).get("eer", float("nan")))
    return out


def mean_eer(eers: dict[str, float]) -> float:
    """Mean of the finite EERs (NaN when none): the twin task's validation criterion, 1 − ``val/score``."""
    vals = [v for v in eers.values() if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def fit_fusion_weight(
    s_global: np.ndarray, s_parts: np.ndarray, kinds: np.ndarray, grid: Sequence[float] = GRID
) -> tuple[float, dict[str, float]]:
    """The ``w`` of ``grid`` with the lowest mean EER on the pairs (flat ``s_global``, ``s_parts``, ``kinds``
    from :func:`thzface.metrics.twin.pair_kinds`; first of the grid on ties or when nothing is finite) and its
    per-kind EERs."""
    best_w, best, best_eers = float(grid[0]), float("inf"), kind_eers(fused_scores(s_global, s_parts, grid[0]), kinds)
    for w in grid:
        eers = kind_eers(fused_scores(s_global, s_parts, w), kinds)
        m = mean_eer(eers)
        if np.isfinite(m) and m < best - 1e-12:
            best_w, best, best_eers = float(w), m, eers
    return best_w, best_eers
