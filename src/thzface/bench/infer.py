"""``thzface bench infer --out OUT [--data RUN]``: speed of the ``mtl`` presets' models (and a run's) on this CPU.

With no run it builds the ``default`` and ``paper`` presets' models from their configs (weights do not matter
for speed) plus the lean encoder variants of :data:`VARIANTS` (overrides of the default preset's model config);
with ``--data RUN`` it adds that run's model as ``run``. For each model, in one process, with ``--workers``
threads (default 2): parameters, FLOPs per sample (encoder / heads / decoder), embedding images/s at batch 1 and
64 through ``embed()`` in torch and in onnxruntime (embedding-only graph, parity-checked), one training step's
samples/s (forward + backward + AdamW of the full model at the config's batch size, on random tensors), the
achieved GFLOP/s of the embedding path and its share of the fp32 matmul peak measured in the same run, and every
throughput's ratio to ``paper``. Each rate is the best of a few short windows (a shared machine only slows down).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thzface.bench import format_table
from thzface.bench.embed_onnx import embed_onnx, embedding_session, export_embedding, max_abs_diff
from thzface.bench.measure import flops_by_component, load_average, matmul_peak_gflops, timed_rate, torch_threads
from thzface.models.profile import count_parameters

PRESETS: tuple[str, ...] = ("default", "paper")
BATCHES: tuple[int, ...] = (1, 64)
VARIANTS: dict[str, dict[str, Any]] = {  # lean encoders: overrides of the default preset's model config
    "default-cl": {"channels_last": True},
    "lean-w16": {"stem_width": 16, "widths": (16, 32, 64, 128), "channels_last": True},
    "lean-s2": {"stem_stride": 2, "channels_last": True},
    "lean-s2-d2": {"stem_stride": 2, "depths": (1, 2, 2, 1), "channels_last": True},
    "lean-sep": {"separable": True, "depths": (1, 2, 2, 1), "channels_last": True},
    "lean-s2-dec": {
        "stem_stride": 2,
        "channels_last": True,
        "decoder_reduce": 64,
        "decoder_widths": (48, 32, 24, 16),
        "rdb_layers": 3,
    },  # fmt: skip
}
RATES: tuple[str, ...] = (
    *(f"embed_img_per_s_batch{b}" for b in BATCHES),
    *(f"onnx_embed_img_per_s_batch{b}" for b in BATCHES),
    "train_samples_per_s",
)
KEYS: list[str] = [
    "parameters", "flops_encoder", "flops_heads", "flops_decoder", "flops_embedding", *RATES, "latency_ms_batch1",
    "embed_gflops_per_s", "embed_share_of_peak", "onnx_embed_share_of_peak",
]  # fmt: skip


@torch.no_grad()
def throughput(
    model: nn.Module, image_size: int, batch: int, channels: int = 1, min_s: float = 2.0, **forward_kwargs
) -> float:
    """Images per second of ``model(x, **forward_kwargs)`` for a (batch, C, S, S) input, timed for ≥ min_s."""
    model.eval()
    x = torch.rand(batch, channels, image_size, image_size, generator=torch.Generator().manual_seed(0))
    return timed_rate(lambda: model(x, **forward_kwargs), batch, min_s, repeats=1)


def component_flops(model: nn.Module, size: int) -> dict[str, int]:
    """FLOPs per sample of the full forward split encoder (encoder + trunk) / heads / decoder, and of ``embed``."""
    m: Any = model.eval()
    x = torch.zeros(2, m.cfg.in_channels, size, size)  # (2, C, S, S)
    full = flops_by_component(
        m, x, {"encoder": [m.encoder, m.trunk], "heads": [m.verification_head, m.posture_head], "decoder": [m.decoder]}
    )
    embedding = flops_by_component(m.embed, x, {"embed": [m.encoder, m.trunk, m.verification_head]})["total"]
    return {f"flops_{k}": v for k, v in full.items()} | {"flops_embedding": embedding}


def train_rate(model: nn.Module, batch: int, size: int, route: str, min_s: float) -> float:
    """Samples/s of one full training step (forward incl. reconstruction, backward, AdamW) on random tensors.

    The loss touches every output cheaply (embedding similarity, posture CE, L1 reconstruction); the model's
    weights are restored afterwards.
    """
    m: Any = model
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, m.cfg.in_channels, size, size, generator=g)  # (B, C, S, S)
    target = torch.rand(batch, m.cfg.out_channels, size, size, generator=g)  # (B, C', S, S)
    posture = torch.randint(0, m.cfg.num_postures, (batch,), generator=g)  # (B,)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        out = m(x, posture, route=route)
        sim = out.embedding @ out.embedding.T  # (B, B)
        loss = sim.mean() + F.cross_entropy(out.posture_logits, posture) + F.l1_loss(out.reconstruction, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    try:
        return timed_rate(step, batch, min_s, repeats=2, min_calls=2)
    finally:
        model.load_state_dict(saved)
        model.eval()


@torch.no_grad()
def embed_rates(model: nn.Module, size: int, threads: int, min_s: float, onnx_dir: Path) -> dict[str, float]:
    """Embedding images/s at each of :data:`BATCHES` in torch and onnxruntime, and the ONNX parity."""
    m: Any = model.eval()
    channels = m.cfg.in_channels
    session = embedding_session(export_embedding(model, channels, size, onnx_dir / "embed.onnx"), threads)
    row: dict[str, float] = {"onnx_max_abs_diff": max_abs_diff(model, session, channels, size)}
    for b in BATCHES:
        x = torch.rand(b, channels, size, size, generator=torch.Generator().manual_seed(b))  # (b, C, S, S)
        xn = np.ascontiguousarray(x.numpy())
        row[f"embed_img_per_s_batch{b}"] = timed_rate(lambda: m.embed(x), b, min_s)  # noqa: B023
        row[f"onnx_embed_img_per_s_batch{b}"] = timed_rate(lambda: embed_onnx(session, xn), b, min_s)  # noqa: B023
    return row


def profile_model(model: nn.Module, size: int, train_batch: int, route: str, threads: int, min_s: float,
                  peak: float) -> dict[str, float]:  # fmt: skip
    """One row of the table for ``model`` (see the module docstring)."""
    row: dict[str, float] = {"parameters": count_parameters(model), **component_flops(model, size)}
    with torch_threads(threads), tempfile.TemporaryDirectory() as tmp:
        row.update(embed_rates(model, size, threads, min_s, Path(tmp)))
        row["train_samples_per_s"] = train_rate(model, train_batch, size, route, min_s)
    row["train_batch"] = train_batch
    row["latency_ms_batch1"] = 1000.0 / max(row["embed_img_per_s_batch1"], row["onnx_embed_img_per_s_batch1"])
    for prefix in ("", "onnx_"):
        gflops = row[f"{prefix}embed_img_per_s_batch{BATCHES[-1]}"] * row["flops_embedding"] / 1e9
        row[f"{prefix}embed_gflops_per_s"] = gflops
        row[f"{prefix}embed_share_of_peak"] = gflops / peak
    return row


def ratios(rows: dict[str, dict], base: str = "paper") -> dict[str, dict[str, float]]:
    """Every throughput of every row divided by the same throughput of ``base``."""
    return {name: {k: row[k] / rows[base][k] for k in RATES} for name, row in rows.items() if name != base}


def models_to_time(run_dir: Path | None) -> dict[str, tuple[nn.Module, int, int, str]]:
    """name → (model, image size, training batch size, training route): presets, variants, and the run."""
    from thzface.config import find_config, load_config
    from thzface.models.multitask import build_model

    out: dict[str, tuple[nn.Module, int, int, str]] = {}
    cfgs = {p: load_config(find_config(f"mtl-{p}")) for p in PRESETS}
    named = {p: cfgs[p].model for p in PRESETS}
    named |= {v: replace(cfgs["default"].model, **kw) for v, kw in VARIANTS.items()}
    for name, mcfg in named.items():
        cfg = cfgs["paper" if name == "paper" else "default"]
        torch.manual_seed(0)
        out[name] = (build_model(mcfg), cfg.data.image_size, cfg.train.batch_size, cfg.loss.train_route)
    if run_dir is not None:
        from thzface.engine.checkpoint import load_run

        cfg, model, _ = load_run(run_dir)
        if not hasattr(model, "embed"):
            raise ValueError(f"bench infer: {run_dir} is a {cfg.recipe!r} run; it needs an mtl or distill student run")
        route = getattr(cfg.loss, "train_route", "predicted")
        out["run"] = (model, cfg.data.image_size, cfg.train.batch_size, route)
    return out


def run(args) -> dict:
    """Time every model of :func:`models_to_time` (``--data RUN`` adds a run) with ``--workers`` threads."""
    run_dir = Path(args.data) if getattr(args, "data", None) else None
    threads = int(getattr(args, "workers", 0) or 2)
    models = models_to_time(run_dir)
    budget = float(getattr(args, "budget_s", 600.0))
    min_s = float(min(1.0, max(0.1, budget / (len(models) * 20))))  # ~20 windows per model
    load_before = load_average()
    peaks = matmul_peak_gflops(threads)
    peak = peaks["peak"]
    rows = {
        name: profile_model(model, size, batch, route, threads, min_s, peak)
        for name, (model, size, batch, route) in models.items()
    }
    rel = ratios(rows)
    table = format_table(rows, KEYS, first="model")
    engines = ", ".join(f"{k} {v:.0f}" for k, v in peaks.items() if k != "peak")
    table += f"\nfp32 matmul peak {peak:.0f} GFLOP/s ({engines}; {threads} threads); load average {load_before}"
    table += "\n" + format_table(rel, list(RATES), first="ratio vs paper")
    return {
        "run": str(run_dir) if run_dir else None,
        "threads": threads,
        "seconds_per_window": min_s,
        "matmul_peak_gflops": peaks,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "variants": VARIANTS,
        **rows,
        "ratio_vs_paper": rel,
        "table": table,
    }
