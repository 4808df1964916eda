"""Trivial inpainting baselines for the benchmark: masked-mean fill and diffusion (harmonic) fill.

Both keep the known pixels and only paint the hole, like the model's composite; they are the model's own hole
fills (:func:`thzface.models.inpaint.hide_holes`) used alone.
"""

from __future__ import annotations

import torch

from thzface.models.inpaint import diffusion_fill, hide_holes


def mean_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hole ← per-image, per-channel mean of the known pixels. (B, C, H, W), mask (B, 1, H, W) → (B, C, H, W)."""
    return hide_holes(image, mask, "mean")


BASELINES = {"mean-fill": mean_fill, "diffusion-fill": diffusion_fill}
