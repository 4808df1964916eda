"""Margin-softmax identity heads (training only): CosFace, ArcFace, AdaFace logits, a head module, a builder.

The pure functions take ``cos`` (N, C) — cosines between L2-normalised embeddings and L2-normalised class
weights, :func:`cosine_logits` — and integer ``labels`` (N,), and return scaled logits (N, C) for a
cross-entropy; non-target logits are ``s·cos θ_j`` throughout.

* CosFace (Wang et al. 2018): target ``s·(cos θ_y − m)``.
* ArcFace (Deng et al. 2019, insightface's ``ArcFace``): target ``s·cos(θ_y + m)``; where ``θ_y + m`` would
  pass π (``cos θ_y <= cos(π − m)``) the monotone fallback ``s·(cos θ_y − m·sin m)`` is used instead;
  ``easy_margin`` applies the margin only where ``cos θ_y > 0`` (the target stays ``s·cos θ_y`` elsewhere).
* AdaFace (Kim et al. 2022, the official ``AdaFace`` head): with the feature norm ``‖z‖`` (before
  normalisation, not differentiated) and batch statistics ``μ, σ`` (an EMA with ``t_alpha`` = 0.01, updated
  before use, :func:`update_norm_stats`), ``ĝ = clip(h·(‖z‖ − μ)/(σ + ε), −1, 1)``; every cosine is clipped
  to ``[−1 + ε, 1 − ε]``; the target angle becomes ``θ_y − m·ĝ`` (clipped to ``[ε, π − ε]``) and the target
  logit ``s·(cos(θ_y − m·ĝ) − (m + m·ĝ))``. High-norm (good-quality) samples get an angular margin, low-norm
  ones an additive one. Pass the **unnormalised** embeddings to the module, or every norm is 1 and ĝ → 0.

:class:`MarginHead` holds the class-weight matrix (C, D): it is a training-only head and must stay out of the
deployable embedder's weights. :func:`build_identity_loss` combines any of ``supcon`` / ``cosface`` /
``arcface`` / ``adaface`` with weights into one module returning ``{"loss": total, kind: term, ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from thzface.losses.embedding import supcon
from thzface.losses.reduce import check_labels
from thzface.metrics.checks import check_float_tensor

MARGIN_KINDS = ("cosface", "arcface", "adaface")
KINDS = ("supcon", *MARGIN_KINDS)
DEFAULTS: dict[str, tuple[float, float]] = {"cosface": (64.0, 0.35), "arcface": (64.0, 0.5), "adaface": (64.0, 0.4)}
ADAFACE_EPS = 1e-3  # AdaFace's ε (cosine clip, angle clip, σ guard)


def cosine_logits(embeddings: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Cosines (N, C) between rows of ``embeddings`` (N, D) and class weights (C, D), both L2-normalised here."""
    check_float_tensor(embeddings, "cosine_logits", "embeddings", ndim=2)
    check_float_tensor(weight, "cosine_logits", "weight", ndim=2)
    if embeddings.shape[1] != weight.shape[1]:
        raise ValueError(f"cosine_logits: embedding dim {embeddings.shape[1]} != weight dim {weight.shape[1]}")
    return F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T  # (N, C)


def _target(cos: torch.Tensor, labels: torch.Tensor, where: str) -> torch.Tensor:
    """One-hot bool mask (N, C) of each row's label, after checking shapes and label range."""
    check_float_tensor(cos, where, "cos", ndim=2)
    n, c = cos.shape
    check_labels(labels, n, where)
    if n and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise ValueError(
            f"{where}: labels must be class ids in [0, {c}), got [{int(labels.min())}, {int(labels.max())}]"
        )
    return F.one_hot(labels.to(cos.device).long(), c).bool()  # (N, C)


def cosface_logits(cos: torch.Tensor, labels: torch.Tensor, s: float, m: float) -> torch.Tensor:
    """CosFace: ``s·(cos − m·onehot)`` (N, C)."""
    onehot = _target(cos, labels, "cosface_logits")  # (N, C)
    return s * (cos - m * onehot.to(cos.dtype))  # (N, C)


def arcface_logits(
    cos: torch.Tensor, labels: torch.Tensor, s: float, m: float, easy_margin: bool = False
) -> torch.Tensor:
    """ArcFace: target ``s·cos(θ + m)`` with insightface's fallback (see the module docstring); (N, C)."""
    onehot = _target(cos, labels, "arcface_logits")  # (N, C)
    c = cos.clamp(-1.0, 1.0)  # (N, C)
    sin = (1.0 - c * c).clamp_min(1e-12).sqrt()  # (N, C)
    phi = c * math.cos(m) - sin * math.sin(m)  # (N, C) cos(θ + m)
    if easy_margin:
        phi = torch.where(c > 0, phi, c)
    else:
        phi = torch.where(c > math.cos(math.pi - m), phi, c - math.sin(math.pi - m) * m)
    return s * torch.where(onehot, phi, c)  # (N, C)


def adaface_scaler(norms: torch.Tensor, mean: float, std: float, h: float = 0.333) -> torch.Tensor:
    """ĝ (N,) = clip(h·(‖z‖ − μ)/(σ + ε), −1, 1) with the norms clipped to [0.001, 100] and not differentiated."""
    safe = norms.detach().clamp(0.001, 100.0)  # (N,)
    return (h * (safe - mean) / (std + ADAFACE_EPS)).clamp(-1.0, 1.0)  # (N,)


