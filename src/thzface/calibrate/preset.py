"""Turn a fit into a simulator preset: identified parameters narrowed to value +- 1 sigma, the rest kept.

The preset draws its instrument per sample: within the fitted ranges, and over the base ranges for what the
images could not pin down (domain randomisation where calibration is silent).

The preset is a full :class:`thzface.sim.config.SimConfig` written with ``sim.presets.save_preset_file``, so
``thzface synth --preset-file PRESET.yaml`` reads it back unchanged; a side file ``<PRESET>.calibration.json``
carries the fitted values, uncertainties and statistics (a preset file holds no unknown keys).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from thzface.calibrate.fit import FitResult
from thzface.calibrate.params import BY_NAME, apply_params
from thzface.sim.config import SimConfig
from thzface.sim.presets import load_preset_file, save_preset_file

MIN_HALF = {
    "psf_fwhm_mm": 0.2,
    "lobe_deg": 0.1,
    "snr_db": 0.5,
    "dynamic_range_db": 0.5,
    "ar_rho": 0.005,
    "diffuse_skin": 0.005,
    "fabric_loss_scale": 0.05,
}  # smallest half-width written (keeps a little spread)


def preset_from_fit(base: SimConfig, fit: FitResult, image_size: int, name: str = "calibrated") -> SimConfig:
    """``base`` with every identified parameter's range set to its 1-sigma interval and the fitted display map."""
    values: dict[str, float] = {}
    half: dict[str, float] = {}
    for k in fit.fitted:
        if not fit.identified[k]:
            continue
        p = BY_NAME[k]
        values[k] = fit.values[k]
        half[k] = min(max(fit.sigma[k], MIN_HALF.get(k, 0.0)), 0.5 * (p.hi - p.lo))
    cfg = apply_params(base, values, fit.display, half, image_size=image_size, instrument="per_sample")
    return dataclasses.replace(cfg, preset=name)


def write_preset(cfg: SimConfig, path: Path) -> SimConfig:
    """Save ``cfg`` and read it back (the round trip ``synth --preset-file`` will do); returns what was read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_preset_file(cfg, path)
    back = load_preset_file(path)
    if back != cfg:
        raise ValueError(f"{path}: preset did not read back equal to what was written")
    return back


def calibration_path(preset_path: Path) -> Path:
    """``PRESET.yaml`` -> ``PRESET.calibration.json`` next to it."""
    return preset_path.with_name(preset_path.stem + ".calibration.json")
