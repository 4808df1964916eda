"""``thzface sim calibrate DIR --out PRESET.yaml``: fit, write the preset, and report statistics before/after.

Writes ``PRESET.yaml`` (a full simulator preset), ``PRESET.calibration.json`` (fitted values with 1-sigma
uncertainties, the features, the search trail, the section-4.4 statistics of the real scans and of simulations
with the base and the calibrated preset) and ``PRESET.compare.png`` (the three sets side by side).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from thzface.calibrate.fit import FitResult, FitSettings, fit
from thzface.calibrate.params import PARAMS, base_values
from thzface.calibrate.preset import calibration_path, preset_from_fit, write_preset
from thzface.calibrate.scans import load_scans
from thzface.calibrate.side_by_side import example_strip, format_side_by_side, plot, scan_statistics
from thzface.calibrate.simulate import simulate_scans
from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.report import jsonable
from thzface.sim.config import FABRICS, SimConfig
from thzface.sim.presets import get_preset, load_preset_file, preset_names

log = logging.getLogger(__name__)
DEFAULT_BASE = "bench-20"  # the simulator preset whose scene (faces, garments, poses) the fit keeps


def resolve_base(base: str | Path | SimConfig) -> SimConfig:
    """A SimConfig, a preset name, or a YAML preset file."""
    if isinstance(base, SimConfig):
        return base
    if str(base) in preset_names():
        return get_preset(str(base))
    p = Path(base)
    if p.is_file():
        return load_preset_file(p)
    raise ValueError(f"base: {base!r} is neither a preset ({', '.join(preset_names())}) nor a preset file")


def pitch_mm(cfg: SimConfig, size: int) -> float:
    """Assumed pixel pitch: the base field of view (range midpoint) over the image side."""
    return 0.5 * (cfg.fov_mm[0] + cfg.fov_mm[1]) / size


def _range(r: tuple[float, float]) -> str:
    return f"{r[0]:.4g}" if r[0] == r[1] else f"{r[0]:.4g}..{r[1]:.4g}"


def written_ranges(cfg: SimConfig, base: SimConfig) -> dict[str, str]:
    """The ranges a preset holds for each calibrated parameter, as text (loss scale relative to ``base``)."""
    s, a = cfg.sensor, cfg.active
    lo = np.mean([getattr(cfg.fabrics, f).tan_delta[0] / getattr(base.fabrics, f).tan_delta[0] for f in FABRICS])
    hi = np.mean([getattr(cfg.fabrics, f).tan_delta[1] / getattr(base.fabrics, f).tan_delta[1] for f in FABRICS])
    z = 0.5 * (a.standoff_mm[0] + a.standoff_mm[1])
    lobe = (np.degrees(a.aperture_mm[0] / (4 * z)), np.degrees(a.aperture_mm[1] / (4 * z)))
    return {
        "psf_fwhm_mm": _range(a.psf_fwhm_mm), "lobe_deg": _range(lobe), "snr_db": _range(s.snr_db),
        "dynamic_range_db": _range(s.dynamic_range_db), "row_gain_sigma": _range(s.row_gain_sigma),
        "row_offset_sigma": _range(s.row_offset_sigma), "ar_rho": _range(s.ar_rho),
        "drop_row_frac": _range(s.drop_row_frac), "drop_pixel_frac": _range(s.drop_pixel_frac),
        "diffuse_skin": _range(cfg.skin.diffuse_skin),
        "fabric_loss_scale": _range((float(lo), float(hi))),
    }  # fmt: skip


def parameter_table(res: FitResult, base: SimConfig, preset: SimConfig) -> str:
    """Text table: parameter | base range | fitted +- 1 sigma | identified | preset range."""
    before, after = written_ranges(base, base), written_ranges(preset, base)
    lines = [f"{'parameter':20}{'unit':>5}{'base':>16}{'fitted':>12}{'± 1σ':>10}  identified  preset"]
    for p in PARAMS:
        v, s = res.values[p.name], res.sigma[p.name]
        free = p.name in res.fitted
        tag = ("yes" if res.identified[p.name] else "no") if free else "not fitted"
        lines.append(f"{p.name:20}{p.unit:>5}{before[p.name]:>16}{v:>12.4g}{s:>10.3g}  {tag:10}  {after[p.name]}")
    lines.append(f"display map: {res.display}  (histogram distance per map: "
                 + ", ".join(f"{k} {v:.3f}" for k, v in res.display_scores.items()) + ")")  # fmt: skip
    return "\n".join(lines)


def calibrate(
    folder: Path,
    out: Path,
    seed: int = 0,
    base: str | Path | SimConfig = DEFAULT_BASE,
    workers: int = 1,
    settings: FitSettings | None = None,
    n_stats: int = 48,
) -> dict:
    """Fit the simulator to the scans in ``folder``; write ``out`` (preset YAML) and its side files."""
    out = Path(out)
    scans = load_scans(folder)
    base_cfg = resolve_base(base)
    st = settings or FitSettings(seed=seed, workers=workers)
    pitch = pitch_mm(base_cfg, scans.size)
    res = fit(scans, base_cfg, pitch, st)
    preset = write_preset(preset_from_fit(base_cfg, res, scans.size), out)
    before_cfg = dataclasses.replace(base_cfg, image_size=scans.size)
    sets = {
        "real": scans,
        "before": simulate_scans(before_cfg, n_stats, st.seed + 1, st.workers),
        "after": simulate_scans(preset, n_stats, st.seed + 1, st.workers),
    }
    stats = {k: scan_statistics(v) for k, v in sets.items()}
    png = out.with_name(out.stem + ".compare.png")
    atomic_write_bytes(png, plot(stats, {k: example_strip(v) for k, v in sets.items()}))
    table = parameter_table(res, base_cfg, preset) + "\n\n" + format_side_by_side(stats, "real")
    report = {
        "folder": str(folder), "preset": str(out), "plot": str(png), "base": base_cfg.preset,
        "images": scans.images, "pairs": scans.pairs, "image_size": scans.size, "pitch_mm": pitch,
        "skipped_files": scans.skipped, "display": res.display, "display_scores": res.display_scores,
        "parameters": {p.name: {"label": p.label, "unit": p.unit, "value": res.values[p.name],
                                "sigma": res.sigma[p.name], "interval": res.interval[p.name],
                                "identified": res.identified[p.name], "fitted": p.name in res.fitted,
                                "base": base_values(base_cfg)[p.name]} for p in PARAMS},
        "features": {"real": res.real_features, "simulated": res.sim_features, "sd": res.feature_sd},
        "fit": {"cost": res.cost, "simulations": res.simulations, "seconds": res.seconds, "history": res.history,
                "settings": dataclasses.asdict(st)},
        "statistics": {k: {kk: vv for kk, vv in v.items() if kk != "curves"} for k, v in stats.items()},
        "table": table,
    }  # fmt: skip
    atomic_write_text(calibration_path(out), json.dumps(jsonable(report), indent=1) + "\n")
    return report
