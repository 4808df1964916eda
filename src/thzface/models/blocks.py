"""Reusable network blocks: conv+activation, residual stride-2 stages, residual dense block, PixelShuffle up, FiLM.

Module attribute names follow the reference repository (``conv1``, ``bn1``, ``shortcut.0``, ``layers.i.0``,
``local_fusion``, ``conv``) so that its released weights map onto these blocks one to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2  # negative slope of every LeakyReLU in the reference encoder and decoders


def is_exporting() -> bool:
    """True while tracing or exporting to ONNX (Python-side checks and data-dependent branches are skipped)."""
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())


def lrelu() -> nn.LeakyReLU:
    """LeakyReLU(0.2), the activation of the reference encoder and decoders."""
    return nn.LeakyReLU(LRELU_SLOPE, inplace=False)


def conv_act(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """``Sequential(conv k×k 'same' (÷stride) with bias, LeakyReLU(0.2))``; index 0 is the conv (reference naming)."""
    _check_positive(conv_act=(in_ch, out_ch, kernel, stride))
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2), lrelu())


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, separable: bool = False) -> nn.Module:
    """Bias-free conv3×3 (padding 1); ``separable``: depthwise conv3×3 (stride) then pointwise conv1×1."""
    if not separable:
        return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
    depthwise = nn.Conv2d(in_ch, in_ch, 3, stride=stride, padding=1, groups=in_ch, bias=False)
    return nn.Sequential(depthwise, nn.Conv2d(in_ch, out_ch, 1, bias=False))


class ResidualDownBlock(nn.Module):
    """ResNet basic block: conv3×3 (stride)-BN-LReLU-conv3×3-BN plus shortcut, then LReLU.

    ``stride`` 2 (the default) halves the size, 1 keeps it. The shortcut is a 1×1 strided conv + BN when the
    channel count changes, else a 2×2 average pool (stride 2) or the identity (stride 1). ``separable`` makes
    both 3×3 convs depthwise-separable (:func:`conv3x3`).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2, separable: bool = False) -> None:
        super().__init__()
        _check_positive(ResidualDownBlock=(in_ch, out_ch))
        if stride not in (1, 2):
            raise ValueError(f"ResidualDownBlock: stride must be 1 or 2, got {stride}")
        self.conv1 = conv3x3(in_ch, out_ch, stride, separable)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = conv3x3(out_ch, out_ch, 1, separable)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.act = lrelu()
        self.shortcut: nn.Module
        if in_ch != out_ch:
            conv = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
            self.shortcut = nn.Sequential(conv, nn.BatchNorm2d(out_ch))
        else:
            self.shortcut = nn.AvgPool2d(2) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))  # (B, Co, H/s, W/s)
        y = self.bn2(self.conv2(y))  # (B, Co, H/s, W/s)
        return self.act(y + self.shortcut(x))  # (B, Co, H/s, W/s)


class ResidualDenseBlock(nn.Module):
    """Residual dense block (ESRGAN style): ``layers`` densely connected conv3×3+LReLU of ``growth`` channels,
    a 1×1 local fusion back to ``channels``, added to the input with ``res_scale``."""

    def __init__(self, channels: int, growth: int = 32, num_layers: int = 5, res_scale: float = 0.5) -> None:
        super().__init__()
        _check_positive(ResidualDenseBlock=(channels, growth, num_layers))
        self.layers = nn.ModuleList(conv_act(channels + i * growth, growth) for i in range(num_layers))
        self.local_fusion = nn.Conv2d(channels + num_layers * growth, channels, 1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]  # each (B, ., H, W)
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))  # (B, growth, H, W)
        return x + self.res_scale * self.local_fusion(torch.cat(feats, dim=1))  # (B, C, H, W)


class PixelShuffleUp(nn.Module):
    """×``scale`` upsampling: conv3×3 to ``out_ch·scale²`` channels, PixelShuffle, LReLU."""

    def __init__(self, in_ch: int, out_ch: int, scale: int = 2) -> None:
        super().__init__()
        _check_positive(PixelShuffleUp=(in_ch, out_ch, scale))
        self.conv = nn.Conv2d(in_ch, out_ch * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.act = lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))  # (B, Co, H*s, W*s)


class FiLM(nn.Module):
    """Feature-wise linear modulation: ``x·(1+γ(c)) + β(c)`` with γ, β linear in a condition vector ``c``.

    Initialised to the identity (γ = β = 0) so conditioning starts neutral.
    """

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        _check_positive(FiLM=(cond_dim, channels))
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond).chunk(2, dim=1)  # (B, C) each
        return x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]  # (B, C, H, W)


class AttentionPool(nn.Module):
    """Attention pooling over positions: softmax of a 1×1-conv score map weights the feature vectors."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_positive(AttentionPool=(channels,))
        self.score = nn.Conv2d(channels, 1, 1, bias=False)  # a bias cannot change a softmax over positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.score(x).flatten(2).softmax(dim=-1)  # (B, 1, H*W)
        return (x.flatten(2) * w).sum(dim=-1)  # (B, C)


class AvgPool(nn.Module):
    """Global average pooling to a vector."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))  # (B, C)


class L2Norm(nn.Module):
    """L2-normalise along dim 1 (embedding vectors)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, p=2.0, dim=1)  # (B, D)


def embedding_head(in_dim: int, hidden: int, dim: int, dropout: float) -> nn.Sequential:
    """Verification MLP of the reference: Linear → BN → ReLU → dropout → Linear → L2 norm; (B, in) → (B, dim).

    Indices 0, 1 and 4 carry the reference weights (``verification_head.{0,1,4}``).
    """
    layers = [nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers, nn.Linear(hidden, dim), L2Norm())


def _check_positive(**named: tuple[int, ...]) -> None:
    """Raise ValueError if any size argument of the named block is not a positive integer."""
    for block, values in named.items():
        if any(int(v) != v or v <= 0 for v in values):
            raise ValueError(f"{block}: sizes must be positive integers, got {values}")
