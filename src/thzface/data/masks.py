"""Occlusion masks for inpainting: seeded generators (irregular, rectangles, facial parts, garment), an area-ratio
fitter, the hole-size curriculum and the fixed evaluation mask sets.

Masks are (H, W) bool arrays, True in the hole. The area ratio is measured over a ``region`` (the head, when the
dataset has ``face_mask``; else the whole image) and holes are drawn inside it. Every generator is a small
frozen dataclass called as ``gen(rng, size, ctx)`` with an ``np.random.Generator`` (never the global numpy
state), so one mask is reproducible alone from its seed. Generators with a ``ratio`` range return masks whose
area ratio lies inside it (:func:`fit_ratio` grows or trims the hole by rings of boundary pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

KINDS = ("irregular", "rect", "parts", "garment")
Range = tuple[float, float]
MAX_STROKES = 200  # irregular masks: stroke limit before fit_ratio completes the area


@dataclass
class MaskConfig:
    kinds: dict[str, float] = field(
        default_factory=lambda: {"irregular": 0.4, "rect": 0.2, "parts": 0.2, "garment": 0.2}
    )  # training mix: kind -> weight (a kind the data cannot serve falls back to irregular)
    buckets: list[tuple[float, float]] = field(
        default_factory=lambda: [(0.1, 0.3), (0.3, 0.5), (0.5, 0.7)]
    )  # hole-area ranges: the curriculum levels and the evaluation buckets
    starts: tuple[float, ...] = (
        0.0,
        0.2,
        0.5,
    )  # training progress at which each level begins (seed: epoch 1/11/26 of 50)
    mode: str = "step"  # step: only the current level's range; ramp: the range slides linearly between levels
    region: str = "face"  # face: ratios over the head (aux face_mask) and holes inside it; image: the whole image
    eval_kinds: tuple[str, ...] = ("irregular", "rect", "parts")  # kinds cycled over images in validation/eval sets
    eval_seed: int = 1234  # seed of the fixed validation/evaluation mask sets

    def __post_init__(self) -> None:
        where = "MaskConfig"
        self.buckets = [(float(lo), float(hi)) for lo, hi in self.buckets]
        self.starts, self.eval_kinds = tuple(float(s) for s in self.starts), tuple(self.eval_kinds)
        bad = sorted(set(self.kinds) - set(KINDS)) + sorted(set(self.eval_kinds) - set(KINDS[:3]))
        if bad:
            raise ValueError(f"{where}: unknown mask kind(s) {bad}; kinds: {list(KINDS)} (eval: no garment)")
        if not self.kinds or min(self.kinds.values()) < 0 or sum(self.kinds.values()) <= 0:
            raise ValueError(f"{where}: kinds {self.kinds} needs non-negative weights with a positive sum")
        if not self.buckets or any(not 0.0 < lo <= hi < 1.0 for lo, hi in self.buckets):
            raise ValueError(f"{where}: buckets {self.buckets} must be ranges 0 < lo <= hi < 1")
        if len(self.starts) != len(self.buckets) or self.starts[0] != 0.0 or list(self.starts) != sorted(self.starts):
            raise ValueError(f"{where}: starts {self.starts} needs one ascending entry per bucket, starting at 0")
        if self.mode not in ("step", "ramp") or self.region not in ("face", "image") or not self.eval_kinds:
            raise ValueError(f"{where}: mode must be step|ramp, region face|image, eval_kinds non-empty")


@dataclass
class MaskContext:
    """What the data know about one image: head region, facial-part boxes, garment silhouette (or None)."""

    region: np.ndarray | None = None  # (H, W) bool: where holes go and ratios are measured (None: everywhere)
    boxes: np.ndarray | None = None  # (K, 4) float x0, y0, x1, y1 in pixels: facial parts
    garment: np.ndarray | None = None  # (H, W) bool: the simulator's garment mask


def area_ratio(mask: np.ndarray, region: np.ndarray | None = None) -> float:
    """Share of the region (or image) covered by the hole."""
    if region is None:
        return float(mask.mean())
    return float((mask & region).sum() / max(1, int(region.sum())))


def _region(size: int, ctx: MaskContext) -> np.ndarray:
    if ctx.region is None:
        return np.ones((size, size), bool)
    if ctx.region.shape != (size, size) or int(ctx.region.sum()) < 4:
        raise ValueError(f"mask region: needs a ({size}, {size}) bool map with >= 4 pixels, got {ctx.region.shape}")
    return ctx.region.astype(bool)


def _take(candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random flat indices of the True pixels of ``candidates``."""
    idx = np.flatnonzero(candidates)
    return rng.choice(idx, size=min(count, len(idx)), replace=False)


