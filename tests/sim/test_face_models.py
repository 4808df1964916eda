"""Both face models: geometry, landmarks, labels, twins; the Surrey model is skipped without its file."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.config import ConfigError
from thzface.sim import head as H
from thzface.sim.builtin_face import BuiltinFaceModel
from thzface.sim.config import sim_config_from_dict
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.sfm import ENV_VAR, SurreyFaceModel

TRAITS = {"hairline_mm": 55.0, "hair_mm": 5.0, "facial_hair": 2, "skin_tone": 0.5, "hair_tone": 0.5}


def _check_head(surf: H.HeadSurface) -> None:
    lm = surf.landmarks
    assert surf.r.shape == surf.grid.shape and np.isfinite(surf.r).all() and (surf.r > 20).all()
    assert lm.shape == (68, 3) and np.isfinite(lm).all()
    assert set(np.unique(surf.labels)) >= {H.SKIN, H.LIPS, H.EYES, H.BROWS, H.HAIR, H.EARS, H.NECK}
    assert lm[36, 0] < lm[39, 0] < 0 < lm[42, 0] < lm[45, 0]  # subject's right eye on image left
    assert 20 < lm[42, 0] - lm[39, 0] < 45  # intercanthal width, mm
    assert 80 < lm[45, 0] - lm[36, 0] < 115  # biocular width
    assert lm[27, 1] > lm[30, 1] > lm[33, 1] > lm[62, 1] > lm[8, 1]  # nasion, tip, subnasale, mouth, chin
    assert np.argmax(lm[17:, 2]) + 17 in (30, 31, 32, 33, 34, 35)  # the nose is the most anterior part
    assert lm[:17, 0][0] < lm[8, 0] < lm[:17, 0][16]


def test_builtin_model_builds_plausible_heads():
    model = BuiltinFaceModel(grid_deg=2.0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        _check_head(model.build(model.sample_shape(rng), model.sample_expression(rng, 0.2), TRAITS))
    with pytest.raises(ValueError, match="shape coefficients"):
        model.build(np.zeros(3), np.zeros(3), TRAITS)


def test_builtin_identities_vary_and_twins_are_close():
    cfg = sim_config_from_dict({"face_model": {"grid_deg": 2.0}, "identities": {"count": 6, "twin_pairs": 1}})
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, seed=1)
    assert [i.token for i in ids] == [
        "custom-s1-000",
        "custom-s1-000t",
        "custom-s1-001",
        "custom-s1-002",
        "custom-s1-003",
        "custom-s1-004",
    ]
    assert ids[0].twin == "custom-s1-000t" and ids[1].twin == "custom-s1-000" and ids[1].traits == ids[0].traits
    lms = [model.build(i.shape, np.zeros(model.n_expr), i.traits).landmarks for i in ids]
    twin = np.linalg.norm(lms[0] - lms[1])
    others = [np.linalg.norm(lms[a] - lms[b]) for a in range(2, 6) for b in range(a + 1, 6)]
    assert twin < 0.5 * np.mean(others)
    assert make_identities(model, cfg, seed=1)[3].shape.tolist() == ids[3].shape.tolist()


def test_surrey_model(sfm_path):
    model = SurreyFaceModel(str(sfm_path), grid_deg=2.0)
    assert (model.n_shape, model.n_expr) == (63, 6)
    rng = np.random.default_rng(0)
    _check_head(model.build(np.zeros(63), np.zeros(6), TRAITS))
    _check_head(model.build(model.sample_shape(rng), model.sample_expression(rng, 0.2), TRAITS))
    v0 = model.vertices(np.zeros(63), np.zeros(6))
    v1 = model.vertices(np.eye(63)[0], np.zeros(6))
    assert 0.5 < np.sqrt(np.mean(np.sum((v1 - v0) ** 2, axis=1))) < 10  # one SD moves vertices by mm


def test_missing_surrey_file_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "nope.npz"
    with pytest.raises(ConfigError, match=r"^face_model\.path: Surrey Face Model file not found: .*nope\.npz"):
        SurreyFaceModel(str(missing))
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ConfigError, match=f"no Surrey Face Model file given .*{ENV_VAR}"):
        build_face_model(sim_config_from_dict({"face_model": {"kind": "sfm"}}).face_model)
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(ConfigError, match="not found"):
        build_face_model(sim_config_from_dict({"face_model": {"kind": "sfm"}}).face_model)
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="lacks key"):
        SurreyFaceModel(str(bad))
