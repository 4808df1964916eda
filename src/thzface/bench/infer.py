"""``thzface bench infer --out OUT [--data RUN]``: speed of the ``mtl`` presets' models (and a run's) on this CPU.

With no run it builds the ``default`` and ``paper`` presets' models from their configs (weights do not matter
for speed) plus the lean encoder variants of :data:`VARIANTS` (overrides of the default preset's model config);
with ``--data RUN`` it adds that run's model as ``run``. For each model, in one process, with ``--workers``
threads (default 2): parameters, FLOPs per sample (encoder / heads / decoder), embedding images/s at batch 1 and
64 through ``embed()`` in torch and in onnxruntime (the ``verify`` graph of :mod:`thzface.export.onnx`,
parity-checked), one training step's samples/s (forward + backward + AdamW of the full model at the config's
batch size, on random tensors), the achieved GFLOP/s of the embedding path and its share of the fp32 matmul
peak measured in the same run, and every throughput's ratio to ``paper``. Each rate is the best of
:data:`ROUNDS` windows taken in passes over all models (a shared machine only ever slows a window down).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from thzface.bench import format_table
from thzface.bench.measure import flops_by_component, load_average, matmul_peak_gflops, torch_threads
from thzface.engine.timing import timed_rate
from thzface.export.onnx import check_parity, export_model, new_session, run_session
from thzface.models.profile import count_parameters

PRESETS: tuple[str, ...] = ("default", "paper")
BATCHES: tuple[int, ...] = (1, 64)
ROUNDS = 3  # passes over all models; each rate keeps its best window
ONE_VIEW = {"flip_test": False}  # the embedding of the scan alone: half the embedding cost of the default's flip test
S1 = {
    "stem_stride": 1,
    "widths": (32, 64, 96, 128),
    "decoder_widths": (64, 48, 32, 16),
}  # the default until the 8th session
VARIANTS: dict[str, dict[str, Any]] = {  # lean encoders / decoders: overrides of the default preset's model config
    "default-1view": ONE_VIEW,  # what the default's flip test costs
    "default-attn": {"pool": "attn"},  # the attention-pooled trunk of the default before the sixth session
    "default-cl": {"channels_last": True, **ONE_VIEW},
    "default-s1": {**S1, "align": "none"},  # the stride-1 stem over four stages: the default before the eighth session
    "default-noalign": {"align": "none"},  # what the in-plane aligner (the default's since the ninth session) costs
    "lean-w16": {"stem_width": 16, "widths": (32, 64, 128), "channels_last": True, **ONE_VIEW},
    "lean-s2": {**S1, "stem_stride": 2, "pool": "attn", "channels_last": True, "align": "none", **ONE_VIEW},  # = the
    # mtl-lean-s2 preset
    "lean-d2": {"depths": (1, 2, 2), "channels_last": True, **ONE_VIEW},
    "lean-sep": {"separable": True, "depths": (1, 2, 2), "channels_last": True, **ONE_VIEW},
    "lean-dec": {
        "channels_last": True,
        "decoder_reduce": 64,
        "decoder_widths": (48, 24, 16),
        "rdb_layers": 3,
        **ONE_VIEW,
    },
    "dec-small": {"decoder_reduce": 64, "decoder_widths": (48, 24, 16), "rdb_layers": 3},  # default encoder
    "default-d2": {"depths": (2, 2, 2)},  # bigger trunks for pretraining that does not fit: two blocks a stage,
    "default-w": {"widths": (64, 128, 192)},  # wider stages,
    "default-d2w": {"depths": (2, 2, 2), "widths": (64, 128, 192)},  # both
}
RATES: tuple[str, ...] = (
    *(f"embed_img_per_s_batch{b}" for b in BATCHES),
    *(f"onnx_embed_img_per_s_batch{b}" for b in BATCHES),
    "train_samples_per_s",
    "train_samples_per_s_bf16",
)
KEYS: list[str] = [
    "parameters", "flops_encoder", "flops_heads", "flops_decoder", "flops_embedding", *RATES, "latency_ms_batch1",
    "embed_gflops_per_s", "embed_share_of_peak", "onnx_embed_share_of_peak",
]  # fmt: skip


def component_flops(model: nn.Module, size: int) -> dict[str, int]:
    """FLOPs per sample of the full forward split encoder (encoder + trunk) / heads / decoder (/ aligner, when the
    model aligns), and of ``embed``."""
    m: Any = model.eval()
    x = torch.zeros(2, m.cfg.in_channels, size, size)  # (2, C, S, S)
    parts = {"encoder": [m.encoder, m.trunk], "heads": [m.verification_head, m.posture_head], "decoder": [m.decoder]}
    aligner = [] if getattr(m, "aligner", None) is None else [m.aligner]
    full = flops_by_component(m, x, parts | ({"aligner": aligner} if aligner else {}))
    embedding = flops_by_component(m.embed, x, {"embed": [m.encoder, m.trunk, m.verification_head, *aligner]})["total"]
    return {f"flops_{k}": v for k, v in full.items()} | {"flops_embedding": embedding}


def train_rate(model: nn.Module, batch: int, size: int, route: str, min_s: float, bf16: bool = False) -> float:
    """Samples/s of one full training step (forward incl. reconstruction, backward, AdamW) on random tensors.

    The loss touches every output cheaply (embedding similarity, posture CE, L1 reconstruction); the model's
    weights are restored afterwards. ``bf16``: the forward under CPU bfloat16 autocast, as
    ``train.precision=bf16-mixed`` runs it (fast only where the CPU has native bfloat16; see
    :func:`thzface.engine.train.cpu_has_native_bf16`).
    """
    m: Any = model
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, m.cfg.in_channels, size, size, generator=g)  # (B, C, S, S)
    target = torch.rand(batch, m.cfg.out_channels, size, size, generator=g)  # (B, C', S, S)
    posture = torch.randint(0, m.cfg.num_postures, (batch,), generator=g)  # (B,)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = m(x, posture, route=route)
        emb, logits, rec = out.embedding.float(), out.posture_logits.float(), out.reconstruction.float()
        sim = emb @ emb.T  # (B, B)
        loss = sim.mean() + F.cross_entropy(logits, posture) + F.l1_loss(rec, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    try:
        return timed_rate(step, batch, min_s, repeats=1, min_calls=2)
    finally:
        model.load_state_dict(saved)
        model.eval()


@dataclass
class Subject:
    """A model under test, its input size, training batch and route, and its ``verify`` graph's ONNX session."""

    model: Any
    size: int
    train_batch: int
    route: str
    session: ort.InferenceSession