def fit_ratio(
    mask: np.ndarray,
    ratio: Range,
    rng: np.random.Generator,
    region: np.ndarray | None = None,
    target: float | None = None,
) -> np.ndarray:
    """Grow (dilation rings) or trim (erosion rings) ``mask`` inside ``region`` until its area ratio lies in
    ``ratio`` (exactly ``target`` when given, to the pixel); the last ring is taken partly, at random.
    Returns a new (H, W) bool mask."""
    region = np.ones(mask.shape, bool) if region is None else region
    m = mask & region
    n = int(region.sum())
    lo, hi = int(np.ceil(ratio[0] * n - 1e-9)), int(np.floor(ratio[1] * n + 1e-9))
    if lo > hi:
        raise ValueError(f"fit_ratio: range {ratio} holds no pixel count for a region of {n} pixels")
    if target is not None:
        lo = hi = int(np.clip(round(target * n), lo, hi))
    while m.sum() < lo:
        ring = ndimage.binary_dilation(m) & region & ~m
        if not ring.any():  # empty mask or an unreachable part of the region: seed a new blob
            ring = region & ~m
        m.flat[_take(ring, lo - int(m.sum()), rng)] = True
    while m.sum() > hi:
        ring = m & ~ndimage.binary_erosion(m)
        m.flat[_take(ring, int(m.sum()) - hi, rng)] = False
    return m


