"""Concealment garments draped on the head grid: coverage, shrink-wrap drape (contact on convex points, air gap
bridging concavities), fabric layers drawn from the presets, breath moisture near mouth and nose.

Drape = grey-scale morphological closing of the radius map (fills valleys narrower than ``bridge_mm``),
smoothed, soft-limited to ``max_gap_mm``, plus low-frequency gap noise that vanishes at contact points.
Combinations ("scarf+hood") drape the outer garment over the inner one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from thzface.sim import head as H
from thzface.sim.config import ConcealmentConfig, FabricsConfig, GarmentConfig, pick

R_REF_MM = 100.0  # radius used to convert mm to grid angles


@dataclass
class Garment:
    """One garment of one sample, on the head grid."""

    kind: str  # balaclava | scarf | mask | hood
    fabric: str  # fabric preset name
    cover: np.ndarray = field(repr=False)  # (E, A) bool coverage
    gap: np.ndarray = field(repr=False)  # (E, A) radial air gap beneath the garment, mm
    r_inner: np.ndarray = field(repr=False)  # (E, A) radius of the garment's inner face, mm
    wet: np.ndarray = field(repr=False)  # (E, A) loss-tangent multiplier (breath moisture), >= 1
    eps_real: float = 1.5  # fabric permittivity (real part)
    tan_delta: float = 0.05  # fabric loss tangent (dry)
    thickness_mm: float = 0.5  # one layer
    diffuse: float = 0.3  # yarn-texture diffuse share
    scatter: float = 0.0  # yarn-scale backscatter, share of the incident power
    texture: np.ndarray | None = field(default=None, repr=False)  # (E, A) unit-mean yarn texture
    wrap_gaps_mm: list[float] = field(default_factory=list)  # air between successive wraps (len = layers - 1)
    params: dict = field(default_factory=dict)  # every drawn value, for aux params

    @property
    def layers(self) -> int:
        return len(self.wrap_gaps_mm) + 1

    @property
    def total_mm(self) -> float:
        return self.layers * self.thickness_mm + float(sum(self.wrap_gaps_mm))

    @property
    def r_outer(self) -> np.ndarray:
        return self.r_inner + self.total_mm


def _smooth_box(u: np.ndarray, v: np.ndarray, p: float = 4.0) -> np.ndarray:
    """Inside a rounded rectangle |u|^p + |v|^p < 1 (u, v already normalised)."""
    return np.abs(u) ** p + np.abs(v) ** p < 1


def coverage(kind: str, surf: H.HeadSurface, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Where garment ``kind`` lies on the head, from landmark levels (head frame)."""
    pts = surf.points
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    front = z > 0.3 * surf.r
    lv = H.frame_levels(surf.landmarks)
    if kind == "balaclava":
        yc, hh = 0.5 * (lv["y_eye"] + lv["y_brow"]) - 2, 0.5 * (lv["y_brow"] - lv["y_eye"]) + 9
        slot = front & _smooth_box(x / (lv["x_eye"] + 9), (y - yc) / hh)
        return (y > lv["y_me"] - 45) & ~slot, {"eye_slot_half_height_mm": hh}
    if kind == "scarf":
        top = min(lv["y_sn"] + float(rng.uniform(18.0, 30.0)), lv["y_eye"] - 8.0)  # up over the nose
        return (y < top) & (y > lv["y_me"] - 70), {"top_mm": top}
    if kind == "mask":
        half_w = 0.5 * lv["mouth_w"] + float(rng.uniform(20.0, 30.0))
        y0, y1 = lv["y_me"] + 3, lv["y_nasion"] - float(rng.uniform(10.0, 18.0))
        m = front & _smooth_box(x / half_w, (y - 0.5 * (y0 + y1)) / (0.5 * (y1 - y0)), 6.0)
        return m, {"half_width_mm": half_w, "top_mm": y1}
    if kind == "hood":
        brow = lv["y_brow"] + float(rng.uniform(15.0, 35.0))
        yo = 0.5 * (brow + lv["y_me"] - 10)
        opening = (z > 0.2 * surf.r) & _smooth_box(
            x / (0.5 * lv["face_w"] + 8), (y - yo) / (0.5 * (brow - lv["y_me"] + 10)), 3.0
        )
        return (y > lv["y_me"] - 50) & ~opening, {"opening_top_mm": brow}
    raise ValueError(f"concealment: unknown garment {kind!r}")


