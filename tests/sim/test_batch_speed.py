"""The batched backend's speed-ups keep what a world means: the FFT speckle is thz.speckle's field, the lookup
skin optics and the compiled curvature and PSF are thz's, a world lofts each person once (the samples and the
geometry probe share the backend's per-person cache), the lean finish gives the same images, and the renderer's
corner table is the grid's triangles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from thzface.sim import batch_face, builtin_face
from thzface.sim import head as H
from thzface.sim.batch_filters import FFT_FILTERS, curvature_fast, kernel, psf_blur_fast, skin_optics_lut, speckle_fft
from thzface.sim.batch_render import _corners, render_batch
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.head import make_grid
from thzface.sim.presets import get_preset
from thzface.sim.sample import finish_sample, prepare_sample
from thzface.sim.thz import curvature, psf_blur, skin_optics, speckle
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


@pytest.mark.parametrize("slabs", [1, 4])
@pytest.mark.parametrize("lead", [(), (3,)])
def test_compiled_psf_is_thzs(slabs, lead):
    rng = np.random.default_rng(3)
    img = np.zeros((*lead, 48, 40))
    img[..., 6:40, 9:33] = rng.random((*lead, 34, 24))  # a head-like patch: windows smaller than the image
    w_map = np.full((48, 40), 4.0)
    w_map[4:44, 5:37] = 2.0 + 5.0 * rng.random((40, 32))  # beam radius per pixel, mm
    want = psf_blur(img, w_map, 1.3, slabs)
    got = psf_blur_fast(img, w_map, 1.3, slabs)
    assert got.shape == img.shape and np.abs(want).max() > 0.1
    assert np.allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    other = psf_blur_fast(img, w_map * 1.5, 1.3, slabs)
    assert np.abs(other - want).max() > 1e-3  # a wider beam is another blur


@pytest.mark.parametrize("backend", ["reference", "batched"])
def test_a_world_lofts_each_person_once(tmp_path, fast, monkeypatch, backend):
    calls: dict[str, list] = {"reference": [], "batched": []}
    for mod, name, key in ((builtin_face, "loft_radius", "reference"), (batch_face, "loft_radius_torch", "batched")):
        loft = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _f=loft, _k=key, **k: calls[_k].append(1) or _f(*a, **k))
    cfg = get_preset("tiny", [*fast, "write_visible=false", "write_aux=false", f"backend={backend}"])
    meta = synthesize(cfg, tmp_path / "w", seed=1, workers=1, progress=False)
    assert meta["probes"]["geometry_landmarks_mm"]["between"] > 0  # the probe built heads
    assert len(calls[backend]) == len(meta["identities"])  # samples and geometry probe: one loft per person
    assert not calls["reference" if backend == "batched" else "batched"]  # each backend its own loft


def test_batched_skin_optics_and_curvature_are_thzs(fast):
    cfg = get_preset("tiny", fast)
    model = build_face_model(cfg.face_model)
    prep = prepare_sample(cfg, model, make_identities(model, cfg, 0)[0], 1, 0, 3)
    views = render_batch(prep.requests(), model.grid)
    labels = views[0].attr(prep.surf.labels, nearest=True)
    assert {H.LIPS, H.EYES, H.HAIR, H.SKIN} <= set(np.unique(labels).tolist())
    args = (labels, 0.6, 0.1, 0.4, cfg.skin, 340.0)
    for a, b in zip(skin_optics(*args), skin_optics_lut(*args), strict=True):
        assert np.allclose(a, b, rtol=1e-12, atol=0)
    for v in views:
        assert np.allclose(curvature(v.normal, v.mask, 1.7), curvature_fast(v.normal, v.mask, 1.7), rtol=1e-12, atol=0)


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
