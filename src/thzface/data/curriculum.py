"""A curriculum over the pose range for joint P×K batches (``train.pose_curriculum``): early epochs draw each
posture's most typical captures, later ones widen to all of them.

What hides a person in a scan is pose (|yaw| 15–45° inside "left", roll, placement: docs/benchmarks.md); a learner
that first sees captures near each posture's typical pose meets the person before the pose spread. A capture's
*difficulty* is how far its pose lies from its posture's median, each pose term in units of that posture's spread
(median absolute deviation), as a rank quantile within the posture in (0, 1] — so every posture keeps its share of
the captures at every level. At level ``q`` a capture is drawn when its difficulty is at most ``q``, and every
person keeps their ``k`` easiest captures so that no one leaves the batches.
"""

from __future__ import annotations

import numpy as np


def pose_difficulty(pose: np.ndarray, posture: np.ndarray) -> np.ndarray:
    """Rank quantile in (0, 1] of each capture's distance from its posture's median pose; pose (N, P) with terms
    such as yaw, pitch, roll, dx, dy; posture (N,) int labels. Ties keep capture order (a stable rank)."""
    pose = np.asarray(pose, dtype=np.float64)
    posture = np.asarray(posture)
    if pose.ndim != 2 or posture.shape != (pose.shape[0],):
        raise ValueError(f"pose_difficulty: pose (N, P) and posture (N,) expected, got {pose.shape}, {posture.shape}")
    if not np.isfinite(pose).all():
        raise ValueError("pose_difficulty: pose holds NaN or inf")
    out = np.zeros(len(pose))
    for q in np.unique(posture):
        m = posture == q
        x = pose[m]  # (n, P)
        med = np.median(x, axis=0)  # (P,)
        mad = np.median(np.abs(x - med), axis=0)  # (P,)
        z = (x - med) / np.where(mad > 0, mad, 1.0)  # (n, P) in units of the posture's spread
        dist = np.sqrt((z * z).sum(axis=1))  # (n,)
        rank = np.empty(len(dist))
        rank[np.argsort(dist, kind="stable")] = np.arange(1, len(dist) + 1)
        out[m] = rank / len(dist)
    return out


def curriculum_level(epoch: int, epochs: int, start: float) -> float:
    """Share of each posture's captures drawn in ``epoch``: ``start`` at epoch 0, rising linearly to 1 at
    ``epochs`` (and 1 after it; ``epochs`` 0 is no curriculum)."""
    if not 0.0 < start <= 1.0:
        raise ValueError(f"train.pose_curriculum_start={start}: expected a share in (0, 1]")
    if epochs < 0:
        raise ValueError(f"train.pose_curriculum={epochs}: expected a number of epochs >= 0")
    if epochs == 0 or epoch >= epochs:
        return 1.0
    return start + (1.0 - start) * max(epoch, 0) / epochs


def curriculum_members(difficulty: np.ndarray, group: np.ndarray, k: int, level: float) -> np.ndarray:
    """Indices (ascending) of the captures drawn at ``level``: difficulty <= level, and every group's (person's)
    ``k`` easiest captures whatever their difficulty."""
    difficulty, group = np.asarray(difficulty, dtype=np.float64), np.asarray(group)
    if difficulty.shape != group.shape or difficulty.ndim != 1:
        raise ValueError(f"curriculum_members: difficulty, group must be (N,), got {difficulty.shape}, {group.shape}")
    keep = difficulty <= level
    order = np.lexsort((difficulty, group))  # by group, easiest first
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]  # start of each group in ``order``
    start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    keep[order[np.arange(len(g)) - start < k]] = True
    return np.flatnonzero(keep)
