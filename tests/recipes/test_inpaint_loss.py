"""Inpainting pixel loss: golden values for both hole normalisations, empty holes, gradient, bad input."""

from __future__ import annotations

import pytest
import torch

from thzface.losses.inpaint import hole_l1, hole_ssim_loss, inpaint_l1

# two 1x2x2 images; errors |pred - target| = [[0.1, 0.2], [0.3, 0.4]] and [[0.5, 0.5], [0.5, 0.5]]
TARGET = torch.zeros(2, 1, 2, 2)
PRED = torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]], [[[0.5, 0.5], [0.5, 0.5]]]])
MASK = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]], [[[0.0, 0.0], [0.0, 1.0]]]])  # holes: 0.2, 0.3 | 0.5


def test_golden_values_hole_norm():
    # per-image hole means: (0.2 + 0.3) / 2 = 0.25 and 0.5 / 1 = 0.5 → 0.375
    assert hole_l1(PRED, TARGET, MASK, "hole").item() == pytest.approx(0.375)
    # whole L1 = (1.0 + 2.0) / 8 = 0.375; total = 1 * 0.375 + 6 * 0.375 = 2.625
    assert inpaint_l1(PRED, TARGET, MASK, w_l1=1.0, w_hole=6.0).item() == pytest.approx(2.625)


def test_golden_values_image_norm_matches_seed_weighting():
    # hole errors summed over all 8 pixels: (0.2 + 0.3 + 0.5) / 8 = 0.125
    assert hole_l1(PRED, TARGET, MASK, "image").item() == pytest.approx(0.125)
    total = inpaint_l1(PRED, TARGET, MASK, w_l1=1.0, w_hole=5.0, hole_norm="image")
    assert total.item() == pytest.approx(0.375 + 5 * 0.125)
    # = the seed code's per-pixel weights 1 (known) / 6 (hole): (6 * 1.0 + 1 * 2.0) / 8 = 1.0
    assert total.item() == pytest.approx(1.0)


def test_empty_hole_counts_zero_and_channels_broadcast():
    empty = torch.zeros_like(MASK)
    assert hole_l1(PRED, TARGET, empty, "hole").item() == 0.0
    rgb_pred, rgb_target = PRED.repeat(1, 3, 1, 1), TARGET.repeat(1, 3, 1, 1)
    assert hole_l1(rgb_pred, rgb_target, MASK).item() == pytest.approx(0.375)


def test_gradient_only_from_weighted_terms():
    pred = PRED.clone().requires_grad_(True)
    inpaint_l1(pred, TARGET, MASK, w_l1=0.0, w_hole=1.0).backward()
    assert torch.equal(pred.grad != 0, MASK.bool())  # only hole pixels are pulled


def test_bad_input_messages():
    with pytest.raises(ValueError, match="hole_l1: hole_norm 'pixels' is not one of"):
        hole_l1(PRED, TARGET, MASK, "pixels")
    with pytest.raises(ValueError, match="hole_l1: mask shape"):
        hole_l1(PRED, TARGET, MASK[:, :, :1])
    with pytest.raises(ValueError, match="inpaint_l1: w_hole must be finite and >= 0"):
        inpaint_l1(PRED, TARGET, MASK, w_hole=-1.0)


def test_hole_ssim_loss_golden_value_and_empty_hole():
    # constant images 0.5 vs 0.25: SSIM = (2·0.5·0.25 + C1) / (0.5² + 0.25² + C1) · (0 + C2) / (0 + C2), C1 = 1e-4
    pred, target = torch.full((2, 1, 16, 16), 0.5), torch.full((2, 1, 16, 16), 0.25)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 4:9, 3:12] = 1.0  # image 1: empty hole, counts 0
    want = (1.0 - (0.25 + 1e-4) / (0.3125 + 1e-4)) / 2  # 0.199936 / 2
    assert float(hole_ssim_loss(pred, target, mask)) == pytest.approx(want, rel=1e-5)
    assert float(hole_ssim_loss(target, target, mask)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="hole_ssim_loss"):
        hole_ssim_loss(pred, target, mask[:, :, :8])
