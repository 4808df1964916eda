"""Measure a set of scans: per-unit sums -> dark-noise fit -> calibration features, with bootstrap spreads.

Sums are kept per unit (one identity/posture/sample: a concealed and an unconcealed scan sharing one noise
draw), so a bootstrap resample is a reweighting of units. The display-dependent sums are computed once with
the dynamic range fitted on all units; resamples refit the dark-noise likelihood only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.calibrate import features as F
from thzface.calibrate.display import fit_dark_noise
from thzface.calibrate.scans import Scans


@dataclass
class Measurement:
    """Features of one set of scans under one assumed display map."""

    mode: str  # display map assumed for the inversion
    features: dict[str, float]  # F.FEATURES -> value (NaN: not measurable here)
    sigma_tot: float  # dark-noise std (x clip) from the likelihood fit
    dr_db: float  # fitted dynamic range (NaN: not identifiable)
    dr_used: float  # dynamic range used to invert the display
    nll: float  # mean negative log-likelihood per dark pixel of the noise fit (display-map evidence)
    units1: dict[str, np.ndarray]  # pass-1 sums per unit, (N, ...)
    units2: dict[str, np.ndarray]  # pass-2 sums per unit, (N, ...)
    size: int  # image side
    pitch_mm: float  # assumed pixel pitch


def _stack(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = sorted({k for r in rows for k in r})
    out = {}
    for k in keys:
        shape = next(np.shape(r[k]) for r in rows if k in r)
        out[k] = np.stack([np.asarray(r.get(k, np.zeros(shape)), np.float64) for r in rows])  # (N, ...)
    return out


def _total(units: dict[str, np.ndarray], w: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.tensordot(w, v, axes=(0, 0)) for k, v in units.items()}


def scan_background(scans: Scans) -> np.ndarray:
    """Background mask from every image of ``scans``."""
    imgs = np.concatenate([scans.concealed[scans.has_concealed], scans.unconcealed[scans.has_unconcealed]])
    return F.background_mask(imgs)


def _pass1_units(scans: Scans, bg: np.ndarray) -> dict[str, np.ndarray]:
    rows = []
    for i in range(len(scans)):
        acc: dict[str, np.ndarray] = {}
        for has, img in ((scans.has_concealed, scans.concealed), (scans.has_unconcealed, scans.unconcealed)):
            if has[i]:
                for k, v in F.pass1(img[i].astype(np.float64), bg).items():
                    acc[k] = acc.get(k, 0) + v
        rows.append(acc)
    return _stack(rows)


def measure(scans: Scans, mode: str, dr_default: float, pitch_mm: float) -> Measurement:
    """All features of ``scans`` assuming display map ``mode`` (``dr_default`` where DR is not identifiable)."""
    bg = scan_background(scans)
    u1 = _pass1_units(scans, bg)
    sigma_tot, dr, nll = fit_dark_noise(u1["hist_dark"].sum(axis=0), mode, dr_default)
    dr_used = dr if np.isfinite(dr) else dr_default
    rows = []
    for i in range(len(scans)):
        yb = scans.concealed[i].astype(np.float64) if scans.has_concealed[i] else None
        yu = scans.unconcealed[i].astype(np.float64) if scans.has_unconcealed[i] else None
        rows.append(F.pass2(yb, yu, bg, mode, dr_used))
    u2 = _stack(rows)
    w = np.ones(len(scans))
    tot = {**_total(u1, w), **_total(u2, w)}
    feats = F.features(tot, sigma_tot, dr, scans.size, pitch_mm)
    return Measurement(mode, feats, sigma_tot, dr, dr_used, nll, u1, u2, scans.size, pitch_mm)


def bootstrap(m: Measurement, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, len(F.FEATURES)) features of unit-resampled totals (multinomial weights)."""
    n = len(next(iter(m.units1.values())))
    out = np.full((n_boot, len(F.FEATURES)), np.nan)
    for b in range(n_boot):
        w = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
        t1, t2 = _total(m.units1, w), _total(m.units2, w)
        sigma_tot, dr, _ = fit_dark_noise(t1["hist_dark"], m.mode, m.dr_used)
        f = F.features({**t1, **t2}, sigma_tot, dr, m.size, m.pitch_mm)
        out[b] = [f[k] for k in F.FEATURES]
    return out
