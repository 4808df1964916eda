"""Measurement chain, eq. (3): row shifts (serpentine + sway), detection, AR(1) row gain/offset drift (stripes),
white + correlated noise, drop-outs, ADC quantisation and the display map (linear / sqrt / dB) with a finite
dynamic range and glint clipping. One :class:`SensorDraw` (settings) is drawn per sample; the unconcealed scan
reuses its noise realisation (pairing ``shared``) or gets its own from :func:`redraw_fields`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from thzface.sim.config import SensorConfig, pick


@dataclass
class SensorDraw:
    """Scalar parameters (saved in aux params) and the random fields of one scan."""

    snr_db: float
    corr_frac: float
    row_gain_sigma: float
    row_offset_sigma: float
    ar_rho: float
    serpentine_px: float
    motion_px: float
    drop_row_frac: float
    drop_pixel_frac: float
    adc_bits: int
    display: str
    dynamic_range_db: float
    clip_percentile: float
    fields: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def params(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "fields"}


def ar1(n: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) sequence along the scan (stationary start)."""
    e = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = e[0]
    s = np.sqrt(1 - rho * rho)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + s * e[i]
    return out


def draw_sensor(
    cfg: SensorConfig,
    size: int,
    pitch_mm: float,
    passive: bool,
    rng: np.random.Generator,
    rng_fields: np.random.Generator,
) -> SensorDraw:
    """Scalar settings from ``rng`` (the instrument); noise, drift and drop-out realisations from ``rng_fields``."""
    u = lambda r: float(rng.uniform(r[0], r[1]))  # noqa: E731
    d = SensorDraw(
        snr_db=u(cfg.snr_db),
        corr_frac=u(cfg.corr_noise_frac),
        row_gain_sigma=u(cfg.row_gain_sigma),
        row_offset_sigma=u(cfg.row_offset_sigma),
        ar_rho=u(cfg.ar_rho),
        serpentine_px=u(cfg.serpentine_px),
        motion_px=u(cfg.motion_mm) / pitch_mm,
        drop_row_frac=u(cfg.drop_row_frac),
        drop_pixel_frac=u(cfg.drop_pixel_frac),
        adc_bits=int(rng.choice(cfg.adc_bits)),
        display="linear" if passive else pick(cfg.display_weights, rng),
        dynamic_range_db=u(cfg.dynamic_range_db),
        clip_percentile=u(cfg.clip_percentile),
    )
    d.fields = sensor_fields(d, cfg, size, rng_fields)
    return d


def redraw_fields(d: SensorDraw, cfg: SensorConfig, size: int, rng_fields: np.random.Generator) -> SensorDraw:
    """The same sensor settings with a new noise, drift and drop-out realisation (another scan)."""
    return dataclasses.replace(d, fields=sensor_fields(d, cfg, size, rng_fields))


def sensor_fields(d: SensorDraw, cfg: SensorConfig, size: int, rng_fields: np.random.Generator) -> dict:
    """Random fields of one scan: row shifts, white + correlated noise, AR(1) gain/offset drift, drop-outs."""
    sway = np.cumsum(rng_fields.standard_normal(size))
    sway = ndimage.gaussian_filter1d(sway - sway.mean(), size / 8)
    sway = sway / max(float(np.abs(sway).max()), 1e-9) * d.motion_px
    serp = np.where(np.arange(size) % 2 == 1, 0.5, -0.5) * d.serpentine_px
    white = rng_fields.standard_normal((2, size, size))
    corr = ndimage.gaussian_filter(
        rng_fields.standard_normal((2, size, size)), (0, cfg.corr_noise_px, cfg.corr_noise_px)
    )
    corr /= np.maximum(corr.std(axis=(1, 2), keepdims=True), 1e-12)
    return {
        "shift": sway + serp,
        "gain": 1 + d.row_gain_sigma * ar1(size, d.ar_rho, rng_fields),  # drift: a realisation per scan
        "offset": d.row_offset_sigma * ar1(size, d.ar_rho, rng_fields),
        "noise": np.sqrt(1 - d.corr_frac) * white + np.sqrt(d.corr_frac) * corr,  # (2, H, W): I and Q
        "drop_rows": rng_fields.random(size) < d.drop_row_frac,
        "hold_rows": rng_fields.random(size) < 0.5,  # dropped row: hold the previous one (else zero)
        "drop_pixels": rng_fields.random((size, size)) < d.drop_pixel_frac,
    }


def shift_rows(img: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Move each row by a sub-pixel amount (linear interpolation, zero fill)."""
    h, w = img.shape
    x = np.arange(w)[None, :] - shift[:, None]
    x0 = np.floor(x).astype(int)
    t = x - x0
    pad = np.pad(img, ((0, 0), (1, 1)))
    a = pad[np.arange(h)[:, None], np.clip(x0 + 1, 0, w + 1)]
    b = pad[np.arange(h)[:, None], np.clip(x0 + 2, 0, w + 1)]
    return a * (1 - t) + b * t


def detect(power: np.ndarray, detector: str, noise: np.ndarray | None, sigma: float, psi: np.ndarray) -> np.ndarray:
    """Detector output in power units; ``noise`` (2, H, W) unit normals or None for a noise-free signal."""
    amp = np.sqrt(np.clip(power, 0, None))
    n0 = 0 if noise is None else noise[0]
    n1 = 0 if noise is None else noise[1]
    if detector == "square_law":
        return power + sigma * n0
    if detector == "heterodyne":  # |E + n_c|^2, Rician
        s = np.sqrt(sigma / 2)
        return (amp + s * n0) ** 2 + (s * n1) ** 2
    if detector == "homodyne":  # (Re{E e^{i phi}} + n)^2: fringes with lambda/2 period in depth
        return (amp * np.cos(psi) + np.sqrt(sigma) * n0) ** 2
    raise ValueError(f"detector: unknown {detector!r}")


def display(s: np.ndarray, clip: float, mode: str, dr_db: float) -> np.ndarray:
    """Map a signal to [0, 1]: ``clip`` -> 1, clip * 10^(-DR/10) -> 0, linear / sqrt / dB in between."""
    floor = clip * 10 ** (-dr_db / 10)
    s = np.clip(s, floor, clip)
    if mode == "linear":
        return (s - floor) / (clip - floor)
    if mode == "sqrt":
        return (np.sqrt(s) - np.sqrt(floor)) / (np.sqrt(clip) - np.sqrt(floor))
    if mode == "db":
        return (10 * np.log10(s / floor)) / dr_db
    raise ValueError(f"display: unknown mode {mode!r}")


def measure(
    power: np.ndarray, d: SensorDraw, clip: float, sigma: float, detector: str, psi: np.ndarray, clean: bool = False
) -> np.ndarray:
    """Signal (H, W) -> displayed image in [0, 1]. ``clean`` skips every random degradation and the ADC."""
    f = d.fields
    if clean:
        return display(detect(power, detector, None, 0.0, psi), clip, d.display, d.dynamic_range_db)
    s = shift_rows(power, f["shift"]) * f["gain"][:, None]
    s = detect(s, detector, f["noise"], sigma, psi)
    s = s + f["offset"][:, None] * clip
    for r in np.flatnonzero(f["drop_rows"]):
        s[r] = s[r - 1] if (r > 0 and f["hold_rows"][r]) else 0.0
    s[f["drop_pixels"]] = 0.0
    levels = 2**d.adc_bits - 1
    s = np.round(np.clip(s, 0, clip) / clip * levels) / levels * clip
    return display(s, clip, d.display, d.dynamic_range_db)


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
