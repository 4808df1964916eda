"""Model size and cost: trainable parameter count and FLOPs per sample (torch's FlopCounterMode)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter elements (trainable ones by default); buffers such as BN running stats excluded."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def flops_per_sample(model: nn.Module, image_size: int | None = None, batch: int = 2) -> int:
    """Inference FLOPs per sample of ``model(x)`` in eval mode, counted by ``torch.utils.flop_counter``.

    Counts the matmul/conv family (conv, linear, bmm, attention), **2 FLOPs per multiply-add** (so
    multiply-adds = FLOPs / 2); element-wise ops, norms, activations and PixelShuffle are not counted. The model
    runs its default routing, so a hard mixture counts one expert per sample and a soft one all experts.
    ``image_size`` defaults to ``model.cfg.image_size``; input channels come from ``model.cfg.in_channels``.
    """
    cfg = getattr(model, "cfg", None)
    size = image_size if image_size is not None else getattr(cfg, "image_size", None)
    channels = getattr(cfg, "in_channels", None)
    if size is None or channels is None:
        raise ValueError("flops_per_sample: model has no cfg.image_size/in_channels; pass image_size")
    if int(size) <= 0 or batch <= 0:
        raise ValueError(f"flops_per_sample: image_size and batch must be positive, got {size}, {batch}")
    param = next(model.parameters())
    x = torch.zeros(batch, channels, int(size), int(size), dtype=param.dtype, device=param.device)
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // batch
