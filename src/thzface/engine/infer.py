"""Inference helpers every recipe shares: the one collect loop, the one predict loop, the verification decision at
the run's deployed threshold (:class:`thzface.engine.run.Run`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thzface.engine.run import THRESHOLD, Run


def concat(parts: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-key concatenation of batch outputs (0-dim values are stacked)."""
    return {k: torch.cat(v) if v[0].dim() > 0 else torch.stack(v) for k, v in parts.items()}


@torch.no_grad()
def collect(step: Callable[[dict], dict[str, torch.Tensor]], batches: Iterable[dict]) -> dict[str, np.ndarray]:
    """The one evaluation loop: ``step(batch) -> {name: (n, ...) tensor}`` on every batch without gradients,
    concatenated per name into float numpy arrays (N, ...)."""
    parts: dict[str, list[torch.Tensor]] = defaultdict(list)
    for batch in batches:
        for k, v in step(batch).items():
            parts[k].append(v.detach().cpu())
    if not parts:
        raise ValueError("collect: no batches (empty test set)")
    return {k: v.float().numpy() for k, v in concat(parts).items()}


def predict_files(
    files: list[Path], batch_size: int, run: Callable[[list[Path]], dict]
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The one predict loop: ``run(chunk of files) -> {name: per-file sequence}`` over chunks of ``batch_size``;
    yields ``(file, {name: value of that file})``."""
    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        res = run(chunk)
        for j, f in enumerate(chunk):
            yield f, {k: (v[j] if v is not None else None) for k, v in res.items()}


def decide(run: Run, a: Path, b: Path, e_a: np.ndarray, e_b: np.ndarray, threshold: float | None) -> dict:
    """The one verification decision: cosine score of two embeddings against ``threshold`` (default: the run's)."""
    score = float(e_a @ e_b / (np.linalg.norm(e_a) * np.linalg.norm(e_b)))
    thr = threshold if threshold is not None else run.threshold
    if thr is None:
        raise ValueError(f"{run.where}: no {THRESHOLD} (the run has no validation threshold) and no --threshold given")
    where = f"RUN/{THRESHOLD}" if run.folder is not None else "the weights' metadata"  # shipped: their run's
    source = "--threshold" if threshold is not None else f"{where} ({run.threshold_source})"
    return {"a": str(a), "b": str(b), "score": score, "threshold": thr, "threshold_source": source,
            "same_person": bool(score >= thr)}  # fmt: skip
