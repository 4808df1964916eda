"""Face-verification metrics (numpy): ROC/DET, AUC, EER, TAR@FAR, thresholds, k-fold accuracy (pairs of
embeddings: :mod:`thzface.metrics.pairs`).

Conventions: a score is a similarity (higher = more likely the same identity); a label is 1 for a genuine pair
(same identity) and 0 for an impostor pair; a pair is accepted when ``score >= threshold``. The ROC is
evaluated at every distinct score, so tied scores are accepted or rejected together (a tie between a genuine
and an impostor pair moves the curve diagonally and counts half in the AUC). Every function that needs both
classes raises a ValueError naming itself when only one is present.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from thzface.metrics.checks import as_1d, as_binary, check_lengths


class OperatingPoint(NamedTuple):
    """One point of the ROC: true-accept rate, false-accept rate actually reached, and its threshold."""

    tar: float  # fraction of genuine pairs accepted
    far: float  # fraction of impostor pairs accepted (<= the requested FAR)
    threshold: float  # accept when score >= threshold (+inf: accept nothing)


class KFoldResult(NamedTuple):
    """Cross-validated verification accuracy: threshold chosen on k-1 folds, accuracy on the held-out one."""

    mean: float  # mean of the per-fold accuracies
    std: float  # population standard deviation of the per-fold accuracies
    accuracies: np.ndarray  # (k,) held-out accuracy of each fold
    thresholds: np.ndarray  # (k,) threshold chosen for each fold (on the other folds only)
    folds: np.ndarray  # (N,) fold index of each pair


def _scores_labels(scores: Any, labels: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate scores (N,) finite floats and labels (N,) 0/1 with both classes present."""
    s = as_1d(scores, where, "scores")
    y = as_binary(labels, where, "labels")
    check_lengths(s, y, where, "scores and labels")
    if y.all() or not y.any():
        only = "genuine (1)" if y.all() else "impostor (0)"
        raise ValueError(f"{where}: labels contain only {only} pairs; need both genuine (1) and impostor (0)")
    return s, y


class SortedRoc(NamedTuple):
    """Scores sorted once (descending, stable) and the last sorted position of each run of tied scores: what every
    ROC of these scores (plain or weighted, :mod:`thzface.metrics.bootstrap`) shares."""

    order: np.ndarray  # (M,) indices sorting the scores descending
    ends: np.ndarray  # (T,) last sorted position of each distinct score


def sorted_roc(scores: Any) -> SortedRoc:
    s = as_1d(scores, "sorted_roc", "scores")
    order = np.argsort(-s, kind="mergesort")
    return SortedRoc(order, np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1])


