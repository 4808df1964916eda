"""Attention-gated U-Net that inpaints the holes of an image given the hole mask (recipe ``inpaint``, seed 002).

The network input is the image with its hole hidden (zeros, or the mean of the known pixels) concatenated with
the mask (1 in the hole), so the model is told where to paint and never sees the hidden pixels; the output is
composited into the known pixels (``mask * raw + (1 - mask) * image``). Additive attention gates (Oktay et al.
2018) weight each skip connection with a map computed from the skip and the upsampled decoder feature; the
maps are returned for the report.

``paper`` (seed 002 as its README intends): widths 64→128→256→512→1024, BatchNorm + LeakyReLU(0.2) double
convs, max-pool down, bilinear up, gates with half the skip's channels, images in [-1, 1] and a tanh output,
4 input channels (RGB + mask): 31.9 M parameters (at any input size; the seed used 512²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from thzface.models.blocks import LRELU_SLOPE, is_exporting
from thzface.models.eigenface import EigenFace

MODALITIES = ("thz", "visible")
NORMS = ("batch", "group")
UPS = ("bilinear", "transpose")
FILLS = ("zero", "mean", "diffusion", "eigen")
DIFFUSION_ITERS = 60  # Jacobi iterations per pyramid level of the diffusion fill
_AVG4 = torch.tensor([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]])


@dataclass
class InpaintModelConfig:
    modality: Literal["thz", "visible"] = "thz"  # images inpainted: thz/ (or clean/) scans, or visible/ photos
    image_channels: int = 1  # image channels (1: THz or grayscale visible, 3: RGB visible); the mask adds one
    image_size: int = 64  # input side in pixels; a multiple of 2^(len(widths) - 1)
    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels per U-Net level, full resolution first
    gates: bool = True  # additive attention gates on the skip connections (False: plain U-Net)
    gate_ratio: float = 0.5  # inner channels of a gate = round(gate_ratio * skip channels), at least 1
    norm: Literal["batch", "group"] = "batch"  # normalisation inside the conv blocks and gates
    up: Literal["bilinear", "transpose"] = "bilinear"  # ×2 upsampling: bilinear (seed) or 2×2 transposed conv
    fill: Literal["zero", "mean", "diffusion", "eigen"] = "zero"  # hole content the network sees: zeros (seed),
    # known mean, a diffusion (harmonic) fill from the hole's border, or the eigenface completion (models.eigenface:
    # a linear face prior fitted to the training images, its coefficients fitted to the known pixels)
    eigen_k: int = 40  # fill eigen: principal directions of the face prior
    eigen_ridge: float = 1.0  # fill eigen: ridge on the prior's SD-scaled coefficients (larger: closer to the mean)
    signed: bool = False  # True: images mapped to [-1, 1] inside and a tanh head (seed); False: sigmoid head
    residual: bool = False  # True: the (zero-initialised) head corrects the logit of the filled image, so an
    # untrained model returns the fill and training only has to learn the improvement

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        where = "InpaintModelConfig"
        if len(self.widths) < 2 or min(self.widths) <= 0:
            raise ValueError(f"{where}: widths {self.widths} needs at least two positive entries")
        if self.image_channels not in (1, 3):
            raise ValueError(f"{where}: image_channels {self.image_channels} must be 1 or 3")
        if self.modality == "thz" and self.image_channels != 1:
            raise ValueError(f"{where}: modality 'thz' images have 1 channel, got image_channels {self.image_channels}")
        if self.image_size <= 0 or self.image_size % 2 ** (len(self.widths) - 1):
            raise ValueError(
                f"{where}: image_size {self.image_size} is not a positive multiple of 2^{len(self.widths) - 1}"
            )
        if self.eigen_k < 1 or self.eigen_ridge <= 0:
            raise ValueError(f"{where}: eigen_k {self.eigen_k} must be >= 1 and eigen_ridge {self.eigen_ridge} > 0")
        if not 0.0 < self.gate_ratio <= 4.0:
            raise ValueError(f"{where}: gate_ratio {self.gate_ratio} must lie in (0, 4]")
        for name, allowed in (("modality", MODALITIES), ("norm", NORMS), ("up", UPS), ("fill", FILLS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{where}: {name} {getattr(self, name)!r} is not one of {list(allowed)}")

    @property
    def in_channels(self) -> int:
        """Network input channels: the image plus the mask."""
        return self.image_channels + 1


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.GroupNorm(math.gcd(8, channels), channels)


class ConvBlock(nn.Sequential):
    """Two conv3×3 (no bias) → norm → LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            _norm(norm, out_ch),
            nn.LeakyReLU(LRELU_SLOPE),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            _norm(norm, out_ch),
            nn.LeakyReLU(LRELU_SLOPE),
        )


