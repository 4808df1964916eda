"""In-plane alignment of a scan before the encoder: a small regressor of the head's roll and placement, and the
warp that undoes them (face recognition's detect-and-align step; insightface aligns on five landmarks, a THz scan
through a garment shows few, so the simulator's pose supervises the regressor directly).

Why: in a held-out bench-20 world, raw pixels find the right person among 20 through the garment (same posture,
another capture) 0.29 of the time as scanned, 0.61 once each scan is warped by its true roll and placement and
0.66 when the world is rendered without them (``scripts/inplane_probe.py``; docs/benchmarks.md, ninth session):
±5° of roll and ±10 mm of placement hide more identity than the garment does.

Parameters of a scan's in-plane pose, ``(B, 3)``: roll in degrees (+ = counter-clockwise in the image, as the
simulator's ``Pose.roll``) and the head's offset ``tx, ty`` in grid units (``F.affine_grid``: the image spans
[-1, 1], x to the right, y down). :func:`thzface.data.geometry.inplane_pose` turns the simulator's pose (dx, dy in mm,
y up) and the scanner's field of view into them (the aligner's training target).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from thzface.models.blocks import is_exporting

ALIGN_DIM = 3  # roll (degrees), tx, ty (grid units)
ALIGN_SCALE = (5.0, 0.1, 0.1)  # the spread of each term (±5°, ±10 mm of ≈ 105 mm half field): output units, and
# the loss's (losses.geometry.pose_regression with scale=ALIGN_SCALE)


class InPlaneAligner(nn.Module):
    """Scan (B, C, H, W) → its in-plane pose (B, 3): four stride-2 conv3×3-BN-ReLU stages (``width``, 2w, 4w,
    4w) at ``size``×``size`` (another input size is resized first: the pose is in grid units, the same at any
    size), flattened (the layout kept: placement is a position), an MLP. The last layer starts at zero, so an
    untrained aligner is the identity warp."""

    def __init__(self, in_channels: int = 1, width: int = 16, size: int = 64) -> None:
        super().__init__()
        if size % 16 or size < 16:
            raise ValueError(f"InPlaneAligner: size {size} must be a positive multiple of 16")
        self.size = size
        chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        flat = chans[-1] * (size // 16) ** 2
        self.head = nn.Sequential(nn.Linear(flat, 64), nn.ReLU(inplace=True), nn.Linear(64, ALIGN_DIM))
        last = self.head[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.register_buffer("scale", torch.tensor(ALIGN_SCALE), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not is_exporting() and tuple(x.shape[-2:]) != (self.size, self.size):  # (export: traced at size)
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)  # (B, C, s, s)
        return self.head(self.features(x)) * self.get_buffer("scale")  # (B, 3) roll (deg), tx, ty


def inplane_theta(params: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """``F.affine_grid`` matrices (B, 2, 3) that map the aligned image's grid to where it samples the scan (a
    rotation by the roll about the centre, then the offset); ``inverse``: the aligned image back to the scan."""
    if not is_exporting() and (params.ndim != 2 or params.shape[1] != ALIGN_DIM or not params.dtype.is_floating_point):
        raise ValueError(f"inplane_theta: params must be (B, {ALIGN_DIM}), got {tuple(params.shape)}")
    r = params[:, 0] * (math.pi / 180.0)  # (B,)
    c, s = torch.cos(r), torch.sin(r)  # (B,)
    rot = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], 1)  # (B, 2, 2)
    t = params[:, 1:3, None]  # (B, 2, 1)
    if inverse:
        rot_t = rot.transpose(1, 2)  # (B, 2, 2)
        return torch.cat([rot_t, -rot_t @ t], 2)  # (B, 2, 3)
    return torch.cat([rot, t], 2)  # (B, 2, 3)


def warp_inplane(x: torch.Tensor, params: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """``x`` (B, C, H, W) resampled (bilinear, border padding) to undo the in-plane pose ``params`` (B, 3)
    (``inverse``: to apply it, e.g. a reconstruction made in the aligned frame back to the scan's)."""
    theta = inplane_theta(params, inverse).to(x.dtype)  # (B, 2, 3)
    h, w = x.shape[-2:]
    ys = (torch.arange(h, dtype=x.dtype, device=x.device) * 2 + 1) / h - 1  # (H,) pixel centres, align_corners=False
    xs = (torch.arange(w, dtype=x.dtype, device=x.device) * 2 + 1) / w - 1  # (W,)
    base = torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None]), -1)  # (H, W, 2) x, y
    grid = base[None] @ theta[:, None, :, :2].transpose(-1, -2) + theta[:, None, None, :, 2]  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)  # (B, C, H, W)
