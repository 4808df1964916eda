"""Reconstruction losses: golden values, the shared SSIM, masked L1 (LaMa weights), TV, errors."""

from __future__ import annotations

import math

import pytest
import torch

from thzface.losses import (
    charbonnier,
    gradient_loss,
    reconstruction_loss,
    reconstruction_terms,
    sobel,
    ssim_loss,
    tv_loss,
)
from thzface.metrics import ssim as ssim_metric


def _ramp(h: int = 4, w: int = 4, slope: float = 0.2) -> torch.Tensor:
    return (torch.arange(w, dtype=torch.float64) * slope).expand(1, 1, h, w).clone()  # (1, 1, H, W)


def test_charbonnier_golden() -> None:
    z = torch.zeros(1, 1, 4, 4)
    assert float(charbonnier(z, z)) == pytest.approx(1e-3)  # sqrt(eps)
    assert float(charbonnier(z.double(), z.double() + 0.3)) == pytest.approx(math.sqrt(0.09 + 1e-6))


def test_ssim_loss_is_one_minus_the_metric() -> None:
    g = torch.Generator().manual_seed(0)
    p, t = torch.rand(3, 1, 16, 16, generator=g), torch.rand(3, 1, 16, 16, generator=g)
    assert float(ssim_loss(p, p)) == pytest.approx(0.0, abs=1e-6)
    assert float(ssim_loss(p, t)) == pytest.approx(1 - ssim_metric(p, t).mean(), abs=1e-6)


def test_sobel_and_gradient_loss_golden() -> None:
    # ramp of slope a along W: d/dx = a inside, a/2 on the replicated border columns; d/dy = 0
    g = sobel(_ramp())
    assert torch.allclose(g[0, 0, 0], torch.tensor([0.1, 0.2, 0.2, 0.1], dtype=torch.float64))
    assert torch.equal(g[0, 1], torch.zeros(4, 4, dtype=torch.float64))
    # mean over both directions: (0.75 a + 0) / 2 = 0.075 for a = 0.2
    assert float(gradient_loss(_ramp(), torch.zeros(1, 1, 4, 4, dtype=torch.float64))) == pytest.approx(0.075)
    assert float(gradient_loss(_ramp() + 0.1, _ramp())) == pytest.approx(0.0)  # offsets have no gradient


def test_reconstruction_loss_is_the_weighted_sum() -> None:
    g = torch.Generator().manual_seed(1)
    p, t = torch.rand(2, 1, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)
    terms = reconstruction_terms(p, t)
    expected = terms["charbonnier"] + 0.8 * terms["ssim"] + 0.2 * terms["gradient"]
    assert torch.allclose(reconstruction_loss(p, t), expected)
    assert torch.allclose(reconstruction_loss(p, t, 0.0, 1.0, 0.0), terms["ssim"])
    p.requires_grad_(True)
    reconstruction_loss(p, t).backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_tv_golden() -> None:
    x = _ramp(slope=0.1) + (torch.arange(4, dtype=torch.float64) * 0.2).view(1, 1, 4, 1)
    assert float(tv_loss(x)) == pytest.approx(0.3)  # 0.2 vertical + 0.1 horizontal
    assert float(tv_loss(torch.full((1, 1, 3, 3), 0.7))) == 0.0


def test_gradcheck_losses() -> None:
    g = torch.Generator().manual_seed(2)
    p = torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64)
    # ssim_loss is 1 - mean of ssim_map, whose gradcheck lives in tests/metrics/test_metrics_ssim.py
    assert torch.autograd.gradcheck(lambda x: charbonnier(x, t), (p,))
    assert torch.autograd.gradcheck(lambda x: tv_loss(x - t), (p,))


def test_errors() -> None:
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"charbonnier: pred and target shapes differ: \(1, 1, 8, 8\) vs"):
        charbonnier(x, x[..., :7])
    with pytest.raises(ValueError, match="ssim_loss: pred must have 4 dims"):
        ssim_loss(x[0], x[0])
    with pytest.raises(ValueError, match="reconstruction_loss: w_ssim must be finite and >= 0"):
        reconstruction_loss(x, x, w_ssim=float("nan"))
    with pytest.raises(ValueError, match="tv_loss: x must be at least 2x2 pixels"):
        tv_loss(torch.zeros(1, 1, 1, 4))
    with pytest.raises(ValueError, match="gradient_loss: pred must be floating point"):
        gradient_loss(x.long(), x)
