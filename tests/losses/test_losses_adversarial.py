"""Adversarial losses: golden hinge / non-saturating values, gradient penalties on linear critics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from thzface.losses import gan_d_loss, gan_g_loss, gradient_penalty


def test_gan_losses_golden() -> None:
    z = torch.zeros(2, 1, 3, 3)  # PatchGAN-shaped logits
    assert float(gan_d_loss(z, z, "hinge")) == pytest.approx(2.0)
    assert float(gan_d_loss(z, z, "nonsaturating")) == pytest.approx(2 * math.log(2))
    assert float(gan_g_loss(z, "hinge")) == 0.0
    assert float(gan_g_loss(z, "nonsaturating")) == pytest.approx(math.log(2))
    real, fake = torch.full((4,), 2.0), torch.full((4,), -2.0)
    assert float(gan_d_loss(real, fake, "hinge")) == 0.0  # both beyond the margin
    assert float(gan_g_loss(fake, "hinge")) == pytest.approx(2.0)
    assert float(gan_d_loss(real, fake, "nonsaturating")) == pytest.approx(2 * math.log1p(math.exp(-2)))


class _Linear(nn.Module):
    """D(x) = <w, x> per sample: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(dim=1)  # (N,)


def _unit(shape: tuple[int, ...], norm: float) -> torch.Tensor:
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return norm * w / w.norm()


def test_wgan_gp_zero_for_unit_gradient_norm() -> None:
    d = _Linear(_unit((1, 4, 4), 1.0))
    real, fake = torch.rand(3, 1, 4, 4, dtype=torch.float64), torch.rand(3, 1, 4, 4, dtype=torch.float64)
    assert gradient_penalty(d, real, fake).item() == pytest.approx(0.0, abs=1e-12)


def test_wgan_gp_golden_and_grad_to_discriminator() -> None:
    w = _unit((1, 4, 4), 2.0)
    d = _Linear(w.clone())
    real, fake = torch.rand(3, 1, 4, 4, dtype=torch.float64), torch.rand(3, 1, 4, 4, dtype=torch.float64)
    gp = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(1))
    assert gp.item() == pytest.approx(1.0)  # (|w| - 1)^2
    gp.backward()  # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| = w for |w| = 2
    assert torch.allclose(d.w.grad, w, atol=1e-9)


def test_r1_golden() -> None:
    d = _Linear(_unit((1, 4, 4), 2.0))
    r1 = gradient_penalty(d, torch.rand(2, 1, 4, 4, dtype=torch.float64), kind="r1")
    assert r1.item() == pytest.approx(4.0)


def test_penalty_is_seeded_and_detaches_inputs() -> None:
    torch.manual_seed(0)
    d = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 4 * 4, 1))
    real = torch.rand(4, 1, 6, 6)
    fake = torch.rand(4, 1, 6, 6, requires_grad=True)
    a = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(5))
    b = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(5))
    c = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(6))
    assert a.item() == b.item() and a.item() != c.item()
    a.backward()
    assert fake.grad is None
    assert all(p.grad is not None for p in (d[0].weight, d[0].bias, d[3].weight))
    assert d[3].bias.grad is None  # a critic's bias never changes its input gradient
    with torch.no_grad():  # still computes the input gradient inside
        again = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(5))
        assert again.item() == b.item()


def test_errors() -> None:
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="gan_d_loss: kind must be one of"):
        gan_d_loss(z, z, kind="wasserstein")
    with pytest.raises(ValueError, match="gan_g_loss: fake_logits must be floating point"):
        gan_g_loss(z.long())
    d = _Linear(torch.ones(3))
    with pytest.raises(ValueError, match="gradient_penalty: kind='wgan-gp' needs fake"):
        gradient_penalty(d, z)
    with pytest.raises(ValueError, match=r"gradient_penalty: real and fake shapes differ: \(2, 3\) vs \(1, 3\)"):
        gradient_penalty(d, z, z[:1])
    with pytest.raises(ValueError, match="gradient_penalty: kind must be one of"):
        gradient_penalty(d, z, z, kind="r2")
