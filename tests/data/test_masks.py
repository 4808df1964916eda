"""Occlusion masks: area ratios inside their bucket, determinism, ratio fitting, curriculum, fallbacks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.data.masks import (
    Garment,
    MaskConfig,
    MaskContext,
    Parts,
    area_ratio,
    curriculum_range,
    eval_mask,
    fit_ratio,
    make_generator,
    sample_mask,
)

S = 32
BUCKETS = [(0.1, 0.3), (0.3, 0.5), (0.5, 0.7)]


def head_context(garment: bool = True, boxes: bool = True) -> MaskContext:
    yy, xx = np.mgrid[:S, :S]
    face = ((yy - 16) / 14) ** 2 + ((xx - 16) / 10) ** 2 <= 1
    parts = np.array([[9, 11, 14, 14], [18, 11, 23, 14], [14, 14, 18, 20], [12, 21, 20, 24], [13, 25, 19, 29]], float)
    g = face & (yy > 18)
    return MaskContext(region=face, boxes=parts if boxes else None, garment=g if garment else None)


@pytest.mark.parametrize("kind", ["irregular", "rect", "parts"])
@pytest.mark.parametrize("bucket", BUCKETS)
def test_ratio_lies_in_bucket_with_and_without_region(kind, bucket):
    ctx = head_context()
    for seed in range(8):
        m = make_generator(kind, bucket)(np.random.default_rng(seed), S, ctx)
        assert m.shape == (S, S) and m.dtype == bool
        assert bucket[0] <= area_ratio(m, ctx.region) <= bucket[1]
        assert not (m & ~ctx.region).any()  # holes stay on the head
    no_region = MaskContext(None, ctx.boxes, None)
    m = make_generator(kind, bucket)(np.random.default_rng(0), S, no_region)
    assert bucket[0] <= m.mean() <= bucket[1]


@pytest.mark.parametrize("kind", ["irregular", "rect", "parts"])
def test_generators_are_deterministic_per_seed(kind):
    ctx = head_context()
    gen = make_generator(kind, (0.3, 0.5))
    a, b = gen(np.random.default_rng(7), S, ctx), gen(np.random.default_rng(7), S, ctx)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, gen(np.random.default_rng(8), S, ctx))


def test_fit_ratio_grows_and_trims_to_the_pixel():
    rng = np.random.default_rng(0)
    seed = np.zeros((10, 10), bool)
    seed[4:6, 4:6] = True
    grown = fit_ratio(seed, (0.3, 0.3), rng)
    assert grown.sum() == 30 and grown[4:6, 4:6].all()  # grows around the seed, keeps it
    full = np.ones((10, 10), bool)
    trimmed = fit_ratio(full, (0.5, 0.6), rng)
    assert trimmed.sum() == 60 and trimmed[3:7, 3:7].all()  # trims from the outside in
    assert fit_ratio(seed, (0.1, 0.9), rng, target=0.25).sum() == 25
    with pytest.raises(ValueError, match=r"fit_ratio: range \(0.312, 0.318\) holds no pixel count"):
        fit_ratio(seed, (0.312, 0.318), rng)


def test_garment_and_parts_need_their_data():
    ctx = head_context()
    g = Garment()(np.random.default_rng(0), S, ctx)
    assert np.array_equal(g, ctx.garment)
    with pytest.raises(ValueError, match="Garment mask: the image has no garment mask"):
        Garment()(np.random.default_rng(0), S, head_context(garment=False))
    with pytest.raises(ValueError, match="Parts mask: the image has no facial-part boxes"):
        Parts((0.1, 0.3))(np.random.default_rng(0), S, head_context(boxes=False))
    with pytest.raises(ValueError, match="mask kind 'blob' is unknown"):
        make_generator("blob", (0.1, 0.3))


def test_curriculum_step_and_ramp():
    step = MaskConfig(mode="step")
    assert curriculum_range(step, 0.0) == (0.1, 0.3)
    assert curriculum_range(step, 0.19) == (0.1, 0.3)
    assert curriculum_range(step, 0.2) == (0.3, 0.5)
    assert curriculum_range(step, 0.99) == (0.5, 0.7)
    assert curriculum_range(step, 1.5) == (0.5, 0.7)
    ramp = MaskConfig(mode="ramp")
    assert curriculum_range(ramp, 0.1) == pytest.approx((0.2, 0.4))  # halfway from level 1 to level 2
    assert curriculum_range(ramp, 0.35) == pytest.approx((0.4, 0.6))
    assert curriculum_range(ramp, 0.8) == (0.5, 0.7)


def test_sample_mask_follows_curriculum_weights_and_falls_back():
    cfg = MaskConfig(kinds={"parts": 1.0, "garment": 0.0})
    rng = np.random.default_rng(0)
    for progress, (lo, hi) in ((0.0, BUCKETS[0]), (0.6, BUCKETS[2])):
        m, kind = sample_mask(cfg, rng, S, head_context(), progress)
        assert kind == "parts" and lo <= area_ratio(m, head_context().region) <= hi
    _, kind = sample_mask(cfg, rng, S, head_context(boxes=False), 0.0)
    assert kind == "irregular"  # parts without boxes fall back
    garment_only = MaskConfig(kinds={"garment": 1.0})
    m, kind = sample_mask(garment_only, rng, S, head_context(), 0.9)
    assert kind == "garment" and np.array_equal(m, head_context().garment)  # real silhouette, not refitted
    image_region = MaskConfig(kinds={"rect": 1.0}, region="image")
    m, _ = sample_mask(image_region, rng, S, head_context(), 0.0)
    assert 0.1 <= m.mean() <= 0.3


def test_eval_masks_are_fixed_per_index_and_bucket():
    cfg = MaskConfig()
    ctx = head_context()
    a, kind_a = eval_mask(cfg, 4, 1, S, ctx)
    sample_mask(cfg, np.random.default_rng(3), S, ctx, 0.5)  # unrelated draws change nothing
    b, kind_b = eval_mask(cfg, 4, 1, S, ctx)
    assert np.array_equal(a, b) and kind_a == kind_b == cfg.eval_kinds[4 % 3]
    assert 0.3 <= area_ratio(a, ctx.region) <= 0.5
    assert not np.array_equal(a, eval_mask(cfg, 4, 2, S, ctx)[0])
    other_seed = MaskConfig(eval_seed=99)
    assert not np.array_equal(a, eval_mask(other_seed, 4, 1, S, ctx)[0])


def test_mask_config_validation():
    with pytest.raises(ValueError, match=r"unknown mask kind\(s\) \['blob'\]"):
        MaskConfig(kinds={"blob": 1.0})
    with pytest.raises(ValueError, match="starts .* needs one ascending entry per bucket"):
        MaskConfig(starts=(0.0, 0.5))
    with pytest.raises(ValueError, match="buckets .* must be ranges 0 < lo <= hi < 1"):
        MaskConfig(buckets=[(0.5, 0.3)], starts=(0.0,))
    with pytest.raises(ValueError, match="mode must be step|ramp"):
        MaskConfig(mode="linear")