def update_norm_stats(norms: torch.Tensor, mean: float, std: float, t_alpha: float = 0.01) -> tuple[float, float]:
    """AdaFace's EMA of the batch's feature-norm mean and (unbiased) std; a batch of one keeps the old std."""
    safe = norms.detach().clamp(0.001, 100.0)  # (N,)
    new_mean = t_alpha * float(safe.mean()) + (1.0 - t_alpha) * mean
    new_std = t_alpha * float(safe.std()) + (1.0 - t_alpha) * std if safe.numel() > 1 else std
    return new_mean, new_std


def adaface_logits(cos: torch.Tensor, labels: torch.Tensor, scaler: torch.Tensor, s: float, m: float) -> torch.Tensor:
    """AdaFace logits (N, C) given the per-sample margin scaler ĝ (N,) of :func:`adaface_scaler`."""
    onehot = _target(cos, labels, "adaface_logits").to(cos.dtype)  # (N, C)
    g = scaler.to(cos)[:, None]  # (N, 1)
    theta = cos.clamp(-1.0 + ADAFACE_EPS, 1.0 - ADAFACE_EPS).acos()  # (N, C)
    theta_m = (theta - m * g * onehot).clamp(ADAFACE_EPS, math.pi - ADAFACE_EPS)  # (N, C)
    return s * (theta_m.cos() - (m + m * g) * onehot)  # (N, C)


class MarginHead(nn.Module):
    """Class-weight matrix (C, D) and one margin kind; ``forward(embeddings, labels)`` → mean cross-entropy.

    Training only: keep it in the task, not in the deployable model. ``embeddings`` may be unnormalised (AdaFace
    reads their norms; the others normalise). AdaFace updates its norm statistics only in training mode.
    """

    norm_stats: torch.Tensor  # (2,) buffer: AdaFace's EMA of the feature-norm mean and std

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        kind: str = "arcface",
        s: float | None = None,
        m: float | None = None,
        easy_margin: bool = False,
        h: float = 0.333,
        t_alpha: float = 0.01,
    ) -> None:
        super().__init__()
        if kind not in MARGIN_KINDS:
            raise ValueError(f"margin head kind={kind!r}: expected one of {list(MARGIN_KINDS)}")
        if num_classes < 2 or embedding_dim < 1:
            raise ValueError(
                f"margin head: num_classes={num_classes} must be >= 2 and embedding_dim={embedding_dim} >= 1"
            )
        self.kind, self.easy_margin, self.h, self.t_alpha = kind, easy_margin, h, t_alpha
        self.s = DEFAULTS[kind][0] if s is None else float(s)
        self.m = DEFAULTS[kind][1] if m is None else float(m)
        if self.s <= 0 or self.m < 0:
            raise ValueError(f"margin head: s={self.s} must be > 0 and m={self.m} >= 0")
        self.weight = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.01)  # (C, D)
        self.register_buffer("norm_stats", torch.tensor([20.0, 100.0]))  # (2,) AdaFace EMA μ, σ of ‖z‖ (official init)

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Margin logits (N, C) of this head's kind."""
        cos = cosine_logits(embeddings, self.weight)  # (N, C)
        if self.kind == "cosface":
            return cosface_logits(cos, labels, self.s, self.m)
        if self.kind == "arcface":
            return arcface_logits(cos, labels, self.s, self.m, self.easy_margin)
        norms = embeddings.norm(dim=1)  # (N,)
        mean, std = (float(v) for v in self.norm_stats)
        if self.training:
            mean, std = update_norm_stats(norms, mean, std, self.t_alpha)
            self.norm_stats.copy_(torch.tensor([mean, std]))
        return adaface_logits(cos, labels, adaface_scaler(norms, mean, std, self.h), self.s, self.m)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(embeddings, labels), labels.to(embeddings.device).long())


class IdentityLoss(nn.Module):
    """Weighted sum of identity terms on one batch: ``forward(embeddings, labels)`` → {"loss", term: value}."""

    def __init__(self, weights: Mapping[str, float], heads: Mapping[str, MarginHead], temperature: float) -> None:
        super().__init__()
        self.weights = dict(weights)
        self.heads = nn.ModuleDict(dict(heads))
        self.temperature = temperature

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = {
            kind: supcon(embeddings, labels, self.temperature)
            if kind == "supcon"
            else self.heads[kind](embeddings, labels)
            for kind in self.weights
        }
        total = sum((self.weights[k] * v for k, v in terms.items()), embeddings.new_zeros(()))
        return {"loss": total, **terms}


def build_identity_loss(
    weights: Mapping[str, float],
    num_classes: int = 0,
    embedding_dim: int = 0,
    temperature: float = 0.07,
    s: float | None = None,
    m: float | None = None,
    easy_margin: bool = False,
) -> IdentityLoss:
    """The identity objective for ``weights`` {kind: weight}, kinds in :data:`KINDS`; weight-0 terms are left out.

    A margin kind needs ``num_classes`` (training identities) and ``embedding_dim``; ``s``/``m`` default per
    kind (:data:`DEFAULTS`: the papers' values). Its parameters are training-only. Raises ValueError on unknown
    kinds, negative weights or no positive weight.
    """
    unknown = sorted(set(weights) - set(KINDS))
    if unknown:
        raise ValueError(f"identity loss: unknown kinds {unknown}; expected some of {list(KINDS)}")
    if any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError(f"identity loss: weights must be finite and >= 0, got {dict(weights)}")
    used = {k: float(w) for k, w in weights.items() if w > 0}
    if not used:
        raise ValueError(f"identity loss: no positive weight in {dict(weights)}")
    heads = {k: MarginHead(num_classes, embedding_dim, k, s, m, easy_margin) for k in used if k in MARGIN_KINDS}
    return IdentityLoss(used, heads, temperature)