def drape_gap(
    base_r: np.ndarray, grid: H.Grid, bridge_mm: float, max_gap_mm: float, noise_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Radial fabric-to-surface gap (E, A) >= 0: ~0 on convex points, bridging concavities."""
    step = np.deg2rad(grid.step_deg) * R_REF_MM
    k = max(int(round(bridge_mm / step)), 1) | 1  # odd footprint
    pad = k
    wrapped = np.pad(base_r, ((pad, pad), (0, 0)), mode="edge")
    wrapped = np.pad(wrapped, ((0, 0), (pad, pad)), mode="wrap")
    closed = ndimage.grey_closing(wrapped, size=(k, k))[pad:-pad, pad:-pad]
    closed = H.wrap_filter(closed, max(k / 4.0, 0.5))
    gap0 = np.clip(closed - base_r, 0, None)
    gap = max_gap_mm * np.tanh(gap0 / max(max_gap_mm, 1e-6))
    contact = np.clip(gap0 / 2.0, 0, 1)  # gap noise only where the fabric floats
    noise = H.smooth_noise(grid, 20.0, rng) * noise_mm * contact
    return np.clip(gap + noise, 0, None)


def _u(r: tuple[float, float], rng: np.random.Generator) -> float:
    return float(rng.uniform(r[0], r[1]))


def breath_field(surf: H.HeadSurface, strength: float, sigma_mm: float = 18.0) -> np.ndarray:
    """Multiplier 1..strength around the mouth and nostrils (moist exhaled air) [I, S12]."""
    c = 0.5 * (surf.landmarks[33] + surf.landmarks[62])
    d2 = np.sum((surf.points - c) ** 2, axis=-1)
    return 1.0 + (strength - 1.0) * np.exp(-d2 / (2 * sigma_mm**2))


def sample_concealment(
    surf: H.HeadSurface, ccfg: ConcealmentConfig, fcfg: FabricsConfig, rng: np.random.Generator
) -> list[Garment]:
    """Draw a concealment combination and drape its garments, inner first."""
    combo = pick(ccfg.weights, rng)
    breath = _u(ccfg.breath_wetness, rng)
    wet = breath_field(surf, breath)
    base = surf.r + (surf.hair if surf.hair is not None else 0.0)  # the fabric lies on the hair
    out: list[Garment] = []
    for kind in combo.split("+"):
        gc: GarmentConfig = getattr(ccfg, kind)
        fabric = pick(gc.fabric_weights, rng)  # names validated by thzface.sim.config.validate
        fc = getattr(fcfg, fabric)
        cover, cparams = coverage(kind, surf, rng)
        bridge, max_gap, noise, standoff = (
            _u(gc.bridge_mm, rng),
            _u(gc.max_gap_mm, rng),
            _u(gc.gap_noise_mm, rng),
            _u(gc.standoff_mm, rng),
        )
        gap = drape_gap(base, surf.grid, bridge, max_gap, noise, rng) + standoff
        n_layers = int(rng.integers(gc.layers[0], gc.layers[1] + 1))
        g = Garment(
            kind,
            fabric,
            cover,
            gap,
            base + gap,
            wet if cover.flat[int(np.argmax(wet))] else np.ones_like(wet),  # moist only if it covers the mouth
            eps_real=_u(fc.eps_real, rng),
            tan_delta=_u(fc.tan_delta, rng),
            thickness_mm=_u(fc.thickness_mm, rng),
            diffuse=_u(fc.diffuse, rng),
            wrap_gaps_mm=[_u((0.1, 1.0), rng) for _ in range(n_layers - 1)],
            scatter=10 ** (_u(fc.scatter_db, rng) / 10),
            texture=rng.gamma(2.0, 0.5, surf.r.shape),  # one grid cell (about 2.6 mm): yarn / knit scale
        )
        g.params = {
            "kind": kind,
            "fabric": fabric,
            "eps_real": g.eps_real,
            "tan_delta": g.tan_delta,
            "thickness_mm": g.thickness_mm,
            "layers": n_layers,
            "wrap_gaps_mm": g.wrap_gaps_mm,
            "diffuse": g.diffuse,
            "scatter_db": 10 * np.log10(g.scatter),
            "bridge_mm": bridge,
            "max_gap_mm": max_gap,
            "gap_noise_mm": noise,
            "standoff_mm": standoff,
            "breath_wetness": breath,
            **cparams,
        }
        out.append(g)
        base = np.where(cover, np.maximum(base, g.r_outer), base)
    return out