class AttentionGate(nn.Module):
    """Additive attention gate: alpha = sigmoid(psi(relu(W_g g + W_x x))); returns (x * alpha, alpha).

    ``g`` is the gating signal (the upsampled decoder feature) and ``x`` the skip, both at the skip's size.
    """

    def __init__(self, gate_ch: int, skip_ch: int, inner_ch: int, norm: str) -> None:
        super().__init__()
        self.w_g = nn.Sequential(nn.Conv2d(gate_ch, inner_ch, 1), _norm(norm, inner_ch))
        self.w_x = nn.Sequential(nn.Conv2d(skip_ch, inner_ch, 1), _norm(norm, inner_ch))
        psi_norm: nn.Module = nn.BatchNorm2d(1) if norm == "batch" else nn.Identity()
        self.psi = nn.Sequential(nn.Conv2d(inner_ch, 1, 1), psi_norm, nn.Sigmoid())

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = self.psi(F.relu(self.w_g(g) + self.w_x(x)))  # (B, 1, h, w) in (0, 1)
        return x * alpha, alpha  # (B, Cs, h, w), (B, 1, h, w)


class UpStage(nn.Module):
    """×2 up of the decoder feature, optional gate on the skip, concat [skip, up], ConvBlock."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int, cfg: InpaintModelConfig) -> None:
        super().__init__()
        self.up: nn.Module
        if cfg.up == "transpose":
            self.up = nn.ConvTranspose2d(in_ch, in_ch, 2, stride=2)
        else:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        inner = max(1, round(cfg.gate_ratio * skip_ch))
        self.gate = AttentionGate(in_ch, skip_ch, inner, cfg.norm) if cfg.gates else None
        self.conv = ConvBlock(in_ch + skip_ch, out_ch, cfg.norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        up = self.up(x)  # (B, Ci, h, w)
        alpha = None
        if self.gate is not None:
            skip, alpha = self.gate(up, skip)  # (B, Cs, h, w), (B, 1, h, w)
        return self.conv(torch.cat([skip, up], dim=1)), alpha  # (B, Co, h, w)


@dataclass
class InpaintOutput:
    raw: torch.Tensor  # (B, C, H, W) network output in [0, 1] everywhere
    output: torch.Tensor  # (B, C, H, W) raw composited into the known pixels
    gates: list[torch.Tensor]  # attention maps (B, 1, h, w), coarsest level first; empty without gates


def hide_holes(image: torch.Tensor, mask: torch.Tensor, fill: str) -> torch.Tensor:
    """The image with its hole replaced by zeros, by the per-image, per-channel mean of the known pixels, or by
    :func:`diffusion_fill`; the hidden pixels never influence the result."""
    known = 1.0 - mask  # (B, 1, H, W)
    if fill == "zero":
        return image * known  # (B, C, H, W)
    if fill == "diffusion":
        return diffusion_fill(image, mask)
    total = known.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)  # (B, 1, 1, 1)
    mean = (image * known).sum(dim=(2, 3), keepdim=True) / total  # (B, C, 1, 1)
    return image * known + mean * mask  # (B, C, H, W)


def _smooth(x: torch.Tensor, known: torch.Tensor, hole: torch.Tensor, iters: int) -> torch.Tensor:
    c = x.shape[1]
    k = _AVG4.to(x).view(1, 1, 3, 3).repeat(c, 1, 1, 1)  # (C, 1, 3, 3)
    for _ in range(iters):
        avg = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c)  # (B, C, H, W)
        x = hole * avg + (1 - hole) * known
    return x


def diffusion_fill(image: torch.Tensor, mask: torch.Tensor, iters: int = DIFFUSION_ITERS) -> torch.Tensor:
    """Harmonic fill: the Laplace equation inside the hole with the known pixels as boundary (Jacobi iterations of
    the 4-neighbour mean, replicate border), coarse to fine (the half-size problem first, upsampled as the start).
    (B, C, H, W), mask (B, 1, H, W) → (B, C, H, W)."""
    hole = (mask > 0.5).to(image.dtype)  # (B, 1, H, W)
    known = image * (1 - hole)  # (B, C, H, W)
    h, w = image.shape[-2:]
    if min(h, w) >= 8 and h % 2 == 0 and w % 2 == 0:
        weight = F.avg_pool2d(1 - hole, 2)  # (B, 1, H/2, W/2) share of known pixels
        small = F.avg_pool2d(known, 2) / weight.clamp_min(1e-6)  # (B, C, H/2, W/2)
        coarse = diffusion_fill(small, (weight == 0).to(image.dtype), iters)
        start = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)  # (B, C, H, W)
    else:
        start = hide_holes(image, hole, "mean")
    return _smooth(hole * start + (1 - hole) * known, known, hole, iters)


class AttentionUNet(nn.Module):
    """Image + mask → inpainted image. ``forward(x)`` takes ``cat([image, mask], 1)`` and returns the composite;
    :meth:`inpaint` returns raw output, composite and gate maps."""

    def __init__(self, cfg: InpaintModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.down = nn.ModuleList([ConvBlock(cfg.in_channels, w[0], cfg.norm)])
        self.down.extend(ConvBlock(w[i - 1], w[i], cfg.norm) for i in range(1, len(w)))
        self.ups = nn.ModuleList(UpStage(w[i], w[i - 1], w[i - 1], cfg) for i in range(len(w) - 1, 0, -1))
        self.head = nn.Conv2d(w[0], cfg.image_channels, 1)
        pixels = cfg.image_channels * cfg.image_size**2
        self.prior = EigenFace(pixels, cfg.eigen_k, cfg.eigen_ridge) if cfg.fill == "eigen" else None
        if cfg.residual:
            for param in self.head.parameters():
                nn.init.zeros_(param)

    def _check(self, image: torch.Tensor, mask: torch.Tensor) -> None:
        c, n = self.cfg.image_channels, len(self.cfg.widths) - 1
        if image.ndim != 4 or image.shape[1] != c:
            raise ValueError(f"AttentionUNet: image must be (B, {c}, H, W), got {tuple(image.shape)}")
        if mask.shape != (image.shape[0], 1, *image.shape[2:]):
            raise ValueError(f"AttentionUNet: mask must be (B, 1, H, W) like the image, got {tuple(mask.shape)}")
        if image.shape[2] % 2**n or image.shape[3] % 2**n:
            raise ValueError(f"AttentionUNet: H, W must be multiples of 2^{n}, got {tuple(image.shape[2:])}")

    def fill(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The hole content the network sees (``cfg.fill``); the eigenface prior's when it has one."""
        if self.prior is not None:
            return self.prior.complete(image, mask, diffusion_fill)  # (B, C, H, W)
        return hide_holes(image, mask, self.cfg.fill)  # (B, C, H, W)

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        """``image`` (B, C, H, W) in [0, 1] (hole content is ignored), ``mask`` (B, 1, H, W), 1 in the hole."""
        if not is_exporting():
            self._check(image, mask)
        filled = self.fill(image, mask)  # (B, C, H, W)
        x = 2.0 * filled - 1.0 if self.cfg.signed else filled
        h = torch.cat([x, mask], dim=1)  # (B, C+1, H, W)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else F.max_pool2d(h, 2))  # (B, w_i, H/2^i, W/2^i)
            skips.append(h)
        gates = []
        for stage, skip in zip(self.ups, reversed(skips[:-1]), strict=True):
            h, alpha = stage(h, skip)  # (B, w_{i-1}, ...)
            if alpha is not None:
                gates.append(alpha)
        z = self.head(h)  # (B, C, H, W)
        if self.cfg.residual:  # head output corrects the logit of the fill (tanh head: half the logit)
            p = filled.clamp(1e-3, 1.0 - 1e-3)
            z = z + (torch.log(p) - torch.log1p(-p)) * (0.5 if self.cfg.signed else 1.0)  # (B, C, H, W)
        raw = (torch.tanh(z) + 1.0) / 2.0 if self.cfg.signed else torch.sigmoid(z)  # (B, C, H, W)
        return InpaintOutput(raw=raw, output=mask * raw + (1.0 - mask) * image, gates=gates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` = ``cat([image, mask], 1)`` (B, C+1, H, W) → composited inpainting (B, C, H, W)."""
        return self.inpaint(x[:, :-1], x[:, -1:]).output


def inpaint_preset(name: Literal["paper", "default", "tiny"], **overrides) -> InpaintModelConfig:
    """``paper`` (seed 002: RGB 512², 31.9 M), ``default`` (ours: THz 64², CPU-sized), ``tiny`` (tests, 32²)."""
    presets: dict[str, dict[str, Any]] = {
        "paper": dict(modality="visible", image_channels=3, image_size=512, widths=(64, 128, 256, 512, 1024),
                      signed=True),
        "default": dict(widths=(16, 32, 64, 128), up="transpose", fill="diffusion", residual=True),
        "tiny": dict(image_size=32, widths=(8, 16, 32)),
    }  # fmt: skip
    if name not in presets:
        raise ValueError(f"inpaint_preset: unknown preset {name!r}; known: {sorted(presets)}")
    return InpaintModelConfig(**{**presets[name], **overrides})


def build_model(cfg: InpaintModelConfig) -> AttentionUNet:
    return AttentionUNet(cfg)
