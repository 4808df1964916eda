"""The calibrated parameters: names, units, search bounds, the fitting transform, and how a value enters a SimConfig.

Each parameter is fitted in a transformed coordinate ``u`` (log for widths and scales, ``-log(1 - rho)`` for the
AR(1) coefficient, identity for dB and fractions) in which the estimators of :mod:`thzface.calibrate.features`
are roughly linear. :func:`apply_params` turns fitted values (and optional half-widths) into a SimConfig whose
per-sample ranges are narrowed around them; every other simulator setting is kept from the base preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from thzface.sim.config import DISPLAYS, FABRICS, SimConfig


@dataclass(frozen=True)
class Param:
    """One calibrated simulator parameter."""

    name: str  # key in results and tables
    label: str  # human-readable name
    unit: str  # unit of the natural value
    lo: float  # search bound (natural units)
    hi: float  # search bound (natural units)
    transform: str  # lin | log | log1m (u = -log(1 - x))
    step: float  # finite-difference step in u for the Jacobian

    def to_u(self, x: float) -> float:
        x = float(np.clip(x, self.lo, self.hi))
        if self.transform == "log":
            return float(np.log(x))
        if self.transform == "log1m":
            return float(-np.log1p(-x))
        return x

    def from_u(self, u: float) -> float:
        if self.transform == "log":
            x = float(np.exp(u))
        elif self.transform == "log1m":
            x = float(-np.expm1(-u))
        else:
            x = float(u)
        return float(np.clip(x, self.lo, self.hi))

    def u_bounds(self) -> tuple[float, float]:
        return self.to_u(self.lo), self.to_u(self.hi)


PARAMS: tuple[Param, ...] = (
    Param("psf_fwhm_mm", "PSF FWHM at focus", "mm", 1.0, 16.0, "log", 0.25),
    Param("lobe_deg", "glint lobe half-width theta_0", "deg", 0.4, 10.0, "log", 0.25),
    Param("snr_db", "peak-to-noise ratio", "dB", 0.0, 60.0, "lin", 3.0),
    Param("dynamic_range_db", "display dynamic range", "dB", 10.0, 70.0, "lin", 4.0),
    Param("row_gain_sigma", "row-gain drift std", "", 0.0, 0.3, "lin", 0.02),
    Param("row_offset_sigma", "row-offset drift std (x clip)", "", 0.0, 0.1, "lin", 0.01),
    Param("ar_rho", "AR(1) row correlation", "", 0.0, 0.999, "log1m", 0.4),
    Param("drop_row_frac", "dropped-row rate", "", 0.0, 0.05, "lin", 0.004),
    Param("drop_pixel_frac", "dropped-pixel rate", "", 0.0, 0.02, "lin", 0.001),
    Param("diffuse_skin", "diffuse share of skin (speckle fill)", "", 0.005, 0.6, "log", 0.35),
    Param("fabric_loss_scale", "garment loss scale (x tan delta)", "x", 0.1, 10.0, "log", 0.3),
)
PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)
BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def _mid(r: tuple[float, float]) -> float:
    return 0.5 * (float(r[0]) + float(r[1]))


def standoff_mm(cfg: SimConfig) -> float:
    """The stand-off at which a fitted lobe width is written as an aperture (midpoint of the base range)."""
    return _mid(cfg.active.standoff_mm)


def base_values(cfg: SimConfig) -> dict[str, float]:
    """Midpoints of the base preset's ranges, in the units of :data:`PARAMS` (the 'before calibration' values)."""
    s, a = cfg.sensor, cfg.active
    lobe = np.degrees(_mid(a.aperture_mm) / (4.0 * standoff_mm(cfg)))
    return {
        "psf_fwhm_mm": _mid(a.psf_fwhm_mm),
        "lobe_deg": float(lobe),
        "snr_db": _mid(s.snr_db),
        "dynamic_range_db": _mid(s.dynamic_range_db),
        "row_gain_sigma": _mid(s.row_gain_sigma),
        "row_offset_sigma": _mid(s.row_offset_sigma),
        "ar_rho": _mid(s.ar_rho),
        "drop_row_frac": _mid(s.drop_row_frac),
        "drop_pixel_frac": _mid(s.drop_pixel_frac),
        "diffuse_skin": _mid(cfg.skin.diffuse_skin),
        "fabric_loss_scale": 1.0,
    }


def _rng(x: float, half: float, lo: float, hi: float) -> tuple[float, float]:
    return float(np.clip(x - half, lo, hi)), float(np.clip(x + half, lo, hi))


def apply_params(
    base: SimConfig,
    values: dict[str, float],
    display: str,
    half: dict[str, float] | None = None,
    image_size: int | None = None,
    instrument: str | None = None,
) -> SimConfig:
    """``base`` with each given parameter's range set to ``value +- half`` (half 0: fixed) and one display map.

    Parameters missing from ``values`` keep the base ranges; ``instrument`` (per_sample | per_dataset) replaces
    the base's when given. The lobe width is written as an aperture at the
    base stand-off midpoint (theta_0 = D / 4z, thz-physics section 1.2(b)), with the stand-off fixed there.
    """
    if display not in DISPLAYS:
        raise ValueError(f"display: {display!r} is not one of {list(DISPLAYS)}")
    half = half or {}
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise ValueError(f"values: unknown parameters {sorted(unknown)}; known: {list(PARAM_NAMES)}")

    def rng(name: str) -> tuple[float, float]:
        p = BY_NAME[name]
        return _rng(values[name], half.get(name, 0.0), p.lo, p.hi)

    sensor_keys = [
        k
        for k in (
            "snr_db",
            "dynamic_range_db",
            "row_gain_sigma",
            "row_offset_sigma",
            "ar_rho",
            "drop_row_frac",
            "drop_pixel_frac",
        )
        if k in values
    ]
    ranges: dict[str, Any] = {k: rng(k) for k in sensor_keys}
    sensor = dataclasses.replace(base.sensor, display_weights={display: 1.0}, **ranges)
    active = base.active
    if "psf_fwhm_mm" in values:
        active = dataclasses.replace(active, psf_fwhm_mm=rng("psf_fwhm_mm"))
    if "lobe_deg" in values:
        z = standoff_mm(base)
        lo, hi = rng("lobe_deg")
        ap = (4.0 * z * float(np.radians(lo)), 4.0 * z * float(np.radians(hi)))
        active = dataclasses.replace(active, standoff_mm=(z, z), aperture_mm=ap)
    skin = base.skin
    if "diffuse_skin" in values:
        skin = dataclasses.replace(skin, diffuse_skin=rng("diffuse_skin"))
    fabrics = base.fabrics
    if "fabric_loss_scale" in values:
        lo, hi = rng("fabric_loss_scale")
        scaled = {}
        for f in FABRICS:
            fc = getattr(base.fabrics, f)
            scaled[f] = dataclasses.replace(fc, tan_delta=(fc.tan_delta[0] * lo, fc.tan_delta[1] * hi))
        fabrics = dataclasses.replace(base.fabrics, **scaled)
    size = base.image_size if image_size is None else int(image_size)
    inst = base.instrument if instrument is None else instrument
    return dataclasses.replace(
        base, image_size=size, instrument=inst, sensor=sensor, active=active, skin=skin, fabrics=fabrics
    )
