"""Reconstruction decoders: a skip-connected PixelShuffle U-Net decoder (optionally FiLM-conditioned) and a
posture-routed mixture of such decoders (hard per-sample dispatch or a soft weighted blend)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from thzface.models.blocks import FiLM, PixelShuffleUp, ResidualDenseBlock, conv_act, is_exporting


class UNetDecoder(nn.Module):
    """Bottleneck → 1×1 reduce → residual dense block → ×2 PixelShuffle stages (each but the last concatenates
    the encoder skip of its size and fuses it with a conv3×3) → conv3×3 → Sigmoid.

    ``skip_channels`` lists the skips deep → shallow (one fewer than ``widths``). With ``cond_dim`` > 0 a FiLM
    layer after the dense block and after every stage conditions the features on a (B, cond_dim) vector.
    ``raw_output=True`` drops the Sigmoid (the caller maps the logits, e.g. as a residual on the input).
    ``final_up=True`` adds one more ×2 PixelShuffle stage (no skip) before the head: for a stride-2 encoder stem.
    The reference expert is ``in=512, reduce=256, widths=(128, 64, 32, 16), skips=(256, 128, 64)``.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: Sequence[int],
        reduce_channels: int,
        widths: Sequence[int],
        out_channels: int = 1,
        rdb_growth: int = 32,
        rdb_layers: int = 5,
        cond_dim: int = 0,
        raw_output: bool = False,
        final_up: bool = False,
    ) -> None:
        super().__init__()
        if len(skip_channels) != len(widths) - 1:
            raise ValueError(
                f"UNetDecoder: need len(widths) - 1 skips, got {len(skip_channels)} skips for widths {widths}"
            )
        self.reduce = nn.Conv2d(in_channels, reduce_channels, 1)
        self.rdb: nn.Module = (
            ResidualDenseBlock(reduce_channels, rdb_growth, rdb_layers) if rdb_layers > 0 else nn.Identity()
        )
        chans = [reduce_channels, *widths]
        self.ups = nn.ModuleList(PixelShuffleUp(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.fuses = nn.ModuleList(conv_act(w + s, w) for w, s in zip(widths, skip_channels, strict=False))
        self.films = nn.ModuleList(FiLM(cond_dim, c) for c in chans) if cond_dim > 0 else None
        self.final_up: nn.Module = PixelShuffleUp(widths[-1], widths[-1]) if final_up else nn.Identity()
        final = nn.Conv2d(widths[-1], out_channels, 3, padding=1)
        self.head = nn.Sequential(final) if raw_output else nn.Sequential(final, nn.Sigmoid())

    def forward(
        self, bottleneck: torch.Tensor, skips: Sequence[torch.Tensor], cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``skips`` as the encoder gives them (shallow → deep); ``cond`` (B, cond_dim) iff FiLM is on."""
        if (cond is None) != (self.films is None):
            raise ValueError("UNetDecoder: pass cond exactly when the decoder was built with cond_dim > 0")
        deep_first = list(reversed(skips))
        h = self.rdb(self.reduce(bottleneck))  # (B, reduce, h, w)
        h = self._film(0, h, cond)
        for i, up in enumerate(self.ups):
            h = up(h)  # (B, widths[i], 2h, 2w)
            if i < len(self.fuses):
                h = self.fuses[i](torch.cat([h, deep_first[i]], dim=1))  # (B, widths[i], 2h, 2w)
            h = self._film(i + 1, h, cond)
        h = self.final_up(h)  # (B, widths[-1], H, W): ×2 with final_up, else unchanged
        return self.head(h)  # (B, out, H, W): in [0, 1], or logits with raw_output

    def _film(self, i: int, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if self.films is None or cond is None:
            return h
        return self.films[i](h, cond)  # (B, C, h, w)


class MixtureDecoder(nn.Module):
    """Mixture of expert decoders, one per posture, combined by routing weights (B, K).

    ``hard=True`` (one-hot weights) sends each sample through its own expert only; otherwise the expert
    outputs are blended by the weights. While tracing/exporting the dense blend is used for both (for one-hot
    weights it gives the same result), so exported graphs carry no data-dependent control flow.
    """

    def __init__(self, experts: Sequence[UNetDecoder]) -> None:
        super().__init__()
        if not experts:
            raise ValueError("MixtureDecoder: needs at least one expert")
        self.experts = nn.ModuleList(experts)

    def forward(
        self, bottleneck: torch.Tensor, skips: Sequence[torch.Tensor], weights: torch.Tensor, hard: bool
    ) -> torch.Tensor:
        exporting = is_exporting()
        if not exporting and weights.shape != (bottleneck.shape[0], len(self.experts)):
            raise ValueError(f"MixtureDecoder: weights must be (B, {len(self.experts)}), got {tuple(weights.shape)}")
        if hard and not exporting:
            return self._dispatch(bottleneck, skips, weights.argmax(dim=1))
        outs = torch.stack([e(bottleneck, skips) for e in self.experts], dim=1)  # (B, K, C, H, W)
        return (weights[:, :, None, None, None] * outs).sum(dim=1)  # (B, C, H, W)

    def _dispatch(self, bottleneck: torch.Tensor, skips: Sequence[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """Run expert ``index[b]`` on sample ``b`` only; reassemble in the original order."""
        order, parts = [], []
        for k in torch.unique(index).tolist():
            sel = torch.nonzero(index == k).squeeze(1)  # (n_k,)
            parts.append(self.experts[k](bottleneck[sel], [s[sel] for s in skips]))  # (n_k, C, H, W)
            order.append(sel)
        inverse = torch.argsort(torch.cat(order))  # (B,)
        return torch.cat(parts, dim=0)[inverse]  # (B, C, H, W)
