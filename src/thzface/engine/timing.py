"""The one timing loop: items per second of a step, after a warm-up call, over windows of a minimum duration and
call count (every speed number of evaluations and benchmarks comes from here)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

REPEATS = 3  # timing windows per rate; the best one is kept (a shared machine only ever slows a window down)


def timed_rate(
    step: Callable[[], object], items: int, min_s: float, repeats: int = REPEATS, min_calls: int = 3
) -> float:
    """Items per second of ``step()`` (each call processes ``items``): best of ``repeats`` windows of ≥ min_s
    and ≥ ``min_calls`` calls each, after one warm-up call."""
    if min(items, repeats, min_calls) <= 0 or min_s <= 0:
        raise ValueError(f"timed_rate: items {items}, min_s {min_s}, repeats {repeats}, min_calls {min_calls}: all > 0")
    step()  # warm-up: allocations, kernel selection
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_s and n >= min_calls:
                break
        best = max(best, n * items / elapsed)
    return best


@torch.no_grad()
def throughput(
    model: torch.nn.Module, image_size: int, batch: int, channels: int = 1, min_s: float = 2.0, **forward_kwargs
) -> float:
    """Images per second of ``model(x, **forward_kwargs)`` for a seeded (batch, C, S, S) input: one window of
    ≥ min_s and ≥ 3 calls."""
    model.eval()
    x = torch.rand(batch, channels, image_size, image_size, generator=torch.Generator().manual_seed(0))
    return timed_rate(lambda: model(x, **forward_kwargs), batch, min_s, repeats=1)
