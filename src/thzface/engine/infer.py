"""Inference helpers every recipe shares: throughput timing, the one predict loop, the one collect loop."""

from __future__ import annotations

import time

import torch


@torch.no_grad()
def throughput(
    model: torch.nn.Module,
    image_size: int,
    batch: int,
    channels: int = 1,
    min_s: float = 2.0,
    **forward_kwargs,
) -> float:
    """Images per second of ``model(x, **forward_kwargs)`` for a (batch, C, S, S) input, timed for ≥ min_s."""
    model.eval()
    x = torch.rand(batch, channels, image_size, image_size, generator=torch.Generator().manual_seed(0))
    model(x, **forward_kwargs)  # warm-up
    n, start = 0, time.perf_counter()
    while True:
        model(x, **forward_kwargs)
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= min_s and n >= 3 * batch:
            return n / elapsed
