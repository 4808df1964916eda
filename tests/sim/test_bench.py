"""Benchmark helpers: pair distances with known answers and a micro run of bench_sim."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.sim.bench import bench_sim
from thzface.sim.probes import pair_distances


def test_pair_distances_known_values():
    v = np.array([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0], [10.0, 0.0]])
    owners = ["a", "a", "b", "b", "c"]
    d = pair_distances(v, owners, {"a": "b", "b": "a"})
    s2 = np.sqrt(2.0)
    assert d["within"] == pytest.approx(2 / s2) and d["within_pairs"] == 2
    assert d["twin"] == pytest.approx((4 + 4 + 2 * np.sqrt(20)) / 4 / s2) and d["twin_pairs"] == 4
    assert d["between"] == pytest.approx((10 + np.sqrt(104) + 6 + np.sqrt(40)) / 4 / s2)
    assert d["nn_same"] == pytest.approx(4 / 5) and d["nn_chance"] == pytest.approx(0.2)
    assert d["within_below_nearest"] == 1.0  # a and b: within 2, nearest non-twin other (c) 6 or more; c alone
    far = pair_distances(np.array([[0.0], [5.0], [1.0]]), ["a", "a", "b"], {})
    assert far["within_below_nearest"] == 0.0  # a's own samples lie 5 apart, b lies 1 away


def test_bench_sim_micro_run(tmp_path, fast):
    r = bench_sim(tmp_path / "b", workers=1, preset="tiny", overrides=fast)
    assert r["timing"]["samples"] == 15 and r["timing"]["seconds"] > 0 and r["timing"]["cpu_seconds"] > 0
    assert 0 <= r["probes"]["copy_baseline"]["copy_ssim_scan_head"] <= 1 and r["probes"]["energy_drop_db"]
    lm = r["distances"]["landmarks_mm"]
    assert lm["twin"] < lm["between"] and lm["within"] < lm["between"]
    for key in ("depth_mm", "thz_unconcealed", "thz_concealed", "clean"):
        assert r["distances"][key]["between_pairs"] > 0
    assert r["statistics"]["images"] == 30
