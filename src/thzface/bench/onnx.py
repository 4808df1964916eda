"""``thzface bench onnx --data RUN [--workers N]``: CPU throughput (images/s) of a run in PyTorch vs onnxruntime,
both with N intra-op threads (default: PyTorch's thread count)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from thzface.bench import format_table
from thzface.embedder import SPECS, open_embedder
from thzface.engine.timing import throughput as torch_throughput
from thzface.engine.timing import timed_rate
from thzface.export.onnx import export_onnx, new_session, run_session, sample_inputs

BATCHES: tuple[int, ...] = (1, 64)


def onnx_throughput(session: ort.InferenceSession, x: np.ndarray, min_s: float) -> float:
    """Images per second of ``run_session(session, x)`` for the batch ``x`` (N, C, S, S), timed for ≥ min_s."""
    return timed_rate(lambda: run_session(session, x), x.shape[0], min_s, repeats=1)


def seconds_per_measurement(budget_s: float) -> float:
    """Timing window of each of the 2 × len(BATCHES) measurements: the budget shared out, within [0.2, 10] s."""
    return float(min(10.0, max(0.2, budget_s / (2 * len(BATCHES) + 2))))


def run(args) -> dict:
    """Export RUN (``--data``) to ``OUT/model.onnx`` with the parity check, then time both backends."""
    if not args.data:
        raise ValueError("bench onnx: pass the run folder with --data RUN")
    run_dir, out = Path(args.data), Path(args.out)
    _, cfg, model = open_embedder(run_dir)
    exported = export_onnx(run_dir, SPECS, out / "model.onnx", check=True)
    threads = int(getattr(args, "workers", 0) or torch.get_num_threads())  # --workers: threads of both backends
    session = new_session(out / "model.onnx", threads=threads)
    size, channels = int(cfg.data.image_size), int(cfg.model.in_channels)
    min_s = seconds_per_measurement(float(args.budget_s))
    rows: dict[str, dict] = {"torch": {}, "onnxruntime": {}}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for b in BATCHES:
            key = f"images_per_s_batch{b}"
            rows["torch"][key] = torch_throughput(model, size, b, channels, min_s=min_s, route="predicted")
            rows["onnxruntime"][key] = onnx_throughput(session, sample_inputs(b, channels, size), min_s)
    finally:
        torch.set_num_threads(before)
    speedup = {f"batch{b}": rows["onnxruntime"][f"images_per_s_batch{b}"] / rows["torch"][f"images_per_s_batch{b}"]
               for b in BATCHES}  # fmt: skip
    table = format_table(rows, [f"images_per_s_batch{b}" for b in BATCHES], first="backend")
    table += "\nonnxruntime / torch: " + ", ".join(f"{k} ×{v:.2f}" for k, v in speedup.items())
    table += f"\nmax |onnxruntime - torch| = {exported['check']['max_abs_diff']:.2g} ({threads} threads each)"
    return {
        "run": str(run_dir),
        "onnx": exported["onnx"],
        "image_size": size,
        "threads": threads,
        "seconds_per_measurement": min_s,
        "throughput": rows,
        "speedup": speedup,
        "parity": exported["check"],
        "table": table,
    }
