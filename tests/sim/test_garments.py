"""Garment coverage and drape on a built-in head."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.sim import head as H
from thzface.sim.builtin_face import BuiltinFaceModel
from thzface.sim.config import SimConfig
from thzface.sim.garments import coverage, drape_gap, sample_concealment

TRAITS = {"hairline_mm": 55.0, "hair_mm": 5.0, "facial_hair": 0, "skin_tone": 0.5, "hair_tone": 0.5}


@pytest.fixture(scope="module")
def surf() -> H.HeadSurface:
    model = BuiltinFaceModel(grid_deg=2.0)
    return model.build(np.zeros(model.n_shape), np.zeros(model.n_expr), TRAITS)


def _cell(surf: H.HeadSurface, p: np.ndarray) -> tuple[int, int]:
    """Grid cell of the direction through point p."""
    az, el = np.arctan2(p[0], p[2]), np.arcsin(p[1] / np.linalg.norm(p))
    step = np.deg2rad(surf.grid.step_deg)
    return int(round((el + np.pi / 2) / step)), int(round((az + np.pi) / step)) % surf.grid.shape[1]


def test_coverage_regions(surf):
    rng = np.random.default_rng(0)
    lm = surf.landmarks
    at = lambda m, i: bool(m[_cell(surf, lm[i])])  # noqa: E731
    mask, _ = coverage("mask", surf, rng)
    assert all(at(mask, i) for i in (30, 33, 48, 51, 54, 57))  # nose tip, mouth, lips
    assert not any(at(mask, i) for i in (19, 24, 37, 44))  # brows and eyes stay free
    bala, _ = coverage("balaclava", surf, rng)
    assert not any(at(bala, i) for i in (37, 38, 43, 44))  # eye slot
    assert all(at(bala, i) for i in (8, 30, 51)) and bala[-5:].all()  # chin, nose, mouth, crown
    hood, _ = coverage("hood", surf, rng)
    assert not any(at(hood, i) for i in (30, 37, 51)) and hood[-5:].all()  # face open, top covered
    scarf, _ = coverage("scarf", surf, rng)
    assert at(scarf, 57) and not at(scarf, 19)
    with pytest.raises(ValueError, match="unknown garment"):
        coverage("cape", surf, rng)


def test_drape_touches_convex_points_and_bridges_concavities(surf):
    gap = drape_gap(surf.r, surf.grid, bridge_mm=30.0, max_gap_mm=15.0, noise_mm=0.0, rng=np.random.default_rng(0))
    assert (gap >= 0).all() and gap.max() <= 15.0 + 1e-9
    lm = surf.landmarks
    tip, under_nose = gap[_cell(surf, lm[30])], gap[_cell(surf, 0.5 * (lm[33] + lm[51]))]
    inner_eye = gap[_cell(surf, 0.5 * (lm[39] + lm[27]))]
    assert tip < 1.0  # contact on the nose tip
    assert under_nose > tip + 1.0 and inner_eye > tip + 1.0  # bridged concavities
    noisy = drape_gap(surf.r, surf.grid, 30.0, 15.0, 3.0, np.random.default_rng(1))
    assert (noisy >= 0).all()


def test_sampled_concealment_layers_and_params(surf):
    cfg = SimConfig()
    cfg.concealment.weights = {"scarf+hood": 1.0}
    garments = sample_concealment(surf, cfg.concealment, cfg.fabrics, np.random.default_rng(3))
    assert [g.kind for g in garments] == ["scarf", "hood"]
    scarf, hood = garments
    assert 2 <= scarf.layers <= 4 and scarf.total_mm >= scarf.thickness_mm * scarf.layers
    both = scarf.cover & hood.cover
    assert both.any() and (hood.r_inner[both] >= scarf.r_outer[both] - 1e-9).all()  # hood over the scarf
    assert (scarf.gap >= 0).all() and (hood.gap >= 0).all()
    for g in garments:
        assert {"fabric", "eps_real", "tan_delta", "thickness_mm", "bridge_mm"} <= set(g.params)
        assert g.fabric in cfg.concealment.__getattribute__(g.kind).fabric_weights
