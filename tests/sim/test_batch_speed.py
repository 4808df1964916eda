"""The batched backend's speed-ups keep what a world means: the FFT speckle is thz.speckle's field, a world lofts
each person once (the samples and the geometry probe share the face model's per-person cache), the lean finish
gives the same images, and the renderer's corner table is the grid's triangles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from thzface.sim import builtin_face
from thzface.sim.batch_filters import FFT_FILTERS, kernel, speckle_fft
from thzface.sim.batch_render import _corners, render_batch
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.head import make_grid
from thzface.sim.presets import get_preset
from thzface.sim.sample import finish_sample, prepare_sample
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


@pytest.mark.parametrize("extra", [[], ["pairing=independent-noise"]])
def test_lean_finish_gives_the_same_images(fast, extra):
    cfg = get_preset("tiny", [*fast, *extra])
    model = build_face_model(cfg.face_model)
    ident = make_identities(model, cfg, 0)[0]
    outs = []
    for lean in (False, True):  # lean: the concealed scene's unused unconcealed speckle is drawn, not filtered
        prep = prepare_sample(cfg, model, ident, 1, 0, 3)
        outs.append(finish_sample(cfg, model, prep, render_batch(prep.requests(), model.grid), FFT_FILTERS, lean))
    full, lean_out = outs
    for k in ("thz_concealed", "thz_unconcealed", "clean", "head"):
        assert np.array_equal(getattr(full, k), getattr(lean_out, k)), k
    assert all(np.array_equal(full.aux[k], lean_out.aux[k]) for k in full.aux)


def test_renderer_corner_table_is_the_grids_triangles():
    grid = make_grid(6.0)
    n_el, n_az = grid.shape
    ext = _corners(n_el, n_az, torch.device("cpu")).numpy().T  # (T, 3) on the extended grid (E, A + 1)
    row, col = ext // (n_az + 1), ext % (n_az + 1)
    assert np.array_equal(row * n_az + col % n_az, grid.tris)  # the extended column A is column 0
