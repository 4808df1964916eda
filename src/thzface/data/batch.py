"""The typed batch of the THz triplet recipes (``mtl``, ``distill``, ``twin``): what a dataset item holds and what
the default collate makes of it (a leading batch dimension B on every tensor, ``names`` a list)."""

from __future__ import annotations

from typing import TypedDict

import torch


class TripletBatch(TypedDict):
    """One (anchor, positive, negative) triplet per row; shapes are per batch (drop B for one dataset item)."""

    anchor: torch.Tensor  # (B, 1, S, S) concealed scan, in [0, 1]
    positive: torch.Tensor  # (B, 1, S, S) unconcealed scan of the same identity/posture (another capture)
    target: torch.Tensor  # (B, 1, S, S) reconstruction target: positive, or the noise-free clean image
    negative: torch.Tensor  # (B, 1, S, S) scan of another identity
    identity: torch.Tensor  # (B,) int64 anchor identity index
    neg_identity: torch.Tensor  # (B,) int64 negative identity index
    posture: torch.Tensor  # (B,) int64 anchor posture index (0..4)
    neg_posture: torch.Tensor  # (B,) int64 negative posture index
    garment_mask: torch.Tensor  # (B, 1, S, S) garment mask from aux/ (zeros when absent)
    has_mask: torch.Tensor  # (B,) bool: garment_mask is real
    names: list[str]  # anchor file names


class VisibleTripletBatch(TripletBatch, total=False):
    """A triplet batch with the visible images (``data.use_visible: true``, the distill recipe)."""

    vis_concealed: torch.Tensor  # (B, 3, S, S) visible photo of the anchor (zeros when absent)
    vis_unconcealed: torch.Tensor  # (B, 3, S, S) visible photo of the positive
    vis_negative: torch.Tensor  # (B, 3, S, S) visible photo of the negative
    vis_present: torch.Tensor  # (B, 3) bool: which of the three visible photos exist
