"""Measurement utilities: FLOPs by component (hand-computed), the timed rate loop, the thread guard, the matmul
peak's shape, and the readers of a process's peak RSS and CPU time."""

from __future__ import annotations

import os
import time

import pytest
import torch
from torch import nn

from thzface.bench.measure import (
    flops_by_component,
    matmul_peak_gflops,
    peak_rss_bytes,
    process_cpu_seconds,
    torch_threads,
)
from thzface.engine.timing import timed_rate


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_flops_by_component_hand_computed() -> None:
    m, x = mlp(), torch.zeros(5, 4)
    # Linear(4→3): 2·4·3 = 24 FLOPs per sample; Linear(3→2): 2·3·2 = 12
    assert flops_by_component(m, x, {"a": [m[0]], "b": [m[2]]}) == {"a": 24, "b": 12, "total": 36}
    assert flops_by_component(m, x, {"a": [m[0]]}) == {"a": 24, "other": 12, "total": 36}
    # a module inside another listed one counts for the outer group only (nothing counted twice)
    assert flops_by_component(m, x, {"all": [m], "inner": [m[0]]}) == {"all": 36, "inner": 0, "total": 36}
    assert not m[0]._forward_hooks and not m[0]._forward_pre_hooks  # hooks removed


def test_timed_rate_counts_warmup_windows_and_calls() -> None:
    calls = []
    rate = timed_rate(lambda: calls.append(1), items=10, min_s=1e-4, repeats=2, min_calls=3)
    assert len(calls) >= 1 + 2 * 3 and rate > 0
    with pytest.raises(ValueError, match="items 0"):
        timed_rate(lambda: None, items=0, min_s=0.1)


def test_torch_threads_restores_the_count() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"), torch_threads(0):
        pass


def test_matmul_peak_reports_three_engines_and_their_max() -> None:
    peaks = matmul_peak_gflops(threads=1, n=64, min_s=0.01)
    engines = {"torch_matmul", "torch_conv1x1", "onnxruntime_matmul"}
    assert set(peaks) == engines | {"peak"} and peaks["peak"] == max(peaks[k] for k in engines) > 0
    with pytest.raises(ValueError, match="multiple of 16"):
        matmul_peak_gflops(n=100)


def test_peak_rss_of_this_process_and_of_no_process() -> None:
    rss = peak_rss_bytes(os.getpid())
    if os.path.exists("/proc/self/status"):
        assert rss is not None and rss > 10 * 2**20  # torch alone is more than 10 MB
    assert peak_rss_bytes(2**31 - 1) is None


def test_process_cpu_seconds_counts_this_process_work() -> None:
    before = process_cpu_seconds(os.getpid())
    if before is None:
        pytest.skip("no /proc on this system")
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # 0.3 s of CPU in this process
        pass
    assert 0.25 <= process_cpu_seconds(os.getpid()) - before < 5.0
    assert process_cpu_seconds(2**31 - 1) is None
