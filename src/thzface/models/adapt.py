"""Scanner adaptation without labels: BatchNorm statistics re-estimated on a new scanner's scans (AdaBN, Li et al.
2016, "Revisiting Batch Normalization For Practical Domain Adaptation").

Why it matters here: pretraining draws every batch from one site (``train.pk_domain: site``), so inside training
each BatchNorm normalises with *one scanner's* batch statistics, while the running statistics a model is deployed
with average over every training scanner. A scan of a scanner never trained on is then normalised by statistics of
no scanner at all. Re-estimating the running statistics on unlabeled scans of the new scanner restores what
training saw: no identity label, no gradient, no weight other than the BatchNorm buffers changes.

* :func:`batchnorm_layers` — the model's BatchNorm modules;
* :func:`adapt_batchnorm` — a copy of the model with running means and variances re-estimated (a cumulative
  average over the given batches, every forward call counting once) through a forward function; the source is
  left unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every BatchNorm (1d/2d/3d, sync) module of ``model`` that tracks running statistics."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def adapt_batchnorm(
    model: nn.Module,
    batches: Iterable[torch.Tensor],
    forward: Callable[[nn.Module, torch.Tensor], object] | None = None,
) -> nn.Module:
    """A copy of ``model`` (in eval mode) whose BatchNorm running statistics are those of ``batches``.

    Each BatchNorm's running mean and variance are reset and re-estimated as the cumulative average of the batch
    statistics of every forward pass (``momentum=None``), with only the BatchNorm layers in training mode (dropout
    and the like stay off); ``forward(model, x)`` runs one batch (default ``model(x)``), so the layers see the same
    path deployment takes (e.g. ``MultiTaskModel.infer``, flip test included). ValueError when the model has no
    BatchNorm or no batch was given; a batch of one image is refused (its variance is undefined)."""
    out = copy.deepcopy(model).eval()
    layers = batchnorm_layers(out)
    if not layers:
        raise ValueError(f"{type(model).__name__}: no BatchNorm layer to adapt")
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts by its number of calls
        m.train()
    run = forward or (lambda net, x: net(x))
    seen = 0
    for x in batches:
        if x.shape[0] < 2:
            raise ValueError(f"adapt_batchnorm: a batch of {x.shape[0]} image(s); BatchNorm needs >= 2")
        run(out, x)
        seen += 1
    if seen == 0:
        raise ValueError("adapt_batchnorm: no batch to adapt on")
    for m, mom in zip(layers, momenta, strict=True):
        m.momentum = mom
    return out.eval()
