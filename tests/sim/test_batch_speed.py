"""The batched backend's speed-ups keep what a world means: the FFT speckle is thz.speckle's field, and a world
lofts each person once (the samples and the geometry probe share the face model's per-person cache)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from thzface.sim import builtin_face
from thzface.sim.batch_filters import kernel, speckle_fft
from thzface.sim.presets import get_preset
from thzface.sim.thz import speckle
from thzface.sim.world import synthesize


@pytest.mark.parametrize("sig", [0.3, 1.4, 3.7])
def test_kernel_is_scipys(sig):
    delta = np.zeros(101)
    delta[50] = 1.0
    want = ndimage.gaussian_filter1d(delta, sig, mode="constant")  # the kernel, flipped (symmetric)
    k = kernel(sig)
    r = len(k) // 2
    assert np.count_nonzero(want) == len(k) and np.allclose(want[50 - r : 51 + r], k, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("looks", "w_mm", "shape"), [(1, 2.0, (32, 32)), (2, 6.0, (64, 48)), (4, 30.0, (40, 40))])
def test_fft_speckle_is_the_reference_field(looks, w_mm, shape):
    a = speckle(shape, w_mm, 1.7, looks, np.random.default_rng(7))
    b = speckle_fft(shape, w_mm, 1.7, looks, np.random.default_rng(7))  # w 30 mm: the kernel wraps the image
    assert b.shape == a.shape and b.dtype == np.float64
    assert np.abs(a - b).max() < 2e-6 * a.max()  # float32 FFT rounding only
    other = speckle_fft(shape, w_mm, 1.7, looks, np.random.default_rng(8))
    assert np.abs(a - other).max() > 0.1 * a.max()  # a different draw is a different field


def test_a_world_lofts_each_person_once(tmp_path, fast, monkeypatch):
    calls = []
    loft = builtin_face.loft_radius
    monkeypatch.setattr(builtin_face, "loft_radius", lambda *a, **k: calls.append(1) or loft(*a, **k))
    cfg = get_preset("tiny", [*fast, "write_visible=false", "write_aux=false"])
    meta = synthesize(cfg, tmp_path / "w", seed=1, workers=1, progress=False)
    assert meta["probes"]["geometry_landmarks_mm"]["between"] > 0  # the probe built heads
    assert len(calls) == len(meta["identities"])  # samples and geometry probe: one loft per person
