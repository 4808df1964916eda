"""Shared THz image encoder: conv stem + residual stride-2 stages (skips + bottleneck), and the latent trunks.

Two trunks turn the bottleneck map into the latent vector the heads read: the reference's conv trunk
(a conv whose kernel and stride equal the bottleneck size, i.e. 4×4 s4 at 64×64 input) and a pooled trunk
(average or attention pooling → Linear → LayerNorm) that works at any input size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from thzface.models.blocks import AttentionPool, AvgPool, ResidualDownBlock, conv_act, lrelu


@dataclass
class EncoderFeatures:
    """What :meth:`MultiTaskModel.encode` returns; heads and decoders read only this."""

    skips: list[torch.Tensor]  # stage outputs shallow → deep, without the last: [(B, w0, H/2, W/2), ...]
    bottleneck: torch.Tensor  # last stage output (B, w[-1], H/2^n, W/2^n)
    latent: torch.Tensor  # trunk output (B, F), input of the verification and posture heads


class ResNetEncoder(nn.Module):
    """conv3×3 stem (in → ``stem_width``) + LReLU, then one :class:`ResidualDownBlock` per entry of ``widths``.

    ``forward`` returns every stage output, shallow to deep; each halves the spatial size.
    """

    def __init__(self, in_channels: int, stem_width: int, widths: Sequence[int]) -> None:
        super().__init__()
        if not widths:
            raise ValueError("ResNetEncoder: widths must name at least one stage")
        self.stem = conv_act(in_channels, stem_width)
        chans = [stem_width, *widths]
        self.stages = nn.ModuleList(ResidualDownBlock(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True))

    @property
    def reduction(self) -> int:
        """Total spatial down-sampling factor (2 per stage)."""
        return 2 ** len(self.stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(x)  # (B, stem, H, W)
        outs = []
        for stage in self.stages:
            h = stage(h)  # (B, w_i, H/2^(i+1), W/2^(i+1))
            outs.append(h)
        return outs


def conv_trunk(in_ch: int, out_dim: int, kernel: int, dropout: float) -> nn.Sequential:
    """Reference trunk: conv k×k stride k (no bias) → BN → LReLU → flatten → dropout.

    ``kernel`` must equal the bottleneck's spatial size so the output is a (B, out_dim) vector.
    Indices 0 (conv) and 1 (BN) carry the reference weights.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, out_dim, kernel, stride=kernel, bias=False),
        nn.BatchNorm2d(out_dim),
        lrelu(),
        nn.Flatten(1),
        nn.Dropout(dropout),
    )


def pooled_trunk(in_ch: int, out_dim: int, pool: str, dropout: float) -> nn.Sequential:
    """Size-agnostic trunk: ``pool`` ('avg' | 'attn') → Linear → LayerNorm → LReLU → dropout."""
    pools: dict[str, type[nn.Module]] = {"avg": AvgPool, "attn": AttentionPool}
    if pool not in pools:
        raise ValueError(f"pooled_trunk: pool {pool!r} is not one of {sorted(pools)}")
    pool_mod = AvgPool() if pool == "avg" else AttentionPool(in_ch)
    return nn.Sequential(pool_mod, nn.Linear(in_ch, out_dim), nn.LayerNorm(out_dim), lrelu(), nn.Dropout(dropout))
