"""Measurement utilities of the speed benchmarks (the timing loop itself: :mod:`thzface.engine.timing`): a
thread-count guard, the machine's fp32 matmul peak measured in-process, and FLOPs per sample split by model
component (torch's FlopCounterMode)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from thzface.engine.timing import timed_rate


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op torch threads, restoring the previous count after."""
    if threads <= 0:
        raise ValueError(f"torch_threads: threads must be positive, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def matmul_peak_gflops(threads: int = 2, n: int = 512, min_s: float = 0.5) -> dict[str, float]:
    """Achieved fp32 GFLOP/s of an n×n by n×n product (2n³ FLOPs) with ``threads`` threads, by three engines:
    torch's matmul (BLAS: MKL, slow on AMD), the same product as a channels-last 1×1 conv (oneDNN, what torch's
    convs use) and onnxruntime's MatMul (MLAS); ``peak`` is the largest, the practical peak of the machine."""
    if n <= 0 or n % 16:
        raise ValueError(f"matmul_peak_gflops: n must be a positive multiple of 16, got {n}")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)  # (n, n) each
    x = a.T.reshape(1, n, 16, n // 16).contiguous(memory_format=torch.channels_last)  # (1, n, 16, n/16): n pixels
    w = b.T.reshape(n, n, 1, 1).contiguous()  # (n_out, n_in, 1, 1)
    session, feeds = _ort_matmul(n, threads)
    with torch_threads(threads), torch.no_grad():
        rates = {
            "torch_matmul": timed_rate(lambda: a @ b, 1, min_s),
            "torch_conv1x1": timed_rate(lambda: F.conv2d(x, w), 1, min_s),
            "onnxruntime_matmul": timed_rate(lambda: session.run(None, feeds), 1, min_s),
        }
    out = {k: v * 2.0 * n**3 / 1e9 for k, v in rates.items()}
    return out | {"peak": max(out.values())}


def _ort_matmul(n: int, threads: int) -> tuple[ort.InferenceSession, dict[str, np.ndarray]]:
    """A one-node onnxruntime MatMul session of two (n, n) float32 inputs, and seeded inputs for it."""
    spec = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [n, n]) for k in "ABC"]
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "matmul", spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    return session, {k: rng.random((n, n), dtype=np.float32) for k in "AB"}


def flops_by_component(
    fn: Callable[[torch.Tensor], object], x: torch.Tensor, components: Mapping[str, Sequence[nn.Module]]
) -> dict[str, int]:
    """FLOPs per sample of ``fn(x)`` (no grad) attributed to named groups of modules, plus ``total``.

    Counts the matmul/conv family at 2 FLOPs per multiply-add (as :func:`thzface.models.flops_per_sample`);
    FLOPs outside every listed module go to ``other`` (present only when non-zero).
    """
    counter = FlopCounterMode(display=False)
    ids = {id(m): name for name, mods in components.items() for m in mods}
    totals = dict.fromkeys(components, 0)
    hooks = []

    def enter(module: nn.Module, _args: object) -> None:
        stack.append(ids[id(module)])
        start.append(counter.get_total_flops())

    def leave(module: nn.Module, _args: object, _out: object) -> None:
        name, before = stack.pop(), start.pop()
        if not stack:  # outermost listed module only (a group may nest another's modules)
            totals[name] += counter.get_total_flops() - before

    stack: list[str] = []
    start: list[int] = []
    for mods in components.values():
        for m in mods:
            hooks += [m.register_forward_pre_hook(enter), m.register_forward_hook(leave)]
    try:
        with torch.no_grad(), counter:
            fn(x)
    finally:
        for h in hooks:
            h.remove()
    batch = int(x.shape[0])
    out = {k: v // batch for k, v in totals.items()}
    total = int(counter.get_total_flops()) // batch
    if total - sum(out.values()):
        out["other"] = total - sum(out.values())
    out["total"] = total
    return out


def peak_rss_bytes(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of process ``pid`` from /proc, or None where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB → bytes
    except OSError:
        return None
    return None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used, all its threads (from /proc), or None where unavailable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0], utime fields[11]
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load_average() -> list[float] | None:
    """The machine's 1/5/15-minute load averages (recorded beside timings made on a shared machine)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None
