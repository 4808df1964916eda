"""Privileged-geometry losses for pretraining on simulated people: the person's shape coefficients regressed
from the embedding, and the scan's pose regressed from the trunk (training-only heads; never deployed).

The shape target is the same for every capture of a person, so a head that regresses it from the embedding asks
the embedding to keep what stays with the person whatever the pose (3DMM-regression face recognition is the
precedent); the pose target tells the trunk what to factor out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.metrics.checks import check_float_tensor

POSE_KEYS = ("yaw", "pitch", "roll", "dx", "dy")  # degrees, degrees, degrees, mm, mm
POSE_SCALE = (30.0, 20.0, 5.0, 10.0, 10.0)  # the size of each pose term's spread: residuals in these units


def _pair(pred: torch.Tensor, target: torch.Tensor, where: str) -> torch.Tensor:
    check_float_tensor(pred, where, "pred", ndim=2)
    if tuple(target.shape) != tuple(pred.shape):
        raise ValueError(f"{where}: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if pred.shape[0] < 1:
        raise ValueError(f"{where}: empty batch")
    return target.to(pred)


def shape_regression(pred: torch.Tensor, target: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Mean squared error of shape coefficients (B, S) in units of the model's coefficient spread ``sigma``
    (a prediction of all zeros, the mean face, scores about 1 on random people); scalar."""
    t = _pair(pred, target, "shape_regression")
    if not sigma > 0:
        raise ValueError(f"shape_regression: sigma must be positive, got {sigma!r}")
    return F.mse_loss(pred / sigma, t / sigma)


def pose_regression(
    pred: torch.Tensor, target: torch.Tensor, scale: tuple[float, ...] = POSE_SCALE, beta: float = 1.0
) -> torch.Tensor:
    """Smooth-L1 (Huber, ``beta`` in scaled units) of the pose (B, P) — yaw, pitch, roll in degrees, dx, dy in
    mm (:data:`POSE_KEYS`), or a prefix of them — each term divided by its ``scale``; scalar."""
    t = _pair(pred, target, "pose_regression")
    if len(scale) < pred.shape[1]:
        raise ValueError(f"pose_regression: {pred.shape[1]} pose terms but {len(scale)} scales")
    s = pred.new_tensor(scale[: pred.shape[1]])  # (P,)
    return F.smooth_l1_loss(pred / s, t / s, beta=beta)
