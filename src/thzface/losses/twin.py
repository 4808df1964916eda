"""Losses of the twin recipe: triplet loss split by negative kind (twin / random) and the part-box regression loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.losses.embedding import triplet_margin
from thzface.losses.reduce import check_pair
from thzface.metrics.checks import check_positive


def twin_triplet(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    is_twin: torch.Tensor,
    margin: float,
    distance: str = "euclidean",
) -> dict[str, torch.Tensor]:
    """Triplet loss over (N, D) rows whose negative is the anchor's twin where ``is_twin`` (N,) is True.

    Returns ``{"triplet": mean over all rows of max(0, d(a, p) - d(a, n) + margin)}`` (the training term) plus
    the same mean over twin rows and over random rows (``triplet_twin``, ``triplet_random``; detached, NaN when
    no row is of that kind) for logging.
    """
    where = "twin_triplet"
    check_pair(anchor, negative, where, ("anchor", "negative"), ndim=2)
    if not isinstance(is_twin, torch.Tensor) or is_twin.dtype != torch.bool or is_twin.shape != anchor.shape[:1]:
        raise ValueError(f"{where}: is_twin must be a bool tensor of shape ({anchor.shape[0]},)")
    loss = triplet_margin(anchor, positive, negative, margin=margin, distance=distance)
    out = {"triplet": loss}
    for name, rows in (("triplet_twin", is_twin), ("triplet_random", ~is_twin)):
        if bool(rows.any()):
            out[name] = triplet_margin(anchor[rows], positive[rows], negative[rows], margin, distance).detach()
        else:
            out[name] = torch.tensor(float("nan"), device=anchor.device)
    return out


def box_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, image_size: float) -> torch.Tensor:
    """Smooth-L1 (β = 0.05) between predicted and true part boxes (B, K, 4) in units of the image side; scalar.

    Only rows with ``valid`` (B,) True count (mean over their K·4 coordinates); with none it is 0, still attached
    to the graph.
    """
    where = "box_loss"
    check_pair(pred, target, where, ("pred", "target"), ndim=3)
    image_size = check_positive(image_size, where, "image_size")
    if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool or valid.shape != pred.shape[:1]:
        raise ValueError(f"{where}: valid must be a bool tensor of shape ({pred.shape[0]},)")
    if not bool(valid.any()):
        return pred.sum() * 0.0
    p, t = pred[valid] / image_size, target[valid] / image_size  # (V, K, 4)
    return F.smooth_l1_loss(p, t, beta=0.05)
