"""Inference helpers every recipe shares: the one collect loop, the one predict loop, the deployed threshold
(stored by training from validation identities, loaded, applied), the run's recorded identity split, throughput
timing."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thzface.config import atomic_write_text
from thzface.data.identity_split import IdentitySplit


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


THRESHOLD = "threshold.json"  # RUN/threshold.json: the deployed verification threshold and where it came from
SPLIT = "split.json"  # RUN/split.json: the data folder a run trained on and its training / validation identities


def save_threshold(run: Path, threshold: float, source: str) -> None:
    """Store the run's deployed verification threshold (written by training, from validation identities only)."""
    atomic_write_text(Path(run) / THRESHOLD, json.dumps({"threshold": float(threshold), "source": source}))


def load_threshold(run: Path) -> float | None:
    """The run's stored threshold, None when there is none yet."""
    f = Path(run) / THRESHOLD
    return float(json.loads(f.read_text())["threshold"]) if f.is_file() else None


def threshold_source(run: Path) -> str | None:
    """Where the run's stored threshold came from (None without one)."""
    f = Path(run) / THRESHOLD
    return str(json.loads(f.read_text()).get("source", "")) if f.is_file() else None


def save_split(run: Path, data: Path, split: IdentitySplit | None = None) -> None:
    """Record the data folder a run trains on and, for verification recipes, its training / validation identities
    (``eval`` reads both)."""
    doc: dict[str, Any] = {"data": str(Path(data).resolve())}
    if split is not None:
        doc.update(train=list(split.train), val=list(split.val))
    atomic_write_text(Path(run) / SPLIT, json.dumps(doc, indent=1))


def _split_doc(run: Path) -> dict | None:
    f = Path(run) / SPLIT
    if not f.is_file():
        return None
    try:
        doc = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not a thzface split file ({e})") from None
    if not isinstance(doc, dict) or "data" not in doc:
        raise ValueError(f"{f}: not a thzface split file (no 'data' entry)")
    return doc


def load_split(run: Path) -> IdentitySplit | None:
    """The run's training / validation identities, None for runs without an identity split."""
    doc = _split_doc(run)
    if doc is None or "train" not in doc:
        return None
    return IdentitySplit(tuple(doc["train"]), tuple(doc.get("val", ())))


def run_data(run: Path) -> Path | None:
    """The data folder the run trained on (None for runs trained before it was recorded)."""
    doc = _split_doc(run)
    return Path(doc["data"]) if doc is not None else None


def decide(run: Path, a: Path, b: Path, e_a: np.ndarray, e_b: np.ndarray, threshold: float | None) -> dict:
    """The one verification decision: cosine score of two embeddings against ``threshold`` (default: the run's)."""
    score = float(e_a @ e_b / (np.linalg.norm(e_a) * np.linalg.norm(e_b)))
    thr = threshold if threshold is not None else load_threshold(run)
    if thr is None:
        raise ValueError(f"{run}: no {THRESHOLD} (the run has no validation threshold) and no --threshold given")
    source = "--threshold" if threshold is not None else f"RUN/{THRESHOLD} ({threshold_source(run)})"
    return {"a": str(a), "b": str(b), "score": score, "threshold": thr, "threshold_source": source,
            "same_person": bool(score >= thr)}  # fmt: skip
