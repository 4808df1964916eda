"""Networks of recipe ``unmask3d``: gated convolution, N3D (mask + 3DMM coefficients), generator, PatchGAN.

* :class:`GatedConv2d` (Yu et al. 2019, free-form inpainting): ``act(conv_f(x)) * sigmoid(conv_g(x))``; the
  learned gate lets the N3D ignore garment pixels when it regresses the face underneath.
* :class:`N3D`: gated-conv encoder → (a) a U-Net mask decoder (garment/occlusion logits at full resolution) and
  (b) an MLP on 4×4-pooled features giving the standardised coefficient vector (identity shape, expression,
  pose, placement).
* :class:`Generator`: U-Net with residual blocks at the bottleneck; input = image with its hole filled + mask +
  render (1+1+3 channels for THz, 3+1+3 = 7 for RGB); a spatial latent noise map ``z`` (z_dim channels at the
  bottleneck resolution) is projected into every residual block, so different noise gives different completions
  and the same noise the same one. The noise is spatial on purpose: a per-sample vector (FiLM shifts and scales)
  is a per-channel constant that the next instance norm subtracts away.
* :class:`PatchDiscriminator`: stride-2 convs → a map of real/fake logits, conditioned on the mask; no batch
  statistics (a gradient penalty needs per-sample gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thzface.models.blocks import lrelu

NORMS = ("instance", "batch", "none")
Z_INIT_STD = 0.1  # init std of the noise projection weights
POOL = 4  # N3D coefficient head: features average-pooled to POOL x POOL, then flattened
HEAD_INIT_SCALE = 0.1  # generator output conv: default init scaled by this


def norm2d(kind: str, channels: int) -> nn.Module:
    """Normalisation layer by name: instance (affine), batch, none (identity); ValueError otherwise."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm: unknown normalisation {kind!r}; known: {list(NORMS)}")


