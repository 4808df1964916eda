"""The batched backend's head build (sim/batch_face.py): the built-in model's heads to rounding, from per-person
caches that depend on the person alone."""

from __future__ import annotations

import numpy as np

from thzface.sim.batch_face import head_builder, loft_radius_torch, person
from thzface.sim.builtin_face import loft_radius, measures_from_coeffs, template_landmarks
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset


def _people(n: int = 3):
    cfg = get_preset("tiny", ["identities.count=4"])
    model = build_face_model(cfg.face_model)
    return cfg, model, make_identities(model, cfg, 0)[:n]


def test_torch_loft_within_a_bisection_step_of_numpy():
    _, model, ids = _people(2)
    for ident in ids:
        m = measures_from_coeffs(ident.shape)
        p = template_landmarks(m, np.zeros(model.n_expr))
        a, b = loft_radius(m, p, model.grid.dirs), loft_radius_torch(m, p, model.grid.dirs)
        assert np.abs(a - b).max() <= 2 * 320.0 / 2**18 + 1e-9  # mm: two bisection steps (float32 at the boundary)


def test_cached_heads_equal_the_reference_build_to_rounding():
    cfg, model, ids = _people(3)
    build, rng = head_builder(model), np.random.default_rng(5)
    for ident in ids:
        for _ in range(4):
            e = model.sample_expression(rng, 2 * cfg.face_model.expression_sigma)  # wide: bands reach far
            a, b = model.build(ident.shape, e, ident.traits), build(ident.shape, e, ident.traits)
            assert np.abs(a.r - b.r).max() < 5e-3  # mm (the float32 loft)
            assert np.abs(a.landmarks - b.landmarks).max() < 5e-3
            assert (a.labels != b.labels).mean() < 1e-3 and (a.glasses != b.glasses).mean() < 1e-3
            assert np.abs(a.hair - b.hair).max() < 1e-2


def test_a_person_cache_depends_on_the_person_alone():
    _, model, ids = _people(2)
    build, e = head_builder(model), np.array([0.4, -0.3, 0.5])
    first = build(ids[1].shape, e, ids[1].traits).r
    for ident in ids:  # another person in between; then a fresh model, nothing cached
        build(ident.shape, e, ident.traits)
    again = build(ids[1].shape, e, ids[1].traits).r
    fresh = build_face_model(get_preset("tiny").face_model)
    alone = head_builder(fresh)(ids[1].shape, e, ids[1].traits).r
    assert np.array_equal(first, again) and np.array_equal(first, alone)
    assert person(model, ids[1].shape) is person(model, ids[1].shape)


def test_other_face_models_build_their_own_heads():
    class Other:
        def build(self, shape, expr, traits):
            return "own"

    assert head_builder(Other())(np.zeros(1), np.zeros(1), {}) == "own"  # type: ignore[arg-type]
