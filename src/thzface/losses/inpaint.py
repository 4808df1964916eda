"""Inpainting losses (torch, differentiable, scalar): whole-image L1 plus a hole-weighted L1; hole-region SSIM.

``w_l1 * mean|pred - target| + w_hole * hole_l1`` where the hole term is, with ``hole_norm``:

* ``"hole"`` — the mean error over the hole pixels of each image (images with an empty hole count 0), so
  its pull does not change as the curriculum grows the holes from 10–30 % to 50–70 %;
* ``"image"`` — the hole error summed and divided by all pixels (the seed code's weighting: the total is then
  ``mean((w_l1 + w_hole * mask) * |pred - target|)``).

:func:`hole_ssim_loss` is 1 − the windowed SSIM map averaged over each image's hole (the benchmark's headline
metric, :func:`thzface.metrics.reconstruction.masked_ssim`, made a loss): unlike L1 it rewards a completion whose
local contrast matches the target's, not only its local mean.

Masks: 1 in the hole, 0 where the input is known; (N, 1|C, H, W) or (N, H, W), values in [0, 1].
"""

from __future__ import annotations

import torch

from thzface.losses.reduce import check_pair
from thzface.metrics.checks import check_images, check_mask, check_positive
from thzface.metrics.ssim import ssim_map

HOLE_NORMS = ("hole", "image")


def hole_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, hole_norm: str = "hole") -> torch.Tensor:
    """The hole term alone (see the module docstring); scalar."""
    where = "hole_l1"
    check_pair(pred, target, where, ("pred", "target"), ndim=4)
    check_images(pred, where, "pred")
    m = check_mask(mask, pred, where).expand_as(pred)  # (N, C, H, W)
    err = m * (pred - target).abs()  # (N, C, H, W)
    if hole_norm == "image":
        return err.mean()
    if hole_norm != "hole":
        raise ValueError(f"{where}: hole_norm {hole_norm!r} is not one of {list(HOLE_NORMS)}")
    per_image = err.flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1e-8)  # (N,)
    return per_image.mean()


def inpaint_l1(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    w_l1: float = 1.0,
    w_hole: float = 6.0,
    hole_norm: str = "hole",
) -> torch.Tensor:
    """``w_l1 * mean|pred - target| + w_hole * hole_l1(pred, target, mask, hole_norm)``; scalar."""
    where = "inpaint_l1"
    w_l1 = check_positive(w_l1, where, "w_l1", allow_zero=True)
    w_hole = check_positive(w_hole, where, "w_hole", allow_zero=True)
    hole = hole_l1(pred, target, mask, hole_norm)
    return w_l1 * (pred - target).abs().mean() + w_hole * hole


def hole_ssim_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 − mean over images of the SSIM map (of the whole images) averaged inside each hole; scalar. Images with
    an empty hole count 0."""
    where = "hole_ssim_loss"
    check_pair(pred, target, where, ("pred", "target"), ndim=4)
    m = check_mask(mask, pred, where).expand_as(pred)  # (N, C, H, W)
    inside = (ssim_map(pred, target) * m).flatten(1).sum(1)  # (N,)
    area = m.flatten(1).sum(1)  # (N,)
    return (area - inside).div(area.clamp_min(1e-8)).mean()
