"""Image formation on simple scenes: active glints and garment attenuation, passive contrast."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.sim import physics as P
from thzface.sim.config import SkinConfig
from thzface.sim.garments import Garment
from thzface.sim.head import SKIN, make_grid
from thzface.sim.passive import PassiveDraw, passive_scene
from thzface.sim.render import Camera, render_surface
from thzface.sim.thz import ActiveDraw, active_scene, psf_blur, speckle

GRID = make_grid(2.0)
CAM = Camera(64, 2.0, 0.0, 0.0)
RADIUS = 50.0


def _scene(gap_mm: float | None, tan_delta: float = 0.05):
    skin = render_surface(np.full(GRID.shape, RADIUS), GRID, np.eye(3), np.zeros(3), CAM)
    labels = np.where(skin.mask, SKIN, 0).astype(np.uint8)
    if gap_mm is None:
        return skin, None, [], labels
    cover = np.ones(GRID.shape, bool)
    g = Garment(
        "mask",
        "cotton",
        cover,
        np.full(GRID.shape, gap_mm),
        np.full(GRID.shape, RADIUS + gap_mm),
        np.ones(GRID.shape),
        eps_real=1.6,
        tan_delta=tan_delta,
        thickness_mm=1.0,
        diffuse=0.0,
    )
    env = render_surface(np.full(GRID.shape, RADIUS + gap_mm + 1.0), GRID, np.eye(3), np.zeros(3), CAM)
    return skin, env, [g], labels


def _active(coherent: bool) -> ActiveDraw:
    return ActiveDraw(
        340.0, 1000.0, 200.0, 3.0, 0.0, P.acceptance_angle(1000.0, 200.0), coherent, "square_law", 1, 0.7, 0.05, 0.5
    )


def test_bare_sphere_glints_at_the_centre_with_the_fresnel_value():
    skin, env, garments, labels = _scene(None)
    out = active_scene(skin, env, garments, labels, np.ones(skin.mask.shape), _active(False), SkinConfig(), 2.0, 0.0)
    spec = out["spec_u"]
    peak = np.unravel_index(np.argmax(spec), spec.shape)
    assert abs(peak[0] - 31.5) <= 1 and abs(peak[1] - 31.5) <= 1  # the patch facing the sensor
    r_skin = abs(P.fresnel_normal(1.0, P.skin_index(340.0, 0.7))) ** 2
    assert spec.max() <= r_skin * (1 - 0.05) + 1e-9 and spec.max() > 0.2 * r_skin
    assert np.mean(spec > 0.5 * spec.max()) < 0.02  # sparse: a small glint
    assert (out["diff_u"][skin.mask] < 0.02 * r_skin).all()  # diffuse return far below the glint


def test_garment_attenuates_as_configured():
    base = active_scene(*_scene(None), np.ones((64, 64)), _active(False), SkinConfig(), 2.0, 0.0)
    spec = []
    for tand in (0.02, 0.1, 0.3):
        skin, env, gar, lab = _scene(0.0, tand)
        out = active_scene(skin, env, gar, lab, np.ones(lab.shape), _active(False), SkinConfig(), 2.0, 0.0)
        spec.append(out["spec_c"].max())
        loss = P.layer_loss_db(P.fabric_index(1.6, tand), 1.0, 340.0)
        assert out["loss_db"][31, 31] == pytest.approx(2 * loss, rel=1e-6)
    assert base["spec_u"].max() > spec[0] > spec[1] > spec[2]


def test_coherent_gap_fringes_and_wideband_average():
    peaks = {}
    for coh in (True, False):
        vals = []
        for gap in np.linspace(0.0, 0.44, 12):
            skin, env, gar, lab = _scene(gap)
            out = active_scene(skin, env, gar, lab, np.ones(lab.shape), _active(coh), SkinConfig(), 2.0, 0.0)
            vals.append(out["spec_c"][31:33, 31:33].mean())
        peaks[coh] = np.array(vals)
    assert peaks[True].max() / peaks[True].min() > 1.5  # standing-wave swing over half a wavelength
    assert peaks[False].max() / peaks[False].min() < 1.1  # averaged out


def test_passive_contrast_is_small_and_clothing_nearly_transparent():
    d = PassiveDraw(250.0, 3000.0, 3.0, 307.0, 296.0, 303.0, 296.0, 0.0, (0.0, 0.0, 1.0), 0.1, 0.7)
    skin, env, gar, lab = _scene(2.0, tan_delta=0.03)
    out = passive_scene(skin, env, gar, lab, np.ones(lab.shape), d, SkinConfig())
    c = out["tb_u"][31, 31]
    assert 0.5 < c - d.t_room < 10.0  # a few K above the room
    assert out["tb_u"][0, 0] == pytest.approx(d.t_room)
    assert abs(out["tb_c"][31, 31] - c) < 1.0  # a thin garment changes T_B by < 1 K


def test_psf_and_speckle():
    img = np.zeros((64, 64))
    img[32, 32] = 1.0
    w = np.full(img.shape, 4.0)
    b = psf_blur(img, w, 1.0, 1)
    sig = 4.0 / (2 * np.sqrt(2))
    assert b.sum() == pytest.approx(1.0, rel=1e-3)
    assert b[32, 32 + 1] / b[32, 32] == pytest.approx(np.exp(-1 / (2 * sig**2)), rel=0.02)
    s1 = speckle((128, 128), 4.0, 1.0, 1, np.random.default_rng(0))
    s4 = speckle((128, 128), 4.0, 1.0, 4, np.random.default_rng(0))
    assert s1.mean() == pytest.approx(1.0, abs=0.15) and s1.std() == pytest.approx(1.0, abs=0.2)  # exponential
    assert s4.std() == pytest.approx(0.5, abs=0.12)  # gamma(4): contrast 1/sqrt(4)


def _whole_image_psf(img: np.ndarray, w_map: np.ndarray, pitch: float, slabs: int) -> np.ndarray:
    """psf_blur as first written: every depth slab filtered over the whole image."""
    from scipy import ndimage

    edges = np.quantile(w_map, np.linspace(0, 1, slabs + 1))
    idx = np.clip(np.searchsorted(edges, w_map, side="right") - 1, 0, slabs - 1)
    out = np.zeros_like(img)
    for s in range(slabs):
        m = idx == s
        if m.any():
            sig = float(w_map[m].mean()) / (2 * np.sqrt(2)) / pitch
            out += ndimage.gaussian_filter(np.where(m, img, 0.0), (0, sig, sig), mode="constant", truncate=3.0)
    return out


def test_windowed_psf_slabs_equal_whole_image_filtering_bit_for_bit():
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:96, :96]
    face = (yy - 50) ** 2 / 40**2 + (xx - 45) ** 2 / 28**2 < 1  # an off-centre head, background zero
    for trial in range(6):
        img = rng.random((3, 96, 96)) * face
        img[trial % 3] *= trial < 3  # one image of the stack all zero in half the trials
        w = np.where(face, 2.0 + rng.random((96, 96)) * (1 + 3 * trial), 4.0)
        got, want = psf_blur(img, w, 1.6, 4), _whole_image_psf(img, w, 1.6, 4)
        assert np.array_equal(got, want) and got.sum(0)[face].min() > 0