class GatedConv2d(nn.Module):
    """``LeakyReLU(feature) * sigmoid(gate)`` with one conv producing both halves; 'same' padding at stride 1."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, norm: str = "none") -> None:
        super().__init__()
        if min(in_ch, out_ch, kernel, stride) < 1:
            raise ValueError(f"GatedConv2d: sizes must be positive, got {(in_ch, out_ch, kernel, stride)}")
        self.conv = nn.Conv2d(in_ch, 2 * out_ch, kernel, stride=stride, padding=kernel // 2)
        self.norm = norm2d(norm, out_ch)
        self.act = lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat, gate = self.conv(x).chunk(2, dim=1)  # (B, Co, H', W') each
        return self.act(self.norm(feat)) * torch.sigmoid(gate)  # (B, Co, H', W')


@dataclass
class N3DOutput:
    mask_logits: torch.Tensor  # (B, 1, H, W) garment / occlusion logits
    coeffs: torch.Tensor  # (B, K) standardised coefficients (shape, expression, pose, placement)


class N3D(nn.Module):
    """Gated-conv encoder with a mask decoder and a coefficient head."""

    def __init__(self, in_ch: int, widths: tuple[int, ...], hidden: int, n_coeffs: int, norm: str) -> None:
        super().__init__()
        if len(widths) < 2 or min(widths) < 1 or hidden < 1 or n_coeffs < 1:
            raise ValueError(f"N3D: need >= 2 positive widths, hidden >= 1, n_coeffs >= 1, got {widths}")
        self.stem = GatedConv2d(in_ch, widths[0], 5, 1, norm)
        self.down = nn.ModuleList(GatedConv2d(widths[i - 1], widths[i], 3, 2, norm) for i in range(1, len(widths)))
        self.up = nn.ModuleList(
            GatedConv2d(widths[i] + widths[i - 1], widths[i - 1], 3, 1, norm) for i in range(len(widths) - 1, 0, -1)
        )
        self.mask_head = nn.Conv2d(widths[0], 1, 1)
        self.pool = nn.AdaptiveAvgPool2d(POOL)  # keeps where features are (pose, placement need it)
        self.coef_head = nn.Sequential(
            nn.Flatten(), nn.Linear(widths[-1] * POOL * POOL, hidden), lrelu(), nn.Linear(hidden, n_coeffs)
        )
        self.levels = len(widths) - 1

    def forward(self, x: torch.Tensor) -> N3DOutput:
        if x.shape[-1] % 2**self.levels or x.shape[-2] % 2**self.levels:
            raise ValueError(f"N3D: H, W must be multiples of {2**self.levels}, got {tuple(x.shape[2:])}")
        h = self.stem(x)  # (B, w0, H, W)
        skips = [h]
        for block in self.down:
            h = block(h)  # (B, w_i, H/2^i, W/2^i)
            skips.append(h)
        coeffs = self.coef_head(self.pool(h))  # (B, K)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)  # (B, w, h', w')
            h = block(torch.cat([h, skip], dim=1))  # (B, w_{i-1}, h', w')
        return N3DOutput(mask_logits=self.mask_head(h), coeffs=coeffs)  # (B, 1, H, W), (B, K)


class ResBlock(nn.Module):
    """conv-norm-act-conv-norm + a 1×1 projection of the noise map, added to the identity."""

    def __init__(self, channels: int, norm: str, z_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = norm2d(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = norm2d(norm, channels)
        self.inject = nn.Conv2d(z_dim, channels, 1, bias=False) if z_dim > 0 else None
        if self.inject is not None:  # not zero: z must change the output from step 0, else the mode-seeking
            nn.init.normal_(self.inject.weight, std=Z_INIT_STD)  # |a - b| has no gradient and z stays unused
        self.act = lrelu()

    def forward(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        h = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))  # (B, C, h, w)
        if self.inject is not None and z is not None:
            h = h + self.inject(z)  # (B, C, h, w) spatially varying: survives the next instance norm
        return x + h


class Generator(nn.Module):
    """U-Net: stem → stride-2 convs → residual blocks (+ noise) → bilinear up + skip convs → output map.

    The head starts small, so the output starts near grey (or near the input itself in residual mode).
    """

    def __init__(
        self, in_ch: int, out_ch: int, widths: tuple[int, ...], res_blocks: int, z_dim: int, norm: str
    ) -> None:
        super().__init__()
        if len(widths) < 2 or min(widths) < 1 or res_blocks < 0 or z_dim < 0:
            raise ValueError(f"Generator: need >= 2 positive widths, res_blocks/z_dim >= 0, got {widths}")

        def conv(i: int, o: int, stride: int = 1, k: int = 3) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, k, stride=stride, padding=k // 2), norm2d(norm, o), lrelu())

        self.stem = conv(in_ch, widths[0], k=5)
        self.down = nn.ModuleList(conv(widths[i - 1], widths[i], stride=2) for i in range(1, len(widths)))
        self.res = nn.ModuleList(ResBlock(widths[-1], norm, z_dim) for _ in range(res_blocks))
        self.up = nn.ModuleList(conv(widths[i] + widths[i - 1], widths[i - 1]) for i in range(len(widths) - 1, 0, -1))
        self.head = nn.Conv2d(widths[0], out_ch, 3, padding=1)
        with torch.no_grad():
            self.head.weight.mul_(HEAD_INIT_SCALE)  # small start: near grey / near the input in residual mode,
            self.head.bias.zero_()  # type: ignore[union-attr]  # yet noise already changes the output (no dead |a - b| gradient at 0)
        self.z_dim, self.levels = z_dim, len(widths) - 1

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] % 2**self.levels or x.shape[-2] % 2**self.levels:
            raise ValueError(f"Generator: H, W must be multiples of {2**self.levels}, got {tuple(x.shape[2:])}")
        want = (x.shape[0], self.z_dim, x.shape[2] >> self.levels, x.shape[3] >> self.levels)
        if self.z_dim > 0 and (z is None or tuple(z.shape) != want):
            got = None if z is None else tuple(z.shape)
            raise ValueError(f"Generator: z must have shape {want}, got {got}")
        h = self.stem(x)  # (B, w0, H, W)
        skips = [h]
        for block in self.down:
            h = block(h)  # (B, w_i, H/2^i, W/2^i)
            skips.append(h)
        for block in self.res:
            h = block(h, z)  # (B, w_last, h, w)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], dim=1))  # (B, w_{i-1}, h', w')
        return self.head(h)  # (B, C, H, W) logits


class PatchDiscriminator(nn.Module):
    """PatchGAN on ``cat(image, mask)``: stride-2 4×4 convs (LeakyReLU, no norm), then a 3×3 conv to one logit map."""

    def __init__(self, in_ch: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"PatchDiscriminator: need positive widths, got {widths}")
        layers: list[nn.Module] = []
        prev = in_ch + 1
        for w in widths:
            layers += [nn.Conv2d(prev, w, 4, stride=2, padding=1), lrelu()]
            prev = w
        layers.append(nn.Conv2d(prev, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, mask], dim=1))  # (B, 1, H/2^L, W/2^L) logits
