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
    aligned: torch.Tensor | None = None  # the input warped to canonical (B, C, H, W) when the model aligns
    alignment: torch.Tensor | None = None  # its predicted in-plane pose (B, 3) (models.align)

    def rows(self, n: int) -> EncoderFeatures:
        """The features of the first ``n`` rows (a flip-test batch's views, without their mirrors; ``aligned`` and
        ``alignment`` hold the views' only)."""
        cut = lambda t: None if t is None else t[:n]  # noqa: E731
        return EncoderFeatures([s[:n] for s in self.skips], self.bottleneck[:n], self.latent[:n],
                               cut(self.aligned), cut(self.alignment))  # fmt: skip


class ResNetEncoder(nn.Module):
    """conv3×3 stem (in → ``stem_width``, stride ``stem_stride``) + LReLU, then one stage per entry of ``widths``.

    A stage is a stride-2 :class:`ResidualDownBlock` followed by ``depths[i] - 1`` stride-1 ones (``depths``
    empty: one block per stage; a one-block stage is the block itself, so weight names stay those of the
    reference). ``separable`` makes the stage convs depthwise-separable. ``forward`` returns every stage
    output, shallow to deep; each halves the spatial size.
    """

    def __init__(
        self,
        in_channels: int,
        stem_width: int,
        widths: Sequence[int],
        depths: Sequence[int] = (),
        stem_stride: int = 1,
        separable: bool = False,
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("ResNetEncoder: widths must name at least one stage")
        depths = tuple(depths) or (1,) * len(widths)
        if len(depths) != len(widths) or min(depths) < 1 or stem_stride not in (1, 2):
            raise ValueError(
                f"ResNetEncoder: depths {depths} needs one entry ≥ 1 per stage of {tuple(widths)}, "
                f"stem_stride {stem_stride} must be 1 or 2"
            )
        self.stem_stride = stem_stride
        self.stem = conv_act(in_channels, stem_width, stride=stem_stride)
        chans = [stem_width, *widths]
        self.stages = nn.ModuleList(
            _stage(a, b, d, separable) for a, b, d in zip(chans[:-1], chans[1:], depths, strict=True)
        )

    @property
    def reduction(self) -> int:
        """Total spatial down-sampling factor (stem stride × 2 per stage)."""
        return self.stem_stride * 2 ** len(self.stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(x)  # (B, stem, H/s, W/s)
        outs = []
        for stage in self.stages:
            h = stage(h)  # (B, w_i, H/(s·2^(i+1)), W/(s·2^(i+1)))
            outs.append(h)
        return outs


def _stage(in_ch: int, out_ch: int, depth: int, separable: bool) -> nn.Module:
    """One encoder stage: a stride-2 block, then ``depth - 1`` stride-1 blocks (a lone block is returned bare)."""
    first = ResidualDownBlock(in_ch, out_ch, 2, separable)
    if depth == 1:
        return first
    return nn.Sequential(first, *(ResidualDownBlock(out_ch, out_ch, 1, separable) for _ in range(depth - 1)))


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


def build_trunk(kind: str, in_ch: int, out_dim: int, side: int, dropout: float) -> nn.Sequential:
    """The one choice of trunk (student and teacher alike): ``conv`` / ``flatten`` → :func:`conv_trunk` over the
    ``side``×``side`` bottleneck (a weight per position); ``avg`` / ``attn`` → :func:`pooled_trunk` (any size)."""
    if kind in ("conv", "flatten"):
        return conv_trunk(in_ch, out_dim, side, dropout)
    return pooled_trunk(in_ch, out_dim, kind, dropout)


def pooled_trunk(in_ch: int, out_dim: int, pool: str, dropout: float) -> nn.Sequential:
    """Size-agnostic trunk: ``pool`` ('avg' | 'attn') → Linear → LayerNorm → LReLU → dropout."""
    pools: dict[str, type[nn.Module]] = {"avg": AvgPool, "attn": AttentionPool}
    if pool not in pools:
        raise ValueError(f"pooled_trunk: pool {pool!r} is not one of {sorted(pools)}")
    pool_mod = AvgPool() if pool == "avg" else AttentionPool(in_ch)
    return nn.Sequential(pool_mod, nn.Linear(in_ch, out_dim), nn.LayerNorm(out_dim), lrelu(), nn.Dropout(dropout))
