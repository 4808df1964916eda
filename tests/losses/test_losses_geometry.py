"""Geometry losses: hand-computed values, gradients, validation messages."""

from __future__ import annotations

import pytest
import torch

from thzface.losses.geometry import pose_regression, shape_regression


def test_shape_regression_hand_computed() -> None:
    pred = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert float(shape_regression(pred, target)) == pytest.approx((1 + 4) / 4)
    assert float(shape_regression(pred, target, sigma=2.0)) == pytest.approx((0.25 + 1) / 4)


def test_pose_regression_hand_computed() -> None:
    pred = torch.tensor([[30.0, 0.0, 0.0, 0.0, 5.0]])
    target = torch.zeros(1, 5)
    # scaled residuals 1, 0, 0, 0, 0.5 -> smooth L1 (beta 1): 0.5*1, 0, 0, 0, 0.5*0.25 -> mean 0.625/5
    assert float(pose_regression(pred, target)) == pytest.approx(0.625 / 5)
    big = torch.tensor([[90.0, 0.0, 0.0]])  # 3 scaled units: linear part 3 - 0.5
    assert float(pose_regression(big, torch.zeros(1, 3))) == pytest.approx(2.5 / 3)


def test_gradients_flow() -> None:
    pred = torch.randn(4, 5, requires_grad=True)
    (shape_regression(pred, torch.randn(4, 5)) + pose_regression(pred, torch.randn(4, 5))).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_messages() -> None:
    with pytest.raises(ValueError, match="shape_regression: pred and target shapes differ"):
        shape_regression(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="pose_regression: 6 pose terms but 5 scales"):
        pose_regression(torch.zeros(1, 6), torch.zeros(1, 6))
    with pytest.raises(ValueError, match="sigma must be positive"):
        shape_regression(torch.zeros(1, 2), torch.zeros(1, 2), sigma=0.0)
