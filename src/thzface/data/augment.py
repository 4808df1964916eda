"""THz augmentation profiles none/gentle/medium/strong (the reference's parameters) on (B, C, H, W) tensors.

The table :data:`PROFILES` holds exactly the values of the reference code (seed-reference §1) for gentle, medium
and strong, plus our ``scan`` profile: sparse glint images lose their identity cues under the reference's
additive noise (σ 0.05-0.15 on a near-black image), cutouts and band drops (identity stays at chance, see
docs/benchmarks.md), so ``scan`` keeps to what a scanner does between sessions: a few degrees, a few percent of
scale, two pixels of placement, thin scan-line drop-outs, faint noise. Lengths are in
pixels **at the reference's 64×64 input** and scale with the image side (``round(px · H / 64)``, at least 1),
so a 16-px test image sees the same relative corruption. Where the reference leaves a detail open, the choice
here is:

* order: affine (rotation about the centre, scale, translation; zero padding) → random resized crop (area
  fraction ``crop_area``, aspect ratio ``crop_ratio`` = torchvision's default 3/4..4/3, resized back to H×W),
  both composed into one matrix and applied as one bilinear warp (kornia ``warp_affine``)
  → stripes → cutout → band-drop → additive Gaussian "speckle" (σ drawn per image) → clamp to [0, 1];
* geometry and speckle are applied to every augmented image; stripes/cutout/band-drop each fire with their own
  probability; an image is augmented at all with probability ``p`` (:class:`thzface.config.AugConfig.p`);
* stripes are full-width horizontal rows (scan-line drop-outs), ``1..stripe_max`` of them; cutout zeroes
  ``cutout_count`` square patches; band-drop zeroes one full-length band, horizontal or vertical at random.

Every random draw comes from the ``torch.Generator`` passed in, so an image is reproducible from its seed.
Augmentation is for inputs (anchor, negative) only — never for reconstruction targets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from kornia.geometry.transform import warp_affine

REFERENCE_SIZE = 64  # image side the pixel lengths below refer to


@dataclass(frozen=True)
class AugProfile:
    name: str  # profile name
    rotation_deg: float = 0.0  # rotation drawn uniformly in ±rotation_deg degrees
    scale: tuple[float, float] = (1.0, 1.0)  # isotropic scale range
    translate_px: float = 0.0  # translation drawn uniformly in ±translate_px (x and y independently)
    crop_area: tuple[float, float] = (1.0, 1.0)  # random-resized-crop area fraction range
    crop_ratio: tuple[float, float] = (
        3 / 4,
        4 / 3,
    )  # random-resized-crop aspect-ratio range (torchvision default)
    stripe_p: float = 0.0  # probability that an image gets stripes
    stripe_width_px: tuple[int, int] = (0, 0)  # stripe height range (inclusive)
    stripe_max: int = 0  # at most this many stripes (1..stripe_max drawn uniformly)
    cutout_p: float = 0.0  # probability that an image gets cutout patches
    cutout_count: tuple[int, int] = (0, 0)  # number of square patches (inclusive range)
    cutout_size_px: tuple[int, int] = (0, 0)  # patch side range (inclusive)
    band_p: float = 0.0  # probability of one zeroed band
    band_width_px: tuple[int, int] = (0, 0)  # band width range (inclusive)
    noise_sigma: tuple[float, float] = (0.0, 0.0)  # additive Gaussian noise σ range (per image)


PROFILES: dict[str, AugProfile] = {
    "none": AugProfile("none"),
    "gentle": AugProfile(
        "gentle", rotation_deg=10, scale=(0.9, 1.1), crop_area=(0.9, 1.0),
        stripe_p=0.2, stripe_width_px=(2, 4), stripe_max=3, noise_sigma=(0.05, 0.1),
    ),
    "medium": AugProfile(
        "medium", rotation_deg=20, translate_px=5, crop_area=(0.7, 1.0),
        cutout_p=0.3, cutout_count=(2, 4), cutout_size_px=(8, 16),
        band_p=0.3, band_width_px=(4, 12), noise_sigma=(0.05, 0.15),
    ),
    "strong": AugProfile(
        "strong", rotation_deg=30, scale=(0.8, 1.2), translate_px=10, crop_area=(0.6, 1.0),
        stripe_p=0.4, stripe_width_px=(4, 8), stripe_max=5,
        cutout_p=0.5, cutout_count=(4, 6), cutout_size_px=(8, 20),
        band_p=0.5, band_width_px=(8, 16), noise_sigma=(0.1, 0.2),
    ),
    "scan": AugProfile(
        "scan", rotation_deg=5, scale=(0.95, 1.05), translate_px=2,
        stripe_p=0.2, stripe_width_px=(1, 2), stripe_max=2, noise_sigma=(0.0, 0.02),
    ),
}  # fmt: skip


def _uniform(lo: float, hi: float, n: int, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)  # (n,)


def _randint(lo: int, hi: int, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    """Integers in [lo, hi] inclusive."""
    return torch.randint(lo, hi + 1, shape, generator=g)


def _bands(start: torch.Tensor, width: torch.Tensor, active: torch.Tensor, length: int) -> torch.Tensor:
    """Coverage of 1-D bands [start, start + width) on ``length`` pixels: (B, N) → (B, length) bool."""
    pos = torch.arange(length).view(1, 1, length)  # (1, 1, L)
    cov = (pos >= start[..., None]) & (pos < (start + width)[..., None]) & active[..., None]  # (B, N, L)
    return cov.any(dim=1)  # (B, L)


class Augment:
    """Seeded THz augmentation for one profile; call with a (B, C, H, W) batch and a ``torch.Generator``."""

    def __init__(self, profile: AugProfile, p: float = 1.0, paired: bool = False, mirror: float = 0.0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"aug p={p}: must lie in [0, 1]")
        if not 0.0 <= mirror <= 1.0:
            raise ValueError(f"aug mirror={mirror}: must lie in [0, 1]")
        self.profile = profile
        self.p = p
        self.paired = paired  # datasets warp the reconstruction target with the input (see with_targets)
        self.mirror = mirror  # probability of a left-right mirror (callers swap the posture label: mirror_rows)

    def __repr__(self) -> str:
        return f"Augment({self.profile.name!r}, p={self.p}, paired={self.paired}, mirror={self.mirror})"

    def mirror_rows(self, b: int, generator: torch.Generator) -> torch.Tensor | None:
        """(B,) bool: the rows to mirror left-right, each with probability ``mirror``; None when mirroring is off
        (then nothing is drawn, so every other draw is what it was without it). Drawn after :meth:`with_targets`;
        the caller mirrors input and targets (:func:`mirror`) and maps the posture label (``MIRRORED_POSTURE``)."""
        return None if self.mirror == 0.0 else torch.rand(b, generator=generator) < self.mirror

    def _px(self, v: float, size: int) -> int:
        return max(1, round(v * size / REFERENCE_SIZE))

    def _rand_px(self, lim: tuple[int, int], size: int, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
        """Integer lengths drawn in the reference-pixel range ``lim``, scaled to ``size``."""
        return _randint(self._px(lim[0], size), self._px(lim[1], size), shape, g)

    def _matrix(self, b: int, h: int, w: int, g: torch.Generator) -> torch.Tensor | None:
        """Affine then random resized crop composed into one pixel matrix (B, 3, 3); None for the identity."""
        pr = self.profile
        mat = torch.eye(3).repeat(b, 1, 1)  # (B, 3, 3) source pixel → output pixel
        if pr.rotation_deg or pr.scale != (1.0, 1.0) or pr.translate_px:
            angle = torch.deg2rad(_uniform(-pr.rotation_deg, pr.rotation_deg, b, g))  # (B,)
            scale = _uniform(*pr.scale, b, g)  # (B,)
            t = pr.translate_px * h / REFERENCE_SIZE
            tx, ty = _uniform(-t, t, b, g), _uniform(-t, t, b, g)  # (B,)
            cx, cy = (w - 1) / 2, (h - 1) / 2
            a, s = scale * torch.cos(angle), scale * torch.sin(angle)  # (B,)
            mat[:, 0, 0], mat[:, 0, 1], mat[:, 0, 2] = a, s, (1 - a) * cx - s * cy + tx
            mat[:, 1, 0], mat[:, 1, 1], mat[:, 1, 2] = -s, a, s * cx + (1 - a) * cy + ty
        if pr.crop_area != (1.0, 1.0):
            area = _uniform(*pr.crop_area, b, g)  # (B,)
            ratio = torch.exp(_uniform(math.log(pr.crop_ratio[0]), math.log(pr.crop_ratio[1]), b, g))  # (B,)
            cw = torch.clamp(torch.sqrt(area * ratio) * w, 2, w)  # (B,) crop box size in pixels
            ch = torch.clamp(torch.sqrt(area / ratio) * h, 2, h)  # (B,)
            x0 = torch.rand(b, generator=g) * (w - cw)  # (B,)
            y0 = torch.rand(b, generator=g) * (h - ch)  # (B,)
            crop = torch.zeros(b, 3, 3)  # (B, 3, 3) box corners → image corners (align_corners)
            crop[:, 0, 0], crop[:, 0, 2] = (w - 1) / (cw - 1), -x0 * (w - 1) / (cw - 1)
            crop[:, 1, 1], crop[:, 1, 2] = (h - 1) / (ch - 1), -y0 * (h - 1) / (ch - 1)
            crop[:, 2, 2] = 1
            mat = crop @ mat  # (B, 3, 3)
        return None if torch.equal(mat, torch.eye(3).expand_as(mat)) else mat

    def _drop_mask(self, b: int, h: int, w: int, g: torch.Generator) -> torch.Tensor:
        """(B, 1, H, W) bool: pixels zeroed by stripes, cutout and band-drop."""
        pr = self.profile
        drop = torch.zeros(b, h, w, dtype=torch.bool)  # (B, H, W)
        if pr.stripe_p > 0 and pr.stripe_max > 0:
            fire = torch.rand(b, generator=g) < pr.stripe_p  # (B,)
            count = _randint(1, pr.stripe_max, (b,), g)  # (B,)
            active = fire[:, None] & (torch.arange(pr.stripe_max)[None] < count[:, None])  # (B, N)
            width = self._rand_px(pr.stripe_width_px, h, (b, pr.stripe_max), g)  # (B, N)
            y0 = (torch.rand(b, pr.stripe_max, generator=g) * (h - width + 1)).floor()  # (B, N)
            drop |= _bands(y0, width, active, h)[:, :, None]  # (B, H, 1) rows
        if pr.cutout_p > 0 and pr.cutout_count[1] > 0:
            n = pr.cutout_count[1]
            fire = torch.rand(b, generator=g) < pr.cutout_p  # (B,)
            count = _randint(*pr.cutout_count, (b,), g)  # (B,)
            active = fire[:, None] & (torch.arange(n)[None] < count[:, None])  # (B, N)
            side = self._rand_px(pr.cutout_size_px, h, (b, n), g).clamp(max=min(h, w))  # (B, N)
            y0 = (torch.rand(b, n, generator=g) * (h - side + 1)).floor()  # (B, N)
            x0 = (torch.rand(b, n, generator=g) * (w - side + 1)).floor()  # (B, N)
            py = torch.arange(h).view(1, 1, h, 1)
            px = torch.arange(w).view(1, 1, 1, w)
            inside = (
                (py >= y0[..., None, None]) & (py < (y0 + side)[..., None, None])
                & (px >= x0[..., None, None]) & (px < (x0 + side)[..., None, None])
            )  # (B, N, H, W)  # fmt: skip
            drop |= (inside & active[..., None, None]).any(dim=1)
        if pr.band_p > 0:
            fire = torch.rand(b, generator=g) < pr.band_p  # (B,)
            vertical = torch.rand(b, generator=g) < 0.5  # (B,)
            width = self._rand_px(pr.band_width_px, h, (b, 1), g).clamp(max=min(h, w))  # (B, 1)
            start = (torch.rand(b, 1, generator=g) * (h - width + 1)).floor()  # (B, 1)
            rows = _bands(start, width, (fire & ~vertical)[:, None], h)  # (B, H)
            cols = _bands(start, width, (fire & vertical)[:, None], w)  # (B, W)
            drop |= rows[:, :, None] | cols[:, None, :]
        return drop[:, None]  # (B, 1, H, W)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a (B, C, H, W) float batch in [0, 1]; returns a new tensor of the same shape."""
        return self.with_targets(x, [], generator)[0]

    def with_targets(
        self, x: torch.Tensor, targets: Sequence[torch.Tensor], generator: torch.Generator
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Augment ``x`` (B, C, H, W) and warp each of ``targets`` (B, C', H, W) with the same geometry, without
        corruption, so a reconstruction target stays aligned with its input. ``x`` draws exactly what
        :meth:`__call__` draws (same generator, same result)."""
        if x.ndim != 4:
            raise ValueError(f"augment: expected a (B, C, H, W) batch, got shape {tuple(x.shape)}")
        if any(t.ndim != 4 or t.shape[0] != x.shape[0] or t.shape[2:] != x.shape[2:] for t in targets):
            raise ValueError(f"augment: targets must be (B, C', H, W) batches like x {tuple(x.shape)}")
        if self.profile.name == "none" or self.p == 0.0:
            return x.clone(), [t.clone() for t in targets]
        b, _, h, w = x.shape
        x = x.float()
        apply = torch.rand(b, generator=generator).view(b, 1, 1, 1) < self.p  # (B, 1, 1, 1)
        mat = self._matrix(b, h, w, generator)  # (B, 3, 3) or None: no geometry
        y = x if mat is None else _warp(x, mat)  # (B, C, H, W)
        y = y.masked_fill(self._drop_mask(b, h, w, generator), 0.0)  # (B, C, H, W)
        lo, hi = self.profile.noise_sigma
        if hi > 0:
            sigma = _uniform(lo, hi, b, generator).view(b, 1, 1, 1)  # (B, 1, 1, 1)
            y = y + sigma * torch.randn(y.shape, generator=generator)  # (B, C, H, W)
        y = y.clamp(0.0, 1.0)
        warped = [t.clone() if mat is None else torch.where(apply, _warp(t.float(), mat), t) for t in targets]
        return torch.where(apply, y, x), warped  # (B, C, H, W), [(B, C', H, W)]


def mirror(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, H, W) with the rows flagged in ``rows`` (B,) bool mirrored left-right."""
    return torch.where(rows.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)  # (B, C, H, W)


def _warp(x: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
    """One bilinear warp of (B, C, H, W) by pixel matrices (B, 3, 3), zero padding."""
    h, w = x.shape[2:]
    return warp_affine(x, mat[:, :2], (h, w), padding_mode="zeros", align_corners=True)  # (B, C, H, W)


def build_augment(
    profile: str, p: float = 1.0, paired: bool = False, mirror: float = 0.0, geometric: bool = True
) -> Augment:
    """The augmentation for a profile name (``none`` is the identity); ValueError on unknown names. Without
    ``geometric`` the profile's rotation, scale, translation and resized crop are left out: for models whose
    labels are pixel positions or poses (part boxes, landmarks, render-aligned inputs, an in-plane aligner's
    targets)."""
    if profile not in PROFILES:
        raise ValueError(f"aug.profile {profile!r}: expected one of {sorted(PROFILES)}")
    pr = PROFILES[profile]
    if not geometric:
        pr = dataclasses.replace(pr, rotation_deg=0.0, scale=(1.0, 1.0), translate_px=0.0, crop_area=(1.0, 1.0))
    return Augment(pr, p, paired, mirror)


def photometric_augment(profile: str, p: float = 1.0) -> Augment:
    """The profile without its geometric part (:func:`build_augment` with ``geometric=False``)."""
    return build_augment(profile, p, geometric=False)
