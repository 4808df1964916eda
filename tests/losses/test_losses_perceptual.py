"""LPIPS from local files (random weights here: no download): loading, errors, properties of the distance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from thzface.losses import LPIPS, WeightsNotFoundError, lpips_loss
from thzface.losses.perceptual import _CHANNELS, _features


def _backbone_state(net: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision-style whole-model state dict (features.* plus a classifier key that must be ignored)."""
    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in _features(net).state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(4, 4)
    return state


def _lin_state(net: str, value: float | None = None) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {
        f"lin{i}.model.1.weight": torch.full((1, c, 1, 1), value)
        if value is not None
        else torch.rand(1, c, 1, 1, generator=g)
        for i, c in enumerate(_CHANNELS[net])
    }


@pytest.fixture(scope="module")
def alex_files(tmp_path_factory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("lpips")
    torch.save(_backbone_state("alex"), d / "alexnet.pth")
    save_file(_backbone_state("alex"), str(d / "alexnet.safetensors"))
    torch.save(_lin_state("alex"), d / "alex_lin.pth")
    return d / "alexnet.pth", d / "alexnet.safetensors", d / "alex_lin.pth"


def _pair(seed: int, c: int = 3, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, c, size, size, generator=g), torch.rand(2, c, size, size, generator=g)


def test_missing_or_none_path_names_it(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="lpips_loss: backbone_path is None"):
        lpips_loss(None)
    missing = tmp_path / "nowhere" / "alexnet.pth"
    with pytest.raises(ValueError, match=f"backbone weights file not found: {missing}"):
        lpips_loss(missing)
    with pytest.raises(FileNotFoundError, match="LPIPS linear weights file not found"):
        lpips_loss(__file__, lin_path=tmp_path / "lin.pth")


def test_unreadable_or_wrong_weights(tmp_path, alex_files) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"lpips_loss: cannot read backbone weights file {bad}"):
        lpips_loss(bad)
    with pytest.raises(ValueError, match="LPIPS: backbone weights for net='vgg' lack"):
        lpips_loss(alex_files[0], net="vgg")
    with pytest.raises(ValueError, match=r"LPIPS: lin weights lack lin0 of shape \(1, 64, 1, 1\)"):
        LPIPS(_backbone_state("alex"), {"lin0.model.1.weight": torch.ones(1, 3, 1, 1)})


def test_distance_properties(alex_files) -> None:
    net = lpips_loss(alex_files[0], alex_files[2])
    a, b = _pair(0)
    assert torch.allclose(net.distance(a, a), torch.zeros(2), atol=1e-7)
    d_ab = net.distance(a, b)
    assert d_ab.shape == (2,) and bool((d_ab > 0).all())
    assert torch.allclose(d_ab, net.distance(b, a), rtol=1e-5)
    assert torch.allclose(net(a, b), d_ab.mean())
    # a small perturbation is closer than an unrelated image
    assert bool((net.distance(a, (a + 0.02).clamp(0, 1)) < d_ab).all())


def test_formats_agree_and_weights_frozen(alex_files) -> None:
    a, b = _pair(1)
    from_pth = lpips_loss(alex_files[0], alex_files[2])
    from_safetensors = lpips_loss(alex_files[1], alex_files[2])
    assert torch.allclose(from_pth.distance(a, b), from_safetensors.distance(a, b))
    assert not any(p.requires_grad for p in from_pth.parameters())
    assert not from_pth.training


def test_unit_lin_weights_equal_the_baseline(alex_files) -> None:
    a, b = _pair(2)
    baseline = lpips_loss(alex_files[0])
    ones = LPIPS(_backbone_state("alex"), _lin_state("alex", 1.0))
    assert len(baseline.lins) == 0
    assert torch.allclose(baseline.distance(a, b), ones.distance(a, b), rtol=1e-5)


def test_combined_file_carries_lin_weights(tmp_path, alex_files) -> None:
    combined = tmp_path / "alex_lpips.pth"
    torch.save({**_backbone_state("alex"), **_lin_state("alex")}, combined)
    a, b = _pair(3)
    assert torch.allclose(lpips_loss(combined).distance(a, b), lpips_loss(*alex_files[::2]).distance(a, b))


def test_grayscale_gradient_and_size_check(alex_files) -> None:
    net = lpips_loss(alex_files[0], alex_files[2])
    a, b = _pair(4, c=1)
    assert torch.allclose(net.distance(a, b), net.distance(a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)))
    a.requires_grad_(True)
    net(a, b).backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="lpips: net='alex' needs H, W >= 31, got 16x16"):
        net(*_pair(5, size=16))
    with pytest.raises(ValueError, match="lpips: images must have 1 or 3 channels, got 2"):
        net(*_pair(6, c=2))


def test_vgg_variant() -> None:
    net = LPIPS(_backbone_state("vgg"), _lin_state("vgg"), net="vgg")
    a, b = _pair(7, size=16)
    assert torch.allclose(net.distance(a, a), torch.zeros(2), atol=1e-7)
    assert bool((net.distance(a, b) > 0).all())
