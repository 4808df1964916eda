"""Confidence intervals of verification numbers from a bootstrap over identities (numpy).

Pairs of one person are not independent samples: every capture of a person enters many pairs. The unit that
was drawn from the population is the person, so the bootstrap resamples *identities* with replacement and
re-weights the pairs instead of resampling pairs. An identity drawn ``c`` times weighs ``c`` in each of its
genuine pairs and ``c_a * c_b`` in an impostor pair between identities ``a`` and ``b`` (the pairs between two
copies of one person are left out: they are the same captures, not a new person). EER and TAR@FAR of each
replicate are computed on the weighted ROC; the interval is the percentile interval of the replicates.

Conventions as in :mod:`thzface.metrics.verification`: a score is a similarity, a pair is accepted when
``score >= threshold``, tied scores are accepted or rejected together.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from thzface.metrics.checks import as_1d, as_binary, check_lengths
from thzface.metrics.verification import eer_crossing, sorted_roc


def eer_from_rates(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Equal error rate of a ROC given as rates (the crossing rule of :func:`verification.eer`); NaN for NaN rates."""
    if np.isnan(fpr).any():
        return float("nan")
    i, t = eer_crossing(fpr, tpr)
    return float(fpr[i]) if t == 1.0 else float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def tar_from_rates(fpr: np.ndarray, tpr: np.ndarray, far: float) -> float:
    """Highest TAR whose FAR is <= ``far`` (no interpolation), as :func:`verification.tar_at_far`."""
    if np.isnan(fpr).any():
        return float("nan")
    return float(tpr[np.flatnonzero(fpr <= far)[-1]])


def pair_weights(counts: np.ndarray, id_a: np.ndarray, id_b: np.ndarray) -> np.ndarray:
    """Weight of each pair when identity ``k`` was drawn ``counts[k]`` times: ``c_a`` for a genuine pair
    (``id_a == id_b``), ``c_a * c_b`` for an impostor pair."""
    ca, cb = counts[id_a], counts[id_b]
    return np.where(id_a == id_b, ca, ca * cb).astype(np.float64)


def eer_tar_from_counts(tp: np.ndarray, fp: np.ndarray, fars: tuple[float, ...]) -> tuple[float, dict[str, float]]:
    """EER and TAR@FAR (as :func:`eer_from_rates` and :func:`tar_from_rates`) from cumulative genuine and impostor
    weights ``tp``, ``fp`` (T,) at each distinct score, descending — integers, so the crossing is found by a binary
    search instead of a pass over every point (the bootstrap's loop). NaN when a class weighs nothing."""
    pos, neg = int(tp[-1]), int(fp[-1])
    if pos <= 0 or neg <= 0:
        return float("nan"), {f"{f:g}": float("nan") for f in fars}
    # FRR <= FAR  <=>  (pos - tp) / pos <= fp / neg  <=>  tp·neg + fp·pos >= pos·neg; the left side never falls
    i = int(np.searchsorted(tp * neg + fp * pos, pos * neg, side="left")) + 1  # index into the rates with +inf first
    tp0, fp0 = np.r_[0, tp[i - 2 : i - 1]][-1], np.r_[0, fp[i - 2 : i - 1]][-1]  # point i − 1 (0 at +inf)
    d0 = 1.0 - tp0 / pos - fp0 / neg
    d1 = 1.0 - tp[i - 1] / pos - fp[i - 1] / neg
    t = float(d0 / (d0 - d1))
    f0, f1 = fp0 / neg, fp[i - 1] / neg
    eer_value = float(f1) if t == 1.0 else float(f0 + t * (f1 - f0))
    tars = {}
    for far in fars:
        j = int(np.searchsorted(fp / neg, far, side="right"))  # points 1..j of the rates have FAR <= far
        tars[f"{far:g}"] = float(tp[j - 1] / pos) if j > 0 else 0.0
    return eer_value, tars


class BootstrapCI(NamedTuple):
    """Percentile intervals of the identity bootstrap, with the replicates behind them."""

    eer: tuple[float, float]  # (low, high)
    tar_at_far: dict[str, tuple[float, float]]  # "0.01" -> (low, high)
    replicates: int  # replicates with both classes present (those the intervals rest on)
    eer_samples: np.ndarray  # (R,) EER of each replicate (NaN where a class was missing)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def identity_bootstrap(
    scores: Any,
    labels: Any,
    pair_identities: Any,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    fars: tuple[float, ...] = (1e-2,),
) -> BootstrapCI:
    """EER and TAR@FAR intervals of a pair set by resampling its identities.

    ``pair_identities`` (M, 2) holds the identity (any comparable label) of each pair's two sides; a genuine
    pair's two sides must be the same identity and an impostor pair's different ones. Replicates are drawn from
    ``np.random.default_rng(seed)``, so the interval is reproducible.
    """
    where = "identity_bootstrap"
    s = as_1d(scores, where, "scores")
    y = as_binary(labels, where, "labels").astype(np.float64)
    check_lengths(s, y, where, "scores and labels")
    ids = np.asarray(pair_identities)
    if ids.ndim != 2 or ids.shape != (len(s), 2):
        raise ValueError(f"{where}: pair_identities of shape {ids.shape} need to be ({len(s)}, 2)")
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError(f"{where}: n_boot must be a positive int, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"{where}: level must be in (0, 1), got {level!r}")
    uniq, inv = np.unique(ids.ravel(), return_inverse=True)
    a, b = inv.reshape(-1, 2).T  # (M,), (M,)
    if np.any((a == b) != (y == 1)):
        raise ValueError(f"{where}: a genuine pair must join one identity and an impostor pair two")
    roc = sorted_roc(s)
    n_id = len(uniq)
    genuine = y[roc.order] == 1  # (M,) in descending-score order: sorted once, re-weighed R times
    cell = (a[roc.order].astype(np.int64) * n_id + b[roc.order]).astype(np.int32 if n_id < 46_000 else np.int64)
    ends = None if len(roc.ends) == len(s) else roc.ends  # every score distinct: the cumulative sums as they are
    rng = np.random.default_rng(seed)
    eers = np.empty(n_boot)
    tars = {f"{f:g}": np.empty(n_boot) for f in fars}
    for r in range(n_boot):
        counts = np.bincount(rng.integers(0, n_id, n_id), minlength=n_id)  # (I,)
        table = np.outer(counts, counts)  # (I, I) pair_weights of every identity pair: c_a·c_b, c_a on the diagonal
        np.fill_diagonal(table, counts)
        w = table.ravel()[cell]  # (M,) one gather from a small table
        tp = np.cumsum(np.where(genuine, w, 0))  # (M,) cumulative genuine weight
        fp = np.cumsum(w) - tp  # (M,) cumulative impostor weight
        if ends is not None:
            tp, fp = tp[ends], fp[ends]  # (T,) at the end of each run of tied scores
        eers[r], tar = eer_tar_from_counts(tp, fp, fars)
        for k, v in tar.items():
            tars[k][r] = v
    return BootstrapCI(
        eer=_interval(eers, level),
        tar_at_far={k: _interval(v, level) for k, v in tars.items()},
        replicates=int(np.isfinite(eers).sum()),
        eer_samples=eers,
    )
