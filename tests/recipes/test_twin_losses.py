"""losses.twin: triplet loss split by twin / random negatives and the part-box loss — golden values, errors."""

from __future__ import annotations

import math

import pytest
import torch

from thzface.losses.twin import box_loss, twin_triplet


def test_twin_triplet_golden_values_euclidean():
    a = torch.zeros(3, 2, requires_grad=True)
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.5]])  # d(a, p) = 1, 1, 0.5
    n = torch.tensor([[0.0, 2.0], [0.0, 1.2], [0.6, 0.0]])  # d(a, n) = 2, 1.2, 0.6
    out = twin_triplet(a, p, n, torch.tensor([False, True, True]), margin=0.3)
    # hinge: max(0, 1 - 2 + .3) = 0, max(0, 1 - 1.2 + .3) = .1, max(0, .5 - .6 + .3) = .2
    assert out["triplet"].item() == pytest.approx(0.1)
    assert out["triplet_twin"].item() == pytest.approx(0.15)
    assert out["triplet_random"].item() == pytest.approx(0.0)
    assert out["triplet"].requires_grad and not out["triplet_twin"].requires_grad


def test_twin_triplet_golden_values_cosine_and_absent_kind():
    a = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[1.0, 1.0]])  # 1 - cos = 1 - 1/sqrt(2)
    n = torch.tensor([[0.0, 1.0]])  # 1 - cos = 1
    out = twin_triplet(a, p, n, torch.tensor([False]), margin=1.0, distance="cosine")
    assert out["triplet"].item() == pytest.approx(1 - 1 / math.sqrt(2))
    assert math.isnan(out["triplet_twin"].item())


def test_twin_triplet_errors():
    a = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"twin_triplet: is_twin must be a bool tensor of shape \(2,\)"):
        twin_triplet(a, a, a, torch.tensor([0, 1]), margin=0.3)
    with pytest.raises(ValueError, match="twin_triplet: anchor and negative shapes differ"):
        twin_triplet(a, a, torch.zeros(2, 4), torch.tensor([False, True]), margin=0.3)


def test_box_loss_golden_values_and_masking():
    target = torch.zeros(3, 5, 4)
    pred = torch.zeros(3, 5, 4)
    pred[0] = 3.2  # 0.1 of a 32-px image: |x| >= beta → |x| - beta / 2 = 0.075
    pred[1] = 0.64  # 0.02: quadratic zone → 0.5 · 0.02² / 0.05 = 0.004
    pred[2] = 100.0  # ignored (no boxes for this row)
    valid = torch.tensor([True, True, False])
    assert box_loss(pred, target, valid, 32).item() == pytest.approx((0.075 + 0.004) / 2)
    none = box_loss(pred.requires_grad_(), target, torch.zeros(3, dtype=torch.bool), 32)
    assert none.item() == 0.0 and none.requires_grad


def test_box_loss_errors():
    b = torch.zeros(2, 5, 4)
    with pytest.raises(ValueError, match=r"box_loss: valid must be a bool tensor of shape \(2,\)"):
        box_loss(b, b, torch.ones(2), 32)
    with pytest.raises(ValueError, match="box_loss: image_size"):
        box_loss(b, b, torch.ones(2, dtype=torch.bool), 0)
