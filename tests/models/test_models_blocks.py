"""Tests of the shared blocks: shapes, residual structure, FiLM identity start, pooling, bad sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thzface.models.blocks import (
    AttentionPool,
    AvgPool,
    FiLM,
    L2Norm,
    PixelShuffleUp,
    ResidualDenseBlock,
    ResidualDownBlock,
    conv_act,
)


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_residual_down_block_shapes_and_shortcut_kind() -> None:
    torch.manual_seed(0)
    same, grow = ResidualDownBlock(8, 8), ResidualDownBlock(8, 16)
    assert isinstance(same.shortcut, nn.AvgPool2d)
    assert isinstance(grow.shortcut, nn.Sequential) and grow.shortcut[0].stride == (2, 2)
    assert same(_x(2, 8, 16, 16)).shape == (2, 8, 8, 8)
    assert grow(_x(2, 8, 16, 12)).shape == (2, 16, 8, 6)


def test_residual_dense_block_is_residual_with_scale() -> None:
    torch.manual_seed(0)
    rdb = ResidualDenseBlock(12, growth=4, num_layers=3, res_scale=0.5)
    x = _x(2, 12, 5, 5)
    assert [layer[0].in_channels for layer in rdb.layers] == [12, 16, 20]
    assert rdb.local_fusion.in_channels == 24
    delta = rdb(x) - x
    assert delta.abs().max() > 0
    rdb.res_scale = 1.0
    assert torch.allclose(rdb(x) - x, 2 * delta, atol=1e-6)
    nn.init.zeros_(rdb.local_fusion.weight)
    nn.init.zeros_(rdb.local_fusion.bias)
    assert torch.equal(rdb(x), x)


def test_pixel_shuffle_up_and_conv_act_shapes() -> None:
    up = PixelShuffleUp(6, 3)
    assert up.conv.out_channels == 12
    assert up(_x(2, 6, 4, 5)).shape == (2, 3, 8, 10)
    assert conv_act(3, 7)(_x(1, 3, 6, 6)).shape == (1, 7, 6, 6)


def test_film_starts_as_identity_then_conditions() -> None:
    film = FiLM(cond_dim=5, channels=4)
    x, cond = _x(3, 4, 6, 6), torch.eye(5)[:3]
    assert torch.equal(film(x, cond), x)
    with torch.no_grad():
        film.proj.bias[4:] = 1.0  # beta = +1 for every channel
    assert torch.allclose(film(x, cond), x + 1.0)


def test_pools_and_l2norm() -> None:
    x = _x(2, 6, 3, 4)
    attn = AttentionPool(6)
    assert attn.score.bias is None  # a bias cannot change a softmax over positions
    nn.init.zeros_(attn.score.weight)  # uniform attention = average
    assert torch.allclose(attn(x), AvgPool()(x), atol=1e-6)
    assert torch.allclose(AvgPool()(x), x.mean(dim=(2, 3)))
    assert torch.allclose(L2Norm()(_x(4, 7)).norm(dim=1), torch.ones(4))


@pytest.mark.parametrize(
    "make", [lambda: ResidualDownBlock(0, 8), lambda: ResidualDenseBlock(8, growth=-1), lambda: FiLM(0, 3)]
)
def test_bad_sizes_raise(make) -> None:
    with pytest.raises(ValueError, match="positive integers"):
        make()
