"""Reductions shared by the losses: weighted per-sample means that skip weight-0 samples, argument checks."""

from __future__ import annotations

import torch

from thzface.metrics.checks import check_float_tensor


def check_labels(labels: torch.Tensor, n: int, where: str, name: str = "labels") -> torch.Tensor:
    """Require an integer tensor (N,) matching a batch of ``n``; return it unchanged."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{where}: {name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"{where}: {name} must be an integer tensor, got {labels.dtype}")
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"{where}: {name} must have shape ({n},), got {tuple(labels.shape)}")
    return labels


def check_weight(weight: torch.Tensor | None, n: int, like: torch.Tensor, where: str) -> torch.Tensor | None:
    """Optional per-sample weight (N,) (bool mask or floats >= 0) → float tensor of ``like``'s
    dtype/device."""
    if weight is None:
        return None
    if not isinstance(weight, torch.Tensor) or weight.ndim != 1 or weight.shape[0] != n:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"{where}: weight must be a tensor of shape ({n},), got {shape}")
    w = weight.to(device=like.device, dtype=like.dtype)
    if bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
        raise ValueError(f"{where}: weight must be finite and >= 0")
    return w


def weighted_mean(per_sample: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of (N,) values, or sum(w * v) / sum(w) with a weight (N,); 0 (with grad) when all weights are
    0."""
    if weight is None:
        return per_sample.mean()
    kept = torch.where(weight > 0, per_sample, torch.zeros_like(per_sample))  # (N,) NaN-safe skip
    return (kept * weight).sum() / weight.sum().clamp_min(1e-12)


def check_pair(a: torch.Tensor, b: torch.Tensor, where: str, names: tuple[str, str], ndim: int | None = None) -> None:
    """Two floating tensors of equal shape (and ``ndim`` dims when given), batch size >= 1."""
    check_float_tensor(a, where, names[0], ndim)
    check_float_tensor(b, where, names[1], ndim)
    if a.shape != b.shape:
        raise ValueError(f"{where}: {names[0]} and {names[1]} shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.ndim < 1 or a.shape[0] < 1:
        raise ValueError(f"{where}: {names[0]} has an empty batch, shape {tuple(a.shape)}")