@torch.no_grad()
def embed_rates(s: Subject, min_s: float) -> dict[str, float]:
    """Embedding images/s at each of :data:`BATCHES` in torch and onnxruntime (one window each)."""
    row: dict[str, float] = {}
    for b in BATCHES:
        x = torch.rand(b, s.model.cfg.in_channels, s.size, s.size, generator=torch.Generator().manual_seed(b))
        xn = np.ascontiguousarray(x.numpy())  # (b, C, S, S)
        row[f"embed_img_per_s_batch{b}"] = timed_rate(lambda: s.model.embed(x), b, min_s, 1)  # noqa: B023
        row[f"onnx_embed_img_per_s_batch{b}"] = timed_rate(lambda: run_session(s.session, xn), b, min_s, 1)  # noqa: B023
    return row


def profile_models(
    models: dict[str, tuple[nn.Module, int, int, str]], threads: int, min_s: float, rounds: int = ROUNDS
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Rows of the table (see the module docstring) and the matmul peaks, with ``threads`` threads.

    Rates are taken in ``rounds`` passes over all models (and the peak) and the best of each is kept, so a
    burst of load on a shared machine hits every model alike instead of one model's whole measurement.
    """
    rows: dict[str, dict[str, float]] = {}
    subjects: dict[str, Subject] = {}
    peaks: dict[str, float] = {}
    with torch_threads(threads), tempfile.TemporaryDirectory() as tmp:
        for name, (model, size, batch, route) in models.items():
            ch = int(model.cfg.in_channels)  # type: ignore[union-attr, arg-type]
            path = export_model(model, ch, size, Path(tmp) / f"{name}.onnx", {}, task="verify")
            session = new_session(path, threads)
            subjects[name] = Subject(model.eval(), size, batch, route, session)
            rows[name] = {"parameters": count_parameters(model), **component_flops(model, size), "train_batch": batch}
            rows[name]["onnx_max_abs_diff"] = check_parity(model, session, ch, size)["max_abs_diff"]
        for _ in range(rounds):
            for k, v in matmul_peak_gflops(threads, min_s=min_s).items():
                peaks[k] = max(peaks.get(k, 0.0), v)
            for name, s in subjects.items():
                rates = embed_rates(s, min_s)
                rates["train_samples_per_s"] = train_rate(s.model, s.train_batch, s.size, s.route, min_s)
                rates["train_samples_per_s_bf16"] = train_rate(s.model, s.train_batch, s.size, s.route, min_s, True)
                for k, v in rates.items():
                    rows[name][k] = max(rows[name].get(k, 0.0), v)
    for row in rows.values():
        row["latency_ms_batch1"] = 1000.0 / max(row["embed_img_per_s_batch1"], row["onnx_embed_img_per_s_batch1"])
        for prefix in ("", "onnx_"):
            gflops = row[f"{prefix}embed_img_per_s_batch{BATCHES[-1]}"] * row["flops_embedding"] / 1e9
            row[f"{prefix}embed_gflops_per_s"] = gflops
            row[f"{prefix}embed_share_of_peak"] = gflops / peaks["peak"]
    return rows, peaks


def ratios(rows: dict[str, dict], base: str = "paper") -> dict[str, dict[str, float]]:
    """Every throughput of every row divided by the same throughput of ``base``."""
    return {name: {k: row[k] / rows[base][k] for k in RATES} for name, row in rows.items() if name != base}


def models_to_time(run_dir: Path | None) -> dict[str, tuple[nn.Module, int, int, str]]:
    """name → (model, image size, training batch size, training route): presets, variants, and the run."""
    from thzface.models.multitask import build_model
    from thzface.recipes import find_config, load_config

    out: dict[str, tuple[nn.Module, int, int, str]] = {}
    cfgs = {p: load_config(find_config(f"mtl-{p}")) for p in PRESETS}
    named = {p: cfgs[p].model for p in PRESETS}
    named |= {v: replace(cfgs["default"].model, **kw) for v, kw in VARIANTS.items()}
    for name, mcfg in named.items():
        cfg = cfgs["paper" if name == "paper" else "default"]
        torch.manual_seed(0)
        out[name] = (build_model(mcfg), cfg.data.image_size, cfg.train.batch_size, cfg.loss.train_route)
    if run_dir is not None:
        from thzface.recipes import load_run

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
    min_s = float(min(1.0, max(0.05, budget / (len(models) * 8 * ROUNDS))))  # ~8 windows per model and round
    load_before = load_average()
    rows, peaks = profile_models(models, threads, min_s)
    peak = peaks["peak"]
    rel = ratios(rows)
    table = format_table(rows, KEYS, first="model")
    engines = ", ".join(f"{k} {v:.0f}" for k, v in peaks.items() if k != "peak")
    table += f"\nfp32 matmul peak {peak:.0f} GFLOP/s ({engines}; {threads} threads); load average {load_before}"
    table += "\n" + format_table(rel, list(RATES), first="ratio vs paper")
    return {
        "run": str(run_dir) if run_dir else None,
        "threads": threads,
        "seconds_per_window": min_s,
        "rounds": ROUNDS,
        "matmul_peak_gflops": peaks,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "variants": VARIANTS,
        **rows,
        "ratio_vs_paper": rel,
        "table": table,
    }