def weighted_rates(roc: SortedRoc, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at +inf and at each distinct score of pairs weighing ``weights`` (labels 0/1 as floats); NaN
    arrays when a class weighs nothing."""
    y, w = labels[roc.order], weights[roc.order]
    tp = np.cumsum(w * y)[roc.ends]  # (T,)
    fp = np.cumsum(w * (1 - y))[roc.ends]  # (T,)
    if tp[-1] <= 0 or fp[-1] <= 0:
        nan = np.full(len(roc.ends) + 1, np.nan)
        return nan, nan
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def eer_crossing(fpr: np.ndarray, tpr: np.ndarray) -> tuple[int, float]:
    """Where FRR meets FAR on the DET (FAR rising, FRR falling): the first point ``i`` with FRR <= FAR and the
    fraction ``t`` of the segment from point i-1 to i at which they are equal (1.0: at point i itself)."""
    d = (1.0 - tpr) - fpr  # (T,) from 1 at +inf down to -1
    i = int(np.flatnonzero(d <= 0)[0])
    return i, float(d[i - 1] / (d[i - 1] - d[i]))


def _roc_points(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at +inf and at each distinct score, thresholds descending."""
    roc = sorted_roc(s)
    fpr, tpr = weighted_rates(roc, y.astype(np.float64), np.ones(len(s)))
    return fpr, tpr, np.r_[np.inf, s[roc.order][roc.ends]]


def scored_pairs(ids_a: Any, ids_b: Any, dom_a: Any = None, dom_b: Any = None) -> np.ndarray:
    """(A, B) bool: the pairs of A probes × B gallery items a verification scores — all of them, or with domains
    (the simulated site = scanner of each item's person) the genuine pairs and the impostor pairs within a domain:
    a deployment compares scans of one scanner, and across scanners the scanner alone tells people apart."""
    a, b = np.asarray(ids_a), np.asarray(ids_b)
    if dom_a is None or dom_b is None:
        return np.ones((len(a), len(b)), dtype=bool)
    da, db = np.asarray(dom_a), np.asarray(dom_b)
    return (a[:, None] == b[None, :]) | (da[:, None] == db[None, :])


def probe_gallery_eer(scores: Any, identities: Any, domains: Any = None) -> tuple[float, float]:
    """(EER, threshold) of a probe × gallery score matrix (N, N) whose row i and column i are one capture's two
    scans (concealed probe, unconcealed gallery): those counterpart pairs are left out, the other pairs are
    genuine when the identities (N,) match. With ``domains`` (N,), impostor pairs across domains are left out too
    (:func:`scored_pairs`). (NaN, NaN) without both genuine and impostor pairs."""
    s = np.asarray(scores, dtype=np.float64)
    ids = np.asarray(identities)
    if s.ndim != 2 or s.shape != (len(ids), len(ids)):
        raise ValueError(f"probe_gallery_eer: scores of shape {s.shape} need to be ({len(ids)}, {len(ids)})")
    same = ids[:, None] == ids[None, :]  # (N, N)
    keep = ~np.eye(len(ids), dtype=bool) & scored_pairs(ids, ids, domains, domains)  # (N, N)
    y = same[keep]
    return eer(s[keep], y) if 0 < y.sum() < y.size else (float("nan"), float("nan"))


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC as (fpr, tpr, thresholds), one point per distinct score plus the (0, 0) point at threshold +inf."""
    return _roc_points(*_scores_labels(scores, labels, "roc_curve"))


def det_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET as (fpr, fnr, thresholds): false-accept and false-reject rates at the ROC's thresholds."""
    fpr, tpr, thr = _roc_points(*_scores_labels(scores, labels, "det_curve"))
    return fpr, 1.0 - tpr, thr


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC (trapezoid; equals P(genuine > impostor) + 0.5 P(tie))."""
    fpr, tpr, _ = _roc_points(*_scores_labels(scores, labels, "roc_auc"))
    return float(np.trapezoid(tpr, fpr))


def eer(scores: Any, labels: Any) -> tuple[float, float]:
    """Equal error rate and its threshold, as (eer, threshold).

    Walks the DET points (FAR rising, FRR falling) to the first with FRR <= FAR; if FRR == FAR there, that
    point's rates and threshold are returned, else the crossing of the segment from the previous point is
    interpolated linearly (rates and, when both are finite, thresholds).
    """
    fpr, tpr, thr = _roc_points(*_scores_labels(scores, labels, "eer"))
    i, t = eer_crossing(fpr, tpr)
    if t == 1.0:
        return float(fpr[i]), float(thr[i])
    rate = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    threshold = thr[i] if not np.isfinite(thr[i - 1]) else thr[i - 1] + t * (thr[i] - thr[i - 1])
    return float(rate), float(threshold)


def tar_at_far(scores: Any, labels: Any, far: float) -> OperatingPoint:
    """Highest true-accept rate whose false-accept rate is <= ``far`` (no interpolation between points)."""
    where = "tar_at_far"
    if isinstance(far, bool) or not isinstance(far, (int, float, np.integer, np.floating)) or not 0 <= far <= 1:
        raise ValueError(f"{where}: far must be a number in [0, 1], got {far!r}")
    fpr, tpr, thr = _roc_points(*_scores_labels(scores, labels, where))
    i = int(np.flatnonzero(fpr <= far)[-1])
    return OperatingPoint(float(tpr[i]), float(fpr[i]), float(thr[i]))


def _accuracy_curve(s: np.ndarray, y: np.ndarray, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, thresholds) at +inf and at each distinct score, thresholds descending; ``balanced``: the mean
    of the genuine and impostor accuracies (TAR + TRR) / 2 instead of the pooled accuracy."""
    fpr, tpr, thr = _roc_points(s, y)
    if balanced:
        return 0.5 * (tpr + 1.0 - fpr), thr
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    acc = (tpr * n_pos + (1.0 - fpr) * n_neg) / (n_pos + n_neg)
    return acc, thr


def best_threshold(scores: Any, labels: Any, balanced: bool = False) -> tuple[float, float]:
    """Threshold maximising accuracy on these pairs, as (threshold, accuracy).

    ``balanced=True`` maximises the balanced accuracy (TAR + TRR) / 2 (Youden's J): with far more impostor than
    genuine pairs the pooled accuracy is maximised by rejecting everything, the balanced one is not.

    The threshold returned lies halfway between the chosen score and the next lower distinct score (same
    accuracy on these pairs, a margin for unseen ones); it is the lowest score when everything is accepted
    and +inf when nothing is. Among equally accurate thresholds the highest is taken.
    """
    s, y = _scores_labels(scores, labels, "best_threshold")
    acc, thr = _accuracy_curve(s, y, balanced)
    i = int(np.argmax(acc))
    threshold = thr[i] if i == 0 or i == len(thr) - 1 else 0.5 * (thr[i] + thr[i + 1])
    return float(threshold), float(acc[i])


def kfold_accuracy(scores: Any, labels: Any, k: int = 10, seed: int = 0, balanced: bool = False) -> KFoldResult:
    """k-fold verification accuracy: each fold is scored with the threshold chosen on the other k-1 folds
    (``balanced``: chosen for, and scored by, the balanced accuracy of :func:`best_threshold`).

    Folds are stratified: genuine and impostor pairs are shuffled separately (``np.random.default_rng(seed)``)
    and dealt round-robin, so every fold is non-empty for ``2 <= k <= N``.
    """
    where = "kfold_accuracy"
    s, y = _scores_labels(scores, labels, where)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 2 <= k <= len(s):
        raise ValueError(f"{where}: k must be an int in [2, {len(s)}] (the number of pairs), got {k!r}")
    rng = np.random.default_rng(seed)
    order = np.r_[rng.permutation(np.flatnonzero(y)), rng.permutation(np.flatnonzero(~y))]
    folds = np.empty(len(s), dtype=np.int64)
    k = int(k)
    folds[order] = np.arange(len(s)) % k
    accuracies, thresholds = np.empty(k), np.empty(k)
    for f in range(k):
        held, train = folds == f, folds != f
        if y[train].all() or not y[train].any():
            raise ValueError(f"{where}: the pairs outside fold {f} hold only one class; use a smaller k")
        thresholds[f], _ = best_threshold(s[train], y[train], balanced)
        accept, truth = s[held] >= thresholds[f], y[held]
        accuracies[f] = (
            0.5 * (np.mean(accept[truth]) + np.mean(~accept[~truth])) if balanced else np.mean(accept == truth)
        )
    return KFoldResult(float(accuracies.mean()), float(accuracies.std()), accuracies, thresholds, folds)


def triplet_accuracy(d_ap: Any, d_an: Any) -> float:
    """Fraction of triplets with d(anchor, positive) < d(anchor, negative) (ties count as failures).

    This is the seed system's "verification accuracy"; it is reported for comparison only, next to ROC/EER.
    """
    where = "triplet_accuracy"
    ap, an = as_1d(d_ap, where, "d_ap"), as_1d(d_an, where, "d_an")
    check_lengths(ap, an, where, "d_ap and d_an")
    return float(np.mean(ap < an))


class ThresholdMetrics(NamedTuple):
    """Verification at one fixed (deployed) threshold: a pair is accepted when ``score >= threshold``."""

    threshold: float  # the threshold scored (not refitted on these pairs)
    tar: float  # genuine pairs accepted / genuine pairs
    far: float  # impostor pairs accepted / impostor pairs
    frr: float  # 1 - tar
    trr: float  # 1 - far (impostors rejected)
    balanced_accuracy: float  # (tar + trr) / 2
    accuracy: float  # pooled: correct decisions / all pairs


def at_threshold(scores: Any, labels: Any, threshold: float) -> ThresholdMetrics:
    """TAR, FAR and accuracies of these pairs at a given threshold (e.g. the run's deployed one)."""
    where = "at_threshold"
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where}: threshold must be a number, got {threshold!r}")
    if np.isnan(threshold):
        raise ValueError(f"{where}: threshold is NaN")
    s, y = _scores_labels(scores, labels, where)
    accept = s >= threshold
    tar, far = float(accept[y].mean()), float(accept[~y].mean())
    acc = float((accept == y).mean())
    return ThresholdMetrics(float(threshold), tar, far, 1.0 - tar, 1.0 - far, 0.5 * (tar + 1.0 - far), acc)


def verification_summary(
    scores: Any, labels: Any, threshold: float | None = None, fars: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
) -> dict[str, Any]:
    """JSON-ready verification numbers of one pair set: the oracle EER (its threshold fit on these very pairs),
    AUC, TAR@FAR for each of ``fars`` (keys like ``"0.01"``) and, when ``threshold`` is given, the metrics at
    that deployed threshold (:func:`at_threshold`) beside them."""
    rate, eer_threshold = eer(scores, labels)
    y = as_binary(labels, "verification_summary", "labels")
    out: dict[str, Any] = {
        "eer": rate,
        "eer_threshold": eer_threshold,
        "auc": roc_auc(scores, labels),
        "tar_at_far": {f"{far:g}": tar_at_far(scores, labels, far)._asdict() for far in fars},
        "genuine_pairs": int(y.sum()),
        "impostor_pairs": int((~y).sum()),
    }
    if threshold is not None:
        out["deployed"] = at_threshold(scores, labels, threshold)._asdict()
    return out
