"""Inference path of ``unmask3d`` shared by validation, eval and predict: image → N3D → render → K completions.

Noise is drawn per image from ``torch.Generator(seed)`` seeds, so one image's completion depends only on its
own seed (not on its batch neighbours): the same seed gives the same output, another seed another one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from thzface.models.unmask3d import Noise, Unmask3D, composite
from thzface.recipes.unmask3d.render import Renderer, apply_edits


@dataclass
class Analysis:
    mask_prob: torch.Tensor  # (B, 1, H, W) N3D garment probability
    mask: torch.Tensor  # (B, 1, H, W) binary hole given to the generator (predicted > 0.5, or given)
    coeffs: torch.Tensor  # (B, K) physical coefficients rendered (predicted or given, after edits)
    render: torch.Tensor  # (B, 3, H, W) render of ``coeffs``


@torch.no_grad()
def analyse(
    model: Unmask3D,
    renderer: Renderer,
    image: torch.Tensor,
    edits: Sequence[tuple[int, float]] = (),
    mask: torch.Tensor | None = None,
    coeffs: torch.Tensor | None = None,
) -> Analysis:
    """N3D on ``image`` (B, C, H, W); ``mask``/``coeffs`` replace the predictions (oracle runs, --mask)."""
    out = model.analyse(image)
    prob = torch.sigmoid(out.mask_logits)  # (B, 1, H, W)
    hole = (prob > 0.5).float() if mask is None else mask.float()
    phys = model.destandardise(out.coeffs) if coeffs is None else coeffs  # (B, K)
    phys = apply_edits(phys, list(edits))
    render = renderer.render(phys).to(image.device)  # (B, 3, H, W)
    return Analysis(mask_prob=prob, mask=hole, coeffs=phys, render=render)


def noise_for(model: Unmask3D, image: torch.Tensor, seeds: Sequence[int]) -> Noise:
    """One noise draw per image, image i from ``torch.Generator().manual_seed(seeds[i])``."""
    if len(seeds) != image.shape[0]:
        raise ValueError(f"noise_for: {len(seeds)} seeds for a batch of {image.shape[0]}")
    draws = [model.draw_noise(image[i : i + 1], torch.Generator().manual_seed(int(s))) for i, s in enumerate(seeds)]
    return Noise(fill=torch.cat([d.fill for d in draws]), z=torch.cat([d.z for d in draws]))


@torch.no_grad()
def complete(model: Unmask3D, image: torch.Tensor, a: Analysis, seeds: Sequence[int]) -> torch.Tensor:
    """One completion per image (composite, (B, C, H, W)) with per-image noise seeds."""
    raw = model.generate(image, a.mask, a.render, noise_for(model, image, seeds))
    return composite(raw, image, a.mask)


def sample_seeds(seed: int, k: int, n: int) -> list[int]:
    """Seeds of completion ``k`` for ``n`` images: ``seed * 1000003 + k`` (the same for every image)."""
    return [seed * 1000003 + k] * n


@torch.no_grad()
def samples(model: Unmask3D, image: torch.Tensor, a: Analysis, k: int, seed: int) -> torch.Tensor:
    """``k`` completions per image: (B, k, C, H, W); completion j uses :func:`sample_seeds` (seed, j)."""
    return torch.stack([complete(model, image, a, sample_seeds(seed, j, image.shape[0])) for j in range(k)], dim=1)
