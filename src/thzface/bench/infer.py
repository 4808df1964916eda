"""Inference throughput (images/s) of a run or model on this machine, batch 1 and batched."""

from __future__ import annotations

import time
from pathlib import Path

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


def run(args) -> dict:
    from thzface.engine.checkpoint import load_run

    run_dir = Path(args.data) if args.data else None
    if run_dir is None:
        raise ValueError("bench infer: pass the run folder with --data RUN")
    cfg, model, _ = load_run(run_dir)
    size = cfg.data.image_size
    res = {
        "run": str(run_dir),
        "images_per_s_batch1": throughput(model, size, 1),
        "images_per_s_batch64": throughput(model, size, 64),
    }
    res["table"] = "\n".join(f"{k}: {v:.1f}" for k, v in res.items() if isinstance(v, float))
    return res