def _disc(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r  # (S, S)


@dataclass(frozen=True)
class Irregular:
    """Free-form strokes (random walks of discs, LaMa/DeepFill style) covering ``ratio`` of the region."""

    ratio: Range

    def __call__(self, rng: np.random.Generator, size: int, ctx: MaskContext) -> np.ndarray:
        region = _region(size, ctx)
        goal = float(rng.uniform(*self.ratio))
        m = np.zeros((size, size), bool)
        ys, xs = np.nonzero(region)
        for _ in range(MAX_STROKES):
            if area_ratio(m, region) >= goal:
                break
            k = rng.integers(len(ys))
            y, x = float(ys[k]), float(xs[k])
            r = size * rng.uniform(0.03, 0.08)
            angle = rng.uniform(0, 2 * np.pi)
            for _ in range(int(rng.integers(4, 12))):
                m |= _disc(size, y, x, r)
                if area_ratio(m, region) >= goal:
                    break
                angle += rng.normal(0, 0.6)
                y = float(np.clip(y + 1.5 * r * np.sin(angle), 0, size - 1))
                x = float(np.clip(x + 1.5 * r * np.cos(angle), 0, size - 1))
        return fit_ratio(m, self.ratio, rng, region, target=goal)


@dataclass(frozen=True)
class Rectangles:
    """One to three axis-aligned boxes (aspect 1:2..2:1) covering ``ratio`` of the region."""

    ratio: Range

    def __call__(self, rng: np.random.Generator, size: int, ctx: MaskContext) -> np.ndarray:
        region = _region(size, ctx)
        goal = float(rng.uniform(*self.ratio))
        want = goal * region.sum()
        m = np.zeros((size, size), bool)
        ys, xs = np.nonzero(region)
        count = int(rng.integers(1, 4))
        for _ in range(count):
            area = want / count
            aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
            h = int(np.clip(round(np.sqrt(area * aspect)), 1, size))
            w = int(np.clip(round(area / h), 1, size))
            k = rng.integers(len(ys))  # centre on a region pixel
            y0, x0 = int(np.clip(ys[k] - h // 2, 0, size - h)), int(np.clip(xs[k] - w // 2, 0, size - w))
            m[y0 : y0 + h, x0 : x0 + w] = True
        return fit_ratio(m, self.ratio, rng, region, target=goal)


@dataclass(frozen=True)
class Parts:
    """Facial-part holes: ellipses over a random subset of the part boxes (eyes, nose, mouth, chin, margin
    20 %), then grown or trimmed to ``ratio``. Needs ``ctx.boxes``."""

    ratio: Range

    def __call__(self, rng: np.random.Generator, size: int, ctx: MaskContext) -> np.ndarray:
        if ctx.boxes is None or len(ctx.boxes) == 0:
            raise ValueError("Parts mask: the image has no facial-part boxes (aux part_boxes)")
        region = _region(size, ctx)
        goal = float(rng.uniform(*self.ratio))
        yy, xx = np.mgrid[:size, :size] + 0.5
        m = np.zeros((size, size), bool)
        for k in rng.permutation(len(ctx.boxes)):
            x0, y0, x1, y1 = (float(v) for v in ctx.boxes[k])
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            rx, ry = max(0.6 * (x1 - x0), 1.0), max(0.6 * (y1 - y0), 1.0)
            m |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
            if area_ratio(m, region) >= goal:
                break
        return fit_ratio(m, self.ratio, rng, region, target=goal)


@dataclass(frozen=True)
class Garment:
    """The simulator's garment silhouette (mask, scarf, balaclava) as it is; needs ``ctx.garment``."""

    def __call__(self, rng: np.random.Generator, size: int, ctx: MaskContext) -> np.ndarray:
        if ctx.garment is None or not ctx.garment.any():
            raise ValueError("Garment mask: the image has no garment mask (aux garment_mask)")
        if ctx.garment.shape != (size, size):
            raise ValueError(f"Garment mask: shape {ctx.garment.shape} differs from ({size}, {size})")
        return ctx.garment.astype(bool).copy()


def make_generator(kind: str, ratio: Range):
    """The generator of ``kind`` for hole-area range ``ratio``; ValueError for an unknown kind."""
    if kind == "irregular":
        return Irregular(ratio)
    if kind == "rect":
        return Rectangles(ratio)
    if kind == "parts":
        return Parts(ratio)
    if kind == "garment":
        return Garment()
    raise ValueError(f"mask kind {kind!r} is unknown; known: {list(KINDS)}")


def usable(kind: str, ctx: MaskContext) -> bool:
    """Whether the image's context can serve ``kind`` (parts need boxes, garment a non-empty silhouette)."""
    if kind == "parts":
        return ctx.boxes is not None and len(ctx.boxes) > 0
    if kind == "garment":
        return ctx.garment is not None and bool(ctx.garment.any())
    return True


def curriculum_range(cfg: MaskConfig, progress: float) -> Range:
    """Hole-area range at training ``progress`` in [0, 1]: the current level's bucket (``step``) or a linear
    slide from one level's bucket to the next (``ramp``)."""
    p = float(np.clip(progress, 0.0, 1.0))
    level = int(np.searchsorted(cfg.starts, p, side="right")) - 1
    lo, hi = cfg.buckets[level]
    if cfg.mode == "step" or level == len(cfg.buckets) - 1:
        return lo, hi
    a = (p - cfg.starts[level]) / max(cfg.starts[level + 1] - cfg.starts[level], 1e-12)
    nlo, nhi = cfg.buckets[level + 1]
    return lo + a * (nlo - lo), hi + a * (nhi - hi)


def sample_mask(
    cfg: MaskConfig, rng: np.random.Generator, size: int, ctx: MaskContext, progress: float
) -> tuple[np.ndarray, str]:
    """One training mask: a kind drawn from ``cfg.kinds`` (irregular when the data cannot serve it) at the
    curriculum's range for ``progress``. Returns (mask (S, S) bool, kind used)."""
    names = list(cfg.kinds)
    weights = np.array([cfg.kinds[k] for k in names], float)
    kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if not usable(kind, ctx):
        kind = "irregular"
    ctx_region = ctx if cfg.region == "face" else MaskContext(None, ctx.boxes, ctx.garment)
    return make_generator(kind, curriculum_range(cfg, progress))(rng, size, ctx_region), kind


def eval_mask(cfg: MaskConfig, index: int, bucket: int, size: int, ctx: MaskContext) -> tuple[np.ndarray, str]:
    """The fixed mask of image ``index`` in ``bucket``: kind ``eval_kinds[index % n]`` (irregular when the data
    cannot serve it), seeded by (eval_seed, bucket, index) — the same for every model scored on these data."""
    kind = cfg.eval_kinds[index % len(cfg.eval_kinds)]
    if not usable(kind, ctx):
        kind = "irregular"
    rng = np.random.default_rng([cfg.eval_seed, bucket, index])
    ctx_region = ctx if cfg.region == "face" else MaskContext(None, ctx.boxes, ctx.garment)
    return make_generator(kind, cfg.buckets[bucket])(rng, size, ctx_region), kind
